"""`page_req` paging over a submitted id list (batch-status, batch-detail; spec/API.md 2.1)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TypeVar

from opendrs.domain import errors
from opendrs.domain.errors import OpendrsError, Text

T = TypeVar("T")

DEFAULT_PER_PAGE = 5
MAX_PER_PAGE = 100
# Far beyond any real list, and small enough that the page's offset fits the store's 64-bit integers.
MAX_CUR_PAGE = 1_000_000_000

_PER_PAGE_RANGE = Text("per_page must be from 0 to 100", "per_page必须在0到100之间")
_CUR_PAGE_NEGATIVE = Text("cur_page must not be negative", "cur_page不能为负数")
_CUR_PAGE_WITH_ALL = Text("cur_page must be 0 or 1 when per_page is 0 (all)", "per_page为0（全部）时cur_page必须为0或1")
_CUR_PAGE_LIMIT = Text("cur_page must be at most 1000000000", "cur_page不能大于1000000000")
_BEYOND_LAST = Text("cur_page {cur_page} is beyond the last page {last}", "cur_page {cur_page}超出最后一页{last}")


@dataclasses.dataclass(frozen=True)
class PageRequest:
    cur_page: int = 1
    per_page: int = DEFAULT_PER_PAGE


def check(request: PageRequest) -> None:
    """Refuse page values outside the contract's ranges (DRS.M00210; a page beyond any list: DRS.M00211)."""
    if not 0 <= request.per_page <= MAX_PER_PAGE:
        raise OpendrsError(errors.PAGE_INVALID, hint=_PER_PAGE_RANGE)
    if request.cur_page < 0:
        raise OpendrsError(errors.PAGE_INVALID, hint=_CUR_PAGE_NEGATIVE)
    if request.cur_page > MAX_CUR_PAGE:
        raise OpendrsError(errors.PAGE_TOO_LARGE, hint=_CUR_PAGE_LIMIT)
    if request.per_page == 0 and request.cur_page > 1:
        raise OpendrsError(errors.PAGE_INVALID, hint=_CUR_PAGE_WITH_ALL)


def page(items: Sequence[T], request: PageRequest | None) -> Sequence[T]:
    """The requested page of `items`, in their order. No request, per_page 0 or cur_page 0: all."""
    if request is None:
        return items
    check(request)
    if request.per_page == 0:
        return items
    if request.cur_page == 0:
        return items
    last = max(1, math.ceil(len(items) / request.per_page))
    if request.cur_page > last:
        raise OpendrsError(errors.PAGE_TOO_LARGE, hint=_BEYOND_LAST(cur_page=request.cur_page, last=last))
    start = (request.cur_page - 1) * request.per_page
    return items[start : start + request.per_page]

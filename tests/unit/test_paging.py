"""opendrs.domain.paging.page: the page_req rules of batch-status and batch-detail (spec/API.md 2.1)."""

from __future__ import annotations

import pytest

from opendrs.domain import errors
from opendrs.domain.errors import Language, OpendrsError
from opendrs.domain.paging import DEFAULT_PER_PAGE, MAX_PER_PAGE, PageRequest, page

SEVEN = ["a", "b", "c", "d", "e", "f", "g"]


def rendered(exc: OpendrsError, language: Language = Language.EN) -> str:
    return exc.error.render(language, exc.params)


def test_defaults_are_first_page_of_five() -> None:
    assert (DEFAULT_PER_PAGE, MAX_PER_PAGE) == (5, 100)
    assert PageRequest() == PageRequest(cur_page=1, per_page=5)
    assert list(page(SEVEN, PageRequest())) == SEVEN[:5]


def test_no_request_returns_everything_unchanged() -> None:
    assert page(SEVEN, None) is SEVEN


@pytest.mark.parametrize(
    ("cur_page", "per_page", "expected"),
    [
        (1, 3, ["a", "b", "c"]),
        (2, 3, ["d", "e", "f"]),
        (3, 3, ["g"]),  # last page, partial
        (1, 7, SEVEN),  # exactly one full page
        (7, 1, ["g"]),  # one per page, last
        (1, 100, SEVEN),  # the maximum per_page
        (0, 2, SEVEN),  # cur_page 0: all
        (0, 0, SEVEN),  # per_page 0: all
        (1, 0, SEVEN),
        (2, 5, ["f", "g"]),
    ],
)
def test_pages(cur_page: int, per_page: int, expected: list[str]) -> None:
    assert list(page(SEVEN, PageRequest(cur_page, per_page))) == expected


def test_a_page_keeps_the_sequence_type_and_order() -> None:
    assert page(tuple(SEVEN), PageRequest(2, 2)) == ("c", "d")
    assert list(page(list(reversed(SEVEN)), PageRequest(1, 2))) == ["g", "f"]


@pytest.mark.parametrize("request_", [PageRequest(1, 5), PageRequest(0, 5), PageRequest(1, 0), PageRequest(0, 0)])
def test_an_empty_list_has_one_empty_page(request_: PageRequest) -> None:
    assert list(page([], request_)) == []


def test_beyond_an_empty_list() -> None:
    with pytest.raises(OpendrsError) as raised:
        page([], PageRequest(2, 5))
    assert raised.value.error is errors.PAGE_TOO_LARGE
    assert rendered(raised.value) == "The value of Page exceeds the upper limit: cur_page 2 is beyond the last page 1."


@pytest.mark.parametrize(
    ("request_", "error", "english", "chinese"),
    [
        (
            PageRequest(4, 3),
            errors.PAGE_TOO_LARGE,
            "The value of Page exceeds the upper limit: cur_page 4 is beyond the last page 3.",
            "分页参数超过上限：cur_page 4超出最后一页3。",
        ),
        (
            PageRequest(2, 7),
            errors.PAGE_TOO_LARGE,
            "The value of Page exceeds the upper limit: cur_page 2 is beyond the last page 1.",
            "分页参数超过上限：cur_page 2超出最后一页1。",
        ),
        (
            PageRequest(1, 101),
            errors.PAGE_INVALID,
            "The value of Page is invalid, per_page must be from 0 to 100.",
            "分页参数无效，per_page必须在0到100之间。",
        ),
        (
            PageRequest(1, -1),
            errors.PAGE_INVALID,
            "The value of Page is invalid, per_page must be from 0 to 100.",
            "分页参数无效，per_page必须在0到100之间。",
        ),
        (
            PageRequest(-1, 5),
            errors.PAGE_INVALID,
            "The value of Page is invalid, cur_page must not be negative.",
            "分页参数无效，cur_page不能为负数。",
        ),
        (
            PageRequest(-1, 0),
            errors.PAGE_INVALID,
            "The value of Page is invalid, cur_page must not be negative.",
            "分页参数无效，cur_page不能为负数。",
        ),
        (
            PageRequest(2, 0),
            errors.PAGE_INVALID,
            "The value of Page is invalid, cur_page must be 0 or 1 when per_page is 0 (all).",
            "分页参数无效，per_page为0（全部）时cur_page必须为0或1。",
        ),
    ],
)
def test_refused(request_: PageRequest, error: errors.ErrorCode, english: str, chinese: str) -> None:
    with pytest.raises(OpendrsError) as raised:
        page(SEVEN, request_)
    assert raised.value.error is error
    assert error.http_status == 400
    assert rendered(raised.value) == english
    assert rendered(raised.value, Language.ZH) == chinese
    assert str(raised.value) == english


def test_per_page_is_checked_before_cur_page() -> None:
    with pytest.raises(OpendrsError) as raised:
        page(SEVEN, PageRequest(-1, 101))
    assert rendered(raised.value) == "The value of Page is invalid, per_page must be from 0 to 100."

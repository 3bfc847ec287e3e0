"""Speed limits in UTC time windows (batch-limit-speed, spec/API.md 3.5).

A window covers whole hours: `begin` "hh:mm" (minutes ignored) to `end` "hh:59", wrapping past midnight;
"16:00"-"15:59" is all day. At most three windows, never overlapping; no window: no limit.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from opendrs.domain import errors
from opendrs.domain.errors import OpendrsError, Text

MAX_WINDOWS = 3
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$", re.ASCII)
_SPEED = re.compile(r"[0-9]{1,4}")  # ASCII digits only: str.isdigit() takes "²", which int() refuses

_BAD_TIME = Text("{field} must be a UTC time hh:mm", "{field}必须是UTC时间hh:mm")
_END_MINUTES = Text("{field} must end in :59", "{field}必须以:59结尾")
_BAD_SPEED = Text("{field} must be a whole number of MB/s from 1 to 9999", "{field}必须是1到9999之间的整数（MB/s）")
_OVERLAP = Text("speed_limit windows {first} and {second} overlap", "限速时间段{first}与{second}重叠")
_TOO_MANY = Text("at most 3 speed_limit windows", "最多3个限速时间段")


@dataclasses.dataclass(frozen=True)
class SpeedWindow:
    begin_hour: int
    end_hour: int
    mb_per_second: int

    def hours(self) -> set[int]:
        span = (self.end_hour - self.begin_hour) % 24 + 1
        return {(self.begin_hour + step) % 24 for step in range(span)}


def parse(raw: Sequence[Mapping[str, Any]], field: str = "speed_limit") -> list[SpeedWindow]:
    """The windows of a request, checked; OpendrsError naming the field otherwise."""
    if len(raw) > MAX_WINDOWS:
        raise OpendrsError(errors.PARAMETER_INVALID, field=field, hint=_TOO_MANY)
    windows = [_window(item, f"{field}[{position}]") for position, item in enumerate(raw)]
    for first in range(len(windows)):
        for second in range(first + 1, len(windows)):
            if windows[first].hours() & windows[second].hours():
                hint = _OVERLAP(first=f"{field}[{first}]", second=f"{field}[{second}]")
                raise OpendrsError(errors.PARAMETER_INVALID, field=field, hint=hint)
    return windows


def _window(item: Mapping[str, Any], field: str) -> SpeedWindow:
    begin, end = str(item.get("begin", "")), str(item.get("end", ""))
    for name, value in (("begin", begin), ("end", end)):
        if not _TIME.match(value):
            raise OpendrsError(errors.PARAMETER_INVALID, field=f"{field}.{name}", hint=_BAD_TIME(field=name))
    if begin == end:
        raise OpendrsError(errors.START_TIME_EQUALS_END, value=f"{field} {begin}")
    if not end.endswith(":59"):
        raise OpendrsError(errors.PARAMETER_INVALID, field=f"{field}.end", hint=_END_MINUTES(field="end"))
    speed = str(item.get("speed", ""))
    if not _SPEED.fullmatch(speed) or not 1 <= int(speed) <= 9999:
        raise OpendrsError(errors.PARAMETER_INVALID, field=f"{field}.speed", hint=_BAD_SPEED(field="speed"))
    return SpeedWindow(int(begin[:2]), int(end[:2]), int(speed))


def limit_at(windows: Sequence[SpeedWindow], utc_hour: int) -> int | None:
    """MB/s allowed at this UTC hour; None: unlimited."""
    for window in windows:
        if utc_hour in window.hours():
            return window.mb_per_second
    return None

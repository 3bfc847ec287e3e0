"""Holds a task's full transfer to its speed limit (batch-limit-speed), across all its copy threads."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence

from opendrs.domain import speed
from opendrs.domain.speed import SpeedWindow

RELOAD_SECONDS = 10.0  # how often the limits are read again: a user may change them while the task runs
MB = 1024 * 1024


class Throttle:
    """A token bucket in bytes; `windows` gives the task's current windows (re-read every RELOAD_SECONDS)."""

    def __init__(self, windows: Callable[[], Sequence[SpeedWindow]], clock: Callable[[], float] = time.monotonic):
        self._load_windows = windows
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: Sequence[SpeedWindow] = windows()
        self._loaded_at = clock()
        self._debt = 0.0  # bytes sent beyond what the limit allowed so far
        self._last = clock()

    def __call__(self, sent: int) -> None:
        with self._lock:
            now = self._clock()
            if now - self._loaded_at > RELOAD_SECONDS:
                self._windows, self._loaded_at = self._load_windows(), now
            limit = speed.limit_at(self._windows, dt.datetime.now(dt.UTC).hour)
            if limit is None:
                self._debt, self._last = 0.0, now
                return
            rate = limit * MB
            self._debt = max(0.0, self._debt - (now - self._last) * rate) + sent
            self._last = now
            wait = self._debt / rate
        if wait > 0.05:
            time.sleep(wait)  # this thread has sent ahead of the limit: hold it back

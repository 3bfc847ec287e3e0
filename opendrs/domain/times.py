"""Time as the store keeps it (epoch milliseconds) and the formats the contract shows it in (API.md 1.4)."""

from __future__ import annotations

import datetime as dt
import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _utc(epoch_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)


def epoch_ms_string(epoch_ms: int | None) -> str:
    """v3 batch APIs: epoch milliseconds as a string, "0" when not set."""
    return str(epoch_ms or 0)


def list_time(epoch_ms: int) -> str:
    """v3 list: `yyyy-MM-dd HH:mm:ss` (UTC)."""
    return _utc(epoch_ms).strftime("%Y-%m-%d %H:%M:%S")


def iso_seconds(epoch_ms: int) -> str:
    """v5: ISO-8601 UTC to the second, `2022-11-07T06:41:08Z`."""
    return _utc(epoch_ms).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(epoch_ms: int | None) -> str | None:
    """ECS: ISO-8601 UTC with milliseconds, `2016-04-25T20:04:47.591Z`."""
    if epoch_ms is None:
        return None
    return _utc(epoch_ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def iso_micros(epoch_seconds: float) -> str:
    """Keystone tokens: ISO-8601 UTC with microseconds, `2024-01-02T12:00:00.000000Z`."""
    return dt.datetime.fromtimestamp(epoch_seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

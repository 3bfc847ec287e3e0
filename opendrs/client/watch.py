"""`opendrs job watch`: polls batch-progress and batch-detail, and shows per task the structure, data and index
progress, rows/s, incremental lag, an ETA and a gh-ost-like status line (with the reason when a task is limited
or failing): a rich live view on a terminal, one line (or one JSON object) per task per interval otherwise."""

from __future__ import annotations

import dataclasses
import enum
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table

from opendrs.client.api import DrsApi
from opendrs.client.errors import ClientError, ExitCode, NotFoundError
from opendrs.domain import speed
from opendrs.domain.errors import OpendrsError


class Until(enum.StrEnum):
    INCREMENTAL = "incremental"  # every task replicates changes (or, being FULL_TRANS, has finished its copy)
    DONE = "done"  # every task is in a final state


STOPPED = frozenset({"RELEASE_RESOURCE_COMPLETE", "DELETED", "CREATE_FAILED"})
COPIED = frozenset({"FULL_TRANSFER_COMPLETE", "INCRE_TRANSFER_STARTED", "INCRE_TRANSFER_FAILED"})
_STATES = {
    "CREATING": "creating",
    "CONFIGURATION": "configuring (not started)",
    "WAITING_FOR_START": "waiting for its start time",
    "STARTJOBING": "starting",
    "FULL_TRANSFER_STARTED": "copying",
    "FULL_TRANSFER_COMPLETE": "full copy complete",
    "INCRE_TRANSFER_STARTED": "replicating changes",
    "PAUSING": "paused",
    "RELEASE_RESOURCE_STARTED": "stopping",
    "RELEASE_RESOURCE_COMPLETE": "stopped",
    "DELETED": "deleted",
}


@dataclasses.dataclass(frozen=True)
class Sample:
    """One task at one poll."""

    id: str
    name: str
    status: str
    task_type: str
    progress: int
    struct: int | None
    data: int | None
    index: int | None
    rows_copied: int
    rows_estimate: int
    rows_per_second: float | None
    lag_seconds: float | None
    eta_seconds: int | None
    speed_limit: str | None  # the speed-limit window in force, e.g. "5 MB/s (window 02:00-05:59 UTC)"
    error_code: str | None
    error_msg: str | None

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED")

    def reached(self, until: Until) -> bool:
        if self.failed or self.status in STOPPED:
            return True
        full_only_done = self.task_type == "FULL_TRANS" and self.status == "FULL_TRANSFER_COMPLETE"
        if until is Until.INCREMENTAL:
            return full_only_done or self.status == "INCRE_TRANSFER_STARTED"
        return full_only_done

    def state(self) -> str:
        if self.failed:
            return f"failed: {self.error_code or self.status} {self.error_msg or ''}".rstrip()
        described = _STATES.get(self.status, self.status.lower())
        if self.speed_limit and self.status == "FULL_TRANSFER_STARTED":
            described += f", throttled to {self.speed_limit}"
        return described

    def line(self) -> str:
        """The gh-ost-style status line."""
        parts = [f"{self.id} {self.name}: {self.status}"]
        phases = ", ".join(
            f"{label} {value}%"
            for label, value in (("struct", self.struct), ("data", self.data), ("index", self.index))
            if value is not None
        )
        if phases:
            parts.append(phases)
        if self.rows_estimate or self.rows_copied:
            percent = f" {self.data}%" if self.data is not None else ""
            parts.append(f"Copy: {self.rows_copied}/{self.rows_estimate} rows{percent}")
        parts.append(f"Rate: {_rate(self.rows_per_second)}")
        parts.append(f"Lag: {_seconds(self.lag_seconds)}")
        parts.append(f"ETA: {_duration(self.eta_seconds)}")
        parts.append(f"State: {self.state()}")
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"state": self.state(), "time": datetime.now(UTC).isoformat()}


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} rows/s"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}s"


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "n/a"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _percent(progress_map: dict[str, Any], key: str) -> int | None:
    completed = (progress_map.get(key) or {}).get("completed")
    try:
        return int(str(completed).rstrip("%")) if completed is not None else None
    except ValueError:
        return None


def _speed_limit(windows: list[dict[str, Any]], now: datetime) -> str | None:
    try:
        parsed = speed.parse(windows)
    except OpendrsError:
        return None  # the server stored it, so it parses; never fail a watch over it
    for raw, window in zip(windows, parsed, strict=True):
        if now.hour in window.hours():
            return f"{window.mb_per_second} MB/s (speed limit window {raw['begin']}-{raw['end']} UTC)"
    return None


def _number(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return None if number < 0 else number


def _table_rows(table: dict[str, Any]) -> int:
    """A table's rows: counted once its data is copied; until then the source's estimate (never below the count)."""
    copied = int(table.get("rows_copied") or 0)
    return copied if table.get("data_done") else max(int(table.get("rows_estimate") or 0), copied)


class Sampler:
    """Polls a set of tasks; remembers when it first saw each one copying, to measure the copy's rows/s since."""

    def __init__(self, api: DrsApi, job_ids: Sequence[str], clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.job_ids = list(dict.fromkeys(job_ids))
        self.clock = clock
        self._first: dict[str, tuple[float, int]] = {}  # job id -> (time, rows copied) at the first copying poll

    def poll(self) -> list[Sample]:
        progresses = {entry.get("job_id"): entry for entry in self.api.progress(self.job_ids)}
        details = {entry.get("id"): entry for entry in self.api.detail(self.job_ids)}
        unknown = [job_id for job_id in self.job_ids if "status" not in details.get(job_id, {})]
        if unknown:
            raise NotFoundError(f"no such task: {', '.join(unknown)}", "DRS.M05003", unknown[0])
        now = self.clock()
        return [self._sample(job_id, progresses.get(job_id, {}), details[job_id], now) for job_id in self.job_ids]

    def _sample(self, job_id: str, progress: dict[str, Any], detail: dict[str, Any], now: float) -> Sample:
        status = str(detail.get("status"))
        task_type = str(detail.get("task_type") or progress.get("task_mode") or "")
        tables = detail.get("table_progress") or []
        copied = sum(int(table.get("rows_copied") or 0) for table in tables)
        estimate = sum(_table_rows(table) for table in tables)
        progress_map = progress.get("progress_map") or {}
        rate: float | None = None
        if status == "INCRE_TRANSFER_STARTED":
            applied = _number(progress.get("apply_rows_rate"))
            rate = None if applied is None else float(applied)
        elif status == "FULL_TRANSFER_STARTED":
            then, copied_then = self._first.setdefault(job_id, (now, copied))
            rate = (copied - copied_then) / (now - then) if now > then else None
        lag_millis = _number(progress.get("incre_trans_delay_millis"))
        phases = [_percent(progress_map, key) for key in ("struct", "data", "index")]
        if status in COPIED and task_type != "INCR_TRANS":
            phases = [100 if value is None else value for value in phases]  # the copy is over: measured or not
        eta = _number(progress.get("remaining_time")) if status == "FULL_TRANSFER_STARTED" else None
        if not eta and status == "FULL_TRANSFER_STARTED":  # 0 from the server: not estimated yet
            eta = int((estimate - copied) / rate) if rate and estimate > copied else None
        return Sample(
            id=job_id,
            name=str(detail.get("name", "")),
            status=status,
            task_type=task_type,
            progress=_number(progress.get("progress")) or 0,
            struct=phases[0],
            data=phases[1],
            index=phases[2],
            rows_copied=copied,
            rows_estimate=estimate,
            rows_per_second=rate,
            lag_seconds=None if lag_millis is None else lag_millis / 1000,
            eta_seconds=eta,
            speed_limit=_speed_limit(detail.get("speed_limit") or [], datetime.now(UTC)),
            error_code=detail.get("error_code"),
            error_msg=detail.get("error_message") or detail.get("failed_reason"),
        )


# Showing samples -------------------------------------------------------------------------------------------


def render(samples: Sequence[Sample]) -> RenderableType:
    """The live view: a panel per task with three bars and the status line."""
    panels = []
    for sample in samples:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=10)
        grid.add_column(width=40)
        grid.add_column(justify="right", width=5)
        for label, value in (("structure", sample.struct), ("data", sample.data), ("indexes", sample.index)):
            style = "red" if sample.failed else "green" if value == 100 else "cyan"
            grid.add_row(
                label,
                ProgressBar(total=100, completed=value or 0, complete_style=style, finished_style=style),
                f"{value or 0}%",
            )
        details = Table.grid(padding=(0, 2))
        details.add_row(
            f"copied {sample.rows_copied}/{sample.rows_estimate} rows",
            f"rate {_rate(sample.rows_per_second)}",
            f"lag {_seconds(sample.lag_seconds)}",
            f"ETA {_duration(sample.eta_seconds)}",
        )
        state_style = "bold red" if sample.failed else "yellow" if "throttled" in sample.state() else "bold"
        title = f"{sample.name} [dim]{sample.id}[/dim] {sample.status}"
        body = Group(grid, details, f"[{state_style}]State: {sample.state()}[/{state_style}]")
        panels.append(Panel(body, title=title, title_align="left", border_style="red" if sample.failed else "blue"))
    return Group(*panels)


Emit = Callable[[Sequence[Sample]], None]


def line_emitter(out: TextIO, as_json: bool) -> Emit:
    def emit(samples: Sequence[Sample]) -> None:
        for sample in samples:
            print(json.dumps(sample.as_json()) if as_json else sample.line(), file=out, flush=True)

    return emit


def watch(
    sampler: Sampler,
    until: Until,
    interval: float,
    emit: Emit,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ExitCode:
    """Poll until every task reached `until` (or failed, or stopped); 1 if any failed, else 0."""
    end = None if timeout is None else time.monotonic() + timeout
    while True:
        samples = sampler.poll()
        emit(samples)
        if all(sample.reached(until) for sample in samples):
            return ExitCode.FAILED if any(sample.failed for sample in samples) else ExitCode.OK
        if end is not None and time.monotonic() > end:
            pending = [f"{sample.id} ({sample.status})" for sample in samples if not sample.reached(until)]
            raise ClientError(f"timed out after {timeout} s waiting for {until.value}: {', '.join(pending)}")
        sleep(interval)


def watch_live(sampler: Sampler, until: Until, interval: float, console: Console, timeout: float | None) -> ExitCode:
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        return watch(sampler, until, interval, lambda samples: live.update(render(samples)), timeout)

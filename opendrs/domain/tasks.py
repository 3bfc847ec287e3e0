"""Task records as the service and the engine see them."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from opendrs.domain.states import TaskStatus

JsonObject = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Task:
    id: str
    project_id: str
    name: str
    status: TaskStatus
    db_use_type: str
    engine_type: str
    job_direction: str
    net_type: str
    node_type: str
    task_type: str
    description: str
    source_endpoint: JsonObject  # never holds a password
    target_endpoint: JsonObject
    options: JsonObject  # the rest of the creation request
    async_job_id: str | None
    error_code: str | None
    error_msg: str | None
    create_time: int  # epoch ms
    update_time: int
    actual_start_time: int | None
    full_transfer_complete_time: int | None
    objects: JsonObject | None = None  # the selection (batch-select-objects); None = whole instance
    scheduled_start: int | None = None  # epoch ms, for WAITING_FOR_START
    paused_from: TaskStatus | None = None

    @property
    def ends_with_final_objects(self) -> bool:
        """Whether a normal terminate now creates the source's triggers and events on the target, once replication
        stops writing there: for a task that replicates into a whole copy (a full-only task creates them at the end
        of its copy; force_terminate skips them)."""
        status = self.paused_from if self.status is TaskStatus.PAUSING else self.status
        if self.task_type == "FULL_INCR_TRANS" and self.full_transfer_complete_time is not None:
            return status in _AFTER_THE_COPY
        return self.task_type == "INCR_TRANS" and status in _REPLICATING


_REPLICATING = frozenset({TaskStatus.INCRE_TRANSFER_STARTED, TaskStatus.INCRE_TRANSFER_FAILED})
_AFTER_THE_COPY = _REPLICATING | {TaskStatus.FULL_TRANSFER_COMPLETE}


class StatusView(NamedTuple):
    """The few columns batch-status needs, read without the rest of the record (a tuple: 100 are built a call)."""

    id: str
    status: TaskStatus
    error_code: str | None
    error_msg: str | None


@dataclasses.dataclass(frozen=True)
class Progress:
    """What the engine last measured; percentages are whole numbers, times epoch ms."""

    progress: int = 0
    struct_percent: int | None = None
    data_percent: int | None = None
    index_percent: int | None = None
    struct_remaining_seconds: int | None = None
    data_remaining_seconds: int | None = None
    index_remaining_seconds: int | None = None
    remaining_seconds: int | None = None
    incre_delay_millis: int | None = None
    apply_rows_rate: int | None = None
    apply_bytes_rate: int | None = None
    process_time: int | None = None


class ProgressView(NamedTuple):
    """What batch-progress shows of a task (a tuple: 100 are built a call)."""

    id: str
    status: TaskStatus
    task_type: str
    error_code: str | None
    error_msg: str | None
    progress: Progress | None  # None until the engine has measured anything


@dataclasses.dataclass(frozen=True)
class ListFilter:
    project_id: str
    db_use_type: str
    engine_type: str | None = None
    net_type: str | None = None
    status: str | None = None
    names_or_ids: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    instance_ids: tuple[str, ...] = ()
    instance_ip: str | None = None


@dataclasses.dataclass(frozen=True)
class TableProgress:
    """How far the full transfer of one table is."""

    position: int
    source_schema: str
    source_name: str
    target_schema: str
    target_name: str
    rows_estimate: int
    rows_copied: int = 0
    structure_done: bool = False
    data_done: bool = False
    index_done: bool = False


@dataclasses.dataclass(frozen=True)
class Sample:
    """A running task's lag and throughput at one moment (the worker takes one every few seconds)."""

    at: int  # epoch ms
    lag_ms: int | None  # None outside the incremental phase
    rows_per_second: int
    rows_transferred: int  # total since the task started


@dataclasses.dataclass(frozen=True)
class TaskEvent:
    """A failure of a task: one that ended it (level error) or one it retried (level warning)."""

    at: int  # epoch ms
    level: str
    error_code: str | None
    message: str


@dataclasses.dataclass(frozen=True)
class TaskTotals:
    """What /metrics reports for one task."""

    id: str
    project_id: str
    status: TaskStatus
    rows_transferred: int
    bytes_transferred: int
    rows_per_second: int | None  # from the last sample; None before the first
    lag_ms: int | None
    errors: int

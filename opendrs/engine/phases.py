"""What a worker does in each running status of a task (the Runner's phase table)."""

from __future__ import annotations

from opendrs.connectors.mysql import checks
from opendrs.domain import errors
from opendrs.domain.states import Event, TaskStatus
from opendrs.domain.times import now_ms
from opendrs.engine import full_copy, incremental
from opendrs.engine.runner import Phase, TaskContext, TransferError
from opendrs.faults import crash_point


def start(context: TaskContext) -> None:
    """STARTJOBING: both databases answer; then the first phase of the task type."""
    source, target = incremental.endpoints(context)
    for endpoint, code in ((source, errors.SOURCE_FAILED), (target, errors.TARGET_FAILED)):
        result = checks.check_connection(endpoint)
        if not result.ok:
            raise TransferError(code, result.reason, retriable=not result.auth_failed)
    if context.task.task_type == "INCR_TRANS":
        incremental.capture_start(context)
        context.move(Event.INCREMENTAL_STARTED)
    else:
        crash_point("phase.start.before_full_started")
        context.move(Event.FULL_STARTED)


def full(context: TaskContext) -> None:
    """FULL_TRANSFER_STARTED: structure, data, indexes; resumable chunk by chunk."""
    full_copy.run(context)
    crash_point("phase.full.copied_unrecorded")
    context.move(Event.FULL_COMPLETED, full_transfer_complete_time=now_ms())


def after_full(context: TaskContext) -> None:
    """FULL_TRANSFER_COMPLETE: a full+incremental task goes on from its snapshot position."""
    if context.task.task_type == "FULL_INCR_TRANS":
        crash_point("phase.full_completed.before_incremental")
        context.move(Event.INCREMENTAL_STARTED)


PHASES: dict[TaskStatus, Phase] = {
    TaskStatus.STARTJOBING: start,
    TaskStatus.FULL_TRANSFER_STARTED: full,
    TaskStatus.FULL_TRANSFER_COMPLETE: after_full,
    TaskStatus.INCRE_TRANSFER_STARTED: incremental.run,
}

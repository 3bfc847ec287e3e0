"""Asynchronous operations and their sub-jobs. Sub-jobs settle from the status of their task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from opendrs.domain import ids
from opendrs.domain.operations import Operation, PlannedSubJob, SubJob, overall_status
from opendrs.domain.states import OPERATION_DONE, OperationStatus
from opendrs.store.schema import operations, sub_jobs, tasks

_PENDING = (OperationStatus.INIT.value, OperationStatus.RUNNING.value)


def create(
    connection: sa.Connection, project_id: str, job_type: str, planned: Sequence[PlannedSubJob], now: int
) -> str:
    operation_id = ids.new_hex32()
    connection.execute(
        operations.insert().values(
            id=operation_id,
            project_id=project_id,
            job_type=job_type,
            status=OperationStatus.INIT.value,
            begin_time=now,
        )
    )
    rows = [
        {
            "id": ids.new_hex32(),
            "operation_id": operation_id,
            "position": position,
            "job_type": sub.job_type,
            "task_id": sub.task_id,
            "status": (OperationStatus.FAIL if sub.error_code else OperationStatus.INIT).value,
            "success_status": sub.success_status.value if sub.success_status else None,
            "failure_status": sub.failure_status.value if sub.failure_status else None,
            "begin_time": now,
            "end_time": now if sub.error_code else None,
            "error_code": sub.error_code,
            "fail_reason": sub.fail_reason,
        }
        for position, sub in enumerate(planned)
    ]
    if rows:
        connection.execute(sub_jobs.insert(), rows)
    return operation_id


def get(connection: sa.Connection, project_id: str, operation_id: str) -> Operation | None:
    row = connection.execute(
        sa.select(operations).where(operations.c.id == operation_id, operations.c.project_id == project_id)
    ).first()
    if row is None:
        return None
    subs = connection.execute(
        sa.select(sub_jobs).where(sub_jobs.c.operation_id == operation_id).order_by(sub_jobs.c.position)
    )
    return Operation(
        id=row.id,
        project_id=row.project_id,
        job_type=row.job_type,
        status=OperationStatus(row.status),
        begin_time=row.begin_time,
        end_time=row.end_time,
        error_code=row.error_code,
        fail_reason=row.fail_reason,
        sub_jobs=tuple(_sub_job(sub) for sub in subs),
    )


def fail_pending(connection: sa.Connection, task_id: str, job_type: str, code: str, reason: str, now: int) -> None:
    """End a task's pending sub-jobs of `job_type` as failed: what they waited for will not happen."""
    connection.execute(
        sub_jobs.update()
        .where(sub_jobs.c.task_id == task_id, sub_jobs.c.job_type == job_type, sub_jobs.c.status.in_(_PENDING))
        .values(status=OperationStatus.FAIL.value, end_time=now, error_code=code, fail_reason=reason)
    )


def has_pending(connection: sa.Connection) -> bool:
    query = sa.select(operations.c.id).where(operations.c.status.in_(_PENDING)).limit(1)
    return connection.scalar(query) is not None


def has_finished_before(connection: sa.Connection, cutoff: int) -> bool:
    return connection.scalar(sa.select(operations.c.id).where(_finished_before(cutoff)).limit(1)) is not None


def purge_finished_before(connection: sa.Connection, cutoff: int) -> None:
    """Forget operations that finished before `cutoff` (the ECS contract keeps them one day)."""
    expired = sa.select(operations.c.id).where(_finished_before(cutoff))
    connection.execute(sub_jobs.delete().where(sub_jobs.c.operation_id.in_(expired)))
    connection.execute(operations.delete().where(_finished_before(cutoff)))


def _finished_before(cutoff: int) -> sa.ColumnElement[bool]:
    return sa.and_(operations.c.status.notin_(_PENDING), operations.c.end_time < cutoff)


def settle(connection: sa.Connection, now: int) -> int:
    """Move pending sub-jobs whose task reached their success or failure status, then their parents.

    Returns how many operations finished.
    """
    task_status = sa.select(tasks.c.status).where(tasks.c.id == sub_jobs.c.task_id).scalar_subquery()
    pending = sub_jobs.c.status.in_(_PENDING)
    end = _end(sub_jobs.c.begin_time, now)
    connection.execute(
        sub_jobs.update()
        .where(pending, sub_jobs.c.success_status == task_status)
        .values(status=OperationStatus.SUCCESS.value, end_time=end)
    )
    connection.execute(
        sub_jobs.update()
        .where(pending, sub_jobs.c.failure_status == task_status)
        .values(
            status=OperationStatus.FAIL.value,
            end_time=end,
            error_code=sa.select(tasks.c.error_code).where(tasks.c.id == sub_jobs.c.task_id).scalar_subquery(),
            fail_reason=sa.select(tasks.c.error_msg).where(tasks.c.id == sub_jobs.c.task_id).scalar_subquery(),
        )
    )
    # Sub-jobs with nothing to wait for (their task needed no further change) are done at once.
    connection.execute(
        sub_jobs.update()
        .where(pending, sub_jobs.c.success_status.is_(None))
        .values(status=OperationStatus.SUCCESS.value, end_time=end)
    )
    connection.execute(
        sub_jobs.update()
        .where(sub_jobs.c.status == OperationStatus.INIT.value)
        .values(status=OperationStatus.RUNNING.value)
    )
    return _settle_parents(connection, now)


def _end(begin: sa.ColumnElement[int], now: int) -> sa.ColumnElement[int]:
    """`now`, or the begin time when that is later: `now` was read before this transaction saw the row."""
    return sa.case((begin > now, begin), else_=now)


def _settle_parents(connection: sa.Connection, now: int) -> int:
    open_rows = connection.execute(
        sa.select(operations.c.id, operations.c.begin_time).where(operations.c.status.in_(_PENDING))
    ).all()
    finished = 0
    for operation_id, begin_time in open_rows:
        subs = connection.execute(
            sa.select(sub_jobs.c.status, sub_jobs.c.error_code, sub_jobs.c.fail_reason)
            .where(sub_jobs.c.operation_id == operation_id)
            .order_by(sub_jobs.c.position)
        ).all()
        status = overall_status([OperationStatus(sub.status) for sub in subs])
        values: dict[str, Any] = {"status": status.value}
        if status in OPERATION_DONE:
            values["end_time"] = max(now, begin_time)
            finished += 1
        if status is OperationStatus.FAIL:
            first_failure = next(sub for sub in subs if sub.status == OperationStatus.FAIL.value)
            values["error_code"] = first_failure.error_code
            values["fail_reason"] = first_failure.fail_reason
        connection.execute(operations.update().where(operations.c.id == operation_id).values(**values))
    return finished


def _sub_job(row: sa.Row[Any]) -> SubJob:
    return SubJob(
        id=row.id,
        job_type=row.job_type,
        task_id=row.task_id,
        status=OperationStatus(row.status),
        begin_time=row.begin_time,
        end_time=row.end_time,
        error_code=row.error_code,
        fail_reason=row.fail_reason,
    )

"""A task's recent history: lag and throughput samples, failure events, and transferred totals.

Samples are written by the worker running the task and pruned after about an hour; events stay with the
task (the newest EVENTS_KEPT of them); totals only ever grow.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from opendrs.domain.states import TaskStatus
from opendrs.domain.tasks import Sample, TaskEvent, TaskTotals
from opendrs.store.schema import task_events, task_progress, task_samples, tasks

EVENTS_KEPT = 100  # per task: a task retrying for days must not grow its history without end


def add_transferred(connection: sa.Connection, task_id: str, rows: int, size: int, now: int) -> None:
    """Count `rows` rows and `size` bytes more as transferred by the task."""
    updated = connection.execute(
        task_progress.update()
        .where(task_progress.c.task_id == task_id)
        .values(
            rows_transferred=task_progress.c.rows_transferred + rows,
            bytes_transferred=task_progress.c.bytes_transferred + size,
        )
    )
    if updated.rowcount == 0:
        connection.execute(
            task_progress.insert().values(
                task_id=task_id, rows_transferred=rows, bytes_transferred=size, updated_at=now
            )
        )


def current(connection: sa.Connection, task_ids: Sequence[str]) -> dict[str, tuple[TaskStatus, int | None, int]]:
    """Each task's status, last reported lag (ms) and rows transferred so far."""
    if not task_ids:
        return {}
    rows = connection.execute(
        sa.select(tasks.c.id, tasks.c.status, task_progress.c.incre_delay_millis, task_progress.c.rows_transferred)
        .select_from(tasks.outerjoin(task_progress, task_progress.c.task_id == tasks.c.id))
        .where(tasks.c.id.in_(set(task_ids)))
    )
    return {row.id: (TaskStatus(row.status), row.incre_delay_millis, row.rows_transferred or 0) for row in rows}


def add_samples(connection: sa.Connection, samples: dict[str, Sample]) -> None:
    rows = [
        {
            "task_id": task_id,
            "sampled_at": sample.at,
            "lag_ms": sample.lag_ms,
            "rows_per_second": sample.rows_per_second,
            "rows_transferred": sample.rows_transferred,
        }
        for task_id, sample in samples.items()
    ]
    if rows:
        connection.execute(task_samples.insert(), rows)


def has_samples_before(connection: sa.Connection, before: int) -> bool:
    return (
        connection.scalar(sa.select(task_samples.c.task_id).where(task_samples.c.sampled_at < before).limit(1))
        is not None
    )


def prune_samples(connection: sa.Connection, before: int) -> None:
    connection.execute(task_samples.delete().where(task_samples.c.sampled_at < before))


def samples(connection: sa.Connection, task_id: str, since: int) -> list[Sample]:
    rows = connection.execute(
        sa.select(task_samples)
        .where(task_samples.c.task_id == task_id, task_samples.c.sampled_at >= since)
        .order_by(task_samples.c.sampled_at)
    )
    return [Sample(row.sampled_at, row.lag_ms, row.rows_per_second, row.rows_transferred) for row in rows]


def record_event(
    connection: sa.Connection, task_id: str, at: int, level: str, error_code: str | None, message: str
) -> None:
    connection.execute(
        task_events.insert().values(task_id=task_id, at=at, level=level, error_code=error_code, message=message)
    )
    oldest_kept = (
        sa.select(task_events.c.id)
        .where(task_events.c.task_id == task_id)
        .order_by(task_events.c.id.desc())
        .offset(EVENTS_KEPT - 1)
        .limit(1)
        .scalar_subquery()
    )
    connection.execute(task_events.delete().where(task_events.c.task_id == task_id, task_events.c.id < oldest_kept))


def events(connection: sa.Connection, task_ids: Sequence[str]) -> dict[str, list[TaskEvent]]:
    """Each task's failures, and notices such as a copy that took a new snapshot (without an error code), oldest
    first."""
    if not task_ids:
        return {}
    rows = connection.execute(
        sa.select(task_events).where(task_events.c.task_id.in_(set(task_ids))).order_by(task_events.c.id)
    )
    found: dict[str, list[TaskEvent]] = {}
    for row in rows:
        found.setdefault(row.task_id, []).append(TaskEvent(row.at, row.level, row.error_code, row.message))
    return found


def totals(connection: sa.Connection) -> list[TaskTotals]:
    """Every task the engine has measured (and not deleted), with its last sample and its error count."""
    last_sample = (
        sa.select(task_samples.c.task_id, sa.func.max(task_samples.c.sampled_at).label("at"))
        .group_by(task_samples.c.task_id)
        .subquery()
    )
    error_counts = (
        sa.select(task_events.c.task_id, sa.func.count().label("errors"))
        .where(task_events.c.error_code.is_not(None))  # a failure has its code; a notice (a new snapshot) has none
        .group_by(task_events.c.task_id)
        .subquery()
    )
    query = (
        sa.select(
            tasks.c.id,
            tasks.c.project_id,
            tasks.c.status,
            task_progress.c.rows_transferred,
            task_progress.c.bytes_transferred,
            task_progress.c.incre_delay_millis,
            task_samples.c.rows_per_second,
            error_counts.c.errors,
        )
        .select_from(
            tasks.join(task_progress, task_progress.c.task_id == tasks.c.id)
            .outerjoin(last_sample, last_sample.c.task_id == tasks.c.id)
            .outerjoin(
                task_samples,
                sa.and_(task_samples.c.task_id == tasks.c.id, task_samples.c.sampled_at == last_sample.c.at),
            )
            .outerjoin(error_counts, error_counts.c.task_id == tasks.c.id)
        )
        .where(tasks.c.status != TaskStatus.DELETED.value)
        .order_by(tasks.c.id)
    )
    return [
        TaskTotals(
            id=row.id,
            project_id=row.project_id,
            status=TaskStatus(row.status),
            rows_transferred=row.rows_transferred,
            bytes_transferred=row.bytes_transferred,
            rows_per_second=row.rows_per_second,
            lag_ms=row.incre_delay_millis,
            errors=row.errors or 0,
        )
        for row in connection.execute(query)
    ]

"""Compare tasks: recorded by the API, claimed by one worker under a lease, finished with their report.

Every change after creation is a guarded UPDATE: a worker claims a task by bumping `lease_version` (only if
nobody took it since it looked), and renews and finishes it only while its version is still the task's and the
task is still RUNNING, so a cancelled task, or one taken over after its lease expired, is never overwritten.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from opendrs.domain.compare import UNFINISHED, CompareKind, CompareScope, CompareStatus, CompareTask
from opendrs.store.schema import compare_tasks

_RECORD_COLUMNS = [column for column in compare_tasks.c if not column.name.startswith("lease_")]


@dataclasses.dataclass(frozen=True)
class CompareLease:
    compare_id: str
    owner: str
    version: int  # the fencing token


def insert(connection: sa.Connection, task: CompareTask) -> None:
    row = dataclasses.asdict(task)
    row["kind"] = task.kind.value
    row["status"] = task.status.value
    row["scope"] = [dataclasses.asdict(entry) for entry in task.scope]
    connection.execute(compare_tasks.insert().values(**row))


def get(connection: sa.Connection, compare_id: str) -> CompareTask | None:
    row = connection.execute(sa.select(*_RECORD_COLUMNS).where(compare_tasks.c.id == compare_id)).first()
    return None if row is None else _record(row)


def list_for_task(connection: sa.Connection, task_id: str) -> list[CompareTask]:
    """The task's compare tasks, newest first."""
    query = (
        sa.select(*_RECORD_COLUMNS)
        .where(compare_tasks.c.task_id == task_id)
        .order_by(compare_tasks.c.create_time.desc(), compare_tasks.c.id)
    )
    return [_record(row) for row in connection.execute(query)]


def unfinished_data_level(connection: sa.Connection, task_id: str) -> list[CompareTask]:
    query = sa.select(*_RECORD_COLUMNS).where(
        compare_tasks.c.task_id == task_id,
        compare_tasks.c.kind != CompareKind.OBJECTS.value,
        compare_tasks.c.status.in_([status.value for status in UNFINISHED]),
    )
    return [_record(row) for row in connection.execute(query)]


def cancel(connection: sa.Connection, compare_ids: Iterable[str], now: int) -> None:
    """Cancel the compare tasks that are not finished yet; a worker running one stops at its next renewal."""
    connection.execute(
        compare_tasks.update()
        .where(
            compare_tasks.c.id.in_(list(compare_ids)),
            compare_tasks.c.status.in_([status.value for status in UNFINISHED]),
        )
        .values(status=CompareStatus.CANCELLED.value, end_time=now)
    )


def _claimable(now: int) -> sa.ColumnElement[bool]:
    waiting = sa.and_(
        compare_tasks.c.status == CompareStatus.WAITING_FOR_RUNNING.value, compare_tasks.c.start_at <= now
    )
    # A RUNNING task whose worker died: its lease ran out, another worker takes it over and starts it again.
    abandoned = sa.and_(compare_tasks.c.status == CompareStatus.RUNNING.value, compare_tasks.c.lease_expires_at < now)
    return sa.or_(waiting, abandoned)


def claimable(connection: sa.Connection, now: int, limit: int) -> list[tuple[str, int]]:
    """(compare id, lease version) of compare tasks due to run that nobody holds, oldest first."""
    query = (
        sa.select(compare_tasks.c.id, compare_tasks.c.lease_version)
        .where(_claimable(now))
        .order_by(compare_tasks.c.create_time)
        .limit(limit)
    )
    return [(row.id, row.lease_version) for row in connection.execute(query)]


def claim(
    connection: sa.Connection, compare_id: str, seen_version: int, owner: str, now: int, ttl_ms: int
) -> CompareLease | None:
    """Take the compare task (-> RUNNING) if nobody took it since `seen_version`; the lease, or None."""
    updated = connection.execute(
        compare_tasks.update()
        .where(compare_tasks.c.id == compare_id, compare_tasks.c.lease_version == seen_version, _claimable(now))
        .values(
            status=CompareStatus.RUNNING.value,
            lease_owner=owner,
            lease_expires_at=now + ttl_ms,
            lease_version=seen_version + 1,
        )
    )
    return CompareLease(compare_id, owner, seen_version + 1) if updated.rowcount == 1 else None


def _held(lease: CompareLease) -> sa.ColumnElement[bool]:
    return sa.and_(
        compare_tasks.c.id == lease.compare_id,
        compare_tasks.c.lease_version == lease.version,
        compare_tasks.c.status == CompareStatus.RUNNING.value,
    )


def renew(connection: sa.Connection, lease: CompareLease, now: int, ttl_ms: int) -> bool:
    """Extend the lease; False if the task is not ours to run any more (cancelled, or taken over)."""
    updated = connection.execute(compare_tasks.update().where(_held(lease)).values(lease_expires_at=now + ttl_ms))
    return updated.rowcount == 1


def finish(
    connection: sa.Connection,
    lease: CompareLease,
    now: int,
    *,
    report: Mapping[str, Any] | None,
    error_code: str | None = None,
    error_msg: str | None = None,
) -> bool:
    """SUCCESSFUL with its report, or FAILED with the cause; False if the task was not ours any more."""
    status = CompareStatus.FAILED if error_code else CompareStatus.SUCCESSFUL
    updated = connection.execute(
        compare_tasks.update()
        .where(_held(lease))
        .values(
            status=status.value,
            end_time=now,
            report=None if report is None else dict(report),
            error_code=error_code,
            error_msg=error_msg,
            lease_owner=None,
            lease_expires_at=None,
        )
    )
    return updated.rowcount == 1


def _record(row: sa.Row[Any]) -> CompareTask:
    values = row._asdict()
    values["kind"] = CompareKind(values["kind"])
    values["status"] = CompareStatus(values["status"])
    values["scope"] = tuple(CompareScope(entry["db_name"], tuple(entry["tables"])) for entry in values["scope"])
    return CompareTask(**values)

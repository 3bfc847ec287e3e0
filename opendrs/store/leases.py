"""Worker leases on running tasks, with a fencing token.

A worker claims a task by bumping its `lease_version`; every later write of that worker is guarded by the
version it got, so once another worker has taken the task over (after the lease expired), the old one can
no longer change anything.
"""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from opendrs.domain.states import TaskStatus
from opendrs.store.schema import tasks

_RUNNABLE = (
    TaskStatus.STARTJOBING.value,
    TaskStatus.FULL_TRANSFER_STARTED.value,
    TaskStatus.INCRE_TRANSFER_STARTED.value,
)


class LeaseLostError(Exception):
    """Another worker holds the task now (or it is gone): stop touching it."""


@dataclasses.dataclass(frozen=True)
class Lease:
    task_id: str
    owner: str
    version: int  # the fencing token


def _runnable() -> sa.ColumnElement[bool]:
    # A full+incremental task goes on from FULL_TRANSFER_COMPLETE; a full-only one is done there.
    return sa.or_(
        tasks.c.status.in_(_RUNNABLE),
        sa.and_(tasks.c.status == TaskStatus.FULL_TRANSFER_COMPLETE.value, tasks.c.task_type == "FULL_INCR_TRANS"),
    )


def _free(now: int) -> sa.ColumnElement[bool]:
    return sa.or_(tasks.c.lease_owner.is_(None), tasks.c.lease_expires_at < now)


def claimable(connection: sa.Connection, now: int, limit: int) -> list[tuple[str, int]]:
    """(task id, lease version) of runnable tasks nobody holds, oldest change first."""
    query = (
        sa.select(tasks.c.id, tasks.c.lease_version)
        .where(_runnable(), _free(now))
        .order_by(tasks.c.update_time)
        .limit(limit)
    )
    return [(row.id, row.lease_version) for row in connection.execute(query)]


def claim(
    connection: sa.Connection, task_id: str, seen_version: int, owner: str, now: int, ttl_ms: int
) -> Lease | None:
    """Take the task if nobody took it since we saw `seen_version`; the lease, or None."""
    updated = connection.execute(
        tasks.update()
        .where(tasks.c.id == task_id, tasks.c.lease_version == seen_version, _free(now), _runnable())
        .values(lease_owner=owner, lease_expires_at=now + ttl_ms, lease_version=seen_version + 1)
    )
    return Lease(task_id, owner, seen_version + 1) if updated.rowcount == 1 else None


def renew(connection: sa.Connection, lease: Lease, now: int, ttl_ms: int) -> TaskStatus:
    """Extend the lease; the task's current status. LeaseLostError if it is not ours any more."""
    updated = connection.execute(
        tasks.update()
        .where(tasks.c.id == lease.task_id, tasks.c.lease_version == lease.version, tasks.c.lease_owner == lease.owner)
        .values(lease_expires_at=now + ttl_ms)
    )
    if updated.rowcount != 1:
        raise LeaseLostError(lease.task_id)
    status = connection.scalar(sa.select(tasks.c.status).where(tasks.c.id == lease.task_id))
    return TaskStatus(str(status))


def check(connection: sa.Connection, lease: Lease) -> None:
    """Raise LeaseLostError unless `lease` is still the task's; call inside every fenced write transaction."""
    query = sa.select(tasks.c.lease_version).where(tasks.c.id == lease.task_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    if connection.scalar(query) != lease.version:
        raise LeaseLostError(lease.task_id)


def release(connection: sa.Connection, lease: Lease) -> None:
    connection.execute(
        tasks.update()
        .where(tasks.c.id == lease.task_id, tasks.c.lease_version == lease.version)
        .values(lease_owner=None, lease_expires_at=None)
    )


def unleased(connection: sa.Connection, status: TaskStatus, now: int, limit: int) -> list[str]:
    """Tasks in `status` that no live worker holds (e.g. stopped tasks whose worker has let go)."""
    query = sa.select(tasks.c.id).where(tasks.c.status == status.value, _free(now)).limit(limit)
    return list(connection.scalars(query))

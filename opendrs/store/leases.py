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


@dataclasses.dataclass(frozen=True)
class Claimable:
    task_id: str
    version: int  # the lease version seen: 0 for a task no worker ran yet
    changed_at: int  # the task's update_time (ms): for a new task, when it became runnable


def _runnable() -> sa.ColumnElement[bool]:
    # A full+incremental task goes on from FULL_TRANSFER_COMPLETE; a full-only one is done there.
    return sa.or_(
        tasks.c.status.in_(_RUNNABLE),
        sa.and_(tasks.c.status == TaskStatus.FULL_TRANSFER_COMPLETE.value, tasks.c.task_type == "FULL_INCR_TRANS"),
    )


def _free(now: int) -> sa.ColumnElement[bool]:
    return sa.or_(tasks.c.lease_owner.is_(None), tasks.c.lease_expires_at < now)


def claimable(connection: sa.Connection, now: int, limit: int) -> list[Claimable]:
    """Runnable tasks nobody holds, oldest change first."""
    query = (
        sa.select(tasks.c.id, tasks.c.lease_version, tasks.c.update_time)
        .where(_runnable(), _free(now))
        .order_by(tasks.c.update_time)
        .limit(limit)
    )
    return [Claimable(row.id, row.lease_version, row.update_time) for row in connection.execute(query)]


def held_by_owner(connection: sa.Connection, now: int) -> dict[str, int]:
    """How many tasks each worker holds a live lease on: the workers known to be alive, and their load."""
    query = (
        sa.select(tasks.c.lease_owner, sa.func.count())
        .where(tasks.c.lease_owner.is_not(None), tasks.c.lease_expires_at >= now)
        .group_by(tasks.c.lease_owner)
    )
    return {str(owner): int(count) for owner, count in connection.execute(query)}


def claim(
    connection: sa.Connection, task_id: str, seen_version: int, owner: str, now: int, ttl_ms: int
) -> Lease | None:
    """Take the task if nobody took it since we saw `seen_version`; the lease, or None."""
    return _take(connection, task_id, seen_version, owner, now, ttl_ms, _runnable())


def _take(
    connection: sa.Connection,
    task_id: str,
    seen_version: int,
    owner: str,
    now: int,
    ttl_ms: int,
    condition: sa.ColumnElement[bool],
) -> Lease | None:
    updated = connection.execute(
        tasks.update()
        .where(tasks.c.id == task_id, tasks.c.lease_version == seen_version, _free(now), condition)
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
        raise LeaseLostError(_lost(lease))
    status = connection.scalar(sa.select(tasks.c.status).where(tasks.c.id == lease.task_id))
    return TaskStatus(str(status))


def check(connection: sa.Connection, lease: Lease) -> None:
    """Raise LeaseLostError unless `lease` is still the task's; call inside every fenced write transaction."""
    query = sa.select(tasks.c.lease_version).where(tasks.c.id == lease.task_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    if connection.scalar(query) != lease.version:
        raise LeaseLostError(_lost(lease))


def _lost(lease: Lease) -> str:
    return f"lease {lease.version} of {lease.owner} is no longer the task's (taken over, or the task is gone)"


def release(connection: sa.Connection, lease: Lease) -> None:
    connection.execute(
        tasks.update()
        .where(tasks.c.id == lease.task_id, tasks.c.lease_version == lease.version)
        .values(lease_owner=None, lease_expires_at=None)
    )


def claim_stopping(connection: sa.Connection, task_id: str, owner: str, now: int, ttl_ms: int) -> Lease | None:
    """Take a stopping task (RELEASE_RESOURCE_STARTED) that nobody holds, for its last step; the lease, or None."""
    version = connection.scalar(sa.select(tasks.c.lease_version).where(tasks.c.id == task_id))
    if version is None:
        return None
    stopping = tasks.c.status == TaskStatus.RELEASE_RESOURCE_STARTED.value
    return _take(connection, task_id, int(version), owner, now, ttl_ms, stopping)


def unleased(connection: sa.Connection, status: TaskStatus, now: int, limit: int) -> list[str]:
    """Tasks in `status` that no live worker holds (e.g. stopped tasks whose worker has let go)."""
    query = sa.select(tasks.c.id).where(tasks.c.status == status.value, _free(now)).limit(limit)
    return list(connection.scalars(query))

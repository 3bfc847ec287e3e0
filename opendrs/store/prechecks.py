"""Precheck runs: recorded by batch-precheck, run by a worker, read by batch-precheck-result."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from opendrs.domain.prechecks import Precheck
from opendrs.store.schema import prechecks


def insert(connection: sa.Connection, precheck: Precheck) -> None:
    connection.execute(prechecks.insert().values(**dataclasses.asdict(precheck)))


def latest(connection: sa.Connection, task_ids: Sequence[str]) -> dict[str, Precheck]:
    """The newest precheck of each task that has one."""
    if not task_ids:
        return {}
    rows = connection.execute(
        sa.select(prechecks).where(prechecks.c.task_id.in_(set(task_ids))).order_by(prechecks.c.created_at)
    )
    return {row.task_id: _precheck(row) for row in rows}


def discard(connection: sa.Connection, task_id: str) -> None:
    """Forget the task's prechecks (its configuration changed); one still running finishes into nothing."""
    connection.execute(prechecks.delete().where(prechecks.c.task_id == task_id))


def pending(connection: sa.Connection, limit: int) -> list[Precheck]:
    rows = connection.execute(
        sa.select(prechecks).where(prechecks.c.status == "pending").order_by(prechecks.c.created_at).limit(limit)
    )
    return [_precheck(row) for row in rows]


def claim(connection: sa.Connection, precheck_id: str) -> bool:
    """Mark a pending precheck running; False if another worker took it."""
    updated = connection.execute(
        prechecks.update()
        .where(prechecks.c.id == precheck_id, prechecks.c.status == "pending")
        .values(status="running")
    )
    return updated.rowcount == 1


def finish(connection: sa.Connection, precheck_id: str, items: list[dict[str, Any]], now: int) -> None:
    connection.execute(
        prechecks.update().where(prechecks.c.id == precheck_id).values(status="done", items=items, finished_at=now)
    )


def _precheck(row: sa.Row[Any]) -> Precheck:
    return Precheck(**row._asdict())

"""A running task's resumable state: its checkpoint document, its tables, and its finished chunks.

Written only inside fenced transactions (store.leases.check) by the task's lease holder; but a stop request sets
FINAL_OBJECTS, which only a worker that holds a stopped task reads and clears.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from opendrs.domain.tasks import TableProgress
from opendrs.store.schema import task_checkpoints, task_chunks, task_tables


def load_state(connection: sa.Connection, task_id: str) -> dict[str, Any]:
    state = connection.scalar(sa.select(task_checkpoints.c.state).where(task_checkpoints.c.task_id == task_id))
    return dict(state or {})


FINAL_OBJECTS = "final_objects_pending"  # state key: a stopped task still has its triggers and events to create


def set_final_objects_pending(connection: sa.Connection, task_id: str, pending: bool, now: int) -> None:
    state = load_state(connection, task_id)
    if state.get(FINAL_OBJECTS, False) != pending:
        save_state(connection, task_id, {**state, FINAL_OBJECTS: pending}, now)


def final_objects_pending(connection: sa.Connection, task_ids: Sequence[str]) -> set[str]:
    """Those of `task_ids` whose triggers and events are still to be created on the target."""
    if not task_ids:
        return set()
    rows = connection.execute(
        sa.select(task_checkpoints.c.task_id, task_checkpoints.c.state).where(task_checkpoints.c.task_id.in_(task_ids))
    )
    return {str(task_id) for task_id, state in rows if (state or {}).get(FINAL_OBJECTS)}


def save_state(connection: sa.Connection, task_id: str, state: dict[str, Any], now: int) -> None:
    updated = connection.execute(
        task_checkpoints.update().where(task_checkpoints.c.task_id == task_id).values(state=state, updated_at=now)
    )
    if updated.rowcount == 0:
        connection.execute(task_checkpoints.insert().values(task_id=task_id, state=state, updated_at=now))


def tables(connection: sa.Connection, task_id: str) -> list[TableProgress]:
    return tables_of(connection, [task_id]).get(task_id, [])


def tables_of(connection: sa.Connection, task_ids: Sequence[str]) -> dict[str, list[TableProgress]]:
    """The tables of each task (in copy order), for the tasks that have started copying."""
    if not task_ids:
        return {}
    rows = connection.execute(
        sa.select(task_tables)
        .where(task_tables.c.task_id.in_(set(task_ids)))
        .order_by(task_tables.c.task_id, task_tables.c.position)
    )
    found: dict[str, list[TableProgress]] = {}
    for row in rows:
        found.setdefault(row.task_id, []).append(
            TableProgress(
                row.position,
                row.source_schema,
                row.source_name,
                row.target_schema,
                row.target_name,
                row.rows_estimate,
                row.rows_copied,
                bool(row.structure_done),
                bool(row.data_done),
                bool(row.index_done),
            )
        )
    return found


def add_tables(connection: sa.Connection, task_id: str, new: Sequence[TableProgress]) -> None:
    rows = [{**dataclasses.asdict(table), "task_id": task_id} for table in new]
    if rows:
        connection.execute(task_tables.insert(), rows)


def mark_table(connection: sa.Connection, task_id: str, position: int, **flags: bool) -> None:
    connection.execute(
        task_tables.update()
        .where(task_tables.c.task_id == task_id, task_tables.c.position == position)
        .values(**{name: int(value) for name, value in flags.items()})
    )


def restart_table(connection: sa.Connection, task_id: str, position: int, chunk_ids: Sequence[str]) -> None:
    """The table is to be created and copied again from the start: nothing of it counts as done."""
    connection.execute(
        task_tables.update()
        .where(task_tables.c.task_id == task_id, task_tables.c.position == position)
        .values(structure_done=0, data_done=0, index_done=0, rows_copied=0)
    )
    if chunk_ids:
        connection.execute(
            task_chunks.delete().where(task_chunks.c.task_id == task_id, task_chunks.c.chunk_id.in_(chunk_ids))
        )


def done_chunks(connection: sa.Connection, task_id: str) -> set[str]:
    return set(connection.scalars(sa.select(task_chunks.c.chunk_id).where(task_chunks.c.task_id == task_id)))


def record_chunk(connection: sa.Connection, task_id: str, position: int, chunk_id: str, rows: int, now: int) -> None:
    """A chunk is copied: remember it (a restart skips it) and count its rows for the table."""
    connection.execute(task_chunks.insert().values(task_id=task_id, chunk_id=chunk_id, rows=rows, done_at=now))
    connection.execute(
        task_tables.update()
        .where(task_tables.c.task_id == task_id, task_tables.c.position == position)
        .values(rows_copied=task_tables.c.rows_copied + rows)
    )

"""Task queries. Every status change is a guarded UPDATE driven by domain.states.TRANSITIONS."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from opendrs.domain import states
from opendrs.domain.states import TaskStatus
from opendrs.domain.tasks import ListFilter, Progress, ProgressView, StatusView, Task
from opendrs.store.schema import task_progress, tasks

# What a Task record holds: not the name key, the secrets, nor the lease (the engine's business).
_TASK_COLUMNS = [
    column
    for column in tasks.c
    if column.name not in ("name_key", "secrets", "lease_owner", "lease_expires_at", "lease_version")
]


@dataclasses.dataclass(frozen=True)
class NewTask:
    task: Task
    secrets: dict[str, str]  # secret path (domain.secrets) -> encrypted value


def insert(connection: sa.Connection, new_tasks: Sequence[NewTask]) -> None:
    rows = []
    for new in new_tasks:
        row = dataclasses.asdict(new.task)
        row["status"] = new.task.status.value
        row["name_key"] = new.task.name.lower()
        row["secrets"] = new.secrets
        rows.append(row)
    if rows:
        connection.execute(tasks.insert(), rows)


def taken_names(connection: sa.Connection, project_id: str, names: Iterable[str]) -> set[str]:
    """The lower-cased names, among `names`, that a task not deleted already has in the project."""
    keys = {name.lower() for name in names}
    if not keys:
        return set()
    query = sa.select(tasks.c.name_key).where(
        tasks.c.project_id == project_id,
        tasks.c.name_key.in_(keys),
        tasks.c.status != TaskStatus.DELETED.value,
    )
    return set(connection.scalars(query))


def get_many(connection: sa.Connection, project_id: str, ids: Sequence[str]) -> dict[str, Task]:
    """The project's tasks among `ids`, deleted ones included, keyed by id."""
    if not ids:
        return {}
    query = sa.select(*_TASK_COLUMNS).where(tasks.c.id.in_(set(ids)))
    # By primary key only, the project checked per row: with both in the WHERE, SQLite may scan the project.
    return {row.id: _task(row) for row in connection.execute(query) if row.project_id == project_id}


def statuses(connection: sa.Connection, project_id: str, ids: Sequence[str]) -> dict[str, StatusView]:
    rows = _rows_by_id(connection, "SELECT id, project_id, status, error_code, error_msg FROM tasks", ids)
    return {
        task_id: StatusView(task_id, _STATUSES[status], error_code, error_msg)
        for task_id, project, status, error_code, error_msg in rows
        if project == project_id
    }


_MEASURED = [field.name for field in dataclasses.fields(Progress)]  # selected in this order: Progress(*values)
_PROGRESS_VIEW = (
    "SELECT t.id, t.project_id, t.status, t.task_type, t.error_code, t.error_msg, p.updated_at, "
    + ", ".join(f"p.{name}" for name in _MEASURED)
    + " FROM tasks t LEFT OUTER JOIN task_progress p ON p.task_id = t.id"
)


def progress_views(connection: sa.Connection, project_id: str, ids: Sequence[str]) -> dict[str, ProgressView]:
    views = {}
    for task_id, project, status, task_type, error_code, error_msg, updated_at, *measured in _rows_by_id(
        connection, _PROGRESS_VIEW, ids, id_column="t.id"
    ):
        if project != project_id:
            continue
        progress = None if updated_at is None else Progress(*measured)
        views[task_id] = ProgressView(task_id, _STATUSES[status], task_type, error_code, error_msg, progress)
    return views


# batch-status and batch-progress read 100 tasks a call, many calls a second. A constant statement whose one
# parameter carries every id (SQLite's json_each, PostgreSQL's ANY) skips SQLAlchemy's compilation of an
# expanded IN list and its row objects: a third of the CPU time. By primary key only, the project checked
# per row: with both in the WHERE, SQLite may scan the project.
_STATUSES = {status.value: status for status in TaskStatus}


def _rows_by_id(
    connection: sa.Connection, select: str, ids: Sequence[str], id_column: str = "id"
) -> Sequence[Any]:  # rows, unpacked like tuples
    if not ids:
        return []
    unique = list(dict.fromkeys(ids))
    if connection.dialect.name == "postgresql":
        return connection.exec_driver_sql(f"{select} WHERE {id_column} = ANY(%s)", (unique,)).all()
    in_json = f"{select} WHERE {id_column} IN (SELECT value FROM json_each(?))"
    return connection.exec_driver_sql(in_json, (orjson.dumps(unique).decode(),)).all()


def save_progress(connection: sa.Connection, task_id: str, progress: Progress, now: int) -> None:
    values = dataclasses.asdict(progress) | {"updated_at": now}
    updated = connection.execute(task_progress.update().where(task_progress.c.task_id == task_id).values(**values))
    if updated.rowcount == 0:
        connection.execute(task_progress.insert().values(task_id=task_id, **values))


def list_page(connection: sa.Connection, where: ListFilter, offset: int, limit: int | None) -> tuple[int, list[Task]]:
    """(total matching, one page of tasks newest first); limit None = all."""
    query = sa.select(*_TASK_COLUMNS).where(*_column_conditions(where)).order_by(tasks.c.create_time.desc(), tasks.c.id)
    if where.tags or where.instance_ids or where.instance_ip:
        # These match inside JSON documents, which SQLite and PostgreSQL query differently; they are
        # rare, so filter in Python and page the result.
        matching = [task for task in map(_task, connection.execute(query)) if _matches_documents(task, where)]
        end = None if limit is None else offset + limit
        return len(matching), matching[offset:end]
    total = connection.scalar(sa.select(sa.func.count()).select_from(tasks).where(*_column_conditions(where)))
    return total or 0, [_task(row) for row in connection.execute(query.offset(offset).limit(limit))]


def _column_conditions(where: ListFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [
        tasks.c.project_id == where.project_id,
        tasks.c.status != TaskStatus.DELETED.value,
        tasks.c.db_use_type == where.db_use_type,
    ]
    if where.engine_type:
        conditions.append(tasks.c.engine_type == where.engine_type)
    if where.net_type:
        conditions.append(tasks.c.net_type == where.net_type)
    if where.status:
        conditions.append(tasks.c.status == where.status)
    if where.names_or_ids:
        conditions.append(
            sa.or_(
                tasks.c.id.in_(where.names_or_ids),
                tasks.c.name_key.in_([name.lower() for name in where.names_or_ids]),
            )
        )
    return conditions


def _matches_documents(task: Task, where: ListFilter) -> bool:
    tags = {(tag.get("key"), tag.get("value")) for tag in task.options.get("tags") or []}
    if any(tag not in tags for tag in where.tags):
        return False
    endpoints = (task.source_endpoint, task.target_endpoint)
    if where.instance_ids and not any(e.get("inst_id") in where.instance_ids for e in endpoints):
        return False
    return not where.instance_ip or any(e.get("ip") == where.instance_ip for e in endpoints)


def transition(
    connection: sa.Connection,
    project_id: str | None,
    task_id: str,
    event: states.Event,
    now: int,
    **values: Any,
) -> TaskStatus | None:
    """Apply `event` to the task if its current status allows it; the new status, or None if not.

    The UPDATE is guarded by the status the decision was made on: a concurrent change makes it
    match no row rather than being overwritten.
    """
    conditions = [tasks.c.id == task_id]
    if project_id is not None:
        conditions.append(tasks.c.project_id == project_id)
    row = connection.execute(sa.select(tasks.c.status, tasks.c.paused_from).where(*conditions)).first()
    if row is None:
        return None
    current = row.status
    paused_from = TaskStatus(row.paused_from) if row.paused_from else None
    target = states.target_of(event, TaskStatus(current), paused_from)
    if target is None:
        return None
    updated = connection.execute(
        tasks.update()
        .where(*conditions, tasks.c.status == current)
        .values(status=target.value, update_time=now, **values)
    )
    return target if updated.rowcount == 1 else None


def ids_in_status(connection: sa.Connection, status: TaskStatus, limit: int) -> list[str]:
    query = sa.select(tasks.c.id).where(tasks.c.status == status.value).order_by(tasks.c.create_time).limit(limit)
    return list(connection.scalars(query))


def _task(row: sa.Row[Any]) -> Task:
    values = row._asdict()
    values["status"] = TaskStatus(values["status"])
    if values["paused_from"] is not None:
        values["paused_from"] = TaskStatus(values["paused_from"])
    return Task(**values)


def update_configuration(connection: sa.Connection, project_id: str, task_id: str, now: int, **values: Any) -> bool:
    """Change a task's configuration; only while it is CONFIGURATION. False if it is not (any more)."""
    if "name" in values:
        values["name_key"] = values["name"].lower()
    updated = connection.execute(
        tasks.update()
        .where(
            tasks.c.id == task_id,
            tasks.c.project_id == project_id,
            tasks.c.status == TaskStatus.CONFIGURATION.value,
        )
        .values(update_time=now, **values)
    )
    return updated.rowcount == 1


def secrets_of(connection: sa.Connection, task_id: str) -> dict[str, str]:
    """The task's encrypted secrets by path (domain.secrets)."""
    found: dict[str, str] | None = connection.scalar(sa.select(tasks.c.secrets).where(tasks.c.id == task_id))
    return dict(found or {})


def next_schedule(connection: sa.Connection) -> int | None:
    """The earliest start_time of the tasks waiting for theirs (WAITING_FOR_START); None when none waits."""
    query = sa.select(sa.func.min(tasks.c.scheduled_start)).where(tasks.c.status == TaskStatus.WAITING_FOR_START.value)
    found = connection.scalar(query)
    return None if found is None else int(found)


def due_schedules(connection: sa.Connection, now: int, limit: int) -> list[str]:
    query = (
        sa.select(tasks.c.id)
        .where(tasks.c.status == TaskStatus.WAITING_FOR_START.value, tasks.c.scheduled_start <= now)
        .limit(limit)
    )
    return list(connection.scalars(query))


def set_options(connection: sa.Connection, task_id: str, options: dict[str, Any], now: int) -> None:
    connection.execute(tasks.update().where(tasks.c.id == task_id).values(options=options, update_time=now))


def get_many_by_id(connection: sa.Connection, ids: Sequence[str]) -> dict[str, Task]:
    """Tasks by id, whatever their project: for the engine, which acts on every project's tasks."""
    if not ids:
        return {}
    query = sa.select(*_TASK_COLUMNS).where(tasks.c.id.in_(set(ids)))
    return {row.id: _task(row) for row in connection.execute(query)}

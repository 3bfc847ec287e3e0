"""Comparing a task's source and target (spec/API.md 3.15, 3.16): record compare tasks, read their reports.

Workers run the comparisons (engine.compare); this only records what was asked and shows what was found.
A comparison needs data on the target: it can be created while the task is FULL_TRANSFER_COMPLETE,
INCRE_TRANSFER_STARTED, INCRE_TRANSFER_FAILED or PAUSING, and only for MySQL tasks (the one engine we compare).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from opendrs.domain import errors, ids
from opendrs.domain.compare import COMPARABLE_STATUSES, CompareKind, CompareScope, CompareStatus, CompareTask
from opendrs.domain.errors import NotFoundError, OpendrsError, Text
from opendrs.domain.states import TaskStatus
from opendrs.domain.tasks import Task
from opendrs.domain.times import now_ms
from opendrs.store import compare as compare_store
from opendrs.store import database
from opendrs.store import tasks as task_store

_NOT_COMPARABLE = Text(
    "{status}; a comparison needs the copied data: the task must be FULL_TRANSFER_COMPLETE, INCRE_TRANSFER_STARTED,"
    " INCRE_TRANSFER_FAILED or PAUSING",
    "{status}；对比需要已迁移的数据：任务状态须为FULL_TRANSFER_COMPLETE、INCRE_TRANSFER_STARTED、INCRE_TRANSFER_FAILED或PAUSING",
)
_MYSQL_ONLY = Text("only MySQL tasks can be compared", "仅支持对比MySQL任务")
_NO_SUCH_COMPARISON = Text("no {kind} comparison {id} exists for this job", "该任务不存在{kind}对比{id}")


@dataclasses.dataclass(frozen=True)
class DataLevelRequest:
    conflict_policy: str  # cancel | keep
    kind: CompareKind  # LINES or CONTENTS
    scope: tuple[CompareScope, ...]  # () = the task's whole selection (quick_comparison)
    start_at: int | None  # epoch ms; None = now


@dataclasses.dataclass(frozen=True)
class Created:
    """The compare task ids a create request produced (or kept); None where that level was not asked for."""

    object_level: str | None
    data_level: str | None


@dataclasses.dataclass(frozen=True)
class Found:
    """The compare tasks a query asked for, and the job's whole list, newest first."""

    object_level: CompareTask | None
    lines: CompareTask | None
    contents: CompareTask | None
    all: Sequence[CompareTask]


class CompareService:
    def __init__(self, engine: sa.Engine, ring: Callable[[], None] = lambda: None) -> None:
        self._engine = engine
        self._ring = ring  # tells the worker of this host there is a comparison to run

    def create(self, project_id: str, job_id: str, objects: bool, data: DataLevelRequest | None) -> Created:
        """Record the requested comparisons; with neither level asked for, nothing (the caller lists them)."""
        now = now_ms()
        with database.writing(self._engine) as connection:
            task = _task(connection, project_id, job_id)
            if not objects and data is None:
                return Created(None, None)
            if task.status not in COMPARABLE_STATUSES:
                raise OpendrsError(errors.ILLEGAL_STATUS, status=_NOT_COMPARABLE(status=task.status.value))
            if task.source_endpoint.get("db_type", "mysql") != "mysql":
                raise OpendrsError(errors.SCHEMA_INVALID, hint=_MYSQL_ONLY)
            object_id = self._insert(connection, task, CompareKind.OBJECTS, (), now, now) if objects else None
            data_id = None
            if data is not None:
                unfinished = compare_store.unfinished_data_level(connection, task.id)
                if unfinished and data.conflict_policy == "keep":
                    data_id = unfinished[0].id
                else:
                    compare_store.cancel(connection, [compare.id for compare in unfinished], now)
                    start_at = data.start_at if data.start_at is not None else now
                    data_id = self._insert(connection, task, data.kind, data.scope, start_at, now)
        self._ring()
        return Created(object_id, data_id)

    @staticmethod
    def _insert(
        connection: sa.Connection,
        task: Task,
        kind: CompareKind,
        scope: tuple[CompareScope, ...],
        start_at: int,
        now: int,
    ) -> str:
        compare = CompareTask(
            ids.new_uuid(), task.id, task.project_id, kind, CompareStatus.WAITING_FOR_RUNNING, scope, start_at, now
        )
        compare_store.insert(connection, compare)
        return compare.id

    def find(
        self,
        project_id: str,
        job_id: str,
        object_level_id: str | None,
        line_id: str | None,
        content_id: str | None,
    ) -> Found:
        with database.reading(self._engine) as connection:
            task = _task(connection, project_id, job_id)
            wanted = (
                ("object_level_compare_id", object_level_id, {CompareKind.OBJECTS}),
                # A content comparison counts rows too: its counts answer for a line comparison.
                ("line_compare_id", line_id, {CompareKind.LINES, CompareKind.CONTENTS}),
                ("content_compare_id", content_id, {CompareKind.CONTENTS}),
            )
            found = [_compare(connection, task, field, compare_id, kinds) for field, compare_id, kinds in wanted]
            every = compare_store.list_for_task(connection, task.id)
        return Found(found[0], found[1], found[2], every)


def _task(connection: sa.Connection, project_id: str, job_id: str) -> Task:
    task = task_store.get_many(connection, project_id, [job_id]).get(job_id)
    if task is None:
        raise NotFoundError(errors.TASK_NOT_FOUND, id=job_id)
    if task.status is TaskStatus.DELETED:
        raise NotFoundError(errors.TASK_DELETED, id=job_id)
    return task


def _compare(
    connection: sa.Connection, task: Task, field: str, compare_id: str | None, kinds: set[CompareKind]
) -> CompareTask | None:
    if not compare_id:
        return None
    found = compare_store.get(connection, compare_id)
    if found is None or found.task_id != task.id or found.kind not in kinds:
        kind = "/".join(sorted(kind.value for kind in kinds))
        raise OpendrsError(errors.PARAMETER_INVALID, field=field, hint=_NO_SUCH_COMPARISON(kind=kind, id=compare_id))
    return found

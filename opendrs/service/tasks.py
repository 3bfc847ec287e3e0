"""Task use cases: batch creation, status, detail, progress, list, stop and delete.

The service records what the user asked for; workers act on it (provisioning, releasing). Results of
batch mutations are per job: one job's failure never fails the request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from opendrs.domain import catalog, errors, ids, secrets
from opendrs.domain.errors import OpendrsError, Text
from opendrs.domain.operations import PlannedSubJob
from opendrs.domain.states import Event, TaskStatus
from opendrs.domain.tasks import JsonObject, ListFilter, ProgressView, StatusView, TableProgress, Task
from opendrs.domain.times import now_ms
from opendrs.keys import Keys
from opendrs.store import checkpoints, database
from opendrs.store import operations as operation_store
from opendrs.store import tasks as task_store

# Columns of a task record; everything else a creation request carries is kept in `options`.
_RECORD_FIELDS = (
    "name",
    "db_use_type",
    "engine_type",
    "job_direction",
    "net_type",
    "node_type",
    "task_type",
    "description",
    "source_endpoint",
    "target_endpoint",
)
_ENDPOINTS = ("source_endpoint", "target_endpoint")

_ENGINE_UNSUPPORTED = Text(
    "engine_type {engine} is not supported by opendrs; supported: {supported}",
    "opendrs不支持engine_type {engine}；支持：{supported}",
)
_ENDPOINT_MISMATCH = Text(
    "{role}.db_type must be {expected} for engine_type {engine}",
    "engine_type为{engine}时{role}.db_type必须为{expected}",
)
_STOP_FIRST = Text("stop it first (delete_type terminate)", "请先结束任务（delete_type为terminate）")
_CANNOT_STOP = Text("a task in this status cannot be stopped", "该状态的任务不能结束")
_NO_ROLLBACK = Text(
    "roll_back_upgrade_active_standby applies to upgraded primary/standby tasks, which opendrs has not",
    "roll_back_upgrade_active_standby仅适用于升级后的主备任务，opendrs没有此类任务",
)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The result of a batch mutation for one job: success, or the error that refused it."""

    id: str | None
    error: OpendrsError | None = None
    task: Task | None = None
    name: str | None = None
    precheck_id: str | None = None


@dataclasses.dataclass(frozen=True)
class Deletion:
    job_id: str
    delete_type: str


class TaskService:
    def __init__(self, engine: sa.Engine, keys: Keys, ring: Callable[[], None] = lambda: None) -> None:
        self._engine = engine
        self._keys = keys
        self._ring = ring  # tells the worker of this host there is work: tasks to provision or to release

    # Creation ----------------------------------------------------------------------------------

    def create(self, project_id: str, specs: Sequence[JsonObject]) -> tuple[list[Outcome], str]:
        """Create one task per spec (status CREATING); returns the outcomes and the operation id."""
        _refuse_duplicates("name", [spec["name"].lower() for spec in specs])
        with database.writing(self._engine) as connection:
            created = self.create_in(connection, project_id, specs, "batchCreateJobs")
        self._ring()
        return created

    def create_in(
        self,
        connection: sa.Connection,
        project_id: str,
        specs: Sequence[JsonObject],
        operation_type: str,
        reserved_ids: Sequence[str] | None = None,
        encrypted: Sequence[dict[str, str]] | None = None,
        async_job_id: str | None = None,
    ) -> tuple[list[Outcome], str]:
        """Create tasks inside the caller's transaction (v5 commit creates them alongside its own update)."""
        now = now_ms()
        taken = task_store.taken_names(connection, project_id, [spec["name"] for spec in specs])
        outcomes: list[Outcome] = []
        new_tasks: list[task_store.NewTask] = []
        for position, spec in enumerate(specs):
            problem = _creation_problem(spec, taken)
            if problem is not None:
                outcomes.append(Outcome(None, problem, name=spec["name"]))
                continue
            task_id = reserved_ids[position] if reserved_ids else ids.new_job_id()
            task, task_secrets = self._build_task(project_id, task_id, spec, now, async_job_id)
            if encrypted is not None:
                task_secrets = encrypted[position]
            new_tasks.append(task_store.NewTask(task, task_secrets))
            outcomes.append(Outcome(task_id, task=task, name=task.name))
        task_store.insert(connection, new_tasks)
        planned = [_creation_sub_job(outcome) for outcome in outcomes]
        operation_id = operation_store.create(connection, project_id, operation_type, planned, now)
        return outcomes, operation_id

    def _build_task(
        self, project_id: str, task_id: str, spec: JsonObject, now: int, async_job_id: str | None
    ) -> tuple[Task, dict[str, str]]:
        clean, found = secrets.split(spec)
        record = {field: clean.get(field) for field in _RECORD_FIELDS}
        options = {key: value for key, value in clean.items() if key not in _RECORD_FIELDS}
        task = Task(
            id=task_id,
            project_id=project_id,
            status=TaskStatus.CREATING,
            options=options,
            async_job_id=async_job_id,
            error_code=None,
            error_msg=None,
            create_time=now,
            update_time=now,
            actual_start_time=None,
            full_transfer_complete_time=None,
            **record | {"description": record["description"] or ""},
        )
        return task, {path: self._keys.encrypt(value) for path, value in found.items()}

    # Reading -----------------------------------------------------------------------------------

    def statuses(self, project_id: str, job_ids: Sequence[str]) -> dict[str, StatusView]:
        with database.reading(self._engine) as connection:
            return task_store.statuses(connection, project_id, job_ids)

    def details(self, project_id: str, job_ids: Sequence[str]) -> dict[str, Task]:
        with database.reading(self._engine) as connection:
            return task_store.get_many(connection, project_id, job_ids)

    def table_progress(self, task_ids: Sequence[str]) -> dict[str, list[TableProgress]]:
        """Per-table copy counts of tasks already found for the caller's project."""
        with database.reading(self._engine) as connection:
            return checkpoints.tables_of(connection, task_ids)

    def progress(self, project_id: str, job_ids: Sequence[str]) -> dict[str, ProgressView]:
        with database.reading(self._engine) as connection:
            return task_store.progress_views(connection, project_id, job_ids)

    def search(self, where: ListFilter, cur_page: int, per_page: int) -> tuple[int, list[Task]]:
        """One page of the project's tasks, newest first; per_page 0 or cur_page 0: all of them."""
        everything = per_page == 0 or cur_page == 0
        offset = 0 if everything else (cur_page - 1) * per_page
        with database.reading(self._engine) as connection:
            return task_store.list_page(connection, where, offset, None if everything else per_page)

    # Stop and delete ---------------------------------------------------------------------------

    def delete(self, project_id: str, deletions: Sequence[Deletion]) -> tuple[list[Outcome], str]:
        _refuse_duplicates("job_id", [deletion.job_id for deletion in deletions])
        now = now_ms()
        with database.writing(self._engine) as connection:
            outcomes = [self._delete_one(connection, project_id, deletion, now) for deletion in deletions]
            planned = [
                _deletion_sub_job(deletion, outcome) for deletion, outcome in zip(deletions, outcomes, strict=True)
            ]
            operation_id = operation_store.create(connection, project_id, "batchDeleteJobs", planned, now)
        self._ring()
        return outcomes, operation_id

    def _delete_one(self, connection: sa.Connection, project_id: str, deletion: Deletion, now: int) -> Outcome:
        task = task_store.get_many(connection, project_id, [deletion.job_id]).get(deletion.job_id)
        if task is None:
            return Outcome(deletion.job_id, OpendrsError(errors.TASK_NOT_FOUND, id=deletion.job_id))
        if task.status is TaskStatus.DELETED:
            return Outcome(deletion.job_id, OpendrsError(errors.TASK_DELETED, id=deletion.job_id))
        if deletion.delete_type == "roll_back_upgrade_active_standby":
            return Outcome(deletion.job_id, OpendrsError(errors.ILLEGAL_STATUS, status=_NO_ROLLBACK))
        event = Event.DELETE if deletion.delete_type == "delete" else Event(deletion.delete_type)
        if task_store.transition(connection, project_id, task.id, event, now) is None:
            hint = _STOP_FIRST if event is Event.DELETE else _CANNOT_STOP
            return Outcome(task.id, OpendrsError(errors.TASK_BUSY, status=task.status.value, hint=hint))
        if event is Event.FORCE_TERMINATE:
            checkpoints.set_final_objects_pending(connection, task.id, False, now)
        elif event is Event.TERMINATE and task.status is not TaskStatus.RELEASE_RESOURCE_FAILED:
            # (terminate again after a failed stop keeps what that stop still had to do)
            checkpoints.set_final_objects_pending(connection, task.id, task.ends_with_final_objects, now)
        if task.status is TaskStatus.CREATING:
            # Stopped before it was ready: its creation will never complete.
            stopped = OpendrsError(errors.TASK_DELETED, id=task.id)
            operation_store.fail_pending(connection, task.id, "createJob", stopped.error.code, str(stopped), now)
        return Outcome(task.id)


def _refuse_duplicates(field: str, values: Sequence[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise OpendrsError(errors.DUPLICATES, field=field, value=value)
        seen.add(value)


def _creation_problem(spec: JsonObject, taken: set[str]) -> OpendrsError | None:
    if spec["name"].lower() in taken:
        return OpendrsError(errors.NAME_EXISTS, name=spec["name"])
    engine = spec["engine_type"]
    expected = catalog.V3_ENGINES.get(engine)
    if expected is None:
        supported = ", ".join(catalog.V3_ENGINES)
        return OpendrsError(errors.SCHEMA_INVALID, hint=_ENGINE_UNSUPPORTED(engine=engine, supported=supported))
    for role in _ENDPOINTS:
        db_type = (spec.get(role) or {}).get("db_type")
        if db_type != expected:
            hint = _ENDPOINT_MISMATCH(role=role, expected=expected, engine=engine)
            return OpendrsError(errors.SCHEMA_INVALID, hint=hint)
    return None


def _creation_sub_job(outcome: Outcome) -> PlannedSubJob:
    if outcome.error is not None:
        return PlannedSubJob("createJob", None, error_code=outcome.error.error.code, fail_reason=str(outcome.error))
    return PlannedSubJob("createJob", outcome.id, TaskStatus.CONFIGURATION, TaskStatus.CREATE_FAILED)


def _deletion_sub_job(deletion: Deletion, outcome: Outcome) -> PlannedSubJob:
    job_type = "deleteJob" if deletion.delete_type == "delete" else "terminateJob"
    if outcome.error is not None:
        return PlannedSubJob(job_type, outcome.id, error_code=outcome.error.error.code, fail_reason=str(outcome.error))
    if deletion.delete_type == "delete":
        return PlannedSubJob(job_type, outcome.id)
    return PlannedSubJob(job_type, outcome.id, TaskStatus.RELEASE_RESOURCE_COMPLETE, TaskStatus.RELEASE_RESOURCE_FAILED)

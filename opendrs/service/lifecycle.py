"""Configuring and driving a task (spec/API.md 3.2-3.8, 3.11, 3.12): connections, modification, objects,
speed limits, prechecks, start, pause, retry. Each batch answers per job; workers do the running."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from opendrs.connectors import registry
from opendrs.domain import errors, ids, secrets
from opendrs.domain.errors import OpendrsError, Text
from opendrs.domain.prechecks import Precheck
from opendrs.domain.replication import endpoint_from
from opendrs.domain.states import Event, TaskStatus
from opendrs.domain.tasks import JsonObject, Task
from opendrs.domain.times import now_ms
from opendrs.keys import Keys
from opendrs.service.tasks import Outcome
from opendrs.store import database
from opendrs.store import prechecks as precheck_store
from opendrs.store import tasks as task_store

_ONLY_CONFIGURATION = Text(
    "the task can be configured only in status CONFIGURATION", "任务只能在CONFIGURATION状态下配置"
)
_NOT_STARTABLE = Text("only a task in CONFIGURATION can be started", "只有CONFIGURATION状态的任务可以启动")
_PRECHECK_FIRST = Text(
    "the precheck has not passed: run batch-precheck and wait for result true",
    "预检查未通过：请调用batch-precheck并等待结果为true",
)
_NOT_PAUSABLE = Text("only a task in full or incremental transfer can be paused", "只有全量或增量迁移中的任务可以暂停")
_NOT_RETRYABLE = Text("only a paused or failed task can be resumed", "只有已暂停或失败的任务可以重试")
_INCREMENTAL_ONLY = Text("task_type INCR_TRANS has no full transfer to limit", "INCR_TRANS任务没有全量迁移可限速")
_UNSUPPORTED_DB = Text(
    "db_type {db_type} is not supported by opendrs; supported: {supported}",
    "opendrs不支持db_type {db_type}；支持：{supported}",
)
_NO_PRECHECK = Text("no precheck has run for this task: call batch-precheck", "该任务尚未预检查：请调用batch-precheck")

# Fields batch-modification may change; endpoints are merged, the rest replaced.
_MODIFIABLE = (
    "name",
    "description",
    "node_type",
    "engine_type",
    "net_type",
    "job_direction",
    "db_use_type",
    "task_type",
)
_ENDPOINTS = ("source_endpoint", "target_endpoint")
# A modification of anything else (endpoints, passwords, task type, objects...) discards the task's precheck: its
# result no longer describes what would start, and batch-starting asks for a new one.
_PRECHECK_NEUTRAL = ("name", "description")


@dataclasses.dataclass(frozen=True)
class ConnectionTest:
    job_id: str
    role: str  # "so" (source) | "ta" (target)
    endpoint: JsonObject  # db_type, ip, db_port, db_user, db_password, db_name, ssl_link


@dataclasses.dataclass(frozen=True)
class JobRequest:
    """A per-job request of a batch lifecycle call: the job and its parameters."""

    job_id: str
    params: JsonObject = dataclasses.field(default_factory=dict)


class LifecycleService:
    def __init__(self, engine: sa.Engine, keys: Keys, ring: Callable[[], None] = lambda: None) -> None:
        self._engine = engine
        self._keys = keys
        self._ring = ring  # tells the worker of this host there is work: a start, a precheck, a pause...

    # Connections -------------------------------------------------------------------------------

    def test_connections(self, project_id: str, tests: Sequence[ConnectionTest]) -> list[Outcome]:
        """Connect to each endpoint for real, in parallel: reachability, credentials, version."""
        with database.reading(self._engine) as connection:
            tasks = task_store.get_many(connection, project_id, [test.job_id for test in tests])
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(tests)))) as pool:
            return list(pool.map(lambda test: self._test_one(tasks.get(test.job_id), test), tests))

    def _test_one(self, task: Task | None, test: ConnectionTest) -> Outcome:
        refused = _refusal(task, test.job_id, {TaskStatus.CONFIGURATION}, _ONLY_CONFIGURATION)
        if refused is not None:
            return refused
        db_type = str(test.endpoint.get("db_type"))
        checks = registry.checks_for(db_type)
        if checks is None:
            hint = _UNSUPPORTED_DB(db_type=db_type, supported=", ".join(registry.supported_db_types()))
            return Outcome(test.job_id, OpendrsError(errors.SCHEMA_INVALID, hint=hint))
        endpoint = endpoint_from(test.endpoint, str(test.endpoint.get("db_password") or ""))
        if endpoint is None:
            return Outcome(test.job_id, OpendrsError(errors.PARAMETER_EMPTY, field="ip"))
        result = checks.check_connection(endpoint)
        if result.ok:
            return Outcome(test.job_id)
        if result.auth_failed:
            return Outcome(test.job_id, OpendrsError(errors.BAD_CREDENTIALS))
        return Outcome(test.job_id, OpendrsError(errors.CONNECTION_FAILED, reason=result.reason))

    # Configuration -----------------------------------------------------------------------------

    def modify(self, project_id: str, requests: Sequence[JobRequest]) -> list[Outcome]:
        return self._each(project_id, requests, self._modify_one)

    def _modify_one(self, connection: sa.Connection, task: Task, request: JobRequest, now: int) -> Outcome:
        params = request.params
        values: dict[str, Any] = {key: params[key] for key in _MODIFIABLE if params.get(key) is not None}
        new_name = str(values.get("name", task.name))
        renamed = new_name.lower() != task.name.lower()
        if renamed and task_store.taken_names(connection, task.project_id, [new_name]):
            return Outcome(task.id, OpendrsError(errors.NAME_EXISTS, name=new_name))
        stored_secrets = task_store.secrets_of(connection, task.id)
        for role in _ENDPOINTS:
            if params.get(role) is None:
                continue
            clean, found = secrets.split(params[role])
            values[role] = {**getattr(task, role), **clean}
            stored_secrets |= {f"{role}.{path}": self._keys.encrypt(value) for path, value in found.items()}
        extra = {key: value for key, value in params.items() if key not in (*_MODIFIABLE, *_ENDPOINTS, "job_id")}
        values["options"] = {**task.options, **secrets.split(extra)[0]}
        values["secrets"] = stored_secrets
        if not task_store.update_configuration(connection, task.project_id, task.id, now, **values):
            return _busy(task, _ONLY_CONFIGURATION)
        if set(params) - {"job_id", *_PRECHECK_NEUTRAL}:
            precheck_store.discard(connection, task.id)
        return Outcome(task.id)

    def select_objects(self, project_id: str, requests: Sequence[JobRequest]) -> list[Outcome]:
        """params: {"objects": {"databases", "tables", "renames"} or None for the whole instance}."""
        return self._each(project_id, requests, self._select_one)

    def _select_one(self, connection: sa.Connection, task: Task, request: JobRequest, now: int) -> Outcome:
        objects = request.params.get("objects")
        if not task_store.update_configuration(connection, task.project_id, task.id, now, objects=objects):
            return _busy(task, _ONLY_CONFIGURATION)
        precheck_store.discard(connection, task.id)
        return Outcome(task.id)

    def limit_speed(self, project_id: str, requests: Sequence[JobRequest]) -> list[Outcome]:
        """params: {"speed_limit": [windows]}, already validated; [] removes every limit."""
        return self._each(project_id, requests, self._limit_one)

    def _limit_one(self, connection: sa.Connection, task: Task, request: JobRequest, now: int) -> Outcome:
        if task.task_type == "INCR_TRANS":
            return Outcome(task.id, OpendrsError(errors.NO_FLOW_CONTROL, hint=_INCREMENTAL_ONLY))
        options = {**task.options, "speed_limit": request.params["speed_limit"]}
        task_store.set_options(connection, task.id, options, now)
        return Outcome(task.id)

    # Prechecks ---------------------------------------------------------------------------------

    def precheck(self, project_id: str, requests: Sequence[JobRequest]) -> list[Outcome]:
        """Record a precheck run per task; a worker runs it. The outcome carries its precheck_id."""
        return self._each(project_id, requests, self._precheck_one)

    def _precheck_one(self, connection: sa.Connection, task: Task, request: JobRequest, now: int) -> Outcome:
        mode = request.params.get("precheck_mode", "forStartJob")
        allowed = {TaskStatus.CONFIGURATION} if mode == "forStartJob" else _RETRYABLE
        refused = _refusal(task, task.id, allowed, _ONLY_CONFIGURATION if mode == "forStartJob" else _NOT_RETRYABLE)
        if refused is not None:
            return refused
        precheck = Precheck(ids.new_uuid(), task.id, mode, "pending", [], now)
        precheck_store.insert(connection, precheck)
        return Outcome(task.id, precheck_id=precheck.id)

    def precheck_results(self, project_id: str, job_ids: Sequence[str]) -> dict[str, Precheck | OpendrsError]:
        with database.reading(self._engine) as connection:
            tasks = task_store.get_many(connection, project_id, job_ids)
            latest = precheck_store.latest(connection, list(tasks))
        results: dict[str, Precheck | OpendrsError] = {}
        for job_id in job_ids:
            if job_id not in tasks:
                results[job_id] = OpendrsError(errors.TASK_NOT_FOUND, id=job_id)
            elif job_id not in latest:
                results[job_id] = OpendrsError(errors.ILLEGAL_STATUS, status=_NO_PRECHECK)
            else:
                results[job_id] = latest[job_id]
        return results

    # Running -----------------------------------------------------------------------------------

    def start(self, project_id: str, requests: Sequence[JobRequest]) -> list[Outcome]:
        """params: {"start_time": epoch ms or None}. Needs a passed precheck."""
        return self._each(project_id, requests, self._start_one)

    def _start_one(self, connection: sa.Connection, task: Task, request: JobRequest, now: int) -> Outcome:
        refused = _refusal(task, task.id, {TaskStatus.CONFIGURATION}, _NOT_STARTABLE)
        if refused is not None:
            return refused
        precheck = precheck_store.latest(connection, [task.id]).get(task.id)
        if precheck is None or not precheck.passed:
            return _busy(task, _PRECHECK_FIRST)
        start_time = request.params.get("start_time")
        if start_time is not None and start_time > now:
            moved = task_store.transition(connection, None, task.id, Event.SCHEDULE, now, scheduled_start=start_time)
        else:
            moved = task_store.transition(connection, None, task.id, Event.START, now, actual_start_time=now)
        return Outcome(task.id) if moved else _busy(task, _NOT_STARTABLE)

    def pause(self, project_id: str, requests: Sequence[JobRequest]) -> list[Outcome]:
        return self._each(project_id, requests, self._pause_one)

    def _pause_one(self, connection: sa.Connection, task: Task, request: JobRequest, now: int) -> Outcome:
        moved = task_store.transition(connection, None, task.id, Event.PAUSE, now, paused_from=task.status.value)
        return Outcome(task.id) if moved else _busy(task, _NOT_PAUSABLE)

    def retry(self, project_id: str, requests: Sequence[JobRequest]) -> list[Outcome]:
        return self._each(project_id, requests, self._retry_one)

    def _retry_one(self, connection: sa.Connection, task: Task, request: JobRequest, now: int) -> Outcome:
        moved = task_store.transition(
            connection, None, task.id, Event.RETRY, now, paused_from=None, error_code=None, error_msg=None
        )
        return Outcome(task.id) if moved else _busy(task, _NOT_RETRYABLE)

    # Shared ------------------------------------------------------------------------------------

    def _each(
        self,
        project_id: str,
        requests: Sequence[JobRequest],
        apply: Callable[[sa.Connection, Task, JobRequest, int], Outcome],
    ) -> list[Outcome]:
        """Apply `apply` to each requested task in one transaction; missing or deleted tasks fail per job."""
        now = now_ms()
        with database.writing(self._engine) as connection:
            tasks = task_store.get_many(connection, project_id, [request.job_id for request in requests])
            outcomes = []
            for request in requests:
                task = tasks.get(request.job_id)
                if task is None or task.status is TaskStatus.DELETED:
                    refused = _refusal(task, request.job_id, None, _ONLY_CONFIGURATION)
                    assert refused is not None
                    outcomes.append(refused)
                else:
                    outcomes.append(apply(connection, task, request, now))
        self._ring()
        return outcomes


_RETRYABLE = frozenset(
    {TaskStatus.PAUSING, TaskStatus.START_JOB_FAILED, TaskStatus.FULL_TRANSFER_FAILED, TaskStatus.INCRE_TRANSFER_FAILED}
)


def _refusal(
    task: Task | None, job_id: str, allowed: set[TaskStatus] | frozenset[TaskStatus] | None, hint: Text
) -> Outcome | None:
    """Why this job cannot be acted on (missing, deleted, or not in an `allowed` status), or None."""
    if task is None:
        return Outcome(job_id, OpendrsError(errors.TASK_NOT_FOUND, id=job_id))
    if task.status is TaskStatus.DELETED:
        return Outcome(job_id, OpendrsError(errors.TASK_DELETED, id=job_id))
    if allowed is not None and task.status not in allowed:
        return _busy(task, hint)
    return None


def _busy(task: Task, hint: Text) -> Outcome:
    return Outcome(task.id, OpendrsError(errors.TASK_BUSY, status=task.status.value, hint=hint))

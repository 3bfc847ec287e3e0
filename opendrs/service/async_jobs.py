"""v5 batch-async use cases: submit job specs, list and read them, fix them, commit them into tasks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from opendrs.domain import catalog, errors, ids, secrets
from opendrs.domain.async_jobs import AsyncJob, AsyncJobSummary, Entry, ListQuery
from opendrs.domain.errors import OpendrsError, Text
from opendrs.domain.states import AsyncJobStatus
from opendrs.domain.tasks import JsonObject
from opendrs.domain.times import now_ms
from opendrs.keys import Keys
from opendrs.service.tasks import Outcome, TaskService
from opendrs.store import async_jobs as store
from opendrs.store import database

_NOT_VALIDATED = Text(
    "commit needs status AUTO_PARAM_VALIDATE_SUCCESS, the async job is {status}",
    "提交需要状态为AUTO_PARAM_VALIDATE_SUCCESS，当前异步任务状态为{status}",
)
_COMMITTED = Text(
    "the async job is committed; change its tasks through the v3 task APIs",
    "异步任务已提交；请通过v3任务接口修改其任务",
)
_WHICH_ENTRY = Text(
    "params.job_id must name one of the async job's jobs", "params.job_id必须是该异步任务中的一个任务ID"
)
_CREATED = Text("{created} of {total} tasks created", "已创建{created}/{total}个任务")
_REVALIDATING = Text(
    "a task can no longer be created ({reason}); the async job is being validated again",
    "有任务已无法创建（{reason}）；异步任务正在重新校验",
)


class _CommitRefusedError(Exception):
    def __init__(self, hint: Text) -> None:
        super().__init__(hint.en)
        self.hint = hint


# PUT type -> the spec keys its params replace ("all" replaces every key it carries).
_UPDATABLE: dict[str, tuple[str, ...]] = {
    "network": ("source_endpoint", "target_endpoint"),
    "endpoint": ("source_endpoint", "target_endpoint"),
    "policy": ("policy_config",),
    "db_object": ("db_object",),
    "notify": ("alarm_notify",),
    "name": ("base_info",),
    "description": ("base_info",),
    "expired_days": ("base_info",),
    "precheck": (),
    "re_create": (),
}
UPDATE_TYPES = ("all", *_UPDATABLE)
# PUT types that change one field of base_info and keep the others.
_BASE_INFO_FIELDS = {"name": "name", "description": "description", "expired_days": "expired_days"}


@dataclasses.dataclass(frozen=True)
class Update:
    type: str
    params: JsonObject


@dataclasses.dataclass(frozen=True)
class UpdateResult:
    id: str | None
    name: str | None
    error: OpendrsError | None


@dataclasses.dataclass(frozen=True)
class CommitResult:
    job: AsyncJob
    message: Text
    operation_id: str
    outcomes: list[Outcome]


class AsyncJobService:
    def __init__(
        self, engine: sa.Engine, keys: Keys, tasks: TaskService, ring: Callable[[], None] = lambda: None
    ) -> None:
        self._engine = engine
        self._keys = keys
        self._tasks = tasks
        self._ring = ring  # tells the worker of this host there is work: a job to validate, tasks to provision

    def create(self, project_id: str, domain_name: str, user_name: str, specs: Sequence[JsonObject]) -> str:
        now = now_ms()
        entries = tuple(self._entry(ids.new_job_id(), spec) for spec in specs)
        job = AsyncJob(ids.new_uuid(), project_id, domain_name, user_name, AsyncJobStatus.VALIDATING, entries, now, now)
        with database.writing(self._engine) as connection:
            store.insert(connection, job)
        self._ring()
        return job.id

    def get(self, project_id: str, async_job_id: str) -> AsyncJob:
        with database.reading(self._engine) as connection:
            job = store.get(connection, project_id, async_job_id)
        if job is None:
            raise errors.NotFoundError(errors.V5_JOB_NOT_FOUND, id=async_job_id)
        return job

    def search(self, query: ListQuery) -> tuple[int, list[AsyncJobSummary]]:
        with database.reading(self._engine) as connection:
            return store.list_page(connection, query)

    def update(self, project_id: str, async_job_id: str, updates: Sequence[Update]) -> list[UpdateResult]:
        with database.writing(self._engine) as connection:
            job = store.get(connection, project_id, async_job_id, for_update=True)
            if job is None:
                raise errors.NotFoundError(errors.V5_JOB_NOT_FOUND, id=async_job_id)
            entries = list(job.entries)
            results = [self._apply(job, entries, update) for update in updates]
            if any(result.error is None for result in results):
                changed = dataclasses.replace(
                    job, status=AsyncJobStatus.VALIDATING, entries=tuple(entries), update_time=now_ms()
                )
                store.save(connection, changed, job.status)
        self._ring()
        return results

    def commit(self, project_id: str, async_job_id: str) -> CommitResult:
        """Create every task of a validated async job, or none: a task that cannot be created any more (its
        name was taken since validation) sends the async job back to validation, which names the problem."""
        try:
            committed = self._commit(project_id, async_job_id)
            self._ring()
            return committed
        except _CommitRefusedError as refused:
            with database.writing(self._engine) as connection:
                job = store.get(connection, project_id, async_job_id, for_update=True)
                if job is not None and job.status is AsyncJobStatus.VALIDATE_SUCCESS:
                    again = dataclasses.replace(job, status=AsyncJobStatus.VALIDATING, update_time=now_ms())
                    store.save(connection, again, job.status)
            self._ring()
            raise OpendrsError(errors.V5_FAILED, hint=refused.hint) from None

    def _commit(self, project_id: str, async_job_id: str) -> CommitResult:
        with database.writing(self._engine) as connection:
            job = store.get(connection, project_id, async_job_id, for_update=True)
            if job is None:
                raise errors.NotFoundError(errors.V5_JOB_NOT_FOUND, id=async_job_id)
            if job.status is not AsyncJobStatus.VALIDATE_SUCCESS:
                raise OpendrsError(errors.V5_FAILED, hint=_NOT_VALIDATED(status=job.status.value))
            outcomes, operation_id = self._tasks.create_in(
                connection,
                project_id,
                [_v3_spec(entry.spec) for entry in job.entries],
                "commitAsyncJob",
                reserved_ids=[entry.id for entry in job.entries],
                encrypted=[_v3_secrets(entry.secrets) for entry in job.entries],
                async_job_id=job.id,
            )
            refused = next((outcome.error for outcome in outcomes if outcome.error is not None), None)
            if refused is not None:
                raise _CommitRefusedError(_REVALIDATING(reason=str(refused)))  # rolls the whole commit back
            committed = dataclasses.replace(job, status=AsyncJobStatus.COMMIT_SUCCESS, update_time=now_ms())
            store.save(connection, committed, job.status)
        return CommitResult(committed, _CREATED(created=len(outcomes), total=len(outcomes)), operation_id, outcomes)

    def _entry(self, entry_id: str, spec: JsonObject) -> Entry:
        clean, found = secrets.split(spec)
        return Entry(entry_id, clean, {path: self._keys.encrypt(value) for path, value in found.items()})

    def _apply(self, job: AsyncJob, entries: list[Entry], update: Update) -> UpdateResult:
        target_id = update.params.get("job_id") or (entries[0].id if len(entries) == 1 else None)
        position = next((i for i, entry in enumerate(entries) if entry.id == target_id), None)
        if position is None:
            return UpdateResult(target_id, None, OpendrsError(errors.V5_FAILED, hint=_WHICH_ENTRY))
        entry = entries[position]
        name = (entry.spec.get("base_info") or {}).get("name")
        if job.status is AsyncJobStatus.COMMIT_SUCCESS:
            return UpdateResult(entry.id, name, OpendrsError(errors.V5_FAILED, hint=_COMMITTED))
        if update.type in _BASE_INFO_FIELDS:
            field = _BASE_INFO_FIELDS[update.type]
            given = update.params.get("base_info") or {}
            base = {**(entry.spec.get("base_info") or {}), **({field: given[field]} if field in given else {})}
            merged = {**entry.spec, "base_info": base}
        else:
            keys = _UPDATABLE.get(update.type) or tuple(key for key in update.params if key != "job_id")
            merged = {**entry.spec, **{key: update.params[key] for key in keys if key in update.params}}
        replaced = self._entry(entry.id, merged)
        entries[position] = Entry(entry.id, replaced.spec, {**entry.secrets, **replaced.secrets})
        return UpdateResult(entry.id, (replaced.spec.get("base_info") or {}).get("name"), None)


def _v3_spec(spec: JsonObject) -> JsonObject:
    """A v5 job spec in the shape of a v3 creation request, as committed tasks are stored."""
    base = spec.get("base_info") or {}
    source = (spec.get("source_endpoint") or [{}])[0]
    target = (spec.get("target_endpoint") or [{}])[0]
    rest = {key: value for key, value in spec.items() if key not in ("base_info", "source_endpoint", "target_endpoint")}
    return {
        **rest,
        "name": base.get("name"),
        "db_use_type": base.get("job_type"),
        "engine_type": catalog.V5_TO_V3_ENGINE.get(base.get("engine_type", ""), base.get("engine_type")),
        "job_direction": base.get("job_direction"),
        "net_type": base.get("net_type"),
        "node_type": ((spec.get("node_info") or {}).get("spec") or {}).get("node_type", "high"),
        "task_type": base.get("task_type"),
        "description": base.get("description") or "",
        "tags": base.get("tags") or [],
        "source_endpoint": _v3_endpoint(source),
        "target_endpoint": _v3_endpoint(target),
        "base_info": base,
    }


def _v3_endpoint(info: JsonObject) -> JsonObject:
    endpoint = info.get("endpoint") or {}
    flat = {key: value for key, value in endpoint.items() if key != "db_password"}
    flat["db_type"] = info.get("db_type")
    if "db_port" in flat and str(flat["db_port"]).isdigit():
        flat["db_port"] = int(flat["db_port"])
    return flat


def _v3_secrets(encrypted: dict[str, str]) -> dict[str, str]:
    """Secret paths of a v5 spec as the committed task's v3 shape has them."""
    renamed = {}
    for path, value in encrypted.items():
        for key in ("source_endpoint", "target_endpoint"):
            path = path.replace(f"{key}[0].endpoint.", f"{key}.")
        renamed[path] = value
    return renamed

"""DRS v5 batch-async APIs (spec/API.md 2.3, 4). The API checks shapes; the worker validates values."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from opendrs.api import context
from opendrs.api.responses import Json, error_body
from opendrs.api.schemas.common import Model, Strict
from opendrs.domain import async_jobs, errors, secrets, times
from opendrs.domain.async_jobs import AsyncJob, Entry, ListQuery
from opendrs.domain.errors import Language, OpendrsError, Text
from opendrs.domain.states import AsyncJobStatus
from opendrs.service.async_jobs import UPDATE_TYPES, Update

router = APIRouter(tags=["DRS v5 batch-async jobs"])

_STATUSES = tuple(status.value for status in AsyncJobStatus)
_ONE_OF = Text("must be one of {values}", "必须是{values}之一")
_WHOLE_NUMBER = Text("must be a whole number from {low} to {high}", "必须是{low}到{high}之间的整数")


class BaseInfo(Model):
    name: str | None = None
    job_type: str | None = None
    engine_type: str | None = None
    job_direction: str | None = None
    task_type: str | None = None
    net_type: str | None = None
    description: str | None = None
    multi_write: bool | None = None


class BaseEndpoint(Model):
    endpoint_name: str | None = None
    ip: str | None = None
    db_port: str | int | None = None
    db_user: str | None = None
    db_password: str | None = Field(None, description="Stored encrypted; never returned.")
    db_name: str | None = None


class EndpointInfo(Model):
    db_type: str | None = None
    endpoint_type: str | None = None
    endpoint_role: str | None = None
    endpoint: BaseEndpoint | None = None


class AsyncCreateJob(Model):
    base_info: BaseInfo
    source_endpoint: list[EndpointInfo]
    target_endpoint: list[EndpointInfo]
    policy_config: dict[str, Any]
    db_object: dict[str, Any]
    node_info: dict[str, Any]


class AsyncCreate(Strict):
    jobs: list[AsyncCreateJob] = Field(min_length=1)


class UpdateJobReq(Strict):
    type: Literal[UPDATE_TYPES]  # type: ignore[valid-type]
    params: dict[str, Any]


class AsyncUpdate(Strict):
    jobs: list[UpdateJobReq] = Field(min_length=1)


class AsyncJobRef(BaseModel):
    async_job_id: str


class AsyncCreated(BaseModel):
    job: AsyncJobRef


class AsyncJobSummary(BaseModel):
    async_job_id: str
    status: str
    domain_name: str
    user_name: str
    create_time: str


class AsyncJobList(BaseModel):
    total_count: int
    jobs: list[AsyncJobSummary]


class AsyncJobDetail(BaseModel):
    total_count: int
    jobs: list[dict[str, Any]]


class UpdateResults(BaseModel):
    jobs: list[dict[str, Any]]


class CommitAnswer(BaseModel):
    async_job_id: str
    status: str
    msg: str


class Committed(BaseModel):
    job: CommitAnswer
    job_id: str = Field(description="opendrs: the asynchronous operation, see GET /v1/{project_id}/jobs/{job_id}.")


@router.post(
    "/v5/{project_id}/jobs/batch-async-create",
    responses={200: {"model": AsyncCreated}},
    summary="Submit job specs; they are validated in the background",
)
def batch_async_create(project_id: str, body: AsyncCreate, request: Request) -> Json:
    services = context.services(request)
    if len(body.jobs) > services.max_batch_ids:
        hint = _WHOLE_NUMBER(low=1, high=services.max_batch_ids)
        raise OpendrsError(errors.PARAMETER_INVALID, field="jobs", hint=hint)
    domain_name, user_name = services.iam.names(context.identity(request))
    specs = [job.model_dump(exclude_none=True) for job in body.jobs]
    async_job_id = services.async_jobs.create(project_id, domain_name, user_name, specs)
    return Json({"job": {"async_job_id": async_job_id}})


@router.get(
    "/v5/{project_id}/batch-async-jobs",
    responses={200: {"model": AsyncJobList}},
    summary="List batch-async jobs (filters, offset/limit, sorting)",
)
async def list_async_jobs(project_id: str, request: Request) -> Json:
    query = _list_query(project_id, request)
    total, jobs = await context.read(request, context.services(request).async_jobs.search, query)
    return Json({"total_count": total, "jobs": [_summary(job) for job in jobs]})


@router.get(
    "/v5/{project_id}/batch-async-jobs/{async_job_id}",
    responses={200: {"model": AsyncJobDetail}},
    summary="The jobs of one batch-async job",
)
def show_async_job(project_id: str, async_job_id: str, request: Request) -> Json:
    params = request.query_params
    offset = _whole_number(params.get("offset"), "offset", 0, 0, 2**31)
    limit = _whole_number(params.get("limit"), "limit", 10, 1, 1000)
    services = context.services(request)
    job = services.async_jobs.get(project_id, async_job_id)
    statuses = _task_statuses(project_id, job, request)
    language = context.language(request)
    entries = [_entry_detail(job, entry, statuses.get(entry.id), language) for entry in job.entries]
    return Json({"total_count": len(entries), "jobs": entries[offset : offset + limit]})


@router.put(
    "/v5/{project_id}/batch-async-jobs/{async_job_id}",
    responses={200: {"model": UpdateResults}},
    summary="Fix job specs; the async job is validated again",
)
def update_async_job(project_id: str, async_job_id: str, body: AsyncUpdate, request: Request) -> Json:
    updates = [Update(item.type, item.params) for item in body.jobs]
    results = context.services(request).async_jobs.update(project_id, async_job_id, updates)
    language = context.language(request)
    answers: list[dict[str, Any]] = []
    for result in results:
        answer: dict[str, Any] = {"id": result.id, "name": result.name, "status": "success"}
        if result.error is not None:
            answer.update(status="failed", **error_body(result.error, language))
        answers.append(answer)
    return Json({"jobs": answers})


@router.post(
    "/v5/{project_id}/batch-async-jobs/{async_job_id}/commit",
    responses={200: {"model": Committed}},
    summary="Create the tasks of a validated batch-async job",
)
def commit_async_job(project_id: str, async_job_id: str, request: Request) -> Json:
    result = context.services(request).async_jobs.commit(project_id, async_job_id)
    message = result.message.render(context.language(request))
    answer = {"async_job_id": result.job.id, "status": result.job.status.value, "msg": message}
    return Json({"job": answer, "job_id": result.operation_id})


def _list_query(project_id: str, request: Request) -> ListQuery:
    params = {key: value for key, value in request.query_params.items() if value != ""}  # "key=" = unset
    status = params.get("status")
    if status is not None and status not in _STATUSES:
        raise OpendrsError(errors.PARAMETER_INVALID, field="status", hint=_ONE_OF(values=", ".join(_STATUSES)))
    if params.get("sort_key", "create_time") != "create_time":
        raise OpendrsError(errors.PARAMETER_INVALID, field="sort_key", hint=_ONE_OF(values="create_time"))
    sort_dir = params.get("sort_dir", "desc").lower()
    if sort_dir not in ("asc", "desc"):
        raise OpendrsError(errors.PARAMETER_INVALID, field="sort_dir", hint=_ONE_OF(values="asc, desc"))
    return ListQuery(
        project_id=project_id,
        async_job_id=params.get("async_job_id"),
        status=status,
        domain_name=params.get("domain_name"),
        user_name=params.get("user_name"),
        offset=_whole_number(params.get("offset"), "offset", 0, 0, 2**31),
        limit=_whole_number(params.get("limit"), "limit", 10, 1, 1000),
        ascending=sort_dir == "asc",
    )


def _whole_number(value: str | None, field: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise OpendrsError(errors.PARAMETER_INVALID, field=field, hint=_WHOLE_NUMBER(low=low, high=high))
    return int(value)


def _summary(job: async_jobs.AsyncJobSummary) -> dict[str, Any]:
    return {
        "async_job_id": job.id,
        "status": job.status.value,
        "domain_name": job.domain_name,
        "user_name": job.user_name,
        "create_time": times.iso_seconds(job.create_time),
    }


def _task_statuses(project_id: str, job: AsyncJob, request: Request) -> dict[str, str]:
    if job.status is not AsyncJobStatus.COMMIT_SUCCESS:
        return {}
    views = context.services(request).tasks.statuses(project_id, [entry.id for entry in job.entries])
    return {job_id: view.status.value for job_id, view in views.items()}


def _entry_detail(job: AsyncJob, entry: Entry, task_status: str | None, language: Language) -> dict[str, Any]:
    """One job of the batch: its spec (no secrets); before commit its status is the validation's."""
    if task_status is None:
        if job.status is AsyncJobStatus.VALIDATING:
            task_status = AsyncJobStatus.VALIDATING.value
        elif entry.problems:
            task_status = AsyncJobStatus.VALIDATE_FAILED.value
        else:
            task_status = AsyncJobStatus.VALIDATE_SUCCESS.value
    message_key = "zh" if language is Language.ZH else "en"
    logs = [
        {"level": "ERROR", "message": problem[message_key], "create_time": times.iso_seconds(job.update_time)}
        for problem in entry.problems
    ]
    return dict(
        secrets.redact(
            {
                **entry.spec,
                "id": entry.id,
                "status": task_status,
                "create_time": times.iso_seconds(job.create_time),
                "total_count": 1,
                "logs": logs,
            }
        )
    )

"""DRS v3 task lifecycle (spec/API.md 3.2-3.8, 3.11, 3.12): connect, configure, precheck, start, pause, retry."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from opendrs.api import context
from opendrs.api.batch import check_count, job_result, unique_ids
from opendrs.api.responses import Json, error_body
from opendrs.api.schemas import v3
from opendrs.api.schemas.common import JobId, JobIds, Model, Port, SafeText, Strict, TaskName
from opendrs.domain import errors, speed
from opendrs.domain.errors import Language, OpendrsError
from opendrs.domain.prechecks import Precheck
from opendrs.service.lifecycle import ConnectionTest, JobRequest
from opendrs.service.tasks import Outcome

router = APIRouter(tags=["DRS v3 task lifecycle"])


class TestEndPoint(Model):
    id: JobId
    net_type: v3.NetType = "eip"
    db_type: v3.DbType
    ip: str
    db_port: Port | None = None
    db_user: str
    db_password: str = Field(description="Used for the test only; never returned.")
    end_point_type: Literal["so", "ta"] = "so"
    db_name: str | None = None
    ssl_link: bool | None = None


class BatchConnection(Strict):
    jobs: list[TestEndPoint] = Field(min_length=1)


class ConnectionResult(BaseModel):
    id: str
    status: str
    success: bool
    error_code: str | None = None
    error_msg: str | None = None


class ConnectionResults(BaseModel):
    count: int
    results: list[ConnectionResult]


class ModifyJob(Model):
    job_id: JobId
    name: TaskName | None = None
    description: SafeText | None = None
    source_endpoint: v3.Endpoint | None = None
    target_endpoint: v3.Endpoint | None = None
    node_type: v3.NodeType | None = None
    engine_type: v3.EngineType | None = None
    net_type: v3.NetType | None = None
    job_direction: v3.JobDirection | None = None
    db_use_type: v3.DbUseType | None = None
    task_type: v3.TaskType | None = None
    store_db_info: bool | None = None


class BatchModify(Strict):
    jobs: list[ModifyJob] = Field(min_length=1)


class DatabaseObject(Strict):
    id: str | None = None
    parent_id: str | None = None
    object_type: Literal["database", "table", "schema", "view"] | None = None
    object_name: str | None = None
    object_alias_name: str | None = None
    select: Literal["true", "false", "partial"] = "false"


class SelectObjects(Strict):
    job_id: JobId
    selected: bool = False
    sync_database: bool | None = None
    job: list[DatabaseObject] | None = None


class BatchSelect(Strict):
    jobs: list[SelectObjects] = Field(min_length=1)


class SelectResult(BaseModel):
    job_id: str
    status: bool
    error_code: str | None = None
    error_msg: str | None = None


class SelectResults(BaseModel):
    all_counts: int
    results: list[SelectResult]


class SpeedWindow(Strict):
    begin: str = Field(description="UTC hh:mm; the minutes are ignored")
    end: str = Field(description="UTC hh:59")
    speed: str = Field(description="MB/s, 1 to 9999")
    is_utc: bool | None = None


class LimitSpeed(Strict):
    job_id: JobId
    speed_limit: list[SpeedWindow]


class BatchLimitSpeed(Strict):
    speed_limits: list[LimitSpeed] = Field(min_length=1)


class PrecheckRequest(Strict):
    job_id: JobId
    precheck_mode: Literal["forStartJob", "forRetryJob"]


class BatchPrecheck(Strict):
    jobs: list[PrecheckRequest] = Field(min_length=1)


class PrecheckStarted(BaseModel):
    id: str
    precheck_id: str | None = None
    status: str
    error_code: str | None = None
    error_msg: str | None = None


class PrecheckStartedResults(BaseModel):
    count: int
    results: list[PrecheckStarted]


class PrecheckItem(BaseModel):
    item: str
    result: str
    failed_reason: str
    data: str
    raw_error_msg: str
    group: str
    failed_sub_jobs: list[dict[str, Any]]


class PrecheckResult(BaseModel):
    precheck_id: str | None = None
    result: bool | None = None
    process: str | None = None
    total_passed_rate: str | None = None
    rds_instance_id: str | None = None
    job_direction: str | None = None
    precheck_result: list[PrecheckItem] | None = None
    error_code: str | None = None
    error_msg: str | None = None


class PrecheckResults(BaseModel):
    count: int
    results: list[PrecheckResult]


class StartInfo(Strict):
    job_id: JobId
    # ASCII digits (the pattern's \d would take any script's), and at most 15: epoch ms up to the year 33658.
    start_time: str | None = Field(None, pattern=r"^[0-9]{0,15}$", description="epoch ms; empty: now")
    is_only_init_task: bool | None = None
    is_auto_create_compare: bool | None = None


class BatchStart(Strict):
    jobs: list[StartInfo] = Field(min_length=1)


class PauseInfo(Strict):
    job_id: JobId
    pause_mode: Literal["target", "all"]


class BatchPause(Strict):
    jobs: list[PauseInfo] = Field(min_length=1)


class RetryInfo(Strict):
    job_id: JobId
    is_sync_re_edit: bool | None = None


class BatchRetry(Strict):
    jobs: list[RetryInfo] = Field(min_length=1)


@router.post(
    "/v3/{project_id}/jobs/batch-connection",
    responses={200: {"model": ConnectionResults}},
    summary="Test connections to source (so) and target (ta) databases",
)
def batch_connection(project_id: str, body: BatchConnection, request: Request) -> Json:
    check_count(body.jobs, request)
    tests = [
        ConnectionTest(job.id, job.end_point_type, job.model_dump(exclude={"id", "end_point_type"}))
        for job in body.jobs
    ]
    outcomes = context.services(request).lifecycle.test_connections(project_id, tests)
    language = context.language(request)
    results = [{**job_result(outcome, language), "success": outcome.error is None} for outcome in outcomes]
    return Json({"results": results, "count": len(results)})


@router.put(
    "/v3/{project_id}/jobs/batch-modification",
    responses={200: {"model": v3.BatchResults}},
    summary="Modify tasks in CONFIGURATION: endpoints (stored encrypted), names, types",
)
def batch_modify(project_id: str, body: BatchModify, request: Request) -> Json:
    unique_ids([job.job_id for job in body.jobs], request)
    requests = [JobRequest(job.job_id, job.model_dump(exclude_none=True)) for job in body.jobs]
    return _results(context.services(request).lifecycle.modify(project_id, requests), request)


@router.put(
    "/v3/{project_id}/jobs/batch-select-objects",
    status_code=202,
    responses={202: {"model": SelectResults}},
    summary="Choose the databases and tables a task replicates",
)
def batch_select_objects(project_id: str, body: BatchSelect, request: Request) -> Json:
    unique_ids([job.job_id for job in body.jobs], request)
    requests = [
        JobRequest(job.job_id, {"objects": _objects(job, f"jobs[{position}]")})
        for position, job in enumerate(body.jobs)
    ]
    outcomes = context.services(request).lifecycle.select_objects(project_id, requests)
    language = context.language(request)
    results = []
    for outcome in outcomes:
        result: dict[str, Any] = {"job_id": outcome.id, "status": outcome.error is None}
        if outcome.error is not None:
            result.update(error_body(outcome.error, language))
        results.append(result)
    return Json({"all_counts": len(results), "results": results}, status_code=202)


@router.put(
    "/v3/{project_id}/jobs/batch-limit-speed",
    responses={200: {"model": v3.BatchResults}},
    summary="Limit the full transfer's speed in UTC time windows",
)
def batch_limit_speed(project_id: str, body: BatchLimitSpeed, request: Request) -> Json:
    unique_ids([limit.job_id for limit in body.speed_limits], request)
    requests = []
    for position, limit in enumerate(body.speed_limits):
        windows = [window.model_dump(exclude_none=True) for window in limit.speed_limit]
        speed.parse(windows, f"speed_limits[{position}].speed_limit")
        requests.append(JobRequest(limit.job_id, {"speed_limit": windows}))
    return _results(context.services(request).lifecycle.limit_speed(project_id, requests), request)


@router.post(
    "/v3/{project_id}/jobs/batch-precheck",
    responses={200: {"model": PrecheckStartedResults}},
    summary="Start prechecks; a worker runs them",
)
def batch_precheck(project_id: str, body: BatchPrecheck, request: Request) -> Json:
    unique_ids([job.job_id for job in body.jobs], request)
    requests = [JobRequest(job.job_id, {"precheck_mode": job.precheck_mode}) for job in body.jobs]
    outcomes = context.services(request).lifecycle.precheck(project_id, requests)
    language = context.language(request)
    results = []
    for outcome in outcomes:
        result = job_result(outcome, language)
        if outcome.precheck_id:
            result["precheck_id"] = outcome.precheck_id
        results.append(result)
    return Json({"results": results, "count": len(results)})


@router.post(
    "/v3/{project_id}/jobs/batch-precheck-result",
    responses={200: {"model": PrecheckResults}},
    summary="Precheck results: one entry per task, keyed by precheck_id",
)
def batch_precheck_result(project_id: str, body: JobIds, request: Request) -> Json:
    job_ids = unique_ids(body.jobs, request)
    found = context.services(request).lifecycle.precheck_results(project_id, job_ids)
    language = context.language(request)
    results = [_precheck_result(found[job_id], language) for job_id in job_ids]
    return Json({"results": results, "count": len(results)})


@router.post(
    "/v3/{project_id}/jobs/batch-starting",
    status_code=202,
    responses={202: {"model": v3.BatchResults}},
    summary="Start tasks now, or at start_time (WAITING_FOR_START)",
)
def batch_start(project_id: str, body: BatchStart, request: Request) -> Json:
    unique_ids([job.job_id for job in body.jobs], request)
    requests = [
        JobRequest(job.job_id, {"start_time": int(job.start_time) if job.start_time else None}) for job in body.jobs
    ]
    return _results(context.services(request).lifecycle.start(project_id, requests), request, status=202)


@router.post(
    "/v3/{project_id}/jobs/batch-pause-task",
    responses={200: {"model": v3.BatchResults}},
    summary="Pause tasks in full or incremental transfer",
)
def batch_pause(project_id: str, body: BatchPause, request: Request) -> Json:
    unique_ids([job.job_id for job in body.jobs], request)
    requests = [JobRequest(job.job_id, {"pause_mode": job.pause_mode}) for job in body.jobs]
    return _results(context.services(request).lifecycle.pause(project_id, requests), request)


@router.post(
    "/v3/{project_id}/jobs/batch-retry-task",
    responses={200: {"model": v3.BatchResults}},
    summary="Resume paused or failed tasks from where they stopped",
)
def batch_retry(project_id: str, body: BatchRetry, request: Request) -> Json:
    unique_ids([job.job_id for job in body.jobs], request)
    requests = [JobRequest(job.job_id) for job in body.jobs]
    return _results(context.services(request).lifecycle.retry(project_id, requests), request)


def _results(outcomes: list[Outcome], request: Request, status: int = 200) -> Json:
    language = context.language(request)
    results = [job_result(outcome, language) for outcome in outcomes]
    return Json({"count": len(results), "results": results}, status_code=status)


def _objects(job: SelectObjects, field: str) -> dict[str, Any] | None:
    """The stored selection for one batch-select-objects entry; None: the whole instance."""
    if not job.selected:
        return None
    if not job.job:
        raise OpendrsError(errors.PARAMETER_EMPTY, field=f"{field}.job")
    databases: list[str] = []
    tables: list[list[str]] = []
    renames: dict[str, str] = {}
    for position, item in enumerate(job.job):
        name = item.object_name or item.id or ""
        if item.object_type in ("database", "schema", None) and item.parent_id is None:
            if item.object_alias_name:
                renames[name] = item.object_alias_name
            if item.select == "true":
                databases.append(name)
            continue
        if not item.parent_id:
            raise OpendrsError(errors.PARAMETER_EMPTY, field=f"{field}.job[{position}].parent_id")
        if item.select == "true":
            table = item.object_name or (item.id or "").split("-*-*-")[-1]
            tables.append([item.parent_id, table])
    return {"databases": databases, "tables": tables, "renames": renames}


def _precheck_result(found: Precheck | OpendrsError, language: Language) -> dict[str, Any]:
    if isinstance(found, OpendrsError):
        return error_body(found, language)
    items = [
        {
            "item": item["item"],
            "result": item["result"],
            "failed_reason": item.get("failed_reason", ""),
            "data": item.get("data", ""),
            "raw_error_msg": item.get("failed_reason", "") if item["result"] == "FAILED" else "",
            "group": item.get("group", ""),
            "failed_sub_jobs": [],
        }
        for item in found.items
    ]
    return {
        "precheck_id": found.id,
        "result": found.passed,
        "process": "100%" if found.done else "0%",
        "total_passed_rate": f"{found.passed_rate}%",
        "rds_instance_id": "",
        "job_direction": "",
        "precheck_result": items,
    }

"""DRS v3 task APIs (spec/API.md 2.1, 2.2, 3.1, 3.9, 3.13, 3.14). Handlers translate; services decide."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request

from opendrs.api import context
from opendrs.api.batch import check_count, job_result, unique_ids
from opendrs.api.responses import Json, error_body
from opendrs.api.schemas import v3
from opendrs.api.schemas.common import JobIds, PagedJobIds
from opendrs.domain import errors, paging, secrets, states, times
from opendrs.domain.errors import Language, OpendrsError, Text
from opendrs.domain.tasks import ListFilter, ProgressView, TableProgress, Task, TaskEvent
from opendrs.service.tasks import Deletion, Outcome

router = APIRouter(tags=["DRS v3 tasks"])

_TOO_MANY_NAMES = Text("must name at most 100 ids", "最多100个ID")


@router.post(
    "/v3/{project_id}/jobs/batch-creation",
    status_code=202,
    responses={202: {"model": v3.BatchCreated}},
    summary="Create tasks (status CREATING, then CONFIGURATION)",
)
def batch_create(project_id: str, body: v3.BatchCreate, request: Request) -> Json:
    check_count(body.jobs, request)
    specs = [job.model_dump(exclude_none=True) for job in body.jobs]
    outcomes, operation_id = context.services(request).tasks.create(project_id, specs)
    language = context.language(request)
    results = [_created(outcome, language) for outcome in outcomes]
    return Json({"results": results, "count": len(results), "job_id": operation_id}, status_code=202)


@router.post(
    "/v3/{project_id}/jobs/batch-status",
    responses={200: {"model": v3.BatchStatuses}},
    summary="Statuses of tasks, paged over the submitted ids",
)
async def batch_status(project_id: str, body: PagedJobIds, request: Request) -> Json:
    page = _page(body, request)
    views = await context.read(request, context.services(request).tasks.statuses, project_id, page)
    language = context.language(request)
    results: list[dict[str, Any]] = []
    for job_id in page:
        view = views.get(job_id)
        if view is None:
            results.append({"id": job_id, **_not_found(job_id, language, "error_message")})
            continue
        result: dict[str, Any] = {"id": job_id, "status": view.status}  # orjson writes an enum as its value
        if view.error_code:
            result.update(error_code=view.error_code, error_message=view.error_msg)
        results.append(result)
    return Json({"results": results, "count": len(results)})


@router.post(
    "/v3/{project_id}/jobs/batch-detail",
    responses={200: {"model": v3.BatchDetails}},
    summary="Details of tasks, paged over the submitted ids",
)
def batch_detail(project_id: str, body: PagedJobIds, request: Request) -> Json:
    page = _page(body, request)
    service = context.services(request).tasks
    tasks = service.details(project_id, page)
    tables = service.table_progress(list(tasks))
    events = context.services(request).monitoring.events(list(tasks))
    language = context.language(request)
    results = [
        _detail(tasks[job_id], tables.get(job_id, []), events.get(job_id, []))
        if job_id in tasks
        else {"id": job_id, **_not_found(job_id, language, "error_message")}
        for job_id in page
    ]
    return Json({"results": results, "count": len(results)})


@router.post(
    "/v3/{project_id}/jobs/batch-progress",
    status_code=202,
    responses={202: {"model": v3.BatchProgress}},
    summary="Progress and incremental delay of tasks",
)
async def batch_progress(project_id: str, body: JobIds, request: Request) -> Json:
    job_ids = unique_ids(body.jobs, request)
    views = await context.read(request, context.services(request).tasks.progress, project_id, job_ids)
    language = context.language(request)
    results = [
        _progress(views[job_id]) if job_id in views else {"job_id": job_id, **_not_found(job_id, language, "error_msg")}
        for job_id in job_ids
    ]
    return Json({"results": results, "count": len(results)}, status_code=202)


@router.post(
    "/v3/{project_id}/jobs",
    responses={200: {"model": v3.JobList}},
    summary="List the project's tasks",
)
def list_jobs(project_id: str, body: v3.ListJobs, request: Request) -> Json:
    paging.check(paging.PageRequest(body.cur_page, body.per_page))
    names = tuple(name.strip() for name in (body.name or "").split(",") if name.strip())
    if len(names) > 100:
        raise OpendrsError(errors.PARAMETER_INVALID, field="name", hint=_TOO_MANY_NAMES)
    tags = body.tags.items() if isinstance(body.tags, dict) else [(tag.key, tag.value) for tag in body.tags or []]
    where = ListFilter(
        project_id=project_id,
        db_use_type=body.db_use_type,
        engine_type=body.engine_type or None,
        net_type=body.net_type or None,
        status=body.status or None,
        names_or_ids=names,
        tags=tuple(tags),
        instance_ids=tuple(body.instance_ids or ()),
        instance_ip=body.instance_ip or None,
    )
    total, tasks = context.services(request).tasks.search(where, body.cur_page, body.per_page)
    return Json({"total_record": total, "jobs": [_job_info(task) for task in tasks]})


@router.delete(
    "/v3/{project_id}/jobs/batch-jobs",
    status_code=202,
    responses={202: {"model": v3.BatchResults}},
    summary="Stop (terminate, force_terminate) or delete tasks",
)
def batch_delete(project_id: str, body: v3.BatchDelete, request: Request) -> Json:
    check_count(body.jobs, request)
    deletions = [Deletion(job.job_id, job.delete_type) for job in body.jobs]
    outcomes, operation_id = context.services(request).tasks.delete(project_id, deletions)
    language = context.language(request)
    results = [job_result(outcome, language) for outcome in outcomes]
    return Json({"count": len(results), "results": results, "job_id": operation_id}, status_code=202)


# Shaping answers -----------------------------------------------------------------------------------


def _created(outcome: Outcome, language: Language) -> dict[str, Any]:
    if outcome.task is None:
        assert outcome.error is not None
        return {"name": outcome.name, "status": "failed", **error_body(outcome.error, language)}
    task = outcome.task
    return {"id": task.id, "name": task.name, "status": task.status.value, "create_time": str(task.create_time)}


def _not_found(job_id: str, language: Language, message_key: str) -> dict[str, str]:
    body = error_body(OpendrsError(errors.TASK_NOT_FOUND, id=job_id), language)
    return {"error_code": body["error_code"], message_key: body["error_msg"]}


def _page(body: PagedJobIds, request: Request) -> Sequence[str]:
    job_ids = unique_ids(body.jobs, request)
    page_request = None
    if body.page_req is not None:
        page_request = paging.PageRequest(body.page_req.cur_page, body.page_req.per_page)
    return paging.page(job_ids, page_request)


def _progress(view: ProgressView) -> dict[str, Any]:
    measured = view.progress
    result: dict[str, Any] = {
        "job_id": view.id,
        "progress": str(measured.progress if measured else 0),
        "incre_trans_delay": "-1",
        "incre_trans_delay_millis": "-1",
        "task_mode": view.task_type,
        "transfer_status": view.status,  # orjson writes an enum as its value
        "process_time": times.epoch_ms_string(measured.process_time if measured else None),
        "remaining_time": str((measured.remaining_seconds if measured else None) or 0),
        "apply_rows_rate": -1,
        "apply_bytes_rate": -1,
    }
    if view.error_code:
        result.update(error_code=view.error_code, error_msg=view.error_msg)
    if measured is None:
        return result
    if view.status in states.INCREMENTAL and measured.incre_delay_millis is not None:
        result["incre_trans_delay"] = str(measured.incre_delay_millis // 1000)
        result["incre_trans_delay_millis"] = str(measured.incre_delay_millis)
        result["apply_rows_rate"] = measured.apply_rows_rate if measured.apply_rows_rate is not None else -1
        result["apply_bytes_rate"] = measured.apply_bytes_rate if measured.apply_bytes_rate is not None else -1
    phases = {
        "struct": (measured.struct_percent, measured.struct_remaining_seconds),
        "data": (measured.data_percent, measured.data_remaining_seconds),
        "index": (measured.index_percent, measured.index_remaining_seconds),
    }
    progress_map = {
        key: {"completed": f"{percent}%", "remaining_time": None if remaining is None else str(remaining)}
        for key, (percent, remaining) in phases.items()
        if percent is not None
    }
    if progress_map:
        result["progress_map"] = progress_map
    return result


# Fields batch-detail sets only when they hold something: a stored option must never stand in for them.
_DETAIL_OWN = frozenset({"base_info", "error_code", "error_message", "failed_reason", "async_job_id"})


def _detail(task: Task, tables: list[TableProgress], events: list[TaskEvent]) -> dict[str, Any]:
    options = {key: value for key, value in task.options.items() if key not in _DETAIL_OWN}
    detail = {
        **options,
        "id": task.id,
        "name": task.name,
        "status": task.status.value,
        "description": task.description,
        "create_time": times.epoch_ms_string(task.create_time),
        "update_time": times.epoch_ms_string(task.update_time),
        "actual_start_time": times.epoch_ms_string(task.actual_start_time),
        "full_transfer_complete_time": times.epoch_ms_string(task.full_transfer_complete_time),
        "task_type": task.task_type,
        "db_use_type": task.db_use_type,
        "job_direction": task.job_direction,
        "original_job_direction": task.job_direction,
        "net_type": task.net_type,
        "node_type": task.node_type,
        "engine_type": task.engine_type,
        "source_endpoint": task.source_endpoint,
        "target_endpoint": task.target_endpoint,
        "inst_info": {
            "engine_type": task.engine_type,
            "inst_type": task.node_type,
            "start_time": times.epoch_ms_string(task.actual_start_time),
            "status": "deleted" if task.status is states.TaskStatus.DELETED else "active",
        },
        "tags": task.options.get("tags", []),
        "speed_limit": task.options.get("speed_limit", []),
        "object_infos": task.options.get("object_infos", []),
        # opendrs: the full transfer's counts per table (empty until the copy has listed the tables).
        "table_progress": [_table(table) for table in tables],
        # The task's failures, oldest first (JobDetailResp.logs); error_code is opendrs's addition.
        "logs": [_log(event) for event in events],
    }
    if task.async_job_id:
        detail["async_job_id"] = task.async_job_id
    if task.error_code:
        detail.update(error_code=task.error_code, error_message=task.error_msg, failed_reason=task.error_msg)
    return dict(secrets.redact(detail))


def _log(event: TaskEvent) -> dict[str, Any]:
    return {
        "level": event.level,
        "message": event.message,
        "create_time": times.epoch_ms_string(event.at),
        "error_code": event.error_code,
    }


def _table(table: TableProgress) -> dict[str, Any]:
    return {
        "source": f"{table.source_schema}.{table.source_name}",
        "target": f"{table.target_schema}.{table.target_name}",
        "rows_estimate": table.rows_estimate,
        "rows_copied": table.rows_copied,
        "structure_done": table.structure_done,
        "data_done": table.data_done,
        "index_done": table.index_done,
    }


def _job_info(task: Task) -> dict[str, Any]:
    available = states.available_actions(task.status)
    known = [*states.ACTIONS, *states.UNOFFERED_ACTIONS]
    info: dict[str, Any] = {
        "id": task.id,
        "name": task.name,
        "status": task.status.value,
        "create_time": times.list_time(task.create_time),
        "description": task.description,
        "engine_type": task.engine_type,
        "net_type": task.net_type,
        "billing_tag": False,
        "job_direction": task.job_direction,
        "db_use_type": task.db_use_type,
        "task_type": task.task_type,
        "node_newFramework": True,
        "children": [],
        "job_action": {
            "available_actions": available,
            "unavailable_actions": [action for action in known if action not in available],
            "current_action": "STOP_JOB" if task.status is states.TaskStatus.RELEASE_RESOURCE_STARTED else None,
        },
    }
    if task.error_msg:
        info["error_msg"] = task.error_msg
    return info

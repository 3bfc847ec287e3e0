"""ECS-style status of asynchronous operations (spec/API.md 2.4)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from opendrs.api import context
from opendrs.api.responses import Json
from opendrs.domain import times
from opendrs.domain.operations import Operation, SubJob

router = APIRouter(tags=["ECS jobs"])


class OperationAnswer(BaseModel):
    status: str
    job_id: str
    job_type: str
    begin_time: str | None
    end_time: str | None
    error_code: str | None
    fail_reason: str | None
    entities: dict[str, Any]


@router.get(
    "/v1/{project_id}/jobs/{job_id}",
    responses={200: {"model": OperationAnswer}},
    summary="Status of an asynchronous operation (batch creation, deletion, commit)",
)
def show_job(project_id: str, job_id: str, request: Request) -> Json:
    operation = context.services(request).operations.get(project_id, job_id)
    return Json(_operation(operation))


def _operation(operation: Operation) -> dict[str, Any]:
    return {
        "status": operation.status.value,
        "entities": {
            "sub_jobs_total": len(operation.sub_jobs),
            "sub_jobs": [_sub_job(sub) for sub in operation.sub_jobs],
        },
        "job_id": operation.id,
        "job_type": operation.job_type,
        "begin_time": times.iso_millis(operation.begin_time),
        "end_time": times.iso_millis(operation.end_time),
        "error_code": operation.error_code,
        "fail_reason": operation.fail_reason,
    }


def _sub_job(sub: SubJob) -> dict[str, Any]:
    entities: dict[str, Any] = {}
    if sub.task_id:
        entities["drs_job_id"] = sub.task_id
    if sub.fail_reason:
        entities["errorcode_message"] = sub.fail_reason
    return {
        "status": sub.status.value,
        "entities": entities,
        "job_id": sub.id,
        "job_type": sub.job_type,
        "begin_time": times.iso_millis(sub.begin_time),
        "end_time": times.iso_millis(sub.end_time),
        "error_code": sub.error_code,
        "fail_reason": sub.fail_reason,
    }

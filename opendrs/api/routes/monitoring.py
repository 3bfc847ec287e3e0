"""opendrs's own monitoring endpoints: a task's recent history (for the console) and /metrics."""

from __future__ import annotations

import hmac

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from opendrs.api import context, metrics
from opendrs.api.responses import Json
from opendrs.domain import errors
from opendrs.domain.errors import OpendrsError, Text

router = APIRouter(tags=["opendrs monitoring"])
metrics_router = APIRouter(include_in_schema=False)  # not under the /drs alias: it is no DRS API

_BEARER = Text("/metrics needs Authorization: Bearer <metrics token>", "/metrics需要Authorization: Bearer <指标令牌>")


class HistorySample(BaseModel):
    time: int  # epoch ms
    lag_seconds: float | None  # None outside the incremental phase
    rows_per_second: int
    rows_transferred: int


class HistoryEvent(BaseModel):
    time: int
    level: str  # error (ended the task) | warning (retried)
    error_code: str | None
    message: str


class TaskHistory(BaseModel):
    job_id: str
    samples: list[HistorySample]
    errors: list[HistoryEvent]


@router.get(
    "/v3/{project_id}/jobs/{job_id}/history",
    responses={200: {"model": TaskHistory}},
    summary="opendrs: the task's lag and rows/s over the last hour (sampled every few seconds) and its failures",
)
def task_history(project_id: str, job_id: str, request: Request) -> Json:
    found = context.services(request).monitoring.history(project_id, job_id)
    samples = [
        {
            "time": sample.at,
            "lag_seconds": None if sample.lag_ms is None else sample.lag_ms / 1000,
            "rows_per_second": sample.rows_per_second,
            "rows_transferred": sample.rows_transferred,
        }
        for sample in found.samples
    ]
    events = [
        {"time": event.at, "level": event.level, "error_code": event.error_code, "message": event.message}
        for event in found.events
    ]
    return Json({"job_id": job_id, "samples": samples, "errors": events})


@metrics_router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    token: str | None = request.app.state.metrics_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise OpendrsError(errors.UNAUTHENTICATED, reason=_BEARER)
    totals = await anyio.to_thread.run_sync(context.services(request).monitoring.totals)
    return Response(metrics.exposition(totals), media_type=metrics.CONTENT_TYPE)

"""What every batch endpoint shares: the per-job result, and the checks on a list of job ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from opendrs.api import context
from opendrs.api.responses import error_body
from opendrs.domain import errors
from opendrs.domain.errors import Language, OpendrsError, Text
from opendrs.service.tasks import Outcome

_TOO_MANY = Text("must name at most {limit} jobs", "最多{limit}个任务")


def job_result(outcome: Outcome, language: Language) -> dict[str, Any]:
    """The generic per-job result of a batch mutation (spec/API.md 1.9)."""
    if outcome.error is None:
        return {"id": outcome.id, "status": "success"}
    return {"id": outcome.id, "status": "failed", **error_body(outcome.error, language)}


def check_count(items: Sequence[object], request: Request) -> None:
    limit = context.services(request).max_batch_ids
    if len(items) > limit:
        raise OpendrsError(errors.PARAMETER_INVALID, field="jobs", hint=_TOO_MANY(limit=limit))


def unique_ids(job_ids: list[str], request: Request) -> list[str]:
    check_count(job_ids, request)
    seen: set[str] = set()
    for job_id in job_ids:
        if job_id in seen:
            raise OpendrsError(errors.DUPLICATES, field="jobs", value=job_id)
        seen.add(job_id)
    return job_ids

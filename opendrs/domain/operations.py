"""Asynchronous operations (the ECS job contract): one per batch request, one sub-job per task touched."""

from __future__ import annotations

import dataclasses

from opendrs.domain.states import OperationStatus, TaskStatus


@dataclasses.dataclass(frozen=True)
class SubJob:
    id: str
    job_type: str
    task_id: str | None
    status: OperationStatus
    begin_time: int
    end_time: int | None
    error_code: str | None
    fail_reason: str | None


@dataclasses.dataclass(frozen=True)
class Operation:
    id: str
    project_id: str
    job_type: str
    status: OperationStatus
    begin_time: int
    end_time: int | None
    error_code: str | None
    fail_reason: str | None
    sub_jobs: tuple[SubJob, ...]


@dataclasses.dataclass(frozen=True)
class PlannedSubJob:
    """A sub-job to record: it succeeds when its task reaches `success_status`, fails at `failure_status`.

    A sub-job with an `error_code` failed at once (the request was refused for that task)."""

    job_type: str
    task_id: str | None
    success_status: TaskStatus | None = None
    failure_status: TaskStatus | None = None
    error_code: str | None = None
    fail_reason: str | None = None


def overall_status(sub_statuses: list[OperationStatus]) -> OperationStatus:
    """FAIL once every sub-job is done and one failed; SUCCESS when all succeeded; RUNNING otherwise."""
    if any(status in (OperationStatus.INIT, OperationStatus.RUNNING) for status in sub_statuses):
        return OperationStatus.RUNNING
    if any(status is OperationStatus.FAIL for status in sub_statuses):
        return OperationStatus.FAIL
    return OperationStatus.SUCCESS

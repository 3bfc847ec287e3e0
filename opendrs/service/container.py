"""The use cases the API is given, built once by opendrs.bootstrap."""

from __future__ import annotations

import dataclasses

from opendrs.service.async_jobs import AsyncJobService
from opendrs.service.iam import IamService
from opendrs.service.lifecycle import LifecycleService
from opendrs.service.monitoring import MonitoringService
from opendrs.service.operations import OperationService
from opendrs.service.tasks import TaskService


@dataclasses.dataclass(frozen=True)
class Services:
    iam: IamService
    tasks: TaskService
    lifecycle: LifecycleService
    async_jobs: AsyncJobService
    operations: OperationService
    monitoring: MonitoringService
    max_batch_ids: int
    public_url: str | None

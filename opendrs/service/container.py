"""The use cases the API is given, built once by opendrs.bootstrap."""

from __future__ import annotations

import dataclasses

from opendrs.service.async_jobs import AsyncJobService
from opendrs.service.compare import CompareService
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
    compare: CompareService
    monitoring: MonitoringService
    max_batch_ids: int
    public_url: str | None
    # True on SQLite: its reads are local and take a fraction of a millisecond, less than the hop to a thread.
    reads_inline: bool = False

"""What the console and /metrics read about running tasks: recent samples, failures, totals."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import sqlalchemy as sa

from opendrs.domain import errors
from opendrs.domain.errors import OpendrsError
from opendrs.domain.tasks import Sample, TaskEvent, TaskTotals
from opendrs.domain.times import now_ms
from opendrs.store import database, history
from opendrs.store import tasks as task_store

HISTORY_MS = 3_600_000  # what the history shows: the last hour


@dataclasses.dataclass(frozen=True)
class History:
    samples: list[Sample]
    events: list[TaskEvent]


class MonitoringService:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def history(self, project_id: str, job_id: str) -> History:
        """The task's samples of the last hour and its failures; DRS.M05003 for a task not in the project."""
        with database.reading(self._engine) as connection:
            if job_id not in task_store.statuses(connection, project_id, [job_id]):
                raise OpendrsError(errors.TASK_NOT_FOUND, id=job_id)
            samples = history.samples(connection, job_id, now_ms() - HISTORY_MS)
            events = history.events(connection, [job_id]).get(job_id, [])
        return History(samples, events)

    def events(self, task_ids: Sequence[str]) -> dict[str, list[TaskEvent]]:
        """Failures of tasks already found for the caller's project."""
        with database.reading(self._engine) as connection:
            return history.events(connection, task_ids)

    def totals(self) -> list[TaskTotals]:
        with database.reading(self._engine) as connection:
            return history.totals(connection)

"""The worker: acts on what the API recorded. Runs in `opendrs serve` or as `opendrs worker` processes.

Each pass is a few short transactions, each safe to run on several workers at once: every status
change is a guarded transition, so two workers never both apply the same one.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

import sqlalchemy as sa

from opendrs.domain import async_jobs as async_domain
from opendrs.domain.async_jobs import Entry
from opendrs.domain.states import AsyncJobStatus, Event, TaskStatus
from opendrs.domain.times import now_ms
from opendrs.store import async_jobs as async_store
from opendrs.store import database
from opendrs.store import operations as operation_store
from opendrs.store import tasks as task_store

log = logging.getLogger(__name__)

BATCH = 200  # most records one pass handles per kind; the next pass takes the rest


class Worker:
    def __init__(self, engine: sa.Engine, poll_seconds: float, operation_retention_seconds: float) -> None:
        self._engine = engine
        self._poll_seconds = poll_seconds
        self._operation_retention_ms = int(operation_retention_seconds * 1000)
        self._stopping = threading.Event()

    def run(self) -> None:
        log.info("worker started", extra={"action": "worker_start"})
        while not self._stopping.is_set():
            try:
                busy = self.run_once()
            except sa.exc.SQLAlchemyError:
                log.exception("worker pass failed; retrying", extra={"action": "worker_pass_failed"})
                busy = False
            if not busy:
                self._stopping.wait(self._poll_seconds)
        log.info("worker stopped", extra={"action": "worker_stop"})

    def stop(self) -> None:
        self._stopping.set()

    def run_once(self) -> bool:
        """One pass over every kind of pending work; True if anything was done.

        Each kind is looked for with a read first, so an idle worker never takes SQLite's write lock.
        """
        done = self._provision() + self._release()
        done += self._validate_async_jobs()
        done += self._settle_operations()
        return done > 0

    def _provision(self) -> int:
        """CREATING -> CONFIGURATION: a self-hosted task needs no instance, only a complete record."""
        return self._apply_to_all(TaskStatus.CREATING, Event.PROVISIONED)

    def _release(self) -> int:
        """RELEASE_RESOURCE_STARTED -> COMPLETE once nothing runs the task any more."""
        return self._apply_to_all(TaskStatus.RELEASE_RESOURCE_STARTED, Event.RELEASED)

    def _apply_to_all(self, status: TaskStatus, event: Event) -> int:
        with self._engine.connect() as connection:
            task_ids = task_store.ids_in_status(connection, status, BATCH)
        moved = 0
        if not task_ids:
            return moved
        with database.writing(self._engine) as connection:
            for task_id in task_ids:
                if task_store.transition(connection, None, task_id, event, now_ms()) is not None:
                    moved += 1
                    log.info("task %s: %s", task_id, event.value, extra={"action": event.value, "task_id": task_id})
        return moved

    def _settle_operations(self) -> int:
        now = now_ms()
        with self._engine.connect() as connection:
            pending = operation_store.has_pending(connection)
            expired = operation_store.has_finished_before(connection, now - self._operation_retention_ms)
        if not (pending or expired):
            return 0
        with database.writing(self._engine) as connection:
            operation_store.purge_finished_before(connection, now - self._operation_retention_ms)
            return operation_store.settle(connection, now) if pending else 0

    def _validate_async_jobs(self) -> int:
        with self._engine.connect() as connection:
            waiting = async_store.ids_in_status(connection, AsyncJobStatus.VALIDATING, BATCH)
        validated = 0
        if not waiting:
            return validated
        with database.writing(self._engine) as connection:
            for project_id, async_job_id in waiting:
                job = async_store.get(connection, project_id, async_job_id)
                if job is None:
                    continue
                entries = _validated_entries(connection, project_id, job.entries)
                failed = any(entry.problems for entry in entries)
                status = AsyncJobStatus.VALIDATE_FAILED if failed else AsyncJobStatus.VALIDATE_SUCCESS
                checked = dataclasses.replace(job, status=status, entries=entries)
                if async_store.save(connection, checked, AsyncJobStatus.VALIDATING):
                    validated += 1
        return validated


def _validated_entries(connection: sa.Connection, project_id: str, entries: tuple[Entry, ...]) -> tuple[Entry, ...]:
    names = [(entry.spec.get("base_info") or {}).get("name") for entry in entries]
    taken = task_store.taken_names(connection, project_id, [name for name in names if isinstance(name, str)])
    checked = []
    for position, entry in enumerate(entries):
        # A name used by an earlier job of the same batch counts as taken too.
        earlier = {name.lower() for name in names[:position] if isinstance(name, str)}
        problems = async_domain.validate(entry.spec, taken | earlier)
        checked.append(
            Entry(entry.id, entry.spec, entry.secrets, [dataclasses.asdict(problem) for problem in problems])
        )
    return tuple(checked)

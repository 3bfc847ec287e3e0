"""The worker: acts on what the API recorded. Runs in `opendrs serve` or as `opendrs worker` processes.

Each pass is a few short transactions, each safe to run on several workers at once: every status
change is a guarded transition, so two workers never both apply the same one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from opendrs import doorbell, logs
from opendrs.connectors.mysql import chunks
from opendrs.domain import async_jobs as async_domain
from opendrs.domain.async_jobs import Entry
from opendrs.domain.prechecks import Precheck
from opendrs.domain.states import INCREMENTAL, AsyncJobStatus, Event, TaskStatus
from opendrs.domain.tasks import Sample
from opendrs.domain.times import now_ms
from opendrs.engine import final_objects, phases, prechecks
from opendrs.engine.compare import CompareRunner
from opendrs.engine.runner import Runner
from opendrs.keys import Keys
from opendrs.store import async_jobs as async_store
from opendrs.store import checkpoints, database, history, leases
from opendrs.store import operations as operation_store
from opendrs.store import prechecks as precheck_store
from opendrs.store import tasks as task_store

log = logging.getLogger(__name__)

BATCH = 200  # most records one pass handles per kind; the next pass takes the rest
CLAIM_EVERY_MS = 1000  # how often a worker with room looks for a task to claim
SAMPLES_KEPT_MS = 65 * 60 * 1000  # the console charts the last hour; a little more is kept
# A busy worker leaves a new task this long to idle ones (each looks once in CLAIM_EVERY_MS) before it takes it.
NEW_TASK_HEADSTART_MS = 2 * CLAIM_EVERY_MS


@dataclasses.dataclass(frozen=True)
class WorkerSettings:
    poll_seconds: float
    operation_retention_seconds: float
    max_tasks: int
    lease_ttl_seconds: float
    retry_window_seconds: float
    copy_chunk_rows: int
    sample_seconds: float = 5.0


class Worker:
    def __init__(self, engine: sa.Engine, keys: Keys, settings: WorkerSettings, bell_name: str | None = None) -> None:
        self._engine = engine
        self._keys = keys
        self._settings = settings
        self._poll_seconds = settings.poll_seconds
        self._operation_retention_ms = int(settings.operation_retention_seconds * 1000)
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._runners: dict[str, tuple[Runner, threading.Thread]] = {}
        self._last_claim_look = 0
        self._last_sample = 0
        self._last_rows: dict[str, tuple[int, int]] = {}  # task id -> (sampled at, rows transferred then)
        self._stopping = threading.Event()
        self._bell_name = bell_name  # the doorbell the API rings when it gives workers work (opendrs/doorbell.py)
        self._hears_bell = False  # whether this worker listens on it (one per store and host does)
        self._nudged = threading.Event()  # a thread of this worker asked for a pass now (see _then_nudge)
        self._next_start: int | None = None  # the earliest start_time still to come (epoch ms), as last seen
        # Prechecks wait on remote servers (connection timeouts): they run beside the loop, not in it.
        self._checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="opendrs-precheck")
        self._compares = CompareRunner(engine, keys, self.worker_id, settings.lease_ttl_seconds, self._nudge)

    def run(self) -> None:
        log.info("worker started", extra={"action": "worker_start"})
        with doorbell.listening(self._bell_name) if self._bell_name else contextlib.nullcontext() as bell:
            self._hears_bell = bell is not None
            # Without the bell (another worker of the store listens on this host), only this worker's nudges wake it.
            wake = self._nudged if bell is None else bell
            woken = True
            while not self._stopping.is_set():
                self._nudged.clear()  # a nudge from here on is for a pass after this one
                try:
                    busy = self.run_once(woken)
                except sa.exc.SQLAlchemyError:
                    log.exception("worker pass failed; retrying", extra={"action": "worker_pass_failed"})
                    busy = False
                # A pass that changed something (a scheduled start, say) is followed by a full one at once.
                woken = busy or wake.wait(self._wait_seconds())
        log.info("worker stopped", extra={"action": "worker_stop"})

    def stop(self) -> None:
        """Stop every running task at its next step and wait for them (they keep their checkpoints)."""
        self._stopping.set()
        self._nudge()  # out of its wait now, not at its next poll
        self._checks.shutdown(wait=False, cancel_futures=True)
        self._compares.stop()
        for runner, _ in self._runners.values():
            runner.stop.set()
        for _, thread in self._runners.values():
            thread.join(timeout=self._settings.lease_ttl_seconds)

    def _wait_seconds(self) -> float:
        """Until the next poll, or the next start_time if that comes first: a scheduled start is on time. (One that
        has come already was seen by the pass just made, and started unless another worker was quicker.)"""
        until = None if self._next_start is None else (self._next_start - now_ms()) / 1000
        return self._poll_seconds if until is None or until <= 0 else min(self._poll_seconds, until)

    def _nudge(self) -> None:
        self._nudged.set()
        if self._hears_bell and self._bell_name:
            doorbell.ring(self._bell_name)

    def _then_nudge(self, work: Callable[..., None]) -> Callable[..., None]:
        """`work` (a thread's), then a pass at once: when a task's thread ends, its lease is free (a stop may be
        released, the task claimed again) and operations may settle; the loop's next poll may be a second away."""

        def run(*args: Any) -> None:
            try:
                work(*args)
            finally:
                self._nudge()

        return run

    def run_once(self, woken: bool = True) -> bool:
        """One pass over every kind of pending work; True if anything was done. `woken`: the pass was asked for (a
        command through the API, a thread of this worker that ended, a pass that did something), not a poll.

        Each kind is looked for with a read first, so an idle worker never takes SQLite's write lock.
        """
        done = self._provision() + self._release() + self._start_scheduled() + self._run_tasks(woken)
        done += self._run_prechecks() + self._compares.run_once()
        done += self._validate_async_jobs()
        done += self._settle_operations()
        self._sample()
        return done > 0

    def _provision(self) -> int:
        """CREATING -> CONFIGURATION: a self-hosted task needs no instance, only a complete record."""
        return self._apply_to_all(TaskStatus.CREATING, Event.PROVISIONED)

    def _release(self) -> int:
        """RELEASE_RESOURCE_STARTED -> COMPLETE once no worker holds the task any more; a task stopped normally
        after it replicated gets its triggers and events on the target first (engine.final_objects), beside the
        loop: it waits on the servers."""
        with self._engine.connect() as connection:
            task_ids = leases.unleased(connection, TaskStatus.RELEASE_RESOURCE_STARTED, now_ms(), BATCH)
            pending = checkpoints.final_objects_pending(connection, task_ids)
        done = self._apply([task_id for task_id in task_ids if task_id not in pending], Event.RELEASED)
        ttl_ms = int(self._settings.lease_ttl_seconds * 1000)
        for task_id in pending:
            with database.writing(self._engine) as connection:
                lease = leases.claim_stopping(connection, task_id, self.worker_id, now_ms(), ttl_ms)
            if lease is not None:
                self._checks.submit(self._then_nudge(final_objects.run), self._engine, self._keys, lease, ttl_ms)
                done += 1
        return done

    def _run_tasks(self, woken: bool) -> int:
        """Claim runnable tasks nobody holds, up to this worker's limit; each runs in its own thread."""
        self._runners = {task_id: entry for task_id, entry in self._runners.items() if entry[1].is_alive()}
        room = self._settings.max_tasks - len(self._runners)
        now = now_ms()
        if room <= 0 or self._stopping.is_set():
            return 0
        # Looking for work scans every running task's lease: once a second is often enough, except at once when
        # woken (a task the user just started or resumed, a lease this worker let go).
        if not woken and now - self._last_claim_look < CLAIM_EVERY_MS:
            return 0
        self._last_claim_look = now
        with self._engine.connect() as connection:
            candidates = [
                found for found in leases.claimable(connection, now, room) if found.task_id not in self._runners
            ]
            others = leases.held_by_owner(connection, now) if candidates else {}
        others.pop(self.worker_id, None)
        started = 0
        for candidate in fair_claims(candidates, len(self._runners), room, others, now):
            task_id = candidate.task_id
            ttl_ms = int(self._settings.lease_ttl_seconds * 1000)
            with database.writing(self._engine) as connection:
                lease = leases.claim(connection, task_id, candidate.version, self.worker_id, now, ttl_ms)
            if lease is None:
                continue  # another worker was quicker
            runner = Runner(
                self._engine,
                self._keys,
                lease,
                phases.PHASES,
                ttl_ms,
                self._settings.retry_window_seconds,
                chunks.ChunkSize(rows=self._settings.copy_chunk_rows),
            )
            thread = threading.Thread(target=self._then_nudge(runner.run), name=f"task-{task_id}", daemon=True)
            self._runners[task_id] = (runner, thread)
            thread.start()
            started += 1
            log.info("task %s claimed by %s", task_id, self.worker_id, extra={"task_id": task_id})
        return started

    def _sample(self) -> None:
        """Every few seconds, the lag and rows/s of each task this worker runs, for the last hour's chart."""
        now = now_ms()
        if now - self._last_sample < self._settings.sample_seconds * 1000:
            return
        self._last_sample = now
        running = [task_id for task_id, (_, thread) in self._runners.items() if thread.is_alive()]
        cutoff = now - SAMPLES_KEPT_MS
        with self._engine.connect() as connection:
            measured = history.current(connection, running)
            stale = history.has_samples_before(connection, cutoff)
        samples: dict[str, Sample] = {}
        for task_id, (status, lag_ms, rows) in measured.items():
            previous = self._last_rows.get(task_id)
            rate = 0 if previous is None else max(0, (rows - previous[1]) * 1000 // max(1, now - previous[0]))
            samples[task_id] = Sample(now, lag_ms if status in INCREMENTAL else None, rate, rows)
        self._last_rows = {task_id: (now, sample.rows_transferred) for task_id, sample in samples.items()}
        if not (samples or stale):
            return  # an idle worker never takes SQLite's write lock
        with database.writing(self._engine) as connection:
            history.add_samples(connection, samples)
            if stale:
                history.prune_samples(connection, cutoff)

    def _start_scheduled(self) -> int:
        """WAITING_FOR_START -> STARTJOBING once the start_time has come."""
        now = now_ms()
        with self._engine.connect() as connection:
            self._next_start = task_store.next_schedule(connection)
            if self._next_start is None or self._next_start > now:
                return 0
            due = task_store.due_schedules(connection, now, BATCH)
        if not due:
            return 0
        with database.writing(self._engine) as connection:
            started = [
                task_id
                for task_id in due
                if task_store.transition(connection, None, task_id, Event.START, now, actual_start_time=now)
            ]
        return len(started)

    def _run_prechecks(self) -> int:
        with self._engine.connect() as connection:
            waiting = precheck_store.pending(connection, BATCH)
        claimed = 0
        for precheck in waiting:
            with database.writing(self._engine) as connection:
                if not precheck_store.claim(connection, precheck.id):
                    continue
            claimed += 1
            self._checks.submit(self._precheck, precheck)
        return claimed

    def _precheck(self, precheck: Precheck) -> None:
        logs.task_id.set(precheck.task_id)
        try:
            prechecks.run(self._engine, self._keys, precheck)
        except Exception:
            # The precheck stays "running" and the user sees no result: log why, loudly.
            log.exception("precheck %s failed to run", precheck.id, extra={"task_id": precheck.task_id})

    def _apply_to_all(self, status: TaskStatus, event: Event) -> int:
        with self._engine.connect() as connection:
            task_ids = task_store.ids_in_status(connection, status, BATCH)
        return self._apply(task_ids, event)

    def _apply(self, task_ids: list[str], event: Event) -> int:
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
                # Locked, and checked again: a PUT may have changed the specs since the look.
                job = async_store.get(connection, project_id, async_job_id, for_update=True)
                if job is None or job.status is not AsyncJobStatus.VALIDATING:
                    continue
                entries = _validated_entries(connection, project_id, job.entries)
                failed = any(entry.problems for entry in entries)
                status = AsyncJobStatus.VALIDATE_FAILED if failed else AsyncJobStatus.VALIDATE_SUCCESS
                checked = dataclasses.replace(job, status=status, entries=entries)
                if async_store.save(connection, checked, AsyncJobStatus.VALIDATING):
                    validated += 1
        return validated


def fair_claims(
    candidates: Sequence[leases.Claimable], mine: int, room: int, others: Mapping[str, int], now: int
) -> list[leases.Claimable]:
    """Which of the claimable tasks this worker takes now, so that tasks spread over the workers.

    `others`: the other live workers (those holding a lease) and their load. A worker takes tasks up to its fair
    share of all running and claimable ones; a worker already running something takes a new task only after it
    was left to idle workers for NEW_TASK_HEADSTART_MS (an idle worker holds no lease, so it is not seen)."""
    total = mine + sum(others.values()) + len(candidates)
    share = -(-total // (len(others) + 1))
    taken: list[leases.Claimable] = []
    for candidate in candidates:
        held = mine + len(taken)
        if held >= min(share, mine + room):
            break
        if held and candidate.version == 0 and now - candidate.changed_at < NEW_TASK_HEADSTART_MS:
            continue
        taken.append(candidate)
    return taken


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

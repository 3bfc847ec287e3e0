"""Runs one leased task through its phases: STARTJOBING -> full transfer -> incremental.

The phase is read from the store every time (never remembered): a task resumed by another worker, or
after a crash, carries on from what its checkpoints say. A heartbeat keeps the lease and notices when the
user paused or stopped the task, or when the lease was lost; the phase then stops at its next step.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from opendrs import logs
from opendrs.connectors.mysql.chunks import ChunkSize
from opendrs.domain import errors
from opendrs.domain.errors import ErrorCode
from opendrs.domain.states import Event, TaskStatus
from opendrs.domain.tasks import Task
from opendrs.domain.times import now_ms
from opendrs.engine.endpoints import Wiring, wiring
from opendrs.keys import Keys
from opendrs.store import database, history, leases
from opendrs.store import tasks as task_store
from opendrs.store.leases import Lease, LeaseLostError

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0  # at most this long between lease renewals (and checks for pause or stop)

# Where a failure in each status leads.
_FAILURE_EVENTS = {
    TaskStatus.STARTJOBING: Event.START_FAILED,
    TaskStatus.FULL_TRANSFER_STARTED: Event.FULL_FAILED,
    TaskStatus.FULL_TRANSFER_COMPLETE: Event.INCREMENTAL_FAILED,
    TaskStatus.INCRE_TRANSFER_STARTED: Event.INCREMENTAL_FAILED,
}


class StopRequestedError(Exception):
    """The task must stop running here: paused, stopped, or its lease is gone."""


class FencedError(StopRequestedError):
    """The target refused our write: another worker took the task over. Stop, touching nothing more."""


class TransferError(Exception):
    """A failure that ends the phase, with the contract error to show on the task."""

    def __init__(self, code: ErrorCode, reason: str, *, retriable: bool) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.retriable = retriable


class TaskContext:
    """What a phase works with: the task, its endpoints, fenced writes, and the stop signal."""

    def __init__(
        self, engine: sa.Engine, keys: Keys, lease: Lease, stop: threading.Event, chunk_size: ChunkSize
    ) -> None:
        self.engine = engine
        self.keys = keys
        self.lease = lease
        self.stop = stop
        self.chunk_size = chunk_size  # of the full copy's key-range chunks
        self.task = self.reload()
        with engine.connect() as connection:
            self.wiring: Wiring = wiring(self.task, task_store.secrets_of(connection, self.task.id), keys)

    def reload(self) -> Task:
        with self.engine.connect() as connection:
            found = task_store.get_many_by_id(connection, [self.lease.task_id]).get(self.lease.task_id)
        if found is None:
            raise StopRequestedError("the task is gone")
        self.task = found
        return found

    @contextlib.contextmanager
    def fenced(self) -> Iterator[sa.Connection]:
        """A write transaction that commits only while this worker still holds the lease."""
        with database.writing(self.engine) as connection:
            leases.check(connection, self.lease)
            yield connection

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise StopRequestedError("stop requested")

    def move(self, event: Event, **values: object) -> TaskStatus:
        with self.fenced() as connection:
            moved = task_store.transition(connection, None, self.task.id, event, now_ms(), **values)
        if moved is None:
            raise StopRequestedError(f"{event.value} no longer applies")
        log.info("task %s: %s -> %s", self.task.id, event.value, moved.value, extra={"task_id": self.task.id})
        return moved


Phase = Callable[[TaskContext], None]


class Runner:
    """Runs one task while this worker holds its lease. `phases` maps a status to the work done in it."""

    def __init__(
        self,
        engine: sa.Engine,
        keys: Keys,
        lease: Lease,
        phases: dict[TaskStatus, Phase],
        lease_ttl_ms: int,
        retry_window_seconds: float,
        chunk_size: ChunkSize,
    ) -> None:
        self._engine = engine
        self._chunk_size = chunk_size
        self._keys = keys
        self._lease = lease
        self._phases = phases
        self._ttl_ms = lease_ttl_ms
        self._retry_window = retry_window_seconds
        self.stop = threading.Event()
        self._heartbeat_stop = threading.Event()
        self._extra = {"task_id": lease.task_id}

    def run(self) -> None:
        logs.task_id.set(self._lease.task_id)  # every line this thread logs names the task
        # The heartbeat thread starts with this context, so its lines name the task too.
        heartbeat = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._heartbeat,),
            name=f"lease-{self._lease.task_id}",
            daemon=True,
        )
        heartbeat.start()
        try:
            self._run_phases()
            if self.stop.is_set():  # seen between two attempts of a phase
                log.info("task %s stops: stop requested", self._lease.task_id, extra=self._extra)
        except (FencedError, LeaseLostError) as lost:
            log.warning("task %s stops, lease lost: %s", self._lease.task_id, lost, extra=self._extra)
        except StopRequestedError as stopped:
            log.info("task %s stops: %s", self._lease.task_id, stopped, extra=self._extra)
        finally:
            self._heartbeat_stop.set()
            heartbeat.join()
            with database.writing(self._engine) as connection:
                leases.release(connection, self._lease)

    def _run_phases(self) -> None:
        failures_since: float | None = None
        while not self.stop.is_set():
            context = TaskContext(self._engine, self._keys, self._lease, self.stop, self._chunk_size)
            status = context.task.status
            phase = self._phases.get(status)
            if phase is None:
                return
            try:
                phase(context)
                failures_since = None
                if context.reload().status is status:
                    return  # the phase had nothing to do here (e.g. a full-only task is complete)
            except TransferError as failure:
                failures_since = failures_since or time.monotonic()
                if failure.retriable and time.monotonic() - failures_since < self._retry_window:
                    task_id = context.task.id
                    log.warning("task %s: %s; retrying", task_id, failure.reason)
                    self._record(context, failure, "warning")
                    self.stop.wait(min(30.0, 1.0 + time.monotonic() - failures_since))
                    continue
                self._fail(context, failure)
                return
            except (StopRequestedError, LeaseLostError, sa.exc.SQLAlchemyError):
                raise  # not the task's failure: the store decides who runs it, and from which checkpoint
            except Exception as exc:
                # A defect, or an error no phase knows: fail the task with its cause rather than let the thread
                # die, the lease go and this worker claim the task again at once, in a loop the user never sees.
                log.exception("task %s: unexpected error", context.task.id)
                self._fail(context, TransferError(errors.TRANSFER_FAILED, f"internal error: {exc!r}", retriable=False))
                return

    def _fail(self, context: TaskContext, failure: TransferError) -> None:
        event = _FAILURE_EVENTS.get(context.task.status)
        log.error("task %s failed: %s", context.task.id, failure.reason)
        self._record(context, failure, "error")
        if event is not None:
            message = failure.code.render(errors.Language.EN, {"reason": failure.reason})
            context.move(event, error_code=failure.code.code, error_msg=message)

    def _record(self, context: TaskContext, failure: TransferError, level: str) -> None:
        """Keep the failure in the task's history (the console's error list, the error count of /metrics)."""
        message = failure.code.render(errors.Language.EN, {"reason": failure.reason})
        with context.fenced() as connection:
            history.record_event(connection, context.task.id, now_ms(), level, failure.code.code, message)

    def _heartbeat(self) -> None:
        """Renew the lease; stop the task when it is no longer ours to run (paused, stopped, taken over)."""
        # Renewing often also notices a pause or stop quickly; a third of the TTL leaves two chances to renew.
        while not self._heartbeat_stop.wait(min(self._ttl_ms / 3000, HEARTBEAT_SECONDS)):
            try:
                with database.writing(self._engine) as connection:
                    status = leases.renew(connection, self._lease, now_ms(), self._ttl_ms)
            except LeaseLostError as lost:
                log.warning("task %s: lease lost, stopping: %s", self._lease.task_id, lost, extra=self._extra)
                self.stop.set()
                return
            except sa.exc.SQLAlchemyError:
                log.warning("lease renewal failed; retrying", exc_info=True, extra={"task_id": self._lease.task_id})
                continue
            if status not in self._phases:
                self.stop.set()

"""The incremental phase: binlog -> target, exactly once, with true lag.

Where to start: the checkpoint on the target (written with the data it covers) or, on the first run, the
position the full copy's snapshot was taken at. Until the stream passes the last snapshot a resumed copy
was taken at, changes are applied idempotently (the copy may already hold them); tables copied whole in a
later snapshot skip the changes that copy already contains.

Before it reads the checkpoint, the phase raises the task's fence on the target to its lease version: a worker
that held the task before can no longer commit anything there (connectors/mysql/fences.py).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from opendrs.connectors.mysql import errors as mysql_errors
from opendrs.connectors.mysql import fences, interrupt, xa_capture
from opendrs.connectors.mysql.applier import Applier, load_checkpoint
from opendrs.connectors.mysql.positions import start_position
from opendrs.connectors.mysql.snapshot import PreparedXaError
from opendrs.connectors.mysql.streaming import BinlogStream, Heartbeat
from opendrs.domain import errors
from opendrs.domain.errors import ErrorCode
from opendrs.domain.replication import (
    BinlogPosition,
    Endpoint,
    TableRef,
    Transaction,
    position_key,
)
from opendrs.domain.tasks import Progress
from opendrs.domain.times import now_ms
from opendrs.engine.runner import FencedError, TaskContext, TransferError
from opendrs.faults import crash_point
from opendrs.store import checkpoints, history
from opendrs.store import tasks as task_store

log = logging.getLogger(__name__)
T = TypeVar("T")

PROGRESS_EVERY = 1.0  # seconds between progress reports


def capture_start(context: TaskContext) -> None:
    """For an incremental-only task: start from the source's position now, remembered once. The changes of the XA
    transactions prepared there are kept on the target first (xa_capture.py): after a crash in between, the next
    run reads a new start and keeps its own instead."""
    source, target = endpoints(context)
    task_id = context.task.id
    with context.engine.connect() as connection:
        state = checkpoints.load_state(connection, task_id)
    if "start_position" in state:
        return
    server_id = server_id_for(task_id, context.lease.version)
    try:
        start = guard(lambda: start_position(source), errors.SOURCE_FAILED)
    except PreparedXaError as exc:  # they end soon, as a rule: try again
        raise TransferError(errors.SOURCE_FAILED, str(exc), retriable=True) from exc
    changes = guard(
        lambda: xa_capture.prepared_changes(
            source, start.since, start.position, start.prepared, context.wiring.selection, server_id
        ),
        errors.SOURCE_FAILED,
    )
    guard(lambda: xa_capture.keep(target, target_fence(context), changes), errors.TARGET_FAILED)
    if start.prepared:
        log.info(
            "task %s: %d XA transaction(s) prepared at the start, %d with changes kept on the target",
            task_id, len(start.prepared), len(changes),
            extra={"task_id": task_id},
        )  # fmt: skip
    with context.fenced() as connection:
        checkpoints.save_state(connection, task_id, {**state, "start_position": start.position.encode()}, now_ms())


def run(context: TaskContext) -> None:
    """Stream and apply until the task is paused, stopped or fails."""
    source, target = endpoints(context)
    task = context.task
    with context.engine.connect() as connection:
        state = checkpoints.load_state(connection, task.id)
    fence = target_fence(context)
    guard(lambda: fences.raise_fence(target, fence), errors.TARGET_FAILED)
    checkpoint = guard(lambda: load_checkpoint(target, task.id), errors.TARGET_FAILED)
    start = checkpoint or BinlogPosition.decode(state["start_position"])
    idempotent_until = _position_or_none(state.get("idempotent_until"))
    skips = {TableRef(*key.split(".", 1)): BinlogPosition.decode(at) for key, at in state.get("copied_at", {}).items()}
    selection = context.wiring.selection
    log.info("task %s: incremental from %s", task.id, start, extra={"task_id": task.id})
    reporter = _Reporter(context)
    objects_read_at = _position_or_none(state.get("objects_read_at"))
    applier = Applier(
        target,
        task.id,
        selection,
        fence=fence,
        stop=context.stop,
        objects_read_at=objects_read_at,
        copied_at={selection.target_of(table): at for table, at in skips.items()},
    )
    server_id = server_id_for(task.id, context.lease.version)
    with contextlib.closing(applier), BinlogStream(source, start, selection, server_id) as stream:
        guard(applier.load_checkpoint, errors.TARGET_FAILED)  # connects now: a lost target fails as the target
        crash_point("incremental.stream_opened")
        for item in _from_source(stream.batches()):
            context.check_stop()
            try:
                if isinstance(item, Heartbeat):
                    applier.advance(item.position)
                    reporter.caught_up(item.time)
                else:
                    for part, idempotent in _split_at(item, idempotent_until):
                        applier.idempotent = idempotent
                        result = applier.apply(part)
                        reporter.applied(result.rows, result.commit_time)
            except mysql_errors.ReplicationError as exc:
                if interrupt.was_interrupted(exc.__cause__):
                    context.check_stop()  # a stop ended a long DDL: it rolled back, the resumed task runs it again
                raise _transfer_error(exc, errors.TARGET_FAILED) from exc
            reporter.maybe_report()


def _from_source(items: Iterator[list[Transaction] | Heartbeat]) -> Iterator[list[Transaction] | Heartbeat]:
    """The stream's items; its failures are the source's."""
    try:
        yield from items
    except mysql_errors.ReplicationError as exc:
        raise _transfer_error(exc, errors.SOURCE_FAILED) from exc


def target_fence(context: TaskContext) -> fences.Fence:
    """The fence of this worker's writes to the target: the lease version is the fencing token."""
    return fences.Fence(context.task.id, context.lease.version)


def endpoints(context: TaskContext) -> tuple[Endpoint, Endpoint]:
    source, target = context.wiring.source, context.wiring.target
    if source is None or target is None:
        missing = "source" if source is None else "target"
        reason = f"the {missing} endpoint has no ip: set it with batch-modification"
        raise TransferError(errors.TRANSFER_FAILED, reason, retriable=False)
    return source, target


def server_id_for(task_id: str, lease_version: int) -> int:
    """A replica server_id of the task's lease holder, far from ones people choose. Each holder has its own: a
    worker that lost the task but still holds its binlog connection (a frozen process) would make the source
    refuse or stall a new connection with the same id until that one times out."""
    return 1_000_000_000 + zlib.crc32(f"{task_id}#{lease_version}".encode()) % 1_000_000_000


def _split_at(
    batch: list[Transaction], idempotent_until: BinlogPosition | None
) -> list[tuple[list[Transaction], bool]]:
    """The batch in runs to apply idempotently (True) or not: those that end at or before `idempotent_until`
    may already be in a resumed copy. A batch that straddles it must not be applied strictly as a whole: its
    early transactions would meet their own rows (duplicate keys, updates that change nothing)."""
    if idempotent_until is None:
        return [(batch, False)]
    until = position_key(idempotent_until)
    early = list(itertools.takewhile(lambda transaction: position_key(transaction.end) <= until, batch))
    late = batch[len(early) :]
    return [(part, idempotent) for part, idempotent in ((early, True), (late, False)) if part]


def _position_or_none(data: Mapping[str, object] | None) -> BinlogPosition | None:
    return BinlogPosition.decode(data) if data else None


class _Reporter:
    """Keeps the task's progress true: lag = now - source commit time of the last applied transaction,
    or ~0 when a heartbeat says the source has nothing more; rows/s over the last report interval."""

    def __init__(self, context: TaskContext) -> None:
        self._context = context
        self._last_commit: float | None = None
        self._caught_up_at: float | None = None
        self._rows = 0
        self._since = time.monotonic()

    def applied(self, rows: int, commit_time: float | None) -> None:
        self._rows += rows
        if commit_time is not None:
            self._last_commit = commit_time
            self._caught_up_at = None

    def caught_up(self, at: float) -> None:
        self._caught_up_at = at

    def maybe_report(self) -> None:
        elapsed = time.monotonic() - self._since
        if elapsed < PROGRESS_EVERY:
            return
        now = time.time()
        reference = self._caught_up_at or self._last_commit
        delay_ms = 0 if reference is None else max(0, int((now - reference) * 1000))
        # A full+incremental task keeps showing its finished full phases (progress_map struct/data/index 100%).
        full_done = 100 if self._context.task.task_type == "FULL_INCR_TRANS" else None
        progress = Progress(
            progress=100,
            struct_percent=full_done,
            data_percent=full_done,
            index_percent=full_done,
            incre_delay_millis=delay_ms,
            apply_rows_rate=int(self._rows / elapsed),
            process_time=now_ms(),
            remaining_seconds=0,
        )
        with self._context.fenced() as connection:
            task_store.save_progress(connection, self._context.task.id, progress, now_ms())
            history.add_transferred(connection, self._context.task.id, self._rows, 0, now_ms())
        crash_point("incremental.progress_saved")
        self._rows, self._since = 0, time.monotonic()


def guard(call: Callable[[], T], side: ErrorCode) -> T:
    """`call()`; a connector failure becomes the task's error, reported against `side` (source or target)."""
    try:
        return call()
    except mysql_errors.ReplicationError as exc:
        raise _transfer_error(exc, side) from exc


def _transfer_error(exc: mysql_errors.ReplicationError, side: ErrorCode) -> TransferError | FencedError:
    """The task's error for a connector failure; `side` (source or target) names where it happened. A refusal of
    the target's fence is no failure of the task: this worker stops, the one that took the task over goes on."""
    reason = str(exc)
    if isinstance(exc, mysql_errors.FencedError):
        return FencedError(reason)
    if isinstance(exc, mysql_errors.BinlogPurgedError):
        return TransferError(errors.BINLOG_PURGED, reason, retriable=False)
    if isinstance(exc, mysql_errors.TargetDivergedError):
        return TransferError(errors.TARGET_DIVERGED, reason, retriable=False)
    return TransferError(side, reason, retriable=exc.retriable)

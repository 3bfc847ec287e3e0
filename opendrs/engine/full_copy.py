"""The full transfer: structure, data in key-range chunks, then indexes; resumable chunk by chunk.

The biggest tables are copied first, and the copy thread that loads a table's last chunk builds that table's
indexes at once: while one thread builds (a single-threaded sort on the target), the others copy the next
tables. Every step is recorded (fenced by the lease) as soon as it is done, so a restart redoes only what was not.
The target's fence is raised to this worker's lease version first, and every chunk is loaded under it
(connectors/mysql/fences.py). The snapshot position of the first run is where the incremental phase starts; the
XA transactions prepared at that snapshot have their changes kept on the target first (connectors/mysql/xa_capture.py).
A restarted copy opens a new snapshot: its position bounds the region the incremental phase replays
idempotently, and tables copied wholly in it skip the changes their copy already holds.

DDL on the source during the copy: the snapshot readers let go of each table's metadata lock after every read
(snapshot.release_metadata_locks), so an ALTER TABLE there waits one chunk, not the whole copy. A table changed
after the snapshot cannot be read in it any more: the copy goes on from a new snapshot (not a failure), and
a table whose definition changed before its copy was complete is dropped on the target and copied again, whole,
in its new shape; a table already complete keeps its copy, and the incremental phase replays the DDL.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

import pymysql
import sqlalchemy as sa

from opendrs.connectors.mysql import (
    catalog,
    checks,
    chunks,
    copy,
    dropped_tables,
    fences,
    interrupt,
    structure,
    task_rows,
    xa_capture,
)
from opendrs.connectors.mysql import connection as mysql
from opendrs.connectors.mysql import errors as mysql_errors
from opendrs.connectors.mysql.positions import current_position, xa_horizon
from opendrs.connectors.mysql.snapshot import PreparedXaError, Snapshot, open_snapshot, release_metadata_locks
from opendrs.domain import errors, speed
from opendrs.domain.errors import ErrorCode
from opendrs.domain.replication import BinlogPosition, Endpoint, Selection, TableRef, position_key
from opendrs.domain.tasks import Progress, TableProgress
from opendrs.domain.times import now_ms
from opendrs.engine import incremental
from opendrs.engine.early_indexes import EarlyIndexes
from opendrs.engine.runner import FencedError, TaskContext, TransferError
from opendrs.engine.throttle import Throttle
from opendrs.faults import crash_point
from opendrs.store import checkpoints, history
from opendrs.store import tasks as task_store

log = logging.getLogger(__name__)

MAX_RESTARTS = 10  # new snapshots for DDL on the source in one run (a table truncated every minute: not for ever)
WORKERS = 2  # copy threads: one per core of the machines we aim at; reading and loading overlap in each

# Server errors that a new attempt may not meet: connection trouble, deadlocks, lock waits.
_RETRIABLE_MYSQL = frozenset({1040, 1053, 1205, 1213, 2003, 2006, 2013, 2055})
_TABLE_DEF_CHANGED = 1412  # ER_TABLE_DEF_CHANGED: rebuilt after the snapshot (ALTER, OPTIMIZE, TRUNCATE TABLE)


class _SourceChangedError(Exception):
    """A table changed on the source after the snapshot (DDL): the copy goes on from a new snapshot."""


@dataclasses.dataclass
class _Copy:
    context: TaskContext
    source: Endpoint
    target: Endpoint
    selection: Selection
    infos: dict[str, catalog.TableInfo]  # by "schema.table"
    tables: list[TableProgress]
    fence: fences.Fence
    started: float = dataclasses.field(default_factory=time.monotonic)
    rows_at_start: int = 0


def run(context: TaskContext) -> None:
    source, target = incremental.endpoints(context)
    fence = incremental.target_fence(context)
    try:
        fences.raise_fence(target, fence)
        for restart in itertools.count():
            context.check_stop()  # a pause may have ended the last snapshot's copy too
            try:
                with mysql.connect(source) as connection:
                    shapes = catalog.table_shapes(connection, context.wiring.selection)
                horizon = _xa_horizon(context, source)
                with open_snapshot(source, WORKERS, list_prepared_xa=horizon is not None) as snapshot:
                    _run_in(context, snapshot, shapes, source, target, horizon)
                return
            except _SourceChangedError as changed:
                if restart == MAX_RESTARTS:
                    reason = (
                        f"{changed}: the copy took {MAX_RESTARTS} new snapshots for DDL on the source (ALTER, TRUNCATE,"
                        " OPTIMIZE TABLE); hold DDL on the selected tables until the full copy is done, and retry"
                    )
                    raise TransferError(errors.SOURCE_FAILED, reason, retriable=False) from changed
                _note_restart(context, str(changed))
    except mysql_errors.FencedError as exc:
        raise FencedError(str(exc)) from exc
    except mysql_errors.ReplicationError as exc:  # raising the fence failed
        raise TransferError(errors.TARGET_FAILED, str(exc), retriable=exc.retriable) from exc
    except PreparedXaError as exc:  # they end soon, as a rule: try again
        raise TransferError(errors.SOURCE_FAILED, str(exc), retriable=True) from exc
    except structure.ObjectInUseError as exc:  # the last step: tried again until they end, or the window does
        raise TransferError(errors.TARGET_FAILED, f"{exc}: end those transactions", retriable=True) from exc
    except (pymysql.err.MySQLError, OSError, copy.CopyError) as exc:
        # Once another worker took over, a failure here is no failure of the task (e.g. a chunk load it killed).
        refusal = fences.refusal_if_moved(target, fence)
        if refusal is not None:
            raise FencedError(str(refusal)) from exc
        raise _transfer_error(exc, _side_at_fault(source, target)) from exc


def _note_restart(context: TaskContext, reason: str) -> None:
    """Say why the copy took a new snapshot, in the log and in the task's history (the console's event list)."""
    log.warning("%s", reason, extra={"action": "copy_restarted", "task_id": context.task.id})
    with context.fenced() as connection:
        history.record_event(connection, context.task.id, now_ms(), "warning", None, reason)


def _xa_horizon(context: TaskContext, source: Endpoint) -> BinlogPosition | None:
    """Where to find the XA transactions prepared at the snapshot about to be taken (positions.xa_horizon), if
    incremental sync will start at its position; None otherwise: a copy that is all there is needs none of them
    (they are not committed), and a resumed one gets them from the stream (the applier counts XA changes at the
    XA COMMIT)."""
    if context.task.task_type != "FULL_INCR_TRANS":
        return None
    with context.engine.connect() as connection:
        if "start_position" in checkpoints.load_state(connection, context.task.id):
            return None
    return incremental.guard(lambda: xa_horizon(source), errors.SOURCE_FAILED)


def _keep_prepared_xa(
    context: TaskContext, snapshot: Snapshot, horizon: BinlogPosition, source: Endpoint, target: Endpoint
) -> None:
    """Keep the changes of the XA transactions prepared at the snapshot on the target (xa_capture.py), before its
    position is recorded as where incremental sync starts: after a crash in between, the next run takes a new
    snapshot and keeps its own instead."""
    server_id = incremental.server_id_for(context.task.id, context.lease.version)
    selection = context.wiring.selection
    changes = incremental.guard(
        lambda: xa_capture.snapshot_changes(source, horizon, snapshot, selection, server_id), errors.SOURCE_FAILED
    )
    incremental.guard(lambda: xa_capture.keep(target, incremental.target_fence(context), changes), errors.TARGET_FAILED)
    if snapshot.prepared_xa:
        log.info(
            "task %s: %d XA transaction(s) prepared at the snapshot, %d with changes kept on the target",
            context.task.id, len(snapshot.prepared_xa), len(changes),
            extra={"task_id": context.task.id},
        )  # fmt: skip


def _run_in(
    context: TaskContext,
    snapshot: Snapshot,
    shapes: catalog.TableShapes,
    source: Endpoint,
    target: Endpoint,
    horizon: BinlogPosition | None,
) -> None:
    """The copy in `snapshot`; `shapes` are the tables' as read just before it; `horizon` see _xa_horizon."""
    task_id = context.task.id
    if snapshot.position is None:
        raise TransferError(errors.SOURCE_FAILED, "the source writes no binlog (log_bin is off)", retriable=False)
    selection = context.wiring.selection
    reader = snapshot.connections[0]
    infos = {str(info.table): info for info in catalog.list_tables(reader, selection)}
    if catalog.table_shapes(reader, selection) != shapes:
        # The definitions just read may be newer than the snapshot: the rows would not fit them.
        raise _SourceChangedError("a DDL statement changed the source's tables as the snapshot was taken")
    release_metadata_locks(reader)
    with context.engine.connect() as connection:
        state = checkpoints.load_state(connection, task_id)
        tables = checkpoints.tables(connection, task_id)
    first_run = "start_position" not in state
    if first_run and horizon is not None:
        _keep_prepared_xa(context, snapshot, horizon, source, target)
    state = _remember_snapshot(state, snapshot.position, first_run)
    crash_point("snapshot.position_unrecorded")
    with context.fenced() as connection:
        if not tables:
            tables = _table_list(list(infos.values()), selection)
            checkpoints.add_tables(connection, task_id, tables)
        checkpoints.save_state(connection, task_id, state, now_ms())
    crash_point("snapshot.position_recorded")
    tables = _without_tables_gone(context, source, target, infos, tables, state, snapshot.position)
    tables = _restart_changed_tables(context, target, infos, tables, state)
    fence = incremental.target_fence(context)
    rows_at_start = sum(t.rows_copied for t in tables)
    job = _Copy(context, source, target, selection, infos, tables, fence, rows_at_start=rows_at_start)
    _report(job)
    with mysql.connect(target) as connection:
        _create_structure(job, connection, snapshot)
    _copy_data(job, snapshot, state)
    with mysql.connect(target) as connection:
        _build_indexes(job, connection)
        structure.create_views(connection, catalog.list_views(reader, selection), selection)
        structure.create_routines(connection, _readable_routines(snapshot, selection), selection)
        if context.task.task_type == "FULL_INCR_TRANS":
            _remember_objects_read(context, source, state)
        if context.task.task_type == "FULL_TRANS":
            # Nothing replicates into the tables after this copy: their triggers may fire from now on.
            found = catalog.list_triggers_and_events(reader, selection)
            structure.create_triggers_and_events(connection, found, selection)
            task_rows.forget(connection, context.task.id)  # nothing writes the target after this: no fence needed


def _remember_objects_read(context: TaskContext, source: Endpoint, state: dict[str, Any]) -> None:
    """Views, routines and sequences were read as they are now, not in the snapshot: the incremental phase
    replays their DDL from the snapshot on, and up to here it may find it applied already."""
    state["objects_read_at"] = incremental.guard(lambda: current_position(source), errors.SOURCE_FAILED).encode()
    with context.fenced() as connection:
        checkpoints.save_state(connection, context.task.id, state, now_ms())


def _readable_routines(snapshot: Snapshot, selection: Selection) -> Sequence[catalog.RoutineInfo]:
    routines = catalog.list_routines(snapshot.connections[0], selection)
    unreadable = [f"{r.kind.lower()} {r.routine}" for r in routines if r.create_statement is None]
    if unreadable:
        reason = (
            f"the source user may not read the definition of {', '.join(unreadable)}: grant it SELECT on"
            " mysql.proc (MySQL 8: SHOW_ROUTINE) and retry"
        )
        raise TransferError(errors.SOURCE_FAILED, reason, retriable=False)
    return routines


def _without_tables_gone(
    context: TaskContext,
    source: Endpoint,
    target: Endpoint,
    infos: dict[str, catalog.TableInfo],
    tables: list[TableProgress],
    state: dict[str, Any],
    position: BinlogPosition,
) -> list[TableProgress]:
    """A resumed copy keeps its table list, but reads a new snapshot (at `position`): the tables gone from the
    source meanwhile are left out of it. One whose copy is complete needs nothing more (the incremental phase
    replays what became of it). One the binlog shows dropped is done with too (_forget_dropped). One renamed, or
    gone in a way the binlog does not show, cannot be finished from this snapshot, and its rows would be lost
    without a word: fail, saying so."""
    gone = [table for table in tables if _key(table) not in infos]
    unfinished = {TableRef(table.source_schema, table.source_name): table for table in gone if not table.index_done}
    if unfinished:
        since = BinlogPosition.decode(state["start_position"])
        server_id = incremental.server_id_for(context.task.id, context.lease.version)
        databases = _databases_whose_drop_ends_the_copy(context, {table.schema for table in unfinished})
        dropped = incremental.guard(
            lambda: dropped_tables.dropped_tables(source, since, position, unfinished, server_id, databases),
            errors.SOURCE_FAILED,
        )
        forgotten = _forget_dropped(context, target, [unfinished[table] for table in sorted(dropped)])
        lost = [str(table) for table, progress in unfinished.items() if progress.position not in forgotten]
        if lost:
            reason = (
                f"{', '.join(lost)} left the source (renamed, dropped and created again, or dropped with its database)"
                " during the full copy or while it was stopped, and the copy cannot resume without it: restore the"
                " table under its name and retry, or stop this task and start a new one"
            )
            raise TransferError(errors.SOURCE_FAILED, reason, retriable=False)
    return [table for table in tables if _key(table) in infos]


def _databases_whose_drop_ends_the_copy(context: TaskContext, databases: set[str]) -> set[str]:
    """Of `databases`, those whose DROP DATABASE disposes of a partial copy of their tables: the copy drops it
    at once when nothing replicates after it; otherwise the catch-up replays the DROP DATABASE, as it does for a
    database the task replicates whole (not for single tables: their target copies would stay, half copied)."""
    if context.task.task_type != "FULL_INCR_TRANS":
        return databases
    selection = context.wiring.selection
    return {database for database in databases if selection.whole_instance or database in selection.databases}


def _forget_dropped(context: TaskContext, target: Endpoint, dropped: Sequence[TableProgress]) -> set[int]:
    """Count tables the source dropped before their copy was done as done; the positions of those it could.

    A task that replicates keeps the partial target copy: the incremental phase replays the table's changes on it
    idempotently from the first snapshot on (and the cascades they ran on other tables), then its DROP TABLE. One
    whose target copy is not there (its copy was started again, and dropped, by an earlier run) cannot be. A copy
    that is all there is drops its partial copy at once."""
    replicates = context.task.task_type == "FULL_INCR_TRANS"
    forgotten = set()
    with mysql.connect(target) as target_connection:
        for table in dropped:
            copy_on_target = TableRef(table.target_schema, table.target_name)
            if not replicates:
                structure.drop_table(target_connection, copy_on_target)
            elif catalog.current_definition(target_connection, copy_on_target) is None:
                continue
            forgotten.add(table.position)
            log.warning(
                "%s was dropped on the source before its copy was done: left out of the copy",
                _key(table),
                extra={"action": "table_dropped", "task_id": context.task.id},
            )
    with context.fenced() as connection:
        for position in forgotten:
            checkpoints.mark_table(
                connection, context.task.id, position, structure_done=True, data_done=True, index_done=True
            )
    return forgotten


def _restart_changed_tables(
    context: TaskContext,
    target: Endpoint,
    infos: dict[str, catalog.TableInfo],
    tables: list[TableProgress],
    state: dict[str, Any],
) -> list[TableProgress]:
    """Tables whose source definition is not the one their target copy was created from (DDL during the copy or
    while it was stopped) start again: the rows copied so far have the old shape, and this snapshot's the new one.
    A complete copy stays: the incremental phase replays the DDL. The target copy is dropped before the store
    forgets it, so that a crash in between finds the change again."""
    known: dict[str, str] = state.get("definitions", {})

    def changed(table: TableProgress) -> bool:
        key = _key(table)
        return not table.index_done and key in known and known[key] != infos[key].definition

    restarted = [table for table in tables if changed(table)]
    if restarted:
        with mysql.connect(target) as target_connection:
            for table in restarted:
                log.warning(
                    "%s changed on the source: copied again, whole", _key(table), extra={"action": "table_changed"}
                )
                structure.drop_table(target_connection, TableRef(table.target_schema, table.target_name))
                crash_point("copy.table_restart.dropped_unrecorded")
    again = {table.position for table in restarted}
    # What each target copy was, or is about to be, created from.
    definitions = {}
    for table in tables:
        key = _key(table)
        kept = table.structure_done and key in known and table.position not in again
        definitions[key] = known[key] if kept else infos[key].definition
    state["definitions"] = definitions
    plans, copied_at = state.get("plans", {}), state.get("copied_at", {})
    with context.fenced() as connection:
        for table in restarted:
            old_plan = [chunks.Chunk.decode(data).id for data in plans.pop(_key(table), [])]
            copied_at.pop(_key(table), None)
            checkpoints.restart_table(connection, context.task.id, table.position, old_plan)
        checkpoints.save_state(connection, context.task.id, state, now_ms())
    return [
        dataclasses.replace(table, structure_done=False, data_done=False, index_done=False, rows_copied=0)
        if table.position in again
        else table
        for table in tables
    ]


def _remember_snapshot(state: dict[str, Any], position: BinlogPosition, first_run: bool) -> dict[str, Any]:
    if first_run:
        return {**state, "start_position": position.encode(), "snapshot_position": position.encode()}
    # A resumed copy reads a newer state: replay idempotently up to it.
    return {**state, "snapshot_position": position.encode(), "idempotent_until": position.encode()}


def _table_list(infos: Sequence[catalog.TableInfo], selection: Selection) -> list[TableProgress]:
    return [
        TableProgress(
            position,
            info.table.schema,
            info.table.name,
            selection.target_of(info.table).schema,
            selection.target_of(info.table).name,
            info.approx_rows,
        )
        for position, info in enumerate(infos)
    ]


def _create_structure(job: _Copy, target: mysql.Connection, snapshot: Snapshot) -> None:
    for database in catalog.list_databases(snapshot.connections[0], job.selection):
        structure.create_database(target, database, job.selection)
    structure.create_sequences(target, catalog.list_sequences(snapshot.connections[0], job.selection), job.selection)
    for index, table in enumerate(job.tables):
        if table.structure_done:
            continue
        job.context.check_stop()
        structure.create_table(target, job.infos[_key(table)], job.selection)
        crash_point("structure.table_created_unrecorded")
        with job.context.fenced() as connection:
            checkpoints.mark_table(connection, job.context.task.id, table.position, structure_done=True)
        crash_point("structure.table_recorded")
        job.tables[index] = dataclasses.replace(table, structure_done=True)
        _report(job)


def _copy_data(job: _Copy, snapshot: Snapshot, state: dict[str, Any]) -> None:
    task_id = job.context.task.id
    with job.context.engine.connect() as connection:
        done = checkpoints.done_chunks(connection, task_id)
    plans = dict(state.get("plans", {}))
    reader = snapshot.connections[0]
    for table in job.tables:
        if not table.data_done and _key(table) not in plans:
            info = job.infos[_key(table)]
            with _changes_on_source(job, info):
                planned = chunks.plan_chunks(reader, info, job.context.chunk_size)
            plans[_key(table)] = [chunk.encode() for chunk in planned]
    release_metadata_locks(reader)
    state["plans"] = plans
    with job.context.fenced() as connection:
        checkpoints.save_state(connection, task_id, state, now_ms())
    crash_point("copy.plans_recorded")
    left_to_copy: list[tuple[TableProgress, chunks.Chunk]] = []
    # Biggest first: the index builds of the big tables then overlap the copy of the small ones.
    for table in sorted(job.tables, key=lambda t: job.infos[_key(t)].data_length, reverse=True):
        if table.data_done:
            continue
        for data in plans[_key(table)]:
            chunk = chunks.Chunk.decode(data)
            if chunk.id not in done:
                left_to_copy.append((table, chunk))
    work = _Work(left_to_copy, _serial_tables(job))
    throttle = Throttle(lambda: _windows(job))
    lock = threading.Lock()
    chunk_ids = {key: {chunks.Chunk.decode(data).id for data in plan} for key, plan in plans.items()}
    left = {key: ids - done for key, ids in chunk_ids.items()}
    started_before = {key for key, ids in chunk_ids.items() if ids & done}
    sizes = {key: len(ids) for key, ids in chunk_ids.items()}
    run = _Run(
        left, sizes, started_before, snapshot.position, state, EarlyIndexes(job.target, job.selection, job.context.stop)
    )
    try:
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix=f"copy-{task_id[:8]}") as pool:
            # Each copy thread runs in a copy of this context: its log lines name the task.
            futures = [
                pool.submit(contextvars.copy_context().run, _copy_worker, job, reader, work, throttle, lock, run)
                for reader in snapshot.connections
            ]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in finished:
                future.result()  # re-raise a worker's failure here
    finally:
        run.early.close()
    crash_point("copy.data_copied_unrecorded")
    _record_tables_done(job)  # tables whose every chunk an earlier run copied
    crash_point("copy.data_recorded")


class _Work:
    """The chunks left to copy, in order, shared by the copy threads.

    A table that loads serially (catalog.TableInfo.loads_serially, on a target whose innodb_autoinc_lock_mode is
    below 2) takes one LOAD DATA at a time whatever the threads do: a thread that comes for work while another
    loads such a table takes the first chunk of another table, so that the two load in parallel. When only that
    table is left, it takes its next chunk anyway: its data then waits in the pipe for the lock, ready to load.
    """

    def __init__(self, left: list[tuple[TableProgress, chunks.Chunk]], serial: set[str]) -> None:
        self._queues: dict[str, collections.deque[tuple[TableProgress, chunks.Chunk]]] = {}  # by table, in order
        for table, chunk in left:
            self._queues.setdefault(_key(table), collections.deque()).append((table, chunk))
        self._serial = serial  # by "schema.table"
        self._loading: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def take(self) -> tuple[TableProgress, chunks.Chunk] | None:
        """The next chunk to copy, or None when there is none; release() its table once it is copied."""
        with self._lock:
            key = next((key for key in self._queues if not self._busy(key)), None) or next(iter(self._queues), None)
            if key is None:
                return None
            queue = self._queues[key]
            taken = queue.popleft()
            if not queue:
                del self._queues[key]
            self._loading[key] += 1
            return taken

    def release(self, table: TableProgress) -> None:
        with self._lock:
            self._loading[_key(table)] -= 1

    def _busy(self, key: str) -> bool:
        return key in self._serial and self._loading[key] > 0


def _serial_tables(job: _Copy) -> set[str]:
    """The tables the target loads one chunk at a time (see _Work); none on a target with lock mode 2 or more."""
    with mysql.connect(job.target) as connection:
        mode = catalog.autoinc_lock_mode(connection)
    if mode is None or mode >= 2:
        return set()
    return {key for key, info in job.infos.items() if info.loads_serially}


@dataclasses.dataclass(frozen=True)
class _Run:
    """What the copy threads of one run (one snapshot) share; guarded by their lock."""

    left: dict[str, set[str]]  # by table: the chunks not copied yet (by this run or earlier ones)
    sizes: dict[str, int]  # by table: how many chunks its plan has
    started_before: set[str]  # the tables of which an earlier run copied chunks
    position: BinlogPosition | None  # this run's snapshot position
    state: dict[str, Any]
    early: EarlyIndexes  # big tables' plain indexes, built while their last chunks load
    failed: threading.Event = dataclasses.field(default_factory=threading.Event)  # a copy thread failed: stop


def _copy_worker(
    job: _Copy,
    reader: mysql.Connection,
    work: _Work,
    throttle: Throttle,
    lock: threading.Lock,
    run: _Run,
) -> None:
    try:
        with mysql.connect(job.target) as writer:
            while not run.failed.is_set():
                job.context.check_stop()
                taken = work.take()
                if taken is None:
                    return
                table, chunk = taken
                try:
                    last = _copy_one(job, reader, writer, table, chunk, throttle, lock, run)
                finally:
                    work.release(table)
                if last:
                    run.early.wait(job.infos[_key(table)].table)
                    with mysql.connect(job.target) as builder:  # a DDL session of its own (foreign_key_checks off)
                        _build_table_indexes(job, builder, table, lock)
    except BaseException:
        run.failed.set()  # the other threads stop after their chunk: the failure is reported now, not at the end
        raise


def _copy_one(
    job: _Copy,
    reader: mysql.Connection,
    writer: mysql.Connection,
    table: TableProgress,
    chunk: chunks.Chunk,
    throttle: Throttle,
    lock: threading.Lock,
    run: _Run,
) -> bool:
    """Copy and record one chunk; True if it was its table's last, whose data is then recorded as done."""
    task_id = job.context.task.id
    info = job.infos[_key(table)]
    sent = 0

    def count_and_throttle(size: int) -> None:
        nonlocal sent
        sent += size
        throttle(size)

    target_table = job.selection.target_of(info.table)
    with _changes_on_source(job, info):
        rows = copy.copy_chunk(reader, writer, info, chunk, target_table, count_and_throttle, fence=job.fence)
    release_metadata_locks(reader)
    read_until = None if info.in_snapshot else current_position(job.source)
    key = _key(table)
    with lock:
        last = run.left[key] == {chunk.id}
        with job.context.fenced() as connection:
            checkpoints.record_chunk(connection, task_id, table.position, chunk.id, rows, now_ms())
            history.add_transferred(connection, task_id, rows, sent, now_ms())
            if read_until is not None:
                _replay_idempotently_until(connection, task_id, run, read_until)
            if last:
                checkpoints.mark_table(connection, task_id, table.position, data_done=True)
                _remember_copied_in_run(connection, task_id, run, key)
        crash_point("copy.chunk.recorded")
        run.left[key].discard(chunk.id)
        if not last:
            run.early.maybe_start(info, run.sizes[key], run.sizes[key] - len(run.left[key]))
        index = _index_of(job, table)
        copied = job.tables[index].rows_copied + rows
        job.tables[index] = dataclasses.replace(job.tables[index], rows_copied=copied, data_done=last)
        _report(job)
    return last


@contextlib.contextmanager
def _changes_on_source(job: _Copy, info: catalog.TableInfo) -> Iterator[None]:
    """A read of `info`'s table in the snapshot that fails because the source changed the table since (DDL) ends
    this snapshot: the copy goes on from a new one, and copies the table again if its definition changed
    (_restart_changed_tables)."""
    try:
        yield
    except pymysql.err.MySQLError as error:
        if not _changed_since_snapshot(job.source, info, error):
            raise
        reason = (
            f"{info.table} was changed on the source (DDL) during the full copy ({error.args[-1]}): the copy goes"
            " on from a new snapshot"
        )
        raise _SourceChangedError(reason) from error


def _changed_since_snapshot(source: Endpoint, info: catalog.TableInfo, error: pymysql.err.MySQLError) -> bool:
    if error.args and error.args[0] == _TABLE_DEF_CHANGED:
        return True
    try:  # another error (an unknown column, a missing table) may also come from a change
        with mysql.connect(source) as connection:
            return catalog.current_definition(connection, info.table) != info.definition
    except (pymysql.err.MySQLError, OSError):
        return False  # the source does not answer: the read's own error says more


def _remember_copied_in_run(connection: sa.Connection, task_id: str, run: _Run, key: str) -> None:
    """A table whose every chunk this run copied holds every change up to this run's snapshot: say so now, in the
    transaction that records its last chunk, so that it holds even if this run dies before the copy ends: the
    incremental phase must not replay the changes before that snapshot (a keyless table would get them twice)."""
    if run.position is None or key in run.started_before:
        return
    run.state["copied_at"] = {**run.state.get("copied_at", {}), key: run.position.encode()}
    checkpoints.save_state(connection, task_id, run.state, now_ms())
    crash_point("copy.table.last_chunk_recording")  # inside the store transaction that records the table's end


def _replay_idempotently_until(connection: sa.Connection, task_id: str, run: _Run, position: BinlogPosition) -> None:
    """A chunk of a table outside the snapshot (MyISAM, Aria...) was read as the table was then, with changes made
    after the snapshot: the incremental phase replays the changes up to `position`, read after the chunk,
    idempotently (an insert the chunk holds becomes an upsert, not a duplicate key). Recorded with the chunk."""
    until = run.state.get("idempotent_until")
    if until is None or position_key(BinlogPosition.decode(until)) < position_key(position):
        run.state["idempotent_until"] = position.encode()
        checkpoints.save_state(connection, task_id, run.state, now_ms())


def _record_tables_done(job: _Copy) -> None:
    """Every table's data is copied (its snapshot position was recorded with its last chunk)."""
    task_id = job.context.task.id
    with job.context.fenced() as connection:
        for index, table in enumerate(job.tables):
            if not table.data_done:
                checkpoints.mark_table(connection, task_id, table.position, data_done=True)
                job.tables[index] = dataclasses.replace(table, data_done=True)


def _build_indexes(job: _Copy, target: mysql.Connection) -> None:
    """The indexes of the tables whose copy threads did not build them (copied by an earlier run, say)."""
    lock = threading.Lock()
    for table in list(job.tables):
        if not table.index_done:
            job.context.check_stop()
            _build_table_indexes(job, target, table, lock)


def _build_table_indexes(job: _Copy, target: mysql.Connection, table: TableProgress, lock: threading.Lock) -> None:
    """Build the deferred indexes of a table whose data is all in, and record that they are.

    A pause or stop interrupts the build (its ALTER rolls back): the resumed task builds them again."""
    job.context.check_stop()
    crash_point("indexes.before_build")
    try:
        with interrupt.interrupted_by(job.context.stop, target, job.target):
            structure.build_indexes(target, job.infos[_key(table)], job.selection)
    except pymysql.err.MySQLError as error:
        if interrupt.was_interrupted(error):
            job.context.check_stop()
        raise
    crash_point("indexes.built_unrecorded")
    with lock:
        with job.context.fenced() as connection:
            checkpoints.mark_table(connection, job.context.task.id, table.position, index_done=True)
        crash_point("indexes.recorded")
        index = _index_of(job, table)
        job.tables[index] = dataclasses.replace(job.tables[index], index_done=True)
        _report(job)


def _index_of(job: _Copy, table: TableProgress) -> int:
    return next(i for i, t in enumerate(job.tables) if t.position == table.position)


def _report(job: _Copy) -> None:
    """Progress from counted objects and rows: structure and indexes by tables, data by rows."""
    tables = job.tables
    total = len(tables) or 1
    struct = sum(table.structure_done for table in tables) * 100 // total
    index = sum(table.index_done for table in tables) * 100 // total
    rows_total = sum(max(table.rows_estimate, table.rows_copied) for table in tables)
    rows_done = sum(table.rows_copied for table in tables)
    data = 100 if rows_total == 0 else min(99, rows_done * 100 // rows_total)
    if all(table.data_done for table in tables):
        data = 100
    overall = (struct * 5 + data * 85 + index * 10) // 100
    elapsed = time.monotonic() - job.started
    rate = (rows_done - job.rows_at_start) / elapsed if elapsed > 0 else 0
    data_remaining = int((rows_total - rows_done) / rate) if rate > 0 else None
    progress = Progress(
        progress=overall,
        struct_percent=struct,
        data_percent=data,
        index_percent=index,
        data_remaining_seconds=data_remaining,
        remaining_seconds=data_remaining,
        process_time=now_ms(),
    )
    with job.context.fenced() as connection:
        task_store.save_progress(connection, job.context.task.id, progress, now_ms())


def _windows(job: _Copy) -> list[speed.SpeedWindow]:
    task = job.context.reload()
    return speed.parse(task.options.get("speed_limit") or [])


def _key(table: TableProgress) -> str:
    return f"{table.source_schema}.{table.source_name}"


def _side_at_fault(source: Endpoint, target: Endpoint) -> ErrorCode:
    """Whom a failed copy is reported against: the side that does not answer now (a copy thread's error does not
    say which of its two connections broke), or the transfer itself when both answer."""
    for endpoint, code in ((source, errors.SOURCE_FAILED), (target, errors.TARGET_FAILED)):
        if not checks.check_connection(endpoint).ok:
            return code
    return errors.TRANSFER_FAILED


def _transfer_error(exc: Exception, side: ErrorCode) -> TransferError:
    code = exc.args[0] if isinstance(exc, pymysql.err.MySQLError) and exc.args else None
    retriable = isinstance(exc, OSError) or code in _RETRIABLE_MYSQL
    return TransferError(side, str(exc), retriable=retriable)

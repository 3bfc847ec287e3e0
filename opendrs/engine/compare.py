"""Runs compare tasks: claims those due (one worker each, under a lease), compares, stores the report.

A comparison may run while the task's incremental sync goes on. The connector then asks us to wait until the
target has applied the source's binlog up to a position before it looks at a differing row again; the target's
own checkpoint (written with the data it covers) says how far it has got.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from opendrs.connectors.mysql import compare as mysql_compare
from opendrs.connectors.mysql import errors as mysql_errors
from opendrs.connectors.mysql.applier import load_checkpoint
from opendrs.domain import errors
from opendrs.domain.compare import CompareKind, CompareTask, scope_selection
from opendrs.domain.errors import ErrorCode, Language
from opendrs.domain.replication import BinlogPosition, Endpoint, position_key
from opendrs.domain.states import TaskStatus
from opendrs.domain.times import now_ms
from opendrs.engine.endpoints import wiring
from opendrs.keys import Keys
from opendrs.store import compare as compare_store
from opendrs.store import database
from opendrs.store import tasks as task_store
from opendrs.store.compare import CompareLease

log = logging.getLogger(__name__)

MAX_RUNNING = 2  # compare tasks one worker runs at once
CATCH_UP_SECONDS = 60.0  # longest wait for the target to reach a source position before looking again anyway
CATCH_UP_POLL_SECONDS = 0.1


class _StoppedError(Exception):
    """The compare task is not ours to finish any more: cancelled, taken over, or the worker stops."""


class CompareRunner:
    def __init__(
        self, engine: sa.Engine, keys: Keys, owner: str, lease_ttl_seconds: float, finished: Callable[[], None]
    ) -> None:
        self._engine = engine
        self._finished = finished  # called when a comparison's thread ends: another one may be claimed now
        self._keys = keys
        self._owner = owner
        self._ttl_ms = int(lease_ttl_seconds * 1000)
        self._stopping = threading.Event()
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=MAX_RUNNING, thread_name_prefix="opendrs-compare")

    def run_once(self) -> int:
        """Claim the compare tasks due that nobody runs, as many as there is room for; how many were claimed."""
        with self._lock:
            running = set(self._running)
        room = MAX_RUNNING - len(running)
        if room <= 0 or self._stopping.is_set():
            return 0
        now = now_ms()
        with database.reading(self._engine) as connection:
            found = compare_store.claimable(connection, now, room + len(running))
        # A lease of our own that lapsed (a late heartbeat) is still ours: claiming it would run the comparison
        # a second time and stop the first, and on a loaded machine that repeats.
        candidates = [(compare_id, version) for compare_id, version in found if compare_id not in running][:room]
        claimed = 0
        for compare_id, version in candidates:
            with database.writing(self._engine) as connection:
                lease = compare_store.claim(connection, compare_id, version, self._owner, now, self._ttl_ms)
            if lease is None:
                continue  # another worker was quicker
            with self._lock:
                self._running.add(compare_id)
            self._pool.submit(self._run, lease)
            claimed += 1
        return claimed

    def stop(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, lease: CompareLease) -> None:
        lost = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(lease, lost), daemon=True)
        heartbeat.start()
        try:
            self._compare(lease, lost)
        except _StoppedError:
            log.info("comparison %s stopped", lease.compare_id, extra={"action": "compare_stopped"})
        except Exception:
            log.exception("comparison %s failed to run", lease.compare_id, extra={"action": "compare_crashed"})
            self._finish(lease, None, errors.SERVICE_ABNORMAL, "")
        finally:
            lost.set()
            heartbeat.join()
            with self._lock:
                self._running.discard(lease.compare_id)
            self._finished()

    def _heartbeat(self, lease: CompareLease, lost: threading.Event) -> None:
        while not lost.wait(min(self._ttl_ms / 3000, 1.0)):
            try:
                with database.writing(self._engine) as connection:
                    if not compare_store.renew(connection, lease, now_ms(), self._ttl_ms):
                        lost.set()
            except sa.exc.SQLAlchemyError:
                log.warning("compare lease renewal failed; retrying", exc_info=True)

    def _compare(self, lease: CompareLease, lost: threading.Event) -> None:
        with database.reading(self._engine) as connection:
            compare = compare_store.get(connection, lease.compare_id)
            task = task_store.get_many_by_id(connection, [compare.task_id]).get(compare.task_id) if compare else None
            secrets = task_store.secrets_of(connection, task.id) if task else {}
        if compare is None or task is None:
            raise _StoppedError("the compare task or its task is gone")
        wired = wiring(task, secrets, self._keys)
        if wired.source is None or wired.target is None:
            missing = "source" if wired.source is None else "target"
            self._finish(lease, None, errors.TRANSFER_FAILED, f"the {missing} endpoint has no ip")
            return

        def tick() -> None:
            if lost.is_set() or self._stopping.is_set():
                raise _StoppedError("stop")

        source, target = wired.source, wired.target
        log.info("comparison %s (%s) of task %s started", compare.id, compare.kind.value, task.id)
        try:
            if compare.kind is CompareKind.OBJECTS:
                report = mysql_compare.compare_objects(source, target, wired.selection).encode()
            else:
                report = mysql_compare.compare_data(
                    source,
                    target,
                    scope_selection(compare.scope, wired.selection),
                    contents=compare.kind is CompareKind.CONTENTS,
                    settle=lambda position: self._settle(compare, target, position, tick),
                    tick=tick,
                ).encode()
        except mysql_compare.SideError as failure:
            code = errors.SOURCE_FAILED if failure.side == "source" else errors.TARGET_FAILED
            self._finish(lease, None, code, str(failure.error))
            return
        tick()
        self._finish(lease, report, None, "")
        log.info("comparison %s of task %s done", compare.id, task.id)

    def _settle(
        self, compare: CompareTask, target: Endpoint, position: BinlogPosition | None, tick: Callable[[], None]
    ) -> None:
        """Return once the target has applied the source's binlog up to `position`, if the task replicates."""
        if position is None or not self._replicating(compare.task_id):
            return  # nothing is applied to the target now: it is what it will be
        deadline = time.monotonic() + CATCH_UP_SECONDS
        goal = position_key(position)
        applied = None
        while time.monotonic() < deadline:
            tick()
            try:
                applied = load_checkpoint(target, compare.task_id)
            except mysql_errors.ReplicationError as exc:
                raise mysql_compare.SideError("target", exc) from exc
            if applied is not None and position_key(applied) >= goal:
                return
            self._stopping.wait(CATCH_UP_POLL_SECONDS)
        log.warning(
            "comparison %s: the target did not apply the source's binlog up to %s within %.0f s (it is at %s);"
            " the differing rows are looked at as they stand",
            compare.id,
            position,
            CATCH_UP_SECONDS,
            applied,
            extra={"action": "compare_catch_up_timeout", "task_id": compare.task_id},
        )

    def _replicating(self, task_id: str) -> bool:
        with database.reading(self._engine) as connection:
            task = task_store.get_many_by_id(connection, [task_id]).get(task_id)
        return task is not None and task.status is TaskStatus.INCRE_TRANSFER_STARTED

    def _finish(
        self, lease: CompareLease, report: dict[str, object] | None, code: ErrorCode | None, reason: str
    ) -> None:
        message = code.render(Language.EN, {"reason": reason}) if code is not None else None
        with database.writing(self._engine) as connection:
            finished = compare_store.finish(
                connection, lease, now_ms(), report=report, error_code=code.code if code else None, error_msg=message
            )
        if code is not None:
            log.error("comparison %s failed: %s", lease.compare_id, message, extra={"action": "compare_failed"})
        if not finished:
            log.info("comparison %s was cancelled or taken over; its result is dropped", lease.compare_id)

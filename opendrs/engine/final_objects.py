"""The last step of a task stopped normally (terminate) after it replicated: the source's triggers and events are
created on the target, now that replication no longer writes there (a trigger would have fired on the rows it
wrote), as the cloud DRS does; force_terminate skips it. Then the task is released, or, if that failed,
RELEASE_RESOURCE_FAILED names the cause: terminate again to retry, or force_terminate to stop without them.

Each object waits a bounded time for the metadata lock of its table (structure.create_triggers_and_events), with the
lease renewed before it: a stop held up by sessions on the target fails saying so, and no other worker starts it
again while it waits."""

from __future__ import annotations

import logging

import pymysql
import sqlalchemy as sa

from opendrs.connectors.mysql import catalog, structure, task_rows
from opendrs.connectors.mysql import connection as mysql
from opendrs.connectors.mysql import errors as mysql_errors
from opendrs.domain import errors
from opendrs.domain.states import Event
from opendrs.domain.times import now_ms
from opendrs.engine.endpoints import wiring
from opendrs.engine.runner import TransferError
from opendrs.keys import Keys
from opendrs.store import checkpoints, database, history, leases
from opendrs.store import tasks as task_store
from opendrs.store.leases import Lease

log = logging.getLogger(__name__)


def run(engine: sa.Engine, keys: Keys, lease: Lease, ttl_ms: int) -> None:
    """Create the stopped task's triggers and events on its target, then release it (held under `lease`, whose
    time to live is `ttl_ms`)."""
    task_id = lease.task_id
    failure = None
    try:
        _create(engine, keys, lease, ttl_ms)
    except leases.LeaseLostError as lost:
        log.warning("task %s: another worker took the stop over: %s", task_id, lost, extra={"task_id": task_id})
        return
    except TransferError as exc:
        failure = exc
    except Exception as exc:
        log.exception("task %s: triggers and events could not be created", task_id, extra={"task_id": task_id})
        failure = TransferError(errors.TRANSFER_FAILED, f"internal error: {exc!r}", retriable=False)
    try:
        _finish(engine, lease, failure)
    except leases.LeaseLostError as lost:
        log.warning("task %s: another worker took the stop over: %s", task_id, lost, extra={"task_id": task_id})
    except sa.exc.SQLAlchemyError:
        # The lease runs out and a worker does it again (the objects are replaced, not added twice).
        log.exception("task %s: the stop could not be recorded", task_id, extra={"task_id": task_id})


def _finish(engine: sa.Engine, lease: Lease, failure: TransferError | None) -> None:
    task_id = lease.task_id
    now = now_ms()
    with database.writing(engine) as connection:
        leases.check(connection, lease)
        if failure is None:
            checkpoints.set_final_objects_pending(connection, task_id, False, now)
            task_store.transition(connection, None, task_id, Event.RELEASED, now)
            log.info("task %s: triggers and events created on the target; released", task_id)
        else:
            message = failure.code.render(errors.Language.EN, {"reason": failure.reason})
            history.record_event(connection, task_id, now, "error", failure.code.code, message)
            task_store.transition(
                connection, None, task_id, Event.RELEASE_FAILED, now, error_code=failure.code.code, error_msg=message
            )
            log.error("task %s: %s", task_id, message, extra={"task_id": task_id})
        leases.release(connection, lease)


def _create(engine: sa.Engine, keys: Keys, lease: Lease, ttl_ms: int) -> None:
    task_id = lease.task_id
    with engine.connect() as connection:
        task = task_store.get_many_by_id(connection, [task_id]).get(task_id)
        secrets = task_store.secrets_of(connection, task_id)
    if task is None:
        return
    wired = wiring(task, secrets, keys)
    if wired.source is None or wired.target is None:
        missing = "source" if wired.source is None else "target"
        raise TransferError(errors.TRANSFER_FAILED, f"the {missing} endpoint has no ip", retriable=False)
    try:
        with mysql.connect(wired.source) as source:
            found = catalog.list_triggers_and_events(source, wired.selection)
    except (pymysql.err.MySQLError, OSError) as exc:
        raise TransferError(errors.SOURCE_FAILED, _reason(exc, "read"), retriable=False) from exc

    def renew_lease() -> None:
        with database.writing(engine) as connection:
            leases.renew(connection, lease, now_ms(), ttl_ms)

    lock_wait = max(1, min(structure.OBJECT_LOCK_WAIT, ttl_ms // 3000))  # the lease outlives each wait
    try:
        with mysql.connect(wired.target) as target:
            structure.create_triggers_and_events(
                target, found, wired.selection, lock_wait=lock_wait, before_each=renew_lease
            )
            task_rows.forget(target, task_id)  # the task is over: its checkpoint and fence mean nothing now
    except structure.ObjectInUseError as exc:
        reason = f"{exc}: end those transactions, then terminate again, or force_terminate to stop without them"
        raise TransferError(errors.TARGET_FAILED, reason, retriable=False) from exc
    except (pymysql.err.MySQLError, OSError) as exc:
        raise TransferError(errors.TARGET_FAILED, _reason(exc, "created"), retriable=False) from exc


def _reason(exc: BaseException, doing: str) -> str:
    return (
        f"the triggers and events could not be {doing} ({mysql_errors.classify(exc)}): terminate again to retry,"
        " or force_terminate to stop without them"
    )

"""Target-side fencing: a worker whose lease was taken over must not write the target any more.

The store fences the worker's own writes (its lease version is the fencing token); this module makes the target
refuse them too. Each task has a row in `opendrs_meta.fences` holding the token of the worker that writes its data
now. A new lease holder raises the fence to its token before it writes anything (`raise_fence`); every target
transaction that writes data checks the fence first (`Fence.check`).

The check reads the row in share mode and keeps it locked to the transaction's end: the parallel chunk loads of
one holder do not wait for each other, while the new holder's UPDATE waits for every transaction of the old one
in flight (their writes land before the new holder reads the target's state), and every later check of the old
holder fails. An old holder that hangs (a frozen process) would hold the new one up for as long: after
EVICT_AFTER seconds, the new holder kills the sessions its UPDATE waits for (their transactions roll back), when
the account may see them (information_schema.INNODB_TRX needs the PROCESS privilege); else it waits.
Connectors know nothing of the store: the engine passes the token in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from typing import Any

import pymysql

from opendrs.connectors.mysql import connection as mysql
from opendrs.connectors.mysql import errors
from opendrs.domain.replication import Endpoint

logger = logging.getLogger(__name__)

META_SCHEMA = "opendrs_meta"  # opendrs's own schema on a target
EVICT_AFTER = 2.0  # seconds raising the fence may wait for an old holder's transactions before killing them
FENCES = f"`{META_SCHEMA}`.`fences`"

FENCES_TABLE_DDL = f"""
CREATE TABLE IF NOT EXISTS {FENCES} (
    task_id VARCHAR(191) NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL COMMENT 'fencing token (lease version) of the worker allowed to write the task data'
) ENGINE=InnoDB
"""


@dataclasses.dataclass(frozen=True)
class Fence:
    """The fencing token of the worker writing a task's data: its lease version."""

    task_id: str
    version: int

    def check(self, connection: mysql.Connection) -> None:
        """First thing in a write transaction: FencedError unless the fence holds our token (then roll back).

        The row stays share-locked until the transaction ends, so a newer holder's `raise_fence` waits for it."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT version FROM {FENCES} WHERE task_id = %s LOCK IN SHARE MODE", (self.task_id,))
            row = cursor.fetchone()
        current = int(row[0]) if row is not None else None
        if current != self.version:
            raise errors.FencedError(_refusal(self, current))


def raise_fence(endpoint: Endpoint, fence: Fence) -> None:
    """Make `fence` the task's fence on the target, once the transactions of older holders in flight have ended.

    FencedError if a newer holder raised it already. Call it before writing anything to the target and before
    reading the target's checkpoint. Failures to reach the target are errors.RetriableError."""
    try:
        connection = mysql.connect(endpoint, autocommit=False)
        try:
            _raise_on(endpoint, connection, fence)
        finally:
            connection.close()
    except (pymysql.err.MySQLError, OSError) as exc:
        raise errors.classify(exc) from exc


def _raise_on(endpoint: Endpoint, connection: mysql.Connection, fence: Fence) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{META_SCHEMA}`")
        cursor.execute(FENCES_TABLE_DDL)
        raised = threading.Event()
        driver: Any = connection  # PyMySQL's thread_id() is untyped
        evictor = threading.Thread(
            target=_evict_blockers, args=(endpoint, int(driver.thread_id()), fence, raised), daemon=True
        )
        evictor.start()
        try:
            cursor.execute(
                f"INSERT INTO {FENCES} (task_id, version) VALUES (%s, %s)"
                " ON DUPLICATE KEY UPDATE version = GREATEST(version, VALUES(version))",
                (fence.task_id, fence.version),
            )
        finally:
            raised.set()
            evictor.join()
        cursor.execute(f"SELECT version FROM {FENCES} WHERE task_id = %s", (fence.task_id,))
        row = cursor.fetchone()
    current = int(row[0]) if row is not None else None
    if current != fence.version:
        connection.rollback()
        raise errors.FencedError(_refusal(fence, current))
    connection.commit()
    logger.info("target fence raised to %s", fence.version, extra={"action": "fence_raised", "task_id": fence.task_id})


def _refusal(fence: Fence, current: int | None) -> str:
    held = "no fence" if current is None else f"fencing token {current}"
    return (
        f"the target refused the write of task {fence.task_id}: it holds {held}, this worker {fence.version}"
        " (another worker took the task over)"
    )


_BLOCKERS = """
SELECT DISTINCT blocking.trx_mysql_thread_id
FROM information_schema.INNODB_LOCK_WAITS AS waits
JOIN information_schema.INNODB_TRX AS blocking ON blocking.trx_id = waits.blocking_trx_id
JOIN information_schema.INNODB_TRX AS waiting ON waiting.trx_id = waits.requesting_trx_id
WHERE waiting.trx_mysql_thread_id = %s
"""


def _evict_blockers(endpoint: Endpoint, raiser: int, fence: Fence, raised: threading.Event) -> None:
    """While the fence UPDATE on session `raiser` waits: every EVICT_AFTER seconds, kill the sessions it waits for.

    Only transactions that hold the task's fence row wait it up: an old holder's, which may not commit any more."""
    while not raised.wait(EVICT_AFTER):
        with contextlib.suppress(pymysql.err.MySQLError, OSError), mysql.connect(endpoint) as connection:
            with connection.cursor() as cursor:
                cursor.execute(_BLOCKERS, (raiser,))
                blockers = [int(row[0]) for row in cursor.fetchall()]
                for session in blockers:
                    with contextlib.suppress(pymysql.err.MySQLError):
                        cursor.execute(f"KILL {session}")
            if blockers:
                logger.warning(
                    "killed target sessions %s of an older holder of the fence (they held it up)",
                    blockers,
                    extra={"action": "fence_evicted", "task_id": fence.task_id},
                )


def refusal_if_moved(endpoint: Endpoint, fence: Fence) -> errors.FencedError | None:
    """FencedError if the target's fence no longer holds our token (a plain read, after a failed write); None if it
    does, or if the target cannot tell."""
    try:
        with mysql.connect(endpoint) as connection, connection.cursor() as cursor:
            cursor.execute(f"SELECT version FROM {FENCES} WHERE task_id = %s", (fence.task_id,))
            row = cursor.fetchone()
    except (pymysql.err.MySQLError, OSError):
        return None
    current = int(row[0]) if row is not None else None
    return None if current == fence.version else errors.FencedError(_refusal(fence, current))

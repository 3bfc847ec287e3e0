"""Target-side fencing: a worker whose lease was taken over must not write the target any more.

The store fences the worker's own writes (its lease version is the fencing token); this module makes the target
refuse them too. Each task has a row in `opendrs_meta.fences` holding the token of the worker that writes its data
now. A new lease holder raises the fence to its token before it writes anything (`raise_fence`); every target
transaction that writes data checks the fence just before its COMMIT (`Fence.check`).

The check reads the row in share mode: the parallel chunk loads of one holder do not wait for each other, while
the new holder's UPDATE waits for every transaction that already passed its check (their writes land before the
new holder reads the target's state) and every later check of the old holder fails; its transaction is rolled
back. Connectors know nothing of the store: the engine passes the token in.
"""

from __future__ import annotations

import dataclasses
import logging

import pymysql

from opendrs.connectors.mysql import connection as mysql
from opendrs.connectors.mysql import errors
from opendrs.connectors.mysql.applier import META_SCHEMA
from opendrs.domain.replication import Endpoint

logger = logging.getLogger(__name__)

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
        """Inside a write transaction, right before its COMMIT: FencedError unless the fence still holds our token.

        The row stays share-locked until the transaction ends, so a newer holder's `raise_fence` waits for it."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT version FROM {FENCES} WHERE task_id = %s LOCK IN SHARE MODE", (self.task_id,))
            row = cursor.fetchone()
        current = int(row[0]) if row is not None else None
        if current != self.version:
            raise errors.FencedError(_refusal(self, current))


def raise_fence(endpoint: Endpoint, fence: Fence) -> None:
    """Make `fence` the task's fence on the target, waiting for the transactions of older holders in flight.

    FencedError if a newer holder raised it already. Call it before writing anything to the target and before
    reading the target's checkpoint. Failures to reach the target are errors.RetriableError."""
    try:
        connection = mysql.connect(endpoint, autocommit=False)
        try:
            _raise_on(connection, fence)
        finally:
            connection.close()
    except (pymysql.err.MySQLError, OSError) as exc:
        raise errors.classify(exc) from exc


def _raise_on(connection: mysql.Connection, fence: Fence) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{META_SCHEMA}`")
        cursor.execute(FENCES_TABLE_DDL)
        cursor.execute(
            f"INSERT INTO {FENCES} (task_id, version) VALUES (%s, %s)"
            " ON DUPLICATE KEY UPDATE version = GREATEST(version, VALUES(version))",
            (fence.task_id, fence.version),
        )
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

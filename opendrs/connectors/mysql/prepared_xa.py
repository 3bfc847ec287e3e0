"""XA transactions prepared on the source, kept on the target until the source commits or rolls them back.

The source logs an XA transaction's rows at its XA PREPARE; the XA COMMIT that makes them count comes later, as
a group of its own with no rows, and other transactions may commit in between. So the applier writes the prepared
changes into this table in the same target transaction as the checkpoint past the XA PREPARE, and at the XA COMMIT
applies them, deletes them and moves the checkpoint, again in one target transaction: a crash at any point loses
and repeats nothing. An XA ROLLBACK only deletes them.

The XA transactions prepared at a full copy's snapshot were prepared before the position incremental sync starts
from: the copy keeps their changes here itself (xa_capture.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pymysql.cursors

from opendrs.connectors.mysql import connection as mysql
from opendrs.connectors.mysql import fences, row_codec, spill
from opendrs.connectors.mysql.values import literal
from opendrs.domain.replication import RowChange

TABLE = f"`{fences.META_SCHEMA}`.`prepared_xa`"

TABLE_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    task_id VARCHAR(191) NOT NULL,
    xid VARCHAR(300) CHARACTER SET ascii NOT NULL COMMENT 'as the binlog writes it: X''gtrid'',X''bqual'',formatID',
    part INT UNSIGNED NOT NULL,
    changes LONGTEXT CHARACTER SET ascii NOT NULL COMMENT 'row changes, a line of JSON each (row_codec.py)',
    PRIMARY KEY (task_id, xid, part)
) ENGINE=InnoDB
"""


def stored_xids(cursor: Any, task_id: str) -> set[str]:
    """The XA transactions whose changes the target keeps for this task."""
    cursor.execute(f"SELECT DISTINCT xid FROM {TABLE} WHERE task_id=%s", (task_id,))
    return {str(row[0]) for row in cursor.fetchall()}


def store_statements(task_id: str, xid: str, changes: Iterable[RowChange], max_bytes: int) -> Iterator[str]:
    """INSERTs keeping `changes`, each of about `max_bytes` of text at most; made one at a time."""
    prefix = f"INSERT INTO {TABLE} (task_id, xid, part, changes) VALUES ({literal(task_id)},{literal(xid)},"
    texts = row_codec.encode_all(changes, max_bytes)
    return (f"{prefix}{part},{literal(text)})" for part, text in enumerate(texts))


def load(connection: mysql.Connection, task_id: str, xid: str) -> Sequence[RowChange]:
    """The changes kept for `xid`, in their order. The parts are read as they come and decoded into a
    spill.ChangeBuffer: a large transaction waits in a temporary file, as when it was read from the binlog."""
    changes = spill.ChangeBuffer[RowChange]()
    with connection.cursor(pymysql.cursors.SSCursor) as cursor:
        cursor.execute(f"SELECT changes FROM {TABLE} WHERE task_id=%s AND xid=%s ORDER BY part", (task_id, xid))
        changes.extend(row_codec.decode_all(str(row[0]) for row in cursor))
    return changes.take()


def forget_statement(task_id: str, xid: str) -> str:
    return f"DELETE FROM {TABLE} WHERE task_id={literal(task_id)} AND xid={literal(xid)}"


def keep_only(
    connection: mysql.Connection, fence: fences.Fence, kept: Mapping[str, Sequence[RowChange]], max_bytes: int
) -> None:
    """Make `kept` (changes by xid) all the target keeps for the fence's task, in one fenced target transaction."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{fences.META_SCHEMA}`")
        cursor.execute(TABLE_DDL)
    connection.begin()
    try:
        fence.check(connection)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE task_id=%s", (fence.task_id,))
            for xid, changes in kept.items():
                for statement in store_statements(fence.task_id, xid, changes, max_bytes):
                    cursor.execute(statement)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise

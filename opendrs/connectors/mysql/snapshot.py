"""A consistent snapshot of a MySQL/MariaDB source, shared by worker connections, and its binlog position.

The mydumper way: FLUSH TABLES WITH READ LOCK on a control connection, every worker opens
`START TRANSACTION WITH CONSISTENT SNAPSHOT`, the position is read, UNLOCK TABLES. The workers were connected
before the lock, so writers wait only for a few round trips. Each worker connection belongs to one thread.

A snapshot transaction holds a metadata lock on every table it has read until it ends: an ALTER TABLE on the
source would wait for the whole copy, and every write to that table would queue behind the ALTER. Each worker
sets a savepoint as its snapshot begins; release_metadata_locks() rolls back to it after each read (as mysqldump
does between tables), which keeps the read view. A table the source changes meanwhile then fails to read (1412
ER_TABLE_DEF_CHANGED, or an unknown column) and the copy decides what to do about it. A server with a binlog
releases the locks only in a session that does not log (sql_log_bin=0, which needs BINLOG ADMIN or SUPER):
readers never write, so they turn logging off where the user may; elsewhere the locks stay to the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import pymysql

from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import BinlogPosition, Endpoint, xa_id
from opendrs.faults import crash_point

logger = logging.getLogger(__name__)

# How long FLUSH TABLES WITH READ LOCK may wait for running statements before we give up: while it waits,
# every writer on the source waits behind it.
LOCK_WAIT_TIMEOUT = 60  # seconds
# A worker may stall on a slow target for a while; the source must not drop it meanwhile.
NET_WRITE_TIMEOUT = 3600  # seconds

_SAVEPOINT = "opendrs_snapshot"
ACCESS_DENIED = (1227, 1044)  # ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR

# Every reader works in UTC (TIMESTAMP values print the same everywhere) and without an SQL mode that alters
# what SELECT returns (PAD_CHAR_TO_FULL_LENGTH, ANSI_QUOTES).
_READ_SESSION = f"SET SESSION time_zone = '+00:00', sql_mode = '', net_write_timeout = {NET_WRITE_TIMEOUT}"


T = TypeVar("T")
XA_WAIT_SECONDS = 2.0  # how long a start tries again at once while XA transactions are prepared (they end in ms)


class PreparedXaError(RuntimeError):
    """XA transactions were prepared on the source, and not committed yet, where a copy or a replication would
    start: their rows are in the binlog before that position and in no snapshot, and their XA COMMIT carries no
    rows, so they would never reach the target. Start again once they are committed or rolled back."""


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """Worker connections that all read one state of the source, and where the binlog was at that state.

    `position` is None when the source writes no binlog. `lock_seconds` is how long writers were blocked:
    from FLUSH TABLES WITH READ LOCK to UNLOCK TABLES (0 without the lock).
    """

    connections: tuple[mysql.Connection, ...]
    position: BinlogPosition | None
    lock_seconds: float
    prepared_xa: tuple[str, ...] = ()  # XA transactions prepared at `position` (replication.xa_id), if listed

    def close(self) -> None:
        """End the snapshot transactions and close the connections."""
        for connection in self.connections:
            with contextlib.suppress(Exception):
                connection.rollback()
            with contextlib.suppress(Exception):
                connection.close()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def open_snapshot(endpoint: Endpoint, workers: int, *, list_prepared_xa: bool = False) -> Snapshot:
    """`workers` connections in one consistent snapshot, taken under a brief global read lock (needs RELOAD).

    XA transactions prepared at the snapshot are in none of its rows: a copy that replicates from its position on
    must get their rows from the binlog before it (xa_capture.py); with `list_prepared_xa` it says which."""
    opened: list[mysql.Connection] = []
    try:
        for _ in range(workers):
            opened.append(_reader(endpoint))
    except BaseException:
        Snapshot(tuple(opened), None, 0.0).close()
        raise
    connections = tuple(opened)
    try:
        if not all([_stop_logging(connection) for connection in connections]):
            logger.info(
                "the source user may not set sql_log_bin (BINLOG ADMIN or SUPER): an ALTER TABLE on the source"
                " waits for the end of the copy of a table it has read",
                extra={"action": "snapshot"},
            )
        control = mysql.connect(endpoint)
        try:
            position, lock_seconds, prepared = _snapshot_under_lock(control, connections, list_prepared_xa)
        finally:
            control.close()
    except BaseException:
        Snapshot(connections, None, 0.0).close()
        raise
    logger.info(
        "snapshot taken",
        extra={"action": "snapshot", "lock_seconds": lock_seconds, "workers": workers, "prepared_xa": len(prepared)},
    )
    return Snapshot(connections, position, lock_seconds, prepared)


def release_metadata_locks(connection: mysql.Connection) -> None:
    """Let DDL go ahead on the tables `connection` (a snapshot worker, between two reads) has read so far."""
    _execute(connection, f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")


def _begin(worker: mysql.Connection) -> None:
    _execute(worker, "START TRANSACTION WITH CONSISTENT SNAPSHOT")
    _execute(worker, f"SAVEPOINT {_SAVEPOINT}")


def _reader(endpoint: Endpoint) -> mysql.Connection:
    reader = mysql.connect(endpoint)
    try:
        _execute(reader, _READ_SESSION)
        _execute(reader, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    except BaseException:
        reader.close()
        raise
    return reader


def _stop_logging(reader: mysql.Connection) -> bool:
    """sql_log_bin=0 for the reader (see the module doc); False if the user may not set it."""
    try:
        _execute(reader, "SET SESSION sql_log_bin = 0")
    except pymysql.err.OperationalError as error:
        if error.args and error.args[0] in ACCESS_DENIED:
            return False
        raise
    return True


def _snapshot_under_lock(
    control: mysql.Connection, workers: Sequence[mysql.Connection], list_prepared_xa: bool
) -> tuple[BinlogPosition | None, float, tuple[str, ...]]:
    is_mariadb = mysql.server_info(control).is_mariadb
    _execute(control, f"SET SESSION lock_wait_timeout = {LOCK_WAIT_TIMEOUT}")
    # Closing tables before the lock makes FLUSH TABLES WITH READ LOCK itself quick.
    _execute(control, "FLUSH NO_WRITE_TO_BINLOG TABLES")
    started = time.monotonic()
    _execute(control, "FLUSH TABLES WITH READ LOCK")
    crash_point("snapshot.locked")
    try:
        # Under the lock no transaction can be prepared or committed.
        prepared = tuple(prepared_xids(control)) if list_prepared_xa else ()
        for worker in workers:
            _begin(worker)
        status = _rows(control, "SHOW MASTER STATUS")
        # MySQL's GTID set is the current state: read it under the lock. MariaDB's comes from the file later.
        mysql_gtid = None if is_mariadb or not status else _rows(control, "SELECT @@GLOBAL.gtid_executed")[0][0]
    finally:
        _execute(control, "UNLOCK TABLES")
    lock_seconds = time.monotonic() - started
    if not status:
        return None, lock_seconds, prepared  # binary logging is off
    file, offset = str(status[0][0]), int(str(status[0][1]))
    if is_mariadb:
        return _mariadb_position(control, file, offset), lock_seconds, prepared
    return BinlogPosition(file, offset, str(mysql_gtid) if mysql_gtid else None), lock_seconds, prepared


def once_none_prepared(attempt: Callable[[], T]) -> T:
    """`attempt()`, tried again for up to XA_WAIT_SECONDS while it raises PreparedXaError: on a source busy with
    XA transactions some are prepared at most instants, each for milliseconds."""
    deadline = time.monotonic() + XA_WAIT_SECONDS
    pause = 0.02  # seconds, doubled each time up to half a second
    while True:
        try:
            return attempt()
        except PreparedXaError:
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(2 * pause, 0.5)


def prepared_error(xids: Sequence[str], state: str, consequence: str) -> PreparedXaError:
    """The error naming XA transactions `xids`, in `state`, and the `consequence`."""
    names = [readable_xid(xid) for xid in xids]
    listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return PreparedXaError(
        f"{len(names)} XA transaction(s) {state} ({listed}): {consequence}"
        " (XA COMMIT or XA ROLLBACK ends them; XA RECOVER lists them)"
    )


def prepared_xids(control: mysql.Connection) -> list[str]:
    """The XA transactions prepared and not yet committed or rolled back (XA RECOVER), as replication.xa_id writes
    them; none if the user may not list them (MySQL without XA_RECOVER_ADMIN)."""
    try:
        rows = _rows(control, "XA RECOVER")
    except pymysql.err.OperationalError as exc:
        if exc.args[0] not in ACCESS_DENIED:
            raise
        logger.info("the source user may not run XA RECOVER", extra={"action": "snapshot", "reason": str(exc)})
        return []
    xids = []
    for format_id, gtrid_length, bqual_length, data in rows:
        gtrid_end = int(gtrid_length)
        raw = bytes(data)
        xids.append(xa_id(raw[:gtrid_end], raw[gtrid_end : gtrid_end + int(bqual_length)], int(format_id)))
    return xids


def readable_xid(xid: str) -> str:
    """An xid as xa_id writes it, as the people who chose it know it: the text of its gtrid."""
    gtrid = xid.split("'", 2)[1]
    return repr(bytes.fromhex(gtrid).decode(errors="replace"))


def _mariadb_position(connection: mysql.Connection, file: str, offset: int) -> BinlogPosition | None:
    if not file:
        return None  # binary logging is off
    gtid = _rows(connection, "SELECT BINLOG_GTID_POS(%s, %s)", (file, offset))[0][0]
    return BinlogPosition(file, offset, None if gtid is None else str(gtid))


def _execute(connection: mysql.Connection, sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def _rows(connection: mysql.Connection, sql: str, args: tuple[object, ...] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())

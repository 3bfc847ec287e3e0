"""Where the source's binlog is: the position a replication starts from, or a copy's objects were read at.

A start must not fall inside an XA transaction: its rows are logged at its XA PREPARE, and its XA COMMIT later
brings none, so a start between the two would miss them. The checks for it are here, and the horizon a full copy
reads such rows from (xa_capture.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pymysql

from opendrs.connectors.mysql import connection as mysql_connection
from opendrs.connectors.mysql import errors, snapshot, streaming
from opendrs.domain.replication import BinlogPosition, Endpoint, position_key

logger = logging.getLogger(__name__)
T = TypeVar("T")


def current_position(endpoint: Endpoint) -> BinlogPosition:
    """The source's binlog position now (SHOW MASTER STATUS), with its GTID state on MariaDB."""
    return _on_source(endpoint, _read_position)


def start_position(endpoint: Endpoint) -> BinlogPosition:
    """current_position(), for a replication to start from: snapshot.PreparedXaError while XA transactions are
    prepared on the source (their rows are before it, and their XA COMMIT after it brings none), or if one ended
    just after the position was read (see xa_committed_unprepared); tried again at once for a moment first."""
    return snapshot.once_none_prepared(lambda: _on_source(endpoint, _start_here))


def xa_horizon(endpoint: Endpoint) -> BinlogPosition:
    """A position before the XA PREPARE of every XA transaction that is prepared from now on: the position now,
    once each XA transaction prepared when it was read has ended (they end in milliseconds, as a rule); a snapshot
    taken after it finds the rows of the ones it sees prepared between the two (xa_capture.py).
    snapshot.PreparedXaError names those still prepared after snapshot.XA_WAIT_SECONDS."""

    def read(conn: mysql_connection.Connection) -> BinlogPosition:
        position = _read_position(conn)
        waiting = set(snapshot.prepared_xids(conn))
        deadline = time.monotonic() + snapshot.XA_WAIT_SECONDS
        pause = 0.02  # seconds, doubled each time up to half a second
        while waiting:
            if time.monotonic() + pause > deadline:
                state = f"prepared on the source for more than {snapshot.XA_WAIT_SECONDS:g} s and not committed yet"
                consequence = "a copy taken now would miss their rows; it starts once they end"
                raise snapshot.prepared_error(sorted(waiting), state, consequence)
            time.sleep(pause)
            pause = min(2 * pause, 0.5)
            waiting &= set(snapshot.prepared_xids(conn))
        return position

    return _on_source(endpoint, read)


def xa_prepared_between(endpoint: Endpoint, start: BinlogPosition, end: BinlogPosition) -> set[str]:
    """The XA transactions whose XA PREPARE is in the binlog from `start` to `end` (none if the source user may not
    run SHOW BINLOG EVENTS)."""

    def read(conn: mysql_connection.Connection) -> set[str]:
        return {xid for verb, xid in _xa_steps(conn, start, end) if verb == "PREPARE"}

    return _on_source(endpoint, read)


def _on_source(endpoint: Endpoint, read: Callable[[mysql_connection.Connection], T]) -> T:
    try:
        conn = mysql_connection.connect(endpoint)
        try:
            return read(conn)
        finally:
            conn.close()
    except (pymysql.err.MySQLError, OSError) as exc:
        raise errors.classify(exc) from exc  # a source that is down: RetriableError


def _start_here(conn: mysql_connection.Connection) -> BinlogPosition:
    position = _read_position(conn)
    # After the position: what was prepared before it and is still pending, or ended in between.
    consequence = "incremental sync, starting after them, would miss their rows; it starts once they end"
    snapshot.check_no_prepared_xa(conn, consequence)
    committed = xa_committed_unprepared(conn, position, _master_status(conn))
    if committed:
        raise snapshot.PreparedXaError(
            f"XA transaction(s) {', '.join(committed[:5])} prepared before the start position were committed just"
            " after it was read: incremental sync, starting there, would miss their rows; it reads a new one"
        )
    return position


def _read_position(conn: mysql_connection.Connection) -> BinlogPosition:
    position = _master_status(conn)
    if not mysql_connection.server_info(conn).is_mariadb:
        return position
    with conn.cursor() as cursor:
        cursor.execute("SELECT BINLOG_GTID_POS(%s, %s)", (position.file, position.offset))
        row = cursor.fetchone()
    return BinlogPosition(position.file, position.offset, str(row[0]) if row and row[0] is not None else None)


def _master_status(conn: mysql_connection.Connection) -> BinlogPosition:
    """File and offset only."""
    with conn.cursor() as cursor:
        cursor.execute("SHOW MASTER STATUS")
        row = cursor.fetchone()
    if row is None:
        raise errors.SourceConfigError("the source has no binlog (log_bin=OFF)")
    return BinlogPosition(str(row[0]), int(row[1]))


SHOW_EVENTS_PAGE = 1000


def xa_committed_unprepared(conn: mysql_connection.Connection, start: BinlogPosition, end: BinlogPosition) -> list[str]:
    """The XA transactions whose XA COMMIT is in the binlog from `start` to `end`, and whose XA PREPARE is not.

    Why: a start reads its position, then runs XA RECOVER. An XA transaction prepared before the position and
    committed between the two is in neither: its rows are before the start, and its XA COMMIT after it brings
    none. Read where the binlog was after XA RECOVER (`end`): its XA COMMIT is between the two positions."""
    prepared: set[str] = set()
    committed: list[str] = []
    for verb, xid in _xa_steps(conn, start, end):
        if verb == "PREPARE":
            prepared.add(xid)
        elif verb == "COMMIT" and xid not in prepared:
            committed.append(xid)
    return committed


def _xa_steps(
    conn: mysql_connection.Connection, start: BinlogPosition, end: BinlogPosition
) -> Iterator[tuple[str, str]]:
    """(PREPARE, COMMIT or ROLLBACK, xid) of the two-phase XA steps in the binlog from `start` to `end`; none if the
    source user may not run SHOW BINLOG EVENTS."""
    try:
        for info in _event_infos(conn, start, end):
            parsed = streaming.xa_statement(info)
            if parsed is not None and not parsed[2]:  # not a one-phase commit (MySQL)
                yield parsed[0], parsed[1]
    except pymysql.err.OperationalError as exc:
        if exc.args[0] not in snapshot.ACCESS_DENIED:
            raise
        logger.info("the source user may not run SHOW BINLOG EVENTS", extra={"action": "start", "reason": str(exc)})


def _event_infos(conn: mysql_connection.Connection, start: BinlogPosition, end: BinlogPosition) -> Iterator[str]:
    """The Info column of SHOW BINLOG EVENTS for the events from `start` to `end`, a page at a time."""
    files = [start.file]
    if end.file != start.file:  # rotated in between (rare: the two positions are milliseconds apart)
        with conn.cursor() as cursor:
            cursor.execute("SHOW BINARY LOGS")
            names = [str(row[0]) for row in cursor.fetchall()]
        files = [name for name in names if position_key(start)[:2] <= _file_key(name) <= position_key(end)[:2]]
    for file in files:
        offset = start.offset if file == start.file else 4  # after the 4-byte magic number
        while True:
            with conn.cursor() as cursor:
                cursor.execute(f"SHOW BINLOG EVENTS IN %s FROM %s LIMIT {SHOW_EVENTS_PAGE}", (file, offset))
                events = cursor.fetchall()
            for _, position, _, _, next_position, info in events:
                if file == end.file and int(position) >= end.offset:
                    return
                yield str(info)
                offset = int(next_position)
            if len(events) < SHOW_EVENTS_PAGE:
                break  # the end of this file


def _file_key(name: str) -> tuple[str, int]:
    key = position_key(BinlogPosition(name, 0))
    return key[0], key[1]

"""Where the source's binlog is: the position a replication starts from, or a copy's objects were read at.

An XA transaction prepared where a replication starts has its rows in the binlog before the start, at its XA
PREPARE, and its XA COMMIT after it brings none. Here is how a start finds them: the horizon its XA PREPAREs are
after, and which XA transactions are prepared at the start (xa_capture.py reads their rows).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterator
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


@dataclasses.dataclass(frozen=True)
class Start:
    """Where a replication starts, and the XA transactions prepared there: their rows are in the binlog before it,
    in their XA PREPAREs, all between `since` and `position`, where xa_capture.prepared_changes reads them."""

    position: BinlogPosition
    since: BinlogPosition
    prepared: frozenset[str]  # as replication.xa_id writes them


def start_position(endpoint: Endpoint) -> Start:
    """current_position(), for a replication to start from, and the XA transactions prepared there (see Start).
    snapshot.PreparedXaError names those whose XA PREPARE it cannot find: prepared for seconds before it
    (xa_horizon), or too close to the position to tell; tried again at once for a moment first."""
    since = xa_horizon(endpoint)
    return snapshot.once_none_prepared(lambda: _on_source(endpoint, lambda conn: _start_here(conn, since)))


def xa_horizon(endpoint: Endpoint) -> BinlogPosition:
    """A position before the XA PREPARE of every XA transaction that is prepared from now on: the position now,
    once each XA transaction prepared when it was read has ended (they end in milliseconds, as a rule); a snapshot
    taken after it finds the rows of the ones it sees prepared between the two (xa_capture.py).
    snapshot.PreparedXaError names those still prepared after snapshot.XA_WAIT_SECONDS."""

    def read(conn: mysql_connection.Connection) -> BinlogPosition:
        position = _read_position(conn)
        waiting = set(snapshot.prepared_xids(conn))

        def ended() -> None:
            waiting.intersection_update(snapshot.prepared_xids(conn))
            if waiting:
                raise snapshot.prepared_error(
                    sorted(waiting),
                    f"prepared on the source for more than {snapshot.XA_WAIT_SECONDS:g} s and not committed yet",
                    "replication starting now would miss their rows; it starts once they end",
                )

        snapshot.once_none_prepared(ended)
        return position

    return _on_source(endpoint, read)


def xa_prepared_between(endpoint: Endpoint, start: BinlogPosition, end: BinlogPosition) -> set[str]:
    """The XA transactions whose XA PREPARE is in the binlog from `start` to `end` (none if the source user may not
    run SHOW BINLOG EVENTS)."""

    def read(conn: mysql_connection.Connection) -> set[str]:
        return {xid for _, verb, xid in _xa_steps(conn, start, end) if verb == "PREPARE"}

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


def _start_here(conn: mysql_connection.Connection, since: BinlogPosition) -> Start:
    position = _read_position(conn)
    listed = snapshot.prepared_xids(conn)
    after = _master_status(conn)
    return Start(position, since, frozenset(prepared_at(conn, since, position, listed, after)))


def prepared_at(
    conn: mysql_connection.Connection,
    since: BinlogPosition,
    position: BinlogPosition,
    listed: Collection[str],
    after: BinlogPosition,
) -> set[str]:
    """The XA transactions prepared at `position`, as the binlog from `since` (an xa_horizon) tells. XA RECOVER's
    `listed`, run once the position was read, and the binlog up to `after`, read after it, check that none escapes:
    each one listed, and each one decided after the position, was prepared after it, or is one of those found.
    snapshot.PreparedXaError names the others: prepared before `since`, or decided too soon to tell."""
    start = position_key(position)
    is_prepared: dict[str, bool] = {}  # by the last XA step of each xid before the position
    prepared_later: set[str] = set()
    decided_later: set[str] = set()  # without an XA PREPARE after the position
    for at, verb, xid in _xa_steps(conn, since, after):
        if at < start:
            is_prepared[xid] = verb == "PREPARE"
        elif verb == "PREPARE":
            prepared_later.add(xid)
        elif xid not in prepared_later:
            decided_later.add(xid)
    prepared = {xid for xid, pending in is_prepared.items() if pending}
    unknown = (set(listed) - prepared_later - prepared) | (decided_later - prepared)
    if unknown:
        raise snapshot.prepared_error(
            sorted(unknown),
            "prepared on the source where their XA PREPARE cannot be found",
            "incremental sync, starting now, would miss their rows; it reads a new start",
        )
    return prepared


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


def _xa_steps(
    conn: mysql_connection.Connection, start: BinlogPosition, end: BinlogPosition
) -> Iterator[tuple[tuple[str, int, int], str, str]]:
    """(where, PREPARE, COMMIT or ROLLBACK, xid) of the two-phase XA steps in the binlog from `start` to `end`, where
    as position_key gives it; none if the source user may not run SHOW BINLOG EVENTS."""
    try:
        for at, info in _event_infos(conn, start, end):
            parsed = streaming.xa_statement(info)
            if parsed is not None and not parsed[2]:  # not a one-phase commit (MySQL)
                yield at, parsed[0], parsed[1]
    except pymysql.err.OperationalError as exc:
        if exc.args[0] not in snapshot.ACCESS_DENIED:
            raise
        logger.info("the source user may not run SHOW BINLOG EVENTS", extra={"action": "start", "reason": str(exc)})


def _event_infos(
    conn: mysql_connection.Connection, start: BinlogPosition, end: BinlogPosition
) -> Iterator[tuple[tuple[str, int, int], str]]:
    """Where each event from `start` to `end` is (position_key), and its Info column of SHOW BINLOG EVENTS, read a
    page at a time."""
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
                yield position_key(BinlogPosition(file, int(position))), str(info)
                offset = int(next_position)
            if len(events) < SHOW_EVENTS_PAGE:
                break  # the end of this file


def _file_key(name: str) -> tuple[str, int]:
    key = position_key(BinlogPosition(name, 0))
    return key[0], key[1]

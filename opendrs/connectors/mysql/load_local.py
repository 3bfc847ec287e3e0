"""LOAD DATA LOCAL INFILE fed from memory: the client's side of the protocol, with no file and no thread.

The server answers the statement by asking for the file by name; the client sends its bytes in packets, an empty
packet ends them, and the server answers with the statement's result. PyMySQL opens the file the server names
and sends it 16 KB a packet: a copy had to run the statement in a thread of its own and feed it through a pipe.
Here the caller sends each batch of lines as it comes from the source, in packets of up to PACKET_BYTES, straight
into the connection: the target parses one batch out of its socket buffer while the source formats the next.

Connections open with PyMySQL's own LOAD DATA LOCAL handling off (connection.connect): the server may ask for a
file only in answer to a LocalLoad, which sends only what its caller gives it. A rogue or compromised server can
no longer make the client read a file of its choosing (the service's secret key, say) in answer to any query.

Uses PyMySQL's private packet calls, as the binlog stream does (pyproject.toml pins PyMySQL below its next minor).
"""

from __future__ import annotations

import contextlib
from typing import Any

import pymysql
from pymysql.constants import COMMAND
from pymysql.protocol import OKPacketWrapper

from opendrs.connectors.mysql import connection as mysql

PACKET_BYTES = 1024 * 1024  # fewer, larger packets: less work per byte on both sides than PyMySQL's 16 KB
# The server's answer when its local_infile is off: MySQL 5.7's and old MariaDB's, MySQL 8's, MariaDB 10.5+'s.
LOCAL_INFILE_REFUSED = frozenset({1148, 3948, 4166})


class LocalLoad:
    """One LOAD DATA LOCAL statement on `connection`: enter to start it, send() its data, exit to end it; then
    `loaded` (rows) and `warnings` hold its result. `statement` names any file: none is opened."""

    def __init__(self, connection: mysql.Connection, statement: str, max_allowed_packet: int) -> None:
        self._connection: Any = connection  # the private calls are not in PyMySQL's type stubs
        self._statement = statement
        # The server drops the connection on a packet as long as its max_allowed_packet: half leaves room.
        self._packet_bytes = max(1, min(PACKET_BYTES, max_allowed_packet // 2))
        self.loaded = 0
        self.warnings = 0

    def __enter__(self) -> LocalLoad:
        connection = self._connection
        connection._execute_command(COMMAND.COM_QUERY, self._statement)
        try:
            request = connection._read_packet()  # an error packet raises the server's error here
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] in LOCAL_INFILE_REFUSED:
                advice = f"{exc.args[1]}: run SET GLOBAL local_infile = ON on the target (no restart needed)"
                raise type(exc)(exc.args[0], advice) from exc
            raise
        if not request.is_load_local_packet():
            raise pymysql.err.OperationalError(2027, f"the server did not ask for the data of: {self._statement}")
        return self

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        for start in range(0, len(view), self._packet_bytes):
            self._connection.write_packet(view[start : start + self._packet_bytes])

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            # End the statement all the same, so the connection can roll back; the first error is the one to tell
            # (if it broke the connection, PyMySQL has let go of the socket: ending fails in any way).
            with contextlib.suppress(Exception):
                self._end()
            return
        self._end()

    def _end(self) -> None:
        self._connection.write_packet(b"")
        packet = self._connection._read_packet()  # an error packet raises the server's error here
        if not packet.is_ok_packet():
            raise pymysql.err.OperationalError(2027, f"no result came for: {self._statement}")
        result = OKPacketWrapper(packet)
        self.loaded = result.affected_rows
        self.warnings = result.warning_count

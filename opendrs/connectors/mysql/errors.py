"""Errors of binlog streaming and applying, and which MySQL/MariaDB errors are worth a retry.

Hierarchy::

    ReplicationError          root: anything that stops a MySQL/MariaDB stream or applier
    ├── FencedError           a newer worker holds the task: this one must stop writing (not a failure)
    ├── RetriableError        the connection broke or the server was briefly unavailable:
    │                         reconnect and resume from the last checkpoint
    └── FatalError            retrying cannot help; a person must act
        ├── BinlogPurgedError       the binlog file holding the start position is gone (error 1236)
        ├── BinlogPositionError     the server refuses the start position for another reason (1236)
        ├── SourceConfigError       the source does not log what we need (row format, full metadata)
        ├── UnsupportedEventError   an event or column type we cannot decode exactly
        └── TargetDivergedError     the target lacks the row a change must update or delete

Classification follows Debezium's MySqlErrorHandler: a table of server error codes, then the client-side
connection errors (2xxx) and socket errors, which are retriable. An unknown server error is fatal: replaying
the same statement would only fail again, and a loop of silent retries hides the problem.
"""

from __future__ import annotations

import logging

import pymysql

logger = logging.getLogger(__name__)


class ReplicationError(Exception):
    """MySQL/MariaDB replication failed."""

    code: int | None = None

    def __init__(self, message: str | None = None, *, code: int | None = None) -> None:
        super().__init__(message or self.__doc__)
        if code is not None:
            self.code = code

    @property
    def retriable(self) -> bool:
        return isinstance(self, RetriableError)


class FencedError(ReplicationError):
    """The target refused a write: another worker took the task over (its fencing token is newer than ours)."""


class RetriableError(ReplicationError):
    """The connection to the server was lost or the server was briefly unavailable; retry from the checkpoint."""


class FatalError(ReplicationError):
    """Replication cannot go on without a person's action."""


class BinlogPurgedError(FatalError):
    """The binlog at the start position was purged from the source: changes after it are lost for us.

    The task must be restarted with a new full copy."""


class BinlogPositionError(FatalError):
    """The source refused to stream from the requested binlog position."""


class SourceConfigError(FatalError):
    """The source server is not configured for row-based replication with full row metadata."""


class UnsupportedEventError(FatalError):
    """The binlog holds an event or a column type that cannot be replicated exactly."""


class TargetDivergedError(FatalError):
    """A row that a source change updates or deletes is not on the target: the target has diverged."""


# Server error codes (ER_*) on which a retry may succeed: the session or server went away, or a lock
# conflict that the next attempt does not meet.
RETRIABLE_SERVER_CODES: dict[int, str] = {
    1040: "ER_CON_COUNT_ERROR: too many connections",
    1053: "ER_SERVER_SHUTDOWN: server shutdown in progress",
    1158: "ER_NET_READ_ERROR",
    1159: "ER_NET_READ_INTERRUPTED: net read timeout",
    1160: "ER_NET_ERROR_ON_WRITE",
    1161: "ER_NET_WRITE_INTERRUPTED: net write timeout",
    1205: "ER_LOCK_WAIT_TIMEOUT",
    1213: "ER_LOCK_DEADLOCK",
    1317: "ER_QUERY_INTERRUPTED",
    1927: "ER_CONNECTION_KILLED (MariaDB)",
    # Another replica with our server_id took the binlog stream: a worker that lost the task, which the fences
    # stop at its next write; the task's holder reconnects and takes the stream back.
    4052: "ER_SLAVE_SAME_ID (MariaDB)",
    4031: "ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)",
}

# Client-side error codes (CR_*), raised by the driver itself: the connection, not the statement, failed.
RETRIABLE_CLIENT_CODES: dict[int, str] = {
    2002: "CR_CONNECTION_ERROR: cannot connect through the socket",
    2003: "CR_CONN_HOST_ERROR: cannot connect",
    2006: "CR_SERVER_GONE_ERROR: server has gone away",
    2013: "CR_SERVER_LOST: lost connection during query",
    2014: "CR_COMMANDS_OUT_OF_SYNC",
    2055: "CR_SERVER_LOST_EXTENDED: lost connection, system error",
}

# Server error codes that are fatal and deserve a name in the logs (any other server error is fatal too).
FATAL_SERVER_CODES: dict[int, str] = {
    1045: "ER_ACCESS_DENIED_ERROR",
    1049: "ER_BAD_DB_ERROR: unknown database",
    1054: "ER_BAD_FIELD_ERROR: unknown column",
    1062: "ER_DUP_ENTRY",
    1142: "ER_TABLEACCESS_DENIED_ERROR",
    1146: "ER_NO_SUCH_TABLE",
    1227: "ER_SPECIFIC_ACCESS_DENIED_ERROR: missing privilege (REPLICATION SLAVE, BINLOG MONITOR)",
    1236: "ER_MASTER_FATAL_ERROR_READING_BINLOG: position unavailable (purged, beyond the end, corrupt)",
    1264: "ER_WARN_DATA_OUT_OF_RANGE",
    1366: "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD",
    1406: "ER_DATA_TOO_LONG",
    1452: "ER_NO_REFERENCED_ROW_2: foreign key",
}

ER_MASTER_FATAL_ERROR_READING_BINLOG = 1236

# Texts of error 1236 that mean "the file is gone": MySQL and MariaDB say it in these words.
_PURGED_MARKERS = ("could not find first log file name", "purged", "could not open log file")


def binlog_error(code: int, message: str) -> ReplicationError:
    """The error for an error packet the server sent on the binlog dump connection."""
    if code == ER_MASTER_FATAL_ERROR_READING_BINLOG:
        lowered = message.lower()
        if any(marker in lowered for marker in _PURGED_MARKERS):
            return BinlogPurgedError(f"binlog purged past the start position: {message}", code=code)
        return BinlogPositionError(f"the source cannot stream from the start position: {message}", code=code)
    return server_error(code, message)


def server_error(code: int, message: str) -> ReplicationError:
    """A server or client error code and message, classified."""
    if code in RETRIABLE_SERVER_CODES or code in RETRIABLE_CLIENT_CODES:
        return RetriableError(f"({code}) {message}", code=code)
    return FatalError(f"({code}) {message}", code=code)


def classify(exc: BaseException) -> ReplicationError:
    """Our error for a driver or socket error (ours unchanged); the caller raises it `from exc`."""
    if isinstance(exc, ReplicationError):
        return exc
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        message = str(exc.args[1]) if len(exc.args) > 1 else ""
        if isinstance(exc, pymysql.err.InterfaceError):
            return RetriableError(f"({exc.args[0]}) {message}", code=exc.args[0])
        return binlog_error(exc.args[0], message)
    if isinstance(exc, pymysql.err.InterfaceError | OSError | EOFError):
        # InterfaceError without a code: PyMySQL's "(0, '')" on a closed connection.
        return RetriableError(f"connection failed: {exc!r}")
    return FatalError(f"unexpected error: {exc!r}")

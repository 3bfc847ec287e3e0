"""Statements that a stop interrupts: a long ALTER TABLE on the target ends at once when the task is paused or
stopped, instead of holding the pause for as long as the sort runs (or the ALTER waits for a lock).

While the block runs, a watcher thread looks at the stop event; once it is set, a second session sends KILL QUERY
for the block's connection. The statement then fails with ER_QUERY_INTERRUPTED, and InnoDB rolls an ALTER back,
leaving the table as it was: the resumed task builds it again. Any account may kill its own sessions. KILL QUERY
of a session between two statements does nothing, and the block cannot end while a kill is being sent, so a
kill never reaches a statement after the block.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pymysql

from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import Endpoint

POLL_SECONDS = 0.2
ER_QUERY_INTERRUPTED = 1317


@contextlib.contextmanager
def interrupted_by(stop: threading.Event | None, connection: mysql.Connection, endpoint: Endpoint) -> Iterator[None]:
    """Kill the statement `connection` runs inside the block as soon as `stop` is set (`endpoint` reaches its
    server for a second session); no stop event: the block runs as it is."""
    if stop is None:
        yield
        return
    session: int = connection.thread_id()  # type: ignore[no-untyped-call]
    finished = threading.Event()
    sending = threading.Lock()

    def watch() -> None:
        while not stop.wait(POLL_SECONDS):
            if finished.is_set():
                return
        with sending:
            if not finished.is_set():
                _kill_query(endpoint, session)

    threading.Thread(target=watch, name=f"interrupt-{session}", daemon=True).start()
    try:
        yield
    finally:
        with sending:
            finished.set()


def was_interrupted(error: BaseException | None) -> bool:
    """Whether `error` is a statement's end by KILL QUERY."""
    return isinstance(error, pymysql.err.MySQLError) and bool(error.args) and error.args[0] == ER_QUERY_INTERRUPTED


def _kill_query(endpoint: Endpoint, session: int) -> None:
    # A target that does not answer cannot run the statement either: nothing to kill, nothing to report.
    with (
        contextlib.suppress(pymysql.err.MySQLError, OSError),
        mysql.connect(endpoint) as killer,
        killer.cursor() as cursor,
    ):
        cursor.execute(f"KILL QUERY {int(session)}")

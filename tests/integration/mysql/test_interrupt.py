"""A stop interrupts a target statement (connectors/mysql/interrupt.py): an ALTER TABLE held up behind a lock ends
with ER_QUERY_INTERRUPTED once the stop is set, leaving the table as it was; after the block, nothing is killed."""

from __future__ import annotations

import threading
import time

import pymysql

from opendrs.connectors.mysql import interrupt
from tests.e2e import mysql_helpers as my
from tests.harness import wait_for
from tests.integration.mysql.conftest import Server


def test_a_stop_ends_a_waiting_alter_and_leaves_the_table_as_it_was(target: Server, database: str) -> None:
    table = f"{database}.blocked"
    target.execute(f"CREATE DATABASE {database}", f"CREATE TABLE {table} (id INT PRIMARY KEY, k INT)")
    stop = threading.Event()
    builder = target.connect()
    outcome: list[BaseException | None] = []

    def alter() -> None:
        try:
            with interrupt.interrupted_by(stop, builder, target.endpoint), builder.cursor() as cursor:
                cursor.execute(f"ALTER TABLE {table} ADD KEY k_k (k)")
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    with my.metadata_lock_held(target.server, table):
        thread = threading.Thread(target=alter)
        thread.start()
        wait_for(lambda: my.alters_waiting(target.server, "blocked") == 1, "the ALTER to wait for the lock")
        stopped = time.monotonic()
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the ALTER still runs after the stop"
        assert time.monotonic() - stopped < 5
    [error] = outcome
    assert error is not None and interrupt.was_interrupted(error), error
    assert [row[2] for row in target.query(f"SHOW INDEX FROM {table}")] == ["PRIMARY"]
    with builder.cursor() as cursor:  # the connection is still usable
        cursor.execute("SELECT 1")
    builder.close()


def test_after_the_block_the_watcher_ends_and_later_statements_run_to_their_end(target: Server, database: str) -> None:
    stop = threading.Event()
    connection = target.connect()
    try:
        with interrupt.interrupted_by(stop, connection, target.endpoint), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        stop.set()
        watcher = f"interrupt-{connection.thread_id()}"
        wait_for(lambda: all(t.name != watcher for t in threading.enumerate()), "the watcher to see the stop")
        with connection.cursor() as cursor:
            cursor.execute("SELECT SLEEP(1)")
            assert cursor.fetchall() == ((0,),)  # SLEEP answers 1 when it is killed
    finally:
        connection.close()


def test_was_interrupted_tells_a_kill_from_other_errors() -> None:
    assert interrupt.was_interrupted(pymysql.err.OperationalError(1317, "Query execution was interrupted"))
    assert not interrupt.was_interrupted(pymysql.err.OperationalError(2013, "Lost connection"))
    assert not interrupt.was_interrupted(RuntimeError(1317))

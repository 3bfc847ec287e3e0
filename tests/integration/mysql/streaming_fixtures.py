"""Fixtures and helpers for the binlog streaming and applier tests: real MariaDB servers, no mocks.

Import the fixtures you use into the test module by name (this is not a conftest).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pymysql
import pytest

from opendrs.connectors.mysql import applier as applier_module
from opendrs.connectors.mysql import positions, streaming
from opendrs.domain.replication import BinlogPosition, Endpoint, Selection, Transaction, position_key
from tests import servers

DEADLINE = 30.0  # seconds: how long a poll waits before the test fails
POLL = 0.02  # seconds between polls

_schemas = itertools.count(1)
_server_ids = itertools.count(1001)

T = TypeVar("T")


def endpoint_of(server: servers.MariadbServer) -> Endpoint:
    return Endpoint(server.host, server.port, server.user, "")


def connect(server: servers.MariadbServer, database: str | None = None) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=server.host, port=server.port, user=server.user, database=database, autocommit=True, charset="utf8mb4"
    )


def execute(server: servers.MariadbServer, *statements: str, database: str | None = None) -> None:
    """Run statements on one connection, in order (each autocommitted unless they open a transaction)."""
    conn = connect(server, database)
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        conn.close()


def query(server: servers.MariadbServer, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    conn = connect(server)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
    finally:
        conn.close()


def position_now(server: servers.MariadbServer) -> BinlogPosition:
    """SHOW MASTER STATUS, with the GTID state there."""
    return positions.current_position(endpoint_of(server))


def assert_at_end(server: servers.MariadbServer, position: BinlogPosition) -> None:
    """`position` is in the current binlog file and only events of no transaction follow it (the server may log
    a binlog checkpoint some time after a rotation)."""
    now = position_now(server)
    assert position.file == now.file
    assert position.gtid == now.gtid
    events = query(server, f"SHOW BINLOG EVENTS IN '{position.file}' FROM {position.offset}")
    assert [str(e[2]) for e in events if str(e[2]) in ("Gtid", "Query", "Xid", "Write_rows_v1")] == []


def purge_binlogs_before(server: servers.MariadbServer, file: str) -> None:
    """PURGE BINARY LOGS TO `file`, until it is done: MariaDB keeps a file until its binlog checkpoint is logged."""

    def purged() -> bool:
        execute(server, f"PURGE BINARY LOGS TO '{file}'")
        return [str(row[0]) for row in query(server, "SHOW BINARY LOGS")] == [file]

    wait_until(purged, f"binlogs before {file} purged")


def new_server_id() -> int:
    return next(_server_ids)


def wait_until(check: Callable[[], T | None], what: str, deadline: float = DEADLINE) -> T:
    """Poll `check` until it returns something other than None/False; fail after `deadline` seconds."""
    end = time.monotonic() + deadline
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline}s waiting for {what}")
        time.sleep(POLL)


def collect(
    stream: streaming.BinlogStream, count: int, deadline: float = DEADLINE, rows: int | None = None
) -> list[Transaction]:
    """The next `count` transactions of the stream (heartbeats skipped); fails after `deadline` seconds."""
    end = time.monotonic() + deadline
    transactions: list[Transaction] = []
    while len(transactions) < count:
        remaining = end - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"got {len(transactions)} of {count} transactions within {deadline}s")
        try:
            item = stream.next(timeout=remaining)
        except TimeoutError:
            continue
        if isinstance(item, Transaction):
            transactions.append(item)
    return transactions


def rows_checksum(server: servers.MariadbServer, schema: str, table: str) -> list[tuple[Any, ...]]:
    """Every row of the table as HEX() of every column (NULL stays None), sorted: equal lists, equal tables."""
    columns = [
        row[0]
        for row in query(
            server,
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s "
            "ORDER BY ORDINAL_POSITION",
            (schema, table),
        )
    ]
    select = ", ".join(f"HEX(`{c}`)" for c in columns)
    return sorted(query(server, f"SELECT {select} FROM `{schema}`.`{table}`"), key=repr)


def tables_of(server: servers.MariadbServer, schema: str) -> list[str]:
    return sorted(
        str(row[0])
        for row in query(server, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s", (schema,))
    )


def structure_of(server: servers.MariadbServer, schema: str, table: str) -> list[tuple[Any, ...]]:
    return query(
        server,
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s ORDER BY ORDINAL_POSITION",
        (schema, table),
    )


def assert_same_schema(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str, target_schema: str
) -> None:
    """Same tables, same columns, same rows (every byte of every column, duplicates counted)."""
    assert tables_of(source, schema) == tables_of(target, target_schema)
    for table in tables_of(source, schema):
        assert structure_of(source, schema, table) == structure_of(target, target_schema, table), table
        assert rows_checksum(source, schema, table) == rows_checksum(target, target_schema, table), table


def replicate(
    source: servers.MariadbServer,
    applier: applier_module.Applier,
    start: BinlogPosition,
    selection: Selection,
    until: BinlogPosition,
    max_rows: int = 1000,
) -> None:
    """Stream from `start` and apply until the applier's checkpoint reaches `until`."""
    end_key = position_key(until)
    with streaming.stream(endpoint_of(source), start, selection, new_server_id(), heartbeat_interval=0.2) as stream:
        checkpoint = applier.load_checkpoint()

        def done() -> bool:
            return checkpoint is not None and position_key(checkpoint) >= end_key

        for batch in stream.batches(max_rows):
            if isinstance(batch, streaming.Heartbeat):
                applier.advance(batch.position)
            else:
                applier.apply(batch)
            checkpoint = applier.load_checkpoint()
            if done():
                return


def prepare_xa(server: servers.MariadbServer, xid: str, *statements: str, database: str) -> None:
    """XA transaction `xid` runs `statements` and is prepared; its session ends, so any session may commit it."""
    execute(server, f"XA START {xid}", *statements, f"XA END {xid}", f"XA PREPARE {xid}", database=database)


def kept_xa(target: servers.MariadbServer, task: str) -> list[tuple[object, ...]]:
    return query(target, "SELECT xid FROM opendrs_meta.prepared_xa WHERE task_id = %s", (task,))


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MariadbServer]:
    """A MariaDB logging full row images with full metadata, shared by the tests that only add data to it."""
    with servers.mariadb_server(tmp_path_factory.mktemp("source"), binlog=True, server_id=1) as server:
        yield server


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MariadbServer]:
    with servers.mariadb_server(tmp_path_factory.mktemp("target"), server_id=2) as server:
        yield server


@pytest.fixture
def own_source(tmp_path: Path) -> Iterator[servers.MariadbServer]:
    """A source of the test's own, for tests that kill, restart or purge it."""
    with servers.mariadb_server(tmp_path / "own-source", binlog=True, server_id=11) as server:
        yield server


@pytest.fixture
def schema(source: servers.MariadbServer) -> str:
    """A fresh database on the shared source, for this test alone."""
    name = f"s{next(_schemas)}_{int(time.time() * 1000) % 100000}"
    execute(source, f"CREATE DATABASE `{name}`")
    return name


def selection_of(*schemas: str, renames: dict[str, str] | None = None) -> Selection:
    return Selection(databases=tuple(schemas), renames=renames or {})

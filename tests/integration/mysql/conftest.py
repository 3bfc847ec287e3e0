"""Fixtures for the full-copy tests: a source MariaDB writing a row binlog, a target MariaDB, and helpers that run
the copy library end to end (catalog, snapshot, structure, chunks, copy, indexes) the way the engine will."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from opendrs.connectors.mysql import catalog, checks, chunks, copy, snapshot, structure
from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import BinlogPosition, Endpoint, Selection, TableRef
from tests import servers

_databases = itertools.count(1)


@dataclasses.dataclass(frozen=True)
class Server:
    """A test server and how to reach it."""

    server: servers.MariadbServer

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.server.host, self.server.port, self.server.user, "")

    def connect(self) -> mysql.Connection:
        return mysql.connect(self.endpoint)

    def execute(self, *statements: str) -> None:
        """Run statements on one connection, in order; a warning fails the test."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
                    assert not cursor.warning_count, f"{statement}: {_warnings(cursor)}"
        finally:
            connection.close()

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
                cursor.executemany(statement, rows)
                assert not cursor.warning_count, f"{statement}: {_warnings(cursor)}"
        finally:
            connection.close()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        connection = self.connect()
        try:
            return query(connection, sql)
        finally:
            connection.close()


def query(connection: mysql.Connection, sql: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def _warnings(cursor: Any) -> Any:
    cursor.execute("SHOW WARNINGS")
    return cursor.fetchall()


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with servers.mariadb_server(tmp_path_factory.mktemp("copy-source"), binlog=True, server_id=11) as server:
        yield Server(server)


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with servers.mariadb_server(tmp_path_factory.mktemp("copy-target"), server_id=12) as server:
        yield Server(server)


def precheck_item(
    item: str, source: Endpoint, target: Endpoint, selection: Selection, *, incremental: bool = True
) -> checks.CheckItem:
    """The item named `item` of a real precheck of a task that copies first (and replicates if `incremental`)."""
    found = checks.precheck(source, target, selection, full=True, incremental=incremental, retry=False)
    return next(check for check in found if check.item == item)


def new_database(source: Server) -> str:
    """A database no other test uses, created empty on the source."""
    name = f"copy_{next(_databases)}"
    source.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    return name


@pytest.fixture
def database(source: Server) -> str:
    return new_database(source)


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the first steps of a full copy found: the tables, their chunks, and the snapshot's position."""

    tables: dict[TableRef, catalog.TableInfo]
    chunks: list[chunks.Chunk]
    position: BinlogPosition | None
    lock_seconds: float


def prepare(target: Server, selection: Selection, reader: mysql.Connection, size: chunks.ChunkSize) -> Plan:
    """Catalog, structure and chunk plan, read on `reader` (a snapshot connection)."""
    tables = {info.table: info for info in catalog.list_tables(reader, selection)}
    connection = target.connect()
    try:
        for database in catalog.list_databases(reader, selection):
            structure.create_database(connection, database, selection)
        for info in tables.values():
            structure.create_table(connection, info, selection)
    finally:
        connection.close()
    planned = [chunk for info in tables.values() for chunk in chunks.plan_chunks(reader, info, size)]
    return Plan(tables, planned, None, 0.0)


def copy_chunks(
    snap: snapshot.Snapshot,
    target: Server,
    plan: Plan,
    selection: Selection,
    todo: Sequence[chunks.Chunk] | None = None,
    batch_bytes: int = copy.BATCH_BYTES,
) -> int:
    """Copy `todo` (all the plan's chunks by default) with one thread per snapshot connection; rows copied."""
    pending = list(plan.chunks if todo is None else todo)
    lock = threading.Lock()
    copied: list[int] = []
    errors: list[BaseException] = []

    def work(reader: mysql.Connection) -> None:
        connection = target.connect()
        try:
            while True:
                with lock:
                    if not pending or errors:
                        return
                    chunk = pending.pop(0)
                info = plan.tables[chunk.table]
                target_table = selection.target_of(chunk.table)
                rows = copy.copy_chunk(reader, connection, info, chunk, target_table, batch_bytes=batch_bytes)
                with lock:
                    copied.append(rows)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(reader,)) for reader in snap.connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(copied)


def build_all_indexes(target: Server, plan: Plan, selection: Selection) -> None:
    connection = target.connect()
    try:
        for info in plan.tables.values():
            structure.build_indexes(connection, info, selection)
    finally:
        connection.close()


def full_copy(
    source: Server,
    target: Server,
    selection: Selection,
    workers: int = 2,
    size: chunks.ChunkSize | None = None,
    batch_bytes: int = copy.BATCH_BYTES,
) -> Plan:
    """The whole full copy: snapshot, structure, chunks copied in parallel, indexes; the plan it ran."""
    with snapshot.open_snapshot(source.endpoint, workers) as snap:
        plan = prepare(target, selection, snap.connections[0], size or chunks.ChunkSize())
        copy_chunks(snap, target, plan, selection, batch_bytes=batch_bytes)
    build_all_indexes(target, plan, selection)
    return dataclasses.replace(plan, position=snap.position, lock_seconds=snap.lock_seconds)


def row_images(
    connection: mysql.Connection, info: catalog.TableInfo, table: TableRef | None = None
) -> list[tuple[Any, ...]]:
    """Every row of the table as exact, comparable text (hex of the stored bytes; FLOAT widened exactly), sorted."""
    fields = []
    for column in info.columns:
        name = mysql.quote_identifier(column.name)
        value = f"CAST({name} AS DOUBLE)" if column.data_type == "float" else f"CAST({name} AS BINARY)"
        fields.append(f"HEX({value})")
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION time_zone = '+00:00'")
        cursor.execute(f"SELECT {', '.join(fields)} FROM {chunks.qualified(table or info.table)}")
        return sorted(cursor.fetchall(), key=repr)

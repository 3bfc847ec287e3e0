"""The full copy against real servers: a parallel copy inside one snapshot equals the source at the snapshot's
binlog position, however the source changes meanwhile; chunks can be copied again and resumed from a new
snapshot."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pymysql
import pytest
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from opendrs.connectors.mysql import catalog, chunks, copy, snapshot
from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import BinlogPosition, Selection, TableRef, xa_id
from tests.integration.mysql.conftest import (
    Plan,
    Server,
    build_all_indexes,
    copy_chunks,
    full_copy,
    prepare,
    query,
    row_images,
)

# mysql-replication 1.0 still connects with PyMySQL's deprecated `db=` argument.
pytestmark = pytest.mark.filterwarnings("ignore:'db' is deprecated:DeprecationWarning:pymysqlreplication.*")

SIZE = chunks.ChunkSize(rows=300)
_replica_ids = itertools.count(4200)
TABLES = [
    "CREATE TABLE items (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, name VARCHAR(40), KEY k_k (k))",
    "CREATE TABLE pairs (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (a, b))",
    "CREATE TABLE notes (txt VARCHAR(20), n INT)",
]
# Changes made after the snapshot: (statement, the rows it changes as (table, kind, key)).
LATER_WRITES: list[tuple[str, list[tuple[str, str, Any]]]] = [
    (
        "UPDATE items SET name = 'changed' WHERE id IN (1, 1500, 3000)",
        [("items", "update", i) for i in (1, 1500, 3000)],
    ),
    ("DELETE FROM items WHERE id IN (2, 2999)", [("items", "delete", 2), ("items", "delete", 2999)]),
    (
        "INSERT INTO items (id, k, name) VALUES (5000, 7, 'new'), (0, 7, 'zero')",
        [("items", "insert", 5000), ("items", "insert", 0)],
    ),
    ("UPDATE pairs SET v = -1 WHERE a = 3 AND b = 'b3'", [("pairs", "update", (3, "b3"))]),
    ("DELETE FROM pairs WHERE a = 9", [("pairs", "delete", (9, f"b{n}")) for n in range(10)]),
    ("INSERT INTO pairs VALUES (100, 'x', 1)", [("pairs", "insert", (100, "x"))]),
    ("INSERT INTO notes VALUES ('late', 1)", [("notes", "insert", "late")]),
    ("DELETE FROM notes WHERE n = 3", [("notes", "delete", "note 3")] * 6),
]


def _fill(source: Server, database: str) -> None:
    source.execute(f"USE {database}", *TABLES)
    source.executemany(
        f"INSERT INTO {database}.items VALUES (%s, %s, %s)", [(i, i % 97, f"item {i}") for i in range(1, 3001)]
    )
    pairs = [(a, f"b{b}", a * b) for a in range(100) for b in range(10)]
    source.executemany(f"INSERT INTO {database}.pairs VALUES (%s, %s, %s)", pairs)
    source.executemany(
        f"INSERT INTO {database}.notes VALUES (%s, %s)", [(f"note {n % 50}", n % 50) for n in range(300)]
    )
    source.execute(f"ANALYZE TABLE {database}.items, {database}.pairs, {database}.notes")


def _images(connection: mysql.Connection, plan: Plan, selection: Selection | None = None) -> dict[str, list[Any]]:
    return {
        info.table.name: row_images(connection, info, selection.target_of(info.table) if selection else None)
        for info in plan.tables.values()
    }


def _binlog_rows(source: Server, start: BinlogPosition, database: str) -> list[tuple[str, str, Any]]:
    """The rows changed in `database` from `start` to the end of the binlog, as (table, kind, key)."""
    kinds = {WriteRowsEvent: "insert", UpdateRowsEvent: "update", DeleteRowsEvent: "delete"}
    changed = []
    with contextlib.closing(_binlog(source, start, database)) as stream:
        for event in stream:
            for row in event.rows:
                values = row.get("values") or row["before_values"]
                changed.append((event.table, kinds[type(event)], _key(event.table, values)))
    return changed


def _binlog(source: Server, start: BinlogPosition, database: str) -> BinLogStreamReader:
    """The row events of `database` from `start` to the current end of the binlog."""
    settings = {"host": source.server.host, "port": source.server.port, "user": source.server.user, "password": ""}
    return BinLogStreamReader(
        connection_settings=settings,
        server_id=next(_replica_ids),
        log_file=start.file,
        log_pos=start.offset,
        resume_stream=True,
        blocking=False,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent],
        only_schemas=[database],
    )


def _key(table: str, values: dict[str, Any]) -> Any:
    if table == "pairs":
        return values["a"], values["b"]
    return values["id" if table == "items" else "txt"]


def _write(source: Server, database: str, writes: Sequence[tuple[str, Any]]) -> None:
    mode = "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'"  # id 0 is a key like any other
    source.execute(f"USE {database}", mode, *(statement for statement, _ in writes))


def _server_images(server: Server, plan: Plan, selection: Selection | None = None) -> dict[str, list[Any]]:
    with contextlib.closing(server.connect()) as connection:
        return _images(connection, plan, selection)


@pytest.fixture
def filled(source: Server, database: str) -> Iterator[tuple[str, Selection]]:
    _fill(source, database)
    yield database, Selection(databases=(database,), renames={database: f"{database}_copy"})


def test_parallel_copy_is_the_snapshot_and_the_binlog_goes_on_from_it(
    source: Server, target: Server, filled: tuple[str, Selection]
) -> None:
    database, selection = filled
    half = len(LATER_WRITES) // 2
    with snapshot.open_snapshot(source.endpoint, workers=2) as snap:
        assert snap.position is not None
        assert snap.lock_seconds < 2.0
        _write(source, database, LATER_WRITES[:half])  # before the copy starts ...
        plan = prepare(target, selection, snap.connections[0], SIZE)
        writer = threading.Thread(target=_write, args=(source, database, LATER_WRITES[half:]))
        writer.start()  # ... and while it runs
        copy_chunks(snap, target, plan, selection)
        writer.join()
        expected = _images(snap.connections[0], plan)
    build_all_indexes(target, plan, selection)

    assert sum(chunk.table.name == "items" for chunk in plan.chunks) >= 5
    assert sum(chunk.table.name == "pairs" for chunk in plan.chunks) >= 3
    assert _server_images(target, plan, selection) == expected
    assert _server_images(source, plan) != expected  # the later writes are on the source, not in the copy
    assert _binlog_rows(source, snap.position, database) == [row for _, rows in LATER_WRITES for row in rows]


def test_a_chunk_copied_again_is_exact(source: Server, target: Server, filled: tuple[str, Selection]) -> None:
    database, selection = filled
    plan = full_copy(source, target, selection, size=SIZE)
    copy_of = selection.renames[database]
    # What a crash could leave behind: rows of an interrupted attempt, stale and missing ones.
    target.execute(
        f"UPDATE {copy_of}.items SET name = 'stale' WHERE id = 5",
        f"INSERT INTO {copy_of}.items VALUES (-5, 0, 'stray'), (9999, 0, 'stray')",
        f"DELETE FROM {copy_of}.items WHERE id IN (10, 2990)",
        f"INSERT INTO {copy_of}.notes VALUES ('stray', 0)",
        f"DELETE FROM {copy_of}.pairs WHERE a = 50",
    )
    # The open-ended chunks of items hold the stray keys beyond the source's MIN and MAX.
    again = [chunk for chunk in plan.chunks if chunk.table.name != "items" or None in (chunk.lower, chunk.upper)]
    sent = []
    with snapshot.open_snapshot(source.endpoint, workers=1) as snap, contextlib.closing(target.connect()) as connection:
        for chunk in again:
            info = plan.tables[chunk.table]
            sent.append(copy.copy_chunk(snap.connections[0], connection, info, chunk, selection.target_of(chunk.table)))
        expected = _images(snap.connections[0], plan)
    assert sum(sent) == 300 + 300 + 1000 + 300  # two chunks of items, all of pairs and notes
    assert _server_images(target, plan, selection) == expected


def test_resuming_from_a_new_snapshot_converges_once_later_changes_are_applied(
    source: Server, target: Server, filled: tuple[str, Selection]
) -> None:
    database, selection = filled
    with snapshot.open_snapshot(source.endpoint, workers=2) as first:
        plan = prepare(target, selection, first.connections[0], SIZE)
        keyed = [chunk for chunk in plan.chunks if not chunk.whole_table]
        done, rest = keyed[::2], keyed[1::2]
        copy_chunks(first, target, plan, selection, done)
        expected_keys = _keys_in(first.connections[0], plan, done)
    assert first.position is not None
    _write(source, database, LATER_WRITES)  # the task was down meanwhile
    with snapshot.open_snapshot(source.endpoint, workers=2) as second:
        copy_chunks(second, target, plan, selection, rest)
        expected_keys |= _keys_in(second.connections[0], plan, rest)
    build_all_indexes(target, plan, selection)

    copy_of = selection.renames[database]
    assert _target_keys(target, copy_of) == expected_keys  # no key missing, none twice (the keys are unique)
    _replay(target, copy_of, source, first.position, database)
    with contextlib.closing(source.connect()) as on_source, contextlib.closing(target.connect()) as on_target:
        for name in ("items", "pairs"):
            info = plan.tables[TableRef(database, name)]
            assert row_images(on_target, info, selection.target_of(info.table)) == row_images(on_source, info)


def test_a_snapshot_taken_while_an_xa_transaction_is_prepared_lists_it_and_holds_none_of_its_rows(
    source: Server, database: str
) -> None:
    """Its rows are in the binlog before the snapshot's position (xa_capture.py finds them), not in the snapshot."""
    source.execute(f"CREATE TABLE {database}.t (id INT PRIMARY KEY)")
    holder = source.connect()
    try:
        for statement in ("XA START 'held'", f"INSERT INTO {database}.t VALUES (1)", "XA END 'held'"):
            query(holder, statement)
        query(holder, "XA PREPARE 'held'")
        with snapshot.open_snapshot(source.endpoint, 2, list_prepared_xa=True) as snap:
            assert snap.prepared_xa == (xa_id(b"held", b"", 1),)
            assert query(snap.connections[1], f"SELECT id FROM {database}.t") == []
        with snapshot.open_snapshot(source.endpoint, 2) as snap:
            assert snap.prepared_xa == ()
        query(holder, "XA COMMIT 'held'")
    finally:
        holder.close()


def test_a_load_warning_fails_the_chunk_and_leaves_nothing(
    source: Server, target: Server, filled: tuple[str, Selection]
) -> None:
    database, selection = filled
    copy_of = selection.renames[database]
    # A target column too narrow for the data: LOAD DATA LOCAL would only warn and cut the values.
    target.execute(
        f"CREATE DATABASE {copy_of}", f"CREATE TABLE {copy_of}.items (id INT PRIMARY KEY, k INT, name CHAR(4))"
    )
    sent: list[int] = []
    with snapshot.open_snapshot(source.endpoint, workers=1) as snap, contextlib.closing(target.connect()) as connection:
        plan = prepare(target, selection, snap.connections[0], SIZE)
        chunk = next(chunk for chunk in plan.chunks if chunk.table.name == "items")
        with pytest.raises(copy.CopyError, match="1265"):
            copy.copy_chunk(
                snap.connections[0],
                connection,
                plan.tables[chunk.table],
                chunk,
                TableRef(copy_of, "items"),
                sent.append,
            )
    assert sum(sent) > 0  # the limiter saw the bytes go by
    assert target.query(f"SELECT COUNT(*) FROM {copy_of}.items") == [(0,)]


def _keys_in(connection: mysql.Connection, plan: Plan, todo: Sequence[chunks.Chunk]) -> set[tuple[str, Any]]:
    keys: set[tuple[str, Any]] = set()
    for chunk in todo:
        columns = chunks.order_by(chunk.key)
        rows = query(
            connection, f"SELECT {columns} FROM {chunks.qualified(chunk.table)} WHERE {chunks.chunk_condition(chunk)}"
        )
        keys |= {(chunk.table.name, row) for row in rows}
    return keys


def _target_keys(target: Server, database: str) -> set[tuple[str, Any]]:
    items = target.query(f"SELECT id FROM {database}.items")
    pairs = target.query(f"SELECT a, b FROM {database}.pairs")
    return {("items", row) for row in items} | {("pairs", row) for row in pairs}


def _replay(target: Server, database: str, source: Server, start: BinlogPosition, source_database: str) -> None:
    """Apply the source's row changes since `start` idempotently, as the binlog applier will."""
    stream = _binlog(source, start, source_database)
    keys = {"items": ("id",), "pairs": ("a", "b")}
    connection = target.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
            for event in stream:
                if event.table not in keys:
                    continue
                table = f"{database}.{event.table}"
                for row in event.rows:
                    for values in (row.get("before_values"), row.get("values")):
                        if values is not None:
                            where = " AND ".join(f"{column} = %s" for column in keys[event.table])
                            cursor.execute(f"DELETE FROM {table} WHERE {where}", [values[c] for c in keys[event.table]])
                    after = row.get("after_values") or (
                        row["values"] if not isinstance(event, DeleteRowsEvent) else None
                    )
                    if after is not None:
                        columns = ", ".join(after)
                        cursor.execute(
                            f"REPLACE INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(after))})",
                            list(after.values()),
                        )
    finally:
        stream.close()
        connection.close()


def test_batches_shrink_until_they_fit_in_a_packet(source: Server, target: Server, database: str) -> None:
    big = 300 * 1024
    source.execute(f"CREATE TABLE {database}.blobs (id INT PRIMARY KEY, b LONGBLOB)")
    source.executemany(f"INSERT INTO {database}.blobs VALUES (%s, %s)", [(i, bytes([i]) * big) for i in range(12)])
    source.execute("SET GLOBAL max_allowed_packet = 1048576")  # sessions opened from now on: 1 MB packets
    try:
        selection = Selection(databases=(database,))
        with snapshot.open_snapshot(source.endpoint, workers=1) as snap, contextlib.closing(target.connect()) as to:
            plan = prepare(target, selection, snap.connections[0], SIZE)
            (chunk,) = plan.chunks
            # Batches planned at 8 MB are cut by GROUP_CONCAT (it warns) and halved until they fit in 1 MB.
            rows = copy.copy_chunk(
                snap.connections[0], to, plan.tables[chunk.table], chunk, chunk.table, batch_bytes=8 << 20
            )
    finally:
        source.execute("SET GLOBAL max_allowed_packet = 268435456")
    assert rows == 12
    info = plan.tables[chunk.table]
    with contextlib.closing(source.connect()) as on_source, contextlib.closing(target.connect()) as on_target:
        assert row_images(on_target, info) == row_images(on_source, info)


def test_table_shapes_change_with_instant_ddl_and_a_released_snapshot_reader_fails_on_a_rebuilt_table(
    source: Server, database: str
) -> None:
    """What the copy relies on to notice DDL around its snapshot: an instant ALTER leaves a snapshot's reads
    working but changes the tables' shapes; a rebuilt table fails to read (1412) once the reader has let go of its
    metadata lock, which the ALTER then does not wait for."""
    selection = Selection(databases=(database,))
    d = f"`{database}`"
    source.execute(f"CREATE TABLE {d}.t (id INT PRIMARY KEY, v INT, KEY v (v))", f"INSERT INTO {d}.t VALUES (1, 1)")
    with source.connect() as connection:
        before = catalog.table_shapes(connection, selection)
        assert catalog.table_shapes(connection, selection) == before
        source.execute(f"ALTER TABLE {d}.t ADD COLUMN w INT, ALGORITHM=INSTANT")
        assert catalog.table_shapes(connection, selection) != before
        changed = catalog.table_shapes(connection, selection)
        source.execute(f"ALTER TABLE {d}.t DROP KEY v")
        assert catalog.table_shapes(connection, selection) != changed

    with snapshot.open_snapshot(source.endpoint, 1) as snap:
        [reader] = snap.connections
        assert query(reader, f"SELECT COUNT(*) FROM {d}.t") == [(1,)]
        snapshot.release_metadata_locks(reader)
        with source.connect() as connection, connection.cursor() as cursor:
            cursor.execute("SET SESSION lock_wait_timeout = 5")
            cursor.execute(f"ALTER TABLE {d}.t FORCE")  # would wait 5 s and fail if the lock were still held
        with pytest.raises(pymysql.err.MySQLError) as failure:
            query(reader, f"SELECT COUNT(*) FROM {d}.t")
        assert failure.value.args[0] == 1412, failure.value

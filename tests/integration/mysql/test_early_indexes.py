"""A big table's plain indexes built online while its rows still load (engine/early_indexes.py): only plain KEYs
go online, FULLTEXT waits for build_indexes(); rows loaded during and after the build are in the index; a build
starts only for a big table half copied, and its failure reaches the copy thread that waits for it."""

from __future__ import annotations

import contextlib
import threading

import pymysql
import pytest

from opendrs.connectors.mysql import catalog, chunks, copy, snapshot, structure
from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import Selection, TableRef
from opendrs.engine import early_indexes
from opendrs.engine.early_indexes import EarlyIndexes
from tests.e2e import mysql_helpers as my
from tests.harness import wait_for
from tests.integration.mysql.conftest import Server, prepare

TABLE = (
    "CREATE TABLE docs (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, body TEXT, KEY k_k (k), FULLTEXT KEY ft (body))"
)


def _prepared(source: Server, target: Server, database: str) -> tuple[Selection, catalog.TableInfo]:
    source.execute(f"CREATE TABLE {database}.{TABLE.removeprefix('CREATE TABLE ')}")
    selection = Selection(databases=(database,), renames={database: f"{database}_early"})
    reader = source.connect()
    try:
        plan = prepare(target, selection, reader, chunks.ChunkSize())
    finally:
        reader.close()
    return selection, plan.tables[TableRef(database, "docs")]


def _statements_waiting_for_metadata_lock(target: Server, table: TableRef, kind: str) -> int:
    sql = (
        "SELECT COUNT(*) FROM information_schema.processlist"
        f" WHERE state = 'Waiting for table metadata lock' AND info LIKE '{kind} %' AND info LIKE '%{table.name}%'"
    )
    return int(target.query(sql)[0][0])


def _indexes(target: Server, table: TableRef) -> set[str]:
    rows = target.query(f"SHOW INDEX FROM {chunks.qualified(table)}")
    return {str(row[2]) for row in rows} - {"PRIMARY"}


def test_plain_indexes_go_online_and_the_rest_after(source: Server, target: Server, database: str) -> None:
    selection, info = _prepared(source, target, database)
    table = selection.target_of(info.table)
    rows = f"SELECT seq, seq % 7, CONCAT('w', seq) FROM {mysql.quote_identifier(table.schema)}.seq_1_to_500"
    target.execute(f"INSERT INTO {chunks.qualified(table)} {rows}")
    connection = target.connect()
    try:
        structure.build_plain_indexes_online(connection, info, selection)
        assert _indexes(target, table) == {"k_k"}
        target.execute(f"INSERT INTO {chunks.qualified(table)} VALUES (501, 3, 'late')")  # a chunk loading on
        structure.build_plain_indexes_online(connection, info, selection)  # again: nothing to do
        structure.build_indexes(connection, info, selection)
    finally:
        connection.close()
    assert _indexes(target, table) == {"k_k", "ft"}
    counted = f"SELECT COUNT(*) FROM {chunks.qualified(table)} FORCE INDEX (k_k) WHERE k = 3"
    assert target.query(counted) == [(73,)]  # 72 of the first 500 (3, 10, ..., 500), and the late one
    assert target.query(f"CHECK TABLE {chunks.qualified(table)}")[-1][-1] == "OK"


def test_a_build_starts_only_for_a_big_table_half_copied(source: Server, target: Server, database: str) -> None:
    selection, info = _prepared(source, target, database)
    table = selection.target_of(info.table)
    builds = EarlyIndexes(target.endpoint, selection, threading.Event())
    small = early_indexes.MIN_CHUNKS - 1
    builds.maybe_start(info, chunks_total=small, chunks_done=small - 1)
    builds.maybe_start(info, chunks_total=10, chunks_done=4)
    builds.close()
    assert _indexes(target, table) == set()
    builds.maybe_start(info, chunks_total=10, chunks_done=5)
    builds.wait(info.table)
    assert _indexes(target, table) == {"k_k"}


def test_a_failed_build_fails_the_thread_that_waits_for_it(source: Server, target: Server, database: str) -> None:
    selection, info = _prepared(source, target, database)
    target.execute(f"DROP TABLE {chunks.qualified(selection.target_of(info.table))}")
    builds = EarlyIndexes(target.endpoint, selection, threading.Event())
    builds.maybe_start(info, chunks_total=10, chunks_done=10)
    with pytest.raises(pymysql.err.ProgrammingError, match="1146"):
        builds.wait(info.table)


def test_a_stop_interrupts_a_build_which_then_leaves_the_table_as_it_was(
    source: Server, target: Server, database: str
) -> None:
    selection, info = _prepared(source, target, database)
    table = selection.target_of(info.table)
    stop = threading.Event()
    builds = EarlyIndexes(target.endpoint, selection, stop)
    with my.metadata_lock_held(target.server, chunks.qualified(table)):
        builds.maybe_start(info, chunks_total=10, chunks_done=5)
        waiting = "the online build to wait for the lock"
        wait_for(lambda: my.alters_waiting(target.server, table.name) == 1, waiting)
        stop.set()
        builds.wait(info.table)  # no error: a stop is no failure of the build
    assert _indexes(target, table) == set()


def test_a_chunk_loading_as_an_online_build_starts_waits_for_it_and_never_deadlocks(
    source: Server, target: Server, database: str
) -> None:
    """The build's ALTER takes an exclusive metadata lock to start. A chunk transaction that had read the table
    before it (a shared read lock) and wanted to write after it (a shared write lock) closed a cycle: MariaDB
    killed the chunk with ER_LOCK_DEADLOCK, and the task lost a retry's back-off. A READ lock held by the test
    stalls the chunk at its first statement on the table, and lets the build ask for its lock meanwhile."""
    selection, info = _prepared(source, target, database)
    source.execute(f"INSERT INTO {database}.docs SELECT seq, seq % 7, CONCAT('w', seq) FROM {database}.seq_1_to_2000")
    table = selection.target_of(info.table)
    copied: list[int] = []
    failures: list[BaseException] = []

    def run(action: object) -> threading.Thread:
        def guarded() -> None:
            try:
                action()  # type: ignore[operator]
            except BaseException as error:
                failures.append(error)

        thread = threading.Thread(target=guarded)
        thread.start()
        return thread

    with (
        snapshot.open_snapshot(source.endpoint, workers=1) as snap,
        contextlib.closing(target.connect()) as loader,
        contextlib.closing(target.connect()) as builder,
        contextlib.closing(target.connect()) as reader,
    ):
        (chunk,) = chunks.plan_chunks(snap.connections[0], info)
        with reader.cursor() as cursor:
            cursor.execute(f"LOCK TABLES {chunks.qualified(table)} READ")
        load = run(lambda: copied.append(copy.copy_chunk(snap.connections[0], loader, info, chunk, table)))
        wait_for(lambda: failures or _statements_waiting_for_metadata_lock(target, table, "%") == 1, "the chunk")
        build = run(lambda: structure.build_plain_indexes_online(builder, info, selection))
        wait_for(lambda: failures or my.alters_waiting(target.server, table.name) == 1, "the build to wait")
        with reader.cursor() as cursor:
            cursor.execute("UNLOCK TABLES")
        load.join()
        build.join()
    assert failures == []
    assert copied == [2000]
    assert _indexes(target, table) == {"k_k"}
    counted = f"SELECT COUNT(*) FROM {chunks.qualified(table)} FORCE INDEX (k_k) WHERE k = 3"
    assert target.query(counted) == [(286,)]

"""Two holders of one task building a table's indexes at once (DDL is not fenced: a worker whose lease expired
may still be running its ALTER): both find the index missing, the second ALTER meets the name the first added,
and it must not fail the build."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from opendrs.connectors.mysql import catalog, chunks, structure
from opendrs.domain.replication import Selection, TableRef
from tests.e2e import mysql_helpers as my
from tests.harness import wait_for
from tests.integration.mysql.conftest import Server, prepare

BUILDS = {
    "plain": structure.build_plain_indexes_online,
    "deferred": structure.build_indexes,
}


@pytest.mark.parametrize("build", BUILDS)
def test_two_builds_racing_add_each_index_once_and_both_succeed(
    source: Server, target: Server, database: str, build: str
) -> None:
    source.execute(
        f"CREATE TABLE {database}.parent (id INT PRIMARY KEY)",
        f"CREATE TABLE {database}.child (id INT PRIMARY KEY, p INT, k INT, KEY k_k (k),"
        f" CONSTRAINT fk_p FOREIGN KEY (p) REFERENCES {database}.parent (id))",
    )
    selection = Selection(databases=(database,))
    reader = source.connect()
    try:
        plan = prepare(target, selection, reader, chunks.ChunkSize())
    finally:
        reader.close()
    info: catalog.TableInfo = plan.tables[TableRef(database, "child")]
    table = selection.target_of(info.table)
    run: Callable[..., None] = BUILDS[build]
    errors: list[BaseException] = []

    def build_once() -> None:
        connection = target.connect()
        try:
            run(connection, info, selection)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    # An open transaction that read the table holds its metadata lock: both ALTERs check, then wait behind it.
    with my.metadata_lock_held(target.server, chunks.qualified(table)):
        first = threading.Thread(target=build_once)
        first.start()
        wait_for(lambda: my.alters_waiting(target.server, table.name) == 1, "the first ALTER to wait for the lock")
        second = threading.Thread(target=build_once)
        second.start()
        wait_for(lambda: my.alters_waiting(target.server, table.name) == 2, "the second ALTER to wait for the lock")
    first.join(timeout=60)
    second.join(timeout=60)

    assert errors == []
    rows = target.query(f"SHOW INDEX FROM {chunks.qualified(table)}")
    assert {str(row[2]) for row in rows} - {"PRIMARY"} == {"k_k", "fk_p"}  # fk_p: the key the source made for it
    foreign_keys = target.query(
        "SELECT constraint_name FROM information_schema.referential_constraints"
        f" WHERE constraint_schema = '{table.schema}' AND table_name = '{table.name}'"
    )
    assert foreign_keys == ([("fk_p",)] if build == "deferred" else [])

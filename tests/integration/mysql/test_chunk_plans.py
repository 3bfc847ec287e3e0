"""Chunk plans cut a table into ranges of about the asked size: a dense integer key into equal value ranges, an
integer key with a few far outliers by sampling (equal value ranges would leave every row in the first chunk)."""

from __future__ import annotations

from opendrs.connectors.mysql import catalog, chunks
from opendrs.domain.replication import Selection, TableRef
from tests.integration.mysql.conftest import Server

SIZE = chunks.ChunkSize(rows=250)


def _rows_per_chunk(source: Server, database: str, table: str) -> list[int]:
    reader = source.connect()
    try:
        [info] = [i for i in catalog.list_tables(reader, Selection(databases=(database,))) if i.table.name == table]
        plan = chunks.plan_chunks(reader, info, SIZE)
    finally:
        reader.close()
    qualified = chunks.qualified(TableRef(database, table))
    return [source.query(f"SELECT COUNT(*) FROM {qualified} WHERE {chunks.chunk_condition(c)}")[0][0] for c in plan]


def _table(source: Server, database: str, table: str, extra_ids: str = "") -> None:
    source.execute(
        f"CREATE TABLE {database}.{table} (id BIGINT NOT NULL PRIMARY KEY, v INT)",
        f"INSERT INTO {database}.{table} SELECT seq, seq FROM {database}.seq_1_to_1000",
        *([f"INSERT INTO {database}.{table} VALUES {extra_ids}"] if extra_ids else []),
        f"ANALYZE TABLE {database}.{table}",
    )


def test_a_dense_integer_key_is_cut_into_equal_ranges(source: Server, database: str) -> None:
    _table(source, database, "dense")
    assert _rows_per_chunk(source, database, "dense") == [250, 250, 250, 250]


def test_an_integer_key_with_outliers_is_sampled(source: Server, database: str) -> None:
    _table(source, database, "sparse", "(10000000, 0), (20000000, 0)")
    counts = _rows_per_chunk(source, database, "sparse")
    assert sum(counts) == 1002
    assert len(counts) >= 4 and max(counts) <= 251, counts

"""Every column type survives the full copy exactly: boundary values, every byte, zero dates, NULL everywhere.

Rows are compared as hex of the stored bytes on both servers (FLOAT widened to DOUBLE, which prints exactly),
tables as SHOW CREATE TABLE once their indexes are built.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from opendrs.connectors.mysql import catalog, chunks, structure
from opendrs.domain.replication import Selection, TableRef
from tests.integration.mysql.conftest import Plan, Server, full_copy, new_database, query, row_images

EVERY_TYPE = """
CREATE TABLE every_type (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  de DECIMAL(65,30), f FLOAT, d DOUBLE, b64 BIT(64), b1 BIT(1),
  dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, y YEAR,
  cu CHAR(20) CHARACTER SET utf8mb4, vu VARCHAR(200) CHARACTER SET utf8mb4, tu TEXT CHARACTER SET utf8mb4,
  cl CHAR(20) CHARACTER SET latin1, vl VARCHAR(300) CHARACTER SET latin1, tl TEXT CHARACTER SET latin1,
  bn BINARY(8), vb VARBINARY(300), bl BLOB,
  e ENUM('a','b','c'), s SET('x','y','z'), j JSON,
  gv BIGINT AS (bi DIV 2) VIRTUAL, gs VARCHAR(210) AS (CONCAT(vu, '!')) STORED,
  KEY k_i (i), KEY k_gs (gs)
)"""
EVERY_TYPE_COLUMNS = (
    "id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, de, f, d, b64, b1, dt, tm, dtm, ts, y,"
    " cu, vu, tu, cl, vl, tl, bn, vb, bl, e, s, j"
)
MAX_DECIMAL = Decimal("9" * 35 + "." + "9" * 30)
MIN_DECIMAL = Decimal("-" + "9" * 35 + "." + "9" * 30)  # not -MAX_DECIMAL: that rounds to 28 digits
ALL_BYTES = bytes(range(256))
TRICKY = b"\t\n\\'\",\x00\x1a\r"  # LOAD DATA's separators and escapes, NUL and Ctrl-Z


def _every_type_rows() -> list[tuple[Any, ...]]:
    nulls = (1, *([None] * 32))
    minimum = (
        *(2, -128, 0, -32768, 0, -8388608, 0, -(2**31), 0, -(2**63), 0),
        *(MIN_DECIMAL, -3.4028234e38, -1.7976931348623157e308, 0, 0),
        *("1000-01-01", "-838:59:59.000000", "1000-01-01 00:00:00.000000", "1970-01-01 00:00:01.000000", 1901),
        *("", "", "", "", b"", b"", b"", b"", b"", "a", "", "{}"),
    )
    maximum = (
        *(3, 127, 255, 32767, 65535, 8388607, 16777215, 2**31 - 1, 2**32 - 1, 2**63 - 1, 2**64 - 1),
        *(MAX_DECIMAL, 3.4028234e38, 1.7976931348623157e308, b"\xff" * 8, b"\x01"),
        *("9999-12-31", "838:59:59.000000", "9999-12-31 23:59:59.999999", "2038-01-19 03:14:07.999999", 2155),
        *("😀" * 20, "😀🎉 ü 中文 𝄞" * 20, "𝄞 four-byte text " * 500, "ÿ" * 20, ALL_BYTES, ALL_BYTES * 50),
        *(b"\xff" * 8, ALL_BYTES, ALL_BYTES * 64, "c", "x,y,z", '{"emoji": "😀", "n": [1, 2.5, null, true]}'),
    )
    escapes = (
        *(4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        *(Decimal("0." + "0" * 29 + "1"), 1.4e-45, 5e-324, b"\x80" + b"\0" * 7, b"\0"),
        *("0000-00-00", "00:00:00", "0000-00-00 00:00:00", "0000-00-00 00:00:00", 0),
        *("\\N", "tab\there, new\nline\r\n", "NULL", "\\", b"back\\slash,'q'\x00\x1a", b"NULL"),
        *(TRICKY[:8], TRICKY, TRICKY * 3, "b", "y", '"a \\" quote, a \\\\ backslash"'),
    )
    partial_dates = (
        *(5, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1),
        *(Decimal("-0." + "0" * 29 + "1"), 0.1, 0.1, 1, b"\x01"),
        *("2024-02-00", "-00:00:00.000001", "2024-00-15 10:00:00.5", "2024-03-31 01:30:00.5", 1970),
        *("trailing  ", "trailing spaces  ", " ", "a ", b"\\N", b"\\"),
        *(b"\0" * 8, b"\\N", b"", "a", "x,z", "[]"),
    )
    floats = (
        *(6, None, None, None, None, None, None, None, None, None, None),
        *(None, 16777217.0, 1 / 3, None, None),
        *(None, None, None, None, None),
        *(None, None, None, None, None, None),
        *(None, None, None, None, None, "null"),
    )
    small_floats = (7, *([None] * 11), 1.17549435e-38, 2.2250738585072014e-308, *([None] * 19))
    single_bytes = [
        (
            *(100 + n, *([n % 100] * 10), None, float(n), float(-n), bytes([n]), None, *([None] * 5)),
            *(chr(0x1F300 + n), chr(n) if n else "x", None, None, bytes([n]), bytes([n]), bytes([n]), bytes([n])),
            *(bytes([n]) * 300, None, None, None),
        )
        for n in range(256)
    ]
    return [nulls, minimum, maximum, escapes, partial_dates, floats, small_floats, *single_bytes]


OTHER_TABLES = [
    """CREATE TABLE composite (a INT NOT NULL, b VARCHAR(20) NOT NULL, c DATETIME(6) NOT NULL, v TEXT,
       PRIMARY KEY (a, b, c), KEY kv (v(10)))""",
    """CREATE TABLE unique_only (u VARCHAR(40) NOT NULL, n INT, x VARBINARY(10), UNIQUE KEY uk (u), KEY kn (n))""",
    "CREATE TABLE binary_key (k VARBINARY(4) NOT NULL PRIMARY KEY, v INT)",
    # Only character columns, in two character sets: nothing forces a line to binary but the copier's casts.
    "CREATE TABLE mixed_charsets (l VARCHAR(10) CHARACTER SET latin1 PRIMARY KEY, u VARCHAR(10) CHARACTER SET utf8mb4)",
    "CREATE TABLE keyless (a INT, b VARCHAR(20))",
    """CREATE TABLE mariadb_types (id INT PRIMARY KEY, u UUID, i6 INET6, i4 INET4, g GEOMETRY, p POINT NOT NULL,
       SPATIAL KEY sp (p))""",
    "CREATE TABLE nullable_unique (u INT NULL, v TEXT, UNIQUE KEY uq (u))",
    "CREATE TABLE double_key (f DOUBLE NOT NULL PRIMARY KEY, v INT)",
    "CREATE TABLE parent (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20)) AUTO_INCREMENT=1000",
    """CREATE TABLE child (id INT NOT NULL PRIMARY KEY, parent_id INT, note VARCHAR(10) CHARACTER SET latin1,
       CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE)""",
]
COMPOSITE_STRINGS = [f"k{n:02d}" for n in range(10)] + ["ä", "B", "😀", "zz", "a b", "tab\t", ""]


def _fill(source: Server, database: str) -> None:
    source.execute(f"USE {database}", "SET SESSION sql_mode = ''", EVERY_TYPE, *OTHER_TABLES)
    placeholders = ", ".join(["%s"] * 33)
    source.executemany(
        f"INSERT INTO {database}.every_type ({EVERY_TYPE_COLUMNS}) VALUES ({placeholders})", _every_type_rows()
    )
    composite = [
        (a, b, f"2024-01-0{1 + c} 00:00:00.{c:06d}", f"{a}-{b}-{c}" if c else None)
        for a in range(3)
        for b in COMPOSITE_STRINGS
        for c in range(6)
    ]
    source.executemany(f"INSERT INTO {database}.composite VALUES (%s, %s, %s, %s)", composite)
    unique_only = [(f"u{n:03d}é", n % 7, bytes([n % 256])) for n in range(200)]
    source.executemany(f"INSERT INTO {database}.unique_only VALUES (%s, %s, %s)", unique_only)
    binary_key = [(bytes([n]), n) for n in range(256)] + [(b"", -1), (b"\0\0", -2), (b"\xff\xff\xff\xff", -3)]
    source.executemany(f"INSERT INTO {database}.binary_key VALUES (%s, %s)", binary_key)
    source.executemany(
        f"INSERT INTO {database}.keyless VALUES (%s, %s)", [(n % 50, f"dup {n % 50}") for n in range(150)]
    )
    mixed = [("é", "😀"), ("ÿ\\", "é\t"), ("a", None)]
    source.executemany(f"INSERT INTO {database}.mixed_charsets VALUES (%s, %s)", mixed)
    source.execute(
        f"INSERT INTO {database}.mariadb_types VALUES"
        " (1, UUID(), '::1', '10.0.0.1', ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), POINT(1.5, -2.25)),"
        " (2, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'ffff::', '255.255.255.255', NULL, POINT(0, 0)),"
        " (3, NULL, NULL, NULL, POINT(-1e300, 5e-324), POINT(0, 0))"
    )
    nullable = [(None, "first null"), (None, "second null"), (1, "one"), (2, None)]
    source.executemany(f"INSERT INTO {database}.nullable_unique VALUES (%s, %s)", nullable)
    source.executemany(f"INSERT INTO {database}.double_key VALUES (%s, %s)", [(0.1, 1), (-1e308, 2), (5e-324, 3)])
    source.executemany(f"INSERT INTO {database}.parent (id, name) VALUES (%s, %s)", [(0, "zero"), (1, "one")])
    source.executemany(f"INSERT INTO {database}.child VALUES (%s, %s, %s)", [(1, 1, "é"), (2, None, None)])
    source.execute(f"CREATE VIEW {database}.every_name AS SELECT id, vu FROM {database}.every_type WHERE id < 10")
    source.execute(
        f"ANALYZE TABLE {database}.every_type, {database}.composite, {database}.binary_key, {database}.unique_only"
    )


@pytest.fixture(scope="module")
def copied(source: Server, target: Server) -> tuple[Selection, Plan]:
    database = new_database(source)
    _fill(source, database)
    selection = Selection(databases=(database,), renames={database: f"{database}_copy"})
    # Small chunks and batches: many of each, so that every way of walking a key is used.
    size = chunks.ChunkSize(rows=50)
    return selection, full_copy(source, target, selection, workers=2, size=size, batch_bytes=4096)


def test_every_row_is_copied_exactly(source: Server, target: Server, copied: tuple[Selection, Plan]) -> None:
    selection, plan = copied
    source_connection, target_connection = source.connect(), target.connect()
    try:
        for info in plan.tables.values():
            expected = row_images(source_connection, info)
            assert expected, info.table
            assert row_images(target_connection, info, selection.target_of(info.table)) == expected, info.table
    finally:
        source_connection.close()
        target_connection.close()


def test_tables_are_chunked_by_their_keys(copied: tuple[Selection, Plan]) -> None:
    _, plan = copied
    counts: dict[str, int] = {}
    for chunk in plan.chunks:
        counts[chunk.table.name] = counts.get(chunk.table.name, 0) + 1
    for name in ("every_type", "composite", "binary_key", "unique_only"):
        assert counts[name] > 2, name
    for name in ("keyless", "nullable_unique", "double_key"):
        assert counts[name] == 1, name
        assert next(c for c in plan.chunks if c.table.name == name).whole_table


def test_structure_is_the_same_once_indexes_are_built(
    source: Server, target: Server, copied: tuple[Selection, Plan]
) -> None:
    selection, plan = copied
    for info in plan.tables.values():
        expected = _without_counter(info.create_statement)
        actual = target.query(f"SHOW CREATE TABLE {chunks.qualified(selection.target_of(info.table))}")[0][1]
        assert _without_counter(actual) == expected


def test_database_defaults_are_copied(source: Server, target: Server, copied: tuple[Selection, Plan]) -> None:
    selection, _ = copied
    (name,) = selection.databases
    sql = "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME"
    assert target.query(f"{sql} = '{selection.renames[name]}'") == source.query(f"{sql} = '{name}'")


def test_secondary_indexes_wait_for_build_indexes(copied: tuple[Selection, Plan]) -> None:
    selection, plan = copied
    every_type = plan.tables[TableRef(selection.databases[0], "every_type")]
    split = structure.split_structure(every_type, selection)
    assert list(split.indexes) == ["k_i", "k_gs"]
    assert "KEY" not in split.create_statement.replace("PRIMARY KEY", "")
    child = plan.tables[TableRef(selection.databases[0], "child")]
    assert list(structure.split_structure(child, selection).foreign_keys) == ["fk_child_parent"]


def test_build_indexes_again_changes_nothing(target: Server, copied: tuple[Selection, Plan]) -> None:
    selection, plan = copied
    connection = target.connect()
    try:
        for info in plan.tables.values():
            before = query(connection, f"SHOW CREATE TABLE {chunks.qualified(selection.target_of(info.table))}")
            structure.create_table(connection, info, selection)
            structure.build_indexes(connection, info, selection)
            assert query(connection, f"SHOW CREATE TABLE {chunks.qualified(selection.target_of(info.table))}") == before
    finally:
        connection.close()


def test_views_are_created_under_the_target_name(
    source: Server, target: Server, copied: tuple[Selection, Plan]
) -> None:
    selection, _ = copied
    (name,) = selection.databases
    reader, connection = source.connect(), target.connect()
    try:
        views = catalog.list_views(reader, selection)
        assert [view.view.name for view in views] == ["every_name"]
        structure.create_views(connection, views, selection)
        structure.create_views(connection, views, selection)  # again: replaced, not an error
    finally:
        reader.close()
        connection.close()
    view_sql = "SELECT id, HEX(vu) FROM {}.every_name ORDER BY id"
    assert target.query(view_sql.format(selection.renames[name])) == source.query(view_sql.format(name))


def _without_counter(create_statement: str) -> str:
    return re.sub(r" AUTO_INCREMENT=\d+", "", create_statement)

"""The MySQL comparison on real servers: a copied database compares consistent; known differences introduced on the
target (missing, extra and changed rows, a changed column type, a missing index, a missing table) are reported
exactly, with their keys, and nothing else."""

from __future__ import annotations

from opendrs.connectors.mysql import compare, compare_rows
from opendrs.domain.compare import CompareResult, DataReport, ObjectReport, RowDiffKind
from opendrs.domain.replication import BinlogPosition, Endpoint, Selection
from tests.integration.mysql.conftest import Server, full_copy, new_database


def _no_wait(_position: BinlogPosition | None) -> None:
    """Nothing replicates in these tests: the target is as it will stay."""


def _go_on() -> None:
    """Never stop."""


def _fill(source: Server, database: str) -> None:
    source.execute(
        f"CREATE TABLE {database}.items (id INT NOT NULL PRIMARY KEY, v VARCHAR(40), n INT NULL, b VARBINARY(16),"
        " f FLOAT, amount DECIMAL(12,3) DEFAULT 1.5, KEY v (v)) DEFAULT CHARSET=utf8mb4",
        f"CREATE TABLE {database}.comp (a INT NOT NULL, b VARCHAR(20) NOT NULL, v INT, PRIMARY KEY (a, b))",
        f"CREATE TABLE {database}.nokey (grp INT, v VARCHAR(20))",
        f"CREATE TABLE {database}.gone (id INT PRIMARY KEY)",
        f"INSERT INTO {database}.items SELECT seq, CONCAT('v ✓ ', seq), IF(seq % 3 = 0, NULL, seq),"
        f" UNHEX(MD5(seq)), seq / 7, seq * 1.25 FROM {database}.seq_1_to_500",
        f"INSERT INTO {database}.comp SELECT seq % 9, CONCAT('k', seq), seq FROM {database}.seq_1_to_300",
        f"INSERT INTO {database}.nokey SELECT seq % 5, CONCAT('d', seq % 7) FROM {database}.seq_1_to_100",
        f"INSERT INTO {database}.gone VALUES (1), (2)",
    )


def _compare(source: Server, target: Server, database: str, *, contents: bool) -> DataReport:
    return compare.compare_data(
        source.endpoint,
        target.endpoint,
        Selection(databases=(database,)),
        contents=contents,
        settle=_no_wait,
        tick=_go_on,
    )


def _objects(source: Server, target: Server, database: str) -> ObjectReport:
    return compare.compare_objects(source.endpoint, target.endpoint, Selection(databases=(database,)))


def _copied(source: Server, target: Server) -> str:
    database = new_database(source)
    _fill(source, database)
    full_copy(source, target, Selection(databases=(database,)))
    return database


def test_a_copied_database_is_consistent(source: Server, target: Server) -> None:
    database = _copied(source, target)
    objects = _objects(source, target, database)
    assert objects.diffs == ()
    assert {count.object_type: (count.source_count, count.target_count) for count in objects.counts} == {
        "DB": (1, 1),
        "TABLE": (4, 4),
        "COLUMN": (12, 12),
        "INDEX": (4, 4),
        "VIEW": (0, 0),
        "ROUTINE": (0, 0),
    }
    for contents in (False, True):
        report = _compare(source, target, database, contents=contents)
        rows = {table.source.name: (table.source_rows, table.target_rows, table.result) for table in report.tables}
        consistent = CompareResult.CONSISTENT
        assert rows == {
            "comp": (300, 300, consistent),
            "gone": (2, 2, consistent),
            "items": (500, 500, consistent),
            "nokey": (100, 100, consistent),
        }
        assert all(table.diffs == () for table in report.tables)


def test_known_differences_are_reported_exactly(source: Server, target: Server) -> None:
    database = _copied(source, target)
    target.execute(
        f"DELETE FROM {database}.items WHERE id IN (5, 250)",  # missing
        f"INSERT INTO {database}.items (id, v) VALUES (1000, 'extra')",  # extra
        f"UPDATE {database}.items SET v = 'changed' WHERE id = 7",
        f"UPDATE {database}.items SET n = 42 WHERE id = 9",  # NULL on the source
        f"UPDATE {database}.items SET b = X'00FF' WHERE id = 10",
        f"UPDATE {database}.comp SET v = -1 WHERE a = 2 AND b = 'k2'",  # a composite key
        f"DELETE FROM {database}.nokey WHERE grp = 1 AND v = 'd1' LIMIT 1",
        f"ALTER TABLE {database}.items MODIFY amount DECIMAL(14,3) DEFAULT 1.5",  # values print the same
        f"ALTER TABLE {database}.items DROP INDEX v",
        f"DROP TABLE {database}.gone",
        f"CREATE FUNCTION {database}.only_here() RETURNS INT DETERMINISTIC RETURN 1",
    )
    source.execute(f"CREATE PROCEDURE {database}.p() SELECT 1")
    target.execute(f"CREATE PROCEDURE {database}.p() SELECT 2")  # the same name, another body
    objects = _objects(source, target, database)
    found = {(diff.object_type, diff.source_value.split(" ")[0], diff.target_value != "") for diff in objects.diffs}
    assert found == {
        ("TABLE", "gone", False),
        ("COLUMN", "items.amount", True),
        ("INDEX", "items.v", False),
        ("ROUTINE", "", True),  # only on the target
        ("ROUTINE", "procedure", True),  # differs
    }
    routines = sorted(diff.message for diff in objects.diffs if diff.object_type == "ROUTINE")
    assert routines[0] == "the routine function only_here exists only on the target", routines
    assert routines[1].startswith("the routine procedure p differs: sql_mode "), routines
    [column] = [diff for diff in objects.diffs if diff.object_type == "COLUMN"]
    assert "decimal(12,3)" in column.source_value and "decimal(14,3)" in column.target_value

    lines = {table.source.name: table for table in _compare(source, target, database, contents=False).tables}
    assert {name: (t.source_rows, t.target_rows, t.result) for name, t in lines.items()} == {
        "comp": (300, 300, CompareResult.CONSISTENT),
        "gone": (2, 0, CompareResult.INCONSISTENT),
        "items": (500, 499, CompareResult.INCONSISTENT),
        "nokey": (100, 99, CompareResult.INCONSISTENT),
    }

    contents = {table.source.name: table for table in _compare(source, target, database, contents=True).tables}
    items = contents["items"]
    assert {(diff.kind, diff.key) for diff in items.diffs} == {
        (RowDiffKind.MISSING, ("5",)),
        (RowDiffKind.MISSING, ("250",)),
        (RowDiffKind.EXTRA, ("1000",)),
        (RowDiffKind.DIFFERENT, ("7",)),
        (RowDiffKind.DIFFERENT, ("9",)),
        (RowDiffKind.DIFFERENT, ("10",)),
    }
    assert items.result is CompareResult.INCONSISTENT and items.diffs_total == 6
    [seven] = [diff for diff in items.diffs if diff.key == ("7",)]
    assert seven.source_sql == f"SELECT * FROM `{database}`.`items` WHERE `id` = 7"
    assert [(diff.kind, diff.key) for diff in contents["comp"].diffs] == [
        (RowDiffKind.DIFFERENT, ("2", "k2")),
    ]
    [nokey] = contents["nokey"].diffs
    assert (nokey.kind, nokey.key) == (RowDiffKind.MISSING, ("1", "d1"))
    assert "multiset" in contents["nokey"].message
    assert contents["gone"].result is CompareResult.INCONSISTENT
    assert "missing on the target" in contents["gone"].message


def test_binary_keys_are_shown_in_hex_and_found_again_by_their_sql(source: Server, target: Server) -> None:
    database = new_database(source)
    source.execute(
        f"CREATE TABLE {database}.blobs (k VARBINARY(8) NOT NULL PRIMARY KEY, v INT)",
        f"INSERT INTO {database}.blobs VALUES (X'00', 1), (X'FF00', 2), ('abc', 3)",
    )
    full_copy(source, target, Selection(databases=(database,)))
    target.execute(f"UPDATE {database}.blobs SET v = 20 WHERE k = X'FF00'")
    [table] = _compare(source, target, database, contents=True).tables
    [diff] = table.diffs
    assert (diff.kind, diff.key) == (RowDiffKind.DIFFERENT, ("0xff00",))
    assert target.query(diff.target_sql) == [(b"\xff\x00", 20)]
    assert source.query(diff.source_sql) == [(b"\xff\x00", 2)]


def test_a_row_changed_between_reads_is_looked_at_again(source: Server, target: Server) -> None:
    """A difference the target resolves before the re-check (as replication does) is not reported."""
    database = new_database(source)
    source.execute(
        f"CREATE TABLE {database}.t (id INT PRIMARY KEY, v INT)",
        f"INSERT INTO {database}.t SELECT seq, seq FROM {database}.seq_1_to_200",
    )
    full_copy(source, target, Selection(databases=(database,)))
    target.execute(f"UPDATE {database}.t SET v = 0 WHERE id IN (3, 4)")
    positions: list[BinlogPosition | None] = []

    def replicate(position: BinlogPosition | None) -> None:
        positions.append(position)
        target.execute(f"UPDATE {database}.t SET v = id WHERE id = 3")  # the change arrives; 4 stays different

    report = compare.compare_data(
        source.endpoint, target.endpoint, Selection(databases=(database,)), contents=True, settle=replicate, tick=_go_on
    )
    assert [diff.key for diff in report.tables[0].diffs] == [("4",)]
    assert positions and positions[0] is not None  # waited for the source's binlog position
    assert len(positions) == 1  # a stable difference is confirmed in one round


def test_a_lost_target_names_the_target(source: Server) -> None:
    database = new_database(source)
    lost = Endpoint("127.0.0.1", 1, "root", "")  # nothing listens on port 1
    try:
        compare.compare_objects(source.endpoint, lost, Selection(databases=(database,)))
    except compare_rows.SideError as failure:
        assert failure.side == "target" and failure.error.retriable
    else:
        raise AssertionError("comparing with a target that does not answer must fail")


def test_keys_that_cannot_bound_ranges_fall_back_to_whole_rows(source: Server, target: Server) -> None:
    database = new_database(source)
    source.execute(
        f"CREATE TABLE {database}.by_enum (k ENUM('a', 'b', 'c') NOT NULL PRIMARY KEY, v INT)",
        f"INSERT INTO {database}.by_enum VALUES ('a', 1), ('b', 2), ('c', 3)",
        f"CREATE TABLE {database}.by_time (at TIMESTAMP(3) NOT NULL PRIMARY KEY, v INT)",
        f"INSERT INTO {database}.by_time VALUES ('2024-01-01 00:00:00.001', 1), ('2024-06-01 12:00:00', 2)",
    )
    full_copy(source, target, Selection(databases=(database,)))
    target.execute(
        f"UPDATE {database}.by_enum SET v = 20 WHERE k = 'b'",
        f"UPDATE {database}.by_time SET v = 10 WHERE v = 1",
    )
    tables = {table.source.name: table for table in _compare(source, target, database, contents=True).tables}
    by_enum = tables["by_enum"]
    assert "multiset" in by_enum.message
    assert {(diff.kind, diff.key) for diff in by_enum.diffs} == {
        (RowDiffKind.MISSING, ("b", "2")),
        (RowDiffKind.EXTRA, ("b", "20")),
    }
    [changed] = tables["by_time"].diffs  # a TIMESTAMP key bounds ranges: both sessions read it in UTC
    assert (changed.kind, changed.key) == (RowDiffKind.DIFFERENT, ("2024-01-01 00:00:00.001",))

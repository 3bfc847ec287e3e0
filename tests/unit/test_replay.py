"""Which target tables take a source's row images as they came (replay.mismatch), and the statements' size bound."""

from __future__ import annotations

import pytest

from opendrs.connectors.mysql import replay
from opendrs.connectors.mysql.values import ColumnSpec, FieldType
from opendrs.domain.replication import TableRef

SOURCE = (
    ColumnSpec("id", FieldType.LONG, 0, unsigned=True),
    ColumnSpec("y", FieldType.YEAR, 0, unsigned=True),  # MariaDB's table map calls every YEAR unsigned
    ColumnSpec("c", FieldType.VARCHAR, 80, charset="utf8mb4"),
    ColumnSpec("b", FieldType.VARCHAR, 8, charset="binary"),
    ColumnSpec("e", FieldType.ENUM, 1, members=("it's", "b,c")),
)
TARGET = (
    replay.TargetColumn("id", "int(10) unsigned", None),
    replay.TargetColumn("y", "year(4)", None),
    replay.TargetColumn("c", "varchar(20)", "utf8mb4"),
    replay.TargetColumn("b", "varbinary(8)", None),
    replay.TargetColumn("e", "enum('it''s','b,c')", "utf8mb4"),
)


def test_a_table_like_the_sources_takes_its_row_images() -> None:
    assert replay.mismatch(SOURCE, TARGET) is None


@pytest.mark.parametrize(
    ("index", "column", "reason"),
    [
        (0, replay.TargetColumn("id", "int(11)", None), "column id differs in sign"),
        (0, replay.TargetColumn("key", "int(10) unsigned", None), "its columns are not the source's"),
        (2, replay.TargetColumn("c", "varchar(80)", "latin1"), "column c has another character set"),
        (3, replay.TargetColumn("b", "varchar(8)", "utf8mb4"), "column b has another character set"),
        (4, replay.TargetColumn("e", "enum('b,c','it''s')", "utf8mb4"), "column e has other members"),
        (4, replay.TargetColumn("e", "enum('it''s','b','c')", "utf8mb4"), "column e has other members"),
    ],
)
def test_a_table_that_differs_is_named_with_the_difference(
    index: int, column: replay.TargetColumn, reason: str
) -> None:
    target = list(TARGET)
    target[index] = column
    mismatch = replay.mismatch(SOURCE, target)
    assert mismatch is not None and mismatch.startswith(reason), mismatch


def test_a_column_more_or_fewer_is_a_mismatch() -> None:
    assert replay.mismatch(SOURCE, TARGET[:-1]) is not None
    assert replay.mismatch(SOURCE, (*TARGET, replay.TargetColumn("x", "int(11)", None))) is not None


@pytest.mark.parametrize("checksum", [False, True])
def test_the_size_bound_holds_for_the_longest_names(checksum: bool) -> None:
    """The applier sends a part as SQL rather than a statement over the target's max_allowed_packet."""
    table_map = bytes([1]) + b"s" + b"\0" + bytes([1]) + b"t" + b"\0" + b"\x03\x03\x0f\x0f" + bytes(40)
    origin = replay.Origin(bytes(120), checksum, 23, bytes(6) + b"\x00\x00\x04\xff", table_map, ())
    rows = bytes(range(256)) * 40
    longest = TableRef("€" * 64, "€" * 64)  # identifiers are utf8mb3: 192 bytes at most
    events = origin.format_description + replay.rows_events(origin, rows, longest, server_id=7)
    assert len(replay.binlog_statement(events)) <= replay.statement_size(origin, rows)

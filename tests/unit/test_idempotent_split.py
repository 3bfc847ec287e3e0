"""A batch of source transactions that straddles a resumed copy's snapshot position is applied in two parts: the
transactions up to that position idempotently (the copy may hold their rows already), the rest strictly; and the
changes of tables copied whole in a later snapshot are left out up to it."""

from __future__ import annotations

import dataclasses

import pytest

from opendrs.connectors.mysql import spill
from opendrs.connectors.mysql.applier import without_copied
from opendrs.domain.replication import BinlogPosition, RowChange, SchemaChange, TableRef, Transaction, position_key
from opendrs.engine.incremental import _split_at


def _transactions(*ends: tuple[str, int]) -> list[Transaction]:
    return [Transaction((), BinlogPosition(file, offset), 0.0) for file, offset in ends]


def test_a_straddling_batch_is_split_at_the_position() -> None:
    batch = _transactions(("mysql-bin.000009", 100), ("mysql-bin.000009", 200), ("mysql-bin.000010", 50))
    parts = _split_at(batch, BinlogPosition("mysql-bin.000009", 200))
    assert parts == [(batch[:2], True), (batch[2:], False)]


def test_a_batch_wholly_before_or_after_the_position_is_one_part() -> None:
    batch = _transactions(("mysql-bin.000009", 100), ("mysql-bin.000009", 200))
    assert _split_at(batch, BinlogPosition("mysql-bin.000010", 4)) == [(batch, True)]
    assert _split_at(batch, BinlogPosition("mysql-bin.000009", 99)) == [(batch, False)]


def test_without_a_resumed_copy_everything_is_strict() -> None:
    batch = _transactions(("mysql-bin.000009", 100))
    assert _split_at(batch, None) == [(batch, False)]


def test_a_table_copied_after_a_change_skips_its_rows_and_its_ddl_but_not_ddl_naming_others() -> None:
    copied, other = TableRef("db", "copied"), TableRef("db", "other")
    skips = {copied: position_key(BinlogPosition("mysql-bin.000009", 200))}
    alter = SchemaChange("db", "ALTER TABLE copied ADD c INT", tables=(copied,))
    rename = SchemaChange("db", "RENAME TABLE copied TO other", tables=(copied, other))
    row = RowChange(copied, "insert", None, {"id": 1})
    before = Transaction((row, alter, rename), BinlogPosition("mysql-bin.000009", 200), 0.0)
    after = Transaction((row, alter), BinlogPosition("mysql-bin.000009", 300), 0.0)

    def same_name(table: TableRef) -> TableRef:
        return table

    assert without_copied(before, skips, same_name).changes == (rename,)
    assert without_copied(after, skips, same_name).changes == (row, alter)


def test_a_large_transaction_stays_in_its_temporary_file_without_the_copied_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(spill, "SPILL_ROWS", 10)
    copied, other = TableRef("db", "copied"), TableRef("db", "other")
    skips = {copied: position_key(BinlogPosition("mysql-bin.000009", 200))}
    changes = [
        RowChange(copied if n % 2 else other, "insert" if n % 4 < 2 else "delete", None, {"id": n}) for n in range(100)
    ]
    buffer = spill.ChangeBuffer[spill.Change]()
    buffer.extend(changes)
    transaction = Transaction(buffer.take(), BinlogPosition("mysql-bin.000009", 100), 0.0)

    kept = without_copied(transaction, skips, lambda table: table).changes

    assert isinstance(kept, spill.SpilledChanges)
    expected = [
        change if change.table == other else dataclasses.replace(change, only_cascades=True)
        for change in changes
        if change.table == other or change.kind == "delete"
    ]
    assert list(kept) == expected and len(expected) == 75

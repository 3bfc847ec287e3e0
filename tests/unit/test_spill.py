"""A transaction's changes past SPILL_ROWS wait in a temporary file, and read back the same, as often as asked."""

from __future__ import annotations

import dataclasses
import gc
import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from opendrs.connectors.mysql import spill
from opendrs.domain.replication import RowChange, SchemaChange, TableRef

TABLE = TableRef("db", "t")


def change(n: int) -> RowChange:
    return RowChange(TABLE, "update", {"id": n, "v": b"\x00\xff" * n}, {"id": n, "v": None})


def test_a_small_transaction_stays_a_tuple_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "SPILL_ROWS", 5)
    buffer = spill.ChangeBuffer()
    buffer.extend([change(1), change(2)])
    buffer.append(change(3))
    assert len(buffer) == 3
    assert buffer.take() == (change(1), change(2), change(3))
    assert len(buffer) == 0 and buffer.take() == ()


def test_a_large_transaction_is_read_back_from_its_file_in_order_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "SPILL_ROWS", 4)
    expected = [change(n) for n in range(11)]
    buffer = spill.ChangeBuffer()
    buffer.extend(expected[:6])  # 6 at once: one batch of 6 goes out
    for one in expected[6:]:
        buffer.append(one)  # 4 more: a batch; the last stays in memory
    taken = buffer.take()
    assert isinstance(taken, spill.SpilledChanges)
    assert len(taken) == 11 and bool(taken)
    assert list(taken) == expected
    assert list(taken) == expected  # the applier may go over it twice
    outer, inner = iter(taken), iter(taken)
    assert [(a, b) for a, b in zip(outer, inner, strict=True)] == [(c, c) for c in expected]  # even interleaved
    assert taken[0] == expected[0] and taken[-1] == expected[-1] and taken[7] == expected[7]
    assert taken[2:4] == tuple(expected[2:4])
    with pytest.raises(IndexError):
        taken[11]
    assert len(buffer) == 0 and buffer.take() == ()  # the buffer starts again, without the file


def test_discarded_changes_leave_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "SPILL_ROWS", 2)
    buffer = spill.ChangeBuffer()
    buffer.extend([change(1), change(2), change(3)])
    buffer.discard()
    assert len(buffer) == 0 and buffer.take() == ()


def test_what_a_spilled_transaction_holds_is_known_without_reading_its_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """The applier asks whether a transaction holds DDL, and counts its changes by kind: reading a file of a million
    changes again for that took as long as applying them."""
    monkeypatch.setattr(spill, "SPILL_ROWS", 3)
    changes: list[spill.Change] = [
        RowChange(TABLE, "insert", None, {"id": 1}),
        RowChange(TABLE, "update", {"id": 1}, {"id": 2}),
        RowChange(TABLE, "delete", {"id": 2}, None),
        RowChange(TABLE, "delete", {"id": 3}, None, only_cascades=True),
        SchemaChange("db", "ALTER TABLE t ADD c INT", tables=(TABLE,)),
        RowChange(TABLE, "insert", None, {"id": 4}),
    ]
    buffer = spill.ChangeBuffer[spill.Change]()
    buffer.extend(changes)
    taken = buffer.take()
    small = tuple(changes[:3])
    monkeypatch.setattr(spill._SpillFile, "read", lambda _: pytest.fail("the file was read"))

    assert spill.tally(taken) == spill.Tally(ddl=1, inserts=2, updates=1, deletes=1, only_cascades=1)
    assert spill.tally(taken).rows == 4
    assert spill.has_schema_changes(taken)
    assert spill.tally(small) == spill.Tally(inserts=1, updates=1, deletes=1)
    assert not spill.has_schema_changes(small)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_pauses_while_a_batch_is_unpickled_only(
    monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    monkeypatch.setattr(spill, "SPILL_ROWS", 2)
    buffer = spill.ChangeBuffer[spill.Change]()
    buffer.extend([change(1), change(2), change(3)])
    taken = buffer.take()
    collecting: list[bool] = []
    load = pickle.load

    def watched_load(file: Any) -> Any:
        collecting.append(gc.isenabled())
        return load(file)

    monkeypatch.setattr(pickle, "load", watched_load)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        for _ in taken:
            assert gc.isenabled() == enabled  # the applier's own work between batches: as it was
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert collecting == [False]


@dataclasses.dataclass(frozen=True)
class Inserts:
    """A rows event as the binlog reader hands it over: its row images (here one id a byte), decoded on demand."""

    rows: bytes
    decoded: list[bytes] = dataclasses.field(default_factory=list)  # the images each decode() was given
    table: TableRef = TABLE
    origin: None = None  # never replayed

    def without_rows(self) -> Inserts:
        return dataclasses.replace(self, rows=b"")

    def decode(self, rows: bytes) -> Iterator[RowChange]:
        self.decoded.append(rows)
        return (RowChange(TABLE, "insert", None, {"id": n}) for n in rows)


def inserts(*ids: int) -> list[RowChange]:
    return [RowChange(TABLE, "insert", None, {"id": n}) for n in ids]


def test_once_spilled_rows_events_wait_in_the_file_undecoded_and_come_back_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(spill, "SPILL_ROWS", 3)
    buffer = spill.ChangeBuffer[spill.Change]()
    first, second, third = Inserts(bytes([1, 2])), Inserts(bytes([3, 4])), Inserts(bytes([6]))
    ddl = SchemaChange("db", "ALTER TABLE t ADD c INT", tables=(TABLE,))
    buffer.add_rows(first)  # held in memory: decoded at once
    buffer.add_rows(second)  # the 3rd change spills: decoded at once too
    buffer.append(RowChange(TABLE, "delete", {"id": 4}, None))
    buffer.add_rows(third)  # from now on the file takes the row images as they are, after what came before
    buffer.append(ddl)
    taken = buffer.take()
    assert isinstance(taken, spill.SpilledChanges) and taken
    assert len(first.decoded) == len(second.decoded) == 1 and third.decoded == []  # not decoded before it is read

    expected = [*inserts(1, 2, 3, 4), RowChange(TABLE, "delete", {"id": 4}, None), *inserts(6), ddl]
    assert spill.has_schema_changes(taken)  # without reading the file
    assert third.decoded == []
    # Iterated as the applier does (list(taken) would ask its length first, which counts by a read of its own).
    assert list(iter(taken)) == expected
    assert list(iter(taken)) == expected  # as often as asked
    assert spill.tally(taken) == spill.Tally(ddl=1, inserts=5, deletes=1)  # counted by the reads
    assert len(taken) == 7
    assert [bytes(rows) for rows in third.decoded] == [bytes([6]), bytes([6])]  # twice read, never to count


def test_the_changes_of_row_images_are_counted_by_a_read_when_asked_before_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "SPILL_ROWS", 1)
    buffer = spill.ChangeBuffer[spill.Change]()
    buffer.add_rows(Inserts(bytes([1])))
    later = Inserts(bytes([2, 3, 4]))
    buffer.add_rows(later)
    assert len(buffer) == 4
    taken = buffer.take()
    assert len(taken) == 4 and spill.tally(taken) == spill.Tally(inserts=4)
    assert list(taken) == inserts(1, 2, 3, 4)


@dataclasses.dataclass(frozen=True)
class Deletes(Inserts):
    def decode(self, rows: bytes) -> Iterator[RowChange]:
        self.decoded.append(rows)
        return (RowChange(TABLE, "delete", {"id": n}, None) for n in rows)


def test_row_images_of_consecutive_events_alike_are_read_and_decoded_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """A large transaction is hundreds of thousands of rows events: each is not a part of its own in memory."""
    monkeypatch.setattr(spill, "SPILL_ROWS", 1)
    monkeypatch.setattr(spill, "PART_BYTES", 4)
    log: list[bytes] = []
    buffer = spill.ChangeBuffer[spill.Change]()
    buffer.add_rows(Inserts(bytes([1])))  # spills
    for event in (Inserts(bytes([2, 3]), log), Inserts(bytes([4]), log), Deletes(bytes([4]), log)):
        buffer.add_rows(event)
    buffer.add_rows(Inserts(bytes([5, 6]), log))
    buffer.add_rows(Inserts(bytes([7, 8, 9]), log))  # past PART_BYTES with the last part: a part of its own
    taken = buffer.take()
    expected = [*inserts(1, 2, 3, 4), RowChange(TABLE, "delete", {"id": 4}, None), *inserts(5, 6, 7, 8, 9)]
    assert list(iter(taken)) == expected
    assert log == [bytes([2, 3, 4]), bytes([4]), bytes([5, 6]), bytes([7, 8, 9])]

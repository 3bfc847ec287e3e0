"""A transaction's changes past SPILL_ROWS wait in a temporary file, and read back the same, as often as asked."""

from __future__ import annotations

import gc
import pickle
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

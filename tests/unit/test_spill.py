"""A transaction's changes past SPILL_ROWS wait in a temporary file, and read back the same, as often as asked."""

from __future__ import annotations

import pytest

from opendrs.connectors.mysql import spill
from opendrs.domain.replication import RowChange, TableRef

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

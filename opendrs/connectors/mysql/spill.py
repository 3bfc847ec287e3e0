"""The changes of one source transaction, however many: past SPILL_ROWS they wait in a temporary file.

A decoded row change takes about 700 bytes of memory (an UPDATE's two images), so a source transaction that
updates a 30-million-row table would take 20 GB if it were held whole; a native replica applies it with almost
none. The reader fills a ChangeBuffer as row events arrive, and hands the applier the result of take(): a tuple,
as always, when the transaction is small; otherwise SpilledChanges, which reads the file back one batch at a time
each time it is iterated (the applier may go over a transaction twice). The file is deleted when it is closed,
at the latest when the transaction is garbage collected. What the applier makes of a large transaction goes into
a ChangeBuffer too: the catch-up's changes without those of tables copied later, and an XA transaction's changes
read back from the target at its XA COMMIT.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import io
import itertools
import pickle
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar, overload

from opendrs.domain.replication import RowChange, SchemaChange

Change = RowChange | SchemaChange
C = TypeVar("C", bound=Change)  # what one transaction holds: any change, or (prepared XA) row changes only
SPILL_ROWS = 50_000  # changes held in memory per transaction, at most; beyond, written out this many at a time


@dataclasses.dataclass
class Tally:
    """Changes counted by kind. A spilled transaction's are counted as they are written out, so that knowing what
    it holds never means reading its file again (each read unpickles every change)."""

    ddl: int = 0
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    only_cascades: int = 0  # row changes applied for their cascades only: the row itself was in a copy already

    @property
    def rows(self) -> int:
        return self.inserts + self.updates + self.deletes

    def add(self, changes: Iterable[Change]) -> None:
        for change in changes:
            if isinstance(change, SchemaChange):
                self.ddl += 1
            elif change.only_cascades:
                self.only_cascades += 1
            elif change.kind == "insert":
                self.inserts += 1
            elif change.kind == "update":
                self.updates += 1
            else:
                self.deletes += 1


def tally(changes: Sequence[Change]) -> Tally:
    """What `changes` hold, by kind (not to be changed); a spilled transaction's without reading its file."""
    if isinstance(changes, SpilledChanges):
        return changes.tally
    counted = Tally()
    counted.add(changes)
    return counted


def has_schema_changes(changes: Sequence[Change]) -> bool:
    if isinstance(changes, SpilledChanges):
        return changes.tally.ddl > 0
    return any(type(change) is SchemaChange for change in changes)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Unpickling a batch makes some 150,000 containers at once, which set the cyclic collector off on passes over
    the worker's whole heap, again and again: 3.5 times the time of the load itself, measured. The batch makes no
    cycles to collect. (A thread that finds the collector paused by another leaves it to that one to resume it.)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _SpillFile(Generic[C]):
    """A temporary file of pickled batches of changes; deleted when closed, or when dropped."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="opendrs-transaction-")  # noqa: SIM115 (closed by close/__del__)
        self._offsets: list[int] = []  # where each batch starts
        self.count = 0
        self.tally = Tally()

    def write(self, changes: list[C]) -> None:
        self._offsets.append(self._file.seek(0, io.SEEK_END))
        pickle.dump(changes, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += len(changes)
        self.tally.add(changes)

    def read(self) -> Iterator[C]:
        """Every change, a batch at a time; two iterations may interleave (each batch is read whole at its offset)."""
        for offset in self._offsets:
            self._file.seek(offset)
            with _collector_paused():
                batch: list[C] = pickle.load(self._file)
            yield from batch

    def close(self) -> None:
        self._file.close()

    def __del__(self) -> None:
        self._file.close()


class SpilledChanges(Sequence[C]):
    """Changes in a temporary file, then a tail still in memory; iterate it, as often as needed. Indexing reads
    them all: for tests and messages, not for loops."""

    def __init__(self, spilled: _SpillFile[C], tail: tuple[C, ...]) -> None:
        self._spilled = spilled
        self._tail = tail
        self._count = spilled.count + len(tail)
        self.tally = dataclasses.replace(spilled.tally)
        self.tally.add(tail)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[C]:
        yield from self._spilled.read()
        yield from self._tail

    @overload
    def __getitem__(self, index: int) -> C: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[C]: ...

    def __getitem__(self, index: int | slice) -> C | Sequence[C]:
        return tuple(self)[index]


class ChangeBuffer(Generic[C]):
    """Where a transaction's changes gather as its events are decoded (or its kept changes are read back)."""

    def __init__(self) -> None:
        self._held: list[C] = []
        self._spilled: _SpillFile[C] | None = None

    def __len__(self) -> int:
        return (self._spilled.count if self._spilled else 0) + len(self._held)

    def append(self, change: C) -> None:
        self._held.append(change)
        if len(self._held) >= SPILL_ROWS:
            self._spill()

    def extend(self, changes: Iterable[C]) -> None:
        # Never more than SPILL_ROWS at a time: `changes` may be a generator of millions.
        remaining = iter(changes)
        while True:
            held = len(self._held)
            self._held.extend(itertools.islice(remaining, SPILL_ROWS - held))
            if len(self._held) == held:
                return
            if len(self._held) >= SPILL_ROWS:
                self._spill()

    def take(self) -> Sequence[C]:
        """The changes gathered; the buffer starts again empty."""
        held, spilled = tuple(self._held), self._spilled
        self._held, self._spilled = [], None
        return held if spilled is None else SpilledChanges(spilled, held)

    def discard(self) -> None:
        if self._spilled is not None:
            self._spilled.close()
        self._held, self._spilled = [], None

    def _spill(self) -> None:
        if self._spilled is None:
            self._spilled = _SpillFile[C]()
        self._spilled.write(self._held)
        self._held = []

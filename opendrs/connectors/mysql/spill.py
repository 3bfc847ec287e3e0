"""The changes of one source transaction, however many: past SPILL_ROWS they wait in a temporary file.

A decoded row change takes about 700 bytes of memory (an UPDATE's two images), so a source transaction that
updates a 30-million-row table would take 20 GB if it were held whole; a native replica applies it with almost
none. The reader fills a ChangeBuffer as row events arrive, and hands the applier the result of take(): a tuple,
as always, when the transaction is small; otherwise SpilledChanges, which reads the file back one batch at a time
each time it is iterated (the applier may go over a transaction twice). The file is deleted when it is closed,
at the latest when the transaction is garbage collected. What the applier makes of a large transaction goes into
a ChangeBuffer too: the catch-up's changes without those of tables copied later, and an XA transaction's changes
read back from the target at its XA COMMIT.

Once a transaction has spilled, the reader's next row events go into the file as the binlog gave them (add_rows),
and are decoded only when the file is read: pickling the decoded changes and unpickling them took a third of a
large transaction's time. Their changes are counted as they are read, the first time the file is read whole; or,
where the applier gave them to the target undecoded (parts(), replay.py), as the target counted them.
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
from typing import Generic, NamedTuple, Protocol, TypeVar, overload

from opendrs.connectors.mysql import replay
from opendrs.domain.replication import RowChange, SchemaChange, TableRef

Change = RowChange | SchemaChange
C = TypeVar("C", bound=Change)  # what one transaction holds: any change, or (prepared XA) row changes only
# Changes held in memory per transaction, at most; beyond, written out this many at a time. Past it, a transaction's
# rows events wait in the file as the binlog gave them, which a MariaDB target applies itself (replay.py): the fewer
# changes decoded first, the less of a large transaction goes as SQL (50,000 made 500,000 rows take 3.0 s, not 2.4 s).
SPILL_ROWS = 5_000
PART_BYTES = 1 << 20  # row images of consecutive rows events read back and decoded together, at most


class EncodedRows(Protocol):
    """The row images of one rows event, as the binlog has them, and how to decode them."""

    @property
    def rows(self) -> bytes: ...

    @property
    def table(self) -> TableRef: ...

    @property
    def origin(self) -> replay.Origin | None:
        """What a target needs to apply the row images itself; None if it cannot."""
        ...

    def without_rows(self) -> EncodedRows:
        """The same event without its row images (what stays in memory while they wait in the file)."""
        ...

    def decode(self, rows: bytes) -> Iterator[RowChange]:
        """The changes of `rows`, this event's row images."""
        ...


class EncodedPart(NamedTuple):
    """Row images of consecutive rows events alike, as the binlog gave them, and the first of those events."""

    event: EncodedRows  # without its rows
    rows: bytes


@dataclasses.dataclass
class Tally:
    """Changes counted by kind. A spilled transaction's are counted as they are written out, so that knowing what
    it holds never means reading its file again (each read unpickles every change)."""

    ddl: int = 0
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    only_cascades: int = 0  # row changes applied for their cascades only: the row itself was in a copy already
    replayed: int = 0  # of the rows, those the target applied from their row images (replay.py)

    @property
    def rows(self) -> int:
        return self.inserts + self.updates + self.deletes

    @property
    def changes(self) -> int:
        return self.ddl + self.only_cascades + self.rows

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
    """What `changes` hold, by kind (not to be changed); a spilled transaction's without reading its file once it
    was iterated whole."""
    if isinstance(changes, SpilledChanges):
        return changes.tally
    counted = Tally()
    counted.add(changes)
    return counted


def has_schema_changes(changes: Sequence[Change]) -> bool:
    if isinstance(changes, SpilledChanges):
        return changes.ddl > 0
    return any(type(change) is SchemaChange for change in changes)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Unpickling a batch makes some three containers a change at once, which set the cyclic collector off on passes
    over the worker's whole heap, again and again: 3.5 times the time of the load itself, measured (50,000 a batch).
    The batch makes no cycles to collect. (A thread that finds the collector paused by another leaves it to that one
    to resume it.)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _SpillFile(Generic[C]):
    """A temporary file of parts, each a pickled batch of changes or the row images of consecutive rows events alike;
    deleted when closed, or when dropped."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="opendrs-transaction-")  # noqa: SIM115 (closed by close/__del__)
        self._parts: list[tuple[int, int, EncodedRows | None]] = []  # offset, size, their event (no rows) if images
        self._pickled = Tally()  # what the pickled batches hold
        self._encoded: Tally | None = Tally()  # what the row images hold: None until a read has counted them

    def write(self, changes: list[C]) -> None:
        self._parts.append((self._file.seek(0, io.SEEK_END), 0, None))
        pickle.dump(changes, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._pickled.add(changes)

    def write_rows(self, event: EncodedRows) -> None:
        """Row images after the last part; of the same table, kind and columns as those of the last part, they join
        it (up to PART_BYTES): a 30-million-row UPDATE is some 600,000 events, but only a few thousand parts."""
        rows, recipe = event.rows, event.without_rows()
        offset = self._file.seek(0, io.SEEK_END)
        last_offset, last_size, last = self._parts[-1] if self._parts else (0, 0, None)
        if last is not None and last == recipe and last_size + len(rows) <= PART_BYTES:
            self._parts[-1] = (last_offset, last_size + len(rows), last)
        else:
            self._parts.append((offset, len(rows), recipe))
        self._file.write(rows)
        self._encoded = None

    @property
    def tally(self) -> Tally:
        """What the file holds, by kind; row images not read yet are counted first (a read of them all)."""
        if self._encoded is None:
            for _ in self.read():
                pass
        assert self._encoded is not None
        return _sum(self._pickled, self._encoded)

    @property
    def ddl(self) -> int:
        return self._pickled.ddl  # row images hold none

    def parts(self) -> Iterator[list[C] | EncodedPart]:
        """The parts in order: batches of changes, and row images still encoded. Two iterations may interleave
        (each part is read whole at its offset)."""
        for offset, size, event in self._parts:
            self._file.seek(offset)
            if event is None:
                with _collector_paused():
                    batch: list[C] = pickle.load(self._file)
                yield batch
            else:
                yield EncodedPart(event, self._file.read(size))

    def read(self) -> Iterator[C]:
        """Every change, a part at a time."""
        counted = Tally() if self._encoded is None else None
        for part in self.parts():
            if not isinstance(part, EncodedPart):
                yield from part
                continue
            changes: Iterable[C] = part.event.decode(part.rows)  # type: ignore[assignment]
            if counted is not None:  # the first read: count them too
                changes = list(changes)
                counted.add(changes)
            yield from changes
        if counted is not None:
            self._encoded = counted

    def count_encoded(self, counted: Tally) -> None:
        """What the row images hold, as counted by a reader of parts() that applied them without decoding."""
        self._encoded = counted

    def close(self) -> None:
        self._file.close()

    def __del__(self) -> None:
        self._file.close()


def _sum(a: Tally, b: Tally) -> Tally:
    return Tally(*(x + y for x, y in zip(dataclasses.astuple(a), dataclasses.astuple(b), strict=True)))


class SpilledChanges(Sequence[C]):
    """Changes in a temporary file, then a tail still in memory; iterate it, as often as needed. Indexing reads
    them all: for tests and messages, not for loops."""

    def __init__(self, spilled: _SpillFile[C], tail: tuple[C, ...]) -> None:
        self._spilled = spilled
        self._tail = tail
        self._tail_tally = tally(tail)

    @property
    def tally(self) -> Tally:
        """What it holds, by kind; row images still to decode are read first, unless an iteration read them all."""
        return _sum(self._spilled.tally, self._tail_tally)

    @property
    def ddl(self) -> int:
        return self._spilled.ddl + self._tail_tally.ddl

    def __len__(self) -> int:
        return self.tally.changes

    def __bool__(self) -> bool:
        return True  # it holds at least SPILL_ROWS changes

    def __iter__(self) -> Iterator[C]:
        yield from self._spilled.read()
        yield from self._tail

    def parts(self) -> Iterator[Sequence[C] | EncodedPart]:
        """The changes as they are kept: batches of them, and row images still encoded (_SpillFile.parts)."""
        yield from self._spilled.parts()
        if self._tail:
            yield self._tail

    def count_encoded(self, counted: Tally) -> None:
        """What the row images hold (all of them, read through parts()), so that counting never decodes them."""
        self._spilled.count_encoded(counted)

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
        return (self._spilled.tally.changes if self._spilled else 0) + len(self._held)

    def __bool__(self) -> bool:
        return self._spilled is not None or bool(self._held)

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

    def add_rows(self, event: EncodedRows) -> None:
        """The changes of a rows event: decoded now while the transaction is held in memory; once it has spilled,
        written out as they are, to be decoded when read."""
        if self._spilled is None:
            self.extend(event.decode(event.rows))  # type: ignore[arg-type]
            return
        if self._held:
            self._spill()  # what came before them goes before them
        self._spilled.write_rows(event)

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

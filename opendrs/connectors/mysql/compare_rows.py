"""Row-level comparison of one table on two MySQL/MariaDB servers: which rows are missing, extra or different.

Both servers hash rows themselves (an MD5 over every compared column, each normalised to text that equal values
print equally on MariaDB and MySQL, with a NULL marker), so only summaries cross the network:

1. Summaries of key ranges, (count, XOR of the row hashes) or just the count for a row-count comparison, are
   compared; a differing range is split at its median key until it holds few rows, whose (key, hash) pairs are
   then compared one by one. A table without a key is compared as a multiset of row hashes.
2. While incremental sync runs, the target lags the source, so some of those rows differ only for a moment.
   Each one is looked at again, a bounded number of times: read it on the source (S1), read the source's binlog
   position, wait until the target has applied up to that position, read it on the target (T), and read it on
   the source again (S2). T == S2: it was in flight, and is dropped. S1 == S2 != T: the row did not change on the
   source while the target caught up past S1, so the target really differs: reported. S1 != S2: the row is
   being changed right now; look again next round. What still changes after the last round is reported too.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pymysql

from opendrs.connectors.mysql import catalog, chunks, errors, types
from opendrs.connectors.mysql import connection as mysql
from opendrs.connectors.mysql.connection import quote_identifier
from opendrs.domain.compare import MAX_REPORTED_ROWS, RowDiff, RowDiffKind
from opendrs.domain.replication import BinlogPosition, TableRef

LEAF_ROWS = 64  # a differing range this small is compared row by row
RECHECK_ROUNDS = 5  # times a differing row is looked at again before it is reported as it stands
KEYS_PER_QUERY = 500

Settle = Callable[[BinlogPosition | None], None]  # returns once the target has applied up to the position
Tick = Callable[[], None]  # called between steps: raises to stop the comparison
Bound = chunks.Bound

_BINARY_TYPES = frozenset({"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"})


class SideError(Exception):
    """A server failed during the comparison: `side` is "source" or "target"."""

    def __init__(self, side: str, error: errors.ReplicationError) -> None:
        super().__init__(f"{side}: {error}")
        self.side = side
        self.error = error


@dataclasses.dataclass(frozen=True)
class Side:
    """One server of the comparison; its failures carry its name."""

    name: str
    connection: mysql.Connection

    def rows(self, sql: str, args: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql, None if args is None else tuple(args))
                return list(cursor.fetchall())
        except (pymysql.err.MySQLError, OSError) as exc:
            raise SideError(self.name, errors.classify(exc)) from exc

    def position(self) -> BinlogPosition | None:
        """The binlog position now (the source's); None without a binlog."""
        found = self.rows("SHOW MASTER STATUS")
        return BinlogPosition(str(found[0][0]), int(found[0][1])) if found else None


def row_hash(columns: Sequence[catalog.Column]) -> str:
    """SQL for the MD5 of a row's compared columns, equal for equal values whatever the server or column charset."""
    return "MD5(CONCAT_WS(',', " + ", ".join(_field(column) for column in columns) + "))"


def _field(column: catalog.Column) -> str:
    name = quote_identifier(column.name)
    if column.data_type == "float":
        value = f"CAST(CAST({name} AS DOUBLE) AS CHAR)"  # FLOAT prints 6 digits; its double prints exactly
    elif column.data_type == "bit":
        value = f"CAST({name} + 0 AS CHAR)"
    elif column.charset is not None:
        value = f"CONVERT({name} USING utf8mb4)"  # text, whatever character set each side stores it in
    elif column.data_type in _BINARY_TYPES:
        value = name
    else:
        value = f"CAST({name} AS CHAR)"  # numbers, dates and times (sessions in UTC), JSON
    return f"COALESCE(HEX({value}), 'N')"  # hex never holds the separator nor the NULL marker


@dataclasses.dataclass(frozen=True)
class TablePair:
    """One table on both sides, and what is compared: `columns` by name, rows identified by `key` (or not)."""

    source: TableRef
    target: TableRef
    source_columns: tuple[catalog.Column, ...]
    target_columns: tuple[catalog.Column, ...]  # the same names, as the target defines them
    key: tuple[catalog.Column, ...]  # the source's row-identifying key; () for a keyless table


@dataclasses.dataclass(frozen=True)
class RowsFound:
    """What a table comparison found: the source's count and the confirmed differences."""

    source_rows: int
    missing: int
    extra: int
    different: int
    diffs: tuple[RowDiff, ...]  # the first MAX_REPORTED_ROWS
    still_changing: int  # of those, rows the source kept changing through every recheck

    @property
    def target_rows(self) -> int:
        """The target's count at the point the differences were confirmed (the source's, corrected by them)."""
        return self.source_rows - self.missing + self.extra


def compare_table(
    source: Side, target: Side, pair: TablePair, *, contents: bool, settle: Settle, tick: Tick
) -> RowsFound:
    """The rows of `pair` that differ (values too if `contents`, else only presence)."""
    if pair.key:
        return _Keyed(source, target, pair, contents, tick).compare(settle)
    return _Keyless(source, target, pair, tick).compare(settle)


class _Keyed:
    def __init__(self, source: Side, target: Side, pair: TablePair, contents: bool, tick: Tick) -> None:
        self._sides = {"source": source, "target": target}
        self._pair = pair
        self._contents = contents
        self._tick = tick
        self._key_names = tuple(column.name for column in pair.key)

    def compare(self, settle: Settle) -> RowsFound:
        summaries = self._summaries(None, None)
        source_rows = summaries["source"][0]
        candidates: dict[Bound, tuple[str | None, str | None]] = {}
        if summaries["source"] != summaries["target"]:
            self._narrow(None, None, summaries, candidates)
        confirmed, changing = _recheck(candidates, self._read, self._sides["source"], settle, self._tick)
        diffs = [self._diff(key, values) for key, values in sorted(confirmed.items())[:MAX_REPORTED_ROWS]]
        return _found(source_rows, confirmed, diffs, changing)

    def _table(self, side: str) -> TableRef:
        return self._pair.source if side == "source" else self._pair.target

    def _hash(self, side: str) -> str:
        return row_hash(self._pair.source_columns if side == "source" else self._pair.target_columns)

    def _summaries(self, lower: Bound | None, upper: Bound | None) -> dict[str, tuple[Any, ...]]:
        condition = chunks.range_condition(self._key_names, lower, upper)
        found = {}
        for side in ("source", "target"):
            table = chunks.qualified(self._table(side))
            if self._contents:
                sql = (
                    "SELECT COUNT(*), COALESCE(BIT_XOR(CAST(CONV(LEFT(h, 16), 16, 10) AS UNSIGNED)), 0),"
                    " COALESCE(BIT_XOR(CAST(CONV(RIGHT(h, 16), 16, 10) AS UNSIGNED)), 0)"
                    f" FROM (SELECT {self._hash(side)} AS h FROM {table} WHERE {condition}) AS rows_"
                )
            else:
                sql = f"SELECT COUNT(*) FROM {table} WHERE {condition}"
            found[side] = tuple(int(value) for value in self._sides[side].rows(sql)[0])
        return found

    def _narrow(
        self,
        lower: Bound | None,
        upper: Bound | None,
        summaries: dict[str, tuple[Any, ...]],
        candidates: dict[Bound, tuple[str | None, str | None]],
    ) -> None:
        """Split the differing range [lower, upper) until its rows can be compared one by one."""
        self._tick()
        larger = max(("source", "target"), key=lambda side: summaries[side][0])
        rows = summaries[larger][0]
        middle = self._median(larger, lower, upper, rows) if rows > LEAF_ROWS else None
        if middle is None:
            source, target = self._leaf("source", lower, upper), self._leaf("target", lower, upper)
            for key in source.keys() | target.keys():
                if source.get(key) != target.get(key):
                    candidates[key] = (source.get(key), target.get(key))
            return
        for part_lower, part_upper in ((lower, middle), (middle, upper)):
            part = self._summaries(part_lower, part_upper)
            if part["source"] != part["target"]:
                self._narrow(part_lower, part_upper, part, candidates)

    def _median(self, side: str, lower: Bound | None, upper: Bound | None, rows: int) -> Bound | None:
        select = ", ".join(types.literal_source(column) for column in self._pair.key)
        found = self._sides[side].rows(
            f"SELECT {select} FROM {chunks.qualified(self._table(side))}"
            f" WHERE {chunks.range_condition(self._key_names, lower, upper)}"
            f" ORDER BY {chunks.order_by(self._key_names)} LIMIT 1 OFFSET {rows // 2}"
        )
        if not found:
            return None
        middle = self._literals(found[0])
        return None if middle == lower else middle

    def _literals(self, values: Sequence[Any]) -> Bound:
        return tuple(
            types.literal(column, chunks.text(value)) for column, value in zip(self._pair.key, values, strict=True)
        )

    def _leaf(self, side: str, lower: Bound | None, upper: Bound | None) -> dict[Bound, str]:
        condition = chunks.range_condition(self._key_names, lower, upper)
        return self._select(side, condition)

    def _read(self, side: str, keys: Iterable[Bound]) -> dict[Bound, str]:
        found: dict[Bound, str] = {}
        batch = list(keys)
        for start in range(0, len(batch), KEYS_PER_QUERY):
            part = batch[start : start + KEYS_PER_QUERY]
            columns = ", ".join(quote_identifier(name) for name in self._key_names)
            values = ", ".join("(" + ", ".join(key) + ")" for key in part)
            found |= self._select(side, f"({columns}) IN ({values})")
        return found

    def _select(self, side: str, condition: str) -> dict[Bound, str]:
        """key literals -> row hash (or "" when only presence is compared) of the rows matching `condition`."""
        key = ", ".join(types.literal_source(column) for column in self._pair.key)
        value = self._hash(side) if self._contents else "''"
        rows = self._sides[side].rows(
            f"SELECT {key}, {value} FROM {chunks.qualified(self._table(side))} WHERE {condition}"
        )
        return {self._literals(row[:-1]): str(row[-1]) for row in rows}

    def _diff(self, key: Bound, values: tuple[str | None, str | None]) -> RowDiff:
        where = " AND ".join(
            f"{quote_identifier(name)} = {literal}" for name, literal in zip(self._key_names, key, strict=True)
        )
        shown = tuple(_shown(column, literal) for column, literal in zip(self._pair.key, key, strict=True))
        return RowDiff(
            _kind(*values),
            shown,
            f"SELECT * FROM {chunks.qualified(self._pair.source)} WHERE {where}",
            f"SELECT * FROM {chunks.qualified(self._pair.target)} WHERE {where}",
        )


class _Keyless:
    """A table without a key: a multiset of row hashes. A changed row is a missing one plus an extra one."""

    def __init__(self, source: Side, target: Side, pair: TablePair, tick: Tick) -> None:
        self._sides = {"source": source, "target": target}
        self._pair = pair
        self._tick = tick

    def compare(self, settle: Settle) -> RowsFound:
        source, target = self._counts("source", None), self._counts("target", None)
        source_rows = sum(source.values())
        # A row hash present n times is n candidates: (hash, copy number).
        candidates: dict[tuple[str, int], tuple[str | None, str | None]] = {}
        for row in source.keys() | target.keys():
            for copy in range(max(source[row], target[row])):
                here = (row if copy < source[row] else None, row if copy < target[row] else None)
                if here[0] != here[1]:
                    candidates[(row, copy)] = here
        confirmed, changing = _recheck(candidates, self._read, self._sides["source"], settle, self._tick)
        diffs = [self._diff(row, values) for (row, _), values in sorted(confirmed.items())[:MAX_REPORTED_ROWS]]
        return _found(source_rows, confirmed, diffs, changing)

    def _table(self, side: str) -> TableRef:
        return self._pair.source if side == "source" else self._pair.target

    def _counts(self, side: str, hashes: Sequence[str] | None) -> collections.Counter[str]:
        columns = self._pair.source_columns if side == "source" else self._pair.target_columns
        where = "" if hashes is None else f" WHERE h IN ({', '.join(['%s'] * len(hashes))})"
        rows = self._sides[side].rows(
            f"SELECT h, COUNT(*) FROM (SELECT {row_hash(columns)} AS h FROM {chunks.qualified(self._table(side))})"
            f" AS rows_{where} GROUP BY h",
            hashes,
        )
        return collections.Counter({str(row): int(count) for row, count in rows})

    def _read(self, side: str, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        wanted = list(keys)
        counts = self._counts(side, sorted({row for row, _ in wanted})) if wanted else collections.Counter[str]()
        return {(row, copy): row for row, copy in wanted if copy < counts[row]}

    def _diff(self, row: str, values: tuple[str | None, str | None]) -> RowDiff:
        side = "source" if values[0] is not None else "target"
        columns = self._pair.source_columns if side == "source" else self._pair.target_columns
        names = ", ".join(quote_identifier(column.name) for column in columns)
        found = self._sides[side].rows(
            f"SELECT {names} FROM {chunks.qualified(self._table(side))} WHERE {row_hash(columns)} = %s LIMIT 1",
            [row],
        )
        shown: tuple[str, ...] = ()
        where = "FALSE"
        if found:
            shown = tuple(_shown_value(value) for value in found[0])
            where = " AND ".join(
                f"{quote_identifier(column.name)} <=> {_sql_value(self._sides[side], value)}"
                for column, value in zip(columns, found[0], strict=True)
            )
        return RowDiff(
            _kind(*values),
            shown,
            f"SELECT * FROM {chunks.qualified(self._pair.source)} WHERE {where}",
            f"SELECT * FROM {chunks.qualified(self._pair.target)} WHERE {where}",
        )


K = Any  # a row's identity: key literals, or (row hash, copy number) for a keyless table
Reader = Callable[[str, Iterable[K]], dict[K, str]]


def _recheck(
    candidates: dict[K, tuple[str | None, str | None]], read: Reader, source: Side, settle: Settle, tick: Tick
) -> tuple[dict[K, tuple[str | None, str | None]], int]:
    """The candidates that really differ (see the module doc), with their (source, target) values; and how many
    of them the source kept changing through every round."""
    confirmed: dict[K, tuple[str | None, str | None]] = {}
    pending = dict(candidates)
    for _ in range(RECHECK_ROUNDS):
        if not pending:
            break
        tick()
        before = read("source", pending)
        settle(source.position())
        target = read("target", pending)
        after = read("source", pending)
        changing: dict[K, tuple[str | None, str | None]] = {}
        for key in pending:
            now = (after.get(key), target.get(key))
            if now[0] == now[1]:
                continue
            if before.get(key) == now[0]:
                confirmed[key] = now
            else:
                changing[key] = now
        pending = changing
    return confirmed | pending, len(pending)


def _found(
    source_rows: int, confirmed: dict[K, tuple[str | None, str | None]], diffs: list[RowDiff], changing: int
) -> RowsFound:
    kinds = collections.Counter(_kind(*values) for values in confirmed.values())
    return RowsFound(
        source_rows,
        kinds[RowDiffKind.MISSING],
        kinds[RowDiffKind.EXTRA],
        kinds[RowDiffKind.DIFFERENT],
        tuple(diffs),
        changing,
    )


def _kind(source: str | None, target: str | None) -> RowDiffKind:
    if target is None:
        return RowDiffKind.MISSING
    if source is None:
        return RowDiffKind.EXTRA
    return RowDiffKind.DIFFERENT


def _shown(column: catalog.Column, literal: str) -> str:
    """A key value as people read it: text as text, binary strings as 0x..., numbers and dates as printed."""
    if not literal.endswith("'") or "X'" not in literal:
        return literal.strip("'")
    raw = bytes.fromhex(literal[literal.index("X'") + 2 : -1])
    if column.charset is None:
        return "0x" + raw.hex()
    try:
        return raw.decode("utf-8" if column.charset.startswith("utf8") else "latin-1")
    except UnicodeDecodeError:
        return "0x" + raw.hex()


def _shown_value(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def _sql_value(side: Side, value: Any) -> str:
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    return str(side.connection.escape(value))

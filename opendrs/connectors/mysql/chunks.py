"""Key-range chunks of a table: the units a full copy runs in parallel, records when done, and redoes on restart.

Chunks partition the whole key space, not just the rows present: the first is unbounded below and the last
above, so a chunk copied again later (from a newer snapshot) still covers every row its range can hold. A
table without a key that can bound ranges is one chunk. The engine should store the plan (`encode()`) with
its progress: a new plan after a restart may cut the table differently.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from opendrs.connectors.mysql import catalog, types
from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import TableRef

Bound = tuple[str, ...]  # one SQL literal per key column
# An integer key spanning more values than this many times its rows (the estimate may be off by 2x) is sampled.
SPARSE_FACTOR = 4


@dataclasses.dataclass(frozen=True)
class ChunkSize:
    """The target size of a chunk: whichever of the two limits gives more chunks."""

    rows: int = 100_000
    bytes: int = 32 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Chunk:
    """The rows of `table` whose key is in [lower, upper); a None bound is open. No key: the whole table."""

    table: TableRef
    index: int  # 0-based, in key order
    key: tuple[str, ...]  # the key columns that bound the range; () for a whole-table chunk
    lower: Bound | None = None
    upper: Bound | None = None

    @property
    def id(self) -> str:
        """Stable for a stored plan: `schema.table#index`."""
        return f"{self.table}#{self.index}"

    @property
    def whole_table(self) -> bool:
        return not self.key

    def encode(self) -> dict[str, Any]:
        return {
            "v": 1,
            "schema": self.table.schema,
            "table": self.table.name,
            "index": self.index,
            "key": list(self.key),
            "lower": None if self.lower is None else list(self.lower),
            "upper": None if self.upper is None else list(self.upper),
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Chunk:
        lower, upper = data["lower"], data["upper"]
        return cls(
            TableRef(str(data["schema"]), str(data["table"])),
            int(data["index"]),
            tuple(str(column) for column in data["key"]),
            None if lower is None else tuple(str(value) for value in lower),
            None if upper is None else tuple(str(value) for value in upper),
        )


def range_key(info: catalog.TableInfo) -> catalog.Index | None:
    """The key whose ranges chunk the table: the row-identifying key if literals can bound every column."""
    key = info.key
    if key is None or not all(types.can_bound_ranges(info.column(name)) for name in key.columns):
        return None
    return key


def plan_chunks(connection: mysql.Connection, info: catalog.TableInfo, size: ChunkSize = ChunkSize()) -> list[Chunk]:
    """Cut `info`'s table into chunks of about `size`, reading the key's bounds on `connection`.

    A single dense integer key is cut into equal value ranges between its MIN and MAX; any other key, and an
    integer key whose values are spread far wider than its rows (a few outliers would leave every row in one
    range), by sampling every n-th key in index order (one scan of the key).
    """
    key = range_key(info)
    count = max(math.ceil(info.approx_rows / size.rows), math.ceil(info.data_length / size.bytes), 1)
    if key is None:
        return [Chunk(info.table, 0, ())]
    if count == 1:
        return [Chunk(info.table, 0, key.columns)]
    bounds = None
    if len(key.columns) == 1 and info.column(key.columns[0]).is_integer:
        bounds = _integer_bounds(connection, info, key.columns[0], count)
    if bounds is None:
        bounds = _sampled_bounds(connection, info, key, math.ceil(info.approx_rows / count))
    return _chunks_between(info.table, key.columns, bounds)


def _chunks_between(table: TableRef, key: tuple[str, ...], bounds: Sequence[Bound]) -> list[Chunk]:
    """The chunks that `bounds` (ascending) cut the key space of `table` into."""
    edges: list[Bound | None] = [None, *bounds, None]
    return [Chunk(table, i, key, edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def chunk_condition(chunk: Chunk) -> str:
    """The SQL condition that selects the chunk's rows."""
    return range_condition(chunk.key, chunk.lower, chunk.upper)


def range_condition(key: Sequence[str], lower: Bound | None, upper: Bound | None, *, after: bool = False) -> str:
    """SQL for `lower <= (key) < upper` (`lower < (key)` if `after`) in the key's order, spelled out column by
    column so that the range optimizer uses the index."""
    terms = []
    if lower is not None:
        terms.append(_compare(key, lower, ">" if after else ">="))
    if upper is not None:
        terms.append(_compare(key, upper, "<"))
    return " AND ".join(terms) or "TRUE"


def order_by(key: Sequence[str]) -> str:
    return ", ".join(mysql.quote_identifier(column) for column in key)


def qualified(table: TableRef) -> str:
    return f"{mysql.quote_identifier(table.schema)}.{mysql.quote_identifier(table.name)}"


def _compare(key: Sequence[str], values: Bound, operator: str) -> str:
    """(key) `operator` values, lexicographically: the operator applies to the last column compared."""
    columns = [mysql.quote_identifier(column) for column in key]
    strict = operator[0]  # the order earlier columns must have when they differ
    alternatives = []
    for i, (column, value) in enumerate(zip(columns, values, strict=True)):
        last = operator if i == len(columns) - 1 else strict
        equal_prefix = [f"{c} = {v}" for c, v in zip(columns[:i], values[:i], strict=True)]
        alternatives.append("(" + " AND ".join([*equal_prefix, f"{column} {last} {value}"]) + ")")
    return "(" + " OR ".join(alternatives) + ")"


def _integer_bounds(
    connection: mysql.Connection, info: catalog.TableInfo, column: str, count: int
) -> list[Bound] | None:
    """Equal value ranges between the key's MIN and MAX; None if the values are too sparse for that."""
    name = mysql.quote_identifier(column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN({name}), MAX({name}) FROM {qualified(info.table)}")
        row = cursor.fetchone()
    if row is None or row[0] is None:
        return []
    low, high = int(row[0]), int(row[1])
    if high - low + 1 > SPARSE_FACTOR * max(info.approx_rows, 1):
        return None
    step = math.ceil((high - low + 1) / count)
    return [(str(low + i * step),) for i in range(1, count) if low + i * step <= high]


def _sampled_bounds(
    connection: mysql.Connection, info: catalog.TableInfo, key: catalog.Index, rows: int
) -> list[Bound]:
    bounds: list[Bound] = []
    while (bound := next_bound(connection, info, key, bounds[-1] if bounds else None, None, rows)) is not None:
        bounds.append(bound)
    return bounds


def next_bound(
    connection: mysql.Connection,
    info: catalog.TableInfo,
    key: catalog.Index,
    lower: Bound | None,
    upper: Bound | None,
    rows: int,
) -> Bound | None:
    """The key `rows` rows after `lower` (below `upper`), in index order; None when fewer rows are left."""
    columns = [info.column(name) for name in key.columns]
    select = ", ".join(types.literal_source(column) for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {select} FROM {qualified(info.table)} FORCE INDEX ({mysql.quote_identifier(key.name)})"
            f" WHERE {range_condition(key.columns, lower, upper)}"
            f" ORDER BY {order_by(key.columns)} LIMIT 1 OFFSET {rows}"
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return tuple(types.literal(column, text(value)) for column, value in zip(columns, row, strict=True))


def text(value: object) -> str:
    """A value read with `types.literal_source()` as text; the copier reads with binary results, as bytes."""
    return value.decode("ascii") if isinstance(value, bytes) else str(value)

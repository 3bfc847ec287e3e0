"""Copy one chunk: the source formats its rows for LOAD DATA, which this feeds into LOAD DATA LOCAL on the target.

The source does the formatting (types.line_expression) and GROUP_CONCATs a few hundred KB of lines per query, so
Python only moves large byte strings: per row it does nothing. Each batch goes into the target's LOAD DATA as it
comes (load_local.py): the target parses one batch out of its socket buffer while the source formats the next.

A chunk is one target transaction: its key range is emptied, loaded, and committed only if the source side
finished, the target raised no warning (LOAD DATA LOCAL turns errors into warnings) and every row sent was
loaded. Copying a chunk again therefore never duplicates a row. A whole-table chunk empties the table first, in
the same transaction. Given a `fences.Fence`, the transaction checks it first: a worker whose task was taken over
loads nothing (errors.FencedError).

Chunk transactions run in READ COMMITTED, so that clearing one range never locks the gap its neighbour loads
into; a target that writes a STATEMENT-format binlog refuses that (use ROW or MIXED, the defaults).

The target session keeps sql_log_bin as it is: the target may itself be a replication source, and turning it
off needs a privilege a migration account should not need. unique_checks and foreign_key_checks stay on too:
there are no foreign keys yet, and with both off MariaDB >= 10.6 loads an empty table in bulk mode, where two
chunks loaded in parallel can deadlock.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pymysql.cursors

from opendrs.connectors.mysql import catalog, chunks, types
from opendrs.connectors.mysql import connection as mysql
from opendrs.connectors.mysql.load_local import LocalLoad
from opendrs.domain.replication import TableRef
from opendrs.faults import crash_point

if TYPE_CHECKING:
    from opendrs.connectors.mysql.fences import Fence

logger = logging.getLogger(__name__)

Limiter = Callable[[int], object]  # called with the bytes just sent; may sleep to hold a speed limit
_Batch = tuple[bytes, int]  # LOAD DATA lines, and how many

BATCH_BYTES = 512 * 1024  # what one source query aggregates: big enough to make Python's work per row vanish
MAX_BATCH_ROWS = 10_000
STREAM_ROWS = 1_000  # rows fetched at a time when a chunk is streamed row by row

# Zero dates and AUTO_INCREMENT zeros load as they are; no strict mode, because its errors would only be
# warnings under LOAD DATA LOCAL anyway, and every warning fails the chunk.
TARGET_SQL_MODE = "NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION"


class CopyError(RuntimeError):
    """A chunk could not be copied exactly; its target transaction was rolled back."""


def copy_chunk(
    source: mysql.Connection,
    target: mysql.Connection,
    info: catalog.TableInfo,
    chunk: chunks.Chunk,
    target_table: TableRef,
    limiter: Limiter | None = None,
    *,
    batch_bytes: int = BATCH_BYTES,
    fence: Fence | None = None,
) -> int:
    """Copy `chunk` of `info`'s table from `source` (a snapshot connection) into `target_table`; rows copied.

    `source` and `target` are used by this call only until it returns, and may be reused for other chunks.
    """
    _execute(target, f"SET SESSION sql_mode = '{TARGET_SQL_MODE}', time_zone = '+00:00'")
    # Under REPEATABLE READ, clearing a range takes gap locks that deadlock with the chunk loading next to it.
    _execute(target, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    crash_point("copy.chunk.before_load")
    with _binary_results(source):
        _execute(target, "BEGIN")
        try:
            if fence is not None:
                fence.check(target)
            rows = _copy_in_transaction(source, target, info, chunk, target_table, limiter, batch_bytes)
        except BaseException:
            with contextlib.suppress(pymysql.err.MySQLError):
                _execute(target, "ROLLBACK")
            raise
        crash_point("copy.chunk.loaded_uncommitted")
        _execute(target, "COMMIT")
        crash_point("copy.chunk.committed_unrecorded")
    logger.debug("chunk copied", extra={"action": "copy_chunk", "chunk": chunk.id, "rows": rows})
    return rows


def _copy_in_transaction(
    source: mysql.Connection,
    target: mysql.Connection,
    info: catalog.TableInfo,
    chunk: chunks.Chunk,
    target_table: TableRef,
    limiter: Limiter | None,
    batch_bytes: int,
) -> int:
    _empty_range(target, target_table, chunk)  # a whole table too: a TRUNCATE would commit, unfenced
    columns = ", ".join(mysql.quote_identifier(column.name) for column in info.copied_columns)
    statement = (
        f"LOAD DATA LOCAL INFILE 'opendrs' INTO TABLE {chunks.qualified(target_table)} {types.LOAD_FORMAT} ({columns})"
    )
    with LocalLoad(target, statement, _max_allowed_packet(target)) as load:
        key = chunks.range_key(info)
        if chunk.whole_table or key is None:
            sent = _stream_rows(source, info, chunk, load, limiter)
        else:
            batch_rows = max(1, min(MAX_BATCH_ROWS, batch_bytes // max(info.avg_row_length, 1)))
            sent = _send_batches(source, info, key, chunk, load, limiter, batch_rows)
    if load.warnings:
        with target.cursor() as cursor:
            cursor.execute("SHOW WARNINGS LIMIT 5")
            raise CopyError(f"{chunk.id}: LOAD DATA warned: {cursor.fetchall()}")
    if load.loaded != sent:
        raise CopyError(f"{chunk.id}: sent {sent} rows, the target loaded {load.loaded}")
    return sent


def _max_allowed_packet(target: mysql.Connection) -> int:
    with target.cursor() as cursor:
        cursor.execute("SELECT @@max_allowed_packet")
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def _send_batches(
    source: mysql.Connection,
    info: catalog.TableInfo,
    key: catalog.Index,
    chunk: chunks.Chunk,
    load: LocalLoad,
    limiter: Limiter | None,
    batch_rows: int,
) -> int:
    """Walk the chunk in key order, `batch_rows` lines per query (fewer if a batch would not fit); rows sent."""
    walk = _walk_single_key if len(key.columns) == 1 else _walk_composite_key
    sent = 0
    for lines, count in walk(source, info, key, chunk, batch_rows):
        _send(load, lines, limiter)
        sent += count
    return sent


def _walk_single_key(
    source: mysql.Connection, info: catalog.TableInfo, key: catalog.Index, chunk: chunks.Chunk, batch_rows: int
) -> Iterator[_Batch]:
    """One query a batch: the lines of the next keys in index order, and the last key, where the next batch starts."""
    column = info.column(key.columns[0])
    name = mysql.quote_identifier(column.name)
    lower, after = chunk.lower, False
    while True:
        where = chunks.range_condition(key.columns, lower, chunk.upper, after=after)
        last = types.literal_source(column, f"MAX({name})")
        batch = _fetch_batch(
            source,
            f"SELECT GROUP_CONCAT(_opendrs_line SEPARATOR '\\n'), COUNT(*), {last}"
            f" FROM (SELECT {types.line_expression(info.copied_columns)} AS _opendrs_line, {name}"
            f" FROM {chunks.qualified(info.table)} FORCE INDEX ({mysql.quote_identifier(key.name)})"
            f" WHERE {where} ORDER BY {name} LIMIT {batch_rows}) AS batch",
        )
        if batch is None:
            batch_rows = _smaller(batch_rows, chunk)
            continue
        lines, count, last_key = batch
        if count:
            yield lines, count
        if count < batch_rows:
            return
        lower, after = (types.literal(column, chunks.text(last_key)),), True


def _walk_composite_key(
    source: mysql.Connection, info: catalog.TableInfo, key: catalog.Index, chunk: chunks.Chunk, batch_rows: int
) -> Iterator[_Batch]:
    """Two queries a batch: the key `batch_rows` rows ahead, then the lines of the keys before it."""
    select = (
        f"SELECT GROUP_CONCAT({types.line_expression(info.copied_columns)} SEPARATOR '\\n'), COUNT(*)"
        f" FROM {chunks.qualified(info.table)} FORCE INDEX ({mysql.quote_identifier(key.name)}) WHERE "
    )
    lower = chunk.lower
    while True:
        upper = chunks.next_bound(source, info, key, lower, chunk.upper, batch_rows)
        batch = _fetch_batch(source, select + chunks.range_condition(key.columns, lower, upper or chunk.upper))
        if batch is None:
            batch_rows = _smaller(batch_rows, chunk)
            continue
        lines, count = batch[0], batch[1]
        if count:
            yield lines, count
        if upper is None:
            return
        lower = upper


def _fetch_batch(source: mysql.Connection, sql: str) -> tuple[Any, ...] | None:
    """The batch's row: (lines, count, ...); None if GROUP_CONCAT was cut at group_concat_max_len (it warns)."""
    with source.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
        cut = cursor.warning_count > 0
    assert row is not None  # an aggregate without GROUP BY always gives one row
    return None if cut else tuple(row)


def _smaller(batch_rows: int, chunk: chunks.Chunk) -> int:
    if batch_rows == 1:
        raise CopyError(f"{chunk.id}: a row is larger than the source's max_allowed_packet")
    return batch_rows // 2


def _stream_rows(
    source: mysql.Connection, info: catalog.TableInfo, chunk: chunks.Chunk, load: LocalLoad, limiter: Limiter | None
) -> int:
    """Stream the chunk's lines one row at a time: for tables without a key to walk; rows sent."""
    sent = 0
    with source.cursor(pymysql.cursors.SSCursor) as cursor:
        cursor.execute(
            f"SELECT {types.line_expression(info.copied_columns)} FROM {chunks.qualified(info.table)}"
            f" WHERE {chunks.chunk_condition(chunk)}"
        )
        while rows := cursor.fetchmany(STREAM_ROWS):
            _send(load, b"\n".join(row[0] for row in rows), limiter)
            sent += len(rows)
    return sent


def _send(load: LocalLoad, lines: bytes, limiter: Limiter | None) -> None:
    load.send(lines)
    load.send(b"\n")
    crash_point("copy.chunk.streaming")  # the target's LOAD DATA is running, its input not yet ended
    if limiter is not None:
        limiter(len(lines) + 1)


def _empty_range(target: mysql.Connection, table: TableRef, chunk: chunks.Chunk) -> None:
    """Delete what an earlier attempt left in the chunk's range (the whole table for a whole-table chunk).

    The probe is a locking read: the chunk's first statement on the table then takes the metadata lock its writes
    need. A plain read would take a read lock, and the LOAD DATA then ask for a write lock: an online index build
    (engine/early_indexes.py) asking for its exclusive lock in between waits for the first, and the second waits
    behind it: MariaDB calls that a deadlock and kills the chunk. In READ COMMITTED, a fresh range locks no row."""
    where = f"FROM {chunks.qualified(table)} WHERE {chunks.chunk_condition(chunk)}"
    with target.cursor() as cursor:
        cursor.execute(f"SELECT 1 {where} LIMIT 1 FOR UPDATE")
        if cursor.fetchone() is not None:
            cursor.execute(f"DELETE {where}")


@contextlib.contextmanager
def _binary_results(source: mysql.Connection) -> Iterator[None]:
    """Results as the bytes the server holds, and GROUP_CONCAT as long as a packet allows, for this copy only."""
    _execute(source, "SET SESSION character_set_results = binary, group_concat_max_len = @@max_allowed_packet")
    try:
        yield
    finally:
        _execute(source, "SET SESSION character_set_results = utf8mb4")


def _execute(connection: mysql.Connection, sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)

"""Applying source transactions to a MySQL/MariaDB target, exactly once.

Each call to `Applier.apply` writes a run of consecutive source transactions and the binlog position they end at
(the checkpoint, in `opendrs_meta.checkpoints`) in ONE target transaction: after a crash the target holds either
all of them and their position, or none; `load_checkpoint` says where to resume, and transactions that end at or
before the checkpoint are skipped if they are offered again.

Rows are written by name. Inserts to the same table in a row become one multi-row INSERT; everything of a batch
goes to the server as multi-statement queries (one round trip per few MB of SQL). Updates and deletes find the
row by the primary key, else by a unique key (NULL-safe), else by the whole before-image with LIMIT 1. In
"idempotent" mode (catching up over a region the full copy may already contain) inserts are upserts, updates
are delete + upsert, and rows missing for an update or delete are not an error.

DDL is not transactional: before running a DDL statement we commit a marker (the DDL transaction's end position)
in the checkpoint row, then run it, then commit the checkpoint past it. If we crash in between, the marker tells
the next run that this DDL may already be done, and "already exists / does not exist" errors of that one
statement are ignored (MariaDB >= 10.6 and MySQL 8 DDL is atomic: done or not, never half done).

The rows events of a large transaction that wait in a temporary file as the binlog gave them (spill.py) go to a
MariaDB target as BINLOG statements, in the same target transaction, where the target table takes them as the source
meant them (replay.py); SQL is the fallback for everything else.

A two-phase XA transaction is applied at its XA COMMIT: its XA PREPARE's changes wait on the target until then
(prepared_xa.py), written with the checkpoint like any transaction.

Given a `fences.Fence` (the worker's fencing token), every target transaction checks it first: once another worker
has taken the task over, the old one's transactions are rolled back (errors.FencedError). A failure of the old
worker's transaction (a duplicate key, a missing row) is reported as FencedError too when the fence has moved.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pymysql
from pymysql.constants import CLIENT

from opendrs.connectors.mysql import cascades, catalog, ddl, errors, fences, interrupt, prepared_xa, replay, spill
from opendrs.connectors.mysql import connection as mysql_connection
from opendrs.connectors.mysql.connection import quote_identifier
from opendrs.connectors.mysql.values import ColumnSpec, literal, same
from opendrs.domain.replication import (
    BinlogPosition,
    Endpoint,
    RowChange,
    SchemaChange,
    Selection,
    Session,
    TableRef,
    Transaction,
    position_key,
)
from opendrs.faults import crash_point

logger = logging.getLogger(__name__)

META_SCHEMA = fences.META_SCHEMA
CHECKPOINTS = f"`{META_SCHEMA}`.`checkpoints`"
# SQL text per statement and per round trip, in characters: at most this, and at most an eighth of the target's
# max_allowed_packet, so that even 4 bytes a character stay under half of it. Only a statement of one row can be longer.
MAX_QUERY_CHARS = 4 << 20
MEGABYTE = 1 << 20

# Strict, so that a value that does not fit the target column fails loudly instead of being truncated; but zero
# and invalid dates pass, as the source stored them, and an explicit 0 in an AUTO_INCREMENT column stays 0.
SESSION_SQL_MODE = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION"
# For the rare row holding an ENUM's error value (index 0), which strict mode refuses to write.
LENIENT_SQL_MODE = "NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION"

CHECKPOINT_TABLE_DDL = f"""
CREATE TABLE IF NOT EXISTS {CHECKPOINTS} (
    task_id VARCHAR(191) NOT NULL PRIMARY KEY,
    file VARCHAR(255) NULL COMMENT 'NULL: nothing applied yet (only a DDL marker)',
    pos BIGINT UNSIGNED NULL,
    gtid TEXT NULL,
    source_commit_time DOUBLE NULL COMMENT 'epoch seconds of the last applied source commit',
    applied_at DATETIME(6) NOT NULL COMMENT 'UTC',
    ddl_file VARCHAR(255) NULL COMMENT 'set while the DDL transaction ending here is being applied',
    ddl_pos BIGINT UNSIGNED NULL
) ENGINE=InnoDB
"""

ER_BAD_DB_ERROR = 1049  # unknown database
ER_ERROR_ON_RENAME = 1025  # what a RENAME into a database the target lacks fails with
ER_WRONG_VALUE_FOR_VAR = 1231  # SET of a value the server does not have (an sql_mode of another version)
ER_UNKNOWN_TIME_ZONE = 1298

# Errors a DDL statement gets when it was already applied: tolerated only when re-running a DDL that a crash
# interrupted, or in idempotent mode.
ALREADY_APPLIED_DDL_CODES: dict[int, str] = {
    1007: "ER_DB_CREATE_EXISTS",
    1008: "ER_DB_DROP_EXISTS",
    1050: "ER_TABLE_EXISTS_ERROR",
    1051: "ER_BAD_TABLE_ERROR",
    1054: "ER_BAD_FIELD_ERROR",
    1060: "ER_DUP_FIELDNAME",
    1061: "ER_DUP_KEYNAME",
    1091: "ER_CANT_DROP_FIELD_OR_KEY",
    1146: "ER_NO_SUCH_TABLE",
    1176: "ER_KEY_DOES_NOT_EXITS",
    1304: "ER_SP_ALREADY_EXISTS",
    1305: "ER_SP_DOES_NOT_EXIST",
    1826: "ER_FK_DUP_NAME",
    4091: "ER_UNKNOWN_SEQUENCES",
    4092: "ER_UNKNOWN_VIEW",  # MariaDB's DROP VIEW of a missing view (MySQL's is 1051)
}


# --- checkpoints ------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """What the target says was applied last: the position, and a DDL transaction that may be half done."""

    position: BinlogPosition | None  # None: nothing applied yet, but a DDL marker was set
    source_commit_time: float | None
    ddl_in_progress: BinlogPosition | None


def load_checkpoint(endpoint: Endpoint, task_id: str) -> BinlogPosition | None:
    """The position the target has applied up to for `task_id`, or None if it never applied anything.

    A target that cannot be reached raises errors.RetriableError, like every other failure of this module."""
    try:
        conn = mysql_connection.connect(endpoint)
        try:
            checkpoint = _read_checkpoint(conn, task_id)
        finally:
            conn.close()
    except (pymysql.err.MySQLError, OSError) as exc:
        raise errors.classify(exc) from exc
    return checkpoint.position if checkpoint else None


def _read_checkpoint(conn: mysql_connection.Connection, task_id: str) -> Checkpoint | None:
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s",
            (META_SCHEMA, "checkpoints"),
        )
        found = cursor.fetchone()
        if not found or not found[0]:
            return None
        cursor.execute(
            f"SELECT file, pos, gtid, source_commit_time, ddl_file, ddl_pos FROM {CHECKPOINTS} WHERE task_id=%s",
            (task_id,),
        )
        row = cursor.fetchone()
    if row is None:
        return None
    position = BinlogPosition(str(row[0]), int(row[1]), row[2]) if row[0] is not None else None
    commit_time = float(row[3]) if row[3] is not None else None
    ddl = BinlogPosition(str(row[4]), int(row[5])) if row[4] is not None else None
    return Checkpoint(position, commit_time, ddl)


# --- target tables ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TargetTable:
    """What the applier needs to know about a target table, read from information_schema."""

    ref: TableRef
    sql_name: str  # `schema`.`table`
    writable: frozenset[str]  # columns that are not generated
    key: tuple[str, ...]  # primary key, else a unique key; () for none
    key_nullable: bool  # the key may hold NULLs (a unique key on nullable columns)
    text_charsets: dict[str, str]  # character set of each text column
    binary_lengths: dict[str, int]  # BINARY(n) columns: n, for padding in comparisons
    enums: frozenset[str]  # ENUM columns
    cascading_keys: tuple[cascades.CascadingKey, ...] = ()  # the foreign keys referencing it whose actions change rows
    columns: tuple[replay.TargetColumn, ...] = ()  # all of them, in order
    transactional: bool = True  # its engine rolls back (InnoDB), unlike Aria or MyISAM

    @property
    def cascades(self) -> bool:
        """A foreign key with a cascading action references this table: the target must run the cascade itself, as
        the binlog holds none of the rows a cascade changes (InnoDB changes them below the server's logging)."""
        return bool(self.cascading_keys)

    @property
    def delete_in(self) -> str:
        """The start of DELETE ... WHERE key IN (...), for rows found by a key without NULLs."""
        names = [quote_identifier(c) for c in self.key]
        column = names[0] if len(names) == 1 else "(" + ",".join(names) + ")"
        return f"DELETE FROM {self.sql_name} WHERE {column} IN ("

    def key_usable(self, row: dict[str, Any]) -> bool:
        """True if the key finds `row` (a unique key with a NULL in it does not)."""
        return not self.key_nullable or all(row.get(c) is not None for c in self.key)

    def where(self, row: dict[str, Any]) -> tuple[str, bool]:
        """The condition finding `row` on the target, and whether it needs LIMIT 1 (no usable key)."""
        key = self.key
        if key and self.key_usable(row):
            return " AND ".join(f"{quote_identifier(c)}={literal(row[c])}" for c in key), False
        parts = [self._match(column, value) for column, value in row.items() if column in self.writable]
        return " AND ".join(parts) or "1", True

    def _match(self, column: str, value: Any) -> str:
        name = quote_identifier(column)
        if value is None:
            return f"{name} IS NULL"
        charset = self.text_charsets.get(column)
        if charset is not None and isinstance(value, str):
            # Byte-exact, unlike the collation's comparison ('a' = 'A ' in a _ci PAD SPACE collation), so that
            # of two near-identical rows of a keyless table we touch the one the source touched.
            return f"BINARY {name} = BINARY CONVERT({literal(value)} USING {charset})"
        return f"{name} <=> {literal(_padded(self, column, value))}"


def _read_table(conn: mysql_connection.Connection, ref: TableRef) -> TargetTable:
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME, CHARACTER_OCTET_LENGTH, IS_NULLABLE, "
            "COALESCE(GENERATION_EXPRESSION, '') <> '' OR EXTRA LIKE '%%GENERATED%%', COLUMN_TYPE "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s ORDER BY ORDINAL_POSITION",
            (ref.schema, ref.name),
        )
        columns = cursor.fetchall()
        if not columns:
            raise errors.FatalError(f"table {ref} does not exist on the target")
        cursor.execute(
            "SELECT TABLE_TYPE, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s",
            (ref.schema, ref.name),
        )
        kind, engine = cursor.fetchone() or ("", "")
        if kind == "SYSTEM VERSIONED":  # the precheck refuses them; a DDL during the sync may make one
            raise errors.UnsupportedEventError(
                f"table {ref} is system-versioned (ALTER TABLE ... ADD SYSTEM VERSIONING on the source?): its history"
                " rows and row_start/row_end cannot be applied exactly; drop the versioning on the source and the"
                " target, then retry the task, or stop it"
            )
        cursor.execute(
            "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s AND NON_UNIQUE=0 ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            (ref.schema, ref.name),
        )
        indexes: dict[str, list[str]] = {}
        for index, column in cursor.fetchall():
            indexes.setdefault(str(index), []).append(str(column))
        cascading_keys = cascades.read_keys(cursor, ref)
    generated = {str(c[0]) for c in columns if c[5]}
    nullable = {str(c[0]) for c in columns if c[4] == "YES"}
    key, key_nullable = _choose_key(indexes, generated, nullable)
    return TargetTable(
        ref,
        f"{quote_identifier(ref.schema)}.{quote_identifier(ref.name)}",
        frozenset(str(c[0]) for c in columns) - generated,
        key,
        key_nullable,
        {str(c[0]): str(c[2]) for c in columns if c[2] is not None},
        {str(c[0]): int(c[3]) for c in columns if c[1] == "binary"},
        frozenset(str(c[0]) for c in columns if c[1] == "enum"),
        cascading_keys,
        tuple(replay.TargetColumn(str(c[0]), str(c[6]), None if c[2] is None else str(c[2])) for c in columns),
        str(engine).upper() in catalog.MVCC_ENGINES,
    )


def without_copied(
    transaction: Transaction,
    copied_at: Mapping[TableRef, tuple[str, int, int]],
    target_of: Callable[[TableRef], TableRef],
) -> Transaction:
    """The transaction without the changes of tables whose copy was taken after it (`copied_at`: position_key of
    the snapshot each target table was copied whole in): their rows, and the DDL that names only such tables (the
    copy was created from the definition the DDL made). Their deletes and updates stay, marked only_cascades: what
    the source's foreign keys cascaded from them may reach rows that other tables' copies hold from before
    (Applier._add_cascades runs just that). An XA transaction's changes count at its XA COMMIT, where the source
    made them visible (and a copy could have read them), not at its XA PREPARE."""
    end = position_key(transaction.end)

    def taken_after(table: TableRef) -> bool:
        at = copied_at.get(target_of(table))
        return at is not None and end <= at

    def copied_after(change: RowChange | SchemaChange) -> bool:
        tables = change.tables if isinstance(change, SchemaChange) else (change.table,)
        return bool(tables) and all(map(taken_after, tables))

    kept = spill.ChangeBuffer[spill.Change]()  # a large transaction stays in a temporary file
    for change in transaction.changes:
        if not copied_after(change):
            kept.append(change)
        elif isinstance(change, RowChange) and change.kind != "insert":
            kept.append(dataclasses.replace(change, only_cascades=True))
    return dataclasses.replace(transaction, changes=kept.take())


def _row_change_of_xa(change: RowChange | SchemaChange) -> RowChange:
    assert isinstance(change, RowChange), "DDL cannot be part of an XA transaction"
    return change


def _padded(table: TargetTable, column: str, value: Any) -> Any:
    """`value` of `column` as the target stores it: the binlog drops BINARY(n)'s trailing NUL padding."""
    length = table.binary_lengths.get(column)
    return value.ljust(length, b"\0") if length is not None and isinstance(value, bytes) else value


def _choose_key(indexes: dict[str, list[str]], generated: set[str], nullable: set[str]) -> tuple[tuple[str, ...], bool]:
    if "PRIMARY" in indexes:
        return tuple(indexes["PRIMARY"]), False
    usable = [cols for cols in indexes.values() if not generated.intersection(cols)]
    not_null = [cols for cols in usable if not nullable.intersection(cols)]
    if not_null:
        shortest: list[str] = min(not_null, key=len)
        return tuple(shortest), False
    if usable:
        shortest = min(usable, key=len)
        return tuple(shortest), True
    return (), False


# --- schema renames in DDL --------------------------------------------------------------------------------------

# --- statements ----------------------------------------------------------------------------------------------


class _ReplayRefusedError(Exception):
    """The target refused row images given back as the binlog had them (replay.py): write them as SQL instead."""


class _MergedCountMismatchError(Exception):
    """A statement merging several rows changed an unexpected number of rows: redo the batch row by row."""


@dataclasses.dataclass
class _Batch:
    """SQL statements of one target transaction so far, with the affected-row count each must report.

    Consecutive rows with the same statement prefix and suffix (INSERT INTO t (cols) VALUES ... / upserts /
    DELETE ... IN (...)) merge into one statement while `merge` is on."""

    max_statement: int  # characters a merged statement may hold; a statement of one row may hold more
    merge: bool = True
    statements: list[str] = dataclasses.field(default_factory=list)
    expected: list[int | None] = dataclasses.field(default_factory=list)
    merged: list[bool] = dataclasses.field(default_factory=list)
    size: int = 0
    _open: tuple[str, str] | None = None  # (prefix, suffix) of the statement rows may still join
    _items: list[str] = dataclasses.field(default_factory=list)
    _open_size: int = 0  # characters of the open statement
    _per_item: int | None = None
    _foreign_key_checks: bool = False  # as the statements so far leave the session (it starts with them off)

    def checking_foreign_keys(self, on: bool) -> None:
        """The statements added next run with foreign key checks (and cascades) on, or off."""
        if on != self._foreign_key_checks:
            self.add(f"SET foreign_key_checks={int(on)}")
            self._foreign_key_checks = on

    def add(self, statement: str, expected: int | None = None) -> None:
        self._close()
        self._append(statement, expected, False)

    def add_item(self, prefix: str, item: str, suffix: str, per_item: int | None) -> None:
        """One row of a mergeable statement: prefix + items joined by commas + suffix."""
        if not self.merge:
            self.add(prefix + item + suffix, per_item)
            return
        if self._open != (prefix, suffix) or self._open_size + len(item) >= self.max_statement:
            self._close()
            self._open, self._per_item = (prefix, suffix), per_item
            self._open_size = len(prefix) + len(suffix)
            self.size += self._open_size
        self._items.append(item)
        self._open_size += len(item) + 1
        self.size += len(item) + 1

    def _close(self) -> None:
        if self._open is not None:
            prefix, suffix = self._open
            expected = None if self._per_item is None else self._per_item * len(self._items)
            self._append(prefix + ",".join(self._items) + suffix, expected, len(self._items) > 1)
            self._open, self._items = None, []

    def _append(self, statement: str, expected: int | None, merged: bool) -> None:
        self.statements.append(statement)
        self.expected.append(expected)
        self.merged.append(merged)
        self.size += len(statement) if not merged else 0

    def take(self) -> tuple[list[str], list[int | None], list[bool]]:
        self.checking_foreign_keys(False)  # off again for whatever runs next (DDL, the checkpoint)
        self._close()
        taken = self.statements, self.expected, self.merged
        self.statements, self.expected, self.merged, self.size = [], [], [], 0
        return taken


@dataclasses.dataclass(frozen=True)
class ApplyResult:
    """What one `apply` call wrote."""

    transactions: int  # source transactions applied (skipped ones not counted)
    rows: int  # row changes applied
    position: BinlogPosition | None  # the checkpoint now (None: nothing applied yet)
    commit_time: float | None  # source commit time (epoch seconds) of the last applied transaction


@dataclasses.dataclass
class ApplierMetrics:
    """Totals since the applier was created. Lag = source's current time - `last_commit_time`."""

    transactions: int = 0
    rows: int = 0
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    ddl: int = 0
    replayed: int = 0  # rows the target applied from the binlog's row images (replay.py)
    skipped_transactions: int = 0  # offered again after they were applied: skipped
    last_commit_time: float | None = None
    last_applied_at: float | None = None  # local epoch seconds of the last target commit

    def count(self, transactions: Sequence[Transaction]) -> None:
        for transaction in transactions:
            self.transactions += 1
            counted = spill.tally(transaction.changes)  # a change only for its cascades was in a copy already
            self.ddl += counted.ddl
            self.rows += counted.rows
            self.inserts += counted.inserts
            self.updates += counted.updates
            self.deletes += counted.deletes
            self.replayed += counted.replayed


@dataclasses.dataclass
class _Sql:
    """SQL fragments of one target table for one set of columns, built once."""

    columns: tuple[str, ...]  # written columns (not generated), in row order
    insert: str  # INSERT INTO t (cols) VALUES
    upsert: str  # ON DUPLICATE KEY UPDATE col=VALUES(col), ...


class Applier:
    """Writes source transactions to the target with their checkpoint, exactly once (see the module doc).

    `idempotent` may be switched by the engine between calls. `fault` is for tests: called with the name of a
    point ("before_commit", "before_ddl", "after_ddl") where a crash can be simulated by raising. `fence`: the
    target refuses our commits once a newer worker raised it (see fences.py). `objects_read_at`: where the binlog
    was when the full copy read the views, routines and sequences it created (as they were then, not in its
    snapshot): their DDL up to there may be applied already. `copied_at`: the target tables a resumed copy took
    whole, and the position of the snapshot it took them in: they hold every change up to there.

    Cascades in idempotent mode: the copy may hold the children of a deleted (or re-keyed) parent from before the
    change, and the parent's row already changed (its copy was taken after), so the parent's change alone, run
    with foreign key checks off, would not reach them. Each delete from a table that ON DELETE CASCADE / SET NULL
    keys reference, and each update of the columns ON UPDATE ones reference, is preceded by those actions' own
    statements on the child tables not copied after it (a delete's with checks on, so that deeper levels cascade
    as InnoDB does); a change marked only_cascades runs just these.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        task_id: str,
        selection: Selection,
        *,
        idempotent: bool = False,
        fault: Callable[[str], None] | None = None,
        fence: fences.Fence | None = None,
        stop: threading.Event | None = None,
        objects_read_at: BinlogPosition | None = None,
        copied_at: Mapping[TableRef, BinlogPosition] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._copied_at = {table: position_key(at) for table, at in (copied_at or {}).items()}
        # Past the last of those copies no change is left out: the hot path skips the check from there on.
        self._copied_until = max(self._copied_at.values(), default=None)
        self._at: tuple[str, int, int] | None = None  # the end of the transaction whose rows are being added
        self._only_cascades = 0  # changes of the apply() call so far that were marked only_cascades
        self._objects_read_at = position_key(objects_read_at) if objects_read_at else None
        self._stop = stop  # interrupts a long DDL statement (interrupt.py): it rolls back, and runs again on resume
        self.task_id = task_id
        self.selection = selection
        self.idempotent = idempotent
        self.metrics = ApplierMetrics()
        self._fault = fault or (lambda point: None)
        self._fence = fence
        self._fence_checked = False  # in the open target transaction
        self._conn: mysql_connection.Connection | None = None
        self._checkpoint: Checkpoint | None = None
        self._applied_key: tuple[str, int, int] | None = None
        self._tables: dict[TableRef, TargetTable] = {}  # by source table
        self._children: dict[TableRef, TargetTable] = {}  # cascades' children, by target table
        self._sql: dict[tuple[TableRef, tuple[str, ...]], _Sql] = {}  # by source table and row columns
        self._max_query = MAX_QUERY_CHARS
        self._max_packet = 8 * MAX_QUERY_CHARS  # the target's max_allowed_packet (_prepare)
        self._own_session = ""  # the SET statement restoring our session settings after a DDL (_prepare)
        self._renames = dict(selection.renames)
        self._replay_setting: str | None = None  # why this target cannot take row images as they came (_prepare)
        self._replay_refused = False  # the target refused them once (the warning says why): never again
        self._format_sent: bytes | None = None  # the format description event this session last took
        self._server_id = 0  # the target's: the replayed events are its own, as the SQL is
        self._mismatches: dict[tuple[TableRef, tuple[ColumnSpec, ...]], str | None] = {}  # replay.mismatch
        self._xa_kept: set[str] = set()  # XA transactions whose prepared changes the target keeps (committed)
        self._xa_pending: dict[str, bool] = {}  # xid -> kept, as the open target transaction leaves it

    def __enter__(self) -> Applier:
        self._connection()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._fence_checked = False
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(pymysql.err.Error):
                conn.close()

    @property
    def connection_id(self) -> int | None:
        """The target session's id (for tests that kill it)."""
        driver: Any = self._conn
        return int(driver.thread_id()) if driver is not None else None

    def load_checkpoint(self) -> BinlogPosition | None:
        """Where to resume the stream: the end of the last applied transaction, or None."""
        self._connection()
        return self._checkpoint.position if self._checkpoint else None

    # -- applying --

    def apply(self, transactions: Sequence[Transaction]) -> ApplyResult:
        """Apply consecutive source transactions, in order, in as few target transactions as DDL allows."""
        merge = True
        try:
            while True:
                try:
                    return self._apply(transactions, merge=merge)
                except _MergedCountMismatchError:
                    # Rows of a merged statement: is one missing, or was an update a no-op? Find out row by row.
                    self._rollback()
                    merge = False
                except _ReplayRefusedError:
                    self._rollback()  # and again, as SQL: replay is off from now on
        except BaseException as exc:
            self._abandon()
            error = self._refused(errors.classify(exc))
            if error is exc:
                raise
            raise error from exc

    def advance(self, position: BinlogPosition, commit_time: float | None = None) -> None:
        """Record that everything before `position` is applied (a heartbeat past unselected changes)."""
        try:
            if self._is_applied(position):
                return
            conn = self._connection()
            self._run(conn, [self._checkpoint_statement(position, commit_time, None)], [None], [False])
            self._commit_fenced(conn)
            self._set_checkpoint(position, commit_time)
        except BaseException as exc:
            self._abandon()
            error = self._refused(errors.classify(exc))
            if error is exc:
                raise
            raise error from exc

    def _apply(self, transactions: Sequence[Transaction], *, merge: bool) -> ApplyResult:
        conn = self._connection()
        batch = _Batch(self._max_query, merge)
        self._only_cascades = 0
        pending: list[Transaction] = []  # transactions whose statements are in `batch`
        self._xa_pending = {}
        applied = rows = 0
        for transaction in transactions:
            if self._is_applied(transaction.end):
                self.metrics.skipped_transactions += 1
                continue
            if transaction.xa is not None:
                transaction = self._xa_step(conn, batch, transaction)
            if self._copied_until is not None and position_key(transaction.end) <= self._copied_until:
                transaction = without_copied(transaction, self._copied_at, self.selection.target_of)
            if spill.has_schema_changes(transaction.changes):
                if pending:
                    self._commit(conn, batch, pending)
                    pending = []
                self._apply_ddl_transaction(conn, transaction)
            else:
                self._at = position_key(transaction.end)
                if isinstance(transaction.changes, spill.SpilledChanges) and self._replays():
                    self._add_replayed(conn, batch, transaction.changes)
                else:
                    self._add_rows(conn, batch, transaction.changes)  # type: ignore[arg-type]
                pending.append(transaction)
            applied += 1
            rows += len(transaction.changes)
        if pending:
            self._commit(conn, batch, pending)
        checkpoint = self._checkpoint
        rows -= self._only_cascades  # not rows of the transactions' own
        return ApplyResult(applied, rows, checkpoint.position if checkpoint else None, self.metrics.last_commit_time)

    def _commit(self, conn: mysql_connection.Connection, batch: _Batch, transactions: list[Transaction]) -> None:
        last = transactions[-1]
        batch.add(self._checkpoint_statement(last.end, last.commit_time, None))
        self._run(conn, *batch.take())
        self._fault("before_commit")
        crash_point("apply.before_commit")
        self._commit_fenced(conn)
        crash_point("apply.after_commit")
        self._set_checkpoint(last.end, last.commit_time)
        self.metrics.count(transactions)
        for xid, kept in self._xa_pending.items():
            (self._xa_kept.add if kept else self._xa_kept.discard)(xid)
        self._xa_pending = {}

    def _commit_fenced(self, conn: mysql_connection.Connection) -> None:
        conn.commit()
        self._fence_checked = False

    def _refused(self, error: errors.ReplicationError) -> errors.ReplicationError:
        """FencedError instead of a fatal error when the fence has moved: the old worker failed as it wrote
        over the new one's changes (a duplicate key, a missing row); that is no failure of the task."""
        if self._fence is None or not isinstance(error, errors.FatalError):
            return error
        return fences.refusal_if_moved(self.endpoint, self._fence) or error

    def _set_checkpoint(self, position: BinlogPosition, commit_time: float | None) -> None:
        self._checkpoint = Checkpoint(position, commit_time, None)
        self._applied_key = position_key(position)
        if commit_time is not None:
            self.metrics.last_commit_time = commit_time
        self.metrics.last_applied_at = time.time()

    def _is_applied(self, position: BinlogPosition) -> bool:
        applied = self._applied_key
        return applied is not None and position_key(position) <= applied

    def _add_rows(self, conn: mysql_connection.Connection, batch: _Batch, changes: Iterable[RowChange]) -> None:
        add_row, max_query = self._add_row, self._max_query
        for change in changes:
            add_row(batch, change)
            if batch.size >= max_query:  # a large transaction is never held whole as SQL
                self._run(conn, *batch.take())

    # -- large transactions, replayed --

    def _replays(self) -> bool:
        """Whether row images still encoded go to the target as they came (replay.py): not in a catch-up, whose
        inserts must be upserts; not once the target refused them."""
        return not self._replay_refused and self._replay_setting is None and not self.idempotent

    def _add_replayed(
        self, conn: mysql_connection.Connection, batch: _Batch, changes: spill.SpilledChanges[spill.Change]
    ) -> None:
        """A spilled transaction's changes: its row images still encoded as BINLOG statements where the target
        table matches the source's, the rest as SQL. The target's handler counters count the replayed rows."""
        counted = spill.Tally()  # what the row images hold
        before: tuple[int, int, int] | None = None  # the handler counters before the replayed parts in a row
        for part in changes.parts():
            if isinstance(part, spill.EncodedPart):
                origin = part.event.origin
                if origin is not None and self._replayable(part, origin):
                    if before is None:
                        self._run(conn, *batch.take())
                        before = self._handler_counters(conn)
                    self._run_replayed(conn, part, origin)
                    continue
                decoded = list(part.event.decode(part.rows))
                counted.add(decoded)
            else:
                decoded = part  # type: ignore[assignment]
            if before is not None:
                self._count_replayed(conn, before, counted)
                before = None
            self._add_rows(conn, batch, decoded)
        if before is not None:
            self._count_replayed(conn, before, counted)
        changes.count_encoded(counted)

    def _replayable(self, part: spill.EncodedPart, origin: replay.Origin) -> bool:
        """Whether the target table takes the row images of `part` as the source meant them (replay.mismatch),
        and a statement of them fits in a packet."""
        if replay.statement_size(origin, part.rows) >= self._max_packet:
            return False
        source = part.event.table
        key = (source, origin.columns)
        if key not in self._mismatches:
            table = self._tables.get(source) or self._table(source)
            mismatch = self._mismatches[key] = (
                replay.mismatch(origin.columns, table.columns)
                if table.transactional
                else "its engine does not roll back (its changes are applied idempotently)"
            )
            if mismatch is not None:
                logger.info(
                    "task %s: the rows of large transactions on %s go as SQL: on the target, %s",
                    self.task_id, table.ref, mismatch, extra={"task_id": self.task_id},
                )  # fmt: skip
        return self._mismatches[key] is None

    def _run_replayed(self, conn: mysql_connection.Connection, part: spill.EncodedPart, origin: replay.Origin) -> None:
        target = self.selection.target_of(part.event.table)
        events = replay.rows_events(origin, part.rows, target, self._server_id)
        if self._format_sent is not origin.format_description:
            events = origin.format_description + events
        try:
            self._run(conn, [replay.binlog_statement(events)], [None], [False])
        except pymysql.err.MySQLError as exc:
            if isinstance(errors.classify(exc), errors.RetriableError):
                raise
            self._replay_refused = True
            logger.warning(
                "task %s: the target refused a large transaction's rows as the binlog has them (%s): they go as SQL"
                " from now on", self.task_id, exc, extra={"task_id": self.task_id},
            )  # fmt: skip
            raise _ReplayRefusedError() from exc
        self._format_sent = origin.format_description

    def _handler_counters(self, conn: mysql_connection.Connection) -> tuple[int, int, int]:
        """The session's rows written, updated and deleted so far (temporary tables have counters of their own)."""
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.SESSION_STATUS"
                " WHERE VARIABLE_NAME IN ('HANDLER_WRITE', 'HANDLER_UPDATE', 'HANDLER_DELETE')"
            )
            found = {str(name).upper(): int(value) for name, value in cursor.fetchall()}
        return found["HANDLER_WRITE"], found["HANDLER_UPDATE"], found["HANDLER_DELETE"]

    def _count_replayed(
        self, conn: mysql_connection.Connection, before: tuple[int, int, int], counted: spill.Tally
    ) -> None:
        """Add the rows the replayed parts since `before` wrote to `counted`; foreign key checks off again (each
        rows event set them, and unique checks, as its source session had them)."""
        with conn.cursor() as cursor:
            cursor.execute("SET SESSION foreign_key_checks=0, unique_checks=1")
        after = self._handler_counters(conn)
        inserts, updates, deletes = (a - b for a, b in zip(after, before, strict=True))
        counted.inserts += inserts
        counted.updates += updates
        counted.deletes += deletes
        counted.replayed += inserts + updates + deletes

    # -- XA transactions --

    def _xa_step(self, conn: mysql_connection.Connection, batch: _Batch, transaction: Transaction) -> Transaction:
        """Add an XA step to `batch`; the transaction as it applies now: an XA PREPARE's changes are only kept, an
        XA COMMIT applies the changes kept for it."""
        step = transaction.xa
        assert step is not None
        xid = step.xid
        if step.phase == "prepare":
            if transaction.changes:
                rows = map(_row_change_of_xa, transaction.changes)
                for statement in prepared_xa.store_statements(self.task_id, xid, rows, self._max_query // 4):
                    batch.add(statement)
                    if batch.size >= self._max_query:
                        self._run(conn, *batch.take())  # a large transaction is never held whole as SQL
                self._xa_pending[xid] = True
            return dataclasses.replace(transaction, changes=())
        if not self._xa_pending.get(xid, xid in self._xa_kept):
            return transaction  # prepared with no changes of selected tables
        changes: Sequence[RowChange] = ()
        if step.phase == "commit":
            self._run(conn, *batch.take())  # its XA PREPARE may be in this very batch
            changes = prepared_xa.load(conn, self.task_id, xid)
        batch.add(prepared_xa.forget_statement(self.task_id, xid))
        self._xa_pending[xid] = False
        return dataclasses.replace(transaction, changes=changes)

    # -- row changes --

    def _add_row(self, batch: _Batch, change: RowChange) -> None:
        table = self._tables.get(change.table)
        if table is None:
            table = self._table(change.table)
        kind = change.kind
        if self.idempotent and kind != "insert" and change.foreign_key_checks and table.cascading_keys:
            self._add_cascades(batch, table, change)
        if change.only_cascades:
            self._only_cascades += 1
            return
        # Only where the source cascaded; a catch-up (idempotent) ran the cascades it needs just above.
        batch.checking_foreign_keys(
            kind != "insert" and table.cascades and change.foreign_key_checks and not self.idempotent
        )
        # A table outside transactions keeps what a target transaction that then failed wrote to it: the changes
        # offered again after it may meet their own rows.
        idempotent = self.idempotent or not table.transactional
        if kind == "insert":
            self._add_insert(batch, change.table, table, change.after, idempotent)  # type: ignore[arg-type]
        elif kind == "update":
            self._add_update(batch, change.table, table, change.before, change.after, idempotent)  # type: ignore[arg-type]
        else:
            self._add_delete(batch, table, change.before, idempotent)  # type: ignore[arg-type]

    def _add_cascades(self, batch: _Batch, table: TargetTable, change: RowChange) -> None:
        """What the source's referential actions did to the children of the row `change` deleted or updated, on
        the children whose copy was not taken after the change (see the class's docstring)."""
        before = change.before or {}
        if change.kind == "update":
            self._add_update_cascades(
                batch, table, cascades.MovedRows(before, frozenset(), change.after or {}), (table.ref,)
            )
            return
        for key in table.cascading_keys:
            if key.on_delete not in cascades.ACTIONS or self._copied_after(key.child):
                continue
            old = [_padded(table, column, before.get(column)) for column in key.referenced]
            if any(value is None for value in old):
                continue  # a NULL references nothing
            where = cascades.equalities(key.columns, old, " AND ")
            batch.checking_foreign_keys(True)  # deeper levels cascade as InnoDB does
            if key.on_delete == "CASCADE":
                batch.add(f"DELETE FROM {key.child_sql} WHERE {where}")
            else:
                batch.add(f"UPDATE {key.child_sql} SET {cascades.equalities(key.columns, None)} WHERE {where}")

    def _add_update_cascades(
        self,
        batch: _Batch,
        table: TargetTable,
        change: cascades.MovedRows,
        path: tuple[TableRef, ...],
    ) -> None:
        """The ON UPDATE actions on the children of the rows of `table` that `change` moved, level by level, with
        foreign key checks off: the new parent key may not be on the target yet (its copy, or its update, comes
        later), so InnoDB cannot run them itself. Each level's statement says which rows it moved and to what, so
        a child whose copy already holds the change is skipped and its own children are not."""
        for key in table.cascading_keys:
            if key.on_update not in cascades.ACTIONS or key.child in path:
                continue  # InnoDB refuses a cascade that comes back to a table: the source ran none
            moved = change.through(key, functools.partial(_padded, table))
            if moved is None:
                logger.warning(
                    "task %s: the ON UPDATE %s of %s from %s cannot be followed in a catch-up: its key does not hold"
                    " the columns that find the rows moved above it",
                    self.task_id, key.on_update, key.child, table.ref,
                )  # fmt: skip
                continue
            if not moved.new:
                continue  # its key did not change
            if not self._copied_after(key.child):
                batch.checking_foreign_keys(False)
                batch.add(f"UPDATE {key.child_sql} SET {moved.assignments} WHERE {moved.condition}")
            if len(path) < cascades.MAX_DEPTH:
                self._add_update_cascades(batch, self._target_table(key.child), moved, (*path, key.child))

    def _copied_after(self, table: TableRef) -> bool:
        """Whether the copy of target `table` was taken after the transaction being added (it holds its effects)."""
        copied_at = self._copied_at.get(table)
        return copied_at is not None and self._at is not None and self._at <= copied_at

    def _fragments(self, source: TableRef, table: TargetTable, row: dict[str, Any]) -> _Sql:
        key = (source, tuple(row))
        sql = self._sql.get(key)
        if sql is None:
            columns = tuple(c for c in row if c in table.writable)
            names = [quote_identifier(c) for c in columns]
            insert = f"INSERT INTO {table.sql_name} ({','.join(names)}) VALUES "
            upsert = " ON DUPLICATE KEY UPDATE " + ",".join(f"{n}=VALUES({n})" for n in names)
            sql = self._sql[key] = _Sql(columns, insert, upsert)
        return sql

    def _add_insert(
        self, batch: _Batch, source: TableRef, table: TargetTable, row: dict[str, Any], idempotent: bool
    ) -> None:
        sql = self._fragments(source, table, row)
        item = "(" + ",".join([literal(row[c]) for c in sql.columns]) + ")"
        suffix = sql.upsert if idempotent and table.key else ""
        if table.enums and _has_enum_error_value(table, row):
            self._add_lenient(batch, sql.insert + item + suffix, None)
        else:
            batch.add_item(sql.insert, item, suffix, None)

    def _add_update(
        self,
        batch: _Batch,
        source: TableRef,
        table: TargetTable,
        before: dict[str, Any],
        after: dict[str, Any],
        idempotent: bool,
    ) -> None:
        key = table.key
        key_changed = any(not same(before.get(c), after.get(c)) for c in key)
        if idempotent and key:
            # The row may be missing or newer on the target: remove the old key's row, then upsert the new one.
            if key_changed:
                where, _ = table.where(before)
                batch.add(f"DELETE FROM {table.sql_name} WHERE {where}")
            self._add_upsert(batch, source, table, after, None)
            return
        if key and not key_changed and table.key_usable(before) and not _has_enum_error_value(table, after):
            # The whole after-image as an upsert merges with its neighbours into one statement; an update
            # counts 2 affected rows, an insert (the row was missing) or a no-op 1: a mismatch is redone row by row.
            self._add_upsert(batch, source, table, after, 2)
            return
        changed = [c for c, v in after.items() if c in table.writable and not same(before.get(c), v)]
        if not changed:
            return  # only generated columns differ: the target computes them
        where, limit = table.where(before)
        assignments = ",".join(f"{quote_identifier(c)}={literal(after[c])}" for c in changed)
        statement = f"UPDATE {table.sql_name} SET {assignments} WHERE {where}" + (" LIMIT 1" if limit else "")
        self._add_statement(batch, table, after, statement, None if idempotent else 1)

    def _add_upsert(
        self, batch: _Batch, source: TableRef, table: TargetTable, row: dict[str, Any], per_row: int | None
    ) -> None:
        sql = self._fragments(source, table, row)
        item = "(" + ",".join([literal(row[c]) for c in sql.columns]) + ")"
        if table.enums and _has_enum_error_value(table, row):
            self._add_lenient(batch, sql.insert + item + sql.upsert, None)
        else:
            batch.add_item(sql.insert, item, sql.upsert, per_row)

    def _add_delete(self, batch: _Batch, table: TargetTable, before: dict[str, Any], idempotent: bool) -> None:
        expected = None if idempotent else 1
        if table.key and table.key_usable(before):
            values_ = [literal(before[c]) for c in table.key]
            item = values_[0] if len(values_) == 1 else "(" + ",".join(values_) + ")"
            batch.add_item(table.delete_in, item, ")", expected)
            return
        where, limit = table.where(before)
        statement = f"DELETE FROM {table.sql_name} WHERE {where}" + (" LIMIT 1" if limit else "")
        self._add_statement(batch, table, before, statement, expected)

    def _add_statement(
        self, batch: _Batch, table: TargetTable, row: dict[str, Any], statement: str, expected: int | None
    ) -> None:
        if table.enums and _has_enum_error_value(table, row):
            self._add_lenient(batch, statement, expected)
        else:
            batch.add(statement, expected)

    @staticmethod
    def _add_lenient(batch: _Batch, statement: str, expected: int | None) -> None:
        batch.add(f"SET SESSION sql_mode='{LENIENT_SQL_MODE}'")
        batch.add(statement, expected)
        batch.add(f"SET SESSION sql_mode='{SESSION_SQL_MODE}'")

    def _table(self, source: TableRef) -> TargetTable:
        assert self._conn is not None
        table = self._tables[source] = _read_table(self._conn, self.selection.target_of(source))
        return table

    def _target_table(self, target: TableRef) -> TargetTable:
        """A table of the target by its own name (a cascade's child), read once until the next DDL."""
        table = self._children.get(target)
        if table is None:
            assert self._conn is not None
            table = self._children[target] = _read_table(self._conn, target)
        return table

    # -- DDL --

    def _apply_ddl_transaction(self, conn: mysql_connection.Connection, transaction: Transaction) -> None:
        checkpoint = self._checkpoint
        redo = checkpoint is not None and checkpoint.ddl_in_progress == BinlogPosition(
            transaction.end.file, transaction.end.offset
        )
        # The marker first: if we crash after the DDL, the next run knows this DDL may be done already.
        position = checkpoint.position if checkpoint else None
        commit_time = checkpoint.source_commit_time if checkpoint else None
        self._run(conn, [self._checkpoint_statement(position, commit_time, transaction.end)], [None], [False])
        self._commit_fenced(conn)  # a DDL statement cannot be fenced itself: its marker is, right before it
        self._fault("before_ddl")
        crash_point("apply.ddl.marker_committed")
        batch = _Batch(self._max_query, merge=False)
        for change in transaction.changes:
            if isinstance(change, SchemaChange):
                self._run(conn, *batch.take())
                tolerant = redo or self.idempotent or self._read_by_the_copy(change, transaction.end)
                self._execute_ddl(conn, change, tolerant=tolerant)
                self._fence_checked = False  # the DDL committed the transaction
                self._tables.clear()
                self._children.clear()
                self._sql.clear()
                self._mismatches.clear()
            else:
                self._at = position_key(transaction.end)
                self._add_row(batch, change)
        self._fault("after_ddl")
        crash_point("apply.ddl.executed_uncommitted")
        self._commit(conn, batch, [transaction])

    def _read_by_the_copy(self, change: SchemaChange, end: BinlogPosition) -> bool:
        read_at = self._objects_read_at
        return read_at is not None and change.verb in ddl.READ_AFTER_SNAPSHOT and position_key(end) <= read_at

    def _execute_ddl(self, conn: mysql_connection.Connection, change: SchemaChange, *, tolerant: bool) -> None:
        statement = ddl.rename_schemas(change.statement, self._renames, ddl.ansi_quotes(change.session))
        default = change.schema
        use = self.selection.target_of(TableRef(default, "")).schema if default else None
        if default and not self.selection.includes_schema(default):
            use = META_SCHEMA  # a neutral default: the statement names its (selected) tables in full
        with conn.cursor() as cursor:
            if use is not None:
                cursor.execute(f"USE {quote_identifier(use)}")
            try:
                self._enter_source_session(cursor, change.session)
                with interrupt.interrupted_by(self._stop, conn, self.endpoint):
                    cursor.execute(statement)
            except pymysql.err.MySQLError as exc:
                code = exc.args[0] if exc.args else None
                if code in (ER_ERROR_ON_RENAME, ER_BAD_DB_ERROR):
                    self._raise_if_database_missing(cursor, change, exc)
                if not (tolerant and code in ALREADY_APPLIED_DDL_CODES):
                    raise
                logger.warning(
                    "DDL already applied, skipped: %s (%s)",
                    statement,
                    exc,
                    extra={"action": "ddl_already_applied", "task_id": self.task_id},
                )
            finally:
                cursor.execute(self._own_session)
        logger.info("applied DDL: %s", statement, extra={"action": "ddl_applied", "task_id": self.task_id})

    def _raise_if_database_missing(self, cursor: Any, change: SchemaChange, exc: pymysql.err.MySQLError) -> None:
        """A DDL statement that names a database the target lacks (a RENAME moving a table out of the selection,
        into a database only the source has) fails with an error that does not say so (1025): say it, and how
        to go on."""
        schemas = {self._renames.get(table.schema, table.schema) for table in change.tables}
        cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        missing = sorted(schemas - {str(row[0]) for row in cursor.fetchall()})
        if missing:
            names = ", ".join(quote_identifier(name) for name in missing)
            raise errors.FatalError(
                f"the source ran {change.statement!r}, which names the database {names} that the target does not"
                f" have: create it on the target (CREATE DATABASE {names}) and retry the task"
            ) from exc

    def _enter_source_session(self, cursor: Any, session: Session) -> None:
        """The settings the source ran a statement in (sql_mode, collation, time zone, start time), for it alone."""
        for name, value in session:
            try:
                cursor.execute(f"SET SESSION {name} = %s", (value,))
            except pymysql.err.MySQLError as exc:
                code = exc.args[0] if exc.args else None
                if name == "sql_mode" and code == ER_WRONG_VALUE_FOR_VAR:
                    cursor.execute("SET SESSION sql_mode = %s", (self._modes_known_here(cursor, str(value)),))
                elif name == "time_zone" and code == ER_UNKNOWN_TIME_ZONE:
                    raise errors.FatalError(
                        f"the target does not know the time zone {value!r} that the source ran a DDL statement in:"
                        " load its time zone tables (mariadb-tzinfo-to-sql) and retry the task"
                    ) from exc
                else:
                    raise

    def _modes_known_here(self, cursor: Any, modes: str) -> str:
        """`modes` without those the target does not have (a MySQL 5.7 source's NO_AUTO_CREATE_USER on MySQL 8)."""
        known = []
        for mode in modes.split(","):
            try:
                cursor.execute("SET SESSION sql_mode = %s", (mode,))
                known.append(mode)
            except pymysql.err.MySQLError:
                logger.warning(
                    "the target has no sql_mode %s: DDL replayed without it",
                    mode,
                    extra={"action": "ddl_sql_mode_unknown", "task_id": self.task_id},
                )
        return ",".join(known)

    # -- connection and SQL --

    def _connection(self) -> mysql_connection.Connection:
        if self._conn is None:
            try:
                conn = mysql_connection.connect(
                    self.endpoint, autocommit=False, client_flag=CLIENT.MULTI_STATEMENTS | CLIENT.FOUND_ROWS
                )
            except (pymysql.err.MySQLError, OSError) as exc:
                raise errors.classify(exc) from exc  # the target is down: RetriableError
            try:
                self._prepare(conn)
            except (pymysql.err.MySQLError, OSError) as exc:
                conn.close()
                raise errors.classify(exc) from exc
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _prepare(self, conn: mysql_connection.Connection) -> None:
        with conn.cursor() as cursor:
            # TIMESTAMPs travel in UTC; foreign keys were checked on the source, in the same order (checks are
            # turned on only for the changes a cascade must follow: _Batch.checking_foreign_keys).
            cursor.execute(f"SET SESSION time_zone='+00:00', sql_mode='{SESSION_SQL_MODE}', foreign_key_checks=0")
            cursor.execute(
                "SELECT @@max_allowed_packet, @@collation_connection, @@server_id, @@version, @@slave_type_conversions"
            )
            row = cursor.fetchone()
            assert row is not None
            self._max_packet = int(row[0])
            self._server_id = int(row[2])
            setting = replay.refusal(str(row[3]), str(row[4]))
            if setting is not None and setting != self._replay_setting:
                logger.info(
                    "task %s: the rows of large transactions go to the target as SQL: %s",
                    self.task_id, setting, extra={"task_id": self.task_id},
                )  # fmt: skip
            self._replay_setting = setting
            self._max_query = min(MAX_QUERY_CHARS, self._max_packet // 8)
            # What a DDL statement replayed in the source's session settings returns to.
            self._own_session = (
                f"SET SESSION sql_mode='{SESSION_SQL_MODE}', time_zone='+00:00', collation_connection='{row[1]}',"
                " timestamp=DEFAULT"
            )
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{META_SCHEMA}`")
            cursor.execute(CHECKPOINT_TABLE_DDL)
            cursor.execute(prepared_xa.TABLE_DDL)
            self._xa_kept = prepared_xa.stored_xids(cursor, self.task_id)
        conn.commit()
        self._checkpoint = _read_checkpoint(conn, self.task_id)
        position = self._checkpoint.position if self._checkpoint else None
        self._applied_key = position_key(position) if position else None
        self._tables.clear()
        self._children.clear()
        self._sql.clear()
        self._mismatches.clear()
        self._format_sent = None

    def _rollback(self) -> None:
        assert self._conn is not None
        self._conn.rollback()
        self._fence_checked = False
        self._conn.cursor().execute(f"SET SESSION sql_mode='{SESSION_SQL_MODE}', foreign_key_checks=0, unique_checks=1")

    def _abandon(self) -> None:
        """After an error: drop the connection (the server rolls back) and forget cached state."""
        if self._conn is not None:
            with contextlib.suppress(pymysql.err.Error):
                self._conn.rollback()
        self.close()

    def _checkpoint_statement(
        self, position: BinlogPosition | None, commit_time: float | None, ddl: BinlogPosition | None
    ) -> str:
        """The upsert of this task's checkpoint row: position (None: none yet), commit time, DDL marker."""
        fields = {
            "file": literal(position.file if position else None),
            "pos": literal(position.offset if position else None),
            "gtid": literal(position.gtid if position else None),
            "source_commit_time": literal(commit_time),
            "applied_at": "UTC_TIMESTAMP(6)",
            "ddl_file": literal(ddl.file if ddl else None),
            "ddl_pos": literal(ddl.offset if ddl else None),
        }
        names = ",".join(fields)
        updates = ",".join(f"{name}=VALUES({name})" for name in fields)
        return (
            f"INSERT INTO {CHECKPOINTS} (task_id,{names}) VALUES ({literal(self.task_id)},{','.join(fields.values())}) "
            f"ON DUPLICATE KEY UPDATE {updates}"
        )

    def _run(
        self, conn: mysql_connection.Connection, statements: list[str], expected: list[int | None], merged: list[bool]
    ) -> None:
        """Send statements in multi-statement queries of at most `_max_query` characters; check affected rows."""
        if self._fence is not None and not self._fence_checked:
            self._fence.check(conn)  # FencedError: the caller rolls the transaction back
            self._fence_checked = True
        start = 0
        while start < len(statements):
            end, size = start, 0
            while end < len(statements) and (end == start or size + len(statements[end]) <= self._max_query):
                size += len(statements[end]) + 2
                end += 1
            query = ";\n".join(statements[start:end])
            if 4 * len(query) >= self._max_packet:  # at most 4 bytes a character: only a long one is measured
                self._check_fits(query)
            driver: Any = conn  # PyMySQL's multi-result API is untyped
            driver.query(query)
            counts = [driver.affected_rows()]
            while driver._result is not None and driver._result.has_next:
                driver.next_result()
                counts.append(driver.affected_rows())
            if len(counts) != end - start:
                raise errors.FatalError(f"{end - start} statements sent, {len(counts)} results received")
            crash_point("apply.batch.statements_sent")  # in the target transaction, not committed
            for i, got in enumerate(counts, start):
                want = expected[i]
                if want is not None and got != want:
                    if merged[i]:
                        raise _MergedCountMismatchError()
                    raise errors.TargetDivergedError(
                        f"expected {want} row(s) to change on the target, {got} did: {statements[i][:300]}"
                    )
            start = end

    def _check_fits(self, query: str) -> None:
        """FatalError if `query` (a statement of one row: others are cut shorter) exceeds the target's
        max_allowed_packet. The target would drop the connection, and a retry meet the same fate until the retry
        window closed on a "server has gone away" that names no cause."""
        size = len(query.encode()) + 1  # and the command byte
        if size > self._max_packet:
            needed = -(-size // MEGABYTE) * MEGABYTE
            raise errors.FatalError(
                f"a statement of {size:,} bytes ({query[:80]}...) exceeds the target's max_allowed_packet"
                f" ({self._max_packet:,} bytes): run SET GLOBAL max_allowed_packet = {needed} on the target, then"
                " retry the task"
            )


def _has_enum_error_value(table: TargetTable, row: dict[str, Any]) -> bool:
    """True if an ENUM column holds its error value (index 0, decoded as int 0), which strict mode refuses."""
    return any(type(row.get(c)) is int for c in table.enums)

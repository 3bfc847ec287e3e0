"""Comparing a MySQL/MariaDB source with its target: objects (databases, tables, columns, indexes, views), row
counts, and contents (compare_rows). The engine runs these for a compare task; nothing here knows the store."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import pymysql

from opendrs.connectors.mysql import catalog, errors, types
from opendrs.connectors.mysql import connection as mysql
from opendrs.connectors.mysql.compare_rows import Settle, Side, SideError, TablePair, Tick, compare_table
from opendrs.domain.compare import CompareResult, DataReport, ObjectCount, ObjectDiff, ObjectReport, TableReport
from opendrs.domain.replication import Endpoint, Selection, TableRef

__all__ = ["SideError", "compare_data", "compare_objects"]


@contextlib.contextmanager
def _sides(source: Endpoint, target: Endpoint) -> Iterator[tuple[Side, Side]]:
    opened: list[mysql.Connection] = []
    try:
        sides = []
        for name, endpoint in (("source", source), ("target", target)):
            try:
                connection = mysql.connect(endpoint, database="")
            except (pymysql.err.MySQLError, OSError) as exc:
                raise SideError(name, errors.classify(exc)) from exc
            opened.append(connection)
            side = Side(name, connection)
            # TIMESTAMP values print in the session's time zone: the same one on both sides.
            side.rows("SET SESSION time_zone = '+00:00'")
            sides.append(side)
        yield sides[0], sides[1]
    finally:
        for connection in opened:
            connection.close()


# --- Objects ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Objects:
    """What one server has of the compared databases, each object as a comparable description."""

    databases: dict[str, str]  # name -> "charset collation"
    tables: dict[TableRef, str]  # -> engine
    columns: dict[tuple[TableRef, str], str]  # (table, column) -> "#position type NULL|NOT NULL DEFAULT ..."
    indexes: dict[tuple[TableRef, str], str]  # (table, index) -> "UNIQUE (a, b(10))"
    views: dict[TableRef, str]
    routines: dict[TableRef, str]  # (database, "procedure p") -> "sql_mode ..., body <md5>"


def compare_objects(source: Endpoint, target: Endpoint, selection: Selection) -> ObjectReport:
    """Databases, tables, columns (name, type, nullability, default, position), indexes (name, columns,
    uniqueness), views, and the stored procedures and functions (sql_mode and body) of databases selected whole,
    on the source, against what the target holds under the mapped names."""
    with _sides(source, target) as (source_side, target_side):
        found = _objects(source_side, selection)
        # Whole databases are compared whole (extra tables on the target count); single tables one by one.
        whole = [name for name in found.databases if selection.whole_instance or name in selection.databases]
        mapped = Selection(
            tuple(selection.renames.get(name, name) for name in whole),
            tuple(selection.target_of(table) for table in found.tables if table.schema not in whole),
        )
        there = _objects(target_side, mapped)
    counts = []
    diffs: list[ObjectDiff] = []
    kinds: list[tuple[str, dict[Any, str], dict[Any, str]]] = [
        ("DB", found.databases, {_source_db(selection, name): v for name, v in there.databases.items()}),
        ("TABLE", found.tables, _unmapped(selection, there.tables)),
        ("COLUMN", found.columns, {(_unmap(selection, t), c): v for (t, c), v in there.columns.items()}),
        ("INDEX", found.indexes, {(_unmap(selection, t), i): v for (t, i), v in there.indexes.items()}),
        ("VIEW", found.views, _unmapped(selection, there.views)),
        ("ROUTINE", found.routines, _unmapped(selection, there.routines)),
    ]
    for object_type, on_source, on_target in kinds:
        # Objects of a table or database missing on the target are counted once, as that table or database.
        found_diffs = [
            _object_diff(object_type, selection, name, on_source.get(name), on_target.get(name))
            for name in sorted(on_source.keys() | on_target.keys(), key=str)
            if on_source.get(name) != on_target.get(name)
            and not _under_missing(name, object_type, found, there, selection)
        ]
        diffs.extend(found_diffs)
        counts.append(ObjectCount(object_type, len(on_source), len(on_target), len(found_diffs)))
    return ObjectReport(tuple(counts), tuple(diffs))


def _objects(side: Side, selection: Selection) -> _Objects:
    names = [
        (str(name), f"{charset} {collation}")
        for name, charset, collation in side.rows(
            "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA"
        )
        if name not in catalog.SYSTEM_SCHEMAS and selection.includes_schema(str(name))
    ]
    databases = dict(names)
    if not databases:
        return _Objects({}, {}, {}, {}, {}, {})
    where = f"TABLE_SCHEMA IN ({', '.join(['%s'] * len(databases))})"
    schemas = list(databases)
    tables: dict[TableRef, str] = {}
    views: dict[TableRef, str] = {}
    for schema, name, kind, engine in side.rows(
        f"SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES WHERE {where}", schemas
    ):
        table = TableRef(str(schema), str(name))
        if selection.includes(table):
            (views if kind == "VIEW" else tables)[table] = "VIEW" if kind == "VIEW" else str(engine)
    columns = {}
    for schema, table_name, name, position, column_type, nullable, default, extra in side.rows(
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT,"
        f" EXTRA FROM information_schema.COLUMNS WHERE {where}",
        schemas,
    ):
        table = TableRef(str(schema), str(table_name))
        if table in tables:
            null = "NULL" if nullable == "YES" else "NOT NULL"
            described = f"#{position} {column_type} {null} DEFAULT {_default(default)} {extra or ''}".strip()
            columns[(table, str(name))] = described
    parts: dict[tuple[TableRef, str], list[str]] = {}
    unique: dict[tuple[TableRef, str], bool] = {}
    for schema, table_name, name, non_unique, column, sub_part in side.rows(
        "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART"
        f" FROM information_schema.STATISTICS WHERE {where}"
        " ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        schemas,
    ):
        key = (TableRef(str(schema), str(table_name)), str(name))
        if key[0] in tables:
            parts.setdefault(key, []).append(f"{column}({sub_part})" if sub_part else str(column))
            unique[key] = int(non_unique) == 0
    indexes = {key: ("UNIQUE " if unique[key] else "") + "(" + ", ".join(cols) + ")" for key, cols in parts.items()}
    routines = {
        TableRef(str(schema), f"{str(kind).lower()} {name}"): f"sql_mode {sql_mode}, body {digest}"
        for schema, name, kind, sql_mode, digest in side.rows(
            "SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE, SQL_MODE, MD5(COALESCE(ROUTINE_DEFINITION, ''))"
            f" FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN ({', '.join(['%s'] * len(schemas))})",
            schemas,
        )
        if selection.includes(TableRef(str(schema), ""))  # a routine belongs to a database selected whole
    }
    return _Objects(databases, tables, columns, indexes, views, routines)


def _default(value: Any) -> str:
    # MariaDB >= 10.2.7 quotes literal defaults and writes NULL; MySQL gives None and the bare text.
    if value is None or value == "NULL":
        return "NULL"
    text = str(value)
    return text if text.startswith("'") else f"'{text}'"


def _source_db(selection: Selection, target_name: str) -> str:
    reverse = {target: source for source, target in selection.renames.items()}
    return reverse.get(target_name, target_name)


def _unmap(selection: Selection, table: TableRef) -> TableRef:
    return TableRef(_source_db(selection, table.schema), table.name)


def _unmapped(selection: Selection, found: dict[TableRef, str]) -> dict[TableRef, str]:
    return {_unmap(selection, table): value for table, value in found.items()}


def _under_missing(name: Any, object_type: str, source: _Objects, target: _Objects, selection: Selection) -> bool:
    """Whether the object's table (for a column or index) or database (for a table or view) is itself missing on
    one side: then only that one is reported."""
    if object_type in ("COLUMN", "INDEX"):
        table = name[0]
        on_target = _unmapped(selection, target.tables)
        return (table in source.tables) != (table in on_target)
    if object_type in ("TABLE", "VIEW", "ROUTINE"):
        database = name.schema
        databases = {_source_db(selection, db) for db in target.databases}
        return (database in source.databases) != (database in databases)
    return False


def _object_diff(
    object_type: str, selection: Selection, name: Any, source: str | None, target: str | None
) -> ObjectDiff:
    if object_type == "DB":
        label, database = name, name
    elif object_type in ("TABLE", "VIEW", "ROUTINE"):
        label, database = name.name, name.schema
    else:
        label, database = f"{name[0].name}.{name[1]}", name[0].schema
    where = f"{object_type.lower()} {label}"
    if target is None:
        message = f"the {where} is missing on the target"
    elif source is None:
        message = f"the {where} exists only on the target"
    else:
        message = f"the {where} differs: {source} on the source, {target} on the target"
    target_db = selection.renames.get(database, database)
    source_value = f"{label} {source}" if source is not None else ""
    target_value = f"{label} {target}" if target is not None else ""
    return ObjectDiff(object_type, database, target_db, source_value, target_value, message)


# --- Data ------------------------------------------------------------------------------------------------------


def compare_data(
    source: Endpoint,
    target: Endpoint,
    selection: Selection,
    *,
    contents: bool,
    settle: Settle,
    tick: Tick,
) -> DataReport:
    """Row counts (and the rows themselves if `contents`) of every selected base table, table by table."""
    with _sides(source, target) as (source_side, target_side):
        tables = catalog.list_tables(source_side.connection, selection)
        target_databases = {name for (name,) in target_side.rows("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")}
        missing = tuple(
            sorted({t.table.schema for t in tables if selection.target_of(t.table).schema not in target_databases})
        )
        reports = []
        for info in tables:
            tick()
            reports.append(_compare_one(source_side, target_side, info, selection, missing, contents, settle, tick))
    return DataReport(tuple(reports), missing)


def _compare_one(
    source: Side,
    target: Side,
    info: catalog.TableInfo,
    selection: Selection,
    missing_databases: Sequence[str],
    contents: bool,
    settle: Settle,
    tick: Tick,
) -> TableReport:
    mapped = selection.target_of(info.table)
    if info.table.schema in missing_databases:
        rows = _count(source, info.table)
        return TableReport(
            info.table, mapped, rows, 0, CompareResult.TARGET_DB_NOT_EXIT, "the database is missing on the target"
        )
    there = catalog.list_tables(target.connection, Selection(tables=(mapped,)))
    if not there:
        rows = _count(source, info.table)
        return TableReport(
            info.table, mapped, rows, 0, CompareResult.INCONSISTENT, "the table is missing on the target"
        )
    target_columns = {column.name: column for column in there[0].columns}
    compared = [column for column in info.columns if not column.generated and column.name in target_columns]
    key = _range_key(info)
    notes = []
    if key is not None and not all(name in target_columns for name in key.columns):
        rows = _count(source, info.table)
        message = f"the target lacks key columns of {', '.join(key.columns)}"
        return TableReport(info.table, mapped, rows, _count(target, mapped), CompareResult.CAN_NOT_COMPARE, message)
    skipped = [column.name for column in info.columns if column.name not in target_columns]
    if skipped:
        notes.append(f"columns missing on the target not compared: {', '.join(skipped)}")
    if key is None:
        notes.append("no primary or unique key usable for ranges: compared as a multiset of whole rows")
    pair = TablePair(
        info.table,
        mapped,
        tuple(compared),
        tuple(target_columns[column.name] for column in compared),
        tuple(info.column(name) for name in key.columns) if key is not None else (),
    )
    found = compare_table(source, target, pair, contents=contents, settle=settle, tick=tick)
    if found.still_changing:
        notes.append(f"{found.still_changing} rows kept changing on the source during the comparison")
    differing = found.missing + found.extra + found.different
    consistent = differing == 0 if contents else found.missing == found.extra
    result = CompareResult.CONSISTENT if consistent else CompareResult.INCONSISTENT
    if contents and differing:
        notes.insert(
            0, f"{found.missing} missing, {found.extra} extra and {found.different} different rows on the target"
        )
    return TableReport(
        info.table,
        mapped,
        found.source_rows,
        found.target_rows,
        result,
        "; ".join(notes),
        found.diffs if contents else (),
        differing if contents else abs(found.missing - found.extra),
    )


def _range_key(info: catalog.TableInfo) -> catalog.Index | None:
    """The row-identifying key if its values can bound ranges as literals (sessions are in UTC, so TIMESTAMP can)."""
    key = info.key
    if key is None:
        return None
    usable = all(
        types.can_bound_ranges(info.column(name)) or info.column(name).data_type == "timestamp" for name in key.columns
    )
    return key if usable else None


def _count(side: Side, table: TableRef) -> int:
    qualified = f"{mysql.quote_identifier(table.schema)}.{mysql.quote_identifier(table.name)}"
    return int(side.rows(f"SELECT COUNT(*) FROM {qualified}")[0][0])

"""What a Selection covers on a MySQL/MariaDB source: databases, tables (columns, keys, size, DDL) and views."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

import pymysql

from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import Selection, TableRef

SYSTEM_SCHEMAS = frozenset({"mysql", "information_schema", "performance_schema", "sys"})

INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "bigint"})


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    column_type: str  # the full type as SHOW CREATE TABLE writes it: "bigint(20) unsigned", "enum('a','b')"
    data_type: str  # the bare type name, lower case: "bigint", "varchar", "bit"
    nullable: bool
    generated: bool  # VIRTUAL or STORED generated: the target computes it, the copy leaves it out
    charset: str | None  # None for types without a character set (numbers, dates, binary strings)
    auto_increment: bool

    @property
    def is_integer(self) -> bool:
        return self.data_type in INTEGER_TYPES


@dataclasses.dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool
    # A key on every full column value and no NULLs: it identifies a row, so it can order and bound ranges.
    identifies_rows: bool


MVCC_ENGINES = frozenset({"INNODB", "ROCKSDB"})


@dataclasses.dataclass(frozen=True)
class TableInfo:
    table: TableRef
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]  # () when the table has none
    unique_keys: tuple[Index, ...]  # the unique keys other than the primary key
    approx_rows: int  # information_schema's estimate
    data_length: int  # bytes, information_schema's estimate
    create_statement: str  # SHOW CREATE TABLE, as the source wrote it
    engine: str  # "InnoDB", "Aria"...; the target table gets the same

    @property
    def in_snapshot(self) -> bool:
        """Whether a consistent snapshot reads this table as it was at the snapshot: an MVCC engine. A MyISAM, Aria
        or MEMORY table is read as it is when read, changes made since the snapshot included."""
        return self.engine.upper() in MVCC_ENGINES

    @property
    def key(self) -> Index | None:
        """The key that identifies rows: the primary key, else the first unique key on NOT NULL full columns."""
        if self.primary_key:
            return Index("PRIMARY", self.primary_key, unique=True, identifies_rows=True)
        return next((index for index in self.unique_keys if index.identifies_rows), None)

    @property
    def keyless(self) -> bool:
        return self.key is None

    @property
    def loads_serially(self) -> bool:
        """Whether the target loads this table one LOAD DATA at a time when its innodb_autoinc_lock_mode is below 2:
        each holds the table's AUTO-INC lock to its end (autoinc_lock_mode())."""
        return self.engine.upper() == "INNODB" and any(column.auto_increment for column in self.columns)

    @property
    def copied_columns(self) -> tuple[Column, ...]:
        """The columns whose values the copy moves: all but the generated ones."""
        return tuple(column for column in self.columns if not column.generated)

    @property
    def definition(self) -> str:
        """A digest of the table's definition (definition_of)."""
        return definition_of(self.create_statement)

    @property
    def avg_row_length(self) -> int:
        return self.data_length // self.approx_rows if self.approx_rows else 0

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


@dataclasses.dataclass(frozen=True)
class ViewInfo:
    view: TableRef
    create_statement: str  # SHOW CREATE VIEW, as the source wrote it


@dataclasses.dataclass(frozen=True)
class SequenceInfo:
    """A MariaDB sequence: its definition, and its state (the one row of its table) as read."""

    sequence: TableRef
    create_statement: str  # SHOW CREATE SEQUENCE, as the source wrote it
    state: tuple[Any, ...]  # next_not_cached_value, minimum_value, maximum_value, start_value, increment, ...


@dataclasses.dataclass(frozen=True)
class TriggerInfo:
    """A trigger (of `table`) or an event (of a database, `table` its name), and the session it was defined in."""

    kind: str  # TRIGGER | EVENT
    table: TableRef  # a trigger's table; an event's database, as TableRef(name, "")
    name: str
    create_statement: str  # SHOW CREATE TRIGGER/EVENT
    sql_mode: str
    collation_connection: str
    time_zone: str  # an event's schedule is in it; "SYSTEM" for a trigger


@dataclasses.dataclass(frozen=True)
class RoutineInfo:
    """A stored procedure or function, and the session settings it was defined in."""

    routine: TableRef  # its database and name
    kind: str  # PROCEDURE | FUNCTION
    create_statement: str | None  # SHOW CREATE PROCEDURE/FUNCTION; None: the source user may not read it
    sql_mode: str
    collation_connection: str


@dataclasses.dataclass(frozen=True)
class DatabaseInfo:
    name: str
    charset: str
    collation: str


def list_databases(connection: mysql.Connection, selection: Selection) -> tuple[DatabaseInfo, ...]:
    """The selected databases that exist on the source, with their default character set and collation."""
    rows = _query(
        connection,
        "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA"
        " ORDER BY SCHEMA_NAME",
    )
    return tuple(
        DatabaseInfo(str(name), str(charset), str(collation))
        for name, charset, collation in rows
        if name not in SYSTEM_SCHEMAS and selection.includes_schema(str(name))
    )


def list_tables(connection: mysql.Connection, selection: Selection) -> tuple[TableInfo, ...]:
    """The selected base tables, in (schema, name) order."""
    schemas = [database.name for database in list_databases(connection, selection)]
    if not schemas:
        return ()
    sizes = _table_sizes(connection, schemas, "BASE TABLE")
    tables = [table for table in sizes if selection.includes(table)]
    columns = _columns(connection, schemas)
    indexes = _indexes(connection, schemas)
    found = (
        _table_info(connection, table, columns.get(table, ()), indexes.get(table, ()), sizes[table])
        for table in sorted(tables)
    )
    return tuple(info for info in found if info is not None)


TableShapes = dict[TableRef, tuple[tuple[Column, ...], tuple[Index, ...]]]


def table_shapes(connection: mysql.Connection, selection: Selection) -> TableShapes:
    """The columns and indexes of every selected table, from two queries: equal shapes read before and after a
    snapshot say that no DDL changed a table meanwhile (information_schema is read as it is now, not in the
    snapshot)."""
    schemas = [database.name for database in list_databases(connection, selection)]
    if not schemas:
        return {}
    columns, indexes = _columns(connection, schemas), _indexes(connection, schemas)
    return {
        table: (tuple(table_columns), tuple(indexes.get(table, ())))
        for table, table_columns in columns.items()
        if selection.includes(table)
    }


def list_views(connection: mysql.Connection, selection: Selection) -> tuple[ViewInfo, ...]:
    """The selected views, in (schema, name) order; copy them after the tables they read."""
    schemas = [database.name for database in list_databases(connection, selection)]
    if not schemas:
        return ()
    views = [view for view in _table_sizes(connection, schemas, "VIEW") if selection.includes(view)]
    shown = ((view, _show_create_if_there(connection, "VIEW", view)) for view in sorted(views))
    return tuple(ViewInfo(view, create) for view, create in shown if create is not None)


def list_sequences(connection: mysql.Connection, selection: Selection) -> tuple[SequenceInfo, ...]:
    """The selected sequences (MariaDB; MySQL has none), in (schema, name) order, each with its state now."""
    schemas = [database.name for database in list_databases(connection, selection)]
    if not schemas:
        return ()
    sequences = [sequence for sequence in _table_sizes(connection, schemas, "SEQUENCE") if selection.includes(sequence)]
    found = []
    for sequence in sorted(sequences):
        name = f"{mysql.quote_identifier(sequence.schema)}.{mysql.quote_identifier(sequence.name)}"
        create = _show_create_if_there(connection, "SEQUENCE", sequence)
        state = _query_if_there(connection, f"SELECT * FROM {name}")
        if create is not None and state is not None:
            found.append(SequenceInfo(sequence, create, tuple(state[0])))
    return tuple(found)


# Per kind: (database, table or "", name) of each, and where SHOW CREATE puts its statement, sql_mode, collation
# and (an event's) time zone.
_DEFINED_OBJECTS = (
    (
        "TRIGGER",
        "SELECT TRIGGER_SCHEMA, EVENT_OBJECT_TABLE, TRIGGER_NAME FROM information_schema.TRIGGERS"
        " WHERE TRIGGER_SCHEMA IN ({}) ORDER BY TRIGGER_SCHEMA, EVENT_OBJECT_TABLE, ACTION_ORDER",
        (2, 1, 4, None),
    ),
    (
        "EVENT",
        "SELECT EVENT_SCHEMA, '', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN ({})"
        " ORDER BY EVENT_SCHEMA, EVENT_NAME",
        (3, 1, 5, 2),
    ),
)


def list_triggers_and_events(connection: mysql.Connection, selection: Selection) -> tuple[TriggerInfo, ...]:
    """The triggers of the selected tables, then the events of the databases selected whole, in name order."""
    schemas = [database.name for database in list_databases(connection, selection)]
    if not schemas:
        return ()
    found = []
    for kind, sql, (statement, sql_mode, collation, time_zone) in _DEFINED_OBJECTS:
        for schema, table, name in _query(connection, sql.format(_placeholders(schemas)), schemas):
            owner = TableRef(str(schema), str(table))
            if not selection.includes(owner):
                continue
            name_sql = f"{mysql.quote_identifier(str(schema))}.{mysql.quote_identifier(str(name))}"
            shown_rows = _query_if_there(connection, f"SHOW CREATE {kind} {name_sql}")
            if not shown_rows:
                continue
            shown = shown_rows[0]
            zone = "SYSTEM" if time_zone is None else str(shown[time_zone])
            found.append(
                TriggerInfo(
                    kind, owner, str(name), str(shown[statement]), str(shown[sql_mode]), str(shown[collation]), zone
                )
            )
    return tuple(found)


def list_routines(connection: mysql.Connection, selection: Selection) -> tuple[RoutineInfo, ...]:
    """The stored procedures and functions of the databases selected whole (a selection of single tables of a
    database takes none of its routines), in (database, name, kind) order."""
    schemas = [d.name for d in list_databases(connection, selection) if selection.includes(TableRef(d.name, ""))]
    if not schemas:
        return ()
    rows = _query(
        connection,
        "SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES"
        f" WHERE ROUTINE_SCHEMA IN ({_placeholders(schemas)}) AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION')"
        " ORDER BY ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE",
        schemas,
    )
    routines = []
    for schema, name, kind in rows:
        routine = TableRef(str(schema), str(name))
        name_sql = f"{mysql.quote_identifier(routine.schema)}.{mysql.quote_identifier(routine.name)}"
        # (name, sql_mode, create statement, character_set_client, collation_connection, database collation)
        shown_rows = _query_if_there(connection, f"SHOW CREATE {kind} {name_sql}")
        if not shown_rows:
            continue
        shown = shown_rows[0]
        create = None if shown[2] is None else str(shown[2])
        routines.append(RoutineInfo(routine, str(kind), create, str(shown[1]), str(shown[4])))
    return tuple(routines)


def _table_info(
    connection: mysql.Connection,
    table: TableRef,
    columns: Sequence[Column],
    indexes: Sequence[Index],
    size: tuple[int, int, str],
) -> TableInfo | None:
    """None if the table is gone already."""
    primary = next((index.columns for index in indexes if index.name == "PRIMARY"), ())
    unique = tuple(index for index in indexes if index.unique and index.name != "PRIMARY")
    create = _show_create_if_there(connection, "TABLE", table)
    if create is None:
        return None
    return TableInfo(table, tuple(columns), primary, unique, size[0], size[1], create, size[2])


def _table_sizes(
    connection: mysql.Connection, schemas: Sequence[str], kind: str
) -> dict[TableRef, tuple[int, int, str]]:
    """(row estimate, data length, engine) of each table of `kind`."""
    rows = _query(
        connection,
        "SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS, 0), COALESCE(DATA_LENGTH, 0), COALESCE(ENGINE, '')"
        f" FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({_placeholders(schemas)}) AND TABLE_TYPE = %s",
        [*schemas, kind],
    )
    return {
        TableRef(str(schema), str(name)): (int(rows_), int(length), str(engine))
        for schema, name, rows_, length, engine in rows
    }


def _columns(connection: mysql.Connection, schemas: Sequence[str]) -> dict[TableRef, list[Column]]:
    rows = _query(
        connection,
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, EXTRA, CHARACTER_SET_NAME"
        f" FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN ({_placeholders(schemas)})"
        " ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION",
        schemas,
    )
    columns: dict[TableRef, list[Column]] = {}
    for schema, table, name, column_type, data_type, nullable, extra, charset in rows:
        # EXTRA says "VIRTUAL GENERATED" or "STORED GENERATED" (MySQL's "DEFAULT_GENERATED" is a mere default).
        generated = str(extra).upper() in ("VIRTUAL GENERATED", "STORED GENERATED")
        column = Column(
            str(name),
            str(column_type),
            str(data_type).lower(),
            nullable == "YES",
            generated,
            None if charset is None else str(charset),
            "auto_increment" in str(extra).lower(),
        )
        columns.setdefault(TableRef(str(schema), str(table)), []).append(column)
    return columns


def _indexes(connection: mysql.Connection, schemas: Sequence[str]) -> dict[TableRef, list[Index]]:
    rows = _query(
        connection,
        "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, NULLABLE"
        f" FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN ({_placeholders(schemas)})"
        " ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        schemas,
    )
    parts: dict[tuple[TableRef, str], list[tuple[str, bool, bool]]] = {}
    for schema, table, index, non_unique, column, sub_part, nullable in rows:
        key = (TableRef(str(schema), str(table)), str(index))
        full_not_null = sub_part is None and nullable != "YES" and column is not None
        parts.setdefault(key, []).append((str(column), int(non_unique) == 0, full_not_null))
    indexes: dict[TableRef, list[Index]] = {}
    for (table, name), columns in parts.items():
        unique = columns[0][1]
        identifies = unique and all(full for _, _, full in columns)
        index = Index(name, tuple(column for column, _, _ in columns), unique, identifies)
        indexes.setdefault(table, []).append(index)
    return indexes


def autoinc_lock_mode(connection: mysql.Connection) -> int | None:
    """The server's innodb_autoinc_lock_mode; None without InnoDB. Below 2, every LOAD DATA into an InnoDB table with
    an AUTO_INCREMENT column holds the table's AUTO-INC lock until it ends, even with every value given."""
    rows = _query(connection, "SHOW GLOBAL VARIABLES LIKE 'innodb_autoinc_lock_mode'")
    return int(rows[0][1]) if rows and str(rows[0][1]).isdigit() else None


def serial_tables(connection: mysql.Connection, selection: Selection) -> list[TableRef]:
    """The selected tables whose TableInfo.loads_serially, in one query (a precheck of thousands of tables)."""
    rows = _query(
        connection,
        "SELECT DISTINCT t.TABLE_SCHEMA, t.TABLE_NAME FROM information_schema.TABLES t"
        " JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME"
        " WHERE t.TABLE_TYPE = 'BASE TABLE' AND t.ENGINE = 'InnoDB' AND c.EXTRA LIKE '%auto_increment%'"
        " ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME",
    )
    tables = (TableRef(str(schema), str(name)) for schema, name in rows)
    return [table for table in tables if table.schema not in SYSTEM_SCHEMAS and selection.includes(table)]


_AUTO_INCREMENT_OPTION = re.compile(r" AUTO_INCREMENT=\d+")
# What SHOW CREATE or a read says of an object dropped since information_schema listed it: no such table (views
# and sequences too), database, routine, trigger or event.
_GONE = frozenset({1146, 1049, 1305, 1360, 1539})


def definition_of(create_statement: str) -> str:
    """A digest of what SHOW CREATE TABLE says of a table, but for its AUTO_INCREMENT counter, which inserts move."""
    body, _, options = create_statement.rpartition("\n")
    return hashlib.sha256(f"{body}\n{_AUTO_INCREMENT_OPTION.sub('', options)}".encode()).hexdigest()[:16]


def current_definition(connection: mysql.Connection, table: TableRef) -> str | None:
    """The digest of `table`'s definition as it is now (definition_of); None if the table is gone."""
    create = _show_create_if_there(connection, "TABLE", table)
    return None if create is None else definition_of(create)


def _query_if_there(connection: mysql.Connection, sql: str) -> list[tuple[Any, ...]] | None:
    """_query(), or None if the object it reads was dropped meanwhile. information_schema lists objects as they are
    now, and the source goes on: an application that creates and drops work tables must not fail a listing."""
    try:
        return _query(connection, sql)
    except pymysql.err.MySQLError as error:
        if error.args and error.args[0] in _GONE:
            return None
        raise


def _show_create_if_there(connection: mysql.Connection, kind: str, table: TableRef) -> str | None:
    name = f"{mysql.quote_identifier(table.schema)}.{mysql.quote_identifier(table.name)}"
    rows = _query_if_there(connection, f"SHOW CREATE {kind} {name}")
    return None if rows is None else str(rows[0][1])


def _query(connection: mysql.Connection, sql: str, args: Iterable[object] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, None if args is None else tuple(args))
        return list(cursor.fetchall())


def _placeholders(values: Sequence[object]) -> str:
    return ", ".join(["%s"] * len(values))

"""Databases, tables and views on the target: tables first without their secondary indexes, those after the data.

A table is created with its columns, primary key, unique keys and CHECK constraints. Unique keys stay: they
are part of what the data means, duplicates surface at the chunk that brings them (as errors, since the
copier turns LOAD DATA warnings into errors) rather than hours later in an ALTER TABLE, and a table whose only
key is unique needs it to clear a chunk's range. Plain, FULLTEXT and SPATIAL indexes and foreign keys are
added by build_indexes() once the data is in: one sorted build is much cheaper than maintaining them row by row.

Every step is idempotent: a restarted task may run it again.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence

import pymysql

from opendrs.connectors.mysql import catalog, ddl
from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import Selection, TableRef

# Zero dates in defaults are kept as they are, and a unavailable engine is an error, not a silent InnoDB.
DDL_SQL_MODE = "NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION"

# SHOW CREATE TABLE writes one definition per line, indented by two spaces; these are the ones deferred.
_DEFERRED_INDEX = re.compile(r"  (KEY|FULLTEXT KEY|SPATIAL KEY|VECTOR KEY) (`(?:[^`]|``)+`)")
PLAIN_INDEX = "KEY "  # how a deferred plain index's definition starts (the others: FULLTEXT KEY, SPATIAL KEY...)
_FOREIGN_KEY = re.compile(r"  CONSTRAINT (`(?:[^`]|``)+`) FOREIGN KEY ")
_REFERENCES = re.compile(r"REFERENCES `((?:[^`]|``)+)`\.")
_CREATE_HEAD = re.compile(r"CREATE TABLE `(?:[^`]|``)+` \(")
_VIEW_HEAD = re.compile(r"VIEW `(?:[^`]|``)+` AS ")
_SEQUENCE_HEAD = re.compile(r"CREATE SEQUENCE `(?:[^`]|``)+` ")
# ER_DUP_KEYNAME; a foreign key's: MariaDB's ER_CANT_CREATE_TABLE (errno 121), MySQL's ER_FK_DUP_NAME.
_DUPLICATE_NAME = frozenset({1061, 1005, 1826})


@dataclasses.dataclass(frozen=True)
class TableStructure:
    """A source table's DDL split for the target: what CREATE TABLE makes now, and what build_indexes adds."""

    create_statement: str  # CREATE TABLE IF NOT EXISTS `db`.`name` (...) without the deferred definitions
    indexes: Mapping[str, str]  # name -> definition as SHOW CREATE TABLE writes it ("KEY `k` (`a`)")
    foreign_keys: Mapping[str, str]  # name -> "CONSTRAINT `fk` FOREIGN KEY (...) REFERENCES ..."


def split_structure(info: catalog.TableInfo, selection: Selection) -> TableStructure:
    """Split `info`'s CREATE TABLE for its target name; references to renamed databases are renamed too."""
    lines = info.create_statement.split("\n")
    # The definitions end at the line that closes the parenthesis; table options and partitions follow.
    end = next(i for i, line in enumerate(lines) if line.startswith(")"))
    head, body, tail = lines[0], lines[1:end], lines[end:]
    kept: list[str] = []
    indexes: dict[str, str] = {}
    foreign_keys: dict[str, str] = {}
    for line in (definition.rstrip(",") for definition in body):
        if index := _DEFERRED_INDEX.match(line):
            indexes[_unquote(index.group(2))] = line.strip()
        elif foreign_key := _FOREIGN_KEY.match(line):
            foreign_keys[_unquote(foreign_key.group(1))] = _rename_references(line.strip(), selection.renames)
        else:
            kept.append(line)
    target = selection.target_of(info.table)
    create_head = _CREATE_HEAD.sub(f"CREATE TABLE IF NOT EXISTS {_qualified(target)} (", head, count=1)
    create = "\n".join([create_head, ",\n".join(kept), *tail])
    return TableStructure(create, indexes, foreign_keys)


def create_database(target: mysql.Connection, database: catalog.DatabaseInfo, selection: Selection) -> None:
    """The database under its target name, with the source's default character set and collation."""
    name = mysql.quote_identifier(selection.renames.get(database.name, database.name))
    _execute(
        target,
        f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET {database.charset} COLLATE {database.collation}",
    )


def create_table(target: mysql.Connection, info: catalog.TableInfo, selection: Selection) -> None:
    """The table under its target name, without its secondary indexes and foreign keys; kept if it exists."""
    _set_ddl_session(target)
    _execute(target, split_structure(info, selection).create_statement)


def drop_table(target: mysql.Connection, table: TableRef) -> None:
    """Drop the target's copy of a table, to create it again in a new shape; none is fine."""
    _set_ddl_session(target)  # foreign keys off: other tables may reference it
    _execute(target, f"DROP TABLE IF EXISTS {_qualified(table)}")


def build_indexes(target: mysql.Connection, info: catalog.TableInfo, selection: Selection) -> None:
    """Add the deferred indexes (one ALTER TABLE, one sorted build each), then the foreign keys.

    Those already on the target are skipped. Foreign keys are added without checking the rows: the data is a
    consistent snapshot of a source that enforced them, and checking would make MariaDB copy the whole table.
    """
    structure = split_structure(info, selection)
    table = selection.target_of(info.table)
    _set_ddl_session(target)
    _add_missing(target, table, structure.indexes, _existing_indexes)
    _add_missing(target, table, structure.foreign_keys, _existing_foreign_keys)


def build_plain_indexes_online(target: mysql.Connection, info: catalog.TableInfo, selection: Selection) -> None:
    """Add the deferred plain indexes (KEY, not FULLTEXT, SPATIAL or VECTOR) without blocking writes to the table,
    for a table still being loaded; build_indexes() adds the rest afterwards. Those already there are skipped.

    A server that cannot do it online refuses (error 1846) and leaves the table as it was."""
    structure = split_structure(info, selection)
    table = selection.target_of(info.table)
    _set_ddl_session(target)
    plain = {name: d for name, d in structure.indexes.items() if d.startswith(PLAIN_INDEX)}
    _add_missing(target, table, plain, _existing_indexes, ", ALGORITHM=INPLACE, LOCK=NONE")


def _add_missing(
    target: mysql.Connection,
    table: TableRef,
    definitions: Mapping[str, str],
    existing: Callable[[mysql.Connection, TableRef], set[str]],
    options: str = "",
) -> None:
    """ALTER TABLE ... ADD the definitions (by name) that the table lacks, in one statement.

    DDL is not fenced: a worker whose lease expired may still be adding the same ones, and the server then refuses
    a name that its ALTER added first; what is still missing after that is added again."""
    for attempt in (1, 2):
        present = existing(target, table)
        missing = [definition for name, definition in definitions.items() if name not in present]
        if not missing:
            return
        try:
            _execute(target, f"ALTER TABLE {_qualified(table)} " + ", ".join(f"ADD {d}" for d in missing) + options)
            return
        except pymysql.err.MySQLError as error:
            if attempt == 2 or not error.args or error.args[0] not in _DUPLICATE_NAME:
                raise


def create_views(target: mysql.Connection, views: Sequence[catalog.ViewInfo], selection: Selection) -> None:
    """Create or replace the views under their target names, each after the views it reads.

    The definer is dropped (the target account becomes it: naming another one needs SUPER), and references
    to renamed databases are renamed.
    """
    _set_ddl_session(target)
    pending = list(views)
    while pending:
        failed = [view for view in pending if not _try_create_view(target, view, selection)]
        if len(failed) == len(pending):
            _create_view(target, failed[0], selection)  # raises the error that stops them all
        pending = failed


def view_statement(view: catalog.ViewInfo, selection: Selection) -> str:
    """`view`'s CREATE OR REPLACE VIEW statement for the target."""
    statement = ddl.without_definer(view.create_statement).replace("CREATE ", "CREATE OR REPLACE ", 1)
    statement = _VIEW_HEAD.sub(f"VIEW {_qualified(selection.target_of(view.view))} AS ", statement, count=1)
    for source, renamed in selection.renames.items():
        statement = statement.replace(f"{mysql.quote_identifier(source)}.", f"{mysql.quote_identifier(renamed)}.")
    return statement


def _try_create_view(target: mysql.Connection, view: catalog.ViewInfo, selection: Selection) -> bool:
    try:
        _create_view(target, view, selection)
    except pymysql.err.MySQLError:
        return False
    return True


def _create_view(target: mysql.Connection, view: catalog.ViewInfo, selection: Selection) -> None:
    _execute(target, view_statement(view, selection))


def create_sequences(target: mysql.Connection, sequences: Sequence[catalog.SequenceInfo], selection: Selection) -> None:
    """Create or replace the sequences under their target names, each in the state it was read in: its next value
    on the target is the source's. Before the tables: a column's DEFAULT NEXTVAL(...) needs its sequence."""
    with target.cursor() as cursor:
        for sequence in sequences:
            name = _qualified(selection.target_of(sequence.sequence))
            cursor.execute(_SEQUENCE_HEAD.sub(f"CREATE OR REPLACE SEQUENCE {name} ", sequence.create_statement, 1))
            # A sequence's state is the one row of its table: writing it is how MariaDB's own replicas set it.
            cursor.execute(f"INSERT INTO {name} VALUES ({', '.join(['%s'] * len(sequence.state))})", sequence.state)


def create_routines(target: mysql.Connection, routines: Sequence[catalog.RoutineInfo], selection: Selection) -> None:
    """Create the stored procedures and functions in their target databases, each in the sql_mode and collation
    it was defined in (they decide what its body means), replacing any of the same name.

    The definer is dropped, as for views; names of renamed databases in a body are not renamed."""
    with target.cursor() as cursor:
        for routine in routines:
            cursor.execute(f"USE {mysql.quote_identifier(selection.target_of(routine.routine).schema)}")
            cursor.execute(
                "SET SESSION sql_mode = %s, collation_connection = %s",
                (routine.sql_mode, routine.collation_connection),
            )
            cursor.execute(f"DROP {routine.kind} IF EXISTS {mysql.quote_identifier(routine.routine.name)}")
            assert routine.create_statement is not None, "a routine whose definition could not be read"
            cursor.execute(ddl.without_definer(routine.create_statement))
        cursor.execute("SET NAMES utf8mb4")
    _set_ddl_session(target)


_ENABLED_EVENT = re.compile(r"\bENABLE\s+DO\b")
ER_LOCK_WAIT_TIMEOUT = 1205
OBJECT_LOCK_WAIT = 10  # seconds a trigger or event waits for its metadata lock, at most


class ObjectInUseError(RuntimeError):
    """A trigger or event could not be created: other sessions kept a transaction open on its table."""


def create_triggers_and_events(
    target: mysql.Connection,
    objects: Sequence[catalog.TriggerInfo],
    selection: Selection,
    *,
    lock_wait: int = OBJECT_LOCK_WAIT,
    before_each: Callable[[], None] = lambda: None,
) -> None:
    """Create the triggers and events in their target databases, each in the sql_mode, collation (and an event's
    time zone) it was defined in, without its definer, replacing any of the same name. Only once nothing
    replicates into those tables any more: a trigger would fire on the rows the copy writes.

    An enabled event is created DISABLE ON SLAVE, as MariaDB's own replicas hold replicated events: it must not run
    on both servers. Enable it (ALTER EVENT ... ENABLE) once the target takes over.

    Each needs its table's metadata lock, which any transaction using the table holds (by default for a day):
    after `lock_wait` seconds, ObjectInUseError. `before_each` runs before each object (a stop renews its lease)."""
    with target.cursor() as cursor:
        cursor.execute(f"SET SESSION lock_wait_timeout = {int(lock_wait)}")
        for found in objects:
            before_each()
            cursor.execute(f"USE {mysql.quote_identifier(selection.target_of(found.table).schema)}")
            cursor.execute(
                "SET SESSION sql_mode = %s, collation_connection = %s, time_zone = %s",
                (found.sql_mode, found.collation_connection, found.time_zone),
            )
            # As the user wrote it (a trigger's): names may be qualified by a database renamed on the target.
            statement = ddl.rename_schemas(ddl.without_definer(found.create_statement), selection.renames)
            if found.kind == "EVENT":
                statement = _ENABLED_EVENT.sub("DISABLE ON SLAVE DO", statement, count=1)
            try:
                cursor.execute(f"DROP {found.kind} IF EXISTS {mysql.quote_identifier(found.name)}")
                cursor.execute(statement)
            except pymysql.err.OperationalError as exc:
                if exc.args[0] == ER_LOCK_WAIT_TIMEOUT:
                    raise ObjectInUseError(_in_use(found, lock_wait)) from exc
                raise
        cursor.execute("SET NAMES utf8mb4, time_zone = '+00:00', lock_wait_timeout = DEFAULT")
    _set_ddl_session(target)


def _in_use(found: catalog.TriggerInfo, seconds: int) -> str:
    where = f"on {found.table}" if found.kind == "TRIGGER" else f"in {found.table.schema}"
    return (
        f"the {found.kind.lower()} {found.name} {where} could not be created: for {seconds} s other sessions of the"
        " target kept a transaction open on it (they hold its metadata lock; SHOW PROCESSLIST lists them)"
    )


def _set_ddl_session(target: mysql.Connection) -> None:
    _execute(target, f"SET SESSION sql_mode = '{DDL_SQL_MODE}', foreign_key_checks = 0")


def _existing_indexes(target: mysql.Connection, table: TableRef) -> set[str]:
    sql = "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
    return _names(target, sql, table)


def _existing_foreign_keys(target: mysql.Connection, table: TableRef) -> set[str]:
    sql = (
        "SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS"
        " WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s"
    )
    return _names(target, sql, table)


def _names(target: mysql.Connection, sql: str, table: TableRef) -> set[str]:
    with target.cursor() as cursor:
        cursor.execute(sql, (table.schema, table.name))
        return {str(row[0]) for row in cursor.fetchall()}


def _rename_references(definition: str, renames: Mapping[str, str]) -> str:
    def rename(match: re.Match[str]) -> str:
        schema = _unquote(f"`{match.group(1)}`")
        return f"REFERENCES {mysql.quote_identifier(renames.get(schema, schema))}."

    return _REFERENCES.sub(rename, definition)


def _qualified(table: TableRef) -> str:
    return f"{mysql.quote_identifier(table.schema)}.{mysql.quote_identifier(table.name)}"


def _unquote(identifier: str) -> str:
    return identifier[1:-1].replace("``", "`")


def _execute(connection: mysql.Connection, sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)

"""Connection tests and prechecks for MySQL/MariaDB endpoints: real queries, one result per check item.

Each precheck item is named like the cloud's (`srcBinlogFormatCheck`...) and answers PASSED, ALARM or FAILED
with a reason that says what to change.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping, Sequence

import pymysql

from opendrs.connectors.mysql import catalog
from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import Endpoint, Selection, TableRef

CR_SERVER_LOST = 2013  # the client's error when the server stops answering, here during the handshake
SYSTEM_SCHEMAS = catalog.SYSTEM_SCHEMAS


class Verdict(enum.StrEnum):
    PASSED = "PASSED"
    ALARM = "ALARM"
    FAILED = "FAILED"


@dataclasses.dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    reason: str  # empty when ok
    auth_failed: bool = False
    version: str = ""


@dataclasses.dataclass(frozen=True)
class CheckItem:
    item: str
    group: str
    result: Verdict
    reason: str = ""
    data: str = ""


def check_connection(endpoint: Endpoint) -> ConnectionResult:
    """Connect and log in: reachability, credentials, server version."""
    try:
        # A test answers within seconds: a port that never speaks (a wrong port) must not hold it for minutes.
        connection = mysql.connect(endpoint, read_timeout=mysql.CONNECT_TIMEOUT)
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else 0
        reason = f"{_describe(exc)} (at {endpoint.host}:{endpoint.port})"
        if code == CR_SERVER_LOST and "timed out" in str(exc):
            reason += f"; no MySQL greeting within {mysql.CONNECT_TIMEOUT} s: is it the database's port?"
        return ConnectionResult(False, reason, auth_failed=code == 1045)
    with connection:
        return ConnectionResult(True, "", version=mysql.server_info(connection).version)


def _describe(exc: pymysql.err.MySQLError) -> str:
    code, message = (*exc.args, "")[:2] if exc.args else (0, str(exc))
    return f"MySQL error {code}: {message}"


def precheck(
    source: Endpoint, target: Endpoint, selection: Selection, *, full: bool, incremental: bool, retry: bool
) -> list[CheckItem]:
    """Every check for a MySQL -> MySQL task; a check that cannot run is FAILED with the reason.

    `full`: the task copies data first (the target must not hold the tables yet); `incremental`: it then
    follows the binlog (the source's binlog settings matter); `retry`: the task ran before (forRetryJob), so the
    tables on the target are its own.
    """
    items: list[CheckItem] = []
    for role, endpoint in (("src", source), ("dst", target)):
        result = check_connection(endpoint)
        verdict = Verdict.PASSED if result.ok else Verdict.FAILED
        items.append(CheckItem(f"{role}DbConnectionCheck", "db_connection", verdict, result.reason, result.version))
    if any(item.result is Verdict.FAILED for item in items):
        return items
    with mysql.connect(source) as src, mysql.connect(target) as dst:
        checks: list[Callable[[], CheckItem]] = [
            lambda: _version_check(src, dst),
            lambda: _privileges_check(
                src, "src", _SOURCE_PRIVILEGES if incremental else _SNAPSHOT_PRIVILEGES, _SOURCE_ADVISED if full else {}
            ),
            lambda: _privileges_check(dst, "dst", _TARGET_PRIVILEGES, _target_advised(dst, incremental)),
            lambda: _objects_exist_check(src, selection),
            lambda: _versioned_tables_check(src, selection),
            lambda: _keyless_tables_check(src, selection),
            lambda: _objects_not_migrated_check(src, selection, incremental),
            lambda: _charset_check(src, dst, selection),
        ]
        if full and not retry:
            checks.append(lambda: _existing_objects_check(dst, src, selection))
        checks.append(lambda: _function_creators_check(src, dst, selection))
        if full and incremental:
            checks.append(lambda: _keyless_outside_snapshot_check(src, selection))
        if full:
            checks.append(
                lambda: _variable_check(
                    dst,
                    "local_infile",
                    ("1", "ON"),
                    "dstLocalInfileCheck",
                    "the full copy loads its rows with LOAD DATA LOCAL INFILE, which the target then refuses;"
                    " run SET GLOBAL local_infile = ON on the target (no restart needed)",
                )
            )
            checks.append(lambda: _autoinc_lock_mode_check(src, dst, selection))
        if incremental:
            checks = [
                lambda: _variable_check(src, "log_bin", ("1", "ON"), "srcBinlogOpenCheck", "set log_bin on the source"),
                lambda: _variable_check(
                    src, "binlog_format", ("ROW",), "srcBinlogFormatCheck", "set binlog_format=ROW on the source"
                ),
                lambda: _variable_check(
                    src,
                    "binlog_row_image",
                    ("FULL",),
                    "srcBinlogRowImageCheck",
                    "set binlog_row_image=FULL on the source",
                ),
                lambda: _mariadb_variable_check(
                    src,
                    "binlog_row_metadata",
                    ("FULL",),
                    "srcBinlogRowMetadataCheck",
                    "set it to FULL, or row events do not carry column names",
                ),
                lambda: _mariadb_variable_check(
                    src,
                    "log_bin_compress",
                    ("0", "OFF"),
                    "srcBinlogCompressCheck",
                    "compressed binlog events cannot be replicated; set it OFF on the source",
                ),
                lambda: _server_id_check(src),
                *checks,
            ]
        items.extend(_run(check) for check in checks)
    return items


def _run(check: Callable[[], CheckItem]) -> CheckItem:
    try:
        return check()
    except pymysql.err.MySQLError as exc:
        return CheckItem("checkError", "db_params", Verdict.FAILED, _describe(exc))


def _value(connection: mysql.Connection, query: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(query)
        row = cursor.fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _variable_check(
    connection: mysql.Connection, name: str, allowed: Sequence[str], item: str, advice: str
) -> CheckItem:
    value = _value(connection, f"SELECT @@{name}") or ""
    if value.upper() in allowed:
        return CheckItem(item, "db_params", Verdict.PASSED, data=value)
    return CheckItem(item, "db_params", Verdict.FAILED, f"{name} is {value or 'unset'}: {advice}", value)


def _mariadb_variable_check(
    connection: mysql.Connection, name: str, allowed: Sequence[str], item: str, advice: str
) -> CheckItem:
    """_variable_check of a variable only MariaDB has (MySQL passes)."""
    if not mysql.server_info(connection).is_mariadb:
        return CheckItem(item, "db_params", Verdict.PASSED, data="not MariaDB")
    return _variable_check(connection, name, allowed, item, advice)


def _server_id_check(connection: mysql.Connection) -> CheckItem:
    value = _value(connection, "SELECT @@server_id") or "0"
    if int(value) > 0:
        return CheckItem("srcServerIdCheck", "db_params", Verdict.PASSED, data=value)
    return CheckItem(
        "srcServerIdCheck", "db_params", Verdict.FAILED, "server_id is 0: give the source a server_id", value
    )


def _version_check(src: mysql.Connection, dst: mysql.Connection) -> CheckItem:
    source, target = mysql.server_info(src), mysql.server_info(dst)
    data = f"source {source.version}, target {target.version}"
    if source.flavour == target.flavour and _major(target.version) >= _major(source.version):
        return CheckItem("versionCheck", "db_version", Verdict.PASSED, data=data)
    reason = "the target is older than the source or of another flavour: check that every type and DDL is supported"
    return CheckItem("versionCheck", "db_version", Verdict.ALARM, reason, data)


def _major(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-")[0].split(".")[:2] if part.isdigit())


_SNAPSHOT_PRIVILEGES = ("SELECT", "RELOAD")
_SOURCE_PRIVILEGES = ("SELECT", "RELOAD", "REPLICATION SLAVE", "BINLOG MONITOR|REPLICATION CLIENT")
_TARGET_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX")
# What a user without an advised privilege meets: an alarm, not a failure. Each is one of the |-separated names.
_SOURCE_ADVISED = {
    # sql_log_bin=0 in the copy's readers (connectors.mysql.snapshot); MySQL 8 has no BINLOG ADMIN
    "BINLOG ADMIN|SUPER|SESSION_VARIABLES_ADMIN|SYSTEM_VARIABLES_ADMIN": (
        "an ALTER TABLE on the source during the full copy waits for the end of the copy, and the writes to its"
        " table queue behind it"
    ),
}
_TARGET_ADVISED = {
    "PROCESS": (  # connectors.mysql.fences
        "a worker that takes a task over waits for a stopped worker's open transactions on the target to time out"
        " instead of ending them"
    ),
}


# On a MariaDB target of a task that follows the binlog: connectors.mysql.replay
_REPLAY_ADVISED = {
    "BINLOG REPLAY|SUPER": (
        "the rows of a large source transaction (past 5,000 changes) go to the target as SQL instead of as the binlog"
        " has them, about 4 times slower"
    ),
}


def _target_advised(connection: mysql.Connection, incremental: bool) -> dict[str, str]:
    if incremental and mysql.server_info(connection).is_mariadb:
        return _TARGET_ADVISED | _REPLAY_ADVISED
    return _TARGET_ADVISED


def _privileges_check(
    connection: mysql.Connection, role: str, needed: Sequence[str], advised: Mapping[str, str]
) -> CheckItem:
    with connection.cursor() as cursor:
        cursor.execute("SHOW GRANTS")
        grants = " ".join(str(row[0]).upper() for row in cursor.fetchall())
    # Only global grants count: a replication user needs them on *.*.
    global_grants = " ".join(grant for grant in grants.split(" TO ") if " ON *.* " in f"{grant} ")
    has_all = "ALL PRIVILEGES ON *.*" in grants

    def lacking(privileges: Sequence[str]) -> list[str]:
        return [
            privilege
            for privilege in privileges
            if not has_all and not any(option in global_grants for option in privilege.split("|"))
        ]

    item = f"{role}UserPrivilegeCheck"
    missing = lacking(needed)
    if missing:
        reason = f"the user lacks {', '.join(missing)} ON *.*: grant them"
        return CheckItem(item, "db_privileges", Verdict.FAILED, reason, ", ".join(missing))
    missing = lacking(list(advised))
    if missing:
        named = {privilege: privilege.replace("|", " or ") for privilege in missing}
        reason = "; ".join(f"the user lacks {name} ON *.*: without it, {advised[p]}" for p, name in named.items())
        return CheckItem(item, "db_privileges", Verdict.ALARM, reason, ", ".join(named.values()))
    return CheckItem(item, "db_privileges", Verdict.PASSED)


def _selected_tables(connection: mysql.Connection, selection: Selection) -> list[tuple[TableRef, str]]:
    """(table, engine) for every base table the selection covers."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name, engine FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        )
        rows = cursor.fetchall()
    tables = [(TableRef(str(schema), str(name)), str(engine)) for schema, name, engine in rows]
    return [
        (table, engine) for table, engine in tables if table.schema not in SYSTEM_SCHEMAS and selection.includes(table)
    ]


def _objects_exist_check(connection: mysql.Connection, selection: Selection) -> CheckItem:
    found = {table for table, _ in _selected_tables(connection, selection)}
    # A database without tables (yet) is there all the same; the server hides what the user has no privilege on.
    databases = {database.name for database in catalog.list_databases(connection, selection)}
    missing = [db for db in selection.databases if db not in databases]
    missing += [str(table) for table in selection.tables if table not in found]
    if missing:
        reason = (
            f"selected objects do not exist on the source, or the source user cannot see them: {', '.join(missing)};"
            " check the names, and grant the user SELECT on them"
        )
        return CheckItem("srcObjectsExistCheck", "db_objects", Verdict.FAILED, reason)
    if not found:
        return CheckItem("srcObjectsExistCheck", "db_objects", Verdict.ALARM, "the selection covers no table")
    return CheckItem("srcObjectsExistCheck", "db_objects", Verdict.PASSED, data=f"{len(found)} tables")


def _versioned_tables_check(connection: mysql.Connection, selection: Selection) -> CheckItem:
    """MariaDB's system-versioned tables: the copy reads base tables only, and their binlog events write the
    row_start/row_end columns and history rows, which replaying as plain statements would not reproduce."""
    item = "srcSystemVersionedTableCheck"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'SYSTEM VERSIONED'"
        )
        tables = [TableRef(str(schema), str(name)) for schema, name in cursor.fetchall()]
    names = sorted(str(table) for table in tables if table.schema not in SYSTEM_SCHEMAS and selection.includes(table))
    if not names:
        return CheckItem(item, "db_objects", Verdict.PASSED)
    reason = (
        f"system-versioned tables cannot be migrated (their history and row_start/row_end): {', '.join(names[:20])};"
        " select the other tables only, or remove versioning on the source (ALTER TABLE ... DROP SYSTEM VERSIONING)"
    )
    return CheckItem(item, "db_objects", Verdict.FAILED, reason, ", ".join(names))


# Objects of the source that opendrs does not migrate: (kind, SQL for (schema, table or "", name) of each).
_NOT_MIGRATED = (
    ("triggers", "SELECT TRIGGER_SCHEMA, EVENT_OBJECT_TABLE, TRIGGER_NAME FROM information_schema.TRIGGERS"),
    ("events", "SELECT EVENT_SCHEMA, '', EVENT_NAME FROM information_schema.EVENTS"),
)


def _objects_not_migrated_check(connection: mysql.Connection, selection: Selection, incremental: bool) -> CheckItem:
    """A full-only task creates triggers and events at the end of its copy, a task that replicates when it is
    stopped with terminate (they would fire on, or change, the rows that replication writes); events disabled."""
    found: list[str] = []
    with connection.cursor() as cursor:
        for kind, sql in _NOT_MIGRATED:
            if not incremental and kind == "triggers":
                continue  # created at the end of the copy, and enabled: nothing to say
            cursor.execute(sql)
            names = [
                f"{schema}.{name}"
                for schema, table, name in cursor.fetchall()
                if schema not in SYSTEM_SCHEMAS and selection.includes(TableRef(str(schema), str(table)))
            ]
            if names:
                found.append(f"{kind} {', '.join(sorted(names)[:20])}")
    if not found:
        return CheckItem("objectsNotMigratedCheck", "db_objects", Verdict.PASSED)
    if incremental:
        reason = (
            f"created on the target only when the task is stopped with terminate (not force_terminate): "
            f"{'; '.join(found)}. Until then they would fire on, or change, the rows that replication writes. Events"
            " are created disabled (DISABLE ON SLAVE): enable them (ALTER EVENT ... ENABLE) once the target takes over"
        )
    else:
        reason = (
            f"created disabled at the end of the copy (DISABLE ON SLAVE): {'; '.join(found)}. Enable them on the"
            " target (ALTER EVENT ... ENABLE) once it takes over, so that they do not run on both servers"
        )
    return CheckItem("objectsNotMigratedCheck", "db_objects", Verdict.ALARM, reason, "; ".join(found))


def _function_creators_check(src: mysql.Connection, dst: mysql.Connection, selection: Selection) -> CheckItem:
    """A target that writes a binlog refuses stored functions unless log_bin_trust_function_creators is on: without
    SUPER (error 1419), and those not declared DETERMINISTIC, NO SQL or READS SQL DATA whatever the user (1418)."""
    item = "dstFunctionCreatorsCheck"
    if _value(dst, "SELECT @@GLOBAL.log_bin") in ("0", "OFF") or _value(
        dst, "SELECT @@GLOBAL.log_bin_trust_function_creators"
    ) in ("1", "ON"):
        return CheckItem(item, "db_params", Verdict.PASSED)
    with src.cursor() as cursor:  # names only: no SHOW CREATE of each routine
        cursor.execute(
            "SELECT ROUTINE_SCHEMA, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'FUNCTION'"
            " ORDER BY ROUTINE_SCHEMA, ROUTINE_NAME"
        )
        rows = cursor.fetchall()
    # Routines belong to the databases selected whole (catalog.list_routines).
    functions = [
        f"{schema}.{name}"
        for schema, name in rows
        if schema not in SYSTEM_SCHEMAS and selection.includes(TableRef(str(schema), ""))
    ]
    if not functions:
        return CheckItem(item, "db_params", Verdict.PASSED)
    names = ", ".join(functions[:20])
    reason = (
        f"the target writes a binlog and log_bin_trust_function_creators is off: creating the stored functions"
        f" ({names}) needs SUPER for the target user, and those not declared DETERMINISTIC, NO SQL or READS SQL"
        " DATA fail; set log_bin_trust_function_creators=1 on the target"
    )
    return CheckItem(item, "db_params", Verdict.ALARM, reason, names)


def _keyless_tables(connection: mysql.Connection, selection: Selection) -> list[tuple[TableRef, str]]:
    """(table, engine) of the selected tables without a primary or unique key."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.table_schema, t.table_name, t.engine FROM information_schema.tables t"
            " WHERE t.table_type = 'BASE TABLE' AND NOT EXISTS (SELECT 1 FROM information_schema.statistics s"
            " WHERE s.table_schema = t.table_schema AND s.table_name = t.table_name AND s.non_unique = 0)"
        )
        found = [(TableRef(str(schema), str(name)), str(engine)) for schema, name, engine in cursor.fetchall()]
    selected = [(table, engine) for table, engine in found if selection.includes(table)]
    return [(table, engine) for table, engine in selected if table.schema not in SYSTEM_SCHEMAS]


def _keyless_tables_check(connection: mysql.Connection, selection: Selection) -> CheckItem:
    keyless = [table for table, _ in _keyless_tables(connection, selection)]
    if not keyless:
        return CheckItem("tableWithoutPrimaryKeyCheck", "db_objects", Verdict.PASSED)
    names = ", ".join(str(table) for table in keyless[:20])
    reason = f"tables without a primary or unique key are copied whole and matched on full rows (slower): {names}"
    return CheckItem("tableWithoutPrimaryKeyCheck", "db_objects", Verdict.ALARM, reason, names)


def _keyless_outside_snapshot_check(connection: mysql.Connection, selection: Selection) -> CheckItem:
    """A MyISAM or Aria table is read as it is, not as the snapshot saw it: the catch-up replays the changes made
    during its copy idempotently (engine/full_copy.py), which needs a key to find the rows the copy already holds."""
    item = "srcKeylessNonTransactionalTableCheck"
    keyless = _keyless_tables(connection, selection)
    found = [f"{table} ({engine})" for table, engine in keyless if engine.upper() not in catalog.MVCC_ENGINES]
    if not found:
        return CheckItem(item, "db_objects", Verdict.PASSED)
    names = ", ".join(found[:20])
    reason = (
        f"tables without a key that the consistent snapshot does not cover: {names}. A row written to them during"
        " the full copy can reach the target twice: hold writes to them until the copy is done, or convert them to"
        " InnoDB"
    )
    return CheckItem(item, "db_objects", Verdict.ALARM, reason, names)


def _existing_objects_check(dst: mysql.Connection, src: mysql.Connection, selection: Selection) -> CheckItem:
    wanted = {selection.target_of(table) for table, _ in _selected_tables(src, selection)}
    existing = {table for table, _ in _selected_tables(dst, Selection())}
    clashes = sorted(wanted & existing)
    if not clashes:
        return CheckItem("dstObjectsNotExistCheck", "db_objects", Verdict.PASSED)
    names = ", ".join(str(table) for table in clashes[:20])
    reason = f"tables already exist on the target and would be overwritten: {names}; drop them or map to other names"
    return CheckItem("dstObjectsNotExistCheck", "db_objects", Verdict.FAILED, reason, names)


def _charset_check(src: mysql.Connection, dst: mysql.Connection, selection: Selection) -> CheckItem:
    with src.cursor() as cursor:
        cursor.execute("SELECT schema_name, default_character_set_name FROM information_schema.schemata")
        source_sets = {str(name): str(charset) for name, charset in cursor.fetchall()}
    with dst.cursor() as cursor:
        cursor.execute("SELECT character_set_name FROM information_schema.character_sets")
        target_sets = {str(row[0]) for row in cursor.fetchall()}
    used = {charset for schema, charset in source_sets.items() if selection.includes_schema(schema)}
    unsupported = sorted(used - target_sets)
    if not unsupported:
        return CheckItem("charsetCheck", "db_params", Verdict.PASSED, data=", ".join(sorted(used)))
    reason = f"the target does not support the character sets {', '.join(unsupported)}"
    return CheckItem("charsetCheck", "db_params", Verdict.FAILED, reason)


def _autoinc_lock_mode_check(src: mysql.Connection, dst: mysql.Connection, selection: Selection) -> CheckItem:
    """Below 2, the copy threads load a table with an AUTO_INCREMENT column one chunk at a time (catalog)."""
    item = "dstAutoincLockModeCheck"
    mode = catalog.autoinc_lock_mode(dst)
    if mode is None or mode >= 2:
        return CheckItem(item, "db_params", Verdict.PASSED, data="" if mode is None else str(mode))
    serial = catalog.serial_tables(src, selection)
    if not serial:
        return CheckItem(item, "db_params", Verdict.PASSED, data=str(mode))
    names = ", ".join(str(table) for table in serial[:20])
    reason = (
        f"innodb_autoinc_lock_mode is {mode} on the target: the tables with an AUTO_INCREMENT column ({names}) are"
        " loaded one chunk at a time; set innodb_autoinc_lock_mode=2 on the target (a restart) to load their chunks"
        " in parallel"
    )
    return CheckItem(item, "db_params", Verdict.ALARM, reason, names)

"""DDL statements from the binlog: the tables they name, the source session they ran in, and their schema renames;
and the tables a row change logged as a statement writes (a session whose binlog_format was not ROW).

A replica replays a statement in the session settings its Query event records (status variables): sql_mode, the
connection's character set and collation, the time zone and the statement's start time. Without them the same
text means something else on the target: a latin1 session's DEFAULT 'café' decoded as UTF-8, `"t"` under
ANSI_QUOTES, ALTER ... MODIFY truncating where the source allowed it or failing where the source did not, or
CURRENT_TIMESTAMP filling existing rows with the replay time.
"""

from __future__ import annotations

import dataclasses
import decimal
import functools
import re
from collections.abc import Callable, Mapping

from opendrs.connectors.mysql import errors, values
from opendrs.connectors.mysql.connection import quote_identifier
from opendrs.domain.replication import Session, TableRef

# --- the session a statement ran in ------------------------------------------------------------------------------

# Query event status variables (MariaDB's and MySQL's log_event.h): code -> size of a fixed-size value.
Q_SQL_MODE = 1
Q_CATALOG = 2  # length, name, NUL
Q_CHARSET = 4  # character_set_client, collation_connection, collation_server (collation ids)
Q_TIME_ZONE = 5  # length, name; only where the statement converted a time
Q_CATALOG_NZ = 6  # length, name
Q_INVOKER = 11  # length, user, length, host
Q_UPDATED_DB_NAMES = 12  # count, NUL-terminated names (none when count is 254)
Q_MICROSECONDS = 13  # MySQL: microseconds of the statement's start
Q_HRNOW = 128  # MariaDB: microseconds of the statement's start
_FIXED_SIZES = {0: 4, 1: 8, 3: 4, 4: 6, 7: 2, 8: 2, 9: 8, 10: 4, 13: 3, 16: 1, 17: 8, 18: 2, 19: 1, 20: 1}
_MARIADB_FIXED_SIZES = {128: 3, 129: 8, 130: 1}
_UPDATED_DB_NAMES_OVER_MAX = 254

# sql_mode bits 0-31, numbered alike by MariaDB and MySQL (bit 4 is unused on MySQL); above, they differ.
SQL_MODE_NAMES = (
    "REAL_AS_FLOAT",
    "PIPES_AS_CONCAT",
    "ANSI_QUOTES",
    "IGNORE_SPACE",
    "IGNORE_BAD_TABLE_OPTIONS",
    "ONLY_FULL_GROUP_BY",
    "NO_UNSIGNED_SUBTRACTION",
    "NO_DIR_IN_CREATE",
    "POSTGRESQL",
    "ORACLE",
    "MSSQL",
    "DB2",
    "MAXDB",
    "NO_KEY_OPTIONS",
    "NO_TABLE_OPTIONS",
    "NO_FIELD_OPTIONS",
    "MYSQL323",
    "MYSQL40",
    "ANSI",
    "NO_AUTO_VALUE_ON_ZERO",
    "NO_BACKSLASH_ESCAPES",
    "STRICT_TRANS_TABLES",
    "STRICT_ALL_TABLES",
    "NO_ZERO_IN_DATE",
    "NO_ZERO_DATE",
    "ALLOW_INVALID_DATES",
    "ERROR_FOR_DIVISION_BY_ZERO",
    "TRADITIONAL",
    "NO_AUTO_CREATE_USER",
    "HIGH_NOT_PRECEDENCE",
    "NO_ENGINE_SUBSTITUTION",
    "PAD_CHAR_TO_FULL_LENGTH",
)
MARIADB_HIGH_SQL_MODE_NAMES = ("EMPTY_STRING_IS_NULL", "SIMULTANEOUS_ASSIGNMENT", "TIME_ROUND_FRACTIONAL")
MYSQL_HIGH_SQL_MODE_NAMES = ("TIME_TRUNCATE_FRACTIONAL",)


def status_variables(status: bytes, mariadb: bool) -> dict[int, bytes]:
    """Code -> raw value of each status variable, up to the first code we cannot size (the rest is unknown)."""
    found: dict[int, bytes] = {}
    fixed = {**_FIXED_SIZES, **_MARIADB_FIXED_SIZES} if mariadb else _FIXED_SIZES
    pos = 0
    while pos < len(status):
        code = status[pos]
        pos += 1
        if code in fixed:
            end = pos + fixed[code]
        elif code in (Q_TIME_ZONE, Q_CATALOG_NZ):
            end = pos + 1 + status[pos]
        elif code == Q_CATALOG:
            end = pos + 2 + status[pos]
        elif code == Q_INVOKER:
            host = pos + 1 + status[pos]
            end = host + 1 + status[host]
        elif code == Q_UPDATED_DB_NAMES:
            end = pos + 1
            if status[pos] != _UPDATED_DB_NAMES_OVER_MAX:
                for _ in range(status[pos]):
                    end = status.index(b"\0", end) + 1
        else:
            break
        found[code] = status[pos:end]
        pos = end
    return found


def sql_mode_names(bits: int, mariadb: bool) -> str:
    """The sql_mode a bit mask of the source stands for, as the names SET sql_mode takes."""
    high = MARIADB_HIGH_SQL_MODE_NAMES if mariadb else MYSQL_HIGH_SQL_MODE_NAMES
    names = [*SQL_MODE_NAMES, *high]
    if not mariadb:
        names[4] = ""
    return ",".join(name for bit, name in enumerate(names) if bits >> bit & 1 and name)


def statement_session(
    variables: dict[int, bytes], seconds: int, collations: dict[int, tuple[str, str]], mariadb: bool
) -> tuple[Session, str | None]:
    """The settings to replay a statement in, and the character set of its text (None: unknown).

    `seconds` is the statement's start (the event header's timestamp); `collations` maps the source's
    collation ids to (character set, collation name)."""
    settings: list[tuple[str, str | decimal.Decimal]] = []
    charset = None
    if Q_SQL_MODE in variables:
        bits = int.from_bytes(variables[Q_SQL_MODE], "little")
        settings.append(("sql_mode", sql_mode_names(bits, mariadb)))
    if Q_CHARSET in variables:
        raw = variables[Q_CHARSET]
        client, connection = int.from_bytes(raw[0:2], "little"), int.from_bytes(raw[2:4], "little")
        charset = collations[client][0] if client in collations else None
        if connection in collations:
            settings.append(("collation_connection", collations[connection][1]))
    if Q_TIME_ZONE in variables:
        settings.append(("time_zone", variables[Q_TIME_ZONE][1:].decode()))
    microseconds = variables.get(Q_HRNOW if mariadb else Q_MICROSECONDS, b"\0\0\0")
    fraction = int.from_bytes(microseconds, "little")
    settings.append(("timestamp", decimal.Decimal(f"{seconds}.{fraction:06d}")))
    return tuple(settings), charset


def decode_statement(raw: bytes, charset: str | None) -> str:
    """The statement's text, from the bytes the source session sent in its character set."""
    text = values.text_converter(charset or "utf8mb4")(raw)
    if isinstance(text, str):
        return text
    # A character set we do not decode, or bytes not valid in it (a binary literal): what cannot be decoded is lost.
    return raw.decode("utf-8", "replace")


def ansi_quotes(session: Session) -> bool:
    """Whether the session read "double quotes" as identifiers."""
    return any(name == "sql_mode" and "ANSI_QUOTES" in str(value).split(",") for name, value in session)


# --- the tables a statement names --------------------------------------------------------------------------------

_BACKTICKED = r"`(?:[^`]|``)+`"
_DOUBLE_QUOTED = r'"(?:[^"]|"")+"'
_BARE = r"[\w$]+"
_DATABASE = r"(?:DATABASE|SCHEMA)"
_ROUTINE = r"(?:PROCEDURE|FUNCTION)"
_ACCOUNT_PART = r"""(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|[\w$.%-]+)"""
_DEFINER_CLAUSE = rf"DEFINER\s*=\s*(?:CURRENT_USER(?:\s*\(\s*\))?|{_ACCOUNT_PART}(?:\s*@\s*{_ACCOUNT_PART})?)\s+"
_VIEW_OPTIONS = rf"(?:ALGORITHM\s*=\s*\w+\s+)?(?:{_DEFINER_CLAUSE})?(?:SQL\s+SECURITY\s+\w+\s+)?"
_DEFINER = re.compile(
    rf"^(\s*(?:CREATE|ALTER)\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?){_DEFINER_CLAUSE}", re.I
)
_UDF = re.compile(r"\bRETURNS\s+(?:STRING|INTEGER|REAL|DECIMAL)\s+SONAME\b", re.I)  # a function of a library
# Statements that define a view or routine: replayed without their definer (see without_definer).
DEFINITIONS = frozenset({"CREATE VIEW", "ALTER VIEW", "CREATE ROUTINE"})
# Statements on objects a full copy creates as they are when it creates them, not as its snapshot saw them.
READ_AFTER_SNAPSHOT = frozenset(
    {"CREATE VIEW", "ALTER VIEW", "DROP VIEW", "CREATE ROUTINE", "ALTER ROUTINE", "DROP ROUTINE"}
    | {"CREATE SEQUENCE", "ALTER SEQUENCE", "DROP SEQUENCE"}
)
_DATABASE_OPTION = r"(?:DEFAULT|CHARACTER|CHARSET|COLLATE|COMMENT|UPGRADE|READ)"


def _ident(ansi: bool) -> str:
    """An identifier: `quoted`, bare, or "quoted" where the session had ANSI_QUOTES."""
    return f"(?:{_BACKTICKED}|{_DOUBLE_QUOTED}|{_BARE})" if ansi else f"(?:{_BACKTICKED}|{_BARE})"


_COMMENTS = re.compile(r"/\*(?!!).*?\*/|--[^\n]*\n|#[^\n]*\n", re.S)


@functools.cache
def _grammar(ansi: bool) -> tuple[list[tuple[str, re.Pattern[str]]], re.Pattern[str], re.Pattern[str]]:
    """The table DDL statements (by verb), a name in a list of them, and an identifier, as the session reads them."""
    ident = _ident(ansi)
    name = rf"{ident}(?:\s*\.\s*{ident})?"
    statements = [
        ("CREATE", rf"CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<names>{name})"),
        ("ALTER", rf"ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?(?P<names>{name})"),
        ("DROP", rf"DROP\s+TABLES?\s+(?:IF\s+EXISTS\s+)?(?P<names>{name}(?:\s*,\s*{name})*)"),
        (
            "RENAME",
            rf"RENAME\s+TABLES?\s+(?:IF\s+EXISTS\s+)?(?P<names>{name}\s+TO\s+{name}(?:\s*,\s*{name}\s+TO\s+{name})*)",
        ),
        ("TRUNCATE", rf"TRUNCATE\s+(?:TABLE\s+)?(?P<names>{name})"),
        (
            "CREATE INDEX",
            rf"CREATE\s+(?:OR\s+REPLACE\s+)?(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?"
            rf"{ident}\s+(?:USING\s+\w+\s+)?ON\s+(?P<names>{name})",
        ),
        ("DROP INDEX", rf"DROP\s+INDEX\s+(?:IF\s+EXISTS\s+)?{ident}\s+ON\s+(?P<names>{name})"),
        ("CREATE SEQUENCE", rf"CREATE\s+(?:OR\s+REPLACE\s+)?SEQUENCE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<names>{name})"),
        ("ALTER SEQUENCE", rf"ALTER\s+SEQUENCE\s+(?:IF\s+EXISTS\s+)?(?P<names>{name})"),
        ("DROP SEQUENCE", rf"DROP\s+SEQUENCE\s+(?:IF\s+EXISTS\s+)?(?P<names>{name}(?:\s*,\s*{name})*)"),
        (
            "CREATE VIEW",
            rf"CREATE\s+(?:OR\s+REPLACE\s+)?{_VIEW_OPTIONS}VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<names>{name})",
        ),
        ("ALTER VIEW", rf"ALTER\s+{_VIEW_OPTIONS}VIEW\s+(?P<names>{name})"),
        ("DROP VIEW", rf"DROP\s+VIEW\s+(?:IF\s+EXISTS\s+)?(?P<names>{name}(?:\s*,\s*{name})*)"),
        # A routine belongs to its database: its statements are replicated where the database is selected whole.
        (
            "CREATE ROUTINE",
            rf"CREATE\s+(?:OR\s+REPLACE\s+)?(?:{_DEFINER_CLAUSE})?(?:AGGREGATE\s+)?{_ROUTINE}\s+"
            rf"(?:IF\s+NOT\s+EXISTS\s+)?(?P<names>{name})",
        ),
        ("ALTER ROUTINE", rf"ALTER\s+{_ROUTINE}\s+(?P<names>{name})"),
        ("DROP ROUTINE", rf"DROP\s+{_ROUTINE}\s+(?:IF\s+EXISTS\s+)?(?P<names>{name})"),
        ("CREATE DATABASE", rf"CREATE\s+(?:OR\s+REPLACE\s+)?{_DATABASE}\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<names>{ident})"),
        ("DROP DATABASE", rf"DROP\s+{_DATABASE}\s+(?:IF\s+EXISTS\s+)?(?P<names>{ident})"),
        # the name is optional: without it, the default database
        ("ALTER DATABASE", rf"ALTER\s+{_DATABASE}(?:\s+(?!{_DATABASE_OPTION}\b)(?P<names>{ident}))?"),
    ]
    patterns = [(verb, re.compile(statement, re.I)) for verb, statement in statements]
    return patterns, re.compile(rf"(?P<name>{name})(?:\s+TO\s+)?", re.I), re.compile(ident)


def _unquote(ident: str) -> str:
    if ident[0] in '`"':
        quote = ident[0]
        return ident[1:-1].replace(quote * 2, quote)
    return ident


@dataclasses.dataclass(frozen=True)
class TableStatement:
    """A table DDL statement we replicate: its verb, the tables it names (RENAME: from, to, from, to...), and the
    statement without comments around its list of names, to rebuild it for some of them."""

    verb: str  # CREATE, ALTER, DROP, RENAME, TRUNCATE, CREATE/DROP INDEX; CREATE/ALTER/DROP DATABASE, SEQUENCE...
    tables: list[TableRef]  # of a database or routine statement: the database, as TableRef(name, "")
    head: str
    tail: str


def table_statement(statement: str, default_schema: str, ansi: bool = False) -> TableStatement | None:
    """The table DDL statement `statement` is, or None if it is not one we replicate.

    Replicated: CREATE/ALTER/DROP/RENAME TABLE, TRUNCATE, CREATE/DROP INDEX, CREATE/ALTER/DROP DATABASE, SEQUENCE,
    VIEW, PROCEDURE and FUNCTION; not TEMPORARY tables, which a row-format binlog never needs, nor functions of a
    library (CREATE FUNCTION ... SONAME: not a database's). `ansi`: the session had ANSI_QUOTES."""
    text = _COMMENTS.sub(" ", statement).strip()
    if re.match(r"(CREATE|DROP)\s+TEMPORARY\b", text, re.I) or _UDF.search(text):
        return None
    patterns, name_in_list, ident = _grammar(ansi)
    for verb, pattern in patterns:
        match = pattern.match(text)
        if not match:
            continue
        if verb.endswith("DATABASE"):
            database = _unquote(match["names"]) if match["names"] else default_schema
            return TableStatement(verb, [TableRef(database, "")], text, "") if database else None
        names = (m.group("name") for m in name_in_list.finditer(match["names"]))
        tables = [_table_ref([_unquote(part) for part in ident.findall(name)], default_schema) for name in names]
        if verb.endswith("ROUTINE"):
            tables = [TableRef(table.schema, "") for table in tables]
        return TableStatement(verb, tables, text[: match.start("names")], text[match.end("names") :])
    return None


# A row change logged as a statement: by a session whose binlog_format was not ROW (setting it needs a privilege).
_DML_VERBS = re.compile(r"(?:INSERT|REPLACE|UPDATE|DELETE|LOAD)\b", re.I)
_DML_OPTIONS = r"(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|QUICK|IGNORE)\s+)*"


@functools.cache
def _dml_grammar(ansi: bool) -> tuple[list[re.Pattern[str]], re.Pattern[str]]:
    """Where a DML statement names the tables it may write, and a name in a list of table references."""
    ident = _ident(ansi)
    name = rf"{ident}(?:\s*\.\s*{ident})?"
    statements = [
        rf"(?:INSERT|REPLACE)\s+{_DML_OPTIONS}(?:INTO\s+)?(?P<refs>{name})",
        rf"LOAD\s+(?:DATA|XML)\b.*?\bINTO\s+TABLE\s+(?P<refs>{name})",
        rf"UPDATE\s+{_DML_OPTIONS}(?P<refs>.*?)\s+SET\b",
        # DELETE FROM t ...; DELETE t1, t2 FROM <refs> ...; DELETE FROM t1, t2 USING <refs> ...: every table named
        rf"DELETE\s+{_DML_OPTIONS}(?:FROM\s+)?(?P<refs>.*?)(?:\s+(?:WHERE|ORDER|LIMIT|RETURNING)\b|$)",
    ]
    # In a list of table references: the name that starts it, or follows a comma, a JOIN, FROM or USING.
    in_list = re.compile(rf"(?:^|,|\bJOIN\s|\bFROM\s|\bUSING\s)\s*(?P<name>{name})", re.I)
    return [re.compile(statement, re.I | re.S) for statement in statements], in_list


def written_tables(statement: str, default_schema: str, ansi: bool = False) -> list[TableRef]:
    """The tables that a row change logged as a statement (INSERT, REPLACE, UPDATE, DELETE, LOAD DATA) may write;
    [] for any other statement. A multi-table UPDATE or DELETE counts every table it names (an alias as a table of
    the default database), the tables it only reads too: erring on that side only means refusing more."""
    text = _COMMENTS.sub(" ", statement).strip()
    if not _DML_VERBS.match(text):
        return []
    patterns, in_list = _dml_grammar(ansi)
    ident = _grammar(ansi)[2]
    for pattern in patterns:
        match = pattern.match(text)
        if match:
            names = dict.fromkeys(found["name"] for found in in_list.finditer(match["refs"]))
            return [_table_ref([_unquote(part) for part in ident.findall(name)], default_schema) for name in names]
    return []


def without_definer(statement: str) -> str:
    """A view, routine, trigger or event definition without its DEFINER clause: the target account that creates it
    becomes the definer (naming another account needs SUPER, and that account may not exist on the target)."""
    return _DEFINER.sub(r"\1", statement, count=1)


def _table_ref(parts: list[str], default_schema: str) -> TableRef:
    return TableRef(parts[0], parts[1]) if len(parts) == 2 else TableRef(default_schema, parts[0])


def for_selected_tables(statement: str, parsed: TableStatement, selected: Callable[[TableRef], bool]) -> str | None:
    """`statement` as the target must run it: None if it names no selected table; a DROP or RENAME of several
    tables cut down to those on the target (the others are not there: the statement would fail, and on a retry
    be taken for one already applied).

    A RENAME that brings a table into the selection from one that is not replicated fails: the target does not
    have its rows (a table renamed out of the selection and back, a table swapped in by an online schema change
    tool on a selection of single tables)."""
    if not any(selected(table) for table in parsed.tables):
        return None
    if parsed.verb in ("DROP", "DROP VIEW", "DROP SEQUENCE"):
        kept = [table for table in parsed.tables if selected(table)]
    elif parsed.verb == "RENAME":
        kept = _renames_on_target(parsed.tables, selected)
    else:
        return statement
    if kept == parsed.tables:
        return statement
    names = [f"{quote_identifier(t.schema)}.{quote_identifier(t.name)}" for t in kept]
    if parsed.verb == "RENAME":
        names = [f"{old} TO {new}" for old, new in zip(names[::2], names[1::2], strict=True)]
    listed = ", ".join(names)
    return f"{parsed.head}{listed}{parsed.tail}"


def _renames_on_target(tables: list[TableRef], selected: Callable[[TableRef], bool]) -> list[TableRef]:
    # Renames run in order: a name taken by an earlier pair holds a table of the target (`a TO tmp, b TO a, tmp TO
    # b` swaps two selected tables through an unselected name).
    on_target: dict[TableRef, bool] = {}
    kept: list[TableRef] = []
    for old, new in zip(tables[::2], tables[1::2], strict=True):
        if on_target.get(old, selected(old)):
            kept += [old, new]
            on_target[old], on_target[new] = False, True
        elif selected(new):
            raise errors.UnsupportedEventError(
                f"RENAME TABLE brought {new.schema}.{new.name} into the selection from {old.schema}.{old.name},"
                " which is not replicated: the target does not have its rows. Select both tables (or the whole"
                " database) and create a new task for them"
            )
    return kept


# --- schema renames ----------------------------------------------------------------------------------------------

_STRING = r"""'(?:[^'\\]|\\.|'')*'"""
_DOUBLE_QUOTED_STRING = r'''"(?:[^"\\]|\\.|"")*"'''
_COMMENT = r"/\*.*?\*/|--[^\n]*|\#[^\n]*"


@functools.cache
def _database_statement(ansi: bool) -> re.Pattern[str]:
    ident = _ident(ansi)
    return re.compile(
        rf"(?:CREATE(?:\s+OR\s+REPLACE)?|DROP|ALTER)\s+{_DATABASE}\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
        rf"(?!{_DATABASE_OPTION}\b)(?P<name>{ident})",
        re.I,
    )


@functools.cache
def _tokens(ansi: bool) -> re.Pattern[str]:
    # Strings and comments are kept as they are; a `schema`. or schema. prefix (or "schema". under ANSI_QUOTES)
    # is renamed.
    keep = f"{_STRING}|{_COMMENT}" if ansi else f"{_STRING}|{_DOUBLE_QUOTED_STRING}|{_COMMENT}"
    return re.compile(rf"(?P<keep>{keep})|(?P<ident>{_ident(ansi)})(?P<dot>\s*\.)", re.S)


def rename_schemas(statement: str, renames: Mapping[str, str], ansi: bool = False) -> str:
    """`statement` with every schema-qualified name of a renamed schema, and the database a database statement
    names, pointing at its target schema."""
    if not renames:
        return statement
    database = _database_statement(ansi).match(statement)
    if database and database["name"] and _unquote(database["name"]) in renames:
        target = quote_identifier(renames[_unquote(database["name"])])
        return statement[: database.start("name")] + target + statement[database.end("name") :]

    def replace(match: re.Match[str]) -> str:
        if match["keep"] is not None:
            return match["keep"]
        ident = match["ident"]
        target = renames.get(_unquote(ident))
        return (quote_identifier(target) if target is not None else ident) + match["dot"]

    return _tokens(ansi).sub(replace, statement)

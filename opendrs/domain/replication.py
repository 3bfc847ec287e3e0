"""What replication connectors and the engine exchange: endpoints, objects, positions, changes.

Connectors turn their drivers' types into these at their boundary; nothing driver-specific leaves them.
"""

from __future__ import annotations

import dataclasses
import decimal
from collections.abc import Mapping, Sequence
from typing import Any


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A database server to connect to. `password` is the plain secret: never log or return it."""

    host: str
    port: int
    user: str
    password: str = dataclasses.field(repr=False)
    database: str | None = None
    ssl: bool = False


@dataclasses.dataclass(frozen=True, order=True)
class TableRef:
    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which source objects a task replicates, and the target names they map to.

    `databases`: whole databases; `tables`: single tables; both empty: the whole instance (system schemas
    excepted). `renames` maps a source database to a target database name.
    """

    databases: tuple[str, ...] = ()
    tables: tuple[TableRef, ...] = ()
    renames: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def whole_instance(self) -> bool:
        return not self.databases and not self.tables

    def includes(self, table: TableRef) -> bool:
        return self.whole_instance or table.schema in self.databases or table in self.tables

    def includes_schema(self, schema: str) -> bool:
        return self.whole_instance or schema in self.databases or any(t.schema == schema for t in self.tables)

    def target_of(self, table: TableRef) -> TableRef:
        return TableRef(self.renames.get(table.schema, table.schema), table.name)


@dataclasses.dataclass(frozen=True, order=True)
class BinlogPosition:
    """A point in the source's binlog: file and offset, and the GTID state there when the server has one.

    `gtid` is MariaDB's GTID list ("0-1-42,1-2-7") or MySQL's GTID set text.
    """

    file: str
    offset: int
    gtid: str | None = None

    def encode(self) -> dict[str, Any]:
        return {"v": 1, "file": self.file, "pos": self.offset, "gtid": self.gtid}

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> BinlogPosition:
        return cls(str(data["file"]), int(data["pos"]), data.get("gtid"))


def position_key(position: BinlogPosition) -> tuple[str, int, int]:
    """A sort key of binlog positions: base name, file sequence number, offset (file names grow past 999999)."""
    base, _, number = position.file.rpartition(".")
    return (base, int(number), position.offset) if number.isdigit() else (position.file, 0, position.offset)


Row = dict[str, Any]  # column name -> Python value as the driver decoded it


@dataclasses.dataclass(frozen=True)
class RowChange:
    """One row changed by a source transaction. `before` for update/delete, `after` for insert/update."""

    table: TableRef
    kind: str  # "insert" | "update" | "delete"
    before: Row | None
    after: Row | None
    # The source session checked foreign keys (and so ran their cascades), as the rows event's flags say.
    foreign_key_checks: bool = True
    # A delete or update that a copy taken after it already holds: only what the source's foreign keys cascaded
    # from it is left to apply, to rows of other tables that the copy may hold from before it.
    only_cascades: bool = False


# Settings of the source session a statement ran in, as (system variable, value) pairs in the order to set them.
Session = tuple[tuple[str, str | decimal.Decimal], ...]


@dataclasses.dataclass(frozen=True)
class SchemaChange:
    """A DDL statement the source ran on a selected object, as its text, and the session settings it ran in."""

    schema: str
    statement: str
    session: Session = ()
    tables: tuple[TableRef, ...] = ()  # the source tables it names (a database's or routine's: TableRef(db, ""))
    verb: str = ""  # CREATE, ALTER VIEW, DROP ROUTINE... (connectors.mysql.ddl)


@dataclasses.dataclass(frozen=True)
class XaStep:
    """A step of a two-phase (XA) source transaction. Its changes are logged at XA PREPARE, but take effect only at
    the XA COMMIT logged later as a group of its own, or never (XA ROLLBACK). `xid` is its id as the binlog writes
    it (X'gtrid',X'bqual',formatID)."""

    phase: str  # "prepare" (the Transaction holds its changes) | "commit" | "rollback" (no changes)
    xid: str


def xa_id(gtrid: bytes, bqual: bytes, format_id: int) -> str:
    """An XA transaction's id as text, the same whether read from XA RECOVER, an XA_PREPARE event or an XA COMMIT
    statement: as the binlog writes it in XA statements."""
    return f"X'{gtrid.hex()}',X'{bqual.hex()}',{format_id}"


@dataclasses.dataclass(frozen=True)
class Transaction:
    """One source transaction, in commit order, with the position just after its commit; or one step of an XA
    transaction (`xa`), in binlog order."""

    changes: Sequence[RowChange | SchemaChange]  # a tuple, or (a large one) read from a file as it is iterated
    end: BinlogPosition
    commit_time: float  # epoch seconds of the source commit (binlog event timestamp)
    xa: XaStep | None = None


def endpoint_from(config: Mapping[str, Any], password: str) -> Endpoint | None:
    """The endpoint a task's stored endpoint document describes; None until it names a host."""
    host = config.get("ip")
    if not host:
        return None
    return Endpoint(
        host=str(host),
        port=int(config.get("db_port") or 3306),
        user=str(config.get("db_user") or ""),
        password=password,
        database=config.get("db_name") or None,
        ssl=bool(config.get("ssl_link")),
    )


def selection_from(objects: Mapping[str, Any] | None) -> Selection:
    """The selection a task's stored `objects` document describes; None means the whole instance."""
    if not objects:
        return Selection()
    return Selection(
        databases=tuple(objects.get("databases", ())),
        tables=tuple(TableRef(schema, name) for schema, name in objects.get("tables", ())),
        renames=dict(objects.get("renames", {})),
    )

"""Which tables the binlog shows dropped between two positions.

A resumed copy reads a new snapshot, and may find a table of its list gone from the source: dropped (a retention
job's daily table, an application's work table), or renamed. It may forget a dropped one, but a renamed one's rows
live on under a name the copy does not have. The binlog tells which: this reads the DDL on those tables between
the copy's first snapshot and its new one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from opendrs.connectors.mysql import streaming
from opendrs.domain.replication import (
    BinlogPosition,
    Endpoint,
    RowChange,
    SchemaChange,
    Selection,
    TableRef,
    position_key,
)


def dropped_tables(
    endpoint: Endpoint,
    since: BinlogPosition,
    until: BinlogPosition,
    tables: Collection[TableRef],
    server_id: int,
    databases: Collection[str] = (),
) -> set[TableRef]:
    """Those of `tables` that DROP TABLE removed between `since` and `until`, and that no other DDL named there (one
    created again, renamed or altered in between may hold rows the binlog's drop does not account for). A DROP
    DATABASE of one of `databases` counts as a DROP TABLE of each of its tables."""
    if not tables:
        return set()
    dropped: set[TableRef] = set()
    otherwise: set[TableRef] = set()
    end = position_key(until)
    database_refs = tuple(TableRef(database, "") for database in databases)  # how DATABASE statements name them
    with streaming.stream(endpoint, since, Selection(tables=(*tables, *database_refs)), server_id) as stream:
        for item in stream:
            changes: Sequence[RowChange | SchemaChange]
            if isinstance(item, streaming.Heartbeat):
                reached, changes = position_key(item.position), ()
            else:
                reached, changes = position_key(item.end), item.changes
            if reached > end:
                break
            for change in changes:
                if not isinstance(change, SchemaChange):
                    continue
                if change.verb == "DROP DATABASE":
                    dropped.update(table for table in tables if table.schema == change.tables[0].schema)
                else:
                    (dropped if change.verb == "DROP" else otherwise).update(set(change.tables).intersection(tables))
            if reached == end:
                break
    return dropped - otherwise

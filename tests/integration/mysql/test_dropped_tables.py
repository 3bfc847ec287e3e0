"""Which tables the binlog shows dropped between two positions: a drop counts; a rename, or a table created again
or altered in between, does not (its rows may live on)."""

from __future__ import annotations

from opendrs.connectors.mysql.dropped_tables import dropped_tables
from opendrs.domain.replication import TableRef
from tests import servers
from tests.integration.mysql.streaming_fixtures import (
    endpoint_of,
    execute,
    new_server_id,
    position_now,
    schema,
    source,
)

__all__ = ["schema", "source"]  # fixtures used by name below


def test_only_tables_dropped_and_named_by_no_other_ddl_count(source: servers.MariadbServer, schema: str) -> None:
    names = ["dropped", "renamed", "again", "altered", "kept", "later"]
    execute(source, *(f"CREATE TABLE `{schema}`.{name} (id INT PRIMARY KEY)" for name in names))
    since = position_now(source)
    execute(
        source,
        f"INSERT INTO `{schema}`.dropped VALUES (1)",
        f"DROP TABLE `{schema}`.dropped",
        f"RENAME TABLE `{schema}`.renamed TO `{schema}`.elsewhere",
        f"DROP TABLE `{schema}`.again",
        f"CREATE TABLE `{schema}`.again (id INT PRIMARY KEY)",
        f"DROP TABLE `{schema}`.again",
        f"ALTER TABLE `{schema}`.altered ADD COLUMN v INT",
        f"DROP TABLE `{schema}`.altered",
    )
    until = position_now(source)
    execute(source, f"DROP TABLE `{schema}`.later")  # after `until`: not in the window
    tables = [TableRef(schema, name) for name in names]
    found = dropped_tables(endpoint_of(source), since, until, tables, new_server_id())
    assert found == {TableRef(schema, "dropped")}

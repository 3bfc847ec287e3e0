"""Which tables the binlog shows dropped between two positions: a drop counts (a DROP DATABASE too, where asked); a
rename, or a table created again or altered in between, does not (its rows may live on)."""

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


def test_a_drop_database_counts_for_the_databases_given_only(source: servers.MariadbServer, schema: str) -> None:
    """Its tables are named by no statement of their own; a table of it altered first still does not count."""
    gone, other = f"{schema}_gone", f"{schema}_other"
    for database in (gone, other):
        execute(
            source,
            f"CREATE DATABASE `{database}`",
            *(f"CREATE TABLE `{database}`.{name} (id INT PRIMARY KEY)" for name in ("a", "b", "altered")),
        )
    since = position_now(source)
    execute(
        source,
        f"ALTER TABLE `{gone}`.altered ADD COLUMN v INT",
        f"ALTER TABLE `{other}`.altered ADD COLUMN v INT",
        f"DROP DATABASE `{gone}`",
        f"DROP DATABASE `{other}`",
    )
    until = position_now(source)
    tables = [TableRef(database, name) for database in (gone, other) for name in ("a", "b", "altered")]
    found = dropped_tables(endpoint_of(source), since, until, tables, new_server_id(), databases=[gone])
    assert found == {TableRef(gone, "a"), TableRef(gone, "b")}

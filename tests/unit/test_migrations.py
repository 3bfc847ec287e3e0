"""The Alembic migrations produce exactly opendrs.store.schema.metadata, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from opendrs.store import database, schema
from tests.servers import PostgresServer


def differences(engine: sa.Engine) -> list[Any]:
    """Alembic's autogenerate diff between the store and the metadata: tables, columns, types, indexes, keys.

    Server defaults are compared on PostgreSQL only: on SQLite Alembic reports an empty-string default ('')
    as changed even when the DDL is identical; check_sqlite_defaults compares those instead.
    """
    with engine.connect() as connection:
        opts = {"compare_type": True, "compare_server_default": connection.dialect.name == "postgresql"}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, schema.metadata))


def server_defaults(engine: sa.Engine) -> dict[tuple[str, str], str | None]:
    inspector = sa.inspect(engine)
    return {
        (table, column["name"]): column["default"]
        for table in sorted(schema.metadata.tables)
        for column in inspector.get_columns(table)
    }


def metadata_defaults() -> dict[tuple[str, str], str | None]:
    found: dict[tuple[str, str], str | None] = {}
    for table in schema.metadata.tables.values():
        for column in table.columns:
            default = column.server_default
            found[(table.name, column.name)] = None if default is None else repr(str(default.arg))  # type: ignore[attr-defined]
    return found


def revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str | None:
    return ScriptDirectory.from_config(database.alembic_config()).get_current_head()


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def check_store(engine: sa.Engine) -> None:
    try:
        assert tables(engine) == set(), "the store must start empty"
        database.migrate(engine)
        assert tables(engine) == set(schema.metadata.tables)
        assert revision(engine) == head()
        assert differences(engine) == []
        database.migrate(engine)  # a second run (another node starting) changes nothing
        assert revision(engine) == head()
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_a_single_head() -> None:
    heads = ScriptDirectory.from_config(database.alembic_config()).get_heads()
    assert len(heads) == 1


def test_sqlite_schema_is_the_metadata(tmp_path: Path) -> None:
    engine = database.create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    check_store(engine)
    # SQLite reflects a default as its SQL literal: '' and '0'.
    assert server_defaults(engine) == metadata_defaults()
    engine.dispose()


def test_postgresql_schema_is_the_metadata(postgres: PostgresServer) -> None:
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    check_store(database.create_engine(postgres.dsn.rsplit("/", 1)[0] + f"/{name}"))


def test_the_comparison_sees_a_difference(tmp_path: Path) -> None:
    """The check above can fail: a store missing a column is reported."""
    engine = database.create_engine(f"sqlite:///{tmp_path / 'drifted.db'}")
    try:
        database.migrate(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE domains ADD COLUMN extra TEXT")
        found = differences(engine)
        assert [item[0] for item in found] == ["remove_column"]
        assert found[0][3].name == "extra"
    finally:
        engine.dispose()

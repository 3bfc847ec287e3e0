"""Listing the source's objects while it goes on: information_schema names an object, then SHOW CREATE finds it
dropped. An application that creates and drops work tables must not fail a copy, a precheck or a resume."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from opendrs.connectors.mysql import catalog
from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import Selection
from tests.integration.mysql.conftest import Server


@contextlib.contextmanager
def dropped_once_listed(monkeypatch: pytest.MonkeyPatch, source: Server, listing: str, drop: str) -> Iterator[None]:
    """Run `drop` on the source as soon as a catalog query reading `listing` has answered."""
    query = catalog._query
    armed = [True]

    def listed_then_dropped(connection: mysql.Connection, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        rows = query(connection, sql, args)
        if armed[0] and listing in sql:
            armed[0] = False
            source.execute(drop)
        return rows

    with monkeypatch.context() as patch:
        patch.setattr(catalog, "_query", listed_then_dropped)
        yield
    assert not armed[0], f"no catalog query read {listing}"


def test_objects_dropped_between_their_listing_and_their_definition_are_left_out(
    source: Server, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = database
    source.execute(
        f"CREATE TABLE {db}.kept (id INT PRIMARY KEY)",
        f"CREATE TABLE {db}.work (id INT PRIMARY KEY)",
        f"CREATE VIEW {db}.kept_view AS SELECT id FROM {db}.kept",
        f"CREATE VIEW {db}.work_view AS SELECT id FROM {db}.kept",
        f"CREATE SEQUENCE {db}.work_seq",
        f"CREATE TRIGGER {db}.kept_trigger BEFORE INSERT ON {db}.kept FOR EACH ROW SET NEW.id = NEW.id",
        f"CREATE TRIGGER {db}.work_trigger AFTER INSERT ON {db}.kept FOR EACH ROW SET @x = 1",
        f"CREATE PROCEDURE {db}.kept_proc() SET @x = 1",
        f"CREATE PROCEDURE {db}.work_proc() SET @x = 1",
    )
    with source.connect() as connection, connection.cursor() as cursor:  # warns: the event scheduler is off
        cursor.execute(f"CREATE EVENT {db}.work_event ON SCHEDULE EVERY 1 DAY DO SET @x = 1")
    selection = Selection(databases=(db,))
    tables = "information_schema.TABLES"
    with source.connect() as connection:
        with dropped_once_listed(monkeypatch, source, tables, f"DROP TABLE {db}.work"):
            assert [info.table.name for info in catalog.list_tables(connection, selection)] == ["kept"]
        with dropped_once_listed(monkeypatch, source, tables, f"DROP VIEW {db}.work_view"):
            assert [view.view.name for view in catalog.list_views(connection, selection)] == ["kept_view"]
        with dropped_once_listed(monkeypatch, source, tables, f"DROP SEQUENCE {db}.work_seq"):
            assert catalog.list_sequences(connection, selection) == ()
        with dropped_once_listed(monkeypatch, source, "information_schema.TRIGGERS", f"DROP TRIGGER {db}.work_trigger"):
            found = catalog.list_triggers_and_events(connection, selection)
        assert [(item.kind, item.name) for item in found] == [("TRIGGER", "kept_trigger"), ("EVENT", "work_event")]
        with dropped_once_listed(monkeypatch, source, "information_schema.EVENTS", f"DROP EVENT {db}.work_event"):
            found = catalog.list_triggers_and_events(connection, selection)
        assert [(item.kind, item.name) for item in found] == [("TRIGGER", "kept_trigger")]
        with dropped_once_listed(monkeypatch, source, "information_schema.ROUTINES", f"DROP PROCEDURE {db}.work_proc"):
            assert [routine.routine.name for routine in catalog.list_routines(connection, selection)] == ["kept_proc"]

"""The precheck's objectsNotMigratedCheck against a real source: the selected objects a replicating task creates only
when it is stopped (triggers, events) are named in an alarm, those outside the selection are not; sequences are
migrated with the copy. A full-only task creates them at the end of its copy: its alarm names the events, created
disabled."""

from __future__ import annotations

from opendrs.connectors.mysql import checks
from opendrs.domain.replication import Selection, TableRef
from tests.integration.mysql.conftest import Server, precheck_item

ITEM = "objectsNotMigratedCheck"


def _item(source: Server, target: Server, selection: Selection, incremental: bool = True) -> checks.CheckItem:
    return precheck_item(ITEM, source.endpoint, target.endpoint, selection, incremental=incremental)


def test_selected_triggers_and_events_are_named_in_an_alarm_and_sequences_not(
    source: Server, target: Server, database: str
) -> None:
    source.execute(
        f"CREATE TABLE {database}.t (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE {database}.other (id INT PRIMARY KEY)",
        f"CREATE TRIGGER {database}.t_bump BEFORE INSERT ON {database}.t FOR EACH ROW SET NEW.v = NEW.v + 1",
        f"CREATE TRIGGER {database}.other_noop BEFORE INSERT ON {database}.other FOR EACH ROW SET NEW.id = NEW.id",
        f"CREATE SEQUENCE {database}.ids",  # migrated: not named
    )
    with source.connect() as connection, connection.cursor() as cursor:  # warns that the scheduler is off
        cursor.execute(f"CREATE EVENT {database}.nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM {database}.t")

    whole = _item(source, target, Selection(databases=(database,)))
    assert whole.result is checks.Verdict.ALARM, whole
    assert whole.data == (f"triggers {database}.other_noop, {database}.t_bump; events {database}.nightly"), whole
    assert "created on the target only when the task is stopped with terminate" in whole.reason, whole

    # single tables: their own triggers only (events belong to the database)
    one_table = _item(source, target, Selection(tables=(TableRef(database, "t"),)))
    assert (one_table.result, one_table.data) == (checks.Verdict.ALARM, f"triggers {database}.t_bump"), one_table

    full_only = _item(source, target, Selection(databases=(database,)), incremental=False)
    assert (full_only.result, full_only.data) == (checks.Verdict.ALARM, f"events {database}.nightly"), full_only
    assert "created disabled at the end of the copy (DISABLE ON SLAVE)" in full_only.reason, full_only


def test_a_selection_without_such_objects_passes(source: Server, target: Server, database: str) -> None:
    source.execute(f"CREATE TABLE {database}.t (id INT PRIMARY KEY)")

    item = _item(source, target, Selection(databases=(database,)))

    assert item.result is checks.Verdict.PASSED, item

"""The precheck's srcObjectsExistCheck against a real source: a selected database without tables exists (tables
may come during incremental sync); what the source user may not see is named, with the grant that shows it."""

from __future__ import annotations

from opendrs.connectors.mysql import checks
from opendrs.domain.replication import Endpoint, Selection, TableRef
from tests.integration.mysql.conftest import Server, precheck_item

ITEM = "srcObjectsExistCheck"


def _item(source: Endpoint, target: Server, selection: Selection) -> checks.CheckItem:
    return precheck_item(ITEM, source, target.endpoint, selection, incremental=False)


def test_a_selected_database_without_tables_exists(source: Server, target: Server, database: str) -> None:
    found = _item(source.endpoint, target, Selection(databases=(database,)))
    assert (found.result, found.reason) == (checks.Verdict.ALARM, "the selection covers no table"), found


def test_objects_the_source_user_cannot_see_are_named_with_the_grant_that_shows_them(
    source: Server, target: Server, database: str
) -> None:
    source.execute(
        f"CREATE TABLE {database}.t (id INT PRIMARY KEY)",
        "CREATE USER IF NOT EXISTS 'sees_nothing'@'%' IDENTIFIED BY 'Pw-1234567'",
    )
    blind = Endpoint(source.server.host, source.server.port, "sees_nothing", "Pw-1234567")
    found = _item(blind, target, Selection(databases=(database,), tables=(TableRef("elsewhere", "t"),)))
    assert found.result is checks.Verdict.FAILED, found
    assert found.reason == (
        f"selected objects do not exist on the source, or the source user cannot see them: {database}, elsewhere.t;"
        " check the names, and grant the user SELECT on them"
    )

"""The precheck's srcSystemVersionedTableCheck against a real MariaDB: a selection that covers a system-versioned
table fails, naming it, instead of a copy that leaves it out and an incremental sync that fails at its first change."""

from __future__ import annotations

from opendrs.connectors.mysql import checks
from opendrs.domain.replication import Selection, TableRef
from tests.integration.mysql.conftest import Server, precheck_item

ITEM = "srcSystemVersionedTableCheck"


def test_a_versioned_table_in_a_selected_database_fails_the_precheck_by_name(
    source: Server, target: Server, database: str
) -> None:
    source.execute(
        f"CREATE TABLE {database}.plain (id INT PRIMARY KEY)",
        f"CREATE TABLE {database}.audited (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING",
    )

    item = precheck_item(ITEM, source.endpoint, target.endpoint, Selection(databases=(database,)))

    assert (item.result, item.data) == (checks.Verdict.FAILED, f"{database}.audited"), item
    assert "DROP SYSTEM VERSIONING" in item.reason and f"{database}.audited" in item.reason, item


def test_a_selection_of_the_other_tables_passes(source: Server, target: Server, database: str) -> None:
    source.execute(
        f"CREATE TABLE {database}.plain (id INT PRIMARY KEY)",
        f"CREATE TABLE {database}.audited (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING",
    )

    selection = Selection(tables=(TableRef(database, "plain"),))
    item = precheck_item(ITEM, source.endpoint, target.endpoint, selection)

    assert item.result is checks.Verdict.PASSED, item

"""The precheck's srcKeylessNonTransactionalTableCheck against a real source: a MyISAM or Aria table without a key
is read outside the snapshot, and the catch-up cannot tell the rows its copy holds: an alarm names it."""

from __future__ import annotations

from opendrs.connectors.mysql import checks
from opendrs.domain.replication import Selection
from tests.integration.mysql.conftest import Server, precheck_item

ITEM = "srcKeylessNonTransactionalTableCheck"


def test_a_keyless_aria_table_gets_an_alarm_and_keyed_or_innodb_ones_none(
    source: Server, target: Server, database: str
) -> None:
    source.execute(
        f"CREATE TABLE {database}.keyless_aria (v INT) ENGINE=Aria",
        f"CREATE TABLE {database}.keyed_myisam (id INT PRIMARY KEY) ENGINE=MyISAM",
        f"CREATE TABLE {database}.keyless_innodb (v INT) ENGINE=InnoDB",
    )

    item = precheck_item(ITEM, source.endpoint, target.endpoint, Selection(databases=(database,)))

    assert (item.result, item.data) == (checks.Verdict.ALARM, f"{database}.keyless_aria (Aria)"), item
    assert "hold writes to them until the copy is done" in item.reason, item


def test_a_full_only_task_has_no_such_item(source: Server, target: Server, database: str) -> None:
    source.execute(f"CREATE TABLE {database}.keyless_aria (v INT) ENGINE=Aria")
    found = checks.precheck(
        source.endpoint, target.endpoint, Selection(databases=(database,)), full=True, incremental=False, retry=False
    )

    assert ITEM not in {check.item for check in found}, found

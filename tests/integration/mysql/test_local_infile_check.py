"""The precheck's dstLocalInfileCheck against a real target: the full copy loads with LOAD DATA LOCAL INFILE, so a
target whose local_infile is off fails the precheck, saying how to turn it on, before any table is created."""

from __future__ import annotations

from opendrs.connectors.mysql import checks
from opendrs.domain.replication import Selection
from tests.integration.mysql.conftest import Server, precheck_item

ITEM = "dstLocalInfileCheck"


def test_local_infile_off_on_the_target_fails_saying_how_to_turn_it_on(
    source: Server, target: Server, database: str
) -> None:
    target.execute("SET GLOBAL local_infile = OFF")
    try:
        item = precheck_item(ITEM, source.endpoint, target.endpoint, Selection(databases=(database,)))
    finally:
        target.execute("SET GLOBAL local_infile = ON")

    assert (item.result, item.data) == (checks.Verdict.FAILED, "0"), item
    assert "local_infile is 0" in item.reason and "SET GLOBAL local_infile = ON" in item.reason, item


def test_local_infile_on_passes(source: Server, target: Server, database: str) -> None:
    item = precheck_item(ITEM, source.endpoint, target.endpoint, Selection(databases=(database,)))

    assert (item.result, item.data) == (checks.Verdict.PASSED, "1"), item


def test_an_incremental_only_task_loads_nothing_and_has_no_such_item(
    source: Server, target: Server, database: str
) -> None:
    found = checks.precheck(
        source.endpoint, target.endpoint, Selection(databases=(database,)), full=False, incremental=True, retry=False
    )

    assert ITEM not in {check.item for check in found}, found

"""The precheck's dstFunctionCreatorsCheck against real targets: one that writes a binlog with
log_bin_trust_function_creators off (MariaDB's default) refuses stored functions to users without SUPER, and
non-deterministic ones to everybody; the alarm names the functions and the setting that lets them in."""

from __future__ import annotations

from opendrs.connectors.mysql import checks
from opendrs.domain.replication import Endpoint, Selection
from tests.integration.mysql.conftest import Server, precheck_item

ITEM = "dstFunctionCreatorsCheck"


def _item(source: Server, target: Endpoint, database: str) -> checks.CheckItem:
    return precheck_item(ITEM, source.endpoint, target, Selection(databases=(database,)))


def test_functions_for_a_target_with_a_binlog_give_an_alarm_naming_them(
    source: Server, target: Server, database: str
) -> None:
    source.execute(
        f"CREATE FUNCTION {database}.f() RETURNS INT DETERMINISTIC RETURN 1",  # (a binlog refuses others even to root)
        f"CREATE PROCEDURE {database}.p() SELECT 1",  # procedures are not refused
    )

    # The source writes a binlog: as a target it refuses them. The test target writes none.
    on_binlog = _item(source, source.endpoint, database)
    assert (on_binlog.result, on_binlog.data) == (checks.Verdict.ALARM, f"{database}.f"), on_binlog
    assert "set log_bin_trust_function_creators=1 on the target" in on_binlog.reason, on_binlog
    assert _item(source, target.endpoint, database).result is checks.Verdict.PASSED


def test_a_selection_without_functions_passes(source: Server, database: str) -> None:
    source.execute(f"CREATE PROCEDURE {database}.p() SELECT 1")
    assert _item(source, source.endpoint, database).result is checks.Verdict.PASSED

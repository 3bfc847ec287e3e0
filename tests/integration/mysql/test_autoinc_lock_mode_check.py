"""The precheck's dstAutoincLockModeCheck against real targets: MariaDB's default innodb_autoinc_lock_mode (1)
serialises the loads of a table with an AUTO_INCREMENT column, and the alarm names those tables."""

from __future__ import annotations

from pathlib import Path

from opendrs.connectors.mysql import checks
from opendrs.domain.replication import Endpoint, Selection
from tests import servers
from tests.integration.mysql.conftest import Server, precheck_item

ITEM = "dstAutoincLockModeCheck"


def _item(source: Server, target: Endpoint, database: str) -> checks.CheckItem:
    return precheck_item(ITEM, source.endpoint, target, Selection(databases=(database,)), incremental=False)


def test_an_auto_increment_table_and_lock_mode_1_give_an_alarm_naming_the_table(
    source: Server, target: Server, database: str
) -> None:
    source.execute(
        f"CREATE TABLE {database}.counted (id INT AUTO_INCREMENT PRIMARY KEY, v INT)",
        f"CREATE TABLE {database}.plain (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE {database}.counted_aria (id INT AUTO_INCREMENT PRIMARY KEY) ENGINE=Aria",
    )

    item = _item(source, target.endpoint, database)

    assert (item.result, item.data) == (checks.Verdict.ALARM, f"{database}.counted"), item
    assert "innodb_autoinc_lock_mode is 1" in item.reason and "set innodb_autoinc_lock_mode=2" in item.reason, item


def test_no_auto_increment_table_passes_whatever_the_lock_mode(source: Server, target: Server, database: str) -> None:
    source.execute(f"CREATE TABLE {database}.plain (id INT PRIMARY KEY, v INT)")

    item = _item(source, target.endpoint, database)

    assert (item.result, item.data) == (checks.Verdict.PASSED, "1"), item


def test_lock_mode_2_on_the_target_passes(source: Server, database: str, tmp_path: Path) -> None:
    source.execute(f"CREATE TABLE {database}.counted (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
    with servers.mariadb_server(tmp_path / "interleaved", options=["--innodb-autoinc-lock-mode=2"]) as interleaved:
        item = _item(source, Server(interleaved).endpoint, database)

    assert (item.result, item.data) == (checks.Verdict.PASSED, "2"), item

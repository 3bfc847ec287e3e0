"""The precheck's srcCascadingForeignKeyCheck: the rows a cascade changes on the source never reach the binlog, and
the target does not cascade them during incremental sync (its apply session runs without foreign key checks), so
the alarm names every selected foreign key with a cascading action before the task starts."""

from __future__ import annotations

from opendrs.connectors.mysql import checks
from opendrs.domain.replication import Selection
from tests.integration.mysql.conftest import Server

ITEM = "srcCascadingForeignKeyCheck"


def _item(source: Server, target: Server, database: str, *, incremental: bool = True) -> checks.CheckItem | None:
    selection = Selection(databases=(database,))
    found = checks.precheck(source.endpoint, target.endpoint, selection, full=True, incremental=incremental)
    return next((item for item in found if item.item == ITEM), None)


def test_cascading_foreign_keys_give_an_alarm_naming_each(source: Server, target: Server, database: str) -> None:
    source.execute(
        f"CREATE TABLE {database}.parent (id INT PRIMARY KEY)",
        f"CREATE TABLE {database}.child (id INT PRIMARY KEY, pid INT,"
        f" CONSTRAINT fk_cascade FOREIGN KEY (pid) REFERENCES {database}.parent (id) ON DELETE CASCADE)",
        f"CREATE TABLE {database}.orphanable (id INT PRIMARY KEY, pid INT,"
        f" CONSTRAINT fk_set_null FOREIGN KEY (pid) REFERENCES {database}.parent (id) ON UPDATE SET NULL)",
        f"CREATE TABLE {database}.strict (id INT PRIMARY KEY, pid INT,"
        f" CONSTRAINT fk_restrict FOREIGN KEY (pid) REFERENCES {database}.parent (id))",
    )

    item = _item(source, target, database)

    assert item is not None and item.result is checks.Verdict.ALARM, item
    assert item.data == (
        f"{database}.child.fk_cascade (ON DELETE CASCADE, ON UPDATE RESTRICT), "
        f"{database}.orphanable.fk_set_null (ON DELETE RESTRICT, ON UPDATE SET NULL)"
    ), item
    assert "not replicated during incremental sync" in item.reason, item


def test_plain_foreign_keys_pass(source: Server, target: Server, database: str) -> None:
    source.execute(
        f"CREATE TABLE {database}.parent (id INT PRIMARY KEY)",
        f"CREATE TABLE {database}.strict (id INT PRIMARY KEY, pid INT,"
        f" FOREIGN KEY (pid) REFERENCES {database}.parent (id) ON DELETE NO ACTION)",
    )

    item = _item(source, target, database)

    assert item is not None and item.result is checks.Verdict.PASSED, item


def test_a_full_copy_only_task_does_not_check_them(source: Server, target: Server, database: str) -> None:
    # A snapshot holds what the cascades did; only the binlog misses their rows.
    assert _item(source, target, database, incremental=False) is None

"""The precheck's privilege items against real accounts: what a source and a target user must be granted."""

from __future__ import annotations

import itertools

from opendrs.connectors.mysql import checks
from opendrs.domain.replication import Endpoint, Selection
from tests.integration.mysql.conftest import Server

_users = itertools.count(1)
TARGET_NEEDED = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX"
TARGET_ADVISED = "PROCESS, BINLOG REPLAY"


def _account(server: Server, grants: str) -> Endpoint:
    """A fresh user of `server` granted `grants` ON *.* (nothing at all when empty)."""
    user, password = f"priv{next(_users)}", "Pw-1234567"
    statements = [f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"]
    if grants:
        statements.append(f"GRANT {grants} ON *.* TO '{user}'@'%'")
    server.execute(*statements)
    return Endpoint(server.server.host, server.server.port, user, password)


def _items(source: Endpoint, target: Endpoint, database: str, incremental: bool = True) -> dict[str, checks.CheckItem]:
    selection = Selection(databases=(database,))
    found = checks.precheck(source, target, selection, full=True, incremental=incremental, retry=False)
    return {item.item: item for item in found if item.group == "db_privileges"}


def test_a_target_user_without_process_gets_an_alarm_naming_it(source: Server, target: Server, database: str) -> None:
    replication = "SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR, BINLOG ADMIN"
    items = _items(_account(source, replication), _account(target, f"{TARGET_NEEDED}, BINLOG REPLAY"), database)

    assert items["srcUserPrivilegeCheck"].result is checks.Verdict.PASSED, items
    dst = items["dstUserPrivilegeCheck"]
    assert (dst.result, dst.data) == (checks.Verdict.ALARM, "PROCESS"), dst
    assert "takes a task over" in dst.reason, dst


def test_a_target_user_who_may_not_replay_binlog_events_gets_an_alarm_when_the_task_follows_the_binlog(
    source: Server, target: Server, database: str
) -> None:
    """Large transactions then go as SQL (connectors.mysql.replay); a copy alone has none."""
    replication = "SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR, BINLOG ADMIN"
    source_user, target_user = _account(source, replication), _account(target, f"{TARGET_NEEDED}, PROCESS")

    dst = _items(source_user, target_user, database)["dstUserPrivilegeCheck"]
    assert (dst.result, dst.data) == (checks.Verdict.ALARM, "BINLOG REPLAY or SUPER"), dst
    assert "large source transaction" in dst.reason, dst
    copy_only = _items(source_user, target_user, database, incremental=False)["dstUserPrivilegeCheck"]
    assert copy_only.result is checks.Verdict.PASSED, copy_only


def test_a_source_user_that_may_not_turn_off_its_binlog_gets_an_alarm_for_ddl_during_the_copy(
    source: Server, target: Server, database: str
) -> None:
    replication = "SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR"
    items = _items(_account(source, replication), _account(target, f"{TARGET_NEEDED}, {TARGET_ADVISED}"), database)

    src = items["srcUserPrivilegeCheck"]
    assert src.result is checks.Verdict.ALARM, src
    assert src.data == "BINLOG ADMIN or SUPER or SESSION_VARIABLES_ADMIN or SYSTEM_VARIABLES_ADMIN", src
    assert "ALTER TABLE on the source during the full copy waits for the end of the copy" in src.reason, src


def test_the_needed_privileges_pass_and_missing_ones_fail_by_name(
    source: Server, target: Server, database: str
) -> None:
    items = _items(_account(source, "SELECT"), _account(target, f"{TARGET_NEEDED}, {TARGET_ADVISED}"), database)

    assert items["dstUserPrivilegeCheck"].result is checks.Verdict.PASSED, items
    src = items["srcUserPrivilegeCheck"]
    assert src.result is checks.Verdict.FAILED, src
    assert src.data == "RELOAD, REPLICATION SLAVE, BINLOG MONITOR|REPLICATION CLIENT", src

"""XA transactions prepared at a full copy's snapshot: found in the binlog after the horizon read before it, kept on
the target, and applied there at their XA COMMIT (xa_capture.py), against real MariaDB servers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from opendrs.connectors.mysql import applier as applier_module
from opendrs.connectors.mysql import connection as mysql
from opendrs.connectors.mysql import fences, positions, prepared_xa, snapshot, xa_capture
from opendrs.domain.replication import RowChange, xa_id
from tests import servers
from tests.integration.mysql.streaming_fixtures import (
    assert_same_schema,
    connect,
    endpoint_of,
    execute,
    kept_xa,
    new_server_id,
    position_now,
    prepare_xa,
    replicate,
    schema,
    selection_of,
    source,
    target,
)

__all__ = ["schema", "source", "target"]  # fixtures used by name below


def xid_of(name: str) -> str:
    return xa_id(name.encode(), b"", 1)


@contextlib.contextmanager
def held_prepared(server: servers.MariadbServer, name: str, statement: str) -> Iterator[mysql.Connection]:
    """XA transaction `name` prepared by a session that stays open, rolled back at the end if it is still pending."""
    holder = connect(server)
    try:
        with holder.cursor() as cursor:
            for step in (f"XA START '{name}'", statement, f"XA END '{name}'", f"XA PREPARE '{name}'"):
                cursor.execute(step)
        yield holder
    finally:
        with contextlib.suppress(Exception), holder.cursor() as cursor:
            cursor.execute(f"XA ROLLBACK '{name}'")
        holder.close()


def query_in(taken: snapshot.Snapshot, sql: str) -> list[tuple[object, ...]]:
    with taken.connections[0].cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def test_xa_transactions_prepared_at_a_snapshot_reach_the_target_at_their_commit(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    """`transfer` changes a selected table (and another), `elsewhere` only another: both are prepared between the
    horizon and the snapshot, so neither is in it. The copy keeps `transfer`'s selected changes; they reach the
    target at its XA COMMIT; `elsewhere` needs nothing. `done`, committed before the snapshot, is in it."""
    other = f"{schema}_other"
    execute(source, f"CREATE DATABASE `{other}`", f"CREATE TABLE `{other}`.log (v INT)")
    execute(source, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1)", database=schema)
    selection = selection_of(schema)
    transfer, elsewhere, done = (f"{schema}-{name}" for name in ("transfer", "elsewhere", "done"))
    horizon = positions.xa_horizon(endpoint_of(source))
    log_row = f"INSERT INTO `{other}`.log VALUES (1)"
    prepare_xa(source, f"'{transfer}'", "UPDATE t SET v = 10 WHERE id = 1", log_row, "INSERT INTO t VALUES (2, 2)",
               database=schema)  # fmt: skip
    prepare_xa(source, f"'{elsewhere}'", log_row, database=schema)
    prepare_xa(source, f"'{done}'", "INSERT INTO t VALUES (3, 3)", database=schema)
    execute(source, f"XA COMMIT '{done}'")
    try:
        with snapshot.open_snapshot(endpoint_of(source), 1, list_prepared_xa=True) as taken:
            assert sorted(taken.prepared_xa) == sorted([xid_of(transfer), xid_of(elsewhere)])
            copied = list(query_in(taken, f"SELECT id, v FROM `{schema}`.t ORDER BY id"))
            assert copied == [(1, 1), (3, 3)]
            kept = xa_capture.snapshot_changes(endpoint_of(source), horizon, taken, selection, new_server_id())
        assert list(kept) == [xid_of(transfer)]
        assert [(c.kind, c.after) for c in kept[xid_of(transfer)] if isinstance(c, RowChange)] == [
            ("update", {"id": 1, "v": 10}),
            ("insert", {"id": 2, "v": 2}),
        ]
        # The copy: the table as the snapshot read it, and the kept changes.
        execute(target, f"CREATE DATABASE `{schema}`")
        execute(target, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1), (3, 3)",
                database=schema)  # fmt: skip
        task = f"capture-{schema}"
        fence = fences.Fence(task, 1)
        fences.raise_fence(endpoint_of(target), fence)
        with contextlib.closing(mysql.connect(endpoint_of(target))) as connection:
            prepared_xa.keep_only(connection, fence, kept, 1 << 20)
    finally:
        execute(source, f"XA COMMIT '{transfer}'", f"XA ROLLBACK '{elsewhere}'")
    assert taken.position is not None
    end = position_now(source)
    with applier_module.Applier(endpoint_of(target), task, selection) as applier:
        replicate(source, applier, taken.position, selection, end)
    assert_same_schema(source, target, schema, schema)
    assert kept_xa(target, task) == []


def test_changes_found_from_a_position_that_is_no_horizon_are_refused(
    source: servers.MariadbServer, schema: str
) -> None:
    """An XA transaction prepared before the position the binlog is read from: its rows are not there."""
    execute(source, "CREATE TABLE t (id INT PRIMARY KEY)", database=schema)
    name = f"{schema}-early"
    with held_prepared(source, name, f"INSERT INTO `{schema}`.t VALUES (1)"):
        since = position_now(source)
        with (
            snapshot.open_snapshot(endpoint_of(source), 1, list_prepared_xa=True) as taken,
            pytest.raises(snapshot.PreparedXaError, match=f"'{name}'"),
        ):
            xa_capture.snapshot_changes(endpoint_of(source), since, taken, selection_of(schema), new_server_id())


def test_the_horizon_waits_for_the_xa_transactions_prepared_when_it_was_read(
    source: servers.MariadbServer, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each one prepared then may have its XA PREPARE before the position: the horizon is the position once they
    have all ended. One that stays prepared is named."""
    execute(source, "CREATE TABLE t (id INT PRIMARY KEY)", database=schema)
    monkeypatch.setattr(snapshot, "XA_WAIT_SECONDS", 0.5)
    brief, stuck = f"{schema}-brief", f"{schema}-stuck"
    looks: list[list[str]] = []
    listed = snapshot.prepared_xids

    def listed_then_committed(connection: mysql.Connection) -> list[str]:
        looks.append(listed(connection))
        if len(looks) == 1:  # its coordinator commits it just after the horizon's first look
            execute(source, f"XA COMMIT '{brief}'")
        return looks[-1]

    monkeypatch.setattr(snapshot, "prepared_xids", listed_then_committed)
    before = position_now(source)
    prepare_xa(source, f"'{brief}'", "INSERT INTO t VALUES (1)", database=schema)
    horizon = positions.xa_horizon(endpoint_of(source))
    assert xid_of(brief) in looks[0] and xid_of(brief) not in looks[-1], looks
    # The horizon is after its XA PREPARE: read before it, the binlog would not hold it.
    assert positions.xa_prepared_between(endpoint_of(source), before, horizon) == {xid_of(brief)}

    with (
        held_prepared(source, stuck, f"INSERT INTO `{schema}`.t VALUES (2)"),
        pytest.raises(snapshot.PreparedXaError, match=f"'{stuck}'.*XA COMMIT"),
    ):
        positions.xa_horizon(endpoint_of(source))

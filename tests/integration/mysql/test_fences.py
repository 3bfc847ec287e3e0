"""Target-side fencing against a real MariaDB: once a newer worker raised a task's fence, the applier and the chunk
loader of the older one can commit nothing, and raising the fence waits for a transaction that passed its check."""

from __future__ import annotations

import itertools
import threading
import time

import pymysql
import pytest

from opendrs.connectors.mysql import applier as applier_module
from opendrs.connectors.mysql import catalog, chunks, copy, errors, fences, snapshot, structure
from opendrs.domain.replication import BinlogPosition, RowChange, Selection, TableRef, Transaction
from tests.integration.mysql.conftest import Server, query

_tasks = itertools.count(1)


def new_task() -> str:
    return f"fence-task-{next(_tasks)}"


def insert(schema: str, row_id: int, offset: int) -> Transaction:
    change = RowChange(TableRef(schema, "t"), "insert", None, {"id": row_id, "v": f"row {row_id}"})
    return Transaction((change,), BinlogPosition("mysql-bin.000001", offset), time.time())


@pytest.fixture
def target_schema(target: Server, database: str) -> str:
    """`database` on the target too, with an empty table t."""
    target.execute(
        f"CREATE DATABASE IF NOT EXISTS {database}", f"CREATE TABLE {database}.t (id INT PRIMARY KEY, v VARCHAR(20))"
    )
    return database


def test_an_applier_behind_a_raised_fence_commits_nothing(target: Server, target_schema: str) -> None:
    task = new_task()
    selection = Selection(databases=(target_schema,))
    fences.raise_fence(target.endpoint, fences.Fence(task, 1))
    old = applier_module.Applier(target.endpoint, task, selection, fence=fences.Fence(task, 1))
    old.apply([insert(target_schema, 1, 100)])

    fences.raise_fence(target.endpoint, fences.Fence(task, 2))  # another worker took the task over
    with pytest.raises(errors.FencedError, match="fencing token 2, this worker 1"):
        old.apply([insert(target_schema, 2, 200)])
    with pytest.raises(errors.FencedError):
        old.advance(BinlogPosition("mysql-bin.000001", 300))

    assert target.query(f"SELECT id FROM {target_schema}.t") == [(1,)]
    checkpoint = applier_module.load_checkpoint(target.endpoint, task)
    assert checkpoint == BinlogPosition("mysql-bin.000001", 100), "the old worker moved the checkpoint"
    new = applier_module.Applier(target.endpoint, task, selection, fence=fences.Fence(task, 2))
    new.apply([insert(target_schema, 2, 200)])
    assert target.query(f"SELECT id FROM {target_schema}.t ORDER BY id") == [(1,), (2,)]
    old.close()
    new.close()


def test_an_older_holder_cannot_raise_the_fence_back(target: Server) -> None:
    task = new_task()
    fences.raise_fence(target.endpoint, fences.Fence(task, 5))
    with pytest.raises(errors.FencedError, match="fencing token 5, this worker 4"):
        fences.raise_fence(target.endpoint, fences.Fence(task, 4))
    fences.raise_fence(target.endpoint, fences.Fence(task, 5))  # the holder itself again: a no-op


def test_a_chunk_behind_a_raised_fence_is_rolled_back(source: Server, target: Server, database: str) -> None:
    task = new_task()
    source.execute(
        f"CREATE TABLE {database}.t (id INT PRIMARY KEY, v VARCHAR(20))",
        f"INSERT INTO {database}.t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    )
    selection = Selection(databases=(database,))
    target.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    with snapshot.open_snapshot(source.endpoint, 1) as snap:
        reader = snap.connections[0]
        [info] = catalog.list_tables(reader, selection)
        connection = target.connect()
        try:
            structure.create_table(connection, info, selection)
            [chunk] = chunks.plan_chunks(reader, info)
            # Whatever the new holder loaded must survive the old one's attempt (a whole-table chunk empties first).
            target.execute(f"INSERT INTO {database}.t VALUES (9, 'new holder')")
            fences.raise_fence(target.endpoint, fences.Fence(task, 2))
            with pytest.raises(errors.FencedError):
                copy.copy_chunk(reader, connection, info, chunk, info.table, fence=fences.Fence(task, 1))
            assert query(connection, f"SELECT id FROM {database}.t") == [(9,)]
            rows = copy.copy_chunk(reader, connection, info, chunk, info.table, fence=fences.Fence(task, 2))
        finally:
            connection.close()
    assert rows == 3
    assert target.query(f"SELECT id FROM {database}.t ORDER BY id") == [(1,), (2,), (3,)]


def test_raising_the_fence_waits_for_a_transaction_that_passed_its_check(target: Server) -> None:
    """The old holder's transaction checked the fence and still runs: the new holder waits for it to end, so its
    writes land before the new holder reads the target. Checks of one holder share the lock."""
    task = new_task()
    old = fences.Fence(task, 1)
    fences.raise_fence(target.endpoint, old)
    in_flight, parallel = target.connect(), target.connect()
    try:
        for connection in (in_flight, parallel):
            query(connection, "BEGIN")
            old.check(connection)  # both hold the row in share mode at once
        raised = threading.Event()

        def raise_new() -> None:
            fences.raise_fence(target.endpoint, fences.Fence(task, 2))
            raised.set()

        raiser = threading.Thread(target=raise_new)
        raiser.start()
        assert not raised.wait(0.5), "the fence was raised while transactions that passed the check were running"
        query(parallel, "COMMIT")
        assert not raised.wait(0.3), "the fence was raised while a transaction that passed the check was running"
        query(in_flight, "COMMIT")
        raiser.join(10)
        assert raised.is_set()
        query(in_flight, "BEGIN")
        with pytest.raises(errors.FencedError):
            old.check(in_flight)
        query(in_flight, "ROLLBACK")
    finally:
        in_flight.close()
        parallel.close()


def test_raising_the_fence_kills_an_old_holders_transaction_that_hangs(target: Server) -> None:
    """A frozen worker's open transaction holds the fence row: the new holder waits EVICT_AFTER, then kills it."""
    task = new_task()
    old = fences.Fence(task, 1)
    fences.raise_fence(target.endpoint, old)
    hung = target.connect()
    try:
        query(hung, "BEGIN")
        old.check(hung)
        started = time.monotonic()
        fences.raise_fence(target.endpoint, fences.Fence(task, 2))
        waited = time.monotonic() - started
        assert fences.EVICT_AFTER <= waited < fences.EVICT_AFTER + 10, waited
        with pytest.raises(pymysql.err.OperationalError):
            query(hung, "COMMIT")
    finally:
        hung.close()

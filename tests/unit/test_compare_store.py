"""Compare tasks in the store (SQLite and PostgreSQL): one worker claims each; a cancelled or taken-over one cannot
be renewed nor finished by its old holder; an abandoned one is claimable again once its lease ran out."""

from __future__ import annotations

import sqlalchemy as sa

from opendrs.domain.compare import CompareStatus
from opendrs.store import compare as compare_store
from opendrs.store import database
from tests.unit import stores
from tests.unit.stores import NOW

TTL = 1000  # ms


def test_one_worker_claims_a_compare_task(engine: sa.Engine) -> None:
    compare_id = stores.compare_task(engine)
    with engine.connect() as connection:
        assert compare_store.claimable(connection, NOW - 1, 10) == []  # not due yet
        [(found, version)] = compare_store.claimable(connection, NOW, 10)
    assert found == compare_id
    with database.writing(engine) as connection:
        first = compare_store.claim(connection, compare_id, version, "worker-a", NOW, TTL)
    with database.writing(engine) as connection:
        second = compare_store.claim(connection, compare_id, version, "worker-b", NOW, TTL)
    assert first is not None and second is None
    with engine.connect() as connection:
        assert compare_store.claimable(connection, NOW + TTL - 1, 10) == []
        # The holder died: once its lease ran out, another worker may take the task over.
        [(_, seen)] = compare_store.claimable(connection, NOW + TTL + 1, 10)
    with database.writing(engine) as connection:
        taken = compare_store.claim(connection, compare_id, seen, "worker-b", NOW + TTL + 1, TTL)
        assert taken is not None
        assert not compare_store.renew(connection, first, NOW + TTL + 2, TTL)  # the old holder is fenced off
        assert not compare_store.finish(connection, first, NOW + TTL + 2, report={"tables": []})
        assert compare_store.finish(connection, taken, NOW + TTL + 3, report={"tables": [], "missing_databases": []})
        record = compare_store.get(connection, compare_id)
    assert record is not None and record.status is CompareStatus.SUCCESSFUL and record.end_time == NOW + TTL + 3


def test_a_cancelled_compare_task_is_not_finished_by_its_worker(engine: sa.Engine) -> None:
    compare_id = stores.compare_task(engine)
    with database.writing(engine) as connection:
        lease = compare_store.claim(connection, compare_id, 0, "worker-a", NOW, TTL)
        assert lease is not None
        compare_store.cancel(connection, [compare_id], NOW + 1)
        assert not compare_store.renew(connection, lease, NOW + 2, TTL)
        assert not compare_store.finish(connection, lease, NOW + 2, report={"tables": []})
        record = compare_store.get(connection, compare_id)
    assert record is not None and record.status is CompareStatus.CANCELLED

"""The compare runner claims the compare tasks due, but never one it already runs: a lease of its own that lapsed
(its heartbeat was late on a loaded machine) must not start the same comparison a second time."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from opendrs.engine.compare import CompareRunner
from opendrs.keys import Keys
from opendrs.store import database
from opendrs.store.compare import CompareLease
from opendrs.store.schema import compare_tasks
from tests.harness import wait_for
from tests.unit import stores


def test_a_lapsed_lease_of_a_running_comparison_is_not_claimed_again_by_its_runner(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    compare_id = stores.compare_task(engine)
    release = threading.Event()
    runs: list[int] = []

    def compare(self: CompareRunner, lease: CompareLease, lost: threading.Event) -> None:
        runs.append(lease.version)
        release.wait(30)  # a long comparison

    monkeypatch.setattr(CompareRunner, "_compare", compare)
    runner = CompareRunner(engine, Keys(b"k" * 32), "worker-a", lease_ttl_seconds=30, finished=lambda: None)
    try:
        assert runner.run_once() == 1
        wait_for(lambda: runs, "the comparison to start")
        with database.writing(engine) as connection:  # its lease lapses, as when the heartbeat comes late
            connection.execute(
                compare_tasks.update().where(compare_tasks.c.id == compare_id).values(lease_expires_at=0)
            )
        assert runner.run_once() == 0
        assert runs == [1]
    finally:
        release.set()
        runner.stop()
    with engine.connect() as connection:
        held = connection.execute(
            sa.select(compare_tasks.c.lease_owner, compare_tasks.c.lease_version).where(
                compare_tasks.c.id == compare_id
            )
        ).one()
    assert tuple(held) == ("worker-a", 1)  # claimed once

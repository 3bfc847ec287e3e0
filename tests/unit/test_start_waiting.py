"""leases.start_waiting: the cheap look an idle worker takes at every poll, so that a task the user just started
is claimed at once rather than at the worker's next full look for work (once a second)."""

from __future__ import annotations

import sqlalchemy as sa

from opendrs.domain.states import TaskStatus
from opendrs.store import database, leases
from opendrs.store import tasks as task_store
from tests.unit import stores
from tests.unit.stores import NOW

TTL = 1000  # ms


def _insert(engine: sa.Engine, status: TaskStatus) -> str:
    task = stores.task(status=status)
    with database.writing(engine) as connection:
        task_store.insert(connection, [task_store.NewTask(task, {})])
    return task.id


def _start_waiting(engine: sa.Engine, now: int) -> bool:
    with engine.connect() as connection:
        return leases.start_waiting(connection, now)


def test_a_started_task_nobody_holds_is_waiting_until_a_worker_claims_it(engine: sa.Engine) -> None:
    task_id = _insert(engine, TaskStatus.STARTJOBING)
    assert _start_waiting(engine, NOW)
    with database.writing(engine) as connection:
        assert leases.claim(connection, task_id, 0, "worker-a", NOW, TTL) is not None
    assert not _start_waiting(engine, NOW + TTL - 1)
    assert _start_waiting(engine, NOW + TTL + 1)  # its worker died before it got going: free again


def test_tasks_in_other_statuses_are_not_waiting_to_start(engine: sa.Engine) -> None:
    _insert(engine, TaskStatus.CONFIGURATION)
    assert not _start_waiting(engine, NOW)

"""A phase that raises what no phase expects (a defect, an error nobody classified) fails its task with the cause
on it. Before, the exception killed the task's thread and released the lease, and the worker claimed the task
again at once: a loop of tracebacks, many a second, and a task left in STARTJOBING with no error to show."""

from __future__ import annotations

import sqlalchemy as sa

from opendrs.connectors.mysql.chunks import ChunkSize
from opendrs.domain.states import TaskStatus
from opendrs.domain.times import now_ms
from opendrs.engine.runner import Runner, TaskContext
from opendrs.keys import Keys
from opendrs.store import database, history, leases
from opendrs.store import tasks as task_store
from tests.unit import stores

TTL = 60_000  # ms


def test_an_unexpected_error_fails_the_task_once_with_its_cause(engine: sa.Engine) -> None:
    task = stores.task(status=TaskStatus.STARTJOBING)
    with database.writing(engine) as connection:
        task_store.insert(connection, [task_store.NewTask(task, {})])
        lease = leases.claim(connection, task.id, 0, "worker-a", now_ms(), TTL)
    assert lease is not None
    calls = 0

    def phase(context: TaskContext) -> None:
        nonlocal calls
        calls += 1
        raise UnicodeError("label empty or too long")

    runner = Runner(engine, Keys(b"k" * 32), lease, {TaskStatus.STARTJOBING: phase}, TTL, 60.0, ChunkSize())
    runner.run()  # returns: the failure is the task's, not the thread's

    with engine.connect() as connection:
        failed = task_store.get_many_by_id(connection, [task.id])[task.id]
        events = history.events(connection, [task.id])[task.id]
    assert calls == 1  # not retried: nothing says a retry could help
    assert failed.status is TaskStatus.START_JOB_FAILED
    assert failed.error_code == "DRS.M05204"
    assert failed.error_msg is not None
    assert "internal error: UnicodeError('label empty or too long')" in failed.error_msg
    assert [(event.level, event.error_code) for event in events] == [("error", "DRS.M05204")]

"""Which stopped tasks get their source's triggers and events on the target (Task.ends_with_final_objects): those
that replicated into a whole copy. A full-only task creates them at the end of its copy instead."""

from __future__ import annotations

import pytest

from opendrs.domain.states import TaskStatus
from tests.unit import stores

S = TaskStatus


@pytest.mark.parametrize(
    ("task_type", "status", "paused_from", "copied", "expected"),
    [
        ("FULL_INCR_TRANS", S.INCRE_TRANSFER_STARTED, None, 1, True),
        ("FULL_INCR_TRANS", S.INCRE_TRANSFER_FAILED, None, 1, True),
        ("FULL_INCR_TRANS", S.PAUSING, S.INCRE_TRANSFER_STARTED, 1, True),
        ("FULL_INCR_TRANS", S.FULL_TRANSFER_STARTED, None, None, False),  # the target holds part of the rows
        ("FULL_INCR_TRANS", S.PAUSING, S.FULL_TRANSFER_STARTED, None, False),
        ("INCR_TRANS", S.INCRE_TRANSFER_STARTED, None, None, True),  # the user made the copy
        ("INCR_TRANS", S.PAUSING, S.INCRE_TRANSFER_STARTED, None, True),
        ("INCR_TRANS", S.START_JOB_FAILED, None, None, False),  # never replicated
        ("FULL_TRANS", S.FULL_TRANSFER_COMPLETE, None, 1, False),  # created them at the end of its copy
    ],
)
def test_tasks_that_replicate_into_a_whole_copy_end_with_their_triggers_and_events(
    task_type: str, status: TaskStatus, paused_from: TaskStatus | None, copied: int | None, expected: bool
) -> None:
    task = stores.task(task_type=task_type, status=status, paused_from=paused_from, full_transfer_complete_time=copied)
    assert task.ends_with_final_objects is expected

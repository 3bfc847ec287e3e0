"""The task status machine (opendrs.domain.states) against spec/API.md 6.2."""

from __future__ import annotations

import pytest

from opendrs.domain.states import (
    ACTIONS,
    TRANSITIONS,
    UNOFFERED_ACTIONS,
    Event,
    TaskStatus,
    available_actions,
    resume_status,
    target_of,
)

S = TaskStatus

# API.md 6.2, "terminate (stop)" row (UMN): CREATING, CONFIGURATION, WAITING_FOR_START, FULL_TRANSFER_STARTED/FAILED,
# INCRE_TRANSFER_STARTED/FAILED, PAUSING, REBUILD_NODE_* but not while rectifying (REBUILD_NODE_STARTED).
UMN_STOPPABLE = frozenset(
    {
        S.CREATING,
        S.CONFIGURATION,
        S.WAITING_FOR_START,
        S.FULL_TRANSFER_STARTED,
        S.FULL_TRANSFER_FAILED,
        S.INCRE_TRANSFER_STARTED,
        S.INCRE_TRANSFER_FAILED,
        S.PAUSING,
        S.REBUILD_NODE_FAILED,
    }
)
# The transition graph adds: RELEASE_RESOURCE_FAILED --terminate/force_terminate--> RELEASE_RESOURCE_STARTED.
# opendrs also lets a user stop a task whose start, change, or full-only transfer has finished or failed.
STOPPABLE = UMN_STOPPABLE | {
    S.RELEASE_RESOURCE_FAILED,
    S.START_JOB_FAILED,
    S.FULL_TRANSFER_COMPLETE,
    S.CHANGE_JOB_FAILED,
}
NEVER_STOPPABLE = frozenset(
    {
        S.RELEASE_RESOURCE_COMPLETE,
        S.RELEASE_RESOURCE_STARTED,
        S.DELETED,
        S.CREATE_FAILED,
        S.REBUILD_NODE_STARTED,
    }
)
# API.md 6.2, "delete" row (OTC).
DELETABLE = frozenset({S.CREATE_FAILED, S.RELEASE_RESOURCE_COMPLETE, S.RELEASE_CHILD_TRANSFER_COMPLETE})
# API.md 6.2, "batch-pause-task" row (OTC).
PAUSABLE = frozenset(
    {
        S.FULL_TRANSFER_STARTED,
        S.FULL_TRANSFER_FAILED,
        S.FULL_TRANSFER_COMPLETE,
        S.INCRE_TRANSFER_STARTED,
        S.INCRE_TRANSFER_FAILED,
    }
)

# The whole machine (API.md 6.2 transition graph). RETRY from PAUSING depends on where the task was paused:
# see test_retry_resumes_where_the_task_was_paused.
EXPECTED: dict[Event, dict[TaskStatus, TaskStatus]] = {
    Event.PROVISIONED: {S.CREATING: S.CONFIGURATION},
    Event.PROVISION_FAILED: {S.CREATING: S.CREATE_FAILED},
    Event.SCHEDULE: {S.CONFIGURATION: S.WAITING_FOR_START},
    Event.START: {S.CONFIGURATION: S.STARTJOBING, S.WAITING_FOR_START: S.STARTJOBING},
    Event.START_FAILED: {S.STARTJOBING: S.START_JOB_FAILED},
    Event.FULL_STARTED: {S.STARTJOBING: S.FULL_TRANSFER_STARTED},
    Event.FULL_COMPLETED: {S.FULL_TRANSFER_STARTED: S.FULL_TRANSFER_COMPLETE},
    Event.FULL_FAILED: {S.FULL_TRANSFER_STARTED: S.FULL_TRANSFER_FAILED, S.STARTJOBING: S.START_JOB_FAILED},
    Event.INCREMENTAL_STARTED: {
        S.STARTJOBING: S.INCRE_TRANSFER_STARTED,
        S.FULL_TRANSFER_COMPLETE: S.INCRE_TRANSFER_STARTED,
    },
    Event.INCREMENTAL_FAILED: {S.INCRE_TRANSFER_STARTED: S.INCRE_TRANSFER_FAILED},
    Event.PAUSE: dict.fromkeys(PAUSABLE, S.PAUSING),
    Event.RETRY: {
        S.START_JOB_FAILED: S.STARTJOBING,
        S.FULL_TRANSFER_FAILED: S.FULL_TRANSFER_STARTED,
        S.INCRE_TRANSFER_FAILED: S.INCRE_TRANSFER_STARTED,
    },
    Event.TERMINATE: dict.fromkeys(STOPPABLE, S.RELEASE_RESOURCE_STARTED),
    Event.FORCE_TERMINATE: dict.fromkeys(STOPPABLE, S.RELEASE_RESOURCE_STARTED),
    Event.RELEASED: {S.RELEASE_RESOURCE_STARTED: S.RELEASE_RESOURCE_COMPLETE},
    Event.RELEASE_FAILED: {S.RELEASE_RESOURCE_STARTED: S.RELEASE_RESOURCE_FAILED},
    Event.DELETE: dict.fromkeys(DELETABLE, S.DELETED),
}


def test_every_event_has_a_transition_table() -> None:
    assert set(TRANSITIONS) == set(Event)


@pytest.mark.parametrize("event", list(Event))
@pytest.mark.parametrize("status", list(TaskStatus))
def test_transition(event: Event, status: TaskStatus) -> None:
    if event is Event.RETRY and status is S.PAUSING:
        assert status in TRANSITIONS[event]  # legal; the target is resolved from where it was paused
        return
    assert target_of(event, status) == EXPECTED[event].get(status)


@pytest.mark.parametrize(
    ("paused_from", "resumed"),
    [
        (S.FULL_TRANSFER_STARTED, S.FULL_TRANSFER_STARTED),
        (S.FULL_TRANSFER_FAILED, S.FULL_TRANSFER_STARTED),
        (S.FULL_TRANSFER_COMPLETE, S.FULL_TRANSFER_COMPLETE),
        (S.INCRE_TRANSFER_STARTED, S.INCRE_TRANSFER_STARTED),
        (S.INCRE_TRANSFER_FAILED, S.INCRE_TRANSFER_STARTED),
    ],
)
def test_retry_resumes_where_the_task_was_paused(paused_from: TaskStatus, resumed: TaskStatus) -> None:
    assert paused_from in PAUSABLE
    assert target_of(Event.PAUSE, paused_from) is S.PAUSING
    assert resume_status(paused_from) is resumed
    assert target_of(Event.RETRY, S.PAUSING, paused_from) is resumed


@pytest.mark.parametrize("paused_from", [None, S.CONFIGURATION, S.STARTJOBING, S.PAUSING])
def test_retry_of_a_pause_from_nowhere_is_refused(paused_from: TaskStatus | None) -> None:
    assert resume_status(paused_from) is None
    assert target_of(Event.RETRY, S.PAUSING, paused_from) is None


def test_paused_from_only_matters_to_retry_from_pausing() -> None:
    for event in Event:
        for status in TaskStatus:
            if (event, status) != (Event.RETRY, S.PAUSING):
                assert target_of(event, status, S.INCRE_TRANSFER_STARTED) == target_of(event, status)


@pytest.mark.parametrize("event", [Event.TERMINATE, Event.FORCE_TERMINATE])
@pytest.mark.parametrize("status", sorted(UMN_STOPPABLE))
def test_stop_is_allowed_where_the_umn_allows_it(event: Event, status: TaskStatus) -> None:
    assert target_of(event, status) is S.RELEASE_RESOURCE_STARTED


@pytest.mark.parametrize("event", [Event.TERMINATE, Event.FORCE_TERMINATE])
@pytest.mark.parametrize("status", sorted(NEVER_STOPPABLE))
def test_stop_is_refused_on_a_stopped_deleted_failed_or_rectifying_task(event: Event, status: TaskStatus) -> None:
    assert target_of(event, status) is None


def test_delete_only_from_the_three_documented_states() -> None:
    allowed = {status for status in TaskStatus if target_of(Event.DELETE, status) is not None}
    assert allowed == DELETABLE
    assert {target_of(Event.DELETE, status) for status in allowed} == {S.DELETED}


def test_a_deleted_task_is_final() -> None:
    assert [event for event in Event if target_of(event, S.DELETED) is not None] == []


def test_every_target_is_a_known_status_and_no_event_loops() -> None:
    for event, table in TRANSITIONS.items():
        for source in table:
            target = target_of(event, source, S.INCRE_TRANSFER_STARTED)
            assert isinstance(source, TaskStatus) and isinstance(target, TaskStatus), event
            assert source is not target, f"{event}: {source} -> itself"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.CREATING, ["FREE_RESOURCE"]),
        (S.CONFIGURATION, ["FREE_RESOURCE", "START"]),
        (S.WAITING_FOR_START, ["FREE_RESOURCE"]),  # batch-starting refuses it: the worker starts it on time
        (S.START_JOB_FAILED, ["FREE_RESOURCE", "RETRY"]),
        (S.FULL_TRANSFER_STARTED, ["FREE_RESOURCE", "PAUSE"]),
        (S.INCRE_TRANSFER_STARTED, ["FREE_RESOURCE", "PAUSE"]),
        (S.INCRE_TRANSFER_FAILED, ["FREE_RESOURCE", "PAUSE", "RETRY"]),
        (S.PAUSING, ["FREE_RESOURCE", "RETRY"]),
        (S.RELEASE_RESOURCE_FAILED, ["FREE_RESOURCE"]),
        (S.CREATE_FAILED, ["DELETE"]),
        (S.RELEASE_RESOURCE_COMPLETE, ["DELETE"]),
        (S.RELEASE_CHILD_TRANSFER_COMPLETE, ["DELETE"]),
        (S.RELEASE_RESOURCE_STARTED, []),
        (S.STARTJOBING, []),
        (S.REBUILD_NODE_STARTED, []),
        (S.DELETED, []),
    ],
)
def test_available_actions(status: TaskStatus, expected: list[str]) -> None:
    assert available_actions(status) == expected


@pytest.mark.parametrize("status", list(TaskStatus))
def test_available_actions_follow_the_transitions(status: TaskStatus) -> None:
    offered = set(available_actions(status))
    # A paused task always knows where it was paused.
    legal = {name for name, event in ACTIONS.items() if target_of(event, status, S.INCRE_TRANSFER_STARTED) is not None}
    if status is S.WAITING_FOR_START:
        legal.discard("START")  # the worker's move when the time comes; batch-starting refuses it
    assert offered == legal
    assert ("DELETE" in offered) == (status in DELETABLE)
    assert ("FREE_RESOURCE" in offered) == (status in STOPPABLE)
    assert ("PAUSE" in offered) == (status in PAUSABLE)


def test_offered_and_unoffered_actions_are_disjoint() -> None:
    assert set(ACTIONS) == {"DELETE", "FREE_RESOURCE", "START", "PAUSE", "RETRY"}
    assert not set(ACTIONS) & set(UNOFFERED_ACTIONS)
    assert len(set(UNOFFERED_ACTIONS)) == len(UNOFFERED_ACTIONS)

"""The task status machine of spec/API.md section 6, as data.

The API (an illegal request answers DRS.M00304 / a per-job DRS.M01504) and the store's guarded
UPDATE (an illegal transition changes nothing) both read the one TRANSITIONS table below.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class TaskStatus(enum.StrEnum):
    CREATING = "CREATING"  # being provisioned
    CREATE_FAILED = "CREATE_FAILED"
    CONFIGURATION = "CONFIGURATION"  # ready; endpoints and objects being configured
    STARTJOBING = "STARTJOBING"  # being started
    WAITING_FOR_START = "WAITING_FOR_START"  # start scheduled for a later time
    START_JOB_FAILED = "START_JOB_FAILED"
    PAUSING = "PAUSING"  # paused (the SDK's 已暂停), despite the -ING
    FULL_TRANSFER_STARTED = "FULL_TRANSFER_STARTED"
    FULL_TRANSFER_FAILED = "FULL_TRANSFER_FAILED"
    FULL_TRANSFER_COMPLETE = "FULL_TRANSFER_COMPLETE"
    INCRE_TRANSFER_STARTED = "INCRE_TRANSFER_STARTED"
    INCRE_TRANSFER_FAILED = "INCRE_TRANSFER_FAILED"
    RELEASE_RESOURCE_STARTED = "RELEASE_RESOURCE_STARTED"  # stopping
    RELEASE_RESOURCE_FAILED = "RELEASE_RESOURCE_FAILED"
    RELEASE_RESOURCE_COMPLETE = "RELEASE_RESOURCE_COMPLETE"  # stopped
    CHANGE_JOB_STARTED = "CHANGE_JOB_STARTED"
    CHANGE_JOB_FAILED = "CHANGE_JOB_FAILED"
    CHILD_TRANSFER_STARTING = "CHILD_TRANSFER_STARTING"
    CHILD_TRANSFER_STARTED = "CHILD_TRANSFER_STARTED"
    CHILD_TRANSFER_COMPLETE = "CHILD_TRANSFER_COMPLETE"
    CHILD_TRANSFER_FAILED = "CHILD_TRANSFER_FAILED"
    RELEASE_CHILD_TRANSFER_STARTED = "RELEASE_CHILD_TRANSFER_STARTED"
    RELEASE_CHILD_TRANSFER_COMPLETE = "RELEASE_CHILD_TRANSFER_COMPLETE"
    REBUILD_NODE_STARTED = "REBUILD_NODE_STARTED"
    REBUILD_NODE_FAILED = "REBUILD_NODE_FAILED"
    DELETED = "DELETED"  # kept as a record, never listed
    NODE_UPGRADE_START = "NODE_UPGRADE_START"
    NODE_UPGRADE_COMPLETE = "NODE_UPGRADE_COMPLETE"
    NODE_UPGRADE_FAILED = "NODE_UPGRADE_FAILED"


S = TaskStatus

FAILED = frozenset(
    {
        S.CREATE_FAILED,
        S.START_JOB_FAILED,
        S.FULL_TRANSFER_FAILED,
        S.INCRE_TRANSFER_FAILED,
        S.RELEASE_RESOURCE_FAILED,
        S.CHANGE_JOB_FAILED,
        S.CHILD_TRANSFER_FAILED,
        S.REBUILD_NODE_FAILED,
        S.NODE_UPGRADE_FAILED,
    }
)
# A task in one of these holds (or will hold) a worker.
RUNNING = frozenset(
    {
        S.STARTJOBING,
        S.FULL_TRANSFER_STARTED,
        S.FULL_TRANSFER_COMPLETE,
        S.INCRE_TRANSFER_STARTED,
        S.CHANGE_JOB_STARTED,
        S.CHILD_TRANSFER_STARTING,
        S.CHILD_TRANSFER_STARTED,
    }
)
# Where the incremental phase is (or was) under way: only there does a delay mean something.
INCREMENTAL = frozenset({S.INCRE_TRANSFER_STARTED, S.INCRE_TRANSFER_FAILED})


class Event(enum.StrEnum):
    """What moves a task: a user's request or the engine's report."""

    PROVISIONED = "provisioned"
    PROVISION_FAILED = "provision_failed"
    SCHEDULE = "schedule"  # batch-starting with a start_time in the future
    START = "start"  # batch-starting now, or the scheduled time reached
    START_FAILED = "start_failed"
    FULL_STARTED = "full_started"
    FULL_COMPLETED = "full_completed"
    FULL_FAILED = "full_failed"
    INCREMENTAL_STARTED = "incremental_started"
    INCREMENTAL_FAILED = "incremental_failed"
    PAUSE = "pause"
    RETRY = "retry"  # batch-retry-task: resume a paused or failed task where it stopped
    TERMINATE = "terminate"
    FORCE_TERMINATE = "force_terminate"
    RELEASED = "released"
    RELEASE_FAILED = "release_failed"
    DELETE = "delete"


PAUSABLE = frozenset(
    {
        S.FULL_TRANSFER_STARTED,
        S.FULL_TRANSFER_FAILED,
        S.FULL_TRANSFER_COMPLETE,
        S.INCRE_TRANSFER_STARTED,
        S.INCRE_TRANSFER_FAILED,
    }
)
# Statuses in which a worker holds the task and moves data.
RUNNABLE = frozenset({S.STARTJOBING, S.FULL_TRANSFER_STARTED, S.FULL_TRANSFER_COMPLETE, S.INCRE_TRANSFER_STARTED})

_STOPPABLE = frozenset(
    {
        S.CREATING,
        S.CONFIGURATION,
        S.WAITING_FOR_START,
        S.START_JOB_FAILED,
        S.FULL_TRANSFER_STARTED,
        S.FULL_TRANSFER_FAILED,
        S.FULL_TRANSFER_COMPLETE,
        S.INCRE_TRANSFER_STARTED,
        S.INCRE_TRANSFER_FAILED,
        S.PAUSING,
        S.RELEASE_RESOURCE_FAILED,
        S.REBUILD_NODE_FAILED,
        S.CHANGE_JOB_FAILED,
    }
)


def _all_to(sources: frozenset[TaskStatus], target: TaskStatus) -> Mapping[TaskStatus, TaskStatus]:
    return {source: target for source in sources}


# Event -> {from status: to status}. A status absent from an event's map makes the event illegal there.
TRANSITIONS: Mapping[Event, Mapping[TaskStatus, TaskStatus]] = {
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
    Event.PAUSE: _all_to(PAUSABLE, S.PAUSING),
    # From PAUSING the task goes back to where it was paused: see resume_status().
    Event.RETRY: {
        S.START_JOB_FAILED: S.STARTJOBING,
        S.FULL_TRANSFER_FAILED: S.FULL_TRANSFER_STARTED,
        S.INCRE_TRANSFER_FAILED: S.INCRE_TRANSFER_STARTED,
        S.PAUSING: S.PAUSING,
    },
    Event.TERMINATE: _all_to(_STOPPABLE, S.RELEASE_RESOURCE_STARTED),
    Event.FORCE_TERMINATE: _all_to(_STOPPABLE, S.RELEASE_RESOURCE_STARTED),
    Event.RELEASED: {S.RELEASE_RESOURCE_STARTED: S.RELEASE_RESOURCE_COMPLETE},
    Event.RELEASE_FAILED: {S.RELEASE_RESOURCE_STARTED: S.RELEASE_RESOURCE_FAILED},
    Event.DELETE: _all_to(
        frozenset({S.CREATE_FAILED, S.RELEASE_RESOURCE_COMPLETE, S.RELEASE_CHILD_TRANSFER_COMPLETE}),
        S.DELETED,
    ),
}


def target_of(event: Event, status: TaskStatus, paused_from: TaskStatus | None = None) -> TaskStatus | None:
    """The status `event` moves a task in `status` to, or None where the event is illegal.

    `paused_from` is the status a PAUSING task was paused in; RETRY resumes it there.
    """
    target = TRANSITIONS[event].get(status)
    if event is Event.RETRY and status is S.PAUSING:
        return resume_status(paused_from)
    return target


def resume_status(paused_from: TaskStatus | None) -> TaskStatus | None:
    """Where a paused task resumes: its phase, running again (a failed phase is retried)."""
    if paused_from in (S.FULL_TRANSFER_STARTED, S.FULL_TRANSFER_FAILED):
        return S.FULL_TRANSFER_STARTED
    if paused_from in (S.INCRE_TRANSFER_STARTED, S.INCRE_TRANSFER_FAILED):
        return S.INCRE_TRANSFER_STARTED
    if paused_from is S.FULL_TRANSFER_COMPLETE:
        return S.FULL_TRANSFER_COMPLETE
    return None


# The list API's job_action: console action name -> the event behind it.
ACTIONS: Mapping[str, Event] = {
    "DELETE": Event.DELETE,
    "FREE_RESOURCE": Event.TERMINATE,
    "START": Event.START,
    "PAUSE": Event.PAUSE,
    "RETRY": Event.RETRY,
}
# Actions that exist in the cloud console but that opendrs does not offer (yet) on any status.
UNOFFERED_ACTIONS = ("RESET", "CLONE")


# batch-starting starts a task in CONFIGURATION only; START also moves a WAITING_FOR_START task on, but that is
# the worker's, when the time comes.
_USER_STARTABLE = frozenset({S.CONFIGURATION})


def available_actions(status: TaskStatus) -> list[str]:
    return [
        name
        for name, event in ACTIONS.items()
        if status in TRANSITIONS[event] and (event is not Event.START or status in _USER_STARTABLE)
    ]


class AsyncJobStatus(enum.StrEnum):
    """Status of a v5 batch-async job (spec/API.md 6.3)."""

    VALIDATING = "ASYNC_JOB_VALIDATING"
    VALIDATE_FAILED = "ASYNC_JOB_VALIDATE_FAILED"
    VALIDATE_SUCCESS = "AUTO_PARAM_VALIDATE_SUCCESS"
    COMMIT_SUCCESS = "COMMIT_SUCCESS"


class OperationStatus(enum.StrEnum):
    """Status of an asynchronous operation and of its sub-jobs (ECS contract, spec/API.md 6.4)."""

    INIT = "INIT"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"


OPERATION_DONE = frozenset({OperationStatus.SUCCESS, OperationStatus.FAIL})

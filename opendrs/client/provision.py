"""`opendrs job create`: a task file becomes a configured (and optionally started) task, in the documented order
of calls: creation, connection tests, endpoints, objects, speed limits, precheck, start."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

from opendrs.client.api import DrsApi, JobResult
from opendrs.client.errors import ApiError, TaskFailedError
from opendrs.client.spec import TaskSpec

CREATION_DEADLINE = 60.0  # seconds for a new task to reach CONFIGURATION
PRECHECK_DEADLINE = 300.0  # seconds for a precheck to finish
POLL_SECONDS = 0.5

Report = Callable[[str], None]


@dataclasses.dataclass
class Provisioned:
    job_id: str
    name: str
    status: str = "CONFIGURATION"
    started: bool = False
    precheck: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.job_id, "name": self.name, "status": self.status, "started": self.started}


class PrecheckFailedError(TaskFailedError):
    """The precheck did not pass: the task stays in CONFIGURATION."""


def provision(api: DrsApi, spec: TaskSpec, start: bool, report: Report) -> Provisioned:
    """Configure the task the file describes; start it when asked (`start`, or `start:` in the file).
    A step that fails raises with the task's id in the message, so the user can fix and retry or delete it."""
    created = api.create(spec.creation())
    done = Provisioned(created["id"], created.get("name", spec.name), created.get("status", "CREATING"))
    report(f"created task {done.job_id} ({done.name})")
    with naming(done.job_id):
        done.status = _wait_configuration(api, done.job_id)
        _require(api.test_connections(spec.connection_tests(done.job_id)), "connection test", ("source", "target"))
        report("connection tests passed (source and target)")
        _require(api.modify([spec.modification(done.job_id)]), "endpoint configuration")
        _require(api.select_objects([spec.selection(done.job_id)]), "object selection")
        report("objects selected: " + ("the whole instance" if spec.whole_instance else _objects(spec)))
        if spec.speed_limits:
            _require(api.limit_speed([spec.speed_limit(done.job_id)]), "speed limits")
            report(f"speed limits set: {len(spec.speed_limits)} window(s)")
        done.precheck = precheck(api, done.job_id, report)
        if start or spec.start is not None:
            _require(api.start([done.job_id], None if start else spec.start_time()), "start")
            done.started = True
            [status] = api.status([done.job_id])
            done.status = str(status.get("status", done.status))
            report(f"started: {done.status}")
    return done


@contextlib.contextmanager
def naming(job_id: str) -> Iterator[None]:
    """A step that fails inside raises with the task's id in its message."""
    try:
        yield
    except (ApiError, TaskFailedError) as exc:
        raise type(exc)(f"task {job_id}: {exc.message}", exc.error_code, job_id) from None


def _objects(spec: TaskSpec) -> str:
    names = [f"{db.name} as {db.rename}" if db.rename else db.name for db in spec.databases]
    names += [f"{database}.{table}" for database, table in spec.tables]
    return ", ".join(names)


def _require(results: list[JobResult], step: str, roles: tuple[str, ...] = ()) -> None:
    for position, result in enumerate(results):
        if not result.ok:
            role = f" of the {roles[position]}" if position < len(roles) else ""
            raise ApiError(f"{step}{role} failed: {result.message or 'no reason given'}", result.error_code)


def _wait_configuration(api: DrsApi, job_id: str) -> str:
    end = time.monotonic() + CREATION_DEADLINE
    while True:
        [entry] = api.status([job_id])
        status = str(entry.get("status"))
        if status == "CONFIGURATION":
            return status
        if status == "CREATE_FAILED":
            raise TaskFailedError(f"creation failed: {entry.get('error_message') or status}", entry.get("error_code"))
        if time.monotonic() > end:
            raise TaskFailedError(f"still {status} after {CREATION_DEADLINE:.0f} s (expected CONFIGURATION)")
        time.sleep(POLL_SECONDS)


def precheck(api: DrsApi, job_id: str, report: Report) -> dict[str, Any]:
    """Run the task's precheck and wait for it; report its alarms. PrecheckFailedError names the failed items."""
    _require(api.precheck([job_id]), "precheck")
    report("precheck running")
    end = time.monotonic() + PRECHECK_DEADLINE
    while True:
        [result] = api.precheck_results([job_id])
        if result.get("error_code"):
            raise ApiError(f"precheck result: {result.get('error_msg')}", result["error_code"])
        if result.get("process") == "100%":
            break
        if time.monotonic() > end:
            raise TaskFailedError(f"the precheck did not finish within {PRECHECK_DEADLINE:.0f} s")
        time.sleep(POLL_SECONDS)
    items = result.get("precheck_result") or []
    for item in items:
        if item.get("result") == "ALARM":
            report(f"precheck warning: {item.get('item')}: {item.get('failed_reason') or ''}".rstrip(": "))
    if result.get("result") is not True:
        failures = [
            f"{item.get('item')}: {item.get('failed_reason')}" for item in items if item.get("result") == "FAILED"
        ]
        raise PrecheckFailedError("precheck failed: " + ("; ".join(failures) or "no item passed"))
    report(f"precheck passed ({result.get('total_passed_rate', '100%')})")
    return result

"""GET /v1/{project_id}/jobs/{job_id}: the ECS-style operation behind batch creation and batch deletion.

Most tests run against the shared servers, whose worker settles operations within milliseconds. The pending
states are shown on a server of its own whose worker sleeps, with an `opendrs worker` started when wanted.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.api import test_async_jobs as v5
from tests.harness import Api, Server, create_tenant, new_task_spec, serve, wait_for

CREATE = "/v3/{project_id}/jobs/batch-creation"
DELETE = "/v3/{project_id}/jobs/batch-jobs"
ISO_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
ORDER = {"INIT": 0, "RUNNING": 1, "SUCCESS": 2, "FAIL": 2}
SCHEMA_INVALID = "The transfer schema is invalid, please refer to supported transfer schema: "


def operation_path(operation_id: str) -> str:
    return f"/v1/{{project_id}}/jobs/{operation_id}"


def get_operation(api: Api, operation_id: str) -> dict[str, Any]:
    response = api.get(operation_path(operation_id))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def iso_millis(epoch_ms: str) -> str:
    moment = dt.datetime.fromtimestamp(int(epoch_ms) / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch_ms) % 1000:03d}Z"


def submit(api: Api, jobs: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.post(CREATE, {"jobs": jobs})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def terminate(api: Api, *job_ids: str) -> str:
    response = api.delete(DELETE, {"jobs": [{"job_id": job_id, "delete_type": "terminate"} for job_id in job_ids]})
    assert response.status_code == 202, response.text
    operation_id: str = response.json()["job_id"]
    return operation_id


def watch(api: Api, operation_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every answer seen until the operation finished, checked for consistency, and the last one."""
    seen: list[dict[str, Any]] = []

    def finished() -> bool:
        seen.append(get_operation(api, operation_id))
        return seen[-1]["status"] in ("SUCCESS", "FAIL")

    wait_for(finished, f"operation {operation_id} to finish")
    ranks = [ORDER[answer["status"]] for answer in seen]
    assert ranks == sorted(ranks), [answer["status"] for answer in seen]
    for answer in seen[:-1]:
        assert answer["end_time"] is None, answer
    return seen, seen[-1]


def finished(api: Api, operation_id: str) -> dict[str, Any] | None:
    operation = get_operation(api, operation_id)
    return operation if operation["status"] in ("SUCCESS", "FAIL") else None


def check_times(operation: dict[str, Any]) -> None:
    """begin/end times are ISO-8601 UTC with milliseconds; nothing ends before it began."""
    for job in [operation, *operation["entities"]["sub_jobs"]]:
        assert ISO_MILLIS.match(job["begin_time"]), job
        assert ISO_MILLIS.match(job["end_time"]), job
        assert job["begin_time"] <= job["end_time"], job
        assert job["end_time"] <= operation["end_time"], job
        assert HEX32.match(job["job_id"]), job


def sub_job(
    job_type: str, status: str, task_id: str | None, error_code: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    """A finished sub-job as expected, its own id and times left out."""
    entities: dict[str, Any] = {}
    if task_id is not None:
        entities["drs_job_id"] = task_id
    if reason is not None:
        entities["errorcode_message"] = reason
    return {
        "status": status,
        "entities": entities,
        "job_type": job_type,
        "error_code": error_code,
        "fail_reason": reason,
    }


def without_ids_and_times(operation: dict[str, Any]) -> dict[str, Any]:
    def strip(job: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in job.items() if key not in ("job_id", "begin_time", "end_time")}

    entities = operation["entities"]
    return strip(operation) | {
        "entities": {**entities, "sub_jobs": [strip(sub) for sub in entities["sub_jobs"]]},
    }


# Batch creation -------------------------------------------------------------------------------------


def test_a_batch_creation_operation_succeeds_with_a_sub_job_per_task(api: Api) -> None:
    created = submit(api, [new_task_spec(), new_task_spec()])
    operation_id = created["job_id"]
    task_ids = [result["id"] for result in created["results"]]
    _, operation = watch(api, operation_id)

    assert without_ids_and_times(operation) == {
        "status": "SUCCESS",
        "entities": {
            "sub_jobs_total": 2,
            "sub_jobs": [sub_job("createJob", "SUCCESS", task_id) for task_id in task_ids],
        },
        "job_type": "batchCreateJobs",
        "error_code": None,
        "fail_reason": None,
    }
    assert operation["job_id"] == operation_id
    # The operation began when the tasks were created.
    assert operation["begin_time"] == iso_millis(created["results"][0]["create_time"])
    check_times(operation)
    # Explicit nulls on success (spec/API.md 2.4).
    assert "error_code" in operation
    assert operation["fail_reason"] is None
    # It succeeded because the tasks are ready.
    assert [api.status(task_id) for task_id in task_ids] == ["CONFIGURATION", "CONFIGURATION"]


def test_a_refused_job_fails_the_operation(api: Api) -> None:
    mongo = new_task_spec(
        engine_type="mongodb", source_endpoint={"db_type": "mongodb"}, target_endpoint={"db_type": "mongodb"}
    )
    created = submit(api, [new_task_spec(), mongo])
    task_id = created["results"][0]["id"]
    refusal = created["results"][1]
    assert refusal["error_code"] == "DRS.M00302"
    _, operation = watch(api, created["job_id"])

    assert without_ids_and_times(operation) == {
        "status": "FAIL",
        "entities": {
            "sub_jobs_total": 2,
            "sub_jobs": [
                sub_job("createJob", "SUCCESS", task_id),
                sub_job("createJob", "FAIL", None, "DRS.M00302", refusal["error_msg"]),
            ],
        },
        "job_type": "batchCreateJobs",
        "error_code": "DRS.M00302",
        "fail_reason": refusal["error_msg"],
    }
    check_times(operation)
    assert api.status(task_id) == "CONFIGURATION"


def test_an_operation_whose_every_job_was_refused_fails(api: Api) -> None:
    name = f"op-{new_task_spec()['name']}"
    api.create_tasks(1, name=name)
    created = submit(api, [new_task_spec(name=name)])
    _, operation = watch(api, created["job_id"])
    message = f"The task name already exists: {name}."
    assert without_ids_and_times(operation) == {
        "status": "FAIL",
        "entities": {"sub_jobs_total": 1, "sub_jobs": [sub_job("createJob", "FAIL", None, "DRS.M00277", message)]},
        "job_type": "batchCreateJobs",
        "error_code": "DRS.M00277",
        "fail_reason": message,
    }
    check_times(operation)


# Batch deletion -------------------------------------------------------------------------------------


def test_a_stop_operation_waits_for_the_release(api: Api) -> None:
    task_ids = api.create_tasks(2)
    operation_id = terminate(api, *task_ids)
    _, operation = watch(api, operation_id)
    assert without_ids_and_times(operation) == {
        "status": "SUCCESS",
        "entities": {
            "sub_jobs_total": 2,
            "sub_jobs": [sub_job("terminateJob", "SUCCESS", task_id) for task_id in task_ids],
        },
        "job_type": "batchDeleteJobs",
        "error_code": None,
        "fail_reason": None,
    }
    check_times(operation)
    # SUCCESS means released.
    assert [api.status(task_id) for task_id in task_ids] == ["RELEASE_RESOURCE_COMPLETE"] * 2


def test_a_delete_operation_reports_each_job(api: Api) -> None:
    stopped, configured = api.create_tasks(2)
    api.wait_operation(terminate(api, stopped))
    response = api.delete(
        DELETE,
        {"jobs": [{"job_id": stopped, "delete_type": "delete"}, {"job_id": configured, "delete_type": "delete"}]},
    )
    assert response.status_code == 202, response.text
    refusal = response.json()["results"][1]
    assert refusal["error_code"] == "DRS.M01504"
    _, operation = watch(api, response.json()["job_id"])
    assert without_ids_and_times(operation) == {
        "status": "FAIL",
        "entities": {
            "sub_jobs_total": 2,
            "sub_jobs": [
                sub_job("deleteJob", "SUCCESS", stopped),
                sub_job("deleteJob", "FAIL", configured, "DRS.M01504", refusal["error_msg"]),
            ],
        },
        "job_type": "batchDeleteJobs",
        "error_code": "DRS.M01504",
        "fail_reason": refusal["error_msg"],
    }
    check_times(operation)


# Reading -------------------------------------------------------------------------------------------


def test_an_unknown_operation_is_404(api: Api) -> None:
    unknown = "2c9eb2c5544cbf6101544f0635672b60"
    response = api.get(operation_path(unknown))
    assert response.status_code == 404
    message = f"The job {unknown} does not exist."
    # spec/API.md 2.4: the ECS answer names a failed query's fields `code` and `message`.
    assert response.json() == {"error_code": "Ecs.0404", "error_msg": message, "code": "Ecs.0404", "message": message}


def test_another_tenant_cannot_read_the_operation(api: Api, other_api: Api) -> None:
    operation_id = submit(api, [new_task_spec()])["job_id"]
    api.wait_operation(operation_id)
    response = other_api.get(operation_path(operation_id))
    assert response.status_code == 404
    assert response.json()["error_code"] == "Ecs.0404"
    # Nor through the owner's project id: the token is not valid for it.
    response = other_api.http.get(f"/v1/{api.project_id}/jobs/{operation_id}")
    assert response.status_code == 403
    assert response.json()["error_code"] == "DRS.M00261"


# Pending states, on a server whose worker sleeps ----------------------------------------------------


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A SQLite server without a worker: what it is asked to do waits until a test starts one."""
    data_dir = tmp_path_factory.mktemp("idle-worker") / "data"
    with serve(data_dir, no_worker=True) as server, Api(server, create_tenant(server)) as client:
        yield client


@contextmanager
def worker(server: Server) -> Iterator[None]:
    """An `opendrs worker` process on the server's store, for the duration of the block."""
    log = Path(server.env["OPENDRS_DATA_DIR"]) / "worker.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "opendrs", "worker"],
            env=server.env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_operations_are_pending_until_a_worker_acts(idle: Api) -> None:
    created = submit(idle, [new_task_spec(), new_task_spec()])
    task_ids = [result["id"] for result in created["results"]]
    begin = iso_millis(created["results"][0]["create_time"])
    pending = get_operation(idle, created["job_id"])
    for sub in pending["entities"]["sub_jobs"]:
        assert HEX32.match(sub.pop("job_id")), sub
    assert pending == {
        "status": "INIT",
        "entities": {
            "sub_jobs_total": 2,
            "sub_jobs": [
                {
                    "status": "INIT",
                    "entities": {"drs_job_id": task_id},
                    "job_type": "createJob",
                    "begin_time": begin,
                    "end_time": None,
                    "error_code": None,
                    "fail_reason": None,
                }
                for task_id in task_ids
            ],
        },
        "job_id": created["job_id"],
        "job_type": "batchCreateJobs",
        "begin_time": begin,
        "end_time": None,
        "error_code": None,
        "fail_reason": None,
    }
    assert [idle.status(task_id) for task_id in task_ids] == ["CREATING", "CREATING"]

    with worker(idle.server):
        _, operation = watch(idle, created["job_id"])
    assert operation["status"] == "SUCCESS"
    assert [idle.status(task_id) for task_id in task_ids] == ["CONFIGURATION", "CONFIGURATION"]

    stop_id = terminate(idle, task_ids[0])
    stopping = get_operation(idle, stop_id)
    assert (stopping["status"], stopping["end_time"]) == ("INIT", None)
    assert [(sub["status"], sub["job_type"]) for sub in stopping["entities"]["sub_jobs"]] == [("INIT", "terminateJob")]
    assert idle.status(task_ids[0]) == "RELEASE_RESOURCE_STARTED"

    with worker(idle.server):
        _, operation = watch(idle, stop_id)
    assert operation["status"] == "SUCCESS"
    assert idle.status(task_ids[0]) == "RELEASE_RESOURCE_COMPLETE"


def test_a_command_wakes_the_idle_worker_of_its_host_at_once(tmp_path: Path) -> None:
    """`opendrs serve`'s worker sleeps between its polls, an hour here: the commands that give it work wake it,
    whichever HTTP process takes them."""
    with (
        serve(tmp_path / "data", OPENDRS_WORKER_POLL_SECONDS="3600") as server,
        Api(server, create_tenant(server)) as api,
    ):
        created = submit(api, [new_task_spec()])
        task_id = created["results"][0]["id"]
        wait_for(lambda: api.status(task_id) == "CONFIGURATION", "the creation to wake the worker", deadline=20)
        terminate(api, task_id)
        wait_for(lambda: api.status(task_id) == "RELEASE_RESOURCE_COMPLETE", "the stop to wake it", deadline=20)
        async_job_id = v5.submit(api, v5.job_spec())
        assert v5.settled(api, async_job_id, deadline=20) == v5.VALIDATED
        assert v5.commit(api, async_job_id).status_code == 200
        (entry,) = v5.detail(api, async_job_id)["jobs"]
        wait_for(lambda: api.status(entry["id"]) == "CONFIGURATION", "the commit to wake the worker", deadline=20)


def test_stopping_a_task_still_creating_ends_its_creation_operation(idle: Api) -> None:
    created = submit(idle, [new_task_spec()])
    [task_id] = [result["id"] for result in created["results"]]
    assert idle.status(task_id) == "CREATING"
    stop_id = terminate(idle, task_id)  # the contract lets a CREATING task be stopped (spec/API.md 6.2)
    assert idle.status(task_id) == "RELEASE_RESOURCE_STARTED"

    with worker(idle.server):
        _, stop = watch(idle, stop_id)
        assert stop["status"] == "SUCCESS"
        # The task will never reach CONFIGURATION: its creation must not stay RUNNING for ever.
        creation = wait_for(lambda: finished(idle, created["job_id"]), "the creation to finish", deadline=10.0)
    [sub] = creation["entities"]["sub_jobs"]
    assert sub["status"] == creation["status"]
    assert sub["end_time"] is not None
    assert creation["end_time"] is not None

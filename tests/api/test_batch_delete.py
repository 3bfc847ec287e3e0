"""DELETE /v3/{project_id}/jobs/batch-jobs: stop (terminate, force_terminate) and delete, per-job results."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.harness import Api, wait_for

PATH = "/v3/{project_id}/jobs/batch-jobs"
UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"
OPERATION_ID = re.compile(r"^[0-9a-f]{32}$")
BUSY = "Another operation is being performed on the migration task or the migration task is abnormal. "
STOP_FIRST = BUSY + "The task is {status}; stop it first (delete_type terminate)."
CANNOT_STOP = BUSY + "The task is {status}; a task in this status cannot be stopped."
NO_ROLLBACK = (
    "This API cannot be called in the current task status (roll_back_upgrade_active_standby applies to upgraded "
    "primary/standby tasks, which opendrs has not)."
)


def delete(api: Api, *jobs: tuple[str, str]) -> dict[str, Any]:
    response = api.delete(PATH, {"jobs": [{"job_id": job_id, "delete_type": kind} for job_id, kind in jobs]})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"count", "results", "job_id"}
    assert OPERATION_ID.match(body["job_id"]), body
    assert body["count"] == len(jobs)
    return body


def success(job_id: str) -> dict[str, str]:
    return {"id": job_id, "status": "success"}


def failure(job_id: str, code: str, message: str) -> dict[str, str]:
    return {"id": job_id, "status": "failed", "error_code": code, "error_msg": message}


def not_found(job_id: str) -> dict[str, str]:
    return failure(job_id, "DRS.M05003", f"Task information not found: {job_id}.")


def deleted(job_id: str) -> dict[str, str]:
    return failure(job_id, "DRS.M05004", f"The task has been deleted or the resource has been released: {job_id}.")


def stopped(api: Api) -> str:
    [job_id] = api.create_tasks(1)
    assert delete(api, (job_id, "terminate"))["results"] == [success(job_id)]
    api.wait_status(job_id, "RELEASE_RESOURCE_COMPLETE")
    return job_id


def statuses_until_released(api: Api, job_id: str) -> list[str | None]:
    seen: list[str | None] = []

    def released() -> bool:
        seen.append(api.status(job_id))
        return seen[-1] == "RELEASE_RESOURCE_COMPLETE"

    wait_for(released, f"task {job_id} to be released")
    return seen


@pytest.mark.parametrize("kind", ["terminate", "force_terminate"])
def test_stopping_releases_the_task(api: Api, kind: str) -> None:
    [job_id] = api.create_tasks(1)
    assert delete(api, (job_id, kind))["results"] == [success(job_id)]
    seen = statuses_until_released(api, job_id)
    # RELEASE_RESOURCE_STARTED while the worker releases, then RELEASE_RESOURCE_COMPLETE for good.
    started = seen.count("RELEASE_RESOURCE_STARTED")
    assert seen == ["RELEASE_RESOURCE_STARTED"] * started + ["RELEASE_RESOURCE_COMPLETE"], seen


def test_delete_before_stop_is_refused(api: Api) -> None:
    [job_id] = api.create_tasks(1)
    body = delete(api, (job_id, "delete"))
    assert body["results"] == [failure(job_id, "DRS.M01504", STOP_FIRST.format(status="CONFIGURATION"))]
    assert api.status(job_id) == "CONFIGURATION"


def test_delete_after_stop(api: Api) -> None:
    job_id = stopped(api)
    assert delete(api, (job_id, "delete"))["results"] == [success(job_id)]
    assert api.status(job_id) == "DELETED"
    listing = api.post("/v3/{project_id}/jobs", {"db_use_type": "migration", "name": job_id})
    assert listing.json() == {"total_record": 0, "jobs": []}
    detail = api.post("/v3/{project_id}/jobs/batch-detail", {"jobs": [job_id]}).json()["results"][0]
    assert (detail["status"], detail["inst_info"]["status"]) == ("DELETED", "deleted")

    assert delete(api, (job_id, "delete"))["results"] == [deleted(job_id)]
    assert delete(api, (job_id, "terminate"))["results"] == [deleted(job_id)]
    assert delete(api, (job_id, "force_terminate"))["results"] == [deleted(job_id)]
    assert api.status(job_id) == "DELETED"


def test_a_stopped_task_cannot_be_stopped_again(api: Api) -> None:
    job_id = stopped(api)
    body = delete(api, (job_id, "terminate"))
    assert body["results"] == [failure(job_id, "DRS.M01504", CANNOT_STOP.format(status="RELEASE_RESOURCE_COMPLETE"))]
    assert api.status(job_id) == "RELEASE_RESOURCE_COMPLETE"


def test_unknown_and_foreign_ids_are_not_found(api: Api, other_api: Api) -> None:
    [foreign] = other_api.create_tasks(1)
    body = delete(api, (UNKNOWN, "terminate"), (foreign, "terminate"), (UNKNOWN.replace("9", "8"), "delete"))
    assert body["results"] == [not_found(UNKNOWN), not_found(foreign), not_found(UNKNOWN.replace("9", "8"))]
    assert other_api.status(foreign) == "CONFIGURATION"


def test_roll_back_upgrade_active_standby_is_not_callable(api: Api) -> None:
    [job_id] = api.create_tasks(1)
    body = delete(api, (job_id, "roll_back_upgrade_active_standby"))
    assert body["results"] == [failure(job_id, "DRS.M00304", NO_ROLLBACK)]
    assert api.status(job_id) == "CONFIGURATION"


def test_a_mixed_batch_answers_per_job_in_request_order(api: Api) -> None:
    configured, to_stop, roll_back = api.create_tasks(3)
    done = stopped(api)
    body = delete(
        api,
        (UNKNOWN, "terminate"),
        (configured, "delete"),
        (to_stop, "terminate"),
        (done, "delete"),
        (roll_back, "roll_back_upgrade_active_standby"),
    )
    assert body["results"] == [
        not_found(UNKNOWN),
        failure(configured, "DRS.M01504", STOP_FIRST.format(status="CONFIGURATION")),
        success(to_stop),
        success(done),
        failure(roll_back, "DRS.M00304", NO_ROLLBACK),
    ]
    statuses_until_released(api, to_stop)
    assert [api.status(job_id) for job_id in (configured, done, roll_back)] == [
        "CONFIGURATION",
        "DELETED",
        "CONFIGURATION",
    ]


def test_duplicate_job_ids_refuse_the_request(api: Api) -> None:
    [job_id] = api.create_tasks(1)
    response = api.delete(
        PATH, {"jobs": [{"job_id": job_id, "delete_type": "terminate"}, {"job_id": job_id, "delete_type": "delete"}]}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error_code": "DRS.M00301",
        "error_msg": f"There are duplicate job_id in request: {job_id}.",
    }
    assert api.status(job_id) == "CONFIGURATION"  # nothing of the batch was applied


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"jobs": [{"job_id": UNKNOWN, "delete_type": "remove"}]},
            "DRS.M00202",
            "The value of parameter jobs[0].delete_type is invalid: must be one of terminate, force_terminate, delete "
            "or roll_back_upgrade_active_standby.",
        ),
        ({"jobs": [{"job_id": UNKNOWN}]}, "DRS.M00201", "The parameter jobs[0].delete_type is empty."),
        ({"jobs": [{"delete_type": "terminate"}]}, "DRS.M00201", "The parameter jobs[0].job_id is empty."),
        (
            {"jobs": [{"job_id": "", "delete_type": "terminate"}]},
            "DRS.M00201",
            "The parameter jobs[0].job_id is empty.",
        ),
        (
            {"jobs": [{"job_id": UNKNOWN, "delete_type": "terminate"}, {"job_id": "x", "delete_type": "terminate"}]},
            "DRS.M00202",
            "The value of parameter jobs[1].job_id is invalid: must be a job id such as "
            "9a470239-2308-4bb5-a6bc-1040402fjb21.",
        ),
        ({"jobs": []}, "DRS.M00201", "The parameter jobs is empty."),
        ({}, "DRS.M00201", "The parameter jobs is empty."),
        ({"jobs": [UNKNOWN]}, "DRS.M00202", "The value of parameter jobs[0] is invalid: must be an object."),
    ],
)
def test_bad_requests(api: Api, body: dict[str, Any], code: str, message: str) -> None:
    response = api.delete(PATH, body)
    assert response.status_code == 400
    assert response.json() == {"error_code": code, "error_msg": message}

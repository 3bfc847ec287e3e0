"""POST /v3/{project_id}/jobs/batch-detail: QueryJobResp fields, times, no passwords, page_req, unknown ids."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from opendrs.domain.times import now_ms
from opendrs.store import schema
from tests.harness import Api, Server, new_task_spec

PATH = "/v3/{project_id}/jobs/batch-detail"
UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"
PASSWORD = "Detail-pw-" + "5c2e8f1a9d"


@pytest.fixture(scope="module")
def store(server: Server) -> Iterator[sa.Engine]:
    engine = server.engine()
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def three(api: Api) -> list[str]:
    return api.create_tasks(3)


def details(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(PATH, body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def detail(api: Api, job_id: str) -> dict[str, Any]:
    result: dict[str, Any] = details(api, {"jobs": [job_id]})["results"][0]
    return result


def update_task(store: sa.Engine, job_id: str, **values: Any) -> None:
    """Write what an engine would have; the lease keeps the real workers off the task."""
    values |= {"lease_owner": "simulated-engine", "lease_expires_at": now_ms() + 3_600_000}
    with store.begin() as connection:
        updated = connection.execute(schema.tasks.update().where(schema.tasks.c.id == job_id).values(**values))
        assert updated.rowcount == 1


def test_detail_of_a_new_task(api: Api) -> None:
    spec = new_task_spec(
        description="orders to the cloud",
        source_endpoint={
            "db_type": "mysql",
            "ip": "192.168.0.27",
            "db_port": 3306,
            "db_user": "root",
            "db_password": PASSWORD,
        },
        target_endpoint={"db_type": "mysql", "region": "eu-de", "inst_id": "e05a3679efe241d8b5dee80b17c1a863in01"},
    )
    response = api.post("/v3/{project_id}/jobs/batch-creation", {"jobs": [spec]})
    assert response.status_code == 202, response.text
    [creation] = response.json()["results"]
    job_id = creation["id"]
    api.wait_status(job_id, "CONFIGURATION")

    response = api.post(PATH, {"jobs": [job_id]})
    assert response.status_code == 200
    assert PASSWORD not in response.text
    body = response.json()
    assert body["count"] == 1
    [result] = body["results"]
    update_time = result.pop("update_time")
    assert update_time.isdigit()
    assert int(update_time) >= int(creation["create_time"])
    assert result == {
        "id": job_id,
        "name": spec["name"],
        "status": "CONFIGURATION",
        "description": "orders to the cloud",
        "create_time": creation["create_time"],
        "actual_start_time": "0",
        "full_transfer_complete_time": "0",
        "task_type": "FULL_INCR_TRANS",
        "db_use_type": "migration",
        "job_direction": "up",
        "original_job_direction": "up",
        "net_type": "eip",
        "node_type": "high",
        "engine_type": "mysql",
        "customize_sutnet_id": spec["customize_sutnet_id"],
        "source_endpoint": {"db_type": "mysql", "ip": "192.168.0.27", "db_port": 3306, "db_user": "root"},
        "target_endpoint": {"db_type": "mysql", "region": "eu-de", "inst_id": "e05a3679efe241d8b5dee80b17c1a863in01"},
        "inst_info": {"engine_type": "mysql", "inst_type": "high", "start_time": "0", "status": "active"},
        "tags": [],
        "speed_limit": [],
        "object_infos": [],
        "table_progress": [],
        "logs": [],
    }


def test_times_are_epoch_millisecond_strings(api: Api, store: sa.Engine) -> None:
    [job_id] = api.create_tasks(1)
    update_task(
        store,
        job_id,
        actual_start_time=1599188556112,
        full_transfer_complete_time=1599189000005,
        update_time=1599189000007,
    )
    result = detail(api, job_id)
    assert result["actual_start_time"] == "1599188556112"
    assert result["full_transfer_complete_time"] == "1599189000005"
    assert result["update_time"] == "1599189000007"
    assert result["inst_info"]["start_time"] == "1599188556112"


def test_a_failed_task_carries_its_error(api: Api, store: sa.Engine) -> None:
    [job_id] = api.create_tasks(1)
    update_task(store, job_id, status="FULL_TRANSFER_FAILED", error_code="DRS.M01501", error_msg="Service error.")
    result = detail(api, job_id)
    assert result["status"] == "FULL_TRANSFER_FAILED"
    assert (result["error_code"], result["error_message"], result["failed_reason"]) == (
        "DRS.M01501",
        "Service error.",
        "Service error.",
    )
    assert "error_msg" not in result  # batch-detail says error_message (spec/API.md 1.9)


def test_results_follow_the_request_order(api: Api, three: list[str]) -> None:
    asked = [three[2], three[0], three[1]]
    body = details(api, {"jobs": asked})
    assert body["count"] == 3
    assert [result["id"] for result in body["results"]] == asked
    assert all(result["status"] == "CONFIGURATION" for result in body["results"])


def test_unknown_and_foreign_ids_are_per_entry_errors(api: Api, other_api: Api, three: list[str]) -> None:
    [foreign] = other_api.create_tasks(1)
    body = details(api, {"jobs": [UNKNOWN, three[0], foreign]})
    assert body["count"] == 3
    assert body["results"][0] == {
        "id": UNKNOWN,
        "error_code": "DRS.M05003",
        "error_message": f"Task information not found: {UNKNOWN}.",
    }
    assert body["results"][1]["id"] == three[0]
    assert body["results"][2] == {
        "id": foreign,
        "error_code": "DRS.M05003",
        "error_message": f"Task information not found: {foreign}.",
    }


@pytest.mark.parametrize(
    ("page_req", "expected_slice"),
    [
        (None, slice(0, 3)),
        ({}, slice(0, 3)),  # cur_page 1, per_page 5
        ({"cur_page": 1, "per_page": 2}, slice(0, 2)),
        ({"cur_page": 2, "per_page": 2}, slice(2, 3)),
        ({"cur_page": 0, "per_page": 0}, slice(0, 3)),
        ({"cur_page": 1, "per_page": 0}, slice(0, 3)),
    ],
)
def test_page_req(api: Api, three: list[str], page_req: dict[str, int] | None, expected_slice: slice) -> None:
    request: dict[str, Any] = {"jobs": three}
    if page_req is not None:
        request["page_req"] = page_req
    body = details(api, request)
    assert [result["id"] for result in body["results"]] == three[expected_slice]
    assert body["count"] == len(three[expected_slice])


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, "DRS.M00201", "The parameter jobs is empty."),
        ({"jobs": []}, "DRS.M00201", "The parameter jobs is empty."),
        ({"jobs": [""]}, "DRS.M00201", "The parameter jobs[0] is empty."),
        ({"jobs": UNKNOWN}, "DRS.M00202", "The value of parameter jobs is invalid: must be an array."),
        (
            {"jobs": [UNKNOWN, "not-an-id"]},
            "DRS.M00202",
            "The value of parameter jobs[1] is invalid: must be a job id such as 9a470239-2308-4bb5-a6bc-1040402fjb21.",
        ),
        ({"jobs": [UNKNOWN, UNKNOWN]}, "DRS.M00301", f"There are duplicate jobs in request: {UNKNOWN}."),
        (
            {"jobs": [UNKNOWN], "page_req": {"cur_page": 2, "per_page": 1}},
            "DRS.M00211",
            "The value of Page exceeds the upper limit: cur_page 2 is beyond the last page 1.",
        ),
        (
            {"jobs": [UNKNOWN], "page_req": {"cur_page": 1, "per_page": 101}},
            "DRS.M00210",
            "The value of Page is invalid, per_page must be from 0 to 100.",
        ),
    ],
)
def test_bad_requests(api: Api, body: dict[str, Any], code: str, message: str) -> None:
    response = api.post(PATH, body)
    assert response.status_code == 400
    assert response.json() == {"error_code": code, "error_msg": message}

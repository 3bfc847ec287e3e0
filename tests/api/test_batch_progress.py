"""POST /v3/{project_id}/jobs/batch-progress: 202, QueryProgressResp, and what the engine measured.

The engine is simulated by writing the task's status and a `task_progress` row straight into the store,
under a lease of its own so that the real workers leave the task alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from opendrs.domain.tasks import Progress
from opendrs.domain.times import now_ms
from opendrs.store import schema
from opendrs.store import tasks as task_store
from tests.harness import Api, Server

PATH = "/v3/{project_id}/jobs/batch-progress"
UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"
PROCESS_TIME = 1599188556112
HOUR = 3_600_000  # ms
PHASES = ("struct", "data", "index")


@pytest.fixture(scope="module")
def store(server: Server) -> Iterator[sa.Engine]:
    engine = server.engine()
    yield engine
    engine.dispose()


@pytest.fixture
def task(api: Api) -> str:
    [job_id] = api.create_tasks(1)
    return job_id


def progress_of(api: Api, job_ids: list[str]) -> dict[str, Any]:
    response = api.post(PATH, {"jobs": job_ids})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert body["count"] == len(body["results"])
    return body


def one_progress(api: Api, job_id: str) -> dict[str, Any]:
    result: dict[str, Any] = progress_of(api, [job_id])["results"][0]
    return result


def simulate(store: sa.Engine, job_id: str, status: str, progress: Progress | None = None, **task: Any) -> None:
    """What the engine does: hold the task, move it, then save what it measured."""
    lease = {"lease_owner": "simulated-engine", "lease_expires_at": now_ms() + HOUR}
    with store.begin() as connection:
        updated = connection.execute(
            schema.tasks.update().where(schema.tasks.c.id == job_id).values(status=status, **lease, **task)
        )
        assert updated.rowcount == 1
        if progress is not None:
            task_store.save_progress(connection, job_id, progress, PROCESS_TIME)


def unmeasured(job_id: str, status: str, task_mode: str = "FULL_INCR_TRANS") -> dict[str, Any]:
    return {
        "job_id": job_id,
        "progress": "0",
        "incre_trans_delay": "-1",
        "incre_trans_delay_millis": "-1",
        "task_mode": task_mode,
        "transfer_status": status,
        "process_time": "0",
        "remaining_time": "0",
        "apply_rows_rate": -1,
        "apply_bytes_rate": -1,
    }


def test_a_task_not_started_has_no_progress(api: Api, task: str) -> None:
    response = api.post(PATH, {"jobs": [task]})
    assert response.status_code == 202
    assert response.json() == {"results": [unmeasured(task, "CONFIGURATION")], "count": 1}


@pytest.mark.parametrize("task_type", ["FULL_TRANS", "INCR_TRANS", "FULL_INCR_TRANS"])
def test_task_mode_is_the_task_type(api: Api, task_type: str) -> None:
    [job_id] = api.create_tasks(1, task_type=task_type)
    assert one_progress(api, job_id)["task_mode"] == task_type


def test_full_transfer_progress_map(api: Api, store: sa.Engine, task: str) -> None:
    measured = Progress(
        progress=42,
        struct_percent=94,
        data_percent=30,
        index_percent=0,
        data_remaining_seconds=100,
        remaining_seconds=120,
        incre_delay_millis=7300,  # stored, but meaningless before the incremental phase
        apply_rows_rate=500,
        apply_bytes_rate=65536,
        process_time=PROCESS_TIME,
    )
    simulate(store, task, "FULL_TRANSFER_STARTED", measured)
    assert one_progress(api, task) == {
        "job_id": task,
        "progress": "42",
        "incre_trans_delay": "-1",
        "incre_trans_delay_millis": "-1",
        "task_mode": "FULL_INCR_TRANS",
        "transfer_status": "FULL_TRANSFER_STARTED",
        "process_time": str(PROCESS_TIME),
        "remaining_time": "120",
        "apply_rows_rate": -1,
        "apply_bytes_rate": -1,
        "progress_map": {
            "struct": {"completed": "94%", "remaining_time": None},
            "data": {"completed": "30%", "remaining_time": "100"},
            "index": {"completed": "0%", "remaining_time": None},
        },
    }


def test_the_otc_example(api: Api, store: sa.Engine, task: str) -> None:
    measured = Progress(progress=0, struct_percent=94, data_percent=100, index_percent=100, remaining_seconds=0)
    simulate(store, task, "FULL_TRANSFER_COMPLETE", measured)
    result = one_progress(api, task)
    assert {key: result[key] for key in ("progress", "incre_trans_delay", "remaining_time", "progress_map")} == {
        "progress": "0",
        "incre_trans_delay": "-1",
        "remaining_time": "0",
        "progress_map": {
            "struct": {"completed": "94%", "remaining_time": None},
            "data": {"completed": "100%", "remaining_time": None},
            "index": {"completed": "100%", "remaining_time": None},
        },
    }


def test_progress_map_is_omitted_when_no_phase_was_measured(api: Api, store: sa.Engine, task: str) -> None:
    simulate(store, task, "FULL_TRANSFER_STARTED", Progress(progress=5, remaining_seconds=3600))
    result = one_progress(api, task)
    assert "progress_map" not in result
    assert (result["progress"], result["remaining_time"], result["transfer_status"]) == (
        "5",
        "3600",
        "FULL_TRANSFER_STARTED",
    )


@pytest.mark.parametrize("status", ["INCRE_TRANSFER_STARTED", "INCRE_TRANSFER_FAILED"])
def test_incremental_delay_in_seconds_and_millis(api: Api, store: sa.Engine, task: str, status: str) -> None:
    measured = Progress(
        progress=100,
        struct_percent=100,
        data_percent=100,
        index_percent=100,
        remaining_seconds=0,
        incre_delay_millis=7300,
        apply_rows_rate=1200,
        apply_bytes_rate=65536,
        process_time=PROCESS_TIME,
    )
    simulate(store, task, status, measured)
    result = one_progress(api, task)
    assert result.pop("progress_map") == {key: {"completed": "100%", "remaining_time": None} for key in PHASES}
    assert result == {
        "job_id": task,
        "progress": "100",
        "incre_trans_delay": "7",
        "incre_trans_delay_millis": "7300",
        "task_mode": "FULL_INCR_TRANS",
        "transfer_status": status,
        "process_time": str(PROCESS_TIME),
        "remaining_time": "0",
        "apply_rows_rate": 1200,
        "apply_bytes_rate": 65536,
    }


@pytest.mark.parametrize("status", ["FULL_TRANSFER_COMPLETE", "PAUSING", "RELEASE_RESOURCE_FAILED"])
def test_a_stored_delay_is_not_shown_outside_the_incremental_phase(
    api: Api, store: sa.Engine, task: str, status: str
) -> None:
    simulate(store, task, status, Progress(progress=100, incre_delay_millis=2500, apply_rows_rate=10))
    result = one_progress(api, task)
    assert (result["incre_trans_delay"], result["incre_trans_delay_millis"], result["apply_rows_rate"]) == (
        "-1",
        "-1",
        -1,
    )


def test_a_failed_task_carries_its_error(api: Api, store: sa.Engine, task: str) -> None:
    simulate(store, task, "FULL_TRANSFER_FAILED", error_code="DRS.M01501", error_msg="Service error.")
    result = one_progress(api, task)
    assert result == unmeasured(task, "FULL_TRANSFER_FAILED") | {
        "error_code": "DRS.M01501",
        "error_msg": "Service error.",
    }


def test_results_follow_the_request_order(api: Api) -> None:
    asked = list(reversed(api.create_tasks(3)))
    body = progress_of(api, asked)
    assert body["count"] == 3
    assert [result["job_id"] for result in body["results"]] == asked


def test_unknown_and_foreign_ids_are_per_job_errors(api: Api, other_api: Api, task: str) -> None:
    [foreign] = other_api.create_tasks(1)
    body = progress_of(api, [UNKNOWN, task, foreign])
    assert body["count"] == 3
    assert body["results"][0] == {
        "job_id": UNKNOWN,
        "error_code": "DRS.M05003",
        "error_msg": f"Task information not found: {UNKNOWN}.",
    }
    assert body["results"][1] == unmeasured(task, "CONFIGURATION")
    assert body["results"][2] == {
        "job_id": foreign,
        "error_code": "DRS.M05003",
        "error_msg": f"Task information not found: {foreign}.",
    }


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
            {"jobs": [f"{i:08d}-0000-0000-0000-000000000000" for i in range(1001)]},
            "DRS.M00202",
            "The value of parameter jobs is invalid: must name at most 1000 jobs.",
        ),
    ],
)
def test_bad_ids(api: Api, body: dict[str, Any], code: str, message: str) -> None:
    response = api.post(PATH, body)
    assert response.status_code == 400
    assert response.json() == {"error_code": code, "error_msg": message}

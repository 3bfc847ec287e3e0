"""POST create-compare-task and query-compare-result (spec/API.md 3.15, 3.16): validation, status rules, conflict
policies, the task list and its paging, on both stores. The comparisons themselves: tests/e2e/test_mysql_compare.py.

A task is put where a comparison is allowed (PAUSING) by writing its status straight into the store.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from opendrs.store import schema
from tests.harness import Api, Server, wait_for

CREATE = "/v3/{project_id}/jobs/create-compare-task"
QUERY = "/v3/{project_id}/jobs/query-compare-result"
UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"
FAR_FUTURE = "4102444800000"  # 2100-01-01: a compare task that stays WAITING_FOR_RUNNING


def _paused_task(api: Api, server: Server) -> str:
    [job] = api.create_tasks(1)
    engine = server.engine()
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.update(schema.tasks)
                .where(schema.tasks.c.id == job)
                .values(status="PAUSING", paused_from="INCRE_TRANSFER_STARTED")
            )
    finally:
        engine.dispose()
    return job


def _data_level(**overrides: Any) -> dict[str, Any]:
    info = {
        "conflict_policy": "cancel",
        "compare_type": "contents",
        "compare_object_infos": [{"db_name": "shop", "table_name": ["orders"]}],
        "start_time": FAR_FUTURE,
    }
    return {**info, **overrides}


def _error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    return str(body["error_msg"])


def _query(api: Api, job: str, **ids: Any) -> dict[str, Any]:
    response = api.post(QUERY, {"job_id": job, "current_page": 1, "per_page": 10, **ids})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_unknown_job_is_refused(api: Api) -> None:
    body = {"job_id": UNKNOWN, "object_level_compare_type": "objects"}
    assert UNKNOWN in _error(api.post(CREATE, body), 400, "DRS.M05003")
    assert UNKNOWN in _error(api.post(QUERY, {"job_id": UNKNOWN, "current_page": 1, "per_page": 5}), 400, "DRS.M05003")


def test_another_projects_job_is_unknown(api: Api, other_api: Api, server: Server) -> None:
    job = _paused_task(api, server)
    _error(other_api.post(CREATE, {"job_id": job, "object_level_compare_type": "objects"}), 400, "DRS.M05003")


@pytest.mark.parametrize(
    ("info", "code", "field"),
    [
        (_data_level(compare_type="rows"), "DRS.M00202", "data_level_compare_info.compare_type"),
        (_data_level(conflict_policy="replace"), "DRS.M00202", "data_level_compare_info.conflict_policy"),
        (
            {"compare_type": "lines", "compare_object_infos": []},
            "DRS.M00201",
            "data_level_compare_info.conflict_policy",
        ),
        (_data_level(compare_object_infos=None), "DRS.M00201", "data_level_compare_info.compare_object_infos"),
        (_data_level(start_time="tomorrow"), "DRS.M00202", "data_level_compare_info.start_time"),
        (_data_level(compare_mode="slow"), "DRS.M00202", "data_level_compare_info.compare_mode"),
    ],
)
def test_bad_data_level_requests_name_the_field(api: Api, server: Server, info: Any, code: str, field: str) -> None:
    job = _paused_task(api, server)
    assert field in _error(api.post(CREATE, {"job_id": job, "data_level_compare_info": info}), 400, code)


def test_a_bad_object_level_type_is_refused(api: Api, server: Server) -> None:
    job = _paused_task(api, server)
    body = {"job_id": job, "object_level_compare_type": "tables"}
    assert "object_level_compare_type" in _error(api.post(CREATE, body), 400, "DRS.M00202")


def test_a_task_without_copied_data_cannot_be_compared(api: Api) -> None:
    [job] = api.create_tasks(1)  # CONFIGURATION
    body = {"job_id": job, "object_level_compare_type": "objects", "data_level_compare_info": _data_level()}
    assert "CONFIGURATION" in _error(api.post(CREATE, body), 400, "DRS.M00304")


def test_with_neither_level_nothing_is_created(api: Api, server: Server) -> None:
    job = _paused_task(api, server)
    response = api.post(CREATE, {"job_id": job, "object_level_compare_type": "", "data_level_compare_info": {}})
    assert response.status_code == 200, response.text
    assert response.json() == {"job_id": job}
    listed = _query(api, job)["compare_task_list_results"]
    assert listed == {"compare_task_list": [], "compare_task_list_count": 0}


def test_conflict_policies_keep_or_cancel_the_unfinished_data_comparison(api: Api, server: Server) -> None:
    job = _paused_task(api, server)
    first = api.post(CREATE, {"job_id": job, "data_level_compare_info": _data_level()})
    assert first.status_code == 200, first.text
    first_id = first.json()["data_level_compare_create_result"]["compare_task_id"]

    kept = api.post(CREATE, {"job_id": job, "data_level_compare_info": _data_level(conflict_policy="keep")})
    assert kept.json()["data_level_compare_create_result"] == {"compare_task_id": first_id}

    replaced = api.post(CREATE, {"job_id": job, "data_level_compare_info": _data_level(compare_type="lines")})
    second_id = replaced.json()["data_level_compare_create_result"]["compare_task_id"]
    assert second_id != first_id
    listed = _query(api, job)["compare_task_list_results"]
    assert listed["compare_task_list_count"] == 2
    statuses = {
        task["compare_task_id"]: (task["compare_type"], task["compare_task_status"])
        for task in listed["compare_task_list"]
    }
    assert statuses == {first_id: ("contents", "CANCELLED"), second_id: ("lines", "WAITING_FOR_RUNNING")}

    waiting = _query(api, job, line_compare_id=second_id)["line_compare_results"]
    assert waiting["line_compare_overview"] == [
        {"source_db_name": "shop", "target_db_name": "shop", "line_compare_result": "WAITING_FOR_COMPARISON"}
    ]


def test_a_comparison_without_endpoints_fails_with_the_cause(api: Api, server: Server) -> None:
    job = _paused_task(api, server)
    body = {"job_id": job, "object_level_compare_type": "objects"}
    created = api.post(CREATE, body).json()
    compare_id = created["object_level_compare_create_result"]["compare_task_id"]

    def failed() -> dict[str, Any] | None:
        results = _query(api, job, object_level_compare_id=compare_id)["object_level_compare_results"]
        return results if "error_code" in results else None

    results = wait_for(failed, "the comparison to fail")
    assert results["error_code"] == "DRS.M05204"
    assert "endpoint has no ip" in results["error_msg"]
    [listed] = _query(api, job)["compare_task_list_results"]["compare_task_list"]
    assert (listed["compare_task_status"], listed["compare_type"]) == ("FAILED", "object")
    assert listed["end_time"] != ""


def test_the_task_list_is_paged(api: Api, server: Server) -> None:
    job = _paused_task(api, server)
    for _ in range(3):
        api.post(CREATE, {"job_id": job, "data_level_compare_info": _data_level()})
    pages = [
        api.post(QUERY, {"job_id": job, "current_page": page, "per_page": 2}).json()["compare_task_list_results"]
        for page in (1, 2, 3)
    ]
    assert [len(page["compare_task_list"]) for page in pages] == [2, 1, 0]
    assert all(page["compare_task_list_count"] == 3 for page in pages)


@pytest.mark.parametrize(
    ("paging", "code"),
    [
        ({"per_page": 10}, "DRS.M00201"),
        ({"current_page": 1}, "DRS.M00201"),
        ({"current_page": 0, "per_page": 10}, "DRS.M00210"),
        ({"current_page": 1, "per_page": 101}, "DRS.M00210"),
        ({"current_page": "x", "per_page": 10}, "DRS.M00202"),
    ],
)
def test_bad_paging_is_refused(api: Api, server: Server, paging: dict[str, Any], code: str) -> None:
    job = _paused_task(api, server)
    _error(api.post(QUERY, {"job_id": job, **paging}), 400, code)


def test_an_unknown_or_mismatched_compare_id_is_refused(api: Api, server: Server) -> None:
    job = _paused_task(api, server)
    created = api.post(CREATE, {"job_id": job, "data_level_compare_info": _data_level(compare_type="lines")}).json()
    lines_id = created["data_level_compare_create_result"]["compare_task_id"]
    body = {"job_id": job, "current_page": 1, "per_page": 5}
    assert "content_compare_id" in _error(api.post(QUERY, {**body, "content_compare_id": lines_id}), 400, "DRS.M00202")
    unknown = {**body, "object_level_compare_id": "00000000-0000-0000-0000-000000000000"}
    assert "object_level_compare_id" in _error(api.post(QUERY, unknown), 400, "DRS.M00202")

"""POST /v3/{project_id}/jobs/batch-status: statuses, page_req semantics, input constraints."""

from __future__ import annotations

import pytest

from tests.harness import Api

PATH = "/v3/{project_id}/jobs/batch-status"
UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"
INVALID_PAGE = "The value of Page is invalid, "


@pytest.fixture(scope="module")
def seven(api: Api) -> list[str]:
    return api.create_tasks(7)


def ids_of(response_body: dict[str, object]) -> list[str]:
    return [result["id"] for result in response_body["results"]]  # type: ignore[attr-defined,index]


def test_statuses_in_request_order(api: Api, seven: list[str]) -> None:
    asked = list(reversed(seven))
    response = api.post(PATH, {"jobs": asked})
    assert response.status_code == 200
    body = response.json()
    assert body == {"results": [{"id": job_id, "status": "CONFIGURATION"} for job_id in asked], "count": 7}


def test_unknown_id_is_a_per_job_error(api: Api, seven: list[str]) -> None:
    body = api.post(PATH, {"jobs": [seven[0], UNKNOWN]}).json()
    assert body["count"] == 2
    assert body["results"][1] == {
        "id": UNKNOWN,
        "error_code": "DRS.M05003",
        "error_message": f"Task information not found: {UNKNOWN}.",
    }


@pytest.mark.parametrize(
    ("page_req", "expected_slice"),
    [
        (None, slice(0, 7)),  # absent page_req: all
        ({}, slice(0, 5)),  # present but empty: cur_page 1, per_page 5
        ({"cur_page": 1, "per_page": 3}, slice(0, 3)),
        ({"cur_page": 2, "per_page": 3}, slice(3, 6)),
        ({"cur_page": 3, "per_page": 3}, slice(6, 7)),  # last, partial page
        ({"cur_page": 1, "per_page": 0}, slice(0, 7)),  # per_page 0: all
        ({"cur_page": 0, "per_page": 0}, slice(0, 7)),
        ({"cur_page": 0, "per_page": 2}, slice(0, 7)),  # cur_page 0: all
        ({"cur_page": 1, "per_page": 100}, slice(0, 7)),
        ({"per_page": 2}, slice(0, 2)),
        ({"cur_page": 2}, slice(5, 7)),
    ],
)
def test_page_req(api: Api, seven: list[str], page_req: dict[str, int] | None, expected_slice: slice) -> None:
    request: dict[str, object] = {"jobs": seven}
    if page_req is not None:
        request["page_req"] = page_req
    response = api.post(PATH, request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert ids_of(body) == seven[expected_slice]
    assert body["count"] == len(seven[expected_slice])


@pytest.mark.parametrize(
    ("page_req", "code", "message"),
    [
        (
            {"cur_page": 4, "per_page": 3},
            "DRS.M00211",
            "The value of Page exceeds the upper limit: cur_page 4 is beyond the last page 3.",
        ),
        ({"cur_page": 1, "per_page": 101}, "DRS.M00210", f"{INVALID_PAGE}per_page must be from 0 to 100."),
        ({"cur_page": 1, "per_page": -1}, "DRS.M00210", f"{INVALID_PAGE}per_page must be from 0 to 100."),
        ({"cur_page": -1, "per_page": 5}, "DRS.M00210", f"{INVALID_PAGE}cur_page must not be negative."),
        (
            {"cur_page": 2, "per_page": 0},
            "DRS.M00210",
            f"{INVALID_PAGE}cur_page must be 0 or 1 when per_page is 0 (all).",
        ),
        ({"cur_page": "x"}, "DRS.M00202", "The value of parameter page_req.cur_page is invalid: must be an integer."),
    ],
)
def test_bad_page_req(api: Api, seven: list[str], page_req: dict[str, object], code: str, message: str) -> None:
    response = api.post(PATH, {"jobs": seven, "page_req": page_req})
    assert response.status_code == 400
    assert response.json() == {"error_code": code, "error_msg": message}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, "DRS.M00201", "The parameter jobs is empty."),
        ({"jobs": []}, "DRS.M00201", "The parameter jobs is empty."),
        ({"jobs": [""]}, "DRS.M00201", "The parameter jobs[0] is empty."),
        ({"jobs": "abc"}, "DRS.M00202", "The value of parameter jobs is invalid: must be an array."),
        (
            {"jobs": [UNKNOWN, "not-an-id"]},
            "DRS.M00202",
            "The value of parameter jobs[1] is invalid: must be a job id such as 9a470239-2308-4bb5-a6bc-1040402fjb21.",
        ),
        ({"jobs": [UNKNOWN, UNKNOWN]}, "DRS.M00301", f"There are duplicate jobs in request: {UNKNOWN}."),
        (
            {"jobs": [UNKNOWN] * 0 + [f"{i:08d}-0000-0000-0000-000000000000" for i in range(1001)]},
            "DRS.M00202",
            "The value of parameter jobs is invalid: must name at most 1000 jobs.",
        ),
    ],
)
def test_bad_ids(api: Api, body: dict[str, object], code: str, message: str) -> None:
    response = api.post(PATH, body)
    assert response.status_code == 400
    assert response.json() == {"error_code": code, "error_msg": message}

"""Values that passed validation and then broke a handler (a 500, the whole batch lost, the keep-alive connection
dropped): digits of other scripts, and numbers too large for the store. Each now gets the contract's 400, with
the field and what to fix."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_errors import UNKNOWN, send
from tests.harness import Api


def _speed(job_id: str, speed: str) -> dict[str, Any]:
    return {"speed_limits": [{"job_id": job_id, "speed_limit": [{"begin": "01:00", "end": "05:59", "speed": speed}]}]}


@pytest.mark.parametrize("speed", ["²", "٣", "12\n"])
def test_a_speed_in_other_digits_is_refused(api: Api, speed: str) -> None:
    # str.isdigit() takes "²", which int() refuses: a 500.
    [job_id] = api.create_tasks()
    response = send(api, "PUT", "/v3/{project_id}/jobs/batch-limit-speed", json=_speed(job_id, speed))
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error_code": "DRS.M00202",
        "error_msg": "The value of parameter speed_limits[0].speed_limit[0].speed is invalid: "
        "speed must be a whole number of MB/s from 1 to 9999.",
    }


@pytest.mark.parametrize("start_time", ["1" + "0" * 19, "١٧٠٠٠٠٠٠٠٠٠٠٠"])
def test_a_start_time_beyond_the_store_or_in_other_digits_is_refused(api: Api, start_time: str) -> None:
    # 10^19 overflowed the store's 64-bit integer: a 500.
    body = {"jobs": [{"job_id": UNKNOWN, "start_time": start_time}]}
    response = send(api, "POST", "/v3/{project_id}/jobs/batch-starting", json=body)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error_code": "DRS.M00202",
        "error_msg": "The value of parameter jobs[0].start_time is invalid: must match ^[0-9]{0,15}$.",
    }


def test_a_list_page_beyond_any_list_is_refused(api: Api) -> None:
    # The page's offset overflowed the store's 64-bit integer: a 500.
    body = {"cur_page": 2**62, "per_page": 10, "db_use_type": "migration"}
    response = send(api, "POST", "/v3/{project_id}/jobs", json=body)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error_code": "DRS.M00211",
        "error_msg": "The value of Page exceeds the upper limit: cur_page must be at most 1000000000.",
    }


@pytest.mark.parametrize(("port", "hint"), [(True, "must be an integer"), ("٣٣٠٦", "must be an integer")])
def test_a_port_that_is_no_integer_is_refused(api: Api, port: Any, hint: str) -> None:
    # true was taken as port 1, and "٣٣٠٦" (Arabic-Indic digits) as 3306.
    endpoint = {"id": UNKNOWN, "db_type": "mysql", "ip": "127.0.0.1", "db_port": port}
    endpoint |= {"db_user": "repl", "db_password": "secret", "end_point_type": "so"}
    response = send(api, "POST", "/v3/{project_id}/jobs/batch-connection", json={"jobs": [endpoint]})
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error_code": "DRS.M00202",
        "error_msg": f"The value of parameter jobs[0].db_port is invalid: {hint}.",
    }

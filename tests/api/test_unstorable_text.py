"""Characters no store keeps (NUL, lone UTF-16 surrogates) are refused with a 400 that says so, on both stores.

Found by the schemathesis run (tests/fuzz): a lone surrogate in batch-connection's db_user was a 500; PostgreSQL
refuses NUL in text and JSON, so a NUL anywhere in a body, path or query would have been a 500 on that store.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.harness import Api, new_task_spec

CREATION = "/v3/{project_id}/jobs/batch-creation"


def raw_post(api: Api, path: str, body: bytes) -> httpx.Response:
    return api.http.post(
        path.replace("{project_id}", api.project_id), content=body, headers={"Content-Type": "application/json"}
    )


def assert_refused(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "DRS.M00300", response.text
    assert detail in response.json()["error_msg"], response.text


@pytest.mark.parametrize("escape", ["\\u0000", "\\udac7", "\\uDC00"])
def test_body_with_unstorable_escape_is_refused(api: Api, escape: str) -> None:
    """A valid task spec whose description holds the escape: without the check it reaches the store."""
    body = json.dumps({"jobs": [new_task_spec(description="aXb")]}).replace("aXb", f"a{escape}b")
    assert_refused(raw_post(api, CREATION, body.encode()), "NUL character or a lone UTF-16 surrogate")


def test_unstorable_key_is_refused(api: Api) -> None:
    assert_refused(raw_post(api, CREATION, b'{"jobs": [], "\\ud800": 1}'), "lone UTF-16 surrogate")


def test_surrogate_pair_and_escaped_backslash_pass(api: Api) -> None:
    """A whole pair is an ordinary character; "\\\\u0000" is a backslash and text, not a NUL."""
    value = "\U0001f600 and \\u0000 as text"
    spec = new_task_spec(tags=[{"key": "k", "value": value}])
    response = api.post(CREATION, {"jobs": [spec]})
    assert response.status_code == 202, response.text
    job_id = response.json()["results"][0]["id"]
    detail = api.post("/v3/{project_id}/jobs/batch-detail", {"jobs": [job_id]}).json()["results"][0]
    assert detail["tags"] == [{"key": "k", "value": value}]


def test_connection_test_with_lone_surrogate_user_is_refused(api: Api) -> None:
    job_id = api.create_tasks()[0]
    body = (
        f'{{"jobs": [{{"id": "{job_id}", "db_type": "mysql", "ip": "127.0.0.1", "db_port": 1, '
        '"db_user": "a\\udac7", "db_password": "x"}]}'
    )
    assert_refused(raw_post(api, "/v3/{project_id}/jobs/batch-connection", body.encode()), "surrogate")


@pytest.mark.parametrize(
    "path",
    ["/v3/projects?name=a%00b", "/v1/{project_id}/jobs/a%00b", "/v5/{project_id}/batch-async-jobs?user_name=%00"],
)
def test_nul_in_url_is_refused(api: Api, path: str) -> None:
    assert_refused(api.get(path), "NUL character")

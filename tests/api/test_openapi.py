"""GET /openapi.json documents exactly the endpoints that are served, with their methods."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

import opendrs
from tests.harness import Api, Server, new_task_spec

METHODS = ("get", "post", "put", "delete", "patch")
# The endpoints opendrs serves at least (more may come): path -> {method: documented success status}.
SERVED: dict[str, dict[str, str]] = {
    "/v3": {"get": "200"},
    "/v3/auth/tokens": {"post": "201"},
    "/v3/projects": {"get": "200"},
    "/v3/{project_id}/jobs": {"post": "200"},
    "/v3/{project_id}/jobs/batch-creation": {"post": "202"},
    "/v3/{project_id}/jobs/batch-status": {"post": "200"},
    "/v3/{project_id}/jobs/batch-detail": {"post": "200"},
    "/v3/{project_id}/jobs/batch-progress": {"post": "202"},
    "/v3/{project_id}/jobs/batch-jobs": {"delete": "202"},
    "/v5/{project_id}/jobs/batch-async-create": {"post": "200"},
    "/v5/{project_id}/batch-async-jobs": {"get": "200"},
    "/v5/{project_id}/batch-async-jobs/{async_job_id}": {"get": "200", "put": "200"},
    "/v5/{project_id}/batch-async-jobs/{async_job_id}/commit": {"post": "200"},
    "/v1/{project_id}/jobs/{job_id}": {"get": "200"},
}
# Paths that no version of the contract has: they must answer the route-missing 404.
NOT_SERVED = [
    ("POST", "/v3/{project_id}/jobs/batch-no-such-api"),
    ("GET", "/v3/{project_id}/no-such-collection"),
    ("GET", "/v5/{project_id}/batch-async-jobs/{async_job_id}/no-such-action"),
    ("GET", "/v2/{project_id}/jobs"),
    ("GET", "/v1/{project_id}/jobs/{job_id}/entities"),
]


@pytest.fixture(scope="module")
def document(server: Server) -> dict[str, Any]:
    response = httpx.get(f"{server.base_url}/openapi.json")  # no credentials
    assert response.status_code == 200, response.text
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def operation_id(api: Api) -> str:
    created = api.post("/v3/{project_id}/jobs/batch-creation", {"jobs": [new_task_spec()]})
    assert created.status_code == 202, created.text
    job_id: str = created.json()["job_id"]
    return job_id


def documented(document: dict[str, Any]) -> dict[str, set[str]]:
    return {path: {method for method in item if method in METHODS} for path, item in document["paths"].items()}


def test_document_header(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "opendrs"
    assert document["info"]["version"] == opendrs.__version__


def test_every_served_endpoint_is_listed_with_its_methods(document: dict[str, Any]) -> None:
    listed = documented(document)
    assert {path: listed.get(path) for path in SERVED} == {path: set(methods) for path, methods in SERVED.items()}


def test_the_drs_alias_is_not_documented(document: dict[str, Any]) -> None:
    assert not [path for path in document["paths"] if path.startswith("/drs")]


@pytest.mark.parametrize(("path", "method", "status"), [(p, m, s) for p, ms in SERVED.items() for m, s in ms.items()])
def test_success_status_and_summary_documented(document: dict[str, Any], path: str, method: str, status: str) -> None:
    operation = document["paths"][path][method]
    assert status in operation["responses"], sorted(operation["responses"])
    assert operation.get("summary")
    names = {parameter["name"] for parameter in operation.get("parameters", []) if parameter["in"] == "path"}
    assert names == set(re.findall(r"\{(\w+)\}", path))


def concrete(path: str, api: Api, operation_id: str) -> str:
    return (
        path.replace("{project_id}", api.project_id)
        .replace("{async_job_id}", str(uuid.uuid4()))
        .replace("{job_id}", operation_id)
    )


def request(api: Api, method: str, path: str) -> httpx.Response:
    body: dict[str, Any] | None = {} if method.upper() in ("POST", "PUT", "DELETE") else None
    response = api.http.request(method.upper(), path, json=body)
    assert response.status_code < 500, f"{method} {path}: {response.text}"
    return response


def test_every_documented_endpoint_is_served(document: dict[str, Any], api: Api, operation_id: str) -> None:
    for path, methods in documented(document).items():
        for method in methods:
            response = request(api, method, concrete(path, api, operation_id))
            assert response.status_code not in (404, 405), f"{method} {path}: {response.text}"
            if response.status_code >= 400:
                assert response.json()["error_code"] not in ("APIGW.0101", "APIGW.0102"), f"{method} {path}"


def test_undocumented_methods_are_not_served(document: dict[str, Any], api: Api, operation_id: str) -> None:
    for path, methods in documented(document).items():
        for method in set(METHODS) - methods:
            response = request(api, method, concrete(path, api, operation_id))
            assert response.status_code == 405, f"{method} {path}: {response.status_code} {response.text}"
            assert response.json()["error_code"] == "APIGW.0102"


@pytest.mark.parametrize(("method", "path"), NOT_SERVED)
def test_undocumented_paths_are_not_served(api: Api, operation_id: str, method: str, path: str) -> None:
    response = request(api, method, concrete(path, api, operation_id))
    assert response.status_code == 404, response.text
    assert response.json()["error_code"] == "APIGW.0101"


def test_every_documented_project_endpoint_is_also_served_under_drs(
    document: dict[str, Any], api: Api, operation_id: str
) -> None:
    for path, methods in documented(document).items():
        if "{project_id}" not in path:
            continue
        for method in methods:
            response = request(api, method, "/drs" + concrete(path, api, operation_id))
            assert response.status_code not in (404, 405), f"{method} /drs{path}: {response.text}"

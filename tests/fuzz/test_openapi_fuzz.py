"""Hostile input: schemathesis drives every operation of /openapi.json against a real `opendrs serve`.

Every operation the server publishes is picked up (a route added later is fuzzed without a line here), with a
valid token and the tenant's project in the path, so that requests get past the gateway. Checks: no 5xx, and
every answer (status code, content type, body) is one the published schema describes.

Where requests go: only to 127.0.0.1. The server runs with --no-worker, so nothing runs a precheck or a task;
batch-connection is the one call that connects to a database from the API process, and every endpoint address
in a generated body is pointed at a closed port on 127.0.0.1 before it is sent.

To reach past "task not found", the tenant's project holds seeded tasks in CONFIGURATION (a short-lived
`opendrs worker` moves them there) and an async job; generated job ids are mapped onto them, deterministically.
Budget: derandomized (reproducible in CI), FUZZ_EXAMPLES examples per operation, about two minutes.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from opendrs.domain import ids
from tests.e2e.conftest import serve_api_only
from tests.harness import Api, Server, create_tenant, new_task_spec

FUZZ_EXAMPLES = int(os.environ.get("OPENDRS_FUZZ_EXAMPLES", "60"))
SEEDED_TASKS = 3

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class Target:
    """The server under test, its tenant, the seeded ids and a closed port for endpoint addresses."""

    def __init__(self, api: Api, tasks: list[str], async_job: str, closed_port: int) -> None:
        self.api = api
        self.tasks = tasks
        self.async_job = async_job
        self.closed_port = closed_port

    def prepare(self, case: schemathesis.Case) -> None:
        parameters = case.path_parameters or {}
        if "project_id" in parameters:
            parameters["project_id"] = self.api.project_id
        if isinstance(parameters.get("async_job_id"), str) and _pick(parameters["async_job_id"], 2) == 0:
            parameters["async_job_id"] = self.async_job
        case.body = self._rewrite(case.body)

    def _rewrite(self, value: Any) -> Any:
        if isinstance(value, dict):
            rewritten = {key: self._rewrite(item) for key, item in value.items()}
            if isinstance(value.get("ip"), str):
                # An endpoint: 127.0.0.1 on a port that refuses, whatever was generated (a missing or null
                # db_port means 3306, where a shared server may listen).
                rewritten |= {"ip": "127.0.0.1", "db_port": self.closed_port}
            return rewritten
        if isinstance(value, list):
            return [self._rewrite(item) for item in value]
        if isinstance(value, str) and ids.is_job_id(value):
            return self.tasks[_pick(value, len(self.tasks))]
        return value


def _pick(value: str, choices: int) -> int:
    return int(hashlib.sha256(value.encode()).hexdigest(), 16) % choices


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound and never listens: a connection to it is refused at once."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, closed_port: int) -> Iterator[Target]:
    with serve_api_only(tmp_path_factory.mktemp("fuzz")) as server, Api(server, create_tenant(server, "fuzz")) as api:
        tasks = _seed_tasks(server, api)
        created = api.post("/v5/{project_id}/jobs/batch-async-create", {"jobs": [_async_spec()]})
        assert created.status_code == 200, created.text
        yield Target(api, tasks, created.json()["job"]["async_job_id"], closed_port)


def _seed_tasks(server: Server, api: Api) -> list[str]:
    """Tasks in CONFIGURATION: created over the API, provisioned by a worker that stops before fuzzing."""
    response = api.post(
        "/v3/{project_id}/jobs/batch-creation", {"jobs": [new_task_spec() for _ in range(SEEDED_TASKS)]}
    )
    assert response.status_code == 202, response.text
    tasks = [result["id"] for result in response.json()["results"]]
    worker = subprocess.Popen([sys.executable, "-m", "opendrs", "worker"], env=server.env, stderr=subprocess.DEVNULL)
    try:
        for task in tasks:
            api.wait_status(task, "CONFIGURATION")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return tasks


def _async_spec() -> dict[str, Any]:
    endpoint = {"db_type": "mysql", "endpoint_type": "offline", "endpoint": {"ip": "127.0.0.1", "db_port": "1"}}
    return {
        "base_info": {"name": "fuzz-seed", "job_type": "migration", "engine_type": "mysql", "task_type": "FULL_TRANS"},
        "source_endpoint": [{**endpoint, "endpoint_role": "so"}],
        "target_endpoint": [{**endpoint, "endpoint_role": "ta"}],
        "policy_config": {},
        "db_object": {},
        "node_info": {},
    }


@pytest.fixture(scope="module")
def published_schema(target: Target) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{target.api.server.base_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("published_schema")


@schema.parametrize()
@pytest.mark.timeout(900)  # one test for every operation: minutes, more on a loaded machine
@settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation(case: schemathesis.Case, target: Target) -> None:
    target.prepare(case)
    case.call_and_validate(
        base_url=target.api.server.base_url, headers={"X-Auth-Token": target.api.token}, checks=CHECKS
    )

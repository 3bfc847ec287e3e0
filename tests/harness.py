"""Drives opendrs as a user does: the `opendrs` command in subprocesses, the API over real HTTP."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa

T = TypeVar("T")

DEADLINE = 30.0  # seconds: how long to wait for anything asynchronous before failing


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(condition: Callable[[], T | None], what: str, deadline: float = DEADLINE) -> T:
    """Poll `condition` until it returns something truthy; fail with `what` after `deadline` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline} s waiting for {what}")
        time.sleep(0.05)


def run_opendrs(env: Mapping[str, str], *args: str) -> dict[str, Any]:
    """Run an `opendrs` command line and parse the one JSON object it prints."""
    done = subprocess.run(
        [sys.executable, "-m", "opendrs", *args], env=dict(env), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"opendrs {' '.join(args[:2])} failed: {done.stderr}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@dataclasses.dataclass
class Server:
    """An `opendrs serve` process on a free port, with the environment that points at its store."""

    base_url: str
    env: dict[str, str]
    store_url: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def engine(self) -> sa.Engine:
        url = self.store_url.replace("postgresql://", "postgresql+psycopg://", 1)
        return sa.create_engine(url)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def serve(
    data_dir: Path, database_url: str | None = None, *, no_worker: bool = False, **settings: str
) -> Iterator[Server]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENDRS_")}
    env |= {"OPENDRS_DATA_DIR": str(data_dir), **settings}
    if database_url:
        env["OPENDRS_DATABASE_URL"] = database_url
    store_url = database_url or f"sqlite:///{data_dir / 'opendrs.db'}"
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "serve.log"
    server = Server(f"http://127.0.0.1:{port}", env, store_url, log_path)
    with log_path.open("wb") as log:
        server.process = subprocess.Popen(
            [sys.executable, "-m", "opendrs", "serve", "--host", "127.0.0.1", "--port", str(port)]
            + (["--no-worker"] if no_worker else []),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: _answers(server), f"opendrs serve on port {port}; log:\n{server.log_text()}")
            yield server
        finally:
            server.process.terminate()
            server.process.wait(timeout=30)


def _answers(server: Server) -> bool:
    assert server.process is not None
    if server.process.poll() is not None:
        raise AssertionError(f"opendrs serve exited with {server.process.returncode}:\n{server.log_text()}")
    try:
        return httpx.get(f"{server.base_url}/v3", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@dataclasses.dataclass(frozen=True)
class Tenant:
    domain: str
    user: str
    password: str
    project_name: str
    domain_id: str
    user_id: str
    project_id: str


def create_tenant(server: Server, prefix: str = "t") -> Tenant:
    suffix = uuid.uuid4().hex[:8]
    domain, user, project = f"{prefix}-dom-{suffix}", f"{prefix}-user-{suffix}", f"{prefix}-region-{suffix}"
    password = f"pw-{uuid.uuid4().hex}"
    created = run_opendrs(
        server.env,
        "admin",
        "create-user",
        "--domain",
        domain,
        "--user",
        user,
        "--password",
        password,
        "--project",
        project,
    )
    return Tenant(domain, user, password, project, created["domain_id"], created["user_id"], created["project_id"])


def token_request(tenant: Tenant) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": tenant.user, "password": tenant.password, "domain": {"name": tenant.domain}}
                },
            },
            "scope": {"project": {"name": tenant.project_name, "domain": {"name": tenant.domain}}},
        }
    }


class Api:
    """An HTTP client for one tenant: paths are relative to /v3/{project_id}, /v5/..., /v1/..."""

    def __init__(self, server: Server, tenant: Tenant) -> None:
        self.server = server
        self.tenant = tenant
        self.project_id = tenant.project_id
        response = httpx.post(f"{server.base_url}/v3/auth/tokens", json=token_request(tenant))
        assert response.status_code == 201, response.text
        self.token = response.headers["X-Subject-Token"]
        self.http = httpx.Client(base_url=server.base_url, headers={"X-Auth-Token": self.token}, timeout=30)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.close()

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(self._url(path), json=body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(self._url(path), **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.http.put(self._url(path), json=body, **kwargs)

    def delete(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.http.request("DELETE", self._url(path), json=body, **kwargs)

    def _url(self, path: str) -> str:
        return path.replace("{project_id}", self.project_id)

    # Common steps ------------------------------------------------------------------------------

    def create_tasks(self, count: int = 1, **overrides: Any) -> list[str]:
        """Create `count` MySQL tasks and wait until each is CONFIGURATION; their ids."""
        jobs = [new_task_spec(**overrides) for _ in range(count)]
        response = self.post("/v3/{project_id}/jobs/batch-creation", {"jobs": jobs})
        assert response.status_code == 202, response.text
        ids = [result["id"] for result in response.json()["results"]]
        for job_id in ids:
            self.wait_status(job_id, "CONFIGURATION")
        return ids

    def status(self, job_id: str) -> str | None:
        response = self.post("/v3/{project_id}/jobs/batch-status", {"jobs": [job_id]})
        assert response.status_code == 200, response.text
        status: str | None = response.json()["results"][0].get("status")
        return status

    def wait_status(self, job_id: str, expected: str) -> None:
        wait_for(lambda: self.status(job_id) == expected, f"task {job_id} to reach {expected}")

    def wait_operation(self, operation_id: str) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            body: dict[str, Any] = self.get(f"/v1/{{project_id}}/jobs/{operation_id}").json()
            return body if body["status"] in ("SUCCESS", "FAIL") else None

        return wait_for(finished, f"operation {operation_id} to finish")


def new_task_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": f"task-{uuid.uuid4().hex[:12]}",
        "db_use_type": "migration",
        "engine_type": "mysql",
        "job_direction": "up",
        "net_type": "eip",
        "node_type": "high",
        "task_type": "FULL_INCR_TRANS",
        "customize_sutnet_id": "352ad828-3467-4f03-987a-c55a5a9dd417",
        "source_endpoint": {"db_type": "mysql"},
        "target_endpoint": {"db_type": "mysql"},
    }
    spec.update(overrides)
    return spec

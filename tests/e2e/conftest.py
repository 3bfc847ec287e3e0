"""Fixtures of the end-to-end MySQL tests: a source MariaDB writing a row binlog, a target MariaDB, `opendrs serve`
on a SQLite store (and one on PostgreSQL), a fresh database per test, and for the fault tests an API-only server
with worker processes of our own to kill."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from tests import servers
from tests.e2e import mysql_helpers as my
from tests.harness import Api, Server, create_tenant, free_port, serve, wait_for

# Small enough that a lost source fails a task within a test's patience (spec: network failures are retried).
RETRY_WINDOW_SECONDS = "3"
LEASE_TTL_SECONDS = "3"


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MariadbServer]:
    with servers.mariadb_server(tmp_path_factory.mktemp("e2e-source"), binlog=True, server_id=31) as server:
        yield server


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MariadbServer]:
    with servers.mariadb_server(tmp_path_factory.mktemp("e2e-target"), server_id=32) as server:
        yield server


@pytest.fixture(scope="session")
def drs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`opendrs serve` (API and worker) on a SQLite store."""
    with serve(tmp_path_factory.mktemp("e2e-drs"), OPENDRS_RETRY_WINDOW_SECONDS=RETRY_WINDOW_SECONDS) as server:
        yield server


@pytest.fixture(scope="session")
def drs(drs_server: Server) -> Iterator[Api]:
    with Api(drs_server, create_tenant(drs_server, "e2e")) as api:
        yield api


@pytest.fixture(scope="session")
def drs_postgresql(postgres: servers.PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """`opendrs serve` on a PostgreSQL store of its own, and a tenant's client."""
    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        connection.execute('CREATE DATABASE "opendrs_e2e"')
    database_url = postgres.dsn.rsplit("/", 1)[0] + "/opendrs_e2e"
    data_dir = tmp_path_factory.mktemp("e2e-drs-postgresql")
    with (
        serve(data_dir, database_url, OPENDRS_RETRY_WINDOW_SECONDS=RETRY_WINDOW_SECONDS) as server,
        Api(server, create_tenant(server, "e2e")) as api,
    ):
        yield api


@pytest.fixture
def schema(request: pytest.FixtureRequest, source: servers.MariadbServer, target: servers.MariadbServer) -> str:
    """A database of the test's own, created empty on the source; absent on the target."""
    return my.fresh_schema(source, target, "e2e", request.node.name)


@pytest.fixture(autouse=True)
def _stop_tasks_left_running() -> Iterator[None]:
    """Terminate every task a test configured and left running, so that it stops using the shared servers."""
    yield
    while my.TASKS:
        api, job = my.TASKS.pop()
        try:
            # A client of its own: the test's client may be closed already (its fixture is torn down first).
            with Api(api.server, api.tenant) as cleanup:
                if my.status_of(cleanup, job).get("status") not in ("RELEASE_RESOURCE_COMPLETE", "DELETED"):
                    cleanup.delete(f"{my.JOBS}/batch-jobs", {"jobs": [{"job_id": job, "delete_type": "terminate"}]})
        except (httpx.HTTPError, AssertionError):
            pass  # the server is gone: nothing runs the task any more


# --- Fault tests: an API-only server and worker processes of our own ----------------------------------------------


@contextmanager
def serve_api_only(data_dir: Path, **settings: str) -> Iterator[Server]:
    """`opendrs serve --no-worker` on a free port, the way tests.harness.serve starts `opendrs serve`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENDRS_")}
    env |= {"OPENDRS_DATA_DIR": str(data_dir), **settings}
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir / "serve.log"
    store_url = settings.get("OPENDRS_DATABASE_URL") or f"sqlite:///{data_dir / 'opendrs.db'}"
    server = Server(f"http://127.0.0.1:{port}", env, store_url, log_path)
    argv = [sys.executable, "-m", "opendrs", "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        server.process = process

        def answers() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"opendrs serve exited with {process.returncode}:\n{server.log_text()}")
            try:
                return httpx.get(f"{server.base_url}/v3", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        try:
            wait_for(answers, f"opendrs serve --no-worker on port {port}")
            yield server
        finally:
            process.terminate()
            process.wait(timeout=30)


@dataclasses.dataclass
class Cluster:
    """An API-only server and `opendrs worker` processes sharing its store."""

    server: Server
    api: Api
    log_dir: Path
    workers: list[subprocess.Popen[bytes]] = dataclasses.field(default_factory=list)

    def start_worker(self) -> subprocess.Popen[bytes]:
        log_path = self.log_dir / f"worker-{len(self.workers)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "opendrs", "worker"], env=self.server.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.workers.append(process)

        def started() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"opendrs worker exited with {process.returncode}:\n{log_path.read_text()}")
            return "worker started" in log_path.read_text(errors="replace")

        wait_for(started, f"opendrs worker {process.pid} to start")
        return process

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [process for process in self.workers if process.poll() is None]

    def holder(self, job: str) -> subprocess.Popen[bytes] | None:
        """The live worker process of ours that holds the task's lease, if any."""
        owner = my.lease_owner(self.server, job)
        if owner is None:
            return None
        pid = int(owner.rsplit("-", 2)[1])  # '<hostname>-<pid>-<suffix>'; the hostname may hold dashes
        return next((process for process in self.alive() if process.pid == pid), None)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """kill -9: the worker gets no chance to release its lease or close anything."""
        process.send_signal(signal.SIGKILL)
        process.wait()

    def logs(self) -> str:
        paths = [self.server.log_path, *sorted(self.log_dir.glob("worker-*.log"))]
        return "\n".join(
            f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-30:]) for path in paths
        )

    def stop(self) -> None:
        for process in self.alive():
            process.terminate()
        for process in self.workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """`opendrs serve --no-worker` with a 3 s lease TTL, and two `opendrs worker` processes."""
    data_dir = tmp_path_factory.mktemp("e2e-cluster")
    with (
        serve_api_only(
            data_dir, OPENDRS_LEASE_TTL_SECONDS=LEASE_TTL_SECONDS, OPENDRS_RETRY_WINDOW_SECONDS="30"
        ) as server,
        Api(server, create_tenant(server, "faults")) as api,
    ):
        running = Cluster(server, api, data_dir)
        try:
            running.start_worker()
            running.start_worker()
            yield running
        finally:
            running.stop()

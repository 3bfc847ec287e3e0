"""Fixtures of the fault-injection suite: a source MariaDB writing a row binlog and a target MariaDB shared by every
test (a fresh database each), and one API-only `opendrs serve --no-worker` whose workers each test starts itself:
a worker armed with a crash point (OPENDRS_CRASH_AT) to die at it, then a normal one to take over.

Between tests no worker runs and no task is left running: a worker started by the next test finds nothing else to
claim (and no other task reaches its crash point)."""

from __future__ import annotations

import dataclasses
import itertools
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opendrs.faults import ENVIRONMENT_VARIABLE, REACHED
from tests import servers
from tests.e2e import mysql_helpers as my
from tests.e2e.conftest import serve_api_only
from tests.harness import Api, Server, create_tenant, wait_for

LEASE_TTL_SECONDS = 2.0  # a dead worker's task moves on after this
RETRY_WINDOW_SECONDS = 30.0  # a lost server must be back within this, or the task fails
COPY_CHUNK_ROWS = 250  # small tables still copy in several chunks


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MariadbServer]:
    with servers.mariadb_server(tmp_path_factory.mktemp("faults-source"), binlog=True, server_id=41) as server:
        yield server


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MariadbServer]:
    with servers.mariadb_server(tmp_path_factory.mktemp("faults-target"), server_id=42) as server:
        yield server


@pytest.fixture
def schema(request: pytest.FixtureRequest, source: servers.MariadbServer, target: servers.MariadbServer) -> str:
    """A database of the test's own, created empty on the source; absent on the target."""
    return my.fresh_schema(source, target, "f", request.node.name)


@dataclasses.dataclass
class Worker:
    """An `opendrs worker` process of the test's own; its stdout and stderr go to `log_path`."""

    process: subprocess.Popen[bytes]
    log_path: Path
    crash_at: str | None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_started(self) -> None:
        def started() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"opendrs worker exited with {self.process.returncode}:\n{self.log()}")
            return "worker started" in self.log()

        wait_for(started, f"opendrs worker {self.process.pid} to start")

    def crashed_at(self) -> str | None:
        """The crash point this worker said it reached, if it did."""
        found = re.search(re.escape(REACHED) + r" (\S+)", self.log())
        return found.group(1) if found else None


@dataclasses.dataclass
class Cluster:
    """An API-only server on a SQLite store, and the workers a test starts against it."""

    server: Server
    api: Api
    log_dir: Path
    workers: list[Worker] = dataclasses.field(default_factory=list)
    _started: itertools.count[int] = dataclasses.field(default_factory=itertools.count)

    def start_worker(self, crash_at: str | None = None, *, wait: bool = True) -> Worker:
        """A worker; with `crash_at` ("point" or "point:n") it SIGKILLs itself at that crash point. Without
        `wait`, the caller calls wait_started() before relying on it (a Python process takes a while to start)."""
        env = dict(self.server.env)
        if crash_at:
            env[ENVIRONMENT_VARIABLE] = crash_at
        log_path = self.log_dir / f"worker-{next(self._started)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "opendrs", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        worker = Worker(process, log_path, crash_at)
        self.workers.append(worker)
        if wait:
            worker.wait_started()
        return worker

    def kill(self, worker: Worker) -> None:
        """kill -9: the worker gets no chance to release its lease or close anything."""
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait()

    def holder(self, job: str) -> Worker | None:
        """The live worker of ours holding the task's lease ('<hostname>-<pid>-<suffix>'), if any."""
        owner = my.lease_owner(self.server, job)
        if owner is None:
            return None
        pid = int(owner.rsplit("-", 2)[1])
        return next((w for w in self.workers if w.process.pid == pid and w.process.poll() is None), None)

    def logs(self) -> str:
        paths = [self.server.log_path, *(worker.log_path for worker in self.workers)]
        return "\n".join(
            f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-25:]) for path in paths
        )

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in self.workers:
            try:
                worker.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill(worker)
        self.workers.clear()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("faults-cluster")
    settings = {
        "OPENDRS_LEASE_TTL_SECONDS": str(LEASE_TTL_SECONDS),
        "OPENDRS_RETRY_WINDOW_SECONDS": str(RETRY_WINDOW_SECONDS),
        "OPENDRS_COPY_CHUNK_ROWS": str(COPY_CHUNK_ROWS),
    }
    with serve_api_only(data_dir, **settings) as server, Api(server, create_tenant(server, "faults")) as api:
        running = Cluster(server, api, data_dir)
        try:
            yield running
        finally:
            running.stop_workers()


@pytest.fixture(autouse=True)
def _nothing_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: its tasks terminated and its workers stopped, so that the next test starts clean."""
    yield
    while my.TASKS:
        api, job = my.TASKS.pop()
        try:
            if my.status_of(api, job).get("status") not in ("RELEASE_RESOURCE_COMPLETE", "DELETED"):
                api.delete(f"{my.JOBS}/batch-jobs", {"jobs": [{"job_id": job, "delete_type": "terminate"}]})
        except (httpx.HTTPError, AssertionError):
            pass  # the server is gone: nothing runs the task any more
    if "cluster" in request.fixturenames:
        request.getfixturevalue("cluster").stop_workers()


def checksums(server: servers.MariadbServer, schema: str) -> dict[str, int]:
    """CHECKSUM TABLE of every table of `schema`, on one connection: cheap enough to poll (equal tables on two
    servers of the same version and table definitions give equal checksums; assert_same_database then compares
    every row)."""
    connection = my.connect(server)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
                " AND TABLE_TYPE = 'BASE TABLE'",
                (schema,),
            )
            names = [my.qualified(schema, str(row[0])) for row in cursor.fetchall()]
            if not names:
                return {}
            cursor.execute("CHECKSUM TABLE " + ", ".join(names))
            return {str(name): int(checksum or 0) for name, checksum in cursor.fetchall()}
    finally:
        connection.close()


def caught_up(api: Api, job: str, source: servers.MariadbServer, target: servers.MariadbServer, schema: str) -> None:
    """Until the target's `schema` equals the source's, row for row, while the task streams; fails at once if the
    task fails instead."""

    def same() -> bool:
        status = my.status_of(api, job)
        if status["status"] != "INCRE_TRANSFER_STARTED":
            raise AssertionError(f"task {job} left the incremental phase: {status}")
        return checksums(source, schema) == checksums(target, schema)

    try:
        wait_for(same, f"the target's {schema} to equal the source's", my.CATCH_UP_DEADLINE)
    except AssertionError:
        my.assert_same_database(source, target, schema)  # fails naming the first difference, if there is one
        raise
    my.assert_same_database(source, target, schema)

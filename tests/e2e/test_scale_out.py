"""Several workers on a PostgreSQL store: two `opendrs serve --no-worker` processes and three `opendrs worker`
processes share it. Tasks spread over the workers; the tasks of a worker killed with kill -9 are resumed by the
others within the lease TTL; a worker frozen (SIGSTOP) until its task was taken over writes nothing once it wakes
up: neither the store nor the target accepts its writes (its lease version is the fencing token on both)."""

from __future__ import annotations

import dataclasses
import itertools
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pymysql
import pytest

from tests import servers
from tests.e2e import mysql_helpers as my
from tests.e2e.conftest import Cluster, serve_api_only
from tests.harness import Api, create_tenant, wait_for
from tests.servers import MariadbServer

LEASE_TTL = 3.0  # seconds
TAKEOVER_SLACK = 3.0  # beyond the TTL: a survivor looks for work once a second, on a loaded machine
TASKS = 4
WORKERS = 3
SEEDED_ROWS = 500

_schemas = itertools.count(1)


@dataclasses.dataclass
class ScaleOut:
    cluster: Cluster  # its `api` talks to the first API server
    second_api: Api  # the same tenant through the second API server


@pytest.fixture(scope="module")
def scale(postgres: servers.PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleOut]:
    """Two API-only servers and three workers on a fresh PostgreSQL database."""
    database = f"opendrs_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"')
    settings = {
        "OPENDRS_DATABASE_URL": postgres.dsn.rsplit("/", 1)[0] + f"/{database}",
        "OPENDRS_SECRET_KEY": f"scale-out-{uuid.uuid4().hex}",  # both API servers and the workers share it
        "OPENDRS_LEASE_TTL_SECONDS": str(LEASE_TTL),
        "OPENDRS_RETRY_WINDOW_SECONDS": "30",
    }
    with ExitStack() as stack:
        first = stack.enter_context(serve_api_only(tmp_path_factory.mktemp("scale-api-1"), **settings))
        second = stack.enter_context(serve_api_only(tmp_path_factory.mktemp("scale-api-2"), **settings))
        api = stack.enter_context(Api(first, create_tenant(first, "scale")))
        second_api = stack.enter_context(Api(second, api.tenant))
        cluster = Cluster(first, api, tmp_path_factory.mktemp("scale-workers"))
        stack.callback(cluster.stop)
        for _ in range(WORKERS):
            cluster.start_worker()
        yield ScaleOut(cluster, second_api)


def new_schema(source: MariadbServer, target: MariadbServer) -> str:
    """A database of its own on the source with the writer's tables, seeded; absent on the target."""
    name = f"scale{next(_schemas)}_{uuid.uuid4().hex[:6]}"
    my.execute(target, f"DROP DATABASE IF EXISTS {my.quote(name)}")
    my.execute(source, f"CREATE DATABASE {my.quote(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    my.Writer.create_tables(source, name, pk_rows=SEEDED_ROWS)
    return name


def start_tasks(scale: ScaleOut, source: MariadbServer, target: MariadbServer, schemas: list[str]) -> list[str]:
    """A full+incremental task per schema, started through the first API server, watched through the second until
    each is in the incremental phase."""
    api = scale.cluster.api
    jobs = [my.configure_task(api, source, target, "FULL_INCR_TRANS", [schema]) for schema in schemas]
    for job in jobs:
        my.start(api, job)
    for job in jobs:
        my.wait_status(scale.second_api, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
    return jobs


def holder_of(cluster: Cluster, job: str) -> subprocess.Popen[bytes]:
    return wait_for(lambda: cluster.holder(job), f"a live worker to hold {job}")


def wait_taken_over(cluster: Cluster, job: str, old: subprocess.Popen[bytes], since: float) -> float:
    """Seconds from `since` until another live worker holds the task."""

    def taken_over() -> subprocess.Popen[bytes] | None:
        successor = cluster.holder(job)
        return successor if successor is not None and successor.pid != old.pid else None

    try:
        wait_for(taken_over, f"another worker to take {job} over", 30)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{cluster.logs()}") from None
    return time.monotonic() - since


def test_tasks_spread_over_the_workers_and_a_killed_workers_tasks_resume_on_the_others(
    scale: ScaleOut, source: MariadbServer, target: MariadbServer
) -> None:
    cluster = scale.cluster
    schemas = [new_schema(source, target) for _ in range(TASKS)]
    with ExitStack() as stack:
        writers = [stack.enter_context(my.writing(source, schema, seeded_rows=SEEDED_ROWS)) for schema in schemas]
        jobs = start_tasks(scale, source, target, schemas)

        holders = {job: holder_of(cluster, job) for job in jobs}
        held: dict[int, list[str]] = {process.pid: [] for process in cluster.alive()}
        for job, process in holders.items():
            held[process.pid].append(job)
        assert all(held.values()), f"a worker holds no task: {held}"
        victim = max(cluster.alive(), key=lambda process: len(held[process.pid]))

        cluster.kill(victim)
        killed_at = time.monotonic()
        takeovers = {job: wait_taken_over(cluster, job, victim, killed_at) for job in held[victim.pid]}
        print(f"tasks held per worker {held}; taken over after kill -9 in {takeovers} s")  # shown with -s
        assert max(takeovers.values()) <= LEASE_TTL + TAKEOVER_SLACK, takeovers
        for writer in writers:
            writer.wait_for_transactions(50, "writes after the kill")

    for schema in schemas:
        my.wait_same_database(source, target, schema)
    for job in jobs:
        assert my.status_of(scale.second_api, job)["status"] == "INCRE_TRANSFER_STARTED"
    cluster.start_worker()  # three again, for the next test


class CheckpointWatch:
    """Polls the task's checkpoint on the target (the position the incremental phase applied up to) in a thread of
    its own and records every time it went backwards."""

    def __init__(self, target: MariadbServer, job: str) -> None:
        self._target = target
        self._job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"checkpoint-{job[:8]}", daemon=True)
        self.backwards: list[tuple[Any, Any]] = []
        self.samples = 0
        self.error: BaseException | None = None

    def __enter__(self) -> CheckpointWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last: tuple[Any, ...] | None = None
        connection = my.connect(self._target)
        try:
            with connection.cursor() as cursor:
                while not self._stop.is_set():
                    cursor.execute("SELECT file, pos FROM opendrs_meta.checkpoints WHERE task_id = %s", (self._job,))
                    row = cursor.fetchone()
                    if row is not None and row[0] is not None:
                        if last is not None and tuple(row) < last:
                            self.backwards.append((last, tuple(row)))
                        last = tuple(row)
                        self.samples += 1
                    self._stop.wait(0.02)
        except BaseException as error:
            self.error = error
        finally:
            connection.close()


def checkpoint_of(target: MariadbServer, job: str) -> tuple[Any, ...] | None:
    """The task's checkpoint on the target; None before its first (the applier creates the table)."""
    try:
        rows = my.query(target, "SELECT file, pos FROM opendrs_meta.checkpoints WHERE task_id = %s", (job,))
    except pymysql.err.ProgrammingError as missing:
        if missing.args[0] != 1146:  # ER_NO_SUCH_TABLE
            raise
        return None
    return tuple(rows[0]) if rows else None


def test_a_frozen_worker_whose_task_was_taken_over_writes_nothing_when_it_wakes_up(
    scale: ScaleOut, source: MariadbServer, target: MariadbServer
) -> None:
    cluster = scale.cluster
    schema = new_schema(source, target)
    with my.writing(source, schema, seeded_rows=SEEDED_ROWS) as writer:
        [job] = start_tasks(scale, source, target, [schema])
        writer.wait_for_transactions(50, "writes in the incremental phase")
        frozen = holder_of(cluster, job)
        log_path = cluster.log_dir / f"worker-{cluster.workers.index(frozen)}.log"
        frozen.send_signal(signal.SIGSTOP)
        try:
            frozen_at = time.monotonic()
            takeover = wait_taken_over(cluster, job, frozen, frozen_at)
            assert takeover <= LEASE_TTL + TAKEOVER_SLACK, f"the task waited {takeover:.1f} s for a new worker"
            at_takeover = checkpoint_of(target, job)
            try:
                wait_for(lambda: checkpoint_of(target, job) != at_takeover, "the new worker to apply changes")
            except AssertionError as error:
                raise AssertionError(f"{error}\n{cluster.logs()}") from None
            log_before = log_path.read_text(errors="replace")
            with CheckpointWatch(target, job) as watch:
                frozen.send_signal(signal.SIGCONT)
                stopped = f"task {job} stops"
                wait_for(lambda: stopped in log_path.read_text(errors="replace"), f"the woken worker to stop {job}")
                writer.wait_for_transactions(100, "writes after the frozen worker woke up")
        finally:
            frozen.send_signal(signal.SIGCONT)

    my.wait_same_database(source, target, schema)
    woken_log = log_path.read_text(errors="replace")[len(log_before) :]
    print(f"taken over {takeover:.1f} s after SIGSTOP; the woken worker logged:\n{woken_log}")  # shown with -s
    assert watch.error is None, watch.error
    assert watch.samples > 0
    assert not watch.backwards, f"the target's checkpoint went backwards: {watch.backwards}"
    assert "lease lost" in woken_log, woken_log
    assert frozen.poll() is None, "the woken worker died instead of leaving the task"
    assert cluster.holder(job) not in (None, frozen), "the woken worker holds the task again"
    assert my.status_of(scale.second_api, job)["status"] == "INCRE_TRANSFER_STARTED"

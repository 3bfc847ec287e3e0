"""The worker of `opendrs serve` sleeps between its polls, an hour here, and still follows a task through its whole
life at once: the API's commands wake it (the doorbell), and so does the end of a thread of its own (a task that let
go after a pause or a stop, the triggers and events created at a stop, a comparison), and a task's start_time. Without
one of those wake-ups a step below would wait for the next poll, an hour away, and the test would time out."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.api.test_operations import get_operation
from tests.e2e import mysql_helpers as my
from tests.e2e.mysql_helpers import execute, quote
from tests.e2e.test_mysql_compare import create_comparisons, wait_comparisons
from tests.harness import Api, create_tenant, serve, wait_for
from tests.servers import MariadbServer


@pytest.fixture(scope="module")
def sleepy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with (
        serve(tmp_path_factory.mktemp("e2e-sleepy"), OPENDRS_WORKER_POLL_SECONDS="3600") as server,
        Api(server, create_tenant(server, "sleepy")) as api,
    ):
        yield api


def test_a_task_is_started_paused_resumed_compared_and_stopped_without_a_poll(
    sleepy: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.t (id INT PRIMARY KEY, v VARCHAR(20))",
        f"INSERT INTO {s}.t SELECT seq, CONCAT('v', seq) FROM {s}.seq_1_to_100",
        f"CREATE TRIGGER {s}.t_guard BEFORE UPDATE ON {s}.t FOR EACH ROW SET NEW.v = NEW.v",  # created at the stop
    )
    job = my.replicating_task(sleepy, source, target, [schema])

    my.pause_until_let_go(sleepy, sleepy.server, job)
    my.wait_status(sleepy, job, "PAUSING")
    execute(source, f"UPDATE {s}.t SET v = 'paused' WHERE id <= 10")
    my.retry(sleepy, job)
    my.wait_status(sleepy, job, "INCRE_TRANSFER_STARTED")
    my.wait_same_database(source, target, schema)

    objects, contents = create_comparisons(sleepy, job, objects=True, compare_type="contents")
    wait_comparisons(sleepy, job, objects, contents)

    operation = my.terminate(sleepy, job)
    stopped = wait_for(
        lambda: (answer := get_operation(sleepy, operation))["status"] in ("SUCCESS", "FAIL") and answer,
        "the stop's operation to finish",
    )
    assert stopped["status"] == "SUCCESS", stopped
    assert my.status_of(sleepy, job)["status"] == "RELEASE_RESOURCE_COMPLETE"
    assert my.scalar(target, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s", [schema])


def test_a_task_starts_at_its_start_time_without_a_poll(
    sleepy: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    execute(source, f"CREATE TABLE {s}.t (id INT PRIMARY KEY)", f"INSERT INTO {s}.t SELECT seq FROM {s}.seq_1_to_10")
    job = my.configure_task(sleepy, source, target, "FULL_TRANS", [schema])
    assert my.precheck(sleepy, job)["result"] is True
    start_time = int(time.time() * 1000) + 3000
    body = {"jobs": [{"job_id": job, "start_time": str(start_time)}]}
    my.succeeded(sleepy.post(f"{my.JOBS}/batch-starting", body), 202)
    assert my.status_of(sleepy, job)["status"] == "WAITING_FOR_START"

    my.wait_status(sleepy, job, "FULL_TRANSFER_COMPLETE")
    assert int(my.detail_of(sleepy, job)["actual_start_time"]) >= start_time
    my.assert_same_database(source, target, schema)

"""A task's history (GET /v3/{project_id}/jobs/{job_id}/history, batch-detail logs[]), /metrics, and log lines that
carry the request id and the task id, on a real `opendrs serve` replicating between real MariaDB servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import servers
from tests.e2e import mysql_helpers as my
from tests.e2e.conftest import source
from tests.harness import Api, Server, create_tenant, serve, wait_for

__all__ = ["source"]

JOBS = "/v3/{project_id}/jobs"
HISTORY_ROUTE = "/v3/{project_id}/jobs/{job_id}/history"


def metrics(server: Server, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics, parsed by prometheus_client: (sample name, sorted labels) -> value."""
    response = httpx.get(f"{server.base_url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def task_value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, api: Api, job: str) -> float:
    return found[(name, (("job_id", job), ("project_id", api.project_id)))]


def history(api: Api, job: str) -> dict[str, Any]:
    response = api.get(f"{JOBS}/{job}/history")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def json_lines(log_path: Path) -> list[dict[str, Any]]:
    lines = []
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


@pytest.fixture(scope="module")
def own_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MariadbServer]:
    """A target of this module's own: a test kills it."""
    with servers.mariadb_server(tmp_path_factory.mktemp("monitoring-target"), server_id=41) as server:
        yield server


@pytest.fixture(scope="module")
def json_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("monitoring-drs")
    settings = {"OPENDRS_LOG_FORMAT": "json", "OPENDRS_SAMPLE_SECONDS": "0.5", "OPENDRS_RETRY_WINDOW_SECONDS": "3"}
    with serve(data_dir, **settings) as server:
        yield server


def test_history_metrics_and_logs_follow_a_task_through_a_failure(
    json_server: Server, source: servers.MariadbServer, own_target: servers.MariadbServer
) -> None:
    schema = "monitoring_follow"
    my.execute(source, f"DROP DATABASE IF EXISTS {schema}", f"CREATE DATABASE {schema}")
    my.Writer.create_tables(source, schema, pk_rows=3000)
    with Api(json_server, create_tenant(json_server, "mon")) as api:
        job = my.configure_task(api, source, own_target, "FULL_INCR_TRANS", [schema])
        my.start(api, job)
        my.wait_status(api, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
        with my.writing(source, schema) as writer:
            writer.wait_for_transactions(30, "writes on the source")
        my.wait_same_database(source, own_target, schema)
        copied = sum(table["rows_copied"] for table in my.detail_of(api, job)["table_progress"])
        assert copied >= 3000

        # Samples every half second: lag once incremental, rows transferred counting the copy and the changes.
        def sampled() -> dict[str, Any] | None:
            found = history(api, job)
            with_lag = [sample for sample in found["samples"] if sample["lag_seconds"] is not None]
            return found if len(with_lag) >= 2 and found["samples"][-1]["rows_transferred"] > copied else None

        found = wait_for(sampled, "samples of the incremental phase")
        times = [sample["time"] for sample in found["samples"]]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert all(sample["rows_per_second"] >= 0 for sample in found["samples"])
        assert any(sample["rows_per_second"] > 0 for sample in found["samples"])
        assert found["errors"] == []

        scraped = metrics(json_server)
        last_sampled = history(api, job)["samples"][-1]["rows_transferred"]
        assert task_value(scraped, "opendrs_task_rows_transferred_total", api, job) >= last_sampled
        assert task_value(scraped, "opendrs_task_bytes_transferred_total", api, job) > copied * 10
        assert task_value(scraped, "opendrs_task_errors_total", api, job) == 0
        assert task_value(scraped, "opendrs_task_lag_seconds", api, job) >= 0
        assert task_value(scraped, "opendrs_task_rows_per_second", api, job) >= 0
        status_key = (("job_id", job), ("project_id", api.project_id), ("status", "INCRE_TRANSFER_STARTED"))
        assert scraped[("opendrs_task_status", status_key)] == 1
        # HTTP requests by route template, never by raw path.
        answered = ("opendrs_http_requests_total", (("method", "GET"), ("route", HISTORY_ROUTE), ("status", "200")))
        before = metrics(json_server)[answered]
        for _ in range(3):
            history(api, job)
        assert metrics(json_server)[answered] == before + 3  # whichever HTTP process answered
        assert not any(job in dict(labels).get("route", "") for _, labels in scraped)

        # The target goes away: retried failures (warnings), then the one that fails the task (error).
        own_target.kill()
        try:
            my.execute(source, f"INSERT INTO {schema}.w_nokey VALUES (1, 'after the target went away')")
            failed = my.wait_status(api, job, "INCRE_TRANSFER_FAILED")
            errors = history(api, job)["errors"]
            assert [event["level"] for event in errors][-1] == "error", errors
            assert "warning" in [event["level"] for event in errors], errors
            assert errors[-1]["error_code"] == failed["error_code"]
            assert errors[-1]["message"] == failed["error_message"]
            logs = my.detail_of(api, job)["logs"]
            assert [(log["level"], log["error_code"], log["message"]) for log in logs] == [
                (event["level"], event["error_code"], event["message"]) for event in errors
            ]
            assert [int(log["create_time"]) for log in logs] == [event["time"] for event in errors]
            scraped = metrics(json_server)
            assert task_value(scraped, "opendrs_task_errors_total", api, job) == len(errors)
            status_key = (("job_id", job), ("project_id", api.project_id), ("status", "INCRE_TRANSFER_FAILED"))
            assert scraped[("opendrs_task_status", status_key)] == 1
        finally:
            if not own_target.running:
                own_target.start()

        # Every line logged while running the task names it, though the code logging it never passed the id.
        lines = json_lines(json_server.log_path)
        retrying = [line for line in lines if "retrying" in line["message"] and job in line["message"]]
        assert retrying and all(line.get("task_id") == job for line in retrying), retrying
        copy_lines = [line for line in lines if line["logger"] == "opendrs.connectors.mysql.snapshot"]
        assert copy_lines and all(line.get("task_id") == job for line in copy_lines)

        # A refused request's line names the request, as its X-Request-Id header does.
        refused = api.get(f"{JOBS}/not-a-job/history")
        assert refused.status_code == 400
        request_id = refused.headers["X-Request-Id"]

        def logged() -> list[dict[str, Any]]:
            return [line for line in json_lines(json_server.log_path) if line.get("request_id") == request_id]

        [line] = wait_for(logged, "the refused request's log line")
        assert "/not-a-job/history answered 400" in line["message"]
        assert "task_id" not in line


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("monitoring-plain"), OPENDRS_METRICS_TOKEN="scrape-secret") as server:
        yield server


def test_history_of_an_unknown_or_foreign_task_is_refused(plain_server: Server) -> None:
    with (
        Api(plain_server, create_tenant(plain_server, "own")) as api,
        Api(plain_server, create_tenant(plain_server, "other")) as other,
    ):
        [job] = api.create_tasks(1)
        assert history(api, job) == {"job_id": job, "samples": [], "errors": []}
        for client, job_id in ((api, "not-a-job"), (other, job)):
            response = client.get(f"{JOBS}/{job_id}/history")
            assert response.status_code == 400
            assert response.json()["error_code"] == "DRS.M05003"
        anonymous = httpx.get(f"{plain_server.base_url}/v3/{api.project_id}/jobs/{job}/history")
        assert anonymous.status_code == 401
        assert anonymous.json()["error_code"] == "APIGW.0301"
        assert my.detail_of(api, job)["logs"] == []


def test_metrics_token_and_plain_log_lines(plain_server: Server) -> None:
    refused = httpx.get(f"{plain_server.base_url}/metrics")
    assert refused.status_code == 401
    assert refused.json()["error_code"] == "APIGW.0301"
    assert httpx.get(f"{plain_server.base_url}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scraped = metrics(plain_server, Authorization="Bearer scrape-secret")
    refused_metrics = (("method", "GET"), ("route", "/metrics"), ("status", "401"))
    assert scraped[("opendrs_http_requests_total", refused_metrics)] >= 2
    assert scraped[("opendrs_http_request_duration_seconds_count", (("method", "GET"), ("route", "/metrics")))] >= 2

    request_id = refused.headers["X-Request-Id"]
    wait_for(lambda: f"[request_id={request_id}]" in plain_server.log_text(), "the refused scrape's log line")
    with Api(plain_server, create_tenant(plain_server, "plain")) as api:
        [job] = api.create_tasks(1)
        response = api.post(f"{JOBS}/batch-precheck", {"jobs": [{"job_id": job, "precheck_mode": "forStartJob"}]})
        assert response.status_code == 200, response.text

        def precheck_logged() -> list[str]:
            return [line for line in plain_server.log_text().splitlines() if "precheck" in line and job in line]

        lines = wait_for(precheck_logged, "the precheck's log line")
        assert all(f"task_id={job}" in line for line in lines), lines

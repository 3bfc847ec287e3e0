"""Secrets at rest and in flight: database passwords, the access key's secret, the IAM password and the server's
secret key never reach the store in plain text, an API answer (error answers included) or the log (DEBUG level,
plain and JSON lines), through every path: v3 creation, modification, connection tests (a real MariaDB refusing a
wrong password), prechecks, a real full transfer, v5 batch-async create / update / detail / list, and operations.

One run per store; the two runs use the two log formats.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkdrs.v3 import BatchListJobStatusRequest, BatchQueryJobReqPage, DrsClient

from tests import servers
from tests.e2e import mysql_helpers as my
from tests.harness import Api, Server, create_tenant, run_opendrs, serve, wait_for

JOBS = "/v3/{project_id}/jobs"
V5 = "/v5/{project_id}"
UNKNOWN_JOB = "9a470239-2308-4bb5-a6bc-1040402fjb21"
DEADLINE = 120.0  # seconds: a precheck, a full transfer


def distinctive(kind: str) -> str:
    """A secret no other text can contain by chance."""
    return f"Sx{kind}{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MariadbServer]:
    """One MariaDB as both source and target (distinct databases), with a user that has a password."""
    with servers.mariadb_server(tmp_path_factory.mktemp("secrets-mariadb"), binlog=True, server_id=41) as server:
        yield server


class Recorder:
    """Every answer the API gave, as text, with what was asked."""

    def __init__(self) -> None:
        self.answers: list[str] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.answers.append(f"{response.request.method} {response.request.url} {response.status_code}\n{response.text}")


@pytest.mark.parametrize(("store", "log_format"), [("sqlite", "plain"), ("postgresql", "json")])
def test_no_secret_is_stored_answered_or_logged(
    store: str, log_format: str, mariadb: servers.MariadbServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    secrets = {kind: distinctive(kind) for kind in ("created", "wrong", "right", "v5create", "v5update", "unused")}
    server_key = distinctive("serverkey")
    database_url = _database_url(request, tmp_path) if store == "postgresql" else None
    user = f"drs_{uuid.uuid4().hex[:8]}"
    my.execute(
        mariadb,
        f"CREATE USER '{user}'@'%' IDENTIFIED BY '{secrets['right']}'",
        f"GRANT ALL ON *.* TO '{user}'@'%'",
        f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{secrets['right']}'",
        f"GRANT ALL ON *.* TO '{user}'@'localhost'",
    )
    schema = f"secrets_{store}"
    my.execute(
        mariadb,
        f"DROP DATABASE IF EXISTS {schema}",
        f"DROP DATABASE IF EXISTS {schema}_copy",
        f"CREATE DATABASE {schema}",
        f"CREATE TABLE {schema}.t (id INT PRIMARY KEY, v VARCHAR(20))",
        f"INSERT INTO {schema}.t VALUES (1, 'a'), (2, 'b')",
    )
    settings = {
        "OPENDRS_LOG_LEVEL": "DEBUG",
        "OPENDRS_LOG_FORMAT": log_format,
        "OPENDRS_SECRET_KEY": server_key,
        "OPENDRS_RETRY_WINDOW_SECONDS": "3",
    }
    recorder = Recorder()
    with serve(tmp_path / "data", database_url, **settings) as server:
        tenant = create_tenant(server, "sec")
        access: dict[str, str] = run_opendrs(
            server.env, "admin", "create-access-key", "--domain", tenant.domain, "--user", tenant.user
        )
        with Api(server, tenant) as api:
            api.http.event_hooks["response"].append(recorder)
            _drive_every_path(api, mariadb, user, secrets, schema)
            _read_everything(api)
            _signed_request(server, tenant.project_id, access)
        forbidden = {**secrets, "server key": server_key, "access secret": access["secret"], "iam": tenant.password}
        stored = _store_text(server, tmp_path / "data")
        log = server.log_text()
    for kind, secret in forbidden.items():
        assert secret not in stored, f"the {kind} secret is stored in plain text"
        assert secret not in log, f"the {kind} secret is in the log"
        leaked = [answer for answer in recorder.answers if secret in answer]
        assert not leaked, f"the {kind} secret is in an answer: {leaked[0][:500]}"
    # The run really went through the paths it claims: a refused login, a precheck, a full transfer, DEBUG lines.
    assert any("DRS.KE0002" in answer or "1045" in answer for answer in recorder.answers), recorder.answers
    assert my.scalar(mariadb, f"SELECT COUNT(*) FROM {schema}_copy.t") == 2
    assert "DEBUG" in log, log[-2000:]


def _database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    postgres: servers.PostgresServer = request.getfixturevalue("postgres")
    name = f"secrets_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return postgres.dsn.rsplit("/", 1)[0] + f"/{name}"


def _endpoint(mariadb: servers.MariadbServer, user: str, password: str) -> dict[str, Any]:
    return {"db_type": "mysql", "ip": mariadb.host, "db_port": mariadb.port, "db_user": user, "db_password": password}


def _drive_every_path(
    api: Api, mariadb: servers.MariadbServer, user: str, secrets: dict[str, str], schema: str
) -> None:
    source = _endpoint(mariadb, user, secrets["created"])
    [job] = api.create_tasks(1, task_type="FULL_TRANS", source_endpoint=source, target_endpoint=source)
    my.TASKS.append((api, job))
    # A wrong password: the real server refuses it; the answer names the failure, not the password.
    tests = [{"id": job, "end_point_type": role, **_endpoint(mariadb, user, secrets["wrong"])} for role in ("so", "ta")]
    refused = api.post(f"{JOBS}/batch-connection", {"jobs": tests})
    assert refused.status_code == 200 and refused.json()["results"][0]["success"] is False, refused.text
    # A precheck with the wrong password stored: it fails on the connection and reports it.
    wrong = _endpoint(mariadb, user, secrets["wrong"])
    my.succeeded(api.put(f"{JOBS}/batch-modification", {"jobs": [{"job_id": job, "source_endpoint": wrong}]}))
    objects = [
        {
            "id": schema,
            "object_type": "database",
            "object_name": schema,
            "object_alias_name": f"{schema}_copy",
            "select": "true",
        }
    ]
    my.succeeded(
        api.put(f"{JOBS}/batch-select-objects", {"jobs": [{"job_id": job, "selected": True, "job": objects}]}), 202
    )
    assert my.failed_items(my.precheck(api, job)), "a precheck with a wrong password passed"
    # The right password: connection test, precheck, a full transfer to the end.
    right = _endpoint(mariadb, user, secrets["right"])
    tests = [{"id": job, "end_point_type": role, **right} for role in ("so", "ta")]
    assert all(result["success"] for result in api.post(f"{JOBS}/batch-connection", {"jobs": tests}).json()["results"])
    endpoints = {"job_id": job, "source_endpoint": right, "target_endpoint": right}
    my.succeeded(api.put(f"{JOBS}/batch-modification", {"jobs": [endpoints]}))
    my.start(api, job)
    my.wait_status(api, job, "FULL_TRANSFER_COMPLETE", DEADLINE)
    # v5: create with passwords, fix one, read the job back.
    v5_endpoint = {
        "ip": mariadb.host,
        "db_port": str(mariadb.port),
        "db_user": user,
        "db_password": secrets["v5create"],
    }
    spec = {
        "base_info": {
            "name": f"v5-{uuid.uuid4().hex[:8]}",
            "job_type": "migration",
            "engine_type": "mysql-to-mysql",
            "job_direction": "up",
            "task_type": "FULL_TRANS",
            "net_type": "eip",
        },
        "source_endpoint": [
            {"db_type": "mysql", "endpoint_type": "offline", "endpoint_role": "so", "endpoint": v5_endpoint}
        ],
        "target_endpoint": [
            {"db_type": "mysql", "endpoint_type": "offline", "endpoint_role": "ta", "endpoint": v5_endpoint}
        ],
        "policy_config": {},
        "db_object": {},
        "node_info": {},
    }
    created = api.post(f"{V5}/jobs/batch-async-create", {"jobs": [spec]})
    assert created.status_code == 200, created.text
    async_job = created.json()["job"]["async_job_id"]
    updated_endpoint = {**v5_endpoint, "db_password": secrets["v5update"]}
    source_update = {"source_endpoint": [{"db_type": "mysql", "endpoint_role": "so", "endpoint": updated_endpoint}]}
    update = {"jobs": [{"type": "source_endpoint", "params": source_update}]}
    answer = api.put(f"{V5}/batch-async-jobs/{async_job}", update)
    assert answer.status_code in (200, 400), answer.text
    wait_for(
        lambda: api.get(f"{V5}/batch-async-jobs/{async_job}").json()["jobs"][0]["status"] != "VALIDATING",
        "the async job's validation",
    )
    api.get(f"{V5}/batch-async-jobs")
    # Refused requests echo nothing secret either: a bad field beside a password, an unknown task.
    bad = {"job_id": job, "source_endpoint": {**right, "db_port": "not-a-port", "db_password": secrets["unused"]}}
    assert api.put(f"{JOBS}/batch-modification", {"jobs": [bad]}).status_code == 400
    unknown = {"id": UNKNOWN_JOB, "end_point_type": "so", **_endpoint(mariadb, user, secrets["unused"])}
    api.post(f"{JOBS}/batch-connection", {"jobs": [unknown]})
    api.post(f"{JOBS}/batch-connection", {"jobs": [{**unknown, "db_port": 0}]})


def _read_everything(api: Api) -> None:
    """Every endpoint that answers with task data, for every task of the project."""
    jobs = api.post(JOBS, {"db_use_type": "migration", "cur_page": 0, "per_page": 0}).json()["jobs"]
    ids = [job["id"] for job in jobs]
    assert ids
    for path in ("batch-status", "batch-detail", "batch-progress", "batch-precheck-result"):
        api.post(f"{JOBS}/{path}", {"jobs": ids})
    for listed in api.get(f"{V5}/batch-async-jobs", params={"limit": 100}).json()["jobs"]:
        api.get(f"{V5}/batch-async-jobs/{listed['async_job_id']}")


def _signed_request(server: Server, project_id: str, access: dict[str, str]) -> None:
    """The access key in use: the official SDK signs a request with it."""
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    credentials = BasicCredentials(access["access"], access["secret"], project_id)
    client = DrsClient.new_builder().with_credentials(credentials).with_endpoints([server.base_url])
    built = client.with_http_config(config).build()
    try:
        answer = built.batch_list_job_status(BatchListJobStatusRequest(body=BatchQueryJobReqPage(jobs=[UNKNOWN_JOB])))
        assert answer.count == 1
    finally:
        built.close()


def _store_text(server: Server, data_dir: Path) -> str:
    """The raw store: the SQLite files' bytes, or every PostgreSQL row as text."""
    if server.store_url.startswith("sqlite"):
        return "\n".join(path.read_bytes().decode("latin-1") for path in data_dir.glob("opendrs.db*"))
    dsn = server.store_url
    with psycopg.connect(dsn) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        ]
        return "\n".join(
            str(row[0]) for table in tables for row in connection.execute(f'SELECT t::text FROM "{table}" t')
        )

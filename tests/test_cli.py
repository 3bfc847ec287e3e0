"""The `opendrs` command line: admin commands, migrate, help; and what it leaves in the store and the log."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory

from opendrs.api.signing import format_sdk_date, sign_request
from opendrs.store import database
from tests.harness import Server, serve

HEX32 = re.compile(r"^[0-9a-f]{32}$")
UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"


def command() -> list[str]:
    """The installed console script, as an operator runs it; `python -m opendrs` where it is not installed."""
    script = shutil.which("opendrs")
    return [script] if script else [sys.executable, "-m", "opendrs"]


def environment(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENDRS_")}
    return env | {"OPENDRS_DATA_DIR": str(data_dir), **settings}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command(), *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def one_json_object(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout
    value = json.loads(lines[0])
    assert isinstance(value, dict)
    return value


def create_user(env: dict[str, str], domain: str, user: str, password: str, project: str) -> dict[str, Any]:
    done = run(
        env, "admin", "create-user", "--domain", domain, "--user", user, "--password", password, "--project", project
    )
    return one_json_object(done)


def create_access_key(env: dict[str, str], domain: str, user: str) -> dict[str, Any]:
    return one_json_object(run(env, "admin", "create-access-key", "--domain", domain, "--user", user))


def token_response(server: Server, domain: str, user: str, password: str, project: str | None) -> httpx.Response:
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "password": password, "domain": {"name": domain}}},
        }
    }
    if project is not None:
        auth["scope"] = {"project": {"name": project, "domain": {"name": domain}}}
    return httpx.post(f"{server.base_url}/v3/auth/tokens", json={"auth": auth}, timeout=30)


def signed_status(server: Server, project_id: str, access: str, secret: str) -> httpx.Response:
    """POST batch-status signed with SDK-HMAC-SHA256, as the Huawei SDK does it."""
    path = f"/v3/{project_id}/jobs/batch-status"
    body = json.dumps({"jobs": [UNKNOWN]}).encode()
    headers = {
        "Host": server.base_url.removeprefix("http://"),
        "X-Sdk-Date": format_sdk_date(dt.datetime.now(dt.UTC)),
        "Content-Type": "application/json",
        "X-Project-Id": project_id,
    }
    authorization = sign_request(access, secret, "POST", path, "", headers, body)
    return httpx.post(
        f"{server.base_url}{path}", content=body, headers={**headers, "Authorization": authorization}, timeout=30
    )


def store_bytes(data_dir: Path) -> bytes:
    """Every byte SQLite keeps for the store: the database file and its journal/WAL files."""
    files = sorted(data_dir.glob("opendrs.db*"))
    assert data_dir / "opendrs.db" in files
    return b"".join(path.read_bytes() for path in files)


def names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"dom-{suffix}", f"user-{suffix}"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path / "data")


# create-user -------------------------------------------------------------------------------------


def test_create_user_prints_exactly_one_json_object(env: dict[str, str]) -> None:
    domain, user = names()
    created = create_user(env, domain, user, "pw-first-0001", "eu-de")
    assert set(created) == {"domain_id", "user_id", "project_id"}
    assert all(HEX32.match(value) for value in created.values()), created
    assert len(set(created.values())) == 3


def test_create_user_again_keeps_the_ids_and_changes_the_password(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = environment(data_dir)
    domain, user = names()
    first = create_user(env, domain, user, "pw-old-0001", "eu-de")
    second = create_user(env, domain, user, "pw-new-0002", "eu-de")
    assert second == first
    with serve(data_dir) as server:
        old = token_response(server, domain, user, "pw-old-0001", "eu-de")
        assert old.status_code == 401
        assert old.json()["error_code"] == "DRS.KE0002"
        new = token_response(server, domain, user, "pw-new-0002", "eu-de")
        assert new.status_code == 201, new.text
        assert new.json()["token"]["project"]["id"] == first["project_id"]
        assert new.json()["token"]["user"]["id"] == first["user_id"]


def test_a_second_project_for_the_same_user(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = environment(data_dir)
    domain, user = names()
    first = create_user(env, domain, user, "pw-0001", "eu-de")
    second = create_user(env, domain, user, "pw-0001", "eu-nl")
    assert second["user_id"] == first["user_id"]
    assert second["domain_id"] == first["domain_id"]
    assert second["project_id"] != first["project_id"]
    assert HEX32.match(second["project_id"])
    with serve(data_dir) as server:
        for project, created in (("eu-de", first), ("eu-nl", second)):
            response = token_response(server, domain, user, "pw-0001", project)
            assert response.status_code == 201, response.text
            assert response.json()["token"]["project"]["id"] == created["project_id"]
        domain_token = token_response(server, domain, user, "pw-0001", None).headers["X-Subject-Token"]
        listed = httpx.get(f"{server.base_url}/v3/projects", headers={"X-Auth-Token": domain_token})
        assert listed.status_code == 200
        assert sorted(project["id"] for project in listed.json()["projects"]) == sorted(
            [first["project_id"], second["project_id"]]
        )


def test_same_user_name_in_two_domains_are_two_users(env: dict[str, str]) -> None:
    domain, user = names()
    first = create_user(env, domain, user, "pw-0001", "eu-de")
    other = create_user(env, domain + "-2", user, "pw-0002", "eu-de")
    assert other["domain_id"] != first["domain_id"]
    assert other["user_id"] != first["user_id"]
    assert other["project_id"] != first["project_id"]


# create-access-key ---------------------------------------------------------------------------------


def test_create_access_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = environment(data_dir)
    domain, user = names()
    created = create_user(env, domain, user, "pw-0001", "eu-de")
    key = create_access_key(env, domain, user)
    assert set(key) == {"access", "secret"}
    assert re.fullmatch(r"[A-Z0-9]{20}", key["access"]), key
    assert re.fullmatch(r"[A-Za-z0-9]{40}", key["secret"])
    another = create_access_key(env, domain, user)
    assert another["access"] != key["access"] and another["secret"] != key["secret"]
    with serve(data_dir) as server:
        for pair in (key, another):  # both keys work
            response = signed_status(server, created["project_id"], pair["access"], pair["secret"])
            assert response.status_code == 200, response.text
        forged = signed_status(server, created["project_id"], key["access"], another["secret"])
        assert forged.status_code == 401
        assert forged.json()["error_code"] == "APIGW.0301"


@pytest.mark.parametrize("which", ["unknown user", "unknown domain"])
def test_create_access_key_for_an_unknown_user(env: dict[str, str], which: str) -> None:
    domain, user = names()
    create_user(env, domain, user, "pw-0001", "eu-de")
    args = (
        ("--domain", domain, "--user", "nobody") if which == "unknown user" else ("--domain", "nowhere", "--user", user)
    )
    done = run(env, "admin", "create-access-key", *args)
    assert done.returncode != 0
    assert done.stdout.strip() == ""
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("{")]
    assert error_lines, done.stderr
    error = json.loads(error_lines[-1])
    assert isinstance(error.get("error"), str) and error["error"]
    assert "Traceback" not in done.stderr


def test_secrets_are_not_stored_in_clear(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = environment(data_dir)
    domain, user = names()
    password = f"pw-{uuid.uuid4().hex}"
    create_user(env, domain, user, password, "eu-de")
    key = create_access_key(env, domain, user)
    stored = store_bytes(data_dir)
    assert key["access"].encode() in stored  # the key id is stored as is: the search works
    assert user.encode() in stored
    assert key["secret"].encode() not in stored
    assert password.encode() not in stored


# migrate, help ----------------------------------------------------------------------------------------


def store_state(data_dir: Path) -> tuple[set[str], list[str], int]:
    with sqlite3.connect(data_dir / "opendrs.db") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        versions = [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
        users = connection.execute("SELECT count(*) FROM users").fetchone()[0]
    connection.close()
    return tables, versions, users


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = environment(data_dir)
    head = ScriptDirectory.from_config(database.alembic_config()).get_current_head()
    first = run(env, "migrate")
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    assert "Running upgrade  -> " in first.stderr and "Context impl" not in first.stderr, first.stderr
    tables, versions, users = store_state(data_dir)
    assert {"domains", "users", "projects", "access_keys", "tasks"} <= tables
    assert versions == [head]
    assert users == 0
    domain, user = names()
    create_user(env, domain, user, "pw-0001", "eu-de")
    for _ in range(2):
        again = run(env, "migrate")
        assert again.returncode == 0, again.stderr
        assert again.stderr == "", again.stderr  # nothing to migrate: nothing to say
        assert store_state(data_dir) == (tables, [head], 1)


def test_no_arguments_prints_help_and_exits_2(env: dict[str, str]) -> None:
    done = run(env)
    assert done.returncode == 2
    assert "usage: opendrs" in done.stdout
    for subcommand in ("serve", "worker", "migrate", "admin"):
        assert subcommand in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_unknown_command_exits_2(env: dict[str, str]) -> None:
    done = run(env, "no-such-command")
    assert done.returncode == 2
    assert "usage: opendrs" in done.stderr


# Logs ----------------------------------------------------------------------------------------------


def test_no_secret_in_the_logs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    password, wrong = f"pw-{uuid.uuid4().hex}", f"wrong-{uuid.uuid4().hex}"
    domain, user = names()
    with serve(data_dir, OPENDRS_LOG_LEVEL="DEBUG") as server:
        done = run(
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
            "eu-de",
        )
        created = one_json_object(done)
        key_run = run(server.env, "admin", "create-access-key", "--domain", domain, "--user", user)
        key = one_json_object(key_run)
        assert token_response(server, domain, user, password, "eu-de").status_code == 201
        assert token_response(server, domain, user, wrong, "eu-de").status_code == 401
        assert signed_status(server, created["project_id"], key["access"], key["secret"]).status_code == 200
        assert signed_status(server, created["project_id"], key["access"], wrong[:40]).status_code == 401
        log = server.log_text()
    assert "Uvicorn running" in log  # the log is being written
    command_output = done.stderr + key_run.stderr
    for secret in (password, wrong, key["secret"], wrong[:40]):
        assert secret not in log
        assert secret not in command_output

"""How the CLI authenticates (a stored token, or access keys from the environment) and the exit codes scripts
rely on: 2 usage, 3 not authenticated, 4 no such task, 1 refused or failed; --json keeps stdout to one document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.conftest import access_keys, client_env, json_of, login, opendrs
from tests.harness import Server, Tenant
from tests.servers import MariadbServer

UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"


def credentials_file(tmp_path: Path) -> Path:
    return tmp_path / "config" / "opendrs" / "credentials.json"


def test_help_lists_the_server_and_the_client_commands(tmp_path: Path) -> None:
    top = opendrs(client_env(tmp_path), "--help")
    assert top.returncode == 0
    for command in ("serve", "worker", "migrate", "admin", "login", "logout", "job"):
        assert command in top.stdout
    assert "3 not authenticated" in top.stdout
    job = opendrs(client_env(tmp_path), "job", "--help")
    assert job.returncode == 0
    for command in ("create", "list", "status", "detail", "start", "pause", "resume", "stop", "delete", "compare"):
        assert command in job.stdout
    assert opendrs(client_env(tmp_path), "job", "watch").returncode == 2  # a task id is required


def test_without_credentials_every_call_exits_3(tmp_path: Path) -> None:
    done = opendrs(client_env(tmp_path), "job", "list", "--json")
    assert done.returncode == 3
    assert "run opendrs login" in done.stderr
    assert "run opendrs login" in json.loads(done.stdout)["error"]


def test_a_wrong_password_an_expired_token_and_a_forged_token_exit_3(
    drs_server: Server, tenant: Tenant, tmp_path: Path
) -> None:
    env = client_env(tmp_path)
    args = ("--endpoint", drs_server.base_url, "--domain", tenant.domain, "--user", tenant.user)
    refused = opendrs(env | {"OPENDRS_PASSWORD": "wrong"}, "login", *args, "--project", tenant.project_name)
    assert refused.returncode == 3, refused.stderr
    assert "login refused" in refused.stderr and not credentials_file(tmp_path).exists()

    login(drs_server, tenant, env)
    assert json_of(opendrs(env, "job", "list", "--json"))["jobs"] == []
    stored = json.loads(credentials_file(tmp_path).read_text())

    forged = stored | {"token": stored["token"][:-8] + "AAAAAAAA"}
    credentials_file(tmp_path).write_text(json.dumps(forged))
    done = opendrs(env, "job", "list")
    assert done.returncode == 3 and "authentication failed" in done.stderr and "run opendrs login" in done.stderr

    expired = stored | {"expires_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}
    credentials_file(tmp_path).write_text(json.dumps(expired))
    done = opendrs(env, "job", "list")
    assert done.returncode == 3 and "expired" in done.stderr and "run opendrs login" in done.stderr

    assert json_of(opendrs(env, "logout", "--json")) == {"logged_out": True}
    assert not credentials_file(tmp_path).exists()


def test_access_keys_from_the_environment(drs_server: Server, tenant: Tenant, tmp_path: Path) -> None:
    keys = access_keys(drs_server, tenant)
    sdk = {
        "HUAWEICLOUD_SDK_AK": keys["access"],
        "HUAWEICLOUD_SDK_SK": keys["secret"],
        "HUAWEICLOUD_SDK_PROJECT_ID": tenant.project_id,
        "OPENDRS_ENDPOINT": drs_server.base_url,
    }
    env = client_env(tmp_path, **sdk)
    assert json_of(opendrs(env, "job", "list", "--json"))["total_record"] == 0

    # Unknown tasks: exit 4, for reads and actions alike, with the server's error code.
    for args in (("status", UNKNOWN), ("detail", UNKNOWN), ("pause", UNKNOWN), ("watch", UNKNOWN)):
        done = opendrs(env, "job", *args, "--json")
        assert done.returncode == 4, (args, done.stdout, done.stderr)
        assert "DRS.M05003" in done.stdout, (args, done.stdout)
        assert len(done.stdout.splitlines()) == 1, done.stdout

    wrong = opendrs(client_env(tmp_path, **(sdk | {"HUAWEICLOUD_SDK_SK": "x" * 40})), "job", "list")
    assert wrong.returncode == 3 and "APIGW.0301" in wrong.stderr, wrong.stderr
    partial = opendrs(client_env(tmp_path, **(sdk | {"HUAWEICLOUD_SDK_PROJECT_ID": ""})), "job", "list")
    assert partial.returncode == 3 and "HUAWEICLOUD_SDK_PROJECT_ID" in partial.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the task file"),
        ("name: [broken", "is not valid YAML"),
        ("name: t1234\nsource: {host: h, user: u}\ntarget: {host: h, user: u}\ncolour: red\n", "unknown key colour"),
    ],
)
def test_a_bad_task_file_exits_2_before_any_call(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "task.yaml"
    if content is not None:
        path.write_text(content)
    done = opendrs(client_env(tmp_path), "job", "create", "-f", str(path), "--json")
    assert done.returncode == 2, done.stderr
    assert message in json.loads(done.stdout)["error"] and message in done.stderr


def test_a_failed_precheck_prints_its_reasons_and_the_task_id(
    logged_in: dict[str, str], target: MariadbServer, tmp_path: Path
) -> None:
    # The target server writes no binlog: as a source it fails the precheck.
    endpoint = f"{{host: {target.host}, port: {target.port}, user: {target.user}, password: ''}}"
    path = tmp_path / "task.yaml"
    path.write_text(f"name: cli-no-binlog-{tmp_path.name[-8:]}\nsource: {endpoint}\ntarget: {endpoint}\n")
    done = opendrs(logged_in, "job", "create", "-f", str(path), "--json")
    assert done.returncode == 1, done.stderr
    failure = json.loads(done.stdout)
    assert "precheck failed" in failure["error"] and "srcBinlogOpenCheck" in failure["error"], failure
    assert "srcBinlogOpenCheck" in done.stderr
    status = json_of(opendrs(logged_in, "job", "status", failure["id"], "--json"))
    assert status["results"][0]["status"] == "CONFIGURATION"
    refused = opendrs(logged_in, "job", "start", failure["id"], "--json")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    [result] = json.loads(refused.stdout)["results"]
    assert result["ok"] is False and result["error_code"], result
    assert opendrs(logged_in, "job", "stop", failure["id"]).returncode == 0

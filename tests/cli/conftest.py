"""The CLI tests drive `opendrs login` and `opendrs job ...` in subprocesses against a real `opendrs serve` and
the real MariaDB source and target of the end-to-end tests (their fixtures are shared from tests/e2e)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e import mysql_helpers as my
from tests.e2e.conftest import drs_server, schema, source, target  # noqa: F401 (fixtures)
from tests.harness import Server, Tenant, create_tenant, run_opendrs, wait_for
from tests.servers import MariadbServer


def client_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A user's environment: no server settings, no SDK keys, a config directory of the test's own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENDRS_", "HUAWEICLOUD_")) and key != "XDG_CONFIG_HOME"
    }
    return env | {"XDG_CONFIG_HOME": str(tmp_path / "config"), "TERM": "dumb", **extra}


def opendrs(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opendrs", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def opendrs_on_a_terminal(env: dict[str, str], *args: str, timeout: float = 120) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as its stdout (as in an interactive shell): exit code, what it showed."""
    controller, terminal = os.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "opendrs", *args],
        env=env | {"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"},
        stdout=terminal,
        stderr=subprocess.DEVNULL,
    ) as process:
        os.close(terminal)
        shown = bytearray()
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the command closed the terminal (it exited)
                break
            if not chunk:
                break
            shown += chunk
        os.close(controller)
        code = process.wait(timeout=timeout)
    return code, shown.decode(errors="replace")


def json_of(done: subprocess.CompletedProcess[str]) -> Any:
    """The one JSON document on stdout (the command must have succeeded)."""
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr}"
    return json.loads(done.stdout)


def login(server: Server, tenant: Tenant, env: dict[str, str]) -> dict[str, Any]:
    args = ("--endpoint", server.base_url, "--domain", tenant.domain, "--user", tenant.user)
    done = opendrs(
        env | {"OPENDRS_PASSWORD": tenant.password}, "login", *args, "--project", tenant.project_name, "--json"
    )
    found: dict[str, Any] = json_of(done)
    return found


def access_keys(server: Server, tenant: Tenant) -> dict[str, str]:
    created = run_opendrs(server.env, "admin", "create-access-key", "--domain", tenant.domain, "--user", tenant.user)
    return {"access": created["access"], "secret": created["secret"]}


@pytest.fixture
def tenant(drs_server: Server) -> Tenant:  # noqa: F811 (the fixture imported above)
    return create_tenant(drs_server, "cli")


@pytest.fixture
def logged_in(drs_server: Server, tenant: Tenant, tmp_path: Path) -> dict[str, str]:  # noqa: F811
    """The environment of a user who ran opendrs login."""
    env = client_env(tmp_path)
    login(drs_server, tenant, env)
    return env


def task_file(tmp_path: Path, name: str, src: MariadbServer, dst: MariadbServer, database: str) -> Path:
    """A FULL_INCR_TRANS task file from `src` to `dst` of `database`, its source password in $SRC_PW."""
    path = tmp_path / "task.yaml"
    body = {
        "name": name,
        "type": "FULL_INCR_TRANS",
        "engine": "mysql",
        "source": {"host": src.host, "port": src.port, "user": src.user, "password_env": "SRC_PW"},
        "target": {"host": dst.host, "port": dst.port, "user": dst.user, "password": ""},
        "objects": {"databases": [database]},
        "speed_limits": [{"begin": "00:00", "end": "23:59", "speed": "1"}],
    }
    path.write_text(yaml.safe_dump(body))
    return path


def status(env: dict[str, str], job: str) -> dict[str, Any]:
    [entry] = json_of(opendrs(env, "job", "status", job, "--json"))["results"]
    assert isinstance(entry, dict)
    return entry


def wait_status(env: dict[str, str], job: str, expected: str, deadline: float = my.STATUS_DEADLINE) -> None:
    wait_for(lambda: status(env, job).get("status") == expected, f"opendrs job status {job} = {expected}", deadline)

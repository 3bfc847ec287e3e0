"""A MySQL migration run from the CLI alone: login, create from a YAML file, start, watch (non-TTY lines, JSON
lines), catch-up row for row, pause / resume, a failing target seen by watch (exit 1), stop, delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import client_env, json_of, login, opendrs, task_file, wait_status
from tests.e2e import mysql_helpers as my
from tests.harness import Server, Tenant, wait_for
from tests.servers import MariadbServer

ROWS = 3000  # of 1 KB: about 3 MB, some seconds at the 1 MB/s speed limit


def action(env: dict[str, str], verb: str, job: str) -> None:
    done = opendrs(env, "job", verb, job, "--json")
    assert json_of(done) == {"results": [{"id": job, "ok": True}]}, done.stdout


def test_a_mysql_migration_from_the_cli_alone(
    drs_server: Server, tenant: Tenant, source: MariadbServer, target: MariadbServer, schema: str, tmp_path: Path
) -> None:
    s = my.quote(schema)
    my.execute(
        source,
        "SET SESSION max_recursive_iterations = 100000",
        f"CREATE TABLE {s}.items (id INT NOT NULL PRIMARY KEY, v VARCHAR(1000) NOT NULL, KEY (v(10)))",
        f"INSERT INTO {s}.items WITH RECURSIVE n AS (SELECT 1 AS i UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})"
        " SELECT i, REPEAT(CHAR(65 + i % 26), 1000) FROM n",
    )
    env = client_env(tmp_path, SRC_PW="")
    logged = login(drs_server, tenant, env)
    assert logged["project_id"] == tenant.project_id
    stored = tmp_path / "config" / "opendrs" / "credentials.json"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert tenant.password not in stored.read_text()

    created = opendrs(
        env,
        "job",
        "create",
        "-f",
        str(task_file(tmp_path, f"cli-{schema[:30]}", source, target, schema)),
        "--start",
        "--json",
    )
    job = json_of(created)["id"]
    assert "precheck passed" in created.stderr and "started" in created.stderr, created.stderr
    try:
        # Watch, not on a terminal: one gh-ost-like line per interval, until the task replicates changes.
        watched = opendrs(env, "job", "watch", job, "--until", "incremental", "--interval", "0.3", "--timeout", "180")
        assert watched.returncode == 0, watched.stderr
        lines = watched.stdout.splitlines()
        assert all(line.startswith(f"{job} ") and "; State: " in line for line in lines), lines
        copying = [line for line in lines if ": FULL_TRANSFER_STARTED;" in line]
        throttled = "State: copying, throttled to 1 MB/s (speed limit window 00:00-23:59 UTC)"
        assert any(line.endswith(throttled) for line in copying), lines
        assert any("rows/s" in line and "Rate: n/a" not in line for line in copying), lines
        assert ": INCRE_TRANSFER_STARTED;" in lines[-1] and lines[-1].endswith("State: replicating changes"), lines
        assert f"Copy: {ROWS}/{ROWS} rows 100%" in lines[-1], lines[-1]

        my.execute(
            source, f"UPDATE {s}.items SET v = 'changed' WHERE id <= 10", f"DELETE FROM {s}.items WHERE id > 2990"
        )
        my.wait_same_database(source, target, schema)

        def measured_lag() -> dict[str, Any] | None:
            [line] = json_of_lines(opendrs(env, "job", "watch", job, "--until", "incremental", "--json"))
            assert line["status"] == "INCRE_TRANSFER_STARTED", line
            return line if line["lag_seconds"] is not None else None  # once the applier has measured it

        line = wait_for(measured_lag, "watch --json to show the incremental lag")
        assert line["id"] == job and line["state"] == "replicating changes" and line["data"] == 100, line
        assert job in [item["id"] for item in json_of(opendrs(env, "job", "list", "--json"))["jobs"]]
        detail = json_of(opendrs(env, "job", "detail", job, "--json"))
        assert [table["source"] for table in detail["table_progress"]] == [f"{schema}.items"]

        action(env, "pause", job)
        wait_status(env, job, "PAUSING")
        my.execute(source, f"INSERT INTO {s}.items VALUES (5000, 'while paused')")
        action(env, "resume", job)
        wait_status(env, job, "INCRE_TRANSFER_STARTED")
        my.wait_same_database(source, target, schema)

        # A lost target fails the task (after the server's 3 s retry window): watch says why, and exits 1.
        target.kill()
        try:
            my.execute(source, f"INSERT INTO {s}.items VALUES (5001, 'while the target is down')")
            failing = opendrs(env, "job", "watch", job, "--interval", "0.3", "--timeout", "60")
        finally:
            target.start()
        assert failing.returncode == 1, failing.stdout + failing.stderr
        last = failing.stdout.splitlines()[-1]
        assert ": INCRE_TRANSFER_FAILED;" in last and "State: failed: DRS.M05" in last and "target" in last, last
        action(env, "resume", job)
        wait_status(env, job, "INCRE_TRANSFER_STARTED")
        my.wait_same_database(source, target, schema)
    finally:
        opendrs(env, "job", "stop", job)

    wait_status(env, job, "RELEASE_RESOURCE_COMPLETE")
    action(env, "delete", job)
    gone = opendrs(env, "job", "status", job)
    assert gone.returncode == 4 or "DELETED" in gone.stdout, gone.stdout


def json_of_lines(done: Any) -> list[dict[str, Any]]:
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]

"""`opendrs job precheck`: a task whose precheck failed at `job create` is fixed on the server and checked again from
the CLI, then started; before that, `job start` refuses it."""

from __future__ import annotations

import json
from pathlib import Path

from tests import servers
from tests.cli.conftest import json_of, opendrs, task_file, wait_status
from tests.e2e import mysql_helpers as my
from tests.servers import MariadbServer


def test_a_failed_precheck_is_run_again_once_fixed_and_the_task_then_starts(
    logged_in: dict[str, str], source: MariadbServer, schema: str, tmp_path: Path
) -> None:
    table = my.qualified(schema, "t")
    my.execute(source, f"CREATE TABLE {table} (id INT PRIMARY KEY)", f"INSERT INTO {table} VALUES (1)")
    with servers.mariadb_server(tmp_path / "hardened", options=["--local-infile=0"]) as target:
        env = logged_in | {"SRC_PW": ""}
        path = task_file(tmp_path, f"cli-precheck-{tmp_path.name[-8:]}", source, target, schema)
        created = opendrs(env, "job", "create", "-f", str(path), "--json")
        assert created.returncode == 1, created.stderr
        job = json.loads(created.stdout)["id"]
        assert "dstLocalInfileCheck" in created.stderr, created.stderr

        again = opendrs(env, "job", "precheck", job, "--json")
        assert again.returncode == 1, again.stderr
        failure = json.loads(again.stdout)
        assert failure["id"] == job and "dstLocalInfileCheck: local_infile is 0" in failure["error"], failure
        refused = opendrs(env, "job", "start", job)
        assert refused.returncode == 1 and "precheck" in refused.stderr, refused.stderr

        my.execute(target, "SET GLOBAL local_infile = ON")
        passed = json_of(opendrs(env, "job", "precheck", job, "--json"))
        assert passed["result"] is True and passed["process"] == "100%", passed
        items = {item["item"]: item["result"] for item in passed["precheck_result"]}
        assert items["dstLocalInfileCheck"] == "PASSED", items

        assert json_of(opendrs(env, "job", "start", job, "--json")) == {"results": [{"id": job, "ok": True}]}
        wait_status(env, job, "INCRE_TRANSFER_STARTED")
        assert my.query(target, f"SELECT id FROM {table}") == [(1,)]
        assert opendrs(env, "job", "stop", job).returncode == 0

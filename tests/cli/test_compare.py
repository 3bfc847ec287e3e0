"""`opendrs job compare`: row counts and contents of the source and the target, with an exit code that says
whether they agree. Needs the comparison endpoints (API.md 3.15/3.16) of opendrs.api.routes.compare_v3."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.cli.conftest import opendrs
from tests.e2e import mysql_helpers as my
from tests.servers import MariadbServer

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("opendrs.api.routes.compare_v3") is None,
    reason="the comparison endpoints are not in this tree (they come with the compare branch)",
)


def test_compare_agrees_then_names_the_difference(
    logged_in: dict[str, str], source: MariadbServer, target: MariadbServer, schema: str, tmp_path: Path
) -> None:
    s = my.quote(schema)
    my.execute(
        source,
        f"CREATE TABLE {s}.items (id INT PRIMARY KEY, v VARCHAR(20))",
        f"INSERT INTO {s}.items VALUES (1, 'a'), (2, 'b')",
    )
    task = {
        "name": f"cmp-{tmp_path.name[-12:]}",
        "source": {"host": source.host, "port": source.port, "user": source.user},
        "target": {"host": target.host, "port": target.port, "user": target.user},
        "objects": {"databases": [schema]},
    }
    (tmp_path / "task.json").write_text(json.dumps(task))
    created = opendrs(logged_in, "job", "create", "-f", str(tmp_path / "task.json"), "--start")
    assert created.returncode == 0, created.stderr
    job = created.stdout.strip()
    try:
        watched = opendrs(
            logged_in, "job", "watch", job, "--until", "incremental", "--interval", "0.3", "--timeout", "120"
        )
        assert watched.returncode == 0, watched.stdout + watched.stderr
        my.wait_same_database(source, target, schema)

        same = opendrs(logged_in, "job", "compare", job, "--type", "lines", "--timeout", "120")
        assert same.returncode == 0, same.stdout + same.stderr
        assert same.stdout.splitlines()[-1] == "result: CONSISTENT", same.stdout

        my.execute(target, f"UPDATE {s}.items SET v = 'changed' WHERE id = 2")  # on the target only
        differs = opendrs(
            logged_in, "job", "compare", job, "--type", "contents", "--object", f"{schema}.items", "--json"
        )
        assert differs.returncode == 1, differs.stderr
        answer = json.loads(differs.stdout)
        assert answer["verdict"] == "INCONSISTENT", answer
        [database] = answer["content_compare_results"]["content_compare_details"]
        [table] = database["content_compare_detail"]
        assert (table["source_table_name"], table["diff_row_num"]) == ("items", 1), table
    finally:
        opendrs(logged_in, "job", "stop", job)

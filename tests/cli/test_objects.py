"""Object selection from a task file: a renamed database and single tables of another; a FULL_TRANS task started
by `start: now` in the file, watched until done."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.cli.conftest import opendrs, opendrs_on_a_terminal
from tests.e2e import mysql_helpers as my
from tests.servers import MariadbServer


def test_a_renamed_database_and_single_tables(
    logged_in: dict[str, str], source: MariadbServer, target: MariadbServer, schema: str, tmp_path: Path
) -> None:
    renamed, other = f"{schema[:50]}_r", f"{schema[:50]}_t"
    for name in (renamed, other):
        my.execute(target, f"DROP DATABASE IF EXISTS {my.quote(name)}")
    my.execute(source, f"DROP DATABASE IF EXISTS {my.quote(other)}", f"CREATE DATABASE {my.quote(other)}")
    for database, table in ((schema, "a"), (schema, "b"), (other, "c"), (other, "d")):
        name = my.qualified(database, table)
        my.execute(
            source, f"CREATE TABLE {name} (id INT PRIMARY KEY, v TEXT)", f"INSERT INTO {name} VALUES (1, '{table}')"
        )
    task = {
        "name": f"objects-{tmp_path.name[-12:]}",
        "type": "FULL_TRANS",
        "source": {"host": source.host, "port": source.port, "user": source.user},
        "target": {"host": target.host, "port": target.port, "user": target.user},
        "objects": {"databases": [{"name": schema, "rename": renamed}], "tables": {other: ["c"]}},
        "start": "now",
    }
    (tmp_path / "task.yaml").write_text(yaml.safe_dump(task))
    created = opendrs(logged_in, "job", "create", "-f", str(tmp_path / "task.yaml"))
    assert created.returncode == 0, created.stderr
    job = created.stdout.strip()
    try:
        watched = opendrs(logged_in, "job", "watch", job, "--until", "done", "--interval", "0.3", "--timeout", "120")
        assert watched.returncode == 0, watched.stdout + watched.stderr
        assert ": FULL_TRANSFER_COMPLETE;" in watched.stdout.splitlines()[-1], watched.stdout
        # On a terminal: a live panel with a bar per phase, the counts and the state.
        code, shown = opendrs_on_a_terminal(logged_in, "job", "watch", job, "--until", "done")
        plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)
        assert code == 0, plain
        assert f"{job} FULL_TRANSFER_COMPLETE" in plain and "State: full copy complete" in plain, plain
        for phase in ("structure", "data", "indexes"):
            assert re.search(rf"│ {phase} +━+ +100%", plain), plain
        assert "copied 3/3 rows" in plain, plain
        assert my.tables(target, renamed) == ["a", "b"] and my.tables(target, other) == ["c"]
        for table in ("a", "b"):
            assert my.row_digests(target, renamed, table) == my.row_digests(source, schema, table)
        assert my.row_digests(target, other, "c") == my.row_digests(source, other, "c")
    finally:
        opendrs(logged_in, "job", "stop", job)
        my.execute(source, f"DROP DATABASE IF EXISTS {my.quote(other)}")

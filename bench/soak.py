"""Crash soak: a full+incremental task under heavy writes and DDL, its worker killed with kill -9 again and again;
at the end the target must equal the source, row for row.

    python bench/soak.py [--minutes 5] [--seed 1] [--rows 400000] [--copy-limit 2] [--copy-seconds 120] [--pause]
                         [--large-rows 5000]

Starts a throwaway source and target MariaDB, `opendrs serve --no-worker` (SQLite store, 3 s lease) and two
`opendrs worker` processes. A database of `--rows` rows gets a FULL_INCR_TRANS task, held to `--copy-limit` MB/s
for its first `--copy-seconds` seconds so that kills land in the copy too. Meanwhile:

* tests.e2e.mysql_helpers.Writer, with XA: inserts, updates that change primary keys, deletes, duplicate rows in a
  keyless table, multi-statement, large (`--large-rows` rows) and XA transactions;
* a DDL thread: ADD/DROP COLUMN and INDEX, CREATE + INSERT + DROP or RENAME of new tables, TRUNCATE, and upserts and
  deletes on an Aria table (outside the snapshot);
* every 0.5-8 s (0.5-3 s while the limit holds) the worker holding the task is killed with kill -9 and a new one
  started; or, with `--pause`, the task is paused through the API, and resumed (batch-retry-task) once its worker
  has let it go, as an operator does.

After `--minutes`, the writers stop; once the task's lag is under 3 s, every table is compared row for row. Prints each
kill (the task's status and progress then), the workers' peak memory, and PASS or FAIL; exit status 1 on FAIL (the
task failed, or the target differs). Takes `--minutes` plus the catch-up (as long again, or more) on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import servers
from tests.e2e import mysql_helpers as my
from tests.e2e.conftest import Cluster, serve_api_only
from tests.harness import Api, create_tenant, wait_for

SCHEMA = "soak"
RUNNING = ("FULL_TRANSFER_STARTED", "INCRE_TRANSFER_STARTED")  # the statuses a pause is accepted in


class DdlWriter(threading.Thread):
    """DDL on tables of its own, and writes to an Aria table, until stopped; failures of its own DDL (a column
    already dropped, too many indexes) are counted, not raised: what matters is what reaches the binlog."""

    def __init__(self, source: servers.MariadbServer, seed: int) -> None:
        super().__init__(name="ddl-writer", daemon=True)
        self._source = source
        self._random = random.Random(seed)
        self.stopping = threading.Event()
        self.refused = 0

    def run(self) -> None:
        connection = my.connect(self._source, SCHEMA)
        try:
            with connection.cursor() as cursor:
                cursor.execute("CREATE TABLE d_side (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))")
                cursor.execute("CREATE TABLE d_aria (id INT PRIMARY KEY, v INT) ENGINE=Aria")
                columns: list[str] = []
                for n in range(1, 10**9):
                    if self.stopping.wait(0.05):
                        return
                    try:
                        self._one(cursor, n, columns)
                    except pymysql.err.MySQLError:
                        self.refused += 1
        finally:
            connection.close()

    def _one(self, cursor: pymysql.cursors.Cursor, n: int, columns: list[str]) -> None:
        r = self._random
        cursor.execute(f"INSERT INTO d_aria VALUES ({r.randint(1, 300)}, {n}) ON DUPLICATE KEY UPDATE v = v + 1")
        if r.random() < 0.3:
            cursor.execute(f"DELETE FROM d_aria WHERE id = {r.randint(1, 300)}")
        roll = r.random()
        if roll < 0.5:
            cursor.execute("INSERT INTO d_side (v) VALUES (%s)", (f"v{n}",))
            if columns:
                cursor.execute(f"UPDATE d_side SET {columns[-1]} = %s WHERE id %% 7 = %s", (n, n % 7))
        elif roll < 0.65:
            cursor.execute(f"ALTER TABLE d_side ADD COLUMN c{n} INT DEFAULT {n}")
            columns.append(f"c{n}")
        elif roll < 0.72 and columns:
            cursor.execute(f"ALTER TABLE d_side DROP COLUMN {columns.pop(0)}")
        elif roll < 0.78:
            cursor.execute(f"CREATE TABLE d_new{n} (id INT PRIMARY KEY, v INT)")
            cursor.execute(f"INSERT INTO d_new{n} VALUES (1, {n}), (2, {n})")
            if r.random() < 0.5:
                cursor.execute(f"RENAME TABLE d_new{n} TO d_renamed{n}")
            else:
                cursor.execute(f"DROP TABLE d_new{n}")
        elif roll < 0.8:
            cursor.execute("TRUNCATE TABLE d_side")
        elif roll < 0.82:
            cursor.execute(f"ALTER TABLE d_side ADD INDEX i{n} (v)")
        elif roll < 0.84:
            cursor.execute(f"ALTER TABLE d_side DROP INDEX i{n - r.randint(1, 400)}")


def peak_memory_mb(cluster: Cluster) -> int:
    """The largest peak resident size (VmHWM) among the live workers."""
    peak = 0
    for process in cluster.alive():
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{process.pid}/status").read_text()
            peak = max(peak, int(status.split("VmHWM:")[1].split()[0]) // 1024)
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="how long to write and kill")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rows", type=int, default=400_000, help="rows in the database before the task starts")
    parser.add_argument("--copy-limit", type=int, default=2, help="MB/s the copy is held to at first")
    parser.add_argument("--copy-seconds", type=float, default=120.0, help="how long the limit holds")
    parser.add_argument("--pause", action="store_true", help="pause and resume the task instead of killing workers")
    parser.add_argument(
        "--large-rows",
        type=int,
        default=5000,
        help="rows of the writer's occasional large transaction (past 5,000 it spills and is replayed: replay.py)",
    )
    args = parser.parse_args()
    stop = "pause" if args.pause else "kill"
    kills = random.Random(args.seed)
    base = Path(tempfile.mkdtemp(prefix="opendrs-soak-"))
    print(f"soak in {base}, seed {args.seed}", flush=True)
    passed = _soak(base, args, stop, kills)
    if passed:
        shutil.rmtree(base)  # a run leaves over a GB of servers' data; a failed one is kept to look into
    else:
        print(f"kept {base} (the servers' data directories and the workers' logs)")
    return 0 if passed else 1


def _soak(base: Path, args: argparse.Namespace, stop: str, kills: random.Random) -> bool:
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(servers.mariadb_server(base / "source", binlog=True, server_id=41))
        target = stack.enter_context(servers.mariadb_server(base / "target", server_id=42))
        settings = {"OPENDRS_LEASE_TTL_SECONDS": "3", "OPENDRS_RETRY_WINDOW_SECONDS": "60"}
        server = stack.enter_context(serve_api_only(base / "drs", **settings))
        api = stack.enter_context(Api(server, create_tenant(server, "soak")))
        cluster = Cluster(server, api, base / "drs")
        stack.callback(cluster.stop)
        cluster.start_worker()
        cluster.start_worker()

        my.execute(source, f"CREATE DATABASE {SCHEMA}")
        my.Writer.create_tables(source, SCHEMA, pk_rows=args.rows)
        job = my.configure_task(api, source, target, "FULL_INCR_TRANS", [SCHEMA])
        writer = my.Writer(source, SCHEMA, seeded_rows=args.rows, seed=args.seed, large_rows=args.large_rows, xa=True)
        ddl = DdlWriter(source, args.seed)
        my.succeeded(my.limit_speed(api, [job], args.copy_limit))
        writer.start()
        ddl.start()
        my.start(api, job)
        started = time.monotonic()
        limited, count, peak = True, 0, 0
        while time.monotonic() - started < args.minutes * 60:
            # Not a wait for anything: a random moment to kill at, more often while the copy runs.
            time.sleep(kills.uniform(0.5, 3) if limited else kills.uniform(0.5, 8))
            if limited and time.monotonic() - started > args.copy_seconds:
                my.succeeded(my.limit_speed(api, [job], 1000))
                limited = False
            status = my.status_of(api, job)
            if str(status.get("status")).endswith("_FAILED"):
                print(f"FAIL: the task failed: {status}")
                return False
            holder = cluster.holder(job)
            if holder is None or (args.pause and status.get("status") not in RUNNING):
                continue
            peak = max(peak, peak_memory_mb(cluster))
            if args.pause:
                my.pause_until_let_go(api, server, job)
            else:
                cluster.kill(holder)
            count += 1
            progress = my.progress_of(api, job).get("progress_map", {})
            phases = " ".join(f"{name} {phase['completed']}" for name, phase in progress.items())
            print(f"{stop} {count}: {status.get('status')} {phases}; {writer.transactions} transactions", flush=True)
            if args.pause:
                my.retry(api, job)
            else:
                cluster.start_worker()
        writer.stop()
        ddl.stopping.set()
        ddl.join()
        print(f"writes stopped after {writer.transactions} transactions ({ddl.refused} DDL refused); catching up")

        def caught_up() -> bool:
            progress = my.progress_of(api, job)
            if str(progress.get("transfer_status")).endswith("_FAILED"):
                raise AssertionError(f"the task failed: {my.status_of(api, job)}")
            delay = int(progress.get("incre_trans_delay_millis", -1))
            return 0 <= delay < 3000  # idle, the source's heartbeats come every second

        try:
            wait_for(caught_up, "the task to catch up", 3600)
            my.wait_same_database(source, target, SCHEMA, 600)
        except AssertionError as failure:
            print(f"FAIL: {failure}\n{cluster.logs()}")
            return False
        peak = max(peak, peak_memory_mb(cluster))
        print(f"PASS: the target equals the source after {count} {stop}s; workers' peak memory {peak} MB")
        return True


if __name__ == "__main__":
    sys.exit(main())

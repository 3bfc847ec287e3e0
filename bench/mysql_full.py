#!/usr/bin/env python3
"""Full copy MySQL/MariaDB -> MariaDB: opendrs against `mysqldump | mysql` and mydumper/myloader.

    python bench/mysql_full.py [--rows 1000000] [--repeat 1] [--buffer-pool-mb 0]

Starts a source MariaDB (row binlog on) and a target MariaDB from tests/servers.py, and `opendrs serve` (API and
worker, SQLite store, default settings), then:

1. fills the source database `sbtest`: `sbtest1`, sysbench-like (id INT primary key, k INT with a secondary
   index, c CHAR(120), pad CHAR(60)) with --rows rows, plus three small tables (a composite key, a unique key
   only, no key at all);
2. copies it with each method, --repeat times, the methods interleaved, dropping the target database before
   each copy:
     mysqldump   `mysqldump --single-transaction --databases sbtest | mysql`
     mydumper    `mydumper -t 2 -r 100000 -B sbtest` into a directory, then `myloader -t 2`
     opendrs     a FULL_TRANS task through the HTTP API, as a user runs one: connections, objects and the
                 precheck are set up untimed; timed is batch-starting until the engine records the task
                 FULL_TRANSFER_COMPLETE (the store's time of it): the worker claiming the task, snapshot,
                 structure, key-range chunks in 2 copy threads, indexes, every step recorded in the store
3. checks every copy: each table's row count and CHECKSUM TABLE equal the source's;
4. prints, per method, the median seconds, rows/s and the CPU seconds the source server, the target server and
   the tool used (the client programs, or the opendrs serve process tree; CPU is the steadier figure when other
   work shares the machine: the load average is printed too), the ratios of opendrs to the others, and
   PASS/FAIL for the goals: opendrs at least 2.0x faster than mysqldump | mysql, and at least 1.2x faster than
   mydumper/myloader. It exits 0 either way: it is a measurement.

--buffer-pool-mb sets innodb_buffer_pool_size on both servers (0 keeps MariaDB's default, 128 MB); each
--target-option is one more mariadbd option for the target (e.g. --target-option=--innodb-autoinc-lock-mode=2).
mydumper is installed with apt-get when missing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import Endpoint
from tests import harness, servers
from tests.e2e import mysql_helpers as my

DATABASE = "sbtest"
METHODS = ("mysqldump", "mydumper", "opendrs")
GOALS = {"mysqldump": 2.0, "mydumper": 1.2}  # opendrs must be at least this many times faster
THREADS = 2  # mydumper's and myloader's threads, as many as opendrs's copy threads (engine.full_copy.WORKERS)

BIG_TABLE = """CREATE TABLE sbtest1 (id INT NOT NULL AUTO_INCREMENT, k INT NOT NULL DEFAULT 0,
  c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', PRIMARY KEY (id)) ENGINE=InnoDB"""
# Ten (c) and five (pad) groups of 11 digits, as sysbench writes them; seeded per row so every run has the same data.
_DIGITS = "LPAD(FLOOR(RAND(seq * 7 + {n}) * 99999999999), 11, '0')"
FILL_BIG = (
    "INSERT INTO sbtest1 SELECT seq, FLOOR(RAND(seq) * {rows}), CONCAT_WS('-', {c}), CONCAT_WS('-', {pad})"
    " FROM seq_1_to_{rows}"
)
SMALL_TABLES = [
    "CREATE TABLE pairs (a INT NOT NULL, b VARCHAR(20) NOT NULL, v DOUBLE, PRIMARY KEY (a, b))",
    "INSERT INTO pairs SELECT seq DIV 10, CONCAT('b', seq MOD 10), seq / 7 FROM seq_1_to_20000",
    "CREATE TABLE uniq (u VARCHAR(40) NOT NULL, t DATETIME(6), UNIQUE KEY uk (u))",
    "INSERT INTO uniq SELECT CONCAT('u', seq), '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_20000",
    "CREATE TABLE nokey (n INT, s TEXT)",
    "INSERT INTO nokey SELECT seq MOD 100, REPEAT('x', seq MOD 50) FROM seq_1_to_5000",
]


@dataclasses.dataclass(frozen=True)
class Run:
    seconds: float
    source_cpu: float
    target_cpu: float
    client_cpu: float
    note: str = ""


@dataclasses.dataclass
class Bench:
    source: servers.MariadbServer
    target: servers.MariadbServer
    work_dir: Path
    drs: harness.Server  # opendrs serve
    api: harness.Api
    job: str = ""  # the opendrs task prepared for the next copy
    started_ms: float = 0.0  # when it was started (wall clock)

    def endpoint(self, server: servers.MariadbServer) -> Endpoint:
        return Endpoint(server.host, server.port, server.user, "")

    def execute(self, server: servers.MariadbServer, *statements: str, database: str | None = None) -> None:
        connection = mysql.connect(self.endpoint(server), database=database)
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            connection.close()

    def query(self, server: servers.MariadbServer, sql: str) -> list[tuple[object, ...]]:
        connection = mysql.connect(self.endpoint(server))
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--buffer-pool-mb", type=int, default=0)
    parser.add_argument(
        "--target-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="a mariadbd option for the target, for every method (e.g. --target-option=--innodb-autoinc-lock-mode=2)",
    )
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    methods = [method for method in args.methods.split(",") if method]
    _ensure_mydumper()
    with _bench(args.target_option) as bench:
        if args.buffer_pool_mb:
            _set_buffer_pool(bench, args.buffer_pool_mb)
        started = time.monotonic()
        _fill(bench, args.rows)
        print(f"filled the source with {args.rows:,} + 45,000 rows in {time.monotonic() - started:.1f} s")
        expected = _checksums(bench, bench.source)
        runs: dict[str, list[Run]] = {method: [] for method in methods}
        load_before = os.getloadavg()[0]
        for round_ in range(args.repeat):
            for method in methods:
                run = _measure_until_done(bench, method)
                if _checksums(bench, bench.target) != expected:
                    raise SystemExit(f"{method}: the copy differs from the source")
                runs[method].append(run)
                print(f"  round {round_ + 1} {method:10s} {run.seconds:6.2f} s  {run.note}", flush=True)
        _report(runs, args.rows + 45_000, load_before)


# --- the methods ---------------------------------------------------------------------------------------------


def _mysqldump(bench: Bench) -> str:
    dump = ["mysqldump", *_client_args(bench.source), "--single-transaction", "--databases", DATABASE]
    load = ["mysql", *_client_args(bench.target)]
    with subprocess.Popen(dump, stdout=subprocess.PIPE) as dumper:
        subprocess.run(load, stdin=dumper.stdout, check=True)
    if dumper.returncode != 0:
        raise SystemExit(f"mysqldump exited with {dumper.returncode}")
    return ""


def _mydumper(bench: Bench) -> str:
    out = bench.work_dir / "mydumper"
    shutil.rmtree(out, ignore_errors=True)
    threads = str(THREADS)
    source, target = bench.source, bench.target
    dump = ["mydumper", *_mydumper_args(source), "-t", threads, "-r", "100000", "-B", DATABASE, "-o", str(out)]
    subprocess.run(dump, check=True)
    subprocess.run(["myloader", *_mydumper_args(target), "-t", threads, "-d", str(out)], check=True)
    return ""


def _prepare_opendrs(bench: Bench) -> None:
    """A FULL_TRANS task of the whole database, its endpoints set and its precheck passed (untimed)."""
    bench.job = my.configure_task(bench.api, bench.source, bench.target, "FULL_TRANS", [DATABASE])
    result = my.precheck(bench.api, bench.job)
    if result["result"] is not True:
        raise SystemExit(f"opendrs precheck failed: {my.failed_items(result)}")


def _opendrs(bench: Bench) -> str:
    """Start the task; its copy ends when the engine records FULL_TRANSFER_COMPLETE (the store's time of it).

    batch-status is polled only twice a second: the server answering a poll every few milliseconds would take
    CPU from the copy it measures."""
    bench.started_ms = time.time() * 1000
    my.succeeded(bench.api.post(f"{my.JOBS}/batch-starting", {"jobs": [{"job_id": bench.job}]}), 202)
    deadline = time.monotonic() + 600
    while (status := my.status_of(bench.api, bench.job)["status"]) != "FULL_TRANSFER_COMPLETE":
        if status.endswith("_FAILED") or time.monotonic() > deadline:
            raise SystemExit(f"opendrs: task {bench.job} is {status}: {my.detail_of(bench.api, bench.job)}")
        time.sleep(0.5)
    first, last, count = _chunk_times(bench)
    return f"({count} chunks, the first in at {first:.2f} s, the last at {last:.2f} s)"


def _chunk_times(bench: Bench) -> tuple[float, float, int]:
    """When the first and the last chunk were recorded, in seconds after batch-starting; how many chunks."""
    engine = bench.drs.engine()
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT MIN(done_at), MAX(done_at), COUNT(*) FROM task_chunks WHERE task_id = :id")
            first, last, count = connection.execute(query, {"id": bench.job}).one()
    finally:
        engine.dispose()
    return (int(first) - bench.started_ms) / 1000, (int(last) - bench.started_ms) / 1000, int(count)


def _opendrs_seconds(bench: Bench) -> float:
    """From batch-starting to the full transfer's completion as the engine recorded it (wall clocks of this host)."""
    engine = bench.drs.engine()
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT full_transfer_complete_time FROM tasks WHERE id = :id")
            completed = connection.scalar(query, {"id": bench.job})
    finally:
        engine.dispose()
    return (int(completed) - bench.started_ms) / 1000


@dataclasses.dataclass(frozen=True)
class Method:
    copy: Callable[[Bench], str]  # timed; returns a note to print
    prepare: Callable[[Bench], None] = lambda bench: None  # untimed, once the target database is dropped
    seconds: Callable[[Bench], float] | None = None  # the copy's own account of its time; else the wall clock's


METHODS_BY_NAME: dict[str, Method] = {
    "mysqldump": Method(_mysqldump),
    "mydumper": Method(_mydumper),
    "opendrs": Method(_opendrs, _prepare_opendrs, _opendrs_seconds),
}


# --- measuring ---------------------------------------------------------------------------------------------


def _measure_until_done(bench: Bench, name: str, attempts: int = 3) -> Run:
    """A measured copy; a client program that fails (myloader meets MariaDB's bulk-insert deadlock now and then:
    ENGINE-NOTES.md) is measured again from the start, and the note says so."""
    for attempt in range(1, attempts):
        try:
            run = _measure(bench, METHODS_BY_NAME[name])
        except subprocess.CalledProcessError as failure:
            print(f"  {name} failed ({failure}); measuring it again", flush=True)
            continue
        return dataclasses.replace(run, note=f"{run.note} (attempt {attempt})") if attempt > 1 else run
    return _measure(bench, METHODS_BY_NAME[name])  # the last attempt: a failure ends the bench


def _measure(bench: Bench, method: Method) -> Run:
    bench.execute(bench.target, f"DROP DATABASE IF EXISTS {DATABASE}")
    method.prepare(bench)
    source_before, target_before = _process_cpu(bench.source.process.pid), _process_cpu(bench.target.process.pid)
    tool_before = _tool_cpu(bench)
    started = time.monotonic()
    note = method.copy(bench)
    seconds = method.seconds(bench) if method.seconds else time.monotonic() - started
    return Run(
        seconds,
        _process_cpu(bench.source.process.pid) - source_before,
        _process_cpu(bench.target.process.pid) - target_before,
        _tool_cpu(bench) - tool_before,
        note,
    )


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used so far."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tool_cpu(bench: Bench) -> float:
    """CPU seconds of this process, of the client programs it ran, and of the opendrs serve process tree."""
    times = os.times()
    assert bench.drs.process is not None
    serve = sum(_process_cpu(pid) for pid in _process_tree(bench.drs.process.pid))
    return times.user + times.system + times.children_user + times.children_system + serve


def _process_tree(root: int) -> list[int]:
    """`root` and its descendants that are still running."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (state first)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _checksums(bench: Bench, server: servers.MariadbServer) -> dict[str, tuple[object, ...]]:
    names = [row[0] for row in bench.query(server, f"SHOW TABLES FROM {DATABASE}")]
    sums = {}
    for name in names:
        count = bench.query(server, f"SELECT COUNT(*) FROM {DATABASE}.{name}")[0]
        checksum = bench.query(server, f"CHECKSUM TABLE {DATABASE}.{name}")[0][1:]
        sums[str(name)] = (*count, *checksum)
    return sums


def _report(runs: dict[str, list[Run]], rows: int, load_before: float) -> None:
    print(f"\nload average (1 min) before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f} (2 cores)")
    header = f"{'method':10s} {'seconds':>8s} {'rows/s':>9s} {'src cpu':>8s} {'dst cpu':>8s} {'tool cpu':>10s}"
    print(header)
    medians = {}
    for method, method_runs in runs.items():
        median = _median(method_runs)
        medians[method] = median
        all_seconds = ", ".join(f"{run.seconds:.2f}" for run in method_runs)
        print(
            f"{method:10s} {median.seconds:8.2f} {rows / median.seconds:9,.0f} {median.source_cpu:8.2f}"
            f" {median.target_cpu:8.2f} {median.client_cpu:10.2f}   runs: {all_seconds}"
        )
    if "opendrs" not in medians:
        return
    ours = medians["opendrs"]
    for method, goal in GOALS.items():
        if method in medians:
            ratio = medians[method].seconds / ours.seconds
            cpu_ratio = _total_cpu(medians[method]) / _total_cpu(ours)
            verdict = "PASS" if ratio >= goal else "FAIL"
            print(f"opendrs/{method}: {ratio:.2f}x faster (goal >= {goal}x) {verdict}; total CPU {cpu_ratio:.2f}x less")


def _median(runs: list[Run]) -> Run:
    return Run(
        statistics.median(run.seconds for run in runs),
        statistics.median(run.source_cpu for run in runs),
        statistics.median(run.target_cpu for run in runs),
        statistics.median(run.client_cpu for run in runs),
    )


def _total_cpu(run: Run) -> float:
    return run.source_cpu + run.target_cpu + run.client_cpu


# --- setup ---------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _bench(target_options: list[str]) -> Iterator[Bench]:
    with tempfile.TemporaryDirectory(prefix="opendrs-bench-") as work:
        work_dir = Path(work)
        with (
            servers.mariadb_server(work_dir / "source", binlog=True, server_id=1) as source,
            servers.mariadb_server(work_dir / "target", server_id=2, options=target_options) as target,
            harness.serve(work_dir / "opendrs") as drs,
            harness.Api(drs, harness.create_tenant(drs, "bench")) as api,
        ):
            yield Bench(source, target, work_dir, drs, api)


def _fill(bench: Bench, rows: int) -> None:
    c = ", ".join(_DIGITS.format(n=n) for n in range(10))
    pad = ", ".join(_DIGITS.format(n=n) for n in range(10, 15))
    bench.execute(bench.source, f"CREATE DATABASE {DATABASE}")
    bench.execute(
        bench.source,
        BIG_TABLE,
        FILL_BIG.format(rows=rows, c=c, pad=pad),
        "ALTER TABLE sbtest1 ADD KEY k_1 (k)",
        *SMALL_TABLES,
        "ANALYZE TABLE sbtest1, pairs, uniq, nokey",
        database=DATABASE,
    )


def _set_buffer_pool(bench: Bench, megabytes: int) -> None:
    for server in (bench.source, bench.target):
        bench.execute(server, f"SET GLOBAL innodb_buffer_pool_size = {megabytes * 1024 * 1024}")


def _client_args(server: servers.MariadbServer) -> list[str]:
    return [f"--host={server.host}", f"--port={server.port}", f"--user={server.user}"]


def _mydumper_args(server: servers.MariadbServer) -> list[str]:
    return ["-h", server.host, "-P", str(server.port), "-u", server.user]


def _ensure_mydumper() -> None:
    if shutil.which("mydumper") and shutil.which("myloader"):
        return
    if os.geteuid() != 0:
        raise SystemExit("mydumper is not installed: apt-get install mydumper")
    subprocess.run(["apt-get", "install", "-y", "-q", "mydumper"], check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()

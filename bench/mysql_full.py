#!/usr/bin/env python3
"""Full copy MySQL/MariaDB -> MariaDB: opendrs against `mysqldump | mysql` and mydumper/myloader.

    python bench/mysql_full.py [--rows 1000000] [--repeat 1] [--workers 2] [--buffer-pool-mb 0]

Starts a source MariaDB (row binlog on) and a target MariaDB from tests/servers.py, then:

1. fills the source database `sbtest`: `sbtest1`, sysbench-like (id INT primary key, k INT with a secondary
   index, c CHAR(120), pad CHAR(60)) with --rows rows, plus three small tables (a composite key, a unique key
   only, no key at all);
2. copies it with each method, --repeat times, the methods interleaved, dropping the target database before
   each copy:
     mysqldump   `mysqldump --single-transaction --databases sbtest | mysql`
     mydumper    `mydumper -t 2 -r 100000 -B sbtest` into a directory, then `myloader -t 2`
     opendrs     the library: consistent snapshot for --workers connections, tables without their secondary
                 indexes, key-range chunks copied by --workers threads, each table's indexes built as soon
                 as its last chunk is in
3. checks every copy: each table's row count and CHECKSUM TABLE equal the source's;
4. prints, per method, the median seconds, rows/s and the CPU seconds the source server, the target server and
   the client side used (CPU is the steadier figure when other work shares the machine: the load average is
   printed too), the ratios of opendrs to the others, and PASS/FAIL for the goals: opendrs at least 2.0x
   faster than mysqldump | mysql, and at least 1.2x faster than mydumper/myloader. It exits 0 either way:
   it is a measurement.

--buffer-pool-mb sets innodb_buffer_pool_size on both servers (0 keeps MariaDB's default, 128 MB). mydumper is
installed with apt-get when missing.
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
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opendrs.connectors.mysql import catalog, chunks, copy, snapshot, structure
from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import Endpoint, Selection, TableRef
from tests import servers

DATABASE = "sbtest"
METHODS = ("mysqldump", "mydumper", "opendrs")
GOALS = {"mysqldump": 2.0, "mydumper": 1.2}  # opendrs must be at least this many times faster

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


@dataclasses.dataclass(frozen=True)
class Bench:
    source: servers.MariadbServer
    target: servers.MariadbServer
    work_dir: Path
    workers: int

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
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--buffer-pool-mb", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    methods = [method for method in args.methods.split(",") if method]
    _ensure_mydumper()
    with _bench(args.workers) as bench:
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
                run = _measure(bench, RUNNERS[method])
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
    threads = str(bench.workers)
    source, target = bench.source, bench.target
    dump = ["mydumper", *_mydumper_args(source), "-t", threads, "-r", "100000", "-B", DATABASE, "-o", str(out)]
    subprocess.run(dump, check=True)
    subprocess.run(["myloader", *_mydumper_args(target), "-t", threads, "-d", str(out)], check=True)
    return ""


def _opendrs(bench: Bench) -> str:
    started = time.monotonic()
    selection = Selection(databases=(DATABASE,))
    with snapshot.open_snapshot(bench.endpoint(bench.source), bench.workers) as snap:
        reader = snap.connections[0]
        tables = catalog.list_tables(reader, selection)
        target = mysql.connect(bench.endpoint(bench.target))
        try:
            for database in catalog.list_databases(reader, selection):
                structure.create_database(target, database, selection)
            for info in tables:
                structure.create_table(target, info, selection)
        finally:
            target.close()
        # The biggest tables first: their index builds then overlap the copy of the small ones.
        ordered = sorted(tables, key=lambda info: info.data_length, reverse=True)
        plan = [chunk for info in ordered for chunk in chunks.plan_chunks(reader, info)]
        prepared = time.monotonic()
        index_seconds = _copy_in_parallel(bench, snap, {info.table: info for info in tables}, plan, selection)
    return (
        f"(snapshot lock {snap.lock_seconds * 1000:.1f} ms; {len(plan)} chunks; before the copy"
        f" {prepared - started:.2f} s; index builds {index_seconds:.2f} s, after their tables' last chunk)"
    )


def _copy_in_parallel(
    bench: Bench,
    snap: snapshot.Snapshot,
    tables: dict[TableRef, catalog.TableInfo],
    plan: list[chunks.Chunk],
    selection: Selection,
) -> float:
    """What the engine does: one thread per snapshot connection takes the next chunk; the thread that finishes
    a table's last chunk builds that table's indexes. Returns the seconds spent building indexes."""
    pending = list(plan)
    index_seconds: list[float] = []
    left = {table: sum(chunk.table == table for chunk in plan) for table in tables}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(reader: mysql.Connection) -> None:
        target = mysql.connect(bench.endpoint(bench.target))
        try:
            while True:
                with lock:
                    if not pending or errors:
                        return
                    chunk = pending.pop(0)
                info = tables[chunk.table]
                copy.copy_chunk(reader, target, info, chunk, selection.target_of(chunk.table))
                with lock:
                    left[chunk.table] -= 1
                    last = left[chunk.table] == 0
                if last:
                    building = time.monotonic()
                    structure.build_indexes(target, info, selection)
                    index_seconds.append(time.monotonic() - building)
        except BaseException as error:
            errors.append(error)
        finally:
            target.close()

    threads = [threading.Thread(target=work, args=(reader,)) for reader in snap.connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(index_seconds)


RUNNERS: dict[str, Callable[[Bench], str]] = {
    "mysqldump": _mysqldump,
    "mydumper": _mydumper,
    "opendrs": _opendrs,
}


# --- measuring ---------------------------------------------------------------------------------------------


def _measure(bench: Bench, runner: Callable[[Bench], str]) -> Run:
    bench.execute(bench.target, f"DROP DATABASE IF EXISTS {DATABASE}")
    source_before, target_before = _process_cpu(bench.source), _process_cpu(bench.target)
    client_before = _client_cpu()
    started = time.monotonic()
    note = runner(bench)
    seconds = time.monotonic() - started
    return Run(
        seconds,
        _process_cpu(bench.source) - source_before,
        _process_cpu(bench.target) - target_before,
        _client_cpu() - client_before,
        note,
    )


def _process_cpu(server: servers.MariadbServer) -> float:
    """CPU seconds (user + system) the server process has used so far."""
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client_cpu() -> float:
    """CPU seconds of this process (all threads) and of the finished client programs it ran."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


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
    header = f"{'method':10s} {'seconds':>8s} {'rows/s':>9s} {'src cpu':>8s} {'dst cpu':>8s} {'client cpu':>10s}"
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
def _bench(workers: int) -> Iterator[Bench]:
    with tempfile.TemporaryDirectory(prefix="opendrs-bench-") as work:
        work_dir = Path(work)
        with (
            servers.mariadb_server(work_dir / "source", binlog=True, server_id=1) as source,
            servers.mariadb_server(work_dir / "target", server_id=2) as target,
        ):
            yield Bench(source, target, work_dir, workers)


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

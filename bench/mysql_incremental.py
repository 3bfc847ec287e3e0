"""Incremental MySQL/MariaDB replication: opendrs's binlog stream + applier against MariaDB's own replica.

    python bench/mysql_incremental.py [--backlog 200000] [--rate 2000] [--duration 15] [--large-rows 500000]

Starts three throwaway MariaDB servers on this machine: a source logging the binlog, a target for opendrs,
and a native replica. Then:

1. catch-up: the source runs a backlog of single-row transactions (half inserts, half updates, each its own
   commit) while nothing replicates; opendrs then applies the backlog from the binlog as fast as it can, and the
   native single-threaded replica (CHANGE MASTER TO ... ; START SLAVE) applies the same binlog region afterwards.
   Both are timed from start until the last transaction is applied.
2. lag: a separate process offers single-row transactions (inserts and updates alternating) at a fixed rate;
   each row carries the writer's clock just before its commit, and opendrs's lag for a row is the time from
   that to the commit of the target transaction holding it (binlog timestamps have whole seconds only).
3. large transactions: the source inserts `--large-rows` rows into a new table in one transaction, then updates
   them all in another; opendrs and the native replica each apply that region, timed as in 1. A transaction this
   large waits in a temporary file (connectors/mysql/spill.py) and is applied once it is read whole, its rows
   given to the target as the binlog has them (connectors/mysql/replay.py).

Goals: >= 10,000 rows/s applied, >= half the native replica's catch-up rate, p99 lag < 1 s at 2,000 rows/s. The
large transactions have no goal yet: their line shows how far opendrs is from the native replica there.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opendrs.connectors.mysql import applier as applier_module
from opendrs.connectors.mysql import fences, positions, streaming
from opendrs.domain.replication import BinlogPosition, Endpoint, RowChange, Selection, position_key
from tests import servers

SCHEMA = "bench"
TABLE = """CREATE TABLE t (
  id BIGINT NOT NULL PRIMARY KEY,
  k INT NOT NULL,
  c VARCHAR(120) NOT NULL,
  pad CHAR(60) NOT NULL,
  ts DOUBLE NOT NULL,
  KEY (k)
) ENGINE=InnoDB"""
BACKLOG_PROCEDURE = """
CREATE PROCEDURE backlog(n INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  WHILE i < n DO  -- autocommit: every statement is a transaction of its own in the binlog
    INSERT INTO t VALUES (i, i % 1000, REPEAT(CHAR(97 + i % 26), 100), 'pad', UNIX_TIMESTAMP(NOW(6)));
    SET i = i + 1;
  END WHILE;
  SET i = 0;
  WHILE i < n DO
    UPDATE t SET k = k + 1, ts = UNIX_TIMESTAMP(NOW(6)) WHERE id = i;
    SET i = i + 1;
  END WHILE;
END
"""
MAX_BATCH_ROWS = 5000
POLL = 0.01  # seconds


def connect(server: servers.MariadbServer, database: str | None = None) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(host=server.host, port=server.port, user="root", database=database, autocommit=True)


def execute(server: servers.MariadbServer, *statements: str, database: str | None = None) -> None:
    conn = connect(server, database)
    with conn, conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def endpoint(server: servers.MariadbServer) -> Endpoint:
    return Endpoint(server.host, server.port, "root", "")


def position(server: servers.MariadbServer) -> BinlogPosition:
    return positions.current_position(endpoint(server))


# --- catch-up -------------------------------------------------------------------------------------------------


def build_backlog(source: servers.MariadbServer, transactions: int) -> tuple[BinlogPosition, BinlogPosition]:
    execute(source, f"CREATE DATABASE {SCHEMA}", "SET GLOBAL innodb_flush_log_at_trx_commit = 2")
    start = position(source)
    execute(source, TABLE, BACKLOG_PROCEDURE, database=SCHEMA)
    began = time.monotonic()
    execute(source, f"CALL backlog({transactions // 2})", database=SCHEMA)
    end = position(source)
    print(f"backlog: {transactions} single-row transactions written in {time.monotonic() - began:.1f}s")
    return start, end


def opendrs_catch_up(
    source: servers.MariadbServer, target: servers.MariadbServer, start: BinlogPosition, end: BinlogPosition
) -> tuple[float, applier_module.Applier]:
    execute(target, f"CREATE DATABASE {SCHEMA}")
    # Fenced, as the engine runs it: every batch checks the task's fence row on the target.
    fence = fences.Fence("bench", 1)
    fences.raise_fence(endpoint(target), fence)
    applier = applier_module.Applier(endpoint(target), "bench", Selection(databases=(SCHEMA,)), fence=fence)
    applier.load_checkpoint()
    return opendrs_apply(source, applier, start, end, 901), applier


def opendrs_apply(
    source: servers.MariadbServer, applier: applier_module.Applier, start: BinlogPosition, end: BinlogPosition, id: int
) -> float:
    """Seconds opendrs's stream and applier take to apply start..end."""
    end_key = position_key(end)
    began = time.monotonic()
    with streaming.stream(endpoint(source), start, Selection(databases=(SCHEMA,)), id) as stream:
        for batch in stream.batches(MAX_BATCH_ROWS):
            if isinstance(batch, streaming.Heartbeat):
                continue
            result = applier.apply(batch)
            if result.position and position_key(result.position) >= end_key:
                break
    return time.monotonic() - began


def large_transactions(source: servers.MariadbServer, rows: int) -> tuple[BinlogPosition, BinlogPosition]:
    """An INSERT of `rows` rows into a new table in one transaction, then an UPDATE of them all in another."""
    start = position(source)
    execute(
        source,
        "CREATE TABLE large (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c CHAR(60) NOT NULL) ENGINE=InnoDB",
        f"INSERT INTO large SELECT seq, seq % 1000, REPEAT('c', 60) FROM seq_1_to_{rows}",
        "UPDATE large SET k = k + 1",
        database=SCHEMA,
    )
    return start, position(source)


def native_catch_up(
    source: servers.MariadbServer,
    replica: servers.MariadbServer,
    start: BinlogPosition,
    end: BinlogPosition,
    flush_log_at_commit: int,
) -> float:
    """Seconds the native single-threaded replica takes to apply start..end, with
    innodb_flush_log_at_trx_commit=flush_log_at_commit (1: the default, a log flush per replicated commit)."""
    execute(replica, f"DROP DATABASE IF EXISTS {SCHEMA}", f"CREATE DATABASE {SCHEMA}")
    conn = connect(replica)
    with conn, conn.cursor(pymysql.cursors.DictCursor) as cursor:
        cursor.execute("RESET SLAVE ALL")
        cursor.execute(f"SET GLOBAL innodb_flush_log_at_trx_commit = {flush_log_at_commit}")
        cursor.execute(
            "CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%s, MASTER_USER='root', MASTER_PASSWORD='', "
            "MASTER_LOG_FILE=%s, MASTER_LOG_POS=%s, MASTER_USE_GTID=no",
            (source.host, source.port, start.file, start.offset),
        )
        began = time.monotonic()
        cursor.execute("START SLAVE")
        while True:
            cursor.execute("SHOW SLAVE STATUS")
            status = cursor.fetchone()
            assert status is not None
            if status["Last_SQL_Error"] or status["Last_IO_Error"]:
                raise RuntimeError(f"native replica failed: {status['Last_SQL_Error'] or status['Last_IO_Error']}")
            done = (status["Relay_Master_Log_File"], int(status["Exec_Master_Log_Pos"]))
            if position_key(BinlogPosition(*done)) >= position_key(end):
                elapsed = time.monotonic() - began
                break
            time.sleep(POLL)
        cursor.execute("STOP SLAVE")
    return elapsed


# --- lag at a fixed rate -------------------------------------------------------------------------------------------


def writer(host: str, port: int, rate: float, duration: float, first_id: int, ready: Any) -> None:
    """Single-row transactions at `rate` per second, inserts and updates alternating (own process: no GIL share)."""
    conn = pymysql.connect(host=host, port=port, user="root", database=SCHEMA, autocommit=True)
    with conn, conn.cursor() as cursor:
        ready.wait()
        began = time.perf_counter()
        count = int(rate * duration)
        for n in range(count):
            due = began + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            if n % 2 == 0:
                cursor.execute("INSERT INTO t VALUES (%s, %s, 'lag', 'pad', %s)", (first_id + n, n % 1000, time.time()))
            else:
                cursor.execute("UPDATE t SET k = k + 1, ts = %s WHERE id = %s", (time.time(), first_id + n - 1))


def measure_lag(
    source: servers.MariadbServer, applier: applier_module.Applier, start: BinlogPosition, rate: float, duration: float
) -> tuple[list[float], float]:
    ready = multiprocessing.Event()
    process = multiprocessing.Process(
        target=writer, args=(source.host, source.port, rate, duration, 10_000_000, ready), daemon=True
    )
    process.start()
    lags: list[float] = []
    expected = int(rate * duration)
    began = time.monotonic()
    with streaming.stream(
        endpoint(source), start, Selection(databases=(SCHEMA,)), 902, heartbeat_interval=0.5
    ) as stream:
        ready.set()
        for batch in stream.batches(MAX_BATCH_ROWS):
            if isinstance(batch, streaming.Heartbeat):
                if not process.is_alive() and len(lags) >= expected:
                    break
                continue
            applier.apply(batch)
            applied_at = time.time()
            lags.extend(
                applied_at - change.after["ts"]
                for transaction in batch
                for change in transaction.changes
                if isinstance(change, RowChange) and change.after is not None
            )
            if len(lags) >= expected:
                break
    process.join()
    return lags, time.monotonic() - began


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextlib.contextmanager
def three_servers(base: Path) -> Iterator[tuple[servers.MariadbServer, servers.MariadbServer, servers.MariadbServer]]:
    with (
        servers.mariadb_server(base / "source", binlog=True, server_id=1) as source,
        servers.mariadb_server(base / "target", server_id=2) as target,
        servers.mariadb_server(base / "replica", server_id=3) as replica,
    ):
        yield source, target, replica


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backlog", type=int, default=200_000, help="single-row transactions to catch up")
    parser.add_argument("--rate", type=float, default=2000.0, help="rows/s offered in the lag phase")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of the lag phase")
    parser.add_argument("--skip-native", action="store_true", help="do not run the native replica")
    parser.add_argument("--large-rows", type=int, default=500_000, help="rows of each large transaction (0: none)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="opendrs-bench-") as tmp, three_servers(Path(tmp)) as (src, tgt, rep):
        start, end = build_backlog(src, args.backlog)
        seconds, applier = opendrs_catch_up(src, tgt, start, end)
        ours = args.backlog / seconds
        print(f"opendrs catch-up: {args.backlog} rows in {seconds:.2f}s = {ours:,.0f} rows/s")
        native = relaxed = None
        if not args.skip_native:
            native_seconds = native_catch_up(src, rep, start, end, 1)
            native = args.backlog / native_seconds
            print(f"native replica (single-threaded, defaults) catch-up: {native_seconds:.2f}s = {native:,.0f} rows/s")
            relaxed_seconds = native_catch_up(src, rep, start, end, 2)
            relaxed = args.backlog / relaxed_seconds
            print(
                f"native replica (single-threaded, innodb_flush_log_at_trx_commit=2) catch-up: "
                f"{relaxed_seconds:.2f}s = {relaxed:,.0f} rows/s"
            )
        lags, _ = measure_lag(src, applier, end, args.rate, args.duration)
        p50, p99 = percentile(lags, 0.50), percentile(lags, 0.99)
        print(
            f"lag at {args.rate:,.0f} rows/s offered for {args.duration:.0f}s: {len(lags)} rows, "
            f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {max(lags) * 1000:.1f} ms, "
            f"mean {statistics.fmean(lags) * 1000:.1f} ms"
        )
        if args.large_rows:
            large_start, large_end = large_transactions(src, args.large_rows)
            replayed = applier.metrics.replayed
            seconds = opendrs_apply(src, applier, large_start, large_end, 903)
            replayed = applier.metrics.replayed - replayed
            line = (
                f"large transactions ({args.large_rows:,} rows inserted in one, then updated in another): "
                f"opendrs {seconds:.2f}s = {2 * args.large_rows / seconds:,.0f} rows/s ({replayed:,} of the rows given"
                " to the target as the binlog has them)"
            )
            if not args.skip_native:
                native_seconds = native_catch_up(src, rep, large_start, large_end, 1)
                line += f", native replica {native_seconds:.2f}s (opendrs takes {seconds / native_seconds:.1f}x)"
            print(line)
        applier.close()

    goals = [
        ("applied rows/s >= 10,000", ours >= 10_000, f"{ours:,.0f}"),
        (
            "applied >= half the native replica",
            native is None or ours >= native / 2,
            f"{ours:,.0f} vs {native or 0:,.0f}",
        ),
        (
            "applied >= half the relaxed native replica",
            relaxed is None or ours >= relaxed / 2,
            f"{ours:,.0f} vs {relaxed or 0:,.0f}",
        ),
        (f"p99 lag < 1 s at {args.rate:,.0f} rows/s", p99 < 1.0, f"{p99 * 1000:.0f} ms"),
    ]
    print()
    print(f"| {'goal':<44} | {'result':<20} | verdict |")
    print(f"|{'-' * 46}|{'-' * 22}|---------|")
    for name, passed, value in goals:
        print(f"| {name:<44} | {value:<20} | {'PASS' if passed else 'FAIL':<7} |")
    return 0 if all(passed for _, passed, _ in goals) else 1


if __name__ == "__main__":
    sys.exit(main())

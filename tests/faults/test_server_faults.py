"""Faults outside the worker: the source or the target server restarted, the network to the source cut and
restored, a source transaction open across the snapshot, and binlogs purged past the task's checkpoint.

A lost server that comes back within the retry window costs the task nothing: it never reports a failure and the
target ends equal to the source, row for row. A gap in the binlog is the one fault it cannot recover from: it
fails with the documented code (DRS.M05203) and applies nothing past the gap.
"""

from __future__ import annotations

import dataclasses
import time

from tests.e2e import mysql_helpers as my
from tests.e2e.mysql_helpers import execute, query, quote
from tests.faults.conftest import RETRY_WINDOW_SECONDS, Cluster, caught_up
from tests.faults.proxy import tcp_proxy
from tests.harness import wait_for
from tests.servers import MariadbServer

SEEDED_ROWS = 1000
OUTAGE_SECONDS = 4.0  # how long the network stays cut: several reconnection attempts, well within the window


def _streaming_task(cluster: Cluster, source: MariadbServer, target: MariadbServer, schema: str) -> str:
    """A FULL_INCR_TRANS task of the writer's tables, streaming on one worker of the cluster."""
    my.Writer.create_tables(source, schema, pk_rows=SEEDED_ROWS)
    cluster.start_worker()
    job = my.configure_task(cluster.api, source, target, "FULL_INCR_TRANS", [schema])
    my.start(cluster.api, job)
    my.wait_status(cluster.api, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
    return job


def _assert_retried(cluster: Cluster, *causes: str) -> None:
    """The worker running the task met the fault (a retry naming one of `causes`): the test did cut something."""
    log = cluster.workers[-1].log()
    retried = [line for line in log.splitlines() if "retrying" in line and any(cause in line for cause in causes)]
    assert retried, f"the worker never retried after any of {causes}:\n{log[-3000:]}"


def _burst(source: MariadbServer, schema: str) -> None:
    """Changes of every kind in quick transactions (a writer thread would die with the server)."""
    s = quote(schema)
    for n in range(20):
        execute(
            source,
            "BEGIN",
            f"INSERT INTO {s}.w_pk SELECT {20_000_000 + n * 100} + seq, seq, 'burst', seq, NOW(6) FROM {s}.seq_1_to_50",
            f"UPDATE {s}.w_pk SET id = id + 30000000 WHERE id = {n + 1}",  # the primary key changes
            f"DELETE FROM {s}.w_pk WHERE id = {500 + n}",
            f"INSERT INTO {s}.w_nokey VALUES ({n}, 'burst'), ({n}, 'burst')",
            f"DELETE FROM {s}.w_nokey WHERE grp = {n % 30} LIMIT 1",
            "COMMIT",
        )


def test_source_restarted_during_incremental(
    cluster: Cluster, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    job = _streaming_task(cluster, source, target, schema)
    with my.StatusWatch(cluster.api, job) as watch:
        _burst(source, schema)
        source.restart()  # the burst may not all be applied yet: the rest must be after the restart
        wait_for(lambda: my.binlog_dumps(source), "the task to stream from the restarted source", RETRY_WINDOW_SECONDS)
        with my.writing(source, schema, seeded_rows=SEEDED_ROWS) as writer:
            writer.wait_for_transactions(100, "writes after the restart")
        caught_up(cluster.api, job, source, target, schema)
    assert watch.error is None, watch.error
    assert not watch.failures(), watch.failures()
    _assert_retried(cluster, "source")


def test_target_restarted_during_incremental(
    cluster: Cluster, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    job = _streaming_task(cluster, source, target, schema)
    with my.StatusWatch(cluster.api, job) as watch:
        with my.writing(source, schema, seeded_rows=SEEDED_ROWS) as writer:
            writer.wait_for_transactions(100, "writes before the restart")
            target.restart()  # the source keeps changing while the target is away
            writer.wait_for_transactions(100, "writes after the restart")
        caught_up(cluster.api, job, source, target, schema)
    assert watch.error is None, watch.error
    assert not watch.failures(), watch.failures()
    _assert_retried(cluster, "(2003)", "(2006)", "(2013)")  # can't connect, gone away, lost connection


def test_network_to_the_source_cut_and_restored(
    cluster: Cluster, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    with tcp_proxy(source.host, source.port) as proxy:
        through_proxy = dataclasses.replace(source, port=proxy.port)  # the task's source endpoint is the proxy
        job = _streaming_task(cluster, through_proxy, target, schema)
        with my.StatusWatch(cluster.api, job) as watch:
            with my.writing(source, schema, seeded_rows=SEEDED_ROWS) as writer:
                writer.wait_for_transactions(100, "writes before the cut")
                assert proxy.connections > 0, "the task does not stream through the proxy"
                accepted_before = proxy.accepted
                proxy.cut()
                cut_at = time.monotonic()
                writer.wait_for_transactions(100, "writes while the network is cut")

                def waiting_without_failing() -> bool:
                    failed = str(my.status_of(cluster.api, job)["status"]).endswith("_FAILED")
                    return proxy.connections == 0 and not failed

                outage_left = max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at))
                my.assert_stays(waiting_without_failing, "the task waits for the source without failing", outage_left)
                proxy.restore()
                wait_for(lambda: proxy.accepted > accepted_before, "the task to reconnect", RETRY_WINDOW_SECONDS)
                writer.wait_for_transactions(100, "writes after the network is back")
            caught_up(cluster.api, job, source, target, schema)
        assert watch.error is None, watch.error
        assert not watch.failures(), watch.failures()
        _assert_retried(cluster, "Connection refused")


def test_source_transaction_open_across_the_snapshot_arrives_once(
    cluster: Cluster, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    my.Writer.create_tables(source, schema, pk_rows=SEEDED_ROWS)
    long_running = my.connect(source)
    try:
        with long_running.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f"INSERT INTO {s}.w_pk SELECT 5000000 + seq, 1, 'long', seq, NOW(6) FROM {s}.seq_1_to_300")
            cursor.execute(f"UPDATE {s}.w_pk SET v = 'long update' WHERE id <= 100")
            cursor.execute(f"DELETE FROM {s}.w_pk WHERE id BETWEEN 101 AND 150")
            cursor.execute(f"INSERT INTO {s}.w_nokey SELECT 99, 'long' FROM {s}.seq_1_to_50")
            cluster.start_worker()
            job = my.configure_task(cluster.api, source, target, "FULL_INCR_TRANS", [schema])
            with my.StatusWatch(cluster.api, job) as watch:
                my.start(cluster.api, job)
                my.wait_status(cluster.api, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
                long_count = f"SELECT COUNT(*) FROM {s}.w_pk WHERE v LIKE 'long%%'"
                assert my.scalar(target, long_count) == 0, "the snapshot saw an uncommitted transaction"
                cursor.execute("COMMIT")
                caught_up(cluster.api, job, source, target, schema)
    finally:
        long_running.close()
    assert my.scalar(target, long_count) == 400  # 300 inserted, 100 updated
    assert my.scalar(target, f"SELECT COUNT(*) FROM {s}.w_pk WHERE id BETWEEN 101 AND 150") == 0
    assert my.scalar(target, f"SELECT COUNT(*) FROM {s}.w_nokey WHERE v = 'long'") == 50  # once, not twice
    assert watch.error is None, watch.error
    assert not watch.failures(), watch.failures()


def test_binlog_purged_past_the_checkpoint_fails_the_task(
    cluster: Cluster, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    execute(source, f"CREATE TABLE {s}.items (id INT NOT NULL PRIMARY KEY, v VARCHAR(20))")
    worker = cluster.start_worker()
    job = my.configure_task(cluster.api, source, target, "FULL_INCR_TRANS", [schema])
    my.start(cluster.api, job)
    my.wait_status(cluster.api, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
    execute(source, f"INSERT INTO {s}.items VALUES (1, 'applied')")
    wait_for(lambda: query(target, f"SELECT id FROM {s}.items") == [(1,)], "the first row to be applied")
    cluster.kill(worker)  # a crash: the checkpoint stays where it is
    wait_for(lambda: not my.binlog_dumps(source), "the source to end the dead worker's binlog dump")

    execute(source, f"INSERT INTO {s}.items VALUES (2, 'lost')", "FLUSH BINARY LOGS")
    newest = str(query(source, "SHOW BINARY LOGS")[-1][0])

    def purged() -> bool:
        # MariaDB keeps a binlog until its transactions are checkpointed, which follows FLUSH shortly.
        execute(source, f"PURGE BINARY LOGS TO '{newest}'")
        return [str(row[0]) for row in query(source, "SHOW BINARY LOGS")] == [newest]

    wait_for(purged, f"the source to purge every binlog before {newest}")
    execute(source, f"INSERT INTO {s}.items VALUES (3, 'after the gap')")

    cluster.start_worker()
    failed = my.wait_status(cluster.api, job, "INCRE_TRANSFER_FAILED", my.STATUS_DEADLINE)
    assert failed["error_code"] == "DRS.M05203", failed
    assert "binlog" in failed["error_message"].lower(), failed
    assert query(target, f"SELECT id, v FROM {s}.items ORDER BY id") == [(1, "applied")]
    my.assert_stays(
        lambda: my.status_of(cluster.api, job)["status"] == "INCRE_TRANSFER_FAILED",
        "the task stays failed (it does not retry into the gap)",
        2.0,
    )


def test_network_to_the_source_cut_as_the_task_starts(
    cluster: Cluster, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """Cut between the precheck and the start: the start (or the snapshot) cannot reach the source until the network
    is back; the task waits, then copies and streams as if nothing happened."""
    my.Writer.create_tables(source, schema, pk_rows=SEEDED_ROWS)
    with tcp_proxy(source.host, source.port) as proxy:
        through_proxy = dataclasses.replace(source, port=proxy.port)
        cluster.start_worker()
        job = my.configure_task(cluster.api, through_proxy, target, "FULL_INCR_TRANS", [schema])
        with my.StatusWatch(cluster.api, job) as watch, my.writing(source, schema, seeded_rows=SEEDED_ROWS) as writer:
            assert my.precheck(cluster.api, job)["result"] is True
            proxy.cut()
            my.succeeded(cluster.api.post(f"{my.JOBS}/batch-starting", {"jobs": [{"job_id": job}]}), 202)
            my.assert_stays(
                lambda: not str(my.status_of(cluster.api, job)["status"]).endswith("_FAILED"),
                "the task waits for the source without failing",
                OUTAGE_SECONDS,
            )
            assert my.status_of(cluster.api, job)["status"] in ("STARTJOBING", "FULL_TRANSFER_STARTED")
            proxy.restore()
            my.wait_status(cluster.api, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
            writer.wait_for_transactions(100, "writes during the incremental phase")
        caught_up(cluster.api, job, source, target, schema)
        assert watch.error is None, watch.error
        assert not watch.failures(), watch.failures()
        _assert_retried(cluster, "(2003)", "Connection refused")  # while the proxy runs: not from its closing

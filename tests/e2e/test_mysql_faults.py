"""Workers die (kill -9) in the middle of a task: the task goes on on a surviving worker once the dead one's lease
expires, and the target still ends up equal to the source row for row, every change applied once.

The API runs as `opendrs serve --no-worker`; the workers are `opendrs worker` processes of the test's own, so the
one holding the task (the tasks table's lease_owner '<hostname>-<pid>-<suffix>') can be killed like a crash.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

from tests.e2e import mysql_helpers as my
from tests.e2e.conftest import LEASE_TTL_SECONDS, Cluster
from tests.e2e.mysql_helpers import execute, qualified, query, quote
from tests.harness import wait_for
from tests.servers import MariadbServer

LEASE_TTL = float(LEASE_TTL_SECONDS)
TAKEOVER_SLACK = 3.0  # seconds beyond the lease TTL for the survivor's poll, on a loaded machine


def _kill_holder(cluster: Cluster, job: str, right_after: Callable[[], None] | None = None) -> None:
    """kill -9 the worker running the task (then call `right_after`, while nobody runs the task); a survivor must
    take the task over within the lease TTL. Then a new worker replaces the dead one, for the next kill."""
    holder: subprocess.Popen[bytes] = wait_for(lambda: cluster.holder(job), f"a worker of ours to hold {job}")
    cluster.kill(holder)
    killed_at = time.monotonic()
    if right_after is not None:
        right_after()

    def taken_over() -> subprocess.Popen[bytes] | None:
        successor = cluster.holder(job)
        return successor if successor is not None and successor.pid != holder.pid else None

    try:
        wait_for(taken_over, f"a surviving worker to take {job} over", 30)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{cluster.logs()}") from None
    takeover = time.monotonic() - killed_at
    assert takeover <= LEASE_TTL + TAKEOVER_SLACK, f"the task waited {takeover:.1f} s for a new worker"
    print(f"killed worker {holder.pid}; taken over in {takeover:.1f} s")  # shown with -s
    cluster.start_worker()


def _data_progress(progress: dict[str, Any]) -> str | None:
    data = progress.get("progress_map", {}).get("data")
    return None if data is None else str(data["completed"])


def test_worker_killed_during_the_full_copy_and_at_its_end(
    cluster: Cluster, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    api = cluster.api
    rows = 220_000  # three chunks of at most 100,000 rows
    my.Writer.create_tables(source, schema, pk_rows=rows)
    execute(source, f"ANALYZE TABLE {qualified(schema, 'w_pk')}")
    job = my.configure_task(api, source, target, "FULL_INCR_TRANS", [schema])
    my.succeeded(my.limit_speed(api, [job], 2))  # 2 MB/s: the copy takes seconds, time enough to kill it

    with my.StatusWatch(api, job) as watch, my.writing(source, schema, seeded_rows=rows, xa=True) as writer:
        my.start(api, job)

        def copying() -> bool:
            """A chunk of w_pk is copied, and at least one more is to come (3 chunks: 33%, 66%, then 99%)."""
            progress = my.progress_of(api, job)
            data = _data_progress(progress) or "0%"
            return progress["transfer_status"] == "FULL_TRANSFER_STARTED" and 0 < int(data.rstrip("%")) < 90

        wait_for(copying, "a chunk to be copied, with more to come", my.COPY_DEADLINE)
        chunks_at_kill: list[str] = []
        _kill_holder(cluster, job, lambda: chunks_at_kill.extend(my.copied_chunks(cluster.server, job)))

        def copy_done() -> dict[str, Any] | None:
            progress = my.progress_of(api, job)
            finished = progress["transfer_status"] != "FULL_TRANSFER_STARTED" or _data_progress(progress) == "100%"
            return progress if finished else None

        at_end = wait_for(copy_done, "the data copy to finish", my.COPY_DEADLINE)
        _kill_holder(cluster, job)  # while indexes are built, or the full phase hands over to the incremental one
        print(f"second kill at {at_end['transfer_status']} {at_end.get('progress_map')}")  # shown with -s

        my.wait_status(api, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
        _kill_holder(cluster, job)  # as the incremental phase starts: it resumes from the snapshot's position
        writer.wait_for_transactions(100, "writes during the incremental phase")

    my.wait_same_database(source, target, schema)
    chunks = my.copied_chunks(cluster.server, job)
    assert set(chunks_at_kill) < set(chunks), f"the copy was not cut short: {chunks_at_kill} before the kill"
    assert len([chunk for chunk in chunks if f"{schema}.w_pk#" in chunk]) >= 2, chunks
    assert watch.error is None, watch.error
    assert not watch.failures(), watch.failures()
    duplicates = f"SELECT grp, v, COUNT(*) FROM {quote(schema)}.w_nokey GROUP BY grp, v ORDER BY grp, v"
    assert query(target, duplicates) == query(source, duplicates)


def test_worker_killed_during_incremental_apply(
    cluster: Cluster, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    api = cluster.api
    my.Writer.create_tables(source, schema, pk_rows=5000)
    job = my.configure_task(api, source, target, "FULL_INCR_TRANS", [schema])
    my.start(api, job)
    my.wait_status(api, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)

    with (
        my.StatusWatch(api, job) as watch,
        my.writing(source, schema, seeded_rows=5000, large_rows=8000, xa=True) as writer,
    ):
        for _ in range(2):
            # Right after a large transaction commits, the worker is busy applying it.
            writer.wait_for_large_transaction()
            _kill_holder(cluster, job)
        writer.wait_for_transactions(100, "writes after the last kill")

    my.wait_same_database(source, target, schema)
    assert my.status_of(api, job)["status"] == "INCRE_TRANSFER_STARTED"
    assert watch.error is None, watch.error
    assert not watch.failures(), watch.failures()
    duplicates = f"SELECT grp, v, COUNT(*) FROM {quote(schema)}.w_nokey GROUP BY grp, v ORDER BY grp, v"
    assert query(target, duplicates) == query(source, duplicates)


def test_two_worker_crashes_during_the_copy_keep_a_keyless_table_exact(
    cluster: Cluster, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """Copy run 1 dies before any chunk is recorded; run 2 copies the keyless table w_nokey (among others) and dies
    before the copy ends; run 3 finishes it. w_nokey on the target then holds the source's rows as of run 2's
    snapshot, and the incremental phase (which starts from run 1's) must not apply the changes before that snapshot
    to it a second time.

    The copy goes biggest first, at a 1 MB/s limit: a_big's first two chunks (about 8 MB each) keep both copy
    threads busy for some 15 s before the small tables come up, and its last one (about 4 MB) for seconds after
    w_nokey is copied. Each kill comes well inside those windows, even on a loaded machine."""
    api = cluster.api
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.a_big (id INT NOT NULL PRIMARY KEY, pad VARCHAR(80))",
        f"INSERT INTO {s}.a_big SELECT seq, REPEAT('p', 80) FROM {s}.seq_1_to_250000",
        f"ANALYZE TABLE {s}.a_big",
    )
    my.Writer.create_tables(source, schema)
    job = my.configure_task(api, source, target, "FULL_INCR_TRANS", [schema])
    my.succeeded(my.limit_speed(api, [job], 1))
    big_chunks = f"{schema}.a_big#"
    keyless_chunk = f"{schema}.w_nokey#0"

    with my.StatusWatch(api, job) as watch, my.writing(source, schema) as writer:
        my.start(api, job)

        def copy_started() -> bool:
            progress = my.progress_of(api, job)
            struct = progress.get("progress_map", {}).get("struct", {}).get("completed")
            return bool(progress["transfer_status"] == "FULL_TRANSFER_STARTED" and struct == "100%")

        wait_for(copy_started, "the data copy to start", my.COPY_DEADLINE)
        _kill_holder(cluster, job)  # run 1 dies
        assert keyless_chunk not in my.copied_chunks(cluster.server, job)

        def keyless_copied_before_the_end() -> list[str] | None:
            chunks = my.copied_chunks(cluster.server, job)
            return chunks if keyless_chunk in chunks else None

        wait_for(keyless_copied_before_the_end, "run 2 to copy w_nokey", my.COPY_DEADLINE)

        def copy_unfinished() -> None:
            done = [chunk for chunk in my.copied_chunks(cluster.server, job) if chunk.startswith(big_chunks)]
            assert len(done) < 3, f"run 2 copied all of a_big ({done}) before it could be killed"

        _kill_holder(cluster, job, copy_unfinished)  # run 2 dies

        my.wait_status(api, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
        writer.wait_for_transactions(100, "writes during the incremental phase")

    my.wait_same_database(source, target, schema)
    assert watch.error is None, watch.error
    assert not watch.failures(), watch.failures()

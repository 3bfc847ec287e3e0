"""A worker dies (SIGKILL, by itself) at a named crash point of the engine while the source is being written to;
a normal worker takes the task over once the dead one's lease expires; the task reaches the incremental phase,
catches up, and the target then equals the source row for row: no row lost, none duplicated (the keyless table's
duplicate rows are counted), no status *_FAILED on the way.

Each point is armed with OPENDRS_CRASH_AT="point:n" (opendrs/faults.py): the n-th time the worker reaches it.
The test checks that the worker did die there: its stderr names the point and its exit status is SIGKILL's.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.e2e import mysql_helpers as my
from tests.e2e.mysql_helpers import execute, qualified, quote
from tests.faults.conftest import LEASE_TTL_SECONDS, Cluster, Worker, caught_up
from tests.harness import wait_for
from tests.servers import MariadbServer

SEEDED_ROWS = 1200  # w_pk: five chunks of 250; w_comp (600) three; w_nokey (600, keyless) one
CRASH_DEADLINE = 60.0  # for the armed worker to reach its point
TAKEOVER_DEADLINE = LEASE_TTL_SECONDS + 45.0  # generous: a loaded machine starts workers slowly
PROVOKE_EVERY = 0.4  # seconds between the DDL (and binlog rotations) that incremental points wait for

# (point, pass): the pass makes the worker die with work both behind and ahead of it.
CRASH_POINTS = [
    # snapshot
    ("snapshot.locked", 1),  # FLUSH TABLES WITH READ LOCK held: the source's writers wait for the lock
    ("snapshot.position_unrecorded", 1),  # position read, not yet in the store
    ("snapshot.position_recorded", 1),
    # structure
    ("structure.table_created_unrecorded", 2),  # one table created and recorded, a second created only
    ("structure.table_recorded", 3),
    # data chunks
    ("copy.plans_recorded", 1),  # chunk plans stored, no chunk copied
    ("copy.chunk.before_load", 3),
    ("copy.chunk.streaming", 3),  # mid LOAD DATA: rows in the pipe, the load's input not ended
    ("copy.chunk.loaded_uncommitted", 3),
    ("copy.chunk.committed_unrecorded", 3),  # on the target, not in the store: the chunk is copied again
    ("copy.chunk.recorded", 4),
    ("copy.table.last_chunk_recording", 1),  # in the store transaction recording a table's last chunk
    ("copy.data_copied_unrecorded", 1),  # every chunk recorded, the tables not marked done
    ("copy.data_recorded", 1),
    # indexes
    ("indexes.before_build", 1),  # the first table whose data is all in
    ("indexes.built_unrecorded", 2),  # one table's indexes recorded, a second's built only
    ("indexes.recorded", 3),
    # phase transitions
    ("phase.start.before_full_started", 1),
    ("phase.full.copied_unrecorded", 1),  # views made; FULL_TRANSFER_COMPLETE not recorded
    ("phase.full_completed.before_incremental", 1),
    # incremental apply
    ("incremental.stream_opened", 1),
    ("apply.batch.statements_sent", 5),  # statements run in the target transaction, not committed
    ("apply.before_commit", 4),  # the batch and its checkpoint written, COMMIT not sent
    ("apply.after_commit", 4),  # committed on the target, nothing else done
    ("incremental.progress_saved", 2),  # the store's progress updated
    ("apply.ddl.marker_committed", 1),  # the DDL marker committed, the DDL not run
    ("apply.ddl.executed_uncommitted", 1),  # the DDL run, its checkpoint not committed
    ("stream.rotate", 2),  # pass 1 is the dump's artificial rotate; 2 is FLUSH BINARY LOGS
]


def _create_tables(source: MariadbServer, schema: str) -> None:
    my.Writer.create_tables(source, schema, pk_rows=SEEDED_ROWS)
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.f_ddl (id INT NOT NULL PRIMARY KEY, v VARCHAR(16), KEY v (v))",
        f"INSERT INTO {s}.f_ddl (id, v) SELECT seq, CONCAT('d', seq) FROM {s}.seq_1_to_40",
        f"CREATE VIEW {s}.f_view AS SELECT id, v FROM {s}.f_ddl",
    )
    for table in ("w_pk", "w_comp", "w_nokey"):
        execute(source, f"ANALYZE TABLE {qualified(schema, table)}")  # chunk plans read the row estimates


class _Provoker:
    """Once the task streams, a DDL on f_ddl with a row after it (and for stream.rotate a binlog rotation) every
    PROVOKE_EVERY seconds: what the DDL and rotate points wait for."""

    def __init__(self, source: MariadbServer, schema: str, rotate: bool) -> None:
        self._source = source
        self._table = qualified(schema, "f_ddl")
        self._rotate = rotate
        self._done = 0
        self._last = 0.0

    def maybe(self, *, now: bool = False) -> None:
        if not now and time.monotonic() - self._last < PROVOKE_EVERY:
            return
        self._last = time.monotonic()
        self._done += 1
        n = self._done
        execute(
            self._source,
            f"ALTER TABLE {self._table} ADD COLUMN c{n} INT NOT NULL DEFAULT {n}",
            f"INSERT INTO {self._table} (id, v) VALUES ({1000 + n}, 'after ddl {n}')",
        )
        if self._rotate:
            execute(self._source, "FLUSH BINARY LOGS")


def _wait_for_crash(cluster: Cluster, job: str, armed: Worker, provoker: _Provoker) -> None:
    """Until the armed worker is dead; meanwhile, once the task streams, provoke DDL and rotations."""

    def dead() -> bool:
        if armed.process.poll() is not None:
            return True
        if my.status_of(cluster.api, job)["status"] == "INCRE_TRANSFER_STARTED":
            provoker.maybe()
        return False

    try:
        wait_for(dead, f"the worker to crash at {armed.crash_at}", CRASH_DEADLINE)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{cluster.logs()}") from None


@pytest.mark.parametrize(("point", "nth"), CRASH_POINTS, ids=[f"{point}-{nth}" for point, nth in CRASH_POINTS])
def test_worker_killed_at_a_crash_point_resumes_to_the_same_rows(
    cluster: Cluster, source: MariadbServer, target: MariadbServer, schema: str, point: str, nth: int
) -> None:
    api = cluster.api
    armed = cluster.start_worker(f"{point}:{nth}", wait=False)  # the only worker: it sets the task up, claims it
    _create_tables(source, schema)
    armed.wait_started()
    job = my.configure_task(api, source, target, "FULL_INCR_TRANS", [schema])
    provoker = _Provoker(source, schema, rotate=point == "stream.rotate")

    with my.StatusWatch(api, job) as watch, my.writing(source, schema, seeded_rows=SEEDED_ROWS, large_rows=300) as w:
        my.start(api, job)
        # Once the armed worker holds the task, a second one may start: it takes the task when the lease expires.
        wait_for(
            lambda: cluster.holder(job) is armed or armed.process.poll() is not None,
            "the armed worker's claim",
            CRASH_DEADLINE,
        )
        successor = cluster.start_worker(wait=False)
        _wait_for_crash(cluster, job, armed, provoker)
        assert armed.process.returncode == -signal.SIGKILL, armed.log()
        assert armed.crashed_at() == point, f"the worker died elsewhere:\n{armed.log()}"
        died_in = my.status_of(api, job)["status"]
        successor.wait_started()
        try:
            wait_for(lambda: cluster.holder(job) is successor, f"the new worker to take {job} over", TAKEOVER_DEADLINE)
            my.wait_status(api, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{cluster.logs()}") from None
        provoker.maybe(now=True)  # the successor applies a DDL too
        w.wait_for_transactions(40, "writes after the takeover")

    caught_up(api, job, source, target, schema)
    assert watch.error is None, watch.error
    assert not watch.failures(), watch.failures()
    print(f"{point}:{nth}: died in {died_in}; statuses {watch.statuses}")  # shown with -s


def test_a_worker_killed_as_it_copies_a_changed_table_again_leaves_it_to_be_copied_again_whole(
    cluster: Cluster, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """An ALTER on the source during the copy makes the copy take a new snapshot and copy the table again: a worker
    that dies once it dropped the table's old copy on the target, before the store forgot it, leaves the change
    for its successor to find again."""
    point = "copy.table_restart.dropped_unrecorded"
    api = cluster.api
    armed = cluster.start_worker(point, wait=False)
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.f_big (id INT NOT NULL PRIMARY KEY, pad CHAR(200))",
        f"INSERT INTO {s}.f_big SELECT seq, REPEAT('p', 200) FROM {s}.seq_1_to_15000",
        f"ANALYZE TABLE {s}.f_big",
    )
    armed.wait_started()
    job = my.configure_task(api, source, target, "FULL_INCR_TRANS", [schema])
    my.succeeded(my.limit_speed(api, [job], 1))  # 3 MB of rows: 3 s
    with my.StatusWatch(api, job) as watch:
        my.start(api, job)
        wait_for(lambda: my.copied_chunks(cluster.server, job), "a chunk of f_big", CRASH_DEADLINE)
        execute(source, f"ALTER TABLE {s}.f_big MODIFY pad CHAR(210)")  # a rebuild: the copy cannot read it on
        successor = cluster.start_worker(wait=False)
        wait_for(lambda: armed.process.poll() is not None, f"the worker to crash at {point}", CRASH_DEADLINE)
        assert armed.crashed_at() == point, f"the worker died elsewhere:\n{armed.log()}"
        successor.wait_started()
        my.wait_status(api, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
        my.wait_same_database(source, target, schema)
    assert not watch.failures(), watch.failures()
    # The task's event list says why the copy started again: a notice, not a failure (no error code).
    [notice, *_] = [log for log in my.detail_of(api, job)["logs"] if "during the full copy" in log["message"]]
    assert (notice["level"], notice["error_code"]) == ("warning", None), notice
    assert f"{schema}.f_big was changed on the source (DDL)" in notice["message"], notice

"""Which chunk a copy thread takes next. On a target whose innodb_autoinc_lock_mode is below 2 (MariaDB's default,
as on the test target), every LOAD DATA into a table with an AUTO_INCREMENT column holds that table's AUTO-INC
lock to its end: two threads on one such table load one after the other. So a thread that comes for work while
the other loads such a table takes another table's chunk, and both load at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.e2e import mysql_helpers as my
from tests.e2e.mysql_helpers import execute, quote, scalar
from tests.harness import Api, Server, create_tenant, serve
from tests.servers import MariadbServer

CHUNK_ROWS = 500
A_CHUNKS = 12  # a_counted's chunks; b_counted has 2


@pytest.fixture(scope="module")
def small_chunks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Api]]:
    """`opendrs serve` copying in chunks of CHUNK_ROWS rows."""
    data_dir: Path = tmp_path_factory.mktemp("e2e-small-chunks")
    with (
        serve(data_dir, OPENDRS_COPY_CHUNK_ROWS=str(CHUNK_ROWS)) as server,
        Api(server, create_tenant(server, "sched")) as api,
    ):
        yield server, api


def _chunks_in_done_order(server: Server, job: str) -> list[str]:
    engine = server.engine()
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT chunk_id FROM task_chunks WHERE task_id = :id ORDER BY done_at, chunk_id")
            return [str(chunk) for chunk in connection.scalars(query, {"id": job})]
    finally:
        engine.dispose()


def test_a_second_thread_loads_another_table_while_one_loads_an_auto_increment_table(
    small_chunks: tuple[Server, Api], source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    server, api = small_chunks
    assert scalar(target, "SELECT @@innodb_autoinc_lock_mode") == 1
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.a_counted (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, pad CHAR(100))",
        f"INSERT INTO {s}.a_counted SELECT seq, REPEAT('a', 100) FROM {s}.seq_1_to_{A_CHUNKS * CHUNK_ROWS}",
        f"CREATE TABLE {s}.b_counted (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, pad CHAR(100))",
        f"INSERT INTO {s}.b_counted SELECT seq, REPEAT('b', 100) FROM {s}.seq_1_to_{2 * CHUNK_ROWS}",
        f"ANALYZE TABLE {s}.a_counted, {s}.b_counted",  # the chunk plans read the row estimates
    )
    job = my.configure_task(api, source, target, "FULL_TRANS", [schema])
    my.start(api, job)
    my.wait_status(api, job, "FULL_TRANSFER_COMPLETE", my.COPY_DEADLINE)

    order = _chunks_in_done_order(server, job)
    a_chunks = [chunk for chunk in order if ".a_counted#" in chunk]
    assert len(a_chunks) >= A_CHUNKS - 1 and f"{schema}.b_counted#0" in order, order  # plans follow row estimates
    # The bigger table comes first. Were both threads on it, b_counted#0 would be taken after a_counted's last chunk,
    # by a thread that has just finished one while the other holds at most one: the plan's chunks but one would be
    # done before it. Here the second thread takes b_counted#0 as soon as it comes for work. The bound leaves it room
    # to come late: a busy machine (CI) may start it only after its twin has loaded a few small chunks.
    before_b = order[: order.index(f"{schema}.b_counted#0")]
    assert len([chunk for chunk in before_b if chunk in a_chunks]) <= (A_CHUNKS - 2) // 2, order
    my.assert_same_database(source, target, schema)

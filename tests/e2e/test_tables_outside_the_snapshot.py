"""MyISAM and Aria tables are not in the consistent snapshot: a copy reads them as they are, changes made since the
snapshot included. Those changes, replayed by the catch-up from the snapshot's position, used to meet their own
rows on the target: a duplicate key failed the task."""

from __future__ import annotations

import threading

from tests.e2e import mysql_helpers as my
from tests.e2e.mysql_helpers import execute, quote, scalar
from tests.harness import Api, wait_for
from tests.servers import MariadbServer

TABLES = ("aria", "myisam")


def _write(source: MariadbServer, schema: str, stop: threading.Event) -> None:
    """Inserts, updates and deletes on both tables, one after another, until `stop`."""
    connection = my.connect(source, schema)
    n = 0
    try:
        with connection.cursor() as cursor:
            while not stop.is_set():
                n += 1
                for table in TABLES:
                    cursor.execute(f"INSERT INTO {table} (v) VALUES (%s)", (n,))
                    cursor.execute(f"UPDATE {table} SET v = v + 1 WHERE id = %s", (n // 2 + 1,))
                    if n % 3 == 0:
                        cursor.execute(f"DELETE FROM {table} WHERE id = %s", (n // 3,))
    finally:
        connection.close()


def test_tables_outside_the_snapshot_written_during_the_copy_end_equal(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    execute(
        source,
        "SET SESSION max_recursive_iterations = 1000000",
        f"CREATE TABLE {s}.big (id INT PRIMARY KEY, pad CHAR(200)) ENGINE=InnoDB",  # copied first: the biggest
        f"INSERT INTO {s}.big WITH RECURSIVE n AS (SELECT 1 AS i UNION ALL SELECT i + 1 FROM n WHERE i < 150000)"
        " SELECT i, REPEAT('p', 200) FROM n",
        f"CREATE TABLE {s}.aria (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=Aria",
        f"CREATE TABLE {s}.myisam (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=MyISAM",
    )
    job = my.configure_task(drs, source, target, "FULL_INCR_TRANS", [schema])
    stop = threading.Event()
    writer = threading.Thread(target=_write, args=(source, schema, stop))
    writer.start()
    try:
        wait_for(lambda: scalar(source, f"SELECT COUNT(*) FROM {s}.aria") >= 50, "writes before the start")
        my.start(drs, job)
        my.wait_status(drs, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
        written = scalar(source, f"SELECT MAX(id) FROM {s}.aria")
        wait_for(lambda: scalar(source, f"SELECT MAX(id) FROM {s}.aria") > written + 50, "writes while replicating")
    finally:
        stop.set()
        writer.join()

    my.wait_same_database(source, target, schema)
    assert my.status_of(drs, job)["status"] == "INCRE_TRANSFER_STARTED"

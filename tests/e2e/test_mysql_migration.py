"""MariaDB -> MariaDB through the DRS API, end to end: `opendrs serve` moves real data between real servers, and
every test ends by comparing the target with the source row for row (an MD5 of every column of every row)."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator

import pymysql
import pytest

from opendrs.connectors.mysql import streaming
from opendrs.domain.replication import BinlogPosition, position_key, xa_id
from opendrs.store import checkpoints
from tests.e2e import mysql_helpers as my
from tests.e2e.mysql_helpers import execute, qualified, query, quote, scalar
from tests.harness import Api, Server, wait_for
from tests.servers import MariadbServer

# Secondary indexes of the full-copy test's tables, as SHOW CREATE TABLE prints them on the target.
FULL_COPY_TABLES = {
    "types": (
        "CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, txt VARCHAR(100) CHARACTER SET utf8mb4, bin BLOB,"
        " amount DECIMAL(30,10), at DATETIME(6), doc JSON, ratio DOUBLE, big BIGINT UNSIGNED, day DATE,"
        " span TIME(3), kind ENUM('a','b','c'), flags BIT(10), KEY at (at), KEY txt (txt(20)),"
        " KEY kind_day (kind, day)) DEFAULT CHARSET=utf8mb4",
        ["KEY `at` (`at`)", "KEY `txt` (`txt`(20))", "KEY `kind_day` (`kind`,`day`)"],
    ),
    "composite": (
        "CREATE TABLE {t} (tenant INT NOT NULL, code VARCHAR(20) NOT NULL, qty INT, note VARCHAR(50),"
        " PRIMARY KEY (tenant, code), KEY qty (qty))",
        ["PRIMARY KEY (`tenant`,`code`)", "KEY `qty` (`qty`)"],
    ),
    "unique_only": (
        "CREATE TABLE {t} (email VARCHAR(100) NOT NULL, name VARCHAR(50), score INT,"
        " UNIQUE KEY email (email), KEY score (score))",
        ["UNIQUE KEY `email` (`email`)", "KEY `score` (`score`)"],
    ),
    "no_key": ("CREATE TABLE {t} (grp INT, v VARCHAR(20), amount DECIMAL(10,2))", []),
    "empty": ("CREATE TABLE {t} (id INT NOT NULL PRIMARY KEY, v VARCHAR(10), KEY v (v))", ["KEY `v` (`v`)"]),
}


def _fill_full_copy_tables(source: MariadbServer, schema: str) -> None:
    s = quote(schema)
    execute(source, *(ddl.format(t=qualified(schema, name)) for name, (ddl, _) in FULL_COPY_TABLES.items()))
    every_byte = bytes(range(256))
    connection = my.connect(source)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {s}.types VALUES (1, %s, %s, '12345678901234567890.0123456789',"
                " '2024-02-29 23:59:59.999999', %s, 1.5e300, 18446744073709551615, '1000-01-01', '-838:59:59.000',"
                " 'c', b'1010101010')",
                ("emoji 😀🎉 — 你好 ñ \\ ' \" \t end", every_byte, '{"a": [1, 2, {"b": null}], "emoji": "😀"}'),
            )
            cursor.execute(f"INSERT INTO {s}.types (id) VALUES (2)")  # every other column NULL
            cursor.execute(
                f"INSERT INTO {s}.types VALUES (3, '', %s, -0.0000000001, '1970-01-01 00:00:01.000001', '[]', -0.0,"
                " 0, '9999-12-31', '838:59:59.999', 'a', b'0')",
                (bytes(reversed(every_byte)) * 4,),
            )
    finally:
        connection.close()
    execute(
        source,
        f"INSERT INTO {s}.types SELECT seq, CONCAT('row ', seq, ' 🚀'), UNHEX(CONCAT(SHA2(seq, 256), '00FF')),"
        " seq * 1.0000000001 - 500,"
        " TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq * 37 SECOND + INTERVAL seq MICROSECOND,"
        " JSON_OBJECT('n', seq, 's', CONCAT('x', seq)), seq / 3, seq * 1000003, DATE'2000-01-01' + INTERVAL seq DAY,"
        f" SEC_TO_TIME(seq), ELT(1 + seq % 3, 'a', 'b', 'c'), seq % 1024 FROM {s}.seq_4_to_3000",
        f"INSERT INTO {s}.composite SELECT seq % 7, CONCAT('code-', seq), seq % 50, IF(seq % 5 = 0, NULL, 'n')"
        f" FROM {s}.seq_1_to_3000",
        f"INSERT INTO {s}.unique_only SELECT CONCAT('user', seq, '@example.org'), CONCAT('name ', seq % 40),"
        f" IF(seq % 4 = 0, NULL, seq % 100) FROM {s}.seq_1_to_1500",
        f"INSERT INTO {s}.no_key SELECT seq % 100, CONCAT('v', seq % 37), seq % 100 / 4 FROM {s}.seq_1_to_1000",
        f"INSERT INTO {s}.no_key SELECT grp, v, amount FROM {s}.no_key WHERE grp < 10",  # more duplicates
    )


def test_full_transfer_copies_every_table_row_for_row(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    _fill_full_copy_tables(source, schema)
    assert scalar(source, f"SELECT COUNT(*) - COUNT(DISTINCT grp, v, amount) FROM {quote(schema)}.no_key") > 0
    job = my.configure_task(drs, source, target, "FULL_TRANS", [schema])
    my.start(drs, job)

    my.wait_status(drs, job, "FULL_TRANSFER_COMPLETE", my.COPY_DEADLINE)

    left = my.meta_rows(target, job)  # other tests' tasks may have made the other tables of the schema
    assert "fences" in left and set(left.values()) == {0}, f"the copy left rows in opendrs_meta: {left}"
    progress = my.progress_of(drs, job)
    assert progress["progress"] == "100", progress
    completed = {phase: info["completed"] for phase, info in progress.get("progress_map", {}).items()}
    assert completed == {"struct": "100%", "data": "100%", "index": "100%"}, progress
    my.assert_same_database(source, target, schema)
    for name, (_, keys) in FULL_COPY_TABLES.items():
        created = str(query(target, f"SHOW CREATE TABLE {qualified(schema, name)}")[0][1])
        for key in keys:
            assert key in created, f"{name} on the target lacks {key}:\n{created}"
    detail = my.detail_of(drs, job)
    assert detail["full_transfer_complete_time"] not in ("0", "", None), detail
    assert int(detail["full_transfer_complete_time"]) >= int(detail["actual_start_time"]) > 0, detail
    # Per-table counts: every table listed once, copied in full, with its structure, data and indexes done.
    copied = {entry["source"]: entry for entry in detail["table_progress"]}
    assert set(copied) == {f"{schema}.{name}" for name in FULL_COPY_TABLES}, detail["table_progress"]
    for name, entry in copied.items():
        rows = int(query(source, f"SELECT COUNT(*) FROM {qualified(*name.split('.', 1))}")[0][0])
        assert entry["rows_copied"] == rows, entry
        assert entry["target"] == name and entry["structure_done"] and entry["data_done"] and entry["index_done"], entry
    # A full-only task is finished: later source changes stay on the source.
    before = my.fingerprint(target, schema)
    execute(source, f"INSERT INTO {quote(schema)}.empty VALUES (1, 'late')")
    my.assert_stays(
        lambda: (
            my.status_of(drs, job)["status"] == "FULL_TRANSFER_COMPLETE" and my.fingerprint(target, schema) == before
        ),
        "a finished full-only task to stay as it is",
        1.5,
    )


INCREMENTAL_TABLES = (
    "CREATE TABLE {s}.accounts (id INT NOT NULL PRIMARY KEY, owner VARCHAR(40), balance DECIMAL(12,2), doc JSON,"
    " KEY owner (owner)) DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE {s}.lines (order_id INT NOT NULL, line INT NOT NULL, sku VARCHAR(20), qty INT,"
    " PRIMARY KEY (order_id, line))",
    "CREATE TABLE {s}.events (kind VARCHAR(20), payload VARBINARY(64))",
    "CREATE TABLE {s}.bulk (id INT NOT NULL PRIMARY KEY, v VARCHAR(60))",
    "INSERT INTO {s}.accounts VALUES (1, 'ann', 10.5, '{{}}'), (2, 'bob', -3, NULL), (3, 'cyd 😀', 0, '[1]')",
    "INSERT INTO {s}.lines VALUES (1, 1, 'a', 1), (1, 2, 'b', 2), (2, 1, 'c', 3)",
    "INSERT INTO {s}.events VALUES ('seed', 0x00), ('seed', 0x00), ('seed', NULL)",
)


def test_stored_procedures_and_functions_are_migrated_in_the_sql_mode_they_were_defined_in(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.t (id INT PRIMARY KEY, v VARCHAR(40))",
        "SET sql_mode = 'PIPES_AS_CONCAT'",  # || concatenates in this function; elsewhere it is OR
        f"CREATE FUNCTION {s}.greet(who VARCHAR(20)) RETURNS VARCHAR(40) DETERMINISTIC RETURN '¡hola ' || who",
        "SET sql_mode = DEFAULT",
        f"CREATE PROCEDURE {s}.add_row(IN n INT) MODIFIES SQL DATA INSERT INTO t VALUES (n, greet(CONCAT('n', n)))",
    )
    job = my.configure_task(drs, source, target, "FULL_TRANS", [schema])
    my.start(drs, job)
    my.wait_status(drs, job, "FULL_TRANSFER_COMPLETE", my.COPY_DEADLINE)

    routines = (
        "SELECT ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION, SQL_MODE, IS_DETERMINISTIC, SQL_DATA_ACCESS"
        " FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s ORDER BY ROUTINE_NAME"
    )
    assert [row[0] for row in query(target, routines, (schema,))] == ["add_row", "greet"]
    assert query(target, routines, (schema,)) == query(source, routines, (schema,))
    execute(target, f"CALL {s}.add_row(7)")  # the body's names are the routine's database's, on the target
    assert query(target, f"SELECT id, v FROM {s}.t") == [(7, "¡hola n7")]


def test_a_full_only_migration_creates_triggers_and_events_at_the_end_of_its_copy(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """After the rows (a trigger there before would have fired on them), each in its sql_mode and without its
    definer; an enabled event DISABLE ON SLAVE, so that it does not run on both servers."""
    s = quote(schema)
    execute(
        source,
        "CREATE USER IF NOT EXISTS 'only_on_source'@'%'",
        f"GRANT ALL ON {s}.* TO 'only_on_source'@'%'",  # the trigger runs with its definer's privileges
        f"CREATE TABLE {s}.t (id INT PRIMARY KEY, v VARCHAR(40), n INT NOT NULL DEFAULT 0)",
        f"CREATE TABLE {s}.audit (v VARCHAR(40))",
        f"INSERT INTO {s}.t (id, v) VALUES (1, 'one')",
        "SET sql_mode = 'PIPES_AS_CONCAT'",  # || concatenates in this trigger; elsewhere it is OR
        f"CREATE DEFINER='only_on_source'@'%' TRIGGER {s}.t_log AFTER INSERT ON {s}.t FOR EACH ROW"
        f" INSERT INTO {s}.audit VALUES ('new ' || NEW.v)",
        "SET sql_mode = DEFAULT",
        f"CREATE TRIGGER {s}.t_bump BEFORE UPDATE ON {s}.t FOR EACH ROW SET NEW.n = OLD.n + 1",
        f"INSERT INTO {s}.t (id, v) VALUES (2, 'two')",  # the source's trigger logs it: the copy copies the log
        f"CREATE EVENT {s}.nightly ON SCHEDULE EVERY 1 DAY DO DELETE FROM {s}.audit",  # warns: the scheduler is off
        f"CREATE EVENT {s}.paused ON SCHEDULE EVERY 1 HOUR DISABLE DO DELETE FROM {s}.audit",
    )
    job = my.configure_task(drs, source, target, "FULL_TRANS", [schema])
    my.start(drs, job)
    my.wait_status(drs, job, "FULL_TRANSFER_COMPLETE", my.COPY_DEADLINE)

    my.wait_same_database(source, target, schema)  # the copy fired no trigger: audit holds the source's one row
    triggers = (
        "SELECT TRIGGER_NAME, EVENT_MANIPULATION, ACTION_TIMING, ACTION_STATEMENT, SQL_MODE, DEFINER"
        " FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s ORDER BY TRIGGER_NAME"
    )
    on_source = query(source, triggers, (schema,))
    assert [row[0] for row in on_source] == ["t_bump", "t_log"]
    assert query(target, triggers, (schema,)) == [(*row[:-1], "root@localhost") for row in on_source]
    execute(target, f"INSERT INTO {s}.t (id, v) VALUES (3, 'three')", f"UPDATE {s}.t SET v = 'uno' WHERE id = 1")
    assert query(target, f"SELECT v FROM {s}.audit ORDER BY v") == [("new three",), ("new two",)]
    assert query(target, f"SELECT n FROM {s}.t WHERE id = 1") == [(1,)]

    events = (
        "SELECT EVENT_NAME, EVENT_DEFINITION, INTERVAL_VALUE, INTERVAL_FIELD, STATUS FROM information_schema.EVENTS"
        " WHERE EVENT_SCHEMA = %s ORDER BY EVENT_NAME"
    )
    assert query(source, events, (schema,)) == [
        ("nightly", f"DELETE FROM {s}.audit", "1", "DAY", "ENABLED"),
        ("paused", f"DELETE FROM {s}.audit", "1", "HOUR", "DISABLED"),
    ]
    assert query(target, events, (schema,)) == [
        ("nightly", f"DELETE FROM {s}.audit", "1", "DAY", "SLAVESIDE_DISABLED"),
        ("paused", f"DELETE FROM {s}.audit", "1", "HOUR", "DISABLED"),
    ]


TRIGGERS = (
    "SELECT TRIGGER_NAME, EVENT_MANIPULATION, ACTION_TIMING, ACTION_STATEMENT, SQL_MODE"
    " FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s ORDER BY TRIGGER_NAME"
)


def _source_with_a_trigger_and_an_event(source: MariadbServer, schema: str) -> None:
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.t (id INT PRIMARY KEY, v VARCHAR(40))",
        f"CREATE TABLE {s}.audit (v VARCHAR(40))",
        f"CREATE TRIGGER {s}.t_log AFTER INSERT ON {s}.t FOR EACH ROW INSERT INTO {s}.audit VALUES (NEW.v)",
        f"INSERT INTO {s}.t VALUES (1, 'one')",
        f"CREATE EVENT {s}.nightly ON SCHEDULE EVERY 1 DAY DO DELETE FROM {s}.audit",  # warns: the scheduler is off
    )


def test_terminating_a_synchronisation_creates_its_triggers_and_events_on_the_target(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """While the task replicates, the target has no trigger (it would log each replicated row a second time); once
    it is stopped with terminate, the source's triggers and events are created there, the events disabled."""
    s = quote(schema)
    _source_with_a_trigger_and_an_event(source, schema)
    job = my.replicating_task(drs, source, target, [schema])
    execute(source, f"INSERT INTO {s}.t VALUES (2, 'two')")
    my.wait_same_database(source, target, schema)  # audit holds the rows the source's trigger wrote, once each
    assert query(target, TRIGGERS, (schema,)) == []

    operation = my.terminate(drs, job)
    my.wait_status(drs, job, "RELEASE_RESOURCE_COMPLETE")
    assert drs.wait_operation(operation)["status"] == "SUCCESS"
    assert query(target, TRIGGERS, (schema,)) == query(source, TRIGGERS, (schema,))
    events = "SELECT EVENT_NAME, STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s"
    assert query(target, events, (schema,)) == [("nightly", "SLAVESIDE_DISABLED")]
    execute(target, f"INSERT INTO {s}.t VALUES (3, 'three')")
    assert query(target, f"SELECT v FROM {s}.audit ORDER BY v") == [("one",), ("three",), ("two",)]


def test_triggers_that_cannot_be_created_fail_the_stop_clearly_and_force_terminate_stops_without_them(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    _source_with_a_trigger_and_an_event(source, schema)
    job = my.replicating_task(drs, source, target, [schema])
    execute(target, f"DROP TABLE {s}.t")  # behind the task's back: the trigger has no table to go on

    my.terminate(drs, job)
    my.wait_status(drs, job, "RELEASE_RESOURCE_FAILED")
    failed = my.status_of(drs, job)
    assert failed["error_code"] == "DRS.M05202", failed
    assert "the triggers and events could not be created" in failed["error_message"], failed
    assert "terminate again to retry, or force_terminate to stop without them" in failed["error_message"], failed

    response = drs.delete(f"{my.JOBS}/batch-jobs", {"jobs": [{"job_id": job, "delete_type": "force_terminate"}]})
    my.succeeded(response, 202)
    my.wait_status(drs, job, "RELEASE_RESOURCE_COMPLETE")
    assert query(target, TRIGGERS, (schema,)) == []


def test_a_stop_held_up_by_a_transaction_on_the_target_fails_saying_so_and_terminate_again_finishes_it(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """A trigger waits for its table's metadata lock, which an open transaction using the table holds: the stop
    waits a bounded time (10 s), then fails naming the trigger and the way out, instead of hanging."""
    s = quote(schema)
    _source_with_a_trigger_and_an_event(source, schema)
    job = my.replicating_task(drs, source, target, [schema])
    my.wait_same_database(source, target, schema)
    holder = my.connect(target)
    try:
        with holder.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f"SELECT COUNT(*) FROM {s}.t")  # the transaction holds t's metadata lock until it ends
        my.terminate(drs, job)
        failed = my.wait_status(drs, job, "RELEASE_RESOURCE_FAILED", deadline=60)
        assert failed["error_code"] == "DRS.M05202", failed
        message = failed["error_message"]
        assert f"the trigger t_log on {schema}.t could not be created" in message, failed
        assert "kept a transaction open" in message and "terminate again" in message, failed
    finally:
        holder.close()
    operation = my.terminate(drs, job)
    my.wait_status(drs, job, "RELEASE_RESOURCE_COMPLETE")
    assert drs.wait_operation(operation)["status"] == "SUCCESS"
    assert query(target, TRIGGERS, (schema,)) == query(source, TRIGGERS, (schema,))


def test_incremental_only_applies_every_kind_of_change(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    # The target starts as a copy of the source, made by hand (an incremental-only task copies nothing).
    execute(source, *(statement.format(s=s) for statement in INCREMENTAL_TABLES))
    execute(target, f"CREATE DATABASE {s} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    execute(target, *(statement.format(s=s) for statement in INCREMENTAL_TABLES))
    job = my.configure_task(drs, source, target, "INCR_TRANS", [schema])
    my.start(drs, job)
    my.wait_status(drs, job, "INCRE_TRANSFER_STARTED")

    execute(
        source,
        f"INSERT INTO {s}.accounts SELECT seq, CONCAT('owner', seq), seq / 4, JSON_OBJECT('k', seq)"
        f" FROM {s}.seq_10_to_500",
        f"INSERT INTO {s}.lines SELECT seq % 50, seq, CONCAT('sku', seq), seq % 9 FROM {s}.seq_3_to_400",
        f"INSERT INTO {s}.events VALUES ('ins', 0x01), ('ins', 0x01), ('ins', 0x01)",
        # Updates that change primary keys: a shift into free keys, a shift onto keys the statement frees in order,
        # and a composite key change.
        f"UPDATE {s}.accounts SET id = id + 10000, owner = 'moved' WHERE id BETWEEN 10 AND 60",
        f"UPDATE {s}.accounts SET id = id + 1 ORDER BY id DESC",
        f"UPDATE {s}.lines SET line = line + 1000 WHERE order_id = 7",
        f"UPDATE {s}.accounts SET balance = balance * 2, doc = JSON_SET(doc, '$.u', 1) WHERE id % 3 = 0",
        f"UPDATE {s}.events SET payload = 0x02 WHERE kind = 'ins' LIMIT 1",
        f"DELETE FROM {s}.accounts WHERE id % 10 = 5",
        f"DELETE FROM {s}.lines WHERE qty = 0",
        f"DELETE FROM {s}.events WHERE kind = 'seed' LIMIT 1",
        # One transaction of several statements over several tables.
        "BEGIN",
        f"INSERT INTO {s}.accounts VALUES (900001, 'tx', 1, NULL)",
        f"UPDATE {s}.accounts SET id = 900002 WHERE id = 900001",
        f"INSERT INTO {s}.lines VALUES (900, 1, 'tx', 1)",
        f"DELETE FROM {s}.lines WHERE order_id = 1",
        f"INSERT INTO {s}.events VALUES ('tx', 0xFF), ('tx', 0xFF)",
        "COMMIT",
        # A rolled back one.
        "BEGIN",
        f"DELETE FROM {s}.accounts",
        f"INSERT INTO {s}.events VALUES ('rolled back', NULL)",
        "ROLLBACK",
        # A large one: 60,000 inserted rows, then updates and deletes of some of them. Past spill.SPILL_ROWS, its
        # later rows go to the target as the binlog has them (replay.py).
        "BEGIN",
        f"INSERT INTO {s}.bulk SELECT seq, CONCAT('bulk-', seq, '-', REPEAT('x', 30)) FROM {s}.seq_1_to_60000",
        f"UPDATE {s}.bulk SET v = CONCAT(v, '!') WHERE id % 3 = 0",
        f"DELETE FROM {s}.bulk WHERE id % 7 = 0",
        "COMMIT",
    )

    my.wait_same_database(source, target, schema)
    assert scalar(target, f"SELECT COUNT(*) FROM {s}.bulk") == 60000 - 60000 // 7
    assert scalar(target, f"SELECT COUNT(*) FROM {s}.events WHERE kind = 'ins'") == 3

    def caught_up() -> str | None:
        progress = my.progress_of(drs, job)
        delay = progress["incre_trans_delay"]
        assert delay.isdigit() and int(delay) >= 0, progress  # a number of seconds, never -1 while incremental
        assert int(progress["incre_trans_delay_millis"]) >= 0, progress
        return delay if delay in ("0", "1") else None

    wait_for(caught_up, "the incremental delay of an idle task to fall to 0 or 1 s")


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_full_and_incremental_with_writes_during_every_phase(
    store: str, request: pytest.FixtureRequest, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    api: Api = request.getfixturevalue("drs" if store == "sqlite" else "drs_postgresql")
    rows = 120_000  # more than one chunk of 100,000 rows
    my.Writer.create_tables(source, schema, pk_rows=rows)
    execute(source, f"ANALYZE TABLE {qualified(schema, 'w_pk')}")  # the chunk plan reads the table's row estimate
    job = my.configure_task(api, source, target, "FULL_INCR_TRANS", [schema])

    with my.StatusWatch(api, job) as watch, my.writing(source, schema, seeded_rows=rows, xa=True) as writer:
        writer.wait_for_transactions(20, "writes before the start")
        my.start(api, job)
        written_at_start = writer.transactions
        my.wait_status(api, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
        written_in_full = writer.transactions - written_at_start
        writer.wait_for_transactions(150, "writes during the incremental phase")
        assert writer.large_transactions > 0

    my.wait_same_database(source, target, schema)

    def incremental_progress() -> dict[str, str] | None:
        progress = my.progress_of(api, job)
        if progress["incre_trans_delay"] == "-1":
            return None  # no incremental report yet
        return {phase: info["completed"] for phase, info in progress.get("progress_map", {}).items()}

    # While incremental, the finished full phases still show as done.
    completed = wait_for(incremental_progress, "an incremental progress report")
    assert completed == {"struct": "100%", "data": "100%", "index": "100%"}, completed
    chunks = [chunk for chunk in my.copied_chunks(api.server, job) if f"{schema}.w_pk#" in chunk]
    assert len(chunks) >= 2, f"w_pk was copied in {chunks}: one chunk tests no chunk boundary"
    assert watch.error is None, watch.error
    assert "FULL_TRANSFER_STARTED" in watch.statuses, watch.statuses
    assert not watch.failures(), watch.failures()
    assert written_in_full > 0, "the writer wrote nothing during the full transfer"
    duplicates = f"SELECT grp, v, COUNT(*) FROM {quote(schema)}.w_nokey GROUP BY grp, v ORDER BY grp, v"
    assert query(target, duplicates) == query(source, duplicates)


def test_ddl_during_incremental_is_replicated(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.base (id INT NOT NULL PRIMARY KEY, v VARCHAR(20))",
        f"CREATE TABLE {s}.to_truncate (id INT NOT NULL PRIMARY KEY, v VARCHAR(20))",
        f"CREATE TABLE {s}.to_drop (id INT NOT NULL PRIMARY KEY)",
        f"INSERT INTO {s}.base SELECT seq, CONCAT('b', seq) FROM {s}.seq_1_to_200",
        f"INSERT INTO {s}.to_truncate SELECT seq, 't' FROM {s}.seq_1_to_100",
        f"INSERT INTO {s}.to_drop SELECT seq FROM {s}.seq_1_to_10",
    )
    job = my.replicating_task(drs, source, target, [schema])
    my.wait_same_database(source, target, schema)

    execute(
        source,
        f"CREATE TABLE {s}.created (id INT NOT NULL PRIMARY KEY, name VARCHAR(20)) DEFAULT CHARSET=utf8mb4",
        f"INSERT INTO {s}.created VALUES (1, 'one'), (2, 'two')",
        f"ALTER TABLE {s}.base ADD COLUMN extra VARCHAR(30) NOT NULL DEFAULT 'dflt', ADD KEY extra (extra)",
        f"INSERT INTO {s}.base (id, v, extra) VALUES (1001, 'new', 'explicit')",
        f"UPDATE {s}.base SET extra = 'changed' WHERE id <= 10",
        f"RENAME TABLE {s}.created TO {s}.renamed",
        f"INSERT INTO {s}.renamed VALUES (3, 'three')",
        f"UPDATE {s}.renamed SET name = 'uno' WHERE id = 1",
        f"TRUNCATE TABLE {s}.to_truncate",
        f"INSERT INTO {s}.to_truncate VALUES (1000, 'after truncate')",
        f"DROP TABLE {s}.to_drop",
    )

    my.wait_same_database(source, target, schema)
    assert my.tables(target, schema) == ["base", "renamed", "to_truncate"]
    assert [column[0] for column in my.columns(target, schema, "base")] == ["id", "v", "extra"]
    assert query(target, f"SELECT id, extra FROM {s}.base WHERE id IN (1, 11, 1001) ORDER BY id") == [
        (1, "changed"),
        (11, "dflt"),
        (1001, "explicit"),
    ]
    assert query(target, f"SELECT * FROM {s}.to_truncate") == [(1000, "after truncate")]
    assert my.status_of(drs, job)["status"] == "INCRE_TRANSFER_STARTED"


def test_ddl_during_incremental_runs_in_the_settings_of_the_source_session(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """A DDL statement means what the source session made it mean: its character set, sql_mode, time zone and start
    time (the rows an ALTER fills with CURRENT_TIMESTAMP hold the source's time, not the replay's)."""
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.t (id INT PRIMARY KEY, v VARCHAR(20)) DEFAULT CHARSET=latin1",
        f"INSERT INTO {s}.t SELECT seq, CONCAT('value-', seq) FROM {s}.seq_1_to_100",
    )
    job = my.replicating_task(drs, source, target, [schema])

    latin1 = pymysql.connect(host=source.host, port=source.port, user=source.user, charset="latin1", autocommit=True)
    with latin1, latin1.cursor() as cursor:  # the statement's bytes are latin1, as such a client sends them
        cursor.execute(f"ALTER TABLE {s}.t ADD COLUMN note VARCHAR(20) DEFAULT 'café' COMMENT 'naïve €'")
    execute(
        source,
        "SET time_zone = '+05:00'",
        f"ALTER TABLE {s}.t ADD COLUMN added TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
        " ADD COLUMN local DATETIME(6) NOT NULL DEFAULT NOW(6),"
        " ADD COLUMN fixed TIMESTAMP NULL DEFAULT '2020-01-01 00:00:00'",
        "SET sql_mode = ''",
        f"ALTER TABLE {s}.t MODIFY v VARCHAR(5)",  # cuts 'value-1' where the target's strict mode would refuse
        "SET sql_mode = 'ANSI_QUOTES'",
        f"""CREATE TABLE "{schema}"."quoted" (id INT PRIMARY KEY, "v" VARCHAR(5) DEFAULT 'x')""",
        f'INSERT INTO "{schema}"."quoted" (id) VALUES (1)',
    )

    my.wait_same_database(source, target, schema)
    definitions = (
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_DEFAULT, COLUMN_COMMENT FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION"
    )
    assert query(target, definitions, (schema,)) == query(source, definitions, (schema,))
    assert query(target, f"SELECT note, v FROM {s}.t WHERE id = 1") == [("café", "value")]
    assert my.status_of(drs, job)["status"] == "INCRE_TRANSFER_STARTED"


def test_database_ddl_during_incremental_is_replicated(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """A selected database dropped and created again, and its default character set changed (which the tables
    created after take)."""
    s = quote(schema)
    execute(source, f"CREATE TABLE {s}.old (id INT PRIMARY KEY)", f"INSERT INTO {s}.old VALUES (1)")
    job = my.replicating_task(drs, source, target, [schema])

    execute(
        source,
        f"DROP DATABASE {s}",
        f"CREATE DATABASE {s} CHARACTER SET latin1",
        f"CREATE TABLE {s}.new (id INT PRIMARY KEY, v VARCHAR(10))",
        f"INSERT INTO {s}.new VALUES (1, 'é')",
        f"ALTER DATABASE {s} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        f"CREATE TABLE {s}.newer (v VARCHAR(10))",
        f"INSERT INTO {s}.newer VALUES ('😀')",
    )

    my.wait_same_database(source, target, schema)
    assert my.tables(target, schema) == ["new", "newer"]
    defaults = "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA"
    assert query(target, f"{defaults} WHERE SCHEMA_NAME = %s", (schema,)) == [("utf8mb4", "utf8mb4_bin")]
    assert my.status_of(drs, job)["status"] == "INCRE_TRANSFER_STARTED"


def test_view_and_routine_ddl_during_incremental_is_replicated(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """Views and stored routines of a database selected whole, created, replaced, altered and dropped on the source
    during incremental sync: the target follows, each definition in the source session's sql_mode and without the
    source's definer (an account the target does not have)."""
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.t (id INT PRIMARY KEY, v VARCHAR(40))",
        f"INSERT INTO {s}.t VALUES (1, 'one'), (2, 'two')",
        f"CREATE VIEW {s}.v_gone AS SELECT id FROM {s}.t",
        f"CREATE VIEW {s}.v_kept AS SELECT id FROM {s}.t",
        f"CREATE PROCEDURE {s}.p_gone() SELECT 1",
        "CREATE USER IF NOT EXISTS 'only_on_source'@'%'",
    )
    job = my.replicating_task(drs, source, target, [schema])

    execute(
        source,
        f"CREATE DEFINER='only_on_source'@'%' SQL SECURITY INVOKER VIEW {s}.v_new AS SELECT v FROM {s}.t WHERE id > 1",
        f"CREATE OR REPLACE VIEW {s}.v_kept AS SELECT id, v FROM {s}.t",
        f"ALTER VIEW {s}.v_new AS SELECT v, id FROM {s}.t",
        f"DROP VIEW {s}.v_gone",
        "SET sql_mode = 'PIPES_AS_CONCAT'",  # || concatenates in this function; elsewhere it is OR
        f"CREATE DEFINER=`only_on_source`@`%` FUNCTION {s}.tag(x VARCHAR(20)) RETURNS VARCHAR(30) DETERMINISTIC"
        " RETURN 'tag-' || x",
        "SET sql_mode = DEFAULT",
        f"USE {s}",
        "CREATE PROCEDURE tag_all() MODIFIES SQL DATA UPDATE t SET v = tag(v)",
        f"ALTER FUNCTION {s}.tag COMMENT 'tags a value'",
        f"DROP PROCEDURE {s}.p_gone",
        f"INSERT INTO {s}.t VALUES (3, 'three')",
    )
    wait_for(lambda: scalar(target, f"SELECT COUNT(*) FROM {s}.t") == 3, "the insert after the DDL on the target")

    views = (
        "SELECT TABLE_NAME, VIEW_DEFINITION, SECURITY_TYPE FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s"
        " ORDER BY TABLE_NAME"
    )
    assert [row[0] for row in query(target, views, (schema,))] == ["v_kept", "v_new"]
    assert query(target, views, (schema,)) == query(source, views, (schema,))
    routines = (
        "SELECT ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION, SQL_MODE, ROUTINE_COMMENT, IS_DETERMINISTIC"
        " FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s ORDER BY ROUTINE_NAME"
    )
    assert [row[0] for row in query(target, routines, (schema,))] == ["tag", "tag_all"]
    assert query(target, routines, (schema,)) == query(source, routines, (schema,))
    definers = (
        "SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s"
        " UNION SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s"
    )
    assert query(target, definers, (schema, schema)) == [("root@localhost",)]  # the account that replays them
    execute(target, f"CALL {s}.tag_all()")  # the target can run what it was given
    assert query(target, f"SELECT v, id FROM {s}.v_new ORDER BY id") == [
        ("tag-one", 1),
        ("tag-two", 2),
        ("tag-three", 3),
    ]
    assert my.status_of(drs, job)["status"] == "INCRE_TRANSFER_STARTED"


def test_sequences_are_copied_in_their_state_and_followed_during_incremental(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """MariaDB sequences: the full copy creates them (before the tables whose DEFAULT draws on them) in the state
    the source had; during incremental sync NEXTVAL, SETVAL and sequence DDL reach the target, whose next values
    then follow those the source handed out."""
    s = quote(schema)
    execute(
        source,
        f"CREATE SEQUENCE {s}.ids START WITH 100 INCREMENT BY 5 CACHE 10",
        f"CREATE TABLE {s}.orders (id BIGINT NOT NULL DEFAULT NEXTVAL({s}.ids) PRIMARY KEY, v VARCHAR(10))",
        f"INSERT INTO {s}.orders (v) VALUES ('a'), ('b'), ('c')",
        f"CREATE SEQUENCE {s}.gone",
    )
    job = my.replicating_task(drs, source, target, [schema])
    state = "SELECT * FROM {}"
    assert query(target, state.format(f"{s}.ids")) == query(source, state.format(f"{s}.ids"))

    execute(
        source,
        f"INSERT INTO {s}.orders (v) VALUES ('d')",
        *(f"SELECT NEXTVAL({s}.ids)" for _ in range(12)),  # past the cache: the source writes a new state
        f"CREATE SEQUENCE {s}.fresh START WITH 7",
        f"SELECT NEXTVAL({s}.fresh)",
        f"SELECT SETVAL({s}.fresh, 1000)",
        f"ALTER SEQUENCE {s}.ids INCREMENT BY 10",
        f"DROP SEQUENCE {s}.gone",
        f"INSERT INTO {s}.orders (v) VALUES ('e')",
    )
    wait_for(lambda: scalar(target, f"SELECT COUNT(*) FROM {s}.orders") == 5, "the last insert on the target")

    my.wait_same_database(source, target, schema)
    sequences = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'SEQUENCE'"
    assert sorted(query(target, sequences, (schema,))) == [("fresh",), ("ids",)]
    for name in ("ids", "fresh"):
        assert query(target, state.format(f"{s}.{name}")) == query(source, state.format(f"{s}.{name}")), name
    # As on MariaDB's own replicas, the target goes on from the state's next_not_cached_value: past every value the
    # source handed out from its cache, so that none is handed out twice.
    [(next_fresh,)] = query(target, f"SELECT NEXTVAL({s}.fresh)")
    assert next_fresh == query(source, state.format(f"{s}.fresh"))[0][0] > 1000  # SETVAL's value was handed out
    [(next_id,)] = query(target, f"SELECT NEXTVAL({s}.ids)")
    assert next_id == query(source, state.format(f"{s}.ids"))[0][0] > scalar(source, f"SELECT MAX(id) FROM {s}.orders")
    assert my.status_of(drs, job)["status"] == "INCRE_TRANSFER_STARTED"


def test_ddl_on_selected_and_unselected_tables_applies_to_the_selected_ones(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """A DROP or RENAME of several tables runs on the target for those it has; a RENAME bringing a table into the
    selection from outside fails the task, also when retried (the target lacks its rows: never a silent gap)."""
    s = quote(schema)
    execute(
        source,
        *(f"CREATE TABLE {s}.{name} (id INT PRIMARY KEY)" for name in ("s1", "s2", "s3", "u1", "u2")),
        *(f"INSERT INTO {s}.{name} SELECT seq FROM {s}.seq_1_to_50" for name in ("s1", "s2", "s3", "u1", "u2")),
    )
    selected = [(schema, name) for name in ("s1", "s2", "s3")]
    job = my.replicating_task(drs, source, target, [], selected)

    execute(
        source,
        f"DROP TABLE {s}.s2, {s}.u1",
        f"RENAME TABLE {s}.s1 TO {s}.s1_old, {s}.u2 TO {s}.u2_old",  # s1 leaves the selection
        f"INSERT INTO {s}.s3 VALUES (1000)",
    )
    wait_for(lambda: scalar(target, f"SELECT COUNT(*) FROM {s}.s3") == 51, "the insert after the DDL on the target")
    assert my.tables(target, schema) == ["s1_old", "s3"]
    assert my.row_differences(source, target, schema, "s1_old") is None
    assert my.status_of(drs, job)["status"] == "INCRE_TRANSFER_STARTED"

    execute(source, f"INSERT INTO {s}.s1_old VALUES (1000)", f"RENAME TABLE {s}.s1_old TO {s}.s1")  # not replicated
    for attempt in ("first", "retried"):
        failed = my.wait_status(drs, job, "INCRE_TRANSFER_FAILED")
        assert f"brought {schema}.s1 into the selection from {schema}.s1_old" in failed["error_message"], (
            attempt,
            failed,
        )
        if attempt == "first":
            my.retry(drs, job)
    assert my.tables(target, schema) == ["s1_old", "s3"]


def test_a_rename_into_a_database_the_target_lacks_fails_saying_so_and_retry_applies_it_once_created(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """A table renamed out of the selection into a database only the source has: the target's error was an opaque
    1025 "Error on rename ... (errno: 168)"."""
    s, archive = quote(schema), quote(f"{schema}_arch")
    execute(source, f"CREATE TABLE {s}.t (id INT PRIMARY KEY)", f"INSERT INTO {s}.t SELECT seq FROM {s}.seq_1_to_50")
    execute(source, f"DROP DATABASE IF EXISTS {archive}", f"CREATE DATABASE {archive}")
    execute(target, f"DROP DATABASE IF EXISTS {archive}")
    job = my.replicating_task(drs, source, target, [schema])

    execute(source, f"RENAME TABLE {s}.t TO {archive}.t")
    failed = my.wait_status(drs, job, "INCRE_TRANSFER_FAILED")
    assert f"names the database {archive} that the target does not have" in failed["error_message"], failed
    assert f"CREATE DATABASE {archive}" in failed["error_message"], failed

    execute(target, f"CREATE DATABASE {archive}")
    my.retry(drs, job)
    my.wait_status(drs, job, "INCRE_TRANSFER_STARTED")
    wait_for(lambda: "t" in my.tables(target, f"{schema}_arch"), "the renamed table on the target")
    assert my.tables(target, schema) == []
    assert scalar(target, f"SELECT COUNT(*) FROM {archive}.t") == 50
    execute(target, f"DROP DATABASE {archive}")
    execute(source, f"DROP DATABASE {archive}")


def _write_round(source: MariadbServer, schema: str, first: int) -> None:
    """Inserts, a key change, an update, a delete and duplicate keyless rows, in a few transactions."""
    s = quote(schema)
    execute(
        source,
        f"INSERT INTO {s}.items SELECT seq, CONCAT('r', seq) FROM {s}.seq_{first}_to_{first + 99}",
        f"UPDATE {s}.items SET id = id + 500000 WHERE id = {first}",
        f"UPDATE {s}.items SET v = 'updated' WHERE id = {first + 1}",
        f"DELETE FROM {s}.items WHERE id = {first + 2}",
        "BEGIN",
        f"INSERT INTO {s}.log VALUES ({first}, 'dup'), ({first}, 'dup')",
        f"DELETE FROM {s}.items WHERE id = {first + 3}",
        "COMMIT",
    )


def test_foreign_key_cascades_of_the_source_are_run_on_the_target(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """The binlog holds none of the rows a cascade changes: the target must run the cascades itself (the children
    of deleted or re-keyed parents stayed on the target), and only where the source ran them."""
    s = quote(schema)
    fk = f"FOREIGN KEY (pid) REFERENCES {s}.parent (id)"
    execute(
        source,
        f"CREATE TABLE {s}.parent (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE {s}.child (id INT PRIMARY KEY, pid INT, {fk} ON DELETE CASCADE ON UPDATE CASCADE)",
        f"CREATE TABLE {s}.orphan (id INT PRIMARY KEY, pid INT, {fk} ON DELETE SET NULL ON UPDATE SET NULL)",
        f"CREATE TABLE {s}.grandchild (id INT PRIMARY KEY, cid INT,"
        f" FOREIGN KEY (cid) REFERENCES {s}.child (id) ON DELETE CASCADE)",
        f"INSERT INTO {s}.parent SELECT seq, seq FROM {s}.seq_1_to_100",
        f"INSERT INTO {s}.child SELECT seq, 1 + seq % 100 FROM {s}.seq_1_to_500",
        f"INSERT INTO {s}.orphan SELECT seq, 1 + seq % 100 FROM {s}.seq_1_to_300",
        f"INSERT INTO {s}.grandchild SELECT seq, 1 + seq % 500 FROM {s}.seq_1_to_1000",
    )
    job = my.replicating_task(drs, source, target, [schema])

    execute(
        source,
        f"DELETE FROM {s}.parent WHERE id <= 10",  # children, their children, and orphans' links go
        f"UPDATE {s}.parent SET id = id + 1000 WHERE id BETWEEN 50 AND 52",  # children follow the new keys
        f"UPDATE {s}.parent SET v = -v WHERE id > 90",
        f"INSERT INTO {s}.parent VALUES (2000, 0)",
        f"INSERT INTO {s}.child VALUES (2000, 2000)",
        "SET foreign_key_checks = 0",  # no cascade on the source: none on the target either
        f"DELETE FROM {s}.parent WHERE id = 20",
        f"INSERT INTO {s}.child VALUES (3000, 3000)",  # a parent that does not exist, allowed here
    )

    my.wait_same_database(source, target, schema)
    assert scalar(target, f"SELECT COUNT(*) FROM {s}.child WHERE pid = 20") == 5  # kept, as on the source
    assert my.status_of(drs, job)["status"] == "INCRE_TRANSFER_STARTED"


def test_cascades_of_parents_deleted_during_a_resumed_copy_reach_the_children_copied_before(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """Children copied before a pause, whose parents the source deleted or re-keyed (cascading) during it, before
    the resumed copy's new snapshot: the binlog holds only the parents' changes, and those of a parent table copied
    whole after the resume are skipped (its copy has them). The catch-up must run the cascades into the children
    copied before: their rows stayed on the target (ON DELETE CASCADE), kept their parent (SET NULL) or its old key."""
    s = quote(schema)
    references = f"REFERENCES {s}.orders (id)"
    execute(
        source,
        f"CREATE TABLE {s}.orders (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE {s}.items (id INT PRIMARY KEY, oid INT,"
        f" FOREIGN KEY (oid) {references} ON DELETE CASCADE ON UPDATE CASCADE)",
        f"CREATE TABLE {s}.notes (id INT PRIMARY KEY, oid INT,"
        f" FOREIGN KEY (oid) {references} ON DELETE SET NULL ON UPDATE SET NULL)",
        f"CREATE TABLE {s}.tags (id INT PRIMARY KEY, iid INT,"
        f" FOREIGN KEY (iid) REFERENCES {s}.items (id) ON DELETE CASCADE)",
        f"INSERT INTO {s}.orders SELECT seq, seq FROM {s}.seq_1_to_100",
        f"INSERT INTO {s}.items SELECT seq, 1 + seq % 100 FROM {s}.seq_1_to_500000",
        f"INSERT INTO {s}.notes SELECT seq, 1 + seq % 100 FROM {s}.seq_1_to_300",
        f"INSERT INTO {s}.tags SELECT seq, seq * 7 FROM {s}.seq_1_to_2000",
        f"ANALYZE TABLE {s}.items",  # the plan reads the row estimate: 5 chunks, copied before the small tables
    )
    job = my.configure_task(drs, source, target, "FULL_INCR_TRANS", [schema])
    my.succeeded(my.limit_speed(drs, [job], 1))  # about 6 MB of rows: 6 s
    with my.StatusWatch(drs, job) as watch:
        my.start(drs, job)
        _wait_for_a_chunk(drs_server, job, "items")
        # Paused at once: the cascades below take seconds on a loaded machine, and the copy must not end meanwhile.
        my.pause_until_let_go(drs, drs_server, job)
        assert not watch.failures(), watch.failures()
    execute(
        source,
        f"DELETE FROM {s}.orders WHERE id <= 10",  # their items, notes' links and items' tags go
        f"UPDATE {s}.orders SET id = id + 1000 WHERE id BETWEEN 20 AND 22",  # items follow, notes let go
    )
    copied = my.copied_chunks(drs_server, job)
    assert any(".items#" in chunk for chunk in copied) and not any(".orders#" in chunk for chunk in copied), copied
    my.retry(drs, job)
    my.wait_status(drs, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
    execute(source, f"DELETE FROM {s}.orders WHERE id = 11")  # after the catch-up: the target's own cascade
    my.wait_same_database(source, target, schema)


def test_pause_resume_and_terminate(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.items (id INT NOT NULL PRIMARY KEY, v VARCHAR(20))",
        f"CREATE TABLE {s}.log (n INT, v VARCHAR(10))",
    )
    _write_round(source, schema, 1)
    job = my.replicating_task(drs, source, target, [schema])
    _write_round(source, schema, 1000)
    my.wait_same_database(source, target, schema)

    my.pause_until_let_go(drs, drs_server, job)
    my.wait_status(drs, job, "PAUSING")
    paused = my.fingerprint(target, schema)
    _write_round(source, schema, 2000)
    my.assert_stays(
        lambda: my.status_of(drs, job)["status"] == "PAUSING" and my.fingerprint(target, schema) == paused,
        "a paused task to apply nothing",
        3.0,
    )

    # The precheck before a resume passes: the tables on the target are the task's own, not ones it would overwrite.
    checked = my.precheck(drs, job, "forRetryJob")
    failed = [item for item in checked["precheck_result"] if item["result"] == "FAILED"]
    assert checked["result"] is True and not failed, failed
    my.retry(drs, job)
    my.wait_status(drs, job, "INCRE_TRANSFER_STARTED")
    _write_round(source, schema, 3000)
    my.wait_same_database(source, target, schema)  # each change once: the keyless duplicates count too

    operation = my.terminate(drs, job)
    statuses = [str(my.status_of(drs, job)["status"])]

    def released() -> bool:
        statuses.append(str(my.status_of(drs, job)["status"]))
        return statuses[-1] == "RELEASE_RESOURCE_COMPLETE"

    wait_for(released, "the terminated task to be released")
    assert statuses[0] == "RELEASE_RESOURCE_STARTED", statuses
    assert set(statuses) == {"RELEASE_RESOURCE_STARTED", "RELEASE_RESOURCE_COMPLETE"}, statuses
    assert drs.wait_operation(operation)["status"] == "SUCCESS"
    assert set(my.meta_rows(target, job).values()) == {0}, "the stopped task left rows in opendrs_meta"
    stopped = my.fingerprint(target, schema)
    _write_round(source, schema, 4000)
    my.assert_stays(lambda: my.fingerprint(target, schema) == stopped, "a stopped task to apply nothing", 2.0)

    response = drs.delete(f"{my.JOBS}/batch-jobs", {"jobs": [{"job_id": job, "delete_type": "delete"}]})
    my.succeeded(response, 202)
    wait_for(lambda: my.status_of(drs, job).get("status") in ("DELETED", None), "the task to be deleted")


def test_a_pause_interrupts_an_index_build_and_the_resumed_copy_builds_it(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """The index build waits behind a target session's metadata lock, as a long sort would run: the pause must not
    wait for it. The speed limit keeps the data coming for seconds, time to open that session first."""
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.indexed (id INT NOT NULL PRIMARY KEY, k INT, pad CHAR(200), KEY k_k (k))",
        f"INSERT INTO {s}.indexed SELECT seq, seq % 97, REPEAT('p', 200) FROM {s}.seq_1_to_15000",
    )
    job = my.configure_task(drs, source, target, "FULL_TRANS", [schema])
    my.succeeded(my.limit_speed(drs, [job], 1))  # about 3 MB of rows: 3 s
    my.start(drs, job)
    wait_for(lambda: "indexed" in my.tables(target, schema), "the target table to exist")
    with my.metadata_lock_held(target, qualified(schema, "indexed")):
        waiting = "the index build to wait for the lock"
        wait_for(lambda: my.alters_waiting(target, "indexed") == 1, waiting, my.COPY_DEADLINE)

        my.pause_until_let_go(drs, drs_server, job)
        my.wait_status(drs, job, "PAUSING")
        assert my.alters_waiting(target, "indexed") == 0  # the ALTER ended (rolled back), the lock still held
        assert [index[0] for index in my.indexes(target, schema, "indexed")] == ["PRIMARY"]

    my.retry(drs, job)
    my.wait_status(drs, job, "FULL_TRANSFER_COMPLETE", my.COPY_DEADLINE)
    my.assert_same_database(source, target, schema)  # the rows, and the structure with k_k


def _paused_with_leaving_unindexed(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str, task_type: str
) -> str:
    """A task copying `leaving` and `small`, paused while the build of leaving's secondary index waits for a lock:
    leaving's copy is unfinished. Its id."""
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.leaving (id INT NOT NULL PRIMARY KEY, k INT, pad CHAR(200), KEY k_k (k))",
        f"INSERT INTO {s}.leaving SELECT seq, seq % 97, REPEAT('p', 200) FROM {s}.seq_1_to_15000",
        f"CREATE TABLE {s}.small (id INT NOT NULL PRIMARY KEY, k INT)",
        f"INSERT INTO {s}.small SELECT seq, seq % 7 FROM {s}.seq_1_to_100",
    )
    job = my.configure_task(drs, source, target, task_type, [schema])
    my.succeeded(my.limit_speed(drs, [job], 1))  # about 3 MB of rows: 3 s
    my.start(drs, job)
    wait_for(lambda: "leaving" in my.tables(target, schema), "the target table to exist")
    with my.metadata_lock_held(target, qualified(schema, "leaving")):
        wait_for(lambda: my.alters_waiting(target, "leaving") == 1, "the index build to wait", my.COPY_DEADLINE)
        my.pause_until_let_go(drs, drs_server, job)
    return job


def _resume_without_leaving(drs: Api, job: str, target: MariadbServer, schema: str, task_type: str) -> None:
    """Resume the copy of _paused_with_leaving_unindexed once `leaving` is gone: a copy alone completes without it,
    a task that replicates reaches its incremental phase."""
    my.retry(drs, job)
    if task_type == "FULL_TRANS":
        my.wait_status(drs, job, "FULL_TRANSFER_COMPLETE", my.COPY_DEADLINE)
        assert my.tables(target, schema) == ["small"]  # copied whole before the pause: as it was then
    else:
        my.wait_status(drs, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)


def test_a_table_renamed_while_the_copy_was_paused_fails_the_resumed_copy_clearly(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """The resumed copy keeps its table list but reads a new snapshot: a table renamed meanwhile used to crash its
    worker thread (a KeyError), and the task was claimed again every second, for ever, showing nothing. Its rows
    now live under a name the copy does not have: the copy cannot finish without losing them."""
    job = _paused_with_leaving_unindexed(drs, drs_server, source, target, schema, "FULL_TRANS")
    execute(source, f"RENAME TABLE {quote(schema)}.leaving TO {quote(schema)}.left_behind")

    my.retry(drs, job)
    failed = my.wait_status(drs, job, "FULL_TRANSFER_FAILED", my.COPY_DEADLINE)
    assert failed["error_code"] == "DRS.M05201", failed
    assert (
        f"{schema}.leaving left the source (renamed, dropped and created again, or dropped with its database) during"
        " the full copy or while it was stopped" in failed["error_message"]
    ), failed


@pytest.mark.parametrize("task_type", ["FULL_INCR_TRANS", "FULL_TRANS"])
def test_a_table_dropped_while_the_copy_was_paused_is_left_out_and_the_task_goes_on(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str, task_type: str
) -> None:
    """A retention job drops a table while a long copy is paused (or its worker is down): the resumed copy finds it
    dropped in the binlog and goes on without it. A task that replicates keeps the partial copy for its catch-up,
    which replays the table's changes and then its drop; a copy alone drops it at once."""
    job = _paused_with_leaving_unindexed(drs, drs_server, source, target, schema, task_type)
    s = quote(schema)
    execute(
        source,
        f"INSERT INTO {s}.leaving VALUES (20000, 1, 'x')",  # changes the catch-up replays before the drop
        f"UPDATE {s}.leaving SET k = k + 1 WHERE id < 100",
        f"INSERT INTO {s}.small VALUES (1000, 1)",
        f"DROP TABLE {s}.leaving",
        f"DELETE FROM {s}.small WHERE id = 1",
    )

    _resume_without_leaving(drs, job, target, schema, task_type)
    if task_type == "FULL_TRANS":
        return
    wait_for(lambda: my.tables(target, schema) == ["small"], "the catch-up to replay the drop", my.COPY_DEADLINE)
    my.wait_same_database(source, target, schema)
    execute(source, f"INSERT INTO {s}.small VALUES (1001, 2)")
    my.wait_same_database(source, target, schema)
    assert my.status_of(drs, job)["status"] == "INCRE_TRANSFER_STARTED"


@pytest.mark.parametrize("task_type", ["FULL_INCR_TRANS", "FULL_TRANS"])
def test_a_database_dropped_while_the_copy_was_paused_is_left_out_and_the_task_goes_on(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str, task_type: str
) -> None:
    """A selected database dropped whole while a copy of it is paused: the resumed copy finds the DROP DATABASE in
    the binlog. A task that replicates replays it in its catch-up (and goes on replicating the database when it is
    created again); a copy alone drops the partial copy of its unfinished table at once."""
    job = _paused_with_leaving_unindexed(drs, drs_server, source, target, schema, task_type)
    s = quote(schema)
    execute(source, f"UPDATE {s}.leaving SET k = k + 1 WHERE id < 100", f"DROP DATABASE {s}")

    _resume_without_leaving(drs, job, target, schema, task_type)
    if task_type == "FULL_TRANS":
        return
    wait_for(lambda: not my.query(target, "SHOW DATABASES LIKE %s", [schema]), "the catch-up to drop the database")
    execute(
        source,
        f"CREATE DATABASE {s}",
        f"CREATE TABLE {s}.reborn (id INT PRIMARY KEY)",
        f"INSERT INTO {s}.reborn VALUES (1)",
    )
    my.wait_same_database(source, target, schema)
    assert my.tables(target, schema) == ["reborn"]
    assert my.status_of(drs, job)["status"] == "INCRE_TRANSFER_STARTED"


def _wait_for_a_chunk(server: Server, job: str, table: str) -> None:
    """Until the store records a copied chunk of `table`."""
    wait_for(lambda: any(f".{table}#" in c for c in my.copied_chunks(server, job)), "a chunk", my.COPY_DEADLINE)


def test_ddl_on_the_source_during_the_full_copy_neither_waits_for_it_nor_breaks_it(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """An ALTER on the source during a long copy used to wait for the whole copy (the snapshot held the table's
    metadata lock, and every write to the table queued behind the ALTER), or to fail the task with 1412 "Table
    definition has changed"; a copy paused and resumed across an ALTER then loaded rows of the new shape into a
    table of the old one (1054). Now the ALTER waits one chunk at most, and a table changed before its copy is
    complete is copied again in its new shape."""
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.big (id INT NOT NULL PRIMARY KEY, k INT, pad CHAR(20), KEY k (k))",
        f"INSERT INTO {s}.big SELECT seq, seq % 97, REPEAT('p', 20) FROM {s}.seq_1_to_250000",
        f"CREATE TABLE {s}.small (id INT NOT NULL PRIMARY KEY, v INT, w VARCHAR(10))",
        f"INSERT INTO {s}.small SELECT seq, seq, 'w' FROM {s}.seq_1_to_100",
        f"ANALYZE TABLE {s}.big",  # the plan reads the row estimate: several chunks
    )
    job = my.configure_task(drs, source, target, "FULL_INCR_TRANS", [schema])
    my.succeeded(my.limit_speed(drs, [job], 1))  # about 8 MB of rows: 8 s
    with my.StatusWatch(drs, job) as watch:
        my.start(drs, job)
        _wait_for_a_chunk(drs_server, job, "big")
        connection = my.connect(source)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION lock_wait_timeout = 60")
                cursor.execute(f"ALTER TABLE {s}.big MODIFY pad CHAR(30)")  # a rebuild, where the copy reads
        finally:
            connection.close()
        assert my.status_of(drs, job)["status"] == "FULL_TRANSFER_STARTED", "the ALTER waited for the copy"
        execute(
            source,
            f"ALTER TABLE {s}.small DROP COLUMN w",  # instant: the copy's column list names it
            f"UPDATE {s}.big SET pad = 'altered' WHERE id <= 1000",
            f"INSERT INTO {s}.small VALUES (1000, 1)",
        )
        _wait_for_a_chunk(drs_server, job, "big")
        my.pause_until_let_go(drs, drs_server, job)
        assert not watch.failures(), watch.failures()
    execute(source, f"ALTER TABLE {s}.big ADD COLUMN extra INT NOT NULL DEFAULT 7 AFTER k")
    my.retry(drs, job)
    my.wait_status(drs, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
    my.wait_same_database(source, target, schema)


def test_views_routines_and_sequences_changed_during_the_full_copy_are_replicated_once(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """The copy creates views, routines and sequences as they are at its end (or start), not as its snapshot saw
    them, and the incremental phase replays their DDL from the snapshot on: a view created during the copy failed
    the task with 1050 "Table 'v_new' already exists"."""
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.big (id INT NOT NULL PRIMARY KEY, k INT, pad CHAR(20), KEY k (k))",
        f"INSERT INTO {s}.big SELECT seq, seq % 97, REPEAT('p', 20) FROM {s}.seq_1_to_150000",
        f"ANALYZE TABLE {s}.big",  # several chunks
        f"CREATE VIEW {s}.v_old AS SELECT id FROM {s}.big",
        f"CREATE FUNCTION {s}.f_old() RETURNS INT DETERMINISTIC RETURN 1",
    )
    job = my.configure_task(drs, source, target, "FULL_INCR_TRANS", [schema])
    my.succeeded(my.limit_speed(drs, [job], 1))  # about 5 MB of rows: 5 s
    my.start(drs, job)
    _wait_for_a_chunk(drs_server, job, "big")
    execute(
        source,
        f"CREATE VIEW {s}.v_new AS SELECT k FROM {s}.big",
        f"DROP VIEW {s}.v_old",
        f"CREATE FUNCTION {s}.f_new() RETURNS INT DETERMINISTIC RETURN 2",
        f"DROP FUNCTION {s}.f_old",
        f"CREATE SEQUENCE {s}.ids",
    )
    my.wait_status(drs, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
    execute(source, f"CREATE VIEW {s}.v_later AS SELECT pad FROM {s}.big")
    objects = f"SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{schema}' ORDER BY 1"
    wait_for(lambda: ("v_later", "VIEW") in query(target, objects), "a view created during incremental sync")
    assert my.status_of(drs, job)["status"] == "INCRE_TRANSFER_STARTED"
    assert query(target, objects) == query(source, objects)
    routines = f"SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '{schema}'"
    assert query(target, routines) == query(source, routines) == [("f_new",)]
    my.wait_same_database(source, target, schema)


def test_a_pause_interrupts_a_ddl_being_applied_and_the_resumed_task_applies_it(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """A source ALTER replayed on the target waits there behind a session's metadata lock, as a long table rebuild
    would run: the pause must not wait for it, and the resumed task applies it once."""
    s = quote(schema)
    execute(source, f"CREATE TABLE {s}.altered (id INT NOT NULL PRIMARY KEY, v VARCHAR(20))")
    execute(source, f"INSERT INTO {s}.altered SELECT seq, CONCAT('v', seq) FROM {s}.seq_1_to_100")
    job = my.replicating_task(drs, source, target, [schema])
    my.wait_same_database(source, target, schema)
    table = qualified(schema, "altered")
    with my.metadata_lock_held(target, table):
        execute(
            source,
            f"ALTER TABLE {table} ADD COLUMN w INT NOT NULL DEFAULT 7",
            f"INSERT INTO {table} VALUES (101, 'after', 8)",
        )
        wait_for(lambda: my.alters_waiting(target, "altered") == 1, "the DDL to wait for the lock on the target")

        my.pause_until_let_go(drs, drs_server, job)
        my.wait_status(drs, job, "PAUSING")
        assert my.alters_waiting(target, "altered") == 0  # the ALTER ended (rolled back), the lock still held
        assert "w" not in [column[0] for column in my.columns(target, schema, "altered")]

    my.retry(drs, job)
    my.wait_status(drs, job, "INCRE_TRANSFER_STARTED")
    my.wait_same_database(source, target, schema)  # the new column, and the row written after it
    assert my.status_of(drs, job)["status"] == "INCRE_TRANSFER_STARTED"


def test_speed_limit_applies_to_full_transfers_only(drs: Api) -> None:
    [full] = drs.create_tasks(1, task_type="FULL_TRANS")
    [incremental] = drs.create_tasks(1, task_type="INCR_TRANS")

    response = my.limit_speed(drs, [full, incremental], 5)

    assert response.status_code == 200, response.text
    results = {result["id"]: result for result in response.json()["results"]}
    assert results[full]["status"] == "success", results
    assert results[incremental]["status"] == "failed", results
    assert results[incremental]["error_code"] == "DRS.M00403", results
    assert my.detail_of(drs, full)["speed_limit"] == [{"begin": "00:00", "end": "23:59", "speed": "5"}]
    assert my.detail_of(drs, incremental)["speed_limit"] == []


def test_source_without_binlog_fails_the_precheck_and_cannot_start(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    # The target server writes no binlog: here it is the source (and the binlog source the target).
    execute(
        target,
        f"CREATE DATABASE {quote(schema)}",
        f"CREATE TABLE {qualified(schema, 't')} (id INT PRIMARY KEY)",
    )
    job = my.configure_task(drs, target, source, "FULL_INCR_TRANS", [schema])

    result = my.precheck(drs, job)

    assert result["result"] is False, result
    items = {item["item"]: item for item in result["precheck_result"]}
    assert items["srcBinlogOpenCheck"]["result"] == "FAILED", items
    assert "log_bin" in items["srcBinlogOpenCheck"]["failed_reason"], items["srcBinlogOpenCheck"]
    refused = my.one_result(drs.post(f"{my.JOBS}/batch-starting", {"jobs": [{"job_id": job}]}), 202)
    assert refused["status"] == "failed", refused
    assert refused["error_code"] == "DRS.M01504", refused
    assert my.status_of(drs, job)["status"] == "CONFIGURATION"


@pytest.mark.parametrize("change", ["password", "objects"])
def test_a_change_of_configuration_after_a_passed_precheck_asks_for_a_new_one(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str, change: str
) -> None:
    """The passed precheck used to stay valid: a wrong password then failed the start, and a selection of a
    database the source lacks started a task that replicated nothing."""
    execute(source, f"CREATE TABLE {qualified(schema, 't')} (id INT PRIMARY KEY)")
    job = my.configure_task(drs, source, target, "FULL_INCR_TRANS", [schema])
    assert my.precheck(drs, job)["result"] is True

    if change == "password":
        wrong = {**my.endpoint(source), "db_password": "wrong"}
        my.succeeded(drs.put(f"{my.JOBS}/batch-modification", {"jobs": [{"job_id": job, "source_endpoint": wrong}]}))
    else:
        missing = [{"id": "absent", "object_type": "database", "object_name": "absent", "select": "true"}]
        selection = {"job_id": job, "selected": True, "job": missing}
        my.succeeded(drs.put(f"{my.JOBS}/batch-select-objects", {"jobs": [selection]}), 202)

    result = my.one_result(drs.post(f"{my.JOBS}/batch-precheck-result", {"jobs": [job]}))
    assert result["error_code"] == "DRS.M00304" and "no precheck has run" in result["error_msg"], result
    refused = my.one_result(drs.post(f"{my.JOBS}/batch-starting", {"jobs": [{"job_id": job}]}), 202)
    assert (refused["status"], refused["error_code"]) == ("failed", "DRS.M01504"), refused
    assert "the precheck has not passed" in refused["error_msg"], refused
    assert my.status_of(drs, job)["status"] == "CONFIGURATION"
    assert my.precheck(drs, job)["result"] is False  # the new precheck sees the change


def test_lost_source_fails_the_task_naming_the_cause_and_retry_catches_up(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.items (id INT NOT NULL PRIMARY KEY, v VARCHAR(20))",
        f"CREATE TABLE {s}.log (n INT, v VARCHAR(10))",
    )
    job = my.replicating_task(drs, source, target, [schema])
    _write_round(source, schema, 1)
    my.wait_same_database(source, target, schema)

    _write_round(source, schema, 1000)  # maybe not applied yet when the source dies
    source.kill()
    try:
        failed = my.wait_status(drs, job, "INCRE_TRANSFER_FAILED")
        progress = my.progress_of(drs, job)
    finally:
        if not source.running:
            source.start()

    assert failed["error_code"].startswith("DRS.M05"), failed
    message = failed["error_message"]
    assert "source" in message.lower(), message
    assert f"{source.host}:{source.port}" in message or "connect" in message.lower(), message
    assert progress["transfer_status"] == "INCRE_TRANSFER_FAILED", progress
    assert progress["error_code"] == failed["error_code"] and progress["error_msg"] == message, progress

    _write_round(source, schema, 2000)
    my.retry(drs, job)
    my.wait_status(drs, job, "INCRE_TRANSFER_STARTED")
    my.wait_same_database(source, target, schema)
    assert not my.status_of(drs, job).get("error_code")


def test_lost_target_fails_the_task_naming_the_cause_and_retry_catches_up(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.items (id INT NOT NULL PRIMARY KEY, v VARCHAR(20))",
        f"CREATE TABLE {s}.log (n INT, v VARCHAR(10))",
    )
    job = my.replicating_task(drs, source, target, [schema])
    _write_round(source, schema, 1)
    my.wait_same_database(source, target, schema)

    target.kill()
    try:
        _write_round(source, schema, 1000)  # to be applied when the target is back
        # The retry window is 3 s: well within this deadline, the task must say it failed.
        failed = my.wait_status(drs, job, "INCRE_TRANSFER_FAILED", deadline=30)
        progress = my.progress_of(drs, job)
    finally:
        if not target.running:
            target.start()

    message = failed["error_message"]
    assert failed["error_code"].startswith("DRS.M05"), failed
    assert "target" in message.lower() and "connect" in message.lower(), message
    assert progress["error_code"] == failed["error_code"] and progress["error_msg"] == message, progress

    _write_round(source, schema, 2000)
    my.retry(drs, job)
    my.wait_status(drs, job, "INCRE_TRANSFER_STARTED")
    my.wait_same_database(source, target, schema)


def test_source_lost_during_the_full_copy_fails_it_naming_the_source(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.items (id INT NOT NULL PRIMARY KEY, v CHAR(100))",
        f"INSERT INTO {s}.items SELECT seq, REPEAT('x', 100) FROM {s}.seq_1_to_60000",  # about 6 MB
    )
    job = my.configure_task(drs, source, target, "FULL_TRANS", [schema])
    assert my.limit_speed(drs, [job], 1).status_code == 200  # 1 MB/s: the copy lasts seconds
    my.start(drs, job)
    my.wait_status(drs, job, "FULL_TRANSFER_STARTED")

    source.kill()
    try:
        failed = my.wait_status(drs, job, "FULL_TRANSFER_FAILED", deadline=30)  # the retry window is 3 s
    finally:
        if not source.running:
            source.start()

    assert failed["error_code"] == "DRS.M05201", failed  # the source, not "the transfer"
    assert "source" in failed["error_message"].lower(), failed
    my.retry(drs, job)
    my.wait_status(drs, job, "FULL_TRANSFER_COMPLETE", my.COPY_DEADLINE)
    my.assert_same_database(source, target, schema)


def _prepare_xa(source: MariadbServer, statement: str) -> pymysql.connections.Connection:
    """A connection holding XA transaction 'pending-xa', prepared (not committed) after running `statement`."""
    holder = my.connect(source)
    with holder.cursor() as cursor:
        for step in ("XA START 'pending-xa'", statement, "XA END 'pending-xa'", "XA PREPARE 'pending-xa'"):
            cursor.execute(step)
    return holder


def _wait_for_failure_naming_the_xa(drs: Api, job: str, status: str, holder: pymysql.connections.Connection) -> None:
    """The task fails (the retry window is 3 s) saying which XA transaction to end; then it is committed."""
    failed = my.wait_status(drs, job, status, deadline=60)
    assert failed["error_code"] == "DRS.M05201", failed  # the source
    assert "'pending-xa'" in failed["error_message"] and "XA COMMIT" in failed["error_message"], failed
    with holder.cursor() as cursor:
        cursor.execute("XA COMMIT 'pending-xa'")


def test_a_copy_waits_for_xa_transactions_prepared_at_its_snapshot_and_then_has_their_rows(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """A prepared XA transaction is in no snapshot, and its rows are in the binlog before the snapshot's position:
    a copy taken then would never get them (its XA COMMIT carries none). The copy retries, then fails naming it."""
    s = quote(schema)
    execute(source, f"CREATE TABLE {s}.items (id INT PRIMARY KEY, v INT)", f"INSERT INTO {s}.items VALUES (1, 1)")
    holder = _prepare_xa(source, f"INSERT INTO {s}.items VALUES (2, 2)")
    try:
        job = my.configure_task(drs, source, target, "FULL_INCR_TRANS", [schema])
        my.start(drs, job)
        _wait_for_failure_naming_the_xa(drs, job, "FULL_TRANSFER_FAILED", holder)
    finally:
        holder.close()
    my.retry(drs, job)
    my.wait_status(drs, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
    my.wait_same_database(source, target, schema)
    assert scalar(target, f"SELECT v FROM {s}.items WHERE id = 2") == 2


def test_incremental_sync_does_not_start_while_an_xa_transaction_is_prepared(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """Started then, it would begin after the XA PREPARE that holds the rows, and their XA COMMIT brings none."""
    s = quote(schema)
    table = f"CREATE TABLE {s}.items (id INT PRIMARY KEY, v INT)"
    execute(source, table)
    execute(target, f"CREATE DATABASE {s}", table)
    holder = _prepare_xa(source, f"INSERT INTO {s}.items VALUES (2, 2)")
    try:
        job = my.configure_task(drs, source, target, "INCR_TRANS", [schema])
        my.start(drs, job)
        _wait_for_failure_naming_the_xa(drs, job, "START_JOB_FAILED", holder)  # the start position waits
    finally:
        holder.close()
    execute(target, f"INSERT INTO {s}.items VALUES (2, 2)")  # committed before the start: the user's copy has it
    my.retry(drs, job)
    my.wait_status(drs, job, "INCRE_TRANSFER_STARTED")
    execute(source, f"INSERT INTO {s}.items VALUES (3, 3)")
    my.wait_same_database(source, target, schema)


@contextlib.contextmanager
def _always_an_xa_prepared(source: MariadbServer, schema: str) -> Iterator[Callable[[], int]]:
    """Two sessions take turns, as a busy JTA application's do: one prepares an XA transaction (a row into
    `churn`), then the other commits the one it prepared before, so some XA transaction is prepared at every
    instant, each for a moment. Yields how many were committed so far; all are committed at the end."""
    stop, failures, committed = threading.Event(), [], [0]

    def run() -> None:
        sessions = [my.connect(source), my.connect(source)]
        try:
            cursors = [session.cursor() for session in sessions]
            for n in itertools.count():
                xid = f"'{schema}-{n}'"
                for step in (f"XA START {xid}", f"INSERT INTO {quote(schema)}.churn VALUES ({n})"):
                    cursors[n % 2].execute(step)
                cursors[n % 2].execute(f"XA END {xid}")
                cursors[n % 2].execute(f"XA PREPARE {xid}")
                if n:
                    cursors[(n - 1) % 2].execute(f"XA COMMIT '{schema}-{n - 1}'")
                    committed[0] += 1
                if stop.wait(0.05):  # the pace of the workload, not a synchronisation
                    cursors[n % 2].execute(f"XA COMMIT {xid}")
                    return
        except BaseException as error:
            failures.append(error)
        finally:
            for session in sessions:
                session.close()

    thread = threading.Thread(target=run, name=f"xa-churn-{schema}", daemon=True)
    thread.start()
    try:
        yield lambda: committed[0]
    finally:
        stop.set()
        thread.join()
    assert not failures, failures


def test_a_copy_starts_on_a_source_where_some_xa_transaction_is_always_prepared(
    drs: Api, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """No instant without a prepared XA transaction: the snapshot sees some prepared, and none of their rows. The
    copy finds those rows in the binlog before it (their XA PREPAREs are after the horizon it read first, as each
    lasts a moment) and applies them at their XA COMMIT."""
    execute(source, f"CREATE TABLE {quote(schema)}.churn (n INT PRIMARY KEY)")
    job = my.configure_task(drs, source, target, "FULL_INCR_TRANS", [schema])
    with _always_an_xa_prepared(source, schema) as committed, my.StatusWatch(drs, job) as watch:
        wait_for(lambda: committed() >= 3, "XA transactions on the source")
        my.start(drs, job)
        my.wait_status(drs, job, "INCRE_TRANSFER_STARTED", my.COPY_DEADLINE)
        goal = committed() + 5
        wait_for(lambda: committed() >= goal, "XA transactions committed during incremental sync")
    my.wait_same_database(source, target, schema)
    assert not watch.failures(), watch.failures()


def test_an_incremental_only_start_on_a_source_where_some_xa_transaction_is_always_prepared(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """The start sees some prepared: their rows are before it, in their XA PREPAREs, and count at their XA COMMIT
    after it. The target gets exactly the rows of the XA transactions committed after the start (the copy the user
    made holds the others, here none)."""
    table = f"CREATE TABLE {quote(schema)}.churn (n INT PRIMARY KEY)"
    execute(source, table)
    execute(target, f"CREATE DATABASE {quote(schema)}", table)
    job = my.configure_task(drs, source, target, "INCR_TRANS", [schema])
    with _always_an_xa_prepared(source, schema) as committed, my.StatusWatch(drs, job) as watch:
        wait_for(lambda: committed() >= 3, "XA transactions on the source")
        my.start(drs, job)
        my.wait_status(drs, job, "INCRE_TRANSFER_STARTED")
        goal = committed() + 5
        wait_for(lambda: committed() >= goal, "XA transactions committed during incremental sync")
    assert not watch.failures(), watch.failures()
    engine = drs_server.engine()
    try:
        with engine.connect() as connection:
            start = BinlogPosition.decode(checkpoints.load_state(connection, job)["start_position"])
    finally:
        engine.dispose()
    after = _xa_committed_after(source, start)
    expected = [(n,) for (n,) in query(source, f"SELECT n FROM {quote(schema)}.churn ORDER BY n")
                if xa_id(f"{schema}-{n}".encode(), b"", 1) in after]  # fmt: skip
    assert expected, "no XA transaction committed after the start"

    def target_rows() -> list[tuple[object, ...]] | None:
        rows = query(target, f"SELECT n FROM {quote(schema)}.churn ORDER BY n")
        return rows if rows == expected else None

    wait_for(target_rows, f"the target to hold the rows of the XA transactions committed after {start}")


def _xa_committed_after(source: MariadbServer, start: BinlogPosition) -> set[str]:
    """The xids of the XA COMMITs in the source's binlog from `start` on."""
    first = position_key(BinlogPosition(start.file, 0))
    found = set()
    for file, *_ in query(source, "SHOW BINARY LOGS"):
        if position_key(BinlogPosition(file, 0)) < first:
            continue
        offset = start.offset if file == start.file else 4
        for *_, info in query(source, f"SHOW BINLOG EVENTS IN '{file}' FROM {offset}"):
            parsed = streaming.xa_statement(str(info))
            if parsed is not None and parsed[0] == "COMMIT":
                found.add(parsed[1])
    return found


def _prepared_xa(source: MariadbServer, xid: str, *statements: str) -> None:
    """XA transaction `xid` runs `statements` and is prepared; its session ends, as an application server's may."""
    execute(source, f"XA START {xid}", *statements, f"XA END {xid}", f"XA PREPARE {xid}")


def test_xa_transactions_reach_the_target_at_their_commit_even_across_a_pause(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    """Two-phase XA, as JTA applications use it: the rows logged at XA PREPARE count from the XA COMMIT logged
    later, here while the task is paused; a transaction rolled back after its XA PREPARE never counts."""
    s = quote(schema)
    execute(
        source,
        f"CREATE TABLE {s}.accounts (id INT PRIMARY KEY, balance INT)",
        f"INSERT INTO {s}.accounts VALUES (1, 100), (2, 100)",
    )
    job = my.replicating_task(drs, source, target, [schema])
    transfer, refund = f"'{schema}-transfer'", f"'{schema}-refund'"
    debit = f"UPDATE {s}.accounts SET balance = balance - 30 WHERE id = 1"
    _prepared_xa(source, transfer, debit, f"UPDATE {s}.accounts SET balance = balance + 30 WHERE id = 2")
    execute(source, f"INSERT INTO {s}.accounts VALUES (3, 100)")
    my.wait_same_database(source, target, schema)  # row 3, and not the transfer: it is not committed yet
    kept = "SELECT COUNT(*) FROM opendrs_meta.prepared_xa WHERE task_id = %s"
    assert scalar(target, kept, (job,)) == 1

    my.pause_until_let_go(drs, drs_server, job)
    my.wait_status(drs, job, "PAUSING")
    execute(source, f"XA COMMIT {transfer}")
    _prepared_xa(source, refund, f"UPDATE {s}.accounts SET balance = balance + 5 WHERE id = 3")
    execute(source, f"XA ROLLBACK {refund}", f"INSERT INTO {s}.accounts VALUES (4, 100)")
    my.retry(drs, job)
    my.wait_status(drs, job, "INCRE_TRANSFER_STARTED")
    my.wait_same_database(source, target, schema)
    assert query(target, f"SELECT id, balance FROM {s}.accounts ORDER BY id") == [(1, 70), (2, 130), (3, 100), (4, 100)]
    assert scalar(target, kept, (job,)) == 0


def test_purged_binlog_fails_the_task_instead_of_leaving_a_gap(
    drs: Api, drs_server: Server, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    s = quote(schema)
    execute(source, f"CREATE TABLE {s}.items (id INT NOT NULL PRIMARY KEY, v VARCHAR(20))")
    job = my.replicating_task(drs, source, target, [schema])
    execute(source, f"INSERT INTO {s}.items VALUES (1, 'applied')")
    my.wait_same_database(source, target, schema)
    my.pause_until_let_go(drs, drs_server, job)
    my.wait_status(drs, job, "PAUSING")
    # The source's dump thread outlives the stream by up to a heartbeat; MariaDB keeps a binlog it serves.
    wait_for(lambda: not my.binlog_dumps(source), "the source to end its binlog dump threads")

    execute(source, f"INSERT INTO {s}.items VALUES (2, 'lost')", "FLUSH BINARY LOGS")
    newest = str(query(source, "SHOW BINARY LOGS")[-1][0])

    def purged() -> bool:
        # MariaDB keeps a binlog until its transactions are checkpointed, which follows FLUSH shortly.
        execute(source, f"PURGE BINARY LOGS TO '{newest}'")
        return [str(row[0]) for row in query(source, "SHOW BINARY LOGS")] == [newest]

    wait_for(purged, f"the source to purge every binlog before {newest}")
    execute(source, f"INSERT INTO {s}.items VALUES (3, 'after the gap')")

    my.retry(drs, job)
    failed = my.wait_status(drs, job, "INCRE_TRANSFER_FAILED")

    assert failed["error_code"] == "DRS.M05203", failed
    assert query(target, f"SELECT id, v FROM {s}.items ORDER BY id") == [(1, "applied")]

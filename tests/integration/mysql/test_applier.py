"""Binlog -> applier -> target against real MariaDB servers: exact values, keys, DDL, exactly-once."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from opendrs.connectors.mysql import applier as applier_module
from opendrs.connectors.mysql import errors, prepared_xa, spill, streaming
from opendrs.domain.replication import Endpoint, RowChange, TableRef
from tests import servers
from tests.integration.mysql.streaming_fixtures import (
    DEADLINE,
    assert_same_schema,
    collect,
    endpoint_of,
    execute,
    kept_xa,
    new_server_id,
    position_now,
    prepare_xa,
    query,
    replicate,
    rows_checksum,
    schema,
    selection_of,
    source,
    target,
    wait_until,
)

__all__ = ["schema", "source", "target"]  # fixtures used by name below

_tasks = itertools.count(1)


def new_task() -> str:
    return f"task-{next(_tasks)}"


def make_target_schema(target: servers.MariadbServer, name: str) -> None:
    execute(target, f"CREATE DATABASE IF NOT EXISTS `{name}`")


TYPES_TABLE = """
CREATE TABLE types (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT, mu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
  d65 DECIMAL(65,30), d10 DECIMAL(10,2), d0 DECIMAL(20,0), du DECIMAL(12,4) UNSIGNED,
  f FLOAT, dbl DOUBLE,
  b64 BIT(64), b1 BIT(1), b10 BIT(10),
  dt DATE, tm TIME, tm6 TIME(6), tm3 TIME(3), dtm DATETIME, dtm6 DATETIME(6), dtm2 DATETIME(2),
  ts TIMESTAMP NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL, yr YEAR,
  c CHAR(10) CHARACTER SET utf8mb4, vc VARCHAR(300) CHARACTER SET utf8mb4, tx TEXT CHARACTER SET utf8mb4,
  cl CHAR(5) CHARACTER SET latin1, vl VARCHAR(300) CHARACTER SET latin1, tl MEDIUMTEXT CHARACTER SET latin1,
  ci VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci,
  bn BINARY(8), vb VARBINARY(300), bl BLOB, lb LONGBLOB,
  e ENUM('a','b','ü','x y'), s SET('r','w','x','é'),
  j JSON, pt POINT, gm GEOMETRY,
  g BIGINT AS (i * 2) VIRTUAL, gs DECIMAL(20,1) AS (i + 0.5) STORED
) CHARACTER SET latin1
"""

COLUMNS = (
    "ti,tu,si,su,mi,mu,i,iu,bi,bu,d65,d10,d0,du,f,dbl,b64,b1,b10,dt,tm,tm6,tm3,dtm,dtm6,dtm2,ts,ts6,yr,"
    "c,vc,tx,cl,vl,tl,ci,bn,vb,bl,lb,e,s,j"
)
ALL_BYTES = "X'" + bytes(range(256)).hex() + "'"
LATIN1_BYTES = "X'" + bytes(range(32, 256)).hex() + "'"
EDGE_ROWS = [
    # minimums / negative extremes
    "-128,0,-32768,0,-8388608,0,-2147483648,0,-9223372036854775808,0,"
    "'-99999999999999999999999999999999999.999999999999999999999999999999','-99999999.99','-99999999999999999999',0,"
    "-3.4028234e38,-1.7976931348623157e308,0,0,0,'1000-01-01','-838:59:59','-838:59:59.000000','-00:00:00.001',"
    "'1000-01-01 00:00:00','1000-01-01 00:00:00.000000','1000-01-01 00:00:00.01','1970-01-01 05:30:01',"
    "'1970-01-01 05:30:01.000001',1901,'','','','','','','',X'',X'',X'',X'','a','','[]'",
    # maximums
    "127,255,32767,65535,8388607,16777215,2147483647,4294967295,9223372036854775807,18446744073709551615,"
    "'99999999999999999999999999999999999.999999999999999999999999999999','99999999.99','99999999999999999999',"
    "'99999999.9999',3.4028234e38,1.7976931348623157e308,18446744073709551615,1,1023,'9999-12-31','838:59:59',"
    "'838:59:59.000000','838:59:59.999','9999-12-31 23:59:59','9999-12-31 23:59:59.999999','9999-12-31 23:59:59.99',"
    "'2038-01-19 03:14:07','2038-01-19 03:14:07.999999',2155,'ünï😀 code',REPEAT('ü', 300),REPEAT('😀', 5000),"
    f"'éÿ€',{LATIN1_BYTES},REPEAT({LATIN1_BYTES}, 100),'Case',X'FFFFFFFFFFFFFFFF',{ALL_BYTES},"
    f"REPEAT({ALL_BYTES}, 200),REPEAT({ALL_BYTES}, 5000),'x y','r,w,x,é',"
    '\'{"k": [1, 2.5, -0.0, 1e300, "s\\\\u00e9", null, true], "n": {"a": 12345678901234567890}}\'',
    # awkward values: tiny fractions, negative zero-ish, trailing spaces, quotes and escapes
    "-1,1,-1,1,-1,1,-1,1,-1,1,'0.000000000000000000000000000001','-0.01','1','0.0001',"
    "1.17549435e-38,4.9406564584124654e-324,1,0,512,'2020-02-29','00:00:00','-00:00:00.000001','12:34:56.789',"
    "'2020-02-29 12:34:56','2020-02-29 12:34:56.123456','2020-02-29 12:34:56.12','2020-02-29 12:34:56',"
    "'2020-02-29 12:34:56.654321',2000,'a  ','trailing  ',' \\' \" \\\\ \\0 \\n \\r \\Z ','a','tab\\t',"
    "'nl\\nx','CASE',X'00',X'00000000',X'20',X'0a','b','','\"just a string\"'",
    # 0.1 and friends, NULL-heavy
    "0,NULL,0,NULL,0,NULL,0,NULL,0,NULL,'0.1',NULL,'0',NULL,0.1,0.1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,"
    "NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'null'",
]


@pytest.mark.parametrize("spilled", [False, True], ids=["a transaction each", "one transaction, spilled"])
def test_every_type_round_trips_exactly(
    source: servers.MariadbServer,
    target: servers.MariadbServer,
    schema: str,
    spilled: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Spilled: the whole run is one transaction, in a temporary file from its first change on, so that every other
    rows event waits there as the binlog gave it and is decoded when the applier reads it (spill.add_rows)."""
    kept_as_given: list[object] = []
    if spilled:
        monkeypatch.setattr(spill, "SPILL_ROWS", 1)
        write_rows = spill._SpillFile.write_rows
        monkeypatch.setattr(
            spill._SpillFile, "write_rows", lambda file, event: (kept_as_given.append(event), write_rows(file, event))
        )
    make_target_schema(target, schema)
    start = position_now(source)
    inserts = [f"INSERT INTO types ({COLUMNS}) VALUES ({row})" for row in EDGE_ROWS]
    execute(
        source,
        TYPES_TABLE,
        *(["BEGIN"] if spilled else []),
        # The source session's time zone must not matter: TIMESTAMPs are UTC in the binlog.
        "SET time_zone = '+05:30'",
        *inserts,
        "SET time_zone = '-11:00'",
        "INSERT INTO types (ts, ts6) VALUES ('2001-02-03 04:05:06', '2001-02-03 04:05:06.5')",
        # Zero and partly zero dates, an ENUM's error value: only a lax session can write them.
        "SET sql_mode = ''",
        "INSERT INTO types (dt, dtm, dtm6, ts, ts6, yr, e) "
        "VALUES ('0000-00-00', '0000-00-00 00:00:00', '2020-00-00 00:00:00.5', '0000-00-00 00:00:00', "
        "'0000-00-00 00:00:00', 0, 'not a member')",
        "INSERT INTO types (dt, dtm) VALUES ('2021-00-15', '2021-04-00 10:00:00')",
        "SET sql_mode = DEFAULT",
        # Updates and deletes must find rows by every kind of value.
        "UPDATE types SET f = f / 3, vb = REVERSE(vb), s = 'w', j = '{\"x\": 1}' WHERE id <= 3",
        "UPDATE types SET tm6 = '-00:00:00.5', e = 'ü' WHERE id = 3",
        "UPDATE types SET pt = POINT(1.5, -2), gm = ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))', 4326) "
        "WHERE id IN (1, 2)",
        "DELETE FROM types WHERE id = 4",
        *(["COMMIT"] if spilled else []),
        database=schema,
    )
    end = position_now(source)
    with applier_module.Applier(endpoint_of(target), new_task(), selection_of(schema)) as applier:
        replicate(source, applier, start, selection_of(schema), end)
    assert_same_schema(source, target, schema, schema)
    assert len(rows_checksum(target, schema, "types")) == 6
    assert len(kept_as_given) >= (10 if spilled else 0)
    metrics = applier.metrics
    assert (metrics.inserts, metrics.updates, metrics.deletes) == (7, 6, 1)
    # Spilled, all but the first change went to the target as the binlog had them (replay.py).
    assert metrics.replayed == (13 if spilled else 0)


@pytest.fixture(params=["in memory", "spilled"])
def spilling(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the test as it is, then again with every transaction of 7 changes or more read back from a file."""
    if request.param == "spilled":
        monkeypatch.setattr(spill, "SPILL_ROWS", 7)


@pytest.mark.usefixtures("spilling")
def test_updates_changing_the_primary_key_and_deletes(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    make_target_schema(target, schema)
    start = position_now(source)
    execute(
        source,
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))",
        "CREATE TABLE composite (a INT, b VARCHAR(5), v INT, PRIMARY KEY (a, b))",
        "INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_100",
        "INSERT INTO composite SELECT seq % 7, seq, seq FROM seq_1_to_50",
        "UPDATE t SET id = id + 1000 ORDER BY id DESC",  # every key changes, in one statement
        "BEGIN",
        "UPDATE t SET id = 0 WHERE id = 1001",  # swap two keys inside one transaction
        "UPDATE t SET id = 1001 WHERE id = 1002",
        "UPDATE t SET id = 1002 WHERE id = 0",
        "COMMIT",
        "UPDATE composite SET b = CONCAT(b, 'x'), a = a + 1 WHERE v % 3 = 0",
        "DELETE FROM t WHERE id % 4 = 0",
        "DELETE FROM composite WHERE a = 2",
        database=schema,
    )
    end = position_now(source)
    with applier_module.Applier(endpoint_of(target), new_task(), selection_of(schema)) as applier:
        replicate(source, applier, start, selection_of(schema), end)
    assert_same_schema(source, target, schema, schema)


@pytest.mark.usefixtures("spilling")
def test_keyless_and_unique_key_tables(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    make_target_schema(target, schema)
    start = position_now(source)
    execute(
        source,
        "CREATE TABLE keyless (a INT, b VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, f FLOAT)",
        "CREATE TABLE uniq (u INT NOT NULL, v VARCHAR(10), UNIQUE KEY (u))",
        "CREATE TABLE nullable_uniq (u INT NULL, w INT NULL, v VARCHAR(10), UNIQUE KEY (u, w))",
        "INSERT INTO keyless VALUES (1, 'x', 0.1), (1, 'x', 0.1), (1, 'X', 0.1), (1, 'x ', 0.1), (2, NULL, NULL)",
        "DELETE FROM keyless WHERE a = 1 AND BINARY b = 'x' LIMIT 1",  # one of two identical rows
        "UPDATE keyless SET a = 5 WHERE BINARY b = 'X'",  # not the 'x' rows, though 'X' = 'x' in _ci
        "UPDATE keyless SET a = 6 WHERE BINARY b = 'x ' LIMIT 1",
        "UPDATE keyless SET b = 'n' WHERE b IS NULL",
        "INSERT INTO uniq VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "UPDATE uniq SET u = 10 WHERE u = 1",
        "DELETE FROM uniq WHERE u = 2",
        "INSERT INTO nullable_uniq VALUES (NULL, NULL, 'n1'), (NULL, NULL, 'n1'), (1, NULL, 'x'), (1, 2, 'y')",
        "DELETE FROM nullable_uniq WHERE u IS NULL LIMIT 1",
        "UPDATE nullable_uniq SET v = 'z' WHERE u = 1 AND w = 2",
        "UPDATE nullable_uniq SET w = 3 WHERE u = 1 AND w IS NULL",
        database=schema,
    )
    end = position_now(source)
    with applier_module.Applier(endpoint_of(target), new_task(), selection_of(schema)) as applier:
        replicate(source, applier, start, selection_of(schema), end)
    assert_same_schema(source, target, schema, schema)
    assert len(rows_checksum(target, schema, "keyless")) == 4


LARGE_TABLE = "(id INT PRIMARY KEY, k INT, j INT, c VARCHAR(20) CHARACTER SET utf8mb4, e ENUM('a','b'))"


def large_transaction(source: servers.MariadbServer, schema: str) -> None:
    execute(
        source,
        "BEGIN",
        "INSERT INTO t SELECT seq, seq, -seq, CONCAT('é', seq), IF(seq % 2, 'a', 'b') FROM seq_1_to_300",
        "UPDATE t SET k = k + 1, c = CONCAT(c, 'ü'), e = 'b' WHERE id % 3 = 0",
        "DELETE FROM t WHERE id % 7 = 0",
        "COMMIT",
        database=schema,
    )


@pytest.mark.parametrize(
    ("target_table", "replayed"),
    [
        pytest.param(LARGE_TABLE, 100 + 42, id="the same table: replayed"),
        pytest.param(LARGE_TABLE + " ENGINE=Aria", 0, id="an engine that does not roll back"),
        pytest.param(
            "(id INT PRIMARY KEY, k BIGINT, j INT, c VARCHAR(20) CHARACTER SET utf8mb4, e ENUM('a','b'))",
            0,
            id="another type: refused by the target",
        ),
        pytest.param(
            "(id INT PRIMARY KEY, j INT, k INT, c VARCHAR(20) CHARACTER SET utf8mb4, e ENUM('a','b'))",
            0,
            id="another column order",
        ),
        pytest.param(
            "(id INT PRIMARY KEY, k INT, j INT, c VARCHAR(80) CHARACTER SET latin1, e ENUM('a','b'))",
            0,
            id="another character set",
        ),
        pytest.param(
            "(id INT PRIMARY KEY, k INT, j INT, c VARCHAR(20) CHARACTER SET utf8mb4, e ENUM('b','a'))",
            0,
            id="other enum members",
        ),
        pytest.param(
            "(id INT PRIMARY KEY, k INT UNSIGNED, j INT, c VARCHAR(20) CHARACTER SET utf8mb4, e ENUM('a','b'))",
            0,
            id="another sign",
        ),
    ],
)
def test_a_large_transactions_rows_go_as_the_binlog_has_them_only_where_the_target_table_takes_them_so(
    source: servers.MariadbServer,
    target: servers.MariadbServer,
    schema: str,
    target_table: str,
    replayed: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A replica matches columns by position and trusts the table map for what they hold: given to a table that
    differs, the row images would land in the wrong columns, in the wrong character set or as other members.
    Such tables get the rows as SQL, by name; so does a target that refuses the statement (a wider type)."""
    monkeypatch.setattr(spill, "SPILL_ROWS", 7)
    renamed = schema + "_target"  # and under another name: the table map names the target's table
    execute(source, f"CREATE TABLE t {LARGE_TABLE}", database=schema)
    execute(target, f"CREATE DATABASE `{renamed}`", f"CREATE TABLE `{renamed}`.t {target_table}")
    start = position_now(source)
    large_transaction(source, schema)
    selection = selection_of(schema, renames={schema: renamed})
    with applier_module.Applier(endpoint_of(target), new_task(), selection) as applier:
        replicate(source, applier, start, selection, position_now(source))
    select = "SELECT id, k, j, c, e FROM `{}`.t ORDER BY id"
    assert query(target, select.format(renamed)) == query(source, select.format(schema))
    metrics = applier.metrics
    assert (metrics.inserts, metrics.updates, metrics.deletes) == (300, 100, 42)
    assert metrics.replayed == replayed


def test_a_target_that_converts_column_types_in_replication_gets_large_transactions_as_sql(
    source: servers.MariadbServer,
    target: servers.MariadbServer,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With slave_type_conversions set, a target would convert the values of a column of another type instead of
    refusing them: nothing is replayed there, and the log says why."""
    caplog.set_level(logging.INFO, logger=applier_module.__name__)
    monkeypatch.setattr(spill, "SPILL_ROWS", 7)
    execute(source, f"CREATE TABLE t {LARGE_TABLE}", database=schema)
    execute(target, f"CREATE DATABASE `{schema}`", f"CREATE TABLE `{schema}`.t {LARGE_TABLE}")
    start = position_now(source)
    large_transaction(source, schema)
    execute(target, "SET GLOBAL slave_type_conversions = 'ALL_NON_LOSSY'")
    try:
        with applier_module.Applier(endpoint_of(target), new_task(), selection_of(schema)) as applier:
            replicate(source, applier, start, selection_of(schema), position_now(source))
    finally:
        execute(target, "SET GLOBAL slave_type_conversions = ''")
    assert_same_schema(source, target, schema, schema)
    assert applier.metrics.replayed == 0 and applier.metrics.rows == 442
    assert "slave_type_conversions (ALL_NON_LOSSY)" in caplog.text


def test_a_large_transaction_goes_as_sql_a_part_at_a_time_to_a_target_user_who_may_not_replay_binlog_events(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BINLOG statements need BINLOG REPLAY (or SUPER): without it the transaction goes as SQL, never held whole."""
    monkeypatch.setattr(spill, "SPILL_ROWS", 7)
    monkeypatch.setattr(applier_module, "MAX_QUERY_CHARS", 2_000)
    sent: list[int] = []  # the characters of SQL of each _run call: what is held at once
    run = applier_module.Applier._run

    def recording_run(self: applier_module.Applier, conn: Any, statements: list[str], *expected: Any) -> None:
        if not statements[0].startswith("BINLOG"):
            sent.append(sum(map(len, statements)))
        run(self, conn, statements, *expected)

    monkeypatch.setattr(applier_module.Applier, "_run", recording_run)
    user = f"no_replay_{schema}"
    execute(
        target,
        f"CREATE USER '{user}'@'%' IDENTIFIED BY 'Pw-1234567'",
        f"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX ON *.* TO '{user}'@'%'",
    )
    execute(source, f"CREATE TABLE t {LARGE_TABLE}", database=schema)
    execute(target, f"CREATE DATABASE `{schema}`", f"CREATE TABLE `{schema}`.t {LARGE_TABLE}")
    start = position_now(source)
    large_transaction(source, schema)
    endpoint = Endpoint(target.host, target.port, user, "Pw-1234567")
    with applier_module.Applier(endpoint, new_task(), selection_of(schema)) as applier:
        replicate(source, applier, start, selection_of(schema), position_now(source))
    assert_same_schema(source, target, schema, schema)
    assert applier.metrics.replayed == 0 and applier.metrics.rows == 442
    assert sum(sent) > 4 * 2_000 and max(sent) < 2 * 2_000


@pytest.mark.parametrize("kill", [False, True], ids=["crashed before its commit", "its session killed"])
def test_replayed_large_transactions_apply_exactly_once_across_crashes(
    source: servers.MariadbServer,
    target: servers.MariadbServer,
    schema: str,
    kill: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The BINLOG statements run in the applier's target transaction: they commit with the checkpoint, or not at all."""
    monkeypatch.setattr(spill, "SPILL_ROWS", 7)
    execute(source, f"CREATE TABLE t {LARGE_TABLE}", database=schema)
    execute(target, f"CREATE DATABASE `{schema}`", f"CREATE TABLE `{schema}`.t {LARGE_TABLE}")
    selection = selection_of(schema)
    task = new_task()
    start = position_now(source)
    large_transaction(source, schema)
    execute(
        source, "BEGIN", "UPDATE t SET j = j * 2, e = 'a'", "DELETE FROM t WHERE id % 5 = 0", "COMMIT", database=schema
    )
    end = position_now(source)
    holder: dict[str, applier_module.Applier] = {}

    def kill_session() -> None:
        execute(target, f"KILL {holder['applier'].connection_id}")

    crashed = applier_module.Applier(
        endpoint_of(target), task, selection, fault=crash_at("before_commit", 2, kill_session if kill else None)
    )
    holder["applier"] = crashed
    with pytest.raises(errors.ReplicationError):
        replicate(source, crashed, start, selection, end)
    crashed.close()
    assert crashed.metrics.replayed == 142  # the first transaction's, committed
    with applier_module.Applier(endpoint_of(target), task, selection) as resumed:
        replicate(source, resumed, resumed.load_checkpoint() or start, selection, end)
    assert_same_schema(source, target, schema, schema)
    assert resumed.metrics.replayed > 0
    assert applier_module.load_checkpoint(endpoint_of(target), task) == end


def test_a_source_without_binlog_checksums_replicates_and_replays_alike(
    target: servers.MariadbServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With binlog_checksum=NONE the events, and so the replayed ones, end without a CRC32."""
    monkeypatch.setattr(spill, "SPILL_ROWS", 7)
    with servers.mariadb_server(
        tmp_path / "no-checksums", binlog=True, server_id=31, options=["--binlog-checksum=NONE"]
    ) as source:
        assert query(source, "SELECT @@binlog_checksum") == [("NONE",)]
        schema = "no_checksums"
        execute(source, f"CREATE DATABASE {schema}", f"CREATE TABLE {schema}.t {LARGE_TABLE}")
        execute(target, f"CREATE DATABASE {schema}", f"CREATE TABLE {schema}.t {LARGE_TABLE}")
        start = position_now(source)
        large_transaction(source, schema)
        execute(source, f"INSERT INTO {schema}.t VALUES (1000, 1, 2, 'small', 'a')")
        with applier_module.Applier(endpoint_of(target), new_task(), selection_of(schema)) as applier:
            replicate(source, applier, start, selection_of(schema), position_now(source))
        assert applier.metrics.replayed == 142
        assert_same_schema(source, target, schema, schema)


def test_a_target_that_logs_a_binlog_logs_the_replayed_rows_as_its_own(
    source: servers.MariadbServer, schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What replicates from the target (a replica of it, or another task) sees the rows, under the target's server
    id, as it sees those written by SQL."""
    monkeypatch.setattr(spill, "SPILL_ROWS", 7)
    execute(source, f"CREATE TABLE t {LARGE_TABLE}", database=schema)
    start = position_now(source)
    large_transaction(source, schema)
    with servers.mariadb_server(tmp_path / "logging-target", binlog=True, server_id=21) as target:
        execute(target, f"CREATE DATABASE `{schema}`", f"CREATE TABLE `{schema}`.t {LARGE_TABLE}")
        logged_from = position_now(target)
        with applier_module.Applier(endpoint_of(target), new_task(), selection_of(schema)) as applier:
            replicate(source, applier, start, selection_of(schema), position_now(source))
        assert applier.metrics.replayed == 142
        assert_same_schema(source, target, schema, schema)
        with streaming.stream(endpoint_of(target), logged_from, selection_of(schema), new_server_id()) as stream:
            (logged,) = collect(stream, 1)
        kinds = [change.kind for change in logged.changes if isinstance(change, RowChange)]
        assert (kinds.count("insert"), kinds.count("update"), kinds.count("delete")) == (300, 100, 42)
        events = query(target, f"SHOW BINLOG EVENTS IN '{logged_from.file}' FROM {logged_from.offset}")
        assert {event[2] for event in events} >= {"Write_rows_v1", "Update_rows_v1", "Delete_rows_v1"}, events
        assert {event[3] for event in events} == {21}, events  # Server_id


def test_ddl_during_replication_keeps_the_target_equal(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    renamed = schema + "_target"
    make_target_schema(target, renamed)
    selection = selection_of(schema, renames={schema: renamed})
    start = position_now(source)
    execute(
        source,
        "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10))",
        "INSERT INTO a VALUES (1, 'one'), (2, 'two')",
        f"ALTER TABLE `{schema}`.a ADD COLUMN extra INT DEFAULT 7, ADD INDEX (v)",
        "INSERT INTO a VALUES (3, 'three', 3)",
        "UPDATE a SET extra = 9 WHERE id = 1",
        "CREATE TABLE b LIKE a",
        "INSERT INTO b SELECT * FROM a",
        "RENAME TABLE a TO a2",
        "INSERT INTO a2 VALUES (4, 'four', 4)",
        "TRUNCATE TABLE b",
        "INSERT INTO b VALUES (9, 'nine', 9)",
        "CREATE TABLE gone (id INT PRIMARY KEY)",
        "INSERT INTO gone VALUES (1)",
        "DROP TABLE gone",
        "ALTER TABLE a2 DROP COLUMN extra, MODIFY v VARCHAR(20) COMMENT 'schema.a2 stays as it is'",
        "CREATE INDEX iv ON b (v)",
        "INSERT INTO a2 VALUES (5, 'five')",
        database=schema,
    )
    end = position_now(source)
    with applier_module.Applier(endpoint_of(target), new_task(), selection) as applier:
        replicate(source, applier, start, selection, end)
        assert applier.metrics.ddl == 9
    assert_same_schema(source, target, schema, renamed)


def crash_workload(schema: str) -> list[str]:
    return [
        "CREATE TABLE pk (id INT PRIMARY KEY, v INT)",
        "CREATE TABLE nokey (a INT, b INT)",
        *[f"INSERT INTO pk VALUES ({i}, {i})" for i in range(1, 41)],
        *[f"INSERT INTO nokey VALUES ({i % 5}, 1)" for i in range(40)],  # duplicates on purpose
        "UPDATE pk SET v = v + 100 WHERE id % 2 = 0",
        "UPDATE nokey SET b = 2 WHERE a = 1 LIMIT 1",
        "ALTER TABLE pk ADD COLUMN w INT DEFAULT 1",
        *[f"INSERT INTO pk VALUES ({i}, {i}, {i})" for i in range(41, 61)],
        "DELETE FROM nokey WHERE a = 2 LIMIT 1",
        "UPDATE pk SET id = id + 1000 WHERE id > 50",
        "DELETE FROM pk WHERE id < 10",
        *[f"INSERT INTO nokey VALUES ({i % 3}, 3)" for i in range(20)],
    ]


class CrashError(Exception):
    """Injected: the applier process dies here."""


def crash_at(point: str, after: int, kill: Callable[[], None] | None = None) -> Callable[[str], None]:
    """A fault hook that crashes the `after`-th time `point` is reached (by raising, or by killing the session)."""
    seen = itertools.count(1)

    def fault(reached: str) -> None:
        if reached == point and next(seen) == after:
            if kill is None:
                raise CrashError(point)
            kill()

    return fault


@pytest.mark.parametrize(
    ("point", "after", "kill"),
    [
        ("before_commit", 3, False),  # rows written, checkpoint written, not committed
        ("before_commit", 10, True),  # the session is killed mid-transaction
        ("before_ddl", 1, False),  # marker committed, DDL not run
        ("after_ddl", 1, False),  # DDL done (not transactional), checkpoint not past it
        ("after_ddl", 2, True),
    ],
)
def test_exactly_once_across_crashes(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str, point: str, after: int, kill: bool
) -> None:
    make_target_schema(target, schema)
    selection = selection_of(schema)
    task = new_task()
    start = position_now(source)
    execute(source, *crash_workload(schema), database=schema)
    end = position_now(source)

    holder: dict[str, applier_module.Applier] = {}

    def kill_session() -> None:
        execute(target, f"KILL {holder['applier'].connection_id}")

    fault = crash_at(point, after, kill_session if kill else None)
    crashed = applier_module.Applier(endpoint_of(target), task, selection, fault=fault)
    holder["applier"] = crashed
    with pytest.raises(errors.ReplicationError) as caught:
        replicate(source, crashed, start, selection, end, max_rows=7)
    assert caught.value.retriable == kill
    crashed.close()

    # A new process: resume from the checkpoint the target holds.
    resumed = applier_module.Applier(endpoint_of(target), task, selection)
    with resumed:
        checkpoint = resumed.load_checkpoint()
        replicate(source, resumed, checkpoint or start, selection, end, max_rows=7)
    assert_same_schema(source, target, schema, schema)
    count = f"SELECT COUNT(*) FROM `{schema}`.nokey"
    assert query(target, count) == query(source, count)
    assert applier_module.load_checkpoint(endpoint_of(target), task) == end


@pytest.mark.parametrize("engine", ["Aria", "MyISAM"])
@pytest.mark.parametrize("after", [1, 2, 3])
def test_a_non_transactional_tables_changes_kept_through_a_crash_are_met_again_idempotently(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str, engine: str, after: int
) -> None:
    """An Aria or MyISAM table on the target keeps what a crashed target transaction wrote to it, though the checkpoint
    rolled back: the resumed applier offers those changes again, and must not fail on their rows (a duplicate key)
    nor count them as divergence (a row already gone)."""
    make_target_schema(target, schema)
    table = f"CREATE TABLE nt (id INT PRIMARY KEY, v INT) ENGINE={engine}"
    execute(source, table, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", database=schema)
    execute(target, table, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", database=schema)
    selection = selection_of(schema)
    task = new_task()
    start = position_now(source)
    for n in range(1, 5):
        execute(
            source,
            f"INSERT INTO nt VALUES ({n}, {n}), ({n + 10}, {n})",
            f"INSERT INTO t VALUES ({n}, {n})",
            f"UPDATE nt SET v = v + 100, id = id + 100 WHERE id = {n + 10}",
            f"DELETE FROM nt WHERE id = {n}",
            database=schema,
        )
    end = position_now(source)
    crashed = applier_module.Applier(endpoint_of(target), task, selection, fault=crash_at("before_commit", after))
    with pytest.raises(errors.ReplicationError, match="CrashError"):
        replicate(source, crashed, start, selection, end, max_rows=4)
    crashed.close()
    with applier_module.Applier(endpoint_of(target), task, selection) as resumed:
        replicate(source, resumed, resumed.load_checkpoint() or start, selection, end, max_rows=4)
    assert_same_schema(source, target, schema, schema)


def test_transactions_offered_again_are_skipped(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    make_target_schema(target, schema)
    selection = selection_of(schema)
    start = position_now(source)
    execute(source, "CREATE TABLE t (a INT)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)", database=schema)
    end = position_now(source)
    with applier_module.Applier(endpoint_of(target), new_task(), selection) as applier:
        replicate(source, applier, start, selection, end)
        with streaming.stream(endpoint_of(source), start, selection, new_server_id()) as stream:
            again = [stream.next(timeout=DEADLINE) for _ in range(3)]
        result = applier.apply([t for t in again if not isinstance(t, streaming.Heartbeat)])
        assert result.transactions == 0
    assert query(target, f"SELECT COUNT(*) FROM `{schema}`.t") == [(2,)]


def test_idempotent_mode_converges_over_a_copied_region(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    make_target_schema(target, schema)
    selection = selection_of(schema)
    execute(source, "CREATE TABLE t (id INT PRIMARY KEY, u INT, v VARCHAR(10), UNIQUE KEY (u))", database=schema)
    execute(target, "CREATE TABLE t (id INT PRIMARY KEY, u INT, v VARCHAR(10), UNIQUE KEY (u))", database=schema)
    start = position_now(source)
    execute(
        source,
        "INSERT INTO t VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 3, 'c')",
        "UPDATE t SET v = 'bb' WHERE id = 2",
        "UPDATE t SET id = 30 WHERE id = 3",
        "DELETE FROM t WHERE id = 1",
        "INSERT INTO t VALUES (1, 11, 'again')",
        database=schema,
    )
    middle = position_now(source)
    # The full copy ran somewhere in the middle: the target already holds a later state.
    execute(target, "INSERT INTO t VALUES (2, 2, 'bb'), (30, 3, 'c'), (1, 11, 'again')", database=schema)
    execute(source, "UPDATE t SET v = 'after' WHERE id = 30", "DELETE FROM t WHERE id = 2", database=schema)
    end = position_now(source)
    with applier_module.Applier(endpoint_of(target), new_task(), selection, idempotent=True) as applier:
        replicate(source, applier, start, selection, middle)
        applier.idempotent = False
        replicate(source, applier, applier.load_checkpoint() or start, selection, end)
    assert_same_schema(source, target, schema, schema)


CASCADING_TABLES = [
    "CREATE TABLE parent (id INT PRIMARY KEY)",
    "CREATE TABLE child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES parent (id) ON DELETE CASCADE)",
    "CREATE TABLE linked (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES parent (id) ON DELETE SET NULL)",
    "CREATE TABLE grandchild (id INT PRIMARY KEY, cid INT, FOREIGN KEY (cid) REFERENCES child (id) ON DELETE CASCADE)",
    "CREATE TABLE later (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES parent (id) ON DELETE CASCADE)",
    "CREATE TABLE follows (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES parent (id) ON UPDATE CASCADE)",
    "CREATE TABLE unlinked (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES parent (id) ON UPDATE SET NULL)",
]


def test_a_catch_up_runs_the_cascades_of_deletes_and_updates_on_the_children_the_copy_holds_from_before(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    """The copy was taken before the parents' deletes and key change, except `later`'s, taken after them (it holds
    a new child of a parent deleted and inserted again): the catch-up cascades into the others, not into `later`."""
    make_target_schema(target, schema)
    selection = selection_of(schema)
    before = [
        "INSERT INTO parent VALUES (1), (2), (3), (4), (5)",
        "INSERT INTO child VALUES (10, 1), (20, 2), (30, 3), (40, 4)",
        "INSERT INTO linked VALUES (10, 1), (20, 2), (30, NULL)",
        "INSERT INTO grandchild VALUES (100, 10), (200, 20), (300, 30)",
        "INSERT INTO follows VALUES (50, 5), (30, 3)",
        "INSERT INTO unlinked VALUES (50, 5), (30, 3)",
        "INSERT INTO later VALUES (10, 1), (20, 2)",
    ]
    execute(source, *CASCADING_TABLES, *before, database=schema)
    execute(target, *CASCADING_TABLES, *before[:-1], database=schema)  # the copy, taken before the changes
    start = position_now(source)
    execute(
        source,
        "DELETE FROM parent WHERE id = 1",
        "INSERT INTO parent VALUES (1)",
        "INSERT INTO later VALUES (11, 1)",
        "DELETE FROM parent WHERE id IN (2, 4)",
        "UPDATE parent SET id = 55 WHERE id = 5",
        "SET SESSION foreign_key_checks = 0",
        "DELETE FROM parent WHERE id = 3",  # the source ran no cascade: its children stay, here as there
        database=schema,
    )
    later_copied = position_now(source)
    execute(target, "INSERT INTO later VALUES (11, 1)", database=schema)  # later's copy, taken after the deletes
    copied_at = {TableRef(schema, "later"): later_copied}
    with applier_module.Applier(endpoint_of(target), new_task(), selection, copied_at=copied_at) as applier:
        applier.idempotent = True
        replicate(source, applier, start, selection, later_copied)
    assert_same_schema(source, target, schema, schema)
    assert query(target, f"SELECT id, pid FROM `{schema}`.later ORDER BY id") == [(11, 1)]
    assert query(target, f"SELECT id, pid FROM `{schema}`.child ORDER BY id") == [(30, 3)]
    assert query(target, f"SELECT id, pid FROM `{schema}`.follows ORDER BY id") == [(30, 3), (50, 55)]
    assert query(target, f"SELECT id, pid FROM `{schema}`.unlinked ORDER BY id") == [(30, 3), (50, None)]


KEYED_BY_THEIR_PARENTS = [
    "CREATE TABLE country (code CHAR(2) PRIMARY KEY)",
    "CREATE TABLE city (code CHAR(2), n INT, PRIMARY KEY (code, n),"
    " FOREIGN KEY (code) REFERENCES country (code) ON UPDATE CASCADE)",
    "CREATE TABLE street (code CHAR(2), n INT, s INT, PRIMARY KEY (code, n, s),"
    " FOREIGN KEY (code, n) REFERENCES city (code, n) ON UPDATE CASCADE)",
    "CREATE TABLE house (id INT PRIMARY KEY, code CHAR(2), n INT, s INT,"
    " FOREIGN KEY (code, n, s) REFERENCES street (code, n, s) ON UPDATE SET NULL)",
    "CREATE TABLE mail (id INT PRIMARY KEY, code CHAR(2), n INT, s INT,"
    " FOREIGN KEY (code, n, s) REFERENCES house (code, n, s) ON UPDATE CASCADE)",
]


def test_a_catch_up_runs_on_update_cascades_down_every_level_even_below_a_child_copied_after(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    """Keys made of their parents' keys: a country's new code reaches its cities, their streets, the houses on
    them (set NULL) and their mail (NULL too, through the house's key). `street`'s copy was taken after the
    change: it is left alone, and the houses below it, copied before, still change."""
    make_target_schema(target, schema)
    selection = selection_of(schema)
    before = [
        "INSERT INTO country VALUES ('AA'), ('BB')",
        "INSERT INTO city VALUES ('AA', 1), ('AA', 2), ('BB', 1)",
        "INSERT INTO street VALUES ('AA', 1, 1), ('AA', 2, 1), ('BB', 1, 1)",
        "INSERT INTO house VALUES (1, 'AA', 1, 1), (2, 'AA', 2, 1), (3, 'BB', 1, 1)",
        "INSERT INTO mail VALUES (1, 'AA', 1, 1), (3, 'BB', 1, 1)",
    ]
    execute(source, *KEYED_BY_THEIR_PARENTS, *before, database=schema)
    execute(target, *KEYED_BY_THEIR_PARENTS, *before, database=schema)  # the copy, taken before the change
    start = position_now(source)
    execute(source, "UPDATE country SET code = 'ZZ' WHERE code = 'AA'", database=schema)
    street_copied = position_now(source)
    # street's copy, taken after the change
    execute(target, "SET SESSION foreign_key_checks = 0", "DELETE FROM street", database=schema)
    execute(
        target,
        "SET SESSION foreign_key_checks = 0",
        "INSERT INTO street VALUES ('ZZ', 1, 1), ('ZZ', 2, 1), ('BB', 1, 1)",
        database=schema,
    )
    copied_at = {TableRef(schema, "street"): street_copied}
    with applier_module.Applier(endpoint_of(target), new_task(), selection, copied_at=copied_at) as applier:
        applier.idempotent = True
        replicate(source, applier, start, selection, street_copied)
    assert query(target, f"SELECT id, code, n, s FROM `{schema}`.house ORDER BY id") == [
        (1, None, None, None),
        (2, None, None, None),
        (3, "BB", 1, 1),
    ]
    assert query(target, f"SELECT id, code, n, s FROM `{schema}`.mail ORDER BY id") == [
        (1, None, None, None),
        (3, "BB", 1, 1),
    ]
    assert_same_schema(source, target, schema, schema)


def xa_workload(source: servers.MariadbServer, schema: str) -> None:
    """Prepared XA transactions interleaved with plain ones, committed, rolled back, and an xid used twice."""
    execute(source, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", database=schema)
    a, b = f"'{schema}-a'", f"'{schema}-b'"
    prepare_xa(
        source, a, "INSERT INTO t VALUES (1, 1), (2, 2), (3, 3)", "UPDATE t SET v = 20 WHERE id = 2", database=schema
    )
    execute(source, "INSERT INTO t VALUES (10, 10)", database=schema)
    prepare_xa(source, b, "UPDATE t SET v = 11 WHERE id = 10", "INSERT INTO t VALUES (11, 11)", database=schema)
    execute(source, f"XA COMMIT {a}", "INSERT INTO t VALUES (20, 20)", f"XA ROLLBACK {b}", database=schema)
    prepare_xa(source, a, "DELETE FROM t WHERE id = 3", "INSERT INTO t VALUES (30, 30)", database=schema)
    execute(source, "INSERT INTO t VALUES (40, 40)", f"XA COMMIT {a}", database=schema)


def test_xa_transactions_apply_at_their_commit_and_never_after_a_rollback(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    make_target_schema(target, schema)
    selection = selection_of(schema)
    task = new_task()
    start = position_now(source)
    execute(source, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", database=schema)
    prepared = f"'{schema}-p'"
    prepare_xa(source, prepared, "INSERT INTO t VALUES (1, 1)", database=schema)
    execute(source, "INSERT INTO t VALUES (2, 2)", database=schema)
    middle = position_now(source)
    with applier_module.Applier(endpoint_of(target), task, selection) as applier:
        replicate(source, applier, start, selection, middle)
        # Prepared only: not on the target yet (as on the source), but kept there.
        assert query(target, f"SELECT id FROM `{schema}`.t") == [(2,)]
        assert kept_xa(target, task) == [(f"X'{(schema + '-p').encode().hex()}',X'',1",)]
        execute(source, f"XA COMMIT {prepared}", database=schema)
        end = position_now(source)
        replicate(source, applier, middle, selection, end)
        assert applier.metrics.rows == 2
    assert query(target, f"SELECT id FROM `{schema}`.t ORDER BY id") == [(1,), (2,)]
    assert kept_xa(target, task) == []

    xa_start = position_now(source)
    schema_b = schema + "_b"
    execute(source, f"CREATE DATABASE `{schema_b}`")  # created on the target by the stream
    xa_workload(source, schema_b)
    xa_end = position_now(source)
    with applier_module.Applier(endpoint_of(target), new_task(), selection_of(schema_b)) as applier:
        replicate(source, applier, xa_start, selection_of(schema_b), xa_end)
    assert_same_schema(source, target, schema_b, schema_b)
    assert query(target, f"SELECT id, v FROM `{schema_b}`.t ORDER BY id") == [
        (1, 1),
        (2, 20),
        (10, 10),
        (20, 20),
        (30, 30),
        (40, 40),
    ]


def test_a_copy_taken_between_an_xa_prepare_and_its_commit_gets_its_rows_from_the_commit(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    """`t` was copied whole in a snapshot taken while `late` was prepared (its rows not in the copy) and after
    `early` was committed (its rows in the copy): the catch-up applies `late` at its commit, and `early` not."""
    make_target_schema(target, schema)
    selection = selection_of(schema)
    execute(source, "CREATE TABLE t (v INT)", database=schema)  # no key: a row applied twice would show
    start = position_now(source)
    early, late = f"'{schema}-early'", f"'{schema}-late'"
    prepare_xa(source, early, "INSERT INTO t VALUES (1)", database=schema)
    prepare_xa(source, late, "INSERT INTO t VALUES (2)", database=schema)
    execute(source, f"XA COMMIT {early}", database=schema)
    copied = position_now(source)
    execute(target, "CREATE TABLE t (v INT)", "INSERT INTO t VALUES (1)", database=schema)  # the copy, at `copied`
    execute(source, f"XA COMMIT {late}", database=schema)
    end = position_now(source)
    copied_at = {TableRef(schema, "t"): copied}
    with applier_module.Applier(endpoint_of(target), new_task(), selection, copied_at=copied_at) as applier:
        applier.idempotent = True
        replicate(source, applier, start, selection, copied)
        applier.idempotent = False
        replicate(source, applier, copied, selection, end)
    assert query(target, f"SELECT v FROM `{schema}`.t ORDER BY v") == [(1,), (2,)]


def test_every_type_round_trips_exactly_through_an_xa_transaction(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    """The prepared changes wait on the target as text: every value must come back exactly."""
    make_target_schema(target, schema)
    start = position_now(source)
    execute(source, TYPES_TABLE, database=schema)
    xid = f"'{schema}'"
    prepare_xa(
        source,
        xid,
        "SET time_zone = '+05:30'",
        *[f"INSERT INTO types ({COLUMNS}) VALUES ({row})" for row in EDGE_ROWS],
        "UPDATE types SET f = f / 3, vb = REVERSE(vb), s = 'w', j = '{\"x\": 1}' WHERE id <= 3",
        "UPDATE types SET pt = POINT(1.5, -2) WHERE id IN (1, 2)",
        "DELETE FROM types WHERE id = 4",
        # Zero and partly zero dates, an ENUM's error value.
        "SET sql_mode = ''",
        "INSERT INTO types (dt, dtm, ts, e) "
        "VALUES ('0000-00-00', '2021-04-00 10:00:00', '0000-00-00 00:00:00', 'not a member')",
        database=schema,
    )
    execute(source, f"XA COMMIT {xid}")
    end = position_now(source)
    with applier_module.Applier(endpoint_of(target), new_task(), selection_of(schema)) as applier:
        replicate(source, applier, start, selection_of(schema), end)
    assert_same_schema(source, target, schema, schema)
    assert len(rows_checksum(target, schema, "types")) == 4


def test_a_large_xa_transaction_is_kept_in_parts_and_read_back_into_a_temporary_file(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither the statements keeping a large prepared transaction nor its changes read back at the XA COMMIT are
    ever held whole in memory."""
    monkeypatch.setattr(spill, "SPILL_ROWS", 100)
    monkeypatch.setattr(applier_module, "MAX_QUERY_CHARS", 40_000)  # parts of 10,000 characters
    loaded: list[Sequence[object]] = []
    load = prepared_xa.load

    def recording_load(*args: Any) -> Sequence[object]:
        loaded.append(load(*args))
        return loaded[-1]

    monkeypatch.setattr(prepared_xa, "load", recording_load)
    make_target_schema(target, schema)
    selection = selection_of(schema)
    task = new_task()
    start = position_now(source)
    execute(source, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))", database=schema)
    xid = f"'{schema}'"
    prepare_xa(
        source,
        xid,
        "INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_2000",
        "UPDATE t SET v = CONCAT(v, '-u') WHERE id % 3 = 0",
        "DELETE FROM t WHERE id % 7 = 0",
        database=schema,
    )
    prepared = position_now(source)
    execute(source, f"XA COMMIT {xid}")
    end = position_now(source)
    with applier_module.Applier(endpoint_of(target), task, selection) as applier:
        replicate(source, applier, start, selection, prepared)
        parts = query(target, "SELECT COUNT(*) FROM opendrs_meta.prepared_xa WHERE task_id = %s", (task,))
        assert parts[0][0] > 10
        replicate(source, applier, prepared, selection, end)
    assert [type(changes) for changes in loaded] == [spill.SpilledChanges]
    assert len(loaded[0]) == 2000 + 666 + 285
    assert_same_schema(source, target, schema, schema)
    assert kept_xa(target, task) == []


@pytest.mark.parametrize(("after", "kill"), [(2, False), (3, True), (4, False), (5, False), (6, True), (7, False)])
def test_xa_transactions_apply_exactly_once_across_crashes(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str, after: int, kill: bool
) -> None:
    """A crash at the n-th target commit (the XA PREPAREs, COMMITs and ROLLBACK among them), then a resume."""
    make_target_schema(target, schema)
    selection = selection_of(schema)
    task = new_task()
    start = position_now(source)
    xa_workload(source, schema)
    end = position_now(source)
    holder: dict[str, applier_module.Applier] = {}

    def kill_session() -> None:
        execute(target, f"KILL {holder['applier'].connection_id}")

    crashed = applier_module.Applier(
        endpoint_of(target), task, selection, fault=crash_at("before_commit", after, kill_session if kill else None)
    )
    holder["applier"] = crashed
    with pytest.raises(errors.ReplicationError):
        replicate(source, crashed, start, selection, end, max_rows=1)
    crashed.close()
    with applier_module.Applier(endpoint_of(target), task, selection) as resumed:
        replicate(source, resumed, resumed.load_checkpoint() or start, selection, end, max_rows=1)
    assert_same_schema(source, target, schema, schema)
    assert kept_xa(target, task) == []


def test_a_row_missing_on_the_target_is_divergence(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    make_target_schema(target, schema)
    selection = selection_of(schema)
    start = position_now(source)
    execute(source, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1)", database=schema)
    middle = position_now(source)
    with applier_module.Applier(endpoint_of(target), new_task(), selection) as applier:
        replicate(source, applier, start, selection, middle)
        execute(target, "DELETE FROM t", database=schema)
        execute(source, "UPDATE t SET v = 2 WHERE id = 1", database=schema)
        with pytest.raises(errors.TargetDivergedError):
            replicate(source, applier, middle, selection, position_now(source))


def test_lag_metrics(source: servers.MariadbServer, target: servers.MariadbServer, schema: str) -> None:
    make_target_schema(target, schema)
    selection = selection_of(schema)
    start = position_now(source)
    execute(source, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)", database=schema)
    end = position_now(source)
    with applier_module.Applier(endpoint_of(target), new_task(), selection) as applier:
        replicate(source, applier, start, selection, end)
        metrics = applier.metrics
        assert metrics.inserts == 1 and metrics.ddl == 1 and metrics.rows == 1
        assert metrics.last_commit_time is not None
        wait_until(lambda: metrics.last_applied_at is not None, "an applied transaction")
        assert metrics.last_applied_at is not None and metrics.last_applied_at >= metrics.last_commit_time


def test_a_statement_larger_than_the_targets_max_allowed_packet_fails_naming_it_and_many_small_rows_apply(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    """The target drops a connection that sends a packet over its max_allowed_packet: a row that cannot fit used to
    end in retries of "server has gone away" until the retry window closed."""
    make_target_schema(target, schema)
    selection = selection_of(schema)
    start = position_now(source)
    execute(
        source,
        "CREATE TABLE t (id INT PRIMARY KEY, b BLOB)",
        "BEGIN",
        *[f"INSERT INTO t VALUES ({n}, REPEAT('s', 100))" for n in range(1, 3001)],  # 300 KB of small rows
        "COMMIT",
        database=schema,
    )
    small_rows = position_now(source)
    execute(source, "INSERT INTO t VALUES (0, REPEAT('x', 60000))", database=schema)  # 120 KB as a hex literal
    (previous,) = query(target, "SELECT @@GLOBAL.max_allowed_packet")[0]
    execute(target, "SET GLOBAL max_allowed_packet = 65536")  # for the applier's connection, opened next
    try:
        with applier_module.Applier(endpoint_of(target), new_task(), selection) as applier:
            replicate(source, applier, start, selection, small_rows)
            with pytest.raises(errors.FatalError, match="exceeds the target's max_allowed_packet") as too_large:
                replicate(source, applier, small_rows, selection, position_now(source))
    finally:
        execute(target, f"SET GLOBAL max_allowed_packet = {previous}")
    assert not too_large.value.retriable
    assert "SET GLOBAL max_allowed_packet = 1048576" in str(too_large.value), too_large.value
    assert query(target, f"SELECT COUNT(*), SUM(LENGTH(b)) FROM `{schema}`.t") == [(3000, 300000)]


def test_a_table_made_system_versioned_during_the_sync_fails_saying_so(
    source: servers.MariadbServer, target: servers.MariadbServer, schema: str
) -> None:
    """Its history rows used to be applied as rows of their own: the task failed on a duplicate key."""
    make_target_schema(target, schema)
    selection = selection_of(schema)
    start = position_now(source)
    execute(source, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1)", database=schema)
    execute(source, "ALTER TABLE t ADD SYSTEM VERSIONING", "UPDATE t SET v = 2 WHERE id = 1", database=schema)
    refused = pytest.raises(errors.UnsupportedEventError, match=f"table {schema}.t is system-versioned")
    with applier_module.Applier(endpoint_of(target), new_task(), selection) as applier, refused:
        replicate(source, applier, start, selection, position_now(source))
    assert query(target, f"SELECT id, v FROM `{schema}`.t") == [(1, 1)]

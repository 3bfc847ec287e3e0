"""Binlog streaming against a real MariaDB source: positions, grouping, order, filtering, DDL, faults."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from opendrs.connectors.mysql import errors, positions, snapshot, streaming
from opendrs.domain.replication import (
    BinlogPosition,
    Row,
    RowChange,
    SchemaChange,
    Selection,
    TableRef,
    Transaction,
    XaStep,
    position_key,
    xa_id,
)
from tests import servers
from tests.integration.mysql.streaming_fixtures import (
    DEADLINE,
    assert_at_end,
    collect,
    connect,
    endpoint_of,
    execute,
    new_server_id,
    own_source,
    position_now,
    purge_binlogs_before,
    schema,
    selection_of,
    source,
    wait_until,
)

__all__ = ["own_source", "schema", "source"]  # fixtures used by name below


def open_stream(
    server: servers.MariadbServer, start: BinlogPosition, selection: Selection, heartbeat_interval: float = 1.0
) -> streaming.BinlogStream:
    interval = heartbeat_interval
    return streaming.stream(endpoint_of(server), start, selection, new_server_id(), heartbeat_interval=interval)


def tables_in(transaction: Transaction) -> list[TableRef]:
    return [c.table for c in transaction.changes if isinstance(c, RowChange)]


def rows_of(transaction: Transaction) -> list[tuple[str, Row | None, Row | None]]:
    return [(c.kind, c.before, c.after) for c in transaction.changes if isinstance(c, RowChange)]


def test_starts_exactly_at_the_position_and_ends_where_the_source_is(
    source: servers.MariadbServer, schema: str
) -> None:
    execute(source, f"CREATE TABLE `{schema}`.t (id INT PRIMARY KEY, v VARCHAR(10))")
    execute(source, f"INSERT INTO `{schema}`.t VALUES (1, 'before')")
    start = position_now(source)
    execute(source, f"INSERT INTO `{schema}`.t VALUES (2, 'after')", f"INSERT INTO `{schema}`.t VALUES (3, 'later')")
    end = position_now(source)
    with open_stream(source, start, selection_of(schema)) as stream:
        first, second = collect(stream, 2)
    assert rows_of(first) == [("insert", None, {"id": 2, "v": "after"})]
    assert rows_of(second) == [("insert", None, {"id": 3, "v": "later"})]
    assert second.end == end  # file, offset and GTID after the last commit
    assert_at_end(source, second.end)
    assert first.end < second.end
    assert abs(second.commit_time - time.time()) < 60

    # Resuming from a transaction's end gives exactly the ones after it.
    with open_stream(source, first.end, selection_of(schema)) as stream:
        (again,) = collect(stream, 1)
    assert again == second


def test_transactions_come_whole_in_commit_order(source: servers.MariadbServer, schema: str) -> None:
    execute(source, f"CREATE TABLE `{schema}`.t (id INT PRIMARY KEY, v INT)")
    start = position_now(source)
    one, two = connect(source), connect(source)
    try:
        with one.cursor() as a, two.cursor() as b:
            a.execute("BEGIN")
            a.execute(f"INSERT INTO `{schema}`.t VALUES (1, 1)")
            b.execute("BEGIN")
            b.execute(f"INSERT INTO `{schema}`.t VALUES (2, 2)")
            b.execute("COMMIT")  # commits first: streamed first
            a.execute(f"UPDATE `{schema}`.t SET v = 10 WHERE id = 1")
            a.execute(f"INSERT INTO `{schema}`.t VALUES (3, 3), (4, 4)")
            a.execute(f"DELETE FROM `{schema}`.t WHERE id = 3")
            a.execute("COMMIT")
    finally:
        one.close()
        two.close()
    with open_stream(source, start, selection_of(schema)) as stream:
        first, second = collect(stream, 2)
    assert rows_of(first) == [("insert", None, {"id": 2, "v": 2})]
    assert rows_of(second) == [
        ("insert", None, {"id": 1, "v": 1}),
        ("update", {"id": 1, "v": 1}, {"id": 1, "v": 10}),
        ("insert", None, {"id": 3, "v": 3}),
        ("insert", None, {"id": 4, "v": 4}),
        ("delete", {"id": 3, "v": 3}, None),
    ]


def test_a_large_transaction_is_one_transaction(source: servers.MariadbServer, schema: str) -> None:
    execute(source, f"CREATE TABLE `{schema}`.t (id INT PRIMARY KEY, v VARCHAR(40))")
    start = position_now(source)
    execute(source, "INSERT INTO t SELECT seq, CONCAT('row ', seq) FROM seq_1_to_50000", database=schema)
    with open_stream(source, start, selection_of(schema)) as stream:
        (big,) = collect(stream, 1)
    assert len(big.changes) == 50000
    assert [c.after["id"] for c in big.changes if isinstance(c, RowChange) and c.after] == list(range(1, 50001))
    assert_at_end(source, big.end)


def test_only_selected_tables_are_streamed(source: servers.MariadbServer, schema: str) -> None:
    other = schema + "_other"
    execute(source, f"CREATE DATABASE `{other}`")
    for db in (schema, other):
        execute(source, f"CREATE TABLE `{db}`.a (id INT PRIMARY KEY)", f"CREATE TABLE `{db}`.b (id INT PRIMARY KEY)")
    start = position_now(source)
    execute(
        source,
        "BEGIN",
        f"INSERT INTO `{other}`.a VALUES (1)",
        f"INSERT INTO `{schema}`.a VALUES (1)",
        f"INSERT INTO `{schema}`.b VALUES (1)",
        "COMMIT",
        f"INSERT INTO `{other}`.a VALUES (2)",
        f"INSERT INTO `{schema}`.a VALUES (2)",
    )
    with open_stream(source, start, selection_of(schema)) as stream:
        first, second = collect(stream, 2)
    assert tables_in(first) == [TableRef(schema, "a"), TableRef(schema, "b")]
    assert tables_in(second) == [TableRef(schema, "a")]

    only_b = Selection(tables=(TableRef(schema, "b"),))
    with open_stream(source, start, only_b) as stream:
        (first,) = collect(stream, 1)
    assert tables_in(first) == [TableRef(schema, "b")]


def test_an_idle_source_sends_heartbeats(source: servers.MariadbServer, schema: str) -> None:
    start = position_now(source)
    with open_stream(source, start, selection_of(schema), heartbeat_interval=0.2) as stream:
        first = stream.next(timeout=DEADLINE)
        second = stream.next(timeout=DEADLINE)
    for heartbeat in (first, second):
        assert isinstance(heartbeat, streaming.Heartbeat)
        assert heartbeat.position.file == start.file and heartbeat.position.offset >= start.offset
        assert abs(heartbeat.time - time.time()) < DEADLINE
    assert isinstance(first, streaming.Heartbeat) and isinstance(second, streaming.Heartbeat)
    assert second.time > first.time


def test_unselected_changes_advance_the_position_through_heartbeats(source: servers.MariadbServer, schema: str) -> None:
    other = schema + "_x"
    execute(source, f"CREATE DATABASE `{other}`", f"CREATE TABLE `{other}`.t (id INT PRIMARY KEY)")
    start = position_now(source)
    execute(source, f"INSERT INTO `{other}`.t VALUES (1)")
    end = position_now(source)
    with open_stream(source, start, selection_of(schema), heartbeat_interval=0.2) as stream:

        def heartbeat_at_end() -> bool:
            item = stream.next(timeout=DEADLINE)
            assert isinstance(item, streaming.Heartbeat), "no transaction of an unselected schema"
            return item.position == end

        wait_until(heartbeat_at_end, "a heartbeat at the source's position")


def test_ddl_comes_in_commit_order(source: servers.MariadbServer, schema: str) -> None:
    other = schema + "_y"
    execute(source, f"CREATE DATABASE `{other}`")
    start = position_now(source)
    execute(
        source,
        f"CREATE TABLE `{schema}`.t (id INT PRIMARY KEY)",
        f"INSERT INTO `{schema}`.t VALUES (1)",
        f"CREATE TABLE `{other}`.t (id INT PRIMARY KEY)",  # unselected: not streamed
        f"ALTER TABLE `{schema}`.t ADD COLUMN v VARCHAR(5) DEFAULT 'x'",
        f"INSERT INTO `{schema}`.t VALUES (2, 'y')",
        f"RENAME TABLE `{schema}`.t TO `{schema}`.u",
        f"TRUNCATE TABLE `{schema}`.u",
        f"DROP TABLE `{schema}`.u",
    )
    with open_stream(source, start, selection_of(schema)) as stream:
        items = collect(stream, 7)
    kinds = [
        (type(c).__name__, c.statement.split()[0] if isinstance(c, SchemaChange) else c.kind)
        for t in items
        for c in t.changes
    ]
    assert kinds == [
        ("SchemaChange", "CREATE"),
        ("RowChange", "insert"),
        ("SchemaChange", "ALTER"),
        ("RowChange", "insert"),
        ("SchemaChange", "RENAME"),
        ("SchemaChange", "TRUNCATE"),
        ("SchemaChange", "DROP"),
    ]
    assert rows_of(items[3]) == [("insert", None, {"id": 2, "v": "y"})]  # decoded with the new column


def test_rotation_mid_stream(source: servers.MariadbServer, schema: str) -> None:
    execute(source, f"CREATE TABLE `{schema}`.t (id INT PRIMARY KEY)")
    start = position_now(source)
    execute(source, f"INSERT INTO `{schema}`.t VALUES (1)", "FLUSH BINARY LOGS", f"INSERT INTO `{schema}`.t VALUES (2)")
    with open_stream(source, start, selection_of(schema)) as stream:
        first, second = collect(stream, 2)
    assert first.end.file == start.file
    assert second.end.file != start.file
    assert rows_of(second) == [("insert", None, {"id": 2})]
    assert_at_end(source, second.end)
    with open_stream(source, first.end, selection_of(schema)) as stream:  # resume across the rotation
        (again,) = collect(stream, 1)
    assert again == second


def test_a_purged_start_position_is_a_specific_error(own_source: servers.MariadbServer) -> None:
    execute(own_source, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY)", "INSERT INTO d.t VALUES (1)")
    start = position_now(own_source)
    execute(own_source, "INSERT INTO d.t VALUES (2)", "FLUSH BINARY LOGS")
    newest = position_now(own_source)
    purge_binlogs_before(own_source, newest.file)
    with open_stream(own_source, start, selection_of("d")) as stream, pytest.raises(errors.BinlogPurgedError) as caught:
        stream.next(timeout=DEADLINE)
    assert not caught.value.retriable
    assert caught.value.code == 1236


def test_source_killed_then_restarted_resumes_exactly(own_source: servers.MariadbServer) -> None:
    execute(own_source, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY)")
    start = position_now(own_source)
    execute(own_source, "INSERT INTO d.t VALUES (1)", "INSERT INTO d.t VALUES (2)")
    with open_stream(own_source, start, selection_of("d"), heartbeat_interval=0.2) as stream:
        received = collect(stream, 2)
        own_source.kill()
        with pytest.raises(errors.RetriableError):
            while True:  # heartbeats until the connection is found dead
                stream.next(timeout=DEADLINE)
    own_source.start()
    execute(own_source, "INSERT INTO d.t VALUES (3)", "INSERT INTO d.t VALUES (4)")
    with open_stream(own_source, received[-1].end, selection_of("d")) as stream:
        after = collect(stream, 2)
    ids = [c.after["id"] for t in received + after for c in t.changes if isinstance(c, RowChange) and c.after]
    assert ids == [1, 2, 3, 4]


def test_xa_transactions_arrive_as_their_steps_in_binlog_order(source: servers.MariadbServer, schema: str) -> None:
    """An XA transaction's rows come with its XA PREPARE; its XA COMMIT or XA ROLLBACK, later and with no rows, is
    a step of its own. One prepared on other tables only gives no step at all."""
    other = schema + "_xa"
    execute(source, f"CREATE DATABASE `{other}`")
    for db in (schema, other):
        execute(source, f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY)")
    start = position_now(source)
    holder = connect(source)
    with holder.cursor() as cursor:
        for statement in ("XA START 'a','b',7", f"INSERT INTO `{schema}`.t VALUES (1)", "XA END 'a','b',7"):
            cursor.execute(statement)
        cursor.execute("XA PREPARE 'a','b',7")
    execute(
        source,
        f"INSERT INTO `{schema}`.t VALUES (2)",
        "XA START 'other'",
        f"INSERT INTO `{other}`.t VALUES (1)",
        "XA END 'other'",
        "XA PREPARE 'other'",
        "XA COMMIT 'other'",
    )
    holder.close()  # a prepared XA transaction is committed from another session once its own has gone
    execute(
        source,
        "XA COMMIT 'a','b',7",
        "XA START 'no'",
        f"INSERT INTO `{schema}`.t VALUES (3)",
        "XA END 'no'",
        "XA PREPARE 'no'",
        "XA ROLLBACK 'no'",
        "XA START 'one'",
        f"INSERT INTO `{schema}`.t VALUES (4)",
        "XA END 'one'",
        "XA COMMIT 'one' ONE PHASE",
    )
    with open_stream(source, start, selection_of(schema)) as stream:
        received = collect(stream, 6)
    ab, no = "X'61',X'62',7", "X'6e6f',X'',1"
    assert [(t.xa, rows_of(t)) for t in received] == [
        (XaStep("prepare", ab), [("insert", None, {"id": 1})]),
        (None, [("insert", None, {"id": 2})]),
        (XaStep("commit", ab), []),
        (XaStep("prepare", no), [("insert", None, {"id": 3})]),
        (XaStep("rollback", no), []),
        (None, [("insert", None, {"id": 4})]),
    ]
    assert [position_key(t.end) for t in received] == sorted(position_key(t.end) for t in received)


@pytest.mark.parametrize("page", [positions.SHOW_EVENTS_PAGE, 2])
def test_the_xa_transactions_prepared_at_a_start_are_found_in_the_binlog_since_the_horizon(
    source: servers.MariadbServer, schema: str, page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`early` and `late` are prepared at the start: `late` still when XA RECOVER lists what is, `early` committed
    just before (in the next binlog file). One prepared and committed after the start, one rolled back before it,
    and a one-phase commit are not. Read from the start itself instead, both are unknown."""
    monkeypatch.setattr(positions, "SHOW_EVENTS_PAGE", page)
    execute(source, "CREATE TABLE t (id INT PRIMARY KEY)", database=schema)
    early, late, within, gone, one = (f"'{schema}-{name}'" for name in ("early", "late", "within", "gone", "one"))

    def prepare(xid: str, row: int) -> None:
        execute(
            source,
            f"XA START {xid}",
            f"INSERT INTO t VALUES ({row})",
            f"XA END {xid}",
            f"XA PREPARE {xid}",
            database=schema,
        )

    since = position_now(source)
    prepare(early, 1)
    prepare(late, 2)
    prepare(gone, 5)
    execute(source, f"XA ROLLBACK {gone}")
    start = position_now(source)
    execute(source, "FLUSH BINARY LOGS", f"XA COMMIT {early}")  # the commit is in the file after the start
    prepare(within, 3)
    execute(
        source,
        f"XA COMMIT {within}",
        f"XA START {one}",
        "INSERT INTO t VALUES (4)",
        f"XA END {one}",
        f"XA COMMIT {one} ONE PHASE",
        database=schema,
    )
    listed = [xid_of(late)]  # XA RECOVER, run once `early` was committed
    end = position_now(source)
    execute(source, f"XA COMMIT {late}")
    conn = connect(source)
    try:
        assert positions.prepared_at(conn, since, start, listed, end) == {xid_of(early), xid_of(late)}
        with pytest.raises(
            snapshot.PreparedXaError, match=f"{schema}-early.*{schema}-late|{schema}-late.*{schema}-early"
        ):
            positions.prepared_at(conn, start, start, listed, end)  # read from after their XA PREPAREs
    finally:
        conn.close()


def xid_of(quoted: str) -> str:
    return xa_id(quoted.strip("'").encode(), b"", 1)


def test_the_source_must_log_full_row_metadata(own_source: servers.MariadbServer) -> None:
    execute(own_source, "SET GLOBAL binlog_row_metadata = 'MINIMAL'")
    stream = open_stream(own_source, position_now(own_source), Selection())
    with stream, pytest.raises(errors.SourceConfigError, match="binlog_row_metadata"):
        stream.next(timeout=DEADLINE)


def test_a_change_of_a_selected_table_logged_as_a_statement_stops_the_stream_naming_it(
    source: servers.MariadbServer, schema: str
) -> None:
    """A session may log its changes as statements (SET SESSION binlog_format needs a privilege): those on
    unselected tables pass, as any unselected change; one on a selected table used to be skipped without a word."""
    other = schema + "_stmt"
    execute(source, f"CREATE DATABASE `{other}`")
    for db in (schema, other):
        execute(source, f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY)")
    start = position_now(source)
    execute(
        source,
        "SET SESSION binlog_format = 'STATEMENT'",
        f"INSERT INTO `{other}`.t VALUES (1)",  # passes: not selected
        "SET SESSION binlog_format = 'ROW'",
        f"INSERT INTO `{schema}`.t VALUES (1)",
        "SET SESSION binlog_format = 'STATEMENT'",
        f"UPDATE `{schema}`.t SET id = 2 WHERE id = 1",
    )
    with open_stream(source, start, selection_of(schema)) as stream:
        (inserted,) = collect(stream, 1)
        with pytest.raises(errors.UnsupportedEventError, match=f"a change of {schema}.t as a statement") as refused:
            collect(stream, 1)
    assert rows_of(inserted) == [("insert", None, {"id": 1})]
    assert "UPDATE" in str(refused.value) and "binlog_format" in str(refused.value)


def test_a_load_data_logged_as_a_statement_stops_the_stream_naming_the_table(
    source: servers.MariadbServer, schema: str, tmp_path: Path
) -> None:
    """Such a LOAD DATA is an event of its own type (EXECUTE_LOAD_QUERY), after the file's bytes."""
    execute(source, f"CREATE TABLE `{schema}`.t (id INT PRIMARY KEY)")
    data = tmp_path / "rows.txt"
    data.write_text("1\n2\n")
    data.chmod(0o644)
    tmp_path.chmod(0o755)
    start = position_now(source)
    execute(
        source,
        "SET SESSION binlog_format = 'STATEMENT'",
        f"LOAD DATA INFILE '{data}' INTO TABLE `{schema}`.t",
    )
    stream = open_stream(source, start, selection_of(schema))
    with stream, pytest.raises(errors.UnsupportedEventError, match=f"a change of {schema}.t as a statement") as refused:
        collect(stream, 1)
    assert "LOAD DATA" in str(refused.value)


def dump_thread_states(server: servers.MariadbServer) -> list[str]:
    """What the source's binlog dump threads are doing (one per connected replica)."""
    conn = connect(server)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT STATE FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'")
            return [str(row[0]) for row in cursor.fetchall()]
    finally:
        conn.close()


def test_a_consumer_behind_holds_the_reader_back_and_misses_nothing(
    own_source: servers.MariadbServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader decodes at most BACKLOG_BYTES of binlog ahead of its consumer: a target slower than the source
    must not fill the worker's memory with decoded rows. Seen from the source: its dump thread cannot send it all."""
    monkeypatch.setattr(streaming, "BACKLOG_BYTES", 1 << 20)
    execute(own_source, "CREATE DATABASE lag", "CREATE TABLE lag.big (id INT PRIMARY KEY, v VARCHAR(250))")
    start = position_now(own_source)
    transactions, rows = 15, 10_000  # 15 transactions of 2.5 MB: far more than socket buffers hold
    for n in range(transactions):
        execute(
            own_source,
            f"INSERT INTO lag.big SELECT seq + {n * rows}, REPEAT(CHAR(65 + seq % 26), 250) FROM seq_1_to_{rows}",
            database="lag",
        )
    end = position_now(own_source)
    with open_stream(own_source, start, selection_of("lag")) as stream:
        [sending] = wait_until(lambda: dump_thread_states(own_source), "the source's dump thread")
        deadline = time.monotonic() + 1.5  # long enough for the reader to read all 37 MB at its usual speed
        while time.monotonic() < deadline:
            assert "has sent all binlog" not in sending, "the reader read everything while nobody consumed"
            [sending] = dump_thread_states(own_source)
        got = collect(stream, transactions)
    assert [len(transaction.changes) for transaction in got] == [rows] * transactions
    last_row = {"id": transactions * rows, "v": chr(65 + rows % 26) * 250}
    assert got[-1].changes[-1] == RowChange(TableRef("lag", "big"), "insert", None, last_row)
    assert got[-1].end == end


def test_an_encrypted_binlog_streams_like_a_plain_one(tmp_path: Path) -> None:
    """With encrypt_binlog=ON the files on disk are ciphertext; the source decrypts what it sends a replica."""
    keys = tmp_path / "keys.txt"
    keys.write_text("1;" + "5e" * 32 + "\n")
    options = ["--plugin-load-add=file_key_management", f"--file-key-management-filename={keys}", "--encrypt-binlog"]
    with servers.mariadb_server(tmp_path / "encrypted", binlog=True, server_id=13, options=options) as encrypted:
        execute(encrypted, "CREATE DATABASE vault", "CREATE TABLE vault.t (id INT PRIMARY KEY, v VARCHAR(40))")
        start = position_now(encrypted)
        execute(encrypted, "INSERT INTO vault.t VALUES (1, 'plain-text-marker')", "FLUSH BINARY LOGS")
        execute(encrypted, "UPDATE vault.t SET v = 'after the rotation' WHERE id = 1")
        binlogs = b"".join(path.read_bytes() for path in encrypted.data_dir.glob("mysql-bin.0*"))
        assert b"plain-text-marker" not in binlogs  # the test really reads an encrypted binlog
        with open_stream(encrypted, start, selection_of("vault")) as stream:
            first, second = collect(stream, 2)
        assert rows_of(first) == [("insert", None, {"id": 1, "v": "plain-text-marker"})]
        assert rows_of(second) == [
            ("update", {"id": 1, "v": "plain-text-marker"}, {"id": 1, "v": "after the rotation"})
        ]
        now = position_now(encrypted)  # its offset may be past a binlog checkpoint event written after the commit
        assert (second.end.file, second.end.gtid) == (now.file, now.gtid)


def test_a_compressed_binlog_event_stops_the_stream_naming_the_setting(own_source: servers.MariadbServer) -> None:
    execute(own_source, "CREATE DATABASE zipped", "CREATE TABLE zipped.t (id INT PRIMARY KEY, v TEXT)")
    start = position_now(own_source)
    execute(own_source, "SET GLOBAL log_bin_compress = ON")
    try:
        execute(own_source, "INSERT INTO zipped.t VALUES (1, REPEAT('z', 5000))")  # over log_bin_compress_min_len
    finally:
        execute(own_source, "SET GLOBAL log_bin_compress = OFF")
    stream = open_stream(own_source, start, selection_of("zipped"))
    with stream, pytest.raises(errors.UnsupportedEventError, match=r"compressed binlog \(log_bin_compress=ON\)"):
        collect(stream, 1)

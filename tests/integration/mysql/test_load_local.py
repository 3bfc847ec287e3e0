"""LOAD DATA LOCAL fed from memory (load_local.py): lines cut across packets load exactly, in packets the server
takes; a failure while sending or a statement the server refuses leaves the connection usable, and a connection
that breaks says so, as does a target whose local_infile is off; no query can make the client send a file."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pymysql
import pytest

from opendrs.connectors.mysql.load_local import LocalLoad
from tests.integration.mysql.conftest import Server

FORMAT = "FIELDS TERMINATED BY ',' LINES TERMINATED BY '\\n'"


def _table(target: Server, database: str) -> str:
    target.execute(f"CREATE DATABASE IF NOT EXISTS {database}", f"CREATE TABLE {database}.t (n INT, s VARCHAR(50))")
    return f"{database}.t"


def test_lines_cut_across_packets_load_exactly(target: Server, database: str) -> None:
    table = _table(target, database)
    lines = [f"{n},{'x' * (n % 50)}\n".encode() for n in range(3000)]
    batches = [b"".join(lines[i : i + 700]) for i in range(0, len(lines), 700)]
    with contextlib.closing(target.connect()) as connection:
        with LocalLoad(connection, f"LOAD DATA LOCAL INFILE 'x' INTO TABLE {table} {FORMAT}", 1024) as load:
            for batch in batches:  # each is many 1 KB packets, and most lines straddle two
                load.send(batch)
        assert (load.loaded, load.warnings) == (3000, 0)
    assert target.query(f"SELECT COUNT(*), SUM(n), SUM(LENGTH(s)) FROM {table}") == [
        (3000, sum(range(3000)), sum(n % 50 for n in range(3000)))
    ]


def test_a_failure_while_sending_ends_the_statement_and_the_connection_rolls_back(
    target: Server, database: str
) -> None:
    table = _table(target, database)
    with contextlib.closing(target.connect()) as connection:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
        statement = f"LOAD DATA LOCAL INFILE 'x' INTO TABLE {table} {FORMAT}"
        with pytest.raises(RuntimeError, match="the source broke"), LocalLoad(connection, statement, 1 << 20) as load:
            load.send(b"1,a\n2,b\n")
            raise RuntimeError("the source broke")
        with connection.cursor() as cursor:
            cursor.execute("ROLLBACK")
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            assert cursor.fetchone() == (0,)


def test_packets_stay_below_the_servers_max_allowed_packet(target: Server, database: str) -> None:
    table = _table(target, database)
    data = b"".join(f"{n},{'y' * 40}\n".encode() for n in range(2000))  # 88 KB
    (previous,) = target.query("SELECT @@GLOBAL.max_allowed_packet")[0]
    target.execute("SET GLOBAL max_allowed_packet = 16384")  # sessions opened from now on
    try:
        with contextlib.closing(target.connect()) as connection:
            statement = f"LOAD DATA LOCAL INFILE 'x' INTO TABLE {table} {FORMAT}"
            with LocalLoad(connection, statement, 16384) as load:  # packets as long as the limit: refused
                load.send(data)
    finally:
        target.execute(f"SET GLOBAL max_allowed_packet = {previous}")
    assert load.loaded == 2000


def test_a_connection_killed_while_sending_fails_with_the_connections_error(target: Server, database: str) -> None:
    table = _table(target, database)
    connection = target.connect()
    try:
        statement = f"LOAD DATA LOCAL INFILE 'x' INTO TABLE {table} {FORMAT}"
        with pytest.raises(pymysql.err.OperationalError), LocalLoad(connection, statement, 1 << 20) as load:
            load.send(b"1,a\n")
            target.execute(f"KILL {connection.thread_id()}")
            for _ in range(1000):  # the server's end closes; a write soon fails
                load.send(b"2,b\n" * 1000)
    finally:
        connection.close()


def test_a_statement_the_server_refuses_raises_its_error_and_the_connection_goes_on(target: Server) -> None:
    with contextlib.closing(target.connect()) as connection:
        statement = f"LOAD DATA LOCAL INFILE 'x' INTO TABLE mysql.no_such_table {FORMAT}"
        with pytest.raises(pymysql.err.ProgrammingError, match="1146"), LocalLoad(connection, statement, 1024):
            pass  # the server refuses before asking for any data
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)


def test_a_target_with_local_infile_off_fails_the_load_saying_how_to_turn_it_on(target: Server, database: str) -> None:
    table = _table(target, database)
    target.execute("SET GLOBAL local_infile = OFF")
    try:
        with contextlib.closing(target.connect()) as connection:
            statement = f"LOAD DATA LOCAL INFILE 'x' INTO TABLE {table} {FORMAT}"
            with pytest.raises(pymysql.err.OperationalError) as refused, LocalLoad(connection, statement, 1024):
                pass
    finally:
        target.execute("SET GLOBAL local_infile = ON")
    assert refused.value.args[0] == 4166, refused.value
    assert "SET GLOBAL local_infile = ON on the target" in refused.value.args[1], refused.value


def test_no_query_makes_the_client_send_a_file(target: Server, database: str, tmp_path: Path) -> None:
    """A server may ask for any file in answer to any query; PyMySQL would send it. Ours refuses, and the server
    gets none of it (here a real server asks, as LOAD DATA LOCAL makes it; a rogue one would ask unprompted)."""
    table = _table(target, database)
    secret = tmp_path / "secret.key"
    secret.write_text("1,stolen\n")
    connection = target.connect()
    try:
        with pytest.raises(RuntimeError, match="local_infile"), connection.cursor() as cursor:
            cursor.execute(f"LOAD DATA LOCAL INFILE '{secret}' INTO TABLE {table} {FORMAT}")
    finally:
        connection.close()
    assert target.query(f"SELECT COUNT(*) FROM {table}") == [(0,)]

"""The throwaway servers of tests/servers.py start, answer real clients, and stop."""

from __future__ import annotations

import itertools
import signal
import socket
import stat
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import psycopg
import pymysql
import pytest
import redis

from tests import servers
from tests.servers import mariadb_server, postgres_server, redis_server

SHARED_SERVER_PORTS = {5432, 3306, 6379}


def mariadb_connect(
    server: servers.MariadbServer, database: str | None = None
) -> pymysql.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(host=server.host, port=server.port, user=server.user, database=database, autocommit=True)


def test_postgres_serves_logical_replication(tmp_path: Path) -> None:
    with postgres_server(tmp_path, max_connections=42) as pg:
        assert pg.port not in SHARED_SERVER_PORTS
        assert pg.url == f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/postgres"
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            assert conn.execute("SHOW wal_level").fetchone() == ("logical",)
            assert conn.execute("SHOW max_connections").fetchone() == ("42",)
            conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
            conn.execute("INSERT INTO items VALUES (1, 'one')")
            assert conn.execute("SELECT name FROM items").fetchall() == [("one",)]
            slot = conn.execute("SELECT slot_name FROM pg_create_logical_replication_slot('s', 'pgoutput')").fetchone()
            assert slot == ("s",)
        assert "ready to accept connections" in pg.log_file.read_text()
    assert not pg.data_dir.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg.dsn, connect_timeout=2)


def test_postgres_starts_under_a_base_dir_postgres_cannot_reach(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    base_dir = tmp_path_factory.mktemp("postgres")
    private_root = tmp_path_factory.getbasetemp().parent  # /tmp/pytest-of-root
    assert stat.S_IMODE(private_root.stat().st_mode) & 0o077 == 0, "the case is not exercised"
    with postgres_server(base_dir) as pg, psycopg.connect(pg.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert pg.log_file.parent == base_dir


def test_postgres_recovers_committed_rows_after_a_crash(tmp_path: Path) -> None:
    with postgres_server(tmp_path) as pg:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE items (id int)")
            conn.execute("INSERT INTO items VALUES (7)")
        pg.kill()
        assert not pg.running
        pg.start()
        with psycopg.connect(pg.dsn) as conn:
            assert conn.execute("SELECT id FROM items").fetchall() == [(7,)]
        assert "database system was interrupted" in pg.log_file.read_text()


def test_postgres_start_failure_shows_the_log(tmp_path: Path) -> None:
    with (
        pytest.raises(servers.ServerStartError, match="unrecognized configuration parameter"),
        postgres_server(tmp_path, no_such_setting=1),
    ):
        pass


def test_mariadb_without_binlog(tmp_path: Path) -> None:
    with mariadb_server(tmp_path) as mariadb:
        assert mariadb.port not in SHARED_SERVER_PORTS
        assert mariadb.url == f"mysql://root@127.0.0.1:{mariadb.port}/"
        with mariadb_connect(mariadb) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT @@log_bin, @@server_id, @@local_infile, @@max_allowed_packet")
            assert cursor.fetchone() == (0, 1, 1, 256 * 1024 * 1024)
            cursor.execute("CREATE DATABASE shop")
            cursor.execute("CREATE TABLE shop.items (id INT PRIMARY KEY, name TEXT)")
            cursor.execute("INSERT INTO shop.items VALUES (1, 'one')")
            cursor.execute("SELECT name FROM shop.items")
            assert cursor.fetchall() == (("one",),)
        assert mariadb.data_dir == tmp_path / "data"
        assert "ready for connections" in mariadb.log_file.read_text()
    assert mariadb.process.returncode == 0


def test_mariadb_with_binlog_logs_full_rows(tmp_path: Path) -> None:
    with (
        mariadb_server(tmp_path, binlog=True, server_id=7) as mariadb,
        mariadb_connect(mariadb) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@server_id")
        assert cursor.fetchone() == (1, "ROW", "FULL", "FULL", 7)
        cursor.execute("SHOW MASTER STATUS")
        row = cursor.fetchone()
        assert row is not None and str(row[0]).startswith("mysql-bin.")


def test_mariadb_keeps_its_data_across_a_kill(tmp_path: Path) -> None:
    with mariadb_server(tmp_path) as mariadb:
        with mariadb_connect(mariadb) as conn, conn.cursor() as cursor:
            cursor.execute("CREATE DATABASE shop")
            cursor.execute("CREATE TABLE shop.items (id INT PRIMARY KEY) ENGINE=InnoDB")
            cursor.execute("INSERT INTO shop.items VALUES (1), (2)")
        killed = mariadb.process
        mariadb.kill()
        assert killed.returncode == -signal.SIGKILL
        with pytest.raises(pymysql.err.OperationalError):
            mariadb_connect(mariadb)

        mariadb.start()
        assert mariadb.process.pid != killed.pid
        assert_items(mariadb, [1, 2])

        stopped = mariadb.process
        mariadb.restart()
        assert stopped.returncode == 0
        assert_items(mariadb, [1, 2])


def assert_items(mariadb: servers.MariadbServer, ids: list[int]) -> None:
    with mariadb_connect(mariadb, "shop") as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id FROM items ORDER BY id")
        assert [row[0] for row in cursor.fetchall()] == ids


def test_redis_answers_commands(tmp_path: Path) -> None:
    with redis_server(tmp_path) as server:
        assert server.port not in SHARED_SERVER_PORTS
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        with redis.Redis.from_url(server.url) as client:
            assert client.set("key", "value")
            assert client.get("key") == b"value"
            assert client.config_get("save") == {"save": ""}
    assert not server.running


ServerFactory = Callable[
    [Path],
    AbstractContextManager[servers.PostgresServer | servers.MariadbServer | servers.RedisServer],
]


@pytest.fixture
def taken_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A port something else listens on, handed out as the first 'free' port."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port: int = squatter.getsockname()[1]
        ports = itertools.chain([port], iter(servers._free_port, None))
        monkeypatch.setattr(servers, "_free_port", lambda: next(ports))
        yield port


@pytest.mark.parametrize("start_server", [postgres_server, mariadb_server, redis_server])
def test_a_taken_port_is_retried(tmp_path: Path, taken_port: int, start_server: ServerFactory) -> None:
    with start_server(tmp_path) as server:
        assert server.port != taken_port
        assert server.running
        assert servers.PORT_IN_USE_MESSAGE in server.log_file.read_text()

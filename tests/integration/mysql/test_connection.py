"""Connections follow the endpoint's ssl_link: off means a plain session (PyMySQL 2 would otherwise try TLS,
building an SSL context per connection); on means TLS is required, so a server without it refuses clearly. Any
password logs in, latin1 or not."""

from __future__ import annotations

import dataclasses
import socket
import time

import pymysql
import pytest

from opendrs.connectors.mysql import checks
from opendrs.connectors.mysql import connection as mysql
from opendrs.domain.replication import Endpoint
from tests.integration.mysql.conftest import Server


def test_a_plain_endpoint_gets_a_plain_session(target: Server) -> None:
    connection = mysql.connect(target.endpoint)
    try:
        assert mysql.server_info(connection).is_mariadb
        with connection.cursor() as cursor:
            cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            assert cursor.fetchone() == ("Ssl_cipher", "")
    finally:
        connection.close()


def test_an_ssl_endpoint_requires_tls(target: Server) -> None:
    # The test servers have no certificate: TLS cannot be had, and the connection must not go on without it.
    with pytest.raises(pymysql.err.OperationalError, match="SSL"):
        mysql.connect(dataclasses.replace(target.endpoint, ssl=True))


def test_a_password_beyond_latin1_logs_in(target: Server) -> None:
    # PyMySQL sends a str password in latin1 and raised UnicodeEncodeError for anything else (an API 500).
    password = "пароль-🔑"
    target.execute(f"CREATE USER 'cyrillic'@'127.0.0.1' IDENTIFIED BY '{password}'")
    try:
        endpoint = dataclasses.replace(target.endpoint, user="cyrillic", password=password)
        mysql.connect(endpoint).close()
        with pytest.raises(pymysql.err.OperationalError, match="1045"):
            mysql.connect(dataclasses.replace(endpoint, password="пароль"))
    finally:
        target.execute("DROP USER 'cyrillic'@'127.0.0.1'")


@pytest.mark.parametrize("host", ["db..example.com", "a" * 64 + ".example.com"])
def test_a_host_name_no_resolver_takes_is_a_clear_connection_failure(host: str) -> None:
    # PyMySQL let the idna codec's UnicodeError through: an API 500, and a task that never left STARTJOBING.
    result = checks.check_connection(Endpoint(host, 3306, "repl", "secret"))
    assert not result.ok
    assert f"MySQL error 2005: Unknown MySQL server host '{host}': not a valid host name" in result.reason


def test_a_port_that_never_speaks_fails_the_test_within_the_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # A web server's port, say: it accepts the connection and waits for a request. The handshake waited for the
    # 600 s read timeout, and the batch-connection call with it.
    monkeypatch.setattr(mysql, "CONNECT_TIMEOUT", 1)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        started = time.monotonic()
        result = checks.check_connection(Endpoint("127.0.0.1", port, "repl", "secret"))
        elapsed = time.monotonic() - started
    assert not result.ok
    assert result.reason == (
        f"MySQL error 2013: Lost connection to MySQL server during query (timed out) (at 127.0.0.1:{port}); "
        "no MySQL greeting within 1 s: is it the database's port?"
    )
    assert elapsed < 5


def test_an_engine_connection_waits_the_connect_timeout_for_a_greeting_and_the_read_timeout_after_it(
    target: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine's connections waited the 600 s read timeout for a greeting: a task pointed at a silent port hung
    # that long before its first retry.
    monkeypatch.setattr(mysql, "CONNECT_TIMEOUT", 1)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        started = time.monotonic()
        with pytest.raises(pymysql.err.OperationalError, match="2013"):
            mysql.connect(Endpoint("127.0.0.1", silent.getsockname()[1], "repl", "secret"))
        assert time.monotonic() - started < 5
    connection = mysql.connect(target.endpoint)  # a query may then take longer than the greeting's timeout
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT SLEEP(2)")
            assert cursor.fetchone() == (0,)
    finally:
        connection.close()

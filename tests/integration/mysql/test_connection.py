"""Connections follow the endpoint's ssl_link: off means a plain session (PyMySQL 2 would otherwise try TLS,
building an SSL context per connection); on means TLS is required, so a server without it refuses clearly. Any
password logs in, latin1 or not."""

from __future__ import annotations

import dataclasses

import pymysql
import pytest

from opendrs.connectors.mysql import connection as mysql
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

"""Connections follow the endpoint's ssl_link: off means a plain session (PyMySQL 2 would otherwise try TLS,
building an SSL context per connection); on means TLS is required, so a server without it refuses clearly."""

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

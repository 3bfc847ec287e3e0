"""Connections to MySQL/MariaDB servers, and the server facts every part needs."""

from __future__ import annotations

import dataclasses
import functools
import ssl
from typing import TYPE_CHECKING, Any

import pymysql
import pymysql.cursors
from pymysql.constants import CLIENT

from opendrs.domain.replication import Endpoint

if TYPE_CHECKING:
    # Generic only in the type stubs.
    Connection = pymysql.connections.Connection[pymysql.cursors.Cursor]
else:
    Connection = pymysql.connections.Connection

CONNECT_TIMEOUT = 10  # seconds
# Long enough for a big chunk to load, short enough that a dead peer is noticed.
READ_TIMEOUT = 600  # seconds
CR_UNKNOWN_HOST = 2005  # the client's error for a host name that does not resolve


def connect(
    endpoint: Endpoint,
    *,
    database: str | None = None,
    autocommit: bool = True,
    read_timeout: float = READ_TIMEOUT,
    **options: Any,
) -> Connection:
    """A PyMySQL connection in utf8mb4; `options` go to pymysql.connect.

    It may run LOAD DATA LOCAL through load_local.LocalLoad only: the capability is announced, PyMySQL's own
    handling (which opens whatever file the server names) stays off.

    The handshake waits CONNECT_TIMEOUT at most (or `read_timeout`, if shorter): a port that accepts connections
    but never speaks (a web server, a wrong port) fails that soon. Reads after it wait `read_timeout`."""
    _check_host(endpoint.host)
    client_flag = options.pop("client_flag", 0) | CLIENT.LOCAL_FILES
    connection = pymysql.connect(
        host=endpoint.host,
        port=endpoint.port,
        user=endpoint.user,
        password=_password_bytes(endpoint.password),
        database=database if database is not None else endpoint.database,
        charset="utf8mb4",
        autocommit=autocommit,
        client_flag=client_flag,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=min(read_timeout, CONNECT_TIMEOUT),
        write_timeout=READ_TIMEOUT,
        **_tls(endpoint),
        **options,
    )
    driver: Any = connection  # no public setter: PyMySQL applies it at its next read
    driver._read_timeout = read_timeout
    return connection


def _check_host(host: str) -> None:
    """Refuse, as a connection error, a host name that the resolver cannot even encode (an empty or over-long
    label: "db..example.com"); PyMySQL would let the codec's UnicodeError through, which is no connection error."""
    try:
        host.encode("idna")
    except UnicodeError as exc:
        raise pymysql.err.OperationalError(
            CR_UNKNOWN_HOST, f"Unknown MySQL server host {host!r}: not a valid host name ({exc})"
        ) from exc


def _password_bytes(password: str) -> bytes:
    """The password as PyMySQL sends a str (latin1, so that what worked keeps working), or in UTF-8, as the mysql
    client sends it, when latin1 cannot hold it (PyMySQL would raise UnicodeEncodeError)."""
    try:
        return password.encode("latin1")
    except UnicodeEncodeError:
        return password.encode("utf-8")


def _tls(endpoint: Endpoint) -> dict[str, Any]:
    """TLS as the endpoint says (ssl_link): required, or off. Left to itself, PyMySQL 2 tries TLS on every plain
    connection ("preferred") with a new SSL context each time, which loads the system's CA store: tens of
    milliseconds of CPU per connection, and a full copy opens a dozen."""
    if endpoint.ssl:
        return {"ssl": _required_tls()}
    return {"ssl_disabled": True}


@functools.cache
def _required_tls() -> ssl.SSLContext:
    """Encrypted, not verified: an endpoint names no CA to verify the server against (yet)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    version: str  # e.g. "10.11.6-MariaDB-0+deb12u1"
    is_mariadb: bool
    server_id: int

    @property
    def flavour(self) -> str:
        return "mariadb" if self.is_mariadb else "mysql"


def server_info(connection: Connection) -> ServerInfo:
    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION(), @@server_id")
        row = cursor.fetchone()
    assert row is not None
    version = str(row[0])
    return ServerInfo(version, "mariadb" in version.lower(), int(row[1]))


def quote_identifier(name: str) -> str:
    """`name` as a MySQL identifier: backquoted, backquotes doubled."""
    return "`" + name.replace("`", "``") + "`"

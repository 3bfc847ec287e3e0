"""Throwaway PostgreSQL, MariaDB and Redis servers for the test suite.

Each server listens on a free port of 127.0.0.1 and keeps its state in
directories of its own, so tests never touch (or depend on) the machine's
shared servers on the standard ports. Use the context managers:

    with postgres_server(tmp_path) as pg, mariadb_server(tmp_path, binlog=True) as my:
        ...

Servers can also be stopped, killed and started again on the same data and
port, for fault-injection tests.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import pymysql
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 30.0
POLL_INTERVAL = 0.05
PORT_ATTEMPTS = 5
LOG_TAIL_LINES = 40
INSTALL_HINT = "run scripts/install-system-deps"

# Every server reports a taken port with the text of errno EADDRINUSE.
PORT_IN_USE_MESSAGE = "Address already in use"

POSTGRES_SETTINGS: dict[str, str] = {
    "wal_level": "logical",
    "max_replication_slots": "10",
    "max_wal_senders": "10",
    "fsync": "off",
}


class ServerStartError(RuntimeError):
    """A test server did not start (or stop) in time; the message ends with its log."""


class PortInUseError(ServerStartError):
    """The chosen port was taken before the server could bind it."""


# --- shared helpers -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


_Server = TypeVar("_Server")


def _start_on_free_port(start: Callable[[int], _Server]) -> _Server:
    """Call start(port) with fresh free ports until one is not stolen in between."""
    for _ in range(PORT_ATTEMPTS):
        with contextlib.suppress(PortInUseError):
            return start(_free_port())
    raise ServerStartError(f"every one of {PORT_ATTEMPTS} free ports was taken before use")


def _executable(name: str) -> str:
    # Server binaries live in sbin, which a non-login PATH may lack.
    search_path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
    path = shutil.which(name, path=search_path)
    if path is None:
        raise ServerStartError(f"{name} is not installed; {INSTALL_HINT}")
    return path


def _log_size(log_file: Path) -> int:
    return log_file.stat().st_size if log_file.exists() else 0


def _log_tail(log_file: Path) -> str:
    if not log_file.exists():
        return f"(no log at {log_file})"
    lines = log_file.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return "\n".join(lines)


def _start_error(what: str, log_file: Path, log_offset: int) -> ServerStartError:
    """The error for a failed start; PortInUseError if this attempt's log says so."""
    with log_file.open("rb") as log:
        log.seek(log_offset)
        port_taken = PORT_IN_USE_MESSAGE in log.read().decode(errors="replace")
    error = PortInUseError if port_taken else ServerStartError
    return error(f"{what}; last lines of {log_file}:\n{_log_tail(log_file)}")


def _run(argv: Sequence[str], *, cwd: Path | None = None) -> None:
    """Run a setup command, raising with its output if it fails."""
    result = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServerStartError(f"{shlex.join(argv)} exited with {result.returncode}:\n{result.stdout}{result.stderr}")


class _Daemon:
    """A server process run in the foreground as our child, restartable with the same argv."""

    def __init__(self, argv: Sequence[str], log_file: Path, is_ready: Callable[[], bool]):
        self.argv = list(argv)
        self.log_file = log_file
        self._is_ready = is_ready
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.argv[0]} is already running")
        log_offset = _log_size(self.log_file)
        with self.log_file.open("ab") as log:
            self.popen = _spawn(self.argv, log)
        self._wait_until_ready(self.popen, log_offset)

    def _wait_until_ready(self, popen: subprocess.Popen[bytes], log_offset: int) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if popen.poll() is not None:
                what = f"{shlex.join(self.argv)} exited with {popen.returncode}"
                raise _start_error(what, self.log_file, log_offset)
            if self._is_ready():
                return
            if time.monotonic() > deadline:
                self.kill()
                what = f"{self.argv[0]} was not ready after {STARTUP_TIMEOUT:.0f}s"
                raise _start_error(what, self.log_file, log_offset)
            time.sleep(POLL_INTERVAL)

    def stop(self) -> None:
        """SIGTERM and wait for a clean shutdown; SIGKILL if it takes too long."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL, like a crash: no shutdown work at all."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.kill()
        self.popen.wait()


def _spawn(argv: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)


class _DaemonControls:
    """start/stop/kill/restart for a server dataclass run by a _Daemon."""

    _daemon: _Daemon

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The server process last started (exited, with its returncode, once stopped)."""
        assert self._daemon.popen is not None, "the server was never started"
        return self._daemon.popen

    @property
    def running(self) -> bool:
        return self._daemon.running

    def start(self) -> None:
        """Start on the same data and port, waiting until it accepts logins."""
        self._daemon.start()

    def stop(self) -> None:
        self._daemon.stop()

    def kill(self) -> None:
        self._daemon.kill()

    def restart(self) -> None:
        self.stop()
        self.start()


# --- PostgreSQL ----------------------------------------------------------------


def _postgres_bin_dir() -> Path:
    """The bin directory of the newest PostgreSQL installed from Debian packages."""
    initdbs = Path("/usr/lib/postgresql").glob("*/bin/initdb")
    versions = {int(p.parts[-3]): p.parent for p in initdbs if p.parts[-3].isdigit()}
    if not versions:
        raise ServerStartError(f"PostgreSQL is not installed; {INSTALL_HINT}")
    return versions[max(versions)]


def _as_postgres(argv: Sequence[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


def _postgres_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    data_dir: Path
    socket_dir: Path
    log_file: Path
    bin_dir: Path
    settings: Mapping[str, str] = field(compare=False)
    user: str = "postgres"
    database: str = "postgres"

    @property
    def url(self) -> str:
        """SQLAlchemy URL, for psycopg 3."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        """libpq connection URI, for psycopg.connect()."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def running(self) -> bool:
        status = subprocess.run(self._pg_ctl("status"), cwd=self.data_dir.parent, capture_output=True, check=False)
        return status.returncode == 0

    def start(self) -> None:
        """Start on the same data and port; returns once it accepts connections."""
        options = [f"-p {self.port}", f"-c listen_addresses={self.host}"]
        options.append(f"-c unix_socket_directories={shlex.quote(str(self.socket_dir))}")
        options += [f"-c {shlex.quote(f'{k}={v}')}" for k, v in self.settings.items()]
        argv = self._pg_ctl("start", "-w", "-t", f"{STARTUP_TIMEOUT:.0f}", "-o", " ".join(options))
        log_offset = _log_size(self.log_file)
        # No -l: the server inherits our handle on the log, which postgres itself
        # could not open when the log's directory is private to root.
        with self.log_file.open("ab") as log:
            result = subprocess.run(argv, cwd=self.data_dir.parent, stdout=log, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            self.kill()  # pg_ctl gives up at its timeout but leaves a slow server starting
            raise _start_error("pg_ctl start failed", self.log_file, log_offset)

    def stop(self) -> None:
        """Fast shutdown: disconnect clients, checkpoint, exit."""
        self._stop("fast")

    def kill(self) -> None:
        """Immediate shutdown, like a crash: the next start runs crash recovery."""
        self._stop("immediate")

    def restart(self) -> None:
        self.stop()
        self.start()

    def _stop(self, mode: str) -> None:
        if self.running:
            timeout = f"{SHUTDOWN_TIMEOUT:.0f}"
            _run(self._pg_ctl("stop", "-w", "-t", timeout, "-m", mode), cwd=self.data_dir.parent)

    def _pg_ctl(self, *args: str) -> list[str]:
        return _as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args])


@contextlib.contextmanager
def postgres_server(base_dir: Path, **settings: str | int | bool) -> Iterator[PostgresServer]:
    """A fresh PostgreSQL cluster set up for logical replication; its log goes to base_dir.

    settings are extra (or overriding) server settings, passed as `-c name=value`.
    The cluster lives in a private directory under the system temp dir because the
    postgres user cannot reach into base_dir when it is private to root (as pytest's
    tmp_path is); that directory is removed on exit.
    """
    base_dir.mkdir(parents=True, exist_ok=True)
    bin_dir = _postgres_bin_dir()
    cluster_dir = Path(tempfile.mkdtemp(prefix="opendrs-postgres-"))
    try:
        socket_dir = cluster_dir / "sockets"
        socket_dir.mkdir()
        for path in (cluster_dir, socket_dir):
            shutil.chown(path, "postgres", "postgres")
        data_dir = cluster_dir / "data"
        _run(_initdb(bin_dir, data_dir), cwd=cluster_dir)
        all_settings = POSTGRES_SETTINGS | {k: _postgres_value(v) for k, v in settings.items()}

        def start(port: int) -> PostgresServer:
            server = PostgresServer(HOST, port, data_dir, socket_dir, base_dir / "postgres.log", bin_dir, all_settings)
            server.start()
            return server

        server = _start_on_free_port(start)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(cluster_dir, ignore_errors=True)


def _initdb(bin_dir: Path, data_dir: Path) -> list[str]:
    return _as_postgres(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]
    )


# --- MariaDB -------------------------------------------------------------------


@dataclass(frozen=True)
class MariadbServer(_DaemonControls):
    host: str
    port: int
    base_dir: Path
    binlog: bool
    server_id: int
    _daemon: _Daemon = field(repr=False, compare=False)
    user: str = "root"  # with an empty password

    @property
    def url(self) -> str:
        return f"mysql://{self.user}@{self.host}:{self.port}/"

    @property
    def data_dir(self) -> Path:
        return _mariadb_data_dir(self.base_dir)

    @property
    def log_file(self) -> Path:
        return _mariadb_log_file(self.base_dir)

    @property
    def socket(self) -> Path:
        return self.base_dir / "s.sock"

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "m.pid"


def _mariadb_data_dir(base_dir: Path) -> Path:
    return base_dir / "data"


def _mariadb_log_file(base_dir: Path) -> Path:
    return base_dir / "err.log"


@contextlib.contextmanager
def mariadb_server(
    base_dir: Path, binlog: bool = False, server_id: int = 1, options: Sequence[str] = ()
) -> Iterator[MariadbServer]:
    """A fresh MariaDB in base_dir; with binlog=True it logs full row images for CDC. `options` are more mariadbd
    options ("--name=value")."""
    data_dir = _mariadb_data_dir(base_dir)
    data_dir.mkdir(parents=True)  # fails if another server already lives in base_dir
    # A tmpdir of its own: servers bootstrapping at once in the shared /tmp have been seen to collide.
    _mariadb_tmp_dir(base_dir).mkdir()
    _run(
        [
            _executable("mariadb-install-db"),
            "--no-defaults",
            "--user=root",
            f"--datadir={data_dir}",
            f"--tmpdir={_mariadb_tmp_dir(base_dir)}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]
    )

    def start(port: int) -> MariadbServer:
        argv = [*_mariadbd_argv(base_dir, port, binlog, server_id), *options]
        daemon = _Daemon(argv, _mariadb_log_file(base_dir), _mariadb_ready(port, data_dir))
        server = MariadbServer(HOST, port, base_dir, binlog, server_id, daemon)
        server.start()
        return server

    server = _start_on_free_port(start)
    try:
        yield server
    finally:
        server.stop()


def _mariadb_tmp_dir(base_dir: Path) -> Path:
    return base_dir / "tmp"


def _mariadbd_argv(base_dir: Path, port: int, binlog: bool, server_id: int) -> list[str]:
    argv = [
        _executable("mariadbd"),
        "--no-defaults",
        "--user=root",
        f"--datadir={_mariadb_data_dir(base_dir)}",
        f"--socket={base_dir / 's.sock'}",
        f"--tmpdir={_mariadb_tmp_dir(base_dir)}",
        f"--port={port}",
        f"--bind-address={HOST}",
        f"--pid-file={base_dir / 'm.pid'}",
        f"--log-error={_mariadb_log_file(base_dir)}",
        "--local-infile=1",
        "--max-allowed-packet=256M",
        f"--server-id={server_id}",
    ]
    if binlog:
        argv += [
            "--log-bin=mysql-bin",
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            "--binlog-row-metadata=FULL",
        ]
    return argv


def _mariadb_ready(port: int, data_dir: Path) -> Callable[[], bool]:
    def is_ready() -> bool:
        """True once root can log in to the server whose data dir is ours."""
        try:
            # Read timeouts too: whatever else listens on the port may never greet us.
            connection = pymysql.connect(
                host=HOST,
                port=port,
                user="root",
                connect_timeout=1,
                read_timeout=1,
                write_timeout=1,
            )
            with connection, connection.cursor() as cursor:
                cursor.execute("SELECT @@datadir")
                row = cursor.fetchone()
        except pymysql.err.OperationalError:
            return False
        return row is not None and Path(str(row[0])).resolve() == data_dir.resolve()

    return is_ready


# --- Redis ---------------------------------------------------------------------


@dataclass(frozen=True)
class RedisServer(_DaemonControls):
    """A Redis without persistence: a restart starts empty."""

    host: str
    port: int
    base_dir: Path
    _daemon: _Daemon = field(repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def log_file(self) -> Path:
        return _redis_log_file(self.base_dir)


def _redis_log_file(base_dir: Path) -> Path:
    return base_dir / "redis.log"


@contextlib.contextmanager
def redis_server(base_dir: Path) -> Iterator[RedisServer]:
    base_dir.mkdir(parents=True, exist_ok=True)

    def start(port: int) -> RedisServer:
        argv = [
            _executable("redis-server"),
            "--port",
            str(port),
            "--bind",
            HOST,
            "--dir",
            str(base_dir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        daemon = _Daemon(argv, _redis_log_file(base_dir), _redis_ready(port, base_dir))
        server = RedisServer(HOST, port, base_dir, daemon)
        server.start()
        return server

    server = _start_on_free_port(start)
    try:
        yield server
    finally:
        server.stop()


def _redis_ready(port: int, base_dir: Path) -> Callable[[], bool]:
    def is_ready() -> bool:
        """True once the Redis that answers on port is the one working in base_dir."""
        # One try each time: the deadline loop is what retries.
        client = redis.Redis(host=HOST, port=port, socket_timeout=1, retry=Retry(NoBackoff(), retries=0))
        try:
            with client:
                return Path(client.config_get("dir")["dir"]).resolve() == base_dir.resolve()
        except redis.RedisError:
            return False

    return is_ready

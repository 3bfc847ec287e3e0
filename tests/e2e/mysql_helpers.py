"""Shared helpers of the end-to-end MySQL tests: SQL on the test servers, row-by-row comparison of a source and a
target database, driving a task through the DRS API, and a writer thread that changes the source all the time."""

from __future__ import annotations

import collections
import itertools
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import pymysql
import sqlalchemy as sa

from tests.harness import Api, Server, wait_for
from tests.servers import MariadbServer

JOBS = "/v3/{project_id}/jobs"
COPY_DEADLINE = 120.0  # a full copy on a loaded 2-core machine
CATCH_UP_DEADLINE = 120.0  # for the target to catch up with the source (seconds when all is well; a loaded machine)
STATUS_DEADLINE = 60.0

# Every task configure_task() made, with its client: conftest terminates those a test left running.
TASKS: list[tuple[Api, str]] = []

# --- SQL on a test server -------------------------------------------------------------------------------------


def connect(server: MariadbServer, database: str | None = None) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password="",
        database=database,
        autocommit=True,
        charset="utf8mb4",
        connect_timeout=5,
    )


def execute(server: MariadbServer, *statements: str) -> None:
    """Run statements in order on one connection (so BEGIN ... COMMIT spans them)."""
    connection = connect(server)
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def query(server: MariadbServer, sql: str, args: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    connection = connect(server)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
    finally:
        connection.close()


def scalar(server: MariadbServer, sql: str, args: Sequence[Any] | None = None) -> Any:
    rows = query(server, sql, args)
    return rows[0][0] if rows else None


def binlog_dumps(server: MariadbServer) -> list[tuple[Any, ...]]:
    """The server's binlog dump threads: one per connected replica (or task streaming from it)."""
    return [row for row in query(server, "SHOW PROCESSLIST") if row[4] == "Binlog Dump"]


def quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def qualified(schema: str, table: str) -> str:
    return f"{quote(schema)}.{quote(table)}"


# --- Comparing a source and a target database, row by row -----------------------------------------------------


_schemas = itertools.count(1)


def fresh_schema(source: MariadbServer, target: MariadbServer, prefix: str, test_name: str) -> str:
    """A database of a test's own, created empty on the source and absent on the target."""
    name = f"{prefix}{next(_schemas)}_" + re.sub(r"[^a-z0-9]+", "_", test_name.lower())[:40].strip("_")
    execute(target, f"DROP DATABASE IF EXISTS {quote(name)}")
    execute(
        source,
        f"DROP DATABASE IF EXISTS {quote(name)}",
        f"CREATE DATABASE {quote(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    )
    return name


def tables(server: MariadbServer, schema: str) -> list[str]:
    rows = query(
        server,
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'"
        " ORDER BY TABLE_NAME",
        (schema,),
    )
    return [str(row[0]) for row in rows]


def columns(server: MariadbServer, schema: str, table: str) -> list[tuple[str, ...]]:
    """(name, type, nullable, collation) of each column, in table order."""
    rows = query(
        server,
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, IFNULL(COLLATION_NAME, '') FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        (schema, table),
    )
    return [tuple(str(value) for value in row) for row in rows]


def indexes(server: MariadbServer, schema: str, table: str) -> list[tuple[str, ...]]:
    """(index, unique?, position, column, prefix length) of every index column."""
    rows = query(
        server,
        "SELECT INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, IFNULL(SUB_PART, '')"
        " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
        " ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        (schema, table),
    )
    return [tuple(str(value) for value in row) for row in rows]


def primary_key(server: MariadbServer, schema: str, table: str) -> list[str]:
    return [name for index, _, _, name, _ in indexes(server, schema, table) if index == "PRIMARY"]


def _row_digest(names: Sequence[str]) -> str:
    """SQL for an MD5 of every column's bytes: HEX(CONCAT(c)) is exact for every type (a plain HEX() would turn a
    DECIMAL or DOUBLE into an integer), and 'N' (never a hex digit) marks a NULL."""
    parts = ", ".join(f"IFNULL(HEX(CONCAT({quote(name)})), 'N')" for name in names)
    return f"MD5(CONCAT_WS('#', {parts}))"


def row_digests(server: MariadbServer, schema: str, table: str) -> collections.Counter[tuple[Any, ...]]:
    """(primary key..., digest of the whole row) -> how many such rows: duplicates of a keyless table count."""
    names = [column[0] for column in columns(server, schema, table)]
    key = primary_key(server, schema, table)
    select = ", ".join([*(quote(name) for name in key), _row_digest(names)])
    rows = query(server, f"SELECT {select} FROM {qualified(schema, table)}")
    return collections.Counter(tuple(row) for row in rows)


class TableChangedError(Exception):
    """A table lost a column, or went, between reading its columns and its rows (a DDL replicated meanwhile)."""


_CHANGED_UNDER_US = (1054, 1146)  # ER_BAD_FIELD_ERROR, ER_NO_SUCH_TABLE


def fingerprint(server: MariadbServer, schema: str) -> dict[str, tuple[int, int]]:
    """Per table: (rows, sum of the rows' CRC32): a cheap test of equality, for polling."""
    found = {}
    for table in tables(server, schema):
        names = [column[0] for column in columns(server, schema, table)]
        if not names:
            raise TableChangedError(f"{table} went before its columns were read")
        sql = f"SELECT COUNT(*), IFNULL(SUM(CRC32({_row_digest(names)})), 0) FROM {qualified(schema, table)}"
        try:
            count, crc_sum = query(server, sql)[0]
        except pymysql.err.MySQLError as error:
            if error.args[0] in _CHANGED_UNDER_US:
                raise TableChangedError(f"{table}: {error}") from error
            raise
        found[table] = (int(count), int(crc_sum))
    return found


def _same_fingerprints(source: MariadbServer, target: MariadbServer, schema: str) -> bool:
    try:
        return fingerprint(source, schema) == fingerprint(target, schema)
    except TableChangedError:
        return False  # read again at the next poll


def row_differences(source: MariadbServer, target: MariadbServer, schema: str, table: str) -> str | None:
    """None if the target table holds exactly the source's rows (each as many times); else what differs, starting
    with the first differing key."""
    expected = row_digests(source, schema, table)
    found = row_digests(target, schema, table)
    if expected == found:
        return None
    missing = expected - found
    extra = found - expected
    key_length = len(primary_key(source, schema, table))
    first = min([*missing, *extra])
    key = first[:key_length] if key_length else first
    described = "key " + repr(key) if key_length else "row digest " + repr(first[-1])

    def copies(rows: collections.Counter[tuple[Any, ...]]) -> list[str]:
        return [f"{row[-1]} x{count}" for row, count in rows.items() if row[:key_length] == key[:key_length]]

    if not key_length:
        return (
            f"{schema}.{table}: first differing {described}: {expected[first]} on the source, {found[first]} on the"
            f" target; {sum(missing.values())} source rows missing on the target, {sum(extra.values())} extra rows"
        )
    return (
        f"{schema}.{table}: first differing {described}: source {copies(expected) or 'absent'}, target"
        f" {copies(found) or 'absent'}; {sum(missing.values())} source rows missing or different on the target,"
        f" {sum(extra.values())} target rows extra or different"
    )


def structure_differences(source: MariadbServer, target: MariadbServer, schema: str) -> list[str]:
    problems = []
    source_tables, target_tables = tables(source, schema), tables(target, schema)
    if source_tables != target_tables:
        problems.append(f"{schema}: tables {source_tables} on the source, {target_tables} on the target")
    for table in sorted(set(source_tables) & set(target_tables)):
        expected, found = columns(source, schema, table), columns(target, schema, table)
        if expected != found:
            problems.append(f"{schema}.{table}: columns {expected} on the source, {found} on the target")
        expected, found = indexes(source, schema, table), indexes(target, schema, table)
        if expected != found:
            problems.append(f"{schema}.{table}: indexes {expected} on the source, {found} on the target")
    return problems


def assert_same_database(source: MariadbServer, target: MariadbServer, schema: str) -> None:
    """The target's copy of `schema` has the source's tables, columns, indexes and rows, row for row."""
    problems = structure_differences(source, target, schema)
    for table in sorted(set(tables(source, schema)) & set(tables(target, schema))):
        difference = row_differences(source, target, schema, table)
        if difference:
            problems.append(difference)
    assert not problems, "the target differs from the source:\n" + "\n".join(problems)


def wait_same_database(
    source: MariadbServer, target: MariadbServer, schema: str, deadline: float = CATCH_UP_DEADLINE
) -> None:
    """Poll until the target's `schema` has caught up with the source's; then compare every row."""
    try:
        wait_for(
            lambda: _same_fingerprints(source, target, schema),
            f"the target's {schema} to equal the source's",
            deadline,
        )
    except AssertionError as timed_out:
        assert_same_database(source, target, schema)  # fails naming the first difference
        raise timed_out
    assert_same_database(source, target, schema)


def assert_stays(condition: Callable[[], bool], what: str, seconds: float) -> None:
    """`condition` holds at every poll for `seconds`: the way to show that something does NOT happen."""
    end = time.monotonic() + seconds
    polls = 0
    while time.monotonic() < end or polls < 3:
        assert condition(), f"{what} no longer holds after {polls} polls"
        polls += 1
        time.sleep(0.2)


@contextmanager
def metadata_lock_held(server: MariadbServer, table: str) -> Iterator[None]:
    """An open transaction that read `table` (qualified) in the block: its metadata lock holds up every ALTER of
    the table (as a long sort or rebuild would run) while the table's reads and writes go on."""
    blocker = connect(server)
    try:
        with blocker.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f"SELECT 1 FROM {table} LIMIT 1")
        yield
    finally:
        blocker.close()


def alters_waiting(server: MariadbServer, table_name: str) -> int:
    """How many ALTER TABLE statements naming `table_name` wait for a metadata lock on `server`."""
    sql = (
        "SELECT COUNT(*) FROM information_schema.processlist"
        " WHERE state = 'Waiting for table metadata lock' AND info LIKE %s"
    )
    return int(scalar(server, sql, (f"ALTER TABLE %{table_name}%",)))


# --- Driving a task through the API ----------------------------------------------------------------------------


def meta_rows(target: MariadbServer, job: str) -> dict[str, int]:
    """The task's rows in each table of opendrs's own schema on the target."""
    tables = [
        row[0]
        for row in query(target, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'opendrs_meta'")
    ]
    return {
        str(table): int(
            scalar(target, f"SELECT COUNT(*) FROM opendrs_meta.{quote(str(table))} WHERE task_id = %s", [job])
        )
        for table in tables
    }


def endpoint(server: MariadbServer) -> dict[str, Any]:
    return {"db_type": "mysql", "ip": server.host, "db_port": server.port, "db_user": server.user, "db_password": ""}


def one_result(response: httpx.Response, status_code: int = 200) -> dict[str, Any]:
    assert response.status_code == status_code, f"{response.request.url}: {response.status_code} {response.text}"
    [result] = response.json()["results"]
    assert isinstance(result, dict)
    return result


def succeeded(response: httpx.Response, status_code: int = 200) -> dict[str, Any]:
    result = one_result(response, status_code)
    assert result.get("status") in ("success", True), f"{response.request.url}: {response.text}"
    return result


def configure_task(
    api: Api,
    source: MariadbServer,
    target: MariadbServer,
    task_type: str,
    databases: Sequence[str],
    tables: Sequence[tuple[str, str]] = (),
) -> str:
    """A new task in CONFIGURATION, with both endpoints, whole `databases` and single (schema, name) `tables`
    selected; its id."""
    [job] = api.create_tasks(1, task_type=task_type)
    TASKS.append((api, job))
    endpoints = {"job_id": job, "source_endpoint": endpoint(source), "target_endpoint": endpoint(target)}
    succeeded(api.put(f"{JOBS}/batch-modification", {"jobs": [endpoints]}))
    objects = [{"id": db, "object_type": "database", "object_name": db, "select": "true"} for db in databases]
    objects += [
        {"id": name, "parent_id": db, "object_type": "table", "object_name": name, "select": "true"}
        for db, name in tables
    ]
    selection = {"job_id": job, "selected": True, "job": objects}
    succeeded(api.put(f"{JOBS}/batch-select-objects", {"jobs": [selection]}), 202)
    return job


def replicating_task(
    api: Api,
    source: MariadbServer,
    target: MariadbServer,
    databases: Sequence[str],
    tables: Sequence[tuple[str, str]] = (),
) -> str:
    """A FULL_INCR_TRANS task of these objects, started, past its full copy and into incremental sync; its id."""
    job = configure_task(api, source, target, "FULL_INCR_TRANS", databases, tables)
    start(api, job)
    wait_status(api, job, "INCRE_TRANSFER_STARTED", COPY_DEADLINE)
    return job


def precheck(api: Api, job: str, mode: str = "forStartJob") -> dict[str, Any]:
    """Run a precheck and wait for its result."""
    started = succeeded(api.post(f"{JOBS}/batch-precheck", {"jobs": [{"job_id": job, "precheck_mode": mode}]}))
    assert started.get("precheck_id"), started

    def done() -> dict[str, Any] | None:
        result = one_result(api.post(f"{JOBS}/batch-precheck-result", {"jobs": [job]}))
        return result if result.get("process") == "100%" else None

    return wait_for(done, f"the precheck of {job}", STATUS_DEADLINE)


def failed_items(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["item"], item["failed_reason"]) for item in result["precheck_result"] if item["result"] == "FAILED"]


def start(api: Api, job: str) -> None:
    """Precheck (it must pass) and start now."""
    result = precheck(api, job)
    assert result["result"] is True, f"precheck failed: {failed_items(result)}"
    succeeded(api.post(f"{JOBS}/batch-starting", {"jobs": [{"job_id": job}]}), 202)


def status_of(api: Api, job: str) -> dict[str, Any]:
    return one_result(api.post(f"{JOBS}/batch-status", {"jobs": [job]}))


def progress_of(api: Api, job: str) -> dict[str, Any]:
    return one_result(api.post(f"{JOBS}/batch-progress", {"jobs": [job]}), 202)


def detail_of(api: Api, job: str) -> dict[str, Any]:
    return one_result(api.post(f"{JOBS}/batch-detail", {"jobs": [job]}))


def wait_status(api: Api, job: str, expected: str, deadline: float = STATUS_DEADLINE) -> dict[str, Any]:
    """Poll batch-status until `expected`; fail at once, with the task's error, if it fails instead."""
    seen: list[str] = []

    def reached() -> dict[str, Any] | None:
        result = status_of(api, job)
        status = str(result.get("status"))
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == expected:
            return result
        if status.endswith("_FAILED") and not expected.endswith("_FAILED"):
            raise AssertionError(f"task {job} went to {status} waiting for {expected}: {result}")
        return None

    try:
        return wait_for(reached, f"task {job} to reach {expected}", deadline)
    except AssertionError as error:
        raise AssertionError(f"{error}; statuses seen: {seen}") from None


def pause(api: Api, job: str) -> None:
    succeeded(api.post(f"{JOBS}/batch-pause-task", {"jobs": [{"job_id": job, "pause_mode": "all"}]}))


def pause_until_let_go(api: Api, server: Server, job: str) -> None:
    """Pause the task and wait until its worker has let it go: nothing of it runs any more."""
    pause(api, job)
    wait_for(lambda: lease_owner(server, job) is None, "the paused task's worker to let it go")


def retry(api: Api, job: str) -> None:
    succeeded(api.post(f"{JOBS}/batch-retry-task", {"jobs": [{"job_id": job}]}))


def terminate(api: Api, job: str) -> str:
    """Stop the task; the id of the operation."""
    response = api.delete(f"{JOBS}/batch-jobs", {"jobs": [{"job_id": job, "delete_type": "terminate"}]})
    succeeded(response, 202)
    operation: str = response.json()["job_id"]
    return operation


def limit_speed(api: Api, jobs: Sequence[str], mb_per_second: int) -> httpx.Response:
    window = {"begin": "00:00", "end": "23:59", "speed": str(mb_per_second)}
    body = {"speed_limits": [{"job_id": job, "speed_limit": [window]} for job in jobs]}
    return api.put(f"{JOBS}/batch-limit-speed", body)


def lease_owner(server: Server, job: str) -> str | None:
    """The worker holding the task's lease (read from the store): '<hostname>-<pid>-<suffix>', or None."""
    engine = server.engine()
    try:
        with engine.connect() as connection:
            owner = connection.scalar(sa.text("SELECT lease_owner FROM tasks WHERE id = :id"), {"id": job})
    finally:
        engine.dispose()
    return None if owner is None else str(owner)


def copied_chunks(server: Server, job: str) -> list[str]:
    """The chunks of the full copy recorded as done in the store ('schema.table#n')."""
    engine = server.engine()
    try:
        with engine.connect() as connection:
            found = connection.scalars(sa.text("SELECT chunk_id FROM task_chunks WHERE task_id = :id"), {"id": job})
            return sorted(str(chunk) for chunk in found)
    finally:
        engine.dispose()


class StatusWatch:
    """Polls batch-status in a thread of its own (with its own client) and keeps every status seen, in order."""

    def __init__(self, api: Api, job: str) -> None:
        self._api = Api(api.server, api.tenant)
        self._job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{job[:8]}", daemon=True)
        self.seen: list[dict[str, Any]] = []
        self.error: BaseException | None = None

    def __enter__(self) -> StatusWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._api.__exit__()

    @property
    def statuses(self) -> list[str]:
        return [str(result.get("status")) for result in self.seen]

    def failures(self) -> list[dict[str, Any]]:
        return [result for result in self.seen if str(result.get("status")).endswith("_FAILED")]

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                result = status_of(self._api, self._job)
                if not self.seen or self.seen[-1] != result:
                    self.seen.append(result)
                self._stop.wait(0.1)
        except BaseException as error:  # shown by the test that reads `error`
            self.error = error


# --- A writer that changes the source all the time ------------------------------------------------------------


WRITER_TABLES = (
    "CREATE TABLE {schema}.w_pk (id BIGINT NOT NULL PRIMARY KEY, grp INT NOT NULL, v VARCHAR(64),"
    " amount DECIMAL(14,4), at DATETIME(6), KEY grp (grp)) DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE {schema}.w_comp (a INT NOT NULL, b VARCHAR(24) NOT NULL, v INT, note TEXT, PRIMARY KEY (a, b))"
    " DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE {schema}.w_nokey (grp INT, v VARCHAR(32)) DEFAULT CHARSET=utf8mb4",
)


class Writer:
    """A thread writing to the source's `w_*` tables until stopped: single-row inserts, updates that change primary
    keys (single and composite), deletes, duplicate rows in a keyless table, multi-statement transactions, rolled
    back ones, and now and then a large transaction. Seeded, so a run can be replayed. With `xa`, half of the
    multi-statement transactions are two-phase XA ones, committed (or rolled back) from a session of their own after
    another transaction committed."""

    def __init__(
        self,
        server: MariadbServer,
        schema: str,
        *,
        seeded_rows: int = 2000,
        seed: int = 7,
        large_rows: int = 3000,
        pause: float = 0.003,
        xa: bool = False,
    ) -> None:
        self._server = server
        self._xa = xa
        self._xa_name = f"w-{schema}"
        self._seeded_rows = seeded_rows
        self._schema = quote(schema)
        self._random = random.Random(seed)
        self._large_rows = large_rows
        self._pause = pause  # seconds between transactions
        self._next_id = 10_000_000
        self._next_b = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"writer-{schema}", daemon=True)
        self._error: BaseException | None = None
        self.transactions = 0  # committed by the writer so far
        self.large_transactions = 0

    @staticmethod
    def create_tables(server: MariadbServer, schema: str, pk_rows: int = 2000) -> None:
        """The writer's tables, seeded: `pk_rows` rows in w_pk, a few hundred in the others."""
        name = quote(schema)
        execute(server, *(statement.format(schema=name) for statement in WRITER_TABLES))
        execute(
            server,
            f"INSERT INTO {name}.w_pk SELECT seq, seq % 97, CONCAT('seed-', seq), seq / 7,"
            f" TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND FROM {name}.seq_1_to_{pk_rows}",
            f"INSERT INTO {name}.w_comp SELECT seq % 20, CONCAT('seed', seq), seq, REPEAT('n', seq % 50)"
            f" FROM {name}.seq_1_to_600",
            f"INSERT INTO {name}.w_nokey SELECT seq % 30, CONCAT('dup-', seq % 60) FROM {name}.seq_1_to_600",
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop writing; raise what made the writer fail, if anything did."""
        self._stop.set()
        self._thread.join()
        if self._error is not None:
            raise AssertionError(f"the writer failed: {self._error!r}") from self._error

    def stop_quietly(self) -> None:
        self._stop.set()
        self._thread.join()

    def wait_for_transactions(self, count: int, what: str, deadline: float = STATUS_DEADLINE) -> None:
        """Until the writer has committed `count` more transactions."""
        goal = self.transactions + count

        def written() -> bool:
            if self._error is not None:
                raise AssertionError(f"the writer failed: {self._error!r}")
            return self.transactions >= goal

        wait_for(written, what, deadline)

    def wait_for_large_transaction(self, deadline: float = STATUS_DEADLINE) -> None:
        """Until the writer has committed one more large transaction."""
        goal = self.large_transactions + 1

        def written() -> bool:
            if self._error is not None:
                raise AssertionError(f"the writer failed: {self._error!r}")
            return self.large_transactions >= goal

        wait_for(written, "a large transaction on the source", deadline)

    def _run(self) -> None:
        connection = connect(self._server)
        xa_connection = connect(self._server)
        try:
            with connection.cursor() as cursor, xa_connection.cursor() as xa_cursor:
                # A wait for a lock the writer itself holds in a prepared XA transaction fails fast, not in 50 s.
                cursor.execute("SET SESSION innodb_lock_wait_timeout = 5")
                while not self._stop.is_set():
                    self._one(cursor, xa_cursor)
                    self._stop.wait(self._pause)  # leaves the machine's two cores to the task
        except BaseException as error:
            self._error = error
        finally:
            connection.close()
            xa_connection.close()

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _new_b(self) -> str:
        self._next_b += 1
        return f"w{self._next_b}"

    def _some_id(self) -> int:
        """An id that likely exists: a seeded one or one the writer inserted (a miss changes nothing)."""
        if self._random.random() < 0.5:
            return self._random.randint(1, self._seeded_rows)
        return self._random.randint(10_000_001, max(10_000_001, self._next_id))

    def _one(self, cursor: Any, xa_cursor: Any) -> None:
        s = self._schema
        roll = self._random.random()
        grp = self._random.randint(0, 29)
        if roll < 0.25:
            cursor.execute(
                f"INSERT INTO {s}.w_pk VALUES (%s, %s, %s, %s, NOW(6))",
                (self._new_id(), grp, f"ins-{self._next_id} ✓", self._random.randint(-(10**6), 10**6) / 100),
            )
        elif roll < 0.40:  # the primary key changes
            cursor.execute(f"UPDATE {s}.w_pk SET id = %s, v = 'moved' WHERE id = %s", (self._new_id(), self._some_id()))
        elif roll < 0.48:
            cursor.execute(f"UPDATE {s}.w_pk SET amount = amount + 1, at = NOW(6) WHERE grp = %s LIMIT 3", (grp,))
        elif roll < 0.56:
            cursor.execute(f"DELETE FROM {s}.w_pk WHERE id = %s", (self._some_id(),))
        elif roll < 0.64:  # duplicate rows in the keyless table
            value = f"dup-{self._random.randint(0, 59)}"
            cursor.execute(f"INSERT INTO {s}.w_nokey VALUES (%s, %s), (%s, %s)", (grp, value, grp, value))
        elif roll < 0.70:
            cursor.execute(f"DELETE FROM {s}.w_nokey WHERE grp = %s LIMIT 1", (grp,))
        elif roll < 0.75:
            cursor.execute(f"UPDATE {s}.w_nokey SET v = CONCAT(v, '+') WHERE grp = %s LIMIT 1", (grp,))
        elif roll < 0.80:  # the composite primary key changes
            cursor.execute(
                f"UPDATE {s}.w_comp SET b = %s, v = v + 1 WHERE a = %s ORDER BY b LIMIT 1", (self._new_b(), grp)
            )
        elif roll < 0.84:
            cursor.execute(f"INSERT INTO {s}.w_comp VALUES (%s, %s, %s, NULL)", (grp, self._new_b(), grp))
        elif roll < 0.96:
            if self._xa and self._random.random() < 0.5:
                self._two_phase(xa_cursor, cursor, grp)
            else:
                self._multi_statement(cursor, grp)
        elif roll < 0.985:
            self._rolled_back(cursor, grp)
            return  # nothing committed
        else:
            self._large(cursor)
        self.transactions += 1

    def _multi_statement(self, cursor: Any, grp: int) -> None:
        s = self._schema
        cursor.execute("BEGIN")
        new_id = self._new_id()
        cursor.execute(f"INSERT INTO {s}.w_pk VALUES (%s, %s, 'tx', 1.5, NOW(6))", (new_id, grp))
        cursor.execute(f"UPDATE {s}.w_pk SET id = %s WHERE id = %s", (self._new_id(), new_id))
        cursor.execute(f"UPDATE {s}.w_pk SET id = %s WHERE id = %s", (self._new_id(), self._some_id()))
        cursor.execute(f"DELETE FROM {s}.w_comp WHERE a = %s ORDER BY b DESC LIMIT 1", (grp,))
        cursor.execute(f"INSERT INTO {s}.w_nokey VALUES (%s, 'tx'), (%s, 'tx')", (grp, grp))
        cursor.execute(f"DELETE FROM {s}.w_nokey WHERE grp = %s AND v = 'tx' LIMIT 1", (grp,))
        cursor.execute("COMMIT")

    def _two_phase(self, xa_cursor: Any, cursor: Any, grp: int) -> None:
        """An XA transaction prepared, another committed, then the XA one committed, or rolled back one time in five.
        It locks no gap and no row the one in between writes (a new w_pk row)."""
        s = self._schema
        xid = f"'{self._xa_name}-{self._new_id()}'"
        xa_cursor.execute(f"XA START {xid}")
        xa_cursor.execute(f"INSERT INTO {s}.w_pk VALUES (%s, %s, 'xa', 2.5, NOW(6))", (self._new_id(), grp))
        xa_cursor.execute(f"UPDATE {s}.w_pk SET amount = amount - 1 WHERE id = %s", (self._some_id(),))
        xa_cursor.execute(f"INSERT INTO {s}.w_nokey VALUES (%s, 'xa'), (%s, 'xa')", (grp, grp))
        xa_cursor.execute(f"XA END {xid}")
        xa_cursor.execute(f"XA PREPARE {xid}")
        cursor.execute(f"INSERT INTO {s}.w_pk VALUES (%s, %s, 'between', 0, NOW(6))", (self._new_id(), grp))
        xa_cursor.execute(f"XA {'ROLLBACK' if self._random.random() < 0.2 else 'COMMIT'} {xid}")

    def _rolled_back(self, cursor: Any, grp: int) -> None:
        s = self._schema
        cursor.execute("BEGIN")
        cursor.execute(f"INSERT INTO {s}.w_pk VALUES (%s, %s, 'rolled back', 0, NOW(6))", (self._new_id(), grp))
        cursor.execute(f"DELETE FROM {s}.w_nokey WHERE grp = %s", (grp,))
        cursor.execute("ROLLBACK")

    def _large(self, cursor: Any) -> None:
        s = self._schema
        first = self._next_id + 1
        self._next_id += self._large_rows
        cursor.execute("BEGIN")
        cursor.execute(
            f"INSERT INTO {s}.w_pk SELECT {first - 1} + seq, seq % 97, CONCAT('large-', seq), seq, NOW(6)"
            f" FROM {s}.seq_1_to_{self._large_rows}"
        )
        cursor.execute(f"UPDATE {s}.w_pk SET grp = grp + 1 WHERE id BETWEEN %s AND %s", (first, self._next_id))
        cursor.execute(f"DELETE FROM {s}.w_pk WHERE id BETWEEN %s AND %s AND MOD(id, 10) = 0", (first, self._next_id))
        cursor.execute(f"INSERT INTO {s}.w_nokey SELECT seq % 30, 'large' FROM {s}.seq_1_to_100")
        cursor.execute("COMMIT")
        self.large_transactions += 1


@contextmanager
def writing(server: MariadbServer, schema: str, **options: Any) -> Iterator[Writer]:
    """A running writer; stopped on exit (raising its failure, if any)."""
    writer = Writer(server, schema, **options)
    writer.start()
    try:
        yield writer
    except BaseException:
        writer.stop_quietly()
        raise
    writer.stop()

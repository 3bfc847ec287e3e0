"""Fixtures: a real `opendrs serve` process per store (SQLite, and PostgreSQL on a throwaway server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers
from tests.harness import Api, Server, Tenant, create_tenant, serve

STORES = ["sqlite", "postgresql"]

# Tests that time worker crashes, lease takeovers, network cuts or a fuzzing budget: scripts/test runs the suite in
# two processes (--dist loadgroup), and these go to one of them, one after another, so that no two of them compete
# for the machine's two cores.
ONE_AT_A_TIME = (
    "tests/faults/",
    "tests/fuzz/",
    "tests/e2e/test_mysql_faults.py",
    "tests/e2e/test_scale_out.py",
    "tests/e2e/test_mysql_compare.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(ONE_AT_A_TIME):
            item.add_marker(pytest.mark.xdist_group("one_at_a_time"))


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.PostgresServer]:
    with servers.postgres_server(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture(scope="session", params=STORES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`opendrs serve` on each store in turn; every API test runs against both."""
    data_dir = tmp_path_factory.mktemp(f"opendrs-{request.param}")
    database_url = None
    if request.param == "postgresql":
        database_url = _fresh_database(request.getfixturevalue("postgres"), data_dir.name)
    with serve(data_dir, database_url) as running:
        yield running


def _fresh_database(postgres: servers.PostgresServer, name: str) -> str:
    import psycopg

    database = name.replace("-", "_").lower()
    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{database}"')
    return postgres.dsn.rsplit("/", 1)[0] + f"/{database}"


@pytest.fixture(scope="session")
def tenant(server: Server) -> Tenant:
    return create_tenant(server, "a")


@pytest.fixture(scope="session")
def other_tenant(server: Server) -> Tenant:
    return create_tenant(server, "b")


@pytest.fixture(scope="session")
def api(server: Server, tenant: Tenant) -> Iterator[Api]:
    with Api(server, tenant) as client:
        yield client


@pytest.fixture(scope="session")
def other_api(server: Server, other_tenant: Tenant) -> Iterator[Api]:
    with Api(server, other_tenant) as client:
        yield client


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"

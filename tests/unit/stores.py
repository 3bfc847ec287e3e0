"""A fresh migrated store (SQLite, and PostgreSQL in a throwaway cluster) and tasks to put in it, for store tests."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from opendrs.domain.compare import CompareKind, CompareStatus, CompareTask
from opendrs.domain.states import TaskStatus
from opendrs.domain.tasks import Task
from opendrs.store import compare as compare_store
from opendrs.store import database
from opendrs.store import tasks as task_store
from tests.servers import PostgresServer

NOW = 1_700_000_000_000  # ms


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A migrated store of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        postgres: PostgresServer = request.getfixturevalue("postgres")
        name = f"store_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres.dsn, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = postgres.dsn.rsplit("/", 1)[0] + f"/{name}"
    created = database.create_engine(url)
    database.migrate(created)
    yield created
    created.dispose()


def task(**changes: Any) -> Task:
    """A full+incremental MySQL task in `status`, changed at NOW."""
    base = Task(
        id="9a470239-2308-4bb5-a6bc-1040402fjb21",
        project_id="p" * 32,
        name="store-test",
        status=TaskStatus.CONFIGURATION,
        db_use_type="migration",
        engine_type="mysql",
        job_direction="up",
        net_type="eip",
        node_type="high",
        task_type="FULL_INCR_TRANS",
        description="",
        source_endpoint={},
        target_endpoint={},
        options={},
        async_job_id=None,
        error_code=None,
        error_msg=None,
        create_time=NOW,
        update_time=NOW,
        actual_start_time=None,
        full_transfer_complete_time=None,
        objects=None,
        scheduled_start=None,
        paused_from=None,
    )
    return dataclasses.replace(base, **changes)


def compare_task(engine: sa.Engine) -> str:
    """A lines comparison waiting to run, of a paused task, both created at NOW; its id."""
    paused = task(status=TaskStatus.PAUSING)
    waiting = CompareStatus.WAITING_FOR_RUNNING
    compare = CompareTask(str(uuid.uuid4()), paused.id, paused.project_id, CompareKind.LINES, waiting, (), NOW, NOW)
    with database.writing(engine) as connection:
        task_store.insert(connection, [task_store.NewTask(paused, {})])
        compare_store.insert(connection, compare)
    return compare.id

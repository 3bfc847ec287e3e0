"""v5 batch-async jobs."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

from opendrs.domain.async_jobs import AsyncJob, AsyncJobSummary, Entry, ListQuery
from opendrs.domain.states import AsyncJobStatus
from opendrs.store.schema import async_jobs


def insert(connection: sa.Connection, job: AsyncJob) -> None:
    connection.execute(
        async_jobs.insert().values(
            id=job.id,
            project_id=job.project_id,
            domain_name=job.domain_name,
            user_name=job.user_name,
            status=job.status.value,
            entries=[_entry_json(entry) for entry in job.entries],
            create_time=job.create_time,
            update_time=job.update_time,
        )
    )


def get(connection: sa.Connection, project_id: str, async_job_id: str, *, for_update: bool = False) -> AsyncJob | None:
    query = sa.select(async_jobs).where(async_jobs.c.id == async_job_id, async_jobs.c.project_id == project_id)
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).first()
    return _job(row) if row else None


def save(connection: sa.Connection, job: AsyncJob, expected: AsyncJobStatus) -> bool:
    """Store `job` if its status is still `expected`; False when someone changed it meanwhile."""
    updated = connection.execute(
        async_jobs.update()
        .where(async_jobs.c.id == job.id, async_jobs.c.status == expected.value)
        .values(
            status=job.status.value,
            entries=[_entry_json(entry) for entry in job.entries],
            update_time=job.update_time,
        )
    )
    return updated.rowcount == 1


def ids_in_status(connection: sa.Connection, status: AsyncJobStatus, limit: int) -> list[tuple[str, str]]:
    query = (
        sa.select(async_jobs.c.project_id, async_jobs.c.id)
        .where(async_jobs.c.status == status.value)
        .order_by(async_jobs.c.create_time)
        .limit(limit)
    )
    return [(row.project_id, row.id) for row in connection.execute(query)]


def list_page(connection: sa.Connection, query: ListQuery) -> tuple[int, list[AsyncJobSummary]]:
    conditions = [async_jobs.c.project_id == query.project_id]
    if query.async_job_id:
        conditions.append(async_jobs.c.id == query.async_job_id)
    if query.status:
        conditions.append(async_jobs.c.status == query.status)
    if query.domain_name:
        conditions.append(async_jobs.c.domain_name == query.domain_name)
    if query.user_name:
        conditions.append(async_jobs.c.user_name == query.user_name)
    total = connection.scalar(sa.select(sa.func.count()).select_from(async_jobs).where(*conditions)) or 0
    order = async_jobs.c.create_time.asc() if query.ascending else async_jobs.c.create_time.desc()
    summary = (
        async_jobs.c.id,
        async_jobs.c.status,
        async_jobs.c.domain_name,
        async_jobs.c.user_name,
        async_jobs.c.create_time,
    )
    rows = connection.execute(
        sa.select(*summary).where(*conditions).order_by(order, async_jobs.c.id).offset(query.offset).limit(query.limit)
    )
    return total, [
        AsyncJobSummary(row.id, AsyncJobStatus(row.status), row.domain_name, row.user_name, row.create_time)
        for row in rows
    ]


def _entry_json(entry: Entry) -> dict[str, Any]:
    return dataclasses.asdict(entry)


def _job(row: sa.Row[Any]) -> AsyncJob:
    return AsyncJob(
        id=row.id,
        project_id=row.project_id,
        domain_name=row.domain_name,
        user_name=row.user_name,
        status=AsyncJobStatus(row.status),
        entries=tuple(Entry(**entry) for entry in row.entries),
        create_time=row.create_time,
        update_time=row.update_time,
    )

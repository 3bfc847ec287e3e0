"""Composition root: settings -> store -> services -> HTTP app / worker. The only place that wires."""

from __future__ import annotations

import dataclasses
import functools

import sqlalchemy as sa

from opendrs import doorbell, logs
from opendrs.api.app import create_app
from opendrs.api.gateway import ASGIApp
from opendrs.engine.worker import Worker, WorkerSettings
from opendrs.keys import Keys, load_or_create_secret
from opendrs.service.async_jobs import AsyncJobService
from opendrs.service.compare import CompareService
from opendrs.service.container import Services
from opendrs.service.iam import IamService
from opendrs.service.lifecycle import LifecycleService
from opendrs.service.monitoring import MonitoringService
from opendrs.service.operations import OperationService
from opendrs.service.tasks import TaskService
from opendrs.settings import Settings
from opendrs.store import database


@dataclasses.dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: sa.Engine
    keys: Keys
    services: Services
    bell_name: str  # the doorbell its API rings for the worker of this host (opendrs/doorbell.py)


def open_runtime(settings: Settings, migrate: bool = True) -> Runtime:
    """Open (and migrate) the store and build the services on it."""
    engine = database.create_engine(settings.store_url())
    if migrate:
        database.migrate(engine)
    keys = Keys(_secret(settings))
    bell_name = doorbell.name_for(settings.store_url())
    ring = functools.partial(doorbell.ring, bell_name)
    iam = IamService(engine, keys, settings.token_ttl_seconds)
    tasks = TaskService(engine, keys, ring)
    services = Services(
        iam=iam,
        tasks=tasks,
        lifecycle=LifecycleService(engine, keys, ring),
        async_jobs=AsyncJobService(engine, keys, tasks, ring),
        operations=OperationService(engine),
        compare=CompareService(engine, ring),
        monitoring=MonitoringService(engine),
        max_batch_ids=settings.max_batch_ids,
        public_url=settings.public_url,
        reads_inline=engine.dialect.name == "sqlite",
    )
    return Runtime(settings, engine, keys, services, bell_name)


def http_app(runtime: Runtime) -> ASGIApp:
    settings = runtime.settings
    metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    return create_app(runtime.services, settings.max_body_bytes, metrics_token)


def http_app_from_environment() -> ASGIApp:
    """The HTTP app of one of several server processes (uvicorn's factory); the store is already migrated."""
    settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    return http_app(open_runtime(settings, migrate=False))


def worker(runtime: Runtime) -> Worker:
    settings = runtime.settings
    worker_settings = WorkerSettings(
        poll_seconds=settings.worker_poll_seconds,
        operation_retention_seconds=settings.operation_retention_seconds,
        max_tasks=settings.max_tasks_per_worker,
        lease_ttl_seconds=settings.lease_ttl_seconds,
        retry_window_seconds=settings.retry_window_seconds,
        sample_seconds=settings.sample_seconds,
        copy_chunk_rows=settings.copy_chunk_rows,
    )
    return Worker(runtime.engine, runtime.keys, worker_settings, runtime.bell_name)


def _secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    return load_or_create_secret(settings.data_dir / "secret.key")

"""What a route handler reads from its request: services, caller, language."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from opendrs.domain.errors import Language
from opendrs.service.container import Services
from opendrs.service.iam import Identity


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


P = ParamSpec("P")
T = TypeVar("T")


async def read(request: Request, query: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a short read of the store for an `async def` handler: inline where reads are local (SQLite: a thread
    hop costs as much CPU as the read), in a worker thread where they wait on the network (PostgreSQL)."""
    if services(request).reads_inline:
        return query(*args, **kwargs)
    return await run_in_threadpool(query, *args, **kwargs)


def language(request: Request) -> Language:
    return cast(Language, getattr(request.state, "language", Language.EN))


def identity(request: Request) -> Identity:
    """The caller, authenticated by the gateway for every project-scoped path."""
    return cast(Identity, request.state.identity)

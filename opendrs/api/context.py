"""What a route handler reads from its request: services, caller, language."""

from __future__ import annotations

from typing import cast

from starlette.requests import Request

from opendrs.domain.errors import Language
from opendrs.service.container import Services
from opendrs.service.iam import Identity


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


def language(request: Request) -> Language:
    return cast(Language, getattr(request.state, "language", Language.EN))


def identity(request: Request) -> Identity:
    """The caller, authenticated by the gateway for every project-scoped path."""
    return cast(Identity, request.state.identity)

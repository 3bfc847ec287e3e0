"""The HTTP application: routes, the gateway in front, and the exception -> contract error table."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from http import HTTPStatus

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

import opendrs
from opendrs.api import context, openapi
from opendrs.api.gateway import ASGIApp, Gateway
from opendrs.api.responses import Json, error_body
from opendrs.api.routes import compare_v3, console, iam, jobs_v3, jobs_v5, lifecycle_v3, monitoring, operations
from opendrs.api.validation import to_contract_error
from opendrs.domain import errors
from opendrs.domain.errors import OpendrsError, Text
from opendrs.service.container import Services

log = logging.getLogger(__name__)

# FastAPI's parser fails this way on bytes that are not UTF-8, on nesting deeper than Python's recursion limit and on
# integers longer than its 4300-digit limit, and does not say which: the message names all three.
_UNREADABLE_BODY = Text(
    "the body cannot be read as JSON: send it UTF-8 encoded, nested at most a few hundred levels deep,"
    " with numbers of at most 4300 digits",
    "无法将请求体读取为JSON：请使用UTF-8编码，嵌套不超过几百层，数字不超过4300位",
)
_ROUTERS = (
    iam.router,
    jobs_v3.router,
    lifecycle_v3.router,
    compare_v3.router,
    jobs_v5.router,
    operations.router,
    monitoring.router,
)
_OWN_ROUTERS = (monitoring.metrics_router, console.router)  # no /drs alias: not DRS APIs


def create_app(services: Services, max_body_bytes: int, metrics_token: str | None = None) -> ASGIApp:
    app = FastAPI(
        title="opendrs",
        version=opendrs.__version__,
        description="Self-hosted Data Replication Service with the DRS v3/v5 and ECS job APIs.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        telemetry={"tracing": False, "metrics": False, "logs": False},
        lifespan=_lifespan,
    )
    app.state.services = services
    generate = app.openapi
    app.openapi = lambda: openapi.with_error_responses(generate())  # type: ignore[method-assign]
    app.state.metrics_token = metrics_token
    for router in _ROUTERS:
        app.include_router(router)
        # Some OTC examples put the DRS APIs under /drs (spec/API.md 1.1): an undocumented alias.
        if router is not iam.router:
            app.include_router(router, prefix="/drs", include_in_schema=False)
    for router in _OWN_ROUTERS:
        app.include_router(router)
    app.add_exception_handler(OpendrsError, _contract_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)
    # The gateway wraps everything, so that even a 500 carries X-Request-Id.
    return Gateway(app, services.iam, max_body_bytes)


# Handlers run in threads; more threads than this only fight over the GIL and lengthen the tail.
HANDLER_THREADS = 8


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = HANDLER_THREADS
    yield


def _respond(request: Request, exc: OpendrsError) -> Response:
    body: dict[str, object] = dict(error_body(exc, context.language(request)))
    if request.url.path.startswith(("/v1/", "/drs/v1/")):
        # The ECS contract reports a failed query as code/message (spec/API.md 2.4); the SDK reads either.
        body |= {"code": body["error_code"], "message": body["error_msg"]}
    if request.url.path.startswith("/v3/auth"):
        # keystoneauth reads errors as {"error": {"code", "title", "message"}}.
        status = exc.error.http_status
        body["error"] = {"code": status, "title": HTTPStatus(status).phrase, "message": body["error_msg"]}
    return Json(body, status_code=exc.error.http_status)


async def _contract_error(request: Request, exc: OpendrsError) -> Response:
    return _respond(request, exc)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    return _respond(request, to_contract_error(exc.errors()[0]))


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 405:
        error = OpendrsError(errors.METHOD_NOT_ALLOWED, method=request.method, path=request.url.path)
    elif exc.status_code == 404:
        error = OpendrsError(errors.NOT_FOUND, path=request.url.path)
    else:  # FastAPI's own 400: "There was an error parsing the body"
        error = OpendrsError(errors.INVALID_REQUEST, hint=_UNREADABLE_BODY)
    response = _respond(request, error)
    response.headers.update(exc.headers or {})  # 405 carries Allow
    return response


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error", exc_info=exc, extra={"action": "http_500"})
    return _respond(request, OpendrsError(errors.SERVICE_ABNORMAL))

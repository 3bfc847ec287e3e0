"""The gateway in front of every route: request id, body cap, authentication, project scope, content type.

A pure ASGI middleware, so the checks run in a fixed order before any body is parsed:
413 (body too large) -> 401 (not authenticated) -> 403 (another project) -> 415 (not JSON).
The request body is read once here and replayed to the application.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import anyio

from opendrs import logs
from opendrs.api import metrics, signing
from opendrs.api.responses import error_response
from opendrs.domain import errors
from opendrs.domain.errors import Language, OpendrsError, Text
from opendrs.service.iam import IamService, Identity

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Paths of the DRS and ECS APIs: authenticated, scoped to the project in the path.
_PROJECT_PATH = re.compile(r"^(?:/drs)?/v[135]/(?P<project_id>[^/]+)/(?:jobs|batch-async-jobs)(?:/|$)")
# Identity paths that need a caller but no project (the SDK's project lookup).
_DOMAIN_PATH = re.compile(r"^/v3/projects/?$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# \u0000 and \ud800-\udfff escapes (either case): see _require_storable_text.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])")

_TOO_LARGE = Text("the body is larger than {limit} bytes", "请求体超过{limit}字节")
_NOT_JSON = Text("Content-Type must be application/json", "Content-Type必须为application/json")
_UNSTORABLE = Text(
    "the body holds a NUL character or a lone UTF-16 surrogate (\\u0000, \\ud800-\\udfff)",
    "请求体包含NUL字符或孤立的UTF-16代理项（\\u0000、\\ud800-\\udfff）",
)
_NUL_IN_URL = Text("the URL holds a NUL character (%00)", "URL包含NUL字符（%00）")
_SIGNATURE = Text("verify aksk signature fail, {detail}", "AK/SK签名校验失败，{detail}")
_SIGNATURE_DETAILS = {
    signing.FailureReason.MALFORMED_AUTHORIZATION: Text(
        "the Authorization header is not SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...",
        "Authorization头格式应为SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...",
    ),
    signing.FailureReason.MISSING_SIGNED_HEADER: Text(
        "SignedHeaders must include host and x-sdk-date, and every signed header must be sent",
        "SignedHeaders必须包含host和x-sdk-date，且每个签名头都必须发送",
    ),
    signing.FailureReason.BAD_DATE: Text(
        "X-Sdk-Date must be a UTC time like 20240101T120000Z", "X-Sdk-Date必须是形如20240101T120000Z的UTC时间"
    ),
    signing.FailureReason.STALE_DATE: Text(
        "X-Sdk-Date is more than 15 minutes away from the server time", "X-Sdk-Date与服务器时间相差超过15分钟"
    ),
    signing.FailureReason.UNKNOWN_KEY: Text("the access key is unknown", "访问密钥不存在"),
    signing.FailureReason.BAD_SIGNATURE: Text("the signature does not match the request", "签名与请求不匹配"),
}


def language_of(headers: dict[str, str]) -> Language:
    value = headers.get("x-language", "").strip().lower()
    return Language.ZH if value == Language.ZH.value else Language.EN


class Gateway:
    def __init__(self, app: ASGIApp, iam: IamService, max_body_bytes: int) -> None:
        self._app = app
        self._iam = iam
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        request_id = uuid.uuid4().hex
        logs.request_id.set(request_id)  # this request's task only: every line logged for it names it
        language = language_of(headers)
        scope.setdefault("state", {}).update(request_id=request_id, language=language)
        answer = _Answer(_with_request_id(send, request_id))
        started = time.perf_counter()
        try:
            await self._handle(scope, receive, answer, headers, language)
        finally:
            # The route template (not the raw path) keeps the metric's labels few.
            route = getattr(scope.get("route"), "path", None) or metrics.UNROUTED
            metrics.observe(scope["method"], route, answer.status, time.perf_counter() - started)
            if answer.status >= 400:
                log.info("%s %s answered %d", scope["method"], scope["path"], answer.status)

    async def _handle(
        self, scope: Scope, receive: Receive, send: _Answer, headers: dict[str, str], language: Language
    ) -> None:
        try:
            _require_storable_url(scope)
            body = await self._read_body(receive)
            if authenticates(scope["path"]):
                project_id = project_of(scope["path"])
                scope["state"]["identity"] = await self._authenticate(scope, headers, body, project_id)
            if body and scope["method"] in _BODY_METHODS:
                _require_json(headers)
                _require_storable_text(body)
        except OpendrsError as exc:
            response = error_response(exc, language)
            await response(scope, receive, send)
            return
        try:
            await self._app(scope, _replay(body, receive), send)
        except Exception:
            # Starlette re-raises an unexpected error once its handler has logged it and answered 500; passed on,
            # the server would log it a second time.
            if not send.started:
                raise

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise OpendrsError(errors.BODY_TOO_LARGE, hint=_TOO_LARGE(limit=self._max_body))
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _authenticate(
        self, scope: Scope, headers: dict[str, str], body: bytes, project_id: str | None
    ) -> Identity:
        """The caller; with a `project_id`, one allowed to act on that project."""
        if "x-auth-token" in headers:  # a token wins over a signature (AUTH.md 5)
            identity = self._iam.verify_token(headers["x-auth-token"])
            header_project = headers.get("x-project-id")
            if project_id is not None and header_project is not None and header_project != project_id:
                raise OpendrsError(errors.INVALID_PROJECT, project_id=header_project)
            if project_id is not None and identity.project_id != project_id:
                raise OpendrsError(errors.INVALID_PROJECT, project_id=project_id)
            return identity
        if "authorization" not in headers:
            return self._iam.verify_token(None)  # raises: no credentials at all
        return await anyio.to_thread.run_sync(self._verify_signature, scope, headers, body, project_id)

    def _verify_signature(self, scope: Scope, headers: dict[str, str], body: bytes, project_id: str | None) -> Identity:
        keys: dict[str, Identity] = {}

        def lookup_secret(access: str) -> str | None:
            found = self._iam.access_key(access)
            if found is None:
                return None
            secret, identity = found
            keys[access] = identity
            return secret

        try:
            access = signing.verify_request(
                scope["method"],
                scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
                scope.get("query_string", b"").decode("latin-1"),
                headers,
                body,
                lookup_secret,
                dt.datetime.now(dt.UTC),
            )
        except signing.SignatureError as exc:
            log.info("signature refused: %s", exc.reason.name, extra={"action": "signature_refused"})
            detail = _SIGNATURE_DETAILS[exc.reason]
            raise OpendrsError(errors.UNAUTHENTICATED, reason=_SIGNATURE(detail=detail)) from None
        identity = keys[access]
        if project_id is None:
            return identity
        header_project = headers.get("x-project-id")
        if header_project is not None and header_project != project_id:
            raise OpendrsError(errors.INVALID_PROJECT, project_id=header_project)
        project = self._iam.project(project_id)
        if project is None or project.domain.id != identity.domain_id:
            raise OpendrsError(errors.INVALID_PROJECT, project_id=project_id)
        return Identity(identity.user_id, identity.domain_id, project_id)


def project_of(path: str) -> str | None:
    """The project a DRS or ECS path is scoped to; None for paths outside any project."""
    match = _PROJECT_PATH.match(path)
    return match.group("project_id") if match else None


def authenticates(path: str) -> bool:
    """Whether the gateway asks a caller of `path` for credentials."""
    return project_of(path) is not None or _DOMAIN_PATH.match(path) is not None


def _require_json(headers: dict[str, str]) -> None:
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise OpendrsError(errors.NOT_JSON, hint=_NOT_JSON)


def _require_storable_url(scope: Scope) -> None:
    """A NUL in the path or the query would reach the store's queries, and PostgreSQL refuses it."""
    if "\0" in scope["path"] or b"%00" in scope.get("query_string", b""):
        raise OpendrsError(errors.INVALID_REQUEST, hint=_NUL_IN_URL)


def _require_storable_text(body: bytes) -> None:
    """JSON can escape characters that no store keeps (PostgreSQL refuses NUL; nothing encodes a lone surrogate
    as UTF-8): refused here, before a handler fails on them. Only a body holding such an escape is parsed."""
    if _UNSTORABLE_ESCAPE.search(body) is None:
        return
    try:
        document = json.loads(body)
    except ValueError:
        return  # malformed JSON: the application reports where
    for text in _strings(document):
        try:
            text.encode()
        except UnicodeEncodeError:
            raise OpendrsError(errors.INVALID_REQUEST, hint=_UNSTORABLE) from None
        if "\0" in text:
            raise OpendrsError(errors.INVALID_REQUEST, hint=_UNSTORABLE)


def _strings(document: object) -> Iterator[str]:
    """Every key and string value of a JSON document."""
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for key, value in document.items():
            yield key
            yield from _strings(value)
    elif isinstance(document, list):
        for value in document:
            yield from _strings(value)


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hands the application the body already read, then the client's own messages (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class _Answer:
    """Passes the response on, noting its status code (500 if none was sent)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
        await self._send(message)


def _with_request_id(send: Send, request_id: str) -> Send:
    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers.append((b"x-request-id", request_id.encode()))
            headers.append((b"x-openstack-request-id", request_id.encode()))
            message["headers"] = headers
        await send(message)

    return send_with_id

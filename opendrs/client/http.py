"""An httpx client for one project of an opendrs server: authenticates every request with a token or signs it
with access keys (SDK-HMAC-SHA256), and turns transport and HTTP errors into ClientErrors."""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

import httpx

from opendrs.client.credentials import AccessKeys, Credentials, StoredToken
from opendrs.client.errors import ApiError, ClientError, NotAuthenticatedError
from opendrs.domain.signing import format_sdk_date, sign_request

TIMEOUT = 30.0  # seconds


class SignedAuth(httpx.Auth):
    """Signs each request as the official SDK does: Host, X-Sdk-Date and Content-Type under SDK-HMAC-SHA256."""

    requires_request_body = True

    def __init__(self, keys: AccessKeys) -> None:
        self._keys = keys

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Sdk-Date"] = format_sdk_date(datetime.now(UTC))
        signed = {
            name: request.headers[name] for name in ("Host", "X-Sdk-Date", "Content-Type") if name in request.headers
        }
        raw_path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
        request.headers["Authorization"] = sign_request(
            self._keys.access, self._keys.secret, request.method, raw_path, raw_query, signed, request.content
        )
        yield request


def error_of(response: httpx.Response) -> tuple[str | None, str]:
    """(error_code, message) of an error answer: DRS style, Keystone style, or the bare status."""
    try:
        body = response.json()
    except ValueError:
        return None, f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(body, dict):
        if "error_code" in body:
            return str(body["error_code"]), str(body.get("error_msg") or body.get("error_message") or "")
        keystone = body.get("error")
        if isinstance(keystone, dict):
            return None, str(keystone.get("message") or keystone.get("title") or "")
    return None, f"HTTP {response.status_code}: {response.text[:200]}"


class Http:
    """Requests to paths relative to the endpoint; `{project_id}` in a path becomes the credentials' project."""

    def __init__(self, credentials: Credentials, transport: httpx.BaseTransport | None = None) -> None:
        self.credentials = credentials
        self.project_id = credentials.project_id
        auth: httpx.Auth | None = None
        headers = {"Content-Type": "application/json"}
        if isinstance(credentials, StoredToken):
            headers["X-Auth-Token"] = credentials.token
        else:
            auth = SignedAuth(credentials)
        self._client = httpx.Client(
            base_url=credentials.endpoint.rstrip("/"), headers=headers, auth=auth, timeout=TIMEOUT, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON answer of a successful request; raises a ClientError naming the cause otherwise."""
        url = path.replace("{project_id}", self.project_id)
        try:
            response = self._client.request(method, url, json=body)
        except httpx.TransportError as exc:
            raise ClientError(f"cannot reach {self._client.base_url}: {exc}") from None
        if response.is_success:
            return response.json() if response.content else None
        code, message = error_of(response)
        if response.status_code in (401, 403):
            hint = "; run opendrs login" if isinstance(self.credentials, StoredToken) else ""
            raise NotAuthenticatedError(f"authentication failed: {message}{hint}", code)
        raise ApiError(message or f"HTTP {response.status_code}", code)


def request_token(endpoint: str, domain: str, user: str, password: str, project: str) -> StoredToken:
    """A project-scoped token (Keystone v3 password method), with the project's id from the token body."""
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "password": password, "domain": {"name": domain}}},
            },
            "scope": {"project": {"name": project, "domain": {"name": domain}}},
        }
    }
    try:
        response = httpx.post(f"{endpoint.rstrip('/')}/v3/auth/tokens", json=body, timeout=TIMEOUT)
    except httpx.TransportError as exc:
        raise ClientError(f"cannot reach {endpoint}: {exc}") from None
    if response.status_code in (400, 401, 403, 404):
        code, message = error_of(response)
        raise NotAuthenticatedError(f"login refused: {message}", code)
    if not response.is_success:
        code, message = error_of(response)
        raise ApiError(message, code)
    token = response.json()["token"]
    return StoredToken(
        endpoint=endpoint.rstrip("/"),
        project_id=token["project"]["id"],
        token=response.headers["X-Subject-Token"],
        expires_at=datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00")),
        user=user,
        domain=domain,
        project=project,
    )

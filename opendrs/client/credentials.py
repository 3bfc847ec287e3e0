"""Where the client's credentials come from: access keys in the environment (the SDK's own variable names), or
the token `opendrs login` stored in $XDG_CONFIG_HOME/opendrs/credentials.json (mode 0600)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from opendrs.client.errors import NotAuthenticatedError

# The official SDK's variable names, so one environment serves both; OPENDRS_SECRET_KEY is the server's secret.
ACCESS_KEY_VARIABLE = "HUAWEICLOUD_SDK_AK"
SECRET_KEY_VARIABLE = "HUAWEICLOUD_SDK_SK"
PROJECT_VARIABLE = "HUAWEICLOUD_SDK_PROJECT_ID"
ENDPOINT_VARIABLE = "OPENDRS_ENDPOINT"


@dataclasses.dataclass(frozen=True)
class AccessKeys:
    endpoint: str
    project_id: str
    access: str
    secret: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class StoredToken:
    endpoint: str
    project_id: str
    token: str = dataclasses.field(repr=False)
    expires_at: datetime
    user: str = ""
    domain: str = ""
    project: str = ""

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


Credentials = AccessKeys | StoredToken


def credentials_path(environ: Mapping[str, str] = os.environ) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "opendrs" / "credentials.json"


def save_token(stored: StoredToken, path: Path) -> None:
    """Write the token file readable by its owner only (created 0600, never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = dataclasses.asdict(stored) | {"expires_at": stored.expires_at.isoformat()}
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(body, file)


def load_token(path: Path) -> StoredToken | None:
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise NotAuthenticatedError(f"cannot read {path} ({exc}); run opendrs login") from None
    try:
        return StoredToken(
            endpoint=body["endpoint"],
            project_id=body["project_id"],
            token=body["token"],
            expires_at=datetime.fromisoformat(body["expires_at"]),
            user=body.get("user", ""),
            domain=body.get("domain", ""),
            project=body.get("project", ""),
        )
    except (KeyError, TypeError, ValueError):
        raise NotAuthenticatedError(f"{path} is not a credentials file of opendrs login; run opendrs login") from None


def forget_token(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def access_keys_from(environ: Mapping[str, str]) -> AccessKeys | None:
    access, secret = environ.get(ACCESS_KEY_VARIABLE), environ.get(SECRET_KEY_VARIABLE)
    if not access and not secret:
        return None
    missing = [
        name
        for name in (ACCESS_KEY_VARIABLE, SECRET_KEY_VARIABLE, PROJECT_VARIABLE, ENDPOINT_VARIABLE)
        if not environ.get(name)
    ]
    if missing:
        raise NotAuthenticatedError(f"access keys in the environment need {', '.join(missing)} as well")
    return AccessKeys(environ[ENDPOINT_VARIABLE], environ[PROJECT_VARIABLE], access or "", secret or "")


def resolve(environ: Mapping[str, str] = os.environ, now: datetime | None = None) -> Credentials:
    """Access keys from the environment win over a stored token (the environment is the more explicit choice)."""
    keys = access_keys_from(environ)
    if keys is not None:
        return keys
    path = credentials_path(environ)
    stored = load_token(path)
    if stored is None:
        raise NotAuthenticatedError(
            f"not logged in: run opendrs login, or set {ACCESS_KEY_VARIABLE}, {SECRET_KEY_VARIABLE},"
            f" {PROJECT_VARIABLE} and {ENDPOINT_VARIABLE}"
        )
    if stored.expired(now or datetime.now(UTC)):
        raise NotAuthenticatedError(f"the token expired at {stored.expires_at.isoformat()}; run opendrs login")
    return stored

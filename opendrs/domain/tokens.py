"""IAM tokens: self-contained, HMAC-signed, so any node with the shared secret can verify them.

A token is `base64url(claims JSON) "." base64url(HMAC-SHA256(key, claims JSON))`. It carries no secret.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json


class TokenError(Exception):
    """The token is not one of ours (forged, truncated, or signed with another key)."""


@dataclasses.dataclass(frozen=True)
class Claims:
    user_id: str
    domain_id: str
    project_id: str | None  # None for a domain-scoped token
    issued_at: float  # epoch seconds
    expires_at: float  # epoch seconds


def encode(claims: Claims, key: bytes) -> str:
    payload = json.dumps(
        {
            "u": claims.user_id,
            "d": claims.domain_id,
            "p": claims.project_id,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
        },
        separators=(",", ":"),
    ).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def decode(token: str, key: bytes) -> Claims:
    """The claims of a genuine token, expired or not; TokenError for anything else."""
    try:
        payload_part, mac_part = token.split(".")
        payload = _unb64(payload_part)
        mac = _unb64(mac_part)
    except (ValueError, binascii.Error) as exc:
        raise TokenError("malformed token") from exc
    # base64 leaves spare bits in a last character: only the canonical spelling of a token is that token.
    if _b64(payload) != payload_part or _b64(mac) != mac_part:
        raise TokenError("malformed token")
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()):
        raise TokenError("bad token signature")
    data = json.loads(payload)
    return Claims(data["u"], data["d"], data["p"], float(data["iat"]), float(data["exp"]))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

"""Verification of ``SDK-HMAC-SHA256`` request signatures (``shared/spec/AUTH.md`` 2.5); the canonical request
is built by ``opendrs.domain.signing``, which clients use to sign. Standard library only, no I/O.

Server side, the typical use is::

    try:
        access_key = verify_request(method, raw_path, raw_query, headers, body, lookup_secret, now)
    except SignatureError as exc:
        reply_401(exc.reason.description)

where ``raw_path`` / ``raw_query`` are the request target exactly as received (still percent-encoded, never a
decoded ``PATH_INFO``), ``headers`` maps lower-case header names to the received values, and ``body`` is the raw
body before any JSON parsing.

Header values: the SDK UTF-8 encodes header values on the wire, while ``http.server``/WSGI hand them to the
application decoded as ISO-8859-1. ``verify_request`` therefore also accepts the signature computed over the
UTF-8 re-decoding of such values (only tried when a signed header value is non-ASCII).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opendrs.domain.signing import (
    ALGORITHM,
    CONTENT_SHA256_HEADER,
    DATE_HEADER,
    EMPTY_BODY_SHA256,
    REQUIRED_SIGNED,
    SDK_DATE_FORMAT,
    canonical_query_string,
    canonical_request,
    canonical_request_from_parts,
    canonical_uri,
    format_sdk_date,
    join_query,
    payload_hash,
    query_pairs,
    sign_request,
    signature,
    string_to_sign,
)

__all__ = [
    "ALGORITHM",
    "DEFAULT_MAX_SKEW_SECONDS",
    "EMPTY_BODY_SHA256",
    "FailureReason",
    "SignatureError",
    "SignedAuthorization",
    "canonical_query_string",
    "canonical_request",
    "canonical_uri",
    "format_sdk_date",
    "parse_authorization",
    "sign_request",
    "signature",
    "string_to_sign",
    "verify_request",
]

DEFAULT_MAX_SKEW_SECONDS = 900.0

# AUTH.md 2.5 step 1 (used with fullmatch, so a trailing newline is not accepted either).
_AUTH_RE = re.compile(r"SDK-HMAC-SHA256\s+Access=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-f]+)")
_SDK_DATE_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_HEX_SHA256_RE = re.compile(r"[0-9a-f]{64}")


class FailureReason(enum.Enum):
    """Why a request failed verification. ``description`` is safe to show to the client."""

    MALFORMED_AUTHORIZATION = "Authorization header is missing or is not a valid SDK-HMAC-SHA256 header"
    MISSING_SIGNED_HEADER = (
        "a required header (host, x-sdk-date) is not signed, a signed header is missing from the request, "
        "or a signed header name is not lower-case"
    )
    BAD_DATE = "X-Sdk-Date is not a valid YYYYMMDDTHHMMSSZ timestamp"
    STALE_DATE = "X-Sdk-Date is too far from the server time"
    UNKNOWN_KEY = "unknown access key"
    BAD_SIGNATURE = "signature does not match the request"

    @property
    def description(self) -> str:
        return str(self.value)


class SignatureError(Exception):
    """Raised by :func:`verify_request`. The message never contains the secret or the expected signature."""

    def __init__(self, reason: FailureReason, detail: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        message = reason.description if detail is None else f"{reason.description} ({detail})"
        super().__init__(message)


@dataclass(frozen=True)
class SignedAuthorization:
    access: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(header: str) -> SignedAuthorization | None:
    """Parse an ``Authorization`` value; ``None`` if it is not a well-formed ``SDK-HMAC-SHA256`` header."""
    match = _AUTH_RE.fullmatch(header.strip())
    if match is None:
        return None
    access, signed, sig = match.groups()
    return SignedAuthorization(access=access, signed_headers=tuple(signed.split(";")), signature=sig)


def _utf8_from_latin1(value: str) -> str | None:
    """Undo the ISO-8859-1 decoding servers apply to UTF-8 header bytes; ``None`` if not applicable."""
    if value.isascii():
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


def _header_variants(headers: Mapping[str, str], signed: Sequence[str]) -> Iterator[Mapping[str, str]]:
    yield headers
    recoded = dict(headers)
    changed = False
    for name in signed:
        fixed = _utf8_from_latin1(headers[name])
        if fixed is not None:
            recoded[name] = fixed
            changed = True
    if changed:
        yield recoded


def _parse_sdk_date(value: str) -> datetime:
    if not _SDK_DATE_RE.fullmatch(value):
        raise SignatureError(FailureReason.BAD_DATE)
    try:
        return datetime.strptime(value, SDK_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError(FailureReason.BAD_DATE) from None


def verify_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    lookup_secret: Callable[[str], str | None],
    now: datetime,
    *,
    max_skew_seconds: float = DEFAULT_MAX_SKEW_SECONDS,
) -> str:
    """Verify an ``SDK-HMAC-SHA256`` signed request (AUTH.md 2.5 steps 1-6) and return its access key.

    ``headers`` should map lower-case names to received values (names are lower-cased again defensively).
    ``now`` is the server time; a naive datetime is taken as UTC. Raises :class:`SignatureError`.
    The project cross-check (AUTH.md 2.5 step 7) is left to the caller.
    """
    received = {name.lower(): value for name, value in headers.items()}

    # 1. Authorization header.
    auth = parse_authorization(received.get("authorization", ""))
    if auth is None:
        raise SignatureError(FailureReason.MALFORMED_AUTHORIZATION)

    # 2. Signed-header list.
    signed = auth.signed_headers
    for name in signed:
        if name != name.lower():
            raise SignatureError(
                FailureReason.MISSING_SIGNED_HEADER,
                "signed header name is not lower-case",
            )
    for required in REQUIRED_SIGNED:
        if required not in signed:
            raise SignatureError(FailureReason.MISSING_SIGNED_HEADER, f"{required} is not signed")
    for name in signed:
        if name not in received:
            raise SignatureError(
                FailureReason.MISSING_SIGNED_HEADER,
                f"signed header {name[:64]!r} is absent",
            )

    # 3. Timestamp.
    sdk_date = received[DATE_HEADER].strip()
    signed_at = _parse_sdk_date(sdk_date)
    current = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    if abs(current - signed_at) > timedelta(seconds=max_skew_seconds):
        raise SignatureError(FailureReason.STALE_DATE)

    # 4. Secret.
    secret = lookup_secret(auth.access)
    if not secret:
        raise SignatureError(FailureReason.UNKNOWN_KEY)

    # 5./6. Rebuild and compare.
    declared_hash = payload_hash(received, signed, body)
    if (
        body
        and CONTENT_SHA256_HEADER in signed
        and _HEX_SHA256_RE.fullmatch(declared_hash)
        and not hmac.compare_digest(declared_hash, hashlib.sha256(body).hexdigest())
    ):
        # A declared X-Sdk-Content-Sha256 digest that does not match the body: the body was replaced.
        # (UNSIGNED-PAYLOAD, which is what the SDK sends, leaves the body unauthenticated by design.)
        raise SignatureError(FailureReason.BAD_SIGNATURE)
    try:
        uri = canonical_uri(raw_path)
        pairs = query_pairs(raw_query)
        queries = [join_query(sorted(pairs))]
        key_sorted = join_query(sorted(pairs, key=lambda pair: pair[0]))
        if key_sorted != queries[0]:
            queries.append(key_sorted)
        for header_set in _header_variants(received, signed):
            for query in queries:
                canonical = canonical_request_from_parts(method, uri, query, header_set, signed, declared_hash)
                expected = signature(secret, string_to_sign(sdk_date, canonical))
                if hmac.compare_digest(expected, auth.signature):
                    return auth.access
    except UnicodeError:
        # Lone surrogates etc. that cannot be UTF-8 encoded: such a request cannot carry a valid signature.
        pass
    raise SignatureError(FailureReason.BAD_SIGNATURE)

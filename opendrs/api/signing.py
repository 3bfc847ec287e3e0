"""Verification (and client-side production) of ``SDK-HMAC-SHA256`` request signatures.

This is the signing scheme used by the official Huawei Cloud Python SDK (huaweicloudsdkcore ``Signer``),
implemented from ``shared/spec/AUTH.md`` sections 2.3-2.5. Standard library only, no I/O.

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
from urllib.parse import quote, unquote

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

ALGORITHM = "SDK-HMAC-SHA256"
EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
DEFAULT_MAX_SKEW_SECONDS = 900.0
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_CONTENT_SHA256_HEADER = "x-sdk-content-sha256"
_DATE_HEADER = "x-sdk-date"
_REQUIRED_SIGNED = ("host", _DATE_HEADER)

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


def _encode(value: str) -> str:
    """RFC 3986 encoding: only ``A-Za-z0-9-._~`` stay literal, everything else is %XX of the UTF-8 bytes."""
    return quote(value, safe="~")


def canonical_uri(raw_path: str) -> str:
    """Decode the raw path once, split on ``/``, re-encode each segment, always end with ``/``."""
    uri = "/".join(_encode(segment) for segment in unquote(raw_path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    if not raw_query:
        return []
    pairs = []
    for item in raw_query.split("&"):
        key, _, value = item.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def _join_query(pairs: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)


def canonical_query_string(raw_query: str, *, key_only_sort: bool = False) -> str:
    """Canonical query from the raw wire query (without the ``?``).

    Default: pairs sorted by decoded (key, value), as the SDK does for string values. With
    ``key_only_sort=True``: stable sort on the key only, keeping the received order of repeated keys
    (AUTH.md 2.5 step 6, for list parameters the SDK sorted by non-string value).
    """
    pairs = _query_pairs(raw_query)
    if key_only_sort:
        pairs.sort(key=lambda pair: pair[0])
    else:
        pairs.sort()
    return _join_query(pairs)


def _payload_hash(headers: Mapping[str, str], signed_headers: Sequence[str], body: bytes) -> str:
    if not body:
        return EMPTY_BODY_SHA256
    if _CONTENT_SHA256_HEADER in signed_headers:
        declared = headers.get(_CONTENT_SHA256_HEADER)
        if declared:
            return declared.strip()
    return hashlib.sha256(body).hexdigest()


def _canonical_request(
    method: str,
    uri: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    return "\n".join(
        (
            method.upper(),
            uri,
            query,
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        )
    )


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    """The canonical request (AUTH.md 2.3 step 5) built from raw wire data.

    ``headers`` maps lower-case names to values as received; every name in ``signed_headers`` must be in it
    (``KeyError`` otherwise). The query uses the full (key, value) sort.
    """
    return _canonical_request(
        method,
        canonical_uri(raw_path),
        canonical_query_string(raw_query),
        headers,
        signed_headers,
        _payload_hash(headers, signed_headers, body),
    )


def string_to_sign(sdk_date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret: str, string_to_sign: str) -> str:
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def format_sdk_date(when: datetime) -> str:
    """Format a datetime as an ``X-Sdk-Date`` value (naive datetimes are taken as UTC)."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime(SDK_DATE_FORMAT)


def sign_request(
    access: str,
    secret: str,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes = b"",
) -> str:
    """Client side: return the ``Authorization`` value for a request, as the SDK would compute it.

    ``headers`` (any case) must be exactly the headers to be signed and sent, and must include ``Host`` and
    ``X-Sdk-Date`` (see :func:`format_sdk_date`). Like the SDK, every header whose name has no ``_`` is signed.
    ``raw_path``/``raw_query`` are the percent-encoded path and query that will be put on the wire.
    """
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in lowered:
            raise ValueError(f"duplicate header {name!r}")
        lowered[key] = value
    for required in _REQUIRED_SIGNED:
        if required not in lowered:
            raise ValueError(f"header {required!r} is required for signing")
    signed = sorted(name for name in lowered if "_" not in name)
    canonical = canonical_request(method, raw_path, raw_query, lowered, signed, body)
    sig = signature(secret, string_to_sign(lowered[_DATE_HEADER].strip(), canonical))
    return f"{ALGORITHM} Access={access}, SignedHeaders={';'.join(signed)}, Signature={sig}"


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
    for required in _REQUIRED_SIGNED:
        if required not in signed:
            raise SignatureError(FailureReason.MISSING_SIGNED_HEADER, f"{required} is not signed")
    for name in signed:
        if name not in received:
            raise SignatureError(
                FailureReason.MISSING_SIGNED_HEADER,
                f"signed header {name[:64]!r} is absent",
            )

    # 3. Timestamp.
    sdk_date = received[_DATE_HEADER].strip()
    signed_at = _parse_sdk_date(sdk_date)
    current = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    if abs(current - signed_at) > timedelta(seconds=max_skew_seconds):
        raise SignatureError(FailureReason.STALE_DATE)

    # 4. Secret.
    secret = lookup_secret(auth.access)
    if not secret:
        raise SignatureError(FailureReason.UNKNOWN_KEY)

    # 5./6. Rebuild and compare.
    payload_hash = _payload_hash(received, signed, body)
    if (
        body
        and _CONTENT_SHA256_HEADER in signed
        and _HEX_SHA256_RE.fullmatch(payload_hash)
        and not hmac.compare_digest(payload_hash, hashlib.sha256(body).hexdigest())
    ):
        # A declared X-Sdk-Content-Sha256 digest that does not match the body: the body was replaced.
        # (UNSIGNED-PAYLOAD, which is what the SDK sends, leaves the body unauthenticated by design.)
        raise SignatureError(FailureReason.BAD_SIGNATURE)
    try:
        uri = canonical_uri(raw_path)
        pairs = _query_pairs(raw_query)
        queries = [_join_query(sorted(pairs))]
        key_sorted = _join_query(sorted(pairs, key=lambda pair: pair[0]))
        if key_sorted != queries[0]:
            queries.append(key_sorted)
        for header_set in _header_variants(received, signed):
            for query in queries:
                canonical = _canonical_request(method, uri, query, header_set, signed, payload_hash)
                expected = signature(secret, string_to_sign(sdk_date, canonical))
                if hmac.compare_digest(expected, auth.signature):
                    return auth.access
    except UnicodeError:
        # Lone surrogates etc. that cannot be UTF-8 encoded: such a request cannot carry a valid signature.
        pass
    raise SignatureError(FailureReason.BAD_SIGNATURE)

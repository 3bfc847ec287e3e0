"""Production of ``SDK-HMAC-SHA256`` request signatures: the scheme of the official Huawei Cloud Python SDK
(huaweicloudsdkcore ``Signer``), from ``shared/spec/AUTH.md`` sections 2.3-2.5. Standard library only, no I/O.

The server's verifier (``opendrs.api.signing``) and the command-line client (``opendrs.client``) both build the
canonical request here, so the two cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

CONTENT_SHA256_HEADER = "x-sdk-content-sha256"
DATE_HEADER = "x-sdk-date"
REQUIRED_SIGNED = ("host", DATE_HEADER)


def encode(value: str) -> str:
    """RFC 3986 encoding: only ``A-Za-z0-9-._~`` stay literal, everything else is %XX of the UTF-8 bytes."""
    return quote(value, safe="~")


def canonical_uri(raw_path: str) -> str:
    """Decode the raw path once, split on ``/``, re-encode each segment, always end with ``/``."""
    uri = "/".join(encode(segment) for segment in unquote(raw_path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    if not raw_query:
        return []
    pairs = []
    for item in raw_query.split("&"):
        key, _, value = item.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def join_query(pairs: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in pairs)


def canonical_query_string(raw_query: str, *, key_only_sort: bool = False) -> str:
    """Canonical query from the raw wire query (without the ``?``).

    Default: pairs sorted by decoded (key, value), as the SDK does for string values. With
    ``key_only_sort=True``: stable sort on the key only, keeping the received order of repeated keys
    (AUTH.md 2.5 step 6, for list parameters the SDK sorted by non-string value).
    """
    pairs = query_pairs(raw_query)
    if key_only_sort:
        pairs.sort(key=lambda pair: pair[0])
    else:
        pairs.sort()
    return join_query(pairs)


def payload_hash(headers: Mapping[str, str], signed_headers: Sequence[str], body: bytes) -> str:
    if not body:
        return EMPTY_BODY_SHA256
    if CONTENT_SHA256_HEADER in signed_headers:
        declared = headers.get(CONTENT_SHA256_HEADER)
        if declared:
            return declared.strip()
    return hashlib.sha256(body).hexdigest()


def canonical_request_from_parts(
    method: str,
    uri: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body_hash: str,
) -> str:
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    return "\n".join(
        (
            method.upper(),
            uri,
            query,
            canonical_headers,
            ";".join(signed_headers),
            body_hash,
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
    return canonical_request_from_parts(
        method,
        canonical_uri(raw_path),
        canonical_query_string(raw_query),
        headers,
        signed_headers,
        payload_hash(headers, signed_headers, body),
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
    for required in REQUIRED_SIGNED:
        if required not in lowered:
            raise ValueError(f"header {required!r} is required for signing")
    signed = sorted(name for name in lowered if "_" not in name)
    canonical = canonical_request(method, raw_path, raw_query, lowered, signed, body)
    sig = signature(secret, string_to_sign(lowered[DATE_HEADER].strip(), canonical))
    return f"{ALGORITHM} Access={access}, SignedHeaders={';'.join(signed)}, Signature={sig}"

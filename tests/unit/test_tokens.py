"""opendrs.domain.tokens: HMAC-signed IAM tokens; and the token key derived by opendrs.keys.Keys."""

from __future__ import annotations

import base64
import json
import time

import pytest

from opendrs.domain import tokens
from opendrs.domain.tokens import Claims, TokenError
from opendrs.keys import Keys

KEY = Keys(b"unit-test-secret").token_key
CLAIMS = Claims("a" * 32, "b" * 32, "c" * 32, 1_700_000_000.25, 1_700_086_400.25)


def flip(text: str, position: int) -> str:
    """`text` with the character at `position` replaced by another base64url character."""
    replacement = "B" if text[position] != "B" else "C"
    return text[:position] + replacement + text[position + 1 :]


def test_round_trip() -> None:
    token = tokens.encode(CLAIMS, KEY)
    assert tokens.decode(token, KEY) == CLAIMS


def test_domain_scoped_round_trip() -> None:
    claims = Claims("a" * 32, "b" * 32, None, time.time(), time.time() + 60)
    assert tokens.decode(tokens.encode(claims, KEY), KEY) == claims


def test_token_is_two_url_safe_parts_and_carries_only_the_claims() -> None:
    token = tokens.encode(CLAIMS, KEY)
    payload, mac = token.split(".")
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert data == {"u": "a" * 32, "d": "b" * 32, "p": "c" * 32, "iat": 1_700_000_000.25, "exp": 1_700_086_400.25}
    assert len(base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))) == 32  # HMAC-SHA256


def test_an_expired_token_still_decodes() -> None:
    """Expiry is the verifier's decision (IamService), so that it can say when the token expired."""
    expired = Claims("a" * 32, "b" * 32, "c" * 32, 1.0, 2.0)
    assert tokens.decode(tokens.encode(expired, KEY), KEY) == expired


@pytest.mark.parametrize("position", [0, 10, 21, -2])
def test_forged_signature(position: int) -> None:
    payload, mac = tokens.encode(CLAIMS, KEY).split(".")
    with pytest.raises(TokenError):
        tokens.decode(f"{payload}.{flip(mac, position)}", KEY)


def test_forged_claims() -> None:
    """Someone rewrites the project in the payload and keeps the signature."""
    payload, mac = tokens.encode(CLAIMS, KEY).split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["p"] = "d" * 32
    forged = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenError):
        tokens.decode(f"{forged}.{mac}", KEY)


def test_other_key() -> None:
    token = tokens.encode(CLAIMS, Keys(b"another-secret").token_key)
    with pytest.raises(TokenError):
        tokens.decode(token, KEY)


@pytest.mark.parametrize(
    "token",
    ["", "no-dot-at-all", "a.b.c", ".", "!!!.???", "é.é", "MIIabc", tokens.encode(CLAIMS, KEY) + ".extra"],
)
def test_malformed(token: str) -> None:
    with pytest.raises(TokenError):
        tokens.decode(token, KEY)


def test_keys_derive_distinct_stable_token_keys() -> None:
    assert Keys(b"unit-test-secret").token_key == KEY
    assert Keys(b"another-secret").token_key != KEY
    assert len(KEY) == 32
    assert b"unit-test-secret" not in KEY

"""Splitting secrets out of submitted documents, so that stored specs and API answers never hold one.

A secret is any value whose key contains "password" (db_password, ssl_cert_password, user_migration's
password...). It is kept apart, under its path, e.g. "source_endpoint.db_password", to be stored encrypted.
"""

from __future__ import annotations

import json
from typing import Any


def is_secret_key(key: str) -> bool:
    return "password" in key.lower()


def split(document: Any, path: str = "") -> tuple[Any, dict[str, str]]:
    """(the document without secrets, {path: secret}) for a JSON-like document."""
    secrets: dict[str, str] = {}
    if isinstance(document, dict):
        clean = {}
        for key, value in document.items():
            child = f"{path}.{key}" if path else key
            if is_secret_key(key):
                # The whole value, whatever its type: the strings in ["s3cret"] are secrets too.
                if isinstance(value, dict | list):
                    secrets[child] = json.dumps(value)
                elif value is not None and value != "":
                    secrets[child] = str(value)
                continue
            clean[key], found = split(value, child)
            secrets.update(found)
        return clean, secrets
    if isinstance(document, list):
        items = []
        for position, value in enumerate(document):
            item, found = split(value, f"{path}[{position}]")
            items.append(item)
            secrets.update(found)
        return items, secrets
    return document, {}


def redact(document: Any) -> Any:
    """The document without any secret-named key: a last guard on everything the API returns."""
    if isinstance(document, dict):
        return {key: redact(value) for key, value in document.items() if not is_secret_key(key)}
    if isinstance(document, list):
        return [redact(value) for value in document]
    return document

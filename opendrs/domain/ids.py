"""Identifier formats of the contract (spec/API.md 1.3): how they are made and recognised."""

from __future__ import annotations

import re
import secrets
import string
import uuid

# DRS job ids are UUID-shaped, but the last group ends in a non-hex "jb" tag (e.g. ...1040402fjb21).
JOB_ID = re.compile(r"^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

_TAG_CHARS = string.digits + string.ascii_lowercase


def new_job_id() -> str:
    """A DRS job id: a uuid4 whose last four characters become `jb` and a two-character tag."""
    tag = "".join(secrets.choice(_TAG_CHARS) for _ in range(2))
    return f"{str(uuid.uuid4())[:-4]}jb{tag}"


def new_hex32() -> str:
    """Project, domain, user and operation ids: 32 lower-case hex characters."""
    return uuid.uuid4().hex


def new_uuid() -> str:
    """v5 async job ids and precheck ids: a plain UUID."""
    return str(uuid.uuid4())


def new_access_key() -> str:
    """An access key id: 20 upper-case letters and digits, like the cloud's."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


def new_secret_key() -> str:
    """A secret access key: 40 letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(40))


def is_job_id(value: str) -> bool:
    return JOB_ID.match(value) is not None

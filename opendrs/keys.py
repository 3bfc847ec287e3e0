"""The service's keys, all derived from one configured secret: token signing and encryption at rest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class Keys:
    def __init__(self, secret: bytes) -> None:
        self.token_key = _derive(secret, b"opendrs/token/v1")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"opendrs/encryption/v1")))

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("stored secret was encrypted with another secret key") from exc


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return hmac.new(secret, purpose, hashlib.sha256).digest()


def load_or_create_secret(path: Path) -> bytes:
    """The secret in `path`, created (mode 0600) on first use so a fresh install needs no set-up."""
    if path.exists():
        return path.read_text().strip().encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # Write aside, then link into place: a concurrent first start sees either no file or a whole one.
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        return path.read_text().strip().encode()
    finally:
        draft.unlink()
    return value.encode()

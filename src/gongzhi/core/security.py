"""Passwords (argon2id), API tokens (random, SHA-256 at rest) and signed console sessions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

_hasher = PasswordHasher()
TOKEN_PREFIX = "gzt_"  # noqa: S105 - a public prefix, not a secret


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str, str]:
    """Return (full token shown once, lookup prefix, hash stored at rest)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    full = f"{TOKEN_PREFIX}{prefix}_{secret}"
    return full, prefix, hash_token(full)


def hash_token(full: str) -> str:
    return hashlib.sha256(full.encode()).hexdigest()


def split_token(full: str) -> str | None:
    if not full.startswith(TOKEN_PREFIX):
        return None
    prefix, _, rest = full[len(TOKEN_PREFIX) :].partition("_")
    return prefix if prefix and rest else None


def tokens_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


class SessionSigner:
    """Signs the console's session cookie; the CSRF token is bound to the session id."""

    def __init__(self, secret: str) -> None:
        self._s = URLSafeTimedSerializer(secret, salt="gongzhi.session")
        self._secret = secret.encode()

    def dumps(self, data: dict[str, Any]) -> str:
        return self._s.dumps(data)

    def loads(self, raw: str, max_age: int) -> dict[str, Any] | None:
        try:
            data = self._s.loads(raw, max_age=max_age)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None

    def csrf_for(self, session_id: str) -> str:
        return hmac.new(self._secret, f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()

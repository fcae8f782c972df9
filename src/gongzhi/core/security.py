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
        """The session's CSRF token, the same on every request of the session; pages carry it masked
        (:meth:`masked_csrf`)."""
        return hmac.new(self._secret, f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()

    def masked_csrf(self, session_id: str) -> str:
        """The session's CSRF token under a fresh one-time pad (pad, then token XOR pad, in hex): another
        string on every page, so that a compressed page in which an attacker can echo text of his own
        does not give the token away by its compressed length (BREACH)."""
        token = bytes.fromhex(self.csrf_for(session_id))
        pad = secrets.token_bytes(len(token))
        return (pad + bytes(a ^ b for a, b in zip(pad, token, strict=True))).hex()

    def csrf_ok(self, session_id: str, sent: str | None) -> bool:
        """Whether ``sent`` is the session's CSRF token, masked (:meth:`masked_csrf`) or as it is."""
        token = self.csrf_for(session_id)
        if not sent:
            return False
        if len(sent) == 2 * len(token):
            try:
                raw = bytes.fromhex(sent)
            except ValueError:
                return False
            half = len(raw) // 2
            sent = bytes(a ^ b for a, b in zip(raw[:half], raw[half:], strict=True)).hex()
        return tokens_equal(sent, token)

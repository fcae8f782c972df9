"""One error hierarchy for the domain; the API and the console each render it their own way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Message(str):
    """A detail that is its English text and remembers the catalogue id and parameters it was made from,
    so that the console can show it translated while the API, logs and ``str(exc)`` keep the English."""

    template: str
    params: Mapping[str, object]

    def __new__(cls, template: str, params: Mapping[str, object]) -> Message:
        self = super().__new__(cls, template % params if params else template)
        self.template, self.params = template, dict(params)
        return self

    def __reduce__(self) -> tuple[type[Message], tuple[str, dict[str, object]]]:
        return Message, (self.template, dict(self.params))


def msg(template: str, /, **params: object) -> Message:
    """A translatable detail: ``template`` is English with ``%(name)s`` placeholders, as the catalogue's
    ids are (write ``%%`` for a percent sign only when there are parameters)."""
    return Message(template, params)


class DomainError(Exception):
    """Base of every error a user can cause; ``status`` is the HTTP status it maps to."""

    status = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Not found"


class Unauthenticated(DomainError):
    status, code, title = 401, "unauthenticated", "Authentication required"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Forbidden"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class IllegalTransition(Conflict):
    code, title = "illegal-transition", "Illegal transition"


class StaleWrite(Conflict):
    code, title = "stale-write", "The resource changed since you read it"


class InvalidInput(DomainError):
    status, code, title = 400, "invalid-input", "Invalid input"


class TooManyRequests(DomainError):
    status, code, title = 429, "too-many-requests", "Too many requests"


class ScopeMissing(RuntimeError):
    """A session queried region-owned rows without a scope: a programming error, never user input."""

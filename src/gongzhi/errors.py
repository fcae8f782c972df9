"""One error hierarchy for the domain; the API and the console each render it their own way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Message(str):
    """A detail that is its English text and remembers the catalogue id and parameters it was made from,
    so that the console can show it translated while the API, logs and ``str(exc)`` keep the English."""

    template: str
    params: Mapping[str, object]

    def __new__(cls, template: str, params: Mapping[str, object], text: str | None = None) -> Message:
        """``text``, when given, is the English to keep instead of the filled template (another
        library's own wording, which the template only renders in other languages)."""
        english = text if text is not None else template % params if params else template
        self = super().__new__(cls, english)
        self.template, self.params = template, dict(params)
        return self

    def __reduce__(self) -> tuple[type[Message], tuple[str, dict[str, object], str]]:
        return Message, (self.template, dict(self.params), str(self))


def msg(template: str, /, **params: object) -> Message:
    """A translatable detail: ``template`` is English with ``%(name)s`` placeholders, as the catalogue's
    ids are (write ``%%`` for a percent sign only when there are parameters)."""
    return Message(template, params)


def stored(text: str) -> dict[str, Any]:
    """A detail as a JSON column keeps it: ``message``, the English, and for a :func:`msg` its catalogue id
    ``template`` and its ``params`` as text, so that a page can show it in its reader's language later."""
    if not isinstance(text, Message):
        return {"message": str(text)}
    return {
        "message": str(text),
        "template": text.template,
        "params": {k: str(v) for k, v in text.params.items()},
    }


def restored(record: Mapping[str, Any]) -> str:
    """The detail :func:`stored` kept: a :class:`Message` again when it was one (a record written before
    templates were kept, or by hand, gives its English)."""
    message, template, params = str(record.get("message", "")), record.get("template"), record.get("params")
    if isinstance(template, str) and isinstance(params, dict):
        return Message(template, {str(k): str(v) for k, v in params.items()}, message)
    return message


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

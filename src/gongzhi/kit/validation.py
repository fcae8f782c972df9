"""Pydantic's validation errors as translatable details (:class:`gongzhi.errors.Message`).

Pydantic words a field's problem in English only. Each error keeps that wording as its English text and,
where the table below has a wording for its ``type`` whose placeholders the error's ``ctx`` fills, that
wording as the catalogue id the console shows in its reader's language. In English the console keeps
pydantic's own words, which are more precise (they name the pattern, say).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from annotated_types import Interval
from pydantic import Field

from gongzhi.errors import Message, msg

DB_INT_MIN, DB_INT_MAX = -(2**31), 2**31 - 1
DbInt = Annotated[int, Interval(ge=DB_INT_MIN, le=DB_INT_MAX)]
"""A whole number the database can compare and store: ``int`` maps to ``INTEGER``, 32 bits on PostgreSQL
(SQLite's hold 64). Every id, filter and count a request carries is one, so that a number past the range is
refused at the edge (422, "must be at most 2147483647") instead of failing in the driver (SQLite's
``OverflowError``, PostgreSQL's ``NumericValueOutOfRange``): route parameters and request fields."""


def parse_id(text: str) -> int | None:
    """The whole number a text gives (a console form's field or select, a header, an ETag, a path segment):
    ASCII digits within :data:`DbInt`'s range, else ``None`` (none given; no row could have another).
    ``str.isdigit`` alone also takes "²", which ``int`` refuses."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= DB_INT_MAX else None


YUAN_MAX = 100_000_000_000
Yuan = Annotated[float, Field(ge=0, le=YUAN_MAX, allow_inf_nan=False)]
"""An amount of money in yuan: finite, not negative, at most a hundred billion (kept as fen in a BIGINT, or
as ``NUMERIC(14, 2)``, which both hold more)."""

# by pydantic's error ``type``; the placeholders are pydantic's ``ctx`` keys
FIELD_PROBLEMS = {
    "missing": msg("required"),
    "string_pattern_mismatch": msg("does not have the expected format"),
    "string_too_short": msg("needs at least %(min_length)s characters"),
    "string_too_long": msg("takes at most %(max_length)s characters"),
    "int_parsing": msg("must be a whole number"),
    "int_type": msg("must be a whole number"),
    "int_from_float": msg("must be a whole number"),
    "float_parsing": msg("must be a number"),
    "float_type": msg("must be a number"),
    "greater_than": msg("must be greater than %(gt)s"),
    "greater_than_equal": msg("must be at least %(ge)s"),
    "less_than": msg("must be less than %(lt)s"),
    "less_than_equal": msg("must be at most %(le)s"),
    "literal_error": msg("must be one of %(expected)s"),
    "enum": msg("must be one of %(expected)s"),
    "bool_parsing": msg("must be yes or no"),
    "date_parsing": msg("must be a date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": msg("must be a date (YYYY-MM-DD)"),
    "datetime_parsing": msg("must be a date and time"),
    "datetime_from_date_parsing": msg("must be a date and time"),
    "json_invalid": msg("is not valid JSON"),
}

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def problem(error: Mapping[str, Any]) -> Message:
    """What one error (pydantic's ``type``, ``msg``, ``ctx``) says of its field, without the field."""
    said = str(error.get("msg", ""))
    wording = FIELD_PROBLEMS.get(str(error.get("type", "")))
    ctx = error.get("ctx")
    params = {str(k): str(v) for k, v in ctx.items()} if isinstance(ctx, Mapping) else {}
    if wording is None or not set(_PLACEHOLDER.findall(wording.template)) <= set(params):
        return Message(said, {})  # no other wording: pydantic's, in every language
    return Message(wording.template, params, said)


def field(error: Mapping[str, Any], *, request: bool = False) -> str:
    """The error's field as a dotted path; a request's errors (``request``) start with body, query or
    path, which is left out, a model's with the field."""
    loc = error.get("loc") or ()
    parts = list(loc)[1 if request else 0 :] if isinstance(loc, list | tuple) else []
    return ".".join(str(p) for p in parts)


def field_problem(error: Mapping[str, Any], *, request: bool = False) -> Message:
    """``field: problem`` for one error, or the problem alone when it names no field."""
    name, said = field(error, request=request), problem(error)
    return msg("%(field)s: %(problem)s", field=name, problem=said) if name else said

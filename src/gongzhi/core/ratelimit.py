"""Rate limits on public writes (the citizen form, Open311 POST, village opinion pages).

Counters live in the database, not in process memory or Redis: the embedded default (SQLite, one process)
needs no extra component, and several server processes on PostgreSQL share one count without one. Each
bucket (an address or an API key, with a window length) keeps a row per fixed window, bumped by one atomic
``INSERT … ON CONFLICT DO UPDATE … RETURNING``; the limit is a sliding window estimated from the current
window and the overlapping part of the previous one (the "sliding window counter"), so a client cannot
double its quota at a window boundary. All limits of a request are counted in one short transaction of its
own: a refused request is rolled back and so does not use up quota, and ``Retry-After`` is exact.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.core.models import RateCounter
from gongzhi.db import Scope, unit_of_work, write_lock

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True)
class Limit:
    """At most ``count`` requests in any ``window_s`` seconds."""

    count: int
    window_s: int

    def __str__(self) -> str:
        return f"{self.count}/{self.window_s}s"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0
    limit: Limit | None = None  # the limit that refused the request

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.allowed else {"Retry-After": str(self.retry_after_s)}


ALLOWED = Verdict(True)


def parse(spec: str) -> tuple[Limit, ...]:
    """``"5/minute, 30/hour, 100/10minutes"``; an empty spec or ``"off"`` means no limit."""
    if spec.strip().lower() in ("", "off", "none"):
        return ()
    limits = []
    for part in spec.split(","):
        m = _SPEC.match(part.lower())
        if m is None:
            raise ValueError(f"not a rate limit: {part.strip()!r}; write it like 5/minute or 100/10minutes")
        count, n, unit = int(m[1]), int(m[2] or 1), m[3]
        if count < 1 or n < 1:
            raise ValueError(f"a rate limit needs a positive count and window: {part.strip()!r}")
        limits.append(Limit(count, n * UNITS[unit]))
    return tuple(limits)


def estimate(previous: int, current: int, elapsed_s: float, window_s: int) -> float:
    """Requests in the sliding window ending now: the previous fixed window weighted by its overlap."""
    # (w − t) / w rather than 1 − t / w: exact for the whole seconds the limits deal in (9 × 40/60 = 6.0,
    # where 9 × (1 − 20/60) = 6.000000000000001 would refuse a request that fits; found by hypothesis)
    return previous * (window_s - elapsed_s) / window_s + current


def retry_after(previous: int, current: int, elapsed_s: float, limit: Limit) -> int:
    """Whole seconds [s] until one more request fits, given the counts without it (≥ 1)."""
    n, w = limit.count, limit.window_s
    if current + 1 <= n:
        wait = 0.0 if previous == 0 else w * (1 - (n - current - 1) / previous) - elapsed_s
    else:
        into_next = 0.0 if current == 0 else w * (1 - (n - 1) / current)
        wait = (w - elapsed_s) + max(0.0, into_next)
    return max(1, math.ceil(wait - 1e-9))


def client_bucket(ip: str) -> str:
    """The address a limit counts: an IPv6 client by its /64 (one subscriber's whole network)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


def secret_bucket(secret: str) -> str:
    """A bucket for an API key that does not store the key."""
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def _bump(s: Session, bucket: str, window_no: int, expires_at: int) -> int:
    table = RateCounter.__table__
    insert = sqlite_insert if s.get_bind().dialect.name == "sqlite" else pg_insert
    stmt = (
        insert(RateCounter)
        .values(bucket=bucket, window_no=window_no, hits=1, expires_at=expires_at)
        .on_conflict_do_update(index_elements=["bucket", "window_no"], set_={"hits": table.c.hits + 1})
        .returning(table.c.hits)
    )
    hits: int = s.execute(stmt).scalar_one()
    return hits


def _previous(s: Session, bucket: str, window_no: int) -> int:
    stmt = select(RateCounter.hits).where(RateCounter.bucket == bucket, RateCounter.window_no == window_no)
    return s.execute(stmt).scalar_one_or_none() or 0


def count(s: Session, checks: Sequence[tuple[str, Limit]], now: float) -> Verdict:
    """Count one request against every ``(bucket, limit)``; refused if any limit would be exceeded.

    The caller commits an allowed request and rolls a refused one back (see :func:`hit`)."""
    refused: list[Verdict] = []
    for bucket, limit in checks:
        w = limit.window_s
        window_no = int(now // w)
        key = f"{bucket}@{w}"[:120]
        current = _bump(s, key, window_no, (window_no + 2) * w)
        if current == 1:  # a fresh window: drop every bucket's windows nobody can count any more
            s.execute(delete(RateCounter).where(RateCounter.expires_at < int(now)))
        previous = _previous(s, key, window_no - 1)
        elapsed = now - window_no * w
        if estimate(previous, current, elapsed, w) > limit.count:
            refused.append(Verdict(False, retry_after(previous, current - 1, elapsed, limit), limit))
    return max(refused, key=lambda v: v.retry_after_s) if refused else ALLOWED


def hit(
    factory: sessionmaker[Session], checks: Sequence[tuple[str, Limit]], now: float | None = None
) -> Verdict:
    """Count one request in a transaction of its own, kept only if the request is allowed."""
    if not checks:
        return ALLOWED
    with unit_of_work(factory, Scope.for_system()) as s:
        write_lock(s)
        if s.get_bind().dialect.name == "postgresql":
            # counters are worth less than a disk flush: a crash may forget the last hits, nothing else
            s.execute(text("SET LOCAL synchronous_commit = off"))
        verdict = count(s, checks, time.time() if now is None else now)
        if not verdict.allowed:
            s.rollback()
    return verdict

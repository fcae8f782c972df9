"""Per-process cache of region configuration, kept honest by a version row read in the caller's transaction.

Hot requests read the same configuration over and over: the SLA matrix, the calendar overrides, the
dispatch rules and actors, the webhooks, who belongs to which department. :func:`cached` keeps what a
loader returned for a region, tagged with the region's configuration version, and serves it while the
version read in the current transaction is the same. Every flush that adds, changes or deletes a row of a
watched class (and every bulk UPDATE or DELETE of one) sets that region's version to a fresh random
value in the same transaction, so

- a transaction sees a change as soon as its snapshot contains the change (the version comes with it);
- a rolled-back change does not resurface: its random version (31 bits) is never committed, so what
  was cached under it is served again only if a later change draws the same number (one in 2^31);
- several server processes stay correct, each with its own cache, since the version lives in the
  database.

Raw SQL that bypasses the ORM must bump the version itself (:func:`bump`).
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Engine, bindparam, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from gongzhi.core.models import Counter, Membership, Region, Webhook
from gongzhi.db import scope_of, table_of

T = TypeVar("T")
KEY = "config"
_COUNTERS = table_of(Counter)
_WATCHED: set[type[Any]] = set()
_CACHE: dict[tuple[Engine, int, str], tuple[int, Any]] = {}
_LOCK = threading.Lock()
_VERSION = select(_COUNTERS.c.value).where(_COUNTERS.c.region_id == bindparam("rid"), _COUNTERS.c.key == KEY)
VERSION_COLUMN = _COUNTERS.c.value.label("config_version")


def watch(*classes: type[Any]) -> None:
    """Declare region-owned classes whose rows feed a cached lookup (each has ``region_id``)."""
    _WATCHED.update(classes)


def cached(s: Session, region_id: int, name: str, load: Callable[[], T]) -> T:
    """``load()`` for this region, or what it returned before under the same configuration version."""
    version = current_version(s, region_id)
    key = (_engine(s), region_id, name)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]  # type: ignore[no-any-return]
    value = load()
    with _LOCK:
        _CACHE[key] = (version, value)
    return value


def current_version(s: Session, region_id: int) -> int:
    """The region's configuration version as this transaction sees it (read once per transaction)."""
    if any(isinstance(o, tuple(_WATCHED)) for o in itertools.chain(s.new, s.deleted, s.dirty)):
        s.flush()  # a pending change must bump the version before it is read
    memo: dict[tuple[Any, ...], Any] = s.info.setdefault("memo", {})
    key = ("config_version", region_id)
    if key not in memo:
        memo[key] = s.connection().execute(_VERSION, {"rid": region_id}).scalar_one_or_none() or 0
    return memo[key]  # type: ignore[no-any-return]


def version_join(region_id: ColumnElement[int]) -> tuple[Any, ColumnElement[bool]]:
    """Outer-join arguments that bring the version of the region in ``region_id`` into a query that
    reads that region's rows anyway (select :data:`VERSION_COLUMN`, then :func:`remember_version`)."""
    return _COUNTERS, (_COUNTERS.c.region_id == region_id) & (_COUNTERS.c.key == KEY)


def remember_version(s: Session, region_id: int, value: int | None) -> None:
    """The region's version as a statement of this transaction read it alongside other rows: later
    :func:`current_version` calls in the transaction need no statement of their own."""
    s.info.setdefault("memo", {}).setdefault(("config_version", region_id), value or 0)


def bump(s: Session, region_id: int) -> None:
    """Give the region a fresh configuration version in the session's transaction."""
    value = secrets.randbits(31) or 1  # counters.value is a 32-bit integer
    row = {"region_id": region_id, "key": KEY, "value": value}
    insert = pg_insert if _engine(s).dialect.name == "postgresql" else sqlite_insert
    stmt = insert(_COUNTERS).values(row)
    s.execute(stmt.on_conflict_do_update(index_elements=["region_id", "key"], set_={"value": value}))
    s.info.setdefault("memo", {})[("config_version", region_id)] = value


def _engine(s: Session) -> Engine:
    bind = s.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


@event.listens_for(Session, "before_flush")
def _bump_on_change(s: Session, _flush: UOWTransaction, _instances: Any) -> None:
    if not _WATCHED:
        return
    watched = tuple(_WATCHED)
    changed = (o for o in itertools.chain(s.new, s.dirty, s.deleted) if isinstance(o, watched))
    regions = {rid for o in changed if (rid := getattr(o, "region_id", None)) is not None}
    for rid in sorted(regions):
        bump(s, rid)


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    if not any(m.class_ in _WATCHED for m in state.all_mappers):
        return
    sc = scope_of(state.session)
    if sc.region_id is not None and not sc.system:
        bump(state.session, sc.region_id)
        return
    for rid in state.session.execute(select(Region.id)).scalars().all():  # a system-wide bulk change
        bump(state.session, rid)


def clear() -> None:
    with _LOCK:
        _CACHE.clear()


watch(Membership, Webhook)

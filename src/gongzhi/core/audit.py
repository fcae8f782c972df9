"""Append-only, hash-chained audit trail per region.

Services call :func:`record`; the entries are chained and written once, just before the transaction
commits (``before_commit``), while the region's chain head is locked. The head lock is therefore held
only for the last instant of a transaction, and the chain can never fork.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.orm import Session

from gongzhi.core.models import AuditEntry, AuditHead
from gongzhi.db import table_of, utcnow

GENESIS = "0" * 64
_PENDING = "audit_pending"


@dataclass(frozen=True)
class PendingEntry:
    region_id: int
    at: datetime
    actor_user_id: int | None
    actor: str
    action: str
    object_type: str
    object_id: str
    data: dict[str, Any]


def record(
    session: Session,
    *,
    region_id: int,
    action: str,
    object_type: str,
    object_id: str | int,
    actor: str,
    actor_user_id: int | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    # the chain hashes the instant as stored (UTC): a caller's local-zone `now` must hash the same way
    moment = utcnow() if at is None else at.astimezone(UTC)
    entry = PendingEntry(
        region_id, moment, actor_user_id, actor, action, object_type, str(object_id), data or {}
    )
    session.info.setdefault(_PENDING, []).append(entry)


def link_hash(prev_hash: str, seq: int, e: PendingEntry | AuditEntry) -> str:
    body = {
        "region_id": e.region_id,
        "seq": seq,
        "at": e.at.isoformat(timespec="microseconds"),
        "actor_user_id": e.actor_user_id,
        "actor": e.actor,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "data": e.data,
        "prev": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


_HEADS, _ENTRIES = table_of(AuditHead), table_of(AuditEntry)
UNSCOPED = {"unscoped": True}
_HEAD_FOR_UPDATE = (
    select(_HEADS.c.seq, _HEADS.c.hash).where(_HEADS.c.region_id == bindparam("rid")).with_for_update()
)
_MOVE_HEAD = update(_HEADS).where(_HEADS.c.region_id == bindparam("rid"))
_INSERT_LINKS = insert(_ENTRIES)
# PostgreSQL: the links and the head's move in one statement (a data-modifying CTE), so the head lock is
# held for one round trip fewer. Every row carries the head's final position: each execution of an
# executemany sets the head to the same values. The link's parameters are named ``link_*``: a parameter
# named after a column (region_id) would also be SET by the CTE's UPDATE.
_LINK_COLUMNS = [*PendingEntry.__dataclass_fields__, "seq", "prev_hash", "hash"]
_LINK_AND_MOVE = (
    insert(_ENTRIES)
    .values({c: bindparam(f"link_{c}") for c in _LINK_COLUMNS})
    .add_cte(
        update(_HEADS)
        .where(_HEADS.c.region_id == bindparam("head_rid"))
        .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
        .cte("moved_head")
    )
)


def _lock_head(session: Session, region_id: int) -> tuple[int, str]:
    conn = session.connection()
    row = conn.execute(_HEAD_FOR_UPDATE, {"rid": region_id}).first()
    if row is None:
        conn.execute(insert(_HEADS).values(region_id=region_id, seq=0, hash=GENESIS))
        return 0, GENESIS
    return int(row.seq), str(row.hash)


def seal(session: Session) -> None:
    """Chain the pending entries: per region, lock the head, insert the links, move the head (plain
    statements, no unit-of-work flush: three statements per region however many entries, two on
    PostgreSQL, where the links and the head's move are one). The
    statements go to the session's connection directly: they touch only the audit tables, which the
    chain itself guards, so the ORM's execute machinery (autoflush, region scoping) has nothing to do."""
    pending: list[PendingEntry] = session.info.pop(_PENDING, [])
    conn = session.connection()
    in_one = conn.dialect.name == "postgresql"
    links: list[dict[str, Any]] = []
    for region_id in sorted({e.region_id for e in pending}):
        seq, prev = _lock_head(session, region_id)
        chain: list[dict[str, Any]] = []
        for e in (p for p in pending if p.region_id == region_id):
            seq += 1
            digest = link_hash(prev, seq, e)
            chain.append({**e.__dict__, "seq": seq, "prev_hash": prev, "hash": digest})
            prev = digest
        if in_one:
            head = {"head_rid": region_id, "head_seq": seq, "head_hash": prev}
            conn.execute(_LINK_AND_MOVE, [{f"link_{k}": v for k, v in link.items()} | head for link in chain])
            continue
        conn.execute(_MOVE_HEAD, {"rid": region_id, "seq": seq, "hash": prev})
        links += chain
    if links:
        conn.execute(_INSERT_LINKS, links)


@event.listens_for(Session, "before_commit")
def _seal_before_commit(session: Session) -> None:
    if session.info.get(_PENDING):
        seal(session)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class ChainProblem:
    region_id: int
    seq: int
    problem: str


def verify(session: Session, region_id: int | None = None) -> tuple[int, list[ChainProblem]]:
    """Re-derive every chain and report edited, deleted or reordered links; returns (links, problems)."""
    heads = session.execute(select(AuditHead), execution_options={"unscoped": True}).scalars().all()
    checked, problems = 0, []
    for head in heads:
        if region_id is not None and head.region_id != region_id:
            continue
        n, found = _verify_region(session, head)
        checked += n
        problems.extend(found)
    return checked, problems


def _verify_region(session: Session, head: AuditHead) -> tuple[int, list[ChainProblem]]:
    stmt = select(AuditEntry).where(AuditEntry.region_id == head.region_id).order_by(AuditEntry.seq)
    entries = session.execute(stmt, execution_options={"unscoped": True}).scalars().all()
    problems, prev, expected = [], GENESIS, 1
    for e in entries:
        if e.seq != expected:
            problems.append(
                ChainProblem(head.region_id, expected, f"link {expected} missing (next is {e.seq})")
            )
        if e.prev_hash != prev:
            problems.append(
                ChainProblem(head.region_id, e.seq, "previous-hash mismatch (reordered or removed)")
            )
        if link_hash(e.prev_hash, e.seq, e) != e.hash:
            problems.append(ChainProblem(head.region_id, e.seq, "content does not match its hash (edited)"))
        prev, expected = e.hash, e.seq + 1
    if (head.seq, head.hash) != (expected - 1, prev):
        problems.append(ChainProblem(head.region_id, head.seq, "chain ends before its head (tail deleted)"))
    return len(entries), problems

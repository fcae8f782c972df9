"""Duplicate systems across paired regions (重复建设 between districts): a region compares its own systems
with the systems its active pairings chose to share, and keeps its own verdict on each pair.

Only what a pairing shares is read: records a paired region marked ``shared_with_pairs``, and of those
only the fields the comparison and the side-by-side evidence need. An unpaired region's catalog is never
queried: the region ids come from the pairings before any catalog row is read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.core.models import Region
from gongzhi.core.service import paired_region_ids, require_role
from gongzhi.db import scope_of, utcnow
from gongzhi.errors import InvalidInput, msg
from gongzhi.modules.catalog import repository as repo
from gongzhi.modules.catalog.analytics import dupes
from gongzhi.modules.catalog.models import CatalogCrossPair, CatalogRecord
from gongzhi.modules.catalog.service import EDITORS, JURISDICTIONS, _audit

SHARED_FIELDS = ("id", "region_id", "name", "summary", "functions", "items", "provider", "category")


@dataclass(frozen=True)
class Shared:
    """What a paired region shares of one of its systems."""

    id: int
    region_id: int
    region: str
    name: str
    summary: str
    functions: str
    items: tuple[str, ...]
    provider: str
    category: str


def _rid(s: Session) -> int:
    rid = scope_of(s).region_id
    if rid is None:
        raise InvalidInput(msg("choose a region for this catalog action"))
    return rid


def shared_systems(s: Session, region_ids: set[int]) -> list[Shared]:
    if not region_ids:
        return []
    names = {i: n for i, n in s.execute(select(Region.id, Region.name).where(Region.id.in_(region_ids)))}
    return [
        Shared(
            id=r.id,
            region_id=r.region_id,
            region=names.get(r.region_id, ""),
            name=r.name,
            summary=r.summary,
            functions=r.functions,
            items=tuple(str(i.get("name", "")) for i in r.items or ()),
            provider=r.provider,
            category=r.category,
        )
        for r in repo.shared_rows(s, region_ids, SHARED_FIELDS)
    ]


def scan(s: Session, threshold: float = 0.6) -> dict[str, Any]:
    """Score the region's live systems against its pairs' shared systems; keep verdicts, mark pairs no
    longer found stale."""
    require_role(scope_of(s), *EDITORS)
    rid = _rid(s)
    started = time.perf_counter()
    own = repo.entry_rows(s, "application")
    theirs = shared_systems(s, paired_region_ids(s, rid))
    systems = [
        dupes.System(
            str(r.id), r.name, r.summary, r.functions, tuple(i["name"] for i in r.items or ()), r.provider
        )
        for r in own
    ] + [dupes.System(str(t.id), t.name, t.summary, t.functions, t.items, t.provider) for t in theirs]
    regions = [x.region for x in theirs]
    found = [
        c
        for c in dupes.find_duplicates(
            systems,
            prefixes=[*JURISDICTIONS, *repo.jurisdiction_names(s), *regions],
            threshold=threshold,
            split=len(own),
        )
        if (c.i < len(own)) != (c.j < len(own))
    ]
    known = repo.cross_pairs(s)
    now, seen, new = utcnow(), set(), 0
    for c in found:
        mine, other = (c.i, c.j) if c.i < len(own) else (c.j, c.i)
        t = theirs[other - len(own)]
        key = (int(systems[mine].key), t.id)
        seen.add(key)
        pair = known.get(key)
        if pair is None:
            pair = CatalogCrossPair(
                region_id=rid,
                record_id=key[0],
                other_region_id=t.region_id,
                other_record_id=t.id,
                score=c.score,
            )
            s.add(pair)
            new += 1
        pair.score, pair.last_seen_at, pair.stale = c.score, now, False
        pair.evidence = {
            "name_similarity": c.name_similarity,
            "text_similarity": c.text_similarity,
            "item_similarity": c.item_similarity,
            "shared_items": list(c.shared_items),
            "normalised_names": list(c.normalised_names)
            if mine == c.i
            else list(reversed(c.normalised_names)),
        }
    for key, pair in known.items():
        if key not in seen:
            pair.stale = True
    s.flush()
    result = {
        "systems": len(own),
        "shared": len(theirs),
        "pairs": len(found),
        "new": new,
        "seconds": round(time.perf_counter() - started, 3),
    }
    _audit(s, "catalog.crossdupes.scan", "catalog", rid, {"threshold": threshold, **result})
    return result


def list_pairs(
    s: Session, verdict: str | None = None, include_stale: bool = False, limit: int = 200
) -> list[tuple[CatalogCrossPair, CatalogRecord, Shared]]:
    """Pairs best first, the region's record beside what the paired region shares; pairs whose other side
    is no longer shared, archived, or whose pairing ended, are left out."""
    rid = _rid(s)
    pairs = repo.list_cross_pairs(s, verdict, include_stale, limit)
    mine = repo.records_by_ids(s, sorted({p.record_id for p in pairs}))
    theirs = {t.id: t for t in shared_systems(s, paired_region_ids(s, rid))}
    return [
        (p, mine[p.record_id], theirs[p.other_record_id])
        for p in pairs
        if p.other_record_id in theirs and p.record_id in mine and mine[p.record_id].archived_at is None
    ]


def set_verdict(s: Session, pair_id: int, verdict: str, note: str = "") -> CatalogCrossPair:
    require_role(scope_of(s), *EDITORS)
    pair = repo.cross_pair(s, pair_id)
    pair.verdict, pair.note = verdict, note
    pair.reviewed_by, pair.reviewed_at = scope_of(s).username, utcnow()
    s.flush()
    _audit(s, "catalog.crossdupes.verdict", "catalog_cross_pair", pair.id, {"verdict": verdict})
    return pair

"""Near-duplicate lookup at intake: a per-process LSH index per region over stored MinHash signatures.

The index is refreshed incrementally (rows with a higher id) and rebuilt when the newest id went down (rows
of a rolled-back transaction had been indexed). Candidates are checked against the database (open cases
only) and scored with distance and category, as FixMyStreet does with nearby reports of the same category.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gongzhi.kit.geo import haversine_m
from gongzhi.modules.intake import repository as repo
from gongzhi.modules.intake.analytics import geocell, minhash

LOOKBACK = timedelta(days=365)
MAX_SUGGESTIONS = 5
NEAR_BONUS = 0.2
SAME_CATEGORY_BONUS = 0.1


@dataclass
class _RegionIndex:
    lsh: minhash.LshIndex = field(default_factory=minhash.LshIndex)
    last_id: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_indexes: dict[tuple[str, int], _RegionIndex] = {}
_indexes_lock = threading.Lock()


@dataclass(frozen=True)
class Similar:
    request_id: int
    case_id: int
    number: str
    title: str
    state: str
    category: str
    created_at: datetime
    score: float
    text_similarity: float
    distance_m: float | None


def reset() -> None:
    """Forget every cached index (tests, restore)."""
    with _indexes_lock:
        _indexes.clear()


def _index(s: Session, region_id: int, now: datetime) -> minhash.LshIndex:
    key = (str(s.get_bind().engine.url), region_id)
    with _indexes_lock:
        idx = _indexes.setdefault(key, _RegionIndex())
    since = now - LOOKBACK
    with idx.lock:
        if repo.max_request_id(s, region_id) < idx.last_id:
            idx.lsh, idx.last_id = minhash.LshIndex(), 0  # rows we indexed were rolled back: rebuild
        rows = repo.signatures_after(s, region_id, idx.last_id, since)
        idx.lsh.add_many((i, minhash.from_bytes(raw)) for i, raw in rows)
        if rows:
            idx.last_id = rows[-1][0]
        return idx.lsh


def find(
    s: Session,
    region_id: int,
    sig: minhash.Signature,
    *,
    code: str | None,
    lat: float | None,
    lon: float | None,
    radius_m: float,
    threshold: float,
    exclude_request: int | None = None,
    now: datetime,
) -> list[Similar]:
    """Open requests similar to ``sig`` (score ≥ ``threshold``) and open same-category reports within
    ``radius_m``, best score first; a score at or above the threshold marks a likely duplicate."""
    lsh = _index(s, region_id, now)
    text_hits = dict(lsh.query(sig, threshold=0.3, exclude=exclude_request))
    rows = repo.open_candidates(s, region_id, list(text_hits)) if text_hits else []
    if code is not None and lat is not None and lon is not None:
        rows += repo.open_nearby(s, region_id, code, geocell.around(lat, lon, radius_m), 2 * MAX_SUGGESTIONS)
    found: dict[int, Similar] = {}
    for row in rows:
        if row.id == exclude_request or row.id in found:
            continue
        sim = minhash.similarity(sig, minhash.from_bytes(row.minhash))
        dist = _distance(lat, lon, row.lat, row.lon)
        same = bool(code) and row.service_code == code
        score = sim + _bonus(dist, radius_m) + (SAME_CATEGORY_BONUS if same else 0)
        nearby_same = same and dist is not None and dist <= radius_m  # FixMyStreet's rule: always show these
        if score >= threshold or nearby_same:
            found[row.id] = Similar(
                row.id,
                row.case_id,
                row.number,
                row.title,
                row.state,
                row.service_code,
                row.created_at,
                round(min(score, 1.0), 3),
                round(sim, 3),
                dist,
            )
    return sorted(found.values(), key=lambda x: (-x.score, -x.request_id))[:MAX_SUGGESTIONS]


def _distance(lat: float | None, lon: float | None, lat2: float | None, lon2: float | None) -> float | None:
    if lat is None or lon is None or lat2 is None or lon2 is None:
        return None
    return round(haversine_m(lon, lat, lon2, lat2), 1)


def _bonus(dist: float | None, radius_m: float) -> float:
    if dist is None:
        return 0.0
    if dist <= radius_m:
        return NEAR_BONUS
    return -NEAR_BONUS if dist > 5 * radius_m else 0.0

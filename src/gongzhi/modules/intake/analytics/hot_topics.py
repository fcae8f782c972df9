"""Hot topics (热点问题): cluster recent requests and score their heat.

Requests are linked when their character-bigram TF-IDF vectors are similar (cosine ≥ ``link``), or when they
name the same place and are moderately similar (cosine ≥ ``place_link``); linked components of at least
``min_size`` requests are topics (single linkage, as in the shingle + union-find pipelines of the 2020 Teddy
Cup task C solutions). Heat adds, per request, a recency weight ``0.5^(age / half_life)`` times
``1 + ln(1 + likes) − ½ ln(1 + dislikes)``, plus one point per distinct reporter; the Rollbear solution's
``8·messages + likes − 30·dislikes`` is the same idea with a linear vote term, which lets one viral post
dominate.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

_PLACE = re.compile(
    r"[\u4e00-\u9fa5A-Za-z0-9]{2,12}?(?:小区|花园|新城|家园|公寓|广场|大厦|花苑|华苑|雅苑|苑|府|公馆|村|社区|街道|镇|乡"
    r"|大道|路|街|学校|小学|中学|幼儿园|大学|医院|市场|车站|搅拌站|工业园|产业园|景区)"
)
_ADMIN = re.compile(r"^.*[市区县](?=.{2,})")
_PEOPLE = re.compile(
    r"业主|居民|村民|学生|家长|老师|教师|司机|患者|职工|员工|农民工|商户|游客|老人|儿童|残疾人|退休人员|考生|租户|乘客|市民"
)


@dataclass(frozen=True)
class Doc:
    """One request as the clustering sees it."""

    id: int
    subject: str
    text: str
    at: datetime
    reporter: str | None = None
    likes: int = 0
    dislikes: int = 0


@dataclass(frozen=True)
class Topic:
    key: str
    ids: tuple[int, ...]
    heat: float
    start: datetime
    end: datetime
    place: str
    people: str
    description: str
    reporters: int
    votes: int


def places(text: str) -> list[str]:
    """Place names (小区, 村, 路, 学校 …) with the leading 市/区/县 prefix removed."""
    found = []
    for m in _PLACE.finditer(text):
        name = _ADMIN.sub("", m.group(0))
        if len(name) >= 3 and not re.fullmatch(r"[A-Za-z0-9]+[市区县镇乡]", name):
            found.append(name)
    return found


def _vectors(docs: Sequence[Doc]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [f"{d.subject} {d.subject} {d.text[:300]}" for d in docs]
    x = TfidfVectorizer(analyzer="char", ngram_range=(2, 2), sublinear_tf=True).fit_transform(texts)
    return (x @ x.T).toarray()  # type: ignore[no-any-return]


def clusters(docs: Sequence[Doc], link: float = 0.5, place_link: float = 0.2) -> list[list[int]]:
    """Groups of positions of linked documents (every document is in exactly one group)."""
    n = len(docs)
    if n == 0:
        return []
    sim = _vectors(docs)
    names = [set(places(f"{d.subject} {d.text}")) for d in docs]
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    rows, cols = np.nonzero(np.triu(sim >= place_link, k=1))
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        if sim[i, j] >= link or names[i] & names[j]:
            parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def heat(docs: Sequence[Doc], now: datetime, half_life_days: float = 7.0) -> float:
    """Heat of one topic [points]: recency-weighted requests with a log vote term, plus distinct reporters."""
    total = 0.0
    for d in docs:
        age = max((now - d.at).total_seconds() / 86400, 0.0)
        votes = 1 + math.log1p(d.likes) - 0.5 * math.log1p(d.dislikes)
        total += 0.5 ** (age / half_life_days) * max(votes, 0.1)
    reporters = len({d.reporter or f"#{d.id}" for d in docs})
    return round(total + reporters, 2)


def topics(
    docs: Sequence[Doc],
    now: datetime,
    *,
    min_size: int = 3,
    half_life_days: float = 7.0,
    link: float = 0.5,
    place_link: float = 0.2,
) -> list[Topic]:
    """Hot topics, hottest first."""
    out = []
    for group in clusters(docs, link, place_link):
        members = [docs[i] for i in group]
        if len(members) < min_size:
            continue
        out.append(_topic(members, now, half_life_days))
    return _unique_keys(sorted(out, key=lambda t: (-t.heat, t.key)))


def _unique_keys(found: list[Topic]) -> list[Topic]:
    """Two topics at the same place (a broken lamp and a blocked drain on one street) keep apart: the hotter
    keeps ``place:…``, the others add their first request's id, so each key names one topic of a run."""
    seen: set[str] = set()
    out = []
    for t in found:
        if t.key in seen:
            t = dataclasses.replace(t, key=f"{t.key}#{t.ids[0]}")
        seen.add(t.key)
        out.append(t)
    return out


def _topic(members: list[Doc], now: datetime, half_life_days: float) -> Topic:
    texts = [f"{d.subject} {d.text}" for d in members]
    place_counts = Counter(p for text in texts for p in set(places(text)))
    # the place named most often; among equals the one named earliest in the texts (not set order, which
    # changes with the interpreter's hash seed)
    first = {p: min(t.find(p) for t in texts if p in t) for p in place_counts}
    place = max(place_counts, key=lambda p: (place_counts[p], -first[p], p)) if place_counts else ""
    people = Counter(p for d in members for p in set(_PEOPLE.findall(f"{d.subject} {d.text}")))
    lead = max(members, key=lambda d: (d.likes, -d.id))
    ids = tuple(sorted(d.id for d in members))
    return Topic(
        key=f"place:{place}" if place else f"req:{ids[0]}",
        ids=ids,
        heat=heat(members, now, half_life_days),
        start=min(d.at for d in members),
        end=max(d.at for d in members),
        place=place,
        people="、".join(p for p, _ in people.most_common(2)),
        description=lead.subject[:300],
        reporters=len({d.reporter or f"#{d.id}" for d in members}),
        votes=sum(d.likes for d in members),
    )

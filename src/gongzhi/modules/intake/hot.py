"""Hot topics of a region: recompute the table from recent requests and raise early warnings."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from gongzhi.cases import alerts
from gongzhi.cases.schemas import AlertRaise
from gongzhi.db import utcnow
from gongzhi.modules.intake import repository as repo
from gongzhi.modules.intake.analytics import hot_topics as ht
from gongzhi.modules.intake.models import HotTopic, IntakeRequest
from gongzhi.registry import Registry

GROWTH = 1.5
MAX_TOPICS = 50


def refresh(s: Session, registry: Registry, region_id: int, now: datetime | None = None) -> list[HotTopic]:
    """Replace the region's hot-topic table; alert on topics that crossed the threshold or grew ≥ 50 %."""
    now = now or utcnow()
    settings = repo.settings_of(s, region_id)
    rows = repo.recent_for_topics(s, region_id, now - timedelta(days=settings.hot_window_days))
    docs = [
        ht.Doc(r.id, r.subject, r.text, c.created_at, r.reporter_key, r.votes, r.dislikes) for r, c in rows
    ]
    found = ht.topics(docs, now)[:MAX_TOPICS]
    previous = {t.key: t for t in repo.hot_topics(s, region_id)}
    s.execute(delete(HotTopic).where(HotTopic.region_id == region_id))
    by_id = {r.id: r for r, _ in rows}
    out = []
    for rank, t in enumerate(found, 1):
        before = previous.get(t.key)
        topic = HotTopic(
            region_id=region_id,
            key=t.key,
            rank=rank,
            heat=t.heat,
            previous_heat=before.heat if before else 0.0,
            period_start=t.start,
            period_end=t.end,
            place=t.place,
            people=t.people,
            description=t.description,
            requests=len(t.ids),
            reporters=t.reporters,
            votes=t.votes,
            request_ids=list(t.ids),
            alert_id=before.alert_id if before else None,
            computed_at=now,
        )
        for i in t.ids:
            by_id[i].topic_key = t.key
        if t.heat >= settings.hot_alert_heat and t.heat >= GROWTH * topic.previous_heat:
            topic.alert_id = _warn(s, registry, region_id, topic, [by_id[i] for i in t.ids], now)
        s.add(topic)
        out.append(topic)
    s.flush()
    return out


def _warn(
    s: Session, registry: Registry, region_id: int, t: HotTopic, members: list[IntakeRequest], now: datetime
) -> int:
    located = next((m for m in members if m.lat is not None and m.lon is not None), None)
    threshold = repo.settings_of(s, region_id).hot_alert_heat
    data = AlertRaise(
        kind="intake.hot_topic",
        severity="high" if t.heat >= 2 * threshold else "medium",
        title=f"热点问题预警：{t.description}"[:200],
        description=(
            f"热度 {t.heat:.1f}（上次 {t.previous_heat:.1f}），{t.requests} 件诉求、{t.reporters} 位反映人、"
            f"{t.votes} 个点赞；地点/人群：{t.place or '—'} / {t.people or '—'}"
        ),
        location=None if located is None else {"type": "Point", "coordinates": [located.lon, located.lat]},
        source="intake.hot_topics",
        dedup_key=f"intake:hot:{t.key}"[:200],
    )
    alert, _ = alerts.raise_alert(s, registry, data, region_id=region_id, now=now)
    return alert.id

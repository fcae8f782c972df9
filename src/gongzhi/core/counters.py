"""Gap-free per-region counters (case numbers)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gongzhi.core.models import Counter


def next_value(s: Session, region_id: int, key: str) -> int:
    stmt = select(Counter).where(Counter.region_id == region_id, Counter.key == key).with_for_update()
    row = s.execute(stmt).scalar_one_or_none()
    if row is None:
        try:
            with s.begin_nested():
                s.add(Counter(region_id=region_id, key=key, value=0))
        except IntegrityError:
            pass  # another transaction created it first; lock theirs below
        row = s.execute(stmt).scalar_one()
    row.value += 1
    return row.value

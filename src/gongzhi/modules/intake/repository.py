"""Every query of the intake module."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from gongzhi.cases.models import Case
from gongzhi.modules.intake.models import (
    ClassifierModel,
    HotTopic,
    IntakeApiKey,
    IntakeCategory,
    IntakeImport,
    IntakeRequest,
    IntakeSettings,
    TrainingExample,
)

UNSCOPED = {"unscoped": True}
CLOSED_STATES = ("closed", "rejected", "merged")


def settings_of(s: Session, region_id: int) -> IntakeSettings:
    row = s.execute(select(IntakeSettings).where(IntakeSettings.region_id == region_id)).scalar_one_or_none()
    return row or IntakeSettings(
        region_id=region_id,
        confidence_threshold=0.55,
        duplicate_radius_m=250.0,
        duplicate_similarity=0.5,
        retrain_every=20,
        hot_window_days=30,
        hot_alert_heat=20.0,
    )


def categories(s: Session, region_id: int, active_only: bool = True) -> list[IntakeCategory]:
    stmt = select(IntakeCategory).where(IntakeCategory.region_id == region_id)
    if active_only:
        stmt = stmt.where(IntakeCategory.active)
    return list(s.execute(stmt.order_by(IntakeCategory.position, IntakeCategory.code)).scalars())


def category(s: Session, region_id: int, code: str) -> IntakeCategory | None:
    stmt = select(IntakeCategory).where(IntakeCategory.region_id == region_id, IntakeCategory.code == code)
    return s.execute(stmt).scalar_one_or_none()


def request_by_id(s: Session, request_id: int) -> IntakeRequest | None:
    return s.execute(select(IntakeRequest).where(IntakeRequest.id == request_id)).scalar_one_or_none()


def request_of_case(s: Session, case_id: int) -> IntakeRequest | None:
    return s.execute(select(IntakeRequest).where(IntakeRequest.case_id == case_id)).scalar_one_or_none()


def request_with_case(s: Session, region_id: int, number: str) -> tuple[IntakeRequest, Case] | None:
    stmt = (
        select(IntakeRequest, Case)
        .join(Case, Case.id == IntakeRequest.case_id)
        .where(IntakeRequest.region_id == region_id, Case.number == number)
    )
    row = s.execute(stmt).first()
    return None if row is None else (row[0], row[1])


def request_by_token(s: Session, region_id: int, token: str) -> tuple[IntakeRequest, Case] | None:
    stmt = (
        select(IntakeRequest, Case)
        .join(Case, Case.id == IntakeRequest.case_id)
        .where(IntakeRequest.region_id == region_id, IntakeRequest.token == token)
    )
    row = s.execute(stmt).first()
    return None if row is None else (row[0], row[1])


def requests_with_cases(
    s: Session, region_id: int, where: Sequence[Any], limit: int, offset: int = 0
) -> list[tuple[IntakeRequest, Case]]:
    stmt = (
        select(IntakeRequest, Case)
        .join(Case, Case.id == IntakeRequest.case_id)
        .where(IntakeRequest.region_id == region_id, *where)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [(r, c) for r, c in s.execute(stmt).all()]


def count_requests(s: Session, region_id: int, where: Sequence[Any]) -> int:
    stmt = (
        select(func.count(IntakeRequest.id))
        .join(Case, Case.id == IntakeRequest.case_id)
        .where(IntakeRequest.region_id == region_id, *where)
    )
    return int(s.execute(stmt).scalar_one())


def signatures_after(s: Session, region_id: int, after_id: int, since: datetime) -> list[tuple[int, bytes]]:
    stmt = (
        select(IntakeRequest.id, IntakeRequest.minhash)
        .where(
            IntakeRequest.region_id == region_id,
            IntakeRequest.id > after_id,
            IntakeRequest.created_at >= since,
        )
        .order_by(IntakeRequest.id)
    )
    return [(i, m) for i, m in s.execute(stmt, execution_options=UNSCOPED).all()]


def max_request_id(s: Session, region_id: int) -> int:
    stmt = select(func.max(IntakeRequest.id)).where(IntakeRequest.region_id == region_id)
    return int(s.execute(stmt, execution_options=UNSCOPED).scalar_one() or 0)


CANDIDATE_COLUMNS = (
    IntakeRequest.id,
    IntakeRequest.minhash,
    IntakeRequest.service_code,
    IntakeRequest.lat,
    IntakeRequest.lon,
    Case.id.label("case_id"),
    Case.number,
    Case.title,
    Case.state,
    Case.created_at,
)


def open_candidates(s: Session, region_id: int, ids: Sequence[int]) -> list[Any]:
    """Rows (CANDIDATE_COLUMNS) of the open requests among ``ids``; plain columns, no ORM objects."""
    stmt = (
        select(*CANDIDATE_COLUMNS)
        .join(Case, Case.id == IntakeRequest.case_id)
        .where(
            IntakeRequest.region_id == region_id,
            IntakeRequest.id.in_(ids),
            Case.state.not_in(CLOSED_STATES),
        )
    )
    return list(s.execute(stmt, execution_options=UNSCOPED).all())


def open_nearby(s: Session, region_id: int, code: str, cells: Sequence[int], limit: int = 50) -> list[Any]:
    """The newest open requests of one category in the given grid cells.

    No ORDER BY in SQL: with one, SQLite prefers walking the region index in id order over the cell index.
    """
    stmt = (
        select(IntakeRequest.id)
        .join(Case, Case.id == IntakeRequest.case_id)
        .where(
            IntakeRequest.region_id == region_id,
            IntakeRequest.service_code == code,
            IntakeRequest.geo_cell.in_(list(cells)),
            Case.state.not_in(CLOSED_STATES),
        )
        .limit(20 * limit)
    )
    ids = sorted(s.execute(stmt, execution_options=UNSCOPED).scalars(), reverse=True)[:limit]
    return open_candidates(s, region_id, ids) if ids else []


def api_key_by_prefix(s: Session, prefix: str) -> IntakeApiKey | None:
    stmt = select(IntakeApiKey).where(IntakeApiKey.prefix == prefix)
    return s.execute(stmt, execution_options=UNSCOPED).scalar_one_or_none()


def external_ids(s: Session, region_id: int, channel: str, ids: Sequence[str]) -> set[str]:
    if not ids:
        return set()
    stmt = select(IntakeRequest.external_id).where(
        IntakeRequest.region_id == region_id,
        IntakeRequest.channel == channel,
        IntakeRequest.external_id.in_(list(ids)),
    )
    return {e for e in s.execute(stmt).scalars() if e is not None}


def triage_queue(s: Session, region_id: int, limit: int, offset: int) -> list[tuple[IntakeRequest, Case]]:
    return requests_with_cases(s, region_id, [IntakeRequest.triage == "pending"], limit, offset)


def training_examples(s: Session, region_id: int) -> list[TrainingExample]:
    stmt = select(TrainingExample).where(TrainingExample.region_id == region_id).order_by(TrainingExample.id)
    return list(s.execute(stmt).scalars())


def examples_since(s: Session, region_id: int, since: datetime | None) -> int:
    stmt = select(func.count(TrainingExample.id)).where(TrainingExample.region_id == region_id)
    if since is not None:
        stmt = stmt.where(TrainingExample.created_at > since)
    return int(s.execute(stmt).scalar_one())


def latest_model(s: Session, region_id: int) -> ClassifierModel | None:
    stmt = (
        select(ClassifierModel)
        .where(ClassifierModel.region_id == region_id)
        .order_by(ClassifierModel.id.desc())
        .limit(1)
    )
    return s.execute(stmt).scalar_one_or_none()


def latest_model_id(s: Session, region_id: int) -> int | None:
    stmt = select(func.max(ClassifierModel.id)).where(ClassifierModel.region_id == region_id)
    value = s.execute(stmt).scalar_one()
    return None if value is None else int(value)


def history_texts(s: Session, region_id: int, limit: int = 20_000) -> list[tuple[str, str, int | None]]:
    """Recent requests as (subject, text, handling department id) for vocabulary and weak labels."""
    stmt = (
        select(IntakeRequest.subject, IntakeRequest.text, IntakeRequest.department_id)
        .where(IntakeRequest.region_id == region_id)
        .order_by(IntakeRequest.id.desc())
        .limit(limit)
    )
    return [(a, b, c) for a, b, c in s.execute(stmt).all()]


def recent_for_topics(s: Session, region_id: int, since: datetime) -> list[tuple[IntakeRequest, Case]]:
    stmt = (
        select(IntakeRequest, Case)
        .join(Case, Case.id == IntakeRequest.case_id)
        .where(IntakeRequest.region_id == region_id, Case.created_at >= since, Case.state != "rejected")
        .order_by(IntakeRequest.id)
    )
    return [(r, c) for r, c in s.execute(stmt).all()]


def hot_topics(s: Session, region_id: int) -> list[HotTopic]:
    stmt = select(HotTopic).where(HotTopic.region_id == region_id).order_by(HotTopic.rank)
    return list(s.execute(stmt).scalars())


def imports(s: Session, region_id: int, limit: int = 50) -> list[IntakeImport]:
    stmt = select(IntakeImport).where(IntakeImport.region_id == region_id).order_by(IntakeImport.id.desc())
    return list(s.execute(stmt.limit(limit)).scalars())


def suggested_duplicates(
    s: Session, region_id: int, limit: int = 200
) -> list[tuple[IntakeRequest, Case, Case]]:
    """(request, its case, the original it probably repeats) for requests still mergeable, newest first."""
    original = aliased(Case)
    stmt = (
        select(IntakeRequest, Case, original)
        .join(Case, Case.id == IntakeRequest.case_id)
        .join(original, original.id == IntakeRequest.duplicate_of_case_id)
        .where(IntakeRequest.region_id == region_id, Case.state.in_(("submitted", "accepted")))
        .order_by(IntakeRequest.duplicate_of_case_id.desc(), IntakeRequest.id.desc())
        .limit(limit)
    )
    return [(r, c, o) for r, c, o in s.execute(stmt).all()]


def closed_once(s: Session, region_id: int, limit: int = 200) -> list[tuple[IntakeRequest, Case]]:
    """Requests whose case has been closed at least once (so follow-up applies), latest closure first."""
    stmt = (
        select(IntakeRequest, Case)
        .join(Case, Case.id == IntakeRequest.case_id)
        .where(IntakeRequest.region_id == region_id, or_(Case.closed_at.is_not(None), Case.reopen_count > 0))
        .order_by(Case.updated_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return [(r, c) for r, c in s.execute(stmt).all()]

"""Use cases of intake: every request, whatever its channel, becomes a case; routing, duplicates, triage.

Services take a session and typed arguments, flush and never commit; the request (or the CLI's unit of
work) owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from gongzhi.cases import service as cases
from gongzhi.cases.models import Case
from gongzhi.cases.schemas import ActionIn, CaseCreate
from gongzhi.cases.statemachine import Action
from gongzhi.core import audit
from gongzhi.core import service as core
from gongzhi.core.models import Department, Role
from gongzhi.core.security import hash_token, tokens_equal
from gongzhi.db import Scope, scope_of, utcnow
from gongzhi.errors import Forbidden, InvalidInput, NotFound, msg
from gongzhi.kit import validation
from gongzhi.modules.intake import duplicates, routing
from gongzhi.modules.intake import repository as repo
from gongzhi.modules.intake.analytics import geocell, minhash
from gongzhi.modules.intake.analytics.text import clean
from gongzhi.modules.intake.models import IntakeApiKey, IntakeCategory, IntakeRequest, TrainingExample
from gongzhi.modules.intake.schemas import CategoryIn, RequestIn
from gongzhi.registry import Registry

STAFF = (Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR, Role.HANDLER)
TRIAGERS = (Role.ADMIN, Role.DISPATCHER)
SEES_CONTACTS = {Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR}
KEY_PREFIX = "o311_"


@dataclass(frozen=True)
class Submitted:
    request: IntakeRequest
    case: Case
    similar: list[duplicates.Similar]


def _audit(s: Session, region_id: int, action: str, obj: str, obj_id: Any, data: dict[str, Any]) -> None:
    sc = scope_of(s)
    audit.record(
        s,
        region_id=region_id,
        action=action,
        object_type=obj,
        object_id=obj_id,
        actor=sc.username,
        actor_user_id=sc.user_id,
        data=data,
    )


def acting_region(s: Session) -> int:
    sc = scope_of(s)
    if sc.region_id is None:
        raise InvalidInput(msg("a region is required"))
    return sc.region_id


# --- categories -------------------------------------------------------------------------------------


def seed_categories(s: Session, region_id: int) -> list[IntakeCategory]:
    """Install the shipped starter tree (and its departments) in a region that has no categories yet."""
    if repo.categories(s, region_id, active_only=False):
        return repo.categories(s, region_id)
    raw = resources.files("gongzhi.modules.intake").joinpath("data/seed_categories.json").read_text("utf-8")
    data = json.loads(raw)
    existing = [d for d in core.list_departments(s) if d.region_id == region_id]
    depts = {d.code: d.id for d in existing}
    by_name = {d.name: d.id for d in existing}
    for d in data["departments"]:
        if d["code"] in depts:
            continue
        if d["name"] in by_name:  # the region has this bureau under a code of its own: route to it
            depts[d["code"]] = by_name[d["name"]]
        else:
            dept = Department(region_id=region_id, code=d["code"], name=d["name"])
            s.add(dept)
            s.flush()
            depts[d["code"]] = dept.id
    for pos, c in enumerate(data["categories"]):
        s.add(
            IntakeCategory(
                region_id=region_id,
                code=c["code"],
                name=c["name"],
                name_en=c.get("name_en", ""),
                keywords=c["keywords"],
                department_id=depts.get(c["department"]),
                position=pos * 10,
            )
        )
    s.flush()
    _audit(s, region_id, "intake.categories.seed", "intake_category", "*", {"count": len(data["categories"])})
    return repo.categories(s, region_id)


def upsert_category(s: Session, data: CategoryIn) -> IntakeCategory:
    sc = scope_of(s)
    core.require_role(sc, Role.ADMIN)
    rid = acting_region(s)
    if data.parent_code is not None and repo.category(s, rid, data.parent_code) is None:
        raise NotFound(msg("no parent category %(parent_code)r", parent_code=data.parent_code))
    cat = repo.category(s, rid, data.code) or IntakeCategory(region_id=rid, code=data.code)
    for k, v in data.model_dump().items():
        setattr(cat, k, v)
    s.add(cat)
    s.flush()
    _audit(s, rid, "intake.category.put", "intake_category", cat.id, {"code": data.code, "name": data.name})
    return cat


# --- submission -------------------------------------------------------------------------------------


def request_in(**fields: Any) -> RequestIn:
    """A request from edge fields, refusing bad values as invalid input (a 400, not a 500)."""
    try:
        return RequestIn(**fields)
    except ValidationError as exc:
        raise InvalidInput(validation.field_problem(exc.errors()[0])) from exc


def reporter_key(secret: str, data: RequestIn) -> str | None:
    """A keyed hash of who reported (phone, e-mail, account or device) to count distinct reporters."""
    raw = data.reporter_phone or data.reporter_email.lower() or data.account_id or data.device_id
    if not raw.strip():
        return None
    return hmac.new(secret.encode(), raw.strip().encode(), hashlib.sha256).hexdigest()[:32]


def submit(
    s: Session,
    registry: Registry,
    data: RequestIn,
    *,
    region_id: int,
    channel: str,
    secret: str,
    api_key_id: int | None = None,
    import_id: int | None = None,
    now: datetime | None = None,
) -> Submitted:
    """Turn one request into a case: route it, look for near-duplicates, keep the intake record."""
    now = data.received_at or now or utcnow()
    subject, text = _subject_and_text(data)
    category, routed, triage = _route(s, region_id, data.service_code, subject, text)
    anonymous = data.anonymous
    location = None if data.lat is None or data.lon is None else _point(data.lon, data.lat)
    case = cases.create_case(
        s,
        registry,
        CaseCreate(
            title=subject,
            description=text,
            category=category.code,
            priority=data.priority,
            location=location,
            address=data.address[:300],
            reporter_name="" if anonymous else data.reporter_name,
            reporter_phone="" if anonymous else data.reporter_phone,
            reporter_anonymous=anonymous,
            source=f"intake:{channel}",
        ),
        region_id=region_id,
        now=now,
    )
    sig = minhash.signature(f"{subject} {text}")
    settings = repo.settings_of(s, region_id)
    similar = duplicates.find(
        s,
        region_id,
        sig,
        code=category.code,
        lat=data.lat,
        lon=data.lon,
        radius_m=settings.duplicate_radius_m,
        threshold=settings.duplicate_similarity,
        now=now,
    )
    likely = [x for x in similar if x.score >= settings.duplicate_similarity]
    req = IntakeRequest(
        region_id=region_id,
        case_id=case.id,
        channel=channel,
        external_id=data.external_id,
        token=secrets.token_hex(12),
        subject=subject,
        text=text,
        service_code=category.code,
        chosen_by="citizen" if data.service_code else "model",
        predicted_code=routed.code if routed else None,
        confidence=routed.confidence if routed else None,
        triage=triage,
        department_id=routed.department_id if triage != "citizen" and routed else category.department_id,
        lat=data.lat,
        lon=data.lon,
        geo_cell=None if data.lat is None or data.lon is None else geocell.cell(data.lat, data.lon),
        address_id=data.address_id,
        zipcode=data.zipcode,
        attributes=data.attributes,
        media_urls=data.media_urls,
        reporter_email="" if anonymous else data.reporter_email,
        reporter_key=None if anonymous and not data.device_id else reporter_key(secret, data),
        account_id=data.account_id,
        device_id=data.device_id,
        api_key_id=api_key_id,
        import_id=import_id,
        votes=data.votes,
        dislikes=data.dislikes,
        minhash=minhash.to_bytes(sig),
        duplicate_of_case_id=likely[0].case_id if likely else None,
        duplicate_score=likely[0].score if likely else None,
        created_at=now,
    )
    if req.department_id is None:
        req.department_id = category.department_id
    s.add(req)
    s.flush()
    _audit(
        s,
        region_id,
        "intake.submit",
        "intake_request",
        req.id,
        {"case_id": case.id, "channel": channel, "category": category.code, "triage": triage},
    )
    return Submitted(req, case, similar)


def _subject_and_text(data: RequestIn) -> tuple[str, str]:
    text = clean(data.description)
    subject = clean(data.subject) or text[:30]
    if not subject:
        raise InvalidInput(msg("a request needs a subject or a description"))
    return subject[:200], text


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def _route(
    s: Session, region_id: int, chosen: str | None, subject: str, text: str
) -> tuple[IntakeCategory, routing.Routed | None, str]:
    routed = routing.classify(s, region_id, subject, text)
    if chosen:
        cat = repo.category(s, region_id, chosen)
        if cat is None or not cat.active:
            raise NotFound(msg("no service %(chosen)r in this region", chosen=chosen))
        return cat, routed, "citizen"
    if routed is None:
        raise InvalidInput(msg("the region has no intake categories; choose a service_code"))
    cat = repo.category(s, region_id, routed.code)
    assert cat is not None
    threshold = repo.settings_of(s, region_id).confidence_threshold
    return cat, routed, "auto" if routed.confidence >= threshold else "pending"


def similar_to(
    s: Session,
    region_id: int,
    subject: str,
    text: str,
    *,
    code: str | None,
    lat: float | None,
    lon: float | None,
) -> list[duplicates.Similar]:
    settings = repo.settings_of(s, region_id)
    sig = minhash.signature(f"{clean(subject)} {clean(text)}")
    return duplicates.find(
        s,
        region_id,
        sig,
        code=code,
        lat=lat,
        lon=lon,
        radius_m=settings.duplicate_radius_m,
        threshold=settings.duplicate_similarity,
        now=utcnow(),
    )


# --- triage and merging -----------------------------------------------------------------------------


def get_request(s: Session, request_id: int) -> tuple[IntakeRequest, Case]:
    req = repo.request_by_id(s, request_id)
    if req is None:
        raise NotFound(msg("no intake request %(request_id)s", request_id=request_id))
    return req, cases.get_case(s, req.case_id)


def triage(
    s: Session, request_id: int, code: str, department_id: int | None = None, note: str = ""
) -> IntakeRequest:
    """A dispatcher confirms or corrects the category (and department); the label teaches the classifier."""
    sc = scope_of(s)
    core.require_role(sc, *TRIAGERS)
    req, case = get_request(s, request_id)
    cat = repo.category(s, req.region_id, code)
    if cat is None:
        raise NotFound(msg("no category %(code)r", code=code))
    before = req.service_code
    req.service_code, case.category = code, code
    req.department_id = department_id or cat.department_id
    req.triage = "confirmed" if code == req.predicted_code else "corrected"
    s.add(
        TrainingExample(
            region_id=req.region_id,
            request_id=req.id,
            subject=req.subject,
            text=req.text,
            category_code=code,
            source=req.triage,
            created_by=sc.user_id,
            created_at=utcnow(),
        )
    )
    cases.record_event(s, case, "recategorize", note, {"from": before, "to": code, "triage": req.triage})
    s.flush()
    return req


def merge(s: Session, registry: Registry, request_id: int, into_case_id: int, note: str = "") -> Case:
    """Merge a duplicate into the original case; the duplicate's reporter then follows the original."""
    core.require_role(scope_of(s), *TRIAGERS)
    _, case = get_request(s, request_id)
    if into_case_id == case.id:
        raise InvalidInput(msg("a request cannot be merged into itself"))
    cases.get_case(s, into_case_id)
    data = ActionIn(target_case_id=into_case_id, note=note or "重复反映，并入原工单")
    return cases.apply(s, registry, case.id, Action.MERGE, data)


def followed_case(s: Session, case: Case) -> Case:
    """The case a merged report follows (the end of its merge chain)."""
    seen = {case.id}
    while case.merged_into_id is not None and case.merged_into_id not in seen:
        nxt = s.get(Case, case.merged_into_id)
        if nxt is None:
            break
        seen.add(nxt.id)
        case = nxt
    return case


# --- Open311 api keys -------------------------------------------------------------------------------


def create_api_key(s: Session, name: str) -> tuple[IntakeApiKey, str]:
    core.require_role(scope_of(s), Role.ADMIN)
    rid = acting_region(s)
    prefix = secrets.token_hex(6)
    full = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    key = IntakeApiKey(region_id=rid, name=name, prefix=prefix, key_hash=hash_token(full))
    s.add(key)
    s.flush()
    _audit(s, rid, "intake.api_key.create", "intake_api_key", key.id, {"name": name})
    return key, full


def check_api_key(s: Session, full: str | None, region_id: int) -> IntakeApiKey:
    if not full:
        raise Forbidden(msg("api_key is required to post a service request"))
    body = full.removeprefix(KEY_PREFIX)
    prefix = body.partition("_")[0]
    key = repo.api_key_by_prefix(s, prefix) if full.startswith(KEY_PREFIX) else None
    if key is None or not tokens_equal(key.key_hash, hash_token(full)) or key.revoked_at is not None:
        raise Forbidden(msg("invalid api_key"))
    if key.region_id != region_id:
        raise Forbidden(msg("this api_key is not valid for this jurisdiction"))
    return key


def public_scope(region_id: int, who: str) -> Scope:
    return Scope(region_id=region_id, system=True, username=who)

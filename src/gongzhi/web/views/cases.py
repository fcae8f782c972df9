"""Cases: list with filters and saved views, a board by state, the case page with its actions, new cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import or_, select

from gongzhi.cases import api as cases_api
from gongzhi.cases import service as cases
from gongzhi.cases.models import Actor, Case
from gongzhi.cases.schemas import ActionIn, CaseCreate
from gongzhi.cases.statemachine import Action, State
from gongzhi.core import service as core
from gongzhi.core.deps import api_router
from gongzhi.core.models import Membership, Role, User
from gongzhi.errors import Forbidden, InvalidInput, msg
from gongzhi.kit.validation import DbInt, parse_id
from gongzhi.kit.workdays import SHANGHAI
from gongzhi.web import labels
from gongzhi.web.i18n import N_
from gongzhi.web.related import related
from gongzhi.web.shell import WRITERS, Console, ConsoleDep

router = api_router(include_in_schema=False)
PAGE_SIZE = 30
VIEWS_COOKIE = "gz_views"
BOARD = ("submitted", "accepted", "returned", "reopened", "dispatched", "claimed", "in_progress", "resolved")
BOARD_MORE = ("verified", "closed")
SORTS = {
    "-created_at": N_("Newest first"),
    "created_at": N_("Oldest first"),
    "resolve_due": N_("Resolve deadline"),
    "claim_due": N_("Claim deadline"),
    "-updated_at": N_("Recently changed"),
}
FILTER_KEYS = ("state", "category", "priority", "overdue", "q", "sort")
ORDER = (
    "accept",
    "dispatch",
    "claim",
    "start",
    "resolve",
    "verify",
    "decide_extension",
    "close",
    "follow_up",
)
SECONDARY = ("return", "request_extension", "reject", "merge", "comment")


# --- list and saved views ---------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    key: str
    name: str
    query: dict[str, Any]
    builtin: bool = True


def my_actor_ids(c: Console) -> list[int]:
    """The actors whose work the viewer handles: their own, or their department's."""
    stmt = select(Membership.department_id).where(Membership.user_id == c.me.user.id)
    dept = c.s.execute(stmt).scalar_one_or_none()
    who = (
        or_(Actor.user_id == c.me.user.id, Actor.department_id == dept)
        if dept
        else Actor.user_id == c.me.user.id
    )
    return list(c.s.execute(select(Actor.id).where(who)).scalars())


def builtin_views(c: Console) -> list[View]:
    views = []
    if c.me.role == Role.HANDLER:
        for actor_id in my_actor_ids(c)[:1]:
            mine = {"state": ["dispatched", "claimed", "in_progress"], "actor_id": actor_id}
            views.append(View("mine", c._("My queue"), mine))
    views += [
        View(
            "dispatch",
            c._("To accept or dispatch"),
            {"state": ["submitted", "accepted", "returned", "reopened"]},
        ),
        View("overdue", c._("Overdue"), {"overdue": "1"}),
        View("verify", c._("To verify"), {"state": ["resolved"]}),
        View("close", c._("To close"), {"state": ["verified"]}),
    ]
    return views


def saved_views(c: Console) -> list[View]:
    raw = c.request.cookies.get(VIEWS_COOKIE)
    data = c.st.signer.loads(raw, 10 * 365 * 24 * 3600) if raw else None
    items = data.get("views", []) if data else []
    return [View(f"u{i}", str(name)[:40], dict(q), builtin=False) for i, (name, q) in enumerate(items[:12])]


def _filter(q: dict[str, Any]) -> cases.CaseFilter:
    overdue = {"1": True, "0": False}.get(str(q.get("overdue", "")))
    actor = str(q.get("actor_id") or "")
    sort = str(q.get("sort") or "")
    return cases.CaseFilter(
        state=tuple(s for s in q.get("state", []) if s in labels.STATES),
        category=q.get("category") or None,
        priority=q.get("priority") if q.get("priority") in labels.PRIORITIES else None,
        actor_id=parse_id(actor),
        overdue=overdue,
        q=(q.get("q") or "").strip()[:100] or None,
        sort=sort if sort in SORTS else "-created_at",
    )


def _query_string(q: dict[str, Any]) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in q.items():
        for v in value if isinstance(value, list) else [value]:
            if v not in (None, ""):
                pairs.append((key, str(v)))
    return urlencode(pairs)


def _export_query(f: cases.CaseFilter) -> str:
    q: dict[str, Any] = {"state": list(f.state), "category": f.category, "priority": f.priority}
    q.update(actor_id=f.actor_id, q=f.q, sort=f.sort)
    if f.overdue is not None:
        q["overdue"] = "true" if f.overdue else "false"
    return _query_string(q)


@router.get("/cases")
def case_list(
    c: ConsoleDep,
    state: Annotated[list[str] | None, Query()] = None,
    category: Annotated[str, Query(max_length=60)] = "",
    priority: str = "",
    overdue: str = "",
    actor_id: str = "",
    q: Annotated[str, Query(max_length=100)] = "",
    sort: str = "-created_at",
    view: str = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    views = builtin_views(c) + saved_views(c)
    chosen = next((v for v in views if v.key == view), None)
    raw: dict[str, Any] = dict(chosen.query) if chosen else {}
    if not chosen:
        raw = {"state": state or [], "category": category, "priority": priority, "overdue": overdue}
        raw.update(actor_id=actor_id, q=q, sort=sort)
    f = _filter(raw)
    items, total = cases.list_cases(c.s, f, page, PAGE_SIZE)
    return c.page(
        "cases/list.html",
        items=[cases_api.case_read(c.s, c.me.scope, case) for case in items],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        f=f,
        views=views,
        view=view if chosen else "",
        sorts=SORTS,
        query=_query_string(raw),
        export_query=_export_query(f),
        categories=labels.CATEGORIES,
    )


@router.post("/cases/views")
def save_view(
    c: ConsoleDep, name: Annotated[str, Form(min_length=1, max_length=40)], query: Annotated[str, Form()] = ""
) -> Response:
    from urllib.parse import parse_qs

    parsed = parse_qs(query)
    q: dict[str, Any] = {
        k: (v if k == "state" else v[0]) for k, v in parsed.items() if k in (*FILTER_KEYS, "actor_id")
    }
    items = [[v.name, v.query] for v in saved_views(c) if v.name != name.strip()][-11:]
    items.append([name.strip(), q])
    response = c.done(f"/cases?view=u{len(items) - 1}", c._("View saved"))
    response.set_cookie(
        VIEWS_COOKIE,
        c.st.signer.dumps({"views": items}),
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
    )
    return response


@router.post("/cases/views/delete")
def delete_view(c: ConsoleDep, key: Annotated[str, Form()]) -> Response:
    items = [[v.name, v.query] for v in saved_views(c) if v.key != key]
    response = c.done("/cases", c._("View deleted"))
    response.set_cookie(
        VIEWS_COOKIE,
        c.st.signer.dumps({"views": items}),
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/cases/board")
def board(c: ConsoleDep, more: bool = False) -> Response:
    from gongzhi.cases import stats

    counts = stats.counts_by_state(c.s)
    columns = []
    for st in BOARD + (BOARD_MORE if more else ()):
        items, total = cases.list_cases(c.s, cases.CaseFilter(state=(st,), sort="-updated_at"), 1, 20)
        columns.append((st, [cases_api.case_read(c.s, c.me.scope, x) for x in items], counts.get(st, total)))
    return c.page("cases/board.html", columns=columns, more=more)


# --- new case ---------------------------------------------------------------------------------------


@router.get("/cases/new")
def new_case(c: ConsoleDep) -> Response:
    if not c.me.can(*WRITERS):  # not a form the role can send: the POST would answer 403
        raise Forbidden(msg("creating cases needs a handler, dispatcher, supervisor or admin role"))
    return c.page("cases/new.html", categories=labels.CATEGORIES, priorities=labels.PRIORITIES)


def _point(lon: str, lat: str) -> dict[str, Any] | None:
    if not lon.strip() and not lat.strip():
        return None
    try:
        return {"type": "Point", "coordinates": [float(lon), float(lat)]}
    except ValueError as exc:
        raise InvalidInput(msg("longitude and latitude must be numbers")) from exc


@router.post("/cases/new")
def create_case(
    c: ConsoleDep,
    title: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "normal",
    description: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
    lon: Annotated[str, Form()] = "",
    lat: Annotated[str, Form()] = "",
    reporter_name: Annotated[str, Form()] = "",
    reporter_phone: Annotated[str, Form()] = "",
    reporter_anonymous: Annotated[bool, Form()] = False,
    accept: Annotated[bool, Form()] = False,
) -> Response:
    fields = {
        "title": title.strip(),
        "category": category.strip(),
        "priority": priority,
        "description": description,
        "address": address,
        "location": _point(lon, lat),
        "reporter_name": reporter_name,
        "reporter_phone": reporter_phone,
        "reporter_anonymous": reporter_anonymous,
        "accept": accept,
    }
    case = cases.create_case(c.s, c.st.registry, _validated(c, CaseCreate, fields))
    c.s.flush()
    return c.done(f"/cases/{case.id}", c._("Case %(number)s created", number=case.number))


def _validated(c: Console, model: Any, fields: dict[str, Any]) -> Any:
    """The form's fields as ``model``, or an invalid input naming each field's problem in the console's
    language."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        msgs = "; ".join(labels.field_problem(c.lang, dict(e), request=False) for e in exc.errors())
        raise InvalidInput(msgs) from exc


# --- the case page ----------------------------------------------------------------------------------


def dispatch_targets(c: Console, case: Case) -> list[tuple[Actor, str]]:
    """Actors a dispatcher may choose: the case region's own, and those its pairs share."""
    own = select(Actor).where(Actor.active).order_by(Actor.id)
    out = [(a, "") for a in c.s.execute(own).scalars()]
    pairs = core.paired_region_ids(c.s, case.region_id)
    shared = select(Actor).where(Actor.active, Actor.shared_with_pairs, Actor.region_id.in_(pairs))
    regions = {r.id: r.name for r in core.visible_regions(c.s)}
    for a in c.s.execute(shared.order_by(Actor.id), execution_options={"unscoped": True}).scalars():
        out.append((a, regions.get(a.region_id, "")))
    return out


def merge_targets(c: Console, case: Case) -> list[Case]:
    live = (
        "submitted",
        "accepted",
        "dispatched",
        "claimed",
        "in_progress",
        "resolved",
        "verified",
        "returned",
    )
    stmt = select(Case).where(Case.region_id == case.region_id, Case.id != case.id, Case.state.in_(live))
    return list(c.s.execute(stmt.order_by(Case.id.desc()).limit(100)).scalars())


def _display_names(c: Console, user_ids: set[int]) -> dict[int, str]:
    """How the timeline names the people who acted: their display name, not their login."""
    stmt = select(User.id, User.display_name).where(User.id.in_(user_ids))
    return {uid: name for uid, name in c.s.execute(stmt).all() if name}


@router.get("/cases/{case_id:int}")
def case_detail(c: ConsoleDep, case_id: DbInt) -> Response:
    case = cases.get_case(c.s, case_id)
    read = cases_api.case_read(c.s, c.me.scope, case)
    acts = [
        a
        for a in read.actions
        if (a != Action.DECIDE_EXTENSION or case.extension_until is not None)
        and (a != Action.MERGE or merge_targets(c, case))
    ]
    files = cases.files_of(c.s, case_id)
    timeline = cases.timeline(c.s, case_id)
    return c.page(
        "cases/detail.html",
        case=case,
        r=read,
        actions=[a for a in ORDER if a in acts],
        more_actions=[a for a in SECONDARY if a in acts],
        timeline=timeline,
        people=_display_names(c, {e.actor_user_id for e in timeline if e.actor_user_id}),
        files=files,
        loose_files=[f for f in files if f.event_id is None],
        related=related("case", c.s, case),
        targets=dispatch_targets(c, case) if Action.DISPATCH in acts else [],
        suggested=cases.suggest_actor(c.s, case) if Action.DISPATCH in acts else None,
        merge_into=merge_targets(c, case) if Action.MERGE in acts else [],
        reasons=labels.RETURN_REASONS,
        actor=_actor_name(c, case.actor_id),
        can_upload=c.me.can(*WRITERS),
        now=datetime.now(SHANGHAI),
    )


def _actor_name(c: Console, actor_id: int | None) -> str:
    if actor_id is None:
        return ""
    stmt = select(Actor.name).where(Actor.id == actor_id)
    return c.s.execute(stmt, execution_options={"unscoped": True}).scalar_one_or_none() or ""


def _until(value: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=SHANGHAI)
    except ValueError as exc:
        raise InvalidInput(msg("the date and time are not valid")) from exc


def _choice(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def _store_photos(c: Console, case_id: int, photos: list[UploadFile]) -> list[str]:
    shas = []
    for photo in photos:
        if not photo.filename:
            continue
        data = photo.file.read(c.st.settings.max_upload_bytes + 1)
        stored = c.st.store.put(data, photo.content_type or "application/octet-stream", photo.filename)
        cases.add_file(c.s, case_id, stored.sha256, photo.filename, stored.content_type, stored.size)
        shas.append(stored.sha256)
    return shas


@router.post("/cases/{case_id:int}/act/{action}")
def act(
    c: ConsoleDep,
    case_id: DbInt,
    action: Action,
    version: Annotated[int | None, Form()] = None,
    note: Annotated[str, Form()] = "",
    actor_id: Annotated[str, Form()] = "",
    final: Annotated[bool, Form()] = False,
    reason: Annotated[str, Form()] = "",
    passed: Annotated[str, Form()] = "",
    satisfied: Annotated[str, Form()] = "",
    rating: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    approve: Annotated[str, Form()] = "",
    target_case_id: Annotated[str, Form()] = "",
    files: Annotated[list[str] | None, Form()] = None,
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    shas = _store_photos(c, case_id, photos or [])
    data = _validated(
        c,
        ActionIn,
        {
            "note": note,
            "actor_id": parse_id(actor_id),
            "final": final,
            "reason": reason or None,
            "passed": _choice(passed),
            "satisfied": _choice(satisfied),
            "rating": parse_id(rating),
            "until": _until(until),
            "approve": _choice(approve),
            "target_case_id": parse_id(target_case_id),
            "files": list(dict.fromkeys([*(files or []), *shas])),
        },
    )
    case = cases.apply(c.s, c.st.registry, case_id, action, data, if_match=version)
    c.s.flush()
    message = c._(labels.DONE[action.value])
    if State(case.state) in (State.MERGED,) and case.merged_into_id:
        return c.done(f"/cases/{case.merged_into_id}", message)
    return c.done(f"/cases/{case_id}", message)


@router.post("/cases/{case_id:int}/files")
def upload(
    c: ConsoleDep, case_id: DbInt, photos: Annotated[list[UploadFile] | None, File()] = None
) -> Response:
    shas = _store_photos(c, case_id, photos or [])
    if not shas:
        raise InvalidInput(msg("choose a file to upload"))
    return c.done(f"/cases/{case_id}", c._("Evidence uploaded"))

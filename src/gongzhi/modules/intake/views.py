"""Public, mobile-first pages: the request form and the status page of a tracking code (no personal data).

They speak the visitor's language (the console's ``gz_lang`` cookie; Chinese unless English was chosen). The
Open311 server keeps its own texts (``open311.STATUS_NOTES``, ``throttle.message``): they are an API's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.cases import service as cases
from gongzhi.cases.models import Case, CaseEvent
from gongzhi.cases.schemas import ActionIn
from gongzhi.cases.statemachine import Action
from gongzhi.core.deps import AppState, PublicSessionDep, StateDep, api_router, in_thread
from gongzhi.core.models import Region
from gongzhi.core.ratelimit import Verdict
from gongzhi.errors import DomainError, InvalidInput, NotFound, msg
from gongzhi.kit.filestore import FileRejected
from gongzhi.kit.workdays import SHANGHAI
from gongzhi.modules.intake import repository as repo
from gongzhi.modules.intake import service, throttle
from gongzhi.modules.intake.analytics.text import redact
from gongzhi.modules.intake.api import region_by_code, submit_public
from gongzhi.web import labels
from gongzhi.web.i18n import N_, Lang
from gongzhi.web.labels import label
from gongzhi.web.shell import lang_of, public_page, public_templates

router = api_router(include_in_schema=False)
templates = public_templates(Path(__file__).parent / "templates")
EVENT_LABELS = {
    "create": N_("Request received"),
    "accept": N_("Request accepted"),
    "dispatch": N_("Sent to the department in charge"),
    "claim": N_("Taken on by the department in charge"),
    "start": N_("Handling started"),
    "resolve": N_("Work done, awaiting verification"),
    "verify": N_("Result verified"),
    "close": N_("Request closed"),
    "follow_up": N_("Follow-up and rating"),
    "return": N_("Returned and sent again"),
    "reject": N_("Not accepted"),
    "merge": N_("Merged with the same request"),
    "merged_in": N_("The same request merged into this one"),
}
STATES = {  # what a resident is told of a case state (Open311 has its own ``status_notes``)
    "submitted": N_("Received and registered"),
    "accepted": N_("Accepted"),
    "rejected": N_("Not accepted"),
    "merged": N_("Merged with the same request"),
    "dispatched": N_("Sent to a department"),
    "claimed": N_("Taken on by a department"),
    "in_progress": N_("Being handled"),
    "resolved": N_("Reported done, awaiting verification"),
    "verified": N_("Verified"),
    "closed": N_("Closed"),
    "returned": N_("Being sent to another department"),
    "reopened": N_("Reopened for handling"),
}
PHOTO_REFUSED = {
    "too_large": N_("the photo is too large"),
    "empty": N_("the photo file is empty"),
    "unsupported_type": N_("only JPEG and PNG photos are accepted"),
    "type_mismatch": N_("the content of the photo does not match its file type"),
    "truncated": N_("the photo was cut off while uploading"),
    "corrupt": N_("the photo cannot be read"),
}
NO_DESCRIPTION = N_("Please describe the problem")
BAD_POINT = N_("The location is not valid: latitude and longitude must be decimal degrees")
# the form's fields: the most characters each takes (the form's ``maxlength``, from here) and its label. A
# longer value (from a client that ignores ``maxlength``) gets the form again, as typed, with the field named
LONGEST = {
    "subject": (200, N_("Title of your report")),
    "description": (4000, N_("Describe the problem")),
    "service_code": (60, N_("Kind of problem")),
    "lat": (20, N_("Location")),
    "lon": (20, N_("Location")),
    "address": (300, N_("Location")),
    "name": (100, N_("How should we address you")),
    "phone": (30, N_("Phone (for the follow-up call; never published)")),
}


def too_often(v: Verdict, lang: Lang) -> str:
    """The rate limit's refusal for a person at a web form (``throttle.message`` is the API's)."""
    if v.retry_after_s < 120:
        wait = lang.ngettext("%(num)s second", "%(num)s seconds", v.retry_after_s)
    else:
        wait = lang.ngettext("%(num)s minute", "%(num)s minutes", -(-v.retry_after_s // 60))
    return lang.gettext(N_("Too many submissions; please try again in %(wait)s"), wait=wait)


@router.get("/intake/{region}/", response_class=HTMLResponse)
def form(region: str, request: Request, s: PublicSessionDep) -> HTMLResponse:
    return _form(request, s, region)


def _form(
    request: Request,
    s: Session,
    region: str,
    limit: Verdict | None = None,
    error: DomainError | None = None,
    typed: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The form, empty or (refused by the rate limit or a bad value) filled with what the citizen typed."""
    reg = region_by_code(s, region)
    cats = [c for c in repo.categories(s, reg.id) if c.parent_code is None]
    lang = lang_of(request)
    notice = too_often(limit, lang) if limit else ""
    if error is not None:  # our own details are catalogue ids; others are shown as the service wrote them
        detail = labels.detail(lang, error.detail) if error.detail else ""
        notice = lang.gettext(N_("Not submitted; please correct and send again: %(detail)s"), detail=detail)
    states = {k: lang.gettext(v) for k, v in STATES.items()}
    ctx = {"region": reg, "categories": cats, "values": typed or {}, "notice": notice, "states": states}
    ctx["longest"] = {key: most for key, (most, _) in LONGEST.items()}  # the inputs' maxlength
    status, headers = (429, limit.headers) if limit else (error.status if error else 200, None)
    here = f"/intake/{reg.code}/"
    return public_page(templates, request, "form.html", ctx, here=here, status_code=status, headers=headers)


@router.post("/intake/{region}/report", response_model=None)
async def report(
    region: str,
    request: Request,
    s: PublicSessionDep,
    st: StateDep,
    limit: throttle.CitizenLimit,
    description: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    service_code: Annotated[str, Form()] = "",
    lat: Annotated[str, Form()] = "",
    lon: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    anonymous: Annotated[bool, Form()] = False,
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> RedirectResponse | HTMLResponse:
    typed: dict[str, Any] = {
        "subject": subject,
        "description": description,
        "service_code": service_code,
        "lat": lat,
    }
    typed |= {"lon": lon, "address": address, "name": name, "phone": phone, "anonymous": anonymous}
    if not limit.allowed:
        return await in_thread(s, lambda: _form(request, s, region, limit, typed=typed))
    try:
        code = await _submit(s, st, region, typed, photos or [])
    except (DomainError, FileRejected) as exc:  # in_thread rolled back: the form again, as typed
        error = exc if isinstance(exc, DomainError) else _photo_refused(exc, lang_of(request))
        return await in_thread(s, lambda: _form(request, s, region, error=error, typed=typed))
    return RedirectResponse(f"/intake/track/{code}?new=1", status_code=303)


def _photo_refused(exc: FileRejected, lang: Lang) -> InvalidInput:
    why = lang.gettext(PHOTO_REFUSED.get(exc.reason, str(exc)))
    return InvalidInput(lang.gettext(N_("Photo refused: %(why)s"), why=why))


async def _submit(
    s: Session, st: AppState, region: str, typed: dict[str, Any], photos: list[UploadFile]
) -> str:
    """File the request; returns its tracking code. Bad values raise :class:`DomainError`."""
    for key, (most, name) in LONGEST.items():
        if len(typed[key]) > most:
            problem = msg("takes at most %(max_length)s characters", max_length=most)
            raise InvalidInput(msg("%(field)s: %(problem)s", field=msg(name), problem=problem))
    if not typed["description"].strip():
        raise InvalidInput(NO_DESCRIPTION)
    lat, lon = typed["lat"], typed["lon"]
    try:
        point = (float(lat), float(lon)) if lat and lon else None
    except ValueError as exc:
        raise InvalidInput(BAD_POINT) from exc
    if point and not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
        raise InvalidInput(BAD_POINT)  # the schema would refuse it too, in its own (English) words
    data = service.request_in(
        subject=typed["subject"],
        description=typed["description"],
        service_code=typed["service_code"] or None,
        lat=point[0] if point else None,
        lon=point[1] if point else None,
        address=typed["address"],
        reporter_name=typed["name"],
        reporter_phone=typed["phone"],
        anonymous=typed["anonymous"],
    )
    files = [(await f.read(st.settings.max_upload_bytes + 1), f) for f in photos[:6] if f.filename]
    out = await in_thread(s, lambda: submit_public(s, st, region_by_code(s, region).id, data, files))
    return out.case.tracking_code


def _case(s: Session, code: str) -> Case:
    case = s.execute(select(Case).where(Case.tracking_code == code)).scalar_one_or_none()
    if case is None:
        raise NotFound(msg("no request with this tracking code"))
    return case


def _local(value: object) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if hasattr(value, "astimezone") else ""


def _category_name(s: Session, case: Case, lang: Lang) -> str:
    cat = repo.category(s, case.region_id, case.category)
    if cat is not None:
        return cat.name_en if lang.code == "en" and cat.name_en else cat.name
    return lang.gettext(label("category", case.category))  # a core category (road, pv_om, …)


@router.get("/intake/track/{code}", response_class=HTMLResponse)
def track(code: str, request: Request, s: PublicSessionDep, new: bool = False) -> HTMLResponse:
    case = _case(s, code)
    followed = service.followed_case(s, case)
    stmt = (
        select(CaseEvent.at, CaseEvent.action).where(CaseEvent.case_id == followed.id).order_by(CaseEvent.id)
    )
    lang = lang_of(request)
    events = [
        {"at": _local(at), "label": lang.gettext(EVENT_LABELS[a])}
        for at, a in s.execute(stmt).all()
        if a in EVENT_LABELS
    ]
    req = repo.request_of_case(s, case.id)
    similar = []
    if new and req is not None:
        similar = service.similar_to(
            s, case.region_id, req.subject, req.text, code=req.service_code, lat=req.lat, lon=req.lon
        )
        similar = [x for x in similar if x.case_id != case.id]
    ctx = {
        "region": s.get_one(Region, case.region_id),
        "case": case,
        "title": redact(case.title),
        "category": _category_name(s, case, lang),
        "state_label": lang.gettext(STATES[followed.state]) if followed.state in STATES else followed.state,
        "followed": followed if followed is not case else None,
        "created": _local(case.created_at),
        "events": events,
        "new": new,
        "similar": [{"number": x.number, "title": redact(x.title)} for x in similar],
        "can_rate": followed is case and case.state == "closed" and case.rating is None,
        "rated": case.state == "closed" and case.rating is not None,
    }
    here = f"/intake/track/{code}" + ("?new=1" if new else "")  # keep the tracking code's notice on switching
    return public_page(templates, request, "track.html", ctx, here=here)


@router.post("/intake/track/{code}/rate")
def rate(
    code: str,
    s: PublicSessionDep,
    st: StateDep,
    rating: Annotated[int, Form(ge=1, le=5)],
    satisfied: Annotated[bool, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    case = _case(s, code)
    s.info["scope"] = service.public_scope(case.region_id, "citizen")
    cases.apply(
        s, st.registry, case.id, Action.FOLLOW_UP, ActionIn(rating=rating, satisfied=satisfied, note=note)
    )
    return RedirectResponse(f"/intake/track/{code}", status_code=303)

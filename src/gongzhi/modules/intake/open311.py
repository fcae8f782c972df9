"""Open311 GeoReport v2 server under ``/open311/v2``: discovery, services, service definitions, requests,
tokens; XML and JSON; the specification's error format (never problem+json here).

``jurisdiction_id`` is the region's code. It may be left out only while a single region exists. Only POST
needs an ``api_key``. Internal case states collapse to open/closed with ``status_notes``; merged reports
follow the case they were merged into. Ids are strings (the case numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from gongzhi.cases.models import Case
from gongzhi.core.deps import PublicSessionDep, StateDep, api_router, in_thread
from gongzhi.core.models import Department, Region
from gongzhi.db import utcnow
from gongzhi.errors import DomainError
from gongzhi.modules.intake import repository as repo
from gongzhi.modules.intake import service, throttle
from gongzhi.modules.intake.analytics.text import redact
from gongzhi.modules.intake.io import open311 as doc
from gongzhi.modules.intake.models import IntakeCategory, IntakeRequest
from gongzhi.modules.intake.schemas import RequestIn

router = api_router(prefix="/open311/v2", tags=["open311"])
FORMATS = {"xml": doc.XML, "json": doc.JSON}
CLOSED = {"closed", "rejected"}
MAX_DESCRIPTION = 4000
MAX_RANGE = timedelta(days=90)
MAX_RESULTS = 1000
STATUS_NOTES = {
    "submitted": "已受理登记 received",
    "accepted": "已受理 accepted",
    "rejected": "不予受理 rejected",
    "dispatched": "已派单 dispatched",
    "claimed": "已签收 claimed",
    "in_progress": "办理中 in progress",
    "resolved": "已回单 resolved, awaiting verification",
    "verified": "已核查 verified",
    "closed": "已办结 closed",
    "returned": "退单重派中 being re-dispatched",
    "reopened": "已重新办理 reopened",
}


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _reply(fmt: str, body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, headers={"content-type": FORMATS.get(fmt, doc.JSON)})


def _error(fmt: str, status: int, description: str) -> Response:
    fmt = fmt if fmt in FORMATS else "json"
    return _reply(fmt, doc.errors([(status, description)], fmt), status)


def _guard(fmt: str, work: Callable[[], Response], s: Session | None = None) -> Response:
    """Run ``work`` and answer any failure in the specification's error format, writing nothing."""
    if fmt not in FORMATS:
        return _error("json", 404, f"unknown format {fmt!r}; use .xml or .json")
    try:
        return work()
    except (Open311Error, DomainError) as exc:
        if s is not None:
            s.rollback()
        if isinstance(exc, Open311Error):
            return _error(fmt, exc.status, exc.description)
        return _error(fmt, exc.status if exc.status in (403, 404) else 400, exc.detail)


def _out(fmt: str, root: str, items: Any, status: int = 200) -> Response:
    body = doc.to_xml(root, items) if fmt == "xml" else doc.to_json(items)
    return _reply(fmt, body, status)


def _jurisdiction(s: Session, params: Mapping[str, str]) -> Region:
    code = params.get("jurisdiction_id")
    if code:
        region = s.execute(select(Region).where(Region.code == code)).scalar_one_or_none()
        if region is None:
            raise Open311Error(404, f"unknown jurisdiction_id {code!r}")
        return region
    regions = s.execute(select(Region).limit(2)).scalars().all()
    if len(regions) != 1:
        raise Open311Error(400, "jurisdiction_id is required: this endpoint serves several jurisdictions")
    return regions[0]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds").replace("+00:00", "Z")


# --- discovery and services -------------------------------------------------------------------------


@router.get("/discovery.{fmt}")
def discovery(fmt: str, request: Request) -> Response:
    def work() -> Response:
        base = str(request.base_url).rstrip("/") + "/open311/v2"
        body = {
            "changeset": "2026-11-28T00:00:00Z",
            "contact": "12345 政务服务便民热线 / gongzhi",
            "key_service": "ask your district's data office (数据资源管理局) for an api_key",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": base,
                    "changeset": "2026-11-28T00:00:00Z",
                    "type": "production",
                    "formats": [doc.XML, doc.JSON],
                }
            ],
        }
        return _out(fmt, "discovery", body)

    return _guard(fmt, work)


def _service(c: IntakeCategory, groups: dict[str, str]) -> dict[str, Any]:
    return {
        "service_code": c.code,
        "service_name": c.name,
        "description": c.description or c.name_en or c.name,
        "metadata": bool(c.attributes),
        "type": "realtime",
        "keywords": ",".join(str(k) for k in c.keywords[:20]),
        "group": groups.get(c.parent_code or "", c.name),
    }


@router.get("/services.{fmt}")
def services(fmt: str, request: Request, s: PublicSessionDep) -> Response:
    def work() -> Response:
        region = _jurisdiction(s, request.query_params)
        cats = repo.categories(s, region.id)
        groups = {c.code: c.name for c in cats}
        return _out(fmt, "services", [_service(c, groups) for c in cats])

    return _guard(fmt, work)


@router.get("/services/{code}.{fmt}")
def service_definition(code: str, fmt: str, request: Request, s: PublicSessionDep) -> Response:
    def work() -> Response:
        region = _jurisdiction(s, request.query_params)
        cat = repo.category(s, region.id, code)
        if cat is None or not cat.active:
            raise Open311Error(404, f"unknown service_code {code!r}")
        attrs = [_attribute(a, i) for i, a in enumerate(cat.attributes, 1)]
        return _out(fmt, "service_definition", {"service_code": cat.code, "attributes": attrs})

    return _guard(fmt, work)


def _attribute(a: Mapping[str, Any], order: int) -> dict[str, Any]:
    return {
        "variable": bool(a.get("variable", True)),
        "code": str(a["code"]),
        "datatype": a.get("datatype", "string"),
        "required": bool(a.get("required", False)),
        "datatype_description": a.get("datatype_description", ""),
        "order": int(a.get("order", order)),
        "description": a.get("description", a["code"]),
        "values": [{"key": str(v["key"]), "name": v["name"]} for v in a.get("values", [])],
    }


# --- posting a request ------------------------------------------------------------------------------


@router.post("/requests.{fmt}")
async def post_request(
    fmt: str, request: Request, s: PublicSessionDep, st: StateDep, limit: throttle.Open311Limit
) -> Response:
    if not limit.allowed and fmt in FORMATS:
        response = _error(fmt, 429, f"too many requests; retry after {limit.retry_after_s} seconds")
        response.headers.update(limit.headers)
        return response
    form = await request.form()

    def work() -> Response:
        params = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        region = _jurisdiction(s, params)
        key = service.check_api_key(s, params.get("api_key"), region.id)
        s.info["scope"] = service.public_scope(region.id, f"open311:{key.name}"[:100])
        data = _request_in(s, region.id, form)
        out = service.submit(
            s,
            st.registry,
            data,
            region_id=region.id,
            channel="open311",
            secret=st.settings.secret_key,
            api_key_id=key.id,
        )
        notice = "感谢您的反映，我们将尽快处理。" + (
            "可能与已有诉求重复，工作人员将核实合并。" if out.similar else ""
        )
        body = [
            {
                "service_request_id": out.case.number,
                "token": out.request.token,
                "service_notice": notice,
            }
        ]
        if out.request.account_id:
            body[0]["account_id"] = out.request.account_id
        return _out(fmt, "service_requests", body, 201)

    return await in_thread(s, lambda: _guard(fmt, work, s))


def _request_in(s: Session, region_id: int, form: FormData) -> RequestIn:
    def get(k: str) -> str:
        return str(form.get(k) or "").strip()

    code = get("service_code")
    if not code:
        raise Open311Error(400, "service_code is required")
    cat = repo.category(s, region_id, code)
    if cat is None or not cat.active:
        raise Open311Error(404, f"unknown service_code {code!r}")
    lat, lon = _location(get("lat"), get("long"))
    if lat is None and not get("address_string") and not get("address_id"):
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    description = get("description")
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description is limited to {MAX_DESCRIPTION} characters")
    attributes = _attributes(form, cat)
    name = " ".join(x for x in (get("last_name"), get("first_name")) if x)
    try:
        return RequestIn(
            subject=description[:30] or cat.name,
            description=description,
            service_code=code,
            lat=lat,
            lon=lon,
            address=get("address_string"),
            address_id=get("address_id"),
            reporter_name=name,
            reporter_phone=get("phone"),
            reporter_email=get("email"),
            account_id=get("account_id"),
            device_id=get("device_id"),
            attributes=attributes,
            media_urls=[get("media_url")] if get("media_url") else [],
        )
    except ValueError as exc:
        raise Open311Error(400, f"invalid field: {exc}") from exc


def _location(lat: str, lon: str) -> tuple[float | None, float | None]:
    if not lat and not lon:
        return None, None
    try:
        la, lo = float(lat), float(lon)
    except ValueError as exc:
        raise Open311Error(400, "lat and long must both be decimal degrees (WGS84)") from exc
    if not (-90 <= la <= 90 and -180 <= lo <= 180):
        raise Open311Error(400, "lat/long outside WGS84 bounds")
    return la, lo


def _attributes(form: FormData, cat: IntakeCategory) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in form:
        if (key.startswith("attribute[") and key.endswith("]")) or key.endswith("][]"):
            code = key[len("attribute[") :].split("]", 1)[0]
            got = [str(v) for v in form.getlist(key)]
            values[code] = got if key.endswith("[]") else got[-1]
    for a in cat.attributes:
        code = str(a["code"])
        if a.get("required") and a.get("variable", True) and not values.get(code):
            raise Open311Error(400, f"attribute[{code}] is required for service {cat.code}")
        allowed = {str(v["key"]) for v in a.get("values", [])}
        given = values.get(code)
        chosen = given if isinstance(given, list) else [given] if given else []
        if allowed and any(v not in allowed for v in chosen):
            raise Open311Error(400, f"attribute[{code}] must be one of {', '.join(sorted(allowed))}")
    return values


# --- reading requests -------------------------------------------------------------------------------


def _status(case: Case) -> str:
    return "closed" if case.state in CLOSED else "open"


def _request_doc(
    s: Session, req: IntakeRequest, case: Case, names: dict[str, str], depts: dict[int, str]
) -> dict[str, Any]:
    followed = service.followed_case(s, case) if case.merged_into_id else case
    notes = STATUS_NOTES.get(followed.state, followed.state)
    if followed is not case:
        notes = f"与 {followed.number} 合并办理 merged into {followed.number}: {notes}"
    closed = _status(followed) == "closed"
    doc_ = {
        "service_request_id": case.number,
        "status": _status(followed),
        "status_notes": notes,
        "service_name": names.get(req.service_code, req.service_code),
        "service_code": req.service_code,
        "description": redact(req.text)[:MAX_DESCRIPTION],
        "agency_responsible": depts.get(req.department_id or 0, ""),
        "service_notice": "",
        "requested_datetime": _iso(case.created_at),
        "updated_datetime": _iso(
            followed.closed_at if closed and followed.closed_at else followed.updated_at
        ),
        "expected_datetime": _iso(followed.resolve_due),
        "address": case.address,
        "address_id": req.address_id,
        "zipcode": req.zipcode,
        "lat": req.lat,
        "long": req.lon,
        "media_url": req.media_urls[0] if req.media_urls else None,
    }
    return {k: v for k, v in doc_.items() if v is not None}  # Swagger 2.0 has no nullable: omit instead


def _lookups(s: Session, region_id: int) -> tuple[dict[str, str], dict[int, str]]:
    names = {c.code: c.name for c in repo.categories(s, region_id, active_only=False)}
    rows = s.execute(select(Department.id, Department.name).where(Department.region_id == region_id))
    return names, {i: n for i, n in rows.all()}


def _date(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a W3C datetime such as 2026-01-01T00:00:00Z") from exc
    if value.tzinfo is None:
        raise Open311Error(400, f"{name} needs a time zone (Z or ±HH:MM)")
    return value


def _filters(params: Mapping[str, str]) -> tuple[list[Any], int, int]:
    ids = [x.strip() for x in params.get("service_request_id", "").split(",") if x.strip()]
    page, size = _paging(params)
    if ids:
        return [Case.number.in_(ids[:MAX_RESULTS])], MAX_RESULTS, 0
    where: list[Any] = []
    codes = [x.strip() for x in params.get("service_code", "").split(",") if x.strip()]
    if codes:
        where.append(IntakeRequest.service_code.in_(codes))
    start, end = _date(params, "start_date"), _date(params, "end_date")
    if start and end and end - start > MAX_RANGE:
        raise Open311Error(400, "start_date and end_date may be at most 90 days apart")
    if start is None:
        start = (end or utcnow()) - MAX_RANGE
    where.append(Case.created_at >= start)
    if end is not None:
        where.append(Case.created_at <= end)
    statuses = {x.strip() for x in params.get("status", "").split(",") if x.strip()}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status must be open or closed")
    if statuses == {"open"}:
        where.append(Case.state.not_in(CLOSED))
    elif statuses == {"closed"}:
        where.append(Case.state.in_(CLOSED))
    return where, size, (page - 1) * size


def _paging(params: Mapping[str, str]) -> tuple[int, int]:
    try:
        page = int(params.get("page", "1"))
        size = int(params.get("page_size", str(MAX_RESULTS)))
    except ValueError as exc:
        raise Open311Error(400, "page and page_size must be whole numbers") from exc
    if page < 1 or not 1 <= size <= MAX_RESULTS:
        raise Open311Error(400, f"page must be ≥ 1 and page_size between 1 and {MAX_RESULTS}")
    return page, size


@router.get("/requests.{fmt}")
def get_requests(fmt: str, request: Request, s: PublicSessionDep) -> Response:
    def work() -> Response:
        params = dict(request.query_params)
        region = _jurisdiction(s, params)
        where, limit, offset = _filters(params)
        rows = repo.requests_with_cases(s, region.id, where, limit, offset)
        names, depts = _lookups(s, region.id)
        return _out(fmt, "service_requests", [_request_doc(s, r, c, names, depts) for r, c in rows])

    return _guard(fmt, work)


def _one(fmt: str, rid: str, request: Request, s: Session) -> Response:
    def work() -> Response:
        region = _jurisdiction(s, request.query_params)
        found = repo.request_with_case(s, region.id, rid)
        if found is None:
            raise Open311Error(404, f"unknown service_request_id {rid!r}")
        names, depts = _lookups(s, region.id)
        return _out(fmt, "service_requests", [_request_doc(s, *found, names, depts)])

    return _guard(fmt, work)


@router.get("/requests/{rid}.{fmt}")
def get_request(rid: str, fmt: str, request: Request, s: PublicSessionDep) -> Response:
    return _one(fmt, rid, request, s)


@router.get("/request/{rid}.{fmt}", include_in_schema=False)
def get_request_swagger_path(rid: str, fmt: str, request: Request, s: PublicSessionDep) -> Response:
    return _one(fmt, rid, request, s)


@router.get("/tokens/{token}.{fmt}")
def token(token: str, fmt: str, request: Request, s: PublicSessionDep) -> Response:
    def work() -> Response:
        region = _jurisdiction(s, request.query_params)
        found = repo.request_by_token(s, region.id, token)
        if found is None:
            raise Open311Error(404, "unknown token")
        return _out(fmt, "service_requests", [{"service_request_id": found[1].number, "token": token}])

    return _guard(fmt, work)

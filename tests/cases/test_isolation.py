"""Region isolation: an outsider walks every endpoint of the API and gets nothing of another region.

The walk enumerates the application's routes, so an endpoint added later is exercised as well: a route whose
path parameters or body this file does not know fails the walk until someone teaches it here. Routes under
``/public`` (tracking codes) and ``/auth`` (login) are not region-scoped and are tested on their own.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.cases.models import CalendarOverride
from gongzhi.cases.statemachine import Action
from gongzhi.core.models import AuditEntry, Membership, OutboxEvent
from gongzhi.db import Scope
from gongzhi.kit import geo
from tests.cases import _catalog_fixtures as catalog
from tests.cases import _intake_fixtures as intake
from tests.cases import _pv_fixtures as pv
from tests.cases._catalog_fixtures import CatalogA
from tests.cases._intake_fixtures import IntakeA
from tests.cases._pv_fixtures import PvA
from tests.conftest import Person, World

API = "/api/v1"
NOT_REGION_SCOPED = ("/public/", "/auth/")
POINT = {"type": "Point", "coordinates": [120.141, 30.312]}
HOLIDAY = "2031-05-06"
PROBLEM = "application/problem+json"
PARAM = re.compile(r"{(\w+)(?::\w+)?}")
INTAKE_PREFIXES = ("/intake/", "/village/")

# GET routes that name no object: they list (or describe) the caller's own region. Value: the id key of
# their items, to compare against the ids region A holds; None where there are no such items.
LISTS: dict[str, str | None] = {
    "/me": None,
    "/regions": None,
    "/pairings": None,
    "/departments": "id",
    "/grid-cells": "id",
    "/users": "user_id",
    "/tokens": "id",
    "/webhooks": "id",
    "/audit/verify": None,
    "/cases": "id",
    "/cases/export.{fmt}": None,
    "/alerts": "id",
    "/sla-policies": "id",
    "/actors": "id",
    "/dispatch-rules": "id",
    "/catalog/records": "id",
    "/catalog/export": None,
    "/catalog/rules": None,  # the built-in rule catalog, the same for every region
    "/catalog/rulesets": "id",
    "/catalog/audits": "id",
    "/catalog/duplicates": "id",
    "/catalog/cross-duplicates": "id",
    "/catalog/reuse/apps": "id",  # A's own app and the one its pair B publishes
    "/catalog/reuse/subscriptions": "id",
    "/catalog/reuse/ledger": "id",
    "/catalog/reuse/summary": None,
    "/catalog/library/documents": "id",
    "/catalog/library/search": None,  # searched for A's marker texts, see RegionA.queries()
    **intake.LISTS,  # citizen intake and village supervision
    **pv.LISTS,  # PV plants and inspections
}

# Writes that name no object and, sent by the outsider, create the outsider's own rows (the body reuses
# region A's natural keys, so an upsert that reached across regions would show). Value: the expected status.
OUTSIDER_CREATES: dict[tuple[str, str], int] = {
    ("POST", "/departments"): 201,
    ("PUT", "/grid-cells"): 200,
    ("POST", "/webhooks"): 201,
    ("POST", "/cases"): 201,
    ("POST", "/evidence"): 201,
    ("POST", "/alerts"): 201,  # 200 would mean it bumped region A's alert with the same dedup key
    ("PUT", "/sla-policies"): 200,
    ("PUT", "/calendar-overrides"): 200,
    ("POST", "/catalog/records"): 201,  # 409 would mean it saw region A's record with the same key
    ("POST", "/catalog/import"): 200,
    ("POST", "/catalog/rulesets"): 201,
    ("POST", "/catalog/audits"): 201,
    ("POST", "/catalog/duplicates/scan"): 200,
    ("POST", "/catalog/cross-duplicates/scan"): 200,
    ("POST", "/catalog/reuse/apps"): 201,  # 409 would mean it saw region A's app with the same slug
    ("POST", "/catalog/library/documents"): 201,
    **intake.OUTSIDER_CREATES,
    **pv.OUTSIDER_CREATES,
}


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # below /api/v1


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class Foreign:
    """A body for a create route that names one of region A's objects: the outsider must be refused."""

    body: Any
    statuses: tuple[int, ...] = (403, 404)


@dataclass(frozen=True)
class RegionA:
    """What region A's people built through the API; ``mark`` is in every name, title and code."""

    mark: str
    case_id: int
    case_number: str
    tracking_code: str
    sha256: str
    alert_id: int
    token_id: int
    token_prefix: str
    hook_id: int
    hook_secret: str
    department_id: int
    cell_id: int
    user_id: int
    actor_id: int
    rule_id: int
    catalog: CatalogA
    intake: IntakeA
    pv: PvA

    def substitutions(self) -> dict[str, list[str]]:
        return {
            **self.catalog.substitutions(),
            **self.intake.substitutions(),
            **self.pv.substitutions(),
            "case_id": [str(self.case_id)],
            "alert_id": [str(self.alert_id)],
            "token_id": [str(self.token_id)],
            "hook_id": [str(self.hook_id)],
            "rule_id": [str(self.rule_id)],
            "user_id": [str(self.user_id)],
            "sha256": [self.sha256],
            "fmt": ["csv", "xlsx"],
            "action": [a.value for a in Action],
        }

    def secrets(self, world: World) -> list[str]:
        people = [p for p in world.people.values() if p.region_id == world.a]
        return [
            self.mark,
            self.case_number,
            self.tracking_code,
            self.sha256,
            self.token_prefix,
            self.hook_secret,
            "13812345678",
            *(f'"{p.username}"' for p in people),
            *(f'"{p.username.title()}"' for p in people),
            *self.catalog.secrets(),
            *self.intake.secrets(),
        ]

    def queries(self) -> dict[str, list[str]]:
        """Query strings the walk sends with a GET route (default: none)."""
        return {**self.catalog.queries(self.mark), **self.intake.queries(), **self.pv.queries()}


# --- building region A and reading it back ----------------------------------------------------------


def jpeg(colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(buf, "JPEG")
    return buf.getvalue()


def ok(r: Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text}"
    return r.json() if r.content else None


def build_region_a(client: TestClient, world: World, factory: sessionmaker[Session]) -> RegionA:
    mark = f"secret-{uuid.uuid4().hex[:10]}"
    alice, bob, adam = world.alice.headers, world.bob.headers, world.adam.headers

    def post(path: str, body: dict[str, Any], who: dict[str, str], status: int = 201) -> Any:
        return ok(client.post(API + path, json=body, headers=who), status)

    def put(path: str, body: dict[str, Any]) -> Any:
        return ok(client.put(API + path, json=body, headers=adam))

    case = post(
        "/cases",
        {
            "title": f"{mark} 井盖缺失",
            "category": "road",
            "location": POINT,
            "reporter_name": "张伟",
            "reporter_phone": "13812345678",
            "accept": True,
        },
        alice,
    )
    post(f"/cases/{case['id']}/actions/dispatch", {"actor_id": world.roads_actor}, alice, 200)
    photo = {"file": ("before.jpg", jpeg(), "image/jpeg")}
    sha = ok(client.post(f"{API}/cases/{case['id']}/files", headers=bob, files=photo), 201)["sha256"]
    assert ok(client.post(f"{API}/evidence", headers=bob, files=photo), 201)["sha256"] == sha
    alert = {"kind": "manhole", "severity": "high", "title": mark, "source": "cam-7", "dedup_key": mark}
    alert_id = post("/alerts", {**alert, "location": POINT}, alice)["id"]
    token = post("/tokens", {"name": mark, "role": "dispatcher"}, alice)
    hook = post("/webhooks", {"url": f"https://hooks.example.org/{mark}", "topics": ["case."]}, adam)
    dept = post("/departments", {"code": mark, "name": mark}, adam)
    cell = put("/grid-cells", {"code": mark, "name": mark, "geometry": geo.square(120.3, 30.5, 0.01)})
    user = post(
        "/users",
        {
            "username": mark,
            "display_name": mark,
            "password": "a long password",
            "role": "handler",
            "department_id": dept["id"],
        },
        adam,
    )
    actor = post("/actors", {"kind": "department", "name": mark, "department_id": dept["id"]}, adam)
    rule = {"position": 5, "category": mark, "grid_cell_id": cell["id"], "actor_id": actor["id"]}
    rule_id = post("/dispatch-rules", rule, adam)["id"]
    sla = {
        "claim_amount": 2,
        "claim_unit": "working_hours",
        "resolve_amount": 1,
        "resolve_unit": "working_days",
    }
    put("/sla-policies", {"category": mark, **sla})
    put("/calendar-overrides", {"day": HOLIDAY, "is_workday": False, "note": mark})
    return RegionA(
        mark=mark,
        case_id=case["id"],
        case_number=case["number"],
        tracking_code=case["tracking_code"],
        sha256=sha,
        alert_id=alert_id,
        token_id=token["id"],
        token_prefix=token["prefix"],
        hook_id=hook["id"],
        hook_secret=hook["secret"],
        department_id=dept["id"],
        cell_id=cell["id"],
        user_id=user["user_id"],
        actor_id=actor["id"],
        rule_id=rule_id,
        catalog=catalog.build_catalog_a(client, world, factory, mark),
        intake=intake.build_intake_a(client, world, mark),
        pv=pv.build_pv_a(client, world, factory, mark),
    )


CASE_FIELDS = (
    "state",
    "version",
    "updated_at",
    "actor_id",
    "assignee_user_id",
    "handling_region_id",
    "title",
)


def snapshot(client: TestClient, world: World, a: RegionA, factory: sessionmaker[Session]) -> dict[str, Any]:
    """Region A as its own people see it, plus the rows only the database shows (audit, outbox, calendar)."""

    def get(path: str, who: Person = world.adam) -> Any:
        return ok(client.get(API + path, headers=who.headers))

    case = get(f"/cases/{a.case_id}", world.alice)
    seen: dict[str, Any] = {
        "case": {k: case[k] for k in CASE_FIELDS},
        "timeline": get(f"/cases/{a.case_id}/timeline", world.alice),
        "files": get(f"/cases/{a.case_id}/files", world.alice),
        "photo": client.get(f"{API}/cases/{a.case_id}/files/{a.sha256}", headers=world.alice.headers).content,
        "alert": get(f"/alerts/{a.alert_id}", world.alice),
        "tokens": [{k: v for k, v in t.items() if k != "last_used_at"} for t in get("/tokens")],
        "case_ids": [c["id"] for c in get("/cases")["items"]],
        "alert_ids": [x["id"] for x in get("/alerts")["items"]],
    }
    for path in ("/webhooks", "/departments", "/grid-cells", "/users", "/actors", "/dispatch-rules"):
        seen[path] = get(path)
    seen["/sla-policies"] = get("/sla-policies")
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        seen["audit_links"] = s.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.region_id == world.a)
        )
        seen["outbox"] = s.scalar(select(func.count(OutboxEvent.id)).where(OutboxEvent.region_id == world.a))
        days = select(CalendarOverride.day, CalendarOverride.is_workday, CalendarOverride.note)
        seen["calendar"] = s.execute(days.where(CalendarOverride.region_id == world.a)).all()
    seen["catalog"] = catalog.snapshot(client, world, a.catalog, factory)
    seen["intake"] = intake.snapshot(client, world, a.intake, factory)
    seen["pv"] = pv.snapshot(client, world, a.pv, factory)
    return seen


def ids_a_holds(client: TestClient, world: World) -> dict[str, set[Any]]:
    """The ids region A's admin sees on every list, to look for in the outsider's lists."""
    held: dict[str, set[Any]] = {}
    for template, key in LISTS.items():
        if key is None:
            continue
        body = ok(client.get(API + template, headers=world.adam.headers))
        held[template] = {item[key] for item in items_of(body)}
        assert held[template], f"region A should hold something on {template}"
    return held


# --- walking the routes -----------------------------------------------------------------------------


def api_routes(app: FastAPI) -> list[Route]:
    """Every method of every region-scoped API route, included routers flattened."""
    found: list[Route] = []
    for ctx in iter_route_contexts(app.routes):
        path = ctx.path or ""
        if not isinstance(ctx.original_route, APIRoute) or not path.startswith(API + "/"):
            continue
        template = path.removeprefix(API)
        if not template.startswith(NOT_REGION_SCOPED):
            found.extend(Route(m, template) for m in sorted(ctx.methods or ()))
    assert len(found) > 30, f"the route walk found only {found}; has the router layout changed?"
    return found


def expand(route: Route, values: dict[str, list[str]]) -> Iterator[tuple[str, dict[str, str]]]:
    names = PARAM.findall(route.template)
    unknown = [n for n in names if n not in values]
    if unknown:
        raise AssertionError(
            f"{route.method} {API}{route.template}: no substitution for {unknown}; add region A's ids "
            "for it to RegionA.substitutions() in tests/cases/test_isolation.py"
        )
    for combo in itertools.product(*(values[n] for n in names)):
        params = dict(zip(names, combo, strict=True))

        def value(m: re.Match[str], p: dict[str, str] = params) -> str:
            return p[m.group(1)]

        yield PARAM.sub(value, route.template), params


def action_bodies(a: RegionA, world: World) -> dict[Action, dict[str, Any]]:
    bodies: dict[Action, dict[str, Any]] = {
        Action.ACCEPT: {},
        Action.REJECT: {"note": "不属实"},
        Action.MERGE: {"target_case_id": a.case_id, "note": "重复"},
        Action.DISPATCH: {"actor_id": world.c_actor},
        Action.CLAIM: {},
        Action.RETURN: {"reason": "not_our_territory"},
        Action.START: {},
        Action.RESOLVE: {"note": "已处理", "files": [a.sha256]},
        Action.VERIFY: {"passed": True},
        Action.CLOSE: {},
        Action.FOLLOW_UP: {"rating": 5, "satisfied": True},
        Action.REQUEST_EXTENSION: {"until": "2031-01-01T00:00:00+08:00", "note": "需要更多时间"},
        Action.DECIDE_EXTENSION: {"approve": True},
        Action.COMMENT: {"note": "路过看看"},
    }
    missing = set(Action) - set(bodies)
    assert not missing, f"no body for the case actions {sorted(missing)}: add them to action_bodies()"
    return bodies


def write_bodies(a: RegionA, world: World) -> dict[tuple[str, str], list[Any]]:
    """Plausible bodies for every write, pointing at region A's objects wherever a body holds an id."""
    sla = {"claim_amount": 1, "claim_unit": "hours", "resolve_amount": 1, "resolve_unit": "hours"}
    user = {"display_name": "外人", "password": "a long password", "role": "handler"}
    return {
        **catalog.write_bodies(a.catalog, world, Foreign, Upload),
        **intake.write_bodies(a.intake, world, Foreign, Upload),
        **pv.write_bodies(a.pv, world, Foreign, Upload),
        ("POST", "/departments"): [{"code": a.mark, "name": "外人科"}],
        ("PUT", "/grid-cells"): [
            {"code": a.mark, "name": "外人网格", "geometry": geo.square(105.9, 32.3, 0.01)}
        ],
        ("POST", "/users"): [
            {**user, "username": f"x{uuid.uuid4().hex[:8]}", "department_id": a.department_id},
            {**user, "username": a.mark},  # enrolling region A's account
        ],
        ("PUT", "/users/{user_id}/role"): [{"role": "admin"}],
        ("POST", "/tokens"): [{"name": "outsider", "role": "viewer", "user_id": world.alice.user_id}],
        ("DELETE", "/tokens/{token_id}"): [None],
        ("POST", "/webhooks"): [{"url": "https://outsider.example.org/hook", "topics": ["case."]}],
        ("DELETE", "/webhooks/{hook_id}"): [None],
        ("POST", "/cases"): [{"title": "外人的工单", "category": "road"}],
        ("POST", "/cases/{case_id}/files"): [Upload("x.jpg", jpeg(), "image/jpeg")],
        ("POST", "/evidence"): [Upload("own.jpg", jpeg((10, 200, 10)), "image/jpeg")],
        ("POST", "/alerts"): [{"kind": "manhole", "title": "外人", "source": "cam", "dedup_key": a.mark}],
        ("POST", "/alerts/{alert_id}/acknowledge"): [None],
        ("POST", "/alerts/{alert_id}/dismiss"): [{"reason": "不是我的"}],
        ("POST", "/alerts/{alert_id}/merge"): [{"alert_ids": [a.alert_id]}],
        ("POST", "/alerts/convert"): [{"alert_ids": [a.alert_id], "category": "road"}],
        ("PUT", "/sla-policies"): [{"category": a.mark, **sla}],
        ("PUT", "/calendar-overrides"): [{"day": HOLIDAY, "is_workday": True, "note": "外人"}],
        ("POST", "/actors"): [
            {"kind": "department", "name": "外人", "department_id": a.department_id},
            {"kind": "person", "name": "外人", "user_id": world.alice.user_id},
        ],
        ("POST", "/dispatch-rules"): [
            {"category": "road", "actor_id": a.actor_id},
            {"category": "road", "actor_id": world.c_actor, "grid_cell_id": a.cell_id},
        ],
        ("DELETE", "/dispatch-rules/{rule_id}"): [None],
    }


@dataclass
class Request:
    route: Route
    url: str
    body: Any


def requests_for(routes: list[Route], a: RegionA, world: World) -> Iterator[Request]:
    """Every request of the walk; raises on a route this file cannot address."""
    bodies, actions, queries = write_bodies(a, world), action_bodies(a, world), a.queries()
    write_queries = a.intake.write_queries()
    for route in routes:
        for url, params in expand(route, a.substitutions()):
            if route.method == "GET":
                if route.template not in LISTS and not params:
                    raise AssertionError(f"GET {API}{route.template} names no object: add it to LISTS")
                yield from (Request(route, url + q, None) for q in queries.get(route.template, [""]))
            elif route.template == "/cases/{case_id}/actions/{action}":
                yield Request(route, url, actions[Action(params["action"])])
            else:
                key = (route.method, route.template)
                if key not in bodies:
                    raise AssertionError(f"{key}: no body for this write; add one to write_bodies()")
                url += write_queries.get(key, "")
                yield from (Request(route, url, b) for b in bodies[key])


def send(client: TestClient, req: Request, headers: dict[str, str]) -> Response:
    body = req.body.body if isinstance(req.body, Foreign) else req.body
    if isinstance(body, Upload):
        files = {"file": (body.filename, body.data, body.content_type)}
        r: Response = client.request(req.route.method, API + req.url, headers=headers, files=files)
    else:
        r = client.request(req.route.method, API + req.url, headers=headers, json=body)
    return r


# --- what the outsider may get back -----------------------------------------------------------------


def items_of(body: Any) -> list[Any]:
    items: list[Any] = body["items"] if isinstance(body, dict) and "items" in body else body
    return items


def region_ids(value: Any) -> Iterator[Any]:
    """Every value of a ``*region_id`` key anywhere in a JSON document."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith("region_id") and not isinstance(v, dict | list):
                yield v
            yield from region_ids(v)
    elif isinstance(value, list):
        for v in value:
            yield from region_ids(v)


def leaks(r: Response, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in r.text]


def refused(r: Response, secrets: list[str], statuses: tuple[int, ...] = (403, 404)) -> str | None:
    if r.status_code not in statuses:
        return f"answered {r.status_code}, not {'/'.join(map(str, statuses))}: {r.text[:300]}"
    if r.headers["content-type"] != PROBLEM:
        return f"answered {r.headers['content-type']}, not problem+json"
    found = leaks(r, secrets)
    return f"the refusal carries region A's data {found}" if found else None


def own_listing(
    r: Response, template: str, world: World, held: dict[str, set[Any]], secrets: list[str]
) -> str | None:
    if template in intake.MAY_BE_ABSENT and r.status_code == 404:
        return refused(r, secrets, (404,))
    if r.status_code != 200:
        return f"answered {r.status_code}, not 200: {r.text[:300]}"
    found = leaks(r, secrets)
    if found:
        return f"shows region A's data {found}"
    if template == "/cases/export.{fmt}":
        return _export_problem(r)
    if template == "/catalog/export":
        return catalog.listing_problem(template, r)
    if template.startswith(INTAKE_PREFIXES) and template.endswith((".xlsx", ".csv")):
        return intake.listing_problem(template, r, world, secrets)
    body = r.json()
    foreign = {rid for rid in region_ids(body) if rid not in (world.c, None)}
    if foreign:
        return f"shows rows of regions {foreign}"
    total = body.get("total", 0) if isinstance(body, dict) else 0
    if isinstance(total, int) and total != 0:  # the monthly statistics' total is a row: intake checks it
        return f"counts {total} rows for a region that has none"
    key = LISTS[template]
    mixed = {item[key] for item in items_of(body)} & held[template] if key else set()
    if mixed:
        return f"lists region A's ids {mixed}"
    if template == "/regions" and [x["id"] for x in body] != [world.c]:
        return f"shows regions {[x['id'] for x in body]} to an unpaired region"
    if template == "/pairings" and body:
        return f"shows pairings {body} to an unpaired region"
    if template.startswith("/catalog/"):
        return catalog.listing_problem(template, r)
    if template.startswith(INTAKE_PREFIXES):
        return intake.listing_problem(template, r, world, secrets)
    if template.startswith("/pv/"):
        return pv.listing_problem(template, r)
    return None


def _export_problem(r: Response) -> str | None:
    if r.headers["content-type"].startswith("text/csv"):
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    else:
        rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    return None if len(rows) == 1 else f"exports {len(rows) - 1} rows for a region that has no cases"


def own_creation(r: Response, expected: int, world: World) -> str | None:
    if r.status_code != expected:
        return f"answered {r.status_code}, not {expected}: {r.text[:300]}"
    foreign = {rid for rid in region_ids(r.json()) if rid not in (world.c, None)}
    return f"wrote into regions {foreign}" if foreign else None


# --- the tests --------------------------------------------------------------------------------------


def test_an_outsider_gets_nothing_of_another_region_from_any_endpoint(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    a = build_region_a(client, world, factory)
    before = snapshot(client, world, a, factory)
    held, secrets = ids_a_holds(client, world), a.secrets(world)
    routes = api_routes(client.app)  # type: ignore[arg-type]
    reads = [r for r in routes if r.method == "GET"]
    writes = [r for r in routes if r.method != "GET"]  # after the reads, so C's lists are still empty
    problems, walked = [], set()
    for req in requests_for(reads + writes, a, world):
        r = send(client, req, world.charlie.headers)
        key = (req.route.method, req.route.template)
        walked.add(key)
        if req.route.method == "GET" and req.route.template in LISTS:
            problem = own_listing(r, req.route.template, world, held, secrets)
        elif isinstance(req.body, Foreign):
            problem = refused(r, secrets, req.body.statuses)
        elif key in OUTSIDER_CREATES:
            problem = own_creation(r, OUTSIDER_CREATES[key], world)
            if problem is None and req.route.template.startswith("/catalog/"):
                problem = catalog.creation_problem(client, world.charlie, req.route.template, r)
            if problem is None and req.route.template.startswith(INTAKE_PREFIXES):
                problem = intake.creation_problem(req.route.template, r, secrets)
        else:
            problem = refused(r, secrets)
        if problem:
            problems.append(f"{req.route.method} {API}{req.url} {req.body!r:.120}: {problem}")
    assert not problems, "\n".join(problems)
    assert walked == {(r.method, r.template) for r in routes}
    assert snapshot(client, world, a, factory) == before


def test_a_viewer_cannot_write_anything(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    a = build_region_a(client, world, factory)
    before = snapshot(client, world, a, factory)
    writes = [r for r in api_routes(client.app) if r.method != "GET"]  # type: ignore[arg-type]
    problems = []
    for req in requests_for(writes, a, world):
        r = send(client, req, world.vera.headers)
        illegal = r.status_code == 409 and r.json()["type"] == "/problems/illegal-transition"
        harmless = r.status_code == 200 and (req.route.method, req.route.template) in intake.READ_ONLY_WRITES
        if (
            r.status_code != 403
            and not harmless
            and not (
                illegal and req.route.template.startswith(("/cases/{case_id}/actions", *intake.CASE_ACTIONS))
            )
        ):
            problems.append(f"{req.route.method} {API}{req.url}: {r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)
    assert snapshot(client, world, a, factory) == before


def _placeholder_region(world: World) -> RegionA:
    return RegionA(
        "x",
        1,
        "AA1",
        "t",
        "0" * 64,
        1,
        1,
        "p",
        1,
        "s",
        1,
        1,
        1,
        1,
        1,
        CatalogA.placeholder(world),
        IntakeA.placeholder(),
        PvA.placeholder(),
    )


def test_every_region_scoped_route_answers_401_problem_without_valid_credentials(
    client: TestClient, world: World
) -> None:
    anonymous: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer gzt_0123456789ab_forged-secret"},
        {"Authorization": "Bearer not-even-a-token"},
        {"Cookie": "gz_session=forged.cookie.value"},
    ]
    problems = []
    for req in requests_for(api_routes(client.app), _placeholder_region(world), world):  # type: ignore[arg-type]
        for headers in anonymous:
            r = send(client, req, headers)
            if r.status_code != 401 or r.headers["content-type"] != PROBLEM:
                problems.append(
                    f"{req.route.method} {API}{req.url} with {headers}: {r.status_code} {r.text[:200]}"
                )
            elif r.json()["type"] != "/problems/unauthenticated":
                problems.append(f"{req.route.method} {API}{req.url}: problem type {r.json()['type']}")
    assert not problems, "\n".join(problems)


def test_a_paired_region_sees_a_case_only_while_it_is_dispatched_to_its_shared_actor(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    a = build_region_a(client, world, factory)  # dispatched to A's own roads department
    shared = ok(
        client.post(
            f"{API}/cases", json={"title": "跨区协办", "category": "data"}, headers=world.alice.headers
        ),
        201,
    )
    act = f"{API}/cases/{shared['id']}/actions"
    ok(client.post(f"{act}/accept", json={}, headers=world.alice.headers))
    ok(client.post(f"{act}/dispatch", json={"actor_id": world.b_shared_actor}, headers=world.alice.headers))
    bella = world.bella.headers

    listed = ok(client.get(f"{API}/cases", headers=bella))
    assert [c["id"] for c in listed["items"]] == [shared["id"]] and listed["total"] == 1
    export = client.get(f"{API}/cases/export.csv", headers=bella).content.decode("utf-8-sig")
    assert shared["number"] in export and a.case_number not in export
    for path in ("", "/timeline", "/files", f"/files/{a.sha256}"):
        assert client.get(f"{API}/cases/{a.case_id}{path}", headers=bella).status_code == 404, path
    assert client.post(f"{API}/cases/{a.case_id}/actions/claim", json={}, headers=bella).status_code == 404
    assert ok(client.get(f"{API}/alerts", headers=bella))["total"] == 0
    assert client.get(f"{API}/alerts/{a.alert_id}", headers=bella).status_code == 404

    assert ok(client.get(f"{API}/cases/{shared['id']}", headers=bella))["handling_region_id"] == world.b
    ok(client.post(f"{act}/return", json={"reason": "not_our_territory"}, headers=bella))
    assert client.get(f"{API}/cases/{shared['id']}", headers=bella).status_code == 404
    assert ok(client.get(f"{API}/cases", headers=bella))["total"] == 0


def test_an_outsider_cannot_enrol_another_regions_account(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    body = {"username": "alice", "display_name": "冒名", "password": "a long password", "role": "admin"}
    r = client.post(f"{API}/users", json=body, headers=world.charlie.headers)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    assert '"Alice"' not in r.text and str(world.alice.user_id) not in r.text
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        ms = s.execute(select(Membership.region_id).where(Membership.user_id == world.alice.user_id))
        assert ms.scalars().all() == [world.a]


def test_an_outsider_cannot_point_its_configuration_at_another_regions_objects(
    client: TestClient, world: World
) -> None:
    charlie = world.charlie.headers
    roads_dept = next(
        d["id"]
        for d in ok(client.get(f"{API}/departments", headers=world.adam.headers))
        if d["code"] == "roads"
    )
    attempts = [
        ("POST", "/actors", {"kind": "department", "name": "借用", "department_id": roads_dept}),
        ("POST", "/actors", {"kind": "person", "name": "借用", "user_id": world.bob.user_id}),
        ("POST", "/dispatch-rules", {"category": "road", "actor_id": world.roads_actor}),
        (
            "POST",
            "/dispatch-rules",
            {"category": "road", "actor_id": world.c_actor, "grid_cell_id": world.cell_a},
        ),
        (
            "POST",
            "/users",
            {
                "username": "c-handler",
                "display_name": "丙",
                "password": "a long password",
                "role": "handler",
                "department_id": roads_dept,
            },
        ),
        ("PUT", f"/users/{world.charlie.user_id}/role", {"role": "admin", "department_id": roads_dept}),
    ]
    for method, path, body in attempts:
        r = client.request(method, API + path, json=body, headers=charlie)
        assert r.status_code == 404, (method, path, body, r.text)

"""Administration: regions and pairings, departments, grid cells, people, SLA matrix, dispatch, audit chain.

Writes go through the same functions as the API (the services enforce the admin role); supervisors may look.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, get_args

from fastapi import File, Form, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from gongzhi.cases import api as cases_api
from gongzhi.cases.models import Actor, DispatchRule, SlaPolicy
from gongzhi.cases.schemas import ActorIn, ActorKindIn, DispatchRuleIn, SlaPolicyIn
from gongzhi.core import api as core_api
from gongzhi.core import service as core
from gongzhi.core.deps import api_router
from gongzhi.core.models import Role
from gongzhi.core.schemas import DepartmentCreate, UserCreate
from gongzhi.errors import Forbidden, InvalidInput, msg
from gongzhi.kit.validation import DbInt, parse_id
from gongzhi.web import labels
from gongzhi.web.i18n import N_
from gongzhi.web.shell import Console, ConsoleDep
from gongzhi.web.views.cases import _validated

router = api_router(include_in_schema=False)
MAX_GEOJSON = 5 * 1024 * 1024
SECTIONS = (
    ("regions", N_("Regions and pairings")),
    ("departments", N_("Departments")),
    ("grid", N_("Grid cells")),
    ("users", N_("Users and roles")),
    ("sla", N_("SLA matrix")),
    ("dispatch", N_("Dispatch rules")),
    ("audit", N_("Audit chain")),
)


def _look(c: Console) -> None:
    if not c.me.can(Role.ADMIN, Role.SUPERVISOR):
        raise Forbidden(msg("administration is for admins and supervisors"))


def _page(c: Console, section: str, **extra: Any) -> Response:
    _look(c)
    return c.page(
        f"admin/{section}.html", section=section, sections=SECTIONS, is_admin=c.me.can(Role.ADMIN), **extra
    )


@router.get("/admin")
def admin_home(c: ConsoleDep) -> Response:
    _look(c)
    return RedirectResponse("/admin/regions", status_code=303)


@router.get("/admin/regions")
def regions(c: ConsoleDep) -> Response:
    names = {r.id: r for r in core.visible_regions(c.s)}
    pairings = core_api.pairings(c.s, c.me.scope)
    return _page(c, "regions", regions=list(names.values()), pairings=pairings, names=names)


@router.get("/admin/departments")
def departments(c: ConsoleDep) -> Response:
    return _page(c, "departments", departments=core.list_departments(c.s))


@router.post("/admin/departments")
def create_department(
    c: ConsoleDep,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    name_en: Annotated[str, Form()] = "",
) -> Response:
    body = _validated(
        c, DepartmentCreate, {"code": code.strip(), "name": name.strip(), "name_en": name_en.strip()}
    )
    core.create_department(c.s, body.code, body.name, body.name_en)
    return c.done("/admin/departments", c._("Department created"))


@router.get("/admin/grid")
def grid(c: ConsoleDep) -> Response:
    cells = core.list_grid_cells(c.s)
    features = [
        {
            "type": "Feature",
            "geometry": g.geometry,
            "properties": {"kind": "cell", "name": g.name, "code": g.code},
        }
        for g in cells
    ]
    region = c.me.region
    mapdata = {
        "type": "FeatureCollection",
        "features": features,
        "center": [region.center_lat, region.center_lon],
    }
    return _page(c, "grid", cells=cells, mapdata=mapdata)


def grid_features(document: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(code, name, geometry) of each feature of a GeoJSON FeatureCollection or Feature."""
    if not isinstance(document, dict):
        raise InvalidInput(msg("the file is not a GeoJSON object"))
    feats = document.get("features") if document.get("type") == "FeatureCollection" else [document]
    out = []
    for i, feat in enumerate(feats or []):
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            raise InvalidInput(msg("item %(n)s is not a GeoJSON Feature", n=i + 1))
        props = feat.get("properties") or {}
        code, name = str(props.get("code") or "").strip(), str(props.get("name") or "").strip()
        if not code or not name:
            raise InvalidInput(msg("feature %(n)s needs properties 'code' and 'name'", n=i + 1))
        out.append((code[:40], name[:100], feat.get("geometry") or {}))
    if not out:
        raise InvalidInput(msg("the file has no features"))
    return out


@router.post("/admin/grid")
def upload_grid(c: ConsoleDep, file: Annotated[UploadFile, File()]) -> Response:
    raw = file.file.read(MAX_GEOJSON + 1)
    if len(raw) > MAX_GEOJSON:
        raise InvalidInput(msg("the GeoJSON file is larger than 5 MB"))
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"the file is not valid GeoJSON: {exc}") from exc
    features = grid_features(document)
    for code, name, geometry in features:
        core.upsert_grid_cell(c.s, code, name, geometry)
    return c.done("/admin/grid", c._("%(n)s grid cells saved", n=len(features)))


@router.get("/admin/users")
def users(c: ConsoleDep) -> Response:
    depts = {d.id: d for d in core.list_departments(c.s)}
    return _page(c, "users", members=core.list_members(c.s), depts=depts, roles=labels.ROLES)


@router.post("/admin/users")
def create_user(
    c: ConsoleDep,
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    department_id: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
) -> Response:
    fields: dict[str, Any] = {"username": username.strip(), "display_name": display_name.strip()}
    fields["password"] = password
    fields.update(role=role, department_id=parse_id(department_id), phone=phone)
    body = _validated(c, UserCreate, fields)
    core.create_user(
        c.s, body.username, body.display_name, body.password, body.role, body.department_id, body.phone
    )
    return c.done("/admin/users", c._("User %(name)s added", name=body.username))


@router.post("/admin/users/{user_id:int}/role")
def set_role(
    c: ConsoleDep, user_id: DbInt, role: Annotated[str, Form()], department_id: Annotated[str, Form()] = ""
) -> Response:
    core.set_role(c.s, user_id, role, parse_id(department_id))
    return c.done("/admin/users", c._("Role changed"))


@router.get("/admin/sla")
def sla(c: ConsoleDep) -> Response:
    rows = c.s.execute(select(SlaPolicy).order_by(SlaPolicy.category, SlaPolicy.priority)).scalars()
    return _page(
        c,
        "sla",
        policies=list(rows),
        units=labels.SLA_UNITS,
        priorities=labels.PRIORITIES,
        categories=labels.CATEGORIES,
    )


@router.post("/admin/sla")
def put_sla(
    c: ConsoleDep,
    category: Annotated[str, Form()] = "*",
    priority: Annotated[str, Form()] = "*",
    claim_amount: Annotated[str, Form()] = "",
    claim_unit: Annotated[str, Form()] = "",
    resolve_amount: Annotated[str, Form()] = "",
    resolve_unit: Annotated[str, Form()] = "",
) -> Response:
    fields = {"category": category.strip() or "*", "priority": priority.strip() or "*"}
    fields.update(claim_amount=claim_amount, claim_unit=claim_unit)
    fields.update(resolve_amount=resolve_amount, resolve_unit=resolve_unit)
    cases_api.put_sla_policy(_validated(c, SlaPolicyIn, fields), c.s, c.me.scope)
    return c.done("/admin/sla", c._("SLA saved"))


@router.get("/admin/dispatch")
def dispatch(c: ConsoleDep) -> Response:
    actors = list(c.s.execute(select(Actor).order_by(Actor.id)).scalars())
    rules = c.s.execute(select(DispatchRule).order_by(DispatchRule.position, DispatchRule.id)).scalars()
    cells = {g.id: g for g in core.list_grid_cells(c.s)}
    return _page(
        c,
        "dispatch",
        actors=actors,
        names={a.id: a.name for a in actors},
        rules=list(rules),
        cells=cells,
        depts=core.list_departments(c.s),
        # robots and docks are registered on their plant's page, with the configuration they need
        kinds={k: labels.ACTOR_KINDS[k] for k in get_args(ActorKindIn)},
        categories=labels.CATEGORIES,
    )


@router.post("/admin/dispatch/rules")
def create_rule(
    c: ConsoleDep,
    actor_id: Annotated[str, Form()] = "",
    position: Annotated[str, Form()] = "100",
    category: Annotated[str, Form()] = "",
    grid_cell_id: Annotated[str, Form()] = "",
) -> Response:
    fields: dict[str, Any] = {"actor_id": actor_id, "position": position or "100"}
    fields["category"] = category.strip() or None
    fields["grid_cell_id"] = parse_id(grid_cell_id)
    cases_api.create_dispatch_rule(_validated(c, DispatchRuleIn, fields), c.s, c.me.scope)
    return c.done("/admin/dispatch", c._("Dispatch rule added"))


@router.post("/admin/dispatch/rules/{rule_id:int}/delete")
def delete_rule(c: ConsoleDep, rule_id: DbInt) -> Response:
    cases_api.delete_dispatch_rule(rule_id, c.s, c.me.scope)
    return c.done("/admin/dispatch", c._("Dispatch rule deleted"))


@router.post("/admin/dispatch/actors")
def create_actor(
    c: ConsoleDep,
    kind: Annotated[str, Form()] = "department",
    name: Annotated[str, Form()] = "",
    department_id: Annotated[str, Form()] = "",
    shared_with_pairs: Annotated[bool, Form()] = False,
) -> Response:
    fields: dict[str, Any] = {"kind": kind, "name": name.strip(), "shared_with_pairs": shared_with_pairs}
    fields["department_id"] = parse_id(department_id)
    cases_api.create_actor(_validated(c, ActorIn, fields), c.s, c.me.scope, c.st)
    return c.done("/admin/dispatch", c._("Actor added"))


@router.get("/admin/audit")
def audit_page(c: ConsoleDep) -> Response:
    _look(c)
    result = core_api.verify_audit(c.s, c.me.scope)
    return _page(c, "audit", result=result)

"""What a subscribed app does in the subscriber's region: each kind of reusable app becomes a working,
configured instance there, built from the template only (the publisher's rows and ids never travel).

- ``ruleset``: a rule set of the subscriber's catalog audit.
- ``dispatch_template``: dispatch rules of the subscriber's region, its own actors and grid cells found
  by code or name or an explicit mapping; re-applied idempotently on every accepted update.
- ``report_template``: the layout of the subscriber's audit reports (HTML, PDF, Excel).
- ``detector``: terms of the sensitive-data detector the subscriber's audits run.
- ``module_config``: any of the above in one bundle, plus an SLA matrix (``sla_matrix``: the cells it names
  are set in the subscriber's matrix and put back as they were when the subscription ends), checked
  completely before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gongzhi.cases.models import Actor, DispatchRule, SlaPolicy
from gongzhi.cases.schemas import SlaPolicyIn
from gongzhi.core.models import Department, GridCell
from gongzhi.errors import InvalidInput, msg
from gongzhi.modules.catalog import repository as repo
from gongzhi.modules.catalog.analytics import rules
from gongzhi.modules.catalog.io import report
from gongzhi.modules.catalog.models import CatalogRuleset, ReuseSubscription
from gongzhi.modules.catalog.schemas import (
    DetectorTemplate,
    DispatchTemplate,
    ModuleTemplate,
    ReportTemplate,
    RulesetTemplate,
    SlaMatrixTemplate,
)

PARTS: dict[str, type[BaseModel]] = {
    "ruleset": RulesetTemplate,
    "report_template": ReportTemplate,
    "dispatch_template": DispatchTemplate,
    "detector": DetectorTemplate,
    "sla_matrix": SlaMatrixTemplate,
}


def _model(cls: type[BaseModel], config: dict[str, Any], what: str) -> Any:
    try:
        return cls.model_validate(config)
    except ValidationError as exc:
        first = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or what}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidInput(f"invalid {what} configuration: {first}") from exc


def validate(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The configuration of an app of ``kind`` checked and normalised, or InvalidInput saying why."""
    if kind == "module_config":
        bundle = _model(ModuleTemplate, config, kind)
        parts = {k: v for k, v in bundle.model_dump(exclude_none=True).items()}
        if not parts:
            raise InvalidInput(
                msg("a module configuration bundles at least one of %(parts)s", parts=", ".join(PARTS))
            )
        return {k: validate(k, v) for k, v in parts.items()}
    out: dict[str, Any] = _model(PARTS[kind], config, kind).model_dump(exclude_none=True)
    if kind == "ruleset":
        try:
            rules.activate(out["rules"])
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
    if kind == "report_template":
        unknown = sorted(set(out["rules"]) - set(rules.RULES))
        if unknown:
            raise InvalidInput(
                msg("the report template names unknown rules: %(rules)s", rules=", ".join(unknown))
            )
    return out


def parts(kind: str, config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The configurations an instance holds, by kind (one, or several for a module configuration)."""
    if kind == "module_config":
        return {k: v for k, v in config.items() if k in PARTS and isinstance(v, dict)}
    return {kind: config}


# --- dispatch-rule templates ------------------------------------------------------------------------


def export_dispatch_rules(s: Session) -> dict[str, Any]:
    """The region's dispatch rules as a template: actors and grid cells by code and name, never by id."""
    rows = s.execute(select(DispatchRule).order_by(DispatchRule.position, DispatchRule.id)).scalars().all()
    if not rows:
        raise InvalidInput(msg("this region has no dispatch rules to publish"))
    actors = {a.id: a for a in s.execute(select(Actor)).scalars()}
    depts = {d.id: d for d in s.execute(select(Department)).scalars()}
    cells = {c.id: c for c in s.execute(select(GridCell)).scalars()}
    out = []
    for r in rows:
        actor = actors[r.actor_id]
        dept = depts.get(actor.department_id) if actor.department_id else None
        cell = cells.get(r.grid_cell_id) if r.grid_cell_id else None
        out.append(
            {
                "position": r.position,
                "category": r.category,
                "grid_cell": {"code": cell.code, "name": cell.name} if cell else None,
                "actor": {
                    "kind": actor.kind,
                    "name": actor.name,
                    "department_code": dept.code if dept else "",
                    "department_name": dept.name if dept else "",
                },
            }
        )
    return validate("dispatch_template", {"rules": out})


@dataclass(frozen=True)
class _Own:
    actors: list[Actor]
    departments: dict[int, Department]
    cells: list[GridCell]


def _resolve_actor(ref: dict[str, Any], own: _Own, mapping: dict[str, int]) -> Actor | None:
    key = ref.get("department_code") or ref["name"]
    by_id = {a.id: a for a in own.actors}
    if key in mapping:
        return by_id.get(mapping[key])
    code, dname = ref.get("department_code", ""), ref.get("department_name", "")
    kind = ref.get("kind", "department")
    candidates = [a for a in own.actors if a.kind == kind]

    def dept(a: Actor) -> Department | None:
        return own.departments.get(a.department_id) if a.department_id is not None else None

    tests: list[Callable[[Actor], bool]] = [
        lambda a: bool(code) and (d := dept(a)) is not None and d.code == code,
        lambda a: a.name == ref["name"],
        lambda a: bool(dname) and (d := dept(a)) is not None and d.name == dname,
    ]
    for match in tests:
        found = [a for a in candidates if match(a)]
        if len(found) == 1:
            return found[0]
    return None


def _resolve_cell(ref: dict[str, Any], own: _Own, mapping: dict[str, int]) -> GridCell | None:
    by_id = {c.id: c for c in own.cells}
    if ref["code"] in mapping:
        return by_id.get(mapping[ref["code"]])
    tests: list[Callable[[GridCell], bool]] = [
        lambda c: c.code == ref["code"],
        lambda c: bool(ref.get("name")) and c.name == ref["name"],
    ]
    for match in tests:
        found = [c for c in own.cells if match(c)]
        if len(found) == 1:
            return found[0]
    return None


def plan_dispatch(s: Session, template: dict[str, Any], mapping: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(position, category, grid cell id, actor id) for every template rule in the session's region, or
    InvalidInput listing every actor and grid cell that could not be mapped, with the key to map it by."""
    own = _Own(
        actors=[a for a in s.execute(select(Actor)).scalars() if a.active],
        departments={d.id: d for d in s.execute(select(Department)).scalars()},
        cells=list(s.execute(select(GridCell)).scalars()),
    )
    amap, cmap = dict(mapping.get("actors", {})), dict(mapping.get("grid_cells", {}))
    planned, missing = [], []
    for rule in template["rules"]:
        actor = _resolve_actor(rule["actor"], own, amap)
        cell = _resolve_cell(rule["grid_cell"], own, cmap) if rule.get("grid_cell") else None
        ref = rule["actor"]
        if actor is None:
            dept = f", department {ref['department_code']}" if ref.get("department_code") else ""
            missing.append(
                f"actor {ref['name']} ({ref.get('kind', 'department')}{dept}): map key {_key(ref)!r}"
            )
        if rule.get("grid_cell") and cell is None:
            g = rule["grid_cell"]
            missing.append(f"grid cell {g['code']} {g.get('name', '')}".rstrip() + f": map key {g['code']!r}")
        if actor is not None and (cell is not None or not rule.get("grid_cell")):
            planned.append((rule["position"], rule.get("category"), cell.id if cell else None, actor.id))
    if missing:
        unique = list(dict.fromkeys(missing))
        raise InvalidInput(
            msg(
                "the dispatch template cannot be mapped onto this region; give mapping.actors / "
                "mapping.grid_cells for: %(missing)s",
                missing="; ".join(unique),
            ),
            unmapped=unique,
        )
    return planned


def _key(ref: dict[str, Any]) -> str:
    return str(ref.get("department_code") or ref["name"])


def _sync_dispatch(s: Session, sub: ReuseSubscription, planned: list[tuple[Any, ...]]) -> list[int]:
    """Make the subscription's dispatch rules exactly ``planned``; unchanged rules keep their rows."""
    ids = list(sub.instance.get("dispatch_rule_ids", []))
    current = list(s.execute(select(DispatchRule).where(DispatchRule.id.in_(ids))).scalars()) if ids else []
    have = sorted((r.position, r.category, r.grid_cell_id, r.actor_id) for r in current)
    if have == sorted(planned, key=_sort_key) and len(current) == len(ids):
        return [r.id for r in current]
    if current:
        s.execute(delete(DispatchRule).where(DispatchRule.id.in_([r.id for r in current])))
    rows = [
        DispatchRule(region_id=sub.region_id, position=p, category=c, grid_cell_id=g, actor_id=a)
        for p, c, g, a in planned
    ]
    s.add_all(rows)
    s.flush()
    return [r.id for r in rows]


def _sort_key(t: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple("" if v is None else v for v in t)


# --- building and rebuilding an instance --------------------------------------------------------------


def apply(s: Session, sub: ReuseSubscription, ruleset_name: str) -> None:
    """(Re)build the subscriber's instance from ``sub.config``: everything is checked before any write,
    so a bundle is applied whole or not at all."""
    held = parts(sub.kind, sub.config)
    checked = {k: validate(k, v) for k, v in held.items()}
    planned = (
        plan_dispatch(s, checked["dispatch_template"], sub.mapping)
        if "dispatch_template" in checked
        else None
    )
    instance = dict(sub.instance)
    if "ruleset" in checked:
        rs = repo.ruleset_of_subscription(s, sub.id)
        if rs is None:
            rs = CatalogRuleset(region_id=sub.region_id, name=ruleset_name[:200], subscription_id=sub.id)
            s.add(rs)
        rs.rules = dict(checked["ruleset"]["rules"])
        rs.description = str(checked["ruleset"].get("description", ""))
        s.flush()
        instance["ruleset_id"] = rs.id
    if planned is not None:
        instance["dispatch_rule_ids"] = _sync_dispatch(s, sub, planned)
    instance["sla_before"] = _sync_sla(
        s,
        sub.region_id,
        checked.get("sla_matrix", {}).get("policies", []),
        dict(sub.instance.get("sla_before", {})),
    )
    if not instance["sla_before"]:
        del instance["sla_before"]
    sub.instance = instance
    s.flush()


def dismantle(s: Session, sub: ReuseSubscription) -> None:
    """Remove what an ended subscription put into the region's dispatch and SLA matrix; its rule set
    stays the region's."""
    ids = list(sub.instance.get("dispatch_rule_ids", []))
    if ids:
        s.execute(delete(DispatchRule).where(DispatchRule.id.in_(ids)))
    _sync_sla(s, sub.region_id, [], dict(sub.instance.get("sla_before", {})))
    sub.instance = {k: v for k, v in sub.instance.items() if k not in ("dispatch_rule_ids", "sla_before")}


SLA_FIELDS = tuple(SlaPolicyIn.model_fields)


def _cell(category: str, priority: str) -> str:
    return f"{category}|{priority}"


def _sync_sla(
    s: Session, region_id: int, policies: list[dict[str, Any]], before: dict[str, Any]
) -> dict[str, Any]:
    """Set the region's SLA cells to ``policies``; put back cells set earlier that the template no longer
    names. ``before`` holds each touched cell's own value (None: it did not exist); returns it updated."""
    rows = {_cell(p.category, p.priority): p for p in s.execute(select(SlaPolicy)).scalars()}
    wanted = {_cell(p["category"], p["priority"]): p for p in policies}
    for key, old in list(before.items()):
        if key in wanted:
            continue
        row = rows.get(key)
        if old is None and row is not None:
            s.delete(row)
        elif old is not None:
            row = row or SlaPolicy(region_id=region_id)
            for k, v in old.items():
                setattr(row, k, v)
            s.add(row)
        del before[key]
    for key, values in wanted.items():
        row = rows.get(key)
        if key not in before:
            before[key] = {k: getattr(row, k) for k in SLA_FIELDS} if row is not None else None
        row = row or SlaPolicy(region_id=region_id)
        for k in SLA_FIELDS:
            setattr(row, k, values[k])
        s.add(row)
    s.flush()
    return before


# --- what the region's own work reads from its instances ----------------------------------------------


def _active(s: Session, part: str) -> list[tuple[ReuseSubscription, dict[str, Any]]]:
    out = []
    for sub in repo.subscriptions(s):
        held = parts(sub.kind, sub.config) if sub.active else {}
        if part in held:
            out.append((sub, held[part]))
    return out


def report_layout(s: Session, subscription_id: int | None = None) -> report.Layout:
    """The layout of the region's audit reports: the given report-template instance, else the most
    recently subscribed one, else the built-in layout."""
    found = _active(s, "report_template")
    if subscription_id is not None:
        found = [(sub, c) for sub, c in found if sub.id == subscription_id]
        if not found:
            raise InvalidInput(
                msg(
                    "subscription %(subscription_id)s is no report template of this region",
                    subscription_id=subscription_id,
                )
            )
    if not found:
        return report.DEFAULT
    conf = validate("report_template", found[-1][1])
    return report.Layout(
        title=conf["title"],
        subtitle=conf["subtitle"],
        sections=tuple(conf["sections"]),
        columns=tuple(conf["columns"]),
        rules=tuple(conf["rules"]),
        footer=conf["footer"],
    )


def detector_params(s: Session) -> dict[str, Any]:
    """Parameters the region's detector instances add to the sensitive-data rule."""
    extra: list[str] = []
    ignore: list[str] = []
    scan: bool | None = None
    for _, conf in _active(s, "detector"):
        extra += [str(t) for t in conf.get("terms", [])]
        ignore += [str(t) for t in conf.get("ignore", [])]
        if conf.get("scan_summary") is not None:
            scan = bool(conf["scan_summary"])
    out: dict[str, Any] = {}
    if extra:
        out["extra_terms"] = sorted(set(extra))
    if ignore:
        out["ignore_terms"] = sorted(set(ignore))
    if scan is not None:
        out["scan_summary"] = scan
    return out

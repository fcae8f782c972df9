"""The PV closed loop after an inspection: confirmed findings become cases, a re-inspection closes them, and
the plant page measures how long each step took.

- :func:`confirm_inspection`: the operator's accepted (or reclassified) findings become cases — cleaning for
  soiling (one per robot, sent over MQTT; rows no robot serves get one case for the cleaning crew), repair
  for electrical faults (one per module, but one per string for an offline string: the crew checks the
  string's fuse and connectors once, not each module), vegetation and shading for the site team — with
  the SLA of their category (class group) and priority (severity and class of abnormality). A finding
  becomes a case once.
- :func:`verify_cleaning`: after the robot reports done, a short re-inspection of the cleaned rows is
  compared with the inspection that found the soiling; the case is verified and closed when the soiling
  index fell enough and no module got hotter, and goes back to work (verification failed) otherwise. A
  dock re-inspection does it on landing (:func:`verify_reinspection`, once per case and re-inspection);
  the operator may overrule it with a reason (:func:`override_verification`). A robot cleaning sent back
  for soiling goes to its robot again once by itself (:data:`AUTO_RECLEANS`), then on the operator's
  click (:func:`reclean`, optionally wet after a dry pass).
- :func:`loop_metrics`: take-off → report, detection → dispatch, dispatch → cleaned, cleaned → closed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongzhi.cases import service as cases
from gongzhi.cases.models import Actor, Case, CaseEvent, SlaPolicy
from gongzhi.cases.schemas import ActionIn, CaseCreate
from gongzhi.cases.statemachine import Action, State
from gongzhi.core import outbox
from gongzhi.core.models import Role
from gongzhi.core.service import require_role
from gongzhi.db import HOUR_FORMAT, hour_of, scope_of, utcnow
from gongzhi.errors import InvalidInput, NotFound, msg
from gongzhi.modules.pv import cleaning, names, production, service
from gongzhi.modules.pv.analytics import soiling
from gongzhi.modules.pv.analytics.anomalies import Anomaly
from gongzhi.modules.pv.analytics.flightplan import FlightPlan
from gongzhi.modules.pv.analytics.layout import rows_outline
from gongzhi.modules.pv.analytics.production import IndexCalibration
from gongzhi.modules.pv.io import robot_protocol as proto
from gongzhi.modules.pv.models import (
    PvCleaningOrder,
    PvFinding,
    PvInspection,
    PvModule,
    PvModuleResult,
    PvPlant,
    PvProductionSample,
)
from gongzhi.registry import Registry

CLEANING, REPAIR, VEGETATION, SHADING = "pv.cleaning", "pv.repair", "pv.vegetation", "pv.shading"
CONFIRMERS = (Role.ADMIN, Role.DISPATCHER)
CHECKERS = (Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR)

# SLA per category × priority: (claim amount, unit, resolve amount, unit). Safety-relevant faults (CoA 3:
# fire risk at a diode or solder bond) are claimed within 2 hours and made safe within a day; cleaning waits
# for a dry-weather window of a day or two. Regions override any cell in their SLA matrix.
DEFAULT_SLA: dict[tuple[str, str], tuple[float, str, float, str]] = {
    (REPAIR, "urgent"): (2, "hours", 24, "hours"),
    (REPAIR, "high"): (4, "hours", 72, "hours"),
    (REPAIR, "normal"): (1, "working_days", 10, "working_days"),
    (CLEANING, "high"): (2, "hours", 24, "hours"),
    (CLEANING, "normal"): (4, "hours", 48, "hours"),
    (VEGETATION, "normal"): (1, "working_days", 5, "working_days"),
    (SHADING, "normal"): (1, "working_days", 10, "working_days"),
}


def case_kind(anomaly: str) -> str:
    """The case category of an anomaly class."""
    a = Anomaly(anomaly)
    if a is Anomaly.SOILING:
        return CLEANING
    if a is Anomaly.VEGETATION:
        return VEGETATION
    if a is Anomaly.SHADING:
        return SHADING
    return REPAIR


def case_priority(category: str, severity: str, coa: int) -> str:
    """urgent for safety-relevant faults (CoA 3), high for S2/S3, else normal; cleaning is high from S2."""
    if category == REPAIR:
        if coa >= 3:
            return "urgent"
        return "high" if severity in ("S2", "S3") else "normal"
    if category == CLEANING:
        return "high" if severity in ("S2", "S3") else "normal"
    return "normal"


def ensure_sla(s: Session, region_id: int) -> int:
    """Add the PV cells of :data:`DEFAULT_SLA` missing from the region's SLA matrix; returns how many."""
    have = {
        (p.category, p.priority)
        for p in s.execute(select(SlaPolicy).where(SlaPolicy.category.like("pv.%"))).scalars()
        if p.region_id == region_id
    }
    added = 0
    for (category, priority), (ca, cu, ra, ru) in DEFAULT_SLA.items():
        if (category, priority) not in have:
            s.add(
                SlaPolicy(
                    region_id=region_id,
                    category=category,
                    priority=priority,
                    claim_amount=ca,
                    claim_unit=cu,
                    resolve_amount=ra,
                    resolve_unit=ru,
                )
            )
            added += 1
    return added


@dataclass
class Confirmation:
    cleaning_cases: list[int] = field(default_factory=list)
    repair_cases: list[int] = field(default_factory=list)
    other_cases: list[int] = field(default_factory=list)
    findings: int = 0
    unreviewed: int = 0
    already: int = 0

    @property
    def cases(self) -> list[int]:
        return [*self.cleaning_cases, *self.repair_cases, *self.other_cases]


def confirm_inspection(
    s: Session,
    registry: Registry,
    inspection_id: int,
    *,
    mode: str = "dry",
    window: tuple[dt.datetime, dt.datetime] | None = None,
) -> Confirmation:
    """Turn the inspection's accepted and reclassified findings into cases (see the module docstring)."""
    sc = scope_of(s)
    require_role(sc, *CONFIRMERS)
    insp = s.execute(select(PvInspection).where(PvInspection.id == inspection_id)).scalar_one_or_none()
    if insp is None:
        raise NotFound(msg("no inspection %(inspection_id)s", inspection_id=inspection_id))
    if insp.status != "done":
        raise InvalidInput(
            msg(
                "inspection %(inspection_id)s is %(inspection_status)s; confirm it once its analysis is done",
                inspection_id=inspection_id,
                inspection_status=insp.status,
            )
        )
    plant = s.get_one(PvPlant, insp.plant_id)
    ensure_sla(s, plant.region_id)
    found = s.execute(select(PvFinding).where(PvFinding.inspection_id == inspection_id)).scalars().all()
    out = Confirmation(unreviewed=sum(f.status == "new" for f in found))
    todo = [f for f in found if f.status in ("accepted", "reclassified")]
    out.already = sum(f.case_id is not None for f in todo)
    todo = [f for f in todo if f.case_id is None]
    out.findings = len(todo)
    soiled = [f for f in todo if case_kind(service.effective_class(f)) == CLEANING]
    _confirm_cleaning(s, registry, plant, insp, soiled, mode, window, out)
    rest = [f for f in todo if f not in soiled]
    strings = service.offline_strings(s, plant.id, rest)
    for members in strings.values():
        out.repair_cases.append(_string_case(s, registry, plant, members).id)
    grouped = {f.id for members in strings.values() for f in members}
    for f in rest:
        if f.id in grouped:
            continue
        category = case_kind(service.effective_class(f))
        case = _finding_case(s, registry, plant, f, category)
        (out.repair_cases if category == REPAIR else out.other_cases).append(case.id)
    return out


def _confirm_cleaning(
    s: Session,
    registry: Registry,
    plant: PvPlant,
    insp: PvInspection,
    soiled: Sequence[PvFinding],
    mode: str,
    window: tuple[dt.datetime, dt.datetime] | None,
    out: Confirmation,
) -> None:
    if not soiled:
        return
    served = {row for r in cleaning.robots_of(s, plant.id) for row in r.config.get("rows", {})}
    by_robot = [f for f in soiled if cleaning.row_of(f.module_id) in served]
    manual = [f for f in soiled if f not in by_robot]
    sev = max((f.severity for f in soiled), default="S1")
    priority = case_priority(CLEANING, sev, max(f.coa for f in soiled))
    if by_robot:
        made = cleaning.create_cleaning_cases(
            s,
            registry,
            plant,
            [f.module_id for f in by_robot],
            mode=mode,
            window=window,
            priority=priority,
            confirmed_by=scope_of(s).user_id,
            note=f"inspection {insp.id}: {len(by_robot)} soiled modules",
        )
        for case, order in made:
            order.inspection_id = insp.id
            for f in by_robot:
                if f.module_id in order.modules:
                    f.case_id = case.id
            out.cleaning_cases.append(case.id)
    if manual:
        rows = sorted({cleaning.row_of(f.module_id) for f in manual})
        case = cases.create_case(
            s,
            registry,
            CaseCreate(
                title=f"{plant.name} 人工清洗 {', '.join(rows)}"[:200],
                description="Modules no robot serves: " + ", ".join(f.module_id for f in manual),
                category=CLEANING,
                priority=priority,
                location=_point(manual[0]),
                source="pv",
                accept=True,
            ),
            region_id=plant.region_id,
        )
        for f in manual:
            f.case_id = case.id
        out.cleaning_cases.append(case.id)


def _point(f: PvFinding) -> dict[str, object] | None:
    if f.lon is None or f.lat is None:
        return None
    return {"type": "Point", "coordinates": [f.lon, f.lat]}


def _finding_case(s: Session, registry: Registry, plant: PvPlant, f: PvFinding, category: str) -> Case:
    cls = service.effective_class(f)
    at_least = "≥ " if service.delta_t_lower_bound(f) else ""
    dt_text = f"ΔT {at_least}{f.delta_t_k:.1f} K" if f.delta_t_k is not None else "ΔT 无读数"
    if f.delta_tn_k is not None:
        dt_text += f"，ΔTn {at_least}{f.delta_tn_k:.1f} K"
    if at_least:
        dt_text += f"（{names.LOWER_BOUND_NOTE['zh-CN']}）"
    title = f"{plant.name} {f.module_id} {names.zh(cls)}（{f.severity}，CoA {f.coa}）"
    text = (
        f"组件 {f.module_id}：{names.zh(cls)}，{dt_text}，{f.frames_seen} 帧可见（巡检 #{f.inspection_id}）。"
    )
    return _case(s, registry, plant, [f], category, title, text)


def _string_case(s: Session, registry: Registry, plant: PvPlant, members: Sequence[PvFinding]) -> Case:
    """One repair case for an offline string's findings, at its first module, with the worst grading."""
    worst = service.worst_finding(members)
    cls = names.zh(Anomaly.STRING_OFFLINE.value)
    span = service.module_span(members)
    title = f"{plant.name} {span} {cls}（{len(members)} 块组件，{worst.severity}，CoA {worst.coa}）"
    text = (
        f"{cls}：{len(members)} 块组件（{'、'.join(f.module_id for f in members)}），"
        f"巡检 #{members[0].inspection_id}。请检查组串熔断器、连接器和汇流箱。"
    )
    return _case(s, registry, plant, members, REPAIR, title, text, worst)


def _case(
    s: Session,
    registry: Registry,
    plant: PvPlant,
    found: Sequence[PvFinding],
    category: str,
    title: str,
    text: str,
    graded: PvFinding | None = None,
) -> Case:
    """An accepted case of ``category`` for ``found`` at the first one, prioritised by ``graded`` (the
    first by default); every finding is linked to it."""
    g = graded or found[0]
    case = cases.create_case(
        s,
        registry,
        CaseCreate(
            title=title[:200],
            description=text[:4000],
            category=category,
            priority=case_priority(category, g.severity, g.coa),
            location=_point(found[0]),
            source="pv",
            accept=True,
        ),
        region_id=plant.region_id,
    )
    for f in found:
        f.case_id = case.id
    return case


# --- closing the loop ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CleaningCheck:
    """Before and after of the cleaned modules: mean soiling index, largest rise in corrected temperature."""

    modules: int
    soiling_before: float
    soiling_after: float
    max_rise_k: float
    passed: bool
    reason: str
    cause: str = ""
    """Why it failed: ``warmer`` (a module got hotter: cleaning again will not help) or ``soiling``."""


def compare_cleaning(
    before: Iterable[PvModuleResult],
    after: Iterable[PvModuleResult],
    *,
    min_improvement: float = 0.5,
    clean_below: float = 0.05,
    max_rise_k: float = 2.0,
) -> CleaningCheck:
    """Passes when the mean soiling index fell by ``min_improvement`` (a fraction) or below ``clean_below``,
    and no module's neighbour-corrected temperature rose by more than ``max_rise_k``."""
    b = {r.module_id: r for r in before}
    a = {r.module_id: r for r in after}
    common = sorted(set(b) & set(a))
    if not common:
        raise InvalidInput(msg("the re-inspection saw none of the cleaned modules"))
    sb = statistics.fmean(b[m].soiling_index or 0.0 for m in common)
    sa = statistics.fmean(a[m].soiling_index or 0.0 for m in common)
    rises = [
        (a[m].t_corrected_k or 0.0) - (b[m].t_corrected_k or 0.0)
        for m in common
        if a[m].t_corrected_k is not None and b[m].t_corrected_k is not None
    ]
    rise = max(rises, default=0.0)
    improved = sa <= clean_below or (sb > 0 and (sb - sa) / sb >= min_improvement)
    if rise > max_rise_k:
        return CleaningCheck(
            len(common), sb, sa, rise, False, f"a module got {rise:.1f} K warmer after cleaning", "warmer"
        )
    if not improved:
        why = f"soiling index {sb:.3f} → {sa:.3f}: not improved enough"
        return CleaningCheck(len(common), sb, sa, rise, False, why, "soiling")
    return CleaningCheck(len(common), sb, sa, rise, True, f"soiling index {sb:.3f} → {sa:.3f}")


REINSPECTION_BUFFER_M = 3.0
"""Margin around the cleaned rows [m]: GPS error and the frame edges still leave every module seen twice."""
MIN_COVERAGE = 0.9
"""Share of the cleaned modules a re-inspection must see to judge the cleaning [-]."""


def cleaned_modules(order: PvCleaningOrder) -> list[str]:
    """What the robot reported cleaned, or what it was sent to clean when it did not say."""
    return list(order.cleaned_modules or order.modules)


def reinspection_plan(s: Session, case_id: int, camera: str) -> tuple[PvCleaningOrder, PvPlant, FlightPlan]:
    """A short flight over the cleaned rows of a cleaning case, not the whole plant: the rectangle aligned
    with the rows around every module of the rows cleaned, :data:`REINSPECTION_BUFFER_M` wider on each side,
    at the plant plan's height and overlaps. Its lines take the direction with the fewest turns, i.e. along
    a strip of a few rows: lines across the rows, as for the whole plant, would turn every 10 m or so and
    take 4 × the images (measured on a 120 × 90 m roof, two rows)."""
    order = cleaning.order_for_case(s, case_id)
    case = cases.get_case(s, case_id)
    if case.state not in (State.RESOLVED, State.CLOSED):
        raise InvalidInput(
            msg(
                "case %(number)s is %(state)s; re-inspect after the robot has cleaned",
                number=case.number,
                state=case.state,
            )
        )
    plant = service.get_plant(s, order.plant_id)
    layout = service.plant_layout(s, plant)
    ids = {m.id for m in layout.modules}
    known = [m for m in cleaned_modules(order) if m in ids]
    if not known:
        raise InvalidInput(
            msg("case %(number)s names no module of plant %(code)s", number=case.number, code=plant.code)
        )
    outline = rows_outline(layout, known, REINSPECTION_BUFFER_M)
    # lines the fewest turns way over the rows' strip (along the rows), each module whole in two images of
    # a line by its size along the lines, not its diagonal
    plan = service.flight_plan(
        outline,
        camera,
        row_azimuth_deg=layout.row_azimuth_deg,
        lines_across_rows=False,
        module_footprint_m=service.module_footprint(plant),
    )
    return order, plant, plan


def reinspected_case(inspection: PvInspection) -> int | None:
    """The cleaning case a dock flight re-inspected, if it was one."""
    case_id = inspection.summary.get("dock", {}).get("reinspection_of")
    return case_id if isinstance(case_id, int) else None


def awaiting_verification(s: Session, plant_id: int) -> list[tuple[PvCleaningOrder, Case]]:
    """The plant's cleaning cases the robots have resolved and nobody has verified yet."""
    stmt = (
        select(PvCleaningOrder, Case)
        .join(Case, Case.id == PvCleaningOrder.case_id)
        .where(PvCleaningOrder.plant_id == plant_id, Case.state == State.RESOLVED)
        .order_by(PvCleaningOrder.id)
    )
    return [(o, c) for o, c in s.execute(stmt).all()]


def latest_reinspection(s: Session, case_id: int) -> int | None:
    """The last finished re-inspection flown for this case (one-click with the case), if any."""
    order = cleaning.order_for_case(s, case_id)
    stmt = (
        select(PvInspection)
        .where(PvInspection.plant_id == order.plant_id, PvInspection.status == "done")
        .order_by(PvInspection.id.desc())
    )
    return next((r.id for r in s.execute(stmt).scalars() if reinspected_case(r) == case_id), None)


def unjudged_reinspection(s: Session, case_id: int) -> int | None:
    """The case's last re-inspection when it has not judged the case yet (the operator may verify with it)."""
    again = latest_reinspection(s, case_id)
    return again if again is not None and _verification(s, case_id, again) is None else None


def verify_cleaning(
    s: Session, registry: Registry, case_id: int, reinspection_id: int | None = None
) -> CleaningCheck:
    """Verify a resolved cleaning case against a re-inspection (by default the last one flown for the case):
    closed when it passes, back to work if not. A dock re-inspection does this by itself on landing
    (:func:`verify_reinspection`); this is the operator's click for an uploaded or older re-inspection.

    The re-inspection may cover the whole plant or only the cleaned rows (:func:`reinspection_plan`); it
    must have seen :data:`MIN_COVERAGE` of the cleaned modules, or nothing is decided.
    """
    require_role(scope_of(s), *CHECKERS)
    order = cleaning.order_for_case(s, case_id)
    case = _locked_case(s, case_id)
    if reinspection_id is None:
        reinspection_id = latest_reinspection(s, case_id)
    if reinspection_id is None:
        raise InvalidInput(
            msg("no finished re-inspection of case %(number)s; fly one first", number=case.number)
        )
    after_insp = s.execute(
        select(PvInspection).where(PvInspection.id == reinspection_id)
    ).scalar_one_or_none()
    if after_insp is None or after_insp.plant_id != order.plant_id:
        raise NotFound(
            msg("no inspection %(reinspection_id)s of this plant", reinspection_id=reinspection_id)
        )
    if _verification(s, case_id, reinspection_id) is not None:
        raise InvalidInput(
            msg(
                "re-inspection %(reinspection_id)s has already judged case %(number)s; fly "
                "another one or override the verification with a reason",
                reinspection_id=reinspection_id,
                number=case.number,
            )
        )
    check = _judge(s, order, case, after_insp)
    _decide(s, registry, case, reinspection_id, check, automatic=False)
    return check


VERIFICATION = "pv_verification"
"""The case-timeline entry of each judgement of a cleaning by a re-inspection (data: ``reinspection``,
``automatic``, ``decided``, ``passed``, the figures); one per case and re-inspection, so a judgement is
made once however often the re-inspection's analysis finishes."""


def _judge(s: Session, order: PvCleaningOrder, case: Case, after_insp: PvInspection) -> CleaningCheck:
    """The rules of a verification; :class:`InvalidInput` when they cannot decide."""
    if case.state != State.RESOLVED:
        raise InvalidInput(
            msg(
                "case %(number)s is %(state)s; verify it after the robot has cleaned",
                number=case.number,
                state=case.state,
            )
        )
    if order.inspection_id is None:
        raise InvalidInput(
            msg(
                "case %(number)s was not made from an inspection; nothing to compare with", number=case.number
            )
        )
    if after_insp.status != "done":
        raise InvalidInput(
            msg(
                "re-inspection %(id)s is %(inspection_status)s; wait for its analysis",
                id=after_insp.id,
                inspection_status=after_insp.status,
            )
        )
    flown_for = reinspected_case(after_insp)
    if flown_for is not None and flown_for != case.id:
        raise InvalidInput(
            msg(
                "inspection %(id)s re-inspected case %(flown_for)s, not %(number)s",
                id=after_insp.id,
                flown_for=flown_for,
                number=case.number,
            )
        )
    mods = cleaned_modules(order)
    after = _results(s, after_insp.id, mods)
    if after and len(after) < MIN_COVERAGE * len(mods):  # none at all: compare_cleaning says so
        raise InvalidInput(
            msg(
                "re-inspection %(id)s saw %(seen)s of the %(cleaned)s cleaned modules; fly it again",
                id=after_insp.id,
                seen=len(after),
                cleaned=len(mods),
            )
        )
    return compare_cleaning(_results(s, order.inspection_id, mods), after)


def _decide(
    s: Session, registry: Registry, case: Case, reinspection_id: int, check: CleaningCheck, *, automatic: bool
) -> None:
    note = f"re-inspection {reinspection_id}: {check.reason}"
    figures = dataclasses.asdict(check)
    data = {"reinspection": reinspection_id, "automatic": automatic, "decided": True, **figures}
    cases.record_event(s, case, VERIFICATION, note=note, data=data)
    cases.apply_to(s, registry, case, Action.VERIFY, ActionIn(passed=check.passed, note=note))
    if check.passed:
        cases.apply_to(s, registry, case, Action.CLOSE, ActionIn(note="closed on re-inspection"))
    else:
        _sent_back(s, registry, case, check.cause)


def _locked_case(s: Session, case_id: int) -> Case:
    """The case, its row locked until the transaction ends: two workers finishing the same re-inspection,
    or a worker and an operator's click, decide one after the other, the second seeing the first."""
    stmt = select(Case).where(Case.id == case_id).with_for_update()
    case = s.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    if case is None:
        raise NotFound(msg("no case %(case_id)s", case_id=case_id))
    return case


def _verification(s: Session, case_id: int, reinspection_id: int | None = None) -> CaseEvent | None:
    """The case's last judgement by a re-inspection (by ``reinspection_id`` when given)."""
    stmt = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == VERIFICATION)
    for ev in s.execute(stmt.order_by(CaseEvent.id.desc())).scalars():
        if reinspection_id is None or ev.data.get("reinspection") == reinspection_id:
            return ev
    return None


def verify_reinspection(s: Session, registry: Registry, inspection: PvInspection) -> CleaningCheck | None:
    """Judge the cleaning a finished dock re-inspection was flown for, by :func:`verify_cleaning`'s rules,
    without a click: verified and closed, or sent back with the reason on the case timeline. When the
    rules cannot decide (too few cleaned modules seen, the case no longer resolved) the timeline says why
    and the case waits for the operator. Once per case and re-inspection: ``None`` when already judged,
    or when the inspection re-inspected no case."""
    case_id = reinspected_case(inspection)
    if case_id is None or inspection.status != "done":
        return None
    case = _locked_case(s, case_id)
    if _verification(s, case_id, inspection.id) is not None:
        return None
    try:
        check = _judge(s, cleaning.order_for_case(s, case_id), case, inspection)
    except (InvalidInput, NotFound) as exc:
        data = {"reinspection": inspection.id, "automatic": True, "decided": False}
        cases.record_event(s, case, VERIFICATION, note=f"not judged: {exc.detail}", data=data)
        return None
    _decide(s, registry, case, inspection.id, check, automatic=True)
    return check


def override_verification(s: Session, registry: Registry, case_id: int, *, passed: bool, reason: str) -> Case:
    """The operator overrules the last judgement of a cleaning case by a re-inspection, giving a reason:
    ``passed`` closes a case that was sent back (or left undecided); not passed sends a resolved case back
    to work. A closed case is reopened through the core's follow-up (回访), not here."""
    sc = scope_of(s)
    require_role(sc, *CHECKERS)
    why = reason.strip()
    if not why:
        raise InvalidInput(msg("overriding a verification needs a reason"))
    cleaning.order_for_case(s, case_id)
    case = _locked_case(s, case_id)
    last = _verification(s, case_id)
    if last is None:
        raise InvalidInput(
            msg("case %(number)s has no verification by re-inspection to override", number=case.number)
        )
    note = f"{sc.username} overrides re-inspection {last.data.get('reinspection')}: {why}"[:5000]
    if passed and case.state == State.IN_PROGRESS:
        s.info["scope"] = replace(sc, system=True)  # the robot's step, taken on the operator's word
        try:
            cases.apply_to(s, registry, case, Action.RESOLVE, ActionIn(note=note))
        finally:
            s.info["scope"] = sc
    if case.state != State.RESOLVED:
        raise InvalidInput(
            msg(
                "case %(number)s is %(state)s; there is no verification to override",
                number=case.number,
                state=case.state,
            )
        )
    data = {"reinspection": last.data.get("reinspection"), "automatic": False, "decided": True}
    cases.record_event(s, case, VERIFICATION, note=note, data={**data, "override": True, "passed": passed})
    cases.apply_to(s, registry, case, Action.VERIFY, ActionIn(passed=passed, note=note))
    if passed:
        cases.apply_to(s, registry, case, Action.CLOSE, ActionIn(note=note))
    else:
        _sent_back(s, registry, case, "soiling")
    return case


AUTO_RECLEANS = 1
"""How often a robot cleaning that a re-inspection sent back for soiling is cleaned again without a click;
after that (or when a module got warmer, which another pass will not mend) the case waits for the
operator: clean again (:func:`reclean`), overrule the verdict, or raise a repair."""


RECLEAN_HELD = "pv_reclean_held"
"""The case-timeline entry saying why a sent-back cleaning was not sent to its robot again by itself."""


def _sent_back(s: Session, registry: Registry, case: Case, cause: str) -> None:
    order = cleaning.order_for_case(s, case.id)
    robot = s.get_one(Actor, order.robot_actor_id)
    if robot.adapter != cleaning.ADAPTER or case.state != State.IN_PROGRESS:
        return  # the crew's case is back in the crew's queue
    done = sum(1 for r in cleaning.reclean_requests(s, case.id) if r.data.get("automatic"))
    if cause == "warmer":
        why = "a module got warmer, which another pass will not mend"
    elif done >= AUTO_RECLEANS:
        why = f"cleaned again {done} time(s) without a click"
    else:
        try:  # reclean's own rules (robot active, not still on the case) decide; it writes nothing first
            reclean(s, registry, case.id, automatic=True)
            return
        except InvalidInput as exc:
            why = exc.detail
    note = f"{why}: waiting for the operator to clean again or overrule"
    cases.record_event(s, case, RECLEAN_HELD, note=note, data={"cause": cause})


def reclean(
    s: Session,
    registry: Registry,
    case_id: int,
    *,
    mode: str | None = None,
    note: str = "",
    automatic: bool = False,
) -> Case:
    """Send a cleaning case that is back at work to its robot again: a new command (new idempotency key,
    a window from now, optionally another mode such as wet after a dry pass), delivered through the outbox
    like a dispatch; the robot's done resolves the case for the next re-inspection. Refused unless the
    case is in progress and its robot is not working on it (done, fault or rejected)."""
    if not automatic:
        require_role(scope_of(s), *CHECKERS)
    order = cleaning.order_for_case(s, case_id)
    case = _locked_case(s, case_id)
    robot = s.get_one(Actor, order.robot_actor_id)
    if case.state != State.IN_PROGRESS:
        raise InvalidInput(
            msg(
                "case %(number)s is %(state)s; only a cleaning sent back to work is redone",
                number=case.number,
                state=case.state,
            )
        )
    if robot.adapter != cleaning.ADAPTER or not robot.active:
        raise InvalidInput(
            msg("%(name)s is not an active cleaning robot; dispatch the case to the crew", name=robot.name)
        )
    if order.robot_state not in cleaning.RESENDABLE:
        raise InvalidInput(
            msg(
                "robot %(name)s is still on case %(number)s (%(robot_state)s)",
                name=robot.name,
                number=case.number,
                robot_state=order.robot_state,
            )
        )
    if mode is not None and mode not in proto.MODES:
        raise InvalidInput(msg("mode must be one of %(modes)s", modes=", ".join(proto.MODES)))
    now = utcnow()
    order.mode = mode or order.mode
    order.not_before, order.not_after = now, now + dt.timedelta(days=1)
    order.idempotency_key, order.robot_state, order.progress_pct, order.fault = None, "pending", 0.0, ""
    order.updated_at = now
    attempt = len(cleaning.reclean_requests(s, case_id)) + 1
    data = {
        "attempt": attempt,
        "automatic": automatic,
        "mode": order.mode,
        "robot": robot.config.get("robot_id"),
    }
    text = note.strip() or ("cleaning again after the re-inspection" if automatic else "cleaning again")
    cases.record_event(s, case, cleaning.RECLEAN, note=text[:5000], data=data)
    payload = {"case_id": case.id, "number": case.number, "actor_id": robot.id, "attempt": attempt}
    outbox.publish(s, registry, case.region_id, cleaning.RECLEAN_TOPIC, payload)
    return case


@dataclass(frozen=True)
class Verification:
    """One judgement of a cleaning case by a re-inspection, for the plant page."""

    case: Case
    event: CaseEvent
    order: PvCleaningOrder

    @property
    def outcome(self) -> str:
        """``passed``, ``sent_back`` or ``undecided``."""
        if not self.event.data.get("decided"):
            return "undecided"
        return "passed" if self.event.data.get("passed") else "sent_back"

    @property
    def can_override(self) -> bool:
        return self.case.state in (State.RESOLVED, State.IN_PROGRESS)

    @property
    def can_reclean(self) -> bool:
        """Back at work and its robot idle on it: :func:`reclean` would send it."""
        return self.case.state == State.IN_PROGRESS and self.order.robot_state in cleaning.RESENDABLE


def verifications(s: Session, plant_id: int, limit: int = 20) -> list[Verification]:
    """The last judgement of each of the plant's cleaning cases by a re-inspection, newest first."""
    stmt = (
        select(Case, CaseEvent, PvCleaningOrder)
        .join(PvCleaningOrder, PvCleaningOrder.case_id == Case.id)
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(PvCleaningOrder.plant_id == plant_id, CaseEvent.action == VERIFICATION)
        .order_by(CaseEvent.id.desc())
    )
    latest: dict[int, Verification] = {}
    for c, e, o in s.execute(stmt).all():
        latest.setdefault(c.id, Verification(c, e, o))
    return list(latest.values())[:limit]


def _results(s: Session, inspection_id: int, modules: Sequence[str]) -> list[PvModuleResult]:
    stmt = select(PvModuleResult).where(
        PvModuleResult.inspection_id == inspection_id, PvModuleResult.module_id.in_(modules)
    )
    return list(s.execute(stmt).scalars())


# --- soiling economics per zone ---------------------------------------------------------------------------

DEFAULT_CLEANING_COST_YUAN = 2000.0
DEFAULT_TARIFF_YUAN_KWH = 0.4
DEFAULT_RATE_PER_DAY = 0.002
"""0.2 %/day, the dry-season rate of domain/pv.md §6, for zones whose inspections give no rate."""


def default_energy_kwh_per_day(area_m2: float) -> float:
    """A plant's clean daily energy when the operator gives none: modules on about 80 % of the roof at
    200 W/m², 4 kWh/kWp a day [kWh/day]."""
    return round(area_m2 * 0.8 * 0.2 * 4.0, 1)


def default_economics(area_m2: float) -> dict[str, float]:
    """The inputs of :func:`zone_economics` for a plant of ``area_m2`` whose operator gave none."""
    return {
        "cleaning_cost": DEFAULT_CLEANING_COST_YUAN,
        "energy_kwh_per_day": default_energy_kwh_per_day(area_m2),
        "tariff_per_kwh": DEFAULT_TARIFF_YUAN_KWH,
        "assumed_rate_per_day": DEFAULT_RATE_PER_DAY,
    }


@dataclass(frozen=True, slots=True)
class PlantEconomics:
    """A plant's cleaning economics (:func:`plant_economics`): the keyword arguments of
    :func:`zone_economics`, and which of them are the platform's defaults rather than the operator's."""

    cleaning_cost: float
    """Cost of one cleaning of the whole plant [yuan]."""
    tariff_per_kwh: float
    """What a kWh is worth to the plant [yuan/kWh]."""
    energy_kwh_per_day: float
    """The plant's clean daily energy [kWh/day]; by default estimated from its area."""
    assumed_rate_per_day: float
    """Soiling rate for the zones whose data give none [fraction of the energy a day]."""
    defaults: tuple[str, ...] = ()
    """The fields above that the operator left to the default."""

    def inputs(self) -> dict[str, float]:
        """The keyword arguments of :func:`zone_economics` (and of :attr:`.report.Report.economics`)."""
        return {name: getattr(self, name) for name in ECONOMICS_FIELDS}


ECONOMICS_FIELDS = ("cleaning_cost", "tariff_per_kwh", "energy_kwh_per_day", "assumed_rate_per_day")
ECONOMICS_COLUMNS = dict(
    zip(
        ECONOMICS_FIELDS,
        ("cleaning_cost_yuan", "tariff_yuan_kwh", "energy_kwh_per_day", "soiling_rate_per_day"),
        strict=True,
    )
)
"""Each field of :class:`PlantEconomics` and the ``pv_plants`` column that keeps the operator's value."""


def plant_economics(plant: PvPlant) -> PlantEconomics:
    """The plant's cleaning economics: each value its operator gave (``pv_plants``), else the default
    (:func:`default_economics`; an energy of 0 is estimated from the area too)."""
    given = {name: getattr(plant, column) for name, column in ECONOMICS_COLUMNS.items()}
    if not (given["energy_kwh_per_day"] or 0) > 0:
        given["energy_kwh_per_day"] = None
    fallback = default_economics(plant.area_m2)
    values = {name: fallback[name] if value is None else float(value) for name, value in given.items()}
    defaults = tuple(name for name in ECONOMICS_FIELDS if given[name] is None)
    return PlantEconomics(**values, defaults=defaults)


def set_plant_economics(s: Session, plant_id: int, given: dict[str, float | None]) -> PvPlant:
    """Keep the plant's cleaning economics (admins and dispatchers): ``given`` maps ``pv_plants`` columns
    (:data:`ECONOMICS_COLUMNS`) to the operator's value, or ``None`` for the default; a column left out
    keeps its value. The change is audited."""
    require_role(scope_of(s), *service.PLANNERS)
    plant = service.get_plant(s, plant_id)
    known = set(ECONOMICS_COLUMNS.values())
    if not set(given) <= known:
        raise ValueError(f"not an economics column: {sorted(set(given) - known)}")
    changed = {}
    for column, value in given.items():
        before = getattr(plant, column)
        if before != value:
            changed[column] = [before, value]
            setattr(plant, column, value)
    s.flush()
    if changed:
        service._audit(s, "pv.plant.economics", "pv_plant", plant.id, {"changed": changed})
    return plant


def economics_read(plant: PvPlant) -> dict[str, object]:
    """:class:`.schemas.PlantEconomicsRead` of the plant: the values its reports use, by column."""
    e = plant_economics(plant)
    values: dict[str, object] = {ECONOMICS_COLUMNS[n]: v for n, v in e.inputs().items()}
    return values | {"defaults": [ECONOMICS_COLUMNS[n] for n in e.defaults]}


ZONE_MIN_SEEN = 0.5
"""An inspection counts for a zone's soiling index when it saw at least this share of the zone's modules (a
re-inspection of two cleaned rows says nothing about the rest of the array) [-]."""


def zone_economics(
    s: Session,
    plant_id: int,
    *,
    cleaning_cost: float,
    energy_kwh_per_day: float,
    tariff_per_kwh: float,
    assumed_rate_per_day: float,
    today: dt.date,
    upto_inspection: int | None = None,
    rain: PlantRain | None = None,
    washes: dict[str, list[dt.datetime]] | None = None,
) -> list[soiling.ZoneSoiling]:
    """The cleaning economics of each array of the plant (:func:`.soiling.zone_economics`): its mean soiling
    index per finished inspection (up to ``upto_inspection``), its last robot cleaning (and the day its
    soiling starts again after a washing rain), its share of the plant's modules, its rate from production
    data and the plant's calibration of the index. ``rain`` shares one read of the plant's rain with
    :func:`zone_forecasts` and :func:`soiling_since` in the same request, ``washes`` one read of the robot
    cleanings (:func:`.production.zone_cleaning_times`) with :func:`zone_forecasts`."""
    rain = rain or PlantRain(s, plant_id)
    zones = _zone_modules(s, plant_id)
    seen = _zone_indices(s, plant_id, zones, upto_inspection)
    rows = production.zone_soiling(s, plant_id)
    measured = {
        z: soiling.MeasuredRate(r.rate_per_day, r.rate_low, r.rate_high)
        for z, r in rows.items()
        if r.rate_per_day is not None
    }
    return soiling.zone_economics(
        zones={str(z): int(n) for z, n in zones.items()},
        seen=seen,
        cleaned=_zone_cleanings(
            washes if washes is not None else production.zone_cleaning_times(s, plant_id), today
        ),
        cleaning_cost=cleaning_cost,
        energy_kwh_per_day=energy_kwh_per_day,
        tariff_per_kwh=tariff_per_kwh,
        assumed_rate_per_day=assumed_rate_per_day,
        today=today,
        measured=measured,
        calibration=production.calibration(seen, rows),
        rainfall_hourly_mm=rain.between(today - dt.timedelta(days=RAIN_LOOKBACK_DAYS), today),
    )


RAIN_LOOKBACK_DAYS = 400
"""How far back the economics look for a washing rain [day]; a zone clean for longer counts from its
cleaning (or first inspection)."""


def soiling_since(
    s: Session, plant_id: int, last: dt.date, today: dt.date, rain: PlantRain | None = None
) -> dt.date:
    """The day the plant's soiling starts again: ``last`` (a cleaning), or the end of the grace period of
    a washing rain in its production data (:func:`.soiling.soiling_since`)."""
    rain = rain or PlantRain(s, plant_id)
    return soiling.soiling_since(rain.between(last, today), start=last, today=today)


def zone_calibration(s: Session, plant_id: int, upto_inspection: int | None = None) -> IndexCalibration:
    """The plant's fit of production soiling loss on the IR soiling index of its inspections."""
    seen = _zone_indices(s, plant_id, _zone_modules(s, plant_id), upto_inspection)
    return production.calibration(seen, production.zone_soiling(s, plant_id))


def _zone_modules(s: Session, plant_id: int) -> dict[str, int]:
    rows = s.execute(
        select(PvModule.array, func.count(PvModule.id))
        .where(PvModule.plant_id == plant_id)
        .group_by(PvModule.array)
    ).all()
    return {str(z): int(n) for z, n in rows}


def _zone_indices(
    s: Session, plant_id: int, zones: dict[str, int], upto: int | None
) -> dict[str, list[tuple[dt.date, float]]]:
    stmt = select(PvInspection).where(PvInspection.plant_id == plant_id, PvInspection.status == "done")
    if upto is not None:
        stmt = stmt.where(PvInspection.id <= upto)
    when = {i.id: soiling.plant_day(inspection_time(i)) for i in s.execute(stmt).scalars()}
    rows = s.execute(
        select(
            PvModuleResult.inspection_id,
            PvModule.array,
            func.avg(PvModuleResult.soiling_index),
            func.count(PvModuleResult.id),
        )
        .join(
            PvModule,
            (PvModule.plant_id == plant_id) & (PvModule.module_id == PvModuleResult.module_id),
        )
        .where(PvModuleResult.inspection_id.in_(when), PvModuleResult.soiling_index.is_not(None))
        .group_by(PvModuleResult.inspection_id, PvModule.array)
    ).all()
    seen: dict[str, list[tuple[dt.date, float]]] = {}
    for iid, zone, mean, n in sorted(rows, key=lambda r: (when[r[0]], r[0])):
        if n >= ZONE_MIN_SEEN * zones.get(zone, 0):
            seen.setdefault(str(zone), []).append((when[iid], float(mean)))
    return seen


def inspection_time(insp: PvInspection) -> dt.datetime:
    """When an inspection was flown (or, lacking that, analysed or created)."""
    return insp.started_at or insp.analysed_at or insp.created_at


def _zone_cleanings(washes: dict[str, list[dt.datetime]], upto: dt.date) -> dict[str, dt.date]:
    """Each zone's last robot cleaning (of ``washes``, :func:`.production.zone_cleaning_times`) on or
    before ``upto`` (a report of an older inspection knows no later one)."""
    last = {}
    for zone, times in washes.items():
        days = [d for d in map(soiling.plant_day, times) if d <= upto]
        if days:
            last[zone] = max(days)
    return last


def zone_forecasts(
    s: Session,
    plant_id: int,
    zones: Sequence[soiling.ZoneSoiling],
    *,
    today: dt.date,
    rain: PlantRain | None = None,
    washes: dict[str, list[dt.datetime]] | None = None,
) -> dict[str, soiling.SoilingForecast]:
    """The Kimber forecast of each zone of :func:`zone_economics` (:func:`.soiling.zone_forecast`): its rate,
    clean at its last cleaning (or first inspection), the robot cleanings of the zone as manual washes, the
    plant's rain from its production data up to ``today`` and none after, the clean-now level s·T*."""
    if not zones:
        return {}
    start = min(z.last_cleaning for z in zones)
    hourly = (rain or PlantRain(s, plant_id)).between(start, today)
    washes = washes if washes is not None else production.zone_cleaning_times(s, plant_id)
    out = {}
    for z in zones:
        level = z.advice.loss_at_cleaning if z.advice.next_cleaning is not None else None
        out[z.zone] = soiling.zone_forecast(
            hourly,
            rate_per_day=z.rate_per_day,
            start=z.last_cleaning,
            today=max(today, z.last_cleaning),
            cleanings=washes.get(z.zone, []),
            clean_level=level,
        )
    return out


def rain_span(forecasts: dict[str, soiling.SoilingForecast]) -> tuple[dt.date, dt.date] | None:
    """First and last day of the rain history the forecasts used, or None when there was none."""
    froms = [f.rain_from for f in forecasts.values() if f.rain_from is not None]
    tos = [f.rain_to for f in forecasts.values() if f.rain_to is not None]
    return (min(froms), max(tos)) if froms and tos else None


class PlantRain:
    """The plant's hourly rain [mm] from its production samples (the mean over the zones that report it),
    read once per request: :meth:`between` reads the days it is asked for, widened to
    :data:`RAIN_LOOKBACK_DAYS` before ``today`` so that the economics, the forecasts and the plant's
    soiling start that one page asks for come from one query, and slices later requests out of that read.

    A slice is the series a read of its own span would give: the samples are summed per zone and hour and
    averaged over zones per hour, so an hour's value does not depend on the span read.
    """

    def __init__(self, s: Session, plant_id: int) -> None:
        self.s, self.plant_id = s, plant_id
        self._span: tuple[dt.datetime, dt.datetime] | None = None
        self._rain: pd.Series | None = None
        self.reads = 0  # queries made, for tests

    def between(self, start: dt.date, today: dt.date) -> pd.Series | None:
        """Hourly rain from the day before ``start`` to the end of the day after ``today``, or None."""
        since = dt.datetime.combine(start, dt.time(), dt.UTC) - dt.timedelta(days=1)
        until = dt.datetime.combine(today, dt.time(), dt.UTC) + dt.timedelta(days=2)
        if self._span is None or since < self._span[0] or until > self._span[1]:
            lookback = until - dt.timedelta(days=RAIN_LOOKBACK_DAYS + 3)
            wide_since, wide_until = min(since, lookback), until
            if self._span is not None:
                wide_since, wide_until = min(wide_since, self._span[0]), max(wide_until, self._span[1])
            self._rain = self._read(wide_since, wide_until)
            self._span = (wide_since, wide_until)
        if self._rain is None:
            return None
        part = self._rain[(self._rain.index >= since) & (self._rain.index < until)]
        return part if len(part) else None

    def _read(self, since: dt.datetime, until: dt.datetime) -> pd.Series | None:
        self.reads += 1
        sample = PvProductionSample
        hour = hour_of(sample.ts)
        # summed per zone and hour by the database: a zone's 15-minute samples of 400 days are 38,400 rows
        # that every plant page would otherwise read and convert one by one
        rows = self.s.execute(
            select(sample.zone, hour, func.sum(sample.rain_mm))
            .where(
                sample.plant_id == self.plant_id,
                sample.rain_mm.is_not(None),
                sample.ts >= since,
                sample.ts < until,
            )
            .group_by(sample.zone, hour)
        ).all()
        if not rows:
            return None
        _, hours, mm = zip(*rows, strict=True)
        per_zone = pd.Series(
            mm, index=pd.to_datetime(pd.Index(hours), format=HOUR_FORMAT, utc=True), dtype=float
        )
        rain = per_zone.groupby(level=0).mean()  # over the zones that report the hour
        return pd.Series(rain.to_numpy(dtype=float), index=pd.DatetimeIndex(rain.index), name="rain_mm")


# --- loop metrics -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoopMetrics:
    """Median durations [minutes] of each step of the plant's loop, and how many cases each median covers."""

    takeoff_to_report_min: float | None
    detection_to_dispatch_min: float | None
    dispatch_to_cleaned_min: float | None
    cleaned_to_closed_min: float | None
    inspections: int
    cleanings: int
    verified_automatically: int = 0
    """Cleanings judged passed by a re-inspection on landing, without a click."""
    sent_back_automatically: int = 0
    overridden: int = 0
    cleaned_again: int = 0
    """Requests to clean a sent-back case again (by itself or on a click)."""


def _median_min(spans: list[tuple[dt.datetime | None, dt.datetime | None]]) -> float | None:
    mins = [(b - a).total_seconds() / 60 for a, b in spans if a is not None and b is not None]
    return round(statistics.median(mins), 1) if mins else None


def loop_metrics(s: Session, plant_id: int) -> LoopMetrics:
    insps = s.execute(select(PvInspection).where(PvInspection.plant_id == plant_id)).scalars().all()
    orders = s.execute(select(PvCleaningOrder).where(PvCleaningOrder.plant_id == plant_id)).scalars().all()
    findings = s.execute(
        select(PvFinding).where(PvFinding.plant_id == plant_id, PvFinding.case_id.is_not(None))
    ).scalars()
    case_ids = {o.case_id for o in orders} | {f.case_id for f in findings if f.case_id is not None}
    by_case = {c.id: c for c in s.execute(select(Case).where(Case.id.in_(case_ids))).scalars()}
    detected: dict[int, dt.datetime] = {}
    for f in s.execute(select(PvFinding).where(PvFinding.case_id.in_(case_ids))).scalars():
        if f.case_id is not None:
            detected[f.case_id] = min(f.created_at, detected.get(f.case_id, f.created_at))
    return LoopMetrics(
        takeoff_to_report_min=_median_min([(i.started_at, i.analysed_at) for i in insps]),
        detection_to_dispatch_min=_median_min([(detected.get(c), by_case[c].dispatched_at) for c in by_case]),
        dispatch_to_cleaned_min=_median_min(
            [(by_case[o.case_id].dispatched_at, o.cleaned_at) for o in orders if o.case_id in by_case]
        ),
        cleaned_to_closed_min=_median_min(
            [(o.cleaned_at, by_case[o.case_id].closed_at) for o in orders if o.case_id in by_case]
        ),
        inspections=len(insps),
        cleanings=sum(o.cleaned_at is not None for o in orders),
        **_verification_counts(s, [o.case_id for o in orders]),
    )


def _verification_counts(s: Session, case_ids: list[int]) -> dict[str, int]:
    actions = (VERIFICATION, cleaning.RECLEAN)
    stmt = select(CaseEvent.action, CaseEvent.data).where(
        CaseEvent.case_id.in_(case_ids), CaseEvent.action.in_(actions)
    )
    rows = s.execute(stmt).all()
    judged = [d for a, d in rows if a == VERIFICATION and d.get("decided")]
    auto = [d for d in judged if d.get("automatic")]
    return {
        "verified_automatically": sum(bool(d.get("passed")) for d in auto),
        "sent_back_automatically": sum(not d.get("passed") for d in auto),
        "overridden": sum(bool(d.get("override")) for d in judged),
        "cleaned_again": sum(a == cleaning.RECLEAN for a, _ in rows),
    }

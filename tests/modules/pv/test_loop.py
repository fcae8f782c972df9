"""Confirmed findings become cases with the right category, priority and SLA; a re-inspection closes a
cleaning case or sends it back; the loop's durations are measured."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi import migrate
from gongzhi.cases import service as cases
from gongzhi.cases.models import Case, CaseEvent
from gongzhi.cases.schemas import ActionIn
from gongzhi.cases.statemachine import Action
from gongzhi.core.models import AuditEntry, OutboxDelivery, OutboxEvent
from gongzhi.db import Scope, make_engine, unit_of_work, utcnow
from gongzhi.errors import Forbidden, InvalidInput
from gongzhi.modules.pv import cleaning, dock, loop, production
from gongzhi.modules.pv import service as pv
from gongzhi.modules.pv.analytics import soiling
from gongzhi.modules.pv.models import (
    PvCleaningOrder,
    PvFinding,
    PvInspection,
    PvModule,
    PvModuleResult,
    PvPlant,
)
from gongzhi.modules.pv.schemas import LayoutIn, PlantCreate, PlantUpdate
from gongzhi.registry import Registry
from tests.conftest import BACKEND, World, build_world, drop_database, new_database_url
from tests.web.helpers import as_user

from .shapes import rectangle

Factory = sessionmaker[Session]
T0 = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)


def outline() -> dict[str, Any]:
    ring = [list(p) for p in rectangle(30, 20)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def as_alice(world: World) -> Scope:
    return Scope(region_id=world.a, user_id=world.alice.user_id, role="dispatcher")


def setup(factory: Factory, world: World) -> dict[str, Any]:
    """A plant whose robot serves rows A-01 and A-02 (not A-03), and a finished inspection."""
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        plant = pv.create_plant(
            s,
            PlantCreate(
                code=f"r-{uuid.uuid4().hex[:6]}",
                name="报社屋顶",
                polygon=outline(),
                layout=LayoutIn(setback_m=0.5),
            ),
        )
        mods = s.execute(select(PvModule.module_id).where(PvModule.plant_id == plant.id)).scalars().all()
        rows = sorted({cleaning.row_of(m) for m in mods})
        assert len(rows) >= 3
        cleaning.register_robot(s, plant, "R1", {rows[0]: 30.0, rows[1]: 30.0})
        insp = PvInspection(
            region_id=world.a,
            plant_id=plant.id,
            status="done",
            started_at=T0,
            analysed_at=T0 + dt.timedelta(minutes=27),
        )
        s.add(insp)
        s.flush()
        first = {r: [m for m in mods if cleaning.row_of(m) == r] for r in rows}
        return {"plant": plant.id, "inspection": insp.id, "rows": rows, "mods": first}


def finding(s: Session, world: World, ctx: dict[str, Any], module: str, cls: str, **kw: Any) -> PvFinding:
    f = PvFinding(
        region_id=world.a,
        inspection_id=ctx["inspection"],
        plant_id=ctx["plant"],
        module_id=module,
        anomaly_class=cls,
        delta_t_k=kw.pop("dt", 12.0),
        severity=kw.pop("severity", "S2"),
        coa=kw.pop("coa", 2),
        status=kw.pop("status", "accepted"),
        lon=120.1,
        lat=30.2,
        created_at=T0 + dt.timedelta(minutes=20),
        **kw,
    )
    s.add(f)
    return f


def test_confirmation_turns_reviewed_findings_into_cases_once(
    factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    m, rows = ctx["mods"], ctx["rows"]
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        finding(s, world, ctx, m[rows[0]][0], "soiling")
        finding(s, world, ctx, m[rows[1]][0], "soiling", severity="S1")
        finding(s, world, ctx, m[rows[2]][0], "soiling")  # no robot on this row
        finding(s, world, ctx, m[rows[0]][1], "single_hot_cell", dt=24.0, severity="S3", coa=3)
        finding(
            s, world, ctx, m[rows[1]][1], "substring", status="reclassified", reviewed_class="junction_box"
        )
        finding(s, world, ctx, m[rows[2]][1], "vegetation", severity="S1")
        finding(s, world, ctx, m[rows[2]][2], "cracking", status="rejected")
        finding(s, world, ctx, m[rows[0]][2], "hot_spot", status="new")
    with unit_of_work(factory, as_alice(world)) as s:
        out = loop.confirm_inspection(s, registry, ctx["inspection"], mode="wet")
        assert out.findings == 6 and out.unreviewed == 1
        assert len(out.cleaning_cases) == 2 and len(out.repair_cases) == 2 and len(out.other_cases) == 1
        got = {c.id: c for c in s.execute(select(Case).where(Case.id.in_(out.cases))).scalars()}
        robot_case, manual_case = (got[i] for i in out.cleaning_cases)
        assert robot_case.state == "dispatched" and robot_case.category == "pv.cleaning"
        assert manual_case.state == "accepted" and m[rows[2]][0] in manual_case.description
        order = s.execute(
            select(PvCleaningOrder).where(PvCleaningOrder.case_id == robot_case.id)
        ).scalar_one()
        assert (
            order.rows == [rows[0], rows[1]]
            and order.mode == "wet"
            and order.inspection_id == ctx["inspection"]
        )
        repair = sorted((got[i] for i in out.repair_cases), key=lambda c: c.priority, reverse=True)
        assert [c.priority for c in repair] == ["urgent", "high"]
        assert "接线盒过热" in repair[1].title and "CoA 3" in repair[0].title  # titles are zh-CN
        assert got[out.other_cases[0]].category == "pv.vegetation"
        # the SLA of a safety-relevant repair: claimed within 2 hours
        policy = cases.policy_for(s, world.a, "pv.repair", "urgent")
        assert (policy.claim_amount, policy.claim_unit) == (2, "hours")
        linked = s.execute(select(PvFinding).where(PvFinding.case_id.is_not(None))).scalars().all()
        assert len(linked) == 6
    with unit_of_work(factory, as_alice(world)) as s:
        again = loop.confirm_inspection(s, registry, ctx["inspection"])
        assert again.cases == [] and again.already == 6


def strings(s: Session, ctx: dict[str, Any]) -> list[list[str]]:
    """The module ids of each string of the plant, sorted."""
    stmt = select(PvModule.module_id, PvModule.string).where(PvModule.plant_id == ctx["plant"])
    by_string: dict[str, list[str]] = {}
    for module_id, string in s.execute(stmt).all():
        by_string.setdefault(string, []).append(module_id)
    return [sorted(v) for v in by_string.values()]


def test_an_offline_string_becomes_one_repair_case_however_many_modules_it_has(
    factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        first, second = strings(s, ctx)[:2]
        for module_id in first[:3]:
            finding(s, world, ctx, module_id, "string_offline", severity="S3")
        finding(s, world, ctx, second[0], "string_offline", coa=3, severity="S3")
        finding(s, world, ctx, second[1], "module_offline")
        finding(s, world, ctx, second[2], "string_offline", status="rejected")
    with unit_of_work(factory, as_alice(world)) as s:
        out = loop.confirm_inspection(s, registry, ctx["inspection"])
        assert out.findings == 5 and len(out.repair_cases) == 3
        linked = s.execute(select(PvFinding).where(PvFinding.case_id.is_not(None))).scalars().all()
        case_of = {f.module_id: f.case_id for f in linked}
        assert len({case_of[m] for m in first[:3]}) == 1 and case_of[second[0]] != case_of[first[0]]
        assert second[2] not in case_of  # a rejected finding stays out of the string's case
        case = s.get_one(Case, case_of[first[0]])
        assert f"{first[0]} … {first[2]}" in case.title and "3 块组件" in case.title
        assert all(m in case.description for m in first[:3]) and case.category == "pv.repair"
        assert s.get_one(Case, case_of[second[0]]).priority == "urgent"  # CoA 3


def test_the_inspection_page_shows_an_offline_string_as_one_row_reviewed_at_once(
    client: TestClient, factory: Factory, world: World
) -> None:
    ctx = setup(factory, world)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        members = strings(s, ctx)[0][:4]
        made = [finding(s, world, ctx, m, "string_offline", status="new") for m in members]
        s.flush()
        ids = [f.id for f in made]
        other = finding(s, world, ctx, strings(s, ctx)[1][0], "cracking", status="new")
        s.flush()
        other_id = other.id
    alice, csrf = as_user(client, world.alice)
    page = alice.get(f"/pv/inspections/{ctx['inspection']}").text
    assert f"{members[0]} … {members[-1]}" in page and "4 块组件" in page
    assert page.count('name="finding_id"') == 4 and members[1] not in page.replace(members[0], "")
    r = alice.post(
        f"/pv/inspections/{ctx['inspection']}/review",
        data={"csrf_token": csrf, "status": "accepted", "finding_id": [str(i) for i in ids]},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    # a finding of another inspection, or none at all, is refused and nothing is recorded
    r = alice.post(
        f"/pv/inspections/{ctx['inspection'] + 1000}/review",
        data={"csrf_token": csrf, "status": "rejected", "finding_id": [str(ids[0]), str(other_id)]},
    )
    assert r.status_code == 404
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        got = s.execute(select(PvFinding.id, PvFinding.status)).all()
        assert {i: st for i, st in got} == {**dict.fromkeys(ids, "accepted"), other_id: "new"}


def test_confirmation_needs_a_finished_inspection_and_a_dispatcher(
    factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        s.get_one(PvInspection, ctx["inspection"]).status = "running"
    with unit_of_work(factory, as_alice(world)) as s, pytest.raises(InvalidInput, match="is running"):
        loop.confirm_inspection(s, registry, ctx["inspection"])
    viewer = Scope(region_id=world.a, user_id=world.vera.user_id, role="viewer")
    with unit_of_work(factory, viewer) as s, pytest.raises(Forbidden):
        loop.confirm_inspection(s, registry, ctx["inspection"])


def result(s: Session, world: World, insp: int, module: str, soiling: float, t: float) -> None:
    s.add(
        PvModuleResult(
            region_id=world.a, inspection_id=insp, module_id=module, soiling_index=soiling, t_corrected_k=t
        )
    )


def cleaned_case(
    factory: Factory, registry: Registry, world: World, ctx: dict[str, Any]
) -> tuple[int, list[str]]:
    mods = [ctx["mods"][ctx["rows"][0]][0], ctx["mods"][ctx["rows"][0]][1]]
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        for mod in mods:
            finding(s, world, ctx, mod, "soiling")
            result(s, world, ctx["inspection"], mod, 0.40, 3.0)
    with unit_of_work(factory, as_alice(world)) as s:
        [case_id] = loop.confirm_inspection(s, registry, ctx["inspection"]).cleaning_cases
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        for action, data in (
            (Action.CLAIM, ActionIn()),
            (Action.START, ActionIn()),
            (Action.RESOLVE, ActionIn(note="robot R1 done")),
        ):
            cases.apply(s, registry, case_id, action, data)
        order = cleaning.order_for_case(s, case_id)
        order.cleaned_at, order.cleaned_modules = utcnow(), mods
        order.robot_state, order.idempotency_key = "done", f"{case_id}:first"
    return case_id, mods


def reinspection(
    factory: Factory, world: World, ctx: dict[str, Any], mods: list[str], soiling: float, t: float
) -> int:
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        insp = PvInspection(region_id=world.a, plant_id=ctx["plant"], status="done", started_at=utcnow())
        s.add(insp)
        s.flush()
        for mod in mods:
            result(s, world, insp.id, mod, soiling, t)
        return insp.id


def test_a_re_inspection_that_shows_clean_modules_closes_the_case(
    factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    case_id, mods = cleaned_case(factory, registry, world, ctx)
    after = reinspection(factory, world, ctx, mods, soiling=0.03, t=2.5)
    with unit_of_work(factory, as_alice(world)) as s:
        check = loop.verify_cleaning(s, registry, case_id, after)
        assert check.passed and check.soiling_before == pytest.approx(0.40)
        assert cases.get_case(s, case_id).state == "closed"
        metrics = loop.loop_metrics(s, ctx["plant"])
    assert metrics.takeoff_to_report_min == 27.0
    assert metrics.cleanings == 1 and metrics.dispatch_to_cleaned_min is not None
    assert metrics.cleaned_to_closed_min is not None and metrics.detection_to_dispatch_min is not None


def test_a_re_inspection_that_shows_little_change_sends_the_case_back(
    factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    case_id, mods = cleaned_case(factory, registry, world, ctx)
    after = reinspection(factory, world, ctx, mods, soiling=0.33, t=3.0)
    with unit_of_work(factory, as_alice(world)) as s:
        check = loop.verify_cleaning(s, registry, case_id, after)
        assert not check.passed and "not improved enough" in check.reason
        assert cases.get_case(s, case_id).state == "in_progress"
    hotter = reinspection(factory, world, ctx, mods, soiling=0.01, t=8.0)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        cases.apply(s, registry, case_id, Action.RESOLVE, ActionIn(note="robot cleaned again"))
    with unit_of_work(factory, as_alice(world)) as s:
        check = loop.verify_cleaning(s, registry, case_id, hotter)
        assert not check.passed and "warmer" in check.reason


def test_verification_refuses_what_cannot_be_compared(
    factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    case_id, _mods = cleaned_case(factory, registry, world, ctx)
    elsewhere = reinspection(factory, world, ctx, ["Z-01-01"], soiling=0.0, t=0.0)
    with (
        unit_of_work(factory, as_alice(world)) as s,
        pytest.raises(InvalidInput, match="saw none of the cleaned"),
    ):
        loop.verify_cleaning(s, registry, case_id, elsewhere)


def dock_reinspection(
    factory: Factory, world: World, ctx: dict[str, Any], case_id: int, mods: list[str], soiling: float
) -> int:
    """A finished re-inspection flown by the dock for ``case_id`` (as :func:`.dock.reinspect_cleaning`)."""
    insp = reinspection(factory, world, ctx, mods, soiling=soiling, t=2.5)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        row = s.get_one(PvInspection, insp)
        row.summary = {"dock": {"reinspection_of": case_id}}
    return insp


def verify_on_landing(
    factory: Factory, registry: Registry, world: World, insp: int
) -> loop.CleaningCheck | None:
    with unit_of_work(factory, Scope(region_id=world.a, system=True, username="pv-dock")) as s:
        return loop.verify_reinspection(s, registry, s.get_one(PvInspection, insp))


def timeline(factory: Factory, case_id: int) -> list[CaseEvent]:
    with unit_of_work(factory, Scope.for_system()) as s:
        stmt = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        return [e for e in s.execute(stmt).scalars()]


def test_a_dock_re_inspection_closes_the_case_by_itself_once(
    factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    case_id, mods = cleaned_case(factory, registry, world, ctx)
    after = dock_reinspection(factory, world, ctx, case_id, mods, soiling=0.03)
    check = verify_on_landing(factory, registry, world, after)
    assert check is not None and check.passed
    assert verify_on_landing(factory, registry, world, after) is None  # the analysis finished again
    events = timeline(factory, case_id)
    assert [e.action for e in events].count("verify") == 1
    [judged] = [e for e in events if e.action == loop.VERIFICATION]
    assert judged.data["automatic"] and judged.data["passed"] and judged.data["reinspection"] == after
    with unit_of_work(factory, as_alice(world)) as s:
        assert cases.get_case(s, case_id).state == "closed"
        metrics = loop.loop_metrics(s, ctx["plant"])
        assert (metrics.verified_automatically, metrics.sent_back_automatically) == (1, 0)
        [shown] = loop.verifications(s, ctx["plant"])
        assert shown.outcome == "passed" and not shown.can_override
        with pytest.raises(InvalidInput, match="already judged"):
            loop.verify_cleaning(s, registry, case_id, after)


def test_a_dock_re_inspection_sends_the_case_back_and_the_operator_can_overrule_it(
    factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    case_id, mods = cleaned_case(factory, registry, world, ctx)
    after = dock_reinspection(factory, world, ctx, case_id, mods, soiling=0.35)
    check = verify_on_landing(factory, registry, world, after)
    assert check is not None and not check.passed
    verify_ev = [e for e in timeline(factory, case_id) if e.action == "verify"][-1]
    assert verify_ev.to_state == "in_progress" and "not improved enough" in verify_ev.note
    with unit_of_work(factory, as_alice(world)) as s:
        assert loop.loop_metrics(s, ctx["plant"]).sent_back_automatically == 1
        [shown] = loop.verifications(s, ctx["plant"])
        assert shown.outcome == "sent_back" and shown.can_override
        with pytest.raises(InvalidInput, match="needs a reason"):
            loop.override_verification(s, registry, case_id, passed=True, reason="  ")
    viewer = Scope(region_id=world.a, user_id=world.vera.user_id, role="viewer")
    with unit_of_work(factory, viewer) as s, pytest.raises(Forbidden):
        loop.override_verification(s, registry, case_id, passed=True, reason="looks clean")
    with unit_of_work(factory, as_alice(world)) as s:
        case = loop.override_verification(
            s, registry, case_id, passed=True, reason="glare on the re-inspection; clean on site"
        )
        assert case.state == "closed"
        assert loop.loop_metrics(s, ctx["plant"]).overridden == 1
    notes = [e.note for e in timeline(factory, case_id) if e.action in ("resolve", "verify")]
    assert any("glare on the re-inspection" in n for n in notes)


def test_a_re_inspection_that_saw_too_little_leaves_the_decision_to_the_operator(
    factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    case_id, mods = cleaned_case(factory, registry, world, ctx)
    partial = dock_reinspection(factory, world, ctx, case_id, mods[:1], soiling=0.01)  # 1 of 2 modules
    assert verify_on_landing(factory, registry, world, partial) is None
    [judged] = [e for e in timeline(factory, case_id) if e.action == loop.VERIFICATION]
    assert not judged.data["decided"] and "saw 1 of the 2 cleaned modules" in judged.note
    with unit_of_work(factory, as_alice(world)) as s:
        assert cases.get_case(s, case_id).state == "resolved"
        case = loop.override_verification(s, registry, case_id, passed=False, reason="robot skipped a row")
        assert case.state == "in_progress"


def test_a_re_inspection_names_anomalies_as_the_inspection_that_found_the_soiling(
    client: TestClient, factory: Factory, registry: Registry, world: World
) -> None:
    """The re-inspection flight is queued with the finding inspection's classifier, network confidence and
    positioning unless the operator asks otherwise (its dock does not answer here: the queued row is what
    is checked)."""
    ctx = setup(factory, world)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        found_by = s.get_one(PvInspection, ctx["inspection"])
        found_by.classifier, found_by.min_confidence = "learned", 0.85
        found_by.positioning = "gnss"  # found by a flight without RTK; the plant's own is auto
        plant = s.get_one(PvPlant, ctx["plant"])
        held = socket.socket()  # bound and never listening: the dock's broker refuses at once
        held.bind(("127.0.0.1", 0))
        dock.register_dock(
            s, plant, f"DOCK-{uuid.uuid4().hex[:8]}", broker=f"mqtt://127.0.0.1:{held.getsockname()[1]}"
        )
    case_id, _mods = cleaned_case(factory, registry, world, ctx)

    def queued() -> tuple[str, float | None, str]:
        with unit_of_work(factory, Scope.for_system()) as s:
            stmt = select(PvInspection).where(
                PvInspection.plant_id == ctx["plant"], PvInspection.source == "dock"
            )
            last = s.execute(stmt.order_by(PvInspection.id.desc()).limit(1)).scalar_one()
            assert last.status == "failed" and last.summary["dock"]["reinspection_of"] == case_id
            return last.classifier, last.min_confidence, last.positioning

    try:
        for asked, want in (
            (dock.FlightRequest(), ("learned", 0.85, "gnss")),
            (dock.FlightRequest(min_confidence=0.95), ("learned", 0.95, "gnss")),
            (dock.FlightRequest(classifier="rules"), ("rules", None, "gnss")),
            (dock.FlightRequest(positioning="rtk"), ("learned", 0.85, "rtk")),
        ):
            with pytest.raises(dock.DockUnreachable):
                dock.reinspect_cleaning(factory, as_alice(world), case_id, timeout_s=2, conditions=asked)
            assert queued() == want, asked
        url = f"/api/v1/pv/cases/{case_id}/reinspection"
        r = client.post(url, json={"min_confidence": 0.9}, headers=world.alice.headers)
        assert r.status_code == 504 and queued() == ("learned", 0.9, "gnss")
        r = client.post(url, json={"positioning": "auto"}, headers=world.alice.headers)
        assert r.status_code == 504 and queued() == ("learned", 0.85, "auto")
        r = client.post(url, json={"classifier": "rules", "min_confidence": 0.9}, headers=world.alice.headers)
        assert r.status_code == 400 and "learned classifier only" in r.text
        r = client.post(url, json={"positioning": "rtk-fixed"}, headers=world.alice.headers)
        assert r.status_code == 422 and "positioning" in r.text
        alice, csrf = as_user(client, world.alice)
        r = alice.post(f"/pv/cases/{case_id}/reinspect", data={"csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 504 and queued() == ("learned", 0.85, "gnss")  # the dock is silent
    finally:
        held.close()


def test_a_dock_flight_names_the_modules_as_the_plants_flights_are_flown_unless_asked_otherwise(
    client: TestClient, factory: Factory, world: World
) -> None:
    """A plant flown by a drone without RTK says so once (its positioning, gnss): its one-click flights
    are queued with it, unless the operator names another, over the API or from the plant page (the dock
    does not answer here: the queued row is what is checked)."""
    ctx = setup(factory, world)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        plant = pv.update_plant(s, ctx["plant"], PlantUpdate(positioning="gnss"))
        held = socket.socket()  # bound and never listening: the dock's broker refuses at once
        held.bind(("127.0.0.1", 0))
        dock.register_dock(
            s, plant, f"DOCK-{uuid.uuid4().hex[:8]}", broker=f"mqtt://127.0.0.1:{held.getsockname()[1]}"
        )

    def queued() -> str:
        with unit_of_work(factory, Scope.for_system()) as s:
            stmt = select(PvInspection).where(
                PvInspection.plant_id == ctx["plant"], PvInspection.source == "dock"
            )
            last = s.execute(stmt.order_by(PvInspection.id.desc()).limit(1)).scalar_one()
            assert last.status == "failed"
            audit = s.execute(
                select(AuditEntry).where(
                    AuditEntry.action == "pv.inspection.one_click", AuditEntry.object_id == str(last.id)
                )
            ).scalar_one()
            assert audit.data["positioning"] == last.positioning
            return last.positioning

    try:
        for asked, want in ((dock.FlightRequest(), "gnss"), (dock.FlightRequest(positioning="rtk"), "rtk")):
            with pytest.raises(dock.DockUnreachable):
                dock.one_click_inspection(
                    factory, as_alice(world), ctx["plant"], timeout_s=2, conditions=asked
                )
            assert queued() == want, asked
        with pytest.raises(InvalidInput, match="unknown positioning 'rtk-fixed'"):
            dock.one_click_inspection(
                factory,
                as_alice(world),
                ctx["plant"],
                timeout_s=2,
                conditions=dock.FlightRequest(positioning="rtk-fixed"),  # type: ignore[arg-type]
            )
        url = f"/api/v1/pv/plants/{ctx['plant']}/one-click"
        r = client.post(url, json={}, headers=world.alice.headers)
        assert r.status_code == 504 and queued() == "gnss"
        r = client.post(url, json={"positioning": "auto"}, headers=world.alice.headers)
        assert r.status_code == 504 and queued() == "auto"
        r = client.post(url, json={"positioning": "rtk-fixed"}, headers=world.alice.headers)
        assert r.status_code == 422 and "positioning" in r.text
        alice, csrf = as_user(client, world.alice)
        page = alice.get(f"/pv/plants/{ctx['plant']}").text
        assert 'id="oc-pos"' in page and '<option value="gnss" selected>' in page  # the plant's, chosen
        for form, want in (({}, "gnss"), ({"positioning": "rtk"}, "rtk")):
            r = alice.post(
                f"/pv/plants/{ctx['plant']}/one-click",
                data={"csrf_token": csrf, **form},
                follow_redirects=False,
            )
            assert r.status_code == 504 and queued() == want, form
        r = alice.post(f"/pv/plants/{ctx['plant']}/one-click", data={"csrf_token": csrf, "positioning": "x"})
        assert r.status_code == 400 and "未知的定位方式" in r.text
    finally:
        held.close()


@pytest.mark.backend
def test_two_workers_finishing_one_re_inspection_judge_it_once(registry: Registry, tmp_path: Path) -> None:
    """Two real connections (a database of its own: the usual fixture shares one connection)."""
    if BACKEND != "postgresql":
        pytest.skip("row locks: the PostgreSQL leg (SQLite serialises writers itself)")
    url, name = new_database_url(tmp_path)
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        committed = sessionmaker(engine, expire_on_commit=False)
        world = build_world(committed)
        ctx = setup(committed, world)
        case_id, mods = cleaned_case(committed, registry, world, ctx)
        after = dock_reinspection(committed, world, ctx, case_id, mods, soiling=0.03)
        first = committed()
        first.info["scope"] = Scope(region_id=world.a, system=True, username="worker-1")
        assert loop.verify_reinspection(first, registry, first.get_one(PvInspection, after)) is not None
        second: list[loop.CleaningCheck | None] = []
        worker = threading.Thread(
            target=lambda: second.append(verify_on_landing(committed, registry, world, after))
        )
        worker.start()
        worker.join(1.0)
        assert worker.is_alive()  # waiting for the first worker's lock on the case
        first.commit()
        first.close()
        worker.join(10)
        assert second == [None]
        assert [e.action for e in timeline(committed, case_id)].count("verify") == 1
    finally:
        engine.dispose()
        drop_database(name)


def robot_done_again(factory: Factory, registry: Registry, case_id: int) -> None:
    """The robot reports the second pass done, as :func:`.cleaning.handle_robot_message` would."""
    with unit_of_work(factory, Scope.for_system()) as s:
        order = cleaning.order_for_case(s, case_id)
        order.robot_state, order.idempotency_key = "done", f"{case_id}:again"
        cases.apply(s, registry, case_id, Action.RESOLVE, ActionIn(note="robot R1 cleaned again"))


def reclean_events(factory: Factory, case_id: int) -> list[CaseEvent]:
    return [e for e in timeline(factory, case_id) if e.action == cleaning.RECLEAN]


def test_a_cleaning_sent_back_for_soiling_goes_to_its_robot_again_once_then_waits_for_the_operator(
    factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    case_id, mods = cleaned_case(factory, registry, world, ctx)
    first = dock_reinspection(factory, world, ctx, case_id, mods, soiling=0.35)
    check = verify_on_landing(factory, registry, world, first)
    assert check is not None and not check.passed and check.cause == "soiling"
    [again] = reclean_events(factory, case_id)
    assert again.data == {"attempt": 1, "automatic": True, "mode": "dry", "robot": "R1"}
    with unit_of_work(factory, Scope.for_system()) as s:
        order = cleaning.order_for_case(s, case_id)
        assert (order.robot_state, order.idempotency_key) == ("pending", None)  # old reports match nothing
        assert order.not_before >= again.at - dt.timedelta(seconds=1)
        events = s.execute(select(OutboxEvent).where(OutboxEvent.topic == cleaning.RECLEAN_TOPIC)).scalars()
        [event] = [e for e in events if e.payload["case_id"] == case_id]
        assert event.payload["attempt"] == 1
        [sub] = s.execute(select(OutboxDelivery.subscriber).where(OutboxDelivery.event_id == event.id)).all()
        assert sub == ("pv.reclean",)
        [shown] = loop.verifications(s, ctx["plant"])
        assert shown.outcome == "sent_back" and not shown.can_reclean  # the robot has it
    with unit_of_work(factory, as_alice(world)) as s, pytest.raises(InvalidInput, match="still on case"):
        loop.reclean(s, registry, case_id)

    robot_done_again(factory, registry, case_id)
    second = dock_reinspection(factory, world, ctx, case_id, mods, soiling=0.34)
    assert verify_on_landing(factory, registry, world, second) is not None
    assert len(reclean_events(factory, case_id)) == 1  # once without a click
    [held] = [e for e in timeline(factory, case_id) if e.action == loop.RECLEAN_HELD]
    assert "cleaned again 1 time(s)" in held.note
    viewer = Scope(region_id=world.a, user_id=world.vera.user_id, role="viewer")
    with unit_of_work(factory, viewer) as s, pytest.raises(Forbidden):
        loop.reclean(s, registry, case_id, mode="wet")
    with unit_of_work(factory, as_alice(world)) as s:
        [shown] = loop.verifications(s, ctx["plant"])
        assert shown.can_reclean
        with pytest.raises(InvalidInput, match="mode must be"):
            loop.reclean(s, registry, case_id, mode="steam")
    with unit_of_work(factory, as_alice(world)) as s:
        loop.reclean(s, registry, case_id, mode="wet", note="dry pass left the bird droppings")
    last = reclean_events(factory, case_id)[-1]
    assert last.data["attempt"] == 2 and last.data["mode"] == "wet" and not last.data["automatic"]
    assert last.note == "dry pass left the bird droppings"
    with unit_of_work(factory, as_alice(world)) as s:
        metrics = loop.loop_metrics(s, ctx["plant"])
    assert (metrics.sent_back_automatically, metrics.cleaned_again) == (2, 2)
    with unit_of_work(factory, as_alice(world)) as s, pytest.raises(InvalidInput, match="still on case"):
        loop.reclean(s, registry, case_id)


def test_a_cleaning_that_left_a_module_warmer_is_not_cleaned_again_by_itself(
    factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    case_id, mods = cleaned_case(factory, registry, world, ctx)
    after = reinspection(factory, world, ctx, mods, soiling=0.01, t=8.0)
    with unit_of_work(factory, as_alice(world)) as s:
        check = loop.verify_cleaning(s, registry, case_id, after)
        assert not check.passed and check.cause == "warmer"
    assert reclean_events(factory, case_id) == []
    [held] = [e for e in timeline(factory, case_id) if e.action == loop.RECLEAN_HELD]
    assert "warmer" in held.note and held.data == {"cause": "warmer"}


def test_only_a_cleaning_back_at_work_is_cleaned_again(
    factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    case_id, _mods = cleaned_case(factory, registry, world, ctx)
    with unit_of_work(factory, as_alice(world)) as s, pytest.raises(InvalidInput, match="is resolved"):
        loop.reclean(s, registry, case_id)


def test_cleaning_again_over_http_and_from_the_plant_page(
    client: TestClient, factory: Factory, registry: Registry, world: World
) -> None:
    ctx = setup(factory, world)
    case_id, mods = cleaned_case(factory, registry, world, ctx)
    verify_on_landing(factory, registry, world, dock_reinspection(factory, world, ctx, case_id, mods, 0.35))
    url = f"/api/v1/pv/cases/{case_id}/reclean"
    busy = client.post(url, json={}, headers=world.alice.headers)
    assert busy.status_code == 400 and "still on case" in busy.json()["detail"]
    robot_done_again(factory, registry, case_id)
    verify_on_landing(factory, registry, world, dock_reinspection(factory, world, ctx, case_id, mods, 0.34))
    assert client.post(url, json={"mode": "steam"}, headers=world.alice.headers).status_code == 422
    alice, csrf = as_user(client, world.alice)
    page = alice.get(f"/pv/plants/{ctx['plant']}")
    assert f'action="/pv/cases/{case_id}/reclean"' in page.text and "再次清洗" in page.text
    r = alice.post(
        f"/pv/cases/{case_id}/reclean", data={"csrf_token": csrf, "mode": "wet"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    page = alice.get(f"/pv/plants/{ctx['plant']}")
    assert f'action="/pv/cases/{case_id}/reclean"' not in page.text
    assert "机器人: 等待机器人" in page.text and ">in_progress<" not in page.text  # names, not codes
    again = client.post(url, json={"mode": "wet"}, headers=world.alice.headers)
    assert again.status_code == 400
    assert [e.data["mode"] for e in reclean_events(factory, case_id)] == ["dry", "wet"]


def test_a_cleaning_late_in_the_utc_evening_counts_on_the_plants_next_day(
    factory: Factory, registry: Registry, world: World
) -> None:
    assert soiling.plant_day(dt.datetime(2026, 11, 20, 17, 30, tzinfo=dt.UTC)) == dt.date(2026, 11, 21)
    assert soiling.plant_day(dt.datetime(2026, 11, 20, 15, 59)) == dt.date(2026, 11, 20)  # naive: UTC
    ctx = setup(factory, world)
    case_id, _mods = cleaned_case(factory, registry, world, ctx)
    with unit_of_work(factory, Scope.for_system()) as s:
        cleaning.order_for_case(s, case_id).cleaned_at = dt.datetime(2026, 11, 20, 17, 30, tzinfo=dt.UTC)
    with unit_of_work(factory, Scope.for_system()) as s:
        zone = ctx["rows"][0].split("-")[0]  # the array
        washes = production.zone_cleaning_times(s, ctx["plant"])
        assert loop._zone_cleanings(washes, dt.date(2026, 11, 21)) == {zone: dt.date(2026, 11, 21)}
        assert loop._zone_cleanings(washes, dt.date(2026, 11, 20)) == {}


def test_an_offline_string_raises_one_alert_keyed_by_its_string_even_for_one_module(
    factory: Factory, world: World
) -> None:
    from gongzhi.modules.pv import results

    ctx = setup(factory, world)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        first, second = strings(s, ctx)[:2]
        found = [finding(s, world, ctx, m, "string_offline") for m in first[:3]]
        found += [
            finding(s, world, ctx, second[0], "string_offline"),
            finding(s, world, ctx, second[1], "cracking"),
        ]
        s.flush()
        of = pv.module_strings(s, ctx["plant"], [second[0], first[0]])
        groups = results._alert_groups(s, ctx["plant"], found)
        assert sorted((k, [f.module_id for f in m]) for k, m in groups if k is not None) == sorted(
            [(of[first[0]], first[:3]), (of[second[0]], [second[0]])]
        )
        assert [[f.module_id for f in m] for k, m in groups if k is None] == [[second[1]]]

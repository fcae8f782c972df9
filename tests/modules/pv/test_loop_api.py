"""The closed loop over HTTP: a real (synthetic) flight uploaded and analysed, its report in HTML and PDF,
findings reviewed and confirmed into cases, a robot registered; bad requests get clear 4xx answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict, cast

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.pv import loop, results
from gongzhi.modules.pv.models import PvFinding
from gongzhi.registry import Registry
from tests.conftest import World
from tests.web.helpers import as_user

from .flights import tiny_flight

PV = "/api/v1/pv"
PROBLEM = "application/problem+json"


class Economics(TypedDict):
    """The keys of :func:`gongzhi.modules.pv.loop.default_economics`, keyword arguments of zone_economics."""

    cleaning_cost: float
    energy_kwh_per_day: float
    tariff_per_kwh: float
    assumed_rate_per_day: float


def default_economics(area_m2: float) -> Economics:
    """:func:`gongzhi.modules.pv.loop.default_economics`, typed by its keys so that it unpacks into
    ``loop.zone_economics(**...)`` (its ``dict[str, float]`` could as well fill ``upto_inspection``)."""
    return cast(Economics, loop.default_economics(area_m2))


def analysed(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp: Path
) -> dict[str, Any]:
    flight = tiny_flight(tmp, frames=4)
    files = {"file": ("loop.geojson", flight.geojson, "application/geo+json")}
    r = client.post(f"{PV}/plants/import", files=files, headers=world.alice.headers)
    assert r.status_code == 201, r.text
    plant = r.json()
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    url = f"{PV}/plants/{plant['id']}/inspections"
    r = client.post(
        url, files=frames, data={"camera": "M3T", "irradiance_w_m2": "850"}, headers=world.bob.headers
    )
    assert r.status_code == 202, r.text
    inspection = r.json()
    # the report of an inspection still queued is refused with a reason
    early = client.get(f"{PV}/inspections/{inspection['id']}/report", headers=world.alice.headers)
    assert early.status_code == 400 and early.headers["content-type"] == PROBLEM and "queued" in early.text
    assert results.process_queued(factory, registry, client.app.state.gongzhi.store) == [inspection["id"]]  # type: ignore[attr-defined]
    return {"plant": plant, "inspection": inspection["id"]}


def test_report_confirm_and_robots_over_http(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    ctx = analysed(client, world, factory, registry, tmp_path)
    insp, plant = ctx["inspection"], ctx["plant"]
    html = client.get(f"{PV}/inspections/{insp}/report", headers=world.vera.headers)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "光伏电站无人机巡检报告" in html.text and "850.0 W/m²" in html.text  # wind not given: unknown
    assert "IEC TS 62446-3: 未记录" in html.text
    pdf = client.get(f"{PV}/inspections/{insp}/report?format=pdf&lang=en", headers=world.vera.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert "attachment" in pdf.headers["content-disposition"]
    bad = client.get(f"{PV}/inspections/{insp}/report?lang=fr", headers=world.vera.headers)
    assert bad.status_code == 422

    r = client.post(
        f"{PV}/plants/{plant['id']}/robots",
        json={"robot_id": "R1", "rows": {"A-01": 40}},
        headers=world.alice.headers,
    )
    assert r.status_code == 403  # dispatchers do not register machines; admins do
    r = client.post(
        f"{PV}/plants/{plant['id']}/robots",
        json={"robot_id": "R1", "rows": {"A-01": 40}},
        headers=world.adam.headers,
    )
    assert r.status_code == 201 and r.json()["rows"] == {"A-01": 40.0}
    r = client.post(
        f"{PV}/plants/{plant['id']}/robots",
        json={"robot_id": "R1", "rows": {"A-02": 40}},
        headers=world.adam.headers,
    )
    assert r.status_code == 400 and "already has a robot R1" in r.text
    for broker in (
        "http://127.0.0.1",
        "mqtt://ops:secret@127.0.0.1:1883",
        "mqtt://127.0.0.1:70000",
        "mqtt://",
    ):
        for kind, body in (("robots", {"robot_id": "R2", "rows": {"A-02": 40}}), ("docks", {"sn": "DOCK9"})):
            r = client.post(
                f"{PV}/plants/{plant['id']}/{kind}",
                json={**body, "broker": broker},
                headers=world.adam.headers,
            )
            assert r.status_code == 400 and "use mqtt://host:port" in r.json()["detail"], (broker, r.text)
    assert [
        x["robot_id"]
        for x in client.get(f"{PV}/plants/{plant['id']}/robots", headers=world.vera.headers).json()
    ] == ["R1"]
    # the core's list of actors shows the robot among them, of its own kind
    r = client.get("/api/v1/actors", headers=world.adam.headers)
    assert r.status_code == 200, r.text
    assert [a["kind"] for a in r.json() if a["name"].endswith("清洗机器人 R1")] == ["robot"]
    r = client.post(
        "/api/v1/actors", json={"kind": "robot", "name": "手工机器人"}, headers=world.adam.headers
    )
    assert r.status_code == 422  # a robot needs its rows and broker: it is registered on its plant

    findings = client.get(f"{PV}/inspections/{insp}/findings", headers=world.alice.headers).json()
    assert findings
    for f in findings:
        r = client.put(
            f"{PV}/findings/{f['id']}/review", json={"status": "accepted"}, headers=world.alice.headers
        )
        assert r.status_code == 200, r.text
    r = client.post(f"{PV}/inspections/{insp}/confirm", json={"mode": "wet"}, headers=world.alice.headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["findings"] == len(findings) and out["unreviewed"] == 0
    made = out["cleaning_cases"] + out["repair_cases"] + out["other_cases"]
    assert len(made) >= 1
    case = client.get(f"/api/v1/cases/{made[0]}", headers=world.alice.headers).json()
    assert case["category"].startswith("pv.")
    # each case's page links the inspection and its modules' histories, with their thermal crops
    alice, _ = as_user(client, world.alice)
    for case_id in made:
        page = alice.get(f"/cases/{case_id}").text
        with unit_of_work(factory, Scope.for_system()) as s:
            stmt = select(PvFinding.module_id).where(PvFinding.case_id == case_id)
            members = sorted(set(s.execute(stmt).scalars()))
        assert members and "相关页面" in page and f'href="/pv/inspections/{insp}"' in page
        for module_id in members[:12]:
            assert f'href="/pv/plants/{plant["id"]}/modules/{module_id}"' in page
        assert page.count("/thumbnail.png") == min(len(members), 12)
    again = client.post(f"{PV}/inspections/{insp}/confirm", json={}, headers=world.alice.headers).json()
    assert again["already"] == len(findings) and again["cleaning_cases"] == again["repair_cases"] == []
    loop = client.get(f"{PV}/plants/{plant['id']}/loop", headers=world.vera.headers).json()
    assert loop["inspections"] == 1 and loop["takeoff_to_report_min"] is not None

    # verifying a case that is not a robot cleaning, or a viewer confirming, is refused
    r = client.post(
        f"{PV}/cases/{made[0]}/verify-cleaning", json={"inspection_id": insp}, headers=world.alice.headers
    )
    assert r.status_code in (400, 404) and r.headers["content-type"] == PROBLEM
    r = client.post(f"{PV}/inspections/{insp}/confirm", json={}, headers=world.vera.headers)
    assert r.status_code == 403
    assert client.get(f"{PV}/plants/999999/loop", headers=world.vera.headers).status_code == 404

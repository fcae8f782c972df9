"""A plant's defect ledger (缺陷台账): defects followed from flight to flight, open while found again or not
re-checked, resolved by the first later flight that saw the module without them, a re-analysed flight
counted once, false alarms left out, a reclassified finding under its reviewed class, the repair case
named; through the API (JSON and a workbook) and the console page; and after a real flight."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.pv import service as pv_service
from gongzhi.modules.pv.models import PvFinding, PvInspection, PvModuleResult
from gongzhi.registry import Registry
from tests.conftest import World
from tests.web.helpers import as_user, new_case

from .flights import tiny_flight
from .test_inspections_api import import_plant, run_worker
from .test_plants_api import PV, make_plant

T0 = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)


class Flights:
    """Inspections, module results and findings written straight to a plant's tables."""

    def __init__(self, factory: sessionmaker[Session], region_id: int, plant_id: int) -> None:
        self.factory, self.region_id, self.plant_id = factory, region_id, plant_id

    def fly(
        self,
        day: int,
        seen: list[str],
        found: dict[tuple[str, str], dict[str, Any]],
        reanalysis_of: int | None = None,
    ) -> int:
        """A finished inspection flown ``day`` days after T0 that saw ``seen`` and found ``found``
        ((module, class): the finding's fields)."""
        with unit_of_work(self.factory, Scope.for_system()) as s:
            insp = PvInspection(
                region_id=self.region_id, plant_id=self.plant_id, status="done",
                started_at=T0 + timedelta(days=day), source="reanalysis" if reanalysis_of else "upload",
                summary={"reanalysis_of": reanalysis_of} if reanalysis_of else {},
            )  # fmt: skip
            s.add(insp)
            s.flush()
            for mid in seen:
                s.add(
                    PvModuleResult(
                        region_id=self.region_id, inspection_id=insp.id, module_id=mid, frames_seen=2
                    )
                )
            for (mid, cls), fields in found.items():
                s.add(
                    PvFinding(
                        region_id=self.region_id, inspection_id=insp.id, plant_id=self.plant_id,
                        module_id=mid, anomaly_class=cls,
                        **{"severity": "S2", "coa": 2, "delta_t_k": 15.0, **fields},
                    )
                )  # fmt: skip
            return int(insp.id)


def ledger(client: TestClient, who: dict[str, str], pid: int, **query: str) -> dict[str, Any]:
    r = client.get(f"{PV}/plants/{pid}/defects", params=query, headers=who)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_defects_are_followed_from_flight_to_flight(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    plant = make_plant(client, world.alice.headers)
    pid = plant["id"]
    m = [
        f["id"]
        for f in client.get(f"{PV}/plants/{pid}/layout", headers=world.alice.headers).json()["features"][1:7]
    ]
    case = new_case(client, world.alice, title="组件热斑维修")
    fl = Flights(factory, world.a, pid)
    everything = list(m)
    f1 = fl.fly(0, everything, {
        (m[0], "hot_spot"): {"delta_t_k": 12.0},
        (m[1], "cracking"): {"severity": "S1", "coa": 1, "delta_t_k": 4.0},
        (m[2], "substring"): {"severity": "S3", "coa": 3, "delta_t_k": 25.0},
        (m[3], "hot_spot"): {"status": "rejected"},  # a false alarm
    })  # fmt: skip
    f2 = fl.fly(7, [m[0], m[2], m[3], m[4]], {  # m[1] not seen again
        (m[0], "hot_spot"): {"delta_t_k": 21.0, "severity": "S3", "case_id": case["id"]},
        (m[4], "hot_spot"): {"status": "reclassified", "reviewed_class": "shading"},
    })  # fmt: skip
    f3 = fl.fly(14, [m[0], m[2], m[4]], {(m[2], "substring"): {}, (m[0], "hot_spot"): {}})
    f3r = fl.fly(14, [m[0], m[2], m[4]], {(m[2], "substring"): {"delta_t_k": 22.0}}, reanalysis_of=f3)
    f4 = fl.fly(21, [m[2], m[5]], {  # a partial flight; two offline modules of one string
        (m[2], "substring"): {"delta_t_k": 24.0},
        (m[4], "string_offline"): {"delta_t_k": 3.0},
        (m[5], "string_offline"): {"delta_t_k": 4.0},
    })  # fmt: skip

    got = ledger(client, world.alice.headers, pid)
    assert (got["flights"], got["open"], got["resolved"]) == (4, 3, 2)  # f3 and its re-analysis: one flight
    by = {(d["module_id"], d["anomaly_class"]): d for d in got["defects"]}
    assert set(by) == {(m[0], "hot_spot"), (m[1], "cracking"), (m[2], "substring"), (m[4], "shading"),
                       (m[4], "string_offline")}  # fmt: skip
    assert [d["state"] for d in got["defects"]] == [
        "open",
        "open",
        "open",
        "resolved",
        "resolved",
    ]  # open first
    assert [d["module_id"] for d in got["defects"][:3]] == [
        m[2],
        m[4],
        m[1],
    ]  # then the highest CoA, severity

    string = by[(m[4], "string_offline")]  # one defect for the string's offline modules, as its alert
    assert string["modules"] == [m[4], m[5]] and string["string"] == "A-01-S1"
    assert (string["flights_found"], string["flights_seen"], string["delta_t_k"]) == (1, 1, 4.0)

    hot = by[(m[0], "hot_spot")]  # found twice, then seen without it by f3's latest analysis
    assert hot["state"] == "resolved" and hot["resolved_by_inspection_id"] == f3r
    assert (hot["first_inspection_id"], hot["last_inspection_id"]) == (f1, f2)
    assert (hot["flights_found"], hot["flights_seen"]) == (2, 3)
    assert (hot["severity"], hot["delta_t_max_k"], hot["delta_t_k"]) == ("S3", 21.0, 21.0)
    assert (hot["case_id"], hot["case_number"], hot["case_state"]) == (
        case["id"],
        case["number"],
        case["state"],
    )

    crack = by[(m[1], "cracking")]  # never seen again: open, not re-checked
    assert crack["state"] == "open" and crack["rechecked"] is False and crack["checked_inspection_id"] == f1
    assert (crack["flights_found"], crack["flights_seen"]) == (1, 1)

    sub = by[(m[2], "substring")]  # f1, not by f2 (which saw it), f3 (counted once), f4: open again
    assert sub["state"] == "open" and sub["rechecked"] is True
    assert (sub["first_inspection_id"], sub["last_inspection_id"], sub["checked_inspection_id"]) == (
        f1,
        f4,
        f4,
    )
    assert (sub["flights_found"], sub["flights_seen"]) == (3, 4) and sub["delta_t_k"] == 24.0
    assert sub["resolved_by_inspection_id"] is None

    shade = by[(m[4], "shading")]  # reclassified by the operator; seen by f3 without it
    assert shade["state"] == "resolved" and shade["resolved_by_inspection_id"] == f3r

    # what each costs, in modules' worth: a third for the substring, the string's every module, the
    # severity's share for the rest, none for shade; the open ones summed
    assert sub["est_loss_modules"] == pytest.approx(1 / 3) and string["est_loss_modules"] == 2.0
    assert [d["est_loss_modules"] for d in (crack, hot, shade)] == [0.15, 0.6, None]
    lost = 1 / 3 + 2.0 + 0.15
    assert got["open_loss_modules"] == pytest.approx(lost) and got["open_not_estimated"] == 0
    assert got["open_loss_share"] == pytest.approx(lost / plant["module_count"])

    # filters, and a bad state refused
    resolved = ledger(client, world.alice.headers, pid, state="resolved")["defects"]
    assert [d["module_id"] for d in resolved] == [m[0], m[4]]
    assert len(ledger(client, world.alice.headers, pid, anomaly_class="cracking")["defects"]) == 1
    r = client.get(f"{PV}/plants/{pid}/defects", params={"state": "closed"}, headers=world.alice.headers)
    assert r.status_code == 422
    r = client.get(f"{PV}/plants/{pid}/defects", headers=world.charlie.headers)  # another region's plant
    assert r.status_code == 404

    # the workbook: the same rows, in Chinese or English
    r = client.get(f"{PV}/plants/{pid}/defects", params={"format": "xlsx"}, headers=world.vera.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert sheet.title == "缺陷台账" and rows[0][:4] == ["组件", "组串", "缺陷类型", "状态"]
    assert rows[2][:2] == [f"{m[4]} … {m[5]}", "A-01-S1"]
    assert len(rows) == 6 and rows[1][0] == m[2] and rows[1][3] == "未消除" and rows[1][6] == 25.0
    assert any(r[0] == m[1] and r[3] == "未消除 (未复查)" for r in rows[1:])
    hot_row = next(r for r in rows[1:] if r[0] == m[0])
    assert hot_row[3] == "已消除" and hot_row[12].startswith(f"#{f3r} 2026-06-15") and hot_row[13] == "2 / 3"
    assert hot_row[15] == case["number"] and hot_row[16] == "已受理"
    assert rows[0][8] == "估算损失 (组件当量)" and (rows[1][8], rows[2][8], hot_row[8]) == (0.33, 2.0, 0.6)
    r = client.get(
        f"{PV}/plants/{pid}/defects", params={"format": "xlsx", "lang": "en"}, headers=world.vera.headers
    )
    rows = [[c.value for c in row] for row in load_workbook(io.BytesIO(r.content)).worksheets[0].iter_rows()]
    assert rows[0][:4] == ["Module", "String", "Class", "State"] and rows[1][3] == "Unresolved"

    # the console page: open defects by default, with the plant page linking to it
    alice, _ = as_user(client, world.alice)
    plant_page = alice.get(f"/pv/plants/{pid}").text
    assert (
        f'href="/pv/plants/{pid}/defects">缺陷台账</a> <span class="badge short">未消除 3 项</span>'
        in plant_page
    )
    page = alice.get(f"/pv/plants/{pid}/defects").text
    assert "未消除 3 · 已消除 2 · 共 4 次飞行" in page
    assert page.count("未消除</span>") == 3 and "未复查" in page and "隐裂" in page
    assert f'href="/pv/plants/{pid}/modules/{m[0]}"' not in page  # resolved: not among the open ones
    page = alice.get(f"/pv/plants/{pid}/defects", params={"state": "resolved"}).text
    assert f'href="/pv/plants/{pid}/modules/{m[0]}"' in page and f'href="/cases/{case["id"]}"' in page
    assert f'消除于飞行 <a href="/pv/inspections/{f3r}">#{f3r}</a>' in page
    assert "遮挡" in page  # the reviewed class
    assert f'href="/pv/plants/{pid}/strings#string-A-01-S1">A-01-S1</a>' in page  # its row of the wiring
    page = alice.get(f"/pv/plants/{pid}/defects", params={"state": "nonsense", "string": "none"}).text
    assert "没有符合条件的缺陷" in page
    # what the open defects cost, at the plant's energy a day and tariff as given
    page = alice.get(f"/pv/plants/{pid}/defects", params={"energy": "100", "tariff": "1"}).text
    kwh = lost / plant["module_count"] * 100
    assert f"约合 2.5 块组件的功率（占电站 {round(lost / plant['module_count'] * 100, 2)} %），" in page
    assert f"每天约 {round(kwh, 1)} 千瓦时，每年约 ¥{round(kwh * 365):,}。" in page
    assert "日发电量按屋顶面积估算" not in page and "未计入" not in page
    for bad in ({"tariff": "-1"}, {"energy": "lots"}):
        assert alice.get(f"/pv/plants/{pid}/defects", params=bad).status_code == 422

    # the wiring page: each string's open defects, and the string that is out, linked to the ledger
    page = alice.get(f"/pv/plants/{pid}/strings").text
    listed = f'<a href="/pv/plants/{pid}/defects?string=A-01-S1">'
    assert "最近的巡检发现以下组串离线：" in page and "1 个组串有未消除缺陷" in page
    assert f"{listed}3</a> · CoA 3" in page and "组串离线</span>" in page
    assert page.count("CoA ") == 1  # only that string has open defects
    # the map outlines the open defects' modules (m[1], m[2], the string's m[4], m[5]) and names classes
    held = re.findall(r'<g [^>]*stroke="#000000"[^>]*>(.*?)</g>', page)
    assert sum(g.count('data-m="') for g in held) == 4 and "有未消除缺陷的组件以黑色粗边标出" in page
    assert f"<title>{m[4]} · A-01-S1 · 组串离线</title>" in page
    features = client.get(f"{PV}/plants/{pid}/layout", headers=world.alice.headers).json()["features"][1:]
    assert page.count('<tr id="string-') == len({f["properties"]["string"] for f in features}) > 1
    assert f'href="/pv/plants/{pid}/strings?show=defective#strings">1 个组串有未消除缺陷</a>' in page
    only = alice.get(f"/pv/plants/{pid}/strings", params={"show": "defective"}).text
    assert only.count('<tr id="string-') == 1 and '<tr id="string-A-01-S1">' in only and "显示全部" in only
    odd = alice.get(f"/pv/plants/{pid}/strings", params={"show": "<b>"})  # anything else: every string
    assert odd.status_code == 200 and odd.text.count('<tr id="string-') == page.count('<tr id="string-')
    fl.fly(28, [m[1], m[2], m[4], m[5]], {})  # a flight that sees them all without the defects
    page = alice.get(f"/pv/plants/{pid}/strings").text
    assert "CoA " not in page and "组串离线" not in page and "有未消除缺陷" not in page
    assert 'stroke="#000000"' not in page
    assert "项</span>" not in alice.get(f"/pv/plants/{pid}").text  # nothing open: no count on the plant page


def test_the_ledger_of_a_real_flight_lists_its_findings_as_open(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    flight = tiny_flight(tmp_path, frames=6)
    plant = import_plant(client, world.alice.headers, flight)
    pid = plant["id"]
    empty = ledger(client, world.alice.headers, pid)
    assert (empty["flights"], empty["defects"]) == (0, [])
    alice, _ = as_user(client, world.alice)
    assert "本电站尚无已完成的巡检" in alice.get(f"/pv/plants/{pid}/defects").text

    files = [("file", ("flight.zip", flight.zip(), "application/zip"))]
    form = {"camera": "M3T", "irradiance_w_m2": "850"}
    r = client.post(f"{PV}/plants/{pid}/inspections", files=files, data=form, headers=world.bob.headers)
    assert r.status_code == 202, r.text
    assert run_worker(client, factory, registry) == [r.json()["id"]]
    findings = client.get(f"{PV}/inspections/{r.json()['id']}/findings", headers=world.alice.headers).json()
    with unit_of_work(factory, Scope.for_system()) as s:
        strings = pv_service.module_strings(s, pid, [f["module_id"] for f in findings])

    def key(module_id: str, cls: str) -> tuple[str, str]:  # an offline string is one defect
        return (strings[module_id], cls) if cls == "string_offline" else (module_id, cls)

    got = ledger(client, world.alice.headers, pid)
    expected = {key(f["module_id"], f["anomaly_class"]) for f in findings}
    assert any(cls == "string_offline" for _, cls in expected), "the flight plants an offline string"
    assert got["flights"] == 1 and got["open"] == len(expected) and got["resolved"] == 0
    assert {key(d["module_id"], d["anomaly_class"]) for d in got["defects"]} == expected
    assert sorted(m for d in got["defects"] for m in d["modules"]) == sorted(f["module_id"] for f in findings)
    assert all(d["rechecked"] is False and d["finding_id"] for d in got["defects"])
    transient = sum(1 for _, cls in expected if cls in ("shading", "soiling", "vegetation"))
    assert transient and got["open_not_estimated"] == transient
    page = alice.get(f"/pv/plants/{pid}/defects").text
    assert page.count('class="thermal-thumb"') == len(expected)  # the crop of each defect's latest finding
    assert f"另有 {transient} 项未消除缺陷（遮挡、积灰、植被）未计入" in page
    assert "日发电量按屋顶面积估算" in page  # no energy given: the roof's estimate, as on the plant page

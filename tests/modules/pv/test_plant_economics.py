"""A plant's own cleaning economics (cost of a cleaning, tariff, daily energy, soiling rate): kept with the
plant through the API and the plant page, audited, and read by the plant page, its defect ledger and its
O&M report in place of the platform's defaults; a value left blank is the default again."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.core.models import AuditEntry
from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.pv import loop
from gongzhi.modules.pv import report as rep
from gongzhi.modules.pv.models import PvInspection, PvPlant
from tests.conftest import World
from tests.web.helpers import as_user

from .test_defect_ledger import Flights
from .test_plants_api import PV, make_plant
from .test_report import make

COLUMNS = ["cleaning_cost_yuan", "tariff_yuan_kwh", "energy_kwh_per_day", "soiling_rate_per_day"]


def economics(client: TestClient, who: dict[str, str], pid: int) -> dict[str, Any]:
    r = client.get(f"{PV}/plants/{pid}/economics", headers=who)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_api_keeps_a_plants_economics_and_a_value_left_out_is_the_default_again(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    plant = make_plant(client, world.alice.headers, code="econ-api")
    pid, estimate = plant["id"], loop.default_energy_kwh_per_day(plant["area_m2"])
    assert economics(client, world.vera.headers, pid) == {
        "cleaning_cost_yuan": loop.DEFAULT_CLEANING_COST_YUAN,
        "tariff_yuan_kwh": loop.DEFAULT_TARIFF_YUAN_KWH,
        "energy_kwh_per_day": estimate,
        "soiling_rate_per_day": loop.DEFAULT_RATE_PER_DAY,
        "defaults": COLUMNS,
    }
    own = {
        "cleaning_cost_yuan": 3500,
        "tariff_yuan_kwh": 0.65,
        "energy_kwh_per_day": 0,
        "soiling_rate_per_day": 0.003,
    }
    r = client.put(f"{PV}/plants/{pid}/economics", json=own, headers=world.alice.headers)
    assert r.status_code == 200, r.text
    # an energy of 0 is the roof's estimate, as the console's 0 is
    assert r.json() == {**own, "energy_kwh_per_day": estimate, "defaults": ["energy_kwh_per_day"]}
    assert economics(client, world.vera.headers, pid) == r.json()
    with unit_of_work(factory, Scope.for_system()) as s:
        [entry] = s.execute(
            select(AuditEntry).where(
                AuditEntry.action == "pv.plant.economics", AuditEntry.object_id == str(pid)
            )
        ).scalars()
        assert entry.actor == "alice"
        assert entry.data["changed"]["tariff_yuan_kwh"] == [None, 0.65]
        assert entry.data["changed"]["energy_kwh_per_day"] == [None, 0]

    # refused at the edge, and nothing changes
    for bad in (
        {"tariff_yuan_kwh": -0.1},
        {"tariff_yuan_kwh": 1000},
        {"soiling_rate_per_day": 0.5},
        {"cleaning_cost_yuan": "lots"},
        {"energy_kwh_per_day": 1e12},
        {"tariff": 0.5},
    ):
        r = client.put(f"{PV}/plants/{pid}/economics", json=bad, headers=world.alice.headers)
        assert r.status_code == 422, (bad, r.text)
    r = client.put(f"{PV}/plants/{pid}/economics", json=own, headers=world.vera.headers)
    assert r.status_code == 403, r.text  # a viewer reads them, but may not set them
    assert economics(client, world.vera.headers, pid)["tariff_yuan_kwh"] == 0.65

    # all at once: what is left out goes back to the default
    r = client.put(f"{PV}/plants/{pid}/economics", json={"tariff_yuan_kwh": 0.5}, headers=world.alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["tariff_yuan_kwh"] == 0.5 and r.json()["defaults"] == [
        c for c in COLUMNS if c != "tariff_yuan_kwh"
    ]
    assert client.get(f"{PV}/plants/{pid}/economics", headers=world.charlie.headers).status_code == 404


def _field(page: str, name: str) -> tuple[str, str]:
    """The value and placeholder of the economics form's input ``name``."""
    tag = re.search(rf'<input id="e-{name}" name="{name}"[^>]*>', page)
    assert tag, name
    value = re.search(r'value="([^"]*)"', tag.group(0))
    placeholder = re.search(r'placeholder="([^"]*)"', tag.group(0))
    return (value.group(1) if value else ""), (placeholder.group(1) if placeholder else "")


def test_the_plant_page_saves_its_economics_and_tries_others_without_keeping_them(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    plant = make_plant(client, world.alice.headers, code="econ-page")
    pid = plant["id"]
    alice, csrf = as_user(client, world.alice)
    page = alice.get(f"/pv/plants/{pid}").text
    # blank fields, the defaults greyed in their placeholders
    assert _field(page, "tariff") == ("", "0.4") and _field(page, "cost") == ("", "2000")
    assert _field(page, "energy")[1] == f"{loop.default_energy_kwh_per_day(plant['area_m2']):g}"
    assert "保存为本电站参数" in page and "留空的项按平台默认值" in page
    form = {
        "cost": "3500",
        "tariff": "0.65",
        "energy": "",
        "rate": "0.3",
        "action": "save",
        "csrf_token": csrf,
    }
    r = alice.post(f"/pv/plants/{pid}/economics", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/pv/plants/{pid}#economics"
    with unit_of_work(factory, Scope.for_system()) as s:
        p = s.get_one(PvPlant, pid)
        assert (p.cleaning_cost_yuan, p.tariff_yuan_kwh, p.energy_kwh_per_day) == (3500, 0.65, None)
        assert p.soiling_rate_per_day is not None and abs(p.soiling_rate_per_day - 0.003) < 1e-12
    page = alice.get(f"/pv/plants/{pid}").text
    assert (
        _field(page, "tariff")[0] == "0.65"
        and _field(page, "rate")[0] == "0.3"
        and _field(page, "energy")[0] == ""
    )
    assert "本电站的经济参数" in page
    # a try: the page at other values, nothing kept
    r = alice.post(
        f"/pv/plants/{pid}/economics", data={**form, "tariff": "0.9", "action": "try"}, follow_redirects=False
    )
    assert (
        r.status_code == 303
        and r.headers["location"] == f"/pv/plants/{pid}?cost=3500&tariff=0.9&rate=0.3#economics"
    )
    # a number is carried as typed, not rounded to six digits
    r2 = alice.post(
        f"/pv/plants/{pid}/economics",
        data={**form, "energy": "1234567.5", "action": "try"},
        follow_redirects=False,
    )
    assert "energy=1234567.5&" in r2.headers["location"]
    assert _field(alice.get(r2.headers["location"]).text, "energy")[0] == "1234567.5"
    page = alice.get(r.headers["location"]).text
    assert _field(page, "tariff")[0] == "0.9" and "仅供本次查看" in page
    with unit_of_work(factory, Scope.for_system()) as s:
        assert s.get_one(PvPlant, pid).tariff_yuan_kwh == 0.65
    # a bad value: said on the page, the form as typed, nothing kept
    r = alice.post(f"/pv/plants/{pid}/economics", data={**form, "rate": "80", "tariff": "0.7"})
    assert r.status_code == 400 and "未作修改" in r.text and "每日积灰速率（百分比）: " in r.text  # its label
    assert _field(r.text, "rate")[0] == "80" and _field(r.text, "tariff")[0] == "0.7"
    for bad in ({"tariff": "-1"}, {"rate": "nan"}, {"cost": "1e300"}):
        assert alice.get(f"/pv/plants/{pid}", params=bad).status_code == 422
    assert "电价（元/千瓦时）: 应不小于 0" in alice.get(f"/pv/plants/{pid}", params={"tariff": "-1"}).text
    with unit_of_work(factory, Scope.for_system()) as s:
        assert s.get_one(PvPlant, pid).tariff_yuan_kwh == 0.65
    # a viewer may try but not save, and is not offered the button
    vera, vera_csrf = as_user(client, world.vera)
    assert "保存为本电站参数" not in vera.get(f"/pv/plants/{pid}").text
    form["csrf_token"] = vera_csrf
    assert (
        vera.post(
            f"/pv/plants/{pid}/economics", data={**form, "action": "try"}, follow_redirects=False
        ).status_code
        == 303
    )
    assert vera.post(f"/pv/plants/{pid}/economics", data=form).status_code == 403


def test_the_ledger_and_the_report_use_the_plants_own_economics(
    client: TestClient, world: World, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    plant = make_plant(client, world.alice.headers, code="econ-ledger")
    pid = plant["id"]
    layout = client.get(f"{PV}/plants/{pid}/layout", headers=world.alice.headers).json()
    mid = next(f["properties"]["id"] for f in layout["features"] if f["properties"]["kind"] == "module")
    Flights(factory, world.a, pid).fly(0, [mid], {(mid, "module_offline"): {"severity": "S3", "coa": 3}})
    own = {"tariff_yuan_kwh": 0.8, "energy_kwh_per_day": 500}
    assert (
        client.put(f"{PV}/plants/{pid}/economics", json=own, headers=world.alice.headers).status_code == 200
    )
    alice, _ = as_user(client, world.alice)
    page = alice.get(f"/pv/plants/{pid}/defects").text
    kwh = 500 / plant["module_count"]  # one module offline: all of its share of the plant's energy
    assert f"每天约 {round(kwh, 1)} 千瓦时，每年约 ¥{round(kwh * 365 * 0.8):,}。" in page
    assert "日发电量按屋顶面积估算" not in page and "在电站页面填写" not in page
    page = alice.get(f"/pv/plants/{pid}/defects", params={"tariff": "0.4"}).text  # a look at another tariff
    assert f"每年约 ¥{round(kwh * 365 * 0.4):,}。" in page

    insp, store = make(factory, world, tmp_path, irradiance=720)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        r = rep.build_report(s, insp, store)
        other = s.get_one(PvInspection, insp).plant_id
    assert r.economics == loop.default_economics(r.area_m2)
    assert set(r.economics_defaults) == set(loop.ECONOMICS_FIELDS)
    assert "其中 C、E、p、s 为平台默认值（日发电量按屋顶面积估算）" in r.economics_text("zh-CN")
    own = {"tariff_yuan_kwh": 0.7, "cleaning_cost_yuan": 900}
    assert (
        client.put(f"{PV}/plants/{other}/economics", json=own, headers=world.alice.headers).status_code == 200
    )
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        r = rep.build_report(s, insp, store)
    assert r.economics["tariff_per_kwh"] == 0.7 and r.economics["cleaning_cost"] == 900.0
    assert r.economics_defaults == ("energy_kwh_per_day", "assumed_rate_per_day")
    zh = r.economics_text("zh-CN")
    assert (
        "C = 单次清洗费用 900 元" in zh and "p = 电价 0.7 元/千瓦时" in zh and "其中 E、s 为平台默认值" in zh
    )
    assert "Of these, E, s are the platform's defaults" in r.economics_text("en")
    assert "电价 0.7 元/千瓦时" in r.loss_text("zh-CN")

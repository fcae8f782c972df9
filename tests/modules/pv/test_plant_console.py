"""Plants added from the console: a layout file imported (GeoJSON, or CSV with the roof outline), or a layout
laid out from a roof outline file; what a file left to be assumed is named on the plant's page; a refusal
comes back on the plants page, said why, with the fields as typed; a viewer sees no form."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.core.models import AuditEntry
from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.pv.io import plant as plant_io
from tests.conftest import World
from tests.web.helpers import as_user

from .test_plants_api import PV, make_plant, outline


def exported(client: TestClient, world: World) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """A plant made through the API, and its layout as GeoJSON and as CSV."""
    plant = make_plant(client, world.alice.headers, code="source")
    geojson = client.get(f"{PV}/plants/{plant['id']}/layout", headers=world.alice.headers).json()
    csv_text = client.get(f"{PV}/plants/{plant['id']}/layout?format=csv", headers=world.alice.headers).content
    return plant, geojson, csv_text


def plant_id(response: Any) -> int:
    assert response.status_code == 303, response.text[:2000]
    found = re.fullmatch(r"/pv/plants/(\d+)", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


def test_a_planner_imports_a_layout_file_and_the_plant_page_names_what_it_left_out(
    client: TestClient, world: World
) -> None:
    source, geojson, csv_text = exported(client, world)
    alice, csrf = as_user(client, world.alice)
    page = alice.get("/pv").text
    assert "新增电站" in page and 'action="/pv/plants/import"' in page and 'action="/pv/plants/new"' in page

    # a file written by gongzhi gives every plant property: nothing is assumed
    files = {"file": ("roof-a.geojson", json.dumps(geojson).encode(), "application/geo+json")}
    r = alice.post("/pv/plants/import", data={"csrf_token": csrf}, files=files, follow_redirects=False)
    whole = plant_id(r)
    page = alice.get(f"/pv/plants/{whole}").text
    assert f"已导入 {source['module_count']} 块组件" in page  # the toast
    assert "72 片电池 · 倾角 10° · 排方位角 90° · 竖装 · 由布局文件导入" in page
    assert "布局文件未给出" not in page
    assert page.count('data-m="') == source["module_count"]  # no inspection yet: the layout is the map
    for link in (f"/api/v1/pv/plants/{whole}/layout", f"/api/v1/pv/plants/{whole}/layout?format=csv"):
        assert f'href="{link}"' in page and alice.get(link).status_code == 200  # the file to import elsewhere
    api = client.get(f"{PV}/plants/{whole}", headers=world.alice.headers).json()
    assert api["code"] == "roof-a" and "assumed" not in api["layout_params"]

    # another tool's file: no tilt, module type or strings
    roof = geojson["features"][0]["properties"]
    for key in ("tilt_deg", "module_type", "width_m", "length_m", "cells_short", "cells_long", "half_cut"):
        roof.pop(key)
    for f in geojson["features"][1:]:
        f["properties"].pop("string")
    files = {"file": ("other.geojson", json.dumps(geojson).encode(), "application/geo+json")}
    form = {"csrf_token": csrf, "code": "other-tool", "name": "外部工具导出"}
    partial = plant_id(alice.post("/pv/plants/import", data=form, files=files, follow_redirects=False))
    api = client.get(f"{PV}/plants/{partial}", headers=world.alice.headers).json()
    assert api["name"] == "外部工具导出" and api["layout_params"]["assumed"] == [
        "module_type",
        "tilt_deg",
        "string",
    ]
    page = alice.get(f"/pv/plants/{partial}").text
    assert "布局文件未给出，已按默认值取用" in page
    assert "<li>组件类型：72 片电池</li>" in page and "<li>倾角：10°</li>" in page and "<li>组串：" in page
    assert "安装方向：" not in page  # the file gave the orientation
    alice.cookies.set("gz_lang", "en")
    page = alice.get(f"/pv/plants/{partial}").text
    assert "Not in the layout file, so taken at the defaults" in page and "<li>tilt: 10°</li>" in page
    alice.cookies.set("gz_lang", "zh_CN")

    # CSV with the roof outline as a file (a FeatureCollection holding it, as a GIS tool saves a polygon)
    roof_file = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                                                             "geometry": outline()}]}  # fmt: skip
    files = {
        "file": ("m.csv", csv_text, "text/csv"),
        "roof": ("roof.geojson", json.dumps(roof_file).encode(), "application/geo+json"),
    }
    from_csv = plant_id(
        alice.post("/pv/plants/import", data={"csrf_token": csrf, "code": "csv-1"}, files=files,
                   follow_redirects=False)
    )  # fmt: skip
    a = client.get(f"{PV}/plants/{source['id']}/layout", headers=world.alice.headers).json()
    b = client.get(f"{PV}/plants/{from_csv}/layout", headers=world.alice.headers).json()
    assert [f.get("id") for f in a["features"]] == [f.get("id") for f in b["features"]]


def test_a_planner_lays_a_plant_out_from_a_roof_file(client: TestClient, world: World) -> None:
    alice, csrf = as_user(client, world.alice)
    roof = {"type": "Feature", "properties": {"name": "roof"}, "geometry": outline()}
    form = {"csrf_token": csrf, "code": "new-roof", "name": "新屋顶", "module_type": "144-half-cut",
            "tilt_deg": "15", "row_azimuth_deg": "", "orientation": "landscape",
            "modules_per_string": "18", "positioning": "gnss"}  # fmt: skip
    files = {"roof": ("roof.geojson", json.dumps(roof).encode(), "application/geo+json")}
    pid = plant_id(alice.post("/pv/plants/new", data=form, files=files, follow_redirects=False))
    api = client.get(f"{PV}/plants/{pid}", headers=world.alice.headers).json()
    assert api["positioning"] == "gnss"
    params = api["layout_params"]
    assert (api["tilt_deg"], api["row_azimuth_deg"]) == (15.0, 90.0)  # the azimuth left empty: the default
    assert params["module"]["name"] == "144-half-cut" and params["portrait"] is False
    assert params["modules_per_string"] == 18 and "assumed" not in params
    page = alice.get(f"/pv/plants/{pid}").text
    assert "144 片半片电池 · 倾角 15° · 排方位角 90° · 横装 · 按屋顶轮廓排布" in page
    assert f"已排布 {api['module_count']} 块组件" in page and api["module_count"] > 5
    # the same as the API lays out from the same outline and parameters
    same = make_plant(client, world.alice.headers, code="api-roof", module_type="144-half-cut", tilt_deg=15,
                      portrait=False, modules_per_string=18, setback_m=1.0)  # fmt: skip
    assert same["module_count"] == api["module_count"]


def test_refusals_come_back_on_the_plants_page_with_the_fields_kept(client: TestClient, world: World) -> None:
    _, geojson, csv_text = exported(client, world)
    alice, csrf = as_user(client, world.alice)
    layout = ("plant.geojson", json.dumps(geojson).encode(), "application/geo+json")
    roof = ("roof.geojson", json.dumps(outline()).encode(), "application/geo+json")
    two = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": outline()}] * 2}
    new = {"csrf_token": csrf, "name": "新屋顶", "tilt_deg": "12.5", "orientation": "landscape",
           "positioning": "gnss"}  # fmt: skip
    cases: list[tuple[str, dict[str, str], dict[str, Any], str]] = [
        ("import", {"code": "bad code!"}, {"file": layout}, "电站编码只能包含字母"),
        ("import", {"code": "source"}, {"file": layout}, "已存在"),  # the code is taken
        ("import", {}, {"file": ("m.csv", csv_text, "text/csv")}, "m.csv：CSV 布局需附屋顶轮廓"),
        ("import", {}, {"file": ("m.csv", b"", "text/csv")}, "m.csv 为空或超过上传大小限制"),
        ("import", {}, {"file": layout, "roof": ("r.geojson", b"{not json", "application/json")},
         "r.geojson 不是 GeoJSON"),
        ("new", {**new, "code": "n1"}, {"roof": ("r.geojson", b"[1, 2]", "application/json")},
         "r.geojson 不是 GeoJSON：其内容不是一个对象"),
        ("new", {**new, "code": "n2"}, {"roof": ("r.geojson", json.dumps(two).encode(), "application/json")},
         "含 2 个多边形"),
        ("new", {**new, "code": "n3", "tilt_deg": "95"}, {"roof": roof}, "tilt_deg"),
        ("new", {**new, "code": "n4", "module_type": "99"}, {"roof": roof}, "未知的组件型号 &#39;99&#39;"),
        ("new", {**new, "code": ""}, {"roof": roof}, "code"),
        ("new", {**new, "code": "n5", "positioning": "rtk-fixed"}, {"roof": roof}, "未知的定位方式"),
        ("import", {"code": "i1", "positioning": "rtk-fixed"}, {"file": layout}, "未知的定位方式"),
    ]  # fmt: skip
    before = len(client.get(f"{PV}/plants", headers=world.alice.headers).json())
    for form, fields, files, said in cases:
        r = alice.post(f"/pv/plants/{form}", data={"csrf_token": csrf, **fields}, files=files)
        assert r.status_code == 400, (fields, r.text[:500])
        assert "未新增电站" in r.text and said in r.text, (fields, said)
        if form == "new":  # what was typed is still there
            assert 'value="新屋顶"' in r.text and f'value="{fields["tilt_deg"]}"' in r.text
            assert '<option value="landscape" selected>' in r.text
            assert ('<option value="gnss" selected>' in r.text) == (fields["positioning"] == "gnss")
    assert len(client.get(f"{PV}/plants", headers=world.alice.headers).json()) == before


def test_viewers_see_no_form_and_cannot_add_plants(client: TestClient, world: World) -> None:
    _, geojson, _ = exported(client, world)
    vera, csrf = as_user(client, world.vera)
    page = vera.get("/pv").text
    assert "新增电站" not in page and 'action="/pv/plants/import"' not in page
    files = {"file": ("v.geojson", json.dumps(geojson).encode(), "application/geo+json")}
    r = vera.post("/pv/plants/import", data={"csrf_token": csrf}, files=files, follow_redirects=False)
    assert r.status_code == 403
    assert all(p["code"] != "v" for p in client.get(f"{PV}/plants", headers=world.alice.headers).json())


def test_assumed_properties_name_what_a_plant_file_leaves_out() -> None:
    full = {"module_type": "72", "tilt_deg": 10, "portrait": True}
    assert plant_io.assumed_properties(full, [{"string": "A-01-S1"}]) == []
    assert plant_io.assumed_properties({}, [{}]) == ["module_type", "tilt_deg", "portrait", "string"]
    # a module size given in full is no assumption, and empty CSV cells are none given
    sized = {"width_m": "1.1", "tilt_deg": "", "portrait": "false"}
    assert plant_io.assumed_properties(sized, [{"string": "S1"}, {"string": " "}]) == ["tilt_deg", "string"]
    assert plant_io.csv_assumed([]) == ["module_type", "tilt_deg", "portrait"]


def test_the_flight_plan_page_shows_the_apis_plan_its_path_and_the_files_to_fly_it(
    client: TestClient, world: World
) -> None:
    plant = make_plant(client, world.alice.headers, code="plan-roof")
    vera, _ = as_user(client, world.vera)  # planning only reads: a viewer may plan too
    assert f'href="/pv/plants/{plant["id"]}/plan"' in vera.get(f"/pv/plants/{plant['id']}").text
    for query, pitch in (
        ("camera=M30T&gsd_cm=1.5", None),
        ("camera=M3T&altitude_m=20&gimbal_pitch_deg=-60", -60),
    ):
        page = vera.get(f"/pv/plants/{plant['id']}/plan?{query}")
        assert page.status_code == 200, page.text[:500]
        api = client.get(f"{PV}/plants/{plant['id']}/flight-plan?{query}", headers=world.vera.headers).json()
        text = page.text
        assert (
            f'<td class="num">{api["altitude_m"]}</td>' in text
            and f'<td class="num">{api["images"]}</td>' in text
        )
        assert f'<td class="num">{api["total_time_min"]}</td>' in text and "总用时" in text
        assert text.count('class="pass"/>') == api["lines"]  # each survey line drawn once
        assert text.count('fill="#e76f51"/>') == api["images"]  # and each image's position
        assert ("视场中心在飞机前方" in text) == (pitch is not None)
        # the plant has modules: the plan keeps each whole in two images of a line, and says so
        assert api["module_extent_m"] > 0 and f"每块组件（沿航线 {api['module_extent_m']} m）" in text
        for fmt in ("plan", "kmz"):
            href = (
                f"/api/v1/pv/plants/{plant['id']}/flight-plan?{query.replace('&', '&amp;')}&amp;format={fmt}"
            )
            assert href in text
            got = vera.get(href.replace("&amp;", "&"))
            assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    # with no parameters: the M3T at the IEC TS 62446-3 screening GSD, as the API plans it
    default = client.get(f"{PV}/plants/{plant['id']}/flight-plan", headers=world.vera.headers).json()
    assert f'<td class="num">{default["gsd_cm"]}</td>' in vera.get(f"/pv/plants/{plant['id']}/plan").text
    # a course: the lines' azimuth itself, 360° being north; the files to fly it carry it
    page = vera.get(f"/pv/plants/{plant['id']}/plan?line_azimuth_deg=360")
    assert page.status_code == 200 and "方位角 0.0°" in page.text and "航线角度" in page.text, page.text[
        -3000:
    ]
    assert "line_azimuth_deg=0&amp;format=kmz" in page.text
    fewest = vera.get(f"/pv/plants/{plant['id']}/plan?lines=fewest_turns")
    assert fewest.status_code == 200 and '<option value="fewest_turns" selected>' in fewest.text
    for query, said in (
        ("lines=fewest_turns&line_azimuth_deg=10", "不要同时选择"),
        ("lines=diagonal", "未知的航线方向"),
        ("line_azimuth_deg=400", "400 超出 0 … 360"),
        ("altitude_m=20&gsd_cm=1", "不要同时填写"),
        ("altitude_m=abc", "不是数字"),
        ("gimbal_pitch_deg=-10", "-10 超出 -90 … -30"),
        ("camera=X9", "X9"),
    ):
        page = vera.get(f"/pv/plants/{plant['id']}/plan?{query}")
        assert page.status_code == 400 and "无法规划航线" in page.text and said in page.text, (
            query,
            page.text[-3000:],
        )
    assert vera.get("/pv/plants/999999/plan").status_code == 404


def test_a_plants_parameters_are_corrected_and_its_modules_follow(client: TestClient, world: World) -> None:
    _, geojson, _ = exported(client, world)
    roof = geojson["features"][0]["properties"]
    for key in ("tilt_deg", "module_type", "width_m", "length_m", "cells_short", "cells_long", "half_cut"):
        roof.pop(key)
    files = {"file": ("other.geojson", json.dumps(geojson).encode(), "application/geo+json")}
    plant = client.post(f"{PV}/plants/import", files=files, headers=world.alice.headers).json()
    assert plant["layout_params"]["assumed"] == ["module_type", "tilt_deg"]
    pid, url = plant["id"], f"{PV}/plants/{plant['id']}"
    before = client.get(f"{url}/layout", headers=world.alice.headers).json()["features"]

    def extent(feature: dict[str, Any]) -> float:  # the outline's north-south extent (rows run east-west)
        lats = [float(p[1]) for p in feature["geometry"]["coordinates"][0]]
        return max(lats) - min(lats)

    r = client.patch(url, json={"tilt_deg": 30}, headers=world.alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["tilt_deg"] == 30.0 and r.json()["layout_params"]["tilt_deg"] == 30.0
    assert r.json()["layout_params"]["assumed"] == ["module_type"]  # the tilt is no longer assumed
    after = client.get(f"{url}/layout", headers=world.alice.headers).json()["features"]
    assert [f.get("id") for f in after] == [f.get("id") for f in before]  # the same modules
    assert after[1]["properties"] == before[1]["properties"]  # in the same rows and strings
    ratio = extent(after[1]) / extent(before[1])  # across the row: the module's length × cos(tilt)
    assert abs(ratio - math.cos(math.radians(30)) / math.cos(math.radians(10))) < 1e-3, ratio
    r = client.patch(
        url, json={"module_type": "72", "row_azimuth_deg": 0, "name": "改名"}, headers=world.alice.headers
    )
    assert r.status_code == 200 and r.json()["name"] == "改名" and "assumed" not in r.json()["layout_params"]
    plan = client.get(f"{url}/flight-plan", headers=world.alice.headers).json()
    assert plan["line_azimuth_deg"] % 180 == 90.0  # lines across the rows, which now run north-south

    for body, status in (
        ({}, 400),
        ({"tilt_deg": 95}, 422),
        ({"module_type": "99"}, 400),
        ({"colour": "x"}, 422),
    ):
        r = client.patch(url, json=body, headers=world.alice.headers)
        assert r.status_code == status, (body, r.text)
    assert client.patch(url, json={"tilt_deg": 5}, headers=world.vera.headers).status_code == 403
    assert client.patch(url, json={"tilt_deg": 5}, headers=world.charlie.headers).status_code == 404
    assert client.get(url, headers=world.alice.headers).json()["tilt_deg"] == 30.0  # none of those changed it

    # from the console
    alice, csrf = as_user(client, world.alice)
    page = alice.get(f"/pv/plants/{pid}").text
    assert "修改电站参数" in page and f'action="/pv/plants/{pid}/parameters"' in page
    form = {"csrf_token": csrf, "name": "改名", "module_type": "72", "tilt_deg": "15", "row_azimuth_deg": "0",
            "orientation": "landscape"}  # fmt: skip
    r = alice.post(f"/pv/plants/{pid}/parameters", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    page = alice.get(f"/pv/plants/{pid}").text
    assert "电站参数已保存" in page and "倾角 15°" in page and "横装" in page
    r = alice.post(f"/pv/plants/{pid}/parameters", data={**form, "tilt_deg": "95"})
    assert r.status_code == 400 and "未作修改" in r.text and "tilt_deg" in r.text
    vera, csrf_v = as_user(client, world.vera)
    assert "修改电站参数" not in vera.get(f"/pv/plants/{pid}").text
    r = vera.post(f"/pv/plants/{pid}/parameters", data={**form, "csrf_token": csrf_v}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get(url, headers=world.alice.headers).json()["tilt_deg"] == 15.0

    # a module type of the file's own (not one of the named ones) is kept by a form that changes the rest
    roof.update(module_type="custom-540", width_m=1.134, length_m=2.278, cells_short=6, cells_long=24)
    files = {"file": ("own.geojson", json.dumps(geojson).encode(), "application/geo+json")}
    own = client.post(f"{PV}/plants/import", files=files, data={"code": "own"}, headers=world.alice.headers)
    own_id = own.json()["id"]
    page = alice.get(f"/pv/plants/{own_id}").text
    assert '<option value="" selected>custom-540 · 按导入时</option>' in page
    r = alice.post(
        f"/pv/plants/{own_id}/parameters", data={**form, "module_type": ""}, follow_redirects=False
    )
    assert r.status_code == 303
    kept = client.get(f"{PV}/plants/{own_id}", headers=world.alice.headers).json()
    assert kept["layout_params"]["module"]["name"] == "custom-540" and kept["tilt_deg"] == 15.0


def test_a_plant_whose_file_named_no_strings_is_wired_again(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    _, geojson, _ = exported(client, world)
    for feature in geojson["features"][1:]:
        feature["properties"].pop("string")
    files = {"file": ("unstrung.geojson", json.dumps(geojson).encode(), "application/geo+json")}
    plant = client.post(f"{PV}/plants/import", files=files, headers=world.alice.headers).json()
    assert "string" in plant["layout_params"]["assumed"]
    url = f"{PV}/plants/{plant['id']}"

    def strings() -> dict[str, tuple[str, int, int, str]]:
        features = client.get(f"{url}/layout", headers=world.alice.headers).json()["features"][1:]
        props = [f["properties"] for f in features]
        return {p["id"]: (p["array"], p["row"], p["index"], p["string"]) for p in props}

    before = strings()
    assert {s for *_, s in before.values()} == {
        f"{a}-{r:02d}-S1" for a, r, _, _ in before.values()
    }  # one a row
    longest = max(i for _, _, i, _ in before.values())
    assert longest > 4

    r = client.patch(url, json={"modules_per_string": 4}, headers=world.alice.headers)
    assert r.status_code == 200, r.text
    assert "string" not in r.json()["layout_params"].get("assumed", [])
    assert r.json()["layout_params"]["modules_per_string"] == 4
    after = strings()
    assert after.keys() == before.keys()
    for mid, (array, row, index, string) in after.items():
        assert string == f"{array}-{row:02d}-S{(index - 1) // 4 + 1}", (mid, string)
        assert before[mid][:3] == (array, row, index)  # the modules stay where they were
    assert len({s for *_, s in after.values()}) > len({s for *_, s in before.values()})
    with unit_of_work(factory, Scope.for_system()) as s:  # on the plant's audit trail: how many moved
        stmt = select(AuditEntry.data).where(
            AuditEntry.action == "pv.plant.update", AuditEntry.object_id == str(plant["id"])
        )
        [data] = s.execute(stmt).scalars()
    assert data["modules_restrung"] == sum(after[m][3] != before[m][3] for m in after) > 0
    assert data["changed"]["modules_per_string"] == [None, 4]

    for bad in (0, 201, "four"):
        r = client.patch(url, json={"modules_per_string": bad}, headers=world.alice.headers)
        assert r.status_code == 422, (bad, r.text)
    assert strings() == after

    # from the console: an empty string length keeps the strings, a number wires the plant again
    alice, csrf = as_user(client, world.alice)
    page = alice.get(f"/pv/plants/{plant['id']}").text
    assert (
        'name="modules_per_string"' in page and "保持不变。当前：每串 4 块组件。" in page
    )  # no space after 。
    form = {"csrf_token": csrf, "name": "改名", "tilt_deg": "10", "row_azimuth_deg": "90",
            "orientation": "portrait", "modules_per_string": ""}  # fmt: skip
    r = alice.post(f"/pv/plants/{plant['id']}/parameters", data=form, follow_redirects=False)
    assert r.status_code == 303 and strings() == after
    r = alice.post(
        f"/pv/plants/{plant['id']}/parameters",
        data={**form, "modules_per_string": "3"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert all(s == f"{a}-{r_:02d}-S{(i - 1) // 3 + 1}" for a, r_, i, s in strings().values())
    r = alice.post(f"/pv/plants/{plant['id']}/parameters", data={**form, "modules_per_string": "0"})
    assert r.status_code == 400 and "modules_per_string" in r.text


def test_a_save_is_audited_with_what_it_changed_or_confirmed_and_one_that_does_neither_is_not(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    _, geojson, _ = exported(client, world)
    geojson["features"][0]["properties"].pop("tilt_deg")
    files = {"file": ("tilt.geojson", json.dumps(geojson).encode(), "application/geo+json")}
    plant = client.post(f"{PV}/plants/import", files=files, headers=world.alice.headers).json()
    assert plant["layout_params"]["assumed"] == ["tilt_deg"]
    url = f"{PV}/plants/{plant['id']}"

    def entries() -> list[dict[str, Any]]:
        with unit_of_work(factory, Scope.for_system()) as s:
            stmt = select(AuditEntry.data).where(
                AuditEntry.action == "pv.plant.update", AuditEntry.object_id == str(plant["id"])
            )
            return list(s.execute(stmt.order_by(AuditEntry.id)).scalars())

    # the form sends every value it shows: the first save confirms the assumed tilt, the second nothing
    alice, csrf = as_user(client, world.alice)
    orientation = "portrait" if plant["layout_params"]["portrait"] else "landscape"
    form = {"csrf_token": csrf, "name": plant["name"], "tilt_deg": f"{plant['tilt_deg']:g}",
            "row_azimuth_deg": f"{plant['row_azimuth_deg']:g}", "orientation": orientation,
            "positioning": plant["positioning"]}  # fmt: skip
    for _ in range(2):
        r = alice.post(f"/pv/plants/{plant['id']}/parameters", data=form, follow_redirects=False)
        assert r.status_code == 303, r.text[-500:]
    assert entries() == [{"changed": {}, "confirmed": ["tilt_deg"]}]
    assert "assumed" not in client.get(url, headers=world.alice.headers).json()["layout_params"]
    assert client.patch(url, json={"positioning": "auto"}, headers=world.alice.headers).status_code == 200
    assert (
        client.patch(url, json={"tilt_deg": plant["tilt_deg"]}, headers=world.alice.headers).status_code
        == 200
    )
    assert len(entries()) == 1  # the same values again: nothing to audit
    r = client.patch(url, json={"positioning": "gnss", "tilt_deg": 12}, headers=world.alice.headers)
    assert r.status_code == 200, r.text
    assert entries()[1:] == [
        {"changed": {"tilt_deg": [plant["tilt_deg"], 12.0], "positioning": ["auto", "gnss"]}}
    ]

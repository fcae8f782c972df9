"""Plants through the API: generated from an outline or imported from GeoJSON/CSV, their layout read back,
flight plans downloaded for QGroundControl and DJI; bad input gets a clear 4xx."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook

from tests.conftest import World

from .shapes import rectangle

PV = "/api/v1/pv"
PROBLEM = "application/problem+json"


def outline(width: float = 30, height: float = 20) -> dict[str, Any]:
    ring = [list(p) for p in rectangle(width, height)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def make_plant(
    client: TestClient, who: dict[str, str], code: str = "roof-1", **layout: Any
) -> dict[str, Any]:
    body = {"code": code, "name": "报社屋顶", "polygon": outline(), "layout": {"setback_m": 0.5, **layout}}
    r = client.post(f"{PV}/plants", json=body, headers=who)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_plant_generated_from_its_outline_has_modules_with_stable_ids(
    client: TestClient, world: World
) -> None:
    plant = make_plant(client, world.alice.headers)
    assert plant["module_count"] > 20 and abs(plant["area_m2"] - 600) < 1
    r = client.get(f"{PV}/plants/{plant['id']}/layout", headers=world.vera.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    features = r.json()["features"]
    assert features[0]["properties"]["kind"] == "roof"
    ids = [f["id"] for f in features[1:]]
    assert len(ids) == plant["module_count"] and ids[0] == "A-01-01"
    again = make_plant(client, world.alice.headers, code="roof-2")
    second = client.get(f"{PV}/plants/{again['id']}/layout", headers=world.alice.headers).json()
    assert [f["id"] for f in second["features"][1:]] == ids


def test_a_layout_exported_as_geojson_or_csv_imports_to_the_same_modules(
    client: TestClient, world: World
) -> None:
    plant = make_plant(client, world.alice.headers)
    geojson = client.get(f"{PV}/plants/{plant['id']}/layout", headers=world.alice.headers).content
    csv_text = client.get(f"{PV}/plants/{plant['id']}/layout?format=csv", headers=world.alice.headers).content
    assert csv_text.startswith("\ufeff".encode())  # Excel and WPS then read it as UTF-8
    assert csv_text.decode("utf-8-sig").splitlines()[0].startswith("id,array,row,index,string,lon,lat")

    files = {"file": ("copy.geojson", geojson, "application/geo+json")}
    r = client.post(f"{PV}/plants/import", files=files, headers=world.alice.headers)
    assert r.status_code == 201, r.text
    assert r.json()["code"] == "copy" and r.json()["module_count"] == plant["module_count"]
    form = {"code": "from-csv", "polygon": json.dumps(outline())}
    r = client.post(
        f"{PV}/plants/import",
        files={"file": ("m.csv", csv_text, "text/csv")},
        data=form,
        headers=world.alice.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["module_count"] == plant["module_count"]
    a = client.get(f"{PV}/plants/{plant['id']}/layout", headers=world.alice.headers).json()
    b = client.get(f"{PV}/plants/{r.json()['id']}/layout", headers=world.alice.headers).json()
    assert [f.get("id") for f in a["features"]] == [f.get("id") for f in b["features"]]


def test_bad_plants_get_clear_4xx_problems(client: TestClient, world: World) -> None:
    alice = world.alice.headers
    make_plant(client, alice)

    def create(code: str, polygon: dict[str, Any], **layout: Any) -> dict[str, Any]:
        return {"json": {"code": code, "name": code, "polygon": polygon, "layout": layout}}

    def upload(name: str, body: bytes) -> dict[str, Any]:
        return {"files": {"file": (name, body, "application/octet-stream")}}

    attempts: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", "/plants", create("x", {"type": "Point"}), 400),
        ("POST", "/plants", create("roof-1", outline()), 409),
        ("POST", "/plants", create("tiny", outline(1, 1)), 400),
        ("POST", "/plants", create("y", outline(), module_type="99"), 400),
        ("POST", "/plants/import", upload("a.geojson", b'{"type": "Point"}'), 400),
        ("POST", "/plants/import", upload("a.csv", b"id,lon,lat\nA-01-01,1,2\n"), 400),
        ("POST", "/plants/import", upload("a.geojson", b"\xff\xfe"), 400),
        ("GET", "/plants/999999", {}, 404),
        ("GET", "/plants/999999/flight-plan", {}, 404),
    ]
    for method, path, kwargs, status in attempts:
        r = client.request(method, PV + path, headers=alice, **kwargs)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"] == PROBLEM
    r = client.post(f"{PV}/plants/import", headers=alice, **upload("roof.geojson", b"id,lon,lat\n"))
    assert (
        r.status_code == 400
        and r.json()["detail"] == "roof.geojson is not GeoJSON: it does not start with an object"
    )
    r = client.post(f"{PV}/plants", headers=world.vera.headers, **create("z", outline()))
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM


def test_a_flight_plan_downloads_for_qgroundcontrol_and_dji(client: TestClient, world: World) -> None:
    plant = make_plant(client, world.alice.headers)
    url = f"{PV}/plants/{plant['id']}/flight-plan"
    summary = client.get(url, params={"camera": "M3T"}, headers=world.alice.headers).json()
    assert summary["camera"] == "M3T" and summary["gsd_cm"] <= 3.32 and summary["images"] > 0
    assert abs(summary["line_azimuth_deg"] % 180 - 0) < 1  # rows run east-west, lines north-south
    # the plant has modules: each line sees every one whole in two images, the spacing shortened for that
    assert 1.5 < summary["module_extent_m"] < 2.5
    assert summary["trigger_spacing_m"] < summary["footprint_m"][1] / 2
    low = client.get(url, params={"altitude_m": 2}, headers=world.alice.headers)
    assert low.status_code == 400 and "fly higher" in low.json()["detail"], low.text
    qgc = client.get(
        url, params={"camera": "M3T", "format": "plan", "altitude_m": 30}, headers=world.alice.headers
    )
    assert qgc.status_code == 200 and "roof-1.plan" in qgc.headers["content-disposition"]
    mission = qgc.json()
    assert mission["fileType"] == "Plan" and mission["mission"]["items"][0]["command"] == 22
    kmz = client.get(
        url, params={"camera": "M30T", "format": "kmz", "gsd_cm": 3}, headers=world.alice.headers
    )
    assert kmz.status_code == 200
    assert set(zipfile.ZipFile(io.BytesIO(kmz.content)).namelist()) == {
        "wpmz/template.kml",
        "wpmz/waylines.wpml",
    }
    for params in ({"camera": "X9"}, {"altitude_m": 30, "gsd_cm": 3}):
        r = client.get(url, params=params, headers=world.alice.headers)
        assert r.status_code == 400 and r.headers["content-type"] == PROBLEM, r.text
    oblique = client.get(url, params={"gimbal_pitch_deg": -60}, headers=world.alice.headers).json()
    assert oblique["gimbal_pitch_deg"] == -60 and oblique["view_ahead_m"] > 0 and summary["view_ahead_m"] == 0
    assert oblique["gsd_cm"] == summary["gsd_cm"]  # the oblique views' GSD, from nearer: as a nadir flight's
    for pitch in (-95, -10, "level"):
        r = client.get(url, params={"gimbal_pitch_deg": pitch}, headers=world.alice.headers)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text


def test_a_flight_plans_lines_take_a_course_or_the_fewest_turns(client: TestClient, world: World) -> None:
    plant = make_plant(client, world.alice.headers)
    url = f"{PV}/plants/{plant['id']}/flight-plan"
    across = client.get(url, headers=world.alice.headers).json()
    # a course along the rows (east-west): the modules are sized by their width along the lines now
    along = client.get(url, params={"line_azimuth_deg": 90}, headers=world.alice.headers).json()
    assert along["line_azimuth_deg"] == 90 and along["module_extent_m"] < across["module_extent_m"]
    assert along["trigger_spacing_m"] > across["trigger_spacing_m"]
    fewest = client.get(url, params={"lines": "fewest_turns"}, headers=world.alice.headers).json()
    assert fewest["lines"] <= across["lines"] and fewest["module_extent_m"] > 0
    both = client.get(
        url, params={"lines": "fewest_turns", "line_azimuth_deg": 10}, headers=world.alice.headers
    )
    assert both.status_code == 400 and "not both" in both.json()["detail"], both.text
    for params in ({"line_azimuth_deg": 360}, {"line_azimuth_deg": -1}, {"lines": "diagonal"}):
        r = client.get(url, params=params, headers=world.alice.headers)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (params, r.text)


def test_a_layout_edited_in_excel_or_wps_imports_as_a_workbook_or_gb18030_csv(
    client: TestClient, world: World
) -> None:
    plant = make_plant(client, world.alice.headers)
    raw = client.get(f"{PV}/plants/{plant['id']}/layout?format=csv", headers=world.alice.headers).content
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    at = rows[0].index("string")
    for row in rows[1:]:
        row[at] = "1号逆变器-" + row[at]  # Chinese, as a Chinese Windows saves it: GB18030
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    ws.append([None] * len(rows[0]))  # an empty row, as a sheet often ends
    book = io.BytesIO()
    wb.save(book)
    form = {"polygon": json.dumps(outline())}
    for code, name, body in (
        ("gbk", "layout.csv", out.getvalue().encode("gb18030")),
        ("book", "layout.xlsx", book.getvalue()),
    ):
        files = {"file": (name, body, "application/octet-stream")}
        r = client.post(
            f"{PV}/plants/import", files=files, data={**form, "code": code}, headers=world.alice.headers
        )
        assert r.status_code == 201, (name, r.text)
        assert (
            r.json()["module_count"] == plant["module_count"] and "assumed" not in r.json()["layout_params"]
        )
        features = client.get(f"{PV}/plants/{r.json()['id']}/layout", headers=world.alice.headers).json()
        strings = {f["properties"]["string"] for f in features["features"][1:]}
        assert strings and all(s.startswith("1号逆变器-A-") for s in strings), strings
    files = {"file": ("broken.xlsx", b"PK\x03\x04 cut short", "application/octet-stream")}
    r = client.post(
        f"{PV}/plants/import", files=files, data={**form, "code": "broken"}, headers=world.alice.headers
    )
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
    assert r.json()["detail"] == "broken.xlsx: a plant layout is UTF-8 GeoJSON, CSV text or an .xlsx workbook"

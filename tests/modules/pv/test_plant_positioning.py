"""How a plant's flights are flown (its positioning: auto, rtk or gnss), set over the API and from its page:
its uploads that name none are analysed with it, one that names another keeps its own; setting it alone
leaves the modules as they are, and is audited; an unknown way is refused, and nothing changes."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.core.models import AuditEntry
from gongzhi.db import Scope, unit_of_work
from gongzhi.registry import Registry
from tests.conftest import World
from tests.web.helpers import as_user

from .flights import tiny_flight
from .test_inspections_api import import_plant, run_worker, upload
from .test_plants_api import PV, outline


def test_a_plant_is_laid_out_with_how_its_flights_are_flown_and_an_unknown_way_is_refused(
    client: TestClient, world: World
) -> None:
    body = {"code": "gnss-roof", "name": "无RTK屋顶", "polygon": outline(), "layout": {"setback_m": 0.5}}
    r = client.post(f"{PV}/plants", json={**body, "positioning": "gnss"}, headers=world.alice.headers)
    assert r.status_code == 201, r.text
    assert r.json()["positioning"] == "gnss"
    for positioning, status, said in (
        ("rtk-fixed", 400, "unknown positioning 'rtk-fixed'"),
        ("x" * 21, 422, ""),
    ):
        bad = {**body, "code": "other", "positioning": positioning}
        r = client.post(f"{PV}/plants", json=bad, headers=world.alice.headers)
        assert r.status_code == status and said in r.text, r.text
    codes = [p["code"] for p in client.get(f"{PV}/plants", headers=world.alice.headers).json()]
    assert "other" not in codes  # nothing kept by a refusal
    r = client.post(f"{PV}/plants", json={**body, "code": "plain"}, headers=world.alice.headers)
    assert r.json()["positioning"] == "auto"  # the default

    # an imported plant too
    layout = client.get(f"{PV}/plants/{r.json()['id']}/layout", headers=world.alice.headers).content
    files = {"file": ("roof.geojson", layout, "application/geo+json")}
    for code, positioning, status in (("imp-gnss", "gnss", 201), ("imp-bad", "rtk-fixed", 400)):
        r = client.post(
            f"{PV}/plants/import",
            files=files,
            data={"code": code, "positioning": positioning},
            headers=world.alice.headers,
        )
        assert r.status_code == status, r.text
    assert r.json()["detail"].startswith("unknown positioning 'rtk-fixed'")
    plants = {p["code"]: p for p in client.get(f"{PV}/plants", headers=world.alice.headers).json()}
    assert plants["imp-gnss"]["positioning"] == "gnss" and "imp-bad" not in plants
    r = client.post(f"{PV}/plants/import", files=files, data={"code": "imp"}, headers=world.alice.headers)
    assert r.json()["positioning"] == "auto"


def test_a_plants_uploads_follow_how_its_flights_are_flown_unless_they_say_otherwise(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    flight = tiny_flight(tmp_path, frames=3)
    plant = import_plant(client, world.alice.headers, flight)
    assert plant["positioning"] == "auto"
    url = f"{PV}/plants/{plant['id']}"
    before = client.get(f"{url}/layout", headers=world.alice.headers).json()

    r = client.patch(url, json={"positioning": "gnss"}, headers=world.alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["positioning"] == "gnss"
    assert client.get(f"{url}/layout", headers=world.alice.headers).json() == before  # modules as they were
    assert r.json()["layout_params"] == plant["layout_params"]
    with unit_of_work(factory, Scope.for_system()) as s:
        audit = s.execute(
            select(AuditEntry).where(
                AuditEntry.action == "pv.plant.update", AuditEntry.object_id == str(plant["id"])
            )
        ).scalar_one()
        assert audit.data == {"changed": {"positioning": ["auto", "gnss"]}}
    for body, status, said in (
        ({"positioning": "rtk-fixed"}, 400, "unknown positioning 'rtk-fixed'; known: auto, rtk, gnss"),
        ({"positioning": "rtk-fixed", "tilt_deg": 20}, 400, "unknown positioning"),  # nothing half-done
        ({}, 400, "positioning"),
    ):
        r = client.patch(url, json=body, headers=world.alice.headers)
        assert r.status_code == status and said in r.text, r.text
    got = client.get(url, headers=world.alice.headers).json()
    assert (got["positioning"], got["tilt_deg"]) == ("gnss", plant["tilt_deg"])
    assert client.patch(url, json={"positioning": "rtk"}, headers=world.vera.headers).status_code == 403

    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    named = upload(client, world.bob.headers, plant["id"], frames, irradiance_w_m2="850").json()
    own = upload(
        client, world.bob.headers, plant["id"], frames, irradiance_w_m2="850", positioning="rtk"
    ).json()
    assert (named["positioning"], own["positioning"]) == ("gnss", "rtk")
    assert run_worker(client, factory, registry) == [named["id"], own["id"]]
    summaries = [
        client.get(f"{PV}/inspections/{i}", headers=world.alice.headers).json()["summary"]
        for i in (named["id"], own["id"])
    ]
    assert [s["frames_named_without_rtk"] for s in summaries] == [len(frames), 0]

    # from the plant page: the form shows the plant's way, and the upload's select starts at it
    alice, csrf = as_user(client, world.alice)
    page = alice.get(f"/pv/plants/{plant['id']}").text
    for select_id in ("pp-pos", "u-pos"):
        options = page.split(f'id="{select_id}"')[1].split("</select>")[0]
        assert '<option value="gnss" selected>' in options and options.count(" selected") == 1, select_id
    form = {"csrf_token": csrf, "name": plant["name"], "positioning": "rtk"}
    r = alice.post(f"/pv/plants/{plant['id']}/parameters", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text[-500:]
    assert client.get(url, headers=world.alice.headers).json()["positioning"] == "rtk"
    r = alice.post(f"/pv/plants/{plant['id']}/parameters", data={**form, "positioning": "x"})
    assert r.status_code == 400 and "未作修改" in r.text and "未知的定位方式" in r.text
    assert client.get(url, headers=world.alice.headers).json()["positioning"] == "rtk"
    r = alice.post(
        f"/pv/plants/{plant['id']}/inspections",
        data={"csrf_token": csrf, "irradiance": "850"},
        files=frames,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[-500:]
    iid = int(r.headers["location"].rsplit("/", 1)[-1])
    assert client.get(f"{PV}/inspections/{iid}", headers=world.alice.headers).json()["positioning"] == "rtk"

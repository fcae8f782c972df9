"""A finished inspection's frames analysed again, as a new inspection of the same flight, after the plant's
parameters were corrected or to name its modules another way: through the API and from the inspection page;
the first inspection and its findings stay as they are; a running inspection, one without frames, an unknown
positioning, a viewer and an outsider are refused."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.pv.models import PvInspection
from gongzhi.registry import Registry
from tests.conftest import World
from tests.web.helpers import as_user

from .flights import tiny_flight
from .test_inspections_api import PROBLEM, import_plant, run_worker, upload
from .test_plants_api import PV


def test_a_flight_is_analysed_again_after_the_plant_is_corrected(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    flight = tiny_flight(tmp_path, frames=4)
    plant = import_plant(client, world.alice.headers, flight)
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    form = {"camera": "M3T", "irradiance_w_m2": "850", "started_at": "2026-11-30T03:00:00Z"}
    first = upload(client, world.bob.headers, plant["id"], frames, **form).json()
    url = f"{PV}/inspections/{first['id']}/reanalysis"
    queued = client.post(url, headers=world.alice.headers)
    assert queued.status_code == 409 and "queued" in queued.text  # not before it has ended
    assert run_worker(client, factory, registry) == [first["id"]]
    before = client.get(f"{PV}/inspections/{first['id']}/findings", headers=world.alice.headers).json()
    assert before

    assert client.patch(
        f"{PV}/plants/{plant['id']}", json={"tilt_deg": 12}, headers=world.alice.headers
    ).is_success
    r = client.post(url, headers=world.bob.headers)
    assert r.status_code == 202, r.text
    again = r.json()
    assert again["status"] == "queued" and again["source"] == "reanalysis" and again["id"] != first["id"]
    assert again["frame_count"] == first["frame_count"] == len(frames)
    assert again["started_at"] == first["started_at"] and again["irradiance_w_m2"] == 850.0
    assert again["summary"]["reanalysis_of"] == first["id"]
    assert run_worker(client, factory, registry) == [again["id"]]
    done = client.get(f"{PV}/inspections/{again['id']}", headers=world.alice.headers).json()
    assert done["status"] == "done", done
    found = client.get(f"{PV}/inspections/{again['id']}/findings", headers=world.alice.headers).json()
    assert {(f["module_id"], f["anomaly_class"]) for f in found} == {
        (f["module_id"], f["anomaly_class"]) for f in before
    }  # a 2° change of tilt changes nothing the rules see on this flight
    # the first inspection is as it was
    assert (
        client.get(f"{PV}/inspections/{first['id']}/findings", headers=world.alice.headers).json() == before
    )
    # the same sighting again: each finding joins its live alert, whose count of sightings stays at one
    assert {f["alert_id"] for f in found} == {f["alert_id"] for f in before} != {None}
    for alert_id in {f["alert_id"] for f in found}:
        alert = client.get(f"/api/v1/alerts/{alert_id}", headers=world.alice.headers).json()
        assert alert["count"] == 1, alert

    assert client.post(url, headers=world.vera.headers).status_code == 403
    assert client.post(url, headers=world.charlie.headers).status_code == 404
    with unit_of_work(factory, Scope.for_system()) as s:  # an inspection that kept no frames (demo history)
        empty = PvInspection(region_id=world.a, plant_id=plant["id"], status="done", source="demo-history")
        s.add(empty)
        s.flush()
        empty_id = empty.id
    r = client.post(f"{PV}/inspections/{empty_id}/reanalysis", headers=world.alice.headers)
    assert r.status_code == 409 and "kept no frames" in r.text

    # from the inspection page
    alice, csrf = as_user(client, world.alice)
    page = alice.get(f"/pv/inspections/{first['id']}").text
    assert f'action="/pv/inspections/{first["id"]}/reanalyse"' in page and "重新分析图像" in page
    empty_page = alice.get(f"/pv/inspections/{empty_id}").text
    assert "/reanalyse" not in empty_page  # nothing to analyse again
    assert "未保留图像" in empty_page and "0/0" not in empty_page  # its frames said as not kept, not as 0/0
    r = alice.post(
        f"/pv/inspections/{first['id']}/reanalyse", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    third = int(r.headers["location"].rsplit("/", 1)[1])
    page = alice.get(f"/pv/inspections/{third}").text
    assert f"按当时的电站参数重新分析巡检 #{first['id']} 的图像" in page and "已排队重新分析" in page
    assert "/reanalyse" not in page  # still queued
    r = alice.post(f"/pv/inspections/{third}/reanalyse", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/pv/inspections/{third}"
    assert "只有已结束的巡检可以重新分析" in alice.get(r.headers["location"]).text
    vera, _ = as_user(client, world.vera)
    assert "/reanalyse" not in vera.get(f"/pv/inspections/{first['id']}").text

    # an alert's page links the inspections that saw it (the latest first) and its module, with the crop
    finding = found[0]
    page = alice.get(f"/alerts/{finding['alert_id']}").text
    assert "相关页面" in page
    first_at = page.index(f'href="/pv/inspections/{first["id"]}"')
    assert page.index(f'href="/pv/inspections/{again["id"]}"') < first_at  # the re-analysis first
    assert f"光伏巡检 #{again['id']}" in page and f"组件 {finding['module_id']} 及其历史" in page
    history = f'href="/pv/plants/{plant["id"]}/modules/{finding["module_id"]}"'
    assert history in page and f'src="/pv/findings/{finding["id"]}/thumbnail.png"' in page
    assert alice.get(f"/pv/findings/{finding['id']}/thumbnail.png").content.startswith(b"\x89PNG")


def test_a_flight_analysed_again_keeps_how_its_modules_were_named(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    flight = tiny_flight(tmp_path, frames=3)
    plant = import_plant(client, world.alice.headers, flight)
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    first = upload(client, world.bob.headers, plant["id"], frames, irradiance_w_m2="850", positioning="gnss")
    assert first.json()["positioning"] == "gnss"
    assert run_worker(client, factory, registry) == [first.json()["id"]]
    r = client.post(f"{PV}/inspections/{first.json()['id']}/reanalysis", headers=world.bob.headers)
    assert r.status_code == 202, r.text
    again = r.json()
    assert again["positioning"] == "gnss"
    assert run_worker(client, factory, registry) == [again["id"]]
    done = client.get(f"{PV}/inspections/{again['id']}", headers=world.alice.headers).json()
    assert done["status"] == "done" and done["summary"]["frames_named_without_rtk"] == len(frames)
    # and from the inspection page
    alice, csrf = as_user(client, world.alice)
    r = alice.post(
        f"/pv/inspections/{again['id']}/reanalyse", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    third = int(r.headers["location"].rsplit("/", 1)[-1])
    with unit_of_work(factory, Scope.for_system()) as s:
        assert s.get_one(PvInspection, third).positioning == "gnss"


def test_a_flight_analysed_again_may_name_its_modules_without_rtk_and_an_unknown_way_is_refused(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    flight = tiny_flight(tmp_path, frames=3)
    plant = import_plant(client, world.alice.headers, flight)
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    first = upload(client, world.bob.headers, plant["id"], frames, irradiance_w_m2="850").json()
    assert first["positioning"] == "auto"
    assert run_worker(client, factory, registry) == [first["id"]]
    url = f"{PV}/inspections/{first['id']}/reanalysis"
    for body, status, said in (
        ({"positioning": "rtk-fixed"}, 400, "unknown positioning 'rtk-fixed'; known: auto, rtk, gnss"),
        ({"positioning": "x" * 21}, 422, "positioning"),
        ({"positoning": "gnss"}, 422, "positoning"),  # a misspelt field is refused, not ignored
    ):
        r = client.post(url, json=body, headers=world.bob.headers)
        assert r.status_code == status and r.headers["content-type"].startswith(PROBLEM), r.text
        assert said in r.text
    listed = client.get(f"{PV}/inspections?plant_id={plant['id']}", headers=world.alice.headers).json()
    assert [i["id"] for i in listed["items"]] == [first["id"]]  # nothing queued by a refusal

    gnss = client.post(url, json={"positioning": "gnss"}, headers=world.bob.headers)
    assert gnss.status_code == 202, gnss.text
    kept = client.post(url, json={}, headers=world.bob.headers)
    assert kept.status_code == 202, kept.text
    assert (gnss.json()["positioning"], kept.json()["positioning"]) == ("gnss", "auto")
    assert run_worker(client, factory, registry) == [gnss.json()["id"], kept.json()["id"]]
    summary = {
        i: client.get(f"{PV}/inspections/{i}", headers=world.alice.headers).json()["summary"]
        for i in (first["id"], gnss.json()["id"], kept.json()["id"])
    }
    # the synthetic frames say they are an RTK fix: auto names their modules from the positions, gnss by
    # matching the frames whatever they say
    assert summary[first["id"]]["frames_named_without_rtk"] == 0
    assert summary[kept.json()["id"]]["frames_named_without_rtk"] == 0
    assert summary[gnss.json()["id"]]["frames_named_without_rtk"] == len(frames) > 0
    assert summary[gnss.json()["id"]]["reanalysis_of"] == first["id"]  # kept through the analysis
    notes = summary[gnss.json()["id"]]["notes"]
    assert any(n["message"].startswith("module names without RTK, as asked") for n in notes)

    # from the inspection page: the form offers the three ways, the inspection's own chosen
    alice, csrf = as_user(client, world.alice)
    page = alice.get(f"/pv/inspections/{first['id']}").text
    form = page[page.index(f'action="/pv/inspections/{first["id"]}/reanalyse"') :].split("</form>")[0]
    assert 'name="positioning"' in form and "定位方式" in form and "GNSS（无 RTK）" in form
    assert '<option value="auto" selected>' in form and form.count(" selected") == 1
    page = alice.get(f"/pv/inspections/{gnss.json()['id']}").text
    assert '<option value="gnss" selected>' in page
    assert f"按当时的电站参数重新分析巡检 #{first['id']} 的图像" in page
    assert "按要求不用 RTK 编号组件：3 帧的组件按与前序各帧的比对和组件排的两端来编号" in page
    url = f"/pv/inspections/{first['id']}/reanalyse"
    r = alice.post(url, data={"csrf_token": csrf, "positioning": "rtk-fixed"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/pv/inspections/{first['id']}"
    refused = alice.get(r.headers["location"]).text
    assert "未知的定位方式 &#39;rtk-fixed&#39;，可选：auto, rtk, gnss" in refused
    r = alice.post(url, data={"csrf_token": csrf, "positioning": "gnss"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    fourth = int(r.headers["location"].rsplit("/", 1)[-1])
    with unit_of_work(factory, Scope.for_system()) as s:
        assert s.get_one(PvInspection, fourth).positioning == "gnss"
        asked = s.execute(select(PvInspection.id).where(PvInspection.plant_id == plant["id"])).scalars()
        assert sorted(asked) == sorted([first["id"], gnss.json()["id"], kept.json()["id"], fourth])

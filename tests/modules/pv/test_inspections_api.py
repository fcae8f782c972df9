"""A flight uploaded through the API: frames become evidence, the worker analyses the queued inspection,
results come back as GeoJSON and CSV, findings become core alerts (one per module and class, a re-upload
bumps them), the operator reviews findings; bad uploads get a clear 4xx."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.cases.models import Alert
from gongzhi.db import Scope, unit_of_work, utcnow
from gongzhi.errors import InvalidInput
from gongzhi.files import prune
from gongzhi.modules.pv import jobs, names, pipeline, results
from gongzhi.modules.pv import service as pv_service
from gongzhi.modules.pv.analytics.anomalies import Anomaly
from gongzhi.modules.pv.analytics.modules import POSITIONING
from gongzhi.modules.pv.io import dji_thermal_cli
from gongzhi.modules.pv.io.tiff import write_temperature_tiff
from gongzhi.modules.pv.models import PvFinding, PvFrame, PvInspection
from gongzhi.registry import Registry
from gongzhi.settings import Settings, get_settings
from tests.conftest import World
from tests.web.helpers import as_user

from .flights import Flight, tiny_flight
from .kml_check import placemarks, valid

PV = "/api/v1/pv"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def flight(tmp_path_factory: pytest.TempPathFactory) -> Flight:
    return tiny_flight(tmp_path_factory.mktemp("flight"), frames=6)


def import_plant(client: TestClient, who: dict[str, str], flight: Flight) -> dict[str, Any]:
    files = {"file": ("roof.geojson", flight.geojson, "application/geo+json")}
    r = client.post(f"{PV}/plants/import", files=files, headers=who)
    assert r.status_code == 201, r.text
    return dict(r.json())


def upload(client: TestClient, who: dict[str, str], plant_id: int, files: list[Any], **form: str) -> Any:
    return client.post(f"{PV}/plants/{plant_id}/inspections", files=files, data=form, headers=who)


def run_worker(client: TestClient, factory: sessionmaker[Session], registry: Registry) -> list[int]:
    return results.process_queued(factory, registry, client.app.state.gongzhi.store)  # type: ignore[attr-defined]


def pv_alerts(factory: sessionmaker[Session], region_id: int) -> list[Alert]:
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        stmt = select(Alert).where(Alert.region_id == region_id, Alert.kind.startswith("pv."))
        return list(s.execute(stmt).scalars())


def test_an_uploaded_zip_is_analysed_and_its_findings_become_deduplicated_alerts(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, flight: Flight
) -> None:
    bob, alice = world.bob.headers, world.alice.headers
    plant = import_plant(client, alice, flight)
    zipped = [("file", ("flight.zip", flight.zip(), "application/zip"))]
    r = upload(client, bob, plant["id"], zipped, camera="M3T", irradiance_w_m2="850", wind_m_s="2")
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["status"] == "queued" and queued["frame_count"] == len(flight.frames)
    r = client.get(f"{PV}/inspections/{queued['id']}/results", headers=alice)
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM

    assert run_worker(client, factory, registry) == [queued["id"]]
    done = client.get(f"{PV}/inspections/{queued['id']}", headers=world.vera.headers).json()
    assert done["status"] == "done" and done["progress"] == 1.0 and done["iec_compliant"] is True
    assert done["summary"]["frames_used"] == len(flight.frames)
    first = flight.synthetic.frame(0).meta.time
    assert first is not None
    assert done["started_at"] is not None and done["started_at"].startswith(first.strftime("%Y-%m-%dT%H:%M"))
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        stored = s.execute(select(PvFrame).where(PvFrame.inspection_id == queued["id"])).scalars().all()
        assert all(f.lat is not None and f.taken_at is not None for f in stored)

    findings = client.get(f"{PV}/inspections/{queued['id']}/findings", headers=alice).json()
    assert findings
    truth = {(a.module_id, a.anomaly.value) for a in flight.synthetic.anomalies}
    hits = {(f["module_id"], f["anomaly_class"]) for f in findings} & truth
    assert hits, f"no planted anomaly among {[(f['module_id'], f['anomaly_class']) for f in findings]}"
    for f in findings:
        assert f["status"] == "new" and f["alert_id"] and f["severity"] in ("S1", "S2", "S3")
        assert f["delta_tn_k"] == pytest.approx(f["delta_t_k"] * 1000 / 850, abs=0.02)
        assert len(f["evidence"]) == 1 and f["details"]["frame"].startswith("frame-")
    alerts = pv_alerts(factory, world.a)
    assert {a.count for a in alerts} == {1}
    # one alert per module and class, but one per string for the modules of an offline string
    with unit_of_work(factory, Scope.for_system()) as s:
        strings = pv_service.module_strings(s, plant["id"], [f["module_id"] for f in findings])
    offline = [f for f in findings if f["anomaly_class"] == "string_offline"]
    by_string: dict[str, list[dict[str, Any]]] = {}
    for f in offline:
        by_string.setdefault(strings[f["module_id"]], []).append(f)
    together = by_string  # every module of the plant is on a string: one alert a string, even of one module
    assert any(len(v) > 1 for v in together.values()), "the flight plants an offline string"
    alone = [f for f in findings if not any(f in v for v in together.values())]
    assert {a.dedup_key for a in alerts} == {
        results.dedup_key(plant["id"], f["module_id"], f["anomaly_class"]) for f in alone
    } | {results.string_dedup_key(plant["id"], k) for k in together}
    by_key = {a.dedup_key: a for a in alerts}
    for k, members in together.items():
        alert = by_key[results.string_dedup_key(plant["id"], k)]
        assert {f["alert_id"] for f in members} == {alert.id}
        assert f"{len(members)} 块组件" in alert.title and all(
            f["module_id"] in alert.description for f in members
        )
    # stored text is zh-CN, for the people who act on it: the class's Chinese name, never its code
    for f in alone:
        alert = by_key[results.dedup_key(plant["id"], f["module_id"], f["anomaly_class"])]
        name = names.CLASS_NAMES[f["anomaly_class"]]["zh-CN"]
        assert alert.title.startswith(f"{f['module_id']} {name}") and f["anomaly_class"] not in alert.title
        assert f"组件 {f['module_id']}：{name}" in alert.description

    geo = client.get(f"{PV}/inspections/{queued['id']}/results", headers=alice)
    assert geo.headers["content-type"].startswith("application/geo+json")
    features = geo.json()["features"]
    assert len(features) == plant["module_count"]
    flagged = {f["id"] for f in features if f["properties"]["severity"]}
    assert flagged == {f["module_id"] for f in findings}
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(f"{PV}/inspections/{queued['id']}/results?format=csv", headers=alice).text)
        )
    )
    assert len(rows) == plant["module_count"] and {r["module_id"] for r in rows if r["severity"]} == flagged

    # the same flight again: the alerts are bumped, not duplicated
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    again = upload(client, bob, plant["id"], frames, camera="M3T", irradiance_w_m2="850").json()
    assert run_worker(client, factory, registry) == [again["id"]]
    second = client.get(f"{PV}/inspections/{again['id']}/findings", headers=alice).json()
    assert {(f["module_id"], f["anomaly_class"]) for f in second} == {
        (f["module_id"], f["anomaly_class"]) for f in findings
    }
    bumped = pv_alerts(factory, world.a)
    assert len(bumped) == len(alerts) and {a.count for a in bumped} == {2}
    assert {f["alert_id"] for f in second} == {f["alert_id"] for f in findings}

    review = {"status": "reclassified", "anomaly_class": "soiling", "note": "积灰"}
    r = client.put(f"{PV}/findings/{second[0]['id']}/review", json=review, headers=alice)
    assert r.status_code == 200 and r.json()["reviewed_class"] == "soiling"
    r = client.put(f"{PV}/findings/{second[0]['id']}/review", json={"status": "reclassified"}, headers=alice)
    assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
    r = client.put(
        f"{PV}/findings/{second[0]['id']}/review", json={"status": "accepted"}, headers=world.vera.headers
    )
    assert r.status_code == 403

    # the findings for a field crew's map: the reviewed class, a false alarm left out
    rejected = next(f for f in second if f["module_id"] != second[0]["module_id"])
    r = client.put(f"{PV}/findings/{rejected['id']}/review", json={"status": "rejected"}, headers=alice)
    assert r.status_code == 200
    r = client.get(f"{PV}/inspections/{again['id']}/results?format=kml", headers=alice)
    assert r.headers["content-type"].startswith("application/vnd.google-earth.kml+xml")
    assert r.headers["content-disposition"] == f'attachment; filename="inspection-{again["id"]}-findings.kml"'
    valid(r.content)
    marks = {p.name: (folder, p) for folder, ps in placemarks(r.content).items() for p in ps}
    assert set(marks) == {f["module_id"] for f in second} - {rejected["module_id"]}
    assert marks[second[0]["module_id"]][0].startswith("积灰污渍")
    english = client.get(f"{PV}/inspections/{again['id']}/results?format=kml&lang=en", headers=alice)
    assert (
        english.status_code == 200
        and f"#{again['id']}</name>" in english.text
        and "Soiling (" in english.text
    )
    # and as KMZ, each placemark with the finding's thermal crop
    r = client.get(f"{PV}/inspections/{again['id']}/results?format=kmz", headers=alice)
    assert r.headers["content-type"].startswith("application/vnd.google-earth.kmz")
    with zipfile.ZipFile(io.BytesIO(r.content)) as kmz:
        doc, inside = kmz.read("doc.kml"), set(kmz.namelist())
        assert all(kmz.read(n).startswith(b"\x89PNG") for n in inside - {"doc.kml"})
    valid(doc)
    assert inside - {"doc.kml"} == {f"files/{m}-ir.png" for m in marks}
    assert client.get(f"{PV}/inspections/{again['id']}/results?format=shp", headers=alice).status_code == 422


def test_low_irradiance_is_flagged_not_compliant(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, flight: Flight
) -> None:
    plant = import_plant(client, world.alice.headers, flight)
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames[:2]]
    inspection = upload(client, world.bob.headers, plant["id"], frames, irradiance_w_m2="450").json()
    run_worker(client, factory, registry)
    done = client.get(f"{PV}/inspections/{inspection['id']}", headers=world.alice.headers).json()
    assert done["status"] == "done" and done["iec_compliant"] is False
    # the rules alone classified: the irradiance, and two frames' modules seen once, are the notes
    note, once = done["summary"]["notes"]
    assert note["message"] == "irradiance 450 W/m² is below 600 W/m²: not compliant with IEC TS 62446-3"
    assert note["params"] == {"irradiance": "450", "minimum": "600"}
    assert "modules were seen whole in one frame only" in once["message"] and int(once["params"]["count"]) > 0
    # the inspection page words the flight's notes in its reader's language
    alice, _ = as_user(client, world.alice)
    page = alice.get(f"/pv/inspections/{inspection['id']}").text
    assert "本次飞行的说明" in page and "辐照度 450 W/m² 低于 600 W/m²：不符合 IEC TS 62446-3" in page
    assert "仅在一张照片中完整出现，无法区分阳光反射与热斑" in page
    alice.cookies.set("gz_lang", "en")
    page = alice.get(f"/pv/inspections/{inspection['id']}").text
    assert "Notes on this flight" in page and note["message"] in page


def test_an_upload_may_ask_for_the_crop_network_behind_the_rules_and_the_worker_uses_it(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, flight: Flight
) -> None:
    plant = import_plant(client, world.alice.headers, flight)
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    rules = upload(client, world.bob.headers, plant["id"], frames, irradiance_w_m2="850").json()
    learned = upload(
        client,
        world.bob.headers,
        plant["id"],
        frames,
        irradiance_w_m2="850",
        classifier="learned",
        min_confidence="0.85",
    ).json()
    assert (rules["classifier"], learned["classifier"]) == ("rules", "learned")
    assert (rules["min_confidence"], learned["min_confidence"]) == (None, 0.85)
    bob, _ = as_user(client, world.bob)
    queued = bob.get(
        f"/pv/inspections/{learned['id']}"
    ).text  # before the analysis, the page says what it will do
    assert "类别由规则与组件图像网络判定（网络置信度不低于 0.85 时改判）" in queued
    assert run_worker(client, factory, registry) == [rules["id"], learned["id"]]
    done = {
        k: client.get(f"{PV}/inspections/{i}", headers=world.alice.headers).json()
        for k, i in (("rules", rules["id"]), ("learned", learned["id"]))
    }
    assert all(d["status"] == "done" for d in done.values())
    said = {k: [n["message"] for n in d["summary"]["notes"]] for k, d in done.items()}
    assert not any("crop classifier" in n for n in said["rules"])
    assert any("crop classifier is at least 0.85 confident" in n for n in said["learned"])
    # each note keeps its catalogue id and parameters, so that the console words it in its reader's language
    (network,) = [n for n in done["learned"]["summary"]["notes"] if "crop classifier" in n["message"]]
    assert network["params"] == {"confidence": "0.85"} and "%(confidence)s" in network["template"]

    def modules(i: int) -> set[str]:
        found = client.get(f"{PV}/inspections/{i}/findings", headers=world.alice.headers).json()
        return {f["module_id"] for f in found}

    # the network renames what the rules flagged and flags no module they passed
    assert modules(learned["id"]) and modules(learned["id"]) <= modules(rules["id"])
    page = bob.get(f"/pv/inspections/{learned['id']}").text  # once analysed, the flight's note says it
    assert "学习型组件图像分类器对另一类异常的置信度不低于 0.85 时，改用分类器的类别" in page
    assert "类别由规则与组件图像网络判定" not in page
    assert "组件图像" not in bob.get(f"/pv/inspections/{rules['id']}").text
    bad = upload(client, world.bob.headers, plant["id"], frames[:1], classifier="neural")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    bad = upload(
        client, world.bob.headers, plant["id"], frames[:1], classifier="learned", min_confidence="1.5"
    )
    assert bad.status_code == 422 and "min_confidence" in bad.text
    # a least confidence means nothing to the rules alone: refused, nothing kept
    bad = upload(client, world.bob.headers, plant["id"], frames[:1], min_confidence="0.9")
    assert bad.status_code == 400 and "learned classifier only" in bad.text
    listed = client.get(f"{PV}/inspections?plant_id={plant['id']}", headers=world.alice.headers).json()
    assert len(listed["items"] if isinstance(listed, dict) else listed) == 2


def test_an_upload_may_ask_for_module_names_without_rtk_and_the_worker_names_them_so(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, flight: Flight
) -> None:
    plant = import_plant(client, world.alice.headers, flight)
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    auto = upload(client, world.bob.headers, plant["id"], frames, irradiance_w_m2="850").json()
    gnss = upload(client, world.bob.headers, plant["id"], frames, irradiance_w_m2="850", positioning="gnss")
    assert gnss.status_code == 202, gnss.text
    gnss = gnss.json()
    assert (auto["positioning"], gnss["positioning"]) == ("auto", "gnss")
    bob, _ = as_user(client, world.bob)
    assert "组件编号按帧间比对确定（GNSS，无 RTK）" in bob.get(f"/pv/inspections/{gnss['id']}").text
    assert "组件编号" not in bob.get(f"/pv/inspections/{auto['id']}").text
    assert run_worker(client, factory, registry) == [auto["id"], gnss["id"]]
    done = {
        k: client.get(f"{PV}/inspections/{i}", headers=world.alice.headers).json()["summary"]
        for k, i in (("auto", auto["id"]), ("gnss", gnss["id"]))
    }
    # the synthetic frames say they are an RTK fix: auto names their modules from the positions, gnss by
    # matching the frames whatever they say
    assert done["auto"]["positions"]["rtk_fixed"] == len(frames)
    assert (done["auto"]["frames_named_without_rtk"], done["gnss"]["frames_named_without_rtk"]) == (
        0,
        len(frames),
    )
    assert any(n["message"].startswith("module names without RTK") for n in done["gnss"]["notes"])
    assert "帧的组件按与前序各帧的比对和组件排的两端来编号" in bob.get(f"/pv/inspections/{gnss['id']}").text
    bad = upload(client, world.bob.headers, plant["id"], frames[:1], positioning="rtk-fixed")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    assert "positioning" in bad.text and "gnss" in bad.text
    listed = client.get(f"{PV}/inspections?plant_id={plant['id']}", headers=world.alice.headers).json()
    assert [i["positioning"] for i in listed["items"]] in (["gnss", "auto"], ["auto", "gnss"])


def test_an_inspection_takes_the_positionings_the_analysis_knows_and_refuses_another_by_name() -> None:
    assert set(pv_service.POSITIONINGS) == set(POSITIONING)
    assert pv_service.FlightConditions().positioning is None  # the plant's (``PvPlant.positioning``)
    assert [pv_service.positioning_of(p) for p in POSITIONING] == list(POSITIONING)
    with pytest.raises(InvalidInput) as refused:
        pv_service.positioning_of("RTK")
    assert str(refused.value.detail) == "unknown positioning 'RTK'; known: auto, rtk, gnss"


def test_an_oblique_flight_uploaded_to_a_plant_is_analysed_with_its_findings_on_their_modules(
    client: TestClient,
    world: World,
    factory: sessionmaker[Session],
    registry: Registry,
    tmp_path: Path,
) -> None:
    oblique = tiny_flight(tmp_path / "oblique", gimbal_pitch_deg=-60.0)
    plant = import_plant(client, world.alice.headers, oblique)
    files = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in oblique.frames]
    inspection = upload(client, world.bob.headers, plant["id"], files, irradiance_w_m2="850").json()
    assert run_worker(client, factory, registry) == [inspection["id"]]
    done = client.get(f"{PV}/inspections/{inspection['id']}", headers=world.alice.headers).json()
    assert done["status"] == "done" and done["summary"]["frames_used"] >= len(oblique.frames) / 2
    findings = client.get(f"{PV}/inspections/{inspection['id']}/findings", headers=world.alice.headers).json()
    truth = {(a.module_id, a.anomaly.value) for a in oblique.synthetic.anomalies}
    found = {(f["module_id"], f["anomaly_class"]) for f in findings}
    assert len(found & truth) >= 0.8 * len(truth) and len(found & truth) >= 0.9 * len(found)


def test_bad_uploads_get_clear_4xx_problems(
    client: TestClient, world: World, factory: sessionmaker[Session], flight: Flight, tmp_path: Path
) -> None:
    bob = world.bob.headers
    plant = import_plant(client, world.alice.headers, flight)
    empty_zip = io.BytesIO()
    __import__("zipfile").ZipFile(empty_zip, "w").close()
    photo = io.BytesIO()
    __import__("PIL.Image", fromlist=["Image"]).new("RGB", (64, 48), (90, 90, 90)).save(photo, "TIFF")
    frame = flight.frames[0].read_bytes()
    damaged = io.BytesIO()  # its directory is whole; its member's deflated data is not
    with __import__("zipfile").ZipFile(damaged, "w", __import__("zipfile").ZIP_DEFLATED) as z:
        z.writestr("flight/frame-0001.tif", frame)
    damaged_zip = bytearray(damaged.getvalue())
    damaged_zip[80:140] = bytes(b ^ 0x5A for b in damaged_zip[80:140])
    attempts = [
        (plant["id"], [("file", ("empty.zip", empty_zip.getvalue(), "application/zip"))], 400),
        (plant["id"], [("file", ("damaged.zip", bytes(damaged_zip), "application/zip"))], 400),
        (plant["id"], [("file", ("broken.zip", b"PK\x03\x04garbage", "application/zip"))], 400),
        (plant["id"], [("file", ("notes.txt", b"hello", "text/plain"))], 400),
        (plant["id"], [("file", ("photo.tif", photo.getvalue(), "image/tiff"))], 400),
        (plant["id"], [("file", ("cut.tif", frame[: len(frame) // 2], "image/tiff"))], 400),
        (999_999, [("file", ("f.tif", frame, "image/tiff"))], 404),
    ]
    for plant_id, files, status in attempts:
        r = upload(client, bob, plant_id, files)
        assert r.status_code == status, (files[0][1][0], r.text)
        assert r.headers["content-type"] == PROBLEM
    r = upload(client, bob, plant["id"], [("file", ("f.tif", frame, "image/tiff"))], camera="X9")
    assert r.status_code == 400
    r = upload(client, world.vera.headers, plant["id"], [("file", ("f.tif", frame, "image/tiff"))])
    assert r.status_code == 403
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        assert s.scalar(select(func.count(PvInspection.id)).where(PvInspection.plant_id == plant["id"])) == 0


def test_the_worker_job_analyses_a_queued_flight_in_a_thread_of_its_own(
    client: TestClient,
    world: World,
    factory: sessionmaker[Session],
    registry: Registry,
    flight: Flight,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GONGZHI_DATA_DIR", str(settings.data_dir))  # the job's file store is the app's
    get_settings.cache_clear()
    try:
        plant = import_plant(client, world.alice.headers, flight)
        frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames[:3]]
        inspection = upload(client, world.bob.headers, plant["id"], frames, camera="M3T").json()
        assert "pv.inspections" in registry.jobs
        thread = jobs.start_inspections(factory, registry)
        assert thread is not None and thread.name == "gongzhi-pv-inspections"
        thread.join(timeout=120)
    finally:
        get_settings.cache_clear()
    done = client.get(f"{PV}/inspections/{inspection['id']}", headers=world.alice.headers).json()
    assert done["status"] == "done" and done["frames_done"] == 3, done


def test_a_flight_that_cannot_be_analysed_ends_failed_with_the_reason(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, flight: Flight
) -> None:
    plant = import_plant(client, world.alice.headers, flight)
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames[:2]]
    inspection = upload(client, world.bob.headers, plant["id"], frames).json()
    store = client.app.state.gongzhi.store  # type: ignore[attr-defined]
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        for f in s.execute(select(PvFrame).where(PvFrame.inspection_id == inspection["id"])).scalars():
            store.path_for(f.sha256).unlink(missing_ok=True)  # the files vanished from the store
    assert run_worker(client, factory, registry) == [inspection["id"]]
    failed = client.get(f"{PV}/inspections/{inspection['id']}", headers=world.alice.headers).json()
    assert (failed["status"], failed["error"]) == ("failed", pipeline.NOTHING_ANALYSED)
    # and why of each frame, by the name it was uploaded with
    why = {x["file"]: (x["reason"], x["message"]) for x in failed["summary"]["frames_skipped"]}
    assert why == {p.name: ("unreadable", "file not found") for p in flight.frames[:2]}, failed
    assert "failed_in" not in failed["summary"]  # the analysis failed, not a flight
    r = client.get(f"{PV}/inspections/{inspection['id']}/results", headers=world.alice.headers)
    assert r.status_code == 409 and "failed" in r.json()["detail"]
    page = as_user(client, world.alice)[0].get(f"/pv/inspections/{inspection['id']}")
    assert "分析失败" in page.text and "本次飞行没有任何一帧图像能被读取和分析" in page.text  # and why
    assert "无法从文件读出温度" in page.text and flight.frames[1].name in page.text
    english = as_user(client, world.alice, lang="en")[0].get(f"/pv/inspections/{inspection['id']}")
    assert failed["error"] in english.text and "the file cannot be read as temperatures" in english.text


def test_a_flight_whose_worker_died_is_taken_up_again_and_a_live_one_is_left_alone(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, flight: Flight
) -> None:
    plant = import_plant(client, world.alice.headers, flight)
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames[:2]]
    ids = [upload(client, world.bob.headers, plant["id"], frames).json()["id"] for _ in range(2)]
    now = utcnow()
    assert [results.claim_next(factory, now=now) for _ in range(3)] == [*ids, None]
    assert results.claim_next(factory, now=now + results.STALE_AFTER / 2) is None  # both alive
    later = now + results.STALE_AFTER * 2  # no progress since: their worker died
    assert results.claim_next(factory, now=later) == ids[0]
    assert results.claim_next(factory, now=later) == ids[1]
    assert results.claim_next(factory, now=later + timedelta(minutes=1)) is None
    results.process(factory, registry, client.app.state.gongzhi.store, ids[0])  # type: ignore[attr-defined]
    done = client.get(f"{PV}/inspections/{ids[0]}", headers=world.alice.headers).json()
    assert done["status"] == "done" and done["frames_done"] == 2


def test_broken_frames_among_good_ones_are_left_out_and_named_not_the_whole_upload_refused(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, flight: Flight
) -> None:
    plant = import_plant(client, world.alice.headers, flight)
    good = flight.frames[:3]
    members = {p.name: p.read_bytes() for p in good}
    members["DJI_0099_T.JPG"] = b"\xff\xd8\xff\xe0 a card error left this"  # no end-of-image marker
    members["DJI_0100_T.tif"] = members[good[0].name][: len(members[good[0].name]) // 2]  # cut off
    r = upload(
        client, world.bob.headers, plant["id"], [("file", ("flight.zip", _zip(members), "application/zip"))]
    )
    assert r.status_code == 202, r.text
    inspection = r.json()
    assert inspection["frame_count"] == 3
    # a frame the reader then cannot read (changed in the store after the upload) is named by its own name
    store = client.app.state.gongzhi.store  # type: ignore[attr-defined]
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        stmt = select(PvFrame).where(PvFrame.inspection_id == inspection["id"]).order_by(PvFrame.seq)
        last = list(s.execute(stmt).scalars())[-1]
        store.path_for(last.sha256).write_bytes(b"II*\x00" + b"\x00" * 64)
    assert run_worker(client, factory, registry) == [inspection["id"]]
    done = client.get(f"{PV}/inspections/{inspection['id']}", headers=world.alice.headers).json()
    assert done["status"] == "done" and done["summary"]["frames_used"] == 2, done
    refused = {f["file"]: f["reason"] for f in done["summary"]["frames_refused"]}
    assert refused == {"DJI_0099_T.JPG": "truncated", "DJI_0100_T.tif": "truncated"}
    assert done["summary"]["frames_refused_count"] == 2
    [skipped] = done["summary"]["frames_skipped"]
    assert (skipped["file"], skipped["reason"]) == (good[2].name, "truncated")
    assert skipped["message"].startswith("TIFF raster cannot be read in full"), skipped  # the reader's words
    alice, _ = as_user(client, world.alice)
    page = alice.get(f"/pv/inspections/{inspection['id']}")
    assert page.status_code == 200 and "未分析的帧" in page.text and "DJI_0099_T.JPG" in page.text
    assert "文件不完整（上传中断）" in page.text and good[2].name in page.text and "分析时" in page.text
    assert "文件不完整（提前结束）" in page.text  # the reader's kind of error, in the page's language
    # nothing usable at all: refused whole, the file named, no Python repr in the words
    junk = [("file", ("only.zip", _zip({"a.jpg": b"\xff\xd8\xff\xe0junk\xff\xd9"}), "application/zip"))]
    r = upload(client, world.bob.headers, plant["id"], junk)
    assert r.status_code == 400 and "a.jpg" in r.json()["detail"] and "0x" not in r.json()["detail"], r.text


def test_a_drones_visible_photos_in_an_upload_are_set_aside_and_counted_not_refused(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, flight: Flight
) -> None:
    plant = import_plant(client, world.alice.headers, flight)
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 160)).save(photo, "JPEG")
    members = {"DJI_0001_W.JPG": photo.getvalue(), "DJI_0001_Z.JPG": photo.getvalue()}  # first in the zip
    members |= {p.name: p.read_bytes() for p in flight.frames[:2]}
    packed = [("file", ("f.zip", _zip(members), "application/zip"))]
    r = upload(client, world.bob.headers, plant["id"], packed)
    assert r.status_code == 202, r.text
    assert r.json()["frame_count"] == 2 and r.json()["summary"] == {"visible_photos_set_aside": 2}
    assert run_worker(client, factory, registry) == [r.json()["id"]]
    done = client.get(f"{PV}/inspections/{r.json()['id']}", headers=world.alice.headers).json()
    assert done["status"] == "done" and done["summary"]["visible_photos_set_aside"] == 2, done
    assert not done["summary"]["frames_skipped"]
    page = as_user(client, world.alice)[0].get(f"/pv/inspections/{r.json()['id']}")
    assert "已搁置 2 张可见光照片" in page.text and "倾斜拍摄" not in page.text  # straight down
    with factory() as s:  # as an oblique flight's analysis writes it
        s.info["scope"] = Scope.for_system()
        row = s.get_one(PvInspection, r.json()["id"])
        row.summary = {**row.summary, "frames_oblique": 2, "gimbal_pitch_deg": -59.95}
        s.commit()
    page = as_user(client, world.alice)[0].get(f"/pv/inspections/{r.json()['id']}")
    assert "2 帧倾斜拍摄（云台俯仰中位数 -60.0°），已重采样为正射视图分析" in page.text
    # visible photos alone: refused, saying so
    only = {"DJI_0002_W.JPG": photo.getvalue()}
    r = upload(client, world.bob.headers, plant["id"], [("file", ("v.zip", _zip(only), "application/zip"))])
    assert r.status_code == 400 and "1 visible-light photos" in r.json()["detail"], r.text
    # a photo not named as a drone's visible one stays a frame, which the analysis names with its reason
    plain = {"holiday.jpg": photo.getvalue(), **{p.name: p.read_bytes() for p in flight.frames[:1]}}
    r = upload(client, world.bob.headers, plant["id"], [("file", ("p.zip", _zip(plain), "application/zip"))])
    assert r.status_code == 202 and r.json()["frame_count"] == 2 and r.json()["summary"] == {}, r.text


def test_a_drones_wide_photos_uploaded_with_its_frames_give_the_visible_soiling(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    """Photos paired with their frames at the upload are kept and registered in the worker: the results
    carry each module's visible soiling, the summary the zones'; a photo without its frame is set aside."""
    seen = tiny_flight(tmp_path / "flight", seed=3, frames=4, visible=True)
    plant = import_plant(client, world.alice.headers, seen)
    stray = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 160)).save(stray, "JPEG")
    members = {p.name: p.read_bytes() for p in [*seen.photos, *seen.frames]} | {
        "DJI_0007_W.JPG": stray.getvalue()
    }
    r = upload(
        client, world.bob.headers, plant["id"], [("file", ("f.zip", _zip(members), "application/zip"))]
    )
    assert r.status_code == 202, r.text
    assert r.json()["frame_count"] == 4
    assert r.json()["summary"] == {"visible_photos_paired": 4, "visible_photos_set_aside": 1}
    assert run_worker(client, factory, registry) == [r.json()["id"]]
    done = client.get(f"{PV}/inspections/{r.json()['id']}", headers=world.alice.headers).json()
    summary = done["summary"]
    assert done["status"] == "done" and summary["frames_with_visible"] == 4, summary
    assert summary["visible_photos_paired"] == 4 and summary["visible_photos_unused"] == {}
    assert (
        set(summary["rgb_soiling_by_zone"]) <= set(summary["soiling_by_zone"])
        and summary["rgb_soiling_by_zone"]
    )
    geo = client.get(f"{PV}/inspections/{r.json()['id']}/results", headers=world.alice.headers).json()
    index = {f["id"]: f["properties"]["rgb_soiling_index"] for f in geo["features"]}
    soiled = [a.module_id for a in seen.synthetic.anomalies if a.anomaly is Anomaly.SOILING]
    measured = [index[m] for m in soiled if index[m] is not None]
    assert measured and min(measured) > 0.2
    clean = [v for m, v in index.items() if v is not None and m not in soiled]
    assert len(clean) > 50 and max(clean) < 0.1
    alice = as_user(client, world.alice)[0]
    page = alice.get(f"/pv/inspections/{r.json()['id']}")
    assert "4 帧配有可见光照片" in page.text and "可见光积灰指数" in page.text
    # each finding shows the photo beside its IR thumbnail: the same window, in visible light
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        found = s.execute(select(PvFinding).where(PvFinding.inspection_id == r.json()["id"])).scalars().all()
        dusty = next(f for f in found if f.anomaly_class == "soiling")
        hot = next(f for f in found if f.anomaly_class in ("hot_spot", "single_hot_cell"))
    assert f"/pv/findings/{dusty.id}/photo.png" in page.text
    shown = {}
    for f in (dusty, hot):
        got = alice.get(f"/pv/findings/{f.id}/photo.png")
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        shown[f.anomaly_class] = np.asarray(Image.open(io.BytesIO(got.content)).convert("RGB"), dtype=float)
        assert shown[f.anomaly_class].shape == (128, 128, 3)

    # centred on the module (the pixel the analysis kept): the dust is brown-grey on the dark blue module in
    # the middle (the module fills about a third of the middle window, its dust a tenth or more of that; a
    # window a module off shows none); a hot spot does not show in visible light
    def dust(rgb: np.ndarray) -> float:
        return float(np.mean((rgb[..., 0] > 100) & (rgb[..., 0] > rgb[..., 2] + 25)))

    assert "pixel" in dusty.details and "pixel" in hot.details
    middle = slice(32, 96)
    assert dust(shown["soiling"][middle, middle]) > 0.02 and dust(shown[hot.anomaly_class]) < 0.002
    # the report carries both pictures of each finding (frame by frame: each read once)
    url = f"{PV}/inspections/{r.json()['id']}/report"
    html = client.get(url, headers=world.alice.headers).text
    cards = html.count('<div class="pair">')
    assert cards == len(found) and html.count("data:image/png;base64,") == 2 * cards  # IR and photo
    assert html.count("可见光照片") == cards
    pdf = client.get(url + "?format=pdf", headers=world.alice.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    with factory() as s:  # a frame that came without its photo: no visible thumbnail, said as such
        s.info["scope"] = Scope.for_system()
        row = s.execute(select(PvFrame).where(PvFrame.sha256 == hot.evidence[0])).scalars().first()
        assert row is not None
        row.meta = {k: v for k, v in row.meta.items() if k != pv_service.PHOTO_KEY}
        s.commit()
    alone = alice.get(f"/pv/findings/{hot.id}/photo.png")
    assert alone.status_code == 404 and "没有可见光照片" in alone.text
    assert f"/pv/findings/{hot.id}/photo.png" not in alice.get(f"/pv/inspections/{r.json()['id']}").text


def _zip(members: dict[str, bytes]) -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return packed.getvalue()


def test_a_flight_flown_by_hand_is_uploaded_from_the_plant_page_and_a_refusal_comes_back_there(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, flight: Flight
) -> None:
    plant = import_plant(client, world.alice.headers, flight)
    bob, csrf = as_user(client, world.bob)  # a handler flies and uploads; the form is on the plant page
    page = bob.get(f"/pv/plants/{plant['id']}")
    assert page.status_code == 200 and "上传航拍数据" in page.text and 'name="file"' in page.text
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames[:3]]
    broken = [("file", ("DJI_0042_T.JPG", b"\xff\xd8\xff\xe0 cut off", "image/jpeg"))]
    form = {"csrf_token": csrf, "irradiance": "850", "wind": "2.5"}
    r = bob.post(
        f"/pv/plants/{plant['id']}/inspections", data=form, files=frames + broken, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/pv/inspections/"), r.text
    inspection_id = int(r.headers["location"].rsplit("/", 1)[-1])
    queued = client.get(f"{PV}/inspections/{inspection_id}", headers=world.alice.headers).json()
    assert queued["status"] == "queued" and queued["frame_count"] == 3 and queued["irradiance_w_m2"] == 850
    assert queued["wind_m_s"] == 2.5 and queued["summary"]["frames_refused"][0]["file"] == "DJI_0042_T.JPG"
    assert run_worker(client, factory, registry) == [inspection_id]
    done = bob.get(f"/pv/inspections/{inspection_id}")
    assert done.status_code == 200 and "DJI_0042_T.JPG" in done.text
    seen = client.get(f"{PV}/inspections/{inspection_id}", headers=world.alice.headers).json()["summary"]
    assert f"已覆盖组件 {seen['modules_seen']}/{plant['module_count']}" in done.text  # how much was seen
    # refusals come back on the plant page, said why; nothing is queued
    count = len(client.get(f"{PV}/inspections", headers=world.alice.headers).json()["items"])
    assert 'name="classifier"' in page.text and "组件图像网络置信度高时改判类别" in page.text
    assert 'id="u-conf"' in page.text and "网络置信度下限" in page.text
    for data, files, said in [
        ({**form, "irradiance": "bright"}, frames, "bright&#39; 不是数字"),
        ({**form, "classifier": "neural"}, frames, "未知的分类方式 &#39;neural&#39;"),
        ({**form, "min_confidence": "0.9"}, frames, "置信度下限仅适用于"),  # the rules alone
        ({**form, "classifier": "learned", "min_confidence": "1.2"}, frames, "1.2 超出 0 … 1 的范围"),
        (form, [("file", ("notes.txt", b"hello", "text/plain"))], "notes.txt"),
        (form, broken, "DJI_0042_T.JPG"),
    ]:
        r = bob.post(f"/pv/plants/{plant['id']}/inspections", data=data, files=files)
        assert r.status_code == 400 and "航拍数据未上传" in r.text and said in r.text, r.text
    assert len(client.get(f"{PV}/inspections", headers=world.alice.headers).json()["items"]) == count
    vera, vera_csrf = as_user(client, world.vera)  # a viewer neither sees the form nor can post it
    assert "上传航拍数据" not in vera.get(f"/pv/plants/{plant['id']}").text
    r = vera.post(f"/pv/plants/{plant['id']}/inspections", data={"csrf_token": vera_csrf}, files=frames)
    assert r.status_code == 403


def test_the_plant_pages_upload_form_asks_how_to_name_the_modules_and_refuses_an_unknown_way(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, flight: Flight
) -> None:
    plant = import_plant(client, world.alice.headers, flight)
    bob, csrf = as_user(client, world.bob)
    page = bob.get(f"/pv/plants/{plant['id']}").text
    assert 'name="positioning"' in page and "定位方式" in page and "GNSS（无 RTK）" in page
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames[:3]]
    url = f"/pv/plants/{plant['id']}/inspections"
    form = {"csrf_token": csrf, "irradiance": "850"}
    stored = []
    for extra in ({}, {"positioning": "gnss"}, {"positioning": "rtk"}):
        r = bob.post(url, data={**form, **extra}, files=frames, follow_redirects=False)
        assert r.status_code == 303, r.text
        inspection_id = int(r.headers["location"].rsplit("/", 1)[-1])
        stored.append(client.get(f"{PV}/inspections/{inspection_id}", headers=world.alice.headers).json())
    assert [i["positioning"] for i in stored] == ["auto", "gnss", "rtk"]
    count = len(client.get(f"{PV}/inspections", headers=world.alice.headers).json()["items"])
    r = bob.post(url, data={**form, "positioning": "rtk-fixed"}, files=frames)
    assert r.status_code == 400 and "航拍数据未上传" in r.text
    assert "未知的定位方式 &#39;rtk-fixed&#39;，可选：auto, rtk, gnss" in r.text
    assert len(client.get(f"{PV}/inspections", headers=world.alice.headers).json()["items"]) == count
    # the worker names the modules as the form asked
    assert run_worker(client, factory, registry) == [i["id"] for i in stored]
    named = [
        client.get(f"{PV}/inspections/{i['id']}", headers=world.alice.headers).json()["summary"]
        for i in stored
    ]
    assert [n["frames_named_without_rtk"] for n in named] == [0, len(frames), 0]
    bob.cookies.set("gz_lang", "en")
    assert (
        "module names from the frames' positions (RTK)" in bob.get(f"/pv/inspections/{stored[2]['id']}").text
    )


def _dji_samples() -> list[tuple[str, tuple[str, bytes, str]]]:
    from .test_thermal_real_files import DJI, THERMAL

    found = [THERMAL / name for name in sorted(DJI) if (THERMAL / name).is_file()]
    if not found:
        pytest.skip(f"real DJI samples are absent from {THERMAL}")
    return [("file", (p.name, p.read_bytes(), "image/jpeg")) for p in found]


@pytest.mark.sqlite_leg
def test_a_flight_of_real_dji_r_jpegs_is_kept_read_as_temperatures_and_said_why_it_cannot_be_placed(
    client: TestClient,
    world: World,
    factory: sessionmaker[Session],
    registry: Registry,
    flight: Flight,
    dji_program: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a cache of its own: another test may have converted these files, or made their cameras' tables
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "dji-cache"))
    plant = import_plant(client, world.alice.headers, flight)
    samples = _dji_samples()
    converted = [dji_thermal_cli.cached(dji_thermal_cli.digest(f[1][1])) for f in samples]
    r = upload(client, world.bob.headers, plant["id"], samples)  # multi-picture JPEGs (MPO), kept
    assert r.status_code == 202, r.text
    assert r.json()["frame_count"] == len(samples) and "frames_refused" not in r.json()["summary"]
    # the upload checked the first frame without converting it: the worker converts the flight in one call
    assert not any(path.exists() for path in converted)
    assert run_worker(client, factory, registry) == [r.json()["id"]]
    assert all(path.exists() for path in converted)
    failed = client.get(f"{PV}/inspections/{r.json()['id']}", headers=world.alice.headers).json()
    # the samples carry no GPS: read as temperatures, then left out for want of a position, each said so,
    # by their own names, not their digests
    assert (failed["status"], failed["error"]) == ("failed", pipeline.NOTHING_ANALYSED)
    why = {x["file"]: (x["reason"], x["message"]) for x in failed["summary"]["frames_skipped"]}
    assert why == {name: ("not_placed", "the frame has no GPS position") for _, (name, _, _) in samples}
    page = as_user(client, world.alice)[0].get(f"/pv/inspections/{r.json()['id']}")
    assert page.text.count("图像没有 GPS 位置") == len(samples)  # the accumulator's reason, translated


def test_a_drones_own_dji_flight_is_uploaded_and_analysed_as_its_tiff_frames_are(
    client: TestClient,
    world: World,
    factory: sessionmaker[Session],
    registry: Registry,
    flight: Flight,
    dji_program: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The flight as an M3T writes it (each frame the real sample with the frame's counts and pose,
    :mod:`.io.dji_writer`), named as DJI names its files, uploaded and analysed by the worker: its camera's
    table is made once, and the findings are those of the same flight uploaded as TIFF."""
    from gongzhi.modules.pv.io import dji_writer
    from gongzhi.modules.pv.io.thermal import read_frame

    from .test_thermal_real_files import THERMAL

    sample = THERMAL / "M3T_DJI_0001_R.JPG"
    if not sample.is_file():
        pytest.skip(f"real thermal sample {sample} is absent")
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "cache"))
    template = sample.read_bytes()
    table = dji_writer.calibration(template)
    files = [
        (
            "file",
            (
                f"DJI_{i + 1:04d}_T.JPG",
                dji_writer.dji_rjpeg(read_frame(p), template, table, "M3T"),
                "image/jpeg",
            ),
        )
        for i, p in enumerate(flight.frames)
    ]
    plant = import_plant(client, world.alice.headers, flight)
    as_dji = upload(client, world.bob.headers, plant["id"], files, irradiance_w_m2="850")
    as_tiff = upload(
        client,
        world.bob.headers,
        plant["id"],
        [("file", ("flight.zip", flight.zip(), "application/zip"))],
        irradiance_w_m2="850",
    )
    assert as_dji.status_code == as_tiff.status_code == 202, (as_dji.text, as_tiff.text)
    assert sorted(run_worker(client, factory, registry)) == sorted(
        [as_dji.json()["id"], as_tiff.json()["id"]]
    )
    found = {}
    for r in (as_dji, as_tiff):
        done = client.get(f"{PV}/inspections/{r.json()['id']}", headers=world.alice.headers).json()
        assert done["status"] == "done" and done["summary"]["frames_used"] == len(flight.frames), done
        findings = client.get(
            f"{PV}/inspections/{r.json()['id']}/findings", headers=world.alice.headers
        ).json()
        found[r.json()["id"]] = {(f["module_id"], f["anomaly_class"]) for f in findings}
    assert found[as_dji.json()["id"]] == found[as_tiff.json()["id"]] and found[as_dji.json()["id"]]
    assert [p.suffix for p in (tmp_path / "cache").iterdir()].count(".npy") == 1  # one camera, one table


def test_without_dji_thermal_cli_a_dji_flight_is_refused_at_the_upload_saying_how_to_read_it(
    client: TestClient, world: World, flight: Flight, no_dji_program: None
) -> None:
    plant = import_plant(client, world.alice.headers, flight)
    samples = _dji_samples()
    r = upload(client, world.bob.headers, plant["id"], samples)
    assert r.status_code == 400 and "dji-thermal-cli" in r.json()["detail"], r.text
    assert r.json()["detail"].startswith(f"{samples[0][1][0]}: DJI R-JPEG")  # named as it was uploaded


@pytest.mark.sqlite_leg
def test_a_flight_of_more_than_a_thousand_files_is_taken_as_files_not_only_as_a_zip(
    client: TestClient, world: World, factory: sessionmaker[Session], flight: Flight, tmp_path: Path
) -> None:
    """A 1,200-frame flight (a large roof, or dense overlap) uploaded from a card as it is: the multipart
    limit is the flight's own (MAX_FRAMES), not the web framework's 1,000 files. Small radiometric frames,
    each its own: the count is what is tested, not 1.3 GB of 640 × 512 frames through the multipart parser."""
    plant = import_plant(client, world.alice.headers, flight)
    files = []
    for i in range(1_001):
        path = tmp_path / f"DJI_{i:04d}_T.tif"
        write_temperature_tiff(path, np.full((16, 20), 25.0 + i / 100, dtype=np.float32))
        files.append(("file", (path.name, path.read_bytes(), "image/tiff")))
    r = upload(client, world.bob.headers, plant["id"], files)
    assert r.status_code == 202, r.text[:300]
    assert r.json()["frame_count"] == 1_001
    with unit_of_work(factory, Scope.for_system()) as s:
        stored = s.scalars(select(PvFrame.sha256).where(PvFrame.inspection_id == r.json()["id"])).all()
    assert len(set(stored)) == 1_001


def test_the_files_a_refused_upload_stored_are_pruned_and_a_kept_flights_are_not(
    client: TestClient, world: World, factory: sessionmaker[Session], flight: Flight
) -> None:
    """An upload is refused after some of its files were stored (visible photos alone): its transaction
    rolls back, its files stay on disk until ``gongzhi files prune`` finds that no record holds them."""
    plant = import_plant(client, world.alice.headers, flight)
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (12, 200, 40)).save(photo, "JPEG")
    only = {"DJI_0002_W.JPG": photo.getvalue()}
    r = upload(client, world.bob.headers, plant["id"], [("file", ("v.zip", _zip(only), "application/zip"))])
    assert r.status_code == 400, r.text
    kept = {p.name: p.read_bytes() for p in flight.frames[:2]}
    r = upload(client, world.bob.headers, plant["id"], [("file", ("k.zip", _zip(kept), "application/zip"))])
    assert r.status_code == 202, r.text
    store = client.app.state.gongzhi.store  # type: ignore[attr-defined]
    left = hashlib.sha256(photo.getvalue()).hexdigest()
    assert store.exists(left)
    then = time.time() - 2 * 86400
    for path in store.root.rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))
    report = prune(factory, store, 3600)
    assert (report.orphans, report.removed) == (1, 1), report
    assert not store.exists(left)
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        frames = s.scalars(select(PvFrame.sha256).where(PvFrame.inspection_id == r.json()["id"])).all()
    assert len(frames) == 2 and all(store.exists(h) for h in frames)
    assert report.kept_referenced == 2  # the two frames


def test_an_alert_says_when_its_delta_t_is_only_a_lower_bound() -> None:
    from gongzhi.modules.pv.views import FindingRow

    inspection = PvInspection(id=7, plant_id=1)

    def finding(details: dict[str, Any], dt: float = 6.2) -> PvFinding:
        return PvFinding(module_id="A-01-02", anomaly_class="hot_spot", delta_t_k=dt, delta_tn_k=dt * 1.25,
                         severity="S1", coa=2, frames_seen=4, details=details, evidence=[])  # fmt: skip

    measured = results._alert_data(inspection, finding({"spot_px": 24.0, "delta_t_lower_bound": False}))
    assert measured.title.endswith("ΔT 6.2 K") and "下限" not in measured.description
    bounded = results._alert_data(inspection, finding({"spot_px": 5.0, "delta_t_lower_bound": True}))
    assert bounded.title.endswith("ΔT ≥ 6.2 K")
    assert bounded.description.endswith(f"ΔTn ≥ 7.8 K；{names.LOWER_BOUND_NOTE['zh-CN']}")
    # a console row of several findings is "at least" when its largest ΔT is
    assert FindingRow((finding({"delta_t_lower_bound": True}), finding({}, 4.0))).delta_t_at_least
    assert not FindingRow((finding({"delta_t_lower_bound": True}, 4.0), finding({}))).delta_t_at_least
    assert not FindingRow((finding({}),)).delta_t_at_least


def test_a_flight_taken_over_another_roof_ends_failed_saying_how_far_it_was(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, flight: Flight
) -> None:
    """Frames that were read and placed but see no module of the plant (another roof, or the wrong plant
    chosen) are not a healthy plant: the inspection fails, saying where the frames were."""

    def moved(value: Any) -> Any:  # the same plant 0.1° further east, about 10 km
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, float) for v in value):
            return [value[0] + 0.1, value[1]]
        if isinstance(value, list):
            return [moved(v) for v in value]
        if isinstance(value, dict):
            return {k: moved(v) for k, v in value.items()}
        return value

    elsewhere = json.dumps(moved(json.loads(flight.geojson))).encode()
    r = client.post(
        f"{PV}/plants/import", files={"file": ("roof.geojson", elsewhere, "application/geo+json")},
        headers=world.alice.headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    plant = r.json()
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    inspection = upload(client, world.bob.headers, plant["id"], frames).json()
    assert run_worker(client, factory, registry) == [inspection["id"]]
    failed = client.get(f"{PV}/inspections/{inspection['id']}", headers=world.alice.headers).json()
    assert failed["status"] == "failed", failed
    assert failed["error"].startswith("none of the 6 frames read sees a module of the plant: the nearest")
    distance = float(failed["error"].split("taken ")[1].split(" km")[0])
    east = 0.1 * flight.synthetic.layout.origin.metres_per_degree()[0] / 1000  # 0.1° of longitude [km]
    assert distance == pytest.approx(east, abs=0.1)
    assert pv_alerts(factory, world.a) == [] or all(
        a.source != f"pv-inspection:{inspection['id']}" for a in pv_alerts(factory, world.a)
    )
    page = as_user(client, world.alice)[0].get(f"/pv/inspections/{inspection['id']}")
    assert "分析失败" in page.text and "已读取的 6 帧均未拍到该电站的组件：最近的一帧距其组件" in page.text


def test_an_uploads_frames_are_kept_in_the_order_they_were_taken_whatever_their_names_order(
    client: TestClient, world: World, factory: sessionmaker[Session], flight: Flight
) -> None:
    """A camera that does not pad its numbers (IMG_2 before IMG_10): the frames' sequence, which the pose
    correction and the frame levels follow along the flight, is their numbers' order, in a zip and as
    files alike."""
    plant = import_plant(client, world.alice.headers, flight)
    renamed = {f"IMG_{4 * i + 2}.tif": p.read_bytes() for i, p in enumerate(flight.frames)}  # IMG_2 … IMG_22
    shuffled = sorted(renamed, reverse=True)  # not their order, nor their names' order
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name in shuffled:
            z.writestr(f"flight/{name}", renamed[name])
    as_zip = upload(
        client, world.bob.headers, plant["id"], [("file", ("f.zip", buffer.getvalue(), "application/zip"))]
    )
    as_files = upload(
        client, world.bob.headers, plant["id"], [("file", (n, renamed[n], "image/tiff")) for n in shuffled]
    )
    taken = [f"IMG_{4 * i + 2}.tif" for i in range(len(flight.frames))]
    for r in (as_zip, as_files):
        assert r.status_code == 202, r.text
        with factory() as s:
            s.info["scope"] = Scope.for_system()
            stmt = (
                select(PvFrame.filename).where(PvFrame.inspection_id == r.json()["id"]).order_by(PvFrame.seq)
            )
            assert [n.rsplit("/", 1)[-1] for n in s.execute(stmt).scalars()] == taken

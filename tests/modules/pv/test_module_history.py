"""A module's history over a plant's finished inspections, through the API and on its console page: its
figures flight by flight (none where a flight did not see it), the findings on it, a trend of its warmth
above its neighbours and of its soiling; the plant's map and the inspection's findings link to it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.pv.models import PvModuleResult
from gongzhi.registry import Registry
from tests.conftest import World
from tests.kit import pdftext
from tests.web.helpers import as_user

from .flights import tiny_flight
from .test_inspections_api import import_plant, run_worker, upload
from .test_plants_api import PV


def test_a_modules_history_through_the_api_and_on_its_page(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    flight = tiny_flight(tmp_path, frames=4)
    plant = import_plant(client, world.alice.headers, flight)
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    first = upload(client, world.bob.headers, plant["id"], frames, camera="M3T", irradiance_w_m2="850").json()
    second = upload(
        client, world.bob.headers, plant["id"], frames, camera="M3T", irradiance_w_m2="700"
    ).json()
    assert run_worker(client, factory, registry) == [first["id"], second["id"]]
    findings = client.get(f"{PV}/inspections/{first['id']}/findings", headers=world.alice.headers).json()
    hot = findings[0]
    rows = {
        k: {r["module_id"]: r for r in csv.DictReader(io.StringIO(client.get(
            f"{PV}/inspections/{k}/results?format=csv", headers=world.alice.headers).text))}
        for k in (first["id"], second["id"])
    }  # fmt: skip
    quiet = next(m for m in rows[first["id"]] if m not in {f["module_id"] for f in findings})
    # a flight that did not see the quiet module
    with unit_of_work(factory, Scope.for_system()) as s:
        s.execute(
            delete(PvModuleResult).where(
                PvModuleResult.inspection_id == second["id"], PvModuleResult.module_id == quiet
            )
        )

    got = client.get(f"{PV}/plants/{plant['id']}/modules/{hot['module_id']}", headers=world.vera.headers)
    assert got.status_code == 200, got.text
    history = got.json()
    assert history["module_id"] == hot["module_id"] and history["string"]
    assert [v["inspection_id"] for v in history["visits"]] == [first["id"], second["id"]]
    for v in history["visits"]:
        row = rows[v["inspection_id"]][hot["module_id"]]
        assert v["frames_seen"] == int(row["frames_seen"]) > 0
        assert abs(v["t_corrected_k"] - float(row["t_corrected_k"])) < 1e-3
        assert hot["anomaly_class"] in {f["anomaly_class"] for f in v["findings"]}
    quiet_history = client.get(
        f"{PV}/plants/{plant['id']}/modules/{quiet}", headers=world.vera.headers
    ).json()
    seen, unseen = quiet_history["visits"]
    assert seen["findings"] == [] and seen["t_median_c"] is not None
    assert unseen["frames_seen"] == 0 and unseen["t_median_c"] is None and unseen["soiling_index"] is None

    for bad, status in (("Z-99-99", 404), ("a b", 422), ("x" * 41, 422)):
        r = client.get(f"{PV}/plants/{plant['id']}/modules/{bad}", headers=world.vera.headers)
        assert r.status_code == status, (bad, r.text)
    assert client.get(f"{PV}/plants/999999/modules/A-01-01", headers=world.vera.headers).status_code == 404

    vera, _ = as_user(client, world.vera)
    page = vera.get(f"/pv/plants/{plant['id']}/modules/{hot['module_id']}")
    assert page.status_code == 200
    assert page.text.count('class="trend"') == 2  # its warmth above its neighbours and its soiling
    assert f'href="/pv/inspections/{first["id"]}"' in page.text and "高于相邻组件的温度" in page.text
    assert page.text.count(f"{hot['severity']} · ΔT") == 2  # found by both flights
    thumb = f'src="/pv/findings/{hot["id"]}/thumbnail.png"'  # with the thermal image each flight kept
    assert thumb in page.text and vera.get(f"/pv/findings/{hot['id']}/thumbnail.png").status_code == 200
    quiet_page = vera.get(f"/pv/plants/{plant['id']}/modules/{quiet}").text
    assert "本次飞行未拍到" in quiet_page
    assert vera.get(f"/pv/plants/{plant['id']}/modules/Z-99-99").status_code == 404
    # the plant's map and the inspection's findings lead there
    link = f'href="/pv/plants/{plant["id"]}/modules/{hot["module_id"]}"'
    assert link in vera.get(f"/pv/plants/{plant['id']}").text
    assert link in vera.get(f"/pv/inspections/{first['id']}").text
    charlie, _ = as_user(client, world.charlie)  # another region sees nothing of it
    assert charlie.get(f"/pv/plants/{plant['id']}/modules/{hot['module_id']}").status_code == 404
    r = client.get(f"{PV}/plants/{plant['id']}/modules/{hot['module_id']}", headers=world.charlie.headers)
    assert r.status_code == 404


def test_an_inspection_page_says_what_changed_since_the_previous_flight(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    flight = tiny_flight(tmp_path, frames=4)
    plant = import_plant(client, world.alice.headers, flight)
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    ids = [
        upload(client, world.bob.headers, plant["id"], frames, camera="M3T", started_at=when).json()["id"]
        for when in ("2026-11-30T03:00:00Z", "2026-11-01T03:00:00Z")  # uploaded out of flight order
    ]
    later, earlier = ids
    assert run_worker(client, factory, registry) == ids

    def findings(i: int) -> dict[str, int]:
        got = client.get(f"{PV}/inspections/{i}/findings", headers=world.alice.headers).json()
        return {f["module_id"]: f["id"] for f in got}

    now, then = findings(later), findings(earlier)
    assert now.keys() == then.keys() and len(now) >= 3  # the same frames: the same findings
    new, gone, unseen, *again = sorted(now)

    def reject(finding_id: int) -> None:
        r = client.put(
            f"{PV}/findings/{finding_id}/review", json={"status": "rejected"}, headers=world.alice.headers
        )
        assert r.status_code == 200, r.text

    reject(then[new])  # a false alarm then: new now
    reject(now[gone])  # a false alarm now: no longer found, though seen
    reject(now[unseen])
    with unit_of_work(factory, Scope.for_system()) as s:  # …and not seen by the later flight
        s.execute(
            delete(PvModuleResult).where(
                PvModuleResult.inspection_id == later, PvModuleResult.module_id == unseen
            )
        )
    alice, _ = as_user(client, world.alice)
    page = alice.get(f"/pv/inspections/{later}").text
    assert f"与巡检 #{earlier} 相比" in page
    said = f"新发现 1 块，再次发现 {len(again)} 块；1 块已不再发现；上次发现的组件中有 1 块本次未拍到"
    assert said in page, page[page.find("与巡检") : page.find("与巡检") + 600]
    assert f'已不再发现: <a href="/pv/plants/{plant["id"]}/modules/{gone}">{gone}</a>' in page
    assert page.count('<span class="badge">再次发现</span>') == len(again)
    assert page.count('<span class="badge">新发现</span>') == 1
    # the first flight has nothing before it
    assert "与巡检 #" not in alice.get(f"/pv/inspections/{earlier}").text
    # the API says the same, module by module
    changes = client.get(f"{PV}/inspections/{later}/changes", headers=world.vera.headers).json()
    assert changes == {
        "inspection_id": later, "previous_inspection_id": earlier, "new": [new], "again": again,
        "gone": [gone], "unseen": [unseen],
    }  # fmt: skip
    first = client.get(f"{PV}/inspections/{earlier}/changes", headers=world.vera.headers).json()
    assert first["previous_inspection_id"] is None and first["new"] == sorted(set(then) - {new})
    assert client.get(f"{PV}/inspections/{later}/changes", headers=world.charlie.headers).status_code == 404
    # and the O&M report says the same
    report = client.get(f"{PV}/inspections/{later}/report", headers=world.alice.headers).text
    line = f"与巡检 #{earlier}（2026-11-01）相比：新发现 1 块组件，再次发现 {len(again)} 块，1 块已不再发现，"
    assert line in report
    pdf = client.get(f"{PV}/inspections/{later}/report?format=pdf&lang=en", headers=world.alice.headers)
    said = " ".join(pdftext.text(pdf.content).split())
    assert (
        f"Against inspection #{earlier} (2026-11-01), modules with a finding: new 1, found again {len(again)}"
        in said
    )
    assert (
        "与巡检 #" not in client.get(f"{PV}/inspections/{earlier}/report", headers=world.alice.headers).text
    )

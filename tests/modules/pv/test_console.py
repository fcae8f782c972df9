"""The PV console pages: plants, a plant (map, inspections with report links, loop, robots, cleaning
economics), an inspection's findings reviewed and confirmed into cases; an outsider sees nothing."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.registry import Registry
from tests.conftest import World
from tests.web.helpers import as_user

from .test_loop_api import analysed


def test_plant_and_inspection_pages_review_and_confirm(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    ctx = analysed(client, world, factory, registry, tmp_path)
    plant_id, insp = ctx["plant"]["id"], ctx["inspection"]
    alice, csrf = as_user(client, world.alice)
    page = alice.get("/pv")
    assert page.status_code == 200 and "光伏电站" in page.text and f"/pv/plants/{plant_id}" in page.text
    assert "· 已分析 ·" in page.text and "· done ·" not in page.text  # the inspection status is named
    waiting = client.get(f"/api/v1/pv/inspections/{insp}/findings", headers=world.alice.headers).json()
    assert "待复核缺陷" in page.text and f"<strong>{len(waiting)}</strong>" in page.text  # none reviewed yet
    page = alice.get(f"/pv/plants/{plant_id}?cost=20000&tariff=0.4&energy=15000&rate=0.2")
    assert page.status_code == 200
    assert 'data-m="' in page.text and f"/api/v1/pv/inspections/{insp}/report?format=pdf" in page.text
    assert f'<a href="/pv/inspections/{insp}">巡检 #{insp} 的发现</a>' in page.text  # what the map shows
    assert "无缺陷或未见" in page.text and "故障 S" in page.text  # and its legend
    assert "最优清洗周期" in page.text and "57.7" in page.text  # T* of the 5 MWp example in domain/pv.md
    assert "飞行时间" in page.text and ">上传<" in page.text  # each inspection says when and how it came
    # and how many findings it made in each severity band
    made = client.get(f"/api/v1/pv/inspections/{insp}/findings", headers=world.alice.headers).json()
    bands = [sum(f["severity"] == b for f in made) for b in ("S1", "S2", "S3")]
    assert sum(bands) == len(made) > 0 and f">{bands[0]} · {bands[1]} · {bands[2]}</td>" in page.text
    page = alice.get(f"/pv/inspections/{insp}")
    assert page.status_code == 200 and "确认：将已接受的缺陷生成工单" in page.text
    # every module's figures, for a spreadsheet or a GIS
    csv_link = f"/api/v1/pv/inspections/{insp}/results?format=csv"
    assert "逐块组件数据" in page.text and f'href="{csv_link}"' in page.text
    rows = alice.get(csv_link).text.splitlines()
    assert rows[0].startswith("module_id,") and len(rows) == ctx["plant"]["module_count"] + 1
    findings = client.get(f"/api/v1/pv/inspections/{insp}/findings", headers=world.alice.headers).json()
    first, *rest = findings
    # each finding shows the IR crop of its best frame, for the reviewer to judge
    assert f'src="/pv/findings/{first["id"]}/thumbnail.png"' in page.text
    thumb = alice.get(f"/pv/findings/{first['id']}/thumbnail.png")
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")
    assert alice.get("/pv/findings/999999/thumbnail.png").status_code == 404
    r = alice.post(
        f"/pv/findings/{first['id']}/review",
        data={"csrf_token": csrf, "status": "reclassified", "anomaly_class": "junction_box"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    for f in rest:
        alice.post(f"/pv/findings/{f['id']}/review", data={"csrf_token": csrf, "status": "accepted"})
    r = alice.post(
        f"/pv/inspections/{insp}/confirm", data={"csrf_token": csrf, "mode": "wet"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert '<span class="muted">0</span>' in alice.get("/pv").text  # every finding reviewed
    page = alice.get(f"/pv/inspections/{insp}")
    assert page.text.count('href="/cases/') >= len(findings)
    assert "接线盒过热" in page.text  # the reclassified finding shows its new class
    assert "已改类" in page.text and ">reclassified<" not in page.text


def test_viewers_cannot_review_and_outsiders_see_nothing(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    ctx = analysed(client, world, factory, registry, tmp_path)
    plant_id, insp = ctx["plant"]["id"], ctx["inspection"]
    vera, _ = as_user(client, world.vera)
    page = vera.get(f"/pv/inspections/{insp}")
    assert page.status_code == 200 and "/review" not in page.text and "/confirm" not in page.text
    charlie, csrf_c = as_user(client, world.charlie)
    assert charlie.get(f"/pv/plants/{plant_id}").status_code == 404
    assert charlie.get(f"/pv/inspections/{insp}").status_code == 404
    some = client.get(f"/api/v1/pv/inspections/{insp}/findings", headers=world.alice.headers).json()[0]
    assert charlie.get(f"/pv/findings/{some['id']}/thumbnail.png").status_code == 404
    assert ctx["plant"]["code"] not in charlie.get("/pv").text
    r = charlie.post(f"/pv/inspections/{insp}/confirm", data={"csrf_token": csrf_c}, follow_redirects=False)
    assert r.status_code in (403, 404)

"""Village supervision, continued: visit photos in the evidence store, supervisors who see and change only
their own villages, import and export of projects and visits, and the opinion page's rate limit."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.app import create_app
from gongzhi.core.models import Role
from gongzhi.db import Scope, unit_of_work
from gongzhi.settings import Settings
from tests.conftest import Person, World, _person

V = "/api/v1/village"


def jpeg(colour: tuple[int, int, int] = (30, 120, 40), size: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, "JPEG")
    return out.getvalue()


def ok(r: Any, status: int = 201) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def post(client: TestClient, who: Person, path: str, body: dict[str, Any], status: int = 201) -> Any:
    return ok(client.post(f"{V}{path}", json=body, headers=who.headers), status)


@dataclass
class Villages:
    """Region A's villages: sam supervises ``own`` (by his station) and ``linked``, not ``other``."""

    own: int
    linked: int
    other: int
    sam: Person
    sam_supervisor: int


def _build(client: TestClient, world: World, factory: sessionmaker[Session]) -> Villages:
    ids = [
        post(client, world.adam, "/villages", {"code": code, "name": name})["id"]
        for code, name in (("qianjin", "前进村"), ("hongxing", "红星村"), ("dongfang", "东方村"))
    ]
    with unit_of_work(factory, Scope.for_system()) as s:
        sam = _person(s, "sam", world.a, Role.SUPERVISOR)
    station = post(client, world.adam, "/stations", {"village_id": ids[0], "name": "前进村监察联络站"})
    sup = post(
        client,
        world.adam,
        "/supervisors",
        {"name": "孙监督", "user_id": sam.user_id, "station_id": station["id"], "village_ids": [ids[1]]},
    )
    return Villages(ids[0], ids[1], ids[2], sam, sup["id"])


@pytest.fixture
def vs(client: TestClient, world: World, factory: sessionmaker[Session]) -> Villages:
    return _build(client, world, factory)


def _fill(client: TestClient, world: World, vid: int, tag: str) -> dict[str, Any]:
    """One of everything in village ``vid``, made by the region's admin."""
    project = post(
        client, world.adam, "/projects", {"village_id": vid, "name": f"{tag}道路", "budget_yuan": 1000}
    )
    visit = post(client, world.adam, "/visits", {"village_id": vid, "findings": f"{tag}走访"})
    decision = post(client, world.adam, "/decisions", {"village_id": vid, "title": f"{tag}议事"})
    asset = post(client, world.adam, "/assets", {"village_id": vid, "kind": "asset", "name": f"{tag}厂房"})
    lease = {"village_id": vid, "counterparty": f"{tag}公司", "subject": "租赁", "annual_rent_yuan": 100}
    contract = post(
        client, world.adam, "/contracts", {**lease, "starts_on": "2016-01-01", "ends_on": "2020-12-31"}
    )
    return {"project": project, "visit": visit, "decision": decision, "asset": asset, "contract": contract}


# --- photos -----------------------------------------------------------------------------------------


def test_a_visit_keeps_checked_photos_and_shows_them(client: TestClient, world: World, vs: Villages) -> None:
    visit = post(client, world.dana, "/visits", {"village_id": vs.own, "findings": "工地围挡缺失"})
    files = [("file", ("a.jpg", jpeg(), "image/jpeg")), ("file", ("b.jpg", jpeg((200, 0, 0)), "image/jpeg"))]
    shown = ok(client.post(f"{V}/visits/{visit['id']}/photos", files=files, headers=world.dana.headers))
    assert len(shown["photos"]) == 2
    assert shown["photo_urls"][0] == f"{V}/visits/{visit['id']}/photos/{shown['photos'][0]}"
    got = client.get(shown["photo_urls"][0], headers=world.vera.headers)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg" and got.content == jpeg()
    again = client.post(f"{V}/visits/{visit['id']}/photos", files=files[:1], headers=world.dana.headers)
    assert len(ok(again)["photos"]) == 2  # the same bytes are kept once
    for name, data, declared in (
        ("x.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf"),
        ("x.jpg", b"%PDF-1.4\n%%EOF\n", "image/jpeg"),
        ("x.png", b"just text", "image/png"),
        ("cut.jpg", jpeg()[:-2], "image/jpeg"),
    ):
        r = client.post(
            f"{V}/visits/{visit['id']}/photos",
            files=[("file", (name, data, declared))],
            headers=world.dana.headers,
        )
        assert r.status_code == 400 and r.json()["type"] == "/problems/file-rejected", (name, r.text)
    listed = client.get(f"{V}/visits", headers=world.vera.headers).json()
    assert [len(v["photos"]) for v in listed] == [2]
    assert (
        client.get(f"{V}/visits/{visit['id']}/photos/{'0' * 64}", headers=world.vera.headers).status_code
        == 404
    )
    assert (
        client.get(
            f"{V}/visits/{visit['id']}/photos/{shown['photos'][0]}", headers=world.charlie.headers
        ).status_code
        == 404
    )


def test_photos_are_size_checked(settings: Settings, factory: sessionmaker[Session], world: World) -> None:
    with TestClient(create_app(settings.model_copy(update={"max_upload_bytes": 2000}), factory)) as c:
        vid = post(c, world.adam, "/villages", {"code": "big", "name": "大村"})["id"]
        visit = post(c, world.adam, "/visits", {"village_id": vid, "findings": "x"})
        noise = Image.effect_noise((200, 200), 80).convert("RGB")
        out = io.BytesIO()
        noise.save(out, "JPEG", quality=95)
        r = c.post(
            f"{V}/visits/{visit['id']}/photos",
            files=[("file", ("big.jpg", out.getvalue(), "image/jpeg"))],
            headers=world.adam.headers,
        )
        assert r.status_code == 400 and r.json()["reason"] == "too_large"


def test_photos_of_an_issue_travel_with_its_case(client: TestClient, world: World, vs: Villages) -> None:
    up = ok(
        client.post(
            "/api/v1/evidence", files={"file": ("p.jpg", jpeg(), "image/jpeg")}, headers=world.dana.headers
        )
    )
    body = {"village_id": vs.own, "findings": "路面开裂", "issue": True, "photos": [up["sha256"]]}
    visit = post(client, world.dana, "/visits", body)
    files = client.get(f"/api/v1/cases/{visit['case_id']}/files", headers=world.alice.headers).json()
    assert up["sha256"] in str(files)
    later = ok(
        client.post(
            f"{V}/visits/{visit['id']}/photos",
            files=[("file", ("q.png", _png(), "image/png"))],
            headers=world.dana.headers,
        )
    )
    assert len(later["photos"]) == 2
    assert later["photos"][1] in str(
        client.get(f"/api/v1/cases/{visit['case_id']}/files", headers=world.alice.headers).json()
    )
    pdf = ok(
        client.post(
            "/api/v1/evidence",
            files={"file": ("d.pdf", _pdf(), "application/pdf")},
            headers=world.dana.headers,
        )
    )
    post(client, world.dana, "/visits", {**body, "photos": [pdf["sha256"]]}, 400)
    post(client, world.dana, "/visits", {**body, "photos": ["f" * 64]}, 400)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 0, 255)).save(out, "PNG")
    return out.getvalue()


def _pdf() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PDF")
    return out.getvalue()


# --- supervisors see and change only their villages -------------------------------------------------


def test_a_supervisor_reads_only_their_villages(client: TestClient, world: World, vs: Villages) -> None:
    mine = [_fill(client, world, vs.own, "甲"), _fill(client, world, vs.linked, "乙")]
    theirs = _fill(client, world, vs.other, "丙")
    h = vs.sam.headers
    assert {v["id"] for v in client.get(f"{V}/villages", headers=h).json()} == {vs.own, vs.linked}
    for path, key in (
        ("projects", "project"),
        ("visits", "visit"),
        ("decisions", "decision"),
        ("assets", "asset"),
        ("contracts", "contract"),
    ):
        seen = {x["id"] for x in client.get(f"{V}/{path}", headers=h).json()}
        assert seen == {m[key]["id"] for m in mine}, path
        assert client.get(f"{V}/{path}?village_id={vs.other}", headers=h).json() == []
        everything = {x["id"] for x in client.get(f"{V}/{path}", headers=world.adam.headers).json()}
        assert theirs[key]["id"] in everything  # the region's admin sees all
    assert [x["id"] for x in client.get(f"{V}/supervisors", headers=h).json()] == [vs.sam_supervisor]
    flags = client.get(f"{V}/ledger/flags", headers=h).json()
    assert theirs["contract"]["id"] not in {f["contract_id"] for f in flags}
    did = theirs["decision"]["id"]
    assert client.get(f"{V}/decisions/{did}", headers=h).status_code == 404
    assert client.get(f"{V}/decisions/{did}/record.pdf", headers=h).status_code == 404
    assert client.get(f"{V}/decisions/{mine[0]['decision']['id']}/record.pdf", headers=h).status_code == 200
    ledger = load_workbook(io.BytesIO(client.get(f"{V}/ledger.xlsx", headers=h).content))
    assert "丙公司" not in str([list(r) for ws in ledger.worksheets for r in ws.iter_rows(values_only=True)])
    visit = theirs["visit"]["id"]
    assert client.get(f"{V}/visits/{visit}/photos/{'a' * 64}", headers=h).status_code == 404


def test_a_supervisor_writes_only_in_their_villages(client: TestClient, world: World, vs: Villages) -> None:
    theirs = _fill(client, world, vs.other, "丙")
    sam = vs.sam
    for path, body in (
        ("/projects", {"village_id": vs.other, "name": "越界", "budget_yuan": 1}),
        ("/visits", {"village_id": vs.other, "findings": "越界"}),
        ("/visits", {"village_id": vs.own, "project_id": theirs["project"]["id"]}),
        ("/decisions", {"village_id": vs.other, "title": "越界"}),
        ("/assets", {"village_id": vs.other, "kind": "fund", "name": "越界"}),
        ("/consultations", {"village_id": vs.other, "title": "越界"}),
        (f"/decisions/{theirs['decision']['id']}/steps", {"step": "proposal", "held_on": "2026-11-01"}),
        (f"/contracts/{theirs['contract']['id']}/payments", {"paid_on": "2026-11-01", "amount_yuan": 1}),
    ):
        post(client, sam, path, body, 404)
    files = [("file", ("a.jpg", jpeg(), "image/jpeg"))]
    assert (
        client.post(
            f"{V}/visits/{theirs['visit']['id']}/photos", files=files, headers=sam.headers
        ).status_code
        == 404
    )
    post(client, sam, "/villages", {"code": "new", "name": "新村"}, 403)
    post(client, sam, "/stations", {"village_id": vs.own, "name": "站"}, 403)
    post(client, sam, "/supervisors", {"name": "自封", "village_ids": [vs.other]}, 403)
    visit = post(client, sam, "/visits", {"village_id": vs.linked, "findings": "本村走访"})
    assert visit["supervisor_id"] == vs.sam_supervisor  # recorded as the supervisor who made it
    post(client, sam, "/projects", {"village_id": vs.own, "name": "本村工程", "budget_yuan": 5})


def test_a_supervisor_handles_only_their_villages_opinions(
    client: TestClient, world: World, vs: Villages
) -> None:
    for code in ("qianjin", "dongfang"):
        r = client.post(
            f"/village/alpha/{code}/opinions", data={"text": f"{code} 路灯坏了"}, follow_redirects=False
        )
        assert r.status_code == 303
    seen = client.get(f"{V}/opinions", headers=vs.sam.headers).json()
    assert [o["text"] for o in seen] == ["qianjin 路灯坏了"]
    other = next(
        o for o in client.get(f"{V}/opinions", headers=world.adam.headers).json() if "dongfang" in o["text"]
    )
    assert client.post(f"{V}/opinions/{other['id']}/to-case", headers=vs.sam.headers).status_code == 404
    assert (
        client.post(f"{V}/opinions/{other['id']}/to-decision?title=x", headers=vs.sam.headers).status_code
        == 404
    )
    assert (
        client.post(
            f"{V}/opinions/{seen[0]['id']}/to-decision?title=修路灯", headers=vs.sam.headers
        ).status_code
        == 201
    )


# --- import and export ------------------------------------------------------------------------------


def _csv(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    return "\n".join(",".join(r) for r in rows).encode(encoding)


def upload(
    client: TestClient, who: Person, kind: str, data: bytes, name: str = "x.csv", **params: Any
) -> Any:
    return client.post(
        f"{V}/{kind}/import", files={"file": (name, data, "text/csv")}, params=params, headers=who.headers
    )


def test_a_project_import_with_broken_rows_imports_nothing_and_reports_every_row(
    client: TestClient, world: World, vs: Villages
) -> None:
    post(client, world.adam, "/projects", {"village_id": vs.own, "name": "已有工程", "budget_yuan": 1})
    data = _csv(
        [
            ["村", "项目名称", "预算（元）", "承建单位", "开工日期", "完工日期", "状态"],
            ["qianjin", "村道硬化", "860000", "某建设公司", "2026-03-01", "2026-10-31", "在建"],
            ["无名村", "水渠", "1000", "", "", "", ""],
            ["qianjin", "已有工程", "1", "", "", "", ""],
            ["hongxing", "桥梁", "很多", "", "2026/13/01", "", "拆了"],
            ["红星村", "路灯", "500", "", "2026-05-01", "2026-04-01", ""],
            ["qianjin", "村道硬化", "1", "", "", "", ""],
        ],
        "gb18030",
    )
    r = upload(client, world.adam, "projects", data)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 422 and r.json()["import_status"] == "rejected"  # RFC 9457: the HTTP code
    errors = {(e["row"], e["column"]) for e in r.json()["errors"]}
    assert errors == {
        (3, "village"),
        (4, "name"),
        (5, "budget_yuan"),
        (5, "starts_on"),
        (5, "status"),
        (6, "ends_on"),
        (7, "name"),
    }
    # each problem names the column as the file headed it, and its message's template for translation
    budget = next(e for e in r.json()["errors"] if (e["row"], e["column"]) == (5, "budget_yuan"))
    assert budget["header"] == "预算（元）" and budget["template"] == "not a number"
    assert [p["name"] for p in client.get(f"{V}/projects", headers=world.adam.headers).json()] == ["已有工程"]
    good = _csv(
        [
            ["village", "name", "budget_yuan", "status"],
            ["qianjin", "村道硬化", "860000", "在建"],
            ["红星村", "路灯", "500", ""],
        ]
    )
    checked = ok(upload(client, world.adam, "projects", good, dry_run="true"), 200)
    assert checked["status"] == "checked" and checked["rows"] == 2
    assert len(client.get(f"{V}/projects", headers=world.adam.headers).json()) == 1
    done = ok(upload(client, world.adam, "projects", good))
    assert done["status"] == "imported" and done["imported"] == 2
    made = {p["name"]: p for p in client.get(f"{V}/projects", headers=world.adam.headers).json()}
    assert made["村道硬化"]["budget_fen"] == 86_000_000 and made["村道硬化"]["status"] == "in_progress"
    assert upload(client, world.vera, "projects", good).status_code == 403
    audit = client.get("/api/v1/audit/verify", headers=world.dana.headers).json()
    assert audit["ok"] is True


def test_a_file_over_the_upload_limit_is_refused_whole_not_read_cut(
    settings: Settings, factory: sessionmaker[Session], world: World, vs: Villages
) -> None:
    rows = [["村", "项目名称", "预算（元）"]] + [["qianjin", f"村道{n:03}", "1000"] for n in range(300)]
    with TestClient(create_app(settings.model_copy(update={"max_upload_bytes": 4096}), factory)) as c:
        r = upload(c, world.adam, "projects", _csv(rows))
        assert r.status_code == 422
        assert [e["message"] for e in r.json()["errors"]] == ["the file is larger than 4 KB; split it"]
        assert c.get(f"{V}/projects", headers=world.adam.headers).json() == []


def test_visits_import_and_export_round_trip_formula_safe(
    client: TestClient, world: World, vs: Villages
) -> None:
    post(client, world.adam, "/projects", {"village_id": vs.own, "name": "村道硬化", "budget_yuan": 1})
    data = _csv(
        [
            ["村", "项目名称", "走访时间", "监督员", "发现情况", "是否问题"],
            ["qianjin", "村道硬化", "2026-11-20 09:30", "孙监督", '=HYPERLINK("http://x")', "否"],
            ["hongxing", "", "2026-11-21", "", "材料堆放占道", "是"],
        ]
    )
    done = ok(upload(client, world.adam, "visits", data))
    assert done["imported"] == 2
    visits = client.get(f"{V}/visits", headers=world.adam.headers).json()
    assert [v["case_id"] is not None for v in visits] == [False, True]
    assert visits[0]["supervisor_id"] == vs.sam_supervisor and visits[0]["project_id"] is not None
    wb = load_workbook(io.BytesIO(client.get(f"{V}/visits.xlsx", headers=world.adam.headers).content))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][:6] == ("村", "项目名称", "走访时间", "监督员", "发现情况", "是否问题")
    assert rows[1][4] == '\'=HYPERLINK("http://x")' and rows[2][5] == "是"
    gb = client.get(f"{V}/visits.csv?encoding=gb18030", headers=world.adam.headers)
    assert "材料堆放占道" in gb.content.decode("gb18030")
    again = upload(
        client, world.adam, "visits", client.get(f"{V}/visits.csv", headers=world.adam.headers).content
    )
    assert again.status_code == 201 and again.json()["imported"] == 2  # an export imports as it is
    bad = _csv(
        [
            ["村", "发现情况", "是否问题", "走访时间"],
            ["qianjin", "", "是", "2099-01-01"],
            ["qianjin", "x", "也许", ""],
        ]
    )
    errors = {(e["row"], e["column"]) for e in upload(client, world.adam, "visits", bad).json()["errors"]}
    assert errors == {(2, "findings"), (2, "visited_at"), (3, "issue")}
    exported = client.get(f"{V}/projects.csv", headers=world.adam.headers).content.decode("utf-8-sig")
    assert exported.splitlines()[1].startswith("qianjin,村道硬化,1.0")


def test_a_supervisor_imports_and_exports_only_their_villages(
    client: TestClient, world: World, vs: Villages
) -> None:
    _fill(client, world, vs.other, "丙")
    _fill(client, world, vs.own, "甲")
    text = client.get(f"{V}/projects.csv", headers=vs.sam.headers).content.decode("utf-8-sig")
    assert "甲道路" in text and "丙道路" not in text
    data = _csv([["村", "项目名称", "预算（元）"], ["dongfang", "越界工程", "1"]])
    r = upload(client, vs.sam, "projects", data)
    assert r.status_code == 422 and r.json()["errors"][0]["column"] == "village"


def test_an_unreadable_file_is_one_clear_error(client: TestClient, world: World, vs: Villages) -> None:
    r = upload(client, world.adam, "projects", b"PK\x03\x04broken", "x.xlsx")
    assert r.status_code == 422 and r.json()["errors"][0]["row"] == 1
    r = upload(client, world.adam, "projects", _csv([["名称"], ["x"]]))
    assert r.status_code == 422 and "村" in r.json()["errors"][0]["message"]


# --- the opinion page's rate limit ------------------------------------------------------------------


@pytest.fixture
def tight(settings: Settings, factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"rate_citizen_ip": "1/minute"}), factory)) as c:
        yield c


def test_the_opinion_page_is_rate_limited_and_keeps_what_was_typed(
    tight: TestClient, world: World, vs: Villages
) -> None:
    page = "/village/alpha/qianjin/opinions"
    assert tight.post(page, data={"text": "第一条意见"}, follow_redirects=False).status_code == 303
    r = tight.post(page, data={"text": "第二条：垃圾清运不及时", "name": "周大伯", "phone": "13611112222"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "第二条：垃圾清运不及时" in r.text and "周大伯" in r.text and "13611112222" in r.text


def test_a_project_follows_its_four_deliberations(client: TestClient, world: World, vs: Villages) -> None:
    p = post(
        client, world.adam, "/projects", {"village_id": vs.own, "name": "村道硬化", "budget_yuan": 860000}
    )
    tied = post(client, world.adam, f"/projects/{p['id']}/decision", {}, 200)
    d = client.get(f"{V}/decisions/{tied['decision_id']}", headers=world.adam.headers).json()
    assert d["title"].startswith("村道硬化") and "860000.00" in d["matter"] and d["next_step"] == "proposal"
    elsewhere = post(client, world.adam, "/decisions", {"village_id": vs.other, "title": "东方村议事"})
    post(client, world.adam, f"/projects/{p['id']}/decision", {"decision_id": elsewhere["id"]}, 400)
    body = {"village_id": vs.own, "name": "路灯", "budget_yuan": 1, "decision_id": elsewhere["id"]}
    post(client, world.adam, "/projects", body, 400)
    post(client, vs.sam, f"/projects/{p['id']}/decision", {"decision_id": elsewhere["id"]}, 404)
    other = post(client, world.adam, "/projects", {"village_id": vs.other, "name": "桥梁", "budget_yuan": 1})
    post(client, vs.sam, f"/projects/{other['id']}/decision", {}, 404)
    post(client, world.vera, f"/projects/{p['id']}/decision", {}, 403)

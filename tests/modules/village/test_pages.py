"""The console's village supervision pages: each renders in both languages with labelled controls, each
form acts, a supervisor sees only their villages, and an outsider region sees nothing."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import World
from tests.modules.village.test_supervision import Villages, _build, jpeg, ok, post
from tests.web.helpers import as_user, login, no_stack_trace
from tests.web.test_a11y import unlabelled

PAGES = [
    "/village",
    "/village/projects",
    "/village/visits",
    "/village/decisions",
    "/village/ledger",
    "/village/opinions",
]


@pytest.fixture
def vs(client: TestClient, world: World, factory: sessionmaker[Session]) -> Villages:
    return _build(client, world, factory)


def _data(client: TestClient, world: World, vs: Villages) -> dict[str, Any]:
    """A little of everything: a project, a visit with a photo, a decision, a flagged lease, an opinion."""
    project = post(
        client, world.adam, "/projects", {"village_id": vs.own, "name": "村道硬化", "budget_yuan": 86e4}
    )
    visit = post(client, world.adam, "/visits", {"village_id": vs.own, "findings": "路面开裂", "issue": True})
    files = [("file", ("a.jpg", jpeg(), "image/jpeg"))]
    photo = ok(
        client.post(f"/api/v1/village/visits/{visit['id']}/photos", files=files, headers=world.adam.headers)
    )
    decision = post(client, world.adam, "/decisions", {"village_id": vs.own, "title": "厂房出租"})
    lease = {"village_id": vs.other, "counterparty": "东方物流", "subject": "厂房", "annual_rent_yuan": 1.5e6}
    old = post(
        client, world.adam, "/contracts", {**lease, "starts_on": "2016-01-01", "ends_on": "2020-12-31"}
    )
    post(
        client,
        world.adam,
        "/contracts",
        {
            **lease,
            "starts_on": "2021-01-01",
            "ends_on": "2025-12-31",
            "annual_rent_yuan": 1.4e6,
            "previous_id": old["id"],
        },
    )
    r = client.post("/village/alpha/qianjin/opinions", data={"text": "村口路灯不亮", "phone": "13611112222"})
    assert r.status_code == 200
    return {"project": project, "visit": visit, "photo": photo["photos"][0], "decision": decision}


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_village_page_renders_with_labelled_controls(
    client: TestClient, world: World, vs: Villages, lang: str
) -> None:
    d = _data(client, world, vs)
    login(client, world.adam, lang)
    for path in [*PAGES, f"/village/decisions/{d['decision']['id']}"]:
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert f'<html lang="{lang.replace("_", "-")}"' in r.text
        no_stack_trace(r.text)
        assert unlabelled(r.text) == [], path
        ids = re.findall(r'\sid="([^"]+)"', r.text)
        assert len(ids) == len(set(ids)), f"duplicate ids on {path}"
    home = client.get("/").text
    assert 'href="/village"' in home and (("基层监督" in home) == (lang == "zh_CN"))
    ledger = client.get("/village/ledger").text
    assert ("续签低于原租金" in ledger) == (lang == "zh_CN") and "东方物流" in ledger
    # the flag's sentence follows the reader's language, figures and all
    assert ("续签首年租金" in ledger) == (lang == "zh_CN")
    assert ("First-year rent of the renewal" in ledger) == (lang == "en")
    visits = client.get("/village/visits").text
    assert f"/village/visits/{d['visit']['id']}/photos/{d['photo']}" in visits
    photo = client.get(f"/village/visits/{d['visit']['id']}/photos/{d['photo']}")
    assert photo.status_code == 200 and photo.content == jpeg()
    decision = client.get(f"/village/decisions/{d['decision']['id']}").text
    assert ("村党组织提议" in decision) == (lang == "zh_CN")
    opinions = client.get("/village/opinions").text
    assert "村口路灯不亮" in opinions and "13611112222" in opinions


def test_the_forms_act(client: TestClient, world: World, vs: Villages) -> None:
    csrf = login(client, world.adam)

    def send(path: str, status: int = 303, files: Any = None, **form: Any) -> Any:
        r = client.post(path, data={"csrf_token": csrf, **form}, files=files, follow_redirects=False)
        assert r.status_code == status, (path, r.text[:500])
        return r

    send(
        "/village/villages",
        code="xinmin",
        name="新民村",
        town="湖镇镇",
        representatives="30",
        party_members="40",
    )
    assert "新民村" in client.get("/village").text
    send(
        "/village/projects",
        village_id=str(vs.own),
        name="文化礼堂修缮",
        budget_yuan="120000",
        contractor="某公司",
    )
    page = client.get("/village/projects").text
    assert "文化礼堂修缮" in page and "村党组织提议" not in page
    project = re.search(r'action="/village/projects/(\d+)/decision"', page)
    assert project
    send(f"/village/projects/{project[1]}/decision", decision_id="")
    page = client.get("/village/projects").text
    assert "文化礼堂修缮（项目决策）" in page and "村党组织提议" in page
    photos = [
        ("photos", ("a.jpg", jpeg(), "image/jpeg")),
        ("photos", ("b.jpg", jpeg((9, 9, 9)), "image/jpeg")),
    ]
    send("/village/visits", files=photos, village_id=str(vs.own), findings="围挡缺失", issue="true")
    page = client.get("/village/visits").text
    assert "围挡缺失" in page and page.count('loading="lazy"') == 2 and "/cases/" in page
    send("/village/decisions", village_id=str(vs.own), title="村集体厂房出租", matter="出租 10 年")
    did = re.search(r'href="/village/decisions/(\d+)"', client.get("/village/decisions").text)
    assert did
    send(
        f"/village/decisions/{did[1]}/steps",
        step="proposal",
        held_on="2026-11-01",
        attendees="王书记、李主任",
    )
    send(f"/village/decisions/{did[1]}/steps", step="committees", held_on="2026-11-02")
    bad = send(
        f"/village/decisions/{did[1]}/steps",
        400,
        step="members",
        held_on="2026-11-03",
        expected="40",
        present="10",
        votes_for="10",
    )
    assert "quorum" in bad.text
    shown = client.get(f"/village/decisions/{did[1]}").text
    assert "王书记" in shown and "党员大会审议" in shown
    pdf = client.get(f"/village/decisions/{did[1]}/record.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    send("/village/assets", village_id=str(vs.own), kind="asset", name="原砖瓦厂厂房", value_yuan="5000000")
    send(
        "/village/contracts",
        village_id=str(vs.own),
        counterparty="某物流公司",
        subject="厂房租赁",
        starts_on="2016-01-01",
        ends_on="2020-12-31",
        annual_rent_yuan="1500000",
        escalation_pct="1",
    )
    contract = re.search(r'id="contract-(\d+)"', client.get("/village/ledger").text)
    assert contract
    send("/village/payments", contract_id=contract[1], paid_on="2021-03-01", amount_yuan="120000")
    assert "到期后仍收付" in client.get("/village/ledger").text
    send("/village/payments", 400, contract_id=contract[1], paid_on="soon", amount_yuan="1")
    send("/village/consultations", village_id=str(vs.own), title="礼堂改造方案征求意见")
    client.post("/village/alpha/qianjin/opinions", data={"text": "先修屋顶"})
    opinion = re.search(r'action="/village/opinions/(\d+)/to-case"', client.get("/village/opinions").text)
    assert opinion
    send(f"/village/opinions/{opinion[1]}/to-case")
    send(f"/village/opinions/{opinion[1]}/to-decision", title="礼堂屋顶维修")
    page = client.get("/village/opinions").text
    assert "/cases/" in page and "礼堂改造方案征求意见" in page
    data = "村,项目名称,预算（元）\nqianjin,路灯安装,3000\n无名村,x,1\n".encode("gb18030")
    report = send("/village/projects/import", 200, files={"file": ("p.csv", data, "text/csv")})
    assert (
        "无名村" not in report.text
        and "village" in report.text
        and "不是您可使用的村" in report.text  # the row's problem in the console's language
        and "not a village you may use" not in report.text
        and "路灯安装" not in client.get("/village/projects").text
    )
    odd = "村,项目名称,预算（元）\nqianjin,路灯安装,三千\n".encode()
    report = send("/village/projects/import", 200, files={"file": ("p.csv", odd, "text/csv")})
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", report.text)
    assert cells == [
        "2",
        "预算（元）",
        "不是数字",
    ]  # the file's header; not also "required" for the same cell
    good = "村,项目名称,预算（元）\nqianjin,路灯安装,3000\n".encode()
    assert "1" in send("/village/projects/import", 200, files={"file": ("p.csv", good, "text/csv")}).text
    assert "路灯安装" in client.get("/village/projects").text


def test_a_viewer_sees_no_forms_and_cannot_write(client: TestClient, world: World, vs: Villages) -> None:
    _data(client, world, vs)
    vera, csrf = as_user(client, world.vera)
    for path in PAGES:
        forms = re.findall(r'<form method="post" action="([^"]+)"', vera.get(path).text)
        assert forms == ["/logout"], (path, forms)
    r = vera.post(
        "/village/projects",
        data={"csrf_token": csrf, "village_id": str(vs.own), "name": "x", "budget_yuan": "1"},
    )
    assert r.status_code == 403
    assert "136****2222" in vera.get("/village/opinions").text  # contacts masked for viewers


def test_a_supervisor_sees_only_their_villages_on_every_page(
    client: TestClient, world: World, vs: Villages
) -> None:
    mine = _data(client, world, vs)
    other = post(
        client, world.adam, "/projects", {"village_id": vs.other, "name": "东方村桥梁", "budget_yuan": 1}
    )
    sam, csrf = as_user(client, vs.sam)
    assert "东方村" not in sam.get("/village").text and "前进村" in sam.get("/village").text
    assert (
        "东方村桥梁" not in sam.get("/village/projects").text
        and "村道硬化" in sam.get("/village/projects").text
    )
    assert "东方物流" not in sam.get("/village/ledger").text
    assert 'action="/village/villages"' not in sam.get("/village").text
    r = sam.post(
        "/village/projects",
        data={"csrf_token": csrf, "village_id": str(vs.other), "name": "越界", "budget_yuan": "1"},
    )
    assert r.status_code == 404 and other["name"] not in r.text
    assert sam.get(f"/village/decisions/{mine['decision']['id']}").status_code == 200


def test_an_outsider_sees_nothing(client: TestClient, world: World, vs: Villages) -> None:
    d = _data(client, world, vs)
    charlie, csrf = as_user(client, world.charlie)
    for path in PAGES:
        page = charlie.get(path).text
        for secret in ("前进村", "村道硬化", "路面开裂", "厂房出租", "东方物流", "村口路灯不亮"):
            assert secret not in page, (path, secret)
    assert charlie.get(f"/village/decisions/{d['decision']['id']}").status_code == 404
    assert charlie.get(f"/village/decisions/{d['decision']['id']}/record.pdf").status_code == 404
    assert charlie.get(f"/village/visits/{d['visit']['id']}/photos/{d['photo']}").status_code == 404
    r = charlie.post(
        f"/village/visits/{d['visit']['id']}/photos",
        data={"csrf_token": csrf},
        files=[("photos", ("a.jpg", io.BytesIO(jpeg()), "image/jpeg"))],
    )
    assert r.status_code == 404
    r = charlie.post(
        f"/village/decisions/{d['decision']['id']}/steps",
        data={"csrf_token": csrf, "step": "proposal", "held_on": "2026-11-01"},
    )
    assert r.status_code == 404


def test_each_section_has_its_own_page_title(client: TestClient, world: World, vs: Villages) -> None:
    login(client, world.adam)
    assert "<title>三资台账 · 基层监督 · " in client.get("/village/ledger").text
    assert "<title>基层监督 · " in client.get("/village").text

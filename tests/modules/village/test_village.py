"""Village supervision: stations and supervisors, visits whose findings become cases, 四议两公开 with its PDF
record, the three-assets ledger and its warnings, the public opinion page, all in the audit chain."""

from __future__ import annotations

import io
from datetime import date
from typing import Any, cast

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from gongzhi.modules.village.analytics import deliberation, ledger
from tests.conftest import World

V = "/api/v1/village"


def post(client: TestClient, who: Any, path: str, body: dict[str, Any], status: int = 201) -> Any:
    r = client.post(f"{V}{path}", json=body, headers=who.headers)
    assert r.status_code == status, r.text
    return r.json()


def village(client: TestClient, world: World, code: str = "qianjin") -> dict[str, Any]:
    body = {"code": code, "name": "前进村", "town": "湖镇镇", "representatives": 30, "party_members": 40}
    return cast(dict[str, Any], post(client, world.dana, "/villages", body))


def test_stations_and_supervisors_belong_to_villages_of_one_region(client: TestClient, world: World) -> None:
    v = village(client, world)
    other = village(client, world, "hongxing")
    station = post(client, world.dana, "/stations", {"village_id": v["id"], "name": "前进村监察联络站"})
    sup = post(
        client,
        world.dana,
        "/supervisors",
        {"name": "陈监督", "station_id": station["id"], "village_ids": [v["id"], other["id"]]},
    )
    assert sup["village_ids"] == sorted([v["id"], other["id"]])
    post(client, world.vera, "/villages", {"code": "x", "name": "x"}, 403)
    assert client.get(f"{V}/villages", headers=world.charlie.headers).json() == []
    post(client, world.charlie, "/stations", {"village_id": v["id"], "name": "越权"}, 404)


def test_a_visit_with_an_issue_becomes_a_case(client: TestClient, world: World) -> None:
    v = village(client, world)
    project = post(
        client,
        world.dana,
        "/projects",
        {
            "village_id": v["id"],
            "name": "村道硬化工程",
            "budget_yuan": 860000,
            "contractor": "某建设公司",
            "milestones": [{"name": "路基完工", "due_on": "2026-12-31", "amount_yuan": 300000}],
        },
    )
    assert project["budget_fen"] == 86_000_000
    post(
        client,
        world.dana,
        "/visits",
        {"village_id": v["id"], "project_id": project["id"], "issue": True},
        400,
    )
    visit = post(
        client,
        world.dana,
        "/visits",
        {
            "village_id": v["id"],
            "project_id": project["id"],
            "issue": True,
            "findings": "路面厚度不足设计要求的18厘米，实测12厘米",
        },
    )
    case = client.get(f"/api/v1/cases/{visit['case_id']}", headers=world.alice.headers).json()
    assert case["category"] == "village-supervision" and "村道硬化工程" in case["title"]
    calm = post(client, world.dana, "/visits", {"village_id": v["id"], "findings": "工地文明施工"})
    assert calm["case_id"] is None


def step(client: TestClient, world: World, did: int, name: str, status: int = 201, **extra: Any) -> Any:
    body = {
        "step": name,
        "held_on": "2026-11-20",
        "attendees": ["王书记", "李主任"],
        "summary": f"{name} 记录",
        **extra,
    }
    return post(client, world.dana, f"/decisions/{did}/steps", body, status)


def test_four_deliberations_and_two_disclosures_in_order_with_quorum(
    client: TestClient, world: World
) -> None:
    v = village(client, world)
    d = post(
        client,
        world.dana,
        "/decisions",
        {"village_id": v["id"], "title": "村集体厂房出租", "matter": "出租原砖瓦厂厂房 10 年"},
    )
    assert d["next_step"] == "proposal"
    step(client, world, d["id"], "members", 400, expected=40, present=30, votes_for=25)
    step(client, world, d["id"], "proposal")
    step(client, world, d["id"], "committees")
    step(client, world, d["id"], "members", 400, expected=40, present=15, votes_for=15)  # no quorum
    step(client, world, d["id"], "members", expected=40, present=32, votes_for=28, votes_against=2, abstain=2)
    step(client, world, d["id"], "representatives", 400, expected=30, present=20, votes_for=20)  # needs > 2/3
    adopted = step(
        client, world, d["id"], "representatives", expected=30, present=25, votes_for=22, votes_against=3
    )
    assert adopted["status"] == "adopted" and adopted["next_step"] == "disclose_resolution"
    step(client, world, d["id"], "disclose_resolution", attachments=["a" * 64])
    done = step(client, world, d["id"], "disclose_result")
    assert done["status"] == "completed" and done["next_step"] is None and len(done["steps"]) == 6
    pdf = client.get(f"{V}/decisions/{d['id']}/record.pdf", headers=world.alice.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and b"/FontFile2" in pdf.content
    audit = client.get("/api/v1/audit/verify", headers=world.dana.headers).json()
    assert audit["ok"] is True


def test_a_matter_voted_down_stops(client: TestClient, world: World) -> None:
    v = village(client, world)
    d = post(client, world.dana, "/decisions", {"village_id": v["id"], "title": "出售村办公楼"})
    step(client, world, d["id"], "proposal")
    step(client, world, d["id"], "committees")
    no = step(client, world, d["id"], "members", expected=40, present=30, votes_for=10, votes_against=20)
    assert no["status"] == "rejected" and no["next_step"] is None
    step(client, world, d["id"], "representatives", 400, expected=30, present=25, votes_for=25)


def test_the_deliberation_rules_alone() -> None:
    rec = deliberation.StepRecord("representatives", 30, 20, 11, 9, 0)
    assert deliberation.problems(rec, ["proposal", "committees", "members"]) == [
        "no quorum: more than two thirds of 30 must attend, 20 did"
    ]
    ok = deliberation.StepRecord("representatives", 30, 21, 11, 10, 0)
    assert deliberation.problems(ok, ["proposal", "committees", "members"]) == []
    assert deliberation.adopted(ok) and not deliberation.adopted(
        deliberation.StepRecord("members", 40, 30, 15, 15, 0)
    )


def test_an_escalating_lease_and_the_ledger_warnings(client: TestClient, world: World) -> None:
    v = village(client, world)
    asset = post(
        client,
        world.dana,
        "/assets",
        {"village_id": v["id"], "kind": "asset", "name": "原砖瓦厂厂房", "value_yuan": 5_000_000},
    )
    old = post(
        client,
        world.dana,
        "/contracts",
        {
            "village_id": v["id"],
            "asset_id": asset["id"],
            "counterparty": "某物流公司",
            "subject": "厂房租赁",
            "starts_on": "2016-01-01",
            "ends_on": "2020-12-31",
            "annual_rent_yuan": 1_500_000,
            "escalation_pct": 1.0,
            "disclosed_on": "2015-12-20",
        },
    )
    assert [r for _, r in old["schedule"]] == [
        150_000_000,
        151_500_000,
        153_015_000,
        154_545_150,
        156_090_602,
    ]
    renewal = post(
        client,
        world.dana,
        "/contracts",
        {
            "village_id": v["id"],
            "asset_id": asset["id"],
            "counterparty": "某物流公司",
            "subject": "厂房续租",
            "starts_on": "2021-01-01",
            "ends_on": "2025-12-31",
            "annual_rent_yuan": 1_400_000,
            "previous_id": old["id"],
        },
    )
    r = client.post(
        f"{V}/contracts/{old['id']}/payments",
        json={"paid_on": "2021-03-01", "amount_yuan": 120000},
        headers=world.dana.headers,
    )
    assert r.status_code == 201
    flags = {
        (f["kind"], f["contract_id"])
        for f in client.get(f"{V}/ledger/flags", headers=world.alice.headers).json()
    }
    assert flags == {
        ("renewal_below_previous", renewal["id"]),
        ("not_disclosed", renewal["id"]),
        ("paid_after_expiry", old["id"]),
    }
    wb = load_workbook(io.BytesIO(client.get(f"{V}/ledger.xlsx", headers=world.alice.headers).content))
    assert wb.sheetnames == ["合同 contracts", "租金计划 schedule", "资产资源资金 assets", "预警 flags"]
    assert wb["合同 contracts"].cell(2, 9).value == 7_651_507.52
    assert wb["预警 flags"].max_row == 4


def test_rent_schedule_handles_a_leap_day_start() -> None:
    lease = ledger.Lease(1, date(2024, 2, 29), date(2026, 12, 31), 100_000, 10.0)
    assert ledger.schedule(lease) == [
        (date(2024, 2, 29), 100_000),
        (date(2025, 2, 28), 110_000),
        (date(2026, 2, 28), 121_000),
    ]
    assert ledger.rent_due_until(lease, date(2025, 6, 1)) == 210_000


def test_opinions_flow_into_cases_and_decisions(client: TestClient, world: World) -> None:
    v = village(client, world)
    c = post(
        client, world.dana, "/consultations", {"village_id": v["id"], "title": "村文化礼堂改造方案征求意见"}
    )
    page = client.get("/village/alpha/qianjin/opinions")
    assert page.status_code == 200 and "村文化礼堂改造方案征求意见" in page.text
    sent = client.post(
        "/village/alpha/qianjin/opinions",
        data={
            "text": "礼堂屋顶漏水，建议先修屋顶",
            "name": "周大伯",
            "phone": "13611112222",
            "consultation_id": str(c["id"]),
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    client.post("/village/alpha/qianjin/opinions", data={"text": "村口路灯不亮"}, follow_redirects=False)
    seen = client.get(f"{V}/opinions", headers=world.vera.headers).json()
    assert {o["phone"] for o in seen} == {"136****2222", ""} and seen[0]["name"] == "周**"
    first, second = sorted(
        client.get(f"{V}/opinions", headers=world.alice.headers).json(), key=lambda o: o["id"]
    )
    as_case = client.post(f"{V}/opinions/{second['id']}/to-case", headers=world.alice.headers).json()
    assert as_case["case_id"] is not None
    again = client.post(f"{V}/opinions/{second['id']}/to-case", headers=world.alice.headers)
    assert again.status_code == 400
    d = client.post(f"{V}/opinions/{first['id']}/to-decision?title=文化礼堂修缮", headers=world.dana.headers)
    assert (
        d.status_code == 201 and d.json()["opinion_id"] == first["id"] and d.json()["next_step"] == "proposal"
    )
    assert client.get("/village/alpha/nowhere/opinions").status_code == 404
    assert client.get("/village/gamma/qianjin/opinions").status_code == 404


def test_a_refused_opinion_gives_the_form_back_with_what_the_villager_typed(
    client: TestClient, world: World
) -> None:
    village(client, world)
    other = village(client, world, code="houjia")
    c = post(client, world.dana, "/consultations", {"village_id": other["id"], "title": "后家村征求意见"})
    typed = {
        "text": "村口路灯不亮已经一周",
        "name": "周大伯",
        "phone": "13611112222",
        "consultation_id": str(c["id"]),
    }
    r = client.post("/village/alpha/qianjin/opinions", data=typed, follow_redirects=False)
    assert r.status_code == 404 and "提交未成功" in r.text
    assert all(value in r.text for value in ("村口路灯不亮已经一周", "周大伯", "13611112222"))
    blank = client.post("/village/alpha/qianjin/opinions", data={"text": "  ", "name": "周大伯"})
    assert blank.status_code == 400 and 'value="周大伯"' in blank.text
    assert client.get(f"{V}/opinions", headers=world.alice.headers).json() == []


def test_amounts_past_21_million_yuan_are_kept_to_the_fen_and_impossible_ones_refused(
    client: TestClient, world: World
) -> None:
    v = village(client, world)
    # a village's share of an industrial park: past the 21,474,836.47 yuan PostgreSQL's INTEGER held in fen
    park = {"village_id": v["id"], "kind": "asset", "name": "工业园区股份", "value_yuan": 386_500_000.25}
    assert post(client, world.dana, "/assets", park)["value_fen"] == 38_650_000_025
    contract = {
        "village_id": v["id"],
        "counterparty": "某开发公司",
        "subject": "园区整体租赁",
        "starts_on": "2026-01-01",
        "ends_on": "2030-12-31",
        "annual_rent_yuan": 52_000_000,
        "disclosed_on": "2025-12-20",
    }
    lease = post(client, world.dana, "/contracts", contract)
    paid = {"paid_on": "2026-01-05", "amount_yuan": 52_000_000}
    assert post(client, world.dana, f"/contracts/{lease['id']}/payments", paid)["id"] == lease["id"]
    for value in ("Infinity", "NaN", "1e308", "-0.01", "100000000000.01"):
        raw = f'{{"village_id": {v["id"]}, "kind": "asset", "name": "x", "value_yuan": {value}}}'
        r = client.post(
            f"{V}/assets", content=raw, headers={**world.dana.headers, "content-type": "application/json"}
        )
        assert r.status_code == 422, (value, r.text)

"""Every channel becomes a case: the public form and its status page, staff entry, masking and anonymity,
bulk import with a row-by-row report, follow-up that reopens, region isolation."""

from __future__ import annotations

import csv
import io
from typing import Any, cast

from fastapi.testclient import TestClient
from PIL import Image

from tests.conftest import World
from tests.modules.intake.conftest import POINT_A, Intake, xlsx
from tests.web.helpers import as_user

FORM = "/api/v1/public/intake/alpha/requests"


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (180, 60, 20)).save(buf, "JPEG")
    return buf.getvalue()


def submit(client: TestClient, **fields: Any) -> dict[str, Any]:
    data = {
        "subject": "小区门口井盖缺失",
        "description": "湖墅南路88号小区门口井盖缺失，晚上有人踩空",
        **fields,
    }
    r = client.post(FORM, data=data)
    assert r.status_code == 201, r.text
    return cast(dict[str, Any], r.json())


def test_the_web_form_renders_and_a_submission_lands_on_its_status_page(
    client: TestClient, intake: Intake
) -> None:
    page = client.get("/intake/alpha/")
    assert page.status_code == 200 and "问题描述" in page.text and "城乡建设" in page.text
    r = client.post(
        "/intake/alpha/report",
        data={
            "description": "学校门口早晚高峰拥堵，接送孩子的车辆乱停",
            "name": "李娜",
            "phone": "13900001111",
        },
        files=[("photos", ("a.jpg", jpeg(), "image/jpeg"))],
        follow_redirects=False,
    )
    assert r.status_code == 303
    status = client.get(r.headers["location"])
    assert status.status_code == 200 and "提交成功" in status.text
    assert "13900001111" not in status.text and "李娜" not in status.text


def test_a_public_submission_is_routed_and_suggests_duplicates(client: TestClient, intake: Intake) -> None:
    first = submit(client, lat=POINT_A[0], lon=POINT_A[1])
    assert first["category"] == "construction" and first["triage"] in ("auto", "pending")
    again = submit(
        client, lat=POINT_A[0], lon=POINT_A[1], description="湖墅南路88号小区门口井盖缺失，晚上有人踩空了！"
    )
    assert [x["number"] for x in again["similar"]] == [first["number"]]
    asked = client.post(
        "/api/v1/public/intake/alpha/similar",
        json={"subject": "井盖缺失", "description": "湖墅南路88号小区门口井盖缺失"},
    ).json()
    assert first["number"] in {x["number"] for x in asked}
    public = client.get(f"/api/v1/public/cases/{first['tracking_code']}").json()
    assert public["state"] == "submitted" and "reporter_phone" not in public


def test_a_photo_travels_with_the_request(client: TestClient, intake: Intake, world: World) -> None:
    r = client.post(
        FORM, data={"description": "路灯不亮已经一周"}, files=[("photos", ("p.jpg", jpeg(), "image/jpeg"))]
    )
    number = r.json()["number"]
    case = client.get("/api/v1/cases", params={"q": number}, headers=world.alice.headers).json()["items"][0]
    files = client.get(f"/api/v1/cases/{case['id']}/files", headers=world.alice.headers).json()
    assert len(files) == 1 and files[0]["content_type"] == "image/jpeg"
    bad = client.post(
        FORM, data={"description": "x"}, files=[("photos", ("p.jpg", b"not a jpeg", "image/jpeg"))]
    )
    assert bad.status_code == 400
    assert client.get("/api/v1/cases", params={"q": "x"}, headers=world.alice.headers).json()["total"] == 0


def test_contacts_are_masked_for_roles_that_do_not_need_them(
    client: TestClient, intake: Intake, world: World
) -> None:
    body = {
        "subject": "噪音扰民",
        "description": "夜里工地施工噪音",
        "reporter_name": "王小明",
        "reporter_phone": "13512345678",
        "reporter_email": "wxm@example.com",
        "channel": "hotline",
    }
    made = client.post("/api/v1/intake/requests", json=body, headers=world.alice.headers)
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    seen = {
        p: client.get(f"/api/v1/intake/requests/{rid}", headers=getattr(world, p).headers).json()
        for p in ("alice", "vera", "bob")
    }
    assert (
        seen["alice"]["reporter_phone"] == "13512345678"
        and seen["alice"]["reporter_email"] == "wxm@example.com"
    )
    for who in ("vera", "bob"):
        assert seen[who]["reporter_phone"] == "135****5678" and seen[who]["reporter_name"] == "王**"
        assert seen[who]["reporter_email"] == "w***@example.com"
    export = client.get("/api/v1/cases/export.csv", headers=world.alice.headers).content.decode("utf-8-sig")
    assert "13512345678" not in export and "135****5678" in export
    assert client.get(f"/api/v1/intake/requests/{rid}", headers=world.charlie.headers).status_code == 404


def test_an_anonymous_request_keeps_no_contact_at_all(
    client: TestClient, intake: Intake, world: World
) -> None:
    made = submit(client, name="赵六", phone="13700000000", anonymous="true")
    items = client.get("/api/v1/intake/requests", headers=world.alice.headers).json()["items"]
    mine = next(x for x in items if x["number"] == made["number"])
    assert mine["anonymous"] is True and mine["reporter_phone"] == "" and mine["reporter_name"] == ""


def _xlsx(rows: list[list[Any]]) -> bytes:
    return xlsx(["编号", "标题", "内容", "类别", "联系电话", "来电时间", "纬度", "经度"], rows)


def test_an_import_with_broken_rows_imports_nothing_and_reports_every_row(
    client: TestClient, intake: Intake, world: World
) -> None:
    rows = [
        [
            "H001",
            "公交车不按站停",
            "12路公交经常不停靠",
            "交通运输",
            "13800000001",
            "2026-11-01 09:00",
            "",
            "",
        ],
        ["H002", "", "", "城乡建设", "13800000002", "2026-11-01 10:00", "", ""],
        ["H003", "污水直排", "河道有污水直排", "火星事务", "13800000003", "2026-11-02 08:00", "", ""],
        ["H004", "欠薪", "工地拖欠工资", "劳动和社会保障", "13800000004", "昨天", "north", ""],
        ["H001", "重复编号", "同一编号又出现", "", "", "2026-11-03 08:00", "", ""],
    ]
    h = world.alice.headers
    before = client.get("/api/v1/cases", headers=h).json()["total"]
    r = client.post(
        "/api/v1/intake/imports?kind=hotline",
        files={"file": ("tickets.xlsx", _xlsx(rows), "application/octet-stream")},
        headers=h,
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 422 and r.json()["import_status"] == "rejected"  # RFC 9457: the HTTP code
    report = {(e["row"], e["column"]) for e in r.json()["errors"]}
    assert report == {(3, "subject"), (4, "service_code"), (5, "received_at"), (5, "lat"), (6, "external_id")}
    assert client.get("/api/v1/cases", headers=h).json()["total"] == before
    assert client.get("/api/v1/intake/imports", headers=h).json()[0]["status"] == "rejected"

    good = [
        rows[0],
        ["H005", "噪音", "夜间施工噪音扰民", "", "13800000005", "2026-11-04 21:30", "30.31", "120.14"],
    ]
    ok = client.post(
        "/api/v1/intake/imports?kind=hotline",
        files={"file": ("t.xlsx", _xlsx(good), "application/octet-stream")},
        headers=h,
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["imported"] == 2 and client.get("/api/v1/cases", headers=h).json()["total"] == before + 2
    again = client.post(
        "/api/v1/intake/imports?kind=hotline",
        files={"file": ("t.xlsx", _xlsx(good), "application/octet-stream")},
        headers=h,
    )
    assert again.status_code == 422 and {e["message"] for e in again.json()["errors"]} == {
        "H001 already imported",
        "H005 already imported",
    }


def test_a_csv_in_gb18030_imports_too(client: TestClient, intake: Intake, world: World) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["来访人", "来访事由", "登记时间"])
    w.writerow(["孙七", "村道路灯坏了，晚上看不见", "2026/11/20 14:00"])
    r = client.post(
        "/api/v1/intake/imports?kind=visit",
        files={"file": ("visits.csv", buf.getvalue().encode("gb18030"), "text/csv")},
        headers=world.alice.headers,
    )
    assert r.status_code == 201, r.text
    items = client.get("/api/v1/intake/requests?channel=visit", headers=world.alice.headers).json()["items"]
    assert items[0]["reporter_name"] == "孙七" and items[0]["created_at"].startswith("2026-11-20T06:00")


def _close(client: TestClient, world: World, case_id: int) -> None:
    h = world.alice.headers
    for action, body in [("accept", {}), ("dispatch", {"actor_id": world.roads_actor})]:
        assert (
            client.post(f"/api/v1/cases/{case_id}/actions/{action}", json=body, headers=h).status_code == 200
        )
    for action, payload in [("claim", {}), ("resolve", {"note": "已补装井盖"})]:
        assert (
            client.post(
                f"/api/v1/cases/{case_id}/actions/{action}", json=payload, headers=world.bob.headers
            ).status_code
            == 200
        )
    assert (
        client.post(
            f"/api/v1/cases/{case_id}/actions/verify", json={"passed": True}, headers=world.dana.headers
        ).status_code
        == 200
    )
    assert client.post(f"/api/v1/cases/{case_id}/actions/close", json={}, headers=h).status_code == 200


def test_an_unsatisfied_follow_up_on_the_status_page_reopens_the_case(
    client: TestClient, intake: Intake, world: World
) -> None:
    made = submit(client)
    case = client.get("/api/v1/cases", params={"q": made["number"]}, headers=world.alice.headers).json()[
        "items"
    ][0]
    _close(client, world, case["id"])
    page = client.get(f"/intake/track/{made['tracking_code']}")
    assert "回访评价" in page.text
    r = client.post(
        f"/intake/track/{made['tracking_code']}/rate",
        data={"rating": 1, "satisfied": "false", "note": "井盖又丢了"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    again = client.get(f"/api/v1/cases/{case['id']}", headers=world.alice.headers).json()
    assert again["state"] == "reopened" and again["reopen_count"] == 1
    assert "已重新办理" in client.get(f"/intake/track/{made['tracking_code']}").text


def test_staff_enter_a_phone_follow_up(client: TestClient, intake: Intake, world: World) -> None:
    made = client.post(
        "/api/v1/intake/requests",
        json={"description": "楼道灯坏了", "channel": "hotline"},
        headers=world.alice.headers,
    ).json()
    _close(client, world, made["case_id"])
    r = client.post(
        f"/api/v1/intake/requests/{made['id']}/follow-up",
        json={"rating": 5, "satisfied": True},
        headers=world.dana.headers,
    )
    assert r.status_code == 200 and r.json()["state"] == "closed"
    assert (
        client.post(
            f"/api/v1/intake/requests/{made['id']}/follow-up",
            json={"rating": 4, "satisfied": True},
            headers=world.dana.headers,
        ).status_code
        == 409
    )


def test_bad_form_input_is_a_400_not_a_500(client: TestClient, intake: Intake) -> None:
    assert (
        client.post("/intake/alpha/report", data={"description": "x", "lat": "999", "lon": "0"}).status_code
        == 400
    )
    assert (
        client.post("/intake/alpha/report", data={"description": "x", "lat": "north", "lon": "0"}).status_code
        == 400
    )
    assert client.post(FORM, data={"description": ""}).status_code in (400, 422)
    assert client.get("/intake/nowhere/").status_code == 404


def test_the_status_page_names_a_core_category_instead_of_showing_its_code(
    client: TestClient, intake: Intake, world: World
) -> None:
    body = {
        "title": "屋顶光伏组件热斑",
        "category": "pv_om",
        "location": {"type": "Point", "coordinates": [120.14, 30.31]},
    }
    made = client.post("/api/v1/cases", json=body, headers=world.alice.headers).json()
    page = client.get(f"/intake/track/{made['tracking_code']}").text
    assert "类别：光伏运维" in page and "pv_om" not in page


def test_a_refused_photo_gives_the_form_back_with_what_the_citizen_typed(
    client: TestClient, intake: Intake, world: World
) -> None:
    typed = {
        "subject": "路灯不亮",
        "description": "湖墅南路口路灯连续三晚不亮",
        "name": "王芳",
        "phone": "13712345678",
    }
    bad = [("photos", ("a.jpg", b"not an image at all", "image/jpeg"))]
    r = client.post("/intake/alpha/report", data=typed, files=bad, follow_redirects=False)
    assert r.status_code == 400 and "提交未成功" in r.text
    assert all(value in r.text for value in typed.values())
    found = client.get("/api/v1/cases", params={"q": "路灯连续三晚"}, headers=world.alice.headers).json()
    assert found["items"] == []
    blank = client.post("/intake/alpha/report", data={**typed, "description": "  "}, follow_redirects=False)
    assert blank.status_code == 400 and "请填写问题描述" in blank.text and 'value="路灯不亮"' in blank.text


def test_a_web_request_shows_its_source_and_its_reporter_in_words_on_the_case_page(
    client: TestClient, intake: Intake, world: World
) -> None:
    made = submit(client)
    case = client.get("/api/v1/cases", params={"q": made["number"]}, headers=world.alice.headers).json()
    alice, _ = as_user(client, world.alice)
    page = alice.get(f"/cases/{case['items'][0]['id']}").text
    assert "<dd>网上反映</dd>" in page and '<span class="muted">群众</span>' in page
    assert "intake:web" not in page and '<span class="muted">citizen</span>' not in page

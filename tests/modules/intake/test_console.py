"""Console pages of intake: the inbox with the classifier's suggestion, triage that teaches the model,
monthly statistics; a viewer cannot triage and an outsider sees nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.intake.models import TrainingExample
from tests.conftest import World
from tests.modules.intake.conftest import POINT_A, Intake
from tests.web.helpers import as_user


def pending(client: TestClient, world: World) -> dict[str, Any]:
    r = client.post(
        "/api/v1/intake/requests", json={"description": "请问这个事情找谁"}, headers=world.alice.headers
    )
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    assert made["triage"] == "pending"
    return made


def test_the_inbox_shows_the_suggestion_and_its_confidence_in_both_languages(
    client: TestClient, intake: Intake, world: World
) -> None:
    made = pending(client, world)
    routed = client.post(
        "/api/v1/intake/requests",
        json={"subject": "公交车不停站", "description": "12路公交车经常不停靠站台"},
        headers=world.alice.headers,
    ).json()
    alice, _ = as_user(client, world.alice)
    page = alice.get("/intake")
    assert page.status_code == 200 and "民情诉求" in page.text and "待分拣" in page.text
    assert made["number"] in page.text and f"{round(made['confidence'] * 100)}%" in page.text
    everything = alice.get("/intake?view=all")
    assert routed["number"] in everything.text and "交通运输" in everything.text
    en, _ = as_user(client, world.alice, "en")
    assert "Suggested department" in en.get("/intake").text


def test_a_dispatcher_corrects_the_route_and_the_correction_becomes_a_training_example(
    client: TestClient, intake: Intake, world: World, factory: sessionmaker[Session]
) -> None:
    made = pending(client, world)
    alice, csrf = as_user(client, world.alice)
    r = alice.post(
        f"/intake/requests/{made['id']}/triage",
        data={"csrf_token": csrf, "service_code": "law"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/intake"
    after = client.get(f"/api/v1/intake/requests/{made['id']}", headers=world.alice.headers).json()
    assert after["triage"] == "corrected" and after["service_code"] == "law"
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        examples = s.execute(
            select(TrainingExample).where(TrainingExample.request_id == made["id"])
        ).scalars()
        assert [(e.category_code, e.source) for e in examples] == [("law", "corrected")]
    assert made["number"] not in alice.get("/intake").text  # no longer awaiting triage


def test_a_viewer_sees_the_inbox_but_cannot_triage(client: TestClient, intake: Intake, world: World) -> None:
    made = pending(client, world)
    vera, csrf = as_user(client, world.vera)
    page = vera.get("/intake")
    assert made["number"] in page.text and f"/intake/requests/{made['id']}/triage" not in page.text
    r = vera.post(
        f"/intake/requests/{made['id']}/triage",
        data={"csrf_token": csrf, "service_code": "law"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    still = client.get(f"/api/v1/intake/requests/{made['id']}", headers=world.alice.headers).json()
    assert still["triage"] == "pending"


def test_an_outsider_sees_nothing_of_another_regions_requests(
    client: TestClient, intake: Intake, world: World
) -> None:
    made = pending(client, world)
    charlie, csrf = as_user(client, world.charlie)
    for url in ("/intake", "/intake?view=all", "/intake/stats"):
        page = charlie.get(url)
        assert page.status_code == 200 and made["number"] not in page.text
    r = charlie.post(
        f"/intake/requests/{made['id']}/triage",
        data={"csrf_token": csrf, "service_code": "law"},
        follow_redirects=False,
    )
    assert r.status_code == 404


def test_monthly_statistics_count_the_months_requests_per_department(
    client: TestClient, intake: Intake, world: World
) -> None:
    made = pending(client, world)
    month = made["created_at"][:7]
    alice, _ = as_user(client, world.alice)
    page = alice.get(f"/intake/stats?month={month}")
    assert page.status_code == 200 and "月度统计" in page.text and "合计" in page.text
    assert alice.get("/intake/stats?month=2026-13x").status_code in (400, 422)


TEXT = "湖墅南路88号附近搅拌站夜间施工，噪音很大，居民无法入睡，请尽快处理"


def test_duplicates_are_grouped_under_the_original_and_merged_from_the_page(
    client: TestClient, intake: Intake, world: World
) -> None:
    h = world.alice.headers
    body = {"subject": "搅拌站噪音", "description": TEXT, "lat": POINT_A[0], "lon": POINT_A[1]}
    first = client.post("/api/v1/intake/requests", json=body, headers=h).json()
    second = client.post(
        "/api/v1/intake/requests", json={**body, "description": TEXT + "，已经反映过多次"}, headers=h
    ).json()
    assert second["duplicate_of_case_id"] == first["case_id"]
    alice, csrf = as_user(client, world.alice)
    page = alice.get("/intake/duplicates")
    assert page.status_code == 200 and "重复诉求" in page.text
    assert first["number"] in page.text and second["number"] in page.text
    charlie, _ = as_user(client, world.charlie)
    assert second["number"] not in charlie.get("/intake/duplicates").text
    vera, vera_csrf = as_user(client, world.vera)
    refused = vera.post(
        f"/intake/requests/{second['id']}/merge",
        data={"csrf_token": vera_csrf, "into_case_id": first["case_id"]},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    r = alice.post(
        f"/intake/requests/{second['id']}/merge",
        data={"csrf_token": csrf, "into_case_id": first["case_id"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.get(f"/api/v1/cases/{second['case_id']}", headers=h).json()["state"] == "merged"
    assert second["number"] not in alice.get("/intake/duplicates").text


def test_the_hot_topic_table_is_recomputed_from_the_page(
    client: TestClient, intake: Intake, world: World
) -> None:
    for i in range(3):
        body = {
            "subject": "丽发新城搅拌站噪音",
            "description": f"丽发新城搅拌站夜间施工噪音扰民，第{i}次反映",
            "reporter_phone": f"1380000000{i}",
        }
        assert (
            client.post("/api/v1/intake/requests", json=body, headers=world.alice.headers).status_code == 201
        )
    alice, csrf = as_user(client, world.alice)
    assert "暂无热点问题" in alice.get("/intake/hot").text
    r = alice.post("/intake/hot/refresh", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    page = alice.get("/intake/hot").text
    assert "热度排名" in page and "丽发新城" in page
    assert ">时间范围</th>" in page and "工期" not in page  # not the construction period of a project
    charlie, _ = as_user(client, world.charlie)
    assert "丽发新城" not in charlie.get("/intake/hot").text
    vera, vera_csrf = as_user(client, world.vera)
    assert "/intake/hot/refresh" not in vera.get("/intake/hot").text
    assert vera.post("/intake/hot/refresh", data={"csrf_token": vera_csrf}).status_code == 403


def _closed(client: TestClient, world: World) -> dict[str, Any]:
    h = world.alice.headers
    made: dict[str, Any] = client.post(
        "/api/v1/intake/requests", json={"subject": "井盖缺失", "description": "小区门口井盖缺失"}, headers=h
    ).json()
    cid = made["case_id"]
    steps = [
        ("accept", {}, h),
        ("dispatch", {"actor_id": world.roads_actor}, h),
        ("claim", {}, world.bob.headers),
        ("resolve", {"note": "已补装"}, world.bob.headers),
        ("verify", {"passed": True}, world.dana.headers),
        ("close", {}, h),
    ]
    for action, body, who in steps:
        r = client.post(f"/api/v1/cases/{cid}/actions/{action}", json=body, headers=who)
        assert r.status_code == 200, (action, r.text)
    return made


def test_a_phone_follow_up_entered_on_the_page_reopens_an_unsatisfied_case(
    client: TestClient, intake: Intake, world: World
) -> None:
    made = _closed(client, world)
    alice, csrf = as_user(client, world.alice)
    page = alice.get("/intake/follow-up")
    assert page.status_code == 200 and made["number"] in page.text and "待回访" in page.text
    assert made["number"] not in as_user(client, world.charlie)[0].get("/intake/follow-up").text
    r = alice.post(
        f"/intake/requests/{made['id']}/follow-up",
        data={"csrf_token": csrf, "rating": 2},
        follow_redirects=False,
    )
    assert r.status_code == 303
    case = client.get(f"/api/v1/cases/{made['case_id']}", headers=world.alice.headers).json()
    assert case["state"] == "reopened"
    after = alice.get("/intake/follow-up").text
    assert "2 / 5" in after and "不满意" in after


def test_every_intake_page_renders_in_both_languages(
    client: TestClient, intake: Intake, world: World
) -> None:
    pending(client, world)
    for lang, word in (("zh_CN", "民情诉求"), ("en", "Citizen requests")):
        alice, _ = as_user(client, world.alice, lang)
        for url in (
            "/intake",
            "/intake?view=all",
            "/intake/duplicates",
            "/intake/hot",
            "/intake/follow-up",
            "/intake/stats",
        ):
            page = alice.get(url)
            assert page.status_code == 200 and word in page.text, (lang, url)


def test_the_inbox_names_the_channel_and_the_triage_instead_of_showing_codes(
    client: TestClient, intake: Intake, world: World
) -> None:
    made = pending(client, world)
    alice, _ = as_user(client, world.alice)
    row = alice.get("/intake").text.split(made["number"], 1)[1].split("</tr>", 1)[0]
    assert ">工作人员录入</td>" in row and ">待分拣</td>" in row
    assert ">staff</td>" not in row and ">pending</td>" not in row
    en, _ = as_user(client, world.alice, "en")
    assert ">Staff entry</td>" in en.get("/intake").text


def test_the_inbox_offers_each_section_once_and_marks_the_current_one(
    client: TestClient, intake: Intake, world: World
) -> None:
    alice, _ = as_user(client, world.alice)
    inbox = alice.get("/intake").text
    assert inbox.count(">待分拣</a>") == 1
    hot = alice.get("/intake/hot").text
    assert 'href="/intake/hot" aria-current="page">热点问题</a>' in hot and 'href="/intake">待分拣</a>' in hot


def test_the_english_inbox_names_categories_in_english(
    client: TestClient, intake: Intake, world: World
) -> None:
    pending(client, world)
    en, _ = as_user(client, world.alice, "en")
    page = en.get("/intake").text
    assert ">Urban and rural construction</option>" in page and ">城乡建设</option>" not in page

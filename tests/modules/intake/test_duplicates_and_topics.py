"""Near-duplicates at intake, merging that the citizen follows, hot topics with early warnings, statistics."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work, utcnow
from gongzhi.modules.intake import hot, service
from gongzhi.modules.intake.analytics import hot_topics as ht
from gongzhi.modules.intake.analytics import latency, minhash
from gongzhi.modules.intake.models import HotTopic, IntakeRequest, IntakeSettings
from gongzhi.modules.intake.schemas import RequestIn
from gongzhi.registry import Registry
from tests.conftest import World
from tests.modules.intake.conftest import POINT_A, Intake
from tests.web.helpers import as_user

TEXT = "丽发新城小区旁边的搅拌站每天晚上施工，噪音和粉尘严重影响居民休息，请相关部门尽快处理"


def test_minhash_finds_an_edited_copy_and_ignores_a_different_text() -> None:
    index = minhash.LshIndex()
    index.add(1, minhash.signature(TEXT))
    index.add(2, minhash.signature("学校食堂饭菜价格太贵，学生家长意见很大，希望教育局管一管"))
    hits = index.query(minhash.signature(TEXT.replace("尽快", "马上")), 0.5)
    assert [i for i, _ in hits] == [1] and hits[0][1] > 0.7
    assert minhash.near_duplicate_groups(
        [minhash.signature(t) for t in (TEXT, "无关的内容" * 5, TEXT + "！")], 0.8
    ) == [[0, 2]]


def test_a_duplicate_is_suggested_merged_and_then_follows_the_original(
    client: TestClient, intake: Intake, world: World
) -> None:
    h = world.alice.headers
    body = {
        "subject": "搅拌站噪音",
        "description": TEXT,
        "lat": POINT_A[0],
        "lon": POINT_A[1],
        "channel": "hotline",
    }
    first = client.post("/api/v1/intake/requests", json=body, headers=h).json()
    second = client.post(
        "/api/v1/intake/requests", json={**body, "description": TEXT + "，已经反映过多次"}, headers=h
    ).json()
    assert second["duplicate_of_case_id"] == first["case_id"] and second["duplicate_score"] >= 0.5
    similar = client.get(f"/api/v1/intake/requests/{second['id']}/similar", headers=h).json()
    assert [x["number"] for x in similar] == [first["number"]]
    merged = client.post(
        f"/api/v1/intake/requests/{second['id']}/merge", json={"into_case_id": first["case_id"]}, headers=h
    )
    assert merged.status_code == 200 and merged.json()["state"] == "merged"
    client.post(f"/api/v1/cases/{first['case_id']}/actions/accept", json={}, headers=h)
    tracking = client.get(f"/api/v1/cases/{second['case_id']}", headers=h).json()["tracking_code"]
    page = client.get(f"/intake/track/{tracking}").text
    assert first["number"] in page and "已受理" in page
    o311 = client.get(f"/open311/v2/requests/{second['number']}.json?jurisdiction_id=alpha").json()[0]
    assert o311["status"] == "open" and first["number"] in o311["status_notes"]
    assert (
        client.get(f"/api/v1/intake/requests/{first['id']}/similar", headers=h).json() == []
    )  # merged is not open


def _doc(i: int, text: str, at: datetime, likes: int = 0, who: str | None = None) -> ht.Doc:
    return ht.Doc(i, text[:20], text, at, who or f"u{i}", likes, 0)


def test_hot_topics_cluster_by_text_and_place_and_rank_by_heat() -> None:
    now = datetime(2026, 11, 28, tzinfo=datetime.now().astimezone().tzinfo)
    docs = [
        _doc(i, f"丽发新城搅拌站噪音扰民第{i}次反映，晚上十点后还在施工", now - timedelta(days=i), likes=i)
        for i in range(6)
    ]
    docs += [_doc(10 + i, f"伊景园滨河苑捆绑销售车位{i}", now - timedelta(days=20 + i)) for i in range(3)]
    docs += [_doc(20, "路灯坏了", now), _doc(21, "学校收费", now)]
    topics = ht.topics(docs, now)
    assert [len(t.ids) for t in topics] == [6, 3]
    assert (
        topics[0].place == "丽发新城"
        and topics[0].key == "place:丽发新城"
        and topics[0].heat > topics[1].heat
    )
    assert topics[0].people == "" and ht.places("A市A3区伊景园滨河苑小区") == ["伊景园滨河苑"]
    assert ht.heat(docs[:1], now) < ht.heat(docs[:2], now)


def test_two_topics_at_one_place_get_keys_of_their_own() -> None:
    """Found by the demo data: a broken lamp and a blocked drain on the same street made two topics with
    the key ``place:…``, and the refresh that stores them broke the table's unique key."""
    now = datetime(2026, 11, 28, tzinfo=datetime.now().astimezone().tzinfo)
    docs = [_doc(i, "丽发新城小区路灯不亮一周晚上很黑", now - timedelta(hours=i)) for i in range(4)]
    docs += [_doc(10 + i, "丽发新城小区下水道堵塞污水漫到路面", now - timedelta(hours=i)) for i in range(3)]
    topics = ht.topics(docs, now, place_link=0.9)
    assert len(topics) == 2 and topics[0].place == topics[1].place == "丽发新城"
    assert topics[0].key == "place:丽发新城" and topics[1].key == f"place:丽发新城#{topics[1].ids[0]}"


def test_a_heating_topic_raises_one_early_warning_and_exports_the_table(
    client: TestClient, intake: Intake, world: World, factory: sessionmaker[Session], registry: Registry
) -> None:
    now = utcnow()
    with unit_of_work(factory, Scope(region_id=world.a, system=True, username="t")) as s:
        s.add(IntakeSettings(region_id=world.a, hot_alert_heat=5.0))
        for i in range(4):
            data = RequestIn(
                subject="丽发新城搅拌站噪音",
                description=f"丽发新城搅拌站夜间施工噪音扰民，第{i}次反映",
                reporter_phone=f"1380000000{i}",
                votes=i,
                received_at=now - timedelta(hours=i),
            )
            service.submit(s, registry, data, region_id=world.a, channel="web", secret="k")
        topics = hot.refresh(s, registry, world.a, now=now)
        assert topics[0].requests == 4 and topics[0].reporters == 4 and topics[0].alert_id is not None
        first_alert = topics[0].alert_id
        again = hot.refresh(s, registry, world.a, now=now)  # not 50 % hotter: no new warning, same alert kept
        assert again[0].alert_id == first_alert and again[0].previous_heat == topics[0].heat
    alerts = client.get("/api/v1/alerts?kind=intake.hot_topic", headers=world.alice.headers).json()
    assert alerts["total"] == 1 and "丽发新城" in alerts["items"][0]["title"]
    # the alert's page links the hot-topic table and the cases of the topic's four requests
    alice, _ = as_user(client, world.alice)
    page = alice.get(f"/alerts/{first_alert}").text
    assert "相关页面" in page and 'href="/intake/hot"' in page
    with unit_of_work(factory, Scope(region_id=world.a, system=True, username="t")) as s:
        topic = s.execute(select(HotTopic).where(HotTopic.alert_id == first_alert)).scalar_one()
        stmt = select(IntakeRequest.case_id).where(IntakeRequest.id.in_(topic.request_ids))
        case_ids = set(s.execute(stmt).scalars())
    assert len(case_ids) == 4 and all(f'href="/cases/{c}"' in page for c in case_ids)
    table = client.get("/api/v1/intake/hot-topics", headers=world.alice.headers).json()
    assert table[0]["rank"] == 1 and table[0]["place"] == "丽发新城"
    xlsx = client.get("/api/v1/intake/hot-topics.xlsx", headers=world.alice.headers)
    ws = load_workbook(io.BytesIO(xlsx.content)).active
    assert [c.value for c in ws[1]][:6] == [
        "热度排名",
        "问题ID",
        "热度指数",
        "时间范围",
        "地点/人群",
        "问题描述",
    ]
    assert ws.cell(2, 1).value == 1 and "丽发新城" in ws.cell(2, 5).value
    assert client.get("/api/v1/intake/hot-topics", headers=world.charlie.headers).json() == []


def test_monthly_statistics_count_per_department(client: TestClient, intake: Intake, world: World) -> None:
    h = world.alice.headers
    made = client.post(
        "/api/v1/intake/requests",
        json={"description": "公交车司机拒载", "service_code": "transport", "channel": "hotline"},
        headers=h,
    ).json()
    client.post(
        "/api/v1/intake/requests", json={"description": "学校乱收费", "service_code": "education"}, headers=h
    )
    cid = made["case_id"]
    for action, who, body in [
        ("accept", world.alice, {}),
        ("dispatch", world.alice, {"actor_id": world.roads_actor}),
        ("claim", world.bob, {}),
        ("resolve", world.bob, {"note": "已处理"}),
        ("verify", world.dana, {"passed": True}),
        ("close", world.alice, {}),
        ("follow_up", world.dana, {"rating": 5, "satisfied": True}),
    ]:
        assert (
            client.post(f"/api/v1/cases/{cid}/actions/{action}", json=body, headers=who.headers).status_code
            == 200
        )
    month = utcnow().astimezone(latency_zone()).strftime("%Y-%m")
    st = client.get(f"/api/v1/intake/stats/monthly?month={month}", headers=h).json()
    assert st["total"]["received"] == 2 and st["total"]["on_time"] == 1 and st["total"]["rated"] == 1
    roads = next(d for d in st["departments"] if d["department"] == "道路科")
    assert roads["received"] == 1 and roads["satisfaction"] == 1.0
    assert st["latency_days"]["n"] == 1.0
    assert client.get("/api/v1/intake/stats/monthly?month=2026-13", headers=h).status_code == 400
    xlsx = client.get(f"/api/v1/intake/stats/monthly.xlsx?month={month}", headers=h)
    assert load_workbook(io.BytesIO(xlsx.content)).active.cell(1, 1).value == "部门"


def latency_zone() -> ZoneInfo:
    from gongzhi.kit.workdays import SHANGHAI

    return SHANGHAI


def test_the_demo_latency_table_reproduces_the_board_median() -> None:
    import numpy as np

    sample = latency.sample_demo(np.random.default_rng(0), 20_000)
    s = cast(dict[str, float], latency.summary(sample))  # a sample to summarise: no figure is None
    assert 10.5 <= s["median"] <= 12.0 and 0.33 <= s["within_7d"] <= 0.37
    assert 35 <= s["p90"] <= 47 and 120 <= s["p99"] <= 220  # the tail follows the board, not a straight line


def test_a_nearby_report_of_the_same_category_is_suggested_even_in_other_words(
    client: TestClient, intake: Intake, world: World
) -> None:
    from gongzhi.modules.intake.analytics import geocell

    h = world.alice.headers
    base = {"service_code": "construction", "channel": "hotline"}
    first = client.post(
        "/api/v1/intake/requests",
        json={
            **base,
            "description": "湖墅南路人行道井盖缺失，行人容易踩空摔倒",
            "lat": 30.3120,
            "lon": 120.1410,
        },
        headers=h,
    ).json()
    near = {**base, "description": "路口窨井没有盖子，晚上很危险", "lat": 30.3125, "lon": 120.1414}
    far = {**near, "lat": 30.3500, "lon": 120.2000}
    found = client.post(
        "/api/v1/public/intake/alpha/similar",
        json={k: near[k] for k in ("description", "service_code", "lat", "lon")},
    ).json()
    assert [x["number"] for x in found] == [first["number"]] and found[0]["distance_m"] < 100
    away = client.post(
        "/api/v1/public/intake/alpha/similar",
        json={k: far[k] for k in ("description", "service_code", "lat", "lon")},
    ).json()
    assert away == []
    assert geocell.cell(30.3120, 120.1410) in geocell.around(30.3125, 120.1414, 250)
    cells = set(geocell.around(30.0, 120.0, 250))
    for dlat, dlon in [(0.00224, 0.0), (-0.00224, 0.0), (0.0, 0.0025), (0.0, -0.0025), (0.0015, -0.0015)]:
        assert geocell.cell(30.0 + dlat, 120.0 + dlon) in cells  # every point within 250 m
    assert geocell.cell(30.01, 120.0) not in cells

"""Routing: the keyword tree routes from day one, low confidence goes to triage, corrections retrain."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.intake import jobs, routing
from gongzhi.modules.intake.analytics import classifier as clf
from tests.conftest import World
from tests.modules.intake.conftest import Intake

SEEDS = [
    clf.CategorySeed("transport", "交通运输", ("公交", "出租车", "司机")),
    clf.CategorySeed("education", "教育文体", ("学校", "老师", "学生")),
    clf.CategorySeed("environment", "环境保护", ("噪音", "污染", "异味")),
]


def test_the_keyword_tree_alone_routes_a_message() -> None:
    router = clf.train(SEEDS, [])
    p = router.predict("公交车司机拒载", "12路公交司机经常不停站")
    assert p.code == "transport" and p.confidence > 0.5
    assert [c for c, _ in p.ranking] == ["transport", "education", "environment"]
    assert (
        router.predict("学校门口", "老师体罚学生", allowed=["environment", "education"]).code == "education"
    )


def test_corrections_teach_what_keywords_do_not_know() -> None:
    examples = [clf.Example("搅拌站", "搅拌站粉尘大，灰尘满天飞", "environment")] * 3
    before = clf.train(SEEDS, []).predict("搅拌站又开工了", "搅拌站粉尘")
    after = clf.train(SEEDS, examples).predict("搅拌站又开工了", "搅拌站粉尘")
    assert after.code == "environment" and after.confidence > before.confidence


def test_a_model_survives_a_round_trip_through_bytes() -> None:
    router = clf.train(
        SEEDS, [clf.Example("出租车绕路", "司机绕路多收钱", "transport")], corpus=[("噪音", "晚上施工")]
    )
    again = clf.loads(clf.dumps(router))
    for subject, text in [("出租车", "绕路"), ("学校", "食堂"), ("", "夜间噪音")]:
        assert again.predict(subject, text) == router.predict(subject, text)


def test_a_batch_classifies_exactly_as_one_message_at_a_time() -> None:
    router = clf.train(
        SEEDS,
        [
            clf.Example("出租车绕路", "司机绕路多收钱" * 20, "transport"),
            clf.Example("校车", "学校校车超载", "education"),
        ],
        corpus=[("噪音", "晚上施工噪音<br>扰民"), ("公交", "公交站台破损")],
    )
    docs = [
        ("公交站台破损", "湖墅南路与长庆街交叉口的公交站台顶棚破损，下雨天乘客无处避雨。" * 6),
        ("", "夜间噪音，<p>工地</p>污染"),
        ("学校老师", ""),
        ("", ""),
        ("出租车\x01司机", "绕路\x02多收钱"),
    ]
    batch = router.predict_many(docs)
    assert batch == [router.predict(s, t) for s, t in docs]
    assert batch[0].code == "transport" and batch[2].code == "education"
    hits = router.featurizer.hits("学校老师", "")
    assert hits[[s.code for s in SEEDS].index("education")] == 2 * (
        1 + 2
    )  # two keywords, both in the subject


def test_low_confidence_goes_to_triage_and_the_correction_retrains(
    client: TestClient, intake: Intake, world: World, factory: sessionmaker[Session]
) -> None:
    h = world.alice.headers
    made = client.post("/api/v1/intake/requests", json={"description": "请问这个事情找谁"}, headers=h).json()
    assert made["triage"] == "pending" and made["confidence"] < 0.55
    queue = client.get("/api/v1/intake/requests?triage=pending", headers=h).json()
    assert made["id"] in {x["id"] for x in queue["items"]}
    assert (
        client.post(
            f"/api/v1/intake/requests/{made['id']}/triage",
            json={"service_code": "law"},
            headers=world.vera.headers,
        ).status_code
        == 403
    )
    fixed = client.post(
        f"/api/v1/intake/requests/{made['id']}/triage", json={"service_code": "law"}, headers=h
    ).json()
    assert (
        fixed["triage"] == "corrected"
        and fixed["service_code"] == "law"
        and fixed["department_id"] is not None
    )
    case = client.get(f"/api/v1/cases/{made['case_id']}", headers=h).json()
    assert case["category"] == "law"
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        assert not routing.retrain_due(s, world.a)  # 1 correction, the default asks for 20
    model = client.post("/api/v1/intake/model/retrain", headers=h)
    assert model.status_code == 201 and model.json()["examples"] == 1
    again = client.post("/api/v1/intake/classify", json={"description": "请问这个事情找谁"}, headers=h).json()
    assert again["code"] == "law"


def test_the_scheduled_job_retrains_only_regions_with_enough_corrections(
    intake: Intake, world: World, factory: sessionmaker[Session]
) -> None:
    from gongzhi.modules.intake.models import IntakeSettings, TrainingExample

    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        s.add(IntakeSettings(region_id=world.a, retrain_every=2))
        for text in ("公交不停站", "出租车拒载"):
            s.add(
                TrainingExample(
                    region_id=world.a, subject=text, text=text, category_code="transport", source="corrected"
                )
            )
    assert jobs.retrain_due_regions(factory) == [world.a]
    assert jobs.retrain_due_regions(factory) == []


def test_the_starter_tree_routes_to_a_bureau_the_region_already_has(
    factory: sessionmaker[Session], world: World
) -> None:
    """A region that already has 住房和城乡建设局 (under a code of its own) gets no second one."""
    from gongzhi.core import service as core
    from gongzhi.modules.intake import service

    with unit_of_work(factory, Scope(region_id=world.b, system=True, username="setup")) as s:
        housing = core.create_department(s, "housing", "住房和城乡建设局", "Housing")
        cats = {c.code: c for c in service.seed_categories(s, world.b)}
        names = [d.name for d in core.list_departments(s) if d.region_id == world.b]
        assert names.count("住房和城乡建设局") == 1
        assert cats["construction"].department_id == housing.id
        assert names.count("交通运输局") == 1  # the others are made as before

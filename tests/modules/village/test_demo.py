"""`gongzhi demo`'s village supervision goes through the module's services: counts, every ledger flag, a
finding and an opinion that became cases, a restricted supervisor login, an intact audit chain, and the
public opinion page the console walk visits."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from gongzhi import migrate
from gongzhi.app import create_app
from gongzhi.core import audit
from gongzhi.core import service as core
from gongzhi.core.models import Region, Role, User
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.demo import PASSWORD
from gongzhi.modules.intake import service as intake
from gongzhi.modules.village import demo, service
from gongzhi.modules.village.analytics import deliberation
from gongzhi.modules.village.models import Decision, Milestone, Opinion, Village, Visit
from gongzhi.registry import Registry
from gongzhi.settings import Settings

TODAY = date.today()


def test_the_village_demo_is_believable_and_real(tmp_path: Path, registry: Registry) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with unit_of_work(factory, Scope.for_system()) as s:
        gs = core.create_region(s, "gongshu", "拱墅区", "GS").id
        core.create_region(s, "longyou", "龙游县", "LY")
    with unit_of_work(factory, Scope(region_id=gs, system=True, username="demo")) as s:
        intake.seed_categories(s, gs)  # as in `gongzhi demo`: opinions then go through the intake path

    counts = demo.load_demo(factory, registry, "x" * 32)

    assert counts["village_villages"] == 6 and counts["village_stations"] == 4
    assert counts["village_supervisors"] == 4 and counts["village_projects"] == 6
    assert counts["village_consultations"] == 2 and counts["village_opinions"] == 6
    with unit_of_work(factory, Scope(region_id=gs, role=Role.ADMIN, username="t")) as s:
        kinds = Counter(f.kind for f in service.ledger_flags(s))
        assert set(kinds) == {"renewal_below_previous", "not_disclosed", "paid_after_expiry"}
        assert len(service.rows(s, Visit, Visit.case_id.is_not(None))) == 1
        assert len(service.rows(s, Opinion, Opinion.case_id.is_not(None))) == 1
        overdue = service.rows(s, Milestone, Milestone.done_on.is_(None), Milestone.due_on < TODAY)
        assert len(overdue) == 1
        status = Counter(d.status for d in service.rows(s, Decision))
        assert status == {"completed": 1, "adopted": 1, "in_progress": 2}  # gongshu only
        done = next(d for d in service.rows(s, Decision) if d.status == "completed")
        assert [x.step for x in service.steps_of(s, done.id)] == deliberation.ORDER
        assert service.ledger_flags(s, service.village_by_code(s, "dq02").id)  # clean ones beside
        user = s.execute(select(User).where(User.username == "gs_village")).scalar_one()
    mine = Scope(region_id=gs, user_id=user.id, role=Role.SUPERVISOR, username=user.username)
    with unit_of_work(factory, mine) as s:
        assert sorted(v.code for v in service.rows(s, Village)) == ["dq01", "dq02"]
    with unit_of_work(factory, Scope.for_system()) as s:
        links, problems = audit.verify(s)
        assert links > 50 and problems == []
        assert s.execute(select(Region.id).where(Region.code == "longyou")).scalar_one()
    engine.dispose()

    settings = Settings(env="test", database_url=url, data_dir=tmp_path, embedded_worker=False)
    app = create_app(settings)
    with TestClient(app) as client:
        page = client.get("/village/gongshu/dq01/opinions")
        assert page.status_code == 200 and "南苑社区公共停车位规划征求意见" in page.text
        form = {"username": "gs_village", "password": PASSWORD, "next": "/village"}
        assert client.post("/login", data=form).status_code == 200
        for path in ("/village", "/village/projects", "/village/decisions", "/village/ledger"):
            r = client.get(path)
            assert r.status_code == 200 and "南苑社区" in r.text and "田园村" not in r.text, path
    app.state.gongzhi.factory.kw["bind"].dispose()

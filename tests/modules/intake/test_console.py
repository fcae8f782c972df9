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
from tests.modules.intake.conftest import Intake
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

"""Rate limits on the public intake form, its JSON twin and Open311 POST: 429 with Retry-After in each
channel's own format, the form given back with everything the citizen typed, and one count for every
server process (two apps here) because it lives in the database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.app import create_app
from gongzhi.settings import Settings
from tests.modules.intake.conftest import POINT_A, Intake

TYPED = {
    "subject": "井盖缺失",
    "description": "文三路与学院路口东侧井盖缺失，夜间非常危险",
    "address": "文三路 100 号",
    "name": "王芳",
    "phone": "13712345678",
    "anonymous": "true",
    "service_code": "construction",
}


def app_client(settings: Settings, factory: sessionmaker[Session], **limits: str) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=limits), factory))


@pytest.fixture
def tight(settings: Settings, factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with app_client(
        settings, factory, rate_citizen_ip="2/minute", rate_open311_ip="3/minute", rate_open311_key="2/hour"
    ) as c:
        yield c


def test_the_form_answers_429_and_gives_back_what_the_citizen_typed(
    tight: TestClient, intake: Intake
) -> None:
    for _ in range(2):
        assert tight.post("/intake/alpha/report", data=TYPED, follow_redirects=False).status_code == 303
    r = tight.post("/intake/alpha/report", data=TYPED, follow_redirects=False)
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 120
    assert "提交过于频繁" in r.text and "您填写的内容已保留" in r.text
    for typed in (
        "井盖缺失",
        "文三路与学院路口东侧井盖缺失，夜间非常危险",
        "文三路 100 号",
        "王芳",
        "13712345678",
    ):
        assert typed in r.text
    assert 'value="true" checked' in r.text and 'value="construction" selected' in r.text
    api = tight.post("/api/v1/public/intake/alpha/requests", data={"description": "同一地址的第三次提交"})
    assert api.status_code == 429 and api.headers["content-type"] == "application/problem+json"
    assert api.json()["retry_after"] == int(api.headers["retry-after"])


def test_the_refusal_speaks_the_visitors_language_and_keeps_the_text(
    tight: TestClient, intake: Intake
) -> None:
    tight.cookies.set("gz_lang", "en")
    for _ in range(2):
        assert tight.post("/intake/alpha/report", data=TYPED, follow_redirects=False).status_code == 303
    r = tight.post("/intake/alpha/report", data=TYPED, follow_redirects=False)
    assert r.status_code == 429 and "Too many submissions; please try again in" in r.text
    assert re.search(r"try again in \d+ seconds?<", r.text) and "Your text is kept" in r.text
    assert "提交过于频繁" not in r.text and all(v in r.text for v in ("井盖缺失", "王芳", "13712345678"))


def test_open311_refuses_per_api_key_in_its_own_error_format(tight: TestClient, intake: Intake) -> None:
    data = {"jurisdiction_id": "alpha", "service_code": "construction", "lat": POINT_A[0], "long": POINT_A[1]}
    for _ in range(2):
        r = tight.post("/open311/v2/requests.json", data={**data, "api_key": intake.api_key})
        assert r.status_code == 201, r.text
    r = tight.post("/open311/v2/requests.json", data={**data, "api_key": intake.api_key})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 60
    assert r.json()[0]["code"] == 429 and "retry after" in r.json()[0]["description"]
    xml = tight.post("/open311/v2/requests.xml", data={**data, "api_key": intake.api_key})
    assert xml.status_code == 429 and ET.fromstring(xml.content).find("error/code").text == "429"  # type: ignore[union-attr]
    other_key = {**data, "jurisdiction_id": "gamma", "api_key": intake.c_api_key}
    assert tight.post("/open311/v2/requests.json", data=other_key).status_code == 201  # its own quota
    assert (
        tight.post("/open311/v2/requests.json", data=other_key).status_code == 429
    )  # the address's is spent
    assert tight.get("/open311/v2/requests.json", params={"jurisdiction_id": "alpha"}).status_code == 200


def test_open311_counts_each_address_whatever_key_it_sends(tight: TestClient, intake: Intake) -> None:
    data = {"jurisdiction_id": "alpha", "service_code": "construction", "lat": POINT_A[0], "long": POINT_A[1]}
    codes = [
        tight.post("/open311/v2/requests.json", data={**data, "api_key": f"guess-{i}"}).status_code
        for i in range(4)
    ]
    assert codes == [403, 403, 403, 429]


def test_every_server_process_shares_the_count(
    settings: Settings, factory: sessionmaker[Session], intake: Intake
) -> None:
    with (
        app_client(settings, factory, rate_citizen_ip="2/minute") as one,
        app_client(settings, factory, rate_citizen_ip="2/minute") as two,
    ):
        assert one.post("/intake/alpha/report", data=TYPED, follow_redirects=False).status_code == 303
        assert two.post("/intake/alpha/report", data=TYPED, follow_redirects=False).status_code == 303
        assert one.post("/intake/alpha/report", data=TYPED, follow_redirects=False).status_code == 429


def test_limits_can_be_switched_off(
    settings: Settings, factory: sessionmaker[Session], intake: Intake
) -> None:
    with app_client(settings, factory, rate_citizen_ip="off") as c:
        codes = {
            c.post("/intake/alpha/report", data=TYPED, follow_redirects=False).status_code for _ in range(7)
        }
    assert codes == {303}

"""The async intake endpoints read the upload on the event loop and do every database statement in a worker
thread: a statement run on the loop would stall every other request while the database answers."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import Engine, event

from tests.conftest import World
from tests.modules.intake.conftest import POINT_A, Intake


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[tuple[bool, str]]]:
    """(ran on the event loop, SQL) of every statement executed while the test runs."""
    seen: list[tuple[bool, str]] = []

    def spy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append((_on_loop(), statement))

    event.listen(engine, "before_cursor_execute", spy)
    yield seen
    event.remove(engine, "before_cursor_execute", spy)


def _assert_off_loop(seen: list[tuple[bool, str]]) -> None:
    assert any("INSERT INTO intake_request" in sql for _, sql in seen), "the request did no database work"
    on_loop = [sql for loop, sql in seen if loop]
    assert not on_loop, on_loop[:3]


def test_the_public_json_form_writes_off_the_event_loop(
    client: TestClient, intake: Intake, statements: list[tuple[bool, str]]
) -> None:
    r = client.post(
        "/api/v1/public/intake/alpha/requests",
        data={"subject": "井盖缺失", "description": "小区门口井盖缺失", "lat": POINT_A[0], "lon": POINT_A[1]},
        files=[("photos", ("a.txt", b"not much of a photo", "text/plain"))],
    )
    assert r.status_code == 201, r.text
    _assert_off_loop(statements)


def test_the_public_html_form_writes_off_the_event_loop(
    client: TestClient, intake: Intake, statements: list[tuple[bool, str]]
) -> None:
    r = client.post("/intake/alpha/report", data={"description": "路灯不亮"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    _assert_off_loop(statements)
    statements.clear()
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and statements and not [sql for loop, sql in statements if loop]


def test_an_open311_post_writes_off_the_event_loop(
    client: TestClient, intake: Intake, statements: list[tuple[bool, str]]
) -> None:
    data = {
        "api_key": intake.api_key,
        "jurisdiction_id": "alpha",
        "service_code": "construction",
        "lat": POINT_A[0],
        "long": POINT_A[1],
        "description": "人行道破损",
    }
    r = client.post("/open311/v2/requests.json", data=data)
    assert r.status_code == 201, r.text
    _assert_off_loop(statements)
    statements.clear()
    bad = client.post("/open311/v2/requests.json", data={**data, "api_key": "wrong"})
    assert bad.status_code == 403 and not [sql for loop, sql in statements if loop]


def test_a_spreadsheet_import_writes_off_the_event_loop(
    client: TestClient, intake: Intake, world: World, statements: list[tuple[bool, str]]
) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["编号", "标题", "内容", "类别", "联系电话", "来电时间", "纬度", "经度"])
    ws.append(["T1", "噪音", "夜间施工噪音扰民", "", "13800000005", "2026-11-04 21:30", "30.31", "120.14"])
    buf = io.BytesIO()
    wb.save(buf)
    r = client.post(
        "/api/v1/intake/imports?kind=hotline",
        files={"file": ("t.xlsx", buf.getvalue(), "application/octet-stream")},
        headers=world.alice.headers,
    )
    assert r.status_code == 201, r.text
    _assert_off_loop(statements)

"""Server-sent events: a dashboard hears of new alerts and fresh figures, in its own region only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import World
from tests.web.helpers import POINT, as_user


def raise_alert(client: TestClient, world: World, title: str) -> int:
    body: dict[str, object] = {
        "kind": "water",
        "severity": "critical",
        "title": title,
        "source": "gauge",
        "dedup_key": title,
    }
    body["location"] = POINT
    r = client.post("/api/v1/alerts", json=body, headers=world.alice.headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_the_stream_sends_new_alerts_and_figures(client: TestClient, world: World) -> None:
    raise_alert(client, world, "河道水位超警戒")
    alice, _ = as_user(client, world.alice)
    r = alice.get("/live/stream?seconds=0.5", headers={"Last-Event-ID": "0"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert "event: alert" in r.text and "河道水位超警戒" in r.text
    assert "event: counts" in r.text and "kpi-value" in r.text
    assert all(
        line.startswith(("event:", "data:", "id:", "retry:", ":")) for line in r.text.splitlines() if line
    )


def test_an_outsider_hears_nothing(client: TestClient, world: World) -> None:
    raise_alert(client, world, "甲区预警")
    charlie, _ = as_user(client, world.charlie)
    r = charlie.get("/live/stream?seconds=0.5", headers={"Last-Event-ID": "0"})
    assert "甲区预警" not in r.text


def test_the_stream_needs_a_login(client: TestClient) -> None:
    assert client.get("/live/stream?seconds=0.5", follow_redirects=False).status_code == 303

"""Alerts over HTTP: deduplication, acknowledgement, dismissal, merging and conversion into a case."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.conftest import Person, World

INSIDE_A01 = {"type": "Point", "coordinates": [120.141, 30.312]}
OUTSIDE = {"type": "Point", "coordinates": [120.2, 30.4]}


@pytest.fixture
def shas(client: TestClient, world: World) -> list[str]:
    """Three photos region A uploaded as evidence; alerts may cite only these."""
    out = []
    for colour in ((250, 120, 0), (0, 90, 200), (30, 160, 60)):
        buf = io.BytesIO()
        Image.new("RGB", (16, 12), colour).save(buf, "PNG")
        r = client.post(
            "/api/v1/evidence",
            headers=world.dana.headers,
            files={"file": ("ir.png", buf.getvalue(), "image/png")},
        )
        assert r.status_code == 201, r.text
        out.append(r.json()["sha256"])
    return out


def raise_alert(client: TestClient, who: Person, status: int = 201, **over: Any) -> dict[str, Any]:
    body = {
        "kind": "pothole",
        "severity": "medium",
        "title": "路面坑洼",
        "source": "camera-7",
        "dedup_key": "cam7:pothole",
        **over,
    }
    r = client.post("/api/v1/alerts", json=body, headers=who.headers)
    assert r.status_code == status, r.text
    return cast(dict[str, Any], r.json())


def post(client: TestClient, who: Person, path: str, status: int = 200, **body: Any) -> dict[str, Any]:
    r = client.post(f"/api/v1/alerts{path}", json=body, headers=who.headers)
    assert r.status_code == status, r.text
    return cast(dict[str, Any], r.json())


def get(client: TestClient, who: Person, alert_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/alerts/{alert_id}", headers=who.headers)
    assert r.status_code == 200, r.text
    return cast(dict[str, Any], r.json())


def seen(alert: dict[str, Any], key: str) -> datetime:
    return datetime.fromisoformat(alert[key])


# --- deduplication ----------------------------------------------------------------------------------


def test_raising_the_same_key_twice_bumps_the_live_alert(
    client: TestClient, world: World, shas: list[str]
) -> None:
    first = raise_alert(client, world.alice, severity="high", evidence=shas[:2])
    again = raise_alert(client, world.dana, 200, severity="low", evidence=shas[1:])
    assert again["id"] == first["id"]
    assert again["count"] == 2
    assert seen(again, "last_seen") > seen(first, "last_seen")
    assert seen(again, "first_seen") == seen(first, "first_seen")
    assert again["severity"] == "high"  # the lower severity of the repeat does not downgrade it
    assert again["evidence"] == shas  # the union, in the order first seen
    assert get(client, world.alice, first["id"]) == again


def test_a_repeat_with_a_higher_severity_raises_the_alerts_severity(client: TestClient, world: World) -> None:
    first = raise_alert(client, world.alice, severity="low")
    again = raise_alert(client, world.alice, 200, severity="critical")
    assert again["id"] == first["id"] and again["severity"] == "critical" and again["count"] == 2


def test_different_keys_and_different_regions_never_deduplicate(client: TestClient, world: World) -> None:
    a = raise_alert(client, world.alice)
    other_key = raise_alert(client, world.alice, dedup_key="cam7:litter")
    other_region = raise_alert(client, world.charlie)  # C's camera with the same key
    assert len({a["id"], other_key["id"], other_region["id"]}) == 3
    assert other_region["region_id"] == world.c and a["region_id"] == world.a


def test_an_acknowledged_alert_still_absorbs_repeats(client: TestClient, world: World) -> None:
    first = raise_alert(client, world.alice)
    acked = post(client, world.dana, f"/{first['id']}/acknowledge")
    assert acked["status"] == "acknowledged"
    again = raise_alert(client, world.alice, 200)
    assert again["id"] == first["id"] and again["status"] == "acknowledged" and again["count"] == 2


def test_after_dismissal_the_same_key_raises_a_new_alert(client: TestClient, world: World) -> None:
    first = raise_alert(client, world.alice)
    post(client, world.alice, f"/{first['id']}/dismiss", reason="误报：阴影")
    fresh = raise_alert(client, world.alice)
    assert fresh["id"] != first["id"]
    assert fresh["count"] == 1 and fresh["status"] == "open"
    assert get(client, world.alice, first["id"])["status"] == "dismissed"


def test_after_conversion_the_same_key_raises_a_new_alert(client: TestClient, world: World) -> None:
    first = raise_alert(client, world.alice)
    post(client, world.alice, "/convert", 201, alert_ids=[first["id"]], category="road")
    fresh = raise_alert(client, world.alice)
    assert fresh["id"] != first["id"] and fresh["count"] == 1


# --- acknowledge, dismiss ---------------------------------------------------------------------------


def test_acknowledging_is_idempotent(client: TestClient, world: World) -> None:
    alert = raise_alert(client, world.alice)
    once = post(client, world.dana, f"/{alert['id']}/acknowledge")
    twice = post(client, world.alice, f"/{alert['id']}/acknowledge")
    assert once["status"] == twice["status"] == "acknowledged"


@pytest.mark.parametrize(("body", "status"), [({}, 422), ({"reason": ""}, 422), ({"reason": "   "}, 400)])
def test_dismissing_needs_a_reason(
    client: TestClient, world: World, body: dict[str, Any], status: int
) -> None:
    alert = raise_alert(client, world.alice)
    post(client, world.alice, f"/{alert['id']}/dismiss", status, **body)
    assert get(client, world.alice, alert["id"])["status"] == "open"


def test_a_dismissal_keeps_its_reason(client: TestClient, world: World) -> None:
    alert = raise_alert(client, world.alice)
    done = post(client, world.dana, f"/{alert['id']}/dismiss", reason="误报：阴影")
    assert done["status"] == "dismissed" and done["dismiss_reason"] == "误报：阴影"
    post(client, world.dana, f"/{alert['id']}/dismiss", 409, reason="again")


# --- merge and convert ------------------------------------------------------------------------------


def test_merging_sums_counts_unites_evidence_and_marks_the_others_merged(
    client: TestClient, world: World, shas: list[str]
) -> None:
    a = raise_alert(client, world.alice, dedup_key="a", evidence=[shas[0]])
    raise_alert(client, world.alice, 200, dedup_key="a")
    b = raise_alert(client, world.alice, dedup_key="b", evidence=[shas[1]])
    for _ in range(2):
        raise_alert(client, world.alice, 200, dedup_key="b", evidence=[shas[0]])
    c = raise_alert(client, world.alice, dedup_key="c", evidence=[shas[2]])
    merged = post(client, world.alice, f"/{a['id']}/merge", alert_ids=[b["id"], c["id"], a["id"], b["id"]])
    assert merged["id"] == a["id"] and merged["status"] == "open"
    assert merged["count"] == 2 + 3 + 1
    assert merged["evidence"] == shas
    assert seen(merged, "first_seen") == seen(a, "first_seen")
    assert seen(merged, "last_seen") == seen(get(client, world.alice, c["id"]), "last_seen")
    for other in (b, c):
        got = get(client, world.alice, other["id"])
        assert got["status"] == "merged" and got["merged_into_id"] == a["id"]


def test_a_merge_with_a_closed_or_foreign_alert_changes_nothing(client: TestClient, world: World) -> None:
    a = raise_alert(client, world.alice, dedup_key="a")
    b = raise_alert(client, world.alice, dedup_key="b")
    gone = raise_alert(client, world.alice, dedup_key="gone")
    post(client, world.alice, f"/{gone['id']}/dismiss", reason="误报")
    foreign = raise_alert(client, world.charlie, dedup_key="c")
    post(client, world.alice, f"/{a['id']}/merge", 409, alert_ids=[b["id"], gone["id"]])
    post(client, world.alice, f"/{a['id']}/merge", 404, alert_ids=[b["id"], foreign["id"]])
    assert get(client, world.alice, a["id"])["count"] == 1
    assert get(client, world.alice, b["id"])["status"] == "open"
    assert get(client, world.charlie, foreign["id"])["status"] == "open"


def test_converting_several_alerts_makes_one_accepted_case(client: TestClient, world: World) -> None:
    low = raise_alert(client, world.alice, dedup_key="a", severity="low", title="轻微积水")
    high = raise_alert(
        client, world.alice, dedup_key="b", severity="high", title="路面塌陷", location=INSIDE_A01
    )
    raise_alert(client, world.alice, 200, dedup_key="b")
    r = client.post(
        "/api/v1/alerts/convert",
        json={"alert_ids": [low["id"], high["id"]], "category": "road", "priority": "high"},
        headers=world.alice.headers,
    )
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["state"] == "accepted" and case["priority"] == "high" and case["category"] == "road"
    assert case["title"] == "路面塌陷"  # the most severe alert names the case
    assert case["location"] == INSIDE_A01 and case["grid_cell_id"] == world.cell_a
    assert "[pothole/high] 路面塌陷 ×2" in case["description"]
    assert "[pothole/low] 轻微积水 ×1" in case["description"]
    for alert in (low, high):
        got = get(client, world.alice, alert["id"])
        assert got["status"] == "converted" and got["case_id"] == case["id"]
    steps = client.get(f"/api/v1/cases/{case['id']}/timeline", headers=world.alice.headers).json()
    assert [e["action"] for e in steps] == ["create", "accept"]


def test_a_conversion_with_a_dead_alert_in_it_converts_nothing(client: TestClient, world: World) -> None:
    live = raise_alert(client, world.alice, dedup_key="a")
    dead = raise_alert(client, world.alice, dedup_key="b")
    post(client, world.alice, f"/{dead['id']}/dismiss", reason="误报")
    before = client.get("/api/v1/cases", headers=world.alice.headers).json()["total"]
    post(client, world.alice, "/convert", 409, alert_ids=[live["id"], dead["id"]], category="road")
    assert get(client, world.alice, live["id"])["status"] == "open"
    assert client.get("/api/v1/cases", headers=world.alice.headers).json()["total"] == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/{id}/acknowledge", {}),
        ("/{id}/dismiss", {"reason": "重复"}),
        ("/{id}/merge", {"alert_ids": ["{other}"]}),
        ("/{other}/merge", {"alert_ids": ["{id}"]}),
        ("/convert", {"alert_ids": ["{id}"], "category": "road"}),
    ],
)
def test_acting_on_a_converted_alert_is_a_409(
    client: TestClient, world: World, path: str, body: dict[str, Any]
) -> None:
    converted = raise_alert(client, world.alice, dedup_key="a")
    post(client, world.alice, "/convert", 201, alert_ids=[converted["id"]], category="road")
    other = raise_alert(client, world.alice, dedup_key="b")
    ids = {"id": converted["id"], "other": other["id"]}
    filled = {k: [ids[v.strip("{}")] for v in val] if k == "alert_ids" else val for k, val in body.items()}
    problem = post(client, world.alice, path.format(**ids), 409, **filled)
    assert problem["type"] == "/problems/illegal-transition"
    after = get(client, world.alice, converted["id"])
    assert after["status"] == "converted" and after["count"] == 1
    assert get(client, world.alice, other["id"])["status"] == "open"


# --- who may do what, and where ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bob", "vera"])
def test_handlers_and_viewers_cannot_raise_or_handle_alerts(
    client: TestClient, world: World, name: str
) -> None:
    who = world.people[name]
    raise_alert(client, who, 403)
    alert = raise_alert(client, world.alice)
    post(client, who, f"/{alert['id']}/acknowledge", 403)
    post(client, who, f"/{alert['id']}/dismiss", 403, reason="不是我的")
    post(client, who, "/convert", 403, alert_ids=[alert["id"]], category="road")
    assert get(client, who, alert["id"])["status"] == "open"  # but they may read it


def test_a_supervisor_may_raise_but_not_convert(client: TestClient, world: World) -> None:
    alert = raise_alert(client, world.dana)
    post(client, world.dana, "/convert", 403, alert_ids=[alert["id"]], category="road")


def test_an_alert_inside_a_grid_cell_is_placed_in_it(client: TestClient, world: World) -> None:
    inside = raise_alert(client, world.alice, dedup_key="in", location=INSIDE_A01)
    outside = raise_alert(client, world.alice, dedup_key="out", location=OUTSIDE)
    nowhere = raise_alert(client, world.alice, dedup_key="none")
    assert inside["grid_cell_id"] == world.cell_a
    assert outside["grid_cell_id"] is None and nowhere["grid_cell_id"] is None


def test_an_alert_in_the_same_place_in_another_region_is_not_placed_in_as_cell(
    client: TestClient, world: World
) -> None:
    assert raise_alert(client, world.charlie, location=INSIDE_A01)["grid_cell_id"] is None


def test_a_bad_location_is_a_422(client: TestClient, world: World) -> None:
    raise_alert(client, world.alice, 422, location={"type": "Point", "coordinates": [999, 0]})


def test_another_region_sees_none_of_the_alerts(client: TestClient, world: World) -> None:
    alert = raise_alert(client, world.alice)
    assert client.get(f"/api/v1/alerts/{alert['id']}", headers=world.charlie.headers).status_code == 404
    assert client.get("/api/v1/alerts", headers=world.charlie.headers).json()["total"] == 0
    post(client, world.charlie, f"/{alert['id']}/dismiss", 404, reason="x")


# --- lists ------------------------------------------------------------------------------------------


def listing(client: TestClient, who: Person, query: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/alerts?{query}", headers=who.headers)
    assert r.status_code == 200, r.text
    return cast(dict[str, Any], r.json())


def test_the_alert_list_filters_and_counts_every_page(client: TestClient, world: World) -> None:
    made = [
        raise_alert(client, world.alice, dedup_key=f"k{i}", kind=kind, severity=sev)
        for i, (kind, sev) in enumerate(
            [
                ("pothole", "high"),
                ("pothole", "low"),
                ("litter", "high"),
                ("litter", "medium"),
                ("pothole", "high"),
            ]
        )
    ]
    ids = [a["id"] for a in made]
    post(client, world.alice, f"/{ids[1]}/acknowledge")
    post(client, world.alice, f"/{ids[3]}/dismiss", reason="误报")

    def ids_of(query: str) -> list[int]:
        return [a["id"] for a in listing(client, world.alice, query)["items"]]

    assert ids_of("") == ids[::-1]  # newest first
    assert ids_of("kind=pothole") == [ids[4], ids[1], ids[0]]
    assert ids_of("severity=high") == [ids[4], ids[2], ids[0]]
    assert ids_of("kind=pothole&severity=high") == [ids[4], ids[0]]
    assert ids_of("status=open") == [ids[4], ids[2], ids[0]]
    assert ids_of("status=open&status=acknowledged") == [ids[4], ids[2], ids[1], ids[0]]
    assert ids_of("status=dismissed") == [ids[3]]
    assert ids_of("kind=flood") == []

    pages = [
        listing(client, world.alice, f"status=open&status=acknowledged&page_size=3&page={p}")
        for p in (1, 2, 3)
    ]
    assert [p["total"] for p in pages] == [4, 4, 4]
    assert [len(p["items"]) for p in pages] == [3, 1, 0]
    assert [a["id"] for p in pages for a in p["items"]] == [ids[4], ids[2], ids[1], ids[0]]
    assert pages[1]["page"] == 2 and pages[1]["page_size"] == 3


def test_a_repeat_moves_an_alert_to_the_top_of_the_list(client: TestClient, world: World) -> None:
    old = raise_alert(client, world.alice, dedup_key="old")
    new = raise_alert(client, world.alice, dedup_key="new")
    raise_alert(client, world.alice, 200, dedup_key="old")
    assert [a["id"] for a in listing(client, world.alice, "")["items"]] == [old["id"], new["id"]]


@pytest.mark.parametrize("query", ["page=0", "page_size=0", "page_size=201"])
def test_out_of_range_paging_is_a_422(client: TestClient, world: World, query: str) -> None:
    assert client.get(f"/api/v1/alerts?{query}", headers=world.alice.headers).status_code == 422

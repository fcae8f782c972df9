"""The co-governance loop over HTTP: create, dispatch, claim, return, re-dispatch, resolve, verify, close."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.cases import service as cases
from gongzhi.cases.models import Case
from gongzhi.cases.schemas import ActionIn
from gongzhi.cases.statemachine import Action
from gongzhi.db import table_of, unit_of_work
from gongzhi.errors import StaleWrite
from gongzhi.registry import Registry
from tests.conftest import Person, World

POINT = {"type": "Point", "coordinates": [120.141, 30.312]}


def new_case(client: TestClient, who: Person, **extra: Any) -> dict[str, Any]:
    body = {
        "title": "井盖缺失",
        "category": "road",
        "location": POINT,
        "reporter_name": "张伟",
        "reporter_phone": "13812345678",
        **extra,
    }
    r = client.post("/api/v1/cases", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return cast(dict[str, Any], r.json())


def act(
    client: TestClient, who: Person, case_id: int, action: str, status: int = 200, **body: Any
) -> dict[str, Any]:
    r = client.post(f"/api/v1/cases/{case_id}/actions/{action}", json=body, headers=who.headers)
    assert r.status_code == status, r.text
    return cast(dict[str, Any], r.json())


def test_the_whole_loop_writes_one_timeline_entry_per_step(client: TestClient, world: World) -> None:
    case = new_case(client, world.alice, accept=True)
    assert case["state"] == "accepted"
    assert case["grid_cell_id"] == world.cell_a
    cid = case["id"]
    act(client, world.alice, cid, "dispatch")  # the rule for 'road' picks the roads department
    act(client, world.bob, cid, "claim")
    act(client, world.bob, cid, "start")
    act(client, world.bob, cid, "resolve", note="已补装井盖")
    act(client, world.dana, cid, "verify", passed=True)
    closed = act(client, world.alice, cid, "close")
    assert closed["state"] == "closed"
    assert closed["actor_id"] == world.roads_actor
    assert closed["resolve_clock"]["status"] == "met"
    steps = [
        e["action"] for e in client.get(f"/api/v1/cases/{cid}/timeline", headers=world.alice.headers).json()
    ]
    assert steps == ["create", "accept", "dispatch", "claim", "start", "resolve", "verify", "close"]


def test_a_returned_case_goes_back_to_the_dispatcher_who_rules_finally(
    client: TestClient, world: World
) -> None:
    cid = new_case(client, world.alice, accept=True)["id"]
    act(client, world.alice, cid, "dispatch", actor_id=world.roads_actor)
    act(client, world.bob, cid, "return", 400, reason="nonsense")
    returned = act(client, world.bob, cid, "return", reason="unclear_ownership")
    assert returned["state"] == "returned" and returned["actor_id"] is None
    act(
        client, world.alice, cid, "dispatch", 400, actor_id=world.roads_actor
    )  # same actor needs final ruling
    ruled = act(
        client,
        world.alice,
        cid,
        "dispatch",
        actor_id=world.roads_actor,
        final=True,
        note="终审：由道路科办理",
    )
    assert ruled["final_ruling"] is True
    act(client, world.bob, cid, "claim")
    problem = act(client, world.bob, cid, "return", 409, reason="overlapping_duties")
    assert problem["type"] == "/problems/illegal-transition"


def test_only_the_dispatched_department_may_claim(client: TestClient, world: World) -> None:
    cid = new_case(client, world.alice, accept=True)["id"]
    act(client, world.alice, cid, "dispatch", actor_id=world.roads_actor)
    act(client, world.pete, cid, "claim", 403)
    act(client, world.bob, cid, "claim")


def test_an_illegal_transition_is_a_409_that_changes_nothing(client: TestClient, world: World) -> None:
    case = new_case(client, world.alice)
    problem = act(client, world.alice, case["id"], "close", 409)
    assert problem["status"] == 409 and "submitted" in problem["detail"]
    again = client.get(f"/api/v1/cases/{case['id']}", headers=world.alice.headers).json()
    assert again["state"] == "submitted" and again["version"] == case["version"]


def test_a_stale_if_match_is_refused(client: TestClient, world: World) -> None:
    r = client.post("/api/v1/cases", json={"title": "t", "category": "road"}, headers=world.alice.headers)
    etag = r.headers["etag"]
    cid = r.json()["id"]
    ok = client.post(
        f"/api/v1/cases/{cid}/actions/accept", json={}, headers={**world.alice.headers, "If-Match": etag}
    )
    assert ok.status_code == 200 and ok.headers["etag"] != etag
    stale = client.post(
        f"/api/v1/cases/{cid}/actions/reject",
        json={"note": "x"},
        headers={**world.alice.headers, "If-Match": etag},
    )
    assert stale.status_code == 409
    assert stale.json()["type"] == "/problems/stale-write"
    assert stale.headers["content-type"] == "application/problem+json"


def test_a_case_changed_by_another_request_after_it_was_loaded_is_a_stale_write(
    client: TestClient, factory: sessionmaker[Session], registry: Registry, world: World
) -> None:
    cid = new_case(client, world.alice)["id"]

    def accept_after_another_write() -> None:
        with unit_of_work(factory, world.alice.scope()) as s:
            case = cases.get_case(s, cid)
            table = table_of(Case)  # another request's write lands between this one's read and its write
            s.connection().execute(update(table).where(table.c.id == cid).values(version=case.version + 1))
            cases.apply_to(s, registry, case, Action.ACCEPT, ActionIn())

    with pytest.raises(StaleWrite):
        accept_after_another_write()
    after = client.get(f"/api/v1/cases/{cid}", headers=world.alice.headers).json()
    assert after["state"] == "submitted"
    steps = client.get(f"/api/v1/cases/{cid}/timeline", headers=world.alice.headers).json()
    assert [e["action"] for e in steps] == ["create"]


def test_an_action_writes_the_case_and_leaves_it_clean(
    client: TestClient, factory: sessionmaker[Session], registry: Registry, world: World
) -> None:
    cid = new_case(client, world.alice)["id"]
    with unit_of_work(factory, world.alice.scope()) as s:
        case = cases.get_case(s, cid)
        version = case.version
        cases.apply_to(s, registry, case, Action.ACCEPT, ActionIn())
        assert case not in s.dirty  # written by its own UPDATE: no flush has anything left to do
        table = table_of(Case)
        row = s.connection().execute(select(table.c.state, table.c.version).where(table.c.id == cid)).one()
        assert (row.state, row.version) == ("accepted", version + 1) == (case.state, case.version)
        cases.apply_to(s, registry, case, Action.DISPATCH, ActionIn())  # later changes are still tracked
    after = client.get(f"/api/v1/cases/{cid}", headers=world.alice.headers).json()
    assert (after["state"], after["version"]) == ("dispatched", version + 2)


def test_a_viewer_reads_but_cannot_act(client: TestClient, world: World) -> None:
    cid = new_case(client, world.alice)["id"]
    seen = client.get(f"/api/v1/cases/{cid}", headers=world.vera.headers).json()
    assert seen["actions"] == []
    assert seen["reporter_phone"] == "138****5678"
    act(client, world.vera, cid, "accept", 409)


def test_an_unsatisfied_follow_up_reopens_the_case(client: TestClient, world: World) -> None:
    cid = _closed_case(client, world)
    reopened = act(client, world.alice, cid, "follow_up", rating=1, satisfied=False, note="问题没有解决")
    assert reopened["state"] == "reopened" and reopened["reopen_count"] == 1
    again = act(client, world.alice, cid, "dispatch", actor_id=world.roads_actor)
    assert again["state"] == "dispatched"


def test_a_citizen_rates_through_the_tracking_code_without_seeing_personal_data(
    client: TestClient, world: World
) -> None:
    cid = _closed_case(client, world)
    code = client.get(f"/api/v1/cases/{cid}", headers=world.alice.headers).json()["tracking_code"]
    public = client.get(f"/api/v1/public/cases/{code}").json()
    assert "reporter_phone" not in public and public["state"] == "closed"
    rated = client.post(f"/api/v1/public/cases/{code}/follow-up", json={"rating": 5, "satisfied": True})
    assert rated.status_code == 200 and rated.json()["rating"] == 5
    assert client.get("/api/v1/public/cases/not-a-code").status_code == 404


def test_merge_links_the_duplicate_to_the_original(client: TestClient, world: World) -> None:
    first = new_case(client, world.alice, accept=True)["id"]
    dup = new_case(client, world.alice)["id"]
    merged = act(client, world.alice, dup, "merge", target_case_id=first, note="重复")
    assert merged["state"] == "merged" and merged["merged_into_id"] == first
    events = client.get(f"/api/v1/cases/{first}/timeline", headers=world.alice.headers).json()
    assert events[-1]["action"] == "merged_in"


def test_resolve_needs_evidence_and_accepts_an_uploaded_photo(client: TestClient, world: World) -> None:
    import io

    from PIL import Image

    cid = new_case(client, world.alice, accept=True)["id"]
    act(client, world.alice, cid, "dispatch")
    act(client, world.bob, cid, "claim")
    act(client, world.bob, cid, "resolve", 400)
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(buf, "JPEG")
    up = client.post(
        f"/api/v1/cases/{cid}/files",
        headers=world.bob.headers,
        files={"file": ("after.jpg", buf.getvalue(), "image/jpeg")},
    )
    assert up.status_code == 201, up.text
    sha = up.json()["sha256"]
    act(client, world.bob, cid, "resolve", files=[sha])
    got = client.get(f"/api/v1/cases/{cid}/files/{sha}", headers=world.dana.headers)
    assert got.status_code == 200 and got.content == buf.getvalue()


def test_a_truncated_photo_is_refused_with_a_clear_reason(client: TestClient, world: World) -> None:
    import io

    from PIL import Image

    cid = new_case(client, world.alice)["id"]
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 90, 200)).save(buf, "JPEG")
    cut = buf.getvalue()[: len(buf.getvalue()) // 2]
    r = client.post(
        f"/api/v1/cases/{cid}/files",
        headers=world.alice.headers,
        files={"file": ("x.jpg", cut, "image/jpeg")},
    )
    assert r.status_code == 400 and r.json()["reason"] == "truncated"


def test_dispatch_crosses_regions_only_along_a_pairing(client: TestClient, world: World) -> None:
    cid = new_case(client, world.alice, accept=True)["id"]
    act(client, world.alice, cid, "dispatch", 404, actor_id=world.c_actor)  # C is not paired with A
    shared = act(client, world.alice, cid, "dispatch", actor_id=world.b_shared_actor)
    assert shared["handling_region_id"] == world.b
    seen = client.get(f"/api/v1/cases/{cid}", headers=world.bella.headers)
    assert seen.status_code == 200 and "claim" in seen.json()["actions"]
    act(client, world.bella, cid, "claim")
    assert client.get(f"/api/v1/cases/{cid}", headers=world.charlie.headers).status_code == 404


def test_bad_input_gets_a_problem_not_a_500(client: TestClient, world: World) -> None:
    h = world.alice.headers
    bad_point = {"title": "x", "category": "road", "location": {"type": "Point", "coordinates": [999, 0]}}
    assert client.post("/api/v1/cases", json=bad_point, headers=h).status_code == 422
    assert (
        client.post(
            "/api/v1/cases", content=b"{not json", headers={**h, "content-type": "application/json"}
        ).status_code
        == 422
    )
    assert client.get("/api/v1/cases?sort=password", headers=h).status_code == 400
    assert client.get("/api/v1/cases?page=0", headers=h).status_code == 422
    assert client.post("/api/v1/cases/1/actions/fly", json={}, headers=h).status_code == 422
    assert client.get("/api/v1/cases/999999", headers=h).status_code == 404


def _closed_case(client: TestClient, world: World) -> int:
    cid: int = new_case(client, world.alice, accept=True)["id"]
    act(client, world.alice, cid, "dispatch", actor_id=world.roads_actor)
    act(client, world.bob, cid, "claim")
    act(client, world.bob, cid, "resolve", note="done")
    act(client, world.dana, cid, "verify", passed=True)
    act(client, world.alice, cid, "close")
    return cid


@pytest.mark.parametrize(
    ("path", "content", "loc"),
    [
        ("/actions/fly", b"{}", ["path", "action"]),
        ("abc/actions/claim", b"{}", ["path", "case_id"]),
        ("/actions/close", b'{"bogus": 1}', ["body", "bogus"]),
        ("/actions/close", b'{"rating": 9}', ["body", "rating"]),
        ("/actions/close", b"{not json", ["body", 1]),
        ("/actions/close", b"", ["body"]),
    ],
)
def test_a_malformed_action_request_gets_the_same_422_problem_as_before(
    client: TestClient, world: World, path: str, content: bytes, loc: list[Any]
) -> None:
    # well-formed requests take the endpoint's lean twin; these must reach FastAPI's own parsing
    cid = new_case(client, world.alice, accept=True)["id"]
    url = f"/api/v1/cases/{cid}{path}" if path.startswith("/") else f"/api/v1/cases/{path}"
    headers = {**world.alice.headers, "content-type": "application/json"}
    r = client.post(url, content=content, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "/problems/validation"
    assert [e["loc"] for e in r.json()["errors"]] == [loc]


def test_a_request_fastapi_parses_itself_is_answered_like_one_its_twin_parses(
    client: TestClient, world: World
) -> None:
    own = {**world.alice.headers, "content-type": "application/json; charset=utf-8"}  # not the twin's
    body = {"title": "井盖缺失", "category": "road", "accept": True}
    by_fastapi = client.post("/api/v1/cases", content=json.dumps(body).encode(), headers=own)
    by_twin = client.post("/api/v1/cases", json=body, headers=world.alice.headers)
    assert by_fastapi.status_code == by_twin.status_code == 201
    ignore = {"id", "number", "tracking_code", "created_at", "updated_at", "claim_clock", "resolve_clock"}
    assert {k: v for k, v in by_fastapi.json().items() if k not in ignore} == {
        k: v for k, v in by_twin.json().items() if k not in ignore
    }
    cid = by_fastapi.json()["id"]
    stale = client.post(
        f"/api/v1/cases/{cid}/actions/dispatch", content=b"{}", headers={**own, "If-Match": '"0"'}
    )
    assert stale.status_code == 409, stale.text
    done = client.post(
        f"/api/v1/cases/{cid}/actions/dispatch",
        content=b"{}",
        headers={**own, "If-Match": etag_of(by_fastapi)},
    )
    assert done.status_code == 200 and done.json()["state"] == "dispatched"
    assert done.headers["etag"] == f'"{done.json()["version"]}"'


def etag_of(response: Any) -> str:
    return str(response.headers["etag"])


def test_an_alert_cites_only_evidence_its_region_uploaded(client: TestClient, world: World) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (250, 120, 0)).save(buf, "PNG")
    up = client.post(
        "/api/v1/evidence",
        headers=world.dana.headers,
        files={"file": ("ir.png", buf.getvalue(), "image/png")},
    )
    assert up.status_code == 201, up.text
    sha = up.json()["sha256"]
    alert = {
        "kind": "hot_spot",
        "title": "组件热斑",
        "source": "pv",
        "dedup_key": "A-01-02",
        "evidence": [sha],
    }
    assert client.post("/api/v1/alerts", json=alert, headers=world.alice.headers).status_code == 201
    assert client.get(f"/api/v1/evidence/{sha}", headers=world.alice.headers).content == buf.getvalue()
    assert client.get(f"/api/v1/evidence/{sha}", headers=world.charlie.headers).status_code == 404
    foreign = {**alert, "dedup_key": "C-1"}
    refused = client.post("/api/v1/alerts", json=foreign, headers=world.charlie.headers)
    assert refused.status_code == 400 and "evidence" in refused.json()["detail"]
    viewer = client.post(
        "/api/v1/evidence",
        headers=world.vera.headers,
        files={"file": ("ir.png", buf.getvalue(), "image/png")},
    )
    assert viewer.status_code == 403

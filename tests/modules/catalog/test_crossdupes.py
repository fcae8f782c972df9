"""Duplicate systems across paired regions: only what a pairing shares is compared and shown, each
region keeps its own verdict, and an unpaired region's catalog is never read."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Person, World

API = "/api/v1/catalog"
DRAINAGE = {
    "kind": "application",
    "summary": "城市排水许可证的申请、受理、审批与核发，排水户档案管理",
    "functions": "在线申报；审批流转；证照打印",
    "items": [{"name": "许可证号"}, {"name": "排水户名称"}, {"name": "排水口位置"}],
    "contact_email": "secret-contact@example.org",
}


def record(client: TestClient, who: Person, name: str, share: bool = False, **extra: Any) -> int:
    r = client.post(f"{API}/records", json={**DRAINAGE, "name": name, **extra}, headers=who.headers)
    assert r.status_code == 201, r.text
    if share:
        shared = client.put(
            f"{API}/records/{r.json()['id']}/sharing", json={"shared_with_pairs": True}, headers=who.headers
        )
        assert shared.status_code == 200 and shared.json()["shared_with_pairs"]
    return int(r.json()["id"])


def scan(client: TestClient, who: Person) -> dict[str, Any]:
    r = client.post(f"{API}/cross-duplicates/scan", json={"threshold": 0.5}, headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def pairs(client: TestClient, who: Person, query: str = "") -> list[dict[str, Any]]:
    return list(client.get(f"{API}/cross-duplicates{query}", headers=who.headers).json())


def test_two_paired_regions_building_the_same_system_are_shown_side_by_side(
    client: TestClient, world: World, bert: Person
) -> None:
    mine = record(client, world.alice, "甲区城市排水许可管理系统")
    theirs = record(client, bert, "乙县城市排水许可管理系统")
    record(client, world.charlie, "丙区城市排水许可管理系统", share=True)  # unpaired: never compared
    before = scan(client, world.alice)
    assert (before["shared"], before["pairs"]) == (0, 0)

    client.put(f"{API}/records/{theirs}/sharing", json={"shared_with_pairs": True}, headers=bert.headers)
    found = scan(client, world.alice)
    assert (found["systems"], found["shared"], found["pairs"], found["new"]) == (1, 1, 1, 1)
    (pair,) = pairs(client, world.alice)
    assert pair["mine"]["id"] == mine and pair["theirs"]["id"] == theirs
    assert pair["theirs"]["region"] == "乙县" and pair["theirs"]["items"] == [
        "许可证号",
        "排水户名称",
        "排水口位置",
    ]
    assert "contact_email" not in pair["theirs"] and "secret-contact" not in str(pair["theirs"])
    assert pair["evidence"]["shared_items"] and pair["score"] >= 0.5
    assert pair["evidence"]["normalised_names"][0] == pair["evidence"]["normalised_names"][1]

    body = {"verdict": "duplicate", "note": "并入市级统建"}
    r = client.put(f"{API}/cross-duplicates/{pair['id']}/verdict", json=body, headers=world.alice.headers)
    assert r.status_code == 200 and r.json()["reviewed_by"] == "alice"
    assert scan(client, world.alice)["new"] == 0
    (again,) = pairs(client, world.alice)
    assert (again["verdict"], again["note"]) == ("duplicate", "并入市级统建")  # remembered across scans

    assert pairs(client, bert) == []  # B keeps its own review; A has shared nothing with B
    assert pairs(client, world.charlie) == []
    outsider = client.put(
        f"{API}/cross-duplicates/{pair['id']}/verdict", json=body, headers=world.charlie.headers
    )
    assert outsider.status_code == 404
    assert (
        client.put(
            f"{API}/cross-duplicates/{pair['id']}/verdict", json=body, headers=bert.headers
        ).status_code
        == 404
    )

    client.put(f"{API}/records/{theirs}/sharing", json={"shared_with_pairs": False}, headers=bert.headers)
    assert pairs(client, world.alice) == []  # no longer shared: no longer shown
    assert scan(client, world.alice)["pairs"] == 0
    client.put(f"{API}/records/{theirs}/sharing", json={"shared_with_pairs": True}, headers=bert.headers)
    assert pairs(client, world.alice) == [] and len(pairs(client, world.alice, "?include_stale=true")) == 1
    scan(client, world.alice)
    (back,) = pairs(client, world.alice)
    assert (back["id"], back["verdict"], back["stale"]) == (pair["id"], "duplicate", False)


def test_an_unpaired_regions_catalog_is_never_queried(
    client: TestClient, world: World, bert: Person, factory: sessionmaker[Session]
) -> None:
    record(client, world.alice, "甲区城市排水许可管理系统")
    record(client, bert, "乙县城市排水许可管理系统", share=True)
    record(client, world.charlie, "丙区城市排水许可管理系统", share=True)
    seen: list[Any] = []
    bind = factory.kw["bind"]
    conn = bind if isinstance(bind, Connection) else None
    assert conn is not None

    def spy(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if "shared_with_pairs" in statement and "catalog_records" in statement:
            seen.append(params)

    event.listen(conn.engine, "before_cursor_execute", spy)
    try:
        found = scan(client, world.alice)
        listed = pairs(client, world.alice)
    finally:
        event.remove(conn.engine, "before_cursor_execute", spy)
    assert found["shared"] == 1 and [p["theirs"]["region_id"] for p in listed] == [world.b]
    assert seen, "the scan reads shared systems"
    flat = [v for p in seen for v in (p.values() if isinstance(p, dict) else p)]
    regions = [v for v in flat if isinstance(v, int | list | tuple)]
    assert world.c not in [x for v in regions for x in (v if isinstance(v, list | tuple) else [v])]


def test_scanning_and_sharing_need_an_editor(client: TestClient, world: World) -> None:
    rec = record(client, world.alice, "甲区系统")
    body = {"shared_with_pairs": True}
    assert (
        client.put(f"{API}/records/{rec}/sharing", json=body, headers=world.vera.headers).status_code == 403
    )
    assert (
        client.put(f"{API}/records/{rec}/sharing", json=body, headers=world.charlie.headers).status_code
        == 404
    )
    assert client.post(f"{API}/cross-duplicates/scan", json={}, headers=world.vera.headers).status_code == 403
    bad = client.post(f"{API}/cross-duplicates/scan", json={"threshold": 5}, headers=world.alice.headers)
    assert bad.status_code == 422
    verdict = client.put(
        f"{API}/cross-duplicates/999999/verdict", json={"verdict": "x"}, headers=world.alice.headers
    )
    assert verdict.status_code == 422

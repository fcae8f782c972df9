"""Deleting a catalog record archives it: out of audits, scans and exports, history kept, restorable."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.core.models import AuditEntry
from gongzhi.db import Scope
from tests.conftest import Person, World

API = "/api/v1/catalog"
SPARSE = {"kind": "dataset", "key": "water-quality", "name": "水质监测数据", "contact_email": "bad"}
OTHER = {"kind": "dataset", "key": "air", "name": "空气质量数据", "summary": "空气质量"}


def post(client: TestClient, who: Person, path: str, body: Any = None, status: int = 200) -> Any:
    r = client.post(f"{API}{path}", json=body, headers=who.headers)
    assert r.status_code == status, r.text
    return r.json()


def exported(client: TestClient, who: Person) -> list[str]:
    r = client.get(f"{API}/export?format=datajson", headers=who.headers)
    return sorted(d["title"] for d in r.json()["dataset"])


def test_an_archived_record_leaves_audits_and_exports_and_comes_back_on_restore(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    rec = post(client, world.alice, "/records", SPARSE, 201)
    post(client, world.alice, "/records", OTHER, 201)
    first = post(client, world.alice, "/audits", {}, 201)
    assert first["datasets"] == 2
    mine = [f for f in client.get(f"{API}/audits/{first['id']}/findings", headers=world.adam.headers).json()]
    assert any(f["record_id"] == rec["id"] for f in mine)

    gone = post(client, world.alice, f"/records/{rec['id']}/archive", {"reason": "系统已下线"})
    assert gone["archived_at"] and gone["archived_by"] == "alice" and gone["version"] == 2
    live = client.get(f"{API}/records", headers=world.adam.headers).json()
    assert [r["name"] for r in live["items"]] == [OTHER["name"]]
    archived = client.get(f"{API}/records?archived=true", headers=world.adam.headers).json()
    assert [r["id"] for r in archived["items"]] == [rec["id"]]
    assert exported(client, world.adam) == [OTHER["name"]]

    second = post(client, world.alice, "/audits", {}, 201)
    assert second["datasets"] == 1 and second["fixed"] == 0  # archiving fixes nothing
    old = client.get(f"{API}/audits/{first['id']}/findings", headers=world.adam.headers).json()
    assert {f["status"] for f in old if f["record_id"] == rec["id"]} == {"archived"}
    report = client.get(f"{API}/audits/{second['id']}/report", headers=world.adam.headers).text
    assert SPARSE["name"] not in report

    restored = post(client, world.alice, f"/records/{rec['id']}/restore")
    assert restored["archived_at"] is None and restored["version"] == 3
    assert exported(client, world.adam) == sorted([OTHER["name"], SPARSE["name"]])
    third = post(client, world.alice, "/audits", {}, 201)
    assert third["datasets"] == 2 and third["problems"] == first["problems"]
    versions = client.get(f"{API}/records/{rec['id']}/versions", headers=world.adam.headers).json()
    assert [v["change"] for v in versions] == ["create", "archive", "restore"]
    assert versions[0]["data"]["name"] == SPARSE["name"]

    with factory() as s:
        s.info["scope"] = Scope.for_system()
        stmt = select(AuditEntry.action, AuditEntry.data).where(
            AuditEntry.region_id == world.a,
            AuditEntry.object_type == "catalog_record",
            AuditEntry.object_id == str(rec["id"]),
        )
        trail = [(a, d) for a, d in s.execute(stmt.order_by(AuditEntry.seq))]
    assert [a for a, _ in trail] == [
        "catalog.record.create",
        "catalog.record.archive",
        "catalog.record.restore",
    ]
    assert trail[1][1]["reason"] == "系统已下线"


def test_an_archived_record_is_read_only_and_keeps_its_key(client: TestClient, world: World) -> None:
    rec = post(client, world.alice, "/records", SPARSE, 201)
    post(client, world.alice, f"/records/{rec['id']}/archive", {"reason": "重复"})
    again = client.post(
        f"{API}/records/{rec['id']}/archive", json={"reason": "x"}, headers=world.alice.headers
    )
    assert again.status_code == 409
    edit = client.put(
        f"{API}/records/{rec['id']}", json={**SPARSE, "name": "改"}, headers=world.alice.headers
    )
    assert edit.status_code == 409 and "restore" in edit.json()["detail"]
    dup = client.post(f"{API}/records", json=SPARSE, headers=world.alice.headers)
    assert dup.status_code == 409 and "archived" in dup.json()["detail"]
    raw = json.dumps([{**SPARSE, "name": "导入改名"}], ensure_ascii=False).encode()
    imp = client.post(f"{API}/import", files={"file": ("c.json", raw)}, headers=world.alice.headers).json()
    assert imp["skipped"] == 1 and "archived" in imp["errors"][0]["message"]
    assert (
        client.get(f"{API}/records/{rec['id']}", headers=world.adam.headers).json()["name"] == SPARSE["name"]
    )
    no_reason = client.post(f"{API}/records/{rec['id']}/archive", json={}, headers=world.alice.headers)
    assert no_reason.status_code == 422


def test_only_editors_of_the_region_archive_or_restore(client: TestClient, world: World) -> None:
    rec = post(client, world.alice, "/records", SPARSE, 201)
    body = {"reason": "外人"}
    assert (
        client.post(f"{API}/records/{rec['id']}/archive", json=body, headers=world.vera.headers).status_code
        == 403
    )
    assert (
        client.post(
            f"{API}/records/{rec['id']}/archive", json=body, headers=world.charlie.headers
        ).status_code
        == 404
    )
    assert client.post(f"{API}/records/{rec['id']}/restore", headers=world.alice.headers).status_code == 409
    post(client, world.alice, f"/records/{rec['id']}/archive", body)
    assert client.post(f"{API}/records/{rec['id']}/restore", headers=world.charlie.headers).status_code == 404

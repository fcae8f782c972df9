"""Reuse between paired regions: publish, see, subscribe to an own instance, accept updates, the ledger."""

from __future__ import annotations

from typing import Any, cast

from fastapi.testclient import TestClient

from tests.conftest import Person, World
from tests.modules.catalog.samples import DATAJSON, as_bytes

API = "/api/v1/catalog"
STRICT = {"rules": {"contact": {"severity": "error"}, "freshness": {"enabled": False}}}


def publish(client: TestClient, who: Person, **extra: Any) -> dict[str, Any]:
    body = {"slug": "catalog-audit", "kind": "ruleset", "name": "资源目录智能审核", "config": STRICT, **extra}
    r = client.post(f"{API}/reuse/apps", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return cast(dict[str, Any], r.json())


def test_a_paired_region_sees_and_subscribes_an_unpaired_one_sees_nothing(
    client: TestClient, world: World, bert: Person
) -> None:
    app = publish(client, world.adam, build_cost_yuan=500000)
    assert [a["slug"] for a in client.get(f"{API}/reuse/apps", headers=bert.headers).json()] == [
        "catalog-audit"
    ]
    assert client.get(f"{API}/reuse/apps", headers=world.charlie.headers).json() == []
    assert client.get(f"{API}/reuse/apps/{app['id']}", headers=world.charlie.headers).status_code == 404
    r = client.post(
        f"{API}/reuse/apps/{app['id']}/subscribe", json={"saved_yuan": 300000}, headers=world.charlie.headers
    )
    assert r.status_code == 404
    own = client.post(f"{API}/reuse/apps/{app['id']}/subscribe", json={}, headers=world.adam.headers)
    assert own.status_code == 400
    sub = client.post(
        f"{API}/reuse/apps/{app['id']}/subscribe",
        json={"saved_yuan": 300000, "note": "龙游复用"},
        headers=bert.headers,
    )
    assert sub.status_code == 201, sub.text
    assert sub.json()["config"]["rules"] == STRICT["rules"] and sub.json()["ruleset_id"] is not None
    twice = client.post(f"{API}/reuse/apps/{app['id']}/subscribe", json={}, headers=bert.headers)
    assert twice.status_code == 409


def test_the_instance_audits_the_subscribers_own_data_only(
    client: TestClient, world: World, bert: Person
) -> None:
    client.post(f"{API}/import", files={"file": ("d.json", as_bytes(DATAJSON))}, headers=world.adam.headers)
    app = publish(client, world.adam)
    sub = client.post(f"{API}/reuse/apps/{app['id']}/subscribe", json={}, headers=bert.headers).json()
    run = client.post(f"{API}/audits", json={"ruleset_id": sub["ruleset_id"]}, headers=bert.headers).json()
    assert (run["datasets"], run["problems"]) == (0, 0)  # B has no records; A's are never audited for B
    mine = {"kind": "dataset", "name": "乙县数据", "share_type": "unconditional"}
    assert client.post(f"{API}/records", json=mine, headers=bert.headers).status_code == 201
    run = client.post(f"{API}/audits", json={"ruleset_id": sub["ruleset_id"]}, headers=bert.headers).json()
    assert run["datasets"] == 1 and "freshness" not in run["summary"]["by_rule"]
    findings = client.get(f"{API}/audits/{run['id']}/findings?rule=contact", headers=bert.headers).json()
    assert [f["severity"] for f in findings] == ["error"]  # the publisher's configuration, B's data
    assert all(
        rs["subscription_id"] is None
        for rs in client.get(f"{API}/rulesets", headers=world.adam.headers).json()
    )


def test_updates_arrive_as_offers_and_keep_local_overrides(
    client: TestClient, world: World, bert: Person
) -> None:
    app = publish(client, world.adam)
    body = {"overrides": {"rules": {"contact": {"severity": "warning"}}}}
    sub = client.post(f"{API}/reuse/apps/{app['id']}/subscribe", json=body, headers=bert.headers).json()
    v2 = {"config": {"rules": {**STRICT["rules"], "dates": {"enabled": False}}}, "changelog": "关闭日期检查"}
    assert (
        client.post(f"{API}/reuse/apps/{app['id']}/versions", json=v2, headers=bert.headers).status_code
        == 404
    )
    r = client.post(f"{API}/reuse/apps/{app['id']}/versions", json=v2, headers=world.adam.headers)
    assert r.status_code == 201 and r.json()["version"] == 2
    (offer,) = client.get(f"{API}/reuse/subscriptions", headers=bert.headers).json()
    assert offer["update_available"] and offer["accepted_version"] == 1
    taken = client.post(f"{API}/reuse/subscriptions/{sub['id']}/accept-update", headers=bert.headers).json()
    assert taken["accepted_version"] == 2 and not taken["update_available"]
    rules = taken["config"]["rules"]
    assert rules["dates"] == {"enabled": False} and rules["contact"]["severity"] == "warning"
    rs = next(
        r
        for r in client.get(f"{API}/rulesets", headers=bert.headers).json()
        if r["id"] == taken["ruleset_id"]
    )
    assert rs["rules"] == rules
    again = client.post(f"{API}/reuse/subscriptions/{sub['id']}/accept-update", headers=bert.headers)
    assert again.status_code == 409


def test_the_ledger_sums_savings_for_both_sides(client: TestClient, world: World, bert: Person) -> None:
    app = publish(client, world.adam)
    other = publish(
        client,
        world.adam,
        slug="dispatch-rules",
        kind="dispatch_template",
        config={"rules": [{"category": "road", "actor": {"name": "数据局", "department_code": "data"}}]},
    )
    client.post(f"{API}/reuse/apps/{app['id']}/subscribe", json={"saved_yuan": 300000}, headers=bert.headers)
    client.post(
        f"{API}/reuse/apps/{other['id']}/subscribe", json={"saved_yuan": 50000.5}, headers=bert.headers
    )
    b = client.get(f"{API}/reuse/summary", headers=bert.headers).json()
    assert (b["reused_apps"], b["saved_yuan"], b["reused_by_others"]) == (2, 350000.5, 0)
    a = client.get(f"{API}/reuse/summary", headers=world.adam.headers).json()
    assert (a["reused_by_others"], a["saved_for_others_yuan"]) == (2, 350000.5)
    ledger = client.get(f"{API}/reuse/ledger", headers=world.adam.headers).json()
    assert {e["region_id"] for e in ledger} == {world.b}
    assert client.get(f"{API}/reuse/ledger", headers=world.charlie.headers).json() == []


def test_a_rule_set_is_published_from_the_regions_own_configuration(
    client: TestClient, world: World, bert: Person
) -> None:
    rs = client.post(
        f"{API}/rulesets",
        json={"name": "拱墅规则", "rules": {"dates": {"enabled": False}}},
        headers=world.adam.headers,
    ).json()
    app = publish(client, world.adam, config={}, ruleset_id=rs["id"])
    versions = client.get(f"{API}/reuse/apps/{app['id']}/versions", headers=bert.headers).json()
    assert versions[0]["config"]["rules"]["dates"]["enabled"] is False
    bad = {"slug": "bad", "kind": "ruleset", "name": "x", "config": {"rules": {"nope": {}}}}
    assert client.post(f"{API}/reuse/apps", json=bad, headers=world.adam.headers).status_code == 400
    assert (
        client.post(f"{API}/reuse/apps", json={**bad, "slug": "y"}, headers=world.alice.headers).status_code
        == 403
    )

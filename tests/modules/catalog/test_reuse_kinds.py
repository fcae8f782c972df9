"""Every kind of reusable app becomes a working instance in the subscriber's region: dispatch rules mapped
onto its own actors and grid cells, the layout of its audit reports, its detector, and whole bundles
applied in one step. Never the publisher's rows or ids."""

from __future__ import annotations

import io
from typing import Any, cast

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from gongzhi.kit import geo
from tests.conftest import Person, World

API = "/api/v1/catalog"
V1 = "/api/v1"


def publish(client: TestClient, who: Person, slug: str, kind: str, **body: Any) -> dict[str, Any]:
    r = client.post(
        f"{API}/reuse/apps", json={"slug": slug, "kind": kind, "name": slug, **body}, headers=who.headers
    )
    assert r.status_code == 201, r.text
    return cast(dict[str, Any], r.json())


def subscribe(client: TestClient, who: Person, app_id: int, **body: Any) -> Any:
    return client.post(f"{API}/reuse/apps/{app_id}/subscribe", json=body, headers=who.headers)


def rules_of(client: TestClient, who: Person) -> list[dict[str, Any]]:
    return list(client.get(f"{V1}/dispatch-rules", headers=who.headers).json())


def cell(client: TestClient, who: Person, code: str, name: str) -> int:
    body = {"code": code, "name": name, "geometry": geo.square(119.17, 29.03, 0.01)}
    r = client.put(f"{V1}/grid-cells", json=body, headers=who.headers)
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


def _ids(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for k in value if k == "id" or k.endswith("_id")] + [
            i for v in value.values() for i in _ids(v)
        ]
    if isinstance(value, list):
        return [i for v in value for i in _ids(v)]
    return []


# --- dispatch-rule templates ------------------------------------------------------------------------


def test_a_dispatch_template_lands_on_the_subscribers_own_actors_and_lists_what_it_cannot_map(
    client: TestClient, world: World, bert: Person
) -> None:
    a_rules = rules_of(client, world.adam)
    app = publish(client, world.adam, "dispatch", "dispatch_template", from_region=True)
    (v1,) = client.get(f"{API}/reuse/apps/{app['id']}/versions", headers=bert.headers).json()
    assert [r["actor"]["department_code"] for r in v1["config"]["rules"]] == ["roads", "parks"]
    assert not _ids(v1["config"])  # codes and names travel, never the publisher's ids

    r = subscribe(client, bert, app["id"], saved_yuan=1000)
    assert r.status_code == 400
    problem = r.json()
    assert "道路科" in problem["detail"] and "'roads'" in problem["detail"] and "'parks'" in problem["detail"]
    assert client.get(f"{API}/reuse/subscriptions", headers=bert.headers).json() == []
    assert client.get(f"{API}/reuse/ledger", headers=bert.headers).json() == []

    theirs = subscribe(client, bert, app["id"], mapping={"actors": {"roads": world.roads_actor, "parks": 1}})
    assert theirs.status_code == 400  # A's actor is no actor of B's: still unmapped

    mapping = {"actors": {"roads": world.b_shared_actor, "parks": world.b_shared_actor}}
    sub = subscribe(client, bert, app["id"], mapping=mapping)
    assert sub.status_code == 201, sub.text
    b_rules = rules_of(client, bert)
    assert [(r["category"], r["actor_id"]) for r in b_rules] == [
        ("road", world.b_shared_actor),
        ("tree", world.b_shared_actor),
    ]
    assert sorted(r["id"] for r in b_rules) == sorted(sub.json()["instance"]["dispatch_rule_ids"])
    assert rules_of(client, world.adam) == a_rules  # the publisher's rules are untouched
    assert rules_of(client, world.charlie) == []


def test_a_dispatch_update_needs_its_grid_cells_and_reapplies_idempotently(
    client: TestClient, world: World, bert: Person
) -> None:
    rule = {"category": "road", "actor": {"name": "数据局", "department_code": "data"}}
    app = publish(client, world.adam, "dispatch", "dispatch_template", config={"rules": [rule]})
    sub = subscribe(client, bert, app["id"]).json()  # matched by department code, no mapping needed
    (first,) = rules_of(client, bert)
    assert first["actor_id"] == world.b_shared_actor

    cells = {**rule, "position": 5, "grid_cell": {"code": "A-01", "name": "一号网格"}}
    v2 = {"config": {"rules": [rule, cells]}, "changelog": "按网格派单"}
    assert client.post(
        f"{API}/reuse/apps/{app['id']}/versions", json=v2, headers=world.adam.headers
    ).is_success
    refused = client.post(f"{API}/reuse/subscriptions/{sub['id']}/accept-update", headers=bert.headers)
    assert refused.status_code == 400 and "grid cell A-01" in refused.json()["detail"]
    assert rules_of(client, bert) == [first]  # nothing half-applied
    (offer,) = client.get(f"{API}/reuse/subscriptions", headers=bert.headers).json()
    assert offer["accepted_version"] == 1 and offer["update_available"]

    east = cell(client, bert, "B-07", "东门网格")
    cell(client, bert, "B-08", "西门网格")
    body = {"overrides": {}, "mapping": {"actors": {}, "grid_cells": {"A-01": east}}}
    assert client.put(
        f"{API}/reuse/subscriptions/{sub['id']}/overrides", json=body, headers=bert.headers
    ).is_success
    taken = client.post(f"{API}/reuse/subscriptions/{sub['id']}/accept-update", headers=bert.headers)
    assert taken.status_code == 200, taken.text
    after = rules_of(client, bert)
    assert sorted((r["position"], r["grid_cell_id"]) for r in after) == [(5, east), (100, None)]
    again = client.put(f"{API}/reuse/subscriptions/{sub['id']}/overrides", json=body, headers=bert.headers)
    assert again.status_code == 200 and rules_of(client, bert) == after  # the same rows, not new ones

    ended = client.delete(f"{API}/reuse/subscriptions/{sub['id']}", headers=bert.headers)
    assert ended.status_code == 200 and not ended.json()["active"]
    assert rules_of(client, bert) == []
    assert (
        client.post(f"{API}/reuse/subscriptions/{sub['id']}/accept-update", headers=bert.headers).status_code
        == 409
    )
    back = subscribe(client, bert, app["id"], mapping={"grid_cells": {"A-01": east}})
    assert back.status_code == 201 and back.json()["id"] == sub["id"] and len(rules_of(client, bert)) == 2


def test_a_dispatch_template_is_refused_when_it_is_malformed(client: TestClient, world: World) -> None:
    malformed: list[dict[str, object]] = [
        {"rules": []},
        {"rules": [{"category": "road"}]},
        {"rules": [{"actor": {"name": ""}}]},
    ]
    for config in malformed:
        body = {"slug": "bad", "kind": "dispatch_template", "name": "x", "config": config}
        r = client.post(f"{API}/reuse/apps", json=body, headers=world.adam.headers)
        assert r.status_code == 400, (config, r.text)
    empty = {"slug": "none", "kind": "dispatch_template", "name": "x", "from_region": True}
    assert client.post(f"{API}/reuse/apps", json=empty, headers=world.charlie.headers).status_code == 400


# --- report templates -------------------------------------------------------------------------------

LAYOUT = {
    "title": "龙游县资源目录审核通报",
    "sections": ["headline", "findings"],
    "columns": ["record", "message"],
    "rules": ["contact"],
    "footer": "龙游县大数据中心 印发",
}
BAD_CONTACT = {"kind": "dataset", "name": "乙县水质数据", "contact_email": "not-an-email"}


def _audit(client: TestClient, who: Person) -> int:
    r = client.post(f"{API}/audits", json={}, headers=who.headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_a_report_template_lays_out_the_subscribers_own_report(
    client: TestClient, world: World, bert: Person
) -> None:
    app = publish(client, world.adam, "layout", "report_template", config=LAYOUT)
    assert client.post(f"{API}/records", json=BAD_CONTACT, headers=bert.headers).status_code == 201
    run = _audit(client, bert)
    plain = client.get(f"{API}/audits/{run}/report", headers=bert.headers).text
    assert "按部门" in plain and LAYOUT["title"] not in plain

    sub = subscribe(client, bert, app["id"], overrides={"footer": "乙县 印发"}).json()
    html = client.get(f"{API}/audits/{run}/report", headers=bert.headers).text
    assert LAYOUT["title"] in html and "乙县 印发" in html and "按部门" not in html and "按规则" not in html
    assert "乙县水质数据" in html and "completeness" not in html  # only the template's rule is shown
    chosen = client.get(f"{API}/audits/{run}/report?template={sub['id']}", headers=bert.headers)
    assert chosen.text == html
    xlsx = client.get(f"{API}/audits/{run}/report?format=xlsx", headers=bert.headers)
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["概况", "问题清单"]
    assert [c.value for c in book["问题清单"][1]] == ["目录名称", "问题说明"]
    assert all(r[1] for r in book["问题清单"].iter_rows(min_row=2, values_only=True))
    english = load_workbook(
        io.BytesIO(client.get(f"{API}/audits/{run}/report?format=xlsx&lang=en", headers=bert.headers).content)
    )
    assert english.sheetnames == ["Summary", "Findings"]
    assert [c.value for c in english["Findings"][1]] == ["Record", "Problem"]
    pdf = client.get(f"{API}/audits/{run}/report?format=pdf", headers=bert.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    a_run = _audit(client, world.adam)  # the publisher keeps its own (built-in) layout
    assert LAYOUT["title"] not in client.get(f"{API}/audits/{a_run}/report", headers=world.adam.headers).text
    wrong = client.get(f"{API}/audits/{run}/report?template={sub['id'] + 999}", headers=bert.headers)
    assert wrong.status_code == 400


def test_a_report_template_with_unknown_parts_is_refused(client: TestClient, world: World) -> None:
    unknown: list[dict[str, object]] = [
        {"sections": ["cover"]},
        {"rules": ["nope"]},
        {"columns": []},
        {"title": ""},
    ]
    for config in unknown:
        body = {"slug": "bad", "kind": "report_template", "name": "x", "config": config}
        assert client.post(f"{API}/reuse/apps", json=body, headers=world.adam.headers).status_code == 400


# --- detector models --------------------------------------------------------------------------------

PLATES = {
    "kind": "dataset",
    "name": "停车记录",
    "share_type": "unconditional",
    "open_type": "open",
    "items": [{"name": "车牌号码"}, {"name": "停车时长"}],
}


def _sensitive(client: TestClient, who: Person) -> list[str]:
    run = _audit(client, who)
    found = client.get(f"{API}/audits/{run}/findings?rule=sensitive-open", headers=who.headers).json()
    return [f["message"] for f in found]


def test_a_detector_model_changes_what_the_subscribers_audit_finds(
    client: TestClient, world: World, bert: Person
) -> None:
    for who in (world.adam, bert):
        assert client.post(f"{API}/records", json=PLATES, headers=who.headers).status_code == 201
    assert _sensitive(client, bert) == []
    app = publish(client, world.adam, "plates", "detector", config={"terms": ["车牌"]})
    assert subscribe(client, bert, app["id"], saved_yuan=20000).status_code == 201
    (message,) = _sensitive(client, bert)
    assert "车牌号码" in message
    assert _sensitive(client, world.adam) == []  # publishing does not change the publisher's audits

    v2 = {"config": {"terms": ["车牌"], "ignore": ["车牌"]}, "changelog": "撤回"}
    assert client.post(
        f"{API}/reuse/apps/{app['id']}/versions", json=v2, headers=world.adam.headers
    ).is_success
    assert _sensitive(client, bert) != []  # not until B accepts the update
    (sub,) = client.get(f"{API}/reuse/subscriptions", headers=bert.headers).json()
    client.post(f"{API}/reuse/subscriptions/{sub['id']}/accept-update", headers=bert.headers)
    assert _sensitive(client, bert) == []


def test_a_malformed_detector_is_refused(client: TestClient, world: World) -> None:
    for config in ({"terms": "车牌"}, {"detector": "faces"}, {"weights": [1, 2]}):
        body = {"slug": "bad", "kind": "detector", "name": "x", "config": config}
        assert client.post(f"{API}/reuse/apps", json=body, headers=world.adam.headers).status_code == 400


# --- module configurations --------------------------------------------------------------------------


def test_a_module_configuration_is_applied_whole_or_not_at_all(
    client: TestClient, world: World, bert: Person
) -> None:
    bundle: dict[str, dict[str, Any]] = {
        "ruleset": {"rules": {"freshness": {"enabled": False}}, "description": "拱墅经验"},
        "report_template": {"title": "整套审核通报"},
        "dispatch_template": {
            "rules": [{"category": "catalog", "actor": {"name": "大数据科", "department_code": "bigdata"}}]
        },
        "detector": {"terms": ["车牌"]},
    }
    app = publish(client, world.adam, "whole", "module_config", config=bundle)
    refused = subscribe(client, bert, app["id"])
    assert refused.status_code == 400 and "bigdata" in refused.json()["detail"]
    assert client.get(f"{API}/rulesets", headers=bert.headers).json() == []
    assert client.get(f"{API}/reuse/subscriptions", headers=bert.headers).json() == []

    sub = subscribe(client, bert, app["id"], mapping={"actors": {"bigdata": world.b_shared_actor}})
    assert sub.status_code == 201, sub.text
    (rs,) = client.get(f"{API}/rulesets", headers=bert.headers).json()
    assert rs["rules"] == bundle["ruleset"]["rules"] and rs["subscription_id"] == sub.json()["id"]
    assert [(r["category"], r["actor_id"]) for r in rules_of(client, bert)] == [
        ("catalog", world.b_shared_actor)
    ]
    assert client.post(f"{API}/records", json=PLATES, headers=bert.headers).status_code == 201
    run = client.post(f"{API}/audits", json={"ruleset_id": rs["id"]}, headers=bert.headers).json()
    assert "freshness" not in run["summary"]["by_rule"] and run["summary"]["by_rule"]["sensitive-open"] == 1
    assert "整套审核通报" in client.get(f"{API}/audits/{run['id']}/report", headers=bert.headers).text


def test_an_empty_or_unknown_bundle_is_refused(client: TestClient, world: World) -> None:
    bundles: list[dict[str, object]] = [{}, {"pv": {}}, {"ruleset": {"rules": {"nope": {}}}}]
    for config in bundles:
        body = {"slug": "bad", "kind": "module_config", "name": "x", "config": config}
        assert client.post(f"{API}/reuse/apps", json=body, headers=world.adam.headers).status_code == 400


def _sla(client: TestClient, who: Person) -> dict[str, tuple[float, str, float, str]]:
    rows = client.get(f"{V1}/sla-policies", headers=who.headers).json()
    return {
        f"{p['category']}|{p['priority']}": (
            p["claim_amount"],
            p["claim_unit"],
            p["resolve_amount"],
            p["resolve_unit"],
        )
        for p in rows
    }


def test_a_module_configuration_sets_the_subscribers_sla_matrix_and_gives_it_back_on_ending(
    client: TestClient, world: World, bert: Person
) -> None:
    own = {"category": "*", "priority": "*", "claim_amount": 8, "claim_unit": "working_hours"}
    own |= {"resolve_amount": 10, "resolve_unit": "working_days"}
    assert client.put(f"{V1}/sla-policies", json=own, headers=bert.headers).status_code == 200
    cells = [
        {**own, "claim_amount": 2, "resolve_amount": 3},
        {**own, "category": "catalog", "priority": "high", "claim_amount": 1, "resolve_amount": 5},
    ]
    bundle = {"sla_matrix": {"policies": cells}, "report_template": {"title": "整改通报"}}
    app = publish(client, world.adam, "sla", "module_config", config=bundle)
    a_before = _sla(client, world.adam)
    sub = subscribe(client, bert, app["id"]).json()
    assert _sla(client, bert) == {
        "*|*": (2, "working_hours", 3, "working_days"),
        "catalog|high": (1, "working_hours", 5, "working_days"),
    }
    assert _sla(client, world.adam) == a_before

    v2 = {"config": {"sla_matrix": {"policies": cells[:1]}}, "changelog": "取消专项时限"}
    assert client.post(
        f"{API}/reuse/apps/{app['id']}/versions", json=v2, headers=world.adam.headers
    ).is_success
    assert "catalog|high" in _sla(client, bert)  # an offer only
    client.post(f"{API}/reuse/subscriptions/{sub['id']}/accept-update", headers=bert.headers)
    assert _sla(client, bert) == {"*|*": (2, "working_hours", 3, "working_days")}

    client.delete(f"{API}/reuse/subscriptions/{sub['id']}", headers=bert.headers)
    assert _sla(client, bert) == {"*|*": (8, "working_hours", 10, "working_days")}  # B's own values again


def test_a_malformed_sla_matrix_is_refused(client: TestClient, world: World) -> None:
    cell: dict[str, object] = {
        "category": "*",
        "priority": "*",
        "claim_amount": 2,
        "claim_unit": "working_hours",
    }
    cell |= {"resolve_amount": 3, "resolve_unit": "working_days"}
    matrices: list[dict[str, list[dict[str, object]]]] = [
        {"policies": [cell, cell]},
        {"policies": [{**cell, "claim_unit": "fortnights"}]},
        {"policies": []},
    ]
    for matrix in matrices:
        body = {"slug": "bad", "kind": "module_config", "name": "x", "config": {"sla_matrix": matrix}}
        assert client.post(f"{API}/reuse/apps", json=body, headers=world.adam.headers).status_code == 400


def test_a_preview_shows_what_subscribing_would_set_up_and_writes_nothing(
    client: TestClient, world: World, bert: Person
) -> None:
    app = publish(client, world.adam, "dispatch", "dispatch_template", from_region=True)
    r = client.post(f"{API}/reuse/apps/{app['id']}/preview", json={}, headers=bert.headers)
    assert r.status_code == 200, r.text
    assert r.json()["dispatch_rules"] == [] and len(r.json()["unmapped"]) == 2
    mapping = {"actors": {"roads": world.b_shared_actor, "parks": world.b_shared_actor}}
    ok = client.post(f"{API}/reuse/apps/{app['id']}/preview", json=mapping, headers=bert.headers).json()
    assert (
        ok["unmapped"] == [] and [x["actor_id"] for x in ok["dispatch_rules"]] == [world.b_shared_actor] * 2
    )
    assert (
        rules_of(client, bert) == []
        and client.get(f"{API}/reuse/subscriptions", headers=bert.headers).json() == []
    )
    assert (
        client.post(
            f"{API}/reuse/apps/{app['id']}/preview", json={}, headers=world.charlie.headers
        ).status_code
        == 404
    )
    assert (
        client.post(f"{API}/reuse/apps/{app['id']}/preview", json={}, headers=world.adam.headers).status_code
        == 400
    )
    bad = client.post(
        f"{API}/reuse/apps/{app['id']}/preview", json={"actors": {"roads": "x"}}, headers=bert.headers
    )
    assert bad.status_code == 422

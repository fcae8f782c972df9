"""Region A's resource catalog for the isolation walk (``test_isolation.py``): what A's people build through
the catalog API, the bodies the walk sends to every catalog write, and what an outsider may get back.

Region A (paired with B) holds records that yield audit findings and a reviewed duplicate pair, a default
rule set, an audit run, a published rule-set app (version 2) that B subscribes to, a subscription of its
own to an app B publishes, the ledger entries of both, and a library document shared with its pairs that
carries a unique Chinese marker. Region C, the outsider, is paired with nobody and must see none of it.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from rdflib import Graph
from rdflib.namespace import DCAT, RDF
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.core import service as core
from gongzhi.core.models import Role
from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.catalog.models import (
    CatalogAuditRun,
    CatalogCrossPair,
    CatalogDuplicatePair,
    CatalogFinding,
    CatalogRecord,
    CatalogRecordVersion,
    CatalogRuleset,
    LibraryDocument,
    LibraryToken,
    ReuseApp,
    ReuseAppVersion,
    ReuseLedgerEntry,
    ReuseSubscription,
)
from tests.conftest import PASSWORD, Person, World

CATALOG = "/api/v1/catalog"
# Uncommon characters for the library marker, so no other text holds all of its bigrams.
MARKER_CHARS = "麒麟鸾鹤鲲鹏貔貅饕餮螭吻睚眦狻猊"
EXPORT_FORMATS = ("jsonld", "ttl", "datajson", "xlsx")
ENTRY_TYPES = {str(DCAT.Dataset), str(DCAT.DataService)}
# Catalog lists on which the outsider, which has built nothing in the catalog when the walk reads, must see
# an empty list (the id comparison of the walk would miss rows of a third region).
EMPTY_FOR_OUTSIDER = (
    "/catalog/records",
    "/catalog/rulesets",
    "/catalog/audits",
    "/catalog/duplicates",
    "/catalog/cross-duplicates",
    "/catalog/reuse/apps",
    "/catalog/reuse/subscriptions",
    "/catalog/reuse/ledger",
    "/catalog/library/documents",
    "/catalog/library/search",
)
NOTHING_REUSED = {
    "reused_apps": 0,
    "saved_yuan": 0.0,
    "reused_by_others": 0,
    "saved_for_others_yuan": 0.0,
    "by_app": [],
}


@dataclass(frozen=True)
class CatalogA:
    """Ids and natural keys of region A's catalog; ``marker`` is Chinese text only A's document holds."""

    marker: str
    record_ids: tuple[int, ...]
    app_keys: tuple[str, str]  # natural keys of A's two look-alike application records
    dataset_key: str
    ruleset_id: int
    ruleset_name: str
    run_id: int
    pair_id: int
    cross_id: int  # A's review of its system against the one B shares
    b_record_key: str  # natural key of B's shared look-alike system
    app_id: int  # A's rule-set app, published to its pairs
    app_slug: str
    b_app_id: int  # the app B publishes, which A subscribes to
    sub_ids: tuple[int, int]  # A's subscription to B's app, B's subscription to A's app
    doc_id: int
    b_admin: Person

    def substitutions(self) -> dict[str, list[str]]:
        return {
            "record_id": [str(i) for i in self.record_ids],
            "ruleset_id": [str(self.ruleset_id)],
            "run_id": [str(self.run_id)],
            "pair_id": [str(self.pair_id)],
            "cross_id": [str(self.cross_id)],
            "app_id": [str(self.app_id), str(self.b_app_id)],
            "sub_id": [str(i) for i in self.sub_ids],
            "doc_id": [str(self.doc_id)],
        }

    def secrets(self) -> list[str]:
        return [
            self.marker,
            *self.app_keys,
            self.dataset_key,
            self.ruleset_name,
            self.app_slug,
            self.b_record_key,
        ]

    def queries(self, mark: str) -> dict[str, list[str]]:
        """Query strings the walk sends with each catalog GET (default: none)."""
        return {
            "/catalog/records": ["", f"?q={mark}", "?kind=application", "?archived=true"],
            "/catalog/export": [f"?format={f}" for f in EXPORT_FORMATS],
            "/catalog/audits/{run_id}/report": ["?format=html", "?format=xlsx", "?format=pdf"],
            "/catalog/duplicates": ["", "?include_stale=true&verdict=duplicate"],
            "/catalog/cross-duplicates": ["", "?include_stale=true&verdict=duplicate"],
            "/catalog/library/documents": ["", "?kind=experience"],
            "/catalog/library/search": [f"?q={self.marker}", f"?q={mark}"],
        }

    @classmethod
    def placeholder(cls, world: World) -> CatalogA:
        nobody = Person("nobody", 1, world.b, Role.ADMIN, "t")
        return cls("麒麟", (1,), ("k1", "k2"), "k3", 1, "r", 1, 1, 1, "k4", 1, "s", 2, (1, 2), 1, nobody)


# --- building region A's catalog --------------------------------------------------------------------


def _ok(r: Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text}"
    return r.json() if r.content else None


def paired_admin(factory: sessionmaker[Session], world: World) -> Person:
    """An admin of the paired region B (the fixed cast has only a handler there), inside the test's
    rolled-back transaction."""
    username = f"b-admin-{uuid.uuid4().hex[:6]}"
    with unit_of_work(factory, Scope(region_id=world.b, system=True)) as s:
        user = core.create_user(s, username, "乙县管理员", PASSWORD, Role.ADMIN, region_id=world.b)
        s.info["scope"] = Scope(region_id=world.b, user_id=user.id, role=Role.ADMIN, username=username)
        _, token = core.create_token(s, f"{username}-tests", Role.ADMIN)
    return Person(username, user.id, world.b, Role.ADMIN, token)


def build_catalog_a(client: TestClient, world: World, factory: sessionmaker[Session], mark: str) -> CatalogA:
    alice, adam = world.alice.headers, world.adam.headers
    bert = paired_admin(factory, world)
    marker = "密" + "".join(MARKER_CHARS[int(h, 16)] for h in uuid.uuid4().hex[:10])

    def post(path: str, body: Any, who: dict[str, str], status: int = 201) -> Any:
        return _ok(client.post(CATALOG + path, json=body, headers=who), status)

    def get(path: str, who: dict[str, str] = adam) -> Any:
        return _ok(client.get(CATALOG + path, headers=who))

    app_keys = (f"{mark}-app-1", f"{mark}-app-2")
    dataset_key = f"{mark}-data"
    drainage = {
        "kind": "application",
        "summary": f"排水许可证的申请、审批与核发 {mark}",
        "items": [{"name": "许可证号"}, {"name": "排水户"}],
    }
    records = [
        {**drainage, "key": app_keys[0], "name": f"甲区城市排水许可管理系统 {mark}", "provider": "水务局"},
        {**drainage, "key": app_keys[1], "name": f"城市排水许可管理系统 {mark}", "provider": "住建局"},
        {  # sparse on purpose: the audit finds its missing metadata
            "kind": "dataset",
            "key": dataset_key,
            "name": f"河湖水情信息 {mark}",
            "contact_phone": "13812345678",
            "contact_email": f"{mark}@water.example.org",
        },
    ]
    record_ids = tuple(post("/records", rec, alice)["id"] for rec in records)
    for fmt in EXPORT_FORMATS:
        r = client.get(f"{CATALOG}/export?format={fmt}", headers=adam)
        assert r.status_code == 200, r.text
        assert export_entries(r) == (1 if fmt == "datajson" else 3), fmt  # data.json holds datasets only

    ruleset_name = f"{mark} 规则"
    rules = {"freshness": {"enabled": False}, "contact": {"severity": "error"}}
    ruleset = post("/rulesets", {"name": ruleset_name, "rules": rules, "is_default": True}, adam)
    run = post("/audits", {"ruleset_id": ruleset["id"]}, alice)
    assert run["problems"] > 0 and get(f"/audits/{run['id']}/findings"), run

    scan = post("/duplicates/scan", {"kind": "application", "threshold": 0.5}, alice, 200)
    assert scan["pairs"] == 1, scan
    (pair,) = get("/duplicates")
    _ok(
        client.put(
            f"{CATALOG}/duplicates/{pair['id']}/verdict",
            json={"verdict": "duplicate", "note": f"合并建设 {mark}"},
            headers=alice,
        )
    )

    b_record_key = f"{mark}-b-app"
    b_rec = post(
        "/records",
        {**drainage, "key": b_record_key, "name": f"乙县城市排水许可管理系统 {mark}"},
        bert.headers,
    )
    _ok(
        client.put(
            f"{CATALOG}/records/{b_rec['id']}/sharing", json={"shared_with_pairs": True}, headers=bert.headers
        )
    )
    _ok(
        client.put(
            f"{CATALOG}/records/{record_ids[0]}/sharing", json={"shared_with_pairs": True}, headers=alice
        )
    )
    cross = post("/cross-duplicates/scan", {"threshold": 0.5}, alice, 200)
    assert (cross["shared"], cross["pairs"]) == (1, 2), cross  # both of A's look-alikes match B's system
    cross_id = get("/cross-duplicates")[0]["id"]
    _ok(
        client.put(
            f"{CATALOG}/cross-duplicates/{cross_id}/verdict",
            json={"verdict": "duplicate", "note": f"两地重复建设 {mark}"},
            headers=alice,
        )
    )

    app_slug = mark  # "secret-<hex>" is a valid slug
    app = post(
        "/reuse/apps",
        {
            "slug": app_slug,
            "kind": "ruleset",
            "name": f"{mark} 资源目录审核",
            "ruleset_id": ruleset["id"],
            "build_cost_yuan": 500000,
        },
        adam,
    )
    b_sub = post(f"/reuse/apps/{app['id']}/subscribe", {"saved_yuan": 300000, "note": mark}, bert.headers)
    v2 = {"config": {"rules": {"contact": {"severity": "warning"}}}, "changelog": f"放宽 {mark}"}
    post(f"/reuse/apps/{app['id']}/versions", v2, adam)  # B's instance now has an update waiting
    b_app = post(
        "/reuse/apps",
        {
            "slug": "monthly-report",
            "kind": "report_template",
            "name": "乙县月报模板",
            "config": {"title": "月报"},
        },
        bert.headers,
    )
    a_sub = post(
        f"/reuse/apps/{b_app['id']}/subscribe",
        {"saved_yuan": 80000, "note": mark, "overrides": {"title": f"{mark} 月报"}},
        adam,
    )
    assert {e["subscription_id"] for e in _ledger_rows(factory, world)} == {a_sub["id"], b_sub["id"]}

    doc = post(
        "/library/documents",
        {
            "title": f"{mark} 营商环境经验",
            "kind": "experience",
            "summary": f"跨区协作经验 {marker}",
            "body": f"经验做法：{marker}。{mark}",
            "tags": [mark],
            "sharing": "pairs",
        },
        alice,
    )
    for who in (adam, world.bella.headers):  # the marker finds the document for A and its pair B
        assert [h["id"] for h in get(f"/library/search?q={marker}", who)] == [doc["id"]]

    return CatalogA(
        marker=marker,
        record_ids=record_ids,
        app_keys=app_keys,
        dataset_key=dataset_key,
        ruleset_id=ruleset["id"],
        ruleset_name=ruleset_name,
        run_id=run["id"],
        pair_id=pair["id"],
        cross_id=cross_id,
        b_record_key=b_record_key,
        app_id=app["id"],
        app_slug=app_slug,
        b_app_id=b_app["id"],
        sub_ids=(a_sub["id"], b_sub["id"]),
        doc_id=doc["id"],
        b_admin=bert,
    )


def _ledger_rows(factory: sessionmaker[Session], world: World) -> list[dict[str, Any]]:
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        stmt = select(ReuseLedgerEntry.subscription_id, ReuseLedgerEntry.region_id).where(
            or_(ReuseLedgerEntry.region_id == world.a, ReuseLedgerEntry.publisher_region_id == world.a)
        )
        return [dict(row._mapping) for row in s.execute(stmt)]


# --- region A's catalog as its people see it -------------------------------------------------------

COUNTED = (
    CatalogRecord,
    CatalogRecordVersion,
    CatalogRuleset,
    CatalogAuditRun,
    CatalogFinding,
    CatalogDuplicatePair,
    CatalogCrossPair,
    ReuseApp,
    ReuseAppVersion,
    ReuseSubscription,
    LibraryDocument,
    LibraryToken,
)


def snapshot(
    client: TestClient, world: World, cat: CatalogA, factory: sessionmaker[Session]
) -> dict[str, Any]:
    """Everything of A's catalog that an outsider's request could change, and B's instance of A's app."""

    def get(path: str, who: Person = world.adam) -> Any:
        return _ok(client.get(CATALOG + path, headers=who.headers))

    seen: dict[str, Any] = {
        path: get(path)
        for path in (
            "/records?size=500",
            "/rulesets",
            "/audits",
            f"/audits/{cat.run_id}/findings",
            "/duplicates?include_stale=true",
            "/cross-duplicates?include_stale=true",
            "/records?archived=true",
            "/reuse/apps",
            f"/reuse/apps/{cat.app_id}/versions",
            "/reuse/subscriptions",
            "/reuse/ledger",
            "/reuse/summary",
            "/library/documents",
            f"/library/search?q={cat.marker}",
        )
    }
    for rid in cat.record_ids:
        seen[f"versions {rid}"] = get(f"/records/{rid}/versions")
    seen["B's subscriptions"] = get("/reuse/subscriptions", cat.b_admin)
    seen["B's apps"] = get("/reuse/apps", cat.b_admin)
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        for model in COUNTED:
            seen[model.__tablename__] = s.scalar(
                select(func.count()).select_from(model).where(model.region_id == world.a)
            )
    seen["ledger"] = sorted((r["subscription_id"], r["region_id"]) for r in _ledger_rows(factory, world))
    return seen


# --- the bodies of the walk -------------------------------------------------------------------------


def write_bodies(
    cat: CatalogA, world: World, foreign: Callable[..., Any], upload: Callable[..., Any]
) -> dict[tuple[str, str], list[Any]]:
    """Bodies for every catalog write. Creates reuse region A's natural keys (record keys, rule-set name,
    app slug), so an upsert that reached across regions would show; ``foreign`` wraps a create body that
    names one of A's objects, which the outsider must be refused."""
    native = [
        {"kind": "application", "key": cat.app_keys[1], "name": "外人导入系统", "summary": "外人"},
        {"kind": "dataset", "key": cat.dataset_key, "name": "外人导入数据"},
    ]
    doc = {"title": "外人文档", "kind": "policy", "body": "外人的政策", "sharing": "pairs"}
    return {
        ("POST", "/catalog/records"): [{"kind": "application", "key": cat.app_keys[0], "name": "外人系统"}],
        ("PUT", "/catalog/records/{record_id}"): [{"kind": "application", "name": "外人改名"}],
        ("POST", "/catalog/import"): [
            upload("catalog.json", json.dumps(native, ensure_ascii=False).encode(), "application/json")
        ],
        ("POST", "/catalog/rulesets"): [
            {"name": cat.ruleset_name, "rules": {"freshness": {"enabled": False}}, "is_default": True}
        ],
        ("PUT", "/catalog/rulesets/{ruleset_id}"): [{"name": "外人规则", "rules": {}, "is_default": False}],
        ("POST", "/catalog/audits"): [{}, foreign({"ruleset_id": cat.ruleset_id})],
        ("POST", "/catalog/audits/{run_id}/cases"): [None],
        ("POST", "/catalog/duplicates/scan"): [{"kind": "application", "threshold": 0.1}],
        ("PUT", "/catalog/duplicates/{pair_id}/verdict"): [{"verdict": "distinct", "note": "外人"}],
        ("POST", "/catalog/cross-duplicates/scan"): [{"threshold": 0.1}],
        ("PUT", "/catalog/cross-duplicates/{cross_id}/verdict"): [{"verdict": "distinct", "note": "外人"}],
        ("POST", "/catalog/records/{record_id}/archive"): [{"reason": "外人删除"}],
        ("POST", "/catalog/records/{record_id}/restore"): [None],
        ("PUT", "/catalog/records/{record_id}/sharing"): [{"shared_with_pairs": False}],
        ("POST", "/catalog/reuse/apps"): [
            {
                "slug": cat.app_slug,
                "kind": "report_template",
                "name": "外人模板",
                "config": {"title": "外人"},
            },
            foreign({"slug": "borrowed", "kind": "ruleset", "name": "借用", "ruleset_id": cat.ruleset_id}),
        ],
        ("POST", "/catalog/reuse/apps/{app_id}/versions"): [{"config": {"rules": {}}, "changelog": "外人"}],
        ("DELETE", "/catalog/reuse/apps/{app_id}"): [None],
        ("POST", "/catalog/reuse/apps/{app_id}/subscribe"): [{"saved_yuan": 1, "note": "外人"}],
        ("POST", "/catalog/reuse/apps/{app_id}/preview"): [{"actors": {}, "grid_cells": {}}],
        ("POST", "/catalog/reuse/subscriptions/{sub_id}/accept-update"): [None],
        ("PUT", "/catalog/reuse/subscriptions/{sub_id}/overrides"): [{"overrides": {"rules": {}}}],
        ("DELETE", "/catalog/reuse/subscriptions/{sub_id}"): [None],
        ("POST", "/catalog/library/documents"): [
            doc,
            # sharing into an unpaired region is invalid input whether or not that region exists
            foreign({**doc, "sharing": "selected", "share_region_ids": [world.a]}, statuses=(400,)),
        ],
        ("PUT", "/catalog/library/documents/{doc_id}"): [{**doc, "sharing": "private"}],
        ("PUT", "/catalog/library/documents/{doc_id}/sharing"): [
            {"sharing": "private"},
            {"sharing": "selected", "share_region_ids": [world.c]},
        ],
    }


# --- what the outsider may get back -----------------------------------------------------------------


def export_entries(r: Response) -> int:
    """Datasets and data services (applications) in a catalog export of any format."""
    media = r.headers["content-type"]
    if media.startswith("application/ld+json"):  # expanded JSON-LD: a list of node objects
        return sum(bool(set(node.get("@type", ())) & ENTRY_TYPES) for node in r.json())
    if media.startswith("text/turtle"):
        g = Graph().parse(data=r.content, format="turtle")
        return len(set(g.subjects(RDF.type, DCAT.Dataset)) | set(g.subjects(RDF.type, DCAT.DataService)))
    if media.startswith("application/json"):
        return len(r.json()["dataset"])
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    return len(rows) - 1


def listing_problem(template: str, r: Response) -> str | None:
    """Catalog checks beyond the walk's generic ones, for the outsider's reads (made before it writes)."""
    if template == "/catalog/export":
        n = export_entries(r)
        return f"exports {n} catalog entries for a region that has none" if n else None
    body = r.json()
    if template in EMPTY_FOR_OUTSIDER and (body["items"] if isinstance(body, dict) else body):
        return f"lists {body} for a region that has built nothing in the catalog"
    if template == "/catalog/reuse/summary" and body != NOTHING_REUSED:
        return f"reports reuse {body} for a region that reused nothing"
    return None


def creation_problem(client: TestClient, charlie: Person, template: str, r: Response) -> str | None:
    """Catalog checks of the outsider's own creations: they touch and count the outsider's rows only."""
    body = r.json()

    def own_total(query: str = "") -> int:
        return int(_ok(client.get(f"{CATALOG}/records?size=1{query}", headers=charlie.headers))["total"])

    if template in ("/catalog/records", "/catalog/reuse/apps") and body["version"] != 1:
        return f"bumped an existing row to version {body['version']}"
    if template == "/catalog/import" and (body["created"], body["updated"], body["unchanged"]) != (2, 0, 0):
        return f"matched existing records: {body}"
    if template == "/catalog/audits" and body["applications"] + body["datasets"] != own_total():
        return f"audited {body['applications']} + {body['datasets']} records, not the region's own"
    if template == "/catalog/duplicates/scan" and body["systems"] != own_total("&kind=application"):
        return f"scanned {body['systems']} systems, not the region's own"
    if template == "/catalog/cross-duplicates/scan" and body["shared"] != 0:
        return f"compared with {body['shared']} shared systems of regions it is not paired with"
    return None

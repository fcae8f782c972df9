"""The catalog's console pages: records with history, audits with the report and rectification cases,
duplicates side by side with a verdict, the reuse market and ledger (summed on the dashboard), and the
shared library's Chinese search. Chinese first; a paired region sees published apps and shared documents,
an unpaired one nothing."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.catalog.analytics.rules import RULES
from gongzhi.modules.catalog.models import CatalogFinding
from gongzhi.web.i18n import Lang
from tests.conftest import Person, World
from tests.web.helpers import as_user, login, no_stack_trace
from tests.web.test_a11y import unlabelled

API = "/api/v1/catalog"
DRAINAGE = {
    "kind": "application",
    "summary": "排水许可证的申请、审批与核发",
    "items": [{"name": "许可证号"}, {"name": "排水户"}],
}


def api(client: TestClient, who: Person, path: str, body: Any = None, status: int = 201) -> Any:
    r = client.post(f"{API}{path}", json=body, headers=who.headers)
    assert r.status_code == status, r.text
    return r.json()


def form(client: TestClient, csrf: str, path: str, **data: Any) -> Any:
    r = client.post(path, data={"csrf_token": csrf, **data}, follow_redirects=False)
    assert r.status_code == 303, (path, r.status_code, r.text[:500])
    return client.get(r.headers["location"])


def build(client: TestClient, world: World, bert: Person) -> dict[str, Any]:
    a = api(
        client,
        world.alice,
        "/records",
        {**DRAINAGE, "name": "甲区城市排水许可管理系统", "provider": "水务局"},
    )
    api(client, world.alice, "/records", {**DRAINAGE, "name": "城市排水许可管理系统", "provider": "住建局"})
    run = api(client, world.alice, "/audits", {})
    api(client, world.alice, "/duplicates/scan", {"threshold": 0.5}, 200)
    app = api(
        client,
        world.adam,
        "/reuse/apps",
        {"slug": "audit", "kind": "ruleset", "name": "资源目录智能审核规则", "config": {"rules": {}}},
    )
    doc = api(
        client,
        world.alice,
        "/library/documents",
        {
            "title": "营商环境优化经验",
            "kind": "experience",
            "body": "一窗受理、集成服务的做法。",
            "sharing": "pairs",
        },
    )
    return {"record": a, "run": run, "app": app, "doc": doc}


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_catalog_page_renders_in_both_languages(
    client: TestClient, world: World, bert: Person, lang: str
) -> None:
    built = build(client, world, bert)
    login(client, world.adam, lang)
    pages = [
        "/catalog",
        "/catalog?archived=true&kind=application&q=排水",
        f"/catalog/records/{built['record']['id']}",
        "/catalog/audits",
        f"/catalog/audits/{built['run']['id']}",
        f"/catalog/audits/{built['run']['id']}?status=&rule=completeness",
        "/catalog/duplicates",
        "/catalog/reuse",
        "/catalog/reuse/ledger",
        "/catalog/library",
        "/catalog/library?q=营商环境",
        f"/catalog/library/{built['doc']['id']}",
        "/",
    ]
    b, _ = as_user(client, bert, lang)
    views = [(client, p) for p in pages] + [(b, "/catalog/reuse"), (b, "/catalog/library")]
    for who, path in views:
        r = who.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        no_stack_trace(r.text)
        assert unlabelled(r.text) == [], path
        ids = re.findall(r'\sid="([^"]+)"', r.text)
        assert len(ids) == len(set(ids)), f"duplicate ids on {path}"
    assert "/subscribe" in b.get("/catalog/reuse").text
    catalog = client.get("/catalog").text
    assert ("资源目录" in catalog) == (lang == "zh_CN") and ("Resource catalog" in catalog) == (lang == "en")
    assert 'href="/catalog"' in client.get("/").text
    for fmt, media in (("html", "text/html"), ("pdf", "application/pdf"), ("xlsx", "application/vnd")):
        r = client.get(f"/catalog/audits/{built['run']['id']}/report.{fmt}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(media)
    assert client.get(f"/catalog/audits/{built['run']['id']}/report.doc").status_code == 400


def test_a_record_is_archived_and_restored_from_its_page_with_its_history(
    client: TestClient, world: World
) -> None:
    rec = api(client, world.alice, "/records", {"kind": "dataset", "name": "河湖水情信息"})
    csrf = login(client, world.alice)
    page = form(client, csrf, f"/catalog/records/{rec['id']}/archive", reason="系统已下线").text
    assert "已归档" in page and "系统已下线" in page
    assert "河湖水情信息" not in client.get("/catalog").text
    assert "河湖水情信息" in client.get("/catalog?archived=true").text
    page = form(client, csrf, f"/catalog/records/{rec['id']}/restore").text
    assert "已恢复" in page and page.count('<td class="num"') >= 3  # three versions in the history
    page = form(client, csrf, f"/catalog/records/{rec['id']}/sharing", shared="true").text
    assert "停止与结对区县共享" in page
    refused = client.post(f"/catalog/records/{rec['id']}/archive", data={"csrf_token": csrf, "reason": ""})
    assert refused.status_code == 422


def test_an_audit_from_the_console_turns_problems_into_rectification_cases(
    client: TestClient, world: World
) -> None:
    api(client, world.alice, "/records", {"kind": "dataset", "name": "稀疏数据", "contact_email": "bad"})
    csrf = login(client, world.alice)
    page = form(client, csrf, "/catalog/audits").text
    run_id = int(re.search(r"/catalog/audits/(\d+)/cases", page).group(1))  # type: ignore[union-attr]
    assert "个问题" in page
    page = form(client, csrf, f"/catalog/audits/{run_id}/cases").text
    number = re.search(r'href="/cases/\d+">([A-Z]+[^<]*)</a>', page)
    assert number, "the problems link to their rectification case"
    again = form(client, csrf, f"/catalog/audits/{run_id}/cases").text
    assert "已创建 0 个整改工单" in again
    form(client, csrf, "/catalog/audits")
    stale = client.post(f"/catalog/audits/{run_id}/cases", data={"csrf_token": csrf}, follow_redirects=False)
    assert stale.status_code == 409  # only the latest run's problems are current


def test_duplicates_are_shown_side_by_side_and_the_verdict_is_kept(
    client: TestClient, world: World, bert: Person
) -> None:
    for name in ("甲区城市排水许可管理系统", "城市排水许可管理系统"):
        api(client, world.alice, "/records", {**DRAINAGE, "name": name})
    csrf = login(client, world.alice)
    page = form(client, csrf, "/catalog/duplicates/scan").text
    assert page.count('class="two-col"') == 1 and "许可证号" in page
    pair_id = re.search(r"/catalog/duplicates/(\d+)/verdict", page).group(1)  # type: ignore[union-attr]
    page = form(
        client, csrf, f"/catalog/duplicates/{pair_id}/verdict", verdict="duplicate", note="合并建设"
    ).text
    assert 'value="duplicate" selected' in page and "合并建设" in page
    theirs = api(client, bert, "/records", {**DRAINAGE, "name": "乙县城市排水许可管理系统"})
    client.put(
        f"{API}/records/{theirs['id']}/sharing", json={"shared_with_pairs": True}, headers=bert.headers
    )
    page = form(client, csrf, "/catalog/duplicates/scan", across="true").text
    assert "乙县城市排水许可管理系统" in page and "乙县" in page


def test_a_paired_admin_subscribes_in_the_market_and_the_dashboard_sums_the_saving(
    client: TestClient, world: World, bert: Person
) -> None:
    app = api(
        client,
        world.adam,
        "/reuse/apps",
        {"slug": "audit", "kind": "ruleset", "name": "资源目录智能审核规则", "config": {"rules": {}}},
    )
    b, csrf = as_user(client, bert)
    market = b.get("/catalog/reuse").text
    assert "资源目录智能审核规则" in market and f"/catalog/reuse/apps/{app['id']}/subscribe" in market
    page = form(
        b, csrf, f"/catalog/reuse/apps/{app['id']}/subscribe", saved_yuan="300000", note="龙游复用"
    ).text
    assert "已订阅" in page
    assert "¥300,000" in b.get("/").text and "¥300,000" in b.get("/catalog/reuse/ledger").text
    assert "¥300,000" in as_user(client, world.adam)[0].get("/").text  # saved for others, on A's dashboard
    api(
        client,
        world.adam,
        f"/reuse/apps/{app['id']}/versions",
        {"config": {"rules": {"dates": {"enabled": False}}}},
    )
    page = b.get("/catalog/reuse").text
    assert "有可用更新" in page
    sub_id = re.search(r"/catalog/reuse/subscriptions/(\d+)/accept", page).group(1)  # type: ignore[union-attr]
    page = form(b, csrf, f"/catalog/reuse/subscriptions/{sub_id}/accept").text
    assert "已是最新" in page
    bad = b.post(
        f"/catalog/reuse/apps/{app['id']}/subscribe",
        data={"csrf_token": csrf, "saved_yuan": "many"},
        follow_redirects=False,
    )
    assert bad.status_code in (400, 409)


def test_publishing_from_the_console_checks_the_configuration(client: TestClient, world: World) -> None:
    csrf = login(client, world.adam)
    page = form(
        client,
        csrf,
        "/catalog/reuse/apps",
        slug="dispatch",
        kind="dispatch_template",
        name="派单规则",
        from_region="true",
    ).text
    assert "派单规则" in page
    bad = client.post(
        "/catalog/reuse/apps",
        data={"csrf_token": csrf, "slug": "bad", "kind": "report_template", "name": "坏", "config": "{nope"},
        follow_redirects=False,
    )
    assert bad.status_code == 400 and "JSON" in bad.text


def test_the_library_searches_chinese_full_text_across_the_pairing_only(
    client: TestClient, world: World, bert: Person
) -> None:
    build(client, world, bert)
    b, _ = as_user(client, bert)
    found = b.get("/catalog/library?q=集成服务").text
    assert "营商环境优化经验" in found
    c, _ = as_user(client, world.charlie)
    assert "营商环境优化经验" not in c.get("/catalog/library?q=集成服务").text
    assert "营商环境优化经验" not in c.get("/catalog/library").text
    assert "资源目录智能审核规则" not in c.get("/catalog/reuse").text
    csrf = login(client, world.alice)
    page = form(
        client,
        csrf,
        "/catalog/library",
        title="招商引资公告",
        kind="investment",
        body="园区招商",
        sharing="private",
    ).text
    assert "招商引资公告" in page
    assert "招商引资公告" not in b.get("/catalog/library?q=招商").text  # private: not shared with B


def test_an_outsider_cannot_open_another_regions_catalog_pages(
    client: TestClient, world: World, bert: Person
) -> None:
    built = build(client, world, bert)
    c, csrf = as_user(client, world.charlie)
    for path in (
        f"/catalog/records/{built['record']['id']}",
        f"/catalog/audits/{built['run']['id']}",
        f"/catalog/audits/{built['run']['id']}/report.pdf",
        f"/catalog/library/{built['doc']['id']}",
    ):
        assert c.get(path).status_code == 404, path
    r = c.post(
        f"/catalog/records/{built['record']['id']}/archive",
        data={"csrf_token": csrf, "reason": "外人"},
        follow_redirects=False,
    )
    assert r.status_code == 404
    v, vcsrf = as_user(client, world.vera)
    assert "归档" not in v.get(f"/catalog/records/{built['record']['id']}").text
    r = v.post("/catalog/audits", data={"csrf_token": vcsrf}, follow_redirects=False)
    assert r.status_code == 403


def test_a_documents_sharing_is_changed_on_its_page_and_the_history_shows_values(
    client: TestClient, world: World, bert: Person
) -> None:
    doc = api(
        client,
        world.alice,
        "/library/documents",
        {"title": "内部政策草案", "body": "征求意见稿", "sharing": "private"},
    )
    b, _ = as_user(client, bert)
    assert b.get(f"/catalog/library/{doc['id']}").status_code == 404
    csrf = login(client, world.alice)
    page = form(
        client,
        csrf,
        f"/catalog/library/{doc['id']}/sharing",
        sharing="selected",
        share_region_ids=str(world.b),
    ).text
    assert "共享范围已保存" in page
    assert "内部政策草案" in b.get(f"/catalog/library/{doc['id']}").text
    assert (
        'action="/catalog/library' not in b.get(f"/catalog/library/{doc['id']}").text.split("</article>")[1]
    )
    outside = client.post(
        f"/catalog/library/{doc['id']}/sharing",
        data={"csrf_token": csrf, "sharing": "selected", "share_region_ids": str(world.c)},
        follow_redirects=False,
    )
    assert outside.status_code == 400

    rec = api(client, world.alice, "/records", {"kind": "dataset", "name": "旧名称"})
    r = client.put(
        f"{API}/records/{rec['id']}", json={"kind": "dataset", "name": "新名称"}, headers=world.alice.headers
    )
    assert r.status_code == 200
    assert "旧名称 → 新名称" in client.get(f"/catalog/records/{rec['id']}").text


def test_the_market_shows_what_each_version_changed(client: TestClient, world: World, bert: Person) -> None:
    app = api(
        client,
        world.adam,
        "/reuse/apps",
        {"slug": "audit", "kind": "ruleset", "name": "审核规则", "config": {"rules": {}}},
    )
    api(
        client,
        world.adam,
        f"/reuse/apps/{app['id']}/versions",
        {"config": {"rules": {}}, "changelog": "新增联系方式校验"},
    )
    b, _ = as_user(client, bert)
    assert "新增联系方式校验" in b.get("/catalog/reuse").text


def test_a_catalog_is_imported_with_its_row_report_and_exported_from_the_console(
    client: TestClient, world: World
) -> None:
    csrf = login(client, world.alice)
    rows = [
        {"kind": "dataset", "key": "k1", "name": "公交线路数据"},
        {"kind": "dataset", "key": "k2", "name": ""},
    ]
    raw = json.dumps(rows, ensure_ascii=False).encode()
    r = client.post(
        "/catalog/import", data={"csrf_token": csrf}, files={"file": ("c.json", raw, "application/json")}
    )
    assert r.status_code == 200, r.text[:500]
    assert "新增 1" in r.text and "跳过 1" in r.text and "公交线路数据" in r.text
    assert "该条记录没有名称，已跳过" in r.text  # the row's problem in the console's language
    bad = client.post(
        "/catalog/import", data={"csrf_token": csrf}, files={"file": ("c.json", b"{nope", "application/json")}
    )
    assert bad.status_code == 400 and "不是有效的 JSON" in bad.text
    api_report = client.post(
        f"{API}/import", files={"file": ("c.json", raw, "application/json")}, headers=world.alice.headers
    )
    assert api_report.json()["errors"][0]["message"] == "the record has no name (名称) and was skipped"
    xlsx = client.get("/catalog/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["content-disposition"].endswith('catalog.xlsx"')
    assert "公交线路数据" in client.get("/catalog/export.datajson").text
    assert client.get("/catalog/export.pdf").status_code == 400
    v, vcsrf = as_user(client, world.vera)
    assert 'action="/catalog/import"' not in v.get("/catalog").text
    denied = v.post(
        "/catalog/import", data={"csrf_token": vcsrf}, files={"file": ("c.json", raw, "application/json")}
    )
    assert denied.status_code == 403


def test_the_rules_page_lists_the_rules_and_where_each_rule_set_comes_from(
    client: TestClient, world: World, bert: Person
) -> None:
    app = api(
        client,
        world.adam,
        "/reuse/apps",
        {
            "slug": "audit",
            "kind": "ruleset",
            "name": "审核规则",
            "config": {"rules": {"freshness": {"enabled": False}}},
        },
    )
    api(client, bert, f"/reuse/apps/{app['id']}/subscribe", {})
    b, _ = as_user(client, bert)
    page = b.get("/catalog/rules").text
    assert "复用自甲区，第 1 版" in page and "freshness" in page and "已关闭" in page and "整改建议" in page


def test_the_market_previews_a_dispatch_template_before_subscribing(
    client: TestClient, world: World, bert: Person
) -> None:
    app = api(
        client,
        world.adam,
        "/reuse/apps",
        {"slug": "d", "kind": "dispatch_template", "name": "派单模板", "from_region": True},
    )
    b, csrf = as_user(client, bert)
    r = b.post(f"/catalog/reuse/apps/{app['id']}/preview", data={"csrf_token": csrf, "mapping": ""})
    assert r.status_code == 200 and "尚未对应" in r.text and "道路科" in r.text
    mapping = json.dumps({"actors": {"roads": world.b_shared_actor, "parks": world.b_shared_actor}})
    r = b.post(f"/catalog/reuse/apps/{app['id']}/preview", data={"csrf_token": csrf, "mapping": mapping})
    assert "尚未对应" not in r.text and "road → 数据局" in r.text and "dispatch_template" in r.text
    assert client.get("/api/v1/dispatch-rules", headers=bert.headers).json() == []
    page = form(b, csrf, f"/catalog/reuse/apps/{app['id']}/subscribe", mapping=mapping).text
    assert "已订阅" in page and len(client.get("/api/v1/dispatch-rules", headers=bert.headers).json()) == 2


def test_a_subscription_is_remapped_in_the_console_when_an_update_needs_it(
    client: TestClient, world: World, bert: Person
) -> None:
    rule = {"category": "road", "actor": {"name": "数据局", "department_code": "data"}}
    app = api(
        client,
        world.adam,
        "/reuse/apps",
        {"slug": "d", "kind": "dispatch_template", "name": "派单", "config": {"rules": [rule]}},
    )
    b, csrf = as_user(client, bert)
    form(b, csrf, f"/catalog/reuse/apps/{app['id']}/subscribe")
    v2 = {"config": {"rules": [{**rule, "grid_cell": {"code": "A-01"}}]}}
    api(client, world.adam, f"/reuse/apps/{app['id']}/versions", v2)
    sub_id = re.search(r"/catalog/reuse/subscriptions/(\d+)/accept", b.get("/catalog/reuse").text).group(1)  # type: ignore[union-attr]
    refused = b.post(
        f"/catalog/reuse/subscriptions/{sub_id}/accept", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert refused.status_code == 400 and "A-01" in refused.text
    cell = b.put(
        "/api/v1/grid-cells",
        json={
            "code": "B-01",
            "name": "东门",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[119, 29], [119.01, 29], [119.01, 29.01], [119, 29]]],
            },
        },
        headers=bert.headers,
    ).json()
    mapping = json.dumps({"grid_cells": {"A-01": cell["id"]}})
    assert (
        "对应关系已保存"
        in form(b, csrf, f"/catalog/reuse/subscriptions/{sub_id}/mapping", mapping=mapping).text
    )
    assert "已更新到第 2 版" in form(b, csrf, f"/catalog/reuse/subscriptions/{sub_id}/accept").text
    (only,) = client.get("/api/v1/dispatch-rules", headers=bert.headers).json()
    assert only["grid_cell_id"] == cell["id"]


def test_rule_and_finding_severities_are_named_not_printed_as_codes(
    client: TestClient, world: World, bert: Person
) -> None:
    built = build(client, world, bert)
    login(client, world.adam)
    rules = client.get("/catalog/rules").text
    assert ">错误（须整改）</td>" in rules and ">error</td>" not in rules
    run = client.get(f"/catalog/audits/{built['run']['id']}?status=").text
    assert ">错误（须整改）</td>" in run and ">open</td>" not in run and ">待处置</td>" in run
    assert ">error</td>" not in run and ">warning</td>" not in run


# --- one language per page ---------------------------------------------------------------------------

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
CELL = re.compile(r'<td data-label="([^"]*)">(.*?)</td>', re.DOTALL)
FLAWED = [
    {
        "kind": "dataset",
        "name": "不动产登记信息",
        "provider": "自然资源局",
        "share_type": "部分共享",
        "contact_email": "不是邮箱",
    },
    {
        "kind": "dataset",
        "name": "居民户籍信息",
        "provider": "公安局",
        "share_type": "unconditional",
        "open_type": "open",
        "items": [{"name": "身份证号"}, {"name": "家庭住址"}],
        "contact_phone": "12",
    },
]


def _cells(html_text: str, label: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", " ", v)).strip() for k, v in CELL.findall(html_text) if k == label
    ]


def _data_values(findings: list[dict[str, Any]]) -> list[str]:
    """The records' own values a message quotes (data: shown as written, in whatever language)."""
    out: list[str] = []
    for f in findings:
        for key, value in f["message_params"].items():
            if key not in ("field", "allowed", "cycle", "component"):
                out += [str(v) for v in (value if isinstance(value, list) else [value])]
    return sorted(out, key=len, reverse=True)


def test_an_audit_run_shows_rule_titles_and_problems_in_the_readers_language_only(
    client: TestClient, world: World
) -> None:
    for record in FLAWED:
        api(client, world.alice, "/records", record)
    run = api(client, world.alice, "/audits", {})
    findings = client.get(f"{API}/audits/{run['id']}/findings", headers=world.alice.headers).json()
    assert {f["message_key"] for f in findings} >= {"not_in_code_list", "invalid_email", "sensitive_items"}
    data = _data_values(findings)

    login(client, world.adam, "en")
    page = client.get(f"/catalog/audits/{run['id']}?status=").text
    titles, problems = _cells(page, "Rule"), _cells(page, "Problem")
    assert "Required metadata" in titles and "Personal data in open resources" in titles
    assert len(problems) == len(findings) and any(
        p.startswith("Sharing type '部分共享' is not in") for p in problems
    )
    for text in titles + problems:
        for value in data:
            text = text.replace(value, "")
        assert not CJK.search(text), text
    rules_page = client.get("/catalog/rules").text
    for label in ("Rule", "Explanation", "How to fix"):
        assert all(not CJK.search(t) for t in _cells(rules_page, label)), label

    login(client, world.adam, "zh_CN")
    zh = Lang("zh_CN")
    page = client.get(f"/catalog/audits/{run['id']}?status=").text
    titles, problems = _cells(page, zh.gettext("Rule")), _cells(page, zh.gettext("Problem"))
    assert {"必填项完整性", "代码表符合性", "开放资源敏感信息", "联系方式有效性"} <= set(titles)
    assert set(titles) <= {r.title.zh for r in RULES.values()}
    assert "开放资源含有个人信息或敏感信息项：身份证号、家庭住址" in problems
    for text in problems:
        for value in data:
            text = text.replace(value, "")
        assert CJK.search(text) and not re.search(r"[a-z]{3,}", text), text
    assert "不予共享依据" in client.get("/catalog/rules").text


def test_a_finding_stored_before_message_keys_still_shows(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    api(client, world.alice, "/records", FLAWED[0])
    run = api(client, world.alice, "/audits", {})
    stored = "必填项缺失 missing required field: 摘要 (summary)"
    with unit_of_work(factory, Scope(region_id=world.alice.region_id, system=True)) as s:
        s.execute(
            update(CatalogFinding)
            .where(CatalogFinding.run_id == run["id"])
            .values(message_key="", message_params={}, message=stored)
        )
    for lang in ("zh-CN", "en"):
        found = client.get(
            f"{API}/audits/{run['id']}/findings?lang={lang}", headers=world.alice.headers
        ).json()
        assert found and {f["message"] for f in found} == {stored}
    login(client, world.adam, "en")
    assert stored in client.get(f"/catalog/audits/{run['id']}?status=").text


def test_a_records_sharing_and_opening_types_are_named_not_printed_as_codes(
    client: TestClient, world: World
) -> None:
    made = [api(client, world.alice, "/records", record) for record in FLAWED]
    login(client, world.alice)
    listing = client.get("/catalog").text
    assert ">无条件共享</td>" in listing and ">unconditional</td>" not in listing
    assert ">部分共享</td>" in listing  # a value outside the code list is shown as written (audit flags it)
    page = client.get(f"/catalog/records/{made[1]['id']}").text
    assert "无条件共享" in page and "向社会开放" in page and "<dd>open</dd>" not in page
    login(client, world.alice, "en")
    assert ">Shared without conditions</td>" in client.get("/catalog").text

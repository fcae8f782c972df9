"""Catalog over HTTP: import with a row report, history, audit, re-audit, cases, reports, exports."""

from __future__ import annotations

from typing import Any, cast

from fastapi.testclient import TestClient

from gongzhi.modules.catalog.schemas import RecordIn, RecordRead
from tests.conftest import Person, World
from tests.modules.catalog.samples import CSV, DATAJSON, as_bytes

API = "/api/v1/catalog"
READ_ONLY = set(RecordRead.model_fields) - set(RecordIn.model_fields)


def upload(client: TestClient, who: Person, name: str, raw: bytes, status: int = 200) -> dict[str, Any]:
    r = client.post(f"{API}/import", files={"file": (name, raw)}, headers=who.headers)
    assert r.status_code == status, r.text
    return cast(dict[str, Any], r.json())


def test_import_reports_rows_and_keeps_versions(client: TestClient, world: World) -> None:
    rep = upload(client, world.adam, "data.json", as_bytes(DATAJSON))
    assert (rep["format"], rep["created"], rep["errors"]) == ("datajson", 2, [])
    rep = upload(client, world.adam, "catalog.csv", CSV.encode())
    assert rep["created"] == 2 and rep["skipped"] == 1
    fields = {(e["row"], e["field"]) for e in rep["errors"]}
    assert (3, "name") in fields and (4, "published") in fields
    changed = {**DATAJSON, "dataset": [{**DATAJSON["dataset"][0], "title": "Broadband Deployment v2"}]}
    rep = upload(client, world.adam, "data.json", as_bytes(changed))
    assert rep["updated"] == 1
    recs = client.get(f"{API}/records?q=Broadband", headers=world.adam.headers).json()
    rid = recs["items"][0]["id"]
    versions = client.get(f"{API}/records/{rid}/versions", headers=world.adam.headers).json()
    assert [v["data"]["name"] for v in versions] == ["Broadband Deployment", "Broadband Deployment v2"]


def audit(client: TestClient, who: Person, status: int = 201, **body: Any) -> dict[str, Any]:
    r = client.post(f"{API}/audits", json={"reference_date": "2025-02-01", **body}, headers=who.headers)
    assert r.status_code == status, r.text
    return cast(dict[str, Any], r.json())


def test_an_audit_counts_problems_by_rule_and_a_reaudit_marks_fixes(client: TestClient, world: World) -> None:
    upload(client, world.adam, "data.json", as_bytes(DATAJSON))
    run = audit(client, world.adam)
    assert run["datasets"] == 2 and run["problems"] > 0
    by_rule = run["summary"]["by_rule"]
    assert by_rule["non-public-reason"] == 1 and by_rule["freshness"] == 1 and by_rule["contact"] == 1
    assert run["summary"]["by_department"]["Enforcement Bureau"]["problems"] >= 4
    bad = client.get(f"{API}/records?q=Enforcement", headers=world.adam.headers).json()["items"][0]
    fixed = {**bad, "rights": "5 U.S.C. 552(b)(7)", "contact_email": "enforcement@example.gov"}
    body = {k: v for k, v in fixed.items() if k not in READ_ONLY}
    r = client.put(f"{API}/records/{bad['id']}", json=body, headers={**world.adam.headers, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    stale = client.put(
        f"{API}/records/{bad['id']}", json=body, headers={**world.adam.headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 409
    again = audit(client, world.adam)
    assert again["fixed"] == 2 and again["problems"] == run["problems"] - 2
    fixed_rules = {
        f["rule_id"]
        for f in client.get(
            f"{API}/audits/{run['id']}/findings?status=fixed", headers=world.adam.headers
        ).json()
    }
    assert fixed_rules == {"non-public-reason", "contact"}


def test_problems_become_rectification_cases_once(client: TestClient, world: World) -> None:
    upload(client, world.adam, "data.json", as_bytes(DATAJSON))
    run = audit(client, world.adam, open_cases=True)
    assert run["cases_opened"] == 2
    cases = client.get("/api/v1/cases?category=catalog", headers=world.adam.headers).json()
    assert cases["total"] == 2 and cases["items"][0]["title"].startswith("资源目录整改")
    detail = client.get(f"/api/v1/cases/{cases['items'][0]['id']}", headers=world.adam.headers).json()
    assert detail["source"] == "catalog-audit" and detail["priority"] == "high"
    text = detail["description"]  # zh-CN, for the department that rectifies: rule title, problem, fix
    assert "【不予共享依据】" in text or "【必填项完整性】" in text
    assert "整改要求：" in text and "missing" not in text and "[" not in text
    second = audit(client, world.adam, open_cases=True)
    assert second["cases_opened"] == 0  # carried findings keep their case
    findings = client.get(f"{API}/audits/{second['id']}/findings", headers=world.adam.headers).json()
    assert all(f["case_id"] for f in findings)
    rec = client.get(f"{API}/records?q=Broadband", headers=world.adam.headers).json()["items"][0]
    (only,) = [f for f in findings if f["record_id"] == rec["id"]]  # its one problem: no category
    body = {k: v for k, v in rec.items() if k not in READ_ONLY}
    r = client.put(
        f"{API}/records/{rec['id']}", json={**body, "category": "Telecom"}, headers=world.adam.headers
    )
    assert r.status_code == 200
    third = audit(client, world.adam)
    assert third["fixed"] == 1
    timeline = client.get(f"/api/v1/cases/{only['case_id']}/timeline", headers=world.adam.headers).json()
    assert timeline[-1]["action"] == "comment" and f"#{third['id']}" in timeline[-1]["note"]


def test_findings_and_reports_are_chinese_by_default_and_english_on_request(
    client: TestClient, world: World
) -> None:
    upload(client, world.adam, "data.json", as_bytes(DATAJSON))
    run = audit(client, world.adam)
    url = f"{API}/audits/{run['id']}/findings"
    zh = client.get(url, headers=world.adam.headers).json()
    en = client.get(f"{url}?lang=en", headers=world.adam.headers).json()
    assert [f["message_key"] for f in zh] == [f["message_key"] for f in en] and zh
    assert [f["message_params"] for f in zh] == [f["message_params"] for f in en]
    missing = next(f for f in zh if f["message_key"] == "missing_field")
    assert missing["message"].startswith("必填项“") and "missing" not in missing["message"]
    assert next(f["message"] for f in en if f["id"] == missing["id"]).startswith("Required field missing: ")
    report = client.get(f"{API}/audits/{run['id']}/report?lang=en", headers=world.adam.headers).text
    assert '<html lang="en">' in report and "By rule" in report and "按规则" not in report
    assert report.count("<td>Required metadata</td>") > 1  # by rule, and each finding by its rule
    assert "Required field missing: " in report
    chinese = client.get(f"{API}/audits/{run['id']}/report", headers=world.adam.headers).text
    assert '<html lang="zh-CN">' in chinese and "按规则统计" in chinese and "By rule" not in chinese


def test_reports_render_as_html_excel_and_pdf(client: TestClient, world: World) -> None:
    upload(client, world.adam, "data.json", as_bytes(DATAJSON))
    run = audit(client, world.adam)
    html = client.get(f"{API}/audits/{run['id']}/report?format=html", headers=world.adam.headers)
    assert html.status_code == 200 and "发现问题" in html.text and "non-public-reason" in html.text
    xlsx = client.get(f"{API}/audits/{run['id']}/report?format=xlsx", headers=world.adam.headers)
    assert xlsx.content[:2] == b"PK"
    pdf = client.get(f"{API}/audits/{run['id']}/report?format=pdf", headers=world.adam.headers)
    assert pdf.content.startswith(b"%PDF") and b"/FontFile2" in pdf.content


def test_an_excel_report_keeps_formula_text_from_the_catalog_inert(client: TestClient, world: World) -> None:
    import copy
    import io

    from openpyxl import load_workbook

    doc = copy.deepcopy(DATAJSON)
    doc["dataset"][0]["publisher"]["name"] = '=HYPERLINK("http://x","局")'
    upload(client, world.adam, "data.json", as_bytes(doc))
    run = audit(client, world.adam)
    xlsx = client.get(f"{API}/audits/{run['id']}/report?format=xlsx", headers=world.adam.headers)
    cells = [c for ws in load_workbook(io.BytesIO(xlsx.content)) for row in ws.iter_rows(values_only=True)
             for c in row if isinstance(c, str) and "HYPERLINK" in c]  # fmt: skip
    assert cells and all(c.startswith("'=") for c in cells)


def test_exports_in_every_format(client: TestClient, world: World) -> None:
    upload(client, world.adam, "data.json", as_bytes(DATAJSON))
    h = world.adam.headers
    jsonld = client.get(f"{API}/export?format=jsonld", headers=h)
    assert jsonld.status_code == 200 and "Broadband Deployment" in jsonld.text
    ttl = client.get(f"{API}/export?format=ttl", headers=h).text
    assert "dcat:Dataset" in ttl
    # the catalog describes itself in Chinese first and in English, each with its language tag
    assert '政务信息资源目录"@zh' in ttl and 'resource catalog"@en' in ttl
    assert '共治平台导出"@zh' in ttl and 'exported by gongzhi"@en' in ttl
    pod = client.get(f"{API}/export?format=datajson", headers=h).json()
    assert pod["conformsTo"].endswith("/v1.1/schema") and len(pod["dataset"]) == 2
    assert {d["accessLevel"] for d in pod["dataset"]} == {"public", "non-public"}
    xlsx = client.get(f"{API}/export?format=xlsx", headers=h).content
    rep = upload(client, world.adam, "catalog.xlsx", xlsx)  # an export re-imports unchanged
    assert rep["unchanged"] == 2 and rep["errors"] == []


def test_another_region_sees_none_of_the_catalog(client: TestClient, world: World) -> None:
    upload(client, world.adam, "data.json", as_bytes(DATAJSON))
    rid = client.get(f"{API}/records", headers=world.adam.headers).json()["items"][0]["id"]
    for outsider in (world.bella, world.charlie):
        assert client.get(f"{API}/records", headers=outsider.headers).json()["total"] == 0
        assert client.get(f"{API}/records/{rid}", headers=outsider.headers).status_code == 404
    run = audit(client, world.charlie)
    assert run["problems"] == 0 and run["datasets"] == 0


def test_a_viewer_reads_but_cannot_import_or_audit(client: TestClient, world: World) -> None:
    r = client.post(
        f"{API}/import", files={"file": ("d.json", as_bytes(DATAJSON))}, headers=world.vera.headers
    )
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    audit(client, world.vera, status=403)
    assert client.get(f"{API}/records", headers=world.vera.headers).status_code == 200


def test_bad_files_and_rules_are_problems_not_500s(client: TestClient, world: World) -> None:
    r = upload(client, world.adam, "x.json", b"{not json", status=400)
    assert r["type"] == "/problems/invalid-input"
    upload(client, world.adam, "x.json", b'{"something": 1}', status=400)
    bad = {"name": "x", "rules": {"no-such-rule": {"enabled": True}}}
    assert client.post(f"{API}/rulesets", json=bad, headers=world.adam.headers).status_code == 400
    assert client.get(f"{API}/audits/999999", headers=world.adam.headers).status_code == 404


def test_a_region_configures_its_rules(client: TestClient, world: World) -> None:
    catalog = client.get(f"{API}/rules", headers=world.vera.headers).json()
    assert all(r["explanation"] and r["fix_hint"] for r in catalog) and len(catalog) == 10
    english = client.get(f"{API}/rules?lang=en", headers=world.vera.headers).json()
    assert catalog[0]["title"] == "必填项完整性" and english[0]["title"] == "Required metadata"
    assert client.get(f"{API}/rules?lang=fr", headers=world.vera.headers).status_code == 422
    assert client.get(f"{API}/rules").status_code == 401
    upload(client, world.adam, "data.json", as_bytes(DATAJSON))
    rules = {
        "freshness": {"enabled": False},
        "contact": {"severity": "info"},
        "completeness": {"params": {"dataset_fields": ["name"]}},
    }
    rs = client.post(
        f"{API}/rulesets",
        json={"name": "宽松", "rules": rules, "is_default": True},
        headers=world.adam.headers,
    )
    assert rs.status_code == 201, rs.text
    run = audit(client, world.adam)
    assert "freshness" not in run["summary"]["by_rule"] and run["summary"]["by_rule"]["completeness"] == 0
    findings = client.get(
        f"{API}/audits/{run['id']}/findings?rule=contact", headers=world.adam.headers
    ).json()
    assert [f["severity"] for f in findings] == ["info"]


def test_duplicate_systems_are_found_and_a_verdict_survives_a_rescan(
    client: TestClient, world: World
) -> None:
    h = world.adam.headers
    apps = [
        {
            "kind": "application",
            "name": "甲区城市排水许可管理系统",
            "provider": "水务局",
            "summary": "排水许可证的申请、审批与核发",
            "items": [{"name": "许可证号"}, {"name": "排水户"}],
        },
        {
            "kind": "application",
            "name": "城市排水许可管理系统",
            "provider": "住建局",
            "summary": "排水许可证申请审批核发",
            "items": [{"name": "许可证号"}, {"name": "排水户"}],
        },
        {"kind": "application", "name": "幸福食堂订餐平台", "provider": "民政局", "summary": "老年人助餐"},
    ]
    for a in apps:
        assert client.post(f"{API}/records", json=a, headers=h).status_code == 201
    scan = client.post(f"{API}/duplicates/scan", json={"threshold": 0.5}, headers=h).json()
    assert scan["systems"] == 3 and scan["pairs"] == 1 and scan["new"] == 1
    pair = client.get(f"{API}/duplicates", headers=h).json()[0]
    assert {pair["a"]["provider"], pair["b"]["provider"]} == {"水务局", "住建局"}
    assert (
        pair["evidence"]["shared_items"] == ["排水户", "许可证号"] and not pair["evidence"]["same_provider"]
    )
    r = client.put(
        f"{API}/duplicates/{pair['id']}/verdict", json={"verdict": "duplicate", "note": "合并建设"}, headers=h
    )
    assert r.status_code == 200
    again = client.post(f"{API}/duplicates/scan", json={"threshold": 0.5}, headers=h).json()
    assert again["new"] == 0
    kept = client.get(f"{API}/duplicates?verdict=duplicate", headers=h).json()
    assert [p["note"] for p in kept] == ["合并建设"]
    assert client.get(f"{API}/duplicates", headers=world.charlie.headers).json() == []


def test_shacl_findings_come_with_the_run_and_switching_a_rule_off_fixes_nothing(
    client: TestClient, world: World
) -> None:
    upload(client, world.adam, "data.json", as_bytes(DATAJSON))
    with_shacl = audit(client, world.adam, shacl=True)
    assert with_shacl["summary"]["by_rule"]["dcat-ap-shacl"] == 1  # the empty description
    without = audit(client, world.adam)
    assert without["fixed"] == 0 and "dcat-ap-shacl" not in without["summary"]["by_rule"]


def test_rectification_cases_are_opened_later_for_the_latest_run_only(
    client: TestClient, world: World
) -> None:
    upload(client, world.adam, "data.json", as_bytes(DATAJSON))
    run = audit(client, world.adam)
    assert run["cases_opened"] == 0
    r = client.post(f"{API}/audits/{run['id']}/cases", headers=world.alice.headers)
    assert r.status_code == 200 and r.json()["cases_opened"] == 2
    again = client.post(f"{API}/audits/{run['id']}/cases", headers=world.alice.headers)
    assert again.json()["cases_opened"] == 2  # each problem gets one case
    assert client.post(f"{API}/audits/{run['id']}/cases", headers=world.vera.headers).status_code == 403
    later = audit(client, world.adam)
    assert later["cases_opened"] == 0
    stale = client.post(f"{API}/audits/{run['id']}/cases", headers=world.alice.headers)
    assert stale.status_code == 409
    assert (
        client.post(f"{API}/audits/{later['id']}/cases", headers=world.alice.headers).json()["cases_opened"]
        == 0
    )

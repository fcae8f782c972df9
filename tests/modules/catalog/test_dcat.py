"""DCAT export and its validation against the DCAT-AP 3.0.1 SHACL shapes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

from rdflib import Graph, URIRef
from rdflib.namespace import RDF

from gongzhi.modules.catalog.analytics.entry import Entry
from gongzhi.modules.catalog.io import dcat, writers

DATASET = URIRef("http://www.w3.org/ns/dcat#Dataset")
SERVICE = URIRef("http://www.w3.org/ns/dcat#DataService")
INFO = dcat.CatalogInfo("甲区政务信息资源目录", "Resource catalog", "甲区")
GOOD = Entry(
    key="ds-1",
    name="河湖水情信息",
    summary="河湖水位与流量",
    provider="水务局",
    keywords=("水务",),
    update_cycle="daily",
    share_type="unconditional",
    published=date(2024, 1, 1),
    contact_email="water@example.cn",
    distributions=({"download_url": "https://data.example.cn/water.csv", "media_type": "text/csv"},),
)
APP = Entry(
    key="app-1",
    kind="application",
    name="排水许可系统",
    summary="许可审批",
    provider="水务局",
    url="https://x.example.cn",
)


def test_a_complete_export_conforms_to_dcat_ap() -> None:
    assert dcat.shacl_findings([GOOD, APP], INFO) == []


def test_shacl_violations_come_back_as_findings_on_their_record() -> None:
    no_description = replace(GOOD, key="ds-2", summary="")
    no_access = replace(GOOD, key="ds-3", distributions=({"media_type": "text/csv"},))
    found = dcat.shacl_findings([GOOD, no_description, no_access], INFO)
    assert {(f.key, f.field) for f in found} == {("ds-2", "dct:description"), ("ds-3", "dcat:accessURL")}
    assert all(f.rule_id == "dcat-ap-shacl" and f.severity == "error" for f in found)
    description = next(f for f in found if f.field == "dct:description")
    assert description.text() == "DCAT-AP 校验未通过：缺少必备属性 dct:description"
    assert description.text("en") == "DCAT-AP validation: required property dct:description is missing"


def test_recommended_shapes_add_warnings() -> None:
    found = dcat.shacl_findings([replace(GOOD, keywords=())], INFO, recommended=True)
    assert found and {f.severity for f in found} == {"warning"}
    assert {f.message_key for f in found} == {"shacl_recommended"}
    assert "DCAT-AP 校验提示：建议填写属性 dcat:keyword" in {f.text() for f in found}


def test_json_ld_and_turtle_parse_back_to_the_same_graph() -> None:
    ld = Graph().parse(data=dcat.write_dcat([GOOD, APP], INFO, "json-ld"), format="json-ld")
    ttl = Graph().parse(data=dcat.write_dcat([GOOD, APP], INFO, "turtle"), format="turtle")
    assert len(ld) == len(ttl) > 10
    assert len(list(ttl.subjects(RDF.type, DATASET))) == 1
    assert len(list(ttl.subjects(RDF.type, SERVICE))) == 1


def test_data_json_export_follows_pod_v1_1() -> None:
    doc = json.loads(writers.write_datajson([GOOD, APP], INFO))
    assert doc["conformsTo"] == "https://project-open-data.cio.gov/v1.1/schema"
    (ds,) = doc["dataset"]
    assert (ds["accessLevel"], ds["accrualPeriodicity"], ds["modified"]) == ("public", "R/P1D", "2024-01-01")
    assert ds["distribution"][0]["downloadURL"].endswith("water.csv")


def test_an_excel_export_keeps_formula_text_inert_and_reads_back_the_same() -> None:
    from gongzhi.modules.catalog.io import readers

    entry = replace(GOOD, name='=HYPERLINK("http://x","水情")', summary="-1+1", keywords=("@水务", "河湖"))
    rows = readers.read_xlsx(writers.write_xlsx([entry]))
    assert len(rows) == 1 and not rows[0].errors
    data = rows[0].data
    assert data["name"] == entry.name and data["summary"] == "-1+1"
    assert data["keywords"] == ["@水务", "河湖"]

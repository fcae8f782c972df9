"""Open311 GeoReport v2: discovery, services, definitions, POST with api_key, GET with filters, XML and JSON,
the specification's error format; responses validated against the GeoReport v2 JSON Schemas."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.intake import service
from gongzhi.modules.intake.schemas import CategoryIn
from tests.conftest import World
from tests.modules.intake.conftest import POINT_A, Intake

SCHEMA = json.loads((Path(__file__).parent / "georeport_v2.schema.json").read_text(encoding="utf-8"))
BASE = "/open311/v2"


def check(instance: Any, definition: str) -> None:
    schema = {**SCHEMA, "$ref": f"#/$defs/{definition}"}
    errors = list(Draft202012Validator(schema).iter_errors(instance))
    assert not errors, [e.message for e in errors]


def check_list(instance: Any, definition: str) -> None:
    assert isinstance(instance, list)
    for item in instance:
        check(item, definition)


def post(client: TestClient, key: str | None, **fields: Any) -> Any:
    data = {"jurisdiction_id": "alpha", "service_code": "construction", "lat": POINT_A[0], "long": POINT_A[1]}
    data.update(fields)
    if key is not None:
        data["api_key"] = key
    return client.post(f"{BASE}/requests.json", data={k: v for k, v in data.items() if v is not None})


def test_discovery_is_served_in_xml_and_json(client: TestClient, intake: Intake) -> None:
    j = client.get(f"{BASE}/discovery.json")
    assert j.status_code == 200 and j.headers["content-type"] == "application/json"
    check(j.json(), "Discovery")
    x = client.get(f"{BASE}/discovery.xml")
    assert x.headers["content-type"] == "text/xml"
    root = ET.fromstring(x.content)
    assert root.tag == "discovery" and root.find("endpoints/endpoint/formats/format") is not None


def test_services_list_the_regions_category_tree(client: TestClient, intake: Intake) -> None:
    services = client.get(f"{BASE}/services.json?jurisdiction_id=alpha").json()
    check_list(services, "Service")
    assert {"construction", "environment", "transport"} <= {s["service_code"] for s in services}
    xml = ET.fromstring(client.get(f"{BASE}/services.xml?jurisdiction_id=alpha").content)
    assert xml.tag == "services" and len(xml.findall("service")) == len(services)
    metadata = xml.find("service/metadata")
    assert metadata is not None and metadata.text in ("true", "false")


def test_a_service_definition_lists_its_attributes(
    client: TestClient, intake: Intake, factory: sessionmaker[Session], world: World
) -> None:
    with unit_of_work(factory, Scope(region_id=world.a, role="admin", username="adam")) as s:
        attr = {
            "code": "WHERE",
            "datatype": "singlevaluelist",
            "required": True,
            "description": "位置类型",
            "values": [{"key": "road", "name": "道路"}, {"key": "estate", "name": "小区"}],
        }
        service.upsert_category(
            s, CategoryIn(code="manhole", name="井盖", parent_code="construction", attributes=[attr])
        )
    svc = next(
        x
        for x in client.get(f"{BASE}/services.json?jurisdiction_id=alpha").json()
        if x["service_code"] == "manhole"
    )
    assert svc["metadata"] is True and svc["group"] == "城乡建设"
    definition = client.get(f"{BASE}/services/manhole.json?jurisdiction_id=alpha").json()
    check(definition, "ServiceDefinition")
    assert definition["attributes"][0]["values"][1] == {"key": "estate", "name": "小区"}
    missing = post(client, intake.api_key, service_code="manhole")
    assert missing.status_code == 400 and "WHERE" in missing.json()[0]["description"]
    wrong = post(client, intake.api_key, service_code="manhole", **{"attribute[WHERE]": "sky"})
    assert wrong.status_code == 400
    ok = post(client, intake.api_key, service_code="manhole", **{"attribute[WHERE]": "road"})
    assert ok.status_code == 201, ok.text


def test_errors_use_the_specification_format(client: TestClient, intake: Intake) -> None:
    cases = [
        (post(client, None), 403),
        (post(client, "o311_bogus_key"), 403),
        (post(client, intake.c_api_key), 403),  # a key of another jurisdiction
        (post(client, intake.api_key, jurisdiction_id="nowhere"), 404),
        (post(client, intake.api_key, service_code="no-such"), 404),
        (post(client, intake.api_key, lat=None, long=None), 400),
        (post(client, intake.api_key, description="长" * 4001), 400),
        (post(client, intake.api_key, lat="north"), 400),
        (client.get(f"{BASE}/requests/NOPE.json?jurisdiction_id=alpha"), 404),
        (client.get(f"{BASE}/tokens/nope.json?jurisdiction_id=alpha"), 404),
        (client.get(f"{BASE}/services.json"), 400),  # several jurisdictions: jurisdiction_id is required
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        check_list(response.json(), "Error")
        assert response.json()[0]["code"] == status
    xml = client.get(f"{BASE}/requests/NOPE.xml?jurisdiction_id=alpha")
    root = ET.fromstring(xml.content)
    code = root.find("error/code")
    assert root.tag == "errors" and code is not None and code.text == "404"


def test_a_posted_request_is_a_case_readable_by_id_and_by_token(
    client: TestClient, intake: Intake, world: World
) -> None:
    r = post(
        client,
        intake.api_key,
        description="湖墅南路与长庆街交叉口井盖缺失，夜间很危险",
        first_name="伟",
        last_name="张",
        phone="13812345678",
        email="zw@example.com",
    )
    assert r.status_code == 201, r.text
    check_list(r.json(), "RequestResponse")
    rid, token = r.json()[0]["service_request_id"], r.json()[0]["token"]
    assert isinstance(rid, str) and rid.startswith("AA")
    got = client.get(f"{BASE}/requests/{rid}.json?jurisdiction_id=alpha").json()
    check_list(got, "Request")
    req = got[0]
    assert req["status"] == "open" and req["service_code"] == "construction"
    assert req["agency_responsible"] == "住房和城乡建设局" and req["lat"] == pytest.approx(POINT_A[0])
    assert datetime.fromisoformat(req["requested_datetime"].replace("Z", "+00:00")).tzinfo is not None
    assert "13812345678" not in json.dumps(got, ensure_ascii=False) and "张" not in json.dumps(
        got, ensure_ascii=False
    )
    assert client.get(f"{BASE}/request/{rid}.json?jurisdiction_id=alpha").json() == got  # the Swagger's path
    tok = client.get(f"{BASE}/tokens/{token}.json?jurisdiction_id=alpha").json()
    check_list(tok, "TokenResponse")
    assert tok == [{"service_request_id": rid, "token": token}]
    staff = client.get("/api/v1/cases", params={"q": rid}, headers=world.alice.headers).json()
    assert staff["total"] == 1 and staff["items"][0]["reporter_phone"] == "13812345678"
    xml = ET.fromstring(client.get(f"{BASE}/requests/{rid}.xml?jurisdiction_id=alpha").content)
    request_id = xml.find("request/service_request_id")
    assert xml.tag == "service_requests" and request_id is not None and request_id.text == rid


def test_get_requests_honours_every_filter(client: TestClient, intake: Intake, world: World) -> None:
    ids = []
    for code, text in [
        ("construction", "小区电梯坏了三天"),
        ("transport", "公交站台顶棚破损"),
        ("environment", "夜间工地噪音扰民"),
    ]:
        r = post(client, intake.api_key, service_code=code, description=text)
        ids.append(r.json()[0]["service_request_id"])
    q = f"{BASE}/requests.json?jurisdiction_id=alpha"
    everything = client.get(q).json()
    check_list(everything, "Request")
    assert set(ids) <= {x["service_request_id"] for x in everything}
    assert {x["service_code"] for x in client.get(q + "&service_code=transport,environment").json()} == {
        "transport",
        "environment",
    }
    by_id = client.get(q + f"&service_request_id={ids[0]},{ids[2]}&service_code=transport").json()
    assert {x["service_request_id"] for x in by_id} == {ids[0], ids[2]}  # ids override the other filters
    assert client.get(q + "&status=closed").json() == []
    assert len(client.get(q + "&status=open").json()) >= 3
    assert client.get(q + "&start_date=2000-01-01T00:00:00Z&end_date=2000-02-01T00:00:00Z").json() == []
    assert client.get(q + "&start_date=2000-01-01T00:00:00Z&end_date=2000-06-01T00:00:00Z").status_code == 400
    assert client.get(q + "&start_date=2026-01-01").status_code == 400  # no time zone
    assert client.get(q + "&status=pending").status_code == 400
    page = client.get(q + "&page=1&page_size=2").json()
    assert len(page) == 2
    outsider = client.get(f"{BASE}/requests.json?jurisdiction_id=gamma").json()
    assert not set(ids) & {x["service_request_id"] for x in outsider}

"""A real third-party Open311 client (``georeport`` on PyPI) against a real server on the loopback address."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from georeport import GeoReport
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.app import create_app
from gongzhi.settings import Settings
from tests.modules.intake.conftest import POINT_A, Intake


@pytest.fixture
def live_url(settings: Settings, factory: sessionmaker[Session], intake: Intake) -> Iterator[str]:
    config = uvicorn.Config(
        create_app(settings, factory), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/open311/v2"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_georeport_client_reads_what_was_posted(live_url: str, intake: Intake) -> None:
    posted = httpx.post(
        f"{live_url}/requests.json",
        data={
            "api_key": intake.api_key,
            "jurisdiction_id": "alpha",
            "service_code": "environment",
            "lat": POINT_A[0],
            "long": POINT_A[1],
            "description": "小河路搅拌站粉尘很大，晚上还有噪音",
        },
        timeout=60,
    )
    assert posted.status_code == 201, posted.text
    rid = posted.json()[0]["service_request_id"]
    for fmt in ("json", "xml"):
        client = GeoReport(live_url, jurisdiction="alpha", output_format=fmt)
        services = client.get_service_list()
        assert "environment" in {s["service_code"] for s in services}
        requests = client.get_service_requests(service_code="environment", status="open")
        listed = (
            requests if isinstance(requests, list) else [requests]
        )  # xmltodict returns a dict for one item
        assert rid in {r["service_request_id"] for r in listed}
        one = client.get_service_request(rid)
        assert one["service_request_id"] == rid and one["status"] == "open"
        assert one["service_code"] == "environment"
    definition = GeoReport(live_url, jurisdiction="alpha").get_service_definition("environment")
    assert definition == {"service_code": "environment", "attributes": []}

"""One-click inspection over HTTP and from the console, on the machine's Mosquitto with the dock simulator:
docks registered and listed by admins, the flight started by a dispatcher, its progress on the plant page,
and every bad request (viewer, unknown plant, wrong dock, a flight in progress, an unreachable dock) answered
with a clear problem, never a 500."""

from __future__ import annotations

import socket
from pathlib import Path

from fastapi.testclient import TestClient

from gongzhi.modules.pv import dock
from gongzhi.registry import Registry
from tests.conftest import World
from tests.web.helpers import as_user, new_case

from ._dock import Factory, docked_plant, flying, inspection, run_until, store_at
from ._mqtt import machine_broker

PV = "/api/v1/pv"
PROBLEM = "application/problem+json"


def test_docks_are_registered_by_admins_and_listed(
    client: TestClient, world: World, factory: Factory
) -> None:
    plant = docked_plant(factory, world, machine_broker(), with_dock=False)
    url = f"{PV}/plants/{plant.plant_id}/docks"
    body = {"sn": plant.sn, "camera": "M30T"}
    assert client.post(url, json=body, headers=world.alice.headers).status_code == 403
    r = client.post(url, json=body, headers=world.adam.headers)
    assert r.status_code == 201, r.text
    assert r.json()["sn"] == plant.sn and r.json()["camera"] == "M30T"
    again = client.post(url, json={"sn": "OTHER"}, headers=world.adam.headers)
    assert again.status_code == 400 and "already has a dock" in again.text
    bad = client.post(f"{PV}/plants/{plant.plant_id}/docks", json={"sn": "a b"}, headers=world.adam.headers)
    assert bad.status_code == 422
    listed = client.get(url, headers=world.vera.headers).json()
    assert [d["sn"] for d in listed] == [plant.sn]
    assert client.get(f"{PV}/plants/987654/docks", headers=world.vera.headers).status_code == 404


def test_one_click_over_http_starts_the_flight_and_refuses_bad_requests(
    client: TestClient, world: World, factory: Factory, registry: Registry, tmp_path: Path
) -> None:
    broker = machine_broker()
    plant = docked_plant(factory, world, broker)
    url = f"{PV}/plants/{plant.plant_id}/one-click"
    assert client.post(url, json={}, headers=world.vera.headers).status_code == 403
    r = client.post(f"{PV}/plants/987654/one-click", json={}, headers=world.alice.headers)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    r = client.post(url, json={"dock": "NOT-MINE"}, headers=world.alice.headers)
    assert r.status_code == 400 and "is not the dock of plant" in r.text
    r = client.post(url, json={"irradiance_w_m2": -5}, headers=world.alice.headers)
    assert r.status_code == 422
    r = client.post(url, json={"gimbal_pitch_deg": -10}, headers=world.alice.headers)  # looking at the sky
    assert r.status_code == 422 and "gimbal_pitch_deg" in r.text
    r = client.post(url, json={"classifier": "network"}, headers=world.alice.headers)
    assert r.status_code == 422 and "classifier" in r.text
    with flying(factory, registry, store_at(tmp_path), plant, broker) as (_sim, lis):
        r = client.post(
            url,
            json={"dock": plant.sn, "irradiance_w_m2": 820, "wind_m_s": 3, "classifier": "learned"},
            headers=world.alice.headers,
        )
        assert r.status_code == 202, r.text
        started = r.json()
        assert started["status"] == "queued" and started["dock"] == plant.sn and started["images"] > 0
        busy = client.post(url, json={}, headers=world.alice.headers)
        assert busy.status_code == 409 and "dock flight in progress" in busy.text
        iid = started["inspection_id"]
        done = run_until(lis, factory, iid, lambda row: row.status in ("done", "failed"))
    assert done.status == "done", done.error
    assert done.irradiance_w_m2 == 820 and done.wind_m_s == 3 and done.classifier == "learned"


def test_a_dock_that_cannot_be_reached_gives_504_and_a_failed_inspection(
    client: TestClient, world: World, factory: Factory
) -> None:
    nowhere = dock_nowhere(factory, world)
    r = client.post(f"{PV}/plants/{nowhere}/one-click", json={}, headers=world.alice.headers)
    assert r.status_code == 504 and r.headers["content-type"] == PROBLEM
    assert "not reachable" in r.json()["detail"]
    listed = client.get(f"{PV}/inspections?plant_id={nowhere}", headers=world.alice.headers).json()
    items = listed["items"] if isinstance(listed, dict) else listed
    assert [i["status"] for i in items] == ["failed"]
    # the console says why in its reader's language: the dock, then the broker's own words
    page = as_user(client, world.alice)[0].get(f"/pv/inspections/{items[0]['id']}")
    assert "飞行失败" in page.text and "分析失败" not in page.text  # the flight failed, not the analysis
    assert "机场 DOCK-" in page.text and "not reachable" in page.text


def dock_nowhere(factory: Factory, world: World) -> int:
    """A plant whose dock's broker is a port nobody listens on."""
    from gongzhi.modules.pv import mqtt as pvmqtt

    # bound and never listening, and held for the session: no other process can take the port
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    _HELD.append(held)
    plant = docked_plant(factory, world, pvmqtt.Broker("127.0.0.1", int(held.getsockname()[1])))
    return plant.plant_id


_HELD: list[socket.socket] = []


def test_the_plant_page_starts_a_flight_and_shows_its_progress(
    client: TestClient, world: World, factory: Factory, registry: Registry, tmp_path: Path
) -> None:
    broker = machine_broker()
    plant = docked_plant(factory, world, broker)
    vera, _ = as_user(client, world.vera)
    page = vera.get(f"/pv/plants/{plant.plant_id}")
    assert page.status_code == 200 and plant.sn in page.text and "/one-click" not in page.text
    alice, csrf = as_user(client, world.alice)
    page = alice.get(f"/pv/plants/{plant.plant_id}")
    assert f'action="/pv/plants/{plant.plant_id}/one-click"' in page.text
    assert 'name="gimbal_pitch"' in page.text and "倾斜" in page.text  # the camera straight down or oblique
    r = alice.post(f"/pv/plants/{plant.plant_id}/one-click", data={"csrf_token": csrf, "gimbal_pitch": "-10"})
    assert r.status_code == 400 and "-10 超出 -90 … -30 的范围" in r.text, r.text[-500:]  # no flight queued
    assert 'id="oc-cls"' in page.text  # the rules alone, or renamed by the crop network
    r = alice.post(
        f"/pv/plants/{plant.plant_id}/one-click", data={"csrf_token": csrf, "classifier": "network"}
    )
    assert r.status_code == 400 and "network" in r.text and "learned" in r.text
    assert 'id="oc-conf"' in page.text and 'placeholder="0.8"' in page.text
    r = alice.post(
        f"/pv/plants/{plant.plant_id}/one-click",
        data={"csrf_token": csrf, "classifier": "learned", "min_confidence": "2"},
    )
    assert r.status_code == 400 and "2 超出 0 … 1 的范围" in r.text, r.text[-500:]
    with flying(factory, registry, store_at(tmp_path), plant, broker) as (_sim, lis):
        r = alice.post(
            f"/pv/plants/{plant.plant_id}/one-click",
            data={
                "csrf_token": csrf,
                "irradiance": "850",
                "wind": "",
                "classifier": "learned",
                "min_confidence": "0.9",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        page = alice.get(f"/pv/plants/{plant.plant_id}")
        assert 'hx-trigger="every 3s"' in page.text and "/one-click" not in page.text  # one flight at a time
        iid = int(page.text.split('id="dock-flight"')[1].split("/pv/inspections/")[1].split('"')[0])
        run_until(lis, factory, iid, lambda row: row.status == "running" and row.frames_done > 0)
        part = alice.get(f"/pv/plants/{plant.plant_id}/flight")
        assert part.status_code == 200 and f"#{iid}" in part.text and "<progress" in part.text
        phase = part.text.split("阶段: ")[1].split(" ·")[0] if "阶段: " in part.text else part.text
        assert phase in ("起飞中", "巡检中", "返航中", "已降落"), phase  # in words, not a code
        done = run_until(lis, factory, iid, lambda row: row.status in ("done", "failed"))
    assert done.status == "done" and inspection(factory, iid).irradiance_w_m2 == 850
    assert (done.classifier, done.min_confidence) == ("learned", 0.9)
    part = alice.get(f"/pv/plants/{plant.plant_id}/flight")
    assert "every 3s" not in part.text and f"#{iid}" in part.text  # polling stops once the flight is over
    charlie, csrf_c = as_user(client, world.charlie)
    assert charlie.get(f"/pv/plants/{plant.plant_id}/flight").status_code == 404
    r = charlie.post(f"/pv/plants/{plant.plant_id}/one-click", data={"csrf_token": csrf_c})
    assert r.status_code == 404
    bad = alice.post(f"/pv/plants/{dock_nowhere(factory, world)}/one-click", data={"csrf_token": csrf})
    assert bad.status_code == 504


def test_the_module_exposes_the_dock_error_statuses() -> None:
    assert dock.DockError.status == 409 and dock.DockUnreachable.status == 504


def test_a_reinspection_is_only_flown_for_a_cleaning_case(client: TestClient, world: World) -> None:
    case = new_case(client, world.alice)
    url = f"{PV}/cases/{case['id']}/reinspection"
    assert client.post(url, json={}, headers=world.vera.headers).status_code == 403
    r = client.post(url, json={}, headers=world.alice.headers)
    assert r.status_code == 404 and "has no cleaning order" in r.text
    r = client.post(f"{PV}/cases/{case['id']}/verify-cleaning", json={}, headers=world.alice.headers)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    alice, csrf = as_user(client, world.alice)
    for action in ("reinspect", "verify"):
        r = alice.post(f"/pv/cases/{case['id']}/{action}", data={"csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 404, r.text
    charlie, csrf_c = as_user(client, world.charlie)
    r = charlie.post(f"/pv/cases/{case['id']}/reinspect", data={"csrf_token": csrf_c}, follow_redirects=False)
    assert r.status_code == 404

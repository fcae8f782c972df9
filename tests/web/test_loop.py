"""The co-governance loop driven through the console's forms, as the browser test does, on both backends."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import World
from tests.web.helpers import POINT, act, as_user, csrf_of, new_case, png_bytes


def state(client: TestClient, world: World, cid: int) -> str:
    r = client.get(f"/api/v1/cases/{cid}", headers=world.alice.headers)
    return str(r.json()["state"])


def test_the_whole_loop_through_the_console(client: TestClient, world: World) -> None:
    cid = new_case(client, world.alice)["id"]
    alice, a_csrf = as_user(client, world.alice)
    bob, b_csrf = as_user(client, world.bob)
    dana, d_csrf = as_user(client, world.dana)

    assert act(alice, a_csrf, cid, "dispatch", actor_id=world.roads_actor).status_code == 303
    assert act(bob, b_csrf, cid, "claim").status_code == 303
    r = act(bob, b_csrf, cid, "return", reason="unclear_ownership", note="不是道路问题")
    assert r.status_code == 303 and state(client, world, cid) == "returned"
    refused = act(alice, a_csrf, cid, "dispatch", actor_id=world.roads_actor)
    assert refused.status_code == 400  # the same actor again needs a final ruling
    act(alice, a_csrf, cid, "dispatch", actor_id=world.roads_actor, final="true", note="终审")
    act(bob, b_csrf, cid, "claim")
    r = bob.post(
        f"/cases/{cid}/act/resolve",
        data={"csrf_token": b_csrf, "note": "已补装井盖"},
        files={"photos": ("after.png", png_bytes(), "image/png")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and state(client, world, cid) == "resolved"
    act(dana, d_csrf, cid, "verify", passed="yes", note="现场核查属实")
    act(alice, a_csrf, cid, "close")
    act(alice, a_csrf, cid, "follow_up", rating="5", satisfied="yes")
    assert state(client, world, cid) == "closed"

    page = alice.get(f"/cases/{cid}").text
    assert "已办结" in page and "回访评价" in page and "终审" in page and "权属不清" in page
    assert 'alt="after.png"' in page
    steps = [
        e["action"] for e in client.get(f"/api/v1/cases/{cid}/timeline", headers=world.alice.headers).json()
    ]
    assert steps == [
        "create", "accept", "dispatch", "claim", "return", "dispatch", "claim", "resolve", "verify", "close",
        "follow_up",
    ]  # fmt: skip


def test_a_success_is_announced_on_the_next_page(client: TestClient, world: World) -> None:
    cid = new_case(client, world.alice)["id"]
    alice, csrf = as_user(client, world.alice)
    page = alice.post(f"/cases/{cid}/act/dispatch", data={"csrf_token": csrf, "actor_id": world.roads_actor})
    assert page.status_code == 200 and 'class="toast toast-ok"' in page.text and "已派单" in page.text
    assert "toast-ok" not in alice.get(f"/cases/{cid}").text  # shown once


def test_a_case_is_created_from_the_form(client: TestClient, world: World) -> None:
    alice, csrf = as_user(client, world.alice)
    form = {"csrf_token": csrf, "title": "路灯不亮", "category": "road", "priority": "high"}
    form.update(lon="120.141", lat="30.312", accept="true")
    page = alice.post("/cases/new", data=form)
    assert page.status_code == 200 and "路灯不亮" in page.text and "已受理" in page.text
    assert 'action="/cases/' in page.text and "/act/dispatch" in page.text


def test_alerts_are_acknowledged_merged_and_converted(client: TestClient, world: World) -> None:
    ids = []
    for i in range(3):
        body: dict[str, object] = {
            "kind": "roadcam",
            "title": f"占道经营 {i}",
            "source": "cam",
            "dedup_key": f"k{i}",
        }
        body["location"] = POINT
        ids.append(client.post("/api/v1/alerts", json=body, headers=world.alice.headers).json()["id"])
    alice, csrf = as_user(client, world.alice)
    detail = alice.get(f"/alerts/{ids[0]}").text
    assert "相关页面" not in detail  # no module names pages of its own for an alert raised by hand
    assert f'action="/alerts/{ids[0]}/acknowledge"' in detail
    alice.post(f"/alerts/{ids[0]}/acknowledge", data={"csrf_token": csrf})
    merged = alice.post(f"/alerts/{ids[0]}/merge", data={"csrf_token": csrf, "alert_ids": [str(ids[1])]})
    assert "预警已合并" in merged.text
    converted = alice.post(
        "/alerts/convert",
        data={"csrf_token": csrf, "alert_ids": [str(ids[0]), str(ids[2])], "category": "road"},
    )
    assert converted.status_code == 200 and "已由预警生成工单" in converted.text
    assert "占道经营" in converted.text
    vera, _ = as_user(client, world.vera)
    live = client.post(
        "/api/v1/alerts",
        json={"kind": "noise", "title": "噪声", "source": "s", "dedup_key": "n1"},
        headers=world.alice.headers,
    ).json()
    assert "您的角色可查看此预警" in vera.get(f"/alerts/{live['id']}").text
    assert "已处置完毕" in vera.get(f"/alerts/{ids[1]}").text


def test_evidence_is_uploaded_on_its_own(client: TestClient, world: World) -> None:
    cid = new_case(client, world.alice)["id"]
    alice, csrf = as_user(client, world.alice)
    r = alice.post(
        f"/cases/{cid}/files",
        data={"csrf_token": csrf},
        files={"photos": ("site.png", png_bytes(), "image/png")},
    )
    assert r.status_code == 200 and 'alt="site.png"' in r.text
    bad = alice.post(
        f"/cases/{cid}/files",
        data={"csrf_token": csrf},
        files={"photos": ("fake.png", b"not a png at all", "image/png")},
    )
    assert bad.status_code == 400 and "文件被拒收" in bad.text


def test_grid_cells_are_uploaded_as_geojson(client: TestClient, world: World) -> None:
    adam, csrf = as_user(client, world.adam)
    ring = [[120.2, 30.2], [120.21, 30.2], [120.21, 30.21], [120.2, 30.21], [120.2, 30.2]]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "A-99", "name": "新网格"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    import json

    r = adam.post(
        "/admin/grid",
        data={"csrf_token": csrf},
        files={"file": ("cells.geojson", json.dumps(doc).encode(), "application/geo+json")},
    )
    assert r.status_code == 200 and "新网格" in r.text and "已保存 1 个网格" in r.text
    bad = adam.post(
        "/admin/grid", data={"csrf_token": csrf}, files={"file": ("x.geojson", b"{nope", "application/json")}
    )
    assert bad.status_code == 400
    alice, a_csrf = as_user(client, world.alice)
    refused = alice.post(
        "/admin/grid",
        data={"csrf_token": a_csrf},
        files={"file": ("cells.geojson", json.dumps(doc).encode(), "application/json")},
    )
    assert refused.status_code == 403


def test_admin_forms_reach_the_services(client: TestClient, world: World) -> None:
    adam, csrf = as_user(client, world.adam)
    r = adam.post("/admin/departments", data={"csrf_token": csrf, "code": "water", "name": "水利科"})
    assert "水利科" in r.text
    sla = {"csrf_token": csrf, "category": "road", "priority": "urgent", "claim_amount": "1"}
    sla.update(claim_unit="hours", resolve_amount="2", resolve_unit="working_days")
    assert "时限已保存" in adam.post("/admin/sla", data=sla).text
    rule = {"csrf_token": csrf, "actor_id": str(world.parks_actor), "position": "5", "category": "tree"}
    assert "派单规则已添加" in adam.post("/admin/dispatch/rules", data=rule).text
    user = {"csrf_token": csrf, "username": "gina", "display_name": "网格员吉娜", "password": "long-enough-1"}
    user.update(role="handler")
    assert "网格员吉娜" in adam.post("/admin/users", data=user).text
    audit = adam.get("/admin/audit").text
    assert "完整" in audit
    assert csrf_of(audit)

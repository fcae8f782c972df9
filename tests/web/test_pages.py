"""The console's pages: login, every page in both languages, role-aware actions, scoping, errors."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World
from tests.web.helpers import (
    POINT,
    act,
    as_user,
    forms_on,
    login,
    login_with_password,
    new_case,
    no_stack_trace,
)

PAGES = [
    "/",
    "/?days=30",
    "/?wall=1",
    "/alerts",
    "/cases",
    "/cases?view=overdue",
    "/cases?state=dispatched&priority=high&overdue=1&q=井&sort=claim_due",
    "/cases/board",
    "/cases/board?more=1",
    "/cases/new",
    "/admin/regions",
    "/admin/departments",
    "/admin/grid",
    "/admin/users",
    "/admin/sla",
    "/admin/dispatch",
    "/admin/audit",
    "/catalog",
    "/catalog/rules",
    "/catalog/audits",
    "/catalog/duplicates",
    "/catalog/reuse",
    "/catalog/reuse/ledger",
    "/catalog/library",
]


def test_an_anonymous_visitor_is_sent_to_the_login_page(client: TestClient) -> None:
    r = client.get("/cases", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/cases"
    htmx = client.get("/cases", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/login")
    page = client.get("/login")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text and "登录" in page.text


def test_a_wrong_password_shows_the_form_again_with_a_message(client: TestClient, world: World) -> None:
    r = client.post("/login", data={"username": "alice", "password": "nope"})
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text and 'value="alice"' in r.text
    assert "gz_session" not in r.cookies


def test_login_never_redirects_off_site(client: TestClient, world: World) -> None:
    r = client.post(
        "/login",
        data={"username": "alice", "password": "correct horse battery", "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_page_renders_for_an_admin_in_both_languages(
    client: TestClient, world: World, lang: str
) -> None:
    login(client, world.adam, lang)
    case = new_case(client, world.alice)
    alert = client.post(
        "/api/v1/alerts",
        json={"kind": "pv_hotspot", "title": "热斑", "source": "t", "dedup_key": "k1", "location": POINT},
        headers=world.alice.headers,
    ).json()
    for path in [*PAGES, f"/cases/{case['id']}", f"/alerts/{alert['id']}"]:
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert f'<html lang="{lang.replace("_", "-")}"' in r.text
        no_stack_trace(r.text)
    english = client.get("/").text
    assert ("Overview" in english) == (lang == "en")
    assert ("态势总览" in english) == (lang == "zh_CN")


def test_the_language_switch_sets_a_cookie_and_comes_back(client: TestClient, world: World) -> None:
    login(client, world.alice)
    r = client.get("/lang/en?next=/cases", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/cases"
    assert "Cases" in client.get("/cases").text


def test_navigation_follows_the_role(client: TestClient, world: World) -> None:
    login(client, world.vera)
    page = client.get("/").text
    assert 'href="/admin"' not in page and 'href="/cases/new"' not in page
    assert client.get("/admin/users").status_code == 403
    assert client.get("/cases/new").status_code == 403  # not a form it could send
    admin, _ = as_user(client, world.adam)
    assert 'href="/admin"' in admin.get("/").text


def test_a_handler_sees_only_the_actions_their_role_allows(client: TestClient, world: World) -> None:
    cid = new_case(client, world.alice)["id"]
    alice, alice_csrf = as_user(client, world.alice)
    assert forms_on(alice.get(f"/cases/{cid}").text) >= {"dispatch", "comment"}
    assert act(alice, alice_csrf, cid, "dispatch", actor_id=world.roads_actor).status_code == 303
    bob, _ = as_user(client, world.bob)
    assert forms_on(bob.get(f"/cases/{cid}").text) == {"claim", "return", "comment"}
    pete, _ = as_user(client, world.pete)  # a handler of another department
    assert forms_on(pete.get(f"/cases/{cid}").text) == {"comment"}
    vera, _ = as_user(client, world.vera)
    assert forms_on(vera.get(f"/cases/{cid}").text) == set()


def test_an_outsider_sees_nothing_of_another_region(client: TestClient, world: World) -> None:
    case = new_case(client, world.alice, title="甲区专属工单")
    charlie, _ = as_user(client, world.charlie)
    r = charlie.get(f"/cases/{case['id']}")
    assert r.status_code == 404 and "未找到" in r.text
    no_stack_trace(r.text)
    assert case["number"] not in charlie.get("/cases").text
    assert "甲区专属工单" not in charlie.get("/cases/board").text
    summary = charlie.get("/").text
    assert re.search(r'kpi-value">0<', summary)
    assert charlie.get(f"/api/v1/cases/{case['id']}/files/{'0' * 64}").status_code == 404


def test_writes_need_the_csrf_token(client: TestClient, world: World) -> None:
    cid = new_case(client, world.alice)["id"]
    login(client, world.alice)
    r = client.post(f"/cases/{cid}/act/dispatch", data={"actor_id": world.roads_actor})
    assert r.status_code == 403 and "CSRF" in r.text
    assert client.get(f"/api/v1/cases/{cid}", headers=world.alice.headers).json()["state"] == "accepted"


def test_a_stale_form_is_refused_and_said_so(client: TestClient, world: World) -> None:
    case = new_case(client, world.alice)
    csrf = login(client, world.alice)
    ok = act(client, csrf, case["id"], "dispatch", actor_id=world.roads_actor, version=case["version"])
    assert ok.status_code == 303
    stale = act(client, csrf, case["id"], "dispatch", actor_id=world.parks_actor, version=case["version"])
    assert stale.status_code == 409 and "刷新" in stale.text


@pytest.mark.parametrize(
    ("path", "form", "status"),
    [
        ("/cases/{cid}/act/follow_up", {"rating": "9", "satisfied": "yes"}, 400),
        ("/cases/{cid}/act/close", {}, 409),
        ("/cases/{cid}/act/teleport", {}, 422),
        ("/cases/{cid}/act/dispatch", {"actor_id": "999999"}, 404),
        ("/cases/{cid}/act/dispatch", {"version": "abc"}, 422),
        ("/cases/{cid}/act/request_extension", {"until": "not a date"}, 400),
        ("/cases/new", {"title": "", "category": ""}, 400),
        ("/cases/new", {"title": "x", "category": "road", "lon": "east", "lat": "1"}, 400),
        ("/alerts/999999/dismiss", {"reason": "x"}, 404),
        ("/admin/departments", {"code": "a b", "name": "x"}, 400),
    ],
)
def test_bad_input_gets_an_error_page_never_a_stack_trace(
    client: TestClient, world: World, path: str, form: dict[str, str], status: int
) -> None:
    cid = new_case(client, world.alice)["id"]
    csrf = login(client, world.adam if path.startswith("/admin") else world.alice)
    r = client.post(path.format(cid=cid), data={"csrf_token": csrf, **form})
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("text/html")
    no_stack_trace(r.text)


def test_htmx_errors_come_back_as_a_toast(client: TestClient, world: World) -> None:
    cid = new_case(client, world.alice)["id"]
    csrf = login(client, world.alice)
    r = client.post(f"/cases/{cid}/act/close", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert r.status_code == 409
    assert r.headers["hx-retarget"] == "#toasts" and r.headers["hx-reswap"] == "beforeend"
    assert 'class="toast toast-error"' in r.text and "当前状态下不能执行此操作" in r.text


def test_an_unexpected_failure_is_a_plain_error_page(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gongzhi.cases import stats

    def boom(*_: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(stats, "counts_by_state", boom)
    quiet = TestClient(client.app, raise_server_exceptions=False)
    login(quiet, world.alice)
    r = quiet.get("/")
    assert r.status_code == 500 and "系统出错" in r.text
    assert "secret internals" not in r.text
    no_stack_trace(r.text)


def test_the_api_still_answers_problem_json(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/cases/999999", headers=world.alice.headers)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/cases").status_code == 401


def test_pages_carry_security_headers(client: TestClient, world: World) -> None:
    login(client, world.alice)
    r = client.get("/")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_user_of_two_regions_switches_between_them(
    client: TestClient, world: World, factory: object
) -> None:
    from gongzhi.core import service as core
    from gongzhi.db import Scope, unit_of_work

    with unit_of_work(factory, Scope(region_id=world.b, system=True)) as s:  # type: ignore[arg-type]
        core.create_user(s, "alice", "Alice", "unused-password", "viewer", region_id=world.b)
    csrf = login_with_password(client, world.alice)
    page = client.get("/").text
    assert 'id="region-select"' in page and "乙县" in page
    r = client.post("/region", data={"csrf_token": csrf, "region_id": str(world.b)})
    assert r.status_code == 200 and "已切换到 乙县" in r.text
    assert '<span class="badge role">观察员</span>' in r.text
    assert client.post("/region", data={"csrf_token": csrf, "region_id": str(world.c)}).status_code == 403


def test_saved_views_are_kept_per_browser(client: TestClient, world: World) -> None:
    csrf = login(client, world.alice)
    r = client.post(
        "/cases/views",
        data={"csrf_token": csrf, "name": "紧急道路", "query": "priority=urgent&state=dispatched"},
    )
    assert r.status_code == 200 and "紧急道路" in r.text
    listing = client.get("/cases?view=u0").text
    assert 'aria-current="page">紧急道路' in listing and 'value="urgent" selected' in listing
    r = client.post("/cases/views/delete", data={"csrf_token": csrf, "key": "u0"})
    assert "紧急道路" not in r.text


def test_the_export_links_carry_the_filters_to_the_api(client: TestClient, world: World) -> None:
    new_case(client, world.alice, title="导出测试")
    login(client, world.alice)
    page = client.get("/cases?state=accepted&q=导出").text
    href = re.search(r'href="(/api/v1/cases/export\.csv\?[^"]+)"', page)
    assert href is not None
    csv = client.get(href.group(1).replace("&amp;", "&"))
    assert csv.status_code == 200 and "导出测试" in csv.content.decode("utf-8-sig")


def test_a_case_filed_under_an_intake_category_shows_its_name_not_its_code(
    client: TestClient, world: World
) -> None:
    cid = new_case(client, world.alice, title="农田灌溉渠堵塞", category="agriculture")["id"]
    login(client, world.alice)
    listing = client.get("/cases?q=农田灌溉").text
    assert "农村农业" in listing and ">agriculture<" not in listing
    assert "农村农业" in client.get(f"/cases/{cid}").text
    en, _ = as_user(client, world.alice, "en")
    assert "Agriculture and rural affairs" in en.get(f"/cases/{cid}").text


def test_an_alert_shows_the_name_of_its_kind_not_its_code(client: TestClient, world: World) -> None:
    body = {"kind": "pv.soiling", "title": "A-05-35", "source": "t", "dedup_key": "kind1", "location": POINT}
    alert = client.post("/api/v1/alerts", json=body, headers=world.alice.headers).json()
    login(client, world.alice)
    listing = client.get("/alerts").text
    assert (
        '<td data-label="类型">积灰污渍</td>' in listing and '<option value="pv.soiling">积灰污渍' in listing
    )
    assert "积灰污渍" in client.get(f"/alerts/{alert['id']}").text
    en, _ = as_user(client, world.alice, "en")
    assert ">Soiling</td>" in en.get("/alerts").text


def test_each_admin_section_has_its_own_page_title(client: TestClient, world: World) -> None:
    login(client, world.adam)
    assert "<title>用户与角色 · 系统管理 · " in client.get("/admin/users").text
    en, _ = as_user(client, world.adam, "en")
    assert "<title>Audit chain · Administration · " in en.get("/admin/audit").text


def test_the_timeline_names_people_by_their_display_name_and_the_public_in_words(
    client: TestClient, world: World
) -> None:
    cid = new_case(client, world.alice)["id"]
    login(client, world.alice)
    page = client.get(f"/cases/{cid}").text
    assert '<span class="muted">Alice</span>' in page and '<span class="muted">alice</span>' not in page


def test_the_overview_puts_the_sla_table_in_the_wide_column_before_the_trend_chart(
    client: TestClient, world: World
) -> None:
    login(client, world.alice)
    page = client.get("/").text
    assert page.index('id="sla-title"') < page.index('id="trend-title"')  # the grid fills 2fr, then 1fr


def test_the_category_suggestions_include_the_intake_categories(client: TestClient, world: World) -> None:
    login(client, world.alice)
    page = client.get("/cases/new").text
    assert '<option value="road">道路设施' in page and '<option value="agriculture">农村农业' in page


def test_a_new_user_starts_as_a_viewer_not_an_administrator(client: TestClient, world: World) -> None:
    login(client, world.adam)
    form = client.get("/admin/users").text.split('id="u-role"', 1)[1].split("</select>", 1)[0]
    assert '<option value="viewer" selected>' in form and '<option value="admin" selected>' not in form


def test_the_sla_matrix_says_1_hour_not_1_hours(client: TestClient, world: World) -> None:
    csrf = login(client, world.adam, "en")
    row = {"category": "noise", "claim_amount": "1", "claim_unit": "working_hours"}
    row |= {"resolve_amount": "3", "resolve_unit": "working_days"}
    r = client.post("/admin/sla", data={"csrf_token": csrf, **row})
    assert r.status_code == 200 and ">1 working hour</td>" in r.text and ">3 working days</td>" in r.text
    zh, _ = as_user(client, world.adam)
    assert ">1 个工作小时</td>" in zh.get("/admin/sla").text

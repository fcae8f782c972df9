"""End to end in headless Chromium: the loop from dispatch to follow-up, on a desk and on a phone.

The test starts uvicorn on a free port against its own SQLite database and drives Debian's ``chromium``
through Playwright (used only as a driver: no browser download). Without /usr/bin/chromium it skips,
except in CI (CI=true) where it fails. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker

from gongzhi import migrate
from gongzhi.app import create_app
from gongzhi.cases import service as cases
from gongzhi.cases.schemas import CaseCreate
from gongzhi.db import make_engine, unit_of_work
from gongzhi.registry import load_modules
from gongzhi.settings import Settings
from tests.conftest import BACKEND, PASSWORD, World, build_world
from tests.web.helpers import POINT, png_bytes

CHROMIUM = Path(os.environ.get("GONGZHI_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).parents[2] / "artifacts" / "screenshots"
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESK: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
WALL: dict[str, Any] = {"viewport": {"width": 1920, "height": 1080}}


def _need_browser() -> None:
    if BACKEND != "sqlite":
        pytest.skip("the browser test runs once, in the SQLite leg (it brings its own SQLite database)")
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run this"
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs the browser tests: " + message)
        pytest.skip(message)
    pytest.importorskip("playwright.sync_api", reason="the playwright driver is not installed")


@dataclass
class Site:
    base: str
    world: World
    case_id: int
    case_number: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import uvicorn

    _need_browser()
    tmp = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{tmp / 'browser.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = sessionmaker(engine, expire_on_commit=False)
    world = build_world(factory)
    with unit_of_work(factory, world.alice.scope()) as s:
        data = CaseCreate(
            title="拱宸桥井盖缺失", category="road", location=POINT, address="拱宸桥东", accept=True
        )
        case = cases.create_case(s, load_modules(), data)
        s.flush()
        case_id, number = case.id, case.number
    settings = Settings(env="test", database_url=url, data_dir=tmp, embedded_worker=False)
    app = create_app(settings, factory)
    # the test binds the socket and hands it to uvicorn: no other process can take the port in between
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield Site(f"http://127.0.0.1:{port}", world, case_id, number)
    server.should_exit = True
    thread.join(10)
    sock.close()
    engine.dispose()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


class User:
    """One person's browser context, with the page errors it saw."""

    def __init__(self, browser: Any, site: Site, name: str, device: dict[str, Any]) -> None:
        self.site = site
        self.context = browser.new_context(**device, locale="zh-CN", timezone_id="Asia/Shanghai")
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.login(name)

    def login(self, name: str) -> None:
        """Log in with the keyboard only: the form must work without a mouse."""
        page = self.page
        from playwright.sync_api import expect

        page.goto(self.site.base + "/")
        assert page.url.startswith(self.site.base + "/login")
        # The username field has focus on arrival. Chromium applies autofocus at its next rendering update,
        # which on a loaded machine can come after the load event: wait for it rather than type into nothing.
        expect(page.locator("#username")).to_be_focused()
        page.keyboard.type(name)
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        expect(page.locator("#username")).to_have_value(name)
        page.keyboard.press("Enter")
        page.wait_for_url(self.site.base + "/")

    def case(self) -> Any:
        self.page.goto(f"{self.site.base}/cases/{self.site.case_id}")
        return self.page

    def act(self, action: str) -> None:
        self.page.locator(f'button[data-action="{action}"]').click()

    def expect_state(self, text: str) -> None:
        from playwright.sync_api import expect

        expect(self.page.locator("#case-state")).to_have_text(text)

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors


def test_the_loop_in_a_real_browser(browser: Any, site: Site, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    alice = User(browser, site, "alice", DESK)
    alice.case()
    alice.page.select_option("#dispatch-actor", str(site.world.roads_actor))
    alice.act("dispatch")
    alice.expect_state("已派单")
    expect(alice.page.locator(".toast-ok")).to_contain_text("已派单")
    assert alice.page.url == f"{site.base}/cases/{site.case_id}"  # the address bar follows the redirect

    bob = User(browser, site, "bob", PHONE)
    bob.page.goto(site.base + "/cases?view=mine")
    bob.page.get_by_role("link", name=site.case_number).click()
    bob.act("claim")
    bob.expect_state("已签收")
    bob.page.screenshot(path=str(SHOTS / "case-phone.png"), full_page=True)
    bob.page.locator(".more-return > summary").click()
    bob.page.select_option("#return-reason", "unclear_ownership")
    bob.page.fill("#return-note", "井盖属燃气公司")
    bob.act("return")
    bob.expect_state("已退单")

    alice.case()
    alice.page.check('input[name="final"]')
    alice.page.fill("#dispatch-note", "终审：由道路科办理")
    alice.act("dispatch")
    alice.expect_state("已派单")

    bob.case()
    bob.act("claim")
    bob.expect_state("已签收")
    photo = tmp_path / "after.png"
    photo.write_bytes(png_bytes())
    bob.page.fill("#resolve-note", "已补装井盖")
    bob.page.set_input_files("#resolve-photos", str(photo))
    bob.act("resolve")
    bob.expect_state("已回单")
    expect(bob.page.locator('.evidence img[alt="after.png"]')).to_be_visible()
    bob.page.screenshot(path=str(SHOTS / "case-phone-resolved.png"), full_page=True)

    dana = User(browser, site, "dana", DESK)
    dana.case()
    dana.page.check('input[name="passed"][value="yes"]')
    dana.act("verify")
    dana.expect_state("已核查")

    alice.case()
    alice.act("close")
    alice.expect_state("已办结")
    alice.page.check('input[name="rating"][value="5"]')
    alice.page.check('input[name="satisfied"][value="yes"]')
    alice.act("follow_up")
    expect(alice.page.locator(".timeline")).to_contain_text("回访评价")
    alice.expect_state("已办结")

    charlie = User(browser, site, "charlie", PHONE)
    charlie.page.goto(f"{site.base}/cases/{site.case_id}")
    expect(charlie.page.locator("h1")).to_have_text("未找到")
    charlie.page.goto(site.base + "/cases")
    expect(charlie.page.locator("main")).not_to_contain_text(site.case_number)
    charlie.errors = [e for e in charlie.errors if "404" not in e]
    for user in (alice, bob, dana, charlie):
        user.close()


def test_the_wall_dashboard_updates_live(browser: Any, site: Site) -> None:
    import httpx
    from playwright.sync_api import expect

    wall = User(browser, site, "alice", WALL)
    page = wall.page
    page.goto(site.base + "/?wall=1")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator(".map .leaflet-pane").first).to_be_attached()
    expect(page.locator(".leaflet-control-zoom-in").first).to_have_attribute("title", "放大")
    body: dict[str, object] = {
        "kind": "water",
        "severity": "critical",
        "title": "运河水位超警戒",
        "source": "gauge",
    }
    body.update(dedup_key="wall-1", location=POINT)
    r = httpx.post(site.base + "/api/v1/alerts", json=body, headers=site.world.alice.headers)
    assert r.status_code == 201, r.text
    expect(page.locator("#alert-feed")).to_contain_text("运河水位超警戒", timeout=20_000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "dashboard-wall.png"))
    wall.close()


def test_the_console_is_usable_with_the_keyboard_and_in_english(browser: Any, site: Site) -> None:
    from playwright.sync_api import expect

    user = User(browser, site, "dana", PHONE)
    page = user.page
    page.goto(site.base + "/cases")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert "skip" in focused, focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.locator("[data-nav-toggle]").click()
    expect(page.locator("#nav")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#nav")).to_be_hidden()
    page.goto(f"{site.base}/cases/{site.case_id}")
    page.locator(".more-comment > summary").click()
    page.evaluate("document.getElementById('comment-note').removeAttribute('required')")
    user.act("comment")  # an empty comment: the server refuses, htmx shows its answer as a toast
    expect(page.locator(".toast-error")).to_contain_text("请检查填写内容")
    assert page.url.endswith(f"/cases/{site.case_id}")
    user.errors = [e for e in user.errors if "400" not in e]
    page.goto(site.base + "/lang/en?next=/cases")
    expect(page.locator("h1")).to_contain_text("Cases")
    assert re.search(r"Log out", page.content())
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the phone page scrolls sideways ({width}px)"
    user.close()


def test_a_bare_module_on_the_plant_map_gets_its_tooltip_and_opens_its_page(browser: Any, site: Site) -> None:
    """The plant map draws a module without a finding as a bare path (report.map_svg): the console's
    script gives it its tooltip when it is first hovered and opens its page on a click."""
    import httpx
    from playwright.sync_api import expect

    from tests.modules.pv.shapes import rectangle

    ring = [list(p) for p in rectangle(30, 20)]
    body = {
        "code": "browser-roof",
        "name": "报社屋顶",
        "polygon": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
        "layout": {"setback_m": 0.5},
    }
    made = httpx.post(f"{site.base}/api/v1/pv/plants", json=body, headers=site.world.alice.headers)
    assert made.status_code == 201, made.text
    plant = made.json()
    user = User(browser, site, "alice", DESK)
    page = user.page
    page.goto(f"{site.base}/pv/plants/{plant['id']}")
    bare = page.locator("svg[data-link] path[data-m]").nth(3)
    module_id = bare.get_attribute("data-m")
    assert module_id and bare.locator("title").count() == 0
    bare.hover()
    expect(bare.locator("title")).to_have_text(module_id)
    bare.click()
    page.wait_for_url(f"{site.base}/pv/plants/{plant['id']}/modules/{module_id}")
    expect(page.locator("h1")).to_contain_text(module_id)
    user.close()

"""Accessibility basics: every control has a label, and the themes keep text readable (WCAG 2.1 AA)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World
from tests.web.helpers import POINT, login, new_case
from tests.web.test_pages import PAGES

CSS = Path(__file__).parents[2] / "src/gongzhi/web/static/console.css"
UNLABELLED = {"hidden", "submit", "button", "reset", "image"}


class Controls(HTMLParser):
    """Collects form controls, the ids labels point at, and controls wrapped in a label."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") not in UNLABELLED:
            self.controls.append({**a, "_wrapped": "1" if self.in_label else None, "_tag": tag})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


def unlabelled(html: str) -> list[str]:
    p = Controls()
    p.feed(html)
    return [
        f"{c['_tag']} name={c.get('name')}"
        for c in p.controls
        if not (c["_wrapped"] or c.get("aria-label") or (c.get("id") and c["id"] in p.label_for))
    ]


def test_every_control_on_every_page_has_a_label(client: TestClient, world: World) -> None:
    case = new_case(client, world.alice)
    alert = client.post(
        "/api/v1/alerts",
        json={"kind": "k", "title": "t", "source": "s", "dedup_key": "a11y", "location": POINT},
        headers=world.alice.headers,
    ).json()
    login(client, world.adam)
    pages = [*PAGES, f"/cases/{case['id']}", f"/alerts/{alert['id']}", "/login"]
    for path in pages:
        html = client.get(path).text
        assert unlabelled(html) == [], path
        ids = re.findall(r'\sid="([^"]+)"', html)
        assert len(ids) == len(set(ids)), f"duplicate ids on {path}"
    client.cookies.clear()
    assert unlabelled(client.get("/login").text) == []


def theme(selector: str) -> dict[str, str]:
    block = re.search(re.escape(selector) + r"\s*\{(.*?)\n\}", CSS.read_text(), re.S)
    assert block, selector
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block.group(1)))


def luminance(hex_colour: str) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


PAIRS = [
    ("text", "bg"),
    ("text", "surface"),
    ("text", "surface-2"),
    ("muted", "surface"),
    ("muted", "bg"),
    ("accent", "surface"),
    ("accent-text", "accent"),
    ("danger", "surface"),
    ("danger-text", "danger"),
    ("warn", "surface"),
    ("ok", "surface"),
]


@pytest.mark.parametrize("selector", [":root", '[data-theme="dark"]'])
def test_theme_colours_meet_the_aa_contrast_ratio(selector: str) -> None:
    light = theme(":root")
    colours = {**light, **theme(selector)}
    weak = [(f, b, round(contrast(colours[f], colours[b]), 2)) for f, b in PAIRS]
    assert [w for w in weak if w[2] < 4.5] == []

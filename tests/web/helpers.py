"""Logging in to the console from a TestClient, and reading what a page offers."""

from __future__ import annotations

import io
import re
import secrets
from typing import Any, cast

from fastapi.testclient import TestClient
from PIL import Image

from tests.conftest import PASSWORD, Person

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
POINT = {"type": "Point", "coordinates": [120.141, 30.312]}


def login_with_password(client: TestClient, who: Person, lang: str = "zh_CN") -> str:
    """Log ``who`` in through the login form; returns the CSRF token the pages carry."""
    client.cookies.set("gz_lang", lang)
    r = client.post("/login", data={"username": who.username, "password": PASSWORD, "next": "/cases"})
    assert r.status_code == 200, r.text[:500]
    return csrf_of(r.text)


def login(client: TestClient, who: Person, lang: str = "zh_CN") -> str:
    """Give the client the session cookie a login would (without paying for argon2 in every test)."""
    signer = client.app.state.gongzhi.signer  # type: ignore[attr-defined]
    sid = secrets.token_urlsafe(16)
    client.cookies.set("gz_session", signer.dumps({"uid": who.user_id, "sid": sid, "region": who.region_id}))
    client.cookies.set("gz_lang", lang)
    return str(signer.csrf_for(sid))


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def as_user(client: TestClient, who: Person, lang: str = "zh_CN") -> tuple[TestClient, str]:
    other = TestClient(client.app)
    return other, login(other, who, lang)


def new_case(client: TestClient, who: Person, **extra: Any) -> dict[str, Any]:
    body = {"title": "井盖缺失", "category": "road", "location": POINT, "accept": True, **extra}
    r = client.post("/api/v1/cases", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return cast(dict[str, Any], r.json())


def act(client: TestClient, csrf: str, case_id: int, action: str, **form: Any) -> Any:
    return client.post(
        f"/cases/{case_id}/act/{action}", data={"csrf_token": csrf, **form}, follow_redirects=False
    )


def forms_on(html: str) -> set[str]:
    """The case actions the page offers a form for."""
    return set(re.findall(r'action="/cases/\d+/act/(\w+)"', html))


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 40)).save(buf, format="PNG")
    return buf.getvalue()


def no_stack_trace(html: str) -> None:
    for marker in ("Traceback", 'File "', "sqlalchemy.", "jinja2."):
        assert marker not in html, f"the page leaks {marker!r}"


def openapi_schema(spec: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    """The schema ``s`` of the app's OpenAPI document ``spec`` stands for: its ``$ref`` followed, and of an
    optional value (``anyOf`` with null) the choice that is not null."""
    while "$ref" in s:
        s = spec["components"]["schemas"][s["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in s:
        return openapi_schema(spec, next((o for o in s["anyOf"] if o.get("type") != "null"), s["anyOf"][0]))
    return s

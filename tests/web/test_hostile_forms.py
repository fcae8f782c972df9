"""Every console form, each field given hostile text in turn (the others a plain "1"), is answered without a
500: a NUL, 20,000 characters, digits past the database's range, "²" (a digit to ``str.isdigit``, not to
``int``), "NaN", "1e308", blanks, markup. And the headers and ETags that carry numbers take the same."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.cases.test_lifecycle import new_case
from tests.conftest import World, api_routes
from tests.web.helpers import login

HOSTILE = ("a\x00b", "x" * 20_000, str(10**20), "²", "-1", "NaN", "1e308", " ", "<script>alert(1)</script>")


def test_every_console_form_answers_hostile_fields_without_a_500(client: TestClient, world: World) -> None:
    csrf = login(client, world.adam, lang="en")
    sent = 0
    for route in api_routes(client.app.routes):  # type: ignore[attr-defined]
        fields = [p.alias for p in route.dependant.body_params]
        if route.path.startswith("/api/") or "POST" not in (route.methods or ()) or not fields:
            continue
        url = re.sub(r"\{([^}:]+)(?::[a-z]+)?\}", "1", route.path)
        for field in fields:
            for value in HOSTILE:
                form = {**dict.fromkeys(fields, "1"), field: value, "csrf_token": csrf}
                r = client.post(url, data=form, follow_redirects=False)
                assert r.status_code < 500, (route.path, field, value[:30], r.text[:300])
                sent += 1
    assert sent > 500


def test_numbers_in_headers_that_are_not_ascii_digits_are_refused_not_a_500(
    client: TestClient, world: World
) -> None:
    case = new_case(client, world.alice)
    login(client, world.alice)
    for value in ("²", "١٢", str(10**20)):
        raw = value.encode()  # a header is bytes on the wire
        r = client.get("/cases", headers={"X-Gongzhi-Region": raw})
        assert r.status_code < 500, (value, r.text[:300])
        r = client.post(
            f"/api/v1/cases/{case['id']}/actions/accept",
            json={},
            headers={**world.alice.headers, "If-Match": b'"' + raw + b'"'},
        )
        assert r.status_code == 400 and "If-Match" in r.text, (value, r.text[:300])
        assert client.get(f"/intake/{value}/").status_code == 404  # no region has that code or id

"""Responses compressed for clients that accept gzip, except short ones and formats already packed; and the
console's CSRF token masked afresh on every page so that compression cannot give it away (BREACH)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import World
from tests.web.helpers import POINT, act, as_user, csrf_of, login, new_case


def test_large_responses_are_gzipped_for_clients_that_accept_it(client: TestClient, world: World) -> None:
    for i in range(12):
        new_case(client, world.alice, title=f"路灯不亮 {i}")
    asked = {"accept-encoding": "gzip"}
    r = client.get("/api/v1/cases?limit=50", headers={**world.alice.headers, **asked})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in r.headers["vary"].lower()
    # httpx has already inflated the body; the bytes on the wire are the content-length
    sent = int(r.headers["content-length"])
    assert sent < len(r.content) / 3, (sent, len(r.content))
    assert len(r.json()["items"]) == 12

    plain = client.get(
        "/api/v1/cases?limit=50", headers={**world.alice.headers, "accept-encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers and plain.json() == r.json()
    assert int(plain.headers["content-length"]) == len(plain.content)

    one = client.get(f"/api/v1/cases/{r.json()['items'][0]['id']}", headers={**world.alice.headers, **asked})
    assert one.status_code == 200 and "content-encoding" not in one.headers  # the case loop's hot path
    short = client.get("/healthz", headers=asked)  # under GZIP_MINIMUM_SIZE: not worth a gzip header
    assert short.status_code == 200 and "content-encoding" not in short.headers

    alice, _ = as_user(client, world.alice)
    page = alice.get("/cases", headers=asked)
    assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
    assert "路灯不亮 11" in page.text


def test_a_packed_format_is_sent_as_it_is(client: TestClient, world: World) -> None:
    # an XLSX (as a KMZ or a PDF) is a compressed container already: gzip would cost CPU for nothing
    r = client.get(
        "/api/v1/catalog/export?format=xlsx", headers={**world.alice.headers, "accept-encoding": "gzip"}
    )
    assert r.status_code == 200 and len(r.content) > 1024
    assert "content-encoding" not in r.headers and r.content.startswith(b"PK")


def test_every_page_carries_another_mask_of_the_same_csrf_token(client: TestClient, world: World) -> None:
    case = new_case(client, world.alice)
    raw = login(client, world.alice)
    first, second = (csrf_of(client.get("/cases").text) for _ in range(2))
    assert first != second and raw not in (first, second) and len(first) == 2 * len(raw)

    # each mask is accepted, as is the session's token itself (what the JSON login returns)
    r = act(client, first, case["id"], "dispatch", actor_id=world.roads_actor, version=case["version"])
    assert r.status_code == 303, r.text
    body = {"title": "井盖松动", "category": "road", "location": POINT}
    for token in (second, raw):
        r = client.post("/api/v1/cases", json=body, headers={"x-csrf-token": token})
        assert r.status_code == 201, r.text

    # a mask with one bit changed, another session's token, or hex-shaped nonsense is refused
    flipped = first[:-1] + ("0" if first[-1] != "0" else "1")
    other = as_user(client, world.bob)[1]
    fresh = new_case(client, world.alice)
    for bad in (flipped, other, "zz" * len(raw), ""):
        r = act(client, bad, fresh["id"], "dispatch", actor_id=world.roads_actor, version=fresh["version"])
        assert r.status_code == 403 and "CSRF" in r.text, bad
        r = client.post("/api/v1/cases", json=body, headers={"x-csrf-token": bad})
        assert r.status_code == 403 and "CSRF" in r.text, bad
    assert (
        client.get(f"/api/v1/cases/{fresh['id']}", headers=world.alice.headers).json()["state"] == "accepted"
    )

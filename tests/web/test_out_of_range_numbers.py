"""A number past what the database holds, wherever a request carries an id, a count or an amount, is refused
at the edge (422) instead of failing in the driver (a 500): every route's path parameters, the API's integer
query parameters and every number in the API's JSON bodies, over the API and the console, on every method."""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from gongzhi.kit.validation import DB_INT_MAX
from tests.conftest import World, api_routes

from .helpers import login, openapi_schema

PAST = str(10**20)  # past SQLite's 64-bit integers as well as PostgreSQL's 32-bit INTEGER
JUST_PAST = str(DB_INT_MAX + 1)  # fits SQLite, not PostgreSQL's INTEGER
PARAM = re.compile(r"\{([^}:]+)(?::[a-z]+)?\}")


def _is_int(annotation: object) -> bool:
    return annotation is int or int in typing.get_args(annotation)


def _routes(client: TestClient) -> list[APIRoute]:
    return list(api_routes(client.app.routes))  # type: ignore[attr-defined]


def test_every_route_answers_an_id_past_the_range_without_a_500_and_the_api_with_422(
    client: TestClient, world: World
) -> None:
    csrf = login(client, world.adam)
    answered: dict[str, int] = {}
    for route in _routes(client):
        if "{" not in route.path:
            continue
        ints = {p.name for p in route.dependant.path_params if _is_int(p.field_info.annotation)}
        for number in (PAST, JUST_PAST):

            def fill(m: re.Match[str], n: str = number, ints: set[str] = ints) -> str:
                return n if m.group(1) in ints else "x"

            path = PARAM.sub(fill, route.path)
            for method in sorted((route.methods or set()) & {"GET", "POST", "PUT", "PATCH", "DELETE"}):
                api = route.path.startswith("/api/")
                r = client.request(
                    method,
                    path,
                    headers={**world.adam.headers, "X-CSRF-Token": csrf} if api else {"X-CSRF-Token": csrf},
                    **({} if method in ("GET", "DELETE") else {"data": {"csrf_token": csrf}}),
                )
                assert r.status_code < 500, (method, route.path, number, r.status_code, r.text[:300])
                answered[f"{method} {route.path}"] = r.status_code
                if api and ints and method == "GET":
                    assert r.status_code == 422, (route.path, number, r.text[:300])
    assert len(answered) > 150  # every module's routes were reached


def test_the_apis_integer_filters_refuse_a_number_past_the_range(client: TestClient, world: World) -> None:
    tried = 0
    for route in _routes(client):
        if not route.path.startswith("/api/") or "{" in route.path or "GET" not in (route.methods or ()):
            continue
        ints = [p.alias for p in route.dependant.query_params if _is_int(p.field_info.annotation)]
        if not ints:
            continue
        r = client.get(route.path, params=dict.fromkeys(ints, PAST), headers=world.adam.headers)
        assert r.status_code == 422, (route.path, r.status_code, r.text[:300])
        tried += 1
    assert tried >= 5


def test_ids_in_a_request_body_past_the_range_are_refused_as_invalid(
    client: TestClient, world: World
) -> None:
    for path, body in (
        ("/api/v1/dispatch-rules", {"actor_id": int(PAST)}),
        ("/api/v1/actors", {"kind": "department", "name": "越界", "department_id": int(JUST_PAST)}),
        (
            "/api/v1/users",
            {"username": "x1", "password": "long-enough", "role": "viewer", "department_id": -int(PAST)},
        ),
    ):
        r = client.post(path, json=body, headers=world.adam.headers)
        assert r.status_code == 422 and r.json()["type"] == "/problems/validation", (path, r.text[:300])


# raw JSON tokens: Python's json (and so FastAPI) reads NaN and Infinity, which JSON itself has no words for
NUMBERS = ("NaN", "Infinity", "-Infinity", "1e308", "-1e308", str(DB_INT_MAX + 1), str(-(10**20)))
# text no database stores: a NUL character, and an unpaired surrogate (which UTF-8 cannot spell either)
TEXTS = ('"a\\u0000b"', '"\\ud800"')
MARK = "\u2603marked\u2603"


def _example(
    spec: dict[str, Any], s: dict[str, Any], ids: dict[str, int], depth: int = 0, key: str = ""
) -> Any:
    """A body that a schema would mostly accept: the first choice of each enum, a small valid number, the
    ids of ``ids`` by their field's name."""
    s = openapi_schema(spec, s)
    if "enum" in s or "const" in s:
        return s.get("enum", [s.get("const")])[0]
    kind = s.get("type")
    if kind == "object" or "properties" in s:
        properties = s.get("properties", {}).items() if depth < 4 else ()
        return {k: _example(spec, v, ids, depth + 1, k) for k, v in properties}
    if kind == "array":
        return [_example(spec, s.get("items", {}), ids, depth + 1, key)] if depth < 4 else []
    if kind in ("integer", "number"):
        return ids.get(key, max(s.get("minimum", 1), 1))
    if kind == "boolean":
        return True
    if kind == "string":
        return {"date": "2026-11-29", "date-time": "2026-11-29T10:00:00+08:00"}.get(
            s.get("format", ""), "测试"
        )
    return None


def _leaves(
    spec: dict[str, Any], s: dict[str, Any], at: tuple[Any, ...] = (), depth: int = 0
) -> Iterator[tuple[tuple[Any, ...], tuple[str, ...]]]:
    """Where a body holds a number or a text (paths into :func:`_example`'s body), with what to put there."""
    s = openapi_schema(spec, s)
    if (s.get("type") == "object" or "properties" in s) and depth < 4:
        for k, v in s.get("properties", {}).items():
            yield from _leaves(spec, v, (*at, k), depth + 1)
    elif s.get("type") == "array" and depth < 4:
        yield from _leaves(spec, s.get("items", {}), (*at, 0), depth + 1)
    elif s.get("type") in ("integer", "number") and "enum" not in s:
        yield at, NUMBERS
    elif s.get("type") == "string" and "enum" not in s and "format" not in s:
        yield at, TEXTS


def test_every_number_in_every_json_body_past_any_range_is_answered_without_a_500(
    client: TestClient, world: World
) -> None:
    """NaN, infinities, 1e308 and integers past the database's range in each numeric field of each JSON body
    the API takes (the rest of the body a plausible one): never a 500 (a yuan amount of Infinity once was)."""
    # rows for the bodies' and paths' ids to name, so that requests get past "no such row"
    village = {
        "code": "qianjin",
        "name": "前进村",
        "town": "湖镇镇",
        "representatives": 30,
        "party_members": 40,
    }
    made = client.post("/api/v1/village/villages", json=village, headers=world.dana.headers)
    contract = {
        "village_id": made.json()["id"],
        "counterparty": "某物流公司",
        "subject": "厂房租赁",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "annual_rent_yuan": 1000,
    }
    leased = client.post("/api/v1/village/contracts", json=contract, headers=world.dana.headers)
    assert leased.status_code == 201, leased.text
    ids = {"village_id": made.json()["id"], "contract_id": leased.json()["id"]}
    spec = client.get("/openapi.json").json()
    sent = 0
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if method not in ("post", "put", "patch") or body is None or "one-click" in path:
                continue
            url = PARAM.sub(lambda m: str(ids.get(m.group(1), 1)), path)
            example = _example(spec, body["schema"], ids)
            if not isinstance(example, dict):
                continue
            for at, extremes in _leaves(spec, body["schema"]):
                marked = json.loads(json.dumps(example))
                holder = marked
                for key in at[:-1]:
                    holder = holder[key]
                holder[at[-1]] = MARK
                for extreme in extremes:
                    raw = json.dumps(marked, ensure_ascii=False).replace(f'"{MARK}"', extreme)
                    r = client.request(
                        method.upper(),
                        url,
                        content=raw.encode(),
                        headers={**world.adam.headers, "content-type": "application/json"},
                    )
                    sent += 1
                    assert r.status_code < 500, (method, path, at, extreme, r.status_code, r.text[:300])
    assert sent > 300  # the API's bodies were reached


def test_a_nul_character_in_a_query_or_a_console_form_is_refused_not_a_500(
    client: TestClient, world: World
) -> None:
    r = client.get("/api/v1/cases", params={"q": "路灯\x00"}, headers=world.adam.headers)
    assert r.status_code == 422, r.text[:300]  # on SQLite as on PostgreSQL, which cannot take it
    assert r.json()["type"].endswith("text-unstorable")
    csrf = login(client, world.adam, lang="en")
    form = {"code": "nul", "name": "城管\x00局", "name_en": "", "csrf_token": csrf}
    r = client.post("/admin/departments", data=form, follow_redirects=False)
    assert r.status_code == 422, r.text[:300]
    assert "NUL character" in r.text  # the console says why, in its reader's language

"""A number past what the database holds, wherever a request carries an id or a count, is refused at the edge
(422) instead of failing in the driver (a 500): every route's path parameters and the API's integer query
parameters, over the API and the console, on every method."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable, Iterator

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from gongzhi.kit.validation import DB_INT_MAX
from tests.conftest import World

from .helpers import login

PAST = str(10**20)  # past SQLite's 64-bit integers as well as PostgreSQL's 32-bit INTEGER
JUST_PAST = str(DB_INT_MAX + 1)  # fits SQLite, not PostgreSQL's INTEGER
PARAM = re.compile(r"\{([^}:]+)(?::[a-z]+)?\}")


def _is_int(annotation: object) -> bool:
    return annotation is int or int in typing.get_args(annotation)


def _flat(routes: Iterable[object]) -> Iterator[APIRoute]:
    """The app's routes; FastAPI keeps an included router as one entry (its routes carry their prefix: the
    routers are included without one)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _flat(route.original_router.routes)


def _routes(client: TestClient) -> list[APIRoute]:
    return list(_flat(client.app.routes))  # type: ignore[attr-defined]


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
            path = PARAM.sub(lambda m, n=number, ints=ints: n if m.group(1) in ints else "x", route.path)
            for method in sorted(route.methods & {"GET", "POST", "PUT", "PATCH", "DELETE"}):
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
        if not route.path.startswith("/api/") or "{" in route.path or "GET" not in route.methods:
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

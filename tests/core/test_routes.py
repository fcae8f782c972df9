"""Every synchronous endpoint commits its request's transaction in its own worker thread.

Without that, FastAPI commits in a later thread call, and a request holding a connection (and SQLite's
write lock) while it waits for a thread deadlocks the pool under load (bench/cases found it at 40+).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from gongzhi.core.deps import public_session, scoped_session
from gongzhi.registry import Registry
from gongzhi.web.shell import console
from tests.conftest import api_routes


def calls_of(dependant: Dependant) -> Iterator[Any]:
    for d in dependant.dependencies:
        yield d.call
        yield from calls_of(d)


def uses_a_request_session(route: APIRoute) -> bool:
    return bool(set(calls_of(route.dependant)) & {scoped_session, public_session, console})


def test_every_sync_endpoint_commits_in_its_own_thread(client: TestClient) -> None:
    routes = [r for r in api_routes(client.app.routes) if uses_a_request_session(r)]  # type: ignore[attr-defined]
    assert len(routes) > 50
    sync = [r for r in routes if not inspect.iscoroutinefunction(r.endpoint)]
    missing = [
        f"{sorted(r.methods or ())} {r.path}"
        for r in sync
        if not getattr(r.endpoint, "commits_request", False)
    ]
    assert not missing, "build these routers with gongzhi.core.deps.api_router():\n" + "\n".join(missing)


def test_the_app_routes_with_the_routers_own_routes_not_copies_built_on_its_first_request(
    client: TestClient, registry: Registry
) -> None:
    """``include_router`` would add a lazy copy of every route, built anew for each app on the first
    request it routes (about 0.35 s: each server process and each test paid it); see ``add_routes``."""
    from gongzhi.cases.api import router as cases_router
    from gongzhi.core.api import router as core_router
    from gongzhi.web import views

    routers = [cases_router, core_router, *registry.routers, *views.routers()]
    served = [r for r in client.app.routes if isinstance(r, APIRoute)]  # type: ignore[attr-defined]
    own = [route for router in routers for route in router.routes]
    assert len(own) > 200 and {id(r) for r in own} <= {id(r) for r in served}
    assert not [r for r in client.app.routes if hasattr(r, "original_router")]  # type: ignore[attr-defined]


def test_a_router_with_more_than_routes_is_not_added_as_routes_alone() -> None:
    from fastapi import FastAPI

    from gongzhi.core.deps import add_routes, api_router

    router = api_router(on_startup=[lambda: None])
    with pytest.raises(ValueError, match="adds routes alone"):
        add_routes(FastAPI(), router)

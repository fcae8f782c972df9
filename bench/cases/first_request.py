"""An app's first request: gongzhi's app as built (``create_app``, the routers' routes added as they are,
``core.deps.add_routes``) against the same app with the routers added by FastAPI's ``include_router``,
in the same process, on the same database.

    PYTHONPATH=src .venv/bin/python bench/cases/first_request.py [--apps 5]

``include_router`` (FastAPI 0.165) adds a lazy copy of a router's routes, built for that app on the first
request it routes past them; every new app pays it once: each server process, each test. Figures, the
median of ``--apps`` fresh apps of each kind, built alternately: CPU of the first request (``/healthz``,
matched after every router) and of the second, and the first's ratio to the second of the same app.
Without the routers the health check alone would be the second request's cost.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from gongzhi import migrate
from gongzhi.app import create_app
from gongzhi.db import make_engine, make_session_factory
from gongzhi.settings import Settings


def included(app: FastAPI, router: APIRouter) -> None:
    """The routers added as FastAPI's ``include_router`` adds them (the baseline)."""
    app.include_router(router)


def requests(build: Callable[[], FastAPI]) -> tuple[float, float]:
    """CPU [ms] of a fresh app's first and second ``/healthz``."""
    app = build()
    with TestClient(app) as client:
        times = []
        for _ in range(2):
            t = time.process_time()
            assert client.get("/healthz").status_code == 200
            times.append((time.process_time() - t) * 1e3)
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--apps", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    with tempfile.TemporaryDirectory(prefix="gongzhi-first-request-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        settings = Settings(env="test", database_url=url, data_dir=Path(tmp), embedded_worker=False)
        factory = make_session_factory(make_engine(url))

        def as_built() -> FastAPI:
            return create_app(settings, factory)

        def with_include_router() -> FastAPI:
            with (
                mock.patch("gongzhi.app.add_routes", included),
                mock.patch("gongzhi.web.console.add_routes", included),
            ):
                return create_app(settings, factory)

        requests(as_built)  # the modules' imports and first compiled paths, in neither figure
        got: dict[str, list[tuple[float, float]]] = {"include_router": [], "add_routes": []}
        for _ in range(args.apps):
            got["include_router"].append(requests(with_include_router))
            got["add_routes"].append(requests(as_built))
    routes = len(as_built().routes)
    print(f"{routes} routes; the median of {args.apps} fresh apps each, CPU of /healthz")
    base = statistics.median(first for first, _ in got["include_router"])
    for name, runs in got.items():
        first = statistics.median(f for f, _ in runs)
        second = statistics.median(s for _, s in runs)
        print(
            f"  {name:<15} first request {first:7.1f} ms, second {second:5.1f} ms "
            f"(first / second {first / second:5.1f}; first / include_router's first {first / base:4.2f})"
        )


if __name__ == "__main__":
    main()

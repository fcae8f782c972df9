"""The ASGI application: API, metrics, health, and every registered module."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gongzhi import worker
from gongzhi.cases.api import router as cases_router
from gongzhi.core.api import router as core_router
from gongzhi.core.deps import AppState, add_routes
from gongzhi.core.security import SessionSigner
from gongzhi.db import SQLITE_BEGIN, make_engine, make_session_factory
from gongzhi.kit.filestore import FileStore
from gongzhi.kit.sheets import XLSX_MEDIA_TYPE
from gongzhi.registry import load_modules
from gongzhi.serving import frozen_heap
from gongzhi.settings import Settings, get_settings
from gongzhi.web import console, problems


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gongzhi_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "gongzhi_http_request_seconds", "HTTP latency", ["method", "route"], registry=self.registry
        )


def create_app(settings: Settings | None = None, factory: sessionmaker[Session] | None = None) -> FastAPI:
    settings = settings or get_settings()
    factory = factory or make_session_factory(make_engine(settings.database_url))
    registry = load_modules()
    state = AppState(
        settings,
        factory,
        registry,
        SessionSigner(settings.secret_key),
        FileStore(settings.files_dir, settings.max_upload_bytes),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = (
            worker.start_thread(factory, registry, settings.worker_interval_s)
            if settings.embedded_worker
            else None
        )
        with frozen_heap():
            yield
        if stop is not None:
            stop.set()

    app = FastAPI(
        title="gongzhi 共治",
        version="0.1.0",
        lifespan=lifespan,
        description="Open platform for closed-loop digital governance",
    )
    app.state.gongzhi = state
    problems.install(app)
    # routes are matched in order: the case loop's, which carry most requests, before the core's (no
    # path of one router matches a path of the other, so the order changes only how many are tried)
    add_routes(app, cases_router)
    add_routes(app, core_router)
    for r in registry.routers:
        add_routes(app, r)
    _observability(app, factory)
    console.install(app)
    # outermost, so that the metrics time the compression too; the console's CSRF token is masked on each
    # page (SessionSigner.masked_csrf), so compressed pages don't leak it
    app.add_middleware(
        GZipMiddleware,
        minimum_size=GZIP_MINIMUM_SIZE,
        compresslevel=GZIP_LEVEL,
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, *PACKED_CONTENT_TYPES),
    )
    return app


GZIP_MINIMUM_SIZE = 4096
"""Bytes under which a response goes as it is: a case's JSON (1–2 KiB), so the case loop's busiest
requests pay no compressor; lists, pages, layouts and exports are compressed."""
GZIP_LEVEL = 6
"""zlib's default: the demo's 152 KiB plant page shrinks to 18 KiB in 1.7 ms, where level 9 takes twice
as long for the same size (and level 1 a quarter of the time for 19 KiB)."""
PACKED_CONTENT_TYPES = (
    "application/pdf",
    "application/vnd.google-earth.kmz",
    XLSX_MEDIA_TYPE,
    "application/octet-stream",
    "image/tiff",
)
"""Responses already compressed (zip containers, PDF streams) or stored files of any kind, sent as they
are besides Starlette's own list (images, archives, event streams)."""


def _observability(app: FastAPI, factory: sessionmaker[Session]) -> None:
    metrics = Metrics()
    app.add_middleware(_Observe, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    def _metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["ops"])
    def _health() -> dict[str, str]:
        with factory() as s:
            s.execute(text("SELECT 1"))
        return {"status": "ok"}


class _Observe:
    """Pure ASGI middleware: per-request metrics, and SQLite transactions of reads begin deferred so they
    run beside the writer. (Starlette's ``BaseHTTPMiddleware`` runs each request in an extra task with
    memory streams: a noticeable share of a short request's CPU.)"""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, status = scope["method"], 500
        token = SQLITE_BEGIN.set("DEFERRED" if method in ("GET", "HEAD") else "IMMEDIATE")
        start = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            SQLITE_BEGIN.reset(token)
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)

"""Mounts the console on the app: pages, static assets (ours and packaged vendor libraries), error pages.

Errors keep one hierarchy and two renderers: :mod:`gongzhi.web.problems` answers the API with problem+json;
here every handler it installed is wrapped so that a console request gets the same problem as a toast
(HTMX) or an error page, and an expired session a trip to the login page, never a stack trace.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import xstatic.pkg.leaflet as leaflet
import xstatic.pkg.leaflet_markercluster as markercluster
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from gongzhi.core.deps import add_routes, session_data
from gongzhi.errors import DomainError, Unauthenticated
from gongzhi.web import labels, views
from gongzhi.web.i18n import N_
from gongzhi.web.shell import WEB, Toast, lang_of, render, secure

API_PREFIXES = ("/api/", "/docs", "/redoc", "/openapi.json", "/metrics", "/healthz")
Handler = Callable[[Request, Any], Any]

GENERIC = N_("Error")
TITLES = {
    "not-found": N_("Not found"),
    "forbidden": N_("Not allowed"),
    "conflict": N_("Conflict"),
    "illegal-transition": N_("Not possible in the current state"),
    "stale-write": N_("Someone changed this record meanwhile; reload it"),
    "invalid-input": N_("Please check your input"),
    "validation": N_("Please check your input"),
    "too-many-requests": N_("Too many attempts; wait a moment"),
    "file-rejected": N_("File rejected"),
    "internal": N_("Something went wrong on our side; it has been logged"),
    "http-404": N_("Not found"),
    "http-405": N_("Not allowed"),
}


def is_console(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIXES)


def install(app: FastAPI) -> None:
    """Add the console's routes, static files and console-aware error handlers to ``app``."""
    app.mount("/static/vendor/leaflet", StaticFiles(directory=leaflet.BASE_DIR), name="leaflet")
    app.mount(
        "/static/vendor/markercluster", StaticFiles(directory=markercluster.BASE_DIR), name="markercluster"
    )
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    for router in views.routers():
        add_routes(app, router)
    for exc_class, original in list(app.exception_handlers.items()):
        if exc_class is not WebSocketRequestValidationError:
            app.exception_handlers[exc_class] = _for_console(original)


def _for_console(original: Handler) -> Handler:
    async def handler(request: Request, exc: Any) -> Response:
        response: Response = await original(request, exc)
        if not is_console(request):
            return response
        if isinstance(exc, Unauthenticated):
            return to_login(request)
        problem = json.loads(bytes(response.body))
        # a domain error's detail, or the handler's own fixed wording (problems.py), in the console's language
        lang = lang_of(request)
        said = exc.detail if isinstance(exc, DomainError) else str(problem.get("detail", ""))
        fields = (
            [labels.field_problem(lang, dict(e)) for e in exc.errors() if e.get("loc")]
            if isinstance(exc, RequestValidationError)
            else []
        )
        return error_response(request, problem, labels.detail(lang, said), fields)

    return handler


def to_login(request: Request) -> Response:
    target = "/login?next=" + quote(request.url.path if request.method == "GET" else "/")
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def error_response(request: Request, problem: dict[str, Any], detail: str, fields: list[str]) -> Response:
    """The problem as a toast or an error page; ``detail`` is the problem's detail and ``fields`` its fields'
    problems, both in the console's language (the problem keeps the API's English)."""
    lang = lang_of(request)
    status = int(problem.get("status", 500))
    title = lang.gettext(TITLES.get(str(problem.get("type", "")).rsplit("/", 1)[-1], GENERIC))
    settings = request.app.state.gongzhi.settings
    if request.headers.get("hx-request") == "true":
        toast = Toast(" — ".join([title, detail, *fields]), "error")
        body = render(lang, "partials/toast.html", {"t": toast})
        headers = {"HX-Retarget": "#toasts", "HX-Reswap": "beforeend", "HX-Push-Url": "false"}
        return secure(HTMLResponse(body, status_code=status, headers=headers), settings)
    context = {"status": status, "title": title, "detail": detail, "fields": fields, "lang": lang}
    context["back"] = _way_back(request)
    return secure(HTMLResponse(render(lang, "error.html", context), status_code=status), settings)


def _way_back(request: Request) -> tuple[str, str] | None:
    """The error page's way on (link, label): the overview for a signed-in user; for a visitor of the public
    pages, who has no overview (it asks to log in), the page of this site they came from, if any."""
    if session_data(request, request.app.state.gongzhi) is not None:
        return "/", N_("Back to the overview")
    came = urlsplit(request.headers.get("referer", ""))
    if came.netloc != request.url.netloc or not came.path.startswith("/") or came.path == request.url.path:
        return None
    return came.path + (f"?{came.query}" if came.query else ""), N_("Back")

"""Login, logout, region switching, language and theme."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from gongzhi.core import api as core_api
from gongzhi.core import service as core
from gongzhi.core.deps import COOKIE, api_router, end_sessions, session_data
from gongzhi.core.schemas import LoginIn
from gongzhi.errors import DomainError, Forbidden, InvalidInput, TooManyRequests, msg
from gongzhi.web.i18n import LOCALES, N_
from gongzhi.web.shell import LANG_COOKIE, THEME_COOKIE, ConsoleDep, PublicConsoleDep

router = api_router(include_in_schema=False)
YEAR = 365 * 24 * 3600


def safe_next(target: str | None) -> str:
    """Only paths on this site: never '//host', a scheme, or a backslash trick."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(c: PublicConsoleDep, next: str = "/") -> Response:
    if session_data(c.request, c.st):
        return RedirectResponse(safe_next(next), status_code=303)
    return c.page("login.html", next=safe_next(next), error="", username="")


def _login_error(exc: Exception) -> str:
    if isinstance(exc, TooManyRequests):
        return N_("Too many attempts; wait a moment")
    if isinstance(exc, Forbidden):
        return N_("This account has no role in any region")
    return N_("Wrong username or password")


@router.post("/login")
def login(
    c: PublicConsoleDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    try:
        body = LoginIn(username=username.strip(), password=password)
        core_api.login(body, c.request, response, c.st)
    except (DomainError, ValidationError) as exc:
        status = exc.status if isinstance(exc, DomainError) else 400
        error = c._(_login_error(exc))
        return c.page("login.html", status_code=status, next=safe_next(next), error=error, username=username)
    return response


@router.post("/logout")
def logout(c: ConsoleDep) -> Response:
    response = RedirectResponse("/login", status_code=303)
    end_sessions(c.request, c.st)
    response.delete_cookie(COOKIE)
    return response


@router.post("/region")
def switch_region(c: ConsoleDep, region_id: Annotated[int, Form()]) -> Response:
    data = session_data(c.request, c.st)
    if data is None:
        raise InvalidInput(msg("no session"))
    scope = core.scope_for(c.s, c.me.user, region_id)
    region = next(r for r in c.me.regions if r.id == scope.region_id)
    response = c.done("/", c._("Now working in %(region)s", region=region.name))
    cookie = c.st.signer.dumps({**data, "region": scope.region_id})
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=c.st.settings.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=c.st.settings.env == "production",
    )
    return response


@router.get("/lang/{code}")
def set_language(code: str, next: str = "/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LOCALES:
        response.set_cookie(LANG_COOKIE, code, max_age=YEAR, samesite="lax")
    return response


@router.get("/theme/{name}")
def set_theme(name: str, next: str = "/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(THEME_COOKIE, "dark" if name == "dark" else "light", max_age=YEAR, samesite="lax")
    return response

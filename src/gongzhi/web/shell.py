"""The console shell: templates, navigation, the acting user, toasts, and how a page is answered.

A page handler asks for :data:`ConsoleDep` (a logged-in user with the request's region-scoped session, like
the API's ``SessionDep``) or :data:`PublicConsoleDep` (login and error pages), and returns
``console.page(template, **context)`` or ``console.done(url, message)`` after a change. Modules add their
templates with :func:`add_templates` and their menu entries with :func:`add_nav`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.core import service as core
from gongzhi.core.deps import CSRF_HEADER, REQUEST_UOW, SAFE_METHODS, AppState, StateDep, session_user
from gongzhi.core.models import Region, Role, User
from gongzhi.db import Scope, unit_of_work, utcnow, write_lock
from gongzhi.errors import Forbidden, msg, restored
from gongzhi.settings import Settings
from gongzhi.web import labels
from gongzhi.web.i18n import LANGUAGE_NAMES, LOCALES, N_, Lang, current, negotiate, translations

WEB = Path(__file__).parent
LANG_COOKIE = "gz_lang"
THEME_COOKIE = "gz_theme"
FLASH_COOKIE = "gz_flash"
CSRF_FIELD = "csrf_token"


# --- navigation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    icon: str
    roles: frozenset[str] | None = None  # None: every role

    def shown_to(self, role: str | None) -> bool:
        return self.roles is None or role in self.roles


WRITERS = frozenset({Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR, Role.HANDLER})
NAV: list[NavItem] = [
    NavItem("/", N_("Overview"), "◉"),
    NavItem("/alerts", N_("Alerts"), "⚠"),
    NavItem("/cases", N_("Cases"), "☰"),
    NavItem("/cases/board", N_("Board"), "▦"),
    NavItem("/cases/new", N_("New case"), "+", WRITERS),
    NavItem("/admin", N_("Administration"), "⚙", frozenset({Role.ADMIN, Role.SUPERVISOR})),
]


def add_nav(item: NavItem) -> None:
    if all(n.href != item.href for n in NAV):  # modules register once per app; tests build many apps
        NAV.insert(len(NAV) - 1, item)


@dataclass(frozen=True)
class DashboardCard:
    """A module's card on the overview: ``template`` is included with ``card`` = ``data(console)``."""

    template: str
    data: Callable[[Console], dict[str, Any]]


DASHBOARD: list[DashboardCard] = []


def add_dashboard_card(card: DashboardCard) -> None:
    if card.template not in {c.template for c in DASHBOARD}:
        DASHBOARD.append(card)


def _active(href: str, path: str) -> bool:
    if href == "/":
        return path == "/"
    longer = [n.href for n in NAV if n.href != href and n.href.startswith(href) and path.startswith(n.href)]
    return path.startswith(href) and not longer


# --- templates --------------------------------------------------------------------------------------


@pass_context
def _gettext(ctx: Context, message: str) -> str:
    return current.get().gettext(message)


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, n: int) -> str:
    return translations(current.get().code).ungettext(singular, plural, n)


def _label(group: str, value: str | None) -> str:
    return current.get().gettext(labels.label(group, value)) if value else ""


def _said(value: object) -> str:
    """A domain detail in the page's language: raised (a :func:`gongzhi.errors.msg`), or kept by
    :func:`gongzhi.errors.stored` in a JSON column or a report row."""
    if isinstance(value, BaseModel):  # a report row (``message``, ``template``, ``params``)
        value = value.model_dump()
    if isinstance(value, Mapping):
        value = restored(value)
    return labels.detail(current.get(), value if isinstance(value, str) else str(value))


def _relative(value: datetime | None) -> str:
    return "" if value is None else current.get().relative(value - utcnow())


@lru_cache(maxsize=256)
def _fingerprint(path: str) -> str:
    file = WEB / "static" / path
    return hashlib.sha256(file.read_bytes()).hexdigest()[:10] if file.is_file() else "0"


def static_url(path: str) -> str:
    return f"/static/{path}?v={_fingerprint(path)}"


def _json(value: Any) -> Markup:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))  # noqa: S704


def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(WEB / "templates")]),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(label=_label, static=static_url, quote=quote, category_keys=list(labels.CATEGORIES))
    env.filters.update(
        dt=lambda v, fmt="short": current.get().when(v, fmt),
        date=lambda v, fmt="short": current.get().on(v, fmt),
        num=lambda v: current.get().number(v),
        pct=lambda v: current.get().percent(v),
        rel=_relative,
        said=_said,
        tojson_safe=_json,
    )
    return env


templates = _environment()


def add_templates(directory: Path) -> None:
    """Let a module's own templates be found (they may extend ``base.html``)."""
    loader = templates.loader
    assert isinstance(loader, ChoiceLoader)
    known = {str(p) for fs in loader.loaders if isinstance(fs, FileSystemLoader) for p in fs.searchpath}
    if str(directory) not in known:
        loader.loaders = [*loader.loaders, FileSystemLoader(directory)]


def render(lang: Lang, name: str, context: dict[str, Any]) -> str:
    token = current.set(lang)
    try:
        return templates.get_template(name).render(context)
    finally:
        current.reset(token)


def public_templates(directory: Path) -> Jinja2Templates:
    """The own templates of a public page (no login, no console shell), translated like the console's.

    They keep their own environment: their ``base.html`` is not the console's, and they are written for
    Jinja's default (lenient) undefined.
    """
    pages = Jinja2Templates(directory=[directory, WEB / "templates" / "public"])  # + the language switch
    pages.env.add_extension("jinja2.ext.i18n")
    pages.env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    return pages


def public_page(
    pages: Jinja2Templates,
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    here: str,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a public page in the visitor's language (``gz_lang``); ``here`` is the GET page the
    language switch returns to (a refused POST is answered on another path)."""
    lang = lang_of(request)
    languages = [(code, LANGUAGE_NAMES[code]) for code in LOCALES]
    ctx = {"lang": lang, "languages": languages, "here": quote(here), **context}
    token = current.set(lang)  # Starlette renders in the response's constructor
    try:
        response = pages.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)
    finally:
        current.reset(token)
    response.headers["content-language"] = lang.html
    return response


def csp(settings: Settings) -> str:
    tiles = ""
    if settings.map_tile_url:
        parts = urlsplit(settings.map_tile_url.replace("{s}.", "*."))
        tiles = f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{tiles}; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    )


def secure(response: Response, settings: Settings) -> Response:
    response.headers["content-security-policy"] = csp(settings)
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["referrer-policy"] = "same-origin"
    return response


# --- who is looking ---------------------------------------------------------------------------------


@dataclass
class Viewer:
    user: User
    scope: Scope
    region: Region
    regions: list[Region]
    csrf: str

    @property
    def role(self) -> str:
        return self.scope.role or ""

    def can(self, *roles: str) -> bool:
        return self.role in roles


@dataclass
class Toast:
    message: str
    kind: str = "ok"  # ok | error | info


@dataclass
class Console:
    """What a console page needs: the request, the language, and (once logged in) the viewer and session."""

    request: Request
    st: AppState
    lang: Lang
    csrf: str = ""
    viewer: Viewer | None = None
    session: Session | None = None
    toasts: list[Toast] = field(default_factory=list)

    @property
    def request_session(self) -> Session | None:
        """The request's unit of work, which the route commits in the endpoint's thread."""
        return self.session

    @property
    def s(self) -> Session:
        assert self.session is not None, "this page has no database session"
        return self.session

    @property
    def me(self) -> Viewer:
        assert self.viewer is not None, "this page has no logged-in viewer"
        return self.viewer

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    @property
    def theme(self) -> str:
        return "dark" if self.request.cookies.get(THEME_COOKIE) == "dark" else "light"

    def _(self, message: str, **params: object) -> str:
        return self.lang.gettext(message, **params)

    def context(self, **extra: Any) -> dict[str, Any]:
        role = self.viewer.role if self.viewer else None
        path = self.request.url.path
        nav = [(n, _active(n.href, path)) for n in NAV if n.shown_to(role)] if self.viewer else []
        return {
            "c": self,
            "lang": self.lang,
            "languages": [(code, LANGUAGE_NAMES[code]) for code in LOCALES],
            "me": self.viewer,
            "csrf": self.csrf,
            "csrf_field": CSRF_FIELD,
            "nav": nav,
            "path": path,
            "here": quote(
                str(self.request.url.path) + ("?" + self.request.url.query if self.request.url.query else "")
            ),
            "theme": self.theme,
            "wall": False,
            "toasts": [*_read_flash(self.request), *self.toasts],
            "tile_url": self.st.settings.map_tile_url,
            "tile_attribution": self.st.settings.map_tile_attribution,
            **extra,
        }

    def page(self, name: str, status_code: int = 200, **extra: Any) -> Response:
        response = HTMLResponse(render(self.lang, name, self.context(**extra)), status_code=status_code)
        if self.request.cookies.get(FLASH_COOKIE):
            response.delete_cookie(FLASH_COOKIE)
        return secure(response, self.st.settings)

    def done(self, url: str, message: str = "", kind: str = "ok") -> Response:
        """Answer a successful change: a 303 to ``url`` carrying a toast for the next page."""
        response = RedirectResponse(url, status_code=303)
        if message:
            flash = json.dumps([[message, kind]], ensure_ascii=False).encode()
            response.set_cookie(FLASH_COOKIE, base64.urlsafe_b64encode(flash).decode(), max_age=60)
        return response


def _read_flash(request: Request) -> list[Toast]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        items = json.loads(base64.urlsafe_b64decode(raw.encode()))
        return [Toast(str(m)[:500], k if k in ("ok", "error", "info") else "info") for m, k in items[:5]]
    except (ValueError, TypeError):
        return []


def lang_of(request: Request) -> Lang:
    return Lang(negotiate(request.cookies.get(LANG_COOKIE)))


# --- dependencies -----------------------------------------------------------------------------------


async def form_token(request: Request) -> str | None:
    """The CSRF token of a plain HTML form post (HTMX sends the header instead)."""
    if request.method in SAFE_METHODS:
        return None
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else None


def viewer_of(request: Request, st: AppState, s: Session, token: str | None = None) -> Viewer:
    """Who the session cookie belongs to, in which region; checks the CSRF token of unsafe requests."""
    user, data = session_user(request, st, s)
    sid = data["sid"]
    sent = (request.headers.get(CSRF_HEADER), token)
    if request.method not in SAFE_METHODS and not any(st.signer.csrf_ok(sid, t) for t in sent):
        raise Forbidden(msg("missing or wrong CSRF token; reload the page and try again"))
    scope = core.scope_for(s, user, data.get("region"))
    ids = [m.region_id for m in core.memberships(s, user.id)]
    regions = list(s.execute(select(Region).where(Region.id.in_(ids)).order_by(Region.id)).scalars())
    region = next(r for r in regions if r.id == scope.region_id)
    return Viewer(user, scope, region, regions, st.signer.masked_csrf(sid))


def console(
    request: Request, st: StateDep, token: Annotated[str | None, Depends(form_token)]
) -> Iterator[Console]:
    """The logged-in console: the request's unit of work in the viewer's region scope."""
    with unit_of_work(st.factory, Scope.for_system()) as s:
        write_lock(s)
        viewer = viewer_of(request, st, s, token)
        s.commit()  # the page's own transaction is committed in its thread (deps.RequestTransactionRoute)
        s.info["scope"], s.info[REQUEST_UOW] = viewer.scope, True
        request.state.scope = viewer.scope
        yield Console(request, st, lang_of(request), viewer.csrf, viewer, s)


def public_console(request: Request, st: StateDep) -> Console:
    return Console(request, st, lang_of(request))


ConsoleDep = Annotated[Console, Depends(console, scope="function")]
PublicConsoleDep = Annotated[Console, Depends(public_console)]

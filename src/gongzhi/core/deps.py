"""FastAPI dependencies: the request's scoped session (which owns the transaction) and who is acting."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from gongzhi.core import service
from gongzhi.core.models import User
from gongzhi.core.security import SessionSigner
from gongzhi.db import Scope, read_only, unit_of_work, write_lock
from gongzhi.errors import Forbidden, InvalidInput, Unauthenticated, msg
from gongzhi.kit.filestore import FileStore
from gongzhi.kit.validation import parse_id
from gongzhi.registry import Registry
from gongzhi.settings import Settings

COOKIE = "gz_session"
CSRF_HEADER = "x-csrf-token"
REGION_HEADER = "x-gongzhi-region"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass
class AppState:
    settings: Settings
    factory: sessionmaker[Session]
    registry: Registry
    signer: SessionSigner
    store: FileStore


async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.gongzhi
    return state


StateDep = Annotated[AppState, Depends(app_state)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _requested_region(request: Request, cookie_region: int | None) -> int | None:
    raw = request.headers.get(REGION_HEADER)
    if raw is None:
        return cookie_region
    region = parse_id(raw)
    if region is None:
        raise InvalidInput(msg("%(header)s must be a region id", header=REGION_HEADER))
    return region


def session_data(request: Request, st: AppState) -> dict[str, Any] | None:
    raw = request.cookies.get(COOKIE)
    return st.signer.loads(raw, st.settings.session_max_age_s) if raw else None


def session_cookie(st: AppState, user: User, sid: str, region_id: int | None) -> str:
    """The signed session; ``ep`` ties it to the account's session epoch, which logout advances."""
    return st.signer.dumps({"uid": user.id, "sid": sid, "region": region_id, "ep": user.session_epoch})


def session_user(request: Request, st: AppState, s: Session) -> tuple[User, dict[str, Any]]:
    """The account behind the session cookie, for the API and the console alike."""
    data = session_data(request, st)
    if not data:
        raise Unauthenticated(msg("log in or send an API token"))
    user = s.get(User, int(data["uid"]))
    if user is None or not user.is_active or data.get("ep", 0) != user.session_epoch:
        raise Unauthenticated(msg("session ended; log in again"))
    return user, data


def scope_from_request(request: Request, st: AppState, s: Session) -> Scope:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return service.scope_for_token(s, auth[7:].strip())
    user, data = session_user(request, st, s)
    sent = request.headers.get(CSRF_HEADER, "")
    if request.method not in SAFE_METHODS and not st.signer.csrf_ok(data["sid"], sent):
        raise Forbidden(msg("missing or wrong CSRF token (send the X-CSRF-Token header)"))
    return service.scope_for(s, user, _requested_region(request, data.get("region")))


def end_sessions(request: Request, st: AppState) -> None:
    """Logout: advance the account's session epoch so every copy of its session cookie stops working."""
    with unit_of_work(st.factory, Scope.for_system()) as s:
        try:
            user, _ = session_user(request, st, s)
        except Unauthenticated:
            return
        user.session_epoch += 1


def scoped_session(request: Request, st: StateDep) -> Iterator[Session]:
    """The request's unit of work in the caller's scope.

    Who is calling is settled in a short read-only transaction of its own, committed at once (a token
    unused for five minutes is then marked used in a short write). The request's work then runs in a
    second transaction that the endpoint's own thread commits (see
    :class:`RequestTransactionRoute`), so no connection or SQLite lock is ever held while the request
    waits for a worker thread; that wait deadlocked the thread pool under load.
    """
    with unit_of_work(st.factory, Scope.for_system()) as s:
        try:
            scope = _settle_caller(request, st, s)
        except DBAPIError as exc:
            # The request's first statement met a connection that died while in steady use (the pool pings
            # only idle ones, see gongzhi.db._ping_when_idle); the pool has dropped it and its elders and
            # nothing was written, so settling the caller once more runs on a fresh connection.
            if not exc.connection_invalidated:
                raise
            s.rollback()
            scope = _settle_caller(request, st, s)
        s.info["scope"], s.info[REQUEST_UOW] = scope, True
        request.state.scope = scope
        yield s


def _settle_caller(request: Request, st: AppState, s: Session) -> Scope:
    read_only(s)  # on SQLite the check runs beside the writer instead of queueing for the lock
    scope = scope_from_request(request, st, s)
    s.commit()
    token_id = s.info.pop(service.TOKEN_TO_TOUCH, None)
    if token_id is not None:
        write_lock(s)
        service.touch_token(s, token_id)
        s.commit()
    return scope


def public_session(st: StateDep) -> Iterator[Session]:
    with unit_of_work(st.factory, Scope.for_system()) as s:
        s.info[REQUEST_UOW] = True
        yield s


REQUEST_UOW = "request_uow"
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def _request_sessions(values: dict[str, Any]) -> list[Session]:
    found = []
    for v in values.values():
        s = v if isinstance(v, Session) else getattr(v, "request_session", None)  # or a page holding one
        if isinstance(s, Session) and s.info.get(REQUEST_UOW):
            found.append(s)
    return found


def _committing(call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def run(**values: Any) -> Any:
        sessions = _request_sessions(values)
        try:
            result = call(**values)
            for s in sessions:
                s.commit()
        except BaseException:
            for s in sessions:
                s.rollback()
            raise
        return result

    run.commits_request = True  # type: ignore[attr-defined]
    return run


async def in_thread(s: Session, work: Callable[[], T]) -> T:
    """Run an async endpoint's unit of work in a worker thread and commit it there.

    An ``async def`` endpoint reads the upload or form on the event loop, then hands the synchronous
    database work (queries, service calls, commit) to this helper, so the loop never blocks on the database
    and the transaction ends in the thread that did the work, as in :class:`RequestTransactionRoute`.
    """

    def run() -> T:
        try:
            result = work()
            s.commit()
        except BaseException:
            s.rollback()
            raise
        return result

    return await run_in_threadpool(run)


LeanHandler = Callable[[Request], Awaitable[Response | None]]


def lean_twin(handler: LeanHandler) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Give an endpoint a lean twin (see :class:`RequestTransactionRoute`)."""

    def mark(endpoint: Callable[..., T]) -> Callable[..., T]:
        endpoint.lean_twin = handler  # type: ignore[attr-defined]
        return endpoint

    return mark


class RequestTransactionRoute(APIRoute):
    """Every gongzhi router uses this route class: a synchronous endpoint commits its request session in
    the worker thread it runs in. FastAPI runs a sync endpoint and the exit of a yield dependency in two
    separate thread calls; committing in the first means no transaction outlives the thread that did the
    work, so no connection or SQLite lock is held while a request waits for a thread.

    An endpoint marked with :func:`lean_twin` (the busiest write requests) is first offered to its twin,
    which parses a well-formed request itself, with the same models, and answers it; for anything else
    it returns None and FastAPI's own handler parses the request as usual, so errors (422, 400) and the
    OpenAPI schema stay FastAPI's. The twin skips the dependency solver and FastAPI's generic body and
    parameter handling, about a tenth of such a request's CPU."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        sync = not inspect.iscoroutinefunction(endpoint)
        if sync and not getattr(endpoint, "commits_request", False):
            endpoint = _committing(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        full = super().get_route_handler()
        lean: LeanHandler | None = getattr(self.endpoint, "lean_twin", None)

        async def handler(request: Request) -> Response:
            await _refuse_unstorable_json(request)
            if lean is not None and (response := await lean(request)) is not None:
                return response
            return await full(request)

        return handler


async def _refuse_unstorable_json(request: Request) -> None:
    """Refuse (400) a JSON body whose text holds a NUL character or an unpaired surrogate: JSON can spell
    both (``\\u0000``, ``\\ud800``) and Python reads them, but no database stores them (PostgreSQL refuses
    NUL in text and JSON, UTF-8 has no surrogates), nor can a response carry them back. Both need a ``\\u``
    escape, so a body without one is not parsed here."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return
    raw = await request.body()  # kept by the request: FastAPI's own parse reads it from there
    if b"\\u" not in raw:
        return
    try:
        body = json.loads(raw)
    except ValueError:
        return  # FastAPI says what is wrong with it
    if any("\x00" in text or (not text.isascii() and _has_surrogate(text)) for text in _texts(body)):
        raise InvalidInput(msg("the text holds a NUL character (U+0000) or an unpaired surrogate"))


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


async def json_body(request: Request, model: type[M]) -> M | None:
    """The request's JSON body validated as ``model`` (as FastAPI validates a body parameter), or None
    when the request is not plainly well-formed: another content type, no body, invalid JSON or values."""
    if request.headers.get("content-type") != "application/json":
        return None
    raw = await request.body()
    if not raw:
        return None
    try:
        return model.model_validate(json.loads(raw))
    except (ValueError, ValidationError):  # JSONDecodeError is a ValueError
        return None


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes commit in the endpoint's thread (see :class:`RequestTransactionRoute`)."""
    return APIRouter(route_class=RequestTransactionRoute, **kwargs)


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Add ``router``'s routes to ``app`` as they are.

    ``app.include_router`` (FastAPI 0.165) adds a lazy copy of them instead, which it builds for that app
    on the first request it routes: every route's dependencies and models again, about 0.35 s of CPU
    for gongzhi's routes (``bench/cases/first_request.py``), paid by each new app (each server process,
    each test) on its first request.
    gongzhi's routers are included with nothing of their own (no prefix, tags or dependencies at the
    inclusion): ``APIRouter`` has already applied the router's prefix, tags, dependencies and schema flag
    to each route as it was added, so the copy would be the same routes (the same OpenAPI document).
    A router with start-up or shut-down handlers, or routes FastAPI matches last, is refused: only
    ``include_router`` carries those."""
    if router.on_startup or router.on_shutdown or getattr(router, "_low_priority_routes", None):
        raise ValueError(f"add_routes adds routes alone; include a router with more: {router!r}")
    app.router.routes.extend(router.routes)


SessionDep = Annotated[Session, Depends(scoped_session, scope="function")]
PublicSessionDep = Annotated[Session, Depends(public_session, scope="function")]


async def current_scope(s: SessionDep) -> Scope:
    scope: Scope = s.info["scope"]
    return scope


CurrentScope = Annotated[Scope, Depends(current_scope)]

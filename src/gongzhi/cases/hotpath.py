"""The case write requests (create, and every action) in one thread hop and one transaction.

These are the requests people make all day, so they skip the general request machinery:

- **one transaction**: who is calling (bearer token or console session) is settled in the same
  transaction as the change, instead of a short read-only transaction of its own first; on SQLite that
  transaction is a writer from its first statement (``BEGIN IMMEDIATE``);
- **one thread hop**: the endpoint is ``async``; FastAPI parses the path, header and body on the event
  loop, and the whole unit of work (authenticate, apply the service, build the response, commit) runs
  in one call on a small executor of the session factory's own, so nothing is held between hops;
- **a bounded number of writer threads**: SQLite admits one writer at a time, so its executor has one
  thread and requests queue on the event loop rather than as dozens of threads that wake for the lock
  and fight over the GIL with the thread that holds it; PostgreSQL gets ``PG_WRITERS`` threads;
- **the response serialised once**: the case's fields as a dict, written by pydantic-core's serializer
  (same JSON as the ``CaseRead`` model, which stays in the OpenAPI schema via ``responses=``).

The rules are not repeated here: state machine, SLA clocks, timeline, audit, outbox and region
scoping are those of :mod:`gongzhi.cases.service` and :mod:`gongzhi.db`; this module only decides how a
request reaches them.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic_core import to_json
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.cases import service as cases
from gongzhi.cases.models import Case
from gongzhi.cases.schemas import ActionIn, CaseCreate, CaseRead
from gongzhi.cases.sla import Clock
from gongzhi.cases.statemachine import Action
from gongzhi.core import service as core
from gongzhi.core.deps import AppState, json_body, scope_from_request
from gongzhi.core.models import Role
from gongzhi.db import Scope, utcnow
from gongzhi.errors import InvalidInput, msg
from gongzhi.kit.privacy import mask_name, mask_phone
from gongzhi.kit.validation import parse_id

T = TypeVar("T")
PG_WRITERS = 2  # a fifth less server CPU per request than 4 threads, see bench/README.md (4th pass)
SEES_CONTACTS = frozenset({Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR})
MEDIA = "application/json"
CASE_FIELDS = tuple(f for f in CaseRead.model_fields if f in inspect(Case).column_attrs)
"""The case's own columns that ``CaseRead`` shows (the clocks and actions are computed)."""
_EXECUTORS: weakref.WeakKeyDictionary[sessionmaker[Session], ThreadPoolExecutor] = weakref.WeakKeyDictionary()


def _executor(factory: sessionmaker[Session]) -> ThreadPoolExecutor:
    ex = _EXECUTORS.get(factory)
    if ex is None:
        sqlite = factory.kw["bind"].dialect.name == "sqlite"
        ex = ThreadPoolExecutor(1 if sqlite else PG_WRITERS, thread_name_prefix="gongzhi-writer")
        _EXECUTORS[factory] = ex
    return ex


async def offload(factory: sessionmaker[Session], work: Callable[[], T]) -> T:
    """Run ``work`` on the factory's writer executor, in a copy of the caller's context."""
    ctx = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_executor(factory), ctx.run, work)


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_version(value: str | None) -> int | None:
    if value is None or value.strip() == "*":
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    version = parse_id(raw)
    if version is None:
        raise InvalidInput(msg('If-Match must be an ETag such as "3"'))
    return version


# --- the response -----------------------------------------------------------------------------------


def case_fields(s: Session, scope: Scope, case: Case, now: datetime | None = None) -> dict[str, Any]:
    """Everything ``CaseRead`` shows of a case, as plain values (contacts masked for roles that may not
    see them)."""
    now = now or utcnow()
    data = {f: getattr(case, f) for f in CASE_FIELDS}
    if case.reporter_anonymous:
        data["reporter_name"] = data["reporter_phone"] = ""
    elif scope.role not in SEES_CONTACTS:
        data["reporter_name"] = mask_name(case.reporter_name)
        data["reporter_phone"] = mask_phone(case.reporter_phone)
    claim, resolve = cases.clocks(case)
    fraction = cases.policy_for(s, case.region_id, case.category, case.priority).remind_fraction
    data["claim_clock"] = _clock(claim, now, fraction)
    data["resolve_clock"] = _clock(resolve, now, fraction)
    data["actions"] = cases.available_actions(s, scope, case)
    return data


def _clock(c: Clock, now: datetime, fraction: float) -> dict[str, Any]:
    status = c.status(now, fraction)
    return {
        "start": c.start,
        "due": c.due,
        "stopped": c.stopped,
        "status": status,
        "used": c.used_fraction(now),
    }


def _case_response(s: Session, scope: Scope, case: Case, status: int) -> Response:
    body = to_json(case_fields(s, scope, case))
    return Response(body, status_code=status, media_type=MEDIA, headers={"ETag": etag(case.version)})


# --- the unit of work -------------------------------------------------------------------------------


def _in_one_transaction(
    st: AppState, request: Request, work: Callable[[Session, Scope], Response]
) -> Response:
    """Authenticate, do the work and commit in one transaction (rolled back on any error). A database
    connection found dead before the commit began (the pool pings only idle connections, see
    :func:`gongzhi.db._ping_when_idle`) has committed nothing, so the unit of work runs once more on a
    fresh one; a failure during the commit is not retried (its outcome is unknown)."""
    try:
        return _attempt(st, request, work)
    except DBAPIError as exc:
        if not exc.connection_invalidated or getattr(exc, _IN_COMMIT, False):
            raise
    return _attempt(st, request, work)


_IN_COMMIT = "_gongzhi_in_commit"


def _attempt(st: AppState, request: Request, work: Callable[[Session, Scope], Response]) -> Response:
    with st.factory() as s:
        s.info["scope"] = Scope.for_system()
        try:
            scope = scope_from_request(request, st, s)
            token_id = s.info.pop(core.TOKEN_TO_TOUCH, None)
            if token_id is not None:
                core.touch_token(s, token_id)
            s.info["scope"] = scope
            response = work(s, scope)
        except BaseException:
            s.rollback()
            raise
        try:
            s.commit()
        except BaseException as exc:
            setattr(exc, _IN_COMMIT, True)
            s.rollback()
            raise
    request.state.scope = scope
    return response


# --- lean twins of the endpoints (see gongzhi.core.deps.RequestTransactionRoute) ----------------------

_ACTIONS = {a.value: a for a in Action}


async def lean_create(request: Request) -> Response | None:
    body = await json_body(request, CaseCreate)
    return None if body is None else await create(request, body)


async def lean_act(request: Request) -> Response | None:
    """``POST /cases/{case_id}/actions/{action}`` when the id is plain digits, the action is one of
    :class:`Action` and the body is a valid ``ActionIn``; anything else goes to FastAPI's handler."""
    raw_id, action = (
        request.path_params.get("case_id", ""),
        _ACTIONS.get(request.path_params.get("action", "")),
    )
    if action is None or not (raw_id.isascii() and raw_id.isdigit()):
        return None
    body = await json_body(request, ActionIn)
    if body is None:
        return None
    return await act(request, int(raw_id), action, body, request.headers.get("if-match"))


async def create(request: Request, body: CaseCreate) -> Response:
    st: AppState = request.app.state.gongzhi

    def work(s: Session, scope: Scope) -> Response:
        case = cases.create_case(s, st.registry, body)
        s.flush()
        return _case_response(s, scope, case, 201)

    return await offload(st.factory, lambda: _in_one_transaction(st, request, work))


async def act(
    request: Request, case_id: int, action: Action, body: ActionIn, if_match: str | None
) -> Response:
    st: AppState = request.app.state.gongzhi
    version = if_match_version(if_match)

    def work(s: Session, scope: Scope) -> Response:
        case = cases.apply(s, st.registry, case_id, action, body, if_match=version)
        s.flush()
        return _case_response(s, scope, case, 200)

    return await offload(st.factory, lambda: _in_one_transaction(st, request, work))

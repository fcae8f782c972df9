"""Use cases of the loop: cases (work orders) through their lifecycle, with SLA, audit and outbox."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, insert, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from gongzhi.cases.models import Actor, CalendarOverride, Case, CaseEvent, CaseFile, DispatchRule, SlaPolicy
from gongzhi.cases.schemas import ActionIn, CaseCreate
from gongzhi.cases.sla import DEFAULT, Clock, Policy
from gongzhi.cases.statemachine import (
    OPEN_WORK,
    Action,
    ReturnReason,
    State,
    actions_for,
    allowed,
    follow_up_outcome,
    verify_outcome,
)
from gongzhi.core import audit, outbox, regioncache
from gongzhi.core.counters import next_value
from gongzhi.core.models import GridCell, Membership, Region, Role
from gongzhi.core.service import are_paired
from gongzhi.db import Scope, scope_of, table_of, utcnow
from gongzhi.errors import Forbidden, IllegalTransition, InvalidInput, NotFound, StaleWrite, msg
from gongzhi.kit import geo
from gongzhi.kit.filestore import display_name
from gongzhi.kit.workdays import SHANGHAI, WorkCalendar
from gongzhi.registry import Registry

UNSCOPED = {"unscoped": True}
regioncache.watch(SlaPolicy, CalendarOverride, DispatchRule, Actor)
T = TypeVar("T")


# --- lookups ----------------------------------------------------------------------------------------


def _memo(s: Session, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """Remember a lookup for the rest of the session's unit of work (configuration does not change
    mid-request; a request reads the SLA policy and the handler check several times)."""
    memo: dict[tuple[Any, ...], Any] = s.info.setdefault("memo", {})
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[no-any-return]


def calendar_for(s: Session, region_id: int) -> WorkCalendar:
    return regioncache.cached(s, region_id, "calendar", lambda: _calendar(s, region_id))


def _calendar(s: Session, region_id: int) -> WorkCalendar:
    stmt = select(CalendarOverride.day, CalendarOverride.is_workday).where(
        CalendarOverride.region_id == region_id
    )
    return WorkCalendar(overrides=dict(s.execute(stmt, execution_options=UNSCOPED).all()))


def policy_for(s: Session, region_id: int, category: str, priority: str) -> Policy:
    matrix = regioncache.cached(s, region_id, "sla", lambda: _sla_matrix(s, region_id))
    cells = [c for c in matrix if c[0] in (category, "*") and c[1] in (priority, "*")]
    if not cells:
        return DEFAULT
    return min(cells, key=lambda c: (c[0] == "*", c[1] == "*"))[2]


def _sla_matrix(s: Session, region_id: int) -> list[tuple[str, str, Policy]]:
    rows = s.execute(
        select(SlaPolicy).where(SlaPolicy.region_id == region_id), execution_options=UNSCOPED
    ).scalars()
    return [
        (
            p.category,
            p.priority,
            Policy(
                p.claim_amount,
                p.claim_unit,
                p.resolve_amount,
                p.resolve_unit,
                p.remind_fraction,
                p.escalate_after_working_days,
            ),
        )
        for p in rows
    ]


@dataclass(frozen=True)
class ActorInfo:
    """What the hot path needs of an actor, cached per region (see ``gongzhi.core.regioncache``)."""

    id: int
    region_id: int
    name: str
    adapter: str
    active: bool
    shared_with_pairs: bool
    user_id: int | None
    department_id: int | None


def actors_of(s: Session, region_id: int) -> dict[int, ActorInfo]:
    return regioncache.cached(s, region_id, "actors", lambda: _actors(s, region_id))


def _actors(s: Session, region_id: int) -> dict[int, ActorInfo]:
    rows = s.execute(select(Actor).where(Actor.region_id == region_id), execution_options=UNSCOPED)
    return {a.id: _actor_info(a) for a in rows.scalars()}


def _actor_info(a: Actor) -> ActorInfo:
    return ActorInfo(
        a.id, a.region_id, a.name, a.adapter, a.active, a.shared_with_pairs, a.user_id, a.department_id
    )


def _departments(s: Session, region_id: int) -> dict[int, int | None]:
    """user id → department id of the region's members."""
    stmt = select(Membership.user_id, Membership.department_id).where(Membership.region_id == region_id)
    return {user: dept for user, dept in s.execute(stmt, execution_options=UNSCOPED)}


_CASE_BY_ID = select(Case).where(Case.id == bindparam("case_id"))  # built once; scoped per execution


def get_case(s: Session, case_id: int) -> Case:
    case = s.execute(_CASE_BY_ID, {"case_id": case_id}).scalar_one_or_none()
    if case is None:
        raise NotFound(msg("no case %(case_id)s", case_id=case_id))
    return case


def grid_cell_at(s: Session, region_id: int, location: dict[str, Any] | None) -> int | None:
    if location is None:
        return None
    lon, lat = geo.validate_point(location)
    cells = s.execute(select(GridCell).where(GridCell.region_id == region_id), execution_options=UNSCOPED)
    return next((c.id for c in cells.scalars() if geo.contains(c.geometry, lon, lat)), None)


# --- creation ---------------------------------------------------------------------------------------


def create_case(
    s: Session,
    registry: Registry,
    data: CaseCreate,
    *,
    region_id: int | None = None,
    now: datetime | None = None,
) -> Case:
    sc = scope_of(s)
    if not sc.system:
        _require(sc, Role.DISPATCHER, Role.ADMIN, Role.SUPERVISOR, Role.HANDLER)
    rid = sc.region_id if region_id is None or not sc.system else region_id
    if rid is None:
        raise InvalidInput(msg("a region is required"))
    now = now or utcnow()
    region = s.get_one(Region, rid)
    fields = data.model_dump(exclude={"accept"})
    case = Case(
        region_id=rid,
        number=_case_number(s, region, now),
        tracking_code=secrets.token_hex(8),
        state=State.SUBMITTED,
        grid_cell_id=grid_cell_at(s, rid, data.location),
        created_by=sc.user_id,
        created_at=now,
        updated_at=now,
        **fields,
    )
    s.add(case)
    s.flush()
    _event(s, case, "create", None, State.SUBMITTED, data.title, {"source": data.source}, now)
    _publish(s, registry, case, "case.created", now)
    if data.accept:
        apply_to(s, registry, case, Action.ACCEPT, ActionIn(), now=now)
    return case


def _case_number(s: Session, region: Region, now: datetime) -> str:
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    return f"{region.case_prefix}{day}{next_value(s, region.id, 'case:' + day):05d}"


# --- transitions ------------------------------------------------------------------------------------


@dataclass
class Ctx:
    s: Session
    registry: Registry
    sc: Scope
    case: Case
    action: Action
    data: ActionIn
    now: datetime


def apply(
    s: Session,
    registry: Registry,
    case_id: int,
    action: Action,
    data: ActionIn,
    *,
    if_match: int | None = None,
    now: datetime | None = None,
) -> Case:
    """Apply one action to a case: check state, role and preconditions, then write timeline, audit, outbox."""
    return apply_to(s, registry, get_case(s, case_id), action, data, if_match=if_match, now=now)


def apply_to(
    s: Session,
    registry: Registry,
    case: Case,
    action: Action,
    data: ActionIn,
    *,
    if_match: int | None = None,
    now: datetime | None = None,
) -> Case:
    """:func:`apply` to a case already loaded in this session's scope."""
    sc = scope_of(s)
    if if_match is not None and if_match != case.version:
        raise StaleWrite(
            msg(
                "case %(number)s is at version %(version)s, you sent %(if_match)s; reload it",
                number=case.number,
                version=case.version,
                if_match=if_match,
            )
        )
    before = State(case.state)
    if not allowed(action, before, sc.role, system=sc.system):
        raise IllegalTransition(
            msg(
                "cannot %(action)s a case that is %(state)s as %(role)s",
                action=action.value,
                state=before.value,
                role=sc.role or "nobody",
            ),
            state=before.value,
            action=action.value,
        )
    ctx = Ctx(s, registry, sc, case, action, data, now or utcnow())
    after, extra = HANDLERS[action](ctx)
    case.state, case.updated_at = after, ctx.now
    files = _files_to_link(s, case, data.files)
    entry = _event_row(s, case, action.value, before, after, data.note, extra, ctx.now, data.files)
    along = (_INSERT_EVENT_ALONG, {f"timeline_{k}": v for k, v in entry.items()})
    ev_id = _publish(
        s, registry, case, f"case.{action.value}", ctx.now, {"from": before.value, **extra}, along
    )
    for f in files:
        f.event_id = f.event_id or ev_id
    write_case(s, case)
    return case


_CASES = table_of(Case)
_CASE_COLUMNS = frozenset(_CASES.c.keys())
# built once: the SET clause comes from the parameters' column names (SQLAlchemy compiles and caches one
# form per set of changed columns), so no statement is constructed and keyed per request
_WRITE_CASE = update(_CASES).where(
    _CASES.c.id == bindparam("case_id"), _CASES.c.version == bindparam("loaded")
)


def write_case(s: Session, case: Case) -> None:
    """Write a loaded case's changed columns now, with one UPDATE guarded by its version (the ORM's
    optimistic lock, without a unit-of-work flush); a concurrent change is a :class:`StaleWrite`. The
    case is then clean, as after a flush. A case not yet in the database, or with changes other than
    columns, is left to the session's flush."""
    state = inspect(case)
    changed = set(state.committed_state)
    if not state.persistent or not changed or not changed <= _CASE_COLUMNS or "version" in changed:
        return
    version = case.version
    values = {k: getattr(case, k) for k in sorted(changed)} | {"version": version + 1}
    params = {**values, "case_id": case.id, "loaded": version}
    if s.connection().execute(_WRITE_CASE, params).rowcount != 1:
        raise StaleWrite(
            msg(
                "case %(number)s changed at the same moment in another request; reload it", number=case.number
            )
        )
    set_committed_value(case, "version", version + 1)
    # every change is written: mark the case clean as a flush would, or the request's flush and the
    # commit's would each run the unit of work over it only to find nothing to write
    state._commit_all(state.dict, s.identity_map)


Outcome = tuple[State, dict[str, Any]]


def _accept(c: Ctx) -> Outcome:
    return State.ACCEPTED, {}


def _reject(c: Ctx) -> Outcome:
    _need(c.data.note, msg("a rejection needs a reason in note"))
    return State.REJECTED, {}


def _merge(c: Ctx) -> Outcome:
    if c.data.target_case_id is None or c.data.target_case_id == c.case.id:
        raise InvalidInput(msg("merge needs target_case_id of another case"))
    target = get_case(c.s, c.data.target_case_id)
    if target.region_id != c.case.region_id or target.state in (State.MERGED, State.REJECTED):
        raise IllegalTransition(msg("a case merges only into a live case of the same region"))
    c.case.merged_into_id = target.id
    _event(c.s, target, "merged_in", None, None, c.case.number, {"case_id": c.case.id}, c.now)
    return State.MERGED, {"into": target.id}


def _dispatch(c: Ctx) -> Outcome:
    actor = _choose_actor(c)
    if c.case.state == State.RETURNED and not c.data.final and actor.id == _returned_by(c.s, c.case.id):
        raise InvalidInput(
            msg("re-dispatching to the actor who returned it needs a final ruling (final=true)")
        )
    cal = calendar_for(c.s, c.case.region_id)
    pol = policy_for(c.s, c.case.region_id, c.case.category, c.case.priority)
    c.case.actor_id, c.case.assignee_user_id = actor.id, None
    c.case.handling_region_id = actor.region_id if actor.region_id != c.case.region_id else None
    c.case.dispatched_at, c.case.claimed_at = c.now, None
    c.case.claim_due = cal.deadline(c.now, pol.claim_amount, pol.claim_unit)  # type: ignore[arg-type]
    c.case.resolve_due, c.case.reminded_claim, c.case.escalation_level = None, False, 0
    c.case.final_ruling = c.case.final_ruling or c.data.final
    return State.DISPATCHED, {
        "actor_id": actor.id,
        "actor": actor.name,
        "adapter": actor.adapter,
        "final": c.data.final,
        "claim_due": c.case.claim_due.isoformat(),
    }


def _returned_by(s: Session, case_id: int) -> int | None:
    stmt = select(CaseEvent.data).where(CaseEvent.case_id == case_id, CaseEvent.action == Action.RETURN)
    last = s.execute(stmt.order_by(CaseEvent.id.desc()).limit(1)).scalar_one_or_none()
    return None if last is None else last.get("returned_by_actor")


def _choose_actor(c: Ctx) -> ActorInfo:
    actor_id = c.data.actor_id or suggest_actor(c.s, c.case)
    if actor_id is None:
        raise InvalidInput(msg("no dispatch rule matches this case; choose an actor_id"))
    actor = actors_of(c.s, c.case.region_id).get(actor_id)
    if actor is None:  # another region's actor, reachable only along a pairing
        row = c.s.execute(
            select(Actor).where(Actor.id == actor_id), execution_options=UNSCOPED
        ).scalar_one_or_none()
        actor = None if row is None else _actor_info(row)
    if actor is None or not actor.active:
        raise NotFound(msg("no active actor %(actor_id)s", actor_id=actor_id))
    if actor.region_id != c.case.region_id and not (
        actor.shared_with_pairs and are_paired(c.s, c.case.region_id, actor.region_id)
    ):
        raise NotFound(
            msg("no active actor %(actor_id)s", actor_id=actor_id)
        )  # never reveal another region's actors
    return actor


def suggest_actor(s: Session, case: Case) -> int | None:
    rules = regioncache.cached(s, case.region_id, "rules", lambda: _rules(s, case.region_id))
    for category, cell, actor_id in rules:
        if category not in (None, case.category):
            continue
        if cell not in (None, case.grid_cell_id):
            continue
        return actor_id
    return None


def _rules(s: Session, region_id: int) -> list[tuple[str | None, int | None, int]]:
    stmt = (
        select(DispatchRule.category, DispatchRule.grid_cell_id, DispatchRule.actor_id)
        .where(DispatchRule.region_id == region_id)
        .order_by(DispatchRule.position, DispatchRule.id)
    )
    return [tuple(r) for r in s.execute(stmt, execution_options=UNSCOPED)]  # type: ignore[misc]


def _claim(c: Ctx) -> Outcome:
    _check_handler(c)
    cal = calendar_for(c.s, c.case.region_id)
    pol = policy_for(c.s, c.case.region_id, c.case.category, c.case.priority)
    c.case.claimed_at, c.case.assignee_user_id = c.now, c.sc.user_id
    c.case.resolve_due = cal.deadline(c.now, pol.resolve_amount, pol.resolve_unit)  # type: ignore[arg-type]
    c.case.reminded_resolve, c.case.escalation_level = False, 0
    return State.CLAIMED, {"resolve_due": c.case.resolve_due.isoformat()}


def _return(c: Ctx) -> Outcome:
    _check_handler(c)
    if c.case.final_ruling:
        raise IllegalTransition(msg("this case was assigned by final ruling (终审) and cannot be returned"))
    try:
        reason = ReturnReason(c.data.reason or "")
    except ValueError as exc:
        raise InvalidInput(
            msg("return needs a reason: one of %(reasons)s", reasons=", ".join(ReturnReason))
        ) from exc
    if reason == ReturnReason.OTHER:
        _need(c.data.note, msg("reason 'other' needs an explanation in note"))
    returned_by = c.case.actor_id
    c.case.actor_id = c.case.assignee_user_id = c.case.handling_region_id = None
    c.case.claim_due = c.case.resolve_due = None
    c.case.return_count += 1
    return State.RETURNED, {"reason": reason.value, "returned_by_actor": returned_by}


def _start(c: Ctx) -> Outcome:
    _check_assignee(c)
    return State.IN_PROGRESS, {}


def _resolve(c: Ctx) -> Outcome:
    _check_assignee(c)
    if not c.data.note.strip() and not c.data.files:
        raise InvalidInput(msg("a resolution (回单) needs evidence: a note, files, or both"))
    c.case.resolved_at = c.now
    return State.RESOLVED, {}


def _verify(c: Ctx) -> Outcome:
    if c.data.passed is None:
        raise InvalidInput(msg("verify needs passed=true or passed=false"))
    if not c.data.passed:
        _need(c.data.note, msg("a failed verification needs a note saying what is missing"))
        c.case.resolved_at = None
    return verify_outcome(c.data.passed), {"passed": c.data.passed}


def _close(c: Ctx) -> Outcome:
    c.case.closed_at, c.case.rating = c.now, None
    return State.CLOSED, {}


def _follow_up(c: Ctx) -> Outcome:
    if c.data.satisfied is None or c.data.rating is None:
        raise InvalidInput(msg("a follow-up (回访) needs rating 1–5 and satisfied true/false"))
    if c.case.rating is not None:
        raise IllegalTransition(msg("this closure has been rated already"))
    c.case.rating = c.data.rating
    after = follow_up_outcome(c.data.satisfied)
    if after == State.REOPENED:
        c.case.reopen_count += 1
        c.case.actor_id = c.case.assignee_user_id = c.case.handling_region_id = None
        c.case.claim_due = c.case.resolve_due = c.case.closed_at = c.case.resolved_at = None
    return after, {"rating": c.data.rating, "satisfied": c.data.satisfied}


def _request_extension(c: Ctx) -> Outcome:
    _check_assignee(c)
    due = c.case.resolve_due
    if c.data.until is None or due is None or c.data.until <= due:
        raise InvalidInput(msg("an extension needs 'until', later than the current deadline"))
    if c.now >= due:
        raise IllegalTransition(msg("an extension (延期) must be requested before the deadline"))
    _need(c.data.note, msg("an extension request needs a reason in note"))
    c.case.extension_until, c.case.extension_reason = c.data.until, c.data.note
    return State(c.case.state), {"until": c.data.until.isoformat()}


def _decide_extension(c: Ctx) -> Outcome:
    if c.case.extension_until is None or c.data.approve is None:
        raise InvalidInput(msg("no extension is pending, or 'approve' is missing"))
    assert c.case.resolve_due is not None
    if c.data.approve and c.now >= c.case.resolve_due:
        raise IllegalTransition(msg("an extension must be approved before the deadline it extends"))
    until = c.case.extension_until
    if c.data.approve:
        c.case.resolve_due, c.case.reminded_resolve, c.case.escalation_level = until, False, 0
    c.case.extension_until = None
    return State(c.case.state), {"approved": c.data.approve, "until": until.isoformat()}


def _comment(c: Ctx) -> Outcome:
    _need(c.data.note or ("x" if c.data.files else ""), msg("a comment needs a note or files"))
    return State(c.case.state), {}


HANDLERS = {
    Action.ACCEPT: _accept,
    Action.REJECT: _reject,
    Action.MERGE: _merge,
    Action.DISPATCH: _dispatch,
    Action.CLAIM: _claim,
    Action.RETURN: _return,
    Action.START: _start,
    Action.RESOLVE: _resolve,
    Action.VERIFY: _verify,
    Action.CLOSE: _close,
    Action.FOLLOW_UP: _follow_up,
    Action.REQUEST_EXTENSION: _request_extension,
    Action.DECIDE_EXTENSION: _decide_extension,
    Action.COMMENT: _comment,
}


# --- who may handle ---------------------------------------------------------------------------------


def can_handle(s: Session, sc: Scope, case: Case) -> bool:
    """Whether the acting user belongs to the actor the case is dispatched to."""
    if sc.system:
        return True
    if case.actor_id is None or sc.role != Role.HANDLER:
        return False
    return _memo(s, ("handles", case.actor_id, sc.user_id, sc.region_id), lambda: _belongs(s, sc, case))


def _belongs(s: Session, sc: Scope, case: Case) -> bool:
    assert sc.region_id is not None and case.actor_id is not None
    actor = actors_of(s, sc.region_id).get(case.actor_id)
    if actor is None:  # dispatched to another region's actor
        return False
    if actor.user_id is not None:
        return actor.user_id == sc.user_id
    if actor.department_id is not None:
        departments = regioncache.cached(
            s, sc.region_id, "departments", lambda: _departments(s, actor.region_id)
        )
        return departments.get(sc.user_id or 0) == actor.department_id
    return True


def _check_handler(c: Ctx) -> None:
    if not can_handle(c.s, c.sc, c.case):
        raise Forbidden(msg("this case is dispatched to another actor"))


def _check_assignee(c: Ctx) -> None:
    _check_handler(c)
    if not c.sc.system and c.case.assignee_user_id not in (None, c.sc.user_id):
        raise Forbidden(msg("this case was claimed by a colleague"))


def available_actions(s: Session, sc: Scope, case: Case) -> list[str]:
    acts = actions_for(State(case.state), sc.role)
    if sc.role == Role.HANDLER and not can_handle(s, sc, case):
        acts = [a for a in acts if a == Action.COMMENT]
    return [a.value for a in acts]


# --- timeline, files, outbox ------------------------------------------------------------------------


def _need(value: str, message: str) -> None:
    if not value.strip():
        raise InvalidInput(message)


def _require(sc: Scope, *roles: str) -> None:
    if sc.role not in roles:
        raise Forbidden(msg("this action needs one of the roles: %(roles)s", roles=", ".join(roles)))


def _event(
    s: Session,
    case: Case,
    action: str,
    before: State | None,
    after: State | None,
    note: str,
    data: dict[str, Any],
    now: datetime,
    files: Sequence[str] = (),
) -> int:
    """Append a timeline entry (a plain INSERT on the session's connection: the entry is never read back
    or changed in the request) and its audit link; returns the entry's id."""
    row = _event_row(s, case, action, before, after, note, data, now, files)
    event_id: int = s.connection().execute(_INSERT_EVENT, row).scalar_one()
    return event_id


def _event_row(
    s: Session,
    case: Case,
    action: str,
    before: State | None,
    after: State | None,
    note: str,
    data: dict[str, Any],
    now: datetime,
    files: Sequence[str] = (),
) -> dict[str, Any]:
    """A timeline entry's row, its audit link recorded (see :func:`_event`)."""
    sc = scope_of(s)
    row = {
        "region_id": case.region_id,
        "case_id": case.id,
        "at": now,
        "actor_user_id": sc.user_id,
        "actor_name": sc.username,
        "action": action,
        "from_state": before,
        "to_state": after,
        "note": note,
        "data": {**data, "files": list(files)} if files else data,
    }
    audit.record(
        s,
        region_id=case.region_id,
        action=f"case.{action}",
        object_type="case",
        object_id=case.id,
        actor=sc.username,
        actor_user_id=sc.user_id,
        at=now,
        data={"from": before and before.value, "to": after and after.value, "note": note[:500], **data},
    )
    return row


_EVENTS = table_of(CaseEvent)
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)
_EVENT_COLUMNS = [c.key for c in _EVENTS.c if c.key != "id"]
# a transition's timeline entry goes with its outbox event (one statement on PostgreSQL): parameters
# named ``timeline_*``, none of them a column of either table
_INSERT_EVENT_ALONG = (
    insert(_EVENTS).values({c: bindparam(f"timeline_{c}") for c in _EVENT_COLUMNS}).returning(_EVENTS.c.id)
)


def record_event(
    s: Session, case: Case, action: str, note: str = "", data: dict[str, Any] | None = None
) -> int:
    """A timeline entry that does not change state (reminders, deliveries, robot progress); its id."""
    return _event(s, case, action, None, None, note, data or {}, utcnow())


def _files_to_link(s: Session, case: Case, shas: Sequence[str]) -> list[CaseFile]:
    """The case's uploaded files named by an action (refused if any is missing)."""
    if not shas:
        return []
    files = s.execute(
        select(CaseFile).where(CaseFile.case_id == case.id, CaseFile.sha256.in_(shas))
    ).scalars()
    found = {f.sha256: f for f in files}
    missing = [h for h in shas if h not in found]
    if missing:
        raise InvalidInput(
            msg("files not uploaded to this case: %(files)s", files=", ".join(h[:12] for h in missing))
        )
    return list(found.values())


def _publish(
    s: Session,
    registry: Registry,
    case: Case,
    topic: str,
    now: datetime,
    extra: dict[str, Any] | None = None,
    along: outbox.Along | None = None,
) -> int | None:
    payload = {
        "case_id": case.id,
        "number": case.number,
        "state": case.state,
        "category": case.category,
        "priority": case.priority,
        "actor_id": case.actor_id,
        "at": now.isoformat(),
        **(extra or {}),
    }
    return outbox.publish(s, registry, case.region_id, topic, payload, along)


def check_can_attach(s: Session, case_id: int) -> Case:
    """Refuse before any bytes are read: the case must be visible and the caller allowed to add evidence."""
    case = get_case(s, case_id)
    if scope_of(s).role == Role.VIEWER:
        raise Forbidden(msg("viewers cannot upload evidence"))
    return case


def add_file(s: Session, case_id: int, sha256: str, filename: str, content_type: str, size: int) -> CaseFile:
    sc = scope_of(s)
    case = check_can_attach(s, case_id)
    f = CaseFile(
        region_id=case.region_id,
        case_id=case.id,
        sha256=sha256,
        filename=display_name(filename) or sha256,
        content_type=content_type,
        size=size,
        uploaded_by=sc.user_id,
    )
    s.add(f)
    s.flush()
    audit.record(
        s,
        region_id=case.region_id,
        action="case.file",
        object_type="case",
        object_id=case.id,
        actor=sc.username,
        actor_user_id=sc.user_id,
        data={"sha256": sha256, "filename": filename},
    )
    return f


def timeline(s: Session, case_id: int) -> list[CaseEvent]:
    get_case(s, case_id)
    stmt = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    return list(s.execute(stmt).scalars())


def files_of(s: Session, case_id: int) -> list[CaseFile]:
    get_case(s, case_id)
    return list(
        s.execute(select(CaseFile).where(CaseFile.case_id == case_id).order_by(CaseFile.id)).scalars()
    )


# --- lists ------------------------------------------------------------------------------------------

SORTABLE = {"created_at", "updated_at", "priority", "state", "claim_due", "resolve_due", "number", "id"}


@dataclass(frozen=True)
class CaseFilter:
    state: Sequence[str] = ()
    category: str | None = None
    priority: str | None = None
    actor_id: int | None = None
    grid_cell_id: int | None = None
    overdue: bool | None = None
    q: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    sort: str = "-created_at"


def _filters(f: CaseFilter, now: datetime) -> list[Any]:
    where: list[Any] = []
    if f.state:
        where.append(Case.state.in_(f.state))
    for col, val in (
        (Case.category, f.category),
        (Case.priority, f.priority),
        (Case.actor_id, f.actor_id),
        (Case.grid_cell_id, f.grid_cell_id),
    ):
        if val is not None:
            where.append(col == val)
    if f.q:
        like = f"%{f.q}%"
        where.append(Case.title.ilike(like) | Case.number.ilike(like) | Case.address.ilike(like))
    if f.created_from:
        where.append(Case.created_at >= f.created_from)
    if f.created_to:
        where.append(Case.created_at < f.created_to)
    if f.overdue is not None:
        where.append(overdue_clause(now) if f.overdue else ~overdue_clause(now))
    return where


def overdue_clause(now: datetime) -> Any:
    claim_late = (Case.state == State.DISPATCHED) & (Case.claim_due < now)
    resolve_late = Case.state.in_([State.CLAIMED, State.IN_PROGRESS]) & (Case.resolve_due < now)
    return claim_late | resolve_late


def list_cases(
    s: Session, f: CaseFilter, page: int = 1, page_size: int = 50, now: datetime | None = None
) -> tuple[list[Case], int]:
    where = _filters(f, now or utcnow())
    # count over the entity itself, never over a subquery: region scoping applies to statement entities
    total = s.execute(select(func.count(Case.id)).where(*where)).scalar_one()
    key = f.sort.lstrip("-")
    if key not in SORTABLE:
        raise InvalidInput(
            msg("cannot sort by %(key)r; choose one of %(keys)s", key=key, keys=", ".join(sorted(SORTABLE)))
        )
    col = getattr(Case, key)
    stmt = (
        select(Case)
        .where(*where)
        .order_by(col.desc() if f.sort.startswith("-") else col.asc(), Case.id.desc())
    )
    rows = s.execute(stmt.offset((page - 1) * page_size).limit(page_size)).scalars().all()
    return list(rows), total


# --- SLA views and sweep ----------------------------------------------------------------------------


def clocks(case: Case) -> tuple[Clock, Clock]:
    claim = Clock(case.dispatched_at, case.claim_due, case.claimed_at)
    resolve = Clock(case.claimed_at, case.resolve_due, case.resolved_at)
    return claim, resolve


def is_open_work(case: Case) -> bool:
    return State(case.state) in OPEN_WORK

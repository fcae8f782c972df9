"""The case (work order) lifecycle as a transition table: which action, from which states, by which roles.

submitted → accepted (or rejected, or merged) → dispatched (派单) → claimed (签收) → in_progress →
resolved (回单) → verified (核查) → closed (办结). Returned (退单) goes back to the dispatcher, who
re-dispatches or rules finally (终审). A follow-up (回访) that is unsatisfied reopens a closed case.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gongzhi.core.models import Role


class State(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MERGED = "merged"
    DISPATCHED = "dispatched"
    CLAIMED = "claimed"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    CLOSED = "closed"
    RETURNED = "returned"
    REOPENED = "reopened"


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    MERGE = "merge"
    DISPATCH = "dispatch"
    CLAIM = "claim"
    RETURN = "return"
    START = "start"
    RESOLVE = "resolve"
    VERIFY = "verify"
    CLOSE = "close"
    FOLLOW_UP = "follow_up"
    REQUEST_EXTENSION = "request_extension"
    DECIDE_EXTENSION = "decide_extension"
    COMMENT = "comment"


class ReturnReason(StrEnum):
    NOT_OUR_TERRITORY = "not_our_territory"  # 属地不符
    UNCLEAR_OWNERSHIP = "unclear_ownership"  # 权属不清
    OVERLAPPING_DUTIES = "overlapping_duties"  # 职能交叉
    OTHER = "other"


S, A = State, Action
DISPATCHERS = frozenset({Role.DISPATCHER, Role.ADMIN})
HANDLERS = frozenset({Role.HANDLER})
CHECKERS = frozenset({Role.SUPERVISOR, Role.DISPATCHER, Role.ADMIN})
STAFF = frozenset({Role.HANDLER, Role.SUPERVISOR, Role.DISPATCHER, Role.ADMIN})
OPEN_WORK = frozenset({S.DISPATCHED, S.CLAIMED, S.IN_PROGRESS})
TERMINAL = frozenset({S.REJECTED, S.MERGED})


@dataclass(frozen=True)
class Transition:
    sources: frozenset[State]
    target: State | None  # None: the state does not change (or the service decides, see outcomes)
    roles: frozenset[Role]


TABLE: dict[Action, Transition] = {
    A.ACCEPT: Transition(frozenset({S.SUBMITTED}), S.ACCEPTED, DISPATCHERS),
    A.REJECT: Transition(frozenset({S.SUBMITTED}), S.REJECTED, DISPATCHERS),
    A.MERGE: Transition(frozenset({S.SUBMITTED, S.ACCEPTED}), S.MERGED, DISPATCHERS),
    A.DISPATCH: Transition(
        frozenset({S.ACCEPTED, S.RETURNED, S.REOPENED, S.DISPATCHED}), S.DISPATCHED, DISPATCHERS
    ),
    A.CLAIM: Transition(frozenset({S.DISPATCHED}), S.CLAIMED, HANDLERS),
    A.RETURN: Transition(frozenset({S.DISPATCHED, S.CLAIMED}), S.RETURNED, HANDLERS),
    A.START: Transition(frozenset({S.CLAIMED}), S.IN_PROGRESS, HANDLERS),
    A.RESOLVE: Transition(frozenset({S.CLAIMED, S.IN_PROGRESS}), S.RESOLVED, HANDLERS),
    A.VERIFY: Transition(frozenset({S.RESOLVED}), None, CHECKERS),
    A.CLOSE: Transition(frozenset({S.VERIFIED}), S.CLOSED, DISPATCHERS),
    A.FOLLOW_UP: Transition(frozenset({S.CLOSED}), None, DISPATCHERS | {Role.SUPERVISOR}),
    A.REQUEST_EXTENSION: Transition(frozenset({S.CLAIMED, S.IN_PROGRESS}), None, HANDLERS),
    A.DECIDE_EXTENSION: Transition(frozenset({S.CLAIMED, S.IN_PROGRESS}), None, CHECKERS),
    A.COMMENT: Transition(frozenset(State) - TERMINAL, None, STAFF),
}


def allowed(action: Action, state: State, role: str | None, *, system: bool = False) -> bool:
    t = TABLE[action]
    return state in t.sources and (system or role in t.roles)


def actions_for(state: State, role: str | None) -> list[Action]:
    """Actions a role may take in a state (before per-case checks such as who the handler is)."""
    return [a for a in Action if allowed(a, state, role)]


def verify_outcome(passed: bool) -> State:
    return S.VERIFIED if passed else S.IN_PROGRESS


def follow_up_outcome(satisfied: bool) -> State:
    return S.CLOSED if satisfied else S.REOPENED

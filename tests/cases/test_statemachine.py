"""The transition table on its own: who may do what from which state, with no database in sight."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.cases.statemachine import (
    OPEN_WORK,
    TABLE,
    TERMINAL,
    Action,
    State,
    actions_for,
    allowed,
    follow_up_outcome,
    verify_outcome,
)
from gongzhi.core.models import Role

S, A = State, Action
ROLES = [*Role, None]


def successors(state: State, action: Action) -> set[State]:
    """Every state an action may lead to from ``state``, resolving the service-decided outcomes."""
    target = TABLE[action].target
    if target is not None:
        return {target}
    if action == A.VERIFY:
        return {verify_outcome(True), verify_outcome(False)}
    if action == A.FOLLOW_UP:
        return {follow_up_outcome(True), follow_up_outcome(False)}
    return {state}


def reachable_from(start: State) -> set[State]:
    seen, todo = {start}, deque([start])
    while todo:
        state = todo.popleft()
        for action in Action:
            if allowed(action, state, None, system=True):
                for nxt in successors(state, action) - seen:
                    seen.add(nxt)
                    todo.append(nxt)
    return seen


def test_every_action_has_a_row_naming_real_states_and_roles() -> None:
    assert set(TABLE) == set(Action)
    for t in TABLE.values():
        assert t.sources and t.sources <= set(State)
        assert t.target is None or t.target in State
        assert t.roles and t.roles <= set(Role)


@pytest.mark.parametrize("state", list(State))
def test_a_handler_can_never_close_a_case(state: State) -> None:
    assert not allowed(A.CLOSE, state, Role.HANDLER)


def test_only_a_verified_case_can_be_closed_and_only_by_a_dispatcher_or_admin() -> None:
    closers = {(s, r) for s in State for r in ROLES if allowed(A.CLOSE, s, r)}
    assert closers == {(S.VERIFIED, Role.DISPATCHER), (S.VERIFIED, Role.ADMIN)}


def test_dispatch_is_allowed_from_accepted_returned_reopened_and_as_a_re_dispatch() -> None:
    assert {s for s in State if allowed(A.DISPATCH, s, Role.DISPATCHER)} == {
        S.ACCEPTED,
        S.RETURNED,
        S.REOPENED,
        S.DISPATCHED,
    }
    assert not allowed(A.DISPATCH, S.SUBMITTED, Role.DISPATCHER)  # a case is accepted before dispatch
    assert not allowed(A.DISPATCH, S.CLAIMED, Role.ADMIN)  # once claimed, the handler must return it


@pytest.mark.parametrize("state", sorted(TERMINAL))
@pytest.mark.parametrize("role", ROLES)
def test_terminal_states_allow_nothing_to_anyone(state: State, role: str | None) -> None:
    assert actions_for(state, role) == []
    assert not any(allowed(a, state, role, system=True) for a in Action)


def test_terminal_states_are_exactly_the_dead_ends() -> None:
    dead_ends = {s for s in State if not any(allowed(a, s, None, system=True) for a in Action)}
    assert dead_ends == TERMINAL == {S.REJECTED, S.MERGED}


def test_a_closed_case_only_takes_a_follow_up_or_a_comment() -> None:
    assert actions_for(S.CLOSED, Role.DISPATCHER) == [A.FOLLOW_UP, A.COMMENT]
    assert actions_for(S.CLOSED, Role.SUPERVISOR) == [A.FOLLOW_UP, A.COMMENT]
    assert actions_for(S.CLOSED, Role.HANDLER) == [A.COMMENT]


@pytest.mark.parametrize("state", list(State))
def test_a_viewer_or_an_anonymous_caller_may_do_nothing(state: State) -> None:
    assert actions_for(state, Role.VIEWER) == []
    assert actions_for(state, None) == []


@pytest.mark.parametrize(
    ("state", "role", "expected"),
    [
        (S.SUBMITTED, Role.DISPATCHER, [A.ACCEPT, A.REJECT, A.MERGE, A.COMMENT]),
        (S.SUBMITTED, Role.HANDLER, [A.COMMENT]),
        (S.ACCEPTED, Role.DISPATCHER, [A.MERGE, A.DISPATCH, A.COMMENT]),
        (S.DISPATCHED, Role.HANDLER, [A.CLAIM, A.RETURN, A.COMMENT]),
        (S.DISPATCHED, Role.DISPATCHER, [A.DISPATCH, A.COMMENT]),
        (
            S.CLAIMED,
            Role.HANDLER,
            [A.RETURN, A.START, A.RESOLVE, A.REQUEST_EXTENSION, A.COMMENT],
        ),
        (S.CLAIMED, Role.SUPERVISOR, [A.DECIDE_EXTENSION, A.COMMENT]),
        (S.IN_PROGRESS, Role.HANDLER, [A.RESOLVE, A.REQUEST_EXTENSION, A.COMMENT]),
        (S.RESOLVED, Role.SUPERVISOR, [A.VERIFY, A.COMMENT]),
        (S.RESOLVED, Role.HANDLER, [A.COMMENT]),
        (S.VERIFIED, Role.ADMIN, [A.CLOSE, A.COMMENT]),
        (S.VERIFIED, Role.SUPERVISOR, [A.COMMENT]),
        (S.RETURNED, Role.DISPATCHER, [A.DISPATCH, A.COMMENT]),
        (S.REOPENED, Role.DISPATCHER, [A.DISPATCH, A.COMMENT]),
    ],
)
def test_actions_for_lists_what_each_role_may_do(state: State, role: Role, expected: list[Action]) -> None:
    assert actions_for(state, role) == expected


@pytest.mark.parametrize("state", list(State))
def test_an_admin_may_do_whatever_a_dispatcher_may(state: State) -> None:
    assert actions_for(state, Role.ADMIN) == actions_for(state, Role.DISPATCHER)


def test_only_handlers_do_the_work_and_never_rule_on_it() -> None:
    for action in (A.CLAIM, A.RETURN, A.START, A.RESOLVE, A.REQUEST_EXTENSION):
        assert TABLE[action].roles == {Role.HANDLER}
    for action in (A.ACCEPT, A.REJECT, A.MERGE, A.DISPATCH, A.VERIFY, A.CLOSE, A.DECIDE_EXTENSION):
        assert Role.HANDLER not in TABLE[action].roles


def test_extensions_are_asked_for_and_decided_only_while_work_is_open() -> None:
    for action in (A.REQUEST_EXTENSION, A.DECIDE_EXTENSION):
        assert TABLE[action].sources == {S.CLAIMED, S.IN_PROGRESS}
        assert TABLE[action].sources <= OPEN_WORK


def test_verification_and_follow_up_outcomes() -> None:
    assert verify_outcome(True) == S.VERIFIED
    assert verify_outcome(False) == S.IN_PROGRESS
    assert follow_up_outcome(True) == S.CLOSED
    assert follow_up_outcome(False) == S.REOPENED


def test_every_state_is_reachable_from_submission() -> None:
    assert reachable_from(S.SUBMITTED) == set(State)


@pytest.mark.parametrize("state", sorted(set(State) - TERMINAL))
def test_every_live_state_can_still_reach_closure(state: State) -> None:
    assert S.CLOSED in reachable_from(state)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(state=st.sampled_from(State), role=st.sampled_from(ROLES), action=st.sampled_from(Action))
def test_the_system_may_do_what_any_role_may_and_no_role_escapes_the_sources(
    state: State, role: str | None, action: Action
) -> None:
    if allowed(action, state, role):
        assert allowed(action, state, None, system=True)
        assert state in TABLE[action].sources
    assert (action in actions_for(state, role)) == allowed(action, state, role)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(choices=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_a_random_walk_over_allowed_actions_never_leaves_a_terminal_state(choices: list[int]) -> None:
    state = S.SUBMITTED
    for pick in choices:
        options = [
            (a, n) for a in Action if allowed(a, state, None, system=True) for n in successors(state, a)
        ]
        if state in TERMINAL:
            assert options == []
            break
        action, after = sorted(options)[pick % len(options)]
        assert state in TABLE[action].sources and after in State
        assert after not in TERMINAL or action in (A.REJECT, A.MERGE)
        state = after

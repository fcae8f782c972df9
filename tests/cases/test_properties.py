"""Random walks over the case API: whoever acts, whatever they send, the loop stays consistent.

A hypothesis state machine opens three fresh cases per run and fires random actions at them over HTTP: the
right and the wrong person, valid and absurd payloads, fresh and stale ``If-Match``. It keeps its own model
of each case (state, version, the timeline it expects) and checks after every step that

- nothing answers 5xx, every error is a problem document, and a stale ``If-Match`` never succeeds;
- a success moves the case along a legal row of ``statemachine.TABLE``, by a role that row allows,
  and bumps the version by exactly one;
- an error (4xx) changes neither the state nor the version;

and at the end of every run that each timeline is exactly the entries the successes should have written
(action, from, to), in order and chained state to state; that each entry is in the audit chain; and that
the region's chain verifies. Choices are weighted towards the happy path so that walks reach deep states;
the test also checks that they did.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, TypeVar

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.cases import service as cases
from gongzhi.cases.models import Case
from gongzhi.cases.statemachine import TABLE, TERMINAL, Action, State, follow_up_outcome, verify_outcome
from gongzhi.core import audit
from gongzhi.core.models import AuditEntry, Role
from gongzhi.db import Scope
from tests.conftest import Person, World

T = TypeVar("T")
S, A = State, Action
RUNS = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FAR = "2099-06-30T18:00:00+08:00"
PAST = "2000-01-01T00:00:00+08:00"
FORWARD = {  # the happy path, with the detours (reject, return, reopen) often enough to be walked
    S.SUBMITTED: [A.ACCEPT, A.REJECT, A.ACCEPT],
    S.ACCEPTED: [A.DISPATCH],
    S.DISPATCHED: [A.CLAIM, A.RETURN, A.CLAIM],
    S.CLAIMED: [A.START, A.RESOLVE, A.REQUEST_EXTENSION, A.DECIDE_EXTENSION],
    S.IN_PROGRESS: [A.RESOLVE, A.DECIDE_EXTENSION],
    S.RESOLVED: [A.VERIFY],
    S.VERIFIED: [A.CLOSE],
    S.CLOSED: [A.FOLLOW_UP],
    S.RETURNED: [A.DISPATCH],
    S.REOPENED: [A.DISPATCH],
}
Expected = tuple[str, str | None, str | None]


@dataclass
class Tracked:
    id: int
    state: State
    version: int
    actor_id: int | None = None
    timeline: list[Expected] = field(default_factory=list)


def weighted(*tiers: tuple[int, list[T]]) -> st.SearchStrategy[T]:
    """Pick a tier with probability proportional to its weight, then an option within it."""
    groups = [group for w, group in tiers if group for _ in range(w)]
    return st.sampled_from(groups).flatmap(st.sampled_from)


def legal_outcomes(action: Action, before: State) -> set[State]:
    target = TABLE[action].target
    if target is not None:
        return {target}
    if action == A.VERIFY:
        return {verify_outcome(True), verify_outcome(False)}
    if action == A.FOLLOW_UP:
        return {follow_up_outcome(True), follow_up_outcome(False)}
    return {before}


def actions(case: Tracked) -> st.SearchStrategy[Action]:
    plausible = [a for a in Action if case.state in TABLE[a].sources]
    return weighted((8, FORWARD.get(case.state, [])), (3, plausible), (1, list(Action)))


def people(world: World, action: Action, case: Tracked) -> st.SearchStrategy[Person]:
    handlers = {
        world.roads_actor: world.bob,
        world.parks_actor: world.pete,
        world.b_shared_actor: world.bella,
    }
    allowed = [p for p in world.people.values() if p.role in TABLE[action].roles]
    if TABLE[action].roles == {Role.HANDLER} and case.actor_id in handlers:
        allowed = [handlers[case.actor_id]]
    return weighted((6, allowed), (1, list(world.people.values())))


def payloads(action: Action, case: Tracked, tracked: list[Tracked], world: World) -> st.SearchStrategy[Any]:
    """Bodies for an action: valid ones first (weighted up), then invalid variants and a stray field."""
    others = [{"target_case_id": c.id, "note": "重复"} for c in tracked if c is not case]
    options: dict[Action, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
        A.ACCEPT: ([{}], []),
        A.REJECT: ([{"note": "不属于受理范围"}], [{}]),
        A.MERGE: (others, [{"target_case_id": case.id}, {"target_case_id": 10**9}, {}]),
        A.DISPATCH: (
            [{}, {"actor_id": world.roads_actor}, {"actor_id": world.parks_actor, "final": True}],
            [{"actor_id": world.b_shared_actor}, {"actor_id": world.c_actor}, {"actor_id": 10**9}],
        ),
        A.CLAIM: ([{}], []),
        A.RETURN: (
            [{"reason": "unclear_ownership"}, {"reason": "other", "note": "非本部门职责"}],
            [{"reason": "other"}, {"reason": "nonsense"}, {}],
        ),
        A.START: ([{}], []),
        A.RESOLVE: ([{"note": "已处理完毕"}], [{"note": "  "}, {}]),
        A.VERIFY: ([{"passed": True}, {"passed": False, "note": "照片不清"}], [{"passed": False}, {}]),
        A.CLOSE: ([{}], []),
        A.FOLLOW_UP: (
            [{"rating": 1, "satisfied": False, "note": "没有解决"}, {"rating": 5, "satisfied": True}],
            [{"rating": 3}, {"rating": 9, "satisfied": True}],
        ),
        A.REQUEST_EXTENSION: (
            [{"until": FAR, "note": "待供货"}],
            [{"until": FAR}, {"until": PAST, "note": "x"}],
        ),
        A.DECIDE_EXTENSION: ([{"approve": True}, {"approve": False}], [{}]),
        A.COMMENT: ([{"note": "跟进中"}], [{}]),
    }
    valid, invalid = options[action]
    return weighted((6, valid), (1, invalid), (1, [{"no_such_field": 1}]))


def if_match(version: int) -> st.SearchStrategy[dict[str, str]]:
    fresh = [{"If-Match": f'"{version}"'}, {"If-Match": f'W/"{version}"'}, {"If-Match": "*"}]
    stale = [{"If-Match": f'"{version - 1}"'}, {"If-Match": f'"{version + 1}"'}, {"If-Match": "three"}]
    return weighted((12, [{}]), (2, fresh), (1, stale))


def is_stale(headers: dict[str, str], version: int) -> bool:
    raw = headers.get("If-Match", "*").removeprefix("W/").strip('"')
    return raw not in ("*", str(version))


def check_timeline(s: Session, case: Tracked) -> int:
    entries = cases.timeline(s, case.id)
    assert [(e.action, e.from_state, e.to_state) for e in entries] == case.timeline
    assert [e.id for e in entries] == sorted({e.id for e in entries})
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    changes = [e for e in entries if e.to_state is not None]
    for prev, nxt in pairwise(changes):
        assert nxt.from_state is not None and prev.to_state is not None
        assert State(nxt.from_state) == State(prev.to_state)
    return len(entries)


def test_random_actions_keep_every_case_consistent(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    reached: set[State] = set()
    succeeded: set[Action] = set()

    @contextmanager
    def reading() -> Iterator[Session]:
        with factory() as s:
            s.info["scope"] = Scope.for_system()
            yield s

    class CaseLoop(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.cases: list[Tracked] = []
            self.step_failed = False  # then the end-of-run checks would only echo the step's failure

        @initialize()
        def open_cases(self) -> None:
            for category, accept in (("road", False), ("tree", True), ("lamp", True)):
                body = {"title": "井盖缺失", "category": category, "accept": accept}
                r = client.post("/api/v1/cases", json=body, headers=world.alice.headers)
                assert r.status_code == 201, r.text
                got = r.json()
                case = Tracked(got["id"], State(got["state"]), got["version"])
                case.timeline.append(("create", None, "submitted"))
                if accept:
                    case.timeline.append(("accept", "submitted", "accepted"))
                assert r.headers["etag"] == f'"{case.version}"'
                self.cases.append(case)

        @rule(data=st.data())
        def act(self, data: st.DataObject) -> None:
            self.step_failed = True
            live = [c for c in self.cases if c.state not in TERMINAL]
            case = data.draw(weighted((4, live), (1, self.cases)), label="case")
            action = data.draw(actions(case), label="action")
            who = data.draw(people(world, action, case), label="who")
            body = data.draw(payloads(action, case, self.cases, world), label="body")
            headers = data.draw(if_match(case.version), label="if-match")
            r = client.post(
                f"/api/v1/cases/{case.id}/actions/{action.value}",
                json=body,
                headers={**who.headers, **headers},
            )
            assert r.status_code < 500, r.text
            if r.status_code == 200:
                self.succeeded(case, action, who, body, headers, r.json())
            else:
                assert 400 <= r.status_code < 500, r.text
                assert r.headers["content-type"] == "application/problem+json"
                self.unchanged(case)
            self.step_failed = False

        def succeeded(
            self,
            case: Tracked,
            action: Action,
            who: Person,
            body: dict[str, Any],
            headers: dict[str, str],
            got: dict[str, Any],
        ) -> None:
            before, after = case.state, State(got["state"])
            assert not is_stale(headers, case.version), "a stale If-Match succeeded"
            assert before in TABLE[action].sources, f"{action} succeeded from {before}"
            assert who.role in TABLE[action].roles, f"{who.username} ({who.role}) did {action}"
            assert after in legal_outcomes(action, before), f"{action}: {before} -> {after}"
            assert got["version"] == case.version + 1
            case.state, case.version, case.actor_id = after, got["version"], got["actor_id"]
            case.timeline.append((action.value, before.value, after.value))
            if action == A.MERGE:
                target = next(c for c in self.cases if c.id == body["target_case_id"])
                assert got["merged_into_id"] == target.id
                target.timeline.append(("merged_in", None, None))
            reached.update((before, after))
            succeeded.add(action)

        def unchanged(self, case: Tracked) -> None:
            with reading() as s:
                row = s.execute(select(Case.state, Case.version).where(Case.id == case.id)).one()
            assert tuple(row) == (case.state, case.version), "an error changed the case"

        def teardown(self) -> None:
            if self.step_failed:
                return
            with reading() as s:
                entries = 0
                for case in self.cases:
                    row = cases.get_case(s, case.id)
                    assert (row.state, row.version) == (case.state, case.version)
                    entries += check_timeline(s, case)
                ids = [str(c.id) for c in self.cases]
                audited = s.execute(
                    select(func.count(AuditEntry.id)).where(
                        AuditEntry.object_type == "case", AuditEntry.object_id.in_(ids)
                    )
                ).scalar_one()
                assert audited == entries, "timeline and audit chain disagree"
                checked, problems = audit.verify(s, world.a)
            assert checked > 0 and problems == []

    run_state_machine_as_test(CaseLoop, settings=RUNS)
    # the walks are only worth their invariants if they went somewhere
    assert reached == set(State), f"no walk reached {set(State) - reached}"
    assert succeeded == set(Action), f"no walk managed {set(Action) - succeeded}"

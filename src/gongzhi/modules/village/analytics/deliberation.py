"""四议两公开: the four deliberations and two disclosures of a major village matter, in order.

党支部会提议 → 村"两委"会商议 → 党员大会审议 → 村民代表会议或村民会议决议, then 决议公开 and 实施结果公开.
A villagers' representatives' meeting needs more than two thirds of the representatives present and a
majority of those present (村民委员会组织法 第二十六条); the party members' meeting is held to the same simple
majority of those present, with more than half of the members attending.
"""

from __future__ import annotations

from dataclasses import dataclass

STEPS = (
    ("proposal", "党支部提议"),
    ("committees", "村两委会商议"),
    ("members", "党员大会审议"),
    ("representatives", "村民代表会议决议"),
    ("disclose_resolution", "决议公开"),
    ("disclose_result", "实施结果公开"),
)
ORDER = [k for k, _ in STEPS]
LABEL = dict(STEPS)
VOTING = {"members", "representatives"}


@dataclass(frozen=True)
class StepRecord:
    step: str
    expected: int
    present: int
    votes_for: int
    votes_against: int
    abstain: int


def next_step(done: list[str]) -> str | None:
    """The step that must come next, or None when all six are recorded."""
    for k in ORDER:
        if k not in done:
            return k
    return None


def problems(rec: StepRecord, done: list[str]) -> list[str]:
    """Why a step record cannot be accepted; empty when it can."""
    out = []
    if rec.step not in LABEL:
        return [f"unknown step {rec.step!r}"]
    expected_next = next_step(done)
    if rec.step != expected_next:
        want = LABEL[expected_next] if expected_next else "nothing (the procedure is complete)"
        out.append(f"{LABEL[rec.step]} cannot be recorded now; next is {want}")
    if rec.step in VOTING:
        out += _vote_problems(rec)
    return out


def _vote_problems(rec: StepRecord) -> list[str]:
    out = []
    if rec.expected <= 0 or rec.present > rec.expected:
        out.append("expected attendance must be positive and at least the number present")
    if rec.votes_for + rec.votes_against + rec.abstain > rec.present:
        out.append("more votes than people present")
    quorum = (
        3 * rec.present > 2 * rec.expected
        if rec.step == "representatives"
        else 2 * rec.present > rec.expected
    )
    if not quorum:
        need = "more than two thirds" if rec.step == "representatives" else "more than half"
        out.append(f"no quorum: {need} of {rec.expected} must attend, {rec.present} did")
    return out


def adopted(rec: StepRecord) -> bool:
    """Whether a voting step carried: a majority of those present voted for."""
    return 2 * rec.votes_for > rec.present

"""The demo's citizen requests are replied to after realistic delays (the board's reply-latency table)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import numpy as np

from gongzhi.cases.statemachine import Action, State
from gongzhi.demo import PATHS, _timeline
from gongzhi.modules.intake.analytics import latency

NOW = datetime(2026, 11, 28, 8, tzinfo=UTC)


def test_closed_demo_cases_are_replied_after_the_boards_latency() -> None:
    rng = random.Random(7)
    path = PATHS[State.CLOSED]
    reply_at = path.index(Action.RESOLVE) + 1  # times[0] is the creation
    days = []
    for _ in range(3000):
        times = _timeline(path, rng, NOW)
        assert len(times) == len(path) + 1 and times == sorted(times) and times[-1] <= NOW
        days.append((times[reply_at] - times[0]).total_seconds() / 86400)
    s = latency.summary(days)
    assert s["median"] is not None and 10.0 <= s["median"] <= 12.5
    assert s["p90"] is not None and 33 <= s["p90"] <= 50
    assert float(np.mean(np.array(days) <= 7)) < 0.45  # not the old "within 30 hours a step" demo


def test_an_open_demo_case_is_younger_than_its_pending_reply() -> None:
    rng = random.Random(3)
    for _ in range(500):
        times = _timeline(PATHS[State.IN_PROGRESS], rng, NOW)
        assert times == sorted(times) and times[-1] <= NOW and times[0] < NOW

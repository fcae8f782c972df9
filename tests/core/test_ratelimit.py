"""Rate limits counted in the database: the sliding-window arithmetic, refusals that use no quota, and one
count shared by several server processes."""

from __future__ import annotations

import multiprocessing
import uuid

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.core import ratelimit
from gongzhi.core.models import RateCounter
from gongzhi.core.ratelimit import Limit
from gongzhi.db import Scope, make_engine, unit_of_work
from gongzhi.settings import Settings

T0 = 1_800_000_000.0  # a window boundary of every window length used here


def test_limits_are_written_like_5_per_minute() -> None:
    assert ratelimit.parse("5/minute, 30/hour,100/10minutes") == (
        Limit(5, 60),
        Limit(30, 3600),
        Limit(100, 600),
    )
    assert ratelimit.parse("off") == () == ratelimit.parse("")
    for bad in ("5 per minute", "0/minute", "5/fortnight"):
        with pytest.raises(ValueError, match="rate limit"):
            ratelimit.parse(bad)


def _fits(previous: int, current: int, elapsed: float, wait: float, limit: Limit) -> bool:
    at, w = elapsed + wait, limit.window_s
    if at < w:
        return ratelimit.estimate(previous, current + 1, at, w) <= limit.count
    if at < 2 * w:
        return ratelimit.estimate(current, 1, at - w, w) <= limit.count
    return True


@given(
    previous=st.integers(0, 40),
    current=st.integers(0, 40),
    elapsed=st.floats(0, 59.99),
    count=st.integers(1, 30),
)
@example(previous=0, current=9, elapsed=0.0, count=7)  # 9 × (1 − 20/60) rounded above 6
@settings(max_examples=2000)
def test_retry_after_is_the_first_whole_second_at_which_a_request_fits(
    previous: int, current: int, elapsed: float, count: int
) -> None:
    limit = Limit(count, 60)
    if _fits(previous, current, elapsed, 0, limit):
        return
    wait = ratelimit.retry_after(previous, current, elapsed, limit)
    assert _fits(previous, current, elapsed, wait, limit)
    assert wait == 1 or not _fits(previous, current, elapsed, wait - 1, limit)


def test_ipv6_clients_count_by_their_64_network() -> None:
    assert ratelimit.client_bucket("2001:db8:1:2:aaaa::1") == ratelimit.client_bucket("2001:db8:1:2:bbbb::9")
    assert ratelimit.client_bucket("2001:db8:1:3::1") != ratelimit.client_bucket("2001:db8:1:2::1")
    assert ratelimit.client_bucket("::ffff:10.0.0.7") == "10.0.0.7" == ratelimit.client_bucket("10.0.0.7")


def test_a_refused_request_uses_no_quota_and_the_window_slides(factory: sessionmaker[Session]) -> None:
    checks = [("test:1.2.3.4", Limit(3, 60))]
    assert [ratelimit.hit(factory, checks, T0 + i).allowed for i in range(3)] == [True] * 3
    refused = ratelimit.hit(factory, checks, T0 + 10)
    # 50 s to the next window, then 20 s more until the three hits weigh 3 × (1 - 20/60) = 2
    assert not refused.allowed and refused.retry_after_s == 70 and refused.headers == {"Retry-After": "70"}
    assert not ratelimit.hit(factory, checks, T0 + 20).allowed
    with unit_of_work(factory, Scope.for_system()) as s:
        assert s.execute(select(RateCounter.hits)).scalars().all() == [3]
    # Half-way through the next window the three old hits weigh 1.5: one more fits, a second does not.
    assert ratelimit.hit(factory, checks, T0 + 90).allowed
    assert not ratelimit.hit(factory, checks, T0 + 91).allowed
    assert ratelimit.hit(factory, [("test:5.6.7.8", Limit(3, 60))], T0 + 91).allowed


def test_every_limit_of_a_request_must_allow_it(factory: sessionmaker[Session]) -> None:
    checks = [("test:ip", Limit(10, 60)), ("test:key", Limit(2, 3600))]
    assert ratelimit.hit(factory, checks, T0).allowed and ratelimit.hit(factory, checks, T0 + 1).allowed
    refused = ratelimit.hit(factory, checks, T0 + 2)
    assert refused.limit == Limit(2, 3600) and refused.retry_after_s == (3600 - 2) + 1800
    assert ratelimit.hit(factory, [("test:ip", Limit(10, 60))], T0 + 3).allowed


def test_windows_nobody_counts_any_more_are_removed(factory: sessionmaker[Session]) -> None:
    ratelimit.hit(factory, [("test:old", Limit(5, 60))], T0)
    ratelimit.hit(factory, [("test:new", Limit(5, 60))], T0 + 600)
    with unit_of_work(factory, Scope.for_system()) as s:
        assert s.execute(select(RateCounter.bucket)).scalars().all() == ["test:new@60"]


def _hammer(url: str, bucket: str, n: int) -> int:
    engine = make_engine(url)
    try:
        f = sessionmaker(engine, expire_on_commit=False)
        return sum(ratelimit.hit(f, [(bucket, Limit(12, 3600))], T0 + 5).allowed for _ in range(n))
    finally:
        engine.dispose()


def test_server_processes_share_one_count(database_url: str) -> None:
    bucket = f"test:{uuid.uuid4().hex[:8]}"
    ctx = multiprocessing.get_context("spawn")
    try:
        with ctx.Pool(3) as pool:
            allowed = pool.starmap(_hammer, [(database_url, bucket, 10)] * 3)
        assert sum(allowed) == 12, allowed
    finally:
        engine = make_engine(database_url)
        with engine.begin() as conn:
            conn.execute(delete(RateCounter).where(RateCounter.bucket.startswith(bucket)))
        engine.dispose()


def test_a_mistyped_limit_stops_the_server_from_starting() -> None:
    with pytest.raises(ValidationError, match="rate limit"):
        Settings(rate_open311_key="120 per minute")
    assert Settings(rate_open311_key="off").rate_open311_key == "off"

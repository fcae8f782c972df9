"""Rate limits of the public submission endpoints as FastAPI dependencies that answer a verdict (never
raise), so each handler answers a refusal in its own format and keeps what the citizen typed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from gongzhi.core import ratelimit
from gongzhi.core.deps import StateDep, client_ip
from gongzhi.core.ratelimit import Verdict


def citizen(request: Request, st: StateDep) -> Verdict:  # sync: FastAPI runs it in a worker thread
    """The web form, its JSON twin and village opinion pages: one quota per client address."""
    limits = ratelimit.parse(st.settings.rate_citizen_ip)
    bucket = "citizen:" + ratelimit.client_bucket(client_ip(request))
    return ratelimit.hit(st.factory, [(bucket, x) for x in limits])


async def open311(request: Request, st: StateDep) -> Verdict:
    """Open311 POST: a quota per client address and one per api_key (counted whether the key is good or
    not; a bad key is refused by the handler with 403 and still used up the address's quota)."""
    form = await request.form()
    key = form.get("api_key")
    checks = [
        ("open311-ip:" + ratelimit.client_bucket(client_ip(request)), x)
        for x in ratelimit.parse(st.settings.rate_open311_ip)
    ]
    if isinstance(key, str) and key:
        bucket = "open311-key:" + ratelimit.secret_bucket(key)
        checks += [(bucket, x) for x in ratelimit.parse(st.settings.rate_open311_key)]
    return await run_in_threadpool(ratelimit.hit, st.factory, checks)


CitizenLimit = Annotated[Verdict, Depends(citizen)]
Open311Limit = Annotated[Verdict, Depends(open311)]


def message(v: Verdict) -> str:
    minutes = -(-v.retry_after_s // 60)
    wait = f"{v.retry_after_s} 秒" if v.retry_after_s < 120 else f"{minutes} 分钟"
    return f"提交过于频繁，请 {wait}后再试 (too many submissions; retry after {v.retry_after_s} s)"

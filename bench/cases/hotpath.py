"""Where a case request spends its time: SQL statements per request, statement-cache hits, and a profile.

Seeds a fresh database like ``run.py``, then drives the real app in this process (httpx over ASGI, the
thread pool replaced by inline calls so one profiler sees the whole request) through full cycles
create → dispatch → claim → resolve → verify → close, and a bare insert for comparison. Prints, per
request kind: statements sent to the database, of which compiled-cache misses, and CPU time per request
in this process (server and in-process client); the wall time of the cycles' commits (slow ones are
SQLite's WAL checkpoints); then the top of a cProfile of the measured cycles.
Asserts nothing.

    .venv/bin/python bench/cases/hotpath.py [--backend sqlite|postgresql] [--cycles 200] [--top 40] [--sql]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import ACTIONS, database, seed  # noqa: E402

STEPS = (
    ("dispatch", "dispatcher", {}),
    ("claim", "handler", {}),
    ("resolve", "handler", {"note": "filled and compacted; photo on file"}),
    ("verify", "supervisor", {"passed": True, "note": "checked on site"}),
    ("close", "dispatcher", {}),
)


async def _inline(func: Any, *args: Any, **_: Any) -> Any:
    return func(*args)


async def _inline_offload(_factory: Any, work: Any) -> Any:
    return work()


def run_inline() -> None:
    """Worker-thread calls run inline, so that one profiler sees the whole request: AnyIO's thread pool
    and, where the code has it, the case write path's own executor (``gongzhi.cases.hotpath.offload``)."""
    anyio.to_thread.run_sync = _inline  # type: ignore[assignment]
    try:
        from gongzhi.cases import hotpath
    except ImportError:  # code from before the write path had its own executor
        return
    hotpath.offload = _inline_offload  # type: ignore[assignment]


class Tally:
    """Statements and compiled-cache outcomes per request kind, from the engine's cursor events."""

    def __init__(self) -> None:
        self.kind = ""
        self.statements: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.seconds: dict[str, float] = defaultdict(float)
        self.sql: dict[str, list[str]] = defaultdict(list)

    def listen(self, engine: Any) -> None:
        @event.listens_for(engine, "after_cursor_execute")
        def _count(_conn: Any, _cur: Any, statement: str, _p: Any, context: Any, _many: bool) -> None:
            if not self.kind:
                return
            self.statements[self.kind] += 1
            if getattr(context, "cache_hit", None) is CacheStats.CACHE_MISS:
                self.misses[self.kind] += 1
            if self.requests[self.kind] == 1:
                self.sql[self.kind].append(" ".join(statement.split())[:160])


async def drive(app: Any, tokens: dict[str, str], tally: Tally, cycles: int, measure: bool) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(cycles):
            case_id = (
                await _call(
                    client,
                    tally,
                    measure,
                    "create",
                    "/api/v1/cases",
                    tokens["dispatcher"],
                    {"title": "pothole", "category": "road", "accept": True},
                )
            )["id"]
            for action, who, body in STEPS:
                url = f"/api/v1/cases/{case_id}/actions/{action}"
                await _call(client, tally, measure, action, url, tokens[who], body)


async def drive_bare(app: Any, tally: Tally, n: int, measure: bool) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(n):
            await _call(client, tally, measure, "insert", "/rows", None, {"note": "row"})


async def _call(
    client: httpx.AsyncClient, tally: Tally, measure: bool, kind: str, url: str, token: str | None, body: Any
) -> Any:
    tally.kind = kind if measure else ""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    began = time.process_time()
    resp = await client.post(url, json=body, headers=headers)
    if measure:
        tally.seconds[kind] += time.process_time() - began
        tally.requests[kind] += 1
    tally.kind = ""
    if resp.status_code >= 300:
        raise RuntimeError(f"{kind}: HTTP {resp.status_code} {resp.text[:300]}")
    return resp.json()


class CommitTimer:
    """Wall time of every database COMMIT of the app (a SQLite commit that runs an automatic WAL
    checkpoint takes tens of milliseconds, with the other writers queued behind it)."""

    def __init__(self, engine: Any) -> None:
        self.seconds: list[float] = []
        dialect = engine.dialect
        commit = dialect.do_commit

        def timed(dbapi_conn: Any) -> None:
            began = time.perf_counter()
            try:
                commit(dbapi_conn)
            finally:
                self.seconds.append(time.perf_counter() - began)

        dialect.do_commit = timed

    def report(self) -> None:
        ms = sorted(1000 * s for s in self.seconds)
        if not ms:
            return
        slow = [m for m in ms if m > 20]
        print(
            f"  commits: {len(ms)}, p50 {ms[len(ms) // 2]:.2f} ms, p99 {ms[int(0.99 * len(ms))]:.2f} ms, "
            f"max {ms[-1]:.1f} ms; over 20 ms: {len(slow)} ({sum(slow):.0f} ms in all)"
        )


def report(tally: Tally, show_sql: bool) -> None:
    print(f"  {'request':<10}{'n':>6}{'SQL/req':>9}{'cache misses/req':>18}{'CPU ms/req':>21}")
    for kind in ("insert", "create", *ACTIONS):
        n = tally.requests[kind]
        if not n:
            continue
        print(
            f"  {kind:<10}{n:>6}{tally.statements[kind] / n:>9.1f}{tally.misses[kind] / n:>18.2f}"
            f"{1000 * tally.seconds[kind] / n:>21.2f}"
        )
        if show_sql:
            for line in tally.sql[kind]:
                print(f"      {line}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--cycles", type=int, default=200)
    p.add_argument("--top", type=int, default=40, help="profile lines to print (0: no profile)")
    p.add_argument("--only", default="", help="restrict the profile listing to paths containing this")
    p.add_argument("--sql", action="store_true", help="print the statements of one request of each kind")
    args = p.parse_args()
    run_inline()
    with (
        tempfile.TemporaryDirectory(prefix="gz-profile-") as tmp_name,
        database(args.backend, Path(tmp_name)) as url,
    ):
        if url is None:
            return
        os.environ.update(
            GONGZHI_DATABASE_URL=url, GONGZHI_EMBEDDED_WORKER="false", GONGZHI_DATA_DIR=f"{tmp_name}/data"
        )
        import bare

        from gongzhi import migrate
        from gongzhi.app import create_app

        migrate.upgrade(url)
        tokens = seed(url)
        app, bare_app = create_app(), bare.create_app()
        tally = Tally()
        tally.listen(app.state.gongzhi.factory.kw["bind"])
        asyncio.run(drive(app, tokens, tally, 20, measure=False))
        asyncio.run(drive_bare(bare_app, tally, 100, measure=False))
        prof = cProfile.Profile(time.process_time)  # CPU time: wall time on a busy machine counts waits
        asyncio.run(drive_bare(bare_app, tally, args.cycles * 6, measure=True))
        commits = CommitTimer(app.state.gongzhi.factory.kw["bind"])
        began = time.perf_counter()
        if args.top:
            prof.enable()
        asyncio.run(drive(app, tokens, tally, args.cycles, measure=True))
        prof.disable()
        wall = time.perf_counter() - began
        print(f"== {args.backend}: {args.cycles} cycles, {wall:.1f} s wall ==")
        report(tally, args.sql)
        commits.report()
        if args.top:
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(
                args.only, args.top
            )
            print(out.getvalue())


if __name__ == "__main__":
    main()

"""What a rate-limit check costs: ``ratelimit.hit`` (two limits, one transaction of its own) against a
baseline measured in the same run, an empty write transaction on the same engine (``unit_of_work`` with the
SQLite write lock and ``SELECT 1``). SQLite in a temporary file, and PostgreSQL when one is reachable at
GONGZHI_TEST_PG (default postgresql://postgres@127.0.0.1:5432/postgres); 1 thread and 8 threads.

    .venv/bin/python bench/intake/ratelimit.py [--n 2000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from gongzhi import migrate
from gongzhi.core import ratelimit
from gongzhi.db import Scope, make_engine, unit_of_work, write_lock

PG = os.environ.get("GONGZHI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
LIMITS = ratelimit.parse("1000000/minute,1000000/hour")


def _baseline(f: sessionmaker[Session], i: int) -> None:
    with unit_of_work(f, Scope.for_system()) as s:
        write_lock(s)
        s.execute(text("SELECT 1"))


def _hit(f: sessionmaker[Session], i: int) -> None:
    ratelimit.hit(f, [(f"bench:10.0.{i % 250}.{i % 7}", x) for x in LIMITS])


def _rate(
    f: sessionmaker[Session], work: Callable[[sessionmaker[Session], int], None], n: int, threads: int
) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: work(f, i), range(n)))
    return n / (time.perf_counter() - start)


def run(name: str, url: str, n: int) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    f = sessionmaker(engine, expire_on_commit=False)
    for threads in (1, 8):
        base = _rate(f, _baseline, n, threads)
        hits = _rate(f, _hit, n, threads)
        print(
            f"{name:10s} threads={threads}: baseline {base:8.0f} tx/s, rate-limit check {hits:8.0f}/s, "
            f"cost = {base / hits:.2f} × an empty write transaction"
        )
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    n = ap.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", n)
    try:
        psycopg.connect(PG, connect_timeout=3).close()
    except psycopg.OperationalError:
        print(f"postgresql: not reachable at {PG}; skipped")
        return
    db = f"gongzhi_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        run("postgresql", PG.rsplit("/", 1)[0] + f"/{db}", n)
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()

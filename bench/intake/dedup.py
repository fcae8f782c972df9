"""Near-duplicate lookup among 100,000 open requests (target ≤ 5 ms per lookup).

    .venv/bin/python bench/intake/dedup.py [--n 100000] [--queries 500] [--db sqlite:////tmp/gz-dedup.db]

Texts are the real board messages of ../shared/data/teddy2020 when present (evaluation only, read in place),
each copied with random character edits until there are N of them; otherwise synthetic text. Two figures:

1. the in-memory LSH index: MinHash signature of the new request + banded lookup + similarity check;
2. the service path ``duplicates.find`` against a database holding N open requests (index refresh,
   candidate verification against open cases, nearby same-category query).

CPU time (``time.process_time``) is reported next to wall time, since a loaded machine inflates wall time.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import time
from datetime import timedelta
from pathlib import Path

from gongzhi.modules.intake.analytics import minhash
from gongzhi.modules.intake.analytics.text import clean

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared/data/teddy2020"
CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def base_texts() -> list[str]:
    texts: list[str] = []
    for name in ("messages_with_votes.csv", "messages_with_replies.csv"):
        path = DATA / name
        if path.exists():
            with path.open(encoding="utf-8-sig", newline="") as f:
                texts += [f"{clean(r['留言主题'])} {clean(r['留言详情'])}"[:600] for r in csv.DictReader(f)]
    if texts:
        return texts
    rng = random.Random(1)
    return ["".join(rng.choice(CJK) for _ in range(rng.randint(80, 400))) for _ in range(5000)]


def mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(max(1, len(chars) // rng.randint(5, 20))):
        chars[rng.randrange(len(chars))] = rng.choice(CJK)
    return "".join(chars)


def corpus(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    base = base_texts()
    return [base[i] if i < len(base) else mutate(rng, rng.choice(base)) for i in range(n)]


def report(label: str, wall: list[float], cpu: float, n: int) -> None:
    wall_ms = sorted(w * 1e3 for w in wall)
    p99 = wall_ms[int(0.99 * (len(wall_ms) - 1))]
    print(
        f"{label}: mean {statistics.mean(wall_ms):.2f} ms wall, median {statistics.median(wall_ms):.2f}, "
        f"p99 {p99:.2f}; {cpu / n * 1e3:.2f} ms CPU per lookup"
    )


def bench_index(texts: list[str], queries: list[str]) -> None:
    start = time.perf_counter()
    index = minhash.LshIndex()
    for i, t in enumerate(texts):
        index.add(i, minhash.signature(t))
    print(f"indexed {len(index):,} requests in {time.perf_counter() - start:.1f} s")
    wall, hits = [], 0
    cpu0 = time.process_time()
    for q in queries:
        t0 = time.perf_counter()
        hits += bool(index.query(minhash.signature(q), 0.5))
        wall.append(time.perf_counter() - t0)
    report("in-memory LSH lookup", wall, time.process_time() - cpu0, len(queries))
    print(f"  queries with a near-duplicate: {hits}/{len(queries)}")


def bench_service(url: str, texts: list[str], queries: list[str]) -> None:
    from sqlalchemy import insert

    from gongzhi import migrate
    from gongzhi.cases.models import Case
    from gongzhi.core.models import Region
    from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work, utcnow
    from gongzhi.modules.intake import duplicates
    from gongzhi.modules.intake.models import IntakeRequest

    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    now = utcnow()
    with unit_of_work(factory, Scope.for_system()) as s:
        region = s.query(Region).filter_by(code="bench").one_or_none()
        if region is None:
            region = Region(code="bench", name="基准区", case_prefix="BN")
            s.add(region)
            s.flush()
        rid = region.id
        have = s.query(IntakeRequest).filter_by(region_id=rid).count()
    if have < len(texts):
        print(f"loading {len(texts) - have:,} open requests into {url} …")
        for lo in range(have, len(texts), 5000):
            chunk = range(lo, min(lo + 5000, len(texts)))
            with unit_of_work(factory, Scope.for_system()) as s:
                case_rows = [
                    {
                        "region_id": rid,
                        "number": f"BN{i:09d}",
                        "tracking_code": f"bench{i:011d}",
                        "title": texts[i][:30],
                        "category": "construction",
                        "state": "dispatched",
                        "created_at": now - timedelta(minutes=i),
                    }
                    for i in chunk
                ]
                ids = s.execute(insert(Case).returning(Case.id), case_rows).scalars().all()
                s.execute(
                    insert(IntakeRequest),
                    [
                        {
                            "region_id": rid,
                            "case_id": cid,
                            "channel": "web",
                            "token": f"bt{i:020d}",
                            "subject": texts[i][:30],
                            "text": texts[i],
                            "service_code": "construction",
                            "minhash": minhash.to_bytes(minhash.signature(texts[i])),
                            "created_at": now - timedelta(minutes=i),
                            "lat": 30.3 + (i % 100) * 1e-3,
                            "lon": 120.1 + (i // 100 % 100) * 1e-3,
                        }
                        for i, cid in zip(chunk, ids, strict=True)
                    ],
                )
    scope = Scope(region_id=rid, system=True, username="bench")
    with unit_of_work(factory, scope) as s:
        t0 = time.perf_counter()
        duplicates.find(
            s,
            rid,
            minhash.signature("预热"),
            code=None,
            lat=None,
            lon=None,
            radius_m=250,
            threshold=0.5,
            now=now,
        )
        print(f"index built from the database in {time.perf_counter() - t0:.1f} s")
        wall = []
        cpu0 = time.process_time()
        for k, q in enumerate(queries):
            t1 = time.perf_counter()
            duplicates.find(
                s,
                rid,
                minhash.signature(q),
                code="construction",
                lat=30.3 + (k % 100) * 1e-3,
                lon=120.1,
                radius_m=250,
                threshold=0.5,
                now=now,
            )
            wall.append(time.perf_counter() - t1)
        report(
            "service lookup (index refresh + DB checks + nearby query)",
            wall,
            time.process_time() - cpu0,
            len(queries),
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--db", default="sqlite:////tmp/gz-dedup-bench.db")
    ap.add_argument("--skip-db", action="store_true")
    ap.add_argument("--skip-index", action="store_true", help="only the service path")
    args = ap.parse_args()
    texts = corpus(args.n)
    rng = random.Random(3)
    queries = [
        mutate(rng, rng.choice(texts)) if k % 2 else mutate(rng, rng.choice(base_texts()))[::-1]
        for k in range(args.queries)
    ]
    real = (DATA / "messages_with_votes.csv").exists()
    print(f"{args.n:,} requests ({'real board texts + edited copies' if real else 'synthetic'})")
    if not args.skip_index:
        bench_index(texts, queries)
    if not args.skip_db:
        bench_service(args.db, texts, queries)


if __name__ == "__main__":
    main()

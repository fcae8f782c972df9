"""Catalog benchmark: 10,000 records audited (target ≤ 5 s) and a duplicate scan over 10,000 systems
(target ≤ 10 s), on synthetic catalogs built here with a fixed seed.

    .venv/bin/python bench/catalog/bench_audit.py [--n 10000] [--db sqlite:///tmp/catbench.db]

Figures, each measured in this run:
- rules: the pure audit of the entries (analytics only); baseline: building the entries from the rows.
- service audit: ``run_audit`` end to end on the database (load, rules, compare with the previous run,
  insert findings), first run and re-run; baseline: loading the rows alone.
- dupes: ``find_duplicates`` on 10,000 systems; baseline: the naive all-pairs ``difflib`` ratio of names,
  timed on 400 systems and scaled by n² to 10,000 (what a straightforward implementation would cost).
- service scan: ``scan_duplicates`` end to end (load, scan, upsert pairs).
- cross scan: ``crossdupes.scan`` of the region's systems against n/2 systems a paired region shares
  (another seed, ~3 % the same system); baseline: the region's own service scan.
"""

from __future__ import annotations

import argparse
import difflib
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from gongzhi import migrate
from gongzhi.core import service as core
from gongzhi.core.models import Role
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.modules.catalog import crossdupes, service
from gongzhi.modules.catalog import repository as repo
from gongzhi.modules.catalog.analytics import dupes, rules
from gongzhi.modules.catalog.models import CatalogRecord
from gongzhi.registry import load_modules

PREFIXES = ["拱墅区", "龙游县", "昭化区", "杭州市", "衢州市", ""]
DEPTS = [
    "数据局",
    "民政局",
    "城管局",
    "市场监管局",
    "卫健委",
    "教育局",
    "交通局",
    "住建局",
    "水务局",
    "公安局",
]
DOMAIN = (
    "智慧 城市 社区 网格 停车 排水 供水 养老 助餐 医保 教育 招生 交通 路网 执法 监管 市场 企业 信用 审批 许可"
)
OBJECT = "平台 系统 中心 驾驶舱 服务 门户 大脑 应用 一张图 数据库"
ACTION = "采集 汇聚 共享 查询 预警 统计 分析 审批 核发 巡查 调度 办理 监测 评价 上报"
ITEMS = [
    f"{a}{b}"
    for a in ["姓名", "地址", "编号", "日期", "金额", "类型", "状态", "面积", "坐标", "名称", "代码", "数量"]
    for b in ["甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未"]
]


def synthetic(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """n catalog records (80 % applications), ~3 % of them the same system under another prefix."""
    rnd = random.Random(seed)
    words, objects, actions = DOMAIN.split(), OBJECT.split(), ACTION.split()
    out: list[dict[str, Any]] = []
    for i in range(n):
        if out and rnd.random() < 0.03:
            base = rnd.choice(out)
            name = rnd.choice(PREFIXES) + base["name"].lstrip("".join(PREFIXES))
            summary, items = base["summary"], base["items"]
        else:
            core_name = "".join(rnd.sample(words, 2)) + rnd.choice(words) + rnd.choice(objects)
            name = rnd.choice(PREFIXES) + core_name + f"{i % 97}"
            summary = "，".join(
                f"{rnd.choice(words)}{rnd.choice(actions)}{rnd.choice(words)}" for _ in range(8)
            )
            items = [{"name": x} for x in rnd.sample(ITEMS, rnd.randint(3, 12))]
        out.append(
            {
                "kind": "application" if rnd.random() < 0.8 else "dataset",
                "key": f"k{i}",
                "name": name,
                "summary": summary if rnd.random() > 0.05 else "",
                "provider": rnd.choice(DEPTS),
                "identifier": f"330000/A{i:06d}" if rnd.random() > 0.1 else "",
                "category": "城市管理",
                "keywords": ["城市"],
                "share_type": rnd.choice(["unconditional", "conditional", "none", "部分"]),
                "share_condition": rnd.choice(["", "仅限政务"]),
                "share_mode": rnd.choice(["", "platform"]),
                "update_cycle": rnd.choice(["monthly", "annual", "daily", "irregular"]),
                "published": date(2020, 1, 1) + timedelta(days=rnd.randint(0, 1500)),
                "modified": date(2022, 1, 1) + timedelta(days=rnd.randint(0, 1000)),
                "contact_email": rnd.choice(["", "ops@example.cn", "bad-address"]),
                "contact_phone": rnd.choice(["", "0571-87000000"]),
                "items": items,
            }
        )
    return out


CPU: dict[str, float] = {}


def timed(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float]:
    """Wall time of one call; its CPU time (this process) is kept in CPU["last"]."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args, **kw)
    CPU["last"] = time.process_time() - c0
    return result, time.perf_counter() - t0


def line(label: str, wall: float, cpu: float, note: str) -> None:
    print(f"{label:<15}{wall:6.2f} s {cpu:6.2f} s   {note}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--db", default="")
    args = parser.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp()) / 'catbench.db'}"
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    rows = synthetic(args.n)
    with unit_of_work(factory, Scope.for_system()) as s:
        rid = core.create_region(s, f"bench{int(time.time())}", "基准区", "BN").id
        s.execute(insert(CatalogRecord), [{"region_id": rid, **r} for r in rows])
    scope = Scope(region_id=rid, role=Role.ADMIN, username="bench")
    registry = load_modules()
    apps = sum(r["kind"] == "application" for r in rows)
    print(f"{args.n} synthetic records ({apps} applications), {url}")
    print(f"{'figure':<15}{'wall':>8} {'cpu':>8}")
    today = rules.Context(date(2025, 2, 1))
    with unit_of_work(factory, scope) as s:
        loaded, t_load = timed(repo.entry_rows, s)
        c_load = CPU["last"]
        entries, t_entries = timed(lambda: [service.to_entry(r) for r in loaded])
        c_entries = CPU["last"]
        found, t_rules = timed(rules.audit, entries, rules.activate({}), today)
    line("load rows", t_load, c_load, "baseline of the service audit")
    line("build entries", t_entries, c_entries, "baseline of the rules")
    line(
        "rules (pure)",
        t_rules,
        CPU["last"],
        f"{len(found)} findings; cpu {CPU['last'] / c_entries:.1f}× entries",
    )
    for label in ("first run", "re-run"):
        with unit_of_work(factory, scope) as s:
            run, t_run = timed(service.run_audit, s, registry, reference_date=today.today)
            note = f"{label}: {run.problems} problems, {run.fixed} fixed"
            note += f"; cpu {CPU['last'] / c_load:.1f}× loading"
        line("service audit", t_run, CPU["last"], f"{note}; target ≤ 5 s {'met' if t_run <= 5 else 'MISSED'}")
    systems = [
        dupes.System(
            r["key"], r["name"], r["summary"], "", tuple(i["name"] for i in r["items"]), r["provider"]
        )
        for r in rows
    ]
    pairs, t_dupes = timed(dupes.find_duplicates, systems, prefixes=PREFIXES[:-1], threshold=0.6)
    c_dupes = CPU["last"]
    sample = systems[:400]
    timed(lambda: [difflib.SequenceMatcher(None, a.name, b.name).ratio() for a in sample for b in sample])
    naive = CPU["last"] / 2 * (len(systems) / len(sample)) ** 2  # timed over ordered pairs
    line(
        "dupes (pure)",
        t_dupes,
        c_dupes,
        f"{len(systems)} systems, {len(pairs)} pairs ≥ 0.6; "
        f"target ≤ 10 s {'met' if t_dupes <= 10 else 'MISSED'}",
    )
    print(f"{'':<33}naive all-pairs difflib of names alone ≈ {naive:.0f} s cpu (×{naive / c_dupes:.0f})")
    with unit_of_work(factory, scope) as s:
        result, t_scan = timed(service.scan_duplicates, s, "application", 0.6)
    c_scan = CPU["last"]
    line("service scan", t_scan, c_scan, f"{result['systems']} applications, {result['pairs']} pairs")
    with unit_of_work(factory, Scope.for_system()) as s:
        other = core.create_region(s, f"pair{int(time.time())}", "结对县", "BP").id
        core.pair_regions(s, rid, other)
        shared = [
            {**r, "key": f"p{r['key']}", "shared_with_pairs": True} for r in synthetic(args.n // 2, seed=11)
        ]
        s.execute(insert(CatalogRecord), [{"region_id": other, **r} for r in shared])
    with unit_of_work(factory, scope) as s:
        cross, t_cross = timed(crossdupes.scan, s, 0.6)
    line(
        "cross scan",
        t_cross,
        CPU["last"],
        f"{cross['systems']} own × {cross['shared']} shared, {cross['pairs']} pairs; "
        f"cpu {CPU['last'] / c_scan:.1f}× the region's own scan",
    )


if __name__ == "__main__":
    main()

"""Load generator of the cases benchmark, run as its own process (the server gets the other core).

N concurrent clients share one httpx pool (HTTP/1.1 keep-alive, N connections). In ``cycle`` mode each
client loops create → dispatch → claim → resolve → verify → close against gongzhi; in ``insert`` mode
it loops over the bare insert. Requests that complete inside the measured window (after the warm-up)
are recorded; the result is printed to stdout as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Recorder:
    start: float
    end: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)
    inflight: dict[int, float] = field(default_factory=dict)
    think: float = 0.0

    def done(self, kind: str, began: float, ok: bool, detail: str = "") -> None:
        now = time.perf_counter()
        if not self.start <= now <= self.end:
            return
        if ok:
            self.latencies[kind].append(now - began)
            return
        self.errors[kind] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{kind}: {detail}"[:300])


async def _post(
    client: httpx.AsyncClient, rec: Recorder, kind: str, url: str, token: str | None, body: dict[str, Any]
) -> httpx.Response | None:
    if rec.think > 0:  # a person reads, walks, types: exponential pause before each request
        await asyncio.sleep(random.expovariate(1 / rec.think))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    began = time.perf_counter()
    key = id(asyncio.current_task())
    rec.inflight[key] = began
    try:
        resp = await client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        rec.done(kind, began, False, f"{type(exc).__name__}: {exc}")
        return None
    finally:
        rec.inflight.pop(key, None)
    ok = resp.status_code < 300
    rec.done(kind, began, ok, f"HTTP {resp.status_code} {resp.text[:200]}")
    return resp if ok else None


async def _cycle_client(client: httpx.AsyncClient, rec: Recorder, tokens: dict[str, str], n: int) -> None:
    disp, hand, sup = tokens["dispatcher"], tokens["handler"], tokens["supervisor"]
    case_body = {"title": f"pothole reported by client {n}", "category": "road", "accept": True}
    steps = (
        ("dispatch", disp, {}),
        ("claim", hand, {}),
        ("resolve", hand, {"note": "filled and compacted; photo on file"}),
        ("verify", sup, {"passed": True, "note": "checked on site"}),
        ("close", disp, {}),
    )
    while time.perf_counter() < rec.end:
        created = await _post(client, rec, "create", "/api/v1/cases", disp, case_body)
        if created is None:
            await asyncio.sleep(0.01)
            continue
        case_id = created.json()["id"]
        for action, token, body in steps:
            url = f"/api/v1/cases/{case_id}/actions/{action}"
            if await _post(client, rec, action, url, token, body) is None:
                break


async def _insert_client(client: httpx.AsyncClient, rec: Recorder, n: int) -> None:
    body = {"note": f"row from client {n}"}
    while time.perf_counter() < rec.end:
        await _post(client, rec, "insert", "/rows", None, body)


def _cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds of a process and its live descendants (uvicorn's worker processes)."""
    if pid is None:
        return None
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK)  # ppid, cpu
    if pid not in stats:
        return None
    tree, total, grew = {pid}, 0.0, True
    while grew:
        grew = False
        for p, (ppid, _) in stats.items():
            if ppid in tree and p not in tree:
                tree.add(p)
                grew = True
    for p in tree:
        total += stats[p][1]
    return total


def _machine_busy_seconds() -> float | None:
    """CPU seconds all cores spent busy since boot (user, nice, system, irq, softirq, steal)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tokens = json.loads(args.tokens) if args.tokens else {}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    now = time.perf_counter()
    rec = Recorder(now + args.warmup, now + args.warmup + args.seconds, think=args.think)
    async with httpx.AsyncClient(base_url=args.url, limits=limits, timeout=60.0) as client:
        if args.mode == "cycle":
            tasks = [_cycle_client(client, rec, tokens, n) for n in range(args.clients)]
        else:
            tasks = [_insert_client(client, rec, n) for n in range(args.clients)]
        watch = asyncio.create_task(_watch_cpu(rec, args.server_pid))
        running = [asyncio.create_task(t) for t in tasks]
        cpu = await watch
        ages = sorted(rec.end - began for began in rec.inflight.values())
        _, late = await asyncio.wait(running, timeout=args.grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    return {
        "window_s": args.seconds,
        "inflight_at_end": len(ages),
        "oldest_inflight_s": ages[-1] if ages else 0.0,
        "abandoned": len(late),
        "latencies": rec.latencies,
        "errors": rec.errors,
        "error_samples": rec.samples,
        "cpu": cpu,
        "think_s": args.think,
    }


async def _watch_cpu(rec: Recorder, server_pid: int | None) -> dict[str, float | None]:
    """CPU seconds used by the server, this load generator and the whole machine in the measured window."""
    await asyncio.sleep(max(0.0, rec.start - time.perf_counter()))
    s0, l0, m0 = _cpu_seconds(server_pid), time.process_time(), _machine_busy_seconds()
    await asyncio.sleep(max(0.0, rec.end - time.perf_counter()))
    s1, l1, m1 = _cpu_seconds(server_pid), time.process_time(), _machine_busy_seconds()
    return {
        "server": None if s0 is None or s1 is None else s1 - s0,
        "loadgen": l1 - l0,
        "machine": None if m0 is None or m1 is None else m1 - m0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--mode", choices=("cycle", "insert"), required=True)
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--tokens", default="", help="JSON: dispatcher, handler, supervisor bearer tokens")
    p.add_argument("--server-pid", type=int, default=None)
    p.add_argument("--think", type=float, default=0.0, help="mean think time before each request [s]")
    p.add_argument("--grace", type=float, default=5.0, help="seconds to let requests finish, then cancel")
    print(json.dumps(asyncio.run(run(p.parse_args()))))


if __name__ == "__main__":
    main()

"""Benchmark: the case loop over HTTP against a bare one-row insert, on SQLite and PostgreSQL, in one run.

For each backend: a fresh database (SQLite file in a temp dir; PostgreSQL database created and dropped
here), migrated and seeded with one region (dispatcher, handler, supervisor with API tokens, an actor,
a dispatch rule, an SLA policy). The real gongzhi app and the bare app (``bare.py``) are each served by
uvicorn in a subprocess with the same options (``--workers N``, log level warning) and driven by
``load.py`` in another subprocess. Two kinds of load level, each run against both apps:

- closed loop without think time (``--clients``): every client sends its next request as soon as the
  last one is answered, so the server is saturated; req/s of the two apps give the throughput ratio,
  and latency is about clients × service time (Little's law);
- paced (``--paced CLIENTS:THINK``): every client pauses an exponentially distributed think time of mean
  THINK seconds before each request, as people working cases do; latency is then that of a server
  under a given load rather than of a queue.

Besides the full cycle, each level also drives the gongzhi app in ``transitions`` mode: every client's
cases are created before the warm-up (unmeasured), and the window sees only the five transitions, so the
transition figures are those of a server doing nothing else. Both are reported; the issue's target names
a transition request.

Prints figures; asserts nothing.

    .venv/bin/python bench/cases/run.py [--clients 100,10] [--paced 100:1] [--workers 1] [--seconds 15]
                                        [--backends sqlite,postgresql] [--client raw|httpx]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from gongzhi import migrate
from gongzhi.cases.models import Actor, DispatchRule, SlaPolicy
from gongzhi.core import service as core
from gongzhi.core.models import Role
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work

try:
    from gongzhi.serving import uvicorn_flags
except ImportError:  # code from before `gongzhi serve` and the bench shared their uvicorn options

    def uvicorn_flags(workers: int = 1) -> list[str]:
        extra = ["--timeout-worker-healthcheck=30"] if workers > 1 else []
        return [f"--workers={workers}", "--timeout-keep-alive=75", *extra]


HERE = Path(__file__).resolve().parent
ACTIONS = ("dispatch", "claim", "resolve", "verify", "close")
PG_ADMIN = os.environ.get("GONGZHI_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RATIO_TARGET, P99_TARGET_MS, P99_CLIENTS = 0.5, 100.0, 100
APPS = ("gongzhi.app:create_app", "bare:create_app")
BUSY_SHARE = 0.25  # of one core used by other processes during a window: figures are then unreliable
READY_S = 240.0  # a server start imports every module: over a minute when the shared machine is busy


# --- databases --------------------------------------------------------------------------------------


@contextlib.contextmanager
def database(backend: str, tmp: Path) -> Iterator[str | None]:
    """A fresh, empty database URL, or None when the backend is unreachable (with a message)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL at {PG_ADMIN} is not reachable ({str(exc).strip()}): PostgreSQL skipped\n")
        yield None
        return
    name = f"gongzhi_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(url: str) -> dict[str, str]:
    """One region with a dispatcher, a handler of the roads department and a supervisor; their tokens."""
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine), Scope.for_system()) as s:
            rid = core.create_region(s, "bench", "基准区", "BN", center_lon=120.14, center_lat=30.31).id
            s.info["scope"] = Scope(region_id=rid, role=Role.ADMIN, username="bench")
            roads = core.create_department(s, "roads", "道路科").id
            tokens = {
                "dispatcher": _person(s, rid, "disp", Role.DISPATCHER),
                "handler": _person(s, rid, "hand", Role.HANDLER, roads),
                "supervisor": _person(s, rid, "sup", Role.SUPERVISOR),
            }
            actor = Actor(region_id=rid, kind="department", name="道路科", department_id=roads)
            s.add(actor)
            s.flush()
            s.add(DispatchRule(region_id=rid, position=10, category="road", actor_id=actor.id))
            s.add(
                SlaPolicy(
                    region_id=rid,
                    category="*",
                    priority="*",
                    claim_amount=4,
                    claim_unit="working_hours",
                    resolve_amount=3,
                    resolve_unit="working_days",
                )
            )
        from bare import create_table

        create_table(engine)
    finally:
        engine.dispose()
    return tokens


def _person(s: Any, rid: int, username: str, role: str, dept: int | None = None) -> str:
    s.info["scope"] = Scope(region_id=rid, system=True)
    user = core.create_user(s, username, username.title(), "bench-password-1", role, dept, region_id=rid)
    s.info["scope"] = Scope(region_id=rid, user_id=user.id, role=role, username=username)
    _, token = core.create_token(s, f"{username}-bench", role)
    return token


# --- servers and load -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    pid: int


@contextlib.contextmanager
def serve(
    target: str, health: str, url: str, tmp: Path, threads: int | None = None, workers: int = 1
) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        **({"BENCH_THREADS": str(threads)} if threads else {}),
        "GONGZHI_DATABASE_URL": url,
        "GONGZHI_EMBEDDED_WORKER": "false",
        "GONGZHI_DATA_DIR": str(tmp / "data"),
        "PYTHONPATH": os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p),
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1", "--port", str(port)]
    cmd += uvicorn_flags(workers)  # the options `gongzhi serve` uses, the same for both apps
    cmd += [
        "--log-level",
        "warning",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "2",
    ]
    log = tmp / f"{target.split(':')[0]}-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(proc, base + health, log)
        yield Server(base, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        tail = log.read_text(errors="replace").strip()
        if tail:
            print(f"  [{target} server log, last lines]\n    " + "\n    ".join(tail.splitlines()[-8:]))


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            status = httpx.get(url, timeout=2).status_code
            if status == 200:
                return
            if status >= 500:
                raise RuntimeError(f"{url} answered {status}:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {READY_S:g} s: {url}")


def load(server: Server, mode: str, level: Level, args: argparse.Namespace, tokens: dict[str, str]) -> Any:
    cmd = [
        sys.executable,
        str(HERE / "load.py"),
        "--url",
        server.url,
        "--mode",
        mode,
        "--cases",
        str(args.cases),
    ]
    cmd += ["--clients", str(level.clients), "--think", str(level.think)]
    cmd += ["--seconds", str(args.seconds), "--warmup", str(args.warmup)]
    cmd += ["--tokens", json.dumps(tokens), "--server-pid", str(server.pid), "--grace", "3"]
    cmd += ["--client", args.client]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr}")
    return json.loads(done.stdout)


# --- figures ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """A load level: closed-loop clients, each pausing ``think`` seconds on average before a request."""

    clients: int
    think: float = 0.0

    def __str__(self) -> str:
        if not self.think:
            return f"{self.clients} concurrent clients, no think time (saturation)"
        return f"{self.clients} concurrent clients, mean think time {self.think:g} s before each request"


@dataclass
class Row:
    label: str
    n: int
    rps: float
    p50: float
    p95: float
    p99: float
    errors: int


def quantile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    return sorted_ms[min(len(sorted_ms) - 1, max(0, round(q * len(sorted_ms)) - 1))]


def row(label: str, result: Any, kinds: tuple[str, ...]) -> Row:
    ms = sorted(x * 1000 for k in kinds for x in result["latencies"].get(k, []))
    errors = sum(result["errors"].get(k, 0) for k in kinds)
    window = result["window_s"]
    return Row(
        label, len(ms), len(ms) / window, quantile(ms, 0.5), quantile(ms, 0.95), quantile(ms, 0.99), errors
    )


def cpu_per_request(result: Any, n: int, who: str = "server") -> float:
    """CPU ms per completed request of the server (its process tree) or of the load generator."""
    used = result["cpu"][who]
    return 1000 * used / n if used is not None and n else float("nan")


def cpu_line(result: Any) -> str:
    """Server and load-generator CPU as % of one core, and what the rest of the machine used meanwhile."""
    cpu, window = result["cpu"], result["window_s"]

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x / window:.0f}%"

    others = None
    if cpu["server"] is not None and cpu.get("machine") is not None:
        others = max(0.0, cpu["machine"] - cpu["server"] - cpu["loadgen"])
    return f"server {pct(cpu['server'])}, load generator {pct(cpu['loadgen'])}, other processes {pct(others)}"


@dataclass(frozen=True)
class Figures:
    """What the verdict reads from one level."""

    mix_ratio: float
    trans_ratio: float
    trans_p99: float
    cpu_ratio: float
    only_ratio: float
    only_p99: float
    only_cpu_ratio: float


def print_level(level: Level, bare: Any, cases: Any, only: Any) -> Figures:
    rows = [
        row("bare insert", bare, ("insert",)),
        row("case requests (create + 5 actions)", cases, ("create", *ACTIONS)),
        row("case transitions (5 actions pooled)", cases, ACTIONS),
        row("  create", cases, ("create",)),
        *(row(f"  {a}", cases, (a,)) for a in ACTIONS),
    ]
    alone = row("transitions only (cases made before)", only, ACTIONS)
    rows.insert(3, alone)
    print(f"  {level}, {bare['window_s']:g} s measured after warm-up")
    print(f"    {'':<38}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for r in rows:
        print(f"    {r.label:<38}{r.n:>9}{r.rps:>9.1f}{r.p50:>9.1f}{r.p95:>9.1f}{r.p99:>9.1f}{r.errors:>8}")
    base, mix, trans = rows[0], rows[1], rows[2]
    counts = [r.n for r in rows[4:]]
    if min(counts) < 0.8 * max(counts):
        print(
            "    note: the per-step counts are uneven (few full cycles in the window); the mix is not steady"
        )
    mix_ratio, trans_ratio = ratio(mix.rps, base.rps), ratio(trans.rps, base.rps)
    only_ratio = ratio(alone.rps, base.rps)
    if level.think:
        print("    (with think time the clients set the pace: req/s is the offered load, not a capacity)")
    else:
        print(f"    ratio case requests req/s ÷ bare req/s:        {mix_ratio:.2f}")
        print(f"    ratio transitions in the cycle ÷ bare req/s:   {trans_ratio:.2f}")
        print(f"    ratio transitions-only run req/s ÷ bare req/s: {only_ratio:.2f}")
    bare_ms, case_ms = cpu_per_request(bare, base.n), cpu_per_request(cases, mix.n)
    only_ms = cpu_per_request(only, alone.n)
    print(
        f"    server CPU per request: bare {bare_ms:.2f} ms, case request {case_ms:.2f} ms "
        f"(ratio if both were CPU-bound: {ratio(bare_ms, case_ms):.2f}), transition in the "
        f"transitions-only run {only_ms:.2f} ms (ratio {ratio(bare_ms, only_ms):.2f})"
    )
    if only["out_of_cases"]:
        print(
            f"    WARNING: {only['out_of_cases']} clients ran out of cases before the window closed (--cases)"
        )
    print(
        f"    load generator CPU per request: bare {cpu_per_request(bare, base.n, 'loadgen'):.2f} ms, "
        f"case request {cpu_per_request(cases, mix.n, 'loadgen'):.2f} ms"
    )
    for name, res in (("bare", bare), ("cases", cases), ("transitions only", only)):
        print(f"    cpu in the window ({name}): {cpu_line(res)}")
        if res["inflight_at_end"] and not level.think:
            print(
                f"    in flight when the window closed ({name}): {res['inflight_at_end']} requests, "
                f"oldest {res['oldest_inflight_s']:.1f} s; clients abandoned after the grace period: "
                f"{res['abandoned']}"
            )
    for res in (bare, cases, only):
        for sample in res["error_samples"]:
            print(f"    error sample: {sample}")
    return Figures(
        mix_ratio,
        trans_ratio,
        trans.p99,
        ratio(bare_ms, case_ms),
        only_ratio,
        alone.p99,
        ratio(bare_ms, only_ms),
    )


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def verdict(backend: str, levels: dict[Level, Figures], busy: bool) -> None:
    closed = {lv.clients: v for lv, v in levels.items() if not lv.think}
    paced = {lv: v for lv, v in levels.items() if lv.think and lv.clients == P99_CLIENTS}

    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print(f"  targets ({backend}):")
    if busy:
        print("    (other processes took CPU during the windows: req/s and latencies below are not reliable)")
    if closed:
        top = max(closed)
        f = closed[top]
        print(
            f"    throughput ratio ≥ {RATIO_TARGET} at {top} clients: case requests {f.mix_ratio:.2f} "
            f"({met(f.mix_ratio >= RATIO_TARGET)}), transitions in the cycle {f.trans_ratio:.2f} "
            f"({met(f.trans_ratio >= RATIO_TARGET)}), transitions-only run {f.only_ratio:.2f} "
            f"({met(f.only_ratio >= RATIO_TARGET)})"
        )
        print(
            f"    same ratio from server CPU per request (bare ÷ case, what a CPU-bound server reaches): "
            f"case requests {f.cpu_ratio:.2f} ({met(f.cpu_ratio >= RATIO_TARGET)}), transitions-only run "
            f"{f.only_cpu_ratio:.2f} ({met(f.only_cpu_ratio >= RATIO_TARGET)})"
        )
    if P99_CLIENTS in closed:
        f = closed[P99_CLIENTS]  # p99 nan when nothing completed: the comparison below is then False
        print(
            f"    transition p99 < {P99_TARGET_MS:g} ms at {P99_CLIENTS} clients without think time: "
            f"{f.trans_p99:.1f} ms in the cycle, {f.only_p99:.1f} ms transitions-only "
            f"({met(f.trans_p99 < P99_TARGET_MS)} / {met(f.only_p99 < P99_TARGET_MS)}; by Little's law p99 "
            f"there is about {P99_CLIENTS} × the service time)"
        )
    for lv, f in paced.items():
        print(
            f"    transition p99 < {P99_TARGET_MS:g} ms at {P99_CLIENTS} clients, think time {lv.think:g} s: "
            f"{f.trans_p99:.1f} ms in the cycle ({met(f.trans_p99 < P99_TARGET_MS)}), {f.only_p99:.1f} ms "
            f"transitions-only ({met(f.only_p99 < P99_TARGET_MS)})"
        )
    if P99_CLIENTS not in closed and not paced:
        print(f"    transition p99 target: not measured (needs a level with {P99_CLIENTS} clients)")


# --- main -------------------------------------------------------------------------------------------


def levels_of(args: argparse.Namespace) -> list[Level]:
    closed = [Level(int(c)) for c in args.clients.split(",") if c]
    paced = [Level(int(c), float(t)) for c, t in (p.split(":") for p in args.paced.split(",") if p)]
    return closed + paced


def bench_backend(backend: str, args: argparse.Namespace) -> None:
    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]
    with tempfile.TemporaryDirectory(prefix=f"gz-bench-{backend}-") as tmp_name:
        tmp = Path(tmp_name)
        with database(backend, tmp) as url:
            if url is None:
                return
            print(f"== {label} ==  (load average at start: {load_average()})")
            started = time.monotonic()
            migrate.upgrade(url)
            tokens = seed(url)
            results: dict[tuple[str, Level], Any] = {}
            apps = ("threads:gongzhi_app", "threads:bare_app") if args.threads else APPS
            for lv in levels_of(args):  # a fresh server per run: a stalled run must not leak into the next
                with serve(apps[0], "/healthz", url, tmp, args.threads, args.workers) as server:
                    results["cases", lv] = load(server, "cycle", lv, args, tokens)
                with serve(apps[0], "/healthz", url, tmp, args.threads, args.workers) as server:
                    results["only", lv] = load(server, "transitions", lv, args, tokens)
                with serve(apps[1], "/openapi.json", url, tmp, args.threads, args.workers) as server:
                    results["bare", lv] = load(server, "insert", lv, args, tokens)
            levels = {
                lv: print_level(lv, results["bare", lv], results["cases", lv], results["only", lv])
                for lv in levels_of(args)
            }
            verdict(label, levels, warn_if_busy(list(results.values())))
            print(
                f"  ({label} leg took {time.monotonic() - started:.0f} s; load average: {load_average()})\n"
            )


def warn_if_busy(results: list[Any]) -> bool:
    """Req/s on a shared 2-core machine measure the CPU share a server got as much as the server."""
    shares = []
    for res in results:
        cpu = res["cpu"]
        if cpu["server"] is not None and cpu.get("machine") is not None:
            shares.append(max(0.0, cpu["machine"] - cpu["server"] - cpu["loadgen"]) / res["window_s"])
    if shares and max(shares) > BUSY_SHARE:
        print(
            f"  WARNING: other processes used {100 * min(shares):.0f}–{100 * max(shares):.0f}% of a core "
            "during the windows; req/s and latencies then reflect the CPU each server was given. Compare the "
            "'server CPU per request' figures, or rerun on a quiet machine."
        )
        return True
    return False


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", default="100,10", help="comma-separated concurrency levels (default 100,10)")
    p.add_argument(
        "--paced",
        default="100:1",
        help="comma-separated CLIENTS:THINK levels with a mean think time [s] (default 100:1; '' for none)",
    )
    p.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes for both apps (default 1)"
    )
    p.add_argument("--seconds", type=float, default=15.0, help="measured seconds per run (default 15)")
    p.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per run (default 3)")
    p.add_argument(
        "--cases", type=int, default=30, help="transitions-only runs: cases per client made beforehand"
    )
    p.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    p.add_argument(
        "--client", choices=("raw", "httpx"), default="raw", help="load generator's HTTP client (default raw)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="diagnostic: raise AnyIO's thread limit (40) to N in both servers (default: as shipped)",
    )
    args = p.parse_args()
    unknown = set(args.backends.split(",")) - {"sqlite", "postgresql"}
    if unknown:
        p.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    return args


def main() -> None:
    args = parse_args()
    print("gongzhi cases benchmark: create → dispatch → claim → resolve → verify → close vs. a bare insert")
    print(f"  command: {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"  machine: {os.cpu_count()} cpus (nproc {len(os.sched_getaffinity(0))}), "
        f"{platform.platform()}, Python {platform.python_version()}"
    )
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    print(
        f"  server: uvicorn, {args.workers} worker process(es), {loop} loop, {http} parser, "
        "sync endpoints in the thread pool"
    )
    client = {"raw": "raw asyncio protocol, pre-encoded requests", "httpx": "httpx async"}[args.client]
    print(f"  load: {client}, HTTP/1.1 keep-alive, one connection per client, separate process")
    limit = f"{args.threads} (--threads)" if args.threads else "40 (AnyIO default)"
    print(f"  thread-pool limit in both servers: {limit}\n")
    for backend in args.backends.split(","):
        bench_backend(backend, args)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()

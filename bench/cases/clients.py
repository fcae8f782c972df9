"""What the load generator itself costs: the httpx client against the raw one, in one run.

Serves the bare insert and the real app (one server each, as ``run.py`` does) and drives each with the
two clients of ``load.py`` in turn, alternating ``rounds`` times so both see the same machine. Prints,
per app and client: requests completed, req/s, the load generator's CPU per request and the server's.
On two cores every millisecond the client spends is one the server cannot, so a cheaper client lets
the server run closer to its own limit. Asserts nothing.

    .venv/bin/python bench/cases/clients.py [--backend sqlite|postgresql] [--clients 100] [--seconds 8]
                                            [--rounds 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import APPS, Level, cpu_per_request, database, load, load_average, seed, serve  # noqa: E402

from gongzhi import migrate  # noqa: E402

CLIENTS = ("httpx", "raw")
KINDS = {"cycle": ("create", "dispatch", "claim", "resolve", "verify", "close"), "insert": ("insert",)}


def measure(args: argparse.Namespace) -> dict[tuple[str, str], list[Any]]:
    results: dict[tuple[str, str], list[Any]] = defaultdict(list)
    with (
        tempfile.TemporaryDirectory(prefix="gz-clients-") as tmp_name,
        database(args.backend, Path(tmp_name)) as url,
    ):
        if url is None:
            return results
        tmp = Path(tmp_name)
        migrate.upgrade(url)
        tokens = seed(url)
        for app, health, mode in ((APPS[1], "/openapi.json", "insert"), (APPS[0], "/healthz", "cycle")):
            with serve(app, health, url, tmp) as server:
                for _ in range(args.rounds):
                    for client in CLIENTS:
                        opts = argparse.Namespace(seconds=args.seconds, warmup=args.warmup, client=client)
                        results[mode, client].append(load(server, mode, Level(args.clients), opts, tokens))
    return results


def report(results: dict[tuple[str, str], list[Any]]) -> None:
    print(
        f"  {'app':<8}{'client':<8}{'requests':>10}{'req/s':>9}"
        f"{'client CPU ms/req':>19}{'server CPU ms/req':>19}"
    )
    for (mode, client), runs in results.items():
        n = sum(len(r["latencies"].get(k, [])) for r in runs for k in KINDS[mode])
        window = sum(r["window_s"] for r in runs)
        cpu = {who: sum(r["cpu"][who] or 0.0 for r in runs) for who in ("loadgen", "server")}
        merged = {"cpu": cpu}
        print(
            f"  {mode:<8}{client:<8}{n:>10}{n / window:>9.1f}"
            f"{cpu_per_request(merged, n, 'loadgen'):>19.2f}{cpu_per_request(merged, n):>19.2f}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    print(
        f"== {args.backend}: {args.clients} clients, no think time, "
        f"{args.rounds} × {args.seconds:g} s per client =="
    )
    print(f"  load average at start: {load_average()}")
    report(measure(args))
    print(f"  load average at end: {load_average()}")


if __name__ == "__main__":
    main()

"""Load generator of the cases benchmark, run as its own process (the server gets the other core).

N concurrent clients, each with one HTTP/1.1 keep-alive connection. In ``cycle`` mode each client loops
create → dispatch → claim → resolve → verify → close against gongzhi; in ``transitions`` mode each client
first creates ``--cases`` cases (before the warm-up, unmeasured) and then drives only their five
transitions, case after case; in ``insert`` mode it loops over the bare insert. Requests that complete
inside the measured window (after the warm-up) are recorded; the result is printed to stdout as one
JSON object.

Two clients: ``raw`` (default) is an asyncio protocol that writes pre-encoded request bytes and frames
the response by its Content-Length, parsing JSON only for the new case's id; ``httpx`` is the general
client the earlier passes used. On two cores the load generator competes with the server for CPU, so
the cheaper it is per request, the less it starves the server it measures.
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


class Prepared:
    """One request of the loop: path (``{id}`` stands for the case id), bearer token and JSON body, with
    its bytes encoded once for the raw client."""

    def __init__(self, path: str, token: str | None, body: dict[str, Any]) -> None:
        self.path, self.body = path, body
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        payload = json.dumps(body, separators=(",", ":")).encode()
        head = f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(payload)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in self.headers.items()) + "\r\n"
        pre, sep, post = head.encode().partition(b"{id}")
        self.pre, self.post, self.templated = pre, post + payload, bool(sep)

    def raw(self, case_id: int) -> bytes:
        return self.pre + b"%d" % case_id + self.post if self.templated else self.pre + self.post


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time; a response is framed by its
    Content-Length (the apps here send no chunked bodies)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.status, self.body_at, self.end, self.closing = 0, 0, -1, False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"server closed the connection ({exc})"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.end < 0 and not self._head():
            return
        if len(self.buf) >= self.end and self.waiter is not None:
            body = bytes(self.buf[self.body_at : self.end])
            del self.buf[: self.end]
            self.end, waiter, self.waiter = -1, self.waiter, None
            if not waiter.done():
                waiter.set_result((self.status, body))

    def _head(self) -> bool:
        cut = self.buf.find(b"\r\n\r\n")
        if cut < 0:
            return False
        head = bytes(self.buf[:cut]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise ValueError(f"response without Content-Length: {head[:200]!r}")
        stop = head.find(b"\r\n", at + 17)
        self.status = int(head[9:12])
        self.body_at = cut + 4
        self.end = self.body_at + int(head[at + 17 : stop if stop > 0 else None])
        self.closing = b"\r\nconnection: close" in head
        return True

    async def request(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        result = await self.waiter
        if self.closing:
            self.transport.close()
        return result


class RawClient:
    """A client's own connection, opened again when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn: _Connection | None = None

    async def send(self, req: Prepared, case_id: int) -> tuple[int, bytes]:
        conn = self.conn
        if conn is None or conn.transport is None or conn.transport.is_closing():
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(_Connection, self.host, self.port)
            self.conn = conn
        return await conn.request(req.raw(case_id))


class HttpxClient:
    """The general client: one shared httpx pool, a JSON body encoded per request."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, req: Prepared, case_id: int) -> tuple[int, bytes]:
        url = req.path.replace("{id}", str(case_id))
        resp = await self.client.post(url, json=req.body, headers=req.headers)
        return resp.status_code, resp.content


Client = RawClient | HttpxClient


async def _post(client: Client, rec: Recorder, kind: str, req: Prepared, case_id: int = 0) -> bytes | None:
    if rec.think > 0:  # a person reads, walks, types: exponential pause before each request
        await asyncio.sleep(random.expovariate(1 / rec.think))
    began = time.perf_counter()
    key = id(asyncio.current_task())
    rec.inflight[key] = began
    try:
        status, body = await client.send(req, case_id)
    except (OSError, ValueError, httpx.HTTPError) as exc:
        rec.done(kind, began, False, f"{type(exc).__name__}: {exc}")
        return None
    finally:
        rec.inflight.pop(key, None)
    ok = status < 300
    rec.done(kind, began, ok, f"HTTP {status} {body[:200].decode(errors='replace')}")
    return body if ok else None


def _create_request(tokens: dict[str, str], n: int) -> Prepared:
    body = {"title": f"pothole reported by client {n}", "category": "road", "accept": True}
    return Prepared("/api/v1/cases", tokens["dispatcher"], body)


def _steps(tokens: dict[str, str]) -> list[tuple[str, Prepared]]:
    disp, hand, sup = tokens["dispatcher"], tokens["handler"], tokens["supervisor"]
    return [
        (action, Prepared(f"/api/v1/cases/{{id}}/actions/{action}", token, body))
        for action, token, body in (
            ("dispatch", disp, {}),
            ("claim", hand, {}),
            ("resolve", hand, {"note": "filled and compacted; photo on file"}),
            ("verify", sup, {"passed": True, "note": "checked on site"}),
            ("close", disp, {}),
        )
    ]


async def _cycle_client(client: Client, rec: Recorder, tokens: dict[str, str], n: int) -> None:
    create, steps = _create_request(tokens, n), _steps(tokens)
    while time.perf_counter() < rec.end:
        created = await _post(client, rec, "create", create)
        if created is None:
            await asyncio.sleep(0.01)
            continue
        case_id = int(json.loads(created)["id"])
        for action, req in steps:
            if await _post(client, rec, action, req, case_id) is None:
                break


async def _create_cases(client: Client, tokens: dict[str, str], n: int, count: int) -> list[int]:
    """Cases for ``transitions`` mode, created before the clock starts (nothing recorded)."""
    create, ids = _create_request(tokens, n), []
    for _ in range(count):
        status, body = await client.send(create, 0)
        if status != 201:
            raise RuntimeError(f"creating a case before the window: HTTP {status} {body[:200]!r}")
        ids.append(int(json.loads(body)["id"]))
    return ids


async def _transition_client(
    client: Client, rec: Recorder, tokens: dict[str, str], case_ids: list[int], out_of_cases: list[int]
) -> None:
    steps = _steps(tokens)
    for case_id in case_ids:
        for action, req in steps:
            if time.perf_counter() >= rec.end:
                return
            if await _post(client, rec, action, req, case_id) is None:
                break
    if time.perf_counter() < rec.end:
        out_of_cases.append(1)  # this client stopped early: the run needs more --cases


async def _insert_client(client: Client, rec: Recorder, n: int) -> None:
    req = Prepared("/rows", None, {"note": f"row from client {n}"})
    while time.perf_counter() < rec.end:
        await _post(client, rec, "insert", req)


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
    out_of_cases: list[int] = []
    async with httpx.AsyncClient(base_url=args.url, limits=limits, timeout=60.0) as pool:
        url = httpx.URL(args.url)
        clients: list[Client] = [
            RawClient(url.host, url.port or 80) if args.client == "raw" else HttpxClient(pool)
            for _ in range(args.clients)
        ]
        if args.mode == "transitions":
            made = [_create_cases(c, tokens, n, args.cases) for n, c in enumerate(clients)]
            case_ids = await asyncio.gather(*made)
        now = time.perf_counter()
        rec = Recorder(now + args.warmup, now + args.warmup + args.seconds, think=args.think)
        if args.mode == "cycle":
            tasks = [_cycle_client(c, rec, tokens, n) for n, c in enumerate(clients)]
        elif args.mode == "transitions":
            tasks = [
                _transition_client(c, rec, tokens, ids, out_of_cases)
                for c, ids in zip(clients, case_ids, strict=True)
            ]
        else:
            tasks = [_insert_client(c, rec, n) for n, c in enumerate(clients)]
        watch = asyncio.create_task(_watch_cpu(rec, args.server_pid))
        running = [asyncio.create_task(t) for t in tasks]
        cpu = await watch
        ages = sorted(rec.end - began for began in rec.inflight.values())
        _, late = await asyncio.wait(running, timeout=args.grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        for c in clients:
            if isinstance(c, RawClient) and c.conn is not None and c.conn.transport is not None:
                c.conn.transport.close()
    return {
        "window_s": args.seconds,
        "inflight_at_end": len(ages),
        "oldest_inflight_s": ages[-1] if ages else 0.0,
        "abandoned": len(late),
        "out_of_cases": len(out_of_cases),
        "latencies": rec.latencies,
        "errors": rec.errors,
        "error_samples": rec.samples,
        "cpu": cpu,
        "think_s": args.think,
        "client": args.client,
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
    p.add_argument("--mode", choices=("cycle", "transitions", "insert"), required=True)
    p.add_argument("--cases", type=int, default=12, help="transitions mode: cases per client made beforehand")
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--tokens", default="", help="JSON: dispatcher, handler, supervisor bearer tokens")
    p.add_argument("--server-pid", type=int, default=None)
    p.add_argument("--think", type=float, default=0.0, help="mean think time before each request [s]")
    p.add_argument("--grace", type=float, default=5.0, help="seconds to let requests finish, then cancel")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw", help="HTTP client (default raw)")
    print(json.dumps(asyncio.run(run(p.parse_args()))))


if __name__ == "__main__":
    main()

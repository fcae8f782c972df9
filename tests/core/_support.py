"""Shared by the audit, outbox, backup and CLI tests: a committed database of the chosen backend,
cheap password hashing, audited activity, and a real HTTP receiver for webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gongzhi import migrate
from gongzhi.cases import service as cases
from gongzhi.cases.schemas import ActionIn, CaseCreate
from gongzhi.cases.statemachine import Action
from gongzhi.core import service as core
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.registry import Registry
from tests.conftest import drop_database, new_database_url


@dataclass
class Committed:
    """A fresh, migrated database whose writes really commit (several connections or processes see them)."""

    url: str
    engine: Engine
    factory: sessionmaker[Session]


@contextmanager
def committed_database(tmp: Path) -> Iterator[Committed]:
    url, name = new_database_url(tmp)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        try:
            yield Committed(url, engine, make_session_factory(engine))
        finally:
            engine.dispose()
    finally:
        drop_database(name)


_prefixes = itertools.count(1)


def busy_region(factory: sessionmaker[Session], code: str, n_cases: int = 3) -> int:
    """A region with audited activity written by several transactions: creation, then cases accepted."""
    with unit_of_work(factory, Scope.for_system()) as s:
        prefix = f"T{next(_prefixes):03d}"  # case numbers are unique across regions, so are prefixes
        rid = core.create_region(s, code, f"{code}区", prefix).id
    for i in range(n_cases):
        with unit_of_work(factory, Scope.for_system()) as s:
            case = cases.create_case(
                s, Registry(), CaseCreate(title=f"路灯不亮 {i}", category="road"), region_id=rid
            )
            cases.apply(s, Registry(), case.id, Action.ACCEPT, ActionIn(note=f"受理 {i}"))
    return rid


def standard_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """What a receiver computes, per Standard Webhooks, to check ``webhook-signature``."""
    mac = hmac.new(secret.encode(), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def signature_ok(self, secret: str) -> bool:
        expected = standard_signature(
            secret, self.headers["webhook-id"], self.headers["webhook-timestamp"], self.body
        )
        return hmac.compare_digest(expected, self.headers["webhook-signature"])


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1: answers from ``statuses`` (then 204); hangs while ``hang`` is set."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    hang: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("content-length", 0)))
        self.requests.append(Received({k.lower(): v for k, v in handler.headers.items()}, body))
        self.arrived.set()
        if self.hang.is_set():
            self.release.wait(30)
            return  # the sender is gone; nothing to answer
        handler.send_response(self.statuses.pop(0) if self.statuses else 204)
        handler.send_header("content-length", "0")
        handler.end_headers()

    @property
    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests]


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()

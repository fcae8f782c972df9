"""``--threads N``: serve an app with AnyIO's default thread limiter raised from 40 to N tokens.

A diagnostic, not the default: it shows what the case loop does once no request can be kept waiting for a
thread while it holds a database connection (or, on SQLite, the write lock). Both apps get the same limit.
"""

from __future__ import annotations

import os

import anyio.to_thread
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send


class ThreadLimit:
    """ASGI wrapper that sets the limiter on its first call, inside the server's event loop."""

    def __init__(self, app: FastAPI, tokens: int) -> None:
        self.app, self.tokens, self.done = app, tokens, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.done:
            anyio.to_thread.current_default_thread_limiter().total_tokens = self.tokens
            self.done = True
        await self.app(scope, receive, send)


def _tokens() -> int:
    return int(os.environ["BENCH_THREADS"])


def gongzhi_app() -> ThreadLimit:
    from gongzhi.app import create_app

    return ThreadLimit(create_app(), _tokens())


def bare_app() -> ThreadLimit:
    from bare import create_app

    return ThreadLimit(create_app(), _tokens())

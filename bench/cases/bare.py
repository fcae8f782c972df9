"""The baseline of the cases benchmark: a bare FastAPI app whose one endpoint inserts one row.

It uses gongzhi's engine (``gongzhi.db.make_engine``: the same SQLite pragmas and ``BEGIN IMMEDIATE``, the
same PostgreSQL pool) and a synchronous handler in the thread pool like gongzhi's, and nothing else: no
auth, no scoping, no audit, no outbox, no metrics middleware. It commits inside the handler, as the plain
FastAPI idiom does. (A yield dependency that commits on exit, as gongzhi's ``scoped_session`` does, keeps
the connection, and on SQLite the write lock, until FastAPI has validated the response in a *second*
thread-pool call; at 100 clients every one of the 40 pool threads then waits for a connection or the lock,
and nothing moves until the 30 s timeouts fire. See the benchmark's report.)

Served with ``uvicorn --factory bare:create_app``; the database comes from ``GONGZHI_DATABASE_URL``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from fastapi import FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import DateTime, Engine, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from gongzhi.db import make_engine

frozen_heap: Callable[[], AbstractContextManager[None]]
try:  # the same collector setting as the real app (code from before it had none: nothing)
    from gongzhi.serving import frozen_heap
except ImportError:
    frozen_heap = contextlib.nullcontext


class BareBase(DeclarativeBase):
    pass


class BenchRow(BareBase):
    __tablename__ = "bench_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    note: Mapped[str] = mapped_column(String(200))


class RowIn(BaseModel):
    note: str = Field(default="", max_length=200)


class RowRead(BaseModel):
    id: int


def create_table(engine: Engine) -> None:
    BareBase.metadata.create_all(engine)


@contextlib.asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    with frozen_heap():
        yield


def create_app() -> FastAPI:
    app = FastAPI(title="bare insert", lifespan=_lifespan)
    factory = sessionmaker(make_engine(os.environ["GONGZHI_DATABASE_URL"]), expire_on_commit=False)

    @app.post("/rows", status_code=201)
    def insert(body: RowIn) -> RowRead:
        with factory.begin() as s:
            row = BenchRow(created_at=datetime.now(UTC).replace(tzinfo=None), note=body.note)
            s.add(row)
            s.flush()
            return RowRead(id=row.id)

    return app

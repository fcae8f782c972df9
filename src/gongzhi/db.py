"""Engine, sessions, the unit of work and the one place where region scoping happens.

Every row a region owns derives from :class:`RegionOwned`. A session carries a :class:`Scope` in
``session.info["scope"]``; the ``do_orm_execute`` hook adds the scope's criteria to every ORM
select, update and delete, so no query can forget it. A session without a scope refuses to query.
Internal plumbing that must cross regions (the audit chain, the outbox) says so explicitly with
``execution_options(unscoped=True)``. The criteria attach to the entities a statement selects, updates or
deletes; a subquery is not a statement entity, so counts are written as ``select(func.count(X.id))``.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import JSON, DateTime, Dialect, Engine, ForeignKey, String, Table, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.orm.util import LoaderCriteriaOption
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from gongzhi.errors import ScopeMissing

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; gongzhi stores aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class hour_of(FunctionElement[str]):
    """The UTC hour of a :class:`UTCDateTime` column as text, ``YYYY-MM-DD HH``, computed by the database
    on both backends, so that a series of samples can be summed per hour in SQL (``GROUP BY``) instead of
    every row being read into Python. Parse it with ``format=HOUR_FORMAT``."""

    type = String()
    inherit_cache = True


HOUR_FORMAT = "%Y-%m-%d %H"


@compiles(hour_of, "sqlite")
def _hour_of_sqlite(element: hour_of, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps a DateTime as text, 'YYYY-MM-DD HH:MM:SS.ffffff': its first 13 characters are the hour
    # (a prefix, several times faster than strftime on every row)
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 13)"


@compiles(hour_of, "postgresql")
def _hour_of_postgresql(element: hour_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD HH24')"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


class RegionOwned:
    """Mixin for every row a region owns."""

    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)

    @classmethod
    def scope_criterion(cls, region_id: int) -> ColumnElement[bool]:
        return cls.region_id == region_id


@dataclass(frozen=True)
class Scope:
    """Who is acting and in which region; ``system`` scopes see every region (CLI, worker)."""

    region_id: int | None
    user_id: int | None = None
    role: str | None = None
    system: bool = False
    token_id: int | None = None
    username: str = "system"

    @classmethod
    def for_system(cls) -> Scope:
        return cls(region_id=None, system=True)


def scope_of(session: Session) -> Scope:
    scope = session.info.get("scope")
    if not isinstance(scope, Scope):
        raise ScopeMissing("session has no scope; open it with unit_of_work(..., scope=...)")
    return scope


@event.listens_for(Session, "do_orm_execute")
def _apply_region_scope(state: ORMExecuteState) -> None:
    if state.is_column_load or state.is_relationship_load:
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("unscoped"):
        return
    scope = scope_of(state.session)
    if scope.system:
        return
    rid = scope.region_id
    assert rid is not None
    state.statement = _scoped(state, rid)


_SCOPED: weakref.WeakKeyDictionary[Any, dict[int, Any]] = weakref.WeakKeyDictionary()


def _scoped(state: ORMExecuteState, rid: int) -> Any:
    """The statement with the region's criteria, derived once per statement object and region: a
    statement built once (a module constant, as on the hot paths) then keeps one scoped copy per region,
    whose cache key SQLAlchemy computes once, instead of a new copy to key on every execution. The
    entries go with their statement (weak keys), so statements built per call leave nothing behind."""
    per_region = _SCOPED.get(state.statement)
    scoped = per_region.get(rid) if per_region is not None else None
    if scoped is None:
        options = [
            _region_criteria(m.class_, rid) for m in state.all_mappers if issubclass(m.class_, RegionOwned)
        ]
        if not options:
            return state.statement
        scoped = state.statement.options(*options)
        _SCOPED.setdefault(state.statement, {})[rid] = scoped
    return scoped


_CRITERIA: dict[tuple[type[Any], int], LoaderCriteriaOption] = {}


def _region_criteria(cls: type[RegionOwned], region_id: int) -> LoaderCriteriaOption:
    """One option per entity and region, built once: the criteria are plain expressions with the region
    id bound, so the same (immutable) option serves every statement instead of rebuilding the expression
    for each query."""
    key = (cls, region_id)
    option = _CRITERIA.get(key)
    if option is None:
        option = with_loader_criteria(cls, cls.scope_criterion(region_id), include_aliases=True)
        _CRITERIA[key] = option
    return option


def table_of(cls: type[Any]) -> Table:
    """A mapped class's table, for plain INSERT/UPDATE statements on hot paths."""
    return cast(Table, cls.__table__)


@event.listens_for(Session, "after_transaction_end")
def _forget_memo(session: Session, transaction: SessionTransaction) -> None:
    # lookups remembered within one unit of work (cases.service._memo); a flush's inner transaction
    # ends inside the unit of work and must not drop them
    if transaction.parent is None:
        session.info.pop("memo", None)


def normalise_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 20)
    engine = create_engine(parsed, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


PING_IDLE_S = 10.0
"""A pooled connection idle this long is pinged at checkout; one in steady use is not (see below)."""


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only if it sat idle for ``PING_IDLE_S`` or more, instead of
    ``pool_pre_ping``'s round trip on every checkout (a fifth of a PostgreSQL request's statements).

    Connections die mostly while idle (server restart, idle timeouts in between): those are pinged and
    replaced before use, as before. A connection that dies while in steady use fails its first
    statement; SQLAlchemy then invalidates it and every connection of the pool opened before, so the
    next checkouts connect afresh. A request's first statements settle who is calling; when they meet
    such a connection they run once more (``core.deps.scoped_session``), and the case write requests retry
    their whole unit of work once (``cases.hotpath``)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_conn, None):
                raise DisconnectionError("idle connection found dead at checkout") from err
            raise


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    if url.database and url.database != ":memory:":
        from pathlib import Path

        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        if checkpointer is not None:
            checkpointer.ensure_running()
            cur.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it, off the lock
        cur.close()

    checkpointer = None
    if url.database and url.database != ":memory:":
        checkpointer = CHECKPOINTERS[engine] = _Checkpointer(url.database)
        weakref.finalize(engine, checkpointer.halt)
        event.listen(engine, "engine_disposed", lambda _engine: checkpointer.halt())
    writers = WRITERS[engine] = _WriterQueue()
    writers.install(engine)
    event.listen(engine, "before_cursor_execute", _refuse_nul_text)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers must take the lock up front: a deferred transaction that upgrades later fails at once
        # with SQLITE_BUSY under WAL instead of waiting. Reads (GET requests) begin deferred and so run
        # beside the writer.
        mode = conn.get_execution_options().get("sqlite_begin") or SQLITE_BEGIN.get()
        if mode == "DEFERRED":
            conn.exec_driver_sql("BEGIN DEFERRED")
            return
        raw = conn.connection.dbapi_connection
        writers.enter(raw)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writers.leave(raw)
            raise

    return engine


def _refuse_nul_text(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _executemany: bool
) -> None:
    """Refuse text holding a NUL (U+0000) on SQLite as PostgreSQL refuses it, so that the two databases
    keep the same data: raised as the driver's ``DataError``, which SQLAlchemy wraps and the web layer
    answers with 422 (``web.problems``). A ``before_cursor_execute`` listener: the parameters are one row
    (a tuple or a dict; one flattened tuple for a batch of "insertmanyvalues") or, for ``executemany``, a
    list of them."""
    rows = parameters if isinstance(parameters, list) else (parameters,)
    for row in rows:
        values = row.values() if isinstance(row, dict) else row or ()
        if any(type(v) is str and "\x00" in v for v in values):
            import sqlite3

            raise sqlite3.DataError("text fields cannot contain NUL (0x00) characters")


WRITER_WAIT_S = 30.0
WRITERS: weakref.WeakKeyDictionary[Engine, _WriterQueue] = weakref.WeakKeyDictionary()


class _WriterQueue:
    """This process's writers queue for SQLite's write lock in a Python lock before ``BEGIN IMMEDIATE``.

    SQLite's own busy handler polls with sleeps of up to 100 ms, so with dozens of threads waiting the
    lock often sits free while they sleep, and unlucky threads wait seconds (p99 above one second for 40
    writing threads, against about 0.14 s queued here). Other processes still wait in SQLite's handler.
    The lock is released when the connection commits, rolls back, or is invalidated or closed; a writer
    that waits longer than ``WRITER_WAIT_S`` goes on to SQLite's own wait rather than hang.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holder: Any = None

    def enter(self, dbapi_conn: Any) -> None:
        if self.lock.acquire(timeout=WRITER_WAIT_S):
            self.holder = dbapi_conn

    def leave(self, dbapi_conn: Any) -> None:
        if dbapi_conn is not None and self.holder is dbapi_conn:
            self.holder = None
            self.lock.release()

    def install(self, engine: Engine) -> None:
        dialect = engine.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_conn: Any) -> None:
            try:
                commit(dbapi_conn)
            finally:
                self.leave(getattr(dbapi_conn, "dbapi_connection", dbapi_conn))

        def do_rollback(dbapi_conn: Any) -> None:
            try:
                rollback(dbapi_conn)
            finally:
                self.leave(getattr(dbapi_conn, "dbapi_connection", dbapi_conn))

        dialect.do_commit = do_commit  # type: ignore[method-assign,assignment]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign,assignment]
        for name in ("invalidate", "soft_invalidate", "close", "detach"):
            event.listen(engine, name, lambda dbapi_conn, *_: self.leave(dbapi_conn))


CHECKPOINT_EVERY_S = 0.5
CHECKPOINTERS: weakref.WeakKeyDictionary[Engine, _Checkpointer] = weakref.WeakKeyDictionary()


class _Checkpointer:
    """Copies the WAL back into a SQLite database file from a thread of its own, every
    ``CHECKPOINT_EVERY_S``, instead of SQLite's automatic checkpoint.

    The automatic checkpoint runs inside the commit that fills the WAL past 1,000 pages, with that
    writer's fsyncs: the commit takes 20–110 ms instead of 0.1 ms, and every other writer of the process
    waits behind it in :class:`_WriterQueue` (in process, 10 of 1,800 case-request commits, 0.5 s in all).
    A PASSIVE checkpoint on a connection of its own blocks neither writers nor readers; once it has
    copied every frame, the next writer starts the WAL from its beginning again, so the file stays
    bounded. The thread starts with the engine's first connection and ends when the engine is disposed
    or collected (and starts again with the next connection of a disposed engine); a database whose
    engines are all gone is checkpointed by SQLite on the last close."""

    def __init__(self, path: str) -> None:
        self.path, self.stop = path, threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def ensure_running(self) -> None:
        """Start the thread (again, after a dispose): called for every new connection of the engine."""
        with self.lock:
            if self.thread is not None and self.thread.is_alive() and not self.stop.is_set():
                return
            self.stop = threading.Event()
            self.thread = threading.Thread(
                target=self._run, args=(self.stop,), name="gongzhi-checkpoint", daemon=True
            )
            self.thread.start()

    def halt(self) -> None:
        """Stop the thread and, unless called from it, wait until it has closed its connection: whoever
        disposes the engine may then remove the database's files (a checkpoint under way would open the
        file again, leaving it behind in a removed folder)."""
        with self.lock:
            self.stop.set()
            thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)

    def _run(self, stop: threading.Event) -> None:
        import logging
        import sqlite3

        conn: sqlite3.Connection | None = None
        failing = False
        try:
            while not stop.wait(CHECKPOINT_EVERY_S):
                try:
                    if conn is None:
                        conn = sqlite3.connect(
                            self.path, timeout=30, check_same_thread=False, isolation_level=None
                        )
                    self.checkpoint(conn)
                    failing = False
                except sqlite3.Error as exc:
                    # e.g. the file was replaced under the engine (a restore): open it afresh next time,
                    # and say so once, not every half second
                    if not failing:
                        logging.getLogger(__name__).warning("WAL checkpoint of %s failed: %s", self.path, exc)
                    failing = True
                    if conn is not None:
                        conn.close()
                        conn = None
        finally:
            if conn is not None:
                conn.close()

    @staticmethod
    def checkpoint(conn: Any) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the WAL, frames checkpointed)."""
        busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(log), int(done)


SessionFactory = Callable[[], Session]

SQLITE_BEGIN: ContextVar[str] = ContextVar("gongzhi_sqlite_begin", default="IMMEDIATE")
"""How SQLite transactions of the current request begin; set to DEFERRED for requests that only read."""


def write_lock(s: Session) -> None:
    """Make the session's next transaction a writer on SQLite whatever the request (no-op elsewhere)."""
    s.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def read_only(s: Session) -> None:
    """Make the session's next transaction a reader on SQLite whatever the request (no-op elsewhere)."""
    s.connection(execution_options={"sqlite_begin": "DEFERRED"})


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: SessionFactory, scope: Scope) -> Iterator[Session]:
    """The one transaction helper: commit on success, roll back on any error. Services only flush."""
    with factory() as session:
        session.info["scope"] = scope
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

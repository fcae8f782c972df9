"""SQLite writers queue in one Python lock per engine; every way a write transaction ends releases it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from gongzhi import db
from gongzhi.db import CHECKPOINTERS, WRITERS, _Checkpointer, make_engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    return engine


def held(engine: Engine) -> bool:
    return WRITERS[engine].lock.locked()


def test_a_writer_holds_the_queue_until_it_commits(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert held(sqlite_engine)
    assert not held(sqlite_engine)


def test_a_failed_writer_releases_the_queue(sqlite_engine: Engine) -> None:
    with pytest.raises(IntegrityError), sqlite_engine.begin() as conn:
        conn.execute(text("INSERT INTO t (v) VALUES ('a'), ('a')"))
    assert not held(sqlite_engine)


def test_a_writer_closed_without_commit_releases_the_queue(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        conn.execute(text("INSERT INTO t (v) VALUES ('b')"))
        assert held(sqlite_engine)
    assert not held(sqlite_engine)
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0


def test_a_reader_does_not_queue(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        conn.execute(text("SELECT count(*) FROM t")).scalar_one()
        assert not held(sqlite_engine)


def test_writers_in_many_threads_all_commit(sqlite_engine: Engine) -> None:
    def write(n: int) -> None:
        for i in range(20):
            with sqlite_engine.begin() as conn:
                conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": f"{n}-{i}"})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 160
    assert not held(sqlite_engine)


def test_request_connections_leave_wal_checkpoints_to_the_checkpointer(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
    thread = CHECKPOINTERS[sqlite_engine].thread
    assert thread is not None
    assert thread.is_alive()


def test_the_checkpointer_copies_the_wal_back_into_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int, int]] = []
    checkpoint = _Checkpointer.checkpoint

    def recording(conn: Any) -> tuple[int, int, int]:
        seen.append(checkpoint(conn))
        return seen[-1]

    monkeypatch.setattr(_Checkpointer, "checkpoint", staticmethod(recording))
    monkeypatch.setattr(db, "CHECKPOINT_EVERY_S", 0.05)
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    for i in range(50):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": str(i) * 100})
    deadline = time.monotonic() + 10
    while not any(busy == 0 and log > 0 and done == log for busy, log, done in seen):
        assert time.monotonic() < deadline, f"no complete checkpoint: {seen[-3:]}"
        time.sleep(0.05)
    engine.dispose()


def test_a_disposed_engine_stops_its_checkpointer_and_starts_it_again_when_used(
    sqlite_engine: Engine,
) -> None:
    checkpointer = CHECKPOINTERS[sqlite_engine]
    first = checkpointer.thread
    assert first is not None
    sqlite_engine.dispose()
    first.join(timeout=5)
    assert not first.is_alive()
    with sqlite_engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    assert checkpointer.thread is not None and checkpointer.thread is not first
    assert checkpointer.thread.is_alive()
    sqlite_engine.dispose()


def test_disposing_an_engine_waits_for_a_checkpoint_under_way(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller may remove the database once the engine is disposed (``migrate_check`` does, in a
    temporary folder): a checkpoint that was under way has ended and closed its connection."""
    inside, ended = threading.Event(), threading.Event()
    checkpoint = _Checkpointer.checkpoint
    mine: list[threading.Thread] = []  # other tests' engines may still have checkpointers running

    def slow(conn: Any) -> tuple[int, int, int]:
        if threading.current_thread() not in mine:
            return checkpoint(conn)
        inside.set()
        time.sleep(0.3)
        got = checkpoint(conn)
        ended.set()
        return got

    monkeypatch.setattr(_Checkpointer, "checkpoint", staticmethod(slow))
    with sqlite_engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    thread = CHECKPOINTERS[sqlite_engine].thread
    assert thread is not None
    mine.append(thread)
    assert inside.wait(timeout=10)
    sqlite_engine.dispose()
    assert ended.is_set() and not thread.is_alive()


def test_a_failing_checkpoint_is_reported_once_and_retried_on_a_fresh_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A restore that replaces the file under a live engine made every checkpoint fail with "disk I/O
    error", logged every half second; now the checkpointer says it once and opens the file afresh."""
    import sqlite3

    opened: list[str] = []
    outcomes: list[bool] = []
    checkpoint = _Checkpointer.checkpoint
    connect = sqlite3.connect

    ours: list[sqlite3.Connection] = []  # other tests' engines may still checkpoint here: leave them be

    def counting(path: str, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = connect(path, *args, **kwargs)
        if path.endswith("flaky.db") and threading.current_thread().name == "gongzhi-checkpoint":
            opened.append(path)
            ours.append(conn)
        return conn

    def flaky(conn: Any) -> tuple[int, int, int]:
        if not any(conn is c for c in ours):
            return checkpoint(conn)
        if len(outcomes) < 3:
            outcomes.append(False)
            raise sqlite3.OperationalError("disk I/O error")
        outcomes.append(True)
        return checkpoint(conn)

    monkeypatch.setattr(_Checkpointer, "checkpoint", staticmethod(flaky))
    monkeypatch.setattr(sqlite3, "connect", counting)
    monkeypatch.setattr(db, "CHECKPOINT_EVERY_S", 0.02)
    engine = make_engine(f"sqlite:///{tmp_path / 'flaky.db'}")
    with caplog.at_level("WARNING", logger="gongzhi.db"), engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        deadline = time.monotonic() + 10
        while outcomes.count(True) < 2:
            assert time.monotonic() < deadline, outcomes
            time.sleep(0.02)
    engine.dispose()
    failed = [r for r in caplog.records if "WAL checkpoint" in r.getMessage()]
    assert len(failed) == 1 and "disk I/O error" in failed[0].getMessage()
    assert len(opened) == 4  # each of the three failures dropped its connection; the fourth one works

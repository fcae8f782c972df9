"""SQLite writers queue in one Python lock per engine; every way a write transaction ends releases it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from gongzhi.db import WRITERS, make_engine


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

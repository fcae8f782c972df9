"""Dead PostgreSQL connections: the pool pings a connection that sat idle before handing it out; any request
whose first statement meets a connection killed while in use settles its caller once more on a fresh one, and
a case write request runs its whole unit of work once more."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from gongzhi import db
from gongzhi.app import create_app
from gongzhi.cases.models import CaseEvent
from gongzhi.core import service as core
from gongzhi.core.models import Role
from gongzhi.db import Scope, unit_of_work
from gongzhi.settings import Settings
from tests.conftest import BACKEND, PG_ADMIN
from tests.core._support import Committed, committed_database

pytestmark = [
    pytest.mark.backend,  # each test opens a database of the chosen backend itself
    pytest.mark.skipif(BACKEND != "postgresql", reason="dead server connections: PostgreSQL only"),
]


@pytest.fixture
def committed(tmp_path: Path) -> Iterator[Committed]:
    with committed_database(tmp_path) as c:
        yield c


def kill_connections(url: str) -> int:
    """Terminate every server connection to the database, as a server restart would; how many."""
    name = make_url(url).database
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def test_an_idle_connection_that_died_is_replaced_before_use(
    committed: Committed, monkeypatch: pytest.MonkeyPatch
) -> None:
    with committed.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert kill_connections(committed.url) == 1
    monkeypatch.setattr(db, "PING_IDLE_S", 0.0)  # the pooled connection counts as idle
    with committed.engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_a_connection_in_steady_use_is_not_pinged_so_its_death_fails_one_statement(
    committed: Committed,
) -> None:
    with committed.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    kill_connections(committed.url)
    with pytest.raises(DBAPIError) as failed, committed.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert failed.value.connection_invalidated
    with committed.engine.connect() as conn:  # the pool was invalidated: a fresh connection
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


@contextmanager
def served(committed: Committed, tmp_path: Path, role: Role) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app over the committed database, and the headers of a token of ``role`` in a region of its own."""
    with unit_of_work(committed.factory, Scope.for_system()) as s:
        rid = core.create_region(s, "rc", "重连区", "RC").id
        s.info["scope"] = Scope(region_id=rid, system=True)
        user = core.create_user(s, "u", "U", "a-long-password-1", role, region_id=rid)
        s.info["scope"] = Scope(region_id=rid, user_id=user.id, role=role, username="u")
        _, token = core.create_token(s, "t", role)
    settings = Settings(env="test", database_url=committed.url, data_dir=tmp_path, embedded_worker=False)
    with TestClient(create_app(settings, committed.factory)) as client:
        yield client, {"Authorization": f"Bearer {token}"}


def test_a_case_action_on_a_killed_connection_is_retried_once_and_applied_once(
    committed: Committed, tmp_path: Path
) -> None:
    with served(committed, tmp_path, Role.DISPATCHER) as (client, headers):
        r = client.post("/api/v1/cases", json={"title": "井盖缺失", "category": "road"}, headers=headers)
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        assert kill_connections(committed.url) >= 1
        r = client.post(f"/api/v1/cases/{case_id}/actions/accept", json={}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "accepted"
    with unit_of_work(committed.factory, Scope.for_system()) as s:
        accepted = select(func.count()).where(CaseEvent.case_id == case_id, CaseEvent.action == "accept")
        assert s.execute(accepted).scalar_one() == 1


def test_any_request_whose_connection_was_killed_in_use_is_answered(
    committed: Committed, tmp_path: Path
) -> None:
    with served(committed, tmp_path, Role.VIEWER) as (client, headers):
        for path in ("/api/v1/cases", "/api/v1/alerts"):
            assert client.get(path, headers=headers).status_code == 200
            assert kill_connections(committed.url) >= 1  # the connections were in use a moment ago
            r = client.get(path, headers=headers)
            assert r.status_code == 200, r.text

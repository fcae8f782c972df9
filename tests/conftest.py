"""Test harness: one database per session (SQLite file or a fresh PostgreSQL database), migrations applied
once, a fixed cast of people, and every test rolled back.

The backend is chosen by GONGZHI_TEST_DB (sqlite | postgresql). The PostgreSQL leg needs a server at
GONGZHI_TEST_PG (default 127.0.0.1:5432, trust auth); outside CI an unreachable server skips the leg with
a message, in CI (CI=true) it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from argon2 import PasswordHasher
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gongzhi import migrate
from gongzhi.app import create_app
from gongzhi.cases.models import Actor, DispatchRule, SlaPolicy
from gongzhi.core import security
from gongzhi.core import service as core
from gongzhi.core.models import Role
from gongzhi.db import Scope, make_engine, unit_of_work
from gongzhi.kit import geo
from gongzhi.registry import Registry, load_modules
from gongzhi.settings import Settings

BACKEND = os.environ.get("GONGZHI_TEST_DB", "sqlite")
PG_ADMIN = os.environ.get("GONGZHI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct horse battery"
PRODUCTION_HASHER = security._hasher


def pg_available() -> bool:
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


def new_database_url(tmp: Path) -> tuple[str, str | None]:
    """A fresh, empty database of the chosen backend: (url, postgres db name to drop afterwards)."""
    if BACKEND == "sqlite":
        return f"sqlite:///{tmp / f'gz-{uuid.uuid4().hex[:8]}.db'}", None
    if not pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but {PG_ADMIN} is not reachable")
        pytest.skip(f"PostgreSQL at {PG_ADMIN} is not reachable: PostgreSQL leg skipped")
    name = f"gongzhi_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def drop_database(name: str | None) -> None:
    if name is None:
        return
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL leg runs only the tests that touch a database: those using the session database
    (``database_url`` in their fixture closure) and those marked ``backend``, which open one of the chosen
    backend themselves. The rest (analytics, parsers, readers) would run the same code twice, and so would
    the few heavy ones marked ``sqlite_leg``, whose database only carries frames or a flight's results to
    what they test (a reader, the analysis, an upload's parsing), which the same writes on PostgreSQL cover
    in other tests."""
    if BACKEND == "sqlite":
        return
    keep: list[pytest.Item] = []
    skip: list[pytest.Item] = []
    for item in items:
        uses_db = "database_url" in getattr(item, "fixturenames", ()) or item.get_closest_marker("backend")
        (keep if uses_db and not item.get_closest_marker("sqlite_leg") else skip).append(item)
    if skip:
        config.hook.pytest_deselected(items=skip)
        items[:] = keep


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """argon2id at its production cost takes a few hundred ms a hash, and the cast, the fixtures and the
    demos create hundreds of users; verification reads the cost from each hash. test_auth checks the
    production cost itself."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, name = new_database_url(tmp_path_factory.mktemp("db"))
    migrate.upgrade(url)
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_modules()


@dataclass
class Person:
    username: str
    user_id: int
    region_id: int
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def scope(self) -> Scope:
        return Scope(region_id=self.region_id, user_id=self.user_id, role=self.role, username=self.username)


@dataclass
class World:
    """The fixed cast: region A (owner) paired with B; C is unpaired.

    alice is A's dispatcher, bob a handler of A's roads department, dana A's supervisor, adam A's admin,
    vera A's viewer; bella is a handler in paired region B; charlie is C's admin, the outsider.
    """

    a: int
    b: int
    c: int
    roads_actor: int
    parks_actor: int
    b_shared_actor: int
    c_actor: int
    cell_a: int
    people: dict[str, Person]

    def __getattr__(self, name: str) -> Person:
        try:
            people: dict[str, Person] = self.__dict__["people"]
            return people[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def _person(s: Session, username: str, region_id: int, role: str, dept: int | None = None) -> Person:
    s.info["scope"] = Scope(region_id=region_id, system=True)
    user = core.create_user(s, username, username.title(), PASSWORD, role, dept, region_id=region_id)
    s.info["scope"] = Scope(region_id=region_id, user_id=user.id, role=role, username=username)
    _, token = core.create_token(s, f"{username}-tests", role)
    s.info["scope"] = Scope.for_system()
    return Person(username, user.id, region_id, role, token)


def build_world(factory: sessionmaker[Session]) -> World:
    with unit_of_work(factory, Scope.for_system()) as s:
        a = core.create_region(s, "alpha", "甲区", "AA", center_lon=120.14, center_lat=30.31).id
        b = core.create_region(s, "beta", "乙县", "BB", center_lon=119.17, center_lat=29.03).id
        c = core.create_region(s, "gamma", "丙区", "CC", center_lon=105.96, center_lat=32.32).id
        core.pair_regions(s, a, b)
        s.info["scope"] = Scope(region_id=a, role=Role.ADMIN, username="setup")
        roads = core.create_department(s, "roads", "道路科").id
        parks = core.create_department(s, "parks", "园林科").id
        cell = core.upsert_grid_cell(s, "A-01", "一号网格", geo.square(120.14, 30.31, 0.01)).id
        s.info["scope"] = Scope(region_id=b, role=Role.ADMIN, username="setup")
        b_dept = core.create_department(s, "data", "数据局").id
        s.info["scope"] = Scope(region_id=c, role=Role.ADMIN, username="setup")
        c_dept = core.create_department(s, "roads", "丙区道路").id
        s.info["scope"] = Scope.for_system()
        people = {
            "alice": _person(s, "alice", a, Role.DISPATCHER),
            "bob": _person(s, "bob", a, Role.HANDLER, roads),
            "pete": _person(s, "pete", a, Role.HANDLER, parks),
            "dana": _person(s, "dana", a, Role.SUPERVISOR),
            "adam": _person(s, "adam", a, Role.ADMIN),
            "vera": _person(s, "vera", a, Role.VIEWER),
            "bella": _person(s, "bella", b, Role.HANDLER, b_dept),
            "charlie": _person(s, "charlie", c, Role.ADMIN),
        }
        actors = [
            Actor(region_id=a, kind="department", name="道路科", department_id=roads),
            Actor(region_id=a, kind="department", name="园林科", department_id=parks),
            Actor(
                region_id=b, kind="department", name="数据局", department_id=b_dept, shared_with_pairs=True
            ),
            Actor(
                region_id=c, kind="department", name="丙区道路", department_id=c_dept, shared_with_pairs=True
            ),
        ]
        s.add_all(actors)
        s.flush()
        s.add(DispatchRule(region_id=a, position=10, category="road", actor_id=actors[0].id))
        s.add(DispatchRule(region_id=a, position=20, category="tree", actor_id=actors[1].id))
        s.add(
            SlaPolicy(
                region_id=a,
                category="*",
                priority="*",
                claim_amount=4,
                claim_unit="working_hours",
                resolve_amount=3,
                resolve_unit="working_days",
            )
        )
        s.flush()
        return World(a, b, c, actors[0].id, actors[1].id, actors[2].id, actors[3].id, cell, people)


@pytest.fixture(scope="session")
def world(engine: Engine) -> World:
    return build_world(sessionmaker(engine, expire_on_commit=False))


@pytest.fixture
def factory(engine: Engine, world: World) -> Iterator[sessionmaker[Session]]:
    """Sessions bound to one connection whose outer transaction is rolled back after the test."""
    conn = engine.connect()
    outer = conn.begin()
    yield sessionmaker(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    outer.rollback()
    conn.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(env="test", database_url=database_url, data_dir=tmp_path, embedded_worker=False)


@pytest.fixture
def client(settings: Settings, factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, factory)) as c:
        yield c


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """The app's routes, flattened: FastAPI keeps an included router as one entry (its routes carry their
    prefix, as gongzhi includes its routers without one)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)

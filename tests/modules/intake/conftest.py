"""Intake fixtures: the starter category tree and an Open311 api_key, inside each test's rollback."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest
from openpyxl import Workbook
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.intake import duplicates, routing, service
from tests.conftest import World

POINT_A = (30.312, 120.141)  # lat, lon inside region A's grid cell


@dataclass
class Intake:
    api_key: str
    c_api_key: str


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    duplicates.reset()
    routing._cache.clear()
    yield
    duplicates.reset()


@pytest.fixture
def intake(factory: sessionmaker[Session], world: World) -> Intake:
    keys = []
    for rid in (world.a, world.c):
        with unit_of_work(factory, Scope(region_id=rid, system=True, username="setup")) as s:
            service.seed_categories(s, rid)
            keys.append(service.create_api_key(s, "test app")[1])
    return Intake(keys[0], keys[1])


def xlsx(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """A workbook of one sheet: ``header``, then ``rows``."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

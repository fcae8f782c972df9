"""Catalog fixtures: admins for the paired region B (the fixed cast has only a handler there)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.core import service as core
from gongzhi.core.models import Role
from gongzhi.db import Scope, unit_of_work
from tests.conftest import PASSWORD, Person, World


@pytest.fixture
def bert(factory: sessionmaker[Session], world: World) -> Person:
    """B's admin, created inside the test's rolled-back transaction."""
    with unit_of_work(factory, Scope(region_id=world.b, system=True)) as s:
        user = core.create_user(s, "bert", "Bert", PASSWORD, Role.ADMIN, region_id=world.b)
        s.info["scope"] = Scope(region_id=world.b, user_id=user.id, role=Role.ADMIN, username="bert")
        _, token = core.create_token(s, "bert-tests", Role.ADMIN)
    return Person("bert", user.id, world.b, Role.ADMIN, token)

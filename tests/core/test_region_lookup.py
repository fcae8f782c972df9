"""How a region a person names on the command line is found: code, then administrative code, then id."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.core import service as core
from gongzhi.db import Scope, unit_of_work
from gongzhi.errors import NotFound


def test_an_all_digit_code_names_its_region_not_the_region_with_that_id(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory, Scope.for_system()) as s:
        other = core.create_region(s, "lookup_other", "另一区", "LKO")
        digits = core.create_region(s, str(other.id), "数字代码区", "LKD")
        assert core.get_region(s, str(other.id)).id == digits.id
        assert core.get_region(s, other.id).id == other.id


def test_an_administrative_code_names_the_one_region_that_has_it(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory, Scope.for_system()) as s:
        region = core.create_region(s, "lookup_admin", "拱墅测试区", "LKA", admin_code="339105")
        assert core.get_region(s, "339105").id == region.id
        core.create_region(s, "lookup_twin", "同码区", "LKT", admin_code="339105")
        with pytest.raises(NotFound):
            core.get_region(s, "339105")


def test_an_id_is_the_last_resort_and_nothing_else_matches(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory, Scope.for_system()) as s:
        region = core.create_region(s, "lookup_id", "编号区", "LKI")
        assert core.get_region(s, str(region.id)).id == region.id
        for missing in ("", "nowhere", "²", "99999999999999999999"):
            with pytest.raises(NotFound):
                core.get_region(s, missing)

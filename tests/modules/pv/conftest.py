from __future__ import annotations

import pytest

from gongzhi.modules.pv.analytics.geometry import LonLat

from .shapes import rectangle


@pytest.fixture
def newspaper_roof() -> list[LonLat]:
    """250 m east-west by 200 m north-south: 50,000 m2."""
    return rectangle(250, 200)

"""While an app serves, what it loaded stays out of the collector's full passes, and nothing stays frozen
after it stops (see ``gongzhi.serving.frozen_heap``; ``bench/cases`` measured the pauses it removes)."""

from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gongzhi import serving
from gongzhi.app import create_app
from gongzhi.settings import Settings


def test_a_serving_app_keeps_its_loaded_objects_out_of_full_collections(
    settings: Settings, factory: sessionmaker[Session]
) -> None:
    assert gc.get_freeze_count() == 0
    with TestClient(create_app(settings, factory)) as client:
        assert client.get("/healthz").status_code == 200
        frozen = gc.get_freeze_count()
        # the modules, the ORM and the routes: hundreds of thousands of objects a full pass skips
        assert frozen > 100_000, frozen
    assert gc.get_freeze_count() == 0  # unfrozen when the app stopped: a test process keeps nothing


def test_only_a_processs_first_app_sweeps_the_garbage_before_freezing(
    settings: Settings, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep walks the whole heap; a test process starts an app for each of hundreds of tests."""
    sweeps: list[int] = []

    def collect(generation: int = 2) -> int:
        sweeps.append(generation)
        return 0

    monkeypatch.setattr(serving, "_swept", False)
    monkeypatch.setattr(gc, "collect", collect)
    for _ in range(2):
        with TestClient(create_app(settings, factory)) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > 100_000
        assert gc.get_freeze_count() == 0
    assert sweeps == [2]

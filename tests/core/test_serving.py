"""While an app serves, what it loaded stays out of the collector's full passes, and nothing stays frozen
after it stops (see ``gongzhi.serving.frozen_heap``; ``bench/cases`` measured the pauses it removes)."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

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

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gongzhi.modules.pv.analytics.geometry import LonLat
from gongzhi.modules.pv.io import dji_thermal_cli

from .shapes import rectangle


@pytest.fixture
def newspaper_roof() -> list[LonLat]:
    """250 m east-west by 200 m north-south: 50,000 m2."""
    return rectangle(250, 200)


@pytest.fixture(scope="session")
def _dji_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dji-thermal-cache")


_CHECKOUT_DJI = Path(__file__).resolve().parents[3] / ".venv-dji" / "bin" / "dji-thermal-cli"


@pytest.fixture(autouse=True)
def _own_dji_cache(_dji_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Converted DJI temperatures go to this session's folder, never to the user's cache; the checkout's own
    dji-thermal-cli (``make dji``) is used when none is named."""
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(_dji_cache))
    if not os.environ.get(dji_thermal_cli.PROGRAM_ENV) and _CHECKOUT_DJI.is_file():
        monkeypatch.setenv(dji_thermal_cli.PROGRAM_ENV, str(_CHECKOUT_DJI))


@pytest.fixture
def dji_program() -> Path:
    """The real ``dji-thermal-cli`` (``.ci/run`` installs it with ``make dji``); skips without it."""
    found = dji_thermal_cli.program()
    if found is None:
        pytest.skip(f"dji-thermal-cli is not installed: make dji, then set {dji_thermal_cli.PROGRAM_ENV}")
    return found


@pytest.fixture
def no_dji_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``dji-thermal-cli`` anywhere, neither named nor on ``PATH``, and nothing it converted before."""
    monkeypatch.delenv(dji_thermal_cli.PROGRAM_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "empty-cache"))

from __future__ import annotations

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


@pytest.fixture(autouse=True)
def _own_dji_cache(_dji_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Converted DJI temperatures go to this session's folder, never to the user's cache."""
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(_dji_cache))


@pytest.fixture
def dji_program() -> Path:
    """The real ``dji-thermal-cli`` (``.ci/run`` installs it with ``make dji``); skips without it."""
    found = dji_thermal_cli.program()
    if found is None:
        pytest.skip(f"dji-thermal-cli is not installed: make dji, then set {dji_thermal_cli.PROGRAM_ENV}")
    return found


@pytest.fixture
def no_dji_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``dji-thermal-cli`` anywhere, neither named, nor on ``PATH``, nor beside this environment, and
    nothing it converted before."""
    monkeypatch.delenv(dji_thermal_cli.PROGRAM_ENV, raising=False)
    monkeypatch.setattr(dji_thermal_cli, "BESIDE", tmp_path / "no-venv-dji" / "dji-thermal-cli")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "empty-cache"))

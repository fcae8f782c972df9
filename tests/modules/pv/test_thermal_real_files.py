"""Readers on real camera files in ``shared/data/thermal`` (thermal_parser samples, MIT); skipped if absent.

Reference ranges are the data README's "measured range" column, measured there with independent decoders
(``flyr`` for FLIR, a port of DJI's SDK for DJI). Tolerance: 0.3 K at each end for FLIR, the README's figures
being given to 0.1 K and "about".
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest

from gongzhi.modules.pv.analytics.georef import segment_modules
from gongzhi.modules.pv.io import dji_thermal_cli
from gongzhi.modules.pv.io.dji import read_dji_raw
from gongzhi.modules.pv.io.reader_errors import TemperatureUnavailableError
from gongzhi.modules.pv.io.thermal import list_frames, read_frame, sniff_format

_ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [_ROOT.parent / "shared/data/thermal", Path("/work/shared/data/thermal")]
THERMAL = Path(
    os.environ.get("GONGZHI_THERMAL_DATA")
    or next((str(p) for p in _CANDIDATES if p.is_dir()), str(_CANDIDATES[0]))
)
TOLERANCE_K = 0.3

DJI = {
    # file: (model as written, camera key, raster w×h, APP4 block, emissivity, distance [m], humidity [%])
    "M30T_DJI_0001_R.JPG": ("M30T", "M30T", (640, 512), "iirp", 0.95, 5.0, 50.0),
    "M3T_DJI_0001_R.JPG": ("M3T", "M3T", (640, 512), "iirp", 0.95, 5.0, 50.0),
    "M4T_DJI_0001_R.JPG": ("M4T", "M4T", (640, 512), "iirp", 0.95, 5.0, 50.0),
    "H20T_DJI_0001_R.JPG": ("ZH20T", "H20T", (640, 512), "dirp", 1.0, 5.0, 70.0),
    "H30T_DJI_0001_R.JPG": ("H30T", "H30T", (1280, 1024), "iirp", 0.95, 13.0, 50.0),
}


def _sample(name: str) -> Path:
    path = THERMAL / name
    if not path.is_file():
        pytest.skip(f"real thermal sample {path} is absent (set GONGZHI_THERMAL_DATA to its folder)")
    return path


def test_the_flir_t640_sample_decodes_to_the_measured_range() -> None:
    frame = read_frame(_sample("FLIR_T640.jpg"))
    t = frame.temperature_c
    assert t.shape == (480, 640)
    assert np.isfinite(t).all()
    assert float(t.min()) == pytest.approx(25.5, abs=TOLERANCE_K)
    assert float(t.max()) == pytest.approx(97.9, abs=TOLERANCE_K)
    m = frame.meta
    assert (m.model, m.camera, m.width_px, m.height_px) == ("FLIR T640", None, 640, 480)
    assert m.time == dt.datetime(2020, 11, 10, 10, 39, 48, 232000, tzinfo=dt.UTC)
    assert m.emissivity == pytest.approx(0.95) and (m.distance_m, m.humidity_pct) == (1.0, 50.0)
    assert m.reflected_temp_c == pytest.approx(20.0, abs=1e-3)
    assert m.lat is None  # the sample carries no GPS
    assert segment_modules(t) == []  # not a PV plant: no array of modules


@pytest.mark.parametrize("name", sorted(DJI))
def test_real_dji_files_give_counts_and_metadata_and_without_the_converter_an_honest_refusal(
    name: str, no_dji_program: None
) -> None:
    path = _sample(name)
    model, key, (w, h), block, emissivity, distance, humidity = DJI[name]
    data = path.read_bytes()
    assert sniff_format(data, name) == "dji-rjpeg"
    raw = read_dji_raw(data, name)
    assert raw.counts.shape == (h, w)
    assert raw.is_temperature is False
    assert 10_000 < int(raw.counts.min()) < int(raw.counts.max()) < 30_000
    m = raw.meta
    assert (m.model, m.camera, m.width_px, m.height_px) == (model, key, w, h)
    assert (raw.params.calibration, m.emissivity, m.distance_m, m.humidity_pct) == (
        block,
        emissivity,
        distance,
        humidity,
    )
    assert m.time is not None
    assert m.lat is None  # these samples carry no GPS
    with pytest.raises(TemperatureUnavailableError, match=rf"^{name}: DJI R-JPEG: .*dji-thermal-cli"):
        read_frame(path)


# the data README's measured ranges (a port of DJI's SDK); the other three samples have none there
DJI_MEASURED = {"M30T_DJI_0001_R.JPG": (11.9, 23.1), "H20T_DJI_0001_R.JPG": (19.1, 56.5)}


@pytest.mark.parametrize("name", sorted(DJI))
def test_real_dji_files_read_as_temperatures_through_dji_thermal_cli(
    name: str, dji_program: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _sample(name)
    model, key, (w, h), *_ = DJI[name]
    frame = read_frame(path)
    t = frame.temperature_c
    assert t.shape == (h, w) and t.dtype == np.float32 and np.isfinite(t).all()
    if name in DJI_MEASURED:
        low, high = DJI_MEASURED[name]
        assert float(t.min()) == pytest.approx(low, abs=0.05) and float(t.max()) == pytest.approx(
            high, abs=0.05
        )
    else:
        assert -30 < float(t.min()) < float(t.max()) < 150 and float(t.max() - t.min()) > 5
    m = frame.meta
    assert (m.model, m.camera, m.width_px, m.height_px) == (model, key, w, h)
    assert m.extra["temperatures_by"] == "dji-thermal-cli" and m.emissivity is not None
    assert segment_modules(t) == []  # a generic scene: no array of modules, whatever blobs look like one
    # the same file again comes from the cache: the converter is not run (here it could not be)
    monkeypatch.setenv(dji_thermal_cli.PROGRAM_ENV, "/nonexistent/dji-thermal-cli")
    np.testing.assert_array_equal(read_frame(path).temperature_c, t)


def test_the_sample_folder_listing() -> None:
    _sample("FLIR_T640.jpg")
    rows = {r.path.name: r for r in list_frames(THERMAL)}
    assert rows["FLIR_T640.jpg"].has_temperatures
    assert {n for n, r in rows.items() if r.format == "dji-rjpeg"} >= set(DJI) & set(rows)

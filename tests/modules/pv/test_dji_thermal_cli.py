"""DJI R-JPEG temperatures through dji-thermal-cli: a flight converted in one call and cached, a file it
cannot convert refused with its reason, a wrong setting or a failing program said plainly.

The real program (``make dji``, which ``.ci/run`` runs) converts the real samples of ``shared/data/thermal``
and refuses the project's own synthetic R-JPEG, whose calibration blocks are not a camera's; small stand-in
programs play the failures the real one cannot be made to show (a crash, a raster of the wrong size).
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.io import dji_thermal_cli
from gongzhi.modules.pv.io.dji_thermal_cli import ConversionError
from gongzhi.modules.pv.io.reader_errors import TemperatureUnavailableError
from gongzhi.modules.pv.io.thermal import read_frame
from gongzhi.modules.pv.io.tiff import write_temperature_tiff

from .flights import tiny_layout
from .test_thermal_real_files import DJI, THERMAL
from .thermal_fixtures import dji_iirp_block, dji_rjpeg, gps_exif

COUNTS = (np.arange(640 * 512, dtype=np.uint32) % 4000 + 18000).astype(np.uint16).reshape(512, 640)


def synthetic_rjpeg(folder: Path, name: str = "DJI_0007_T.JPG") -> Path:
    path = folder / name
    path.write_bytes(dji_rjpeg(COUNTS, dji_iirp_block(), gps_exif(model="M3T")))
    return path


def program(folder: Path, name: str, body: str) -> Path:
    """A stand-in for dji-thermal-cli: a Python script run with ``process --input-dir I --output-dir O …``."""
    path = folder / name
    path.write_text(f"#!{sys.executable}\nimport sys, pathlib\nargs = sys.argv[1:]\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_a_flight_is_converted_in_one_call_and_what_the_program_refuses_is_named_with_its_reason(
    dji_program: Path, tmp_path: Path
) -> None:
    odd = synthetic_rjpeg(
        tmp_path
    )  # the project's own R-JPEG: no camera's calibration, the program refuses it
    tiff = tmp_path / "frame.tiff"
    write_temperature_tiff(tiff, np.full((8, 8), 30.0, dtype=np.float32))
    real = [THERMAL / name for name in sorted(DJI) if (THERMAL / name).is_file()]
    failed = dji_thermal_cli.prepare([*real, odd, tiff], jobs=2)
    assert list(failed) == [odd] and failed[odd], failed
    with pytest.raises(ConversionError, match=r"^DJI_0007_T\.JPG: dji-thermal-cli: "):
        read_frame(odd)
    for path in real:  # each one is in the cache now, under its content's digest
        assert dji_thermal_cli.cached(dji_thermal_cli.digest(path.read_bytes())).is_file()
    assert dji_thermal_cli.prepare(real, jobs=2) == {}  # nothing left to convert


def test_without_the_program_a_flight_is_prepared_as_it_is_and_each_file_refused_saying_how_to_read_it(
    no_dji_program: None, tmp_path: Path
) -> None:
    odd = synthetic_rjpeg(tmp_path)
    assert dji_thermal_cli.prepare([odd], jobs=2) == {}
    with pytest.raises(TemperatureUnavailableError, match=r"GONGZHI_DJI_THERMAL_CLI"):
        read_frame(odd)


def test_a_setting_that_names_no_program_is_said_to_be_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dji_thermal_cli.PROGRAM_ENV, str(tmp_path / "nowhere" / "dji-thermal-cli"))
    with pytest.raises(TemperatureUnavailableError, match=r"is not an executable dji-thermal-cli"):
        read_frame(synthetic_rjpeg(tmp_path))


def test_a_program_that_fails_or_writes_a_raster_of_another_size_is_refused_with_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = synthetic_rjpeg(tmp_path)
    crash = program(tmp_path, "crashes", "print('MemoryError: out of memory', file=sys.stderr)\nsys.exit(3)")
    monkeypatch.setenv(dji_thermal_cli.PROGRAM_ENV, str(crash))
    with pytest.raises(ConversionError, match=r"dji-thermal-cli: MemoryError: out of memory$"):
        read_frame(frame)
    small = program(
        tmp_path,
        "writes-3x2",
        "import numpy as np\nfrom PIL import Image\n"
        "given = pathlib.Path(args[args.index('--input-dir') + 1])\n"
        "out = pathlib.Path(args[args.index('--output-dir') + 1])\n"
        "out.mkdir(parents=True, exist_ok=True)\n"
        "for f in given.iterdir():\n"
        "    Image.fromarray(np.full((2, 3), 21.5, dtype=np.float32)).save(out / (f.stem + '_temp_c.tiff'))",
    )
    monkeypatch.setenv(dji_thermal_cli.PROGRAM_ENV, str(small))
    with pytest.raises(ConversionError, match=r"gave 3×2 px for a 640×512 raster"):
        read_frame(frame)
    # a raster that is not the frame's is not kept: the next read converts again (and is refused again)
    assert not dji_thermal_cli.cached(dji_thermal_cli.digest(frame.read_bytes())).exists()
    monkeypatch.setenv(dji_thermal_cli.PROGRAM_ENV, str(crash))
    with pytest.raises(ConversionError, match=r"out of memory$"):
        read_frame(frame)


def test_a_flight_of_real_dji_files_reaches_the_analysis_as_temperatures(dji_program: Path) -> None:
    real = [THERMAL / name for name in sorted(DJI) if (THERMAL / name).is_file()]
    if not real:
        pytest.skip(f"real thermal samples are absent from {THERMAL}")
    # the samples have no GPS: each is read as temperatures and then left out for its position, not its data
    with pytest.raises(ValueError, match=r"could be read and analysed: .*no GPS position") as refused:
        pipeline.analyse_flight(real, tiny_layout(), workers=2)
    assert "dji-thermal-cli" not in str(refused.value) and "raw counts" not in str(refused.value)

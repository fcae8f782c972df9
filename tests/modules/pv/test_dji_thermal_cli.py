"""DJI R-JPEG temperatures through dji-thermal-cli: a flight converted in one call and cached, a file it
cannot convert refused with its reason, a wrong setting or a failing program said plainly, and a real frame
given a position in DJI's XMP placed on the plant where a synthetic frame of that pose lands.

The real program (``make dji``, which ``.ci/run`` runs) converts the real samples of ``shared/data/thermal``
and refuses the project's own synthetic R-JPEG, whose calibration blocks are not a camera's; small stand-in
programs play the failures the real one cannot be made to show (a crash, a raster of the wrong size).
"""

from __future__ import annotations

import stat
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.analytics.frames import FrameMeta
from gongzhi.modules.pv.io import dji_thermal_cli, dji_writer
from gongzhi.modules.pv.io.dji_thermal_cli import ConversionError
from gongzhi.modules.pv.io.reader_errors import TemperatureUnavailableError
from gongzhi.modules.pv.io.thermal import read_frame
from gongzhi.modules.pv.io.tiff import write_temperature_tiff

from .flights import tiny_flight, tiny_layout
from .test_thermal_real_files import DJI, THERMAL
from .thermal_fixtures import dji_iirp_block, dji_rjpeg, dji_xmp, gps_exif

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


def test_make_djis_program_beside_this_environment_is_taken_when_none_is_named_or_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    beside = tmp_path / ".venv-dji" / "bin" / "dji-thermal-cli"
    beside.parent.mkdir(parents=True)
    beside.write_text("#!/bin/sh\n")
    monkeypatch.delenv(dji_thermal_cli.PROGRAM_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    monkeypatch.setattr(dji_thermal_cli, "BESIDE", beside)
    assert dji_thermal_cli.program() is None  # there, but not executable
    beside.chmod(0o755)
    assert dji_thermal_cli.program() == beside
    on_path = tmp_path / "empty-path" / "dji-thermal-cli"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    assert dji_thermal_cli.program() == on_path  # the one on PATH first
    monkeypatch.setenv(dji_thermal_cli.PROGRAM_ENV, str(beside))
    assert dji_thermal_cli.program() == beside  # and the named one before both


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


def test_a_flight_is_handed_to_the_program_as_links_to_its_files_and_a_tiff_flight_makes_no_work_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``prepare`` keeps one file in memory at a time: each file to convert goes into the program's input
    folder as it is found, here a hard link to the flight's own file (the same inode), and a file given
    twice goes once."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(cache))
    seen = tmp_path / "seen.txt"
    lists = program(
        tmp_path,
        "lists-its-input",
        "import os\n"
        "given = pathlib.Path(args[args.index('--input-dir') + 1])\n"
        f"pathlib.Path({str(seen)!r}).write_text("
        "' '.join(f'{f.stem}:{os.stat(f).st_ino}' for f in sorted(given.iterdir())))",
    )
    monkeypatch.setenv(dji_thermal_cli.PROGRAM_ENV, str(lists))
    tiff = tmp_path / "frame.tiff"
    write_temperature_tiff(tiff, np.full((8, 8), 30.0, dtype=np.float32))
    assert dji_thermal_cli.prepare([tiff, tiff], jobs=1) == {} and not cache.exists()
    first = synthetic_rjpeg(tmp_path, "DJI_0001_T.JPG")
    again = tmp_path / "DJI_0002_T.JPG"
    again.write_bytes(first.read_bytes())
    failed = dji_thermal_cli.prepare([first, tiff, again], jobs=1)
    assert set(failed) == {first, again}  # the stand-in writes no temperatures
    # the frame (once, linked) and the file whose raster holds every count for its camera's table
    camera = dji_thermal_cli.camera_key(first.read_bytes())
    given = dict(item.split(":") for item in seen.read_text().split())
    assert given == {dji_thermal_cli.digest(first.read_bytes()): str(first.stat().st_ino), **given}
    assert set(given) == {dji_thermal_cli.digest(first.read_bytes()), f"{camera}-ramp0"}
    assert [p.name for p in cache.iterdir()] == []  # the work folder is gone


def test_a_flight_of_real_dji_files_reaches_the_analysis_as_temperatures(dji_program: Path) -> None:
    real = [THERMAL / name for name in sorted(DJI) if (THERMAL / name).is_file()]
    if not real:
        pytest.skip(f"real thermal samples are absent from {THERMAL}")
    # the samples have no GPS: each is read as temperatures and then left out for its position, not its data
    with pytest.raises(ValueError, match=r"could be read and analysed: .*no GPS position") as refused:
        pipeline.analyse_flight(real, tiny_layout(), workers=2)
    assert "dji-thermal-cli" not in str(refused.value) and "raw counts" not in str(refused.value)


def with_dji_position(rjpeg: bytes, meta: FrameMeta) -> bytes:
    """``rjpeg`` with a DJI ``drone-dji`` XMP packet giving ``meta``'s position and attitude (the samples
    were published with their position removed)."""
    return with_xmp(
        rjpeg,
        GpsLatitude=f"{meta.lat:.9f}",
        GpsLongitude=f"{meta.lon:.9f}",
        RelativeAltitude=f"{meta.alt_rel_m:+.3f}",
        GimbalYawDegree=f"{meta.gimbal_yaw_deg:+.2f}",
        GimbalPitchDegree="-90.00",
        FlightYawDegree=f"{meta.flight_yaw_deg:+.2f}",
    )


def with_xmp(rjpeg: bytes, **values: str) -> bytes:
    """``rjpeg`` with a ``drone-dji`` XMP packet of ``values`` after its APPn segments (where DJI puts it)."""
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + dji_xmp(**values).encode()
    at = 2
    while rjpeg[at] == 0xFF and 0xE0 <= rjpeg[at + 1] <= 0xEF:
        at += 2 + struct.unpack(">H", rjpeg[at + 2 : at + 4])[0]
    return rjpeg[:at] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + rjpeg[at:]


def test_a_real_dji_frame_with_its_position_is_placed_on_the_plant_as_a_frame_of_that_pose_is(
    dji_program: Path, tmp_path: Path
) -> None:
    sample = THERMAL / "M3T_DJI_0001_R.JPG"
    if not sample.is_file():
        pytest.skip(f"real thermal samples are absent from {THERMAL}")
    # a synthetic M3T frame over the test roof gives a pose; the real M3T file is given that pose in DJI's XMP
    synthetic = tiny_flight(tmp_path / "synthetic")
    twin = synthetic.frames[len(synthetic.frames) // 2]
    pose = read_frame(twin).meta
    frame = tmp_path / "DJI_0001_R.JPG"
    frame.write_bytes(with_dji_position(sample.read_bytes(), pose))

    placed = pipeline.analyse_flight([frame], tiny_layout(), workers=1)
    alike = pipeline.analyse_flight([twin], tiny_layout(), workers=1)

    assert (placed.frames, placed.frames_used, placed.skipped) == (1, 1, ())
    (info,) = placed.frame_infos
    assert info.camera == "M3T" and (info.lat, info.lon) == pytest.approx((pose.lat, pose.lon), abs=1e-9)
    seen = {m.module_id for m in placed.modules if m.frames_seen}
    # the real scene is no PV roof, so only where the frame lands is compared: the same modules as the twin's
    assert seen and seen == {m.module_id for m in alike.modules if m.frames_seen}
    assert all(m.t_median_c is not None and 5 < m.t_median_c < 60 for m in placed.modules if m.frames_seen)


def test_a_synthetic_flight_written_as_real_m3t_files_is_analysed_as_its_tiff_frames_are(
    dji_program: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole DJI path on frames of known temperatures: each frame of a synthetic flight written as a
    copy of the real M3T sample with the frame's counts and pose (:mod:`.io.dji_writer`), converted by the
    program, placed by its EXIF and XMP, analysed; the same findings and temperatures as its TIFF frames."""
    sample = THERMAL / "M3T_DJI_0001_R.JPG"
    if not sample.is_file():
        pytest.skip(f"real thermal samples are absent from {THERMAL}")
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "cache"))
    synthetic = tiny_flight(tmp_path / "synthetic")
    template = sample.read_bytes()
    table = dji_writer.calibration(template)
    steps = np.diff(table[0][(table[0] > 0) & (table[0] < 80)])
    assert 0.05 < float(np.median(steps)) < 0.12  # the M3T's 14-bit counts: about 0.08 K a step
    (tmp_path / "dji").mkdir()
    dji = []
    for path in synthetic.frames:
        written = tmp_path / "dji" / f"{path.stem}.JPG"
        written.write_bytes(dji_writer.dji_rjpeg(read_frame(path), template, table, model="M3T"))
        dji.append(written)
    back, original = read_frame(dji[3]), read_frame(synthetic.frames[3])
    assert back.meta.extra["temperatures_by"] == "dji-thermal-cli" and back.meta.camera == "M3T"
    assert float(np.nanmax(np.abs(back.temperature_c - original.temperature_c))) < 0.05
    for field in ("lat", "lon", "alt_rel_m", "gimbal_yaw_deg", "gimbal_pitch_deg"):
        assert getattr(back.meta, field) == pytest.approx(getattr(original.meta, field), abs=1e-6), field
    assert back.meta.time == original.meta.time

    as_dji = pipeline.analyse_flight(dji, tiny_layout(), workers=2)
    as_tiff = pipeline.analyse_flight(synthetic.frames, tiny_layout(), workers=2)
    assert (as_dji.frames_used, as_dji.skipped) == (len(dji), ())
    assert {(f.module_id, f.anomaly_class) for f in as_dji.findings} == {
        (f.module_id, f.anomaly_class) for f in as_tiff.findings
    }
    planted = {(a.module_id, a.anomaly.value) for a in synthetic.synthetic.anomalies}
    assert planted & {(f.module_id, f.anomaly_class) for f in as_dji.findings}
    medians = {m.module_id: m.t_median_c for m in as_tiff.modules if m.t_median_c is not None}
    seen = {m.module_id: m.t_median_c for m in as_dji.modules if m.t_median_c is not None}
    assert seen.keys() == medians.keys()
    assert max(abs(t - medians[module]) for module, t in seen.items()) < 0.1


@pytest.mark.parametrize("name", sorted(DJI))
def test_each_real_cameras_frames_are_read_through_its_table_with_the_programs_temperatures_to_the_bit(
    dji_program: Path, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flight is converted once per camera (a file holding every count, and one frame to check it by);
    each frame is then its raw counts through the camera's table, the program's own temperatures."""
    sample = THERMAL / name
    if not sample.is_file():
        pytest.skip(f"real thermal sample {sample} is absent")
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "cache"))
    data = sample.read_bytes()
    camera = dji_thermal_cli.camera_key(data)
    assert camera is not None and dji_thermal_cli.prepare([sample], jobs=1) == {}
    assert (tmp_path / "cache" / f"{camera}.table.npy").is_file(), "no table for this camera"
    by_program = dji_thermal_cli._read(dji_thermal_cli.cached(dji_thermal_cli.digest(data)), name)
    dji_thermal_cli.cached(dji_thermal_cli.digest(data)).unlink()  # so the read can only use the table
    through_table = read_frame(sample).temperature_c
    assert np.array_equal(through_table, by_program, equal_nan=True)
    # another frame of the same camera: its counts changed, its temperatures from the table alone
    other = tmp_path / f"other-{name}"
    raw = dji_thermal_cli._counts(data)
    assert raw is not None
    shifted = np.clip(raw.astype(np.int64) + 40, 0, 65535).astype(np.uint16)
    other.write_bytes(dji_thermal_cli.with_raster(data, shifted))
    assert dji_thermal_cli.camera_key(other.read_bytes()) == camera
    assert dji_thermal_cli.prepare([other], jobs=1) == {}  # nothing to convert: the table serves it
    assert not dji_thermal_cli.cached(dji_thermal_cli.digest(other.read_bytes())).exists()
    table = np.load(tmp_path / "cache" / f"{camera}.table.npy")
    assert np.array_equal(read_frame(other).temperature_c, table[shifted], equal_nan=True)


def test_a_camera_whose_table_does_not_give_the_checked_frame_is_converted_frame_by_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in program whose temperatures are not one per count (each frame 21.5 °C throughout, the
    file holding every count its counts / 100): the table fails its check, is not kept, and the camera's
    frames are converted one by one, then and in later flights."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(cache))
    calls = tmp_path / "calls.txt"
    odd = program(
        tmp_path,
        "not-per-count",
        "import numpy as np\nfrom PIL import Image\n"
        "given = pathlib.Path(args[args.index('--input-dir') + 1])\n"
        "out = pathlib.Path(args[args.index('--output-dir') + 1])\n"
        "out.mkdir(parents=True, exist_ok=True)\n"
        "stems = ' '.join(sorted(p.stem for p in given.iterdir()))\n"
        f"with open({str(calls)!r}, 'a') as f: f.write(stems + chr(10))\n"
        "for f in given.iterdir():\n"
        "    ramp = np.arange(512 * 640, dtype=np.float32).reshape(512, 640) / 100\n"
        "    temps = ramp if '-ramp' in f.stem else np.full((512, 640), 21.5, dtype=np.float32)\n"
        "    Image.fromarray(temps).save(out / (f.stem + '_temp_c.tiff'))",
    )
    monkeypatch.setenv(dji_thermal_cli.PROGRAM_ENV, str(odd))
    frames = [synthetic_rjpeg(tmp_path, f"DJI_000{i}_T.JPG") for i in range(3)]
    for i, path in enumerate(frames):  # three frames of one camera, each its own counts
        path.write_bytes(dji_thermal_cli.with_raster(path.read_bytes(), (COUNTS + i).ravel()))
    camera = dji_thermal_cli.camera_key(frames[0].read_bytes())
    assert camera is not None and {dji_thermal_cli.camera_key(p.read_bytes()) for p in frames} == {camera}
    assert dji_thermal_cli.prepare(frames, jobs=1) == {}
    first, second = calls.read_text().splitlines()
    assert f"{camera}-ramp0" in first.split() and len(first.split()) == 2  # one frame and the ramp
    assert len(second.split()) == 2  # then the other two, one by one
    assert not (cache / f"{camera}.table.npy").exists() and (cache / f"{camera}.no-table").exists()
    assert all(float(np.nanmax(np.abs(read_frame(p).temperature_c - 21.5))) == 0 for p in frames)
    later = tmp_path / "DJI_0009_T.JPG"
    later.write_bytes(dji_thermal_cli.with_raster(frames[0].read_bytes(), (COUNTS + 9).ravel()))
    assert dji_thermal_cli.prepare([later], jobs=1) == {}
    assert calls.read_text().splitlines()[-1].split() == [dji_thermal_cli.digest(later.read_bytes())]


def test_a_file_read_on_its_own_makes_its_cameras_table_and_the_next_one_is_looked_up(
    dji_program: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dock's frame as it lands is read on its own: the first makes its camera's table in one call (and
    is converted to check it), the next of that camera is looked up without the program."""
    sample = THERMAL / "M3T_DJI_0001_R.JPG"
    if not sample.is_file():
        pytest.skip(f"real thermal sample {sample} is absent")
    cache = tmp_path / "cache"
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(cache))
    first = read_frame(sample).temperature_c
    camera = dji_thermal_cli.camera_key(sample.read_bytes())
    assert (cache / f"{camera}.table.npy").is_file()
    by_program = dji_thermal_cli._read(
        dji_thermal_cli.cached(dji_thermal_cli.digest(sample.read_bytes())), "x"
    )
    assert np.array_equal(first, by_program, equal_nan=True)
    raw = dji_thermal_cli._counts(sample.read_bytes())
    assert raw is not None
    other = tmp_path / "DJI_0002_R.JPG"
    other.write_bytes(dji_thermal_cli.with_raster(sample.read_bytes(), (raw[::-1] + 8).ravel()))
    monkeypatch.setenv(dji_thermal_cli.PROGRAM_ENV, str(tmp_path / "gone" / "dji-thermal-cli"))
    # the program is gone (a wrong setting would be refused if it were called): the table serves it
    assert np.isfinite(read_frame(other).temperature_c).all()


def test_a_frame_with_a_valid_rangefinder_reading_is_converted_on_its_own_at_its_own_distance(
    dji_program: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The program takes a valid laser-rangefinder distance (XMP ``LRFStatus`` Normal) instead of the
    embedded one, and it differs from frame to frame: such a frame has no camera key and is converted on
    its own, with that distance; an invalid reading changes nothing and shares the camera's table."""
    sample = THERMAL / "M3T_DJI_0001_R.JPG"
    if not sample.is_file():
        pytest.skip(f"real thermal sample {sample} is absent")
    cache = tmp_path / "cache"
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(cache))
    plain = sample.read_bytes()
    ranged = tmp_path / "DJI_0002_T.JPG"
    ranged.write_bytes(with_xmp(plain, LRFStatus="Normal", LRFTargetDistance="60.000"))
    unranged = tmp_path / "DJI_0003_T.JPG"
    unranged.write_bytes(with_xmp(plain, LRFStatus="NoReflection", LRFTargetDistance="0.000"))
    assert dji_thermal_cli.camera_key(ranged.read_bytes()) is None
    assert dji_thermal_cli.camera_key(unranged.read_bytes()) == dji_thermal_cli.camera_key(plain)
    assert dji_thermal_cli.prepare([ranged, unranged], jobs=1) == {}
    tables = [p for p in cache.iterdir() if p.name.endswith(".table.npy")]
    assert len(tables) == 1  # the unranged frame's camera; the ranged frame converted on its own
    assert dji_thermal_cli.cached(dji_thermal_cli.digest(ranged.read_bytes())).is_file()
    at_60m, embedded = read_frame(ranged).temperature_c, read_frame(unranged).temperature_c
    assert not np.array_equal(at_60m, embedded)  # the distance enters the temperatures
    # a template with a reading of its own still writes frames: they carry the frame's XMP, not its reading
    m3t = dji_writer.dji_camera(ranged.read_bytes())
    frame = tiny_flight(tmp_path / "synthetic", frames=1).frames[0]
    written = tmp_path / "DJI_0004_T.JPG"
    written.write_bytes(m3t.rjpeg(read_frame(frame)))
    back = read_frame(written).temperature_c
    assert float(np.nanmax(np.abs(back - read_frame(frame).temperature_c))) < 0.05


def _ranged_flight(folder: Path, distances: list[float], model: str = "M4T") -> list[Path]:
    """Frames of a real sample, each with other counts and a valid rangefinder reading: by default the
    M4T's, whose temperatures depend most on the distance of the five (0.39 K a metre at 20 m on its −14 °C
    sky)."""
    sample = THERMAL / f"{model}_DJI_0001_R.JPG"
    if not sample.is_file():
        pytest.skip(f"real thermal sample {sample} is absent")
    plain = sample.read_bytes()
    raw = dji_thermal_cli._counts(plain)
    assert raw is not None
    folder.mkdir()
    paths = []
    for k, d in enumerate(distances):
        frame = dji_thermal_cli.with_raster(plain, (raw.ravel() + 4 * k).astype(np.uint16))
        path = folder / f"DJI_{k:04d}_T.JPG"
        path.write_bytes(dji_writer.with_rangefinder(frame, d))
        paths.append(path)
    return paths


def _by_the_program(
    paths: list[Path], cache: Path, monkeypatch: pytest.MonkeyPatch, known: Path | None = None
) -> list[np.ndarray]:
    """Each frame converted on its own by the program, at its own distance, in a cache of its own. Frames
    the program has already converted on their own into ``known`` (a cache the flight under test made,
    holding its checking frames) are read from there: converting them again (0.3 s a frame of the M4T,
    1.9 s of the H20T, one process, the program's start included) would add nothing but CI time."""
    keys = [dji_thermal_cli.digest(p.read_bytes()) for p in paths]
    done = {k: known / dji_thermal_cli.cached(k).name for k in keys} if known else {}
    done = {k: path for k, path in done.items() if path.is_file()}
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(cache))
    exe = dji_thermal_cli.program()
    assert exe is not None
    with dji_thermal_cli._work_folder() as (given, out):
        for path, key in zip(paths, keys, strict=True):
            if key not in done:
                (given / f"{key}.jpg").write_bytes(path.read_bytes())
        todo = [k for k in keys if k not in done]
        assert not todo or dji_thermal_cli._convert(exe, given, out, todo, jobs=2) == {}
    return [dji_thermal_cli._read(done.get(k) or dji_thermal_cli.cached(k), k) for k in keys]


def test_frames_with_rangefinder_readings_are_read_between_the_tables_of_the_metres_either_side(
    dji_program: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flight of frames at their own rangefinder distances is read between tables made at the whole metres
    either side, checked in each metre on the frames nearest its middle and farthest into it: each frame
    within RANGED_TOLERANCE_K of the program's conversion at its distance, and only those frames converted."""
    distances = [20.1, 20.45, 20.8, 21.2, 21.6, 21.95]
    paths = _ranged_flight(tmp_path / "flight", distances)
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(dji_thermal_cli, "RAMP_FRAMES", 1)  # six frames pay for three tables here
    group, distance = dji_thermal_cli.ranged_key(paths[0].read_bytes()) or ("", 0.0)
    assert distance == 20.1 and dji_thermal_cli.camera_key(paths[0].read_bytes()) is None

    assert dji_thermal_cli.prepare(paths, jobs=2) == {}
    made = sorted(p.name for p in (tmp_path / "cache").glob("*.table.npy"))
    assert made == [f"{group}-{m}m.table.npy" for m in (20, 21, 22)]
    converted = [dji_thermal_cli.cached(dji_thermal_cli.digest(p.read_bytes())).is_file() for p in paths]
    # the checks, in each metre the frame nearest its middle and the one farthest into it: the others not
    assert converted == [d in (20.45, 20.8, 21.6, 21.95) for d in distances]
    reference = _by_the_program(paths, tmp_path / "reference", monkeypatch, known=tmp_path / "cache")
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "cache"))
    worst = 0.0
    for path, want in zip(paths, reference, strict=True):
        got = read_frame(path).temperature_c
        assert np.array_equal(np.isnan(got), np.isnan(want))
        worst = max(worst, float(np.nanmax(np.abs(got - want))))
    assert worst <= dji_thermal_cli.RANGED_TOLERANCE_K
    assert worst > 0  # between the tables, not the program's own conversion
    assert dji_thermal_cli.prepare(paths, jobs=2) == {}  # nothing left to convert
    # a frame of another flight of that camera within those metres is read without the program
    later = _ranged_flight(tmp_path / "later", [21.5])[0]
    monkeypatch.setenv(dji_thermal_cli.PROGRAM_ENV, str(tmp_path / "gone" / "dji-thermal-cli"))
    assert np.isfinite(read_frame(later).temperature_c).any()


def test_rangefinder_tables_that_miss_the_check_leave_each_frame_converted_at_its_own_distance(
    dji_program: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tables read between metres that do not give the checking frame within the tolerance (here none at
    all is allowed) are not kept: every frame is converted on its own, as the program gives it, and the
    group is marked so that later flights do not make them again; so is a flight with too few frames to
    pay for its tables (the default RAMP_FRAMES), without the mark."""
    paths = _ranged_flight(tmp_path / "flight", [20.3, 20.5, 20.9])
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "few"))
    assert dji_thermal_cli.prepare(paths, jobs=2) == {}
    assert not list((tmp_path / "few").glob("*.table.npy"))
    assert not list((tmp_path / "few").glob("*.no-table"))
    # each frame converted on its own: these are the program's conversions, the reference of what follows
    reference = _by_the_program(paths, tmp_path / "reference", monkeypatch, known=tmp_path / "few")
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "few"))
    for path, want in zip(paths, reference, strict=True):
        assert np.array_equal(read_frame(path).temperature_c, want, equal_nan=True)

    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "strict"))
    monkeypatch.setattr(dji_thermal_cli, "RAMP_FRAMES", 1)
    monkeypatch.setattr(dji_thermal_cli, "RANGED_TOLERANCE_K", 0.0)
    assert dji_thermal_cli.prepare(paths, jobs=2) == {}
    assert not list((tmp_path / "strict").glob("*.table.npy"))
    assert len(list((tmp_path / "strict").glob("*-lrf.no-table"))) == 1
    for path, want in zip(paths, reference, strict=True):
        assert np.array_equal(read_frame(path).temperature_c, want, equal_nan=True)


def test_the_rangefinder_distance_is_rewritten_in_place_with_its_segment_length_mended() -> None:
    from gongzhi.modules.pv.io.jpeg_segments import segment_spans

    frame = with_xmp(b"\xff\xd8\xff\xd9", LRFStatus="Normal", LRFTargetDistance="7.5")
    moved = dji_thermal_cli.with_rangefinder_distance(frame, 123.0)
    [(marker, start, end)] = segment_spans(moved)
    assert marker == 0xE1 and moved[end:] == b"\xff\xd9"  # the length mended: the file goes on after it
    assert dji_thermal_cli._rangefinder_distance([moved[start + 4 : end]]) == 123.0
    assert len(moved) == len(frame) + len("123.000") - len("7.5")
    with pytest.raises(ValueError, match="no rangefinder distance"):
        dji_thermal_cli.with_rangefinder_distance(b"\xff\xd8\xff\xd9", 5.0)


def test_the_rangefinder_tables_are_checked_where_reading_between_metres_errs_most() -> None:
    """In each metre: nearest its middle (a smooth dependence on the distance) and farthest into it (a
    program that steps at each metre, as the H20T's); a frame that is both is converted once."""
    frames = [(Path(f"{d}"), f"k{d}", d) for d in (24.05, 24.4, 24.93, 25.5, 26.0, 26.2)]
    picked = sorted(d for _, _, d in dji_thermal_cli._checking(frames))
    assert picked == [24.4, 24.93, 25.5, 26.2]


def test_an_h20t_which_takes_whole_metres_is_read_from_the_table_of_the_whole_metre_below(
    dji_program: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The H20T's ``dirp`` takes whole metres (20.9 m is 20 m to it): read between metres, its frames miss
    the check, read from the whole metre's table below they are its conversions to the bit."""
    paths = _ranged_flight(tmp_path / "flight", [20.2, 20.5, 20.9], model="H20T")
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(dji_thermal_cli, "RAMP_FRAMES", 1)
    assert dji_thermal_cli.prepare(paths, jobs=2) == {}
    assert len(list((tmp_path / "cache").glob("*-lrf.steps"))) == 1
    converted = [dji_thermal_cli.cached(dji_thermal_cli.digest(p.read_bytes())).is_file() for p in paths]
    assert converted == [False, True, True]  # the checks: nearest the middle, farthest into the metre
    reference = _by_the_program(paths, tmp_path / "reference", monkeypatch, known=tmp_path / "cache")
    monkeypatch.setenv(dji_thermal_cli.CACHE_ENV, str(tmp_path / "cache"))
    for path, want in zip(paths, reference, strict=True):
        assert np.array_equal(read_frame(path).temperature_c, want, equal_nan=True)

"""Radiometric readers: FLIR JPEG, DJI R-JPEG, TIFF, and the errors for files they cannot read."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, TiffImagePlugin

from gongzhi.errors import InvalidInput
from gongzhi.modules.pv.analytics.frames import FrameMeta, ThermalFrame
from gongzhi.modules.pv.io.dji import read_dji_raw
from gongzhi.modules.pv.io.flir import (
    AtmosphereModel,
    ObjectParameters,
    atmospheric_transmission,
    celsius_to_raw,
    counts_to_celsius,
    raw_to_celsius,
    write_flir_jpeg,
)
from gongzhi.modules.pv.io.frame_metadata import camera_key
from gongzhi.modules.pv.io.reader_errors import (
    MissingMetadataError,
    NotRadiometricError,
    ReaderError,
    TemperatureUnavailableError,
    TruncatedFileError,
    UnknownFormatError,
)
from gongzhi.modules.pv.io.thermal import list_frames, read_frame, sniff_format
from gongzhi.modules.pv.io.tiff import read_tiff, write_frame_tiff, write_temperature_tiff

from .thermal_fixtures import (
    T640_LIKE,
    dji_dirp_block,
    dji_iirp_block,
    dji_rjpeg,
    dji_xmp,
    fff_file,
    flir_camera_info,
    flir_gps_record,
    flir_jpeg,
    gps_exif,
    plain_jpeg,
    with_segments,
)

FIELD = np.add.outer(np.linspace(20, 35, 150), np.linspace(0, 55, 200))  # 20 … 90 °C, 200×150
FIELD[40:44, 60:64] = 95.0  # a hot spot
OUTDOOR = ObjectParameters(
    emissivity=0.9,
    distance_m=20.0,
    reflected_temp_c=10.0,
    atmosphere_temp_c=28.0,
    humidity_pct=65.0,
)


# --- FLIR physics ---------------------------------------------------------------------------------------


def test_transmission_is_one_at_zero_distance_and_falls_with_distance_and_humidity() -> None:
    atm = AtmosphereModel()
    assert atmospheric_transmission(0.0, 50, 20, atm) == pytest.approx(1.0)
    near, far = atmospheric_transmission(5, 50, 20, atm), atmospheric_transmission(50, 50, 20, atm)
    humid = atmospheric_transmission(50, 95, 30, atm)
    assert 1.0 > near > far > humid > 0.8


def test_raw_and_celsius_are_inverse_under_outdoor_conditions() -> None:
    temps = np.array([-10.0, 0.0, 25.0, 60.0, 120.0])
    back = raw_to_celsius(celsius_to_raw(temps, T640_LIKE, OUTDOOR), T640_LIKE, OUTDOOR)
    np.testing.assert_allclose(back, temps, atol=1e-3)


def test_a_black_body_at_no_distance_reads_its_own_temperature() -> None:
    ideal = ObjectParameters(emissivity=1.0, distance_m=0.0)
    raw = T640_LIKE.r1 / (T640_LIKE.r2 * (np.exp(T640_LIKE.b / (50 + 273.15)) - T640_LIKE.f)) - T640_LIKE.o
    assert raw_to_celsius(np.array([raw]), T640_LIKE, ideal)[0] == pytest.approx(50.0, abs=1e-3)


def test_low_emissivity_under_a_cold_sky_corrects_the_reading_upwards() -> None:
    raw = celsius_to_raw(np.array([45.0]), T640_LIKE, ObjectParameters(emissivity=1.0, distance_m=0.0))
    corrected = raw_to_celsius(
        raw, T640_LIKE, ObjectParameters(emissivity=0.85, distance_m=0.0, reflected_temp_c=-20)
    )
    assert corrected[0] > 45.5


# --- FLIR files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("png", [False, True], ids=["raw-counts", "png-counts"])
def test_a_flir_jpeg_round_trips_known_temperatures_and_conditions(png: bool) -> None:
    when = dt.datetime(2025, 6, 1, 4, 30, 15, tzinfo=dt.UTC)
    data = flir_jpeg(FIELD, OUTDOOR, png=png, when=when)
    if not png:
        assert data.count(b"FLIR\x00\x01") >= 2  # the FFF spans several APP1 segments
    frame = read_frame(data, "t.jpg")
    # 1-count quantisation of the raw signal is ≈ 0.02 K at 20 °C with these constants
    np.testing.assert_allclose(frame.temperature_c, FIELD, atol=0.05)
    assert frame.temperature_c.dtype == np.float32
    m = frame.meta
    assert (m.width_px, m.height_px, m.model, m.time) == (200, 150, "FLIR T640", when)
    assert m.emissivity == pytest.approx(0.9)
    assert m.distance_m == pytest.approx(20.0)
    assert m.humidity_pct == pytest.approx(65.0)
    assert m.reflected_temp_c == pytest.approx(10.0, abs=1e-3)
    assert m.ambient_temp_c == pytest.approx(28.0, abs=1e-3)
    assert m.extra["format"] == "flir-fff"


def test_a_big_endian_fff_reads_the_same() -> None:
    frame = read_frame(flir_jpeg(FIELD, OUTDOOR, order=">"), "be.jpg")
    np.testing.assert_allclose(frame.temperature_c, FIELD, atol=0.05)
    assert frame.meta.distance_m == pytest.approx(20.0)


def test_a_flir_jpeg_reads_gps_from_its_exif() -> None:
    data = flir_jpeg(FIELD[:20, :30], OUTDOOR, exif=gps_exif(model="FLIR T640", lat=-33.25, lon=151.5))
    meta = read_frame(data, "g.jpg").meta
    assert meta.lat == pytest.approx(-33.25, abs=1e-6)
    assert meta.lon == pytest.approx(151.5, abs=1e-6)
    assert meta.alt_abs_m == pytest.approx(52.5)


def test_a_flir_gps_record_gives_the_position_when_exif_has_none() -> None:
    data = flir_jpeg(FIELD[:20, :30], OUTDOOR, gps_record=flir_gps_record(-33.5, -70.25, 512.0))
    meta = read_frame(data, "gps.jpg").meta
    assert (meta.lat, meta.lon, meta.alt_abs_m) == (-33.5, -70.25, 512.0)
    invalid = flir_jpeg(FIELD[:20, :30], OUTDOOR, gps_record=flir_gps_record(-33.5, -70.25, 512.0, valid=0))
    assert read_frame(invalid, "nogps.jpg").meta.lat is None


def test_a_flir_jpeg_missing_one_segment_is_truncated() -> None:
    data = flir_jpeg(FIELD, OUTDOOR)
    start = data.index(b"FLIR\x00\x01\x01")
    length = int.from_bytes(data[start - 2 : start], "big")
    cut = data[: start - 4] + data[start - 2 + length :]
    with pytest.raises(TruncatedFileError, match=r"cut\.jpg: FLIR APP1 segments \[1\]"):
        read_frame(cut, "cut.jpg")


def test_a_file_cut_in_half_names_itself_and_the_cut() -> None:
    data = flir_jpeg(FIELD, OUTDOOR)
    with pytest.raises(TruncatedFileError, match=r"^half\.jpg: JPEG segment 0xE1 .* the file ends first"):
        read_frame(data[: len(data) // 2], "half.jpg")


def test_a_jpeg_without_its_end_marker_is_truncated() -> None:
    data = flir_jpeg(FIELD[:20, :30], OUTDOOR)
    with pytest.raises(TruncatedFileError, match="end-of-image"):
        read_frame(data[:-10], "tail.jpg")


def test_a_damaged_header_cannot_announce_a_giant_raster() -> None:
    header = bytearray(0x20)
    struct.pack_into("<HHH", header, 0, 2, 60_000, 60_000)
    info = flir_camera_info(T640_LIKE, OUTDOOR, AtmosphereModel(), "FLIR T640", None)
    fff = fff_file({0x01: bytes(header) + bytes(64), 0x20: info})
    data = with_segments(plain_jpeg(), [(0xE1, b"FLIR\x00\x01\x00\x00" + fff)])
    with pytest.raises(
        NotRadiometricError, match=r"giant\.jpg: raster of 60000×60000 px is not a thermal frame"
    ):
        read_frame(data, "giant.jpg")


# --- not radiometric, unknown --------------------------------------------------------------------------


def test_a_plain_photo_is_not_radiometric() -> None:
    with pytest.raises(NotRadiometricError, match=r"^holiday\.jpg: JPEG has neither FLIR FFF .* nor DJI"):
        read_frame(plain_jpeg(exif=gps_exif()), "holiday.jpg")


@pytest.mark.parametrize(
    "data", [b"GIF89a....", b"\x89PNG\r\n\x1a\n....", b"%PDF-1.7"], ids=["gif", "png", "pdf"]
)
def test_an_unknown_format_is_refused_by_content_not_name(data: bytes) -> None:
    with pytest.raises(UnknownFormatError, match=r"^frame\.jpg: neither JPEG nor TIFF"):
        read_frame(data, "frame.jpg")


def test_reader_errors_are_value_errors_and_bad_input() -> None:
    with pytest.raises(ReaderError) as caught:
        read_frame(b"", "empty.tif")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.status == 400
    assert caught.value.source == "empty.tif"


def test_a_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match=r"nowhere\.jpg: file not found") as caught:
        read_frame(tmp_path / "nowhere.jpg")
    assert caught.value.reason == "unreadable"  # not a format it does not know: there is no file


# --- DJI ------------------------------------------------------------------------------------------------


COUNTS = (np.arange(640 * 512, dtype=np.uint32) % 4000 + 18000).astype(np.uint16).reshape(512, 640)


def test_a_dji_iirp_rjpeg_gives_counts_flagged_as_not_temperatures() -> None:
    xmp = dji_xmp(
        GpsLatitude="+31.2304",
        GpsLongitude="+121.4737",
        AbsoluteAltitude="+58.20",
        RelativeAltitude="+30.00",
        GimbalYawDegree="+87.5",
        GimbalPitchDegree="-90.0",
        FlightYawDegree="+88.1",
    )
    data = dji_rjpeg(COUNTS, dji_iirp_block(ambient=21.5, distance=12.0), gps_exif(model="M3T"), xmp)
    raw = read_dji_raw(data, "DJI_0001_T.JPG")
    assert raw.is_temperature is False
    np.testing.assert_array_equal(raw.counts, COUNTS)
    m = raw.meta
    assert (m.camera, m.model, m.width_px, m.height_px) == ("M3T", "M3T", 640, 512)
    assert (m.lat, m.lon, m.alt_abs_m, m.alt_rel_m) == (31.2304, 121.4737, 58.2, 30.0)
    assert (m.gimbal_yaw_deg, m.gimbal_pitch_deg, m.flight_yaw_deg) == (87.5, -90.0, 88.1)
    assert (m.emissivity, m.distance_m, m.humidity_pct, m.reflected_temp_c, m.ambient_temp_c) == (
        0.95,
        12.0,
        50.0,
        25.0,
        21.5,
    )
    assert m.time == dt.datetime(2024, 5, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 at +08:00
    assert raw.params.calibration == "iirp"


def test_without_dji_thermal_cli_read_frame_refuses_dji_temperatures_and_says_how_to_get_them(
    no_dji_program: None,
) -> None:
    data = dji_rjpeg(COUNTS, dji_dirp_block(), gps_exif(model="ZH20T"))
    assert sniff_format(data, "h20t.jpg") == "dji-rjpeg"
    with pytest.raises(
        TemperatureUnavailableError,
        match=r"^h20t\.jpg: DJI R-JPEG: .*Thermal SDK.*dji-thermal-cli==1\.4\.0.*GONGZHI_DJI_THERMAL_CLI",
    ):
        read_frame(data, "h20t.jpg")
    params = read_dji_raw(data, "h20t.jpg").params
    assert (params.emissivity, params.distance_m, params.humidity_pct, params.reflected_temp_c) == (
        1.0,
        5.0,
        70.0,
        23.0,
    )
    assert params.coefficients["KF"] == pytest.approx(80.7, abs=1e-3)


def test_an_unknown_dji_parameter_block_still_gives_counts_but_no_parameters(no_dji_program: None) -> None:
    data = dji_rjpeg(COUNTS, b"\x01\x02hirp" + bytes(200), gps_exif(model="M4T"))
    raw = read_dji_raw(data, "m4t.jpg")
    assert (raw.params.calibration, raw.meta.emissivity, raw.meta.camera) == ("unknown", None, "M4T")
    with pytest.raises(TemperatureUnavailableError, match=r"m4t\.jpg: DJI R-JPEG"):
        read_frame(data, "m4t.jpg")


def test_a_dji_raster_shorter_than_its_detector_is_truncated() -> None:
    data = dji_rjpeg(COUNTS[:300], dji_iirp_block(), gps_exif(model="M30T"))
    with pytest.raises(TruncatedFileError, match=r"a M30T frame needs 655360"):
        read_frame(data, "short.jpg")


# --- TIFF -----------------------------------------------------------------------------------------------


def test_a_float_celsius_tiff_round_trips_with_gps_and_dji_xmp(tmp_path: Path) -> None:
    path = tmp_path / "DJI_0002_T.tiff"
    xmp = dji_xmp(RelativeAltitude="+25.10", GimbalYawDegree="-12.5", GimbalPitchDegree="-89.9")
    write_temperature_tiff(path, FIELD, exif=gps_exif(model="M30T", offset=None), xmp=xmp)
    frame = read_frame(path)
    np.testing.assert_allclose(frame.temperature_c, FIELD, atol=1e-4)
    m = frame.meta
    assert (m.source, m.camera, m.alt_rel_m, m.gimbal_yaw_deg, m.gimbal_pitch_deg) == (
        "DJI_0002_T.tiff",
        "M30T",
        25.1,
        -12.5,
        -89.9,
    )
    assert m.lat == pytest.approx(30.5, abs=1e-6)
    assert m.lon == pytest.approx(-114.25, abs=1e-6)
    assert m.time == dt.datetime(2024, 5, 1, 2, 0, tzinfo=dt.UTC)  # naive: Asia/Shanghai
    assert m.extra["value_rule"]["from"] == "ImageDescription"


@pytest.mark.parametrize(
    ("tags", "flag", "std", "fixed"),
    [
        ({"RtkFlag": "50", "RtkStdLon": "0.01271", "RtkStdLat": "0.01642"}, 50, 0.01642, True),
        ({"RtkFlag": "16", "RtkStdLon": "1.20", "RtkStdLat": "0.90"}, 16, 1.2, False),
        ({"RtkFlag": "34"}, 34, None, False),  # float: decimetres to metres
        ({"RtkStdLon": "0.03", "RtkStdLat": "0.02"}, None, 0.03, True),  # no flag: the deviation decides
        ({"RtkStdLon": "0.80", "RtkStdLat": "0.50"}, None, 0.8, False),
        ({}, None, None, None),
        ({"RtkFlag": "fixed", "RtkStdLon": "-1"}, None, None, None),  # not numbers we can use: unknown
    ],
)
def test_the_receivers_solution_is_read_from_dji_xmp(
    tmp_path: Path, tags: dict[str, str], flag: int | None, std: float | None, fixed: bool | None
) -> None:
    path = tmp_path / "DJI_0003_T.tiff"
    write_temperature_tiff(path, FIELD, xmp=dji_xmp(RelativeAltitude="+25.10", **tags))
    m = read_frame(path).meta
    assert (m.rtk_flag, m.position_std_m, m.position_fixed) == (flag, std, fixed)


def test_the_receivers_solution_survives_every_format_the_project_writes(tmp_path: Path) -> None:
    meta = FrameMeta("f", 64, 48, lat=30.0, lon=120.0, alt_rel_m=20.0, rtk_flag=16, position_std_m=1.5)
    frame = ThermalFrame(np.full((48, 64), 30.0, dtype=np.float32), meta)
    write_frame_tiff(tmp_path / "f.tif", frame)
    (tmp_path / "f.jpg").write_bytes(write_flir_jpeg(frame))
    for name in ("f.tif", "f.jpg"):
        m = read_frame(tmp_path / name).meta
        assert (m.rtk_flag, m.position_std_m, m.position_fixed) == (16, 1.5, False), name


def test_a_centikelvin_tiff_round_trips_within_its_step(tmp_path: Path) -> None:
    path = tmp_path / "ck.tif"
    write_temperature_tiff(path, FIELD, as_centikelvin=True)
    np.testing.assert_allclose(read_frame(path).temperature_c, FIELD, atol=0.005 + 1e-4)


def _tiff(array: np.ndarray, **tags: object) -> bytes:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    for tag, value in tags.items():
        info[int(tag.removeprefix("t"))] = value
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="TIFF", tiffinfo=info)
    return buf.getvalue()


def test_an_undeclared_16_bit_tiff_is_centikelvin() -> None:
    counts = np.rint((FIELD + 273.15) * 100).astype(np.uint16)
    frame = read_tiff(_tiff(counts), "plain16.tif")
    np.testing.assert_allclose(frame.temperature_c, FIELD, atol=0.006)
    assert "centi-kelvin assumed" in frame.meta.extra["value_rule"]["from"]


def test_a_16_bit_tiff_on_another_scale_is_refused_unless_declared() -> None:
    counts = np.rint((FIELD + 273.15) / 0.04).astype(np.uint16)  # FLIR XT2 style, 0.04 K steps
    data = _tiff(counts)
    with pytest.raises(MissingMetadataError, match=r"xt2\.tif: values read as -19\d\.\d"):
        read_tiff(data, "xt2.tif")
    frame = read_tiff(data, "xt2.tif", preset="flir_xt2")
    np.testing.assert_allclose(frame.temperature_c, FIELD, atol=0.021)


def test_gdal_scale_offset_and_nodata_are_honoured() -> None:
    counts = np.rint(FIELD * 10).astype(np.uint16)
    counts[0, 0] = 65535
    gdal = (
        '<GDALMetadata><Item name="SCALE" sample="0" role="scale">0.1</Item>'
        '<Item name="OFFSET" sample="0" role="offset">0</Item>'
        '<Item name="UNITTYPE" sample="0" role="unittype">celsius</Item></GDALMetadata>'
    )
    frame = read_tiff(_tiff(counts, t42112=gdal, t42113="65535"), "gdal.tif")
    assert np.isnan(frame.temperature_c[0, 0])
    np.testing.assert_allclose(frame.temperature_c[1:], FIELD[1:], atol=0.051)


def test_a_float_kelvin_tiff_without_a_unit_is_recognised_as_kelvin() -> None:
    frame = read_tiff(_tiff((FIELD + 273.15).astype(np.float32)), "k.tif")
    np.testing.assert_allclose(frame.temperature_c, FIELD, atol=1e-3)
    assert frame.meta.extra["value_rule"]["unit"] == "K"


def test_a_float_tiff_with_a_declared_unit_is_not_second_guessed() -> None:
    data = _tiff((FIELD + 80).astype(np.float32), t270=json.dumps({"unit": "C"}))
    frame = read_tiff(data, "hot.tif")  # 100 … 170 °C would be "kelvin" by the median rule; declared °C wins
    np.testing.assert_allclose(frame.temperature_c, FIELD + 80, atol=1e-4)
    assert frame.meta.extra["value_rule"] == {
        "scale": 1.0,
        "offset": 0.0,
        "unit": "C",
        "from": "ImageDescription",
    }


def test_an_8_bit_tiff_is_a_picture() -> None:
    with pytest.raises(NotRadiometricError, match=r"pic\.tif: TIFF is a L picture"):
        read_tiff(_tiff(np.zeros((8, 8), np.uint8)), "pic.tif")


def test_a_truncated_tiff_is_reported() -> None:
    data = _tiff(FIELD.astype(np.float32))
    with pytest.raises(TruncatedFileError, match=r"cut\.tif: TIFF raster cannot be read"):
        read_tiff(data[: len(data) // 3], "cut.tif")


# --- metadata details -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("ZH20T", "H20T"),
        ("M30T", "M30T"),
        ("DJI M4T", "M4T"),
        ("MAVIC3T", "M3T"),
        ("H30T", "H30T"),
        ("FLIR T640", None),
        ("DJI Mavic 3T thermal camera", "M3T"),  # the catalogue's names, as the synthetic frames carry
        ("DJI Zenmuse H20T thermal camera", "H20T"),
        ("DJI Zenmuse thermal camera", None),
    ],
)
def test_camera_models_map_to_camera_keys(model: str, key: str | None) -> None:
    assert camera_key(model) == key


def test_gps_time_is_used_when_the_camera_time_has_no_offset() -> None:
    exif = gps_exif(model="M3T", offset=None)
    gps = exif.get_ifd(0x8825)
    gps[29] = "2024:05:01"
    gps[7] = (
        TiffImagePlugin.IFDRational(1, 1),
        TiffImagePlugin.IFDRational(59, 1),
        TiffImagePlugin.IFDRational(30, 1),
    )
    data = dji_rjpeg(COUNTS, dji_iirp_block(), exif)
    assert read_dji_raw(data, "t.jpg").meta.time == dt.datetime(2024, 5, 1, 1, 59, 30, tzinfo=dt.UTC)


def test_a_folder_listing_says_what_each_file_holds(tmp_path: Path, no_dji_program: None) -> None:
    (tmp_path / "a_flir.jpg").write_bytes(flir_jpeg(FIELD[:20, :30], OUTDOOR))
    (tmp_path / "b_dji.JPG").write_bytes(dji_rjpeg(COUNTS, dji_iirp_block(), gps_exif(model="M3T")))
    (tmp_path / "c_photo.jpg").write_bytes(plain_jpeg())
    (tmp_path / "notes.txt").write_text("ignored")
    rows = {r.path.name: r for r in list_frames(tmp_path)}
    assert list(rows) == ["a_flir.jpg", "b_dji.JPG", "c_photo.jpg"]
    assert (rows["a_flir.jpg"].format, rows["a_flir.jpg"].has_temperatures) == ("flir-jpeg", True)
    dji = rows["b_dji.JPG"]
    assert (dji.format, dji.camera, dji.has_temperatures, dji.has_position) == (
        "dji-rjpeg",
        "M3T",
        False,
        True,
    )
    assert "raw counts only" in (dji.problem or "")
    assert rows["c_photo.jpg"].format is None
    assert "plain photo" in (rows["c_photo.jpg"].problem or "")


# --- writers (for the synthetic flight and exports) ------------------------------------------------------


def _synthetic_frame() -> ThermalFrame:
    meta = FrameMeta(
        source="syn-0001",
        width_px=200,
        height_px=150,
        model="M3T",
        camera="M3T",
        time=dt.datetime(2025, 7, 1, 3, 15, 30, tzinfo=dt.UTC),
        lat=31.2304,
        lon=121.4737,
        alt_abs_m=58.2,
        alt_rel_m=25.0,
        gimbal_yaw_deg=90.0,
        gimbal_pitch_deg=-90.0,
        flight_yaw_deg=89.5,
        emissivity=0.9,
        distance_m=25.0,
        humidity_pct=60.0,
        reflected_temp_c=5.0,
        ambient_temp_c=30.0,
    )
    return ThermalFrame(temperature_c=FIELD.astype(np.float32), meta=meta)


def _same_place_and_time(got: FrameMeta, want: FrameMeta) -> None:
    assert (got.camera, got.time) == (want.camera, want.time)
    for name in (
        "lat",
        "lon",
        "alt_abs_m",
        "alt_rel_m",
        "gimbal_yaw_deg",
        "gimbal_pitch_deg",
        "flight_yaw_deg",
    ):
        assert getattr(got, name) == pytest.approx(getattr(want, name), abs=1e-6), name


def test_write_flir_jpeg_round_trips_a_frame_and_its_metadata() -> None:
    frame = _synthetic_frame()
    back = read_frame(write_flir_jpeg(frame), "syn.jpg")
    np.testing.assert_allclose(back.temperature_c, frame.temperature_c, atol=0.05)
    _same_place_and_time(back.meta, frame.meta)
    assert (back.meta.emissivity, back.meta.distance_m, back.meta.humidity_pct) == pytest.approx(
        (0.9, 25.0, 60.0)
    )


@pytest.mark.parametrize("centikelvin", [False, True], ids=["float-celsius", "uint16-centikelvin"])
def test_write_frame_tiff_round_trips_a_frame_and_its_metadata(tmp_path: Path, centikelvin: bool) -> None:
    frame = _synthetic_frame()
    write_frame_tiff(tmp_path / "syn.tif", frame, as_centikelvin=centikelvin)
    back = read_frame(tmp_path / "syn.tif")
    np.testing.assert_allclose(back.temperature_c, frame.temperature_c, atol=0.0051)
    _same_place_and_time(back.meta, frame.meta)


def test_the_count_table_gives_the_same_temperatures_as_the_formula() -> None:
    counts = np.rint(celsius_to_raw(FIELD, T640_LIKE, OUTDOOR)).astype(np.uint16)
    direct = raw_to_celsius(counts, T640_LIKE, OUTDOOR)
    np.testing.assert_array_equal(counts_to_celsius(counts, T640_LIKE, OUTDOOR), direct)

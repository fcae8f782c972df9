"""FLIR radiometric JPEG: the FFF container in APP1 ``FLIR`` segments, raw counts → °C with the file's own
Planck constants and atmospheric model.

Format (ExifTool, "FLIR Tags", TagNames/FLIR.html): APP1 payloads start ``FLIR\\0``, a version byte, the
segment index and the last index, then a slice of an FFF file. The FFF header (big-endian) gives the record
directory offset (0x18) and entry count (0x1c); each 32-byte entry gives record type, offset (0x0c) and length
(0x10). Record 0x01 ``RawData``: width (0x02), height (0x04), then the raster at 0x20, either 16-bit
little-endian counts or a PNG whose 16-bit samples are byte-swapped. Record 0x20 ``CameraInfo``
(little-endian): Emissivity 0x20, ObjectDistance 0x24, ReflectedApparentTemperature 0x28,
AtmosphericTemperature 0x2c, IRWindowTemperature 0x30, IRWindowTransmission 0x34, RelativeHumidity 0x3c,
PlanckR1 0x58, PlanckB 0x5c, PlanckF 0x60, AtmosphericTransAlpha1/2 0x70/0x74, AtmosphericTransBeta1/2
0x78/0x7c, AtmosphericTransX 0x80, CameraModel 0xd4, PlanckO 0x308, PlanckR2 0x30c, DateTimeOriginal 0x384.
Record 0x2b ``GPSInfo``: a position, used when EXIF has none.

Physics: the camera's signal is S = R1 / (R2 · (exp(B / T) − F)) − O for a black body at T [K] (FLIR's
calibration form of Planck's law). The object signal is recovered from the measured one by removing what the
atmosphere, the optional IR window and the reflected surroundings add (Minkina & Dudzik, *Infrared
Thermography: Errors and Uncertainties*, Wiley 2009, ch. 2; the same model as the R package Thermimage's
``raw2temp``). Atmospheric transmission over distance d with water content h (from humidity and air
temperature): τ = X·exp(−√d·(α1 + β1·√h)) + (1 − X)·exp(−√d·(α2 + β2·√h)), on each half of the path when a
window sits between them.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import struct
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from PIL import Image

from gongzhi.modules.pv.analytics.frames import NO_DATA_PX, FrameMeta, ThermalFrame
from gongzhi.modules.pv.io.frame_metadata import camera_key, exif_for, jpeg_metadata, merge_fields, xmp_for
from gongzhi.modules.pv.io.jpeg_segments import APP1, XMP_ID, app_payloads, jpeg_segments
from gongzhi.modules.pv.io.reader_errors import (
    MissingMetadataError,
    NotRadiometricError,
    ReaderError,
    TruncatedFileError,
    check_raster_size,
)

KELVIN = 273.15
FLIR_ID = b"FLIR\x00"
FFF_MAGIC = (b"FFF\x00", b"AFF\x00")
RECORD_RAW_DATA = 0x01
RECORD_CAMERA_INFO = 0x20
RECORD_GPS_INFO = 0x2B
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
APP1_CHUNK = 65_000


@dataclass(frozen=True, slots=True)
class PlanckCalibration:
    """Per-camera constants of S = R1 / (R2 · (exp(B / T) − F)) − O [counts, T in K]."""

    r1: float
    r2: float
    b: float
    f: float
    o: float


@dataclass(frozen=True, slots=True)
class AtmosphereModel:
    """Coefficients of the two-band atmospheric transmission τ(d, h) [-]."""

    alpha1: float = 0.006569
    alpha2: float = 0.012620
    beta1: float = -0.002276
    beta2: float = -0.006670
    x: float = 1.9


@dataclass(frozen=True, slots=True)
class ObjectParameters:
    """Measurement conditions the conversion corrects for.

    Attributes
    ----------
    emissivity : float
        Object emissivity (0–1].
    distance_m : float
        Camera–object distance [m].
    reflected_temp_c, atmosphere_temp_c : float
        Reflected apparent and air temperature [°C].
    humidity_pct : float
        Relative humidity [%].
    window_temp_c : float
        IR window temperature [°C].
    window_transmission : float
        IR window transmission (0–1]; 1 means no window.
    """

    emissivity: float = 0.95
    distance_m: float = 1.0
    reflected_temp_c: float = 20.0
    atmosphere_temp_c: float = 20.0
    humidity_pct: float = 50.0
    window_temp_c: float = 20.0
    window_transmission: float = 1.0


@dataclass(frozen=True, slots=True)
class _Path:
    tau1: float
    tau2: float
    terms: float


def atmospheric_transmission(
    distance_m: float, humidity_pct: float, air_temp_c: float, model: AtmosphereModel
) -> float:
    """Transmission of ``distance_m`` of air [-], FLIR's two-band model.

    The water content is h = RH · exp(1.5587 + 0.06939·t − 0.00027816·t² + 6.8455e-7·t³) for air at t [°C]
    and relative humidity RH as a fraction.
    """
    t = air_temp_c
    h2o = humidity_pct / 100 * math.exp(1.5587 + 0.06939 * t - 0.00027816 * t**2 + 0.00000068455 * t**3)
    root_d = math.sqrt(max(distance_m, 0.0))
    band1 = math.exp(-root_d * (model.alpha1 + model.beta1 * math.sqrt(h2o)))
    band2 = math.exp(-root_d * (model.alpha2 + model.beta2 * math.sqrt(h2o)))
    return model.x * band1 + (1 - model.x) * band2


def _signal(temp_c: float, cal: PlanckCalibration) -> float:
    return cal.r1 / (cal.r2 * (math.exp(cal.b / (temp_c + KELVIN)) - cal.f)) - cal.o


def _path(cal: PlanckCalibration, p: ObjectParameters, atm: AtmosphereModel) -> _Path:
    if not 0 < p.emissivity <= 1 or not 0 < p.window_transmission <= 1:
        raise ValueError(f"emissivity and window transmission must be in (0, 1], got {p}")
    half = p.distance_m / 2
    tau1 = atmospheric_transmission(half, p.humidity_pct, p.atmosphere_temp_c, atm)
    tau2 = tau1
    e, w = p.emissivity, p.window_transmission
    refl, air, window = (_signal(t, cal) for t in (p.reflected_temp_c, p.atmosphere_temp_c, p.window_temp_c))
    terms = (
        (1 - e) / e * refl
        + (1 - tau1) / (e * tau1) * air
        + (1 - w) / (e * tau1 * w) * window
        + (1 - tau2) / (e * tau1 * w * tau2) * air
    )
    return _Path(tau1, tau2, terms)


def raw_to_celsius(
    raw: npt.ArrayLike,
    cal: PlanckCalibration,
    params: ObjectParameters,
    atmosphere: AtmosphereModel | None = None,
) -> npt.NDArray[np.float32]:
    """Object temperature [°C] from FLIR raw counts, corrected for emissivity, reflection, air and window.

    Parameters
    ----------
    raw : array_like
        Raw detector counts, as stored in the FFF ``RawData`` record.
    cal : PlanckCalibration
        The file's Planck constants.
    params : ObjectParameters
        Emissivity, distance, humidity, reflected, air and window temperatures.
    atmosphere : AtmosphereModel, optional
        Transmission coefficients (the file's, else FLIR's usual defaults).

    Returns
    -------
    ndarray of float32
        Temperatures [°C]; NaN where the corrected signal is outside the calibration.
    """
    atm = atmosphere or AtmosphereModel()
    path = _path(cal, params, atm)
    counts = np.asarray(raw, dtype=np.float64)
    obj = counts / (params.emissivity * path.tau1 * params.window_transmission * path.tau2) - path.terms
    with np.errstate(invalid="ignore", divide="ignore"):
        kelvin = cal.b / np.log(cal.r1 / (cal.r2 * (obj + cal.o)) + cal.f)
    return (kelvin - KELVIN).astype(np.float32)


def counts_to_celsius(
    counts: npt.NDArray[np.uint16],
    cal: PlanckCalibration,
    params: ObjectParameters,
    atmosphere: AtmosphereModel | None = None,
) -> npt.NDArray[np.float32]:
    """:func:`raw_to_celsius` for integer counts via a table over the counts present: same values, faster."""
    low, high = int(counts.min()), int(counts.max())
    table = raw_to_celsius(np.arange(low, high + 1), cal, params, atmosphere)
    return table[counts.astype(np.intp) - low]


def celsius_to_raw(
    temp_c: npt.ArrayLike,
    cal: PlanckCalibration,
    params: ObjectParameters,
    atmosphere: AtmosphereModel | None = None,
) -> npt.NDArray[np.float64]:
    """Raw counts the camera records for objects at ``temp_c`` [°C]; inverse of :func:`raw_to_celsius`."""
    atm = atmosphere or AtmosphereModel()
    path = _path(cal, params, atm)
    kelvin = np.asarray(temp_c, dtype=np.float64) + KELVIN
    obj = cal.r1 / (cal.r2 * (np.exp(cal.b / kelvin) - cal.f)) - cal.o
    return (obj + path.terms) * params.emissivity * path.tau1 * params.window_transmission * path.tau2


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """What the FFF ``CameraInfo`` record says, in SI units."""

    calibration: PlanckCalibration
    params: ObjectParameters
    atmosphere: AtmosphereModel
    model: str | None = None
    time: dt.datetime | None = None
    extra: dict[str, float] = field(default_factory=dict)


def read_flir_jpeg(data: bytes, source: str) -> ThermalFrame:
    """Temperatures [°C] and metadata of a FLIR radiometric JPEG.

    Raises
    ------
    TruncatedFileError
        A FLIR segment, the FFF directory or a record is missing or cut short.
    NotRadiometricError
        The JPEG has no FLIR APP1 segments.
    MissingMetadataError
        The FFF has no raw raster or no Planck constants.
    """
    segments = jpeg_segments(data, source)
    fff = _assemble_fff(app_payloads(segments, APP1, FLIR_ID), source)
    records = _fff_records(fff, source)
    if RECORD_RAW_DATA not in records:
        raise MissingMetadataError(source, "FLIR FFF has no RawData record (no raw thermal raster)")
    if RECORD_CAMERA_INFO not in records:
        raise MissingMetadataError(source, "FLIR FFF has no CameraInfo record (no Planck constants)")
    raw = _raw_counts(records[RECORD_RAW_DATA], source)
    info = _camera_info(records[RECORD_CAMERA_INFO], source)
    try:
        with np.errstate(all="ignore"):
            temps = counts_to_celsius(raw, info.calibration, info.params, info.atmosphere)
    except (OverflowError, ZeroDivisionError, ValueError) as exc:
        raise MissingMetadataError(
            source, f"FLIR Planck constants and conditions give no conversion ({exc})"
        ) from exc
    no_data = temps.size - int(np.count_nonzero(np.isfinite(temps)))
    if no_data == temps.size:
        raise MissingMetadataError(source, "FLIR Planck constants give no finite temperature for any pixel")
    gps = _gps_fields(records.get(RECORD_GPS_INFO, b""))
    fields = merge_fields(_flir_fields(info), *jpeg_metadata(segments), gps)
    h, w = temps.shape
    fields["extra"] = {**fields.get("extra", {}), NO_DATA_PX: no_data}
    meta = FrameMeta(source=source, width_px=w, height_px=h, **fields)
    return ThermalFrame(temperature_c=temps, meta=meta)


def _flir_fields(info: CameraInfo) -> dict[str, object]:
    p = info.params
    extra: dict[str, object] = {
        "format": "flir-fff",
        "planck": {
            "r1": info.calibration.r1,
            "r2": info.calibration.r2,
            "b": info.calibration.b,
            "f": info.calibration.f,
            "o": info.calibration.o,
        },
        **info.extra,
    }
    return {
        "model": info.model,
        "camera": camera_key(info.model),
        "time": info.time,
        "emissivity": p.emissivity,
        "distance_m": p.distance_m,
        "humidity_pct": p.humidity_pct,
        "reflected_temp_c": p.reflected_temp_c,
        "ambient_temp_c": p.atmosphere_temp_c,
        "extra": extra,
    }


def _assemble_fff(parts: list[bytes], source: str) -> bytes:
    if not parts:
        raise NotRadiometricError(
            source, "JPEG has no FLIR APP1 segments (no FFF radiometric data): a plain or exported picture"
        )
    chunks: dict[int, bytes] = {}
    last = 0
    for part in parts:
        if len(part) < 8:
            raise TruncatedFileError(source, "FLIR APP1 segment shorter than its 8-byte header")
        chunks[part[6]] = part[8:]
        last = max(last, part[7])
    missing = sorted(set(range(last + 1)) - set(chunks))
    if missing:
        raise TruncatedFileError(source, f"FLIR APP1 segments {missing} of 0..{last} are missing")
    return b"".join(chunks[i] for i in range(last + 1))


def _fff_records(fff: bytes, source: str) -> dict[int, bytes]:
    if fff[:4] not in FFF_MAGIC or len(fff) < 0x20:
        raise NotRadiometricError(source, "FLIR APP1 data does not start with an FFF header")
    dir_offset, count = struct.unpack_from(">II", fff, 0x18)
    if dir_offset + 32 * count > len(fff):
        raise TruncatedFileError(source, "FLIR FFF record directory runs past the end of the data")
    records: dict[int, bytes] = {}
    for i in range(count):
        kind, _sub, _version, _index, offset, length = struct.unpack_from(">HHIIII", fff, dir_offset + 32 * i)
        if kind == 0 or kind in records:
            continue
        if offset + length > len(fff):
            raise TruncatedFileError(
                source, f"FLIR FFF record 0x{kind:02x} needs {length} bytes at {offset}, the data ends first"
            )
        records[kind] = fff[offset : offset + length]
    return records


def _endian(record: bytes) -> str:
    # The first 16-bit field is 2 in the record's own byte order (ExifTool tests it the same way).
    return "<" if struct.unpack_from("<H", record, 0)[0] == 2 else ">"


def _raw_counts(record: bytes, source: str) -> npt.NDArray[np.uint16]:
    if len(record) < 0x20:
        raise TruncatedFileError(source, "FLIR RawData record is shorter than its header")
    order = _endian(record)
    width, height = struct.unpack_from(order + "HH", record, 2)
    check_raster_size(width, height, source)
    body = record[0x20:]
    if body.startswith(PNG_MAGIC):
        try:
            with Image.open(io.BytesIO(body)) as png:
                check_raster_size(png.width, png.height, source)
                png.load()
                counts = np.asarray(png, dtype=np.uint16).byteswap()
        except ReaderError:
            raise
        except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError … on a damaged PNG
            raise TruncatedFileError(source, f"FLIR raw PNG raster cannot be decoded ({exc})") from exc
    else:
        needed = width * height * 2
        if len(body) < needed:
            raise TruncatedFileError(
                source, f"FLIR raw raster {width}×{height} needs {needed} bytes, has {len(body)}"
            )
        counts = np.frombuffer(body, dtype=order + "u2", count=width * height).reshape(height, width)
    if counts.shape != (height, width):
        raise MissingMetadataError(
            source, f"FLIR raw raster is {counts.shape[1]}×{counts.shape[0]}, header says {width}×{height}"
        )
    return counts.astype(np.uint16)


def _camera_info(record: bytes, source: str) -> CameraInfo:
    if len(record) < 0x310:
        raise TruncatedFileError(source, "FLIR CameraInfo record is too short to hold the Planck constants")
    order = _endian(record)

    def f32(offset: int) -> float:
        return round(float(struct.unpack_from(order + "f", record, offset)[0]), 6)

    cal = PlanckCalibration(
        r1=f32(0x58),
        r2=float(struct.unpack_from(order + "f", record, 0x30C)[0]),
        b=f32(0x5C),
        f=f32(0x60),
        o=float(struct.unpack_from(order + "i", record, 0x308)[0]),
    )
    if not all(math.isfinite(v) for v in (cal.r1, cal.r2, cal.b, cal.f)) or cal.r2 == 0 or cal.b == 0:
        raise MissingMetadataError(source, f"FLIR CameraInfo has no usable Planck constants ({cal})")
    humidity = f32(0x3C)
    params = ObjectParameters(
        emissivity=f32(0x20),
        distance_m=f32(0x24),
        reflected_temp_c=round(f32(0x28) - KELVIN, 3),
        atmosphere_temp_c=round(f32(0x2C) - KELVIN, 3),
        window_temp_c=round(f32(0x30) - KELVIN, 3),
        window_transmission=f32(0x34),
        humidity_pct=humidity * 100 if humidity <= 1.0 else humidity,
    )
    _check_conditions(params, source)
    atmosphere = AtmosphereModel(f32(0x70), f32(0x74), f32(0x78), f32(0x7C), f32(0x80))
    if not all(
        math.isfinite(v)
        for v in (atmosphere.alpha1, atmosphere.alpha2, atmosphere.beta1, atmosphere.beta2, atmosphere.x)
    ):
        raise MissingMetadataError(
            source, f"FLIR CameraInfo has no usable atmospheric coefficients ({atmosphere})"
        )
    model = record[0xD4 : 0xD4 + 32].split(b"\x00")[0].decode("ascii", "replace").strip() or None
    return CameraInfo(cal, params, atmosphere, model, _fff_time(record, order), _window_extra(params))


def _gps_fields(record: bytes) -> dict[str, float]:
    """Position from the FFF ``GPSInfo`` record (ExifTool: GPSValid 0x00, GPSLatitudeRef 0x08, GPSLongitudeRef
    0x0a, GPSLatitude 0x10 and GPSLongitude 0x18 as doubles, GPSAltitude 0x20), used when EXIF has none."""
    if len(record) < 0x24:
        return {}
    order = "<" if struct.unpack_from("<I", record, 0)[0] < 0x10000 else ">"
    (valid,) = struct.unpack_from(order + "I", record, 0)
    lat, lon = struct.unpack_from(order + "dd", record, 0x10)
    (alt,) = struct.unpack_from(order + "f", record, 0x20)
    if not valid or not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return {}
    lat = -abs(lat) if record[0x08:0x09] == b"S" else lat
    lon = -abs(lon) if record[0x0A:0x0B] == b"W" else lon
    out = {"lat": lat, "lon": lon}
    if math.isfinite(alt):
        out["alt_abs_m"] = float(alt)
    return out


def _check_conditions(p: ObjectParameters, source: str) -> None:
    problems = []
    if not 0 < p.emissivity <= 1:
        problems.append(f"emissivity {p.emissivity} outside (0, 1]")
    if not 0 < p.window_transmission <= 1:
        problems.append(f"IR window transmission {p.window_transmission} outside (0, 1]")
    if not (math.isfinite(p.distance_m) and p.distance_m >= 0):
        problems.append(f"object distance {p.distance_m} m")
    if not (math.isfinite(p.humidity_pct) and 0 <= p.humidity_pct <= 100):
        problems.append(f"relative humidity {p.humidity_pct} %")
    for name, value in (
        ("reflected", p.reflected_temp_c),
        ("atmospheric", p.atmosphere_temp_c),
        ("IR window", p.window_temp_c),
    ):
        if not (math.isfinite(value) and -KELVIN < value < 2000):
            problems.append(f"{name} temperature {value} °C")
    if problems:
        raise MissingMetadataError(source, "FLIR CameraInfo has invalid conditions: " + "; ".join(problems))


def _window_extra(params: ObjectParameters) -> dict[str, float]:
    return {"ir_window_temp_c": params.window_temp_c, "ir_window_transmission": params.window_transmission}


def _fff_time(record: bytes, order: str) -> dt.datetime | None:
    if len(record) < 0x38C:
        return None
    seconds, millis = struct.unpack_from(order + "II", record, 0x384)
    if seconds == 0:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC) + dt.timedelta(milliseconds=millis)


T640_CALIBRATION = PlanckCalibration(r1=15848.853515625, r2=0.014533111825585365, b=1414.9, f=1.0, o=-4405.0)
"""Planck constants of the FLIR T640 sample in ``shared/data/thermal``: the default for files we write."""


def write_flir_jpeg(
    frame: ThermalFrame,
    *,
    calibration: PlanckCalibration = T640_CALIBRATION,
    atmosphere: AtmosphereModel | None = None,
) -> bytes:
    """Encode ``frame`` as a FLIR radiometric JPEG that :func:`read_flir_jpeg` and FLIR-aware tools read.

    The raster becomes raw counts under ``calibration`` and the frame's emissivity, distance, humidity,
    reflected and ambient temperatures (defaults of :class:`ObjectParameters` where the metadata has none);
    position, time and attitude go to EXIF and ``drone-dji`` XMP. The visible JPEG is a grey rendering.
    Counts are rounded to integers (≈ 0.02 K at 20 °C with the T640 constants); NaN becomes count 0.
    """
    meta = frame.meta
    defaults = ObjectParameters()
    params = ObjectParameters(
        emissivity=meta.emissivity or defaults.emissivity,
        distance_m=meta.distance_m if meta.distance_m is not None else defaults.distance_m,
        reflected_temp_c=_or(meta.reflected_temp_c, defaults.reflected_temp_c),
        atmosphere_temp_c=_or(meta.ambient_temp_c, defaults.atmosphere_temp_c),
        humidity_pct=_or(meta.humidity_pct, defaults.humidity_pct),
    )
    atm = atmosphere or AtmosphereModel()
    raw = np.nan_to_num(celsius_to_raw(frame.temperature_c, calibration, params, atm), nan=0.0)
    counts = np.clip(np.rint(raw), 0, 65535).astype("<u2")
    fff = _fff(
        {
            RECORD_RAW_DATA: _raw_record(counts),
            RECORD_CAMERA_INFO: _info_record(calibration, params, atm, meta),
        }
    )
    pieces = [fff[i : i + APP1_CHUNK] for i in range(0, len(fff), APP1_CHUNK)]
    segments = [FLIR_ID + bytes([1, i, len(pieces) - 1]) + piece for i, piece in enumerate(pieces)]
    segments.append(XMP_ID + xmp_for(meta).encode())
    return _jpeg_with_app1(_preview(frame.temperature_c, exif_for(meta)), segments)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _raw_record(counts: npt.NDArray[np.uint16]) -> bytes:
    header = bytearray(0x20)
    struct.pack_into("<HHH", header, 0, 2, counts.shape[1], counts.shape[0])
    return bytes(header) + counts.tobytes()


def _info_record(cal: PlanckCalibration, p: ObjectParameters, atm: AtmosphereModel, meta: FrameMeta) -> bytes:
    rec = bytearray(0x400)
    struct.pack_into("<H", rec, 0, 2)
    floats = {
        0x20: p.emissivity,
        0x24: p.distance_m,
        0x28: p.reflected_temp_c + KELVIN,
        0x2C: p.atmosphere_temp_c + KELVIN,
        0x30: p.window_temp_c + KELVIN,
        0x34: p.window_transmission,
        0x3C: p.humidity_pct / 100,
        0x58: cal.r1,
        0x5C: cal.b,
        0x60: cal.f,
        0x70: atm.alpha1,
        0x74: atm.alpha2,
        0x78: atm.beta1,
        0x7C: atm.beta2,
        0x80: atm.x,
        0x30C: cal.r2,
    }
    for offset, value in floats.items():
        struct.pack_into("<f", rec, offset, value)
    struct.pack_into("<i", rec, 0x308, round(cal.o))
    model = (meta.model or "").encode("ascii", "replace")[:31]
    rec[0xD4 : 0xD4 + len(model)] = model
    if meta.time is not None:
        stamp = meta.time.timestamp()
        struct.pack_into("<II", rec, 0x384, int(stamp), round((stamp % 1) * 1000) % 1000)
    return bytes(rec)


def _fff(records: dict[int, bytes]) -> bytes:
    body = bytearray(0x40)
    body[:4] = FFF_MAGIC[0]
    body[4:20] = b"gongzhi".ljust(16, b"\x00")
    entries = b""
    for index, (kind, data) in enumerate(records.items(), start=1):
        entries += struct.pack(">HHIIII", kind, 1, 100, index, len(body), len(data)) + bytes(12)
        body += data
    struct.pack_into(">III", body, 0x14, 100, len(body), len(records))
    return bytes(body) + entries


def _preview(temps: npt.NDArray[np.float32], exif: Image.Exif) -> bytes:
    finite = temps[np.isfinite(temps)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    grey = np.nan_to_num((temps - low) / max(high - low, 1e-6) * 255, nan=0.0).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, format="JPEG", quality=85, exif=exif)
    return buf.getvalue()


def _jpeg_with_app1(jpeg: bytes, payloads: list[bytes]) -> bytes:
    segments = b"".join(b"\xff\xe1" + struct.pack(">H", len(p) + 2) + p for p in payloads)
    return jpeg[:2] + segments + jpeg[2:]

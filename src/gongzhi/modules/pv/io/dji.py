"""DJI R-JPEG (H20T, M30T, M3T, M4T, H30T …): raw detector counts, their metadata, and temperatures by
``dji-thermal-cli`` where it is installed.

What the files hold (measured on the samples in ``shared/data/thermal``; names from ExifTool's "DJI Tags"
tables, TagNames/DJI.html, and the ExifTool forum thread "DJI H20T thermal radiometric jpeg file", 2020):

- APP3 segments, concatenated: the thermal raster as 16-bit little-endian counts, width × height × 2 bytes
  (640×512, 1280×1024 on the H30T). The JPEG preview after them is a colour-mapped picture.
- APP4: the measurement parameters. H20T (``dirp`` block, magic ``AA 55``, ExifTool "ThermalParams"):
  calibration coefficients K1, K2, K3, K4, KF, B1, B2 (float32 at 36 … 60), ObjectDistance [m] (68),
  RelativeHumidity [%] (70), Emissivity [%] (72), Reflection [0.1 °C] (74), AmbientTemperature [°C] (76), D2,
  KJ, DB, KK (80 …). M30T, M3T, M4T, H30T (``iirp`` block, magic ``FF D2 D1 FF "iirp"``, ExifTool
  "ThermalParams2"): float32 AmbientTemperature [°C], ObjectDistance [m], Emissivity, RelativeHumidity
  (fraction) and ReflectedTemperature [°C] from byte 32.
- APP5: further calibration data, undocumented.

Temperatures: the function from counts (and the APP4/APP5 calibration) to temperature is inside DJI's
Thermal SDK (``libdirp``, DJI SDK licence, never to be shipped here) and DJI has not published it; ExifTool
names the coefficients but gives no formula, and guessing one is not acceptable for a measuring instrument
(the forum rule "counts / 64 − 273.15", "raw, uncorrected" values, gives 15.2–23.5 °C on the M30T sample
against the 11.9–23.1 °C the data README gives as measured, 3.3 K off at the cold end). ``read_dji_rjpeg``
takes them from ``dji-thermal-cli``, a pure-Python port of the SDK run as a program of its own
(:mod:`.dji_thermal_cli`: it gives those 11.9–23.1 °C), and refuses with the reason and how to install it
when it is absent. ``read_dji_raw`` returns the counts explicitly flagged as not temperatures.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from gongzhi.modules.pv.analytics.cameras import CAMERAS
from gongzhi.modules.pv.analytics.frames import NO_DATA_PX, FrameMeta, ThermalFrame
from gongzhi.modules.pv.io.frame_metadata import jpeg_metadata, merge_fields
from gongzhi.modules.pv.io.jpeg_segments import APP3, APP4, Segment, app_payloads, jpeg_segments
from gongzhi.modules.pv.io.reader_errors import (
    MissingMetadataError,
    NotRadiometricError,
    TruncatedFileError,
)

DIRP_MAGIC = b"\xaa\x55"
IIRP_MAGIC = b"\xff\xd2\xd1\xffiirp"
Calibration = Literal["dirp", "iirp", "unknown"]
_DIRP_COEFFICIENTS = {"K1": 36, "K2": 40, "K3": 44, "K4": 48, "KF": 52, "B1": 56, "B2": 60}
_STANDARD_RASTERS = ((640, 512), (1280, 1024), (336, 256), (160, 120), (320, 256))


@dataclass(frozen=True, slots=True)
class DjiThermalParams:
    """The APP4 measurement parameters of a DJI R-JPEG, in SI units; ``None`` where the block lacks one."""

    calibration: Calibration
    emissivity: float | None = None
    distance_m: float | None = None
    humidity_pct: float | None = None
    reflected_temp_c: float | None = None
    ambient_temp_c: float | None = None
    coefficients: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DjiRawFrame:
    """Raw detector counts of a DJI R-JPEG. **Not temperatures**: ``is_temperature`` is always False."""

    counts: npt.NDArray[np.uint16]
    meta: FrameMeta
    params: DjiThermalParams
    is_temperature: Literal[False] = False


def is_dji_rjpeg(segments: list[Segment]) -> bool:
    """True when the JPEG carries an APP3 raster and an APP4 parameter block, DJI's R-JPEG layout.

    Blocks other than ``dirp`` and ``iirp`` (DJI has more calibration families, e.g. on newer firmware) are
    still recognised, with calibration ``"unknown"``.
    """
    return bool(app_payloads(segments, APP3)) and bool(app_payloads(segments, APP4))


def read_dji_rjpeg(data: bytes, source: str) -> ThermalFrame:
    """Temperatures [°C] and metadata of a DJI R-JPEG: the temperatures from ``dji-thermal-cli``, a port of
    DJI's Thermal SDK run as a program of its own (:mod:`.dji_thermal_cli`), the metadata from this module.

    The file is parsed first, so a truncated or non-radiometric file gets its own error.

    Raises
    ------
    TemperatureUnavailableError
        No ``dji-thermal-cli`` is installed (the message says how).
    ConversionError
        It could not convert the file, or gave a raster of another size.
    """
    from gongzhi.modules.pv.io import dji_thermal_cli

    raw = read_dji_raw(data, source)
    temps = dji_thermal_cli.temperatures(data, source, (raw.meta.height_px, raw.meta.width_px), raw.counts)
    no_data = temps.size - int(np.count_nonzero(np.isfinite(temps)))
    extra = {**raw.meta.extra, "temperatures_by": "dji-thermal-cli", NO_DATA_PX: no_data}
    return ThermalFrame(temperature_c=temps, meta=replace(raw.meta, extra=extra))


def read_dji_raw(data: bytes, source: str) -> DjiRawFrame:
    """Raw counts, metadata and APP4 parameters of a DJI R-JPEG.

    Raises
    ------
    NotRadiometricError
        No APP3 raster or no APP4 parameter block (e.g. a DJI visible photo or a re-saved preview).
    TruncatedFileError
        The APP3 raster is shorter than the camera's detector.
    """
    segments = jpeg_segments(data, source)
    if not is_dji_rjpeg(segments):
        raise NotRadiometricError(source, "JPEG has no DJI APP3 thermal raster with an APP4 parameter block")
    fields = merge_fields(*jpeg_metadata(segments))
    blob = b"".join(app_payloads(segments, APP3))
    width, height = _raster_size(len(blob), fields.get("camera"), source)
    counts = np.frombuffer(blob, dtype="<u2", count=width * height).reshape(height, width).astype(np.uint16)
    params = dji_params(app_payloads(segments, APP4)[0])
    extra: dict[str, Any] = {
        "format": f"dji-rjpeg-{params.calibration}",
        "dji_coefficients": params.coefficients,
    }
    meta = FrameMeta(
        source=source,
        width_px=width,
        height_px=height,
        **merge_fields(fields, _param_fields(params)),
        extra=extra,
    )
    return DjiRawFrame(counts=counts, meta=meta, params=params)


def dji_params(block: bytes) -> DjiThermalParams:
    """Decode an APP4 parameter block (``dirp`` or ``iirp``)."""
    if block.startswith(IIRP_MAGIC) and len(block) >= 52:
        ambient, distance, emissivity, humidity, reflected = struct.unpack_from("<5f", block, 32)
        return DjiThermalParams(
            calibration="iirp",
            emissivity=_clean(emissivity),
            distance_m=_clean(distance),
            humidity_pct=_clean(humidity * 100 if humidity <= 1 else humidity),
            reflected_temp_c=_clean(reflected),
            ambient_temp_c=_clean(ambient),
        )
    if block.startswith(DIRP_MAGIC) and len(block) >= 90:
        distance, humidity, emissivity, reflection, ambient = struct.unpack_from("<5H", block, 68)
        coefficients = {
            k: _clean(struct.unpack_from("<f", block, o)[0]) or 0.0 for k, o in _DIRP_COEFFICIENTS.items()
        }
        (d2,) = struct.unpack_from("<i", block, 80)
        kj, db, kk = struct.unpack_from("<HHH", block, 84)
        coefficients |= {"D2": float(d2), "KJ": float(kj), "DB": float(db), "KK": float(kk)}
        return DjiThermalParams(
            calibration="dirp",
            emissivity=emissivity / 100,
            distance_m=float(distance),
            humidity_pct=float(humidity),
            reflected_temp_c=reflection / 10,
            ambient_temp_c=float(ambient),
            coefficients=coefficients,
        )
    return DjiThermalParams(calibration="unknown")


def _param_fields(params: DjiThermalParams) -> dict[str, Any]:
    return {
        "emissivity": params.emissivity,
        "distance_m": params.distance_m,
        "humidity_pct": params.humidity_pct,
        "reflected_temp_c": params.reflected_temp_c,
        "ambient_temp_c": params.ambient_temp_c,
    }


def _raster_size(n_bytes: int, camera: str | None, source: str) -> tuple[int, int]:
    if camera is not None and camera in CAMERAS:
        cam = CAMERAS[camera]
        needed = cam.width_px * cam.height_px * 2
        if n_bytes < needed:
            raise TruncatedFileError(
                source,
                f"DJI APP3 raster has {n_bytes} bytes, a {camera} frame needs {needed} "
                f"({cam.width_px}×{cam.height_px}×2)",
            )
        return cam.width_px, cam.height_px
    for width, height in _STANDARD_RASTERS:
        if n_bytes == width * height * 2:
            return width, height
    raise MissingMetadataError(source, f"DJI APP3 raster of {n_bytes} bytes matches no known detector size")


def _clean(value: float) -> float | None:
    return round(float(value), 4) if math.isfinite(value) else None

"""Radiometric frames as float32 TIFF files: what ``gongzhi pv synth`` writes and ``inspect`` reads back.

Layout: one page, single-channel 32-bit IEEE float samples in degrees Celsius (``SampleFormat`` 3,
``BitsPerSample`` 32), row 0 at the top; Adobe Deflate compression. Metadata in the places thermal tools
look: ``Model`` (0x0110), ``DateTime`` (0x0132, UTC), an XMP packet (0x02BC) with DJI's ``drone-dji`` names
(``GpsLatitude``, ``GpsLongitude``, ``AbsoluteAltitude``, ``RelativeAltitude``, ``GimbalYawDegree``,
``GimbalPitchDegree``, ``FlightYawDegree``, ``UTCAtExposure``) as DJI writes them in its R-JPEGs, so any
reader of DJI metadata finds position and attitude, and ``ImageDescription`` (0x010E) holding JSON: the
value rule ``{"unit": "C", "scale": 1, "offset": 0}`` that the TIFF reader of ``io/tiff.py`` looks for, and
every :class:`~gongzhi.modules.pv.analytics.frames.FrameMeta` field (``"gongzhi_frame": 1``) for an exact
round trip.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import fields
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
from PIL import Image, TiffImagePlugin

from gongzhi.modules.pv.analytics.frames import FrameMeta, ThermalFrame

TAG_DESCRIPTION, TAG_MODEL, TAG_DATETIME, TAG_XMP = 0x010E, 0x0110, 0x0132, 0x02BC
MARK = "gongzhi_frame"
_XMP_NAMES = {
    "lat": "GpsLatitude",
    "lon": "GpsLongitude",
    "alt_abs_m": "AbsoluteAltitude",
    "alt_rel_m": "RelativeAltitude",
    "gimbal_yaw_deg": "GimbalYawDegree",
    "gimbal_pitch_deg": "GimbalPitchDegree",
    "flight_yaw_deg": "FlightYawDegree",
}


def _xmp(meta: FrameMeta) -> bytes:
    attrs = [f"drone-dji:{name}={quoteattr(f'{getattr(meta, key):+.9f}')}" for key, name in _XMP_NAMES.items()
             if getattr(meta, key) is not None]  # fmt: skip
    if meta.time is not None:
        attrs.append(f"drone-dji:UTCAtExposure={quoteattr(meta.time.astimezone(dt.UTC).isoformat())}")
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" '
        + " ".join(attrs)
        + "/></rdf:RDF></x:xmpmeta>"
    ).encode()


def _meta_json(meta: FrameMeta) -> str:
    data: dict[str, Any] = {"unit": "C", "scale": 1, "offset": 0, MARK: 1}
    for f in fields(FrameMeta):
        value = getattr(meta, f.name)
        data[f.name] = value.isoformat() if isinstance(value, dt.datetime) else value
    return json.dumps(data, ensure_ascii=True, default=str)


def write_frame_tiff(
    frame: ThermalFrame, path: Path, *, compression: str | None = "tiff_adobe_deflate"
) -> None:
    """Write ``frame`` as a float32 °C TIFF with its metadata (see the module docstring)."""
    meta = frame.meta
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[TAG_DESCRIPTION] = _meta_json(meta)
    info[TAG_XMP] = _xmp(meta)
    if meta.model or meta.camera:
        info[TAG_MODEL] = meta.model or meta.camera or ""
    if meta.time is not None:
        info[TAG_DATETIME] = meta.time.astimezone(dt.UTC).strftime("%Y:%m:%d %H:%M:%S")
    image = Image.fromarray(np.ascontiguousarray(frame.temperature_c, dtype=np.float32))
    image.save(path, format="TIFF", tiffinfo=info, compression=compression)


def read_frame_tiff(path: Path) -> ThermalFrame:
    """Read a frame written by :func:`write_frame_tiff`.

    Raises
    ------
    ValueError
        If the file is not a float32 TIFF or carries no gongzhi frame metadata.
    """
    try:
        with Image.open(path) as image:
            if image.format != "TIFF" or image.mode != "F":
                raise ValueError(f"{path.name}: not a float32 temperature TIFF ({image.format} {image.mode})")
            raw = image.getexif().get(TAG_DESCRIPTION)
            temperature = np.asarray(image, dtype=np.float32)
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"{path.name}: not a readable TIFF: {exc}") from exc
    meta = _meta_from_json(raw, path.name)
    return ThermalFrame(np.ascontiguousarray(temperature), meta)


def _meta_from_json(raw: Any, source: str) -> FrameMeta:
    try:
        data = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or data.get(MARK) != 1:
        raise ValueError(f"{source}: the TIFF carries no frame metadata")
    known = {f.name for f in fields(FrameMeta)}
    kwargs = {k: v for k, v in data.items() if k in known}
    if kwargs.get("time"):
        kwargs["time"] = dt.datetime.fromisoformat(kwargs["time"])
    kwargs["source"] = kwargs.get("source") or source
    return FrameMeta(**kwargs)

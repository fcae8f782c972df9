"""Where, when and how a frame was taken, from its EXIF (CIPA DC-008) and XMP (DJI ``drone-dji``) tags.

EXIF: ``Model`` (0x0110), ``DateTimeOriginal`` (0x9003) with ``OffsetTimeOriginal`` (0x9011), the GPS IFD
(``GPSLatitude``/``Ref``, ``GPSLongitude``/``Ref``, ``GPSAltitude``/``Ref``, ``GPSDateStamp``,
``GPSTimeStamp``). XMP: the ``drone-dji`` names listed in ExifTool's "DJI XMP Tags" table and DJI's user
manuals ("Photo File" field list): ``GpsLatitude``, ``GpsLongitude`` (also misspelt ``GpsLongtitude``),
``AbsoluteAltitude``, ``RelativeAltitude``, ``GimbalYawDegree``, ``GimbalPitchDegree``, ``FlightYawDegree``,
``UTCAtExposure``, and the receiver's solution: ``RtkFlag``, ``RtkStdLon``, ``RtkStdLat`` (metres).

Times follow :class:`~gongzhi.modules.pv.analytics.frames.FrameMeta`: an offset or GPS time gives UTC; a naive
camera time is read as Asia/Shanghai local time; every time returned is in UTC.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from gongzhi.modules.pv.analytics.cameras import CAMERAS
from gongzhi.modules.pv.analytics.frames import FrameMeta
from gongzhi.modules.pv.io.jpeg_segments import APP1, EXIF_ID, XMP_ID, Segment, app_payloads

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
TAG_MAKE, TAG_MODEL, TAG_DATETIME = 0x010F, 0x0110, 0x0132
TAG_EXIF_IFD, TAG_GPS_IFD = 0x8769, 0x8825
TAG_DATETIME_ORIGINAL, TAG_OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_ALT_REF, GPS_ALT = 1, 2, 3, 4, 5, 6
GPS_TIME, GPS_DATE = 7, 29

_MODEL_ALIASES = {"ZH20T": "H20T", "ZH30T": "H30T", "MAVIC3T": "M3T", "MAVIC3ENTERPRISET": "M3T"}

_XMP_FLOATS = {
    "lat": ("GpsLatitude", "Latitude"),
    "lon": ("GpsLongitude", "GpsLongtitude", "Longitude"),
    "alt_abs_m": ("AbsoluteAltitude",),
    "alt_rel_m": ("RelativeAltitude",),
    "gimbal_yaw_deg": ("GimbalYawDegree",),
    "gimbal_pitch_deg": ("GimbalPitchDegree",),
    "flight_yaw_deg": ("FlightYawDegree",),
}


def camera_key(model: str | None) -> str | None:
    """Key in ``cameras.CAMERAS`` for a model name as files write it (``"ZH20T"`` → ``"H20T"``), or as the
    catalogue names the payload (``"DJI Mavic 3T thermal camera"``, what the synthetic frames carry), else
    None."""
    if not model:
        return None
    squeezed = _squeezed(model)
    name = squeezed.removeprefix("DJI").removeprefix("ZENMUSE")
    name = _MODEL_ALIASES.get(name, name)
    if name in CAMERAS:
        return name
    return next((key for key, camera in CAMERAS.items() if _squeezed(camera.name) == squeezed), None)


def _squeezed(model: str) -> str:
    return re.sub(r"[\s_-]", "", model.upper())


def exif_from_jpeg_app1(payload: bytes) -> Image.Exif:
    """Parse an APP1 ``Exif\\0\\0`` payload with Pillow (no image decoding)."""
    exif = Image.Exif()
    exif.load(payload)
    return exif


def exif_fields(exif: Image.Exif) -> dict[str, Any]:
    """FrameMeta keyword arguments found in ``exif`` (model, camera, time, GPS); absent tags are left out."""
    out: dict[str, Any] = {}
    model = _text(exif.get(TAG_MODEL))
    if model:
        out["model"] = model
        out["camera"] = camera_key(model)
    sub = exif.get_ifd(TAG_EXIF_IFD)
    gps = exif.get_ifd(TAG_GPS_IFD)
    out.update(_gps_fields(gps))
    time = _exif_time(sub, exif, gps)
    if time is not None:
        out["time"] = time
    return out


def xmp_fields(xmp: str | bytes | None) -> dict[str, Any]:
    """FrameMeta keyword arguments from DJI ``drone-dji`` XMP (attribute or element form)."""
    if not xmp:
        return {}
    text = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
    out: dict[str, Any] = {}
    for field, names in _XMP_FLOATS.items():
        for name in names:
            value = _xmp_value(text, name)
            number = _float(value)
            if number is not None:
                out[field] = number
                break
    flag = _float(_xmp_value(text, "RtkFlag"))
    if flag is not None and flag.is_integer() and flag >= 0:
        out["rtk_flag"] = int(flag)
    stds = [v for v in (_float(_xmp_value(text, n)) for n in ("RtkStdLon", "RtkStdLat")) if v is not None]
    if stds and all(math.isfinite(v) and v >= 0 for v in stds):
        out["position_std_m"] = max(stds)
    utc = _xmp_value(text, "UTCAtExposure")
    if utc:
        parsed = _parse_time(utc, assume=dt.UTC)
        if parsed is not None:
            out["time"] = parsed
    for name in ("Model", "DroneModel"):
        model = _xmp_value(text, name, namespaces=("tiff", "drone-dji"))
        if model:
            out.setdefault("model", model)
            out.setdefault("camera", camera_key(model))
    return out


def jpeg_metadata(segments: list[Segment]) -> list[dict[str, Any]]:
    """FrameMeta keyword arguments from a JPEG's EXIF and XMP APP1 segments (XMP first: DJI's is richer)."""
    out = [xmp_fields(p[len(XMP_ID) :]) for p in app_payloads(segments, APP1, XMP_ID)]
    out += [exif_fields(exif_from_jpeg_app1(p)) for p in app_payloads(segments, APP1, EXIF_ID)]
    return out


def exif_for(meta: FrameMeta) -> Image.Exif:
    """EXIF for a frame we write: model, capture time in UTC with its offset, GPS position and altitude."""
    exif = Image.Exif()
    if meta.model:
        exif[TAG_MODEL] = meta.model
    if meta.time is not None:
        utc = meta.time.astimezone(dt.UTC)
        sub = exif.get_ifd(TAG_EXIF_IFD)
        sub[TAG_DATETIME_ORIGINAL] = utc.strftime("%Y:%m:%d %H:%M:%S")
        sub[TAG_OFFSET_TIME_ORIGINAL] = "+00:00"
    if meta.lat is not None and meta.lon is not None:
        gps = exif.get_ifd(TAG_GPS_IFD)
        gps[GPS_LAT_REF], gps[GPS_LAT] = ("N" if meta.lat >= 0 else "S"), _to_dms(abs(meta.lat))
        gps[GPS_LON_REF], gps[GPS_LON] = ("E" if meta.lon >= 0 else "W"), _to_dms(abs(meta.lon))
        if meta.alt_abs_m is not None:
            gps[GPS_ALT_REF] = 0 if meta.alt_abs_m >= 0 else 1
            gps[GPS_ALT] = IFDRational(round(abs(meta.alt_abs_m) * 1000), 1000)
    return exif


def xmp_for(meta: FrameMeta) -> str:
    """A DJI-style ``drone-dji`` XMP packet with the attitude and altitudes of ``meta`` (absent: omitted)."""
    values = {
        "RelativeAltitude": meta.alt_rel_m,
        "AbsoluteAltitude": meta.alt_abs_m,
        "GimbalYawDegree": meta.gimbal_yaw_deg,
        "GimbalPitchDegree": meta.gimbal_pitch_deg,
        "FlightYawDegree": meta.flight_yaw_deg,
    }
    attrs = " ".join(f'drone-dji:{k}="{v:+.6f}"' for k, v in values.items() if v is not None)
    if meta.rtk_flag is not None:
        attrs += f' drone-dji:RtkFlag="{meta.rtk_flag:d}"'
    if meta.position_std_m is not None:
        attrs += "".join(f' drone-dji:{k}="{meta.position_std_m:.5f}"' for k in ("RtkStdLon", "RtkStdLat"))
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" {attrs}/>'
        "</rdf:RDF></x:xmpmeta>"
    )


def _to_dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return (
        IFDRational(degrees, 1),
        IFDRational(minutes, 1),
        IFDRational(round(seconds * 1_000_000), 1_000_000),
    )


def merge_fields(*sources: Mapping[str, Any]) -> dict[str, Any]:
    """Later sources fill fields the earlier ones lack (the first source that has a value wins)."""
    out: dict[str, Any] = {}
    for source in sources:
        for key, value in source.items():
            if value is not None and out.get(key) is None:
                out[key] = value
    return out


def _xmp_value(text: str, name: str, namespaces: tuple[str, ...] = ("drone-dji",)) -> str | None:
    for ns in namespaces:
        pattern = rf'{re.escape(ns)}:{name}\s*=\s*"([^"]*)"|<{re.escape(ns)}:{name}>([^<]*)</'
        match = re.search(pattern, text)
        if match:
            return (match.group(1) if match.group(1) is not None else match.group(2)).strip()
    return None


def _gps_fields(gps: Mapping[int, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lat = _dms(gps.get(GPS_LAT))
    lon = _dms(gps.get(GPS_LON))
    if lat is not None and lon is not None:
        out["lat"] = -lat if _text(gps.get(GPS_LAT_REF)).upper() == "S" else lat
        out["lon"] = -lon if _text(gps.get(GPS_LON_REF)).upper() == "W" else lon
    alt = _float(gps.get(GPS_ALT))
    if alt is not None:
        below = gps.get(GPS_ALT_REF) in (1, b"\x01")
        out["alt_abs_m"] = -alt if below else alt
    return out


def _exif_time(sub: Mapping[int, Any], ifd0: Mapping[int, Any], gps: Mapping[int, Any]) -> dt.datetime | None:
    stamp = _text(sub.get(TAG_DATETIME_ORIGINAL)) or _text(ifd0.get(TAG_DATETIME))
    offset = _text(sub.get(TAG_OFFSET_TIME_ORIGINAL))
    if stamp and offset:
        parsed = _parse_time(f"{stamp}{offset}", assume=LOCAL_TZ)
        if parsed is not None:
            return parsed
    gps_time = _gps_time(gps)
    if gps_time is not None:
        return gps_time
    return _parse_time(stamp, assume=LOCAL_TZ) if stamp else None


def _gps_time(gps: Mapping[int, Any]) -> dt.datetime | None:
    date = _text(gps.get(GPS_DATE))
    hms = gps.get(GPS_TIME)
    if not date or not hms or len(hms) != 3:
        return None
    try:
        day = dt.datetime.strptime(date.replace("-", ":"), "%Y:%m:%d").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    h, m, s = (float(v) for v in hms)
    return day + dt.timedelta(hours=h, minutes=m, seconds=s)


def _parse_time(text: str, *, assume: dt.tzinfo) -> dt.datetime | None:
    cleaned = text.strip().replace("T", " ")
    cleaned = re.sub(r"^(\d{4})[:-](\d{2})[:-](\d{2})", r"\1-\2-\3", cleaned)
    cleaned = re.sub(r"Z$", "+00:00", cleaned)
    try:
        parsed = dt.datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=assume)
    return parsed.astimezone(dt.UTC)


def _dms(value: Any) -> float | None:
    if value is None:
        return None
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = d + m / 60 + s / 3600
    return result if math.isfinite(result) else None


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip("\x00 ").strip() if value is not None else ""

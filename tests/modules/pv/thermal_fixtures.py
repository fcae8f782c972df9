"""Small radiometric files built by the tests themselves: FLIR FFF JPEGs, DJI-structured R-JPEGs, EXIF, XMP.

The layouts follow the format notes in ``gongzhi.modules.pv.io.flir`` and ``.dji`` (ExifTool's tag tables);
nothing here is copied from a camera file.
"""

from __future__ import annotations

import datetime as dt
import io
import struct

import numpy as np
import numpy.typing as npt
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from gongzhi.modules.pv.io.flir import (
    KELVIN,
    AtmosphereModel,
    ObjectParameters,
    PlanckCalibration,
    celsius_to_raw,
)

T640_LIKE = PlanckCalibration(r1=15848.85, r2=0.01453311, b=1414.9, f=1.0, o=-4405.0)


def plain_jpeg(width: int = 32, height: int = 24, exif: Image.Exif | None = None) -> bytes:
    """A grey JPEG photo, optionally with EXIF."""
    ramp = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
    buf = io.BytesIO()
    Image.fromarray(ramp).save(buf, format="JPEG", **({"exif": exif} if exif is not None else {}))
    return buf.getvalue()


def with_segments(jpeg: bytes, segments: list[tuple[int, bytes]]) -> bytes:
    """Insert APPn segments right after SOI."""
    body = b"".join(bytes([0xFF, marker]) + struct.pack(">H", len(p) + 2) + p for marker, p in segments)
    return jpeg[:2] + body + jpeg[2:]


def gps_exif(
    model: str = "M3T",
    lat: float = 30.5,
    lon: float = -114.25,
    alt: float = 52.5,
    when: str = "2024:05:01 10:00:00",
    offset: str | None = "+08:00",
) -> Image.Exif:
    """EXIF with model, GPS (south/west handled by the refs) and capture time."""
    exif = Image.Exif()
    exif[0x010F] = "DJI"
    exif[0x0110] = model
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(abs(lon))
    gps[5], gps[6] = 0, IFDRational(int(alt * 100), 100)
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = when
    if offset:
        sub[0x9011] = offset
    return exif


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    return IFDRational(d, 1), IFDRational(m, 1), IFDRational(round(s * 10000), 10000)


def dji_xmp(**values: float | str) -> str:
    """An XMP packet with ``drone-dji`` attributes."""
    attrs = " ".join(f'drone-dji:{k}="{v}"' for k, v in values.items())
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" {attrs}/>'
        "</rdf:RDF></x:xmpmeta>"
    )


def flir_camera_info(
    cal: PlanckCalibration,
    p: ObjectParameters,
    atm: AtmosphereModel,
    model: str,
    when: dt.datetime | None,
    order: str = "<",
) -> bytes:
    """An FFF CameraInfo record of 0x400 bytes in byte ``order`` (``"<"`` or ``">"``)."""
    rec = bytearray(0x400)
    struct.pack_into(order + "H", rec, 0, 2)
    for offset, value in {
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
    }.items():
        struct.pack_into(order + "f", rec, offset, value)
    struct.pack_into(order + "i", rec, 0x308, int(cal.o))
    rec[0xD4 : 0xD4 + len(model)] = model.encode()
    if when is not None:
        struct.pack_into(order + "II", rec, 0x384, int(when.timestamp()), when.microsecond // 1000)
    return bytes(rec)


def flir_raw_record(counts: npt.NDArray[np.uint16], png: bool, order: str = "<") -> bytes:
    """A RawData record: header (width, height) then counts in ``order`` or a byte-swapped 16-bit PNG."""
    h, w = counts.shape
    header = bytearray(0x20)
    struct.pack_into(order + "HHH", header, 0, 2, w, h)
    if not png:
        return bytes(header) + counts.astype(order + "u2").tobytes()
    buf = io.BytesIO()
    Image.fromarray(counts.byteswap().astype(np.uint16)).save(buf, format="PNG")
    return bytes(header) + buf.getvalue()


def flir_gps_record(lat: float, lon: float, alt: float, valid: int = 1) -> bytes:
    """An FFF GPSInfo record (little-endian, 184 bytes): hemisphere in the refs, magnitudes positive."""
    rec = bytearray(184)
    struct.pack_into("<I", rec, 0, valid)
    rec[0x08:0x0A] = b"N\x00" if lat >= 0 else b"S\x00"
    rec[0x0A:0x0C] = b"E\x00" if lon >= 0 else b"W\x00"
    struct.pack_into("<ddf", rec, 0x10, abs(lat), abs(lon), alt)
    rec[0x58:0x5D] = b"WGS84"
    return bytes(rec)


def fff_file(records: dict[int, bytes]) -> bytes:
    """An FFF container: 64-byte header, records, then the 32-byte-per-entry directory (big-endian)."""
    body = bytearray(64)
    body[:4] = b"FFF\x00"
    entries = []
    for kind, data in records.items():
        entries.append(struct.pack(">HHIIII", kind, 1, 100, 1, len(body), len(data)) + bytes(12))
        body += data
    directory = len(body)
    struct.pack_into(">III", body, 0x14, 100, directory, len(entries))
    return bytes(body) + b"".join(entries)


def flir_jpeg(
    temps_c: npt.NDArray[np.float64],
    params: ObjectParameters,
    *,
    cal: PlanckCalibration = T640_LIKE,
    atm: AtmosphereModel | None = None,
    png: bool = False,
    model: str = "FLIR T640",
    when: dt.datetime | None = None,
    exif: Image.Exif | None = None,
    chunk: int = 60_000,
    order: str = "<",
    gps_record: bytes | None = None,
) -> bytes:
    """A FLIR radiometric JPEG whose raw counts encode ``temps_c`` under ``params``."""
    atm = atm or AtmosphereModel()
    counts = np.rint(celsius_to_raw(temps_c, cal, params, atm)).astype(np.uint16)
    fff = fff_file(
        {
            0x01: flir_raw_record(counts, png, order),
            0x20: flir_camera_info(cal, params, atm, model, when, order),
            **({0x2B: gps_record} if gps_record is not None else {}),
        }
    )
    pieces = [fff[i : i + chunk] for i in range(0, len(fff), chunk)]
    last = len(pieces) - 1
    segments = [(0xE1, b"FLIR\x00\x01" + bytes([i, last]) + piece) for i, piece in enumerate(pieces)]
    return with_segments(plain_jpeg(exif=exif), segments)


def dji_iirp_block(
    ambient: float = 25.0,
    distance: float = 5.0,
    emissivity: float = 0.95,
    humidity: float = 0.5,
    refl: float = 25.0,
) -> bytes:
    """An APP4 ``iirp`` parameter block of 256 bytes."""
    block = bytearray(256)
    block[:8] = b"\xff\xd2\xd1\xffiirp"
    struct.pack_into("<5f", block, 32, ambient, distance, emissivity, humidity, refl)
    return bytes(block)


def dji_dirp_block(
    distance: int = 5, humidity: int = 70, emissivity_pct: int = 100, refl_dc: int = 230
) -> bytes:
    """An APP4 ``dirp`` parameter block of 512 bytes with arbitrary coefficients."""
    block = bytearray(512)
    block[:2] = b"\xaa\x55"
    struct.pack_into("<7f", block, 36, -185.8, 25.5, 767.4, 0.0, 80.7, 0.0, -556.0)
    struct.pack_into("<5H", block, 68, distance, humidity, emissivity_pct, refl_dc, 21)
    struct.pack_into("<iHHH", block, 80, -945, 100, 0, 365)
    return bytes(block)


def dji_rjpeg(
    counts: npt.NDArray[np.uint16], block: bytes, exif: Image.Exif, xmp: str | None = None
) -> bytes:
    """A DJI-structured R-JPEG: EXIF (+ XMP), APP3 raster in ≤ 65,533-byte pieces, APP4 parameters."""
    raw = counts.astype("<u2").tobytes()
    segments: list[tuple[int, bytes]] = []
    if xmp is not None:
        segments.append((0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp.encode()))
    segments += [(0xE3, raw[i : i + 65_530]) for i in range(0, len(raw), 65_530)]
    segments.append((0xE4, block))
    return with_segments(plain_jpeg(exif=exif), segments)

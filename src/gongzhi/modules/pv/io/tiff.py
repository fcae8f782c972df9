"""Temperature rasters in TIFF: 16-bit integers with a scale and offset, or float32 in °C or K.

Read with Pillow (already a dependency; modes ``I;16``, ``I;16B``, ``I;16S``, ``I`` and ``F``, uncompressed,
LZW, Deflate or PackBits). The value → temperature rule, first found wins:

1. the ``scale``/``offset``/``unit`` arguments (or a named ``preset``);
2. GDAL's metadata tag 42112 (``<Item name="..." role="scale">``, ``role="offset"``, ``role="unittype"``),
   as GDAL writes it;
3. a JSON object in ``ImageDescription`` (tag 270) with ``unit`` (``"C"``/``"K"``), ``scale``, ``offset``,
   as :func:`write_temperature_tiff` writes it;
4. otherwise: 16-bit data are centi-kelvin (T[K] = v / 100; other steps, such as the 0.04 K of FLIR XT2
   radiometric TIFFs, must be declared, see ``PRESETS``), float data are
   kelvin when their median exceeds 150 (no PV surface is at 150 °C, none at −123 °C) and °C otherwise.

A result outside −100 … 800 °C means the scale is wrong, and is refused rather than returned. GDAL's nodata
value (tag 42113) becomes NaN. EXIF, GPS and DJI XMP (tag 700) fill the metadata, so a DJI R-JPEG converted
to TIFF by a tool that keeps them (``dji-thermal-cli`` does, by its documentation) keeps its position.
"""

from __future__ import annotations

import io
import json
import math
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, TiffImagePlugin

from gongzhi.modules.pv.analytics.frames import NO_DATA_PX, FrameMeta, ThermalFrame
from gongzhi.modules.pv.io.frame_metadata import exif_fields, exif_for, merge_fields, xmp_fields, xmp_for
from gongzhi.modules.pv.io.reader_errors import (
    MissingMetadataError,
    NotRadiometricError,
    ReaderError,
    TruncatedFileError,
    UnknownFormatError,
    check_raster_size,
)

Unit = Literal["C", "K"]
KELVIN = 273.15
TAG_DESCRIPTION, TAG_XMP, TAG_GDAL_METADATA, TAG_GDAL_NODATA = 270, 700, 42112, 42113
PLAUSIBLE_C = (-100.0, 800.0)
PRESETS: Mapping[str, tuple[float, float, Unit]] = {
    "centikelvin": (0.01, 0.0, "K"),
    "decikelvin": (0.1, 0.0, "K"),
    "flir_xt2": (0.04, 0.0, "K"),
    "decicelsius": (0.1, 0.0, "C"),
    "celsius": (1.0, 0.0, "C"),
    "kelvin": (1.0, 0.0, "K"),
}
"""Named value → temperature rules: (scale, offset, unit) with T = value · scale + offset in ``unit``.
``flir_xt2`` is the 0.04 K step of FLIR XT2 radiometric TIFFs (PV-Hawk-Viewer's gain 0.04);
``decicelsius`` is the 0.1 °C integer output of DJI's Thermal SDK measurement call."""
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_INT_MODES = {"I;16", "I;16B", "I;16S", "I;16L", "I;16BS", "I"}


def _said(exc: Exception) -> str:
    """Pillow's reason without the in-memory file it names (``<_io.BytesIO object at 0x…>``)."""
    text = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-f]+>", "", str(exc)).strip()
    return text or type(exc).__name__


def read_tiff(
    data: bytes,
    source: str,
    *,
    preset: str | None = None,
    scale: float | None = None,
    offset: float | None = None,
    unit: Unit | None = None,
) -> ThermalFrame:
    """Temperatures [°C] and metadata of a single-band 16-bit or float32 TIFF.

    Parameters
    ----------
    data : bytes
        The file.
    source : str
        File name for messages and ``FrameMeta.source``.
    preset : str, optional
        A key of ``PRESETS``; overrides what the file declares.
    scale, offset, unit : optional
        Explicit rule T = value · scale + offset [``unit``]; each overrides the preset and the file.

    Raises
    ------
    UnknownFormatError, TruncatedFileError
        Not a TIFF, or a TIFF whose raster cannot be read in full.
    NotRadiometricError
        An 8-bit or colour TIFF: a picture, not temperatures.
    MissingMetadataError
        The result is implausible (−100 … 800 °C) under the rule found: the scale must be declared.
    """
    if not data.startswith(TIFF_MAGICS):
        raise UnknownFormatError(source, "not a TIFF (no II*/MM* header)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on damaged EXIF; the raster decides below
            image = Image.open(io.BytesIO(data))
            check_raster_size(image.width, image.height, source)
            image.load()
    except ReaderError:
        raise
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError … on broken TIFFs
        raise TruncatedFileError(source, f"TIFF raster cannot be read in full ({_said(exc)})") from exc
    if image.mode not in _INT_MODES and image.mode != "F":
        raise NotRadiometricError(
            source, f"TIFF is a {image.mode} picture; temperatures need one 16-bit or float32 band"
        )
    with np.errstate(invalid="ignore", over="ignore"):
        values = np.asarray(image, dtype=np.float64)
    tags = _readable_tags(image)
    rule, how = _rule(tags, image.mode == "F", values, preset, scale, offset, unit)
    temps = _apply(values, rule, tags)
    no_data = _check_plausible(temps, source, how)
    h, w = temps.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exif = exif_fields(image.getexif())
        except Exception:  # noqa: BLE001 - damaged EXIF: the raster and its XMP still count
            exif = {}
        meta_fields = merge_fields(xmp_fields(_xmp(tags)), exif)
    extra = {
        "format": "tiff",
        "value_rule": {"scale": rule[0], "offset": rule[1], "unit": rule[2], "from": how},
        NO_DATA_PX: no_data,
    }
    meta = FrameMeta(source=source, width_px=w, height_px=h, **meta_fields, extra=extra)
    return ThermalFrame(temperature_c=temps, meta=meta)


def _readable_tags(image: Image.Image) -> dict[int, Any]:
    """The TIFF tags Pillow can decode; a damaged tag (found by fuzzing: KeyError, ValueError …) is left
    out rather than failing a raster that decoded."""
    if not isinstance(image, TiffImagePlugin.TiffImageFile):
        return {}
    tags: dict[int, Any] = {}
    for key in list(image.tag_v2.keys()):
        try:
            tags[key] = image.tag_v2[key]
        except Exception:  # noqa: BLE001, S112 - see the docstring
            continue
    return tags


def write_temperature_tiff(
    path: str | Path,
    temperature_c: npt.NDArray[np.floating[Any]],
    *,
    as_centikelvin: bool = False,
    exif: Image.Exif | None = None,
    xmp: str | None = None,
) -> None:
    """Write a temperature raster [°C] as float32 °C or uint16 centi-kelvin, declaring the rule.

    The rule is written as JSON in ``ImageDescription`` so :func:`read_tiff` (or a person) reads it back.
    """
    t = np.asarray(temperature_c, dtype=np.float64)
    info = TiffImagePlugin.ImageFileDirectory_v2()
    if as_centikelvin:
        counts = np.clip(np.rint((t + KELVIN) * 100), 0, 65535).astype(np.uint16)
        image = Image.fromarray(counts)
        info[TAG_DESCRIPTION] = json.dumps({"unit": "K", "scale": 0.01, "offset": 0})
    else:
        image = Image.fromarray(t.astype(np.float32))
        info[TAG_DESCRIPTION] = json.dumps({"unit": "C", "scale": 1, "offset": 0})
    if xmp:
        info[TAG_XMP] = xmp.encode()
    compression = "tiff_deflate"
    if exif is not None:
        for tag, value in exif.items():
            info[tag] = value
        for tag in (0x8769, 0x8825):
            sub_ifd = dict(exif.get_ifd(tag))
            if sub_ifd:
                info[tag] = sub_ifd
            elif tag in info:
                del info[tag]
        compression = "raw"  # Pillow writes EXIF/GPS sub-IFDs only without libtiff compression
    kwargs: dict[str, Any] = {"tiffinfo": info, "compression": compression}
    image.save(path, format="TIFF", **kwargs)


def write_frame_tiff(path: str | Path, frame: ThermalFrame, *, as_centikelvin: bool = False) -> None:
    """Write ``frame`` as a temperature TIFF with its position, time and attitude in EXIF and XMP."""
    write_temperature_tiff(
        path,
        frame.temperature_c,
        as_centikelvin=as_centikelvin,
        exif=exif_for(frame.meta),
        xmp=xmp_for(frame.meta),
    )


def _rule(
    tags: Mapping[int, Any],
    is_float: bool,
    values: npt.NDArray[np.float64],
    preset: str | None,
    scale: float | None,
    offset: float | None,
    unit: Unit | None,
) -> tuple[tuple[float, float, Unit], str]:
    declared, how = _declared(tags)
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        declared, how = (
            dict(zip(("scale", "offset", "unit"), PRESETS[preset], strict=True)),
            f"preset {preset}",
        )
    explicit = {k: v for k, v in (("scale", scale), ("offset", offset), ("unit", unit)) if v is not None}
    if explicit:
        declared, how = {**declared, **explicit}, "arguments"
    if "unit" not in declared and is_float:
        finite = values[np.isfinite(values)]
        declared["unit"] = "K" if finite.size and float(np.median(finite)) > 150 else "C"
        how += "; unit inferred from the values"
    elif "unit" not in declared:
        if "scale" not in declared:
            declared["scale"] = 0.01
            how += "; centi-kelvin assumed"
        declared["unit"] = "K"
    unit_value = str(declared["unit"]).upper().removeprefix("DEG").strip("°")
    if unit_value not in ("C", "K"):
        raise ValueError(f"temperature unit must be C or K, got {declared['unit']!r}")
    unit_out: Unit = "C" if unit_value == "C" else "K"
    return (float(declared.get("scale", 1.0)), float(declared.get("offset", 0.0)), unit_out), how


def _declared(tags: Mapping[int, Any]) -> tuple[dict[str, Any], str]:
    gdal = tags.get(TAG_GDAL_METADATA)
    if isinstance(gdal, str):
        found: dict[str, Any] = {}
        for role in ("scale", "offset", "unittype"):
            match = re.search(rf'role="{role}"[^>]*>([^<]+)<', gdal)
            if match:
                found["unit" if role == "unittype" else role] = _unit_or_number(match.group(1))
        if found:
            return found, "GDAL metadata"
    description = tags.get(TAG_DESCRIPTION)
    if isinstance(description, str) and description.strip().startswith("{"):
        try:
            parsed = json.loads(description)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            found = {k: parsed[k] for k in ("unit", "scale", "offset") if k in parsed}
            if found:
                return found, "ImageDescription"
    return {}, "nothing declared"


def _unit_or_number(text: str) -> Any:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return {"celsius": "C", "kelvin": "K"}.get(text.lower(), text)


def _apply(
    values: npt.NDArray[np.float64], rule: tuple[float, float, Unit], tags: Mapping[int, Any]
) -> npt.NDArray[np.float32]:
    nodata = _float_or_none(tags.get(TAG_GDAL_NODATA))
    scale, offset, unit = rule
    temps = values * scale + offset
    if unit == "K":
        temps = temps - KELVIN
    if nodata is not None:
        temps[values == nodata] = np.nan
    temps[~np.isfinite(temps)] = np.nan
    with np.errstate(over="ignore"):
        return temps.astype(np.float32)


def _check_plausible(temps: npt.NDArray[np.float32], source: str, how: str) -> int:
    """Refuse a raster with no temperature or with implausible ones; the count of pixels without one."""
    finite = temps[np.isfinite(temps)]
    if finite.size == 0:
        raise MissingMetadataError(source, "TIFF raster holds no finite value")
    low, high = float(finite.min()), float(finite.max())
    if low < PLAUSIBLE_C[0] or high > PLAUSIBLE_C[1]:
        raise MissingMetadataError(
            source,
            f"values read as {low:.1f} … {high:.1f} °C ({how}): outside {PLAUSIBLE_C[0]:.0f} … "
            f"{PLAUSIBLE_C[1]:.0f} °C, so the scale/offset/unit is not the one declared; pass preset= or "
            "scale=/offset=/unit=",
        )
    return temps.size - finite.size


def _xmp(tags: Mapping[int, Any]) -> str | None:
    value = tags.get(TAG_XMP)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _float_or_none(value: Any) -> float | None:
    try:
        number = float(str(value).strip("\x00 "))
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None

"""One entry point for every radiometric frame: ``read_frame`` sniffs the format and calls the right reader.

| Format | Reader | Result |
|---|---|---|
| FLIR radiometric JPEG (APP1 ``FLIR`` / FFF) | :func:`~.flir.read_flir_jpeg` | temperatures [°C] |
| DJI R-JPEG (APP3 + APP4 ``dirp``/``iirp``) | :func:`~.dji.read_dji_rjpeg` | refused: no public algorithm |
| 16-bit or float32 TIFF | :func:`~.tiff.read_tiff` | temperatures [°C] |
| any other JPEG | – | :class:`NotRadiometricError` |
| anything else | – | :class:`UnknownFormatError` |
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gongzhi.modules.pv.analytics.frames import ThermalFrame
from gongzhi.modules.pv.io import dji_thermal_cli
from gongzhi.modules.pv.io.dji import is_dji_rjpeg, read_dji_raw, read_dji_rjpeg
from gongzhi.modules.pv.io.flir import FLIR_ID, read_flir_jpeg
from gongzhi.modules.pv.io.jpeg_segments import APP1, SOI, app_payloads, jpeg_segments
from gongzhi.modules.pv.io.reader_errors import (
    NotRadiometricError,
    ReaderError,
    TemperatureUnavailableError,
    TruncatedFileError,
    UnknownFormatError,
)
from gongzhi.modules.pv.io.tiff import TIFF_MAGICS, read_tiff

FrameFormat = Literal["flir-jpeg", "dji-rjpeg", "tiff"]
FRAME_SUFFIXES = frozenset({".jpg", ".jpeg", ".tif", ".tiff"})


_DIGITS = re.compile(r"(\d+)")


def flight_order(name: str) -> tuple[tuple[str | int, ...], str]:
    """Sort key of frame file names in the order they were taken: a camera numbers its files, and a run of
    digits is compared as a number, so that ``IMG_2.tif`` comes before ``IMG_10.tif`` (as by name where
    the numbers are zero-padded, as DJI's are); letters without case, and the name itself on a tie. Text
    and numbers alternate from text on, so two names' parts at one place are always of one kind."""
    parts = _DIGITS.split(name)
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts)), name


VISIBLE_COMPANION = re.compile(r"^(?P<stem>.+)_(?P<kind>[WVZ])(?P<ext>\.jpe?g)$", re.IGNORECASE)
"""The name of a drone's visible-light photo taken with a thermal frame: DJI writes ``…_W.JPG`` (wide),
``…_Z.JPG`` (zoom) or ``…_V.JPG`` (visible) beside the thermal ``…_T.JPG`` (``_R`` once renamed; a
radiometric TIFF exported from it, ``…_T.tif``, pairs the same way)."""

VISIBLE_PREFERENCE = "WVZ"
"""Which of a thermal frame's photos is registered onto it when it has several: the wide one first (it
always sees all the thermal frame does), a zoom one last (it usually sees less)."""


def visible_pairs(names: Iterable[str]) -> dict[str, str]:
    """Each of ``names`` that is a thermal frame with a drone's visible-light photo among ``names``
    (:data:`VISIBLE_COMPANION`), and that photo (:data:`VISIBLE_PREFERENCE` when there are several)."""
    names = list(names)
    thermal: dict[str, str] = {}
    for name in names:
        stem, dot, suffix = name.rpartition(".")
        if dot and f".{suffix.lower()}" in FRAME_SUFFIXES and stem[-2:].upper() in ("_T", "_R"):
            thermal.setdefault(stem[:-2].lower(), name)
    pairs: dict[str, tuple[int, str]] = {}
    for name in names:
        m = VISIBLE_COMPANION.match(name)
        frame = thermal.get(m["stem"].lower()) if m else None
        if m and frame is not None:
            rank = VISIBLE_PREFERENCE.index(m["kind"].upper())
            if frame not in pairs or rank < pairs[frame][0]:
                pairs[frame] = (rank, name)
    return {frame: photo for frame, (_, photo) in pairs.items()}


def visible_companions(names: Iterable[str]) -> set[str]:
    """Those of ``names`` that are a drone's visible-light photo with its thermal frame among ``names``
    (:data:`VISIBLE_COMPANION`): not thermal frames, set aside rather than refused one by one."""
    names = list(names)
    stems = {name.rpartition(".")[0][:-2].lower() for name in visible_pairs(names)}
    return {n for n in names if (m := VISIBLE_COMPANION.match(n)) and m["stem"].lower() in stems}


def sniff_format(data: bytes, source: str) -> FrameFormat:
    """Which reader ``data`` needs, from its bytes (never its name).

    Raises
    ------
    UnknownFormatError, TruncatedFileError, NotRadiometricError
    """
    if not data:
        raise TruncatedFileError(source, "file is empty")
    if data.startswith(TIFF_MAGICS):
        return "tiff"
    if not data.startswith(SOI):
        raise UnknownFormatError(source, f"neither JPEG nor TIFF (starts with {data[:4].hex(' ')})")
    segments = jpeg_segments(data, source)
    if app_payloads(segments, APP1, FLIR_ID):
        return "flir-jpeg"
    if is_dji_rjpeg(segments):
        return "dji-rjpeg"
    raise NotRadiometricError(
        source,
        "JPEG has neither FLIR FFF (APP1 'FLIR') nor DJI (APP3 raster + APP4 parameters) radiometric data: "
        "a plain photo or a colour-mapped export",
    )


def read_frame(path_or_bytes: str | Path | bytes, source: str | None = None) -> ThermalFrame:
    """Read one radiometric frame as temperatures [°C] with its metadata.

    Parameters
    ----------
    path_or_bytes : str, Path or bytes
        A file path, or the file's bytes (e.g. an upload).
    source : str, optional
        Name for messages and ``FrameMeta.source``; the file name by default, ``"<bytes>"`` for bytes.

    Raises
    ------
    ReaderError
        With the file name and what is missing: :class:`UnknownFormatError`, :class:`TruncatedFileError`,
        :class:`NotRadiometricError`, :class:`MissingMetadataError`, :class:`TemperatureUnavailableError`
        (a DJI R-JPEG without ``dji-thermal-cli`` installed, see ``dji_thermal_cli.py``).
    """
    data, name = _load(path_or_bytes, source)
    fmt = sniff_format(data, name)
    if fmt == "flir-jpeg":
        return read_flir_jpeg(data, name)
    if fmt == "dji-rjpeg":
        return read_dji_rjpeg(data, name)
    return read_tiff(data, name)


def check_frame(path_or_bytes: str | Path | bytes, source: str | None = None) -> None:
    """Refuse what :func:`read_frame` would refuse, without converting a DJI R-JPEG (a flight's are
    converted together later, :func:`.dji_thermal_cli.prepare`): a DJI file is parsed, so that a truncated
    or non-radiometric one is refused, and refused when its temperatures cannot be had (no
    ``dji-thermal-cli``); any other file is read.

    Raises
    ------
    ReaderError
        As :func:`read_frame`.
    """
    data, name = _load(path_or_bytes, source)
    if sniff_format(data, name) != "dji-rjpeg":
        read_frame(data, name)
        return
    read_dji_raw(data, name)
    if not dji_thermal_cli.can_convert(data):
        raise TemperatureUnavailableError(name, dji_thermal_cli.MISSING)


@dataclass(frozen=True, slots=True)
class FrameSummary:
    """What one file in a folder is, without keeping its raster."""

    path: Path
    format: FrameFormat | None
    model: str | None
    camera: str | None
    width_px: int | None
    height_px: int | None
    has_temperatures: bool
    has_position: bool
    problem: str | None = None


def list_frames(folder: str | Path) -> Iterator[FrameSummary]:
    """Summarise every JPEG/TIFF in ``folder`` (in the order they were taken, :func:`flight_order`):
    format, camera, size, readable or why not."""
    found = (p for p in Path(folder).iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
    for path in sorted(found, key=lambda p: flight_order(p.name)):
        yield summarise_frame(path)


def summarise_frame(path: Path) -> FrameSummary:
    """One :class:`FrameSummary`; a reader error becomes its ``problem``, never an exception."""
    data, name = _load(path, None)
    fmt: FrameFormat | None = None
    try:
        fmt = sniff_format(data, name)
        if fmt == "dji-rjpeg":  # described without converting it: a listing stays quick
            raw = read_dji_raw(data, name)
            meta, has_temperatures = raw.meta, dji_thermal_cli.program() is not None
            problem: str | None = (
                None if has_temperatures else f"DJI R-JPEG: raw counts only here; {dji_thermal_cli.SETUP}"
            )
        else:
            meta, has_temperatures, problem = read_frame(data, name).meta, True, None
    except ReaderError as exc:
        return FrameSummary(path, fmt, None, None, None, None, False, False, exc.problem)
    has_position = meta.lat is not None and meta.lon is not None
    return FrameSummary(
        path,
        fmt,
        meta.model,
        meta.camera,
        meta.width_px,
        meta.height_px,
        has_temperatures,
        has_position,
        problem,
    )


def _load(path_or_bytes: str | Path | bytes, source: str | None) -> tuple[bytes, str]:
    if isinstance(path_or_bytes, bytes | bytearray):
        return bytes(path_or_bytes), source or "<bytes>"
    path = Path(path_or_bytes)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ReaderError(source or path.name, "file not found") from exc
    return data, source or path.name

"""Temperatures written as DJI R-JPEGs of a real camera, one of its files as the template.

``dji-thermal-cli`` (the DJI Thermal SDK's port the readers run) converts only files that carry a real
camera's calibration; an R-JPEG built from nothing is refused (``test_dji_thermal_cli.py``). So a frame is
written as a copy of a real file of that camera whose raw counts are replaced by the frame's and whose EXIF
and XMP carry the frame's pose (position, altitudes, gimbal and flight yaw, pitch, time). Everything else is
the camera's: its APP4 parameters (emissivity, distance, humidity, reflected temperature), its calibration
segments and its preview image. This gives the benches and tests DJI flights of known temperatures and
ground truth, read through the same program and metadata as a drone's.

The counts come from the program itself: a copy of the template whose raster holds every count from 0 to
65,535 is converted once, which gives the temperature of each count for that camera and those parameters
(:func:`calibration`: the camera's table, :func:`.dji_thermal_cli.table_for`); a temperature is then written
as the count whose temperature is nearest (:func:`counts_for`). The M3T's raw counts step by 4 (a 14-bit
sensor's values shifted left by two), about 0.08 K a step at 25–50 °C, so its frames come back within about
0.04 K of what was written.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from gongzhi.modules.pv.analytics.frames import ThermalFrame
from gongzhi.modules.pv.io import dji_thermal_cli
from gongzhi.modules.pv.io.dji_thermal_cli import TABLE_SIZE, with_raster
from gongzhi.modules.pv.io.frame_metadata import exif_for, xmp_for
from gongzhi.modules.pv.io.jpeg_segments import EXIF_ID, XMP_ID, segment_spans

Calibration = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]
"""A camera's count steps: their temperatures [°C] and counts, both increasing."""


def _segments(data: bytes) -> list[tuple[int, int, int]]:
    """The template's marker segments before the scan (:func:`.jpeg_segments.segment_spans`)."""
    spans = segment_spans(data)
    if not spans:
        raise ValueError("the template is not a JPEG")
    return spans


def _without_xmp(template: bytes) -> bytes:
    """``template`` without its XMP segments, as :func:`with_pose` writes it before its own XMP."""
    segments = _segments(template)
    kept = [
        template[start:end]
        for marker, start, end in segments
        if not (marker == 0xE1 and template.startswith(XMP_ID, start + 4))
    ]
    return b"\xff\xd8" + b"".join(kept) + template[segments[-1][2] :]


def with_pose(template: bytes, frame: ThermalFrame) -> bytes:
    """``template`` with its EXIF and XMP replaced by the frame's (:func:`.frame_metadata.exif_for`: model,
    time, GPS; :func:`.frame_metadata.xmp_for`: altitudes, gimbal and flight attitude), at its start."""
    exif = EXIF_ID + exif_for(frame.meta).tobytes()
    xmp = XMP_ID + xmp_for(frame.meta).encode()
    ours = b"".join(b"\xff\xe1" + struct.pack(">H", len(p) + 2) + p for p in (exif, xmp))
    segments = _segments(template)
    kept = [
        template[start:end]
        for marker, start, end in segments
        if not (marker == 0xE1 and template.startswith((EXIF_ID, XMP_ID), start + 4))
    ]
    return b"\xff\xd8" + ours + b"".join(kept) + template[segments[-1][2] :]


def with_rangefinder(rjpeg: bytes, metres: float) -> bytes:
    """``rjpeg`` with an XMP packet of a valid laser-rangefinder reading of ``metres`` (``LRFStatus`` Normal,
    ``LRFTargetDistance``), as the M30T, M4T, H20T and H30T write one, after its APPn segments; the program
    then converts it at that distance (:func:`.dji_thermal_cli.ranged_key`)."""
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" '
        f'drone-dji:LRFStatus="Normal" drone-dji:LRFTargetDistance="{metres:.3f}"/></rdf:RDF></x:xmpmeta>'
    )
    payload = XMP_ID + xmp.encode()
    at = max((end for marker, _, end in _segments(rjpeg) if 0xE0 <= marker <= 0xEF), default=2)
    return rjpeg[:at] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + rjpeg[at:]


def calibration(template: bytes) -> Calibration:
    """The temperature of each count step of the template's camera and parameters: its table
    (:func:`.dji_thermal_cli.table_for`, which ``dji-thermal-cli`` makes from a copy of the template whose
    raster holds every count), at the steps of the template's own counts. The table is that of the frames
    as they are written, with the template's XMP replaced (:func:`with_pose`): a laser-rangefinder reading
    of the template's own does not enter it.

    Raises
    ------
    TemperatureUnavailableError
        Without the program.
    ValueError
        The program made no table for the template, or its steps do not give increasing temperatures.
    """
    table = dji_thermal_cli.table_for(_without_xmp(template))
    if table is None:
        raise ValueError("dji-thermal-cli made no table of temperatures by count for the template")
    counts = np.arange(0, TABLE_SIZE, _count_step(template))
    steps = table[counts].astype(np.float64)
    usable = np.isfinite(steps)
    steps, counts = steps[usable], counts[usable]
    if steps.size < 2 or np.any(np.diff(steps) <= 0):
        raise ValueError("the camera's count steps do not give increasing temperatures")
    return steps, counts.astype(np.float64)


def _count_step(template: bytes) -> int:
    """The step of the template's own counts: 4 when each is a multiple of 4 (a 14-bit sensor), else 1."""
    from gongzhi.modules.pv.io.dji import read_dji_raw

    counts = read_dji_raw(template, "template").counts
    return 4 if counts.size and not np.any(counts % 4) else 1


def counts_for(temps: npt.NDArray[np.floating], table: Calibration) -> npt.NDArray[np.uint16]:
    """The count step whose temperature is nearest each of ``temps`` (NaN: the lowest step)."""
    steps, counts = table
    t = np.nan_to_num(np.asarray(temps, dtype=np.float64), nan=steps[0])
    i = np.clip(np.searchsorted(steps, t), 1, len(steps) - 1)
    nearer_low = (t - steps[i - 1]) < (steps[i] - t)
    return counts[np.where(nearer_low, i - 1, i)].astype(np.uint16)


def dji_rjpeg(frame: ThermalFrame, template: bytes, table: Calibration, model: str | None = None) -> bytes:
    """``frame`` as an R-JPEG of the template's camera (``table``: its :func:`calibration`), named ``model``
    in its EXIF when given (default the frame's own)."""
    meta = frame.meta if model is None else replace(frame.meta, model=model)
    raster = with_raster(template, counts_for(frame.temperature_c, table))
    return with_pose(raster, replace(frame, meta=meta))


@dataclass(frozen=True, eq=False)
class DjiCamera:
    """A real DJI camera's file, to write frames as that camera writes them (:func:`dji_camera`)."""

    template: bytes
    table: Calibration
    model: str
    shape: tuple[int, int]
    """The camera's raster, rows × columns."""

    def rjpeg(self, frame: ThermalFrame) -> bytes:
        """``frame`` as this camera's R-JPEG (:func:`dji_rjpeg`).

        Raises
        ------
        ValueError
            The frame's raster is not the camera's.
        """
        if frame.temperature_c.shape != self.shape:
            (h, w), (rows, cols) = frame.temperature_c.shape, self.shape
            raise ValueError(f"a {w}×{h} frame cannot be written as a {cols}×{rows} {self.model} file")
        return dji_rjpeg(frame, self.template, self.table, self.model)


def dji_camera(template: bytes, source: str = "template") -> DjiCamera:
    """The camera of ``template``, a real DJI R-JPEG (e.g. one of its ``…_T.JPG``), with its table.

    Raises
    ------
    ReaderError
        ``template`` is not a DJI R-JPEG (``NotRadiometricError``, ``TruncatedFileError`` …), or there is no
        ``dji-thermal-cli`` (``TemperatureUnavailableError``).
    ValueError
        The program made no usable table for it.
    """
    from gongzhi.modules.pv.io.dji import read_dji_raw

    raw = read_dji_raw(template, source)
    shape = (int(raw.counts.shape[0]), int(raw.counts.shape[1]))
    return DjiCamera(template, calibration(template), raw.meta.model or "", shape)

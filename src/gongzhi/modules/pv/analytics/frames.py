"""One radiometric frame as every part of the PV module sees it: the readers in ``modules/pv/io`` produce it,
the synthetic flight generator produces it with ground truth, and the analysis consumes it.

Temperatures are degrees Celsius as float32, row 0 at the top of the image (the camera's ``up`` is the
direction of flight when the gimbal points straight down). Every metadata field is optional: a reader fills
what the file carries and leaves the rest ``None``; the analysis says which missing field stops it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Temperatures = npt.NDArray[np.float32]

NO_DATA_PX = "no_data_px"
"""Key of ``FrameMeta.extra`` under which a reader gives the count of pixels without a temperature (NaN:
a DJI frame's no-data, a TIFF's nodata value, a FLIR count outside the calibration), which it counts
anyway while checking the raster; the analysis counts them itself when the key is absent."""

RTK_FIXED, SINGLE_POINT = 50, 16
"""DJI ``RtkFlag`` of an RTK fixed solution (centimetre level) and of a single-point fix (metre level);
32–49 are float solutions, 0 none (DJI's user manuals, "Photo File" XMP fields)."""
FIXED_STD_M = 0.1
"""Largest standard deviation of a position [m] taken as fixed when a file gives no ``RtkFlag``: a tenth of a
module pitch, where the logged position alone names the modules (:mod:`.aliases`)."""


@dataclass(frozen=True, slots=True)
class FrameMeta:
    """What a frame's EXIF/XMP (or the generator) says about where, when and how it was taken.

    Attributes
    ----------
    source : str
        File name or synthetic frame id, for messages and reports.
    camera : str | None
        Key in ``cameras.CAMERAS`` when the model is one we know (``"M3T"``), else ``None``.
    model : str | None
        Camera model as the file names it (``"MAVIC3T"``, ``"FLIR T640"``).
    time : datetime | None
        Capture time, timezone-aware (UTC when the file gives an offset or GPS time; naive file times are
        read as Asia/Shanghai local time and converted).
    lat, lon : float | None
        WGS84 position of the aircraft [°].
    alt_abs_m : float | None
        Altitude above the ellipsoid or sea level as recorded [m].
    alt_rel_m : float | None
        Altitude above the take-off point [m] (DJI ``RelativeAltitude``).
    gimbal_yaw_deg, gimbal_pitch_deg, flight_yaw_deg : float | None
        Gimbal yaw (clockwise from north), gimbal pitch (-90 = nadir) and aircraft yaw [°].
    emissivity : float | None
        Object emissivity used for the conversion (0–1].
    distance_m : float | None
        Object distance used for the conversion [m].
    humidity_pct : float | None
        Relative humidity [%].
    reflected_temp_c : float | None
        Reflected apparent temperature [°C].
    ambient_temp_c : float | None
        Ambient (atmospheric) temperature [°C].
    irradiance_w_m2 : float | None
        Plane-of-array irradiance during the frame [W/m²] when a sensor or the operator gives it.
    width_px, height_px : int
        Size of the thermal raster.
    gsd_m : float | None
        Ground sampling distance of a frame already resampled onto the module plane (an oblique frame's
        nadir view, :func:`.oblique.nadir_view`) [m px-1]; its pose then needs neither height nor camera.
    rtk_flag : int | None
        The receiver's solution for the position (DJI ``RtkFlag``): 0 none, 16 single point (metre level),
        32–49 float (decimetre to metre), 50 fixed (centimetre level).
    position_std_m : float | None
        The receiver's standard deviation of the horizontal position, the larger of east and north [m]
        (DJI ``RtkStdLon``, ``RtkStdLat``).
    extra : dict
        Anything else a reader found worth keeping (raw tags), never needed by the analysis.
    """

    source: str
    width_px: int
    height_px: int
    camera: str | None = None
    model: str | None = None
    time: dt.datetime | None = None
    lat: float | None = None
    lon: float | None = None
    alt_abs_m: float | None = None
    alt_rel_m: float | None = None
    gimbal_yaw_deg: float | None = None
    gimbal_pitch_deg: float | None = None
    flight_yaw_deg: float | None = None
    emissivity: float | None = None
    distance_m: float | None = None
    humidity_pct: float | None = None
    reflected_temp_c: float | None = None
    ambient_temp_c: float | None = None
    irradiance_w_m2: float | None = None
    gsd_m: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    rtk_flag: int | None = None
    position_std_m: float | None = None

    @property
    def position_fixed(self) -> bool | None:
        """Whether the position is an RTK fixed solution, to centimetres (``RtkFlag`` 50; without a flag, a
        standard deviation of at most :data:`FIXED_STD_M`); ``None`` when the file does not say."""
        if self.rtk_flag is not None:
            return self.rtk_flag == RTK_FIXED
        if self.position_std_m is not None and math.isfinite(self.position_std_m):
            return self.position_std_m <= FIXED_STD_M
        return None

    @property
    def yaw_deg(self) -> float:
        """Direction of the image's up, clockwise from north: the gimbal yaw, else the flight yaw, else 0
        (north up) [°]."""
        return next((v for v in (self.gimbal_yaw_deg, self.flight_yaw_deg) if v is not None), 0.0)

    @property
    def oblique(self) -> bool:
        """Whether the gimbal pitch is known and not straight down (−90°)."""
        pitch = self.gimbal_pitch_deg
        return pitch is not None and math.isfinite(pitch) and pitch != -90.0


@dataclass(frozen=True, slots=True)
class ThermalFrame:
    """A temperature raster [°C] and its metadata; ``rgb`` is the visible image when the file has one."""

    temperature_c: Temperatures
    meta: FrameMeta
    rgb: npt.NDArray[np.uint8] | None = None

    def __post_init__(self) -> None:
        t = self.temperature_c
        if t.ndim != 2 or t.dtype != np.float32:
            raise ValueError(
                f"{self.meta.source}: temperatures must be a 2-D float32 array, got {t.dtype} {t.shape}"
            )
        if t.shape != (self.meta.height_px, self.meta.width_px):
            raise ValueError(
                f"{self.meta.source}: raster is {t.shape[1]}×{t.shape[0]} px but the metadata says "
                f"{self.meta.width_px}×{self.meta.height_px}"
            )

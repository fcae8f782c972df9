"""Thermal payloads used for PV inspection, and their ground geometry under the pinhole model.

Ground sampling distance and footprint follow the pinhole relation GSD = H · p / f for a nadir camera
at height H above the module plane, pixel pitch p and focal length f (e.g. Pix4D, "Ground sampling
distance", or any photogrammetry text); the footprint is the sensor's pixel count times the GSD.

Figures: focal lengths are the ones in ``domain/pv.md`` (ExifTool dumps of the DJI samples in
``SanNianYiSi/thermal_parser``): M3T 9.1 mm, H20T 13.5 mm, M4T 12 mm, H30T 24 mm. The M30T's 9.1 mm
(40 mm equivalent), every resolution, the 12 µm pixel pitch, the published diagonal field of view and the
flight times are DJI's published specifications (dji.com/<product>/specs: Matrice 30 series, Mavic 3
Enterprise series, Matrice 4 series, Zenmuse H20 series, Zenmuse H30 series, Matrice 350 RTK). The
resolutions leave out the "super-resolution" / "ultra-high-resolution" modes (1280×1024 on the M4T,
2560×2048 on the H30T), which interpolate and add no detector pixels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

HALF_DIAGONAL_35MM_MM = math.hypot(36.0, 24.0) / 2
"""Half the diagonal of a 36 × 24 mm frame, which a 35 mm equivalent focal length is taken on [mm]: a
camera of 35 mm equivalent focal length f sees tan(half its diagonal field of view) = this / f."""


@dataclass(frozen=True, slots=True)
class ThermalCamera:
    """A radiometric thermal camera and the aircraft that carries it.

    Attributes
    ----------
    key : str
        Short name used across the code, e.g. ``"M3T"``.
    name : str
        Marketing name of the camera.
    platform : str
        Aircraft the camera is integrated in or mounted on.
    width_px, height_px : int
        Detector pixels across and along the image [px]; the wider side is flown across track.
    focal_length_mm : float
        Physical focal length [mm].
    pixel_pitch_um : float
        Detector pixel pitch [µm].
    dfov_deg : float
        Diagonal field of view published by the manufacturer [°]. Informational: the pinhole fields of view
        below follow from ``focal_length_mm`` and ``pixel_pitch_um`` and can differ from it by a few degrees
        (lens distortion and rounded focal lengths).
    max_flight_time_min : float
        Published maximum flight time of the platform, windless, to 0 % battery [min]; for the M350 RTK it is
        without payload.
    """

    key: str
    name: str
    platform: str
    width_px: int
    height_px: int
    focal_length_mm: float
    pixel_pitch_um: float
    dfov_deg: float
    max_flight_time_min: float

    @property
    def sensor_size_mm(self) -> tuple[float, float]:
        """Active detector size, width × height [mm]."""
        pitch_mm = self.pixel_pitch_um / 1000
        return self.width_px * pitch_mm, self.height_px * pitch_mm

    @property
    def hfov_deg(self) -> float:
        """Horizontal (across-track) field of view of the pinhole model [°]."""
        return 2 * math.degrees(math.atan(self.sensor_size_mm[0] / (2 * self.focal_length_mm)))

    @property
    def vfov_deg(self) -> float:
        """Vertical (along-track) field of view of the pinhole model [°]."""
        return 2 * math.degrees(math.atan(self.sensor_size_mm[1] / (2 * self.focal_length_mm)))

    def gsd_m(self, altitude_m: float) -> float:
        """Ground sampling distance at ``altitude_m`` above the module plane [m px-1]: H · p / f."""
        _require_positive(altitude_m=altitude_m)
        return altitude_m * self.pixel_pitch_um * 1e-6 / (self.focal_length_mm * 1e-3)

    def altitude_for_gsd(self, gsd_m: float) -> float:
        """Height above the module plane that gives ``gsd_m`` [m]: H = GSD · f / p."""
        _require_positive(gsd_m=gsd_m)
        return gsd_m * self.focal_length_mm * 1e-3 / (self.pixel_pitch_um * 1e-6)

    def footprint_m(self, altitude_m: float) -> tuple[float, float]:
        """Ground footprint of one nadir image, across × along track [m]."""
        gsd = self.gsd_m(altitude_m)
        return self.width_px * gsd, self.height_px * gsd


def _require_positive(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value}")


M30T = ThermalCamera(
    key="M30T",
    name="DJI Matrice 30T thermal camera",
    platform="DJI Matrice 30T",
    width_px=640,
    height_px=512,
    focal_length_mm=9.1,
    pixel_pitch_um=12.0,
    dfov_deg=61.0,
    max_flight_time_min=41.0,
)
M3T = ThermalCamera(
    key="M3T",
    name="DJI Mavic 3T thermal camera",
    platform="DJI Mavic 3T",
    width_px=640,
    height_px=512,
    focal_length_mm=9.1,
    pixel_pitch_um=12.0,
    dfov_deg=61.0,
    max_flight_time_min=45.0,
)
M4T = ThermalCamera(
    key="M4T",
    name="DJI Matrice 4T thermal camera",
    platform="DJI Matrice 4T",
    width_px=640,
    height_px=512,
    focal_length_mm=12.0,
    pixel_pitch_um=12.0,
    dfov_deg=45.0,
    max_flight_time_min=49.0,
)
H20T = ThermalCamera(
    key="H20T",
    name="DJI Zenmuse H20T thermal camera",
    platform="DJI Matrice 350 RTK",
    width_px=640,
    height_px=512,
    focal_length_mm=13.5,
    pixel_pitch_um=12.0,
    dfov_deg=40.6,
    max_flight_time_min=55.0,
)
H30T = ThermalCamera(
    key="H30T",
    name="DJI Zenmuse H30T thermal camera",
    platform="DJI Matrice 350 RTK",
    width_px=1280,
    height_px=1024,
    focal_length_mm=24.0,
    pixel_pitch_um=12.0,
    dfov_deg=45.2,
    max_flight_time_min=55.0,
)

CAMERAS: Mapping[str, ThermalCamera] = MappingProxyType({c.key: c for c in (M30T, M3T, M4T, H20T, H30T)})
"""Every known thermal camera by key."""

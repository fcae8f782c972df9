"""Physics-informed synthetic thermal flights over a PV plant, with per-module ground truth.

A flight is a plant layout (:mod:`.layout`), a boustrophedon plan over its roof (:mod:`.flightplan`) and
one nadir 640 × 512 (or the camera's) radiometric frame per trigger point, rendered on demand so that a
600-frame flight never sits in memory. Everything is deterministic from ``seed``: the anomalies, the scene,
and each frame (its own generator seeded by ``(seed, frame number)``, so frames can be rendered in any order
or in parallel).

Physics, in order of the rendering:

* Module temperature by the Faiman model [1]_, T_m = T_a + G / (U0 + U1 · WS), with pvlib's defaults U0 =
  25 W m-2 K-1 and U1 = 6.84 W m-3 s K-1, plus a plant-wide linear gradient (wind and roof), ±0.2 K
  module-to-module and ±0.15 K cell-to-cell mismatch.
* Module frames (aluminium, 2.5 cm) 2.5 K cooler than the glass, the roof between rows at ambient plus
  ``roof_excess_k`` with a smooth texture.
* Anomalies as temperature patterns on the module's cell grid (see :mod:`.anomalies` for the classes): whole
  cells, a cell part bounded by a crack, a small steep spot, a third of the module (bypass-diode substring),
  the whole module or a string, a spot at the junction box; cooler straight-edged shading, cooler irregular
  vegetation from the low edge, warmer diffuse soiling heavier at the low edge (dust collects where rain
  runs off; IR practice shows it as irregular warm patches, ``domain/pv.md``).
* Sun reflection: the specular point of the module plane, fixed relative to the camera for a given sun
  position (mirror reflection of the sun vector about the module normal), so it moves over the modules
  from one frame to the next, as a real glint does.
* Vignetting (a radial fall-off of apparent temperature to the corners), optics (Gaussian point spread,
  σ 0.6 px), a per-frame offset (shutter / flat-field drift), column fixed-pattern noise and temporal noise
  at the NETD (50 mK, the Mavic 3T's published figure is ≤ 50 mK).
* The frame's metadata carry the planned position and yaw with GPS and yaw errors, as a real log would.

References
----------
.. [1] D. Faiman, "Assessing the outdoor operating temperature of photovoltaic modules", Prog. Photovolt.
   16(4):307–315, 2008; pvlib.temperature.faiman.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from gongzhi.modules.pv.analytics.anomalies import ANOMALIES, Anomaly
from gongzhi.modules.pv.analytics.cameras import HALF_DIAGONAL_35MM_MM, M3T, ThermalCamera
from gongzhi.modules.pv.analytics.flightplan import FlightPlan, plan_flight
from gongzhi.modules.pv.analytics.frames import FIXED_STD_M, RTK_FIXED, SINGLE_POINT, FrameMeta, ThermalFrame
from gongzhi.modules.pv.analytics.georef import FrameGeometry, ModuleIndex, locate, locate_frame, module_index
from gongzhi.modules.pv.analytics.glint import mirrored, module_normal, moment_of_sun, sun_vector, sun_vectors
from gongzhi.modules.pv.analytics.layout import SUBSTRINGS, PlantLayout, neighbours
from gongzhi.modules.pv.analytics.oblique import ObliqueCamera, focal_px

FloatArray = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

TEXEL_M = 0.01
"""Resolution of the anomaly patterns on the module [m]."""
FRAME_WIDTH_M = 0.025
"""Visible width of a module's frame [m]."""
GLINT_SIGMA_M = 0.12
"""Spread of a sun reflection on the module plane (Gaussian σ) [m]: the sun's image blurred by the glass's
texture."""
JUNCTION_BOX = (0.5, 0.92)
"""Junction box position on a portrait module (along, across from the low edge) [-]."""

U8 = npt.NDArray[np.uint8]
WIDE_FOCAL_35MM = 24.0
"""35 mm equivalent focal length of the wide camera beside every thermal camera in ``cameras`` [mm]."""
WIDE_WIDTH_PX = 1120
"""Width of a synthetic wide photo [px]: its middle still has a pixel per thermal pixel (a drone's photo
has 4000–8000)."""
VISIBLE_ROOF, VISIBLE_MODULE, VISIBLE_RIM = (150, 148, 140), (25, 40, 75), (175, 175, 180)
"""A synthetic photo's grey roof, dark blue module and aluminium frame [RGB]."""
VISIBLE_DUST, VISIBLE_LEAVES, VISIBLE_SHADE = (160, 145, 120), (55, 105, 40), (8, 12, 25)
"""What a planted soiling, vegetation or shading turns a module's patch to, by its strength [RGB]."""
VISIBLE_KINDS: Mapping[Anomaly, int] = MappingProxyType(
    {Anomaly.SOILING: 0, Anomaly.VEGETATION: 1, Anomaly.SHADING: 2}
)

DELTA_T_K: Mapping[Anomaly, tuple[float, float]] = MappingProxyType(
    {
        Anomaly.SINGLE_HOT_CELL: (5.0, 25.0),
        Anomaly.MULTIPLE_HOT_CELLS: (5.0, 20.0),
        Anomaly.HOT_SPOT: (12.0, 40.0),
        Anomaly.SUBSTRING: (3.0, 8.0),
        Anomaly.MODULE_OFFLINE: (3.0, 8.0),
        Anomaly.STRING_OFFLINE: (3.0, 6.0),
        Anomaly.JUNCTION_BOX: (8.0, 25.0),
        Anomaly.SHADING: (-8.0, -3.0),
        Anomaly.SOILING: (1.5, 3.5),
        Anomaly.VEGETATION: (-10.0, -4.0),
        Anomaly.CRACKING: (2.5, 6.0),
    }
)
"""Range of the planted pattern's temperature difference to the healthy module, by class [K]."""


def faiman_temperature(
    poa_global_w_m2: float, temp_air_c: float, wind_speed_m_s: float, u0: float = 25.0, u1: float = 6.84
) -> float:
    """Module temperature by the Faiman model [°C].

    Parameters
    ----------
    poa_global_w_m2 : float
        Plane-of-array irradiance [W m-2].
    temp_air_c : float
        Ambient temperature [°C].
    wind_speed_m_s : float
        Wind speed at module height [m s-1].
    u0 : float
        Constant heat transfer coefficient [W m-2 K-1].
    u1 : float
        Wind-dependent heat transfer coefficient [W m-3 s K-1].
    """
    return temp_air_c + poa_global_w_m2 / (u0 + u1 * wind_speed_m_s)


@dataclass(frozen=True, slots=True)
class Conditions:
    """Weather, scene and sensor of a synthetic flight.

    Attributes
    ----------
    irradiance_w_m2 : float
        Plane-of-array irradiance [W m-2].
    ambient_c : float
        Ambient temperature [°C].
    wind_m_s : float
        Wind speed [m s-1].
    gradient_k_per_100m : (float, float)
        Plant-wide module temperature gradient towards east and north [K per 100 m].
    roof_excess_k : float
        Roof temperature above ambient [K].
    sun_azimuth_deg, sun_elevation_deg : float
        Sun position [°], in the middle of the flight. With a ``start``, the sun over the plant then
        (:func:`synthetic_flight` replaces these).
    reflection_k : float
        Apparent temperature added at the centre of a sun reflection [K]; 0 disables reflections.
    netd_k : float
        Temporal noise, standard deviation [K].
    vignetting_k : float
        Apparent temperature drop in the image corners [K].
    frame_offset_sigma_k : float
        Standard deviation of the per-frame offset [K].
    gps_sigma_m : float
        Standard deviation of the horizontal GPS error in the metadata, drawn afresh for each frame [m].
    gps_bias_sigma_m : float
        Standard deviation of a slowly wandering GPS bias added to that, the same in east and north [m]: a
        receiver without RTK is off by a metre or two for minutes at a time (DJI gives ±1.5 m for its
        GNSS hover), while one photo to the next moves by centimetres. A first-order Gauss–Markov process
        of correlation time ``gps_bias_tau_s``, drawn once a flight from the seed; 0 (the default) for none.
    gps_bias_tau_s : float
        Correlation time of that bias [s]. The frames report the position as an RTK fixed solution
        (``rtk_flag`` 50) when the two errors' combined σ is at most :data:`.frames.FIXED_STD_M`, else as a
        single-point one (16), with that σ as ``position_std_m``.
    yaw_sigma_deg : float
        Standard deviation of the yaw error in the metadata [°].
    start : datetime, optional
        Time of the first frame; default the moment of 2026 at which the sun stands at (``sun_azimuth_deg``,
        ``sun_elevation_deg``) over the plant, in the middle of the flight (:func:`.glint.moment_of_sun`),
        so that the sun worked out from the frames' time and place is the sun that lit them.
    """

    irradiance_w_m2: float = 850.0
    ambient_c: float = 28.0
    wind_m_s: float = 2.0
    gradient_k_per_100m: tuple[float, float] = (1.5, -1.0)
    roof_excess_k: float = 4.0
    sun_azimuth_deg: float = 180.0
    sun_elevation_deg: float = 65.0
    reflection_k: float = 12.0
    netd_k: float = 0.05
    vignetting_k: float = 1.5
    frame_offset_sigma_k: float = 0.3
    gps_sigma_m: float = 0.1
    yaw_sigma_deg: float = 0.2
    gps_bias_sigma_m: float = 0.0
    gps_bias_tau_s: float = 600.0
    start: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class PlantedAnomaly:
    """Ground truth of one anomalous module.

    Attributes
    ----------
    module_id : str
        Module id.
    anomaly : Anomaly
        Class planted.
    delta_t_k : float
        Temperature difference of the pattern to the healthy module (negative for cooler patterns) [K].
    """

    module_id: str
    anomaly: Anomaly
    delta_t_k: float


@dataclass(frozen=True, slots=True, eq=False)
class _Scene:
    index: ModuleIndex
    base_c: F32
    cell_offsets: F32
    slot: npt.NDArray[np.int32]
    textures: F32
    roof_phases: FloatArray
    glint_offset_m: tuple[float, float] | None


@dataclass(frozen=True, slots=True, eq=False)
class SyntheticFlight:
    """A synthetic inspection flight: plant, plan, ground truth, and frames rendered on demand.

    Attributes
    ----------
    layout : PlantLayout
        The plant.
    plan : FlightPlan
        The flight; one frame per trigger point.
    camera : ThermalCamera
        Payload.
    conditions : Conditions
        Weather, scene and sensor.
    seed : int
        Seed everything derives from.
    anomalies : tuple of PlantedAnomaly
        Every planted anomaly.
    poses : tuple of FrameGeometry
        True pose of each frame: for a nadir flight the frame's footprint, for an oblique one the
        aircraft's position over the plane (the footprint lies ahead of it).
    gimbal_pitch_deg : float
        Gimbal pitch of every frame: −90 straight down [°].
    """

    layout: PlantLayout
    plan: FlightPlan
    camera: ThermalCamera
    conditions: Conditions
    seed: int
    anomalies: tuple[PlantedAnomaly, ...]
    poses: tuple[FrameGeometry, ...]
    _scene: _Scene = field(repr=False)
    gimbal_pitch_deg: float = -90.0

    def __len__(self) -> int:
        return len(self.poses)

    @property
    def truth(self) -> dict[str, PlantedAnomaly]:
        """Planted anomaly by module id; modules not in it are healthy."""
        return {a.module_id: a for a in self.anomalies}

    def frames(self) -> Iterator[ThermalFrame]:
        """Render every frame in flight order."""
        for i in range(len(self.poses)):
            yield self.frame(i)

    def frame(self, i: int) -> ThermalFrame:
        """Render frame ``i`` (deterministic from the seed and ``i``)."""
        rng = np.random.default_rng([self.seed, 1, i])
        pose = self.poses[i]
        temperature = _render(self._scene, self.layout, self.conditions, pose, rng, self.oblique_camera(i))
        return ThermalFrame(temperature, self._meta(i, pose, rng))

    def visible(self, i: int, width_px: int = WIDE_WIDTH_PX, focal_35mm: float = WIDE_FOCAL_35MM) -> U8:
        """The wide camera's photo taken with frame ``i``, RGB, 4:3.

        The wide camera sits in the thermal camera's gimbal and sees more of the plant around the same
        centre (``focal_35mm`` on the 35 mm diagonal), looking where it looks (an oblique flight's photo
        is cast ray by ray onto the plane, as its frames are). Clean modules are dark blue with a light
        aluminium frame on a grey roof; a planted soiling brightens its patches towards dust, vegetation is
        green and a shading darkens; the other classes do not show in visible light.
        """
        pose, scene = self.poses[i], self._scene
        height_px = round(width_px * 3 / 4)
        tan_w = HALF_DIAGONAL_35MM_MM / focal_35mm * width_px / math.hypot(width_px, height_px)
        rng = np.random.default_rng([self.seed, 2, i])
        thermal = self.oblique_camera(i)
        if thermal is None:
            wide = FrameGeometry(pose.x_m, pose.y_m, self.plan.altitude_m * 2 * tan_w / width_px,
                                 pose.yaw_deg, width_px, height_px)  # fmt: skip
            labels, fu, fv = locate_frame(scene.index, wide)
        else:  # the same pose and pitch, the wide camera's focal length and raster
            cam = replace(thermal, focal_px=width_px / (2 * tan_w), width_px=width_px, height_px=height_px)
            x, y = cam.pixel_to_xy(*np.mgrid[0:height_px, 0:width_px])
            labels, fu, fv = locate(scene.index, np.nan_to_num(x, nan=1e9), np.nan_to_num(y, nan=1e9))
        on = labels >= 0
        tv, tu = scene.textures.shape[1:]
        iu = np.clip((fu[on] * tu).astype(np.intp), 0, tu - 1)
        iv = np.clip((fv[on] * tv).astype(np.intp), 0, tv - 1)
        w = max(1, round(FRAME_WIDTH_M / TEXEL_M))
        rim = (iu < w) | (iu >= tu - w) | (iv < w) | (iv >= tv - w)
        img = np.empty((height_px, width_px, 3), dtype=np.float32)
        img[:] = VISIBLE_ROOF
        img[on] = np.where(
            rim[:, None], np.array(VISIBLE_RIM, np.float32), np.array(VISIBLE_MODULE, np.float32)
        )
        # the planted patterns that show in visible light, each blended in by its strength
        kinds = np.array([-1] + [VISIBLE_KINDS.get(a.anomaly, -1) for a in self.anomalies])
        peaks = np.array([1.0] + [abs(a.delta_t_k) or 1.0 for a in self.anomalies])
        slot = scene.slot.take(labels[on])
        kind = kinds[slot]
        shown = kind >= 0
        if shown.any():
            s, k = slot[shown], kind[shown]
            amount = np.clip(np.abs(scene.textures[s, iv[shown], iu[shown]]) / peaks[s], 0, 1)[:, None]
            palette = np.array((VISIBLE_DUST, VISIBLE_LEAVES, VISIBLE_SHADE), dtype=np.float32)
            at = np.flatnonzero(on.ravel())[shown]
            flat = img.reshape(-1, 3)
            flat[at] += (amount * (palette[k] - flat[at])).astype(np.float32)
        img += np.float32(3.0) * rng.standard_normal(img.shape, dtype=np.float32)
        return np.asarray(np.clip(np.rint(img), 0, 255), dtype=np.uint8)

    def oblique_camera(self, i: int) -> ObliqueCamera | None:
        """The true camera of frame ``i`` of an oblique flight, ``None`` for a nadir one."""
        if self.gimbal_pitch_deg == -90.0:
            return None
        pose, height = self.poses[i], self.plan.altitude_m
        f = focal_px(self.camera, pose.width_px)
        return ObliqueCamera(pose.x_m, pose.y_m, height, pose.yaw_deg, self.gimbal_pitch_deg, f,
                             pose.width_px, pose.height_px)  # fmt: skip

    def _meta(self, i: int, pose: FrameGeometry, rng: np.random.Generator) -> FrameMeta:
        c = self.conditions
        start = c.start
        assert start is not None, "synthetic_flight gives every flight its start"
        ex, ey = rng.normal(0.0, c.gps_sigma_m, 2)
        if c.gps_bias_sigma_m > 0:
            track = _gps_bias_track(self.seed, len(self.poses), c.gps_bias_sigma_m, c.gps_bias_tau_s,
                                    self.plan.trigger_interval_s)  # fmt: skip
            ex, ey = ex + track[i, 0], ey + track[i, 1]
        lon, lat = self.layout.origin.to_lonlat(pose.x_m + ex, pose.y_m + ey)
        # what the receiver reports: a fix to a tenth of a metre or better as RTK fixed, else single point
        sigma = math.hypot(c.gps_sigma_m, c.gps_bias_sigma_m)
        yaw = (pose.yaw_deg + rng.normal(0.0, c.yaw_sigma_deg) + 180) % 360 - 180
        return FrameMeta(
            source=f"synthetic-{self.seed}-{i:04d}",
            width_px=pose.width_px,
            height_px=pose.height_px,
            camera=self.camera.key,
            model=self.camera.name,
            time=start + dt.timedelta(seconds=i * self.plan.trigger_interval_s),
            lat=lat,
            lon=lon,
            alt_rel_m=self.plan.altitude_m,
            gimbal_yaw_deg=yaw,
            gimbal_pitch_deg=self.gimbal_pitch_deg,
            rtk_flag=RTK_FIXED if sigma <= FIXED_STD_M else SINGLE_POINT,
            position_std_m=round(sigma, 3),
            flight_yaw_deg=yaw,
            emissivity=0.95,
            distance_m=self.plan.altitude_m / math.sin(math.radians(-self.gimbal_pitch_deg)),
            ambient_temp_c=c.ambient_c,
            irradiance_w_m2=c.irradiance_w_m2,
            extra={"synthetic": True, "frame": i},
        )


@lru_cache(maxsize=8)
def _gps_bias_track(seed: int, n: int, sigma_m: float, tau_s: float, interval_s: float) -> FloatArray:
    """A first-order Gauss–Markov GPS bias (east, north) for each of ``n`` frames ``interval_s`` apart
    [m]: stationary with standard deviation ``sigma_m``, correlation ``exp(−Δt / tau_s)`` from one frame to
    the next."""
    rng = np.random.default_rng([seed, 3])
    rho = math.exp(-max(interval_s, 0.0) / max(tau_s, 1e-9))
    steps = rng.normal(0.0, sigma_m, (n, 2))
    track = np.empty((n, 2))
    if n:
        track[0] = steps[0]
    for i in range(1, n):
        track[i] = rho * track[i - 1] + math.sqrt(1.0 - rho * rho) * steps[i]
    track.setflags(write=False)
    return track


def synthetic_flight(
    layout: PlantLayout,
    *,
    seed: int = 0,
    camera: ThermalCamera = M3T,
    altitude_m: float | None = None,
    front_overlap: float = 0.5,
    side_overlap: float = 0.5,
    conditions: Conditions | None = None,
    anomalies_per_class: int = 2,
    classes: Sequence[Anomaly] = ANOMALIES,
    spacing_m: float = 4.0,
    gimbal_pitch_deg: float = -90.0,
    whole_modules: bool = True,
) -> SyntheticFlight:
    """Build a synthetic flight over a plant with anomalies planted on chosen modules.

    Parameters
    ----------
    layout : PlantLayout
        The plant (e.g. from :func:`.layout.generate_layout`).
    seed : int
        Seed of every random choice.
    camera : ThermalCamera
        Payload; the frames have its resolution.
    altitude_m : float, optional
        Height above the modules [m]; default the IEC screening GSD (5 px per cell), for an oblique
        flight in the nadir views of its frames (the plan's default).
    front_overlap, side_overlap : float
        Overlaps of the plan [-].
    conditions : Conditions, optional
        Weather, scene and sensor.
    anomalies_per_class : int
        Modules planted per class (strings: whole strings) [-].
    classes : sequence of Anomaly
        Classes to plant.
    spacing_m : float
        Least distance between the centres of two anomalous modules of different plantings [m], so each
        keeps healthy neighbours.
    gimbal_pitch_deg : float
        Gimbal pitch of every frame, −90 (nadir) to −30 [°]. An oblique camera looks ahead along the
        flight line, and the plan's lines run short of its footprints (:func:`.flightplan.plan_flight`);
        the sun's reflection shows where the plane mirrors the sun into the camera, in oblique frames too.
    whole_modules : bool
        Plan images close enough that every line sees each module whole in two of them (the plan of a
        plant whose modules are known: ``plan_flight(…, module_footprint_m=…)``); False: the overlaps
        alone set their spacing (the plan of a bare roof outline).

    Returns
    -------
    SyntheticFlight
        Fewer anomalies than asked when the plant has no room for them; ``anomalies`` says what was planted.
    """
    c = conditions or Conditions()
    rng = np.random.default_rng([seed, 0])
    plan = plan_flight(
        layout.polygon,
        camera,
        altitude_m=altitude_m,
        front_overlap=front_overlap,
        side_overlap=side_overlap,
        row_azimuth_deg=layout.row_azimuth_deg,
        gimbal_pitch_deg=gimbal_pitch_deg,
        module_footprint_m=layout.footprint_m if whole_modules else None,
    )
    planted = plant_anomalies(layout, rng, anomalies_per_class, classes, spacing_m)
    poses = _poses(plan, layout, camera)
    c = _timed(c, layout, (len(poses) - 1) * plan.trigger_interval_s)
    scene = _scene(layout, c, planted, rng, plan.altitude_m)
    return SyntheticFlight(layout, plan, camera, c, seed, tuple(planted), poses, scene, gimbal_pitch_deg)


def retimed(flight: SyntheticFlight, start: dt.datetime) -> SyntheticFlight:
    """The same flight flown from ``start``, under the sun over the plant then (at night, with no glint):
    what a flight stamped with the clock's time (the demo's, a simulated dock's) must be, so that the sun
    the analysis works out from its frames is the sun that lit them."""
    duration_s = (len(flight) - 1) * flight.plan.trigger_interval_s
    c = _timed(replace(flight.conditions, start=start), flight.layout, duration_s)
    glint = glint_offset(flight.layout, c, flight.plan.altitude_m) if c.reflection_k > 0 else None
    return replace(flight, conditions=c, _scene=replace(flight._scene, glint_offset_m=glint))


def _timed(c: Conditions, layout: PlantLayout, duration_s: float) -> Conditions:
    """``c`` with its start and its sun agreeing over the plant in the middle of a flight of ``duration_s``:
    without a start, the moment the sun stands where ``c`` puts it; with one, the sun then."""
    lon, lat = layout.origin.lon0_deg, layout.origin.lat0_deg
    if c.start is None:
        moment, _ = moment_of_sun(c.sun_azimuth_deg, c.sun_elevation_deg, lon, lat)
        return replace(c, start=dt.datetime.fromtimestamp(round(moment - duration_s / 2), dt.UTC))
    east, north, up = sun_vectors([c.start.timestamp() + duration_s / 2], lon, lat)[0].tolist()
    azimuth = math.degrees(math.atan2(east, north)) % 360
    return replace(c, sun_azimuth_deg=azimuth, sun_elevation_deg=math.degrees(math.asin(up)))


def reflown(
    flight: SyntheticFlight, waypoints: Sequence[Sequence[float]], trigger_spacing_m: float, altitude_m: float
) -> SyntheticFlight:
    """The same world flown along other lines (a re-inspection of a few rows, say).

    Parameters
    ----------
    flight : SyntheticFlight
        The scene, planted anomalies and conditions to keep.
    waypoints : sequence of (lon, lat, ...)
        Line starts and ends in flight order, WGS84 [°] (as :attr:`.FlightPlan.waypoints`).
    trigger_spacing_m : float
        Largest distance between images on a line [m]; each line divides its length evenly.
    altitude_m : float
        Height above the modules [m].
    """
    if trigger_spacing_m <= 0 or len(waypoints) < 2:
        raise ValueError("a flight needs two waypoints and a positive trigger spacing")
    cam, origin = flight.camera, flight.layout.origin
    gsd = cam.gsd_m(altitude_m)
    poses = []
    for a, b in zip(waypoints[0::2], waypoints[1::2], strict=False):
        (x0, y0), (x1, y1) = origin.to_xy(a[0], a[1]), origin.to_xy(b[0], b[1])
        yaw = math.degrees(math.atan2(x1 - x0, y1 - y0))
        n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / trigger_spacing_m - 1e-9))
        for i in range(n + 1):
            x, y = x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n
            poses.append(FrameGeometry(x, y, gsd, yaw, cam.width_px, cam.height_px))
    return replace(flight, poses=tuple(poses))


def _poses(plan: FlightPlan, layout: PlantLayout, camera: ThermalCamera) -> tuple[FrameGeometry, ...]:
    poses = []
    gsd = camera.gsd_m(plan.altitude_m)
    for line in plan.lines:
        (x0, y0), (x1, y1) = layout.origin.to_xy(*line.start), layout.origin.to_xy(*line.end)
        yaw = math.degrees(math.atan2(x1 - x0, y1 - y0))
        for p in line.triggers:
            x, y = layout.origin.to_xy(*p)
            poses.append(FrameGeometry(x, y, gsd, yaw, camera.width_px, camera.height_px))
    return tuple(poses)


def plant_anomalies(
    layout: PlantLayout,
    rng: np.random.Generator,
    per_class: int = 2,
    classes: Sequence[Anomaly] = ANOMALIES,
    spacing_m: float = 4.0,
) -> list[PlantedAnomaly]:
    """Choose modules (whole strings for ``STRING_OFFLINE``) and a ΔT for each planted anomaly.

    Modules of different plantings are at least ``spacing_m`` apart and never at the end of a row, so the
    neighbour median of every anomalous module is healthy.
    """
    n = len(layout.modules)
    near = neighbours(layout, spacing_m)
    blocked = np.zeros(n, dtype=bool)
    row_len: dict[tuple[str, int], int] = {}
    for m in layout.modules:
        row_len[(m.array, m.row)] = max(row_len.get((m.array, m.row), 0), m.index)
    for i, m in enumerate(layout.modules):
        blocked[i] = m.index in (1, row_len[(m.array, m.row)])
    strings: dict[str, list[int]] = {}
    for i, m in enumerate(layout.modules):
        strings.setdefault(m.string, []).append(i)
    out: list[PlantedAnomaly] = []
    order = rng.permutation(n)
    cursor = 0
    for anomaly in [a for a in classes for _ in range(per_class)]:
        lo, hi = DELTA_T_K[anomaly]
        delta = float(rng.uniform(lo, hi))
        if anomaly is Anomaly.STRING_OFFLINE:
            group = _free_string(strings, blocked, rng)
        else:
            group = None
            while cursor < n and group is None:
                i = int(order[cursor])
                cursor += 1
                group = [i] if not blocked[i] else None
        if not group:
            continue
        for i in group:
            blocked[i] = True
            blocked[near[i]] = True
            out.append(PlantedAnomaly(layout.modules[i].id, anomaly, round(delta, 2)))
    return out


def _free_string(
    strings: Mapping[str, list[int]], blocked: npt.NDArray[np.bool_], rng: np.random.Generator
) -> list[int]:
    names = sorted(strings)
    for k in rng.permutation(len(names)):
        members = strings[names[int(k)]]
        # a string whose own modules are free except for the row ends
        if len(members) >= 3 and not blocked[members[1:-1]].any():
            return members[1:-1] if blocked[members[0]] or blocked[members[-1]] else members
    return []


def _scene(
    layout: PlantLayout,
    c: Conditions,
    planted: Sequence[PlantedAnomaly],
    rng: np.random.Generator,
    height_m: float,
) -> _Scene:
    index = module_index(layout)
    centres = layout.centres_xy()
    gx, gy = c.gradient_k_per_100m
    base = faiman_temperature(c.irradiance_w_m2, c.ambient_c, c.wind_m_s)
    base_c = base + (gx * centres[:, 0] + gy * centres[:, 1]) / 100 + rng.normal(0, 0.2, len(centres))
    n_cells = layout.cell_grid[0] * layout.cell_grid[1]
    cell_offsets = rng.normal(0, 0.15, (len(centres), n_cells)).astype(np.float32)
    along, across = layout.footprint_m
    shape = (max(8, round(across / TEXEL_M)), max(8, round(along / TEXEL_M)))
    textures = np.zeros((len(planted) + 1, *shape), dtype=np.float32)
    slot = np.zeros(len(centres), dtype=np.int32)
    for k, a in enumerate(planted, start=1):
        textures[k] = pattern(a.anomaly, a.delta_t_k, shape, layout.cell_grid, layout.portrait, rng)
        slot[layout.position(a.module_id)] = k
    return _Scene(
        index,
        base_c.astype(np.float32),
        cell_offsets,
        slot,
        textures,
        rng.uniform(0, 2 * math.pi, 6),
        glint_offset(layout, c, height_m) if c.reflection_k > 0 else None,
    )


def glint_offset(layout: PlantLayout, c: Conditions, height_m: float) -> tuple[float, float] | None:
    """Where the sun's specular reflection on the module plane lies from the camera's nadir (east, north) [m].

    The sun vector s mirrored about the module normal n, r = 2 (n · s) n − s, reaches a camera ``height_m``
    above the plane from the point −height · (r_x, r_y) / r_z; ``None`` when the reflection points into the
    plane or too far out to matter, or the sun is down or behind the glass.
    """
    n = module_normal(layout.tilt_deg, layout.row_azimuth_deg)
    sun = sun_vector(c.sun_azimuth_deg, c.sun_elevation_deg)
    r = mirrored(sun, n)
    if r[2] < 0.2 or sun[2] <= 0 or float(sun @ n) <= 0:  # too far out, or the sun down or behind the glass
        return None
    return -height_m * float(r[0]) / float(r[2]), -height_m * float(r[1]) / float(r[2])


def pattern(
    anomaly: Anomaly,
    delta_t_k: float,
    shape: tuple[int, int],
    cell_grid: tuple[int, int],
    portrait: bool,
    rng: np.random.Generator,
) -> F32:
    """Temperature difference map of one anomaly on a module [K].

    Parameters
    ----------
    anomaly : Anomaly
        Class.
    delta_t_k : float
        Peak difference (signed) [K].
    shape : (int, int)
        Texels across the row (from the low edge) × along it.
    cell_grid : (int, int)
        Cells along × across the row.
    portrait : bool
        Module orientation (where the substrings and the junction box lie).
    rng : numpy.random.Generator
        Source of the pattern's randomness.
    """
    tv, tu = shape
    fv, fu = np.meshgrid((np.arange(tv) + 0.5) / tv, (np.arange(tu) + 0.5) / tu, indexing="ij")
    cu_n, cv_n = cell_grid
    cu, cv = np.floor(fu * cu_n), np.floor(fv * cv_n)
    d = delta_t_k
    if anomaly is Anomaly.SINGLE_HOT_CELL:
        i, j = rng.integers(cu_n), rng.integers(cv_n)
        out = d * ((cu == i) & (cv == j))
    elif anomaly is Anomaly.MULTIPLE_HOT_CELLS:
        cells = rng.choice(cu_n * cv_n, size=int(rng.integers(3, 7)), replace=False)
        scale = rng.uniform(0.75, 1.0, len(cells))
        scale[0] = 1.0
        out = np.zeros(shape)
        for k, s in zip(cells.tolist(), scale.tolist(), strict=True):
            out += d * s * ((cu == k % cu_n) & (cv == k // cu_n))
    elif anomaly is Anomaly.HOT_SPOT:
        ju, jv = _junction_box(portrait)
        while True:
            pu, pv = rng.uniform(0.1, 0.9, 2)
            if math.hypot(pu - ju, pv - jv) > 0.25:
                break
        out = d * _gauss(fu, fv, pu, pv, 0.025, shape)
    elif anomaly is Anomaly.SUBSTRING:
        k = rng.integers(SUBSTRINGS)
        third = np.floor((fu if portrait else fv) * SUBSTRINGS)
        out = d * (third == k)
    elif anomaly in (Anomaly.MODULE_OFFLINE, Anomaly.STRING_OFFLINE):
        out = np.full(shape, d)
    elif anomaly is Anomaly.JUNCTION_BOX:
        ju, jv = _junction_box(portrait)
        out = d * _gauss(fu, fv, ju, jv, 0.05, shape)
    elif anomaly is Anomaly.SHADING:
        out = d * _shadow(fu, fv, rng)
    elif anomaly is Anomaly.SOILING:
        out = d * _soiling(fu, fv, shape, rng)
    elif anomaly is Anomaly.VEGETATION:
        out = d * _vegetation(fu, fv, shape, rng)
    elif anomaly is Anomaly.CRACKING:
        out = d * _crack(fu, fv, cu, cv, cell_grid, rng)
    else:
        out = np.zeros(shape)
    return np.asarray(out, dtype=np.float32)


def _junction_box(portrait: bool) -> tuple[float, float]:
    return JUNCTION_BOX if portrait else (JUNCTION_BOX[1], JUNCTION_BOX[0])


def _gauss(
    fu: FloatArray, fv: FloatArray, pu: float, pv: float, sigma_m: float, shape: tuple[int, int]
) -> FloatArray:
    tv, tu = shape
    du, dv = (fu - pu) * tu * TEXEL_M, (fv - pv) * tv * TEXEL_M
    return np.exp(-(du**2 + dv**2) / (2 * sigma_m**2))


def _shadow(fu: FloatArray, fv: FloatArray, rng: np.random.Generator) -> FloatArray:
    """A hard-edged shadow over one corner on the low side: the half-plane below a slanted line."""
    height = rng.uniform(0.35, 0.6)
    slope = rng.uniform(-0.5, 0.5)
    return (fv < height + slope * (fu - 0.5)).astype(np.float64)


def _soiling(fu: FloatArray, fv: FloatArray, shape: tuple[int, int], rng: np.random.Generator) -> FloatArray:
    """Diffuse warm patches, more towards the low edge, plus a dust band along it."""
    field_ = ndimage.gaussian_filter(rng.normal(size=shape), 6)
    field_ = (field_ - field_.mean()) / (field_.std() + 1e-9)
    patches = np.clip(field_ + 0.8 - 1.6 * fv, 0, 1.2) / 1.2
    band = fv < 0.08
    return np.asarray(np.maximum(patches, band), dtype=np.float64)


def _vegetation(
    fu: FloatArray, fv: FloatArray, shape: tuple[int, int], rng: np.random.Generator
) -> FloatArray:
    """Two to four irregular cool blobs growing up from the low edge."""
    out = np.zeros(shape)
    for _ in range(int(rng.integers(2, 5))):
        pu, wu, hv = rng.uniform(0.1, 0.9), rng.uniform(0.06, 0.12), rng.uniform(0.15, 0.35)
        blob = ((fu - pu) / wu) ** 2 + (fv / hv) ** 2 < 1 + 0.3 * np.sin(fu * 60 + pu * 9)
        out = np.maximum(out, blob * rng.uniform(0.7, 1.0))
    return np.asarray(ndimage.gaussian_filter(out, 1.0), dtype=np.float64)


def _crack(
    fu: FloatArray,
    fv: FloatArray,
    cu: FloatArray,
    cv: FloatArray,
    cell_grid: tuple[int, int],
    rng: np.random.Generator,
) -> FloatArray:
    """One side of a crack across one cell: the part of the cell beyond a slanted line."""
    cu_n, cv_n = cell_grid
    i, j = rng.integers(cu_n), rng.integers(cv_n)
    lu, lv = fu * cu_n - i, fv * cv_n - j  # [0, 1) inside the cell
    angle = rng.uniform(0, 2 * math.pi)
    side = (lu - 0.5) * math.cos(angle) + (lv - 0.5) * math.sin(angle) > rng.uniform(0.0, 0.12)
    return np.asarray((cu == i) & (cv == j) & side, dtype=np.float64)


def _render(
    scene: _Scene,
    layout: PlantLayout,
    c: Conditions,
    pose: FrameGeometry,
    rng: np.random.Generator,
    oblique: ObliqueCamera | None = None,
) -> F32:
    if oblique is None:
        labels, fu, fv = locate_frame(scene.index, pose)
    else:  # where each pixel's ray meets the plane (the plane beyond the horizon: no module)
        x, y = oblique.pixel_to_xy(*np.mgrid[0 : pose.height_px, 0 : pose.width_px])
        labels, fu, fv = locate(scene.index, np.nan_to_num(x, nan=1e9), np.nan_to_num(y, nan=1e9))
    on = labels >= 0
    lab = np.where(on, labels, 0)
    cu_n, cv_n = layout.cell_grid
    tv, tu = scene.textures.shape[1:]
    iu = np.clip((fu * tu).astype(np.intp), 0, tu - 1)
    iv = np.clip((fv * tv).astype(np.intp), 0, tv - 1)
    cell = (iv * cv_n // tv) * cu_n + iu * cu_n // tu
    base = scene.base_c.take(lab)
    n_cells = cu_n * cv_n
    texel = (scene.slot.take(lab) * tv + iv) * tu + iu
    module_t = (
        base + scene.cell_offsets.ravel().take(lab * n_cells + cell) + scene.textures.ravel().take(texel)
    )
    w = max(1, round(FRAME_WIDTH_M / TEXEL_M))
    rim = (iu < w) | (iu >= tu - w) | (iv < w) | (iv >= tv - w)
    module_t = np.where(rim, base - np.float32(2.5), module_t)
    rows = np.arange(pose.height_px, dtype=np.float32)[:, None]
    cols = np.arange(pose.width_px, dtype=np.float32)[None, :]
    p = scene.roof_phases
    # a smooth roof texture (separable in the image, which is all its realism needs)
    roof = np.float32(c.ambient_c + c.roof_excess_k) + (
        0.6 * np.sin(rows / 90.0 + np.float32(p[0] + rng.uniform(0, 6)))
        + 0.4 * np.cos(cols / 70.0 + np.float32(p[1] + rng.uniform(0, 6)))
    ).astype(np.float32)
    t = np.where(on, module_t, roof)
    if scene.glint_offset_m is not None:
        # the glint keeps its place relative to the camera, so it slides over the modules between frames
        ox, oy = scene.glint_offset_m
        if oblique is None:
            gr, gc = pose.xy_to_pixel(pose.x_m + ox, pose.y_m + oy)
            sigma_px = GLINT_SIGMA_M / pose.gsd_m
            glint = np.exp(-((rows - gr) ** 2) / (2 * sigma_px**2)) * np.exp(
                -((cols - gc) ** 2) / (2 * sigma_px**2)
            )
        else:  # on the plane, where each pixel looks: a glint ahead of an oblique camera shows, stretched
            d2 = (np.nan_to_num(x, nan=1e9) - (oblique.x_m + ox)) ** 2 + (
                np.nan_to_num(y, nan=1e9) - (oblique.y_m + oy)
            ) ** 2
            glint = np.exp(-d2 / (2 * GLINT_SIGMA_M**2))
        t = t + (np.float32(c.reflection_k) * glint * on).astype(np.float32)
    r2 = ((rows - pose.height_px / 2) ** 2 + (cols - pose.width_px / 2) ** 2) / np.float32(
        (pose.height_px / 2) ** 2 + (pose.width_px / 2) ** 2
    )
    t = t - np.float32(c.vignetting_k) * r2
    t = ndimage.gaussian_filter(t.astype(np.float32), 0.6)
    t += np.float32(rng.normal(0, c.frame_offset_sigma_k))
    t += (np.float32(c.netd_k / 3) * rng.standard_normal(pose.width_px, dtype=np.float32))[None, :]
    t += np.float32(c.netd_k) * rng.standard_normal(t.shape, dtype=np.float32)
    return np.asarray(t, dtype=np.float32)

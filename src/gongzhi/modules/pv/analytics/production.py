"""Production data of a zone, made ready for RdTools' soiling analysis, and the calibration of the drone's
soiling index against the soiling ratio it gives.

- :func:`daily_performance`: interval energy, plane-of-array irradiance and temperature → the daily
  insolation-weighted performance index and insolation that ``rdtools.soiling.soiling_srr`` takes (RdTools'
  normalisation: measured over expected energy, the expected energy from irradiance and a linear temperature
  coefficient; Deceglie et al., IEEE JPV 8(2):547, 2018).
- :func:`label_cleanings`: which of the recoveries SRR detected were rain, which were the robots.
- :func:`calibrate_index`: a per-plant linear fit of the soiling loss (1 − soiling ratio from production) on
  the IR soiling index of the inspections on the same days, with R², the standard error of the slope and the
  number of points.
- :func:`synthetic_production`: a deterministic plant-zone series (pvlib clear-sky irradiance on the plane of
  array, daily cloudiness, module temperature, a planted soiling rate reset by rain and robot cleanings) for
  the demo and the tests.

Pure functions: pandas/numpy in, dataclasses out; no I/O.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

GAMMA_PER_K = -0.0040
"""Power temperature coefficient of crystalline-silicon modules [K⁻¹] (datasheets give −0.34 … −0.45 %/K)."""
MIN_POA_W_M2 = 200.0
"""Samples below this plane-of-array irradiance are left out of the performance index (low-light
non-linearity and angle-of-incidence losses; RdTools' examples filter at 200 W m-2)."""
MODULE_DELTA_K = 3.0
"""Cell minus back-of-module temperature at 1000 W m-2 [K] (Sandia model, King et al. 2004)."""
NOCT_RISE_K_PER_W_M2 = 25.0 / 800.0
"""Cell above ambient temperature per irradiance [K per W m-2]: (NOCT 45 °C − 20 °C) / 800 W m-2."""
RAIN_CLEANING_MM = 6.0
"""Daily rain that washes the modules [mm] (Kimber's default threshold)."""
CLEAN_QUANTILE = 0.99
"""The performance index of a clean zone, as a quantile of its daily values [-]."""
MIN_CALIBRATION_POINTS = 5
"""A plant's calibration is used only with at least this many (zone, inspection) points."""


def cell_temperature(temp_c: pd.Series, poa_w_m2: pd.Series, *, module: bool) -> pd.Series:
    """Cell temperature [°C] from a back-of-module or an ambient temperature and the irradiance.

    Parameters
    ----------
    temp_c : pandas.Series
        Measured temperature [°C].
    poa_w_m2 : pandas.Series
        Plane-of-array irradiance [W m-2].
    module : bool
        True when ``temp_c`` is the back-of-module temperature, False when it is the ambient one.
    """
    if module:
        return temp_c + poa_w_m2 / 1000.0 * MODULE_DELTA_K
    return temp_c + poa_w_m2 * NOCT_RISE_K_PER_W_M2


def daily_performance(
    samples: pd.DataFrame, *, longitude: float, gamma_per_k: float = GAMMA_PER_K
) -> pd.DataFrame:
    """Daily performance index and insolation of a zone, the inputs of ``soiling_srr``.

    Parameters
    ----------
    samples : pandas.DataFrame
        Timezone-aware DatetimeIndex (the end of each interval); columns ``energy_kwh`` (AC energy of the
        interval [kWh]), ``interval_h`` [h], ``poa_w_m2`` [W m-2], ``cell_temp_c`` [°C] and optionally
        ``rain_mm`` [mm].
    longitude : float
        Of the plant [°E]: the days are local solar days (UTC + longitude / 15 h), whatever zone the
        timestamps were written in.
    gamma_per_k : float
        Power temperature coefficient [K⁻¹].

    Returns
    -------
    pandas.DataFrame
        Daily index (naive dates) with ``energy_normalized`` (measured / expected energy over the samples at
        or above :data:`MIN_POA_W_M2`, scaled so its 99th percentile, the cleanest days, is 1),
        ``insolation_kwh_m2`` and ``rain_mm``; days without a usable sample are NaN.

    Notes
    -----
    Pass ``recenter=False`` to ``soiling_srr`` with this index: RdTools otherwise divides it by the median of
    the first year, a soiled level, which inflates every rate by the mean soiling loss (4 % at 0.3 %/day
    with monthly cleanings).
    """
    index = samples.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError("production samples need a timezone-aware DatetimeIndex")
    local = index.tz_convert("UTC").tz_localize(None) + pd.Timedelta(hours=longitude / 15.0)
    day = local.floor("D")
    poa = samples["poa_w_m2"].to_numpy(dtype=float)
    hours = samples["interval_h"].to_numpy(dtype=float)
    expected = poa / 1000.0 * (1.0 + gamma_per_k * (samples["cell_temp_c"].to_numpy(dtype=float) - 25.0))
    usable = poa >= MIN_POA_W_M2
    frame = pd.DataFrame(
        {
            "measured": np.where(usable, samples["energy_kwh"].to_numpy(dtype=float), 0.0),
            "expected": np.where(usable, expected * hours, 0.0),
            "insolation_kwh_m2": poa * hours / 1000.0,
            "rain_mm": samples["rain_mm"].to_numpy(dtype=float) if "rain_mm" in samples else 0.0,
        },
        index=day,
    )
    daily = frame.groupby(level=0).sum(min_count=1)
    ratio = daily["measured"] / daily["expected"].where(daily["expected"] > 0)
    reference = float(np.nanquantile(ratio, CLEAN_QUANTILE)) if ratio.notna().any() else math.nan
    if not math.isfinite(reference) or reference <= 0:
        raise ValueError("no sample reaches 200 W m-2 with energy: nothing to normalise")
    full = pd.date_range(daily.index.min(), daily.index.max(), freq="D")
    out = pd.DataFrame(
        {
            "energy_normalized": ratio / reference,
            "insolation_kwh_m2": daily["insolation_kwh_m2"],
            "rain_mm": daily["rain_mm"],
        }
    )
    return out.reindex(full)


@dataclass(frozen=True, slots=True)
class CleaningEvent:
    """A recovery that SRR detected, and what most likely caused it.

    Attributes
    ----------
    day : date
        First day of the interval after the recovery.
    cause : str
        ``robot`` (a robot cleaned the zone within a day of it), ``rain`` (at least
        :data:`RAIN_CLEANING_MM` fell within a day of it) or ``unexplained``.
    """

    day: dt.date
    cause: str


def label_cleanings(
    detected: Iterable[dt.date],
    rain_mm_daily: Mapping[dt.date, float],
    robot_days: Iterable[dt.date],
    *,
    window_days: int = 1,
    rain_threshold_mm: float = RAIN_CLEANING_MM,
) -> list[CleaningEvent]:
    """Name the cause of each detected recovery: the robots' cleaning log first, then the rain.

    Parameters
    ----------
    detected : iterable of date
        Recoveries found by SRR (:attr:`.soiling.SoilingEstimate.cleanings`).
    rain_mm_daily : mapping
        Daily rain [mm].
    robot_days : iterable of date
        Days the robots finished cleaning the zone.
    window_days : int
        How far a cause may be from the detected day [days].
    rain_threshold_mm : float
        Daily rain that counts as a washing [mm].
    """
    robots = set(robot_days)
    out = []
    for day in sorted(detected):
        near = [day + dt.timedelta(days=k) for k in range(-window_days, window_days + 1)]
        if any(d in robots for d in near):
            cause = "robot"
        elif any(rain_mm_daily.get(d, 0.0) >= rain_threshold_mm for d in near):
            cause = "rain"
        else:
            cause = "unexplained"
        out.append(CleaningEvent(day, cause))
    return out


@dataclass(frozen=True, slots=True)
class IndexCalibration:
    """Soiling loss = slope · soiling index + intercept, fitted over a plant's zones and inspections.

    Attributes
    ----------
    slope : float
        Loss fraction per unit of index [-].
    intercept : float
        Loss at a zero index [-].
    r2 : float
        Coefficient of determination of the fit [-]; NaN with fewer than three points.
    slope_se : float
        Standard error of the slope [-]; NaN with fewer than three points.
    points : int
        (zone, inspection) pairs the fit uses.
    usable : bool
        At least :data:`MIN_CALIBRATION_POINTS` points, an index that varies and a positive slope.
    """

    slope: float
    intercept: float
    r2: float
    slope_se: float
    points: int
    usable: bool

    def loss(self, index: float) -> float:
        """Estimated soiling loss fraction of a zone with this mean soiling index [-], at least 0."""
        return max(0.0, self.slope * index + self.intercept)


def calibrate_index(
    pairs: Sequence[tuple[float, float]], *, min_points: int = MIN_CALIBRATION_POINTS
) -> IndexCalibration:
    """Ordinary least squares of the production-derived soiling loss on the IR soiling index.

    Parameters
    ----------
    pairs : sequence of (index, loss)
        The zone's mean soiling index at an inspection [0–1] and 1 − the production soiling ratio of that
        zone on the inspection's day [-].
    min_points : int
        Fewer points give a fit marked not usable.
    """
    n = len(pairs)
    if n < 2:
        return IndexCalibration(math.nan, math.nan, math.nan, math.nan, n, False)
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    sxx = float(((x - x.mean()) ** 2).sum())
    if sxx <= 0:
        return IndexCalibration(math.nan, math.nan, math.nan, math.nan, n, False)
    slope = float(((x - x.mean()) * (y - y.mean())).sum() / sxx)
    intercept = float(y.mean() - slope * x.mean())
    residual = y - (slope * x + intercept)
    ss_res = float((residual**2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if n < 3:
        r2 = se = math.nan
    else:
        r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan
        se = math.sqrt(ss_res / (n - 2) / sxx)
    return IndexCalibration(slope, intercept, r2, se, n, n >= min_points and slope > 0)


def synthetic_production(
    *,
    latitude: float,
    longitude: float,
    start: dt.date,
    days: int,
    rate_per_day: float,
    capacity_kw: float,
    robot_cleanings: Iterable[dt.date] = (),
    tilt_deg: float = 10.0,
    azimuth_deg: float = 180.0,
    step_min: int = 15,
    rain_days_per_month: float = 2.0,
    noise: float = 0.005,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.Series]:
    """A deterministic production series of one zone with a planted soiling rate.

    Clear-sky irradiance (pvlib's simplified Solis model) transposed to the plane of array, scaled by a
    daily cloudiness; back-of-module temperature from an ambient daily cycle; AC power
    ``capacity · POA/1000 · (1 + γ(T_cell − 25)) · soiling ratio`` with Gaussian noise. The soiling ratio
    falls by ``rate_per_day`` a day and returns to 1 after a day with at least :data:`RAIN_CLEANING_MM` of
    rain or a robot cleaning.

    Parameters
    ----------
    latitude, longitude : float
        Of the plant [°].
    start : date
        First day (local time, Asia/Shanghai).
    days : int
        Length [days].
    rate_per_day : float
        Planted soiling rate [day⁻¹], positive.
    capacity_kw : float
        DC capacity of the zone [kW].
    robot_cleanings : iterable of date
        Days a robot cleaned the zone (in the evening: the next day starts clean).
    tilt_deg, azimuth_deg : float
        Orientation of the modules [°].
    step_min : int
        Sampling interval [min].
    rain_days_per_month : float
        Mean number of washing rains a month.
    noise : float
        Relative standard deviation of the power [-].
    seed : int
        Seed of the cloudiness, rain and noise.

    Returns
    -------
    (samples, soiling_ratio)
        ``samples``: timezone-aware index (end of each interval, +08:00) with ``ac_power_kw``, ``poa_w_m2``,
        ``module_temp_c``, ``rain_mm``; ``soiling_ratio``: the planted daily ratio (naive dates).
    """
    import pvlib

    rng = np.random.default_rng(seed)
    day_index = pd.date_range(start, periods=days, freq="D")
    rainy = rng.random(days) < rain_days_per_month / 30.0
    rain_day_mm = np.where(rainy, rng.uniform(8.0, 30.0, days), rng.choice([0.0, 1.0], days, p=[0.8, 0.2]))
    cleaned = {pd.Timestamp(d) for d in robot_cleanings}
    ratio = np.empty(days)
    level = 1.0
    for i, d in enumerate(day_index):
        ratio[i] = level
        washed = rain_day_mm[i] >= RAIN_CLEANING_MM or d in cleaned
        level = 1.0 if washed else max(0.0, level - rate_per_day)
    times = pd.date_range(
        pd.Timestamp(start, tz="Asia/Shanghai"), periods=days * 24 * 60 // step_min, freq=f"{step_min}min"
    )
    site = pvlib.location.Location(latitude, longitude, tz="Asia/Shanghai")
    sky = site.get_clearsky(times, model="simplified_solis")
    sun = site.get_solarposition(times)
    poa = pvlib.irradiance.get_total_irradiance(
        tilt_deg, azimuth_deg, sun["apparent_zenith"], sun["azimuth"], sky["dni"], sky["ghi"], sky["dhi"]
    )["poa_global"].fillna(0.0)
    which = (times.tz_localize(None).normalize() - day_index[0]).days.to_numpy()
    cloud = rng.uniform(0.45, 1.0, days)[which]
    poa_w = poa.to_numpy() * cloud
    hour = times.hour.to_numpy() + times.minute.to_numpy() / 60.0
    ambient = 18.0 + 7.0 * np.sin((hour - 9.0) / 24.0 * 2 * math.pi)
    module_t = ambient + poa_w * (MODULE_DELTA_K + 22.0) / 1000.0
    cell = module_t + poa_w / 1000.0 * MODULE_DELTA_K
    power = capacity_kw * poa_w / 1000.0 * (1.0 + GAMMA_PER_K * (cell - 25.0)) * ratio[which]
    power = np.clip(power * (1.0 + rng.normal(0.0, noise, len(times))), 0.0, None)
    rain = np.where((times.hour.to_numpy() == 22) & (times.minute.to_numpy() == 0), rain_day_mm[which], 0.0)
    samples = pd.DataFrame(
        {
            "ac_power_kw": np.round(power, 4),
            "poa_w_m2": np.round(poa_w, 2),
            "module_temp_c": np.round(module_t, 2),
            "rain_mm": rain,
        },
        index=times + pd.Timedelta(minutes=step_min),
    )
    return samples, pd.Series(ratio, index=day_index, name="soiling_ratio")

"""Soiling from production data, its forecast, and when cleaning pays.

Three steps, each a thin layer over the reference implementation:

1. **Rate** — RdTools' stochastic rate and recovery (``rdtools.soiling.soiling_srr``; Deceglie et al.,
   IEEE JPV 8(2):547, 2018) on daily insolation-weighted normalised energy gives the P50 soiling ratio and
   the soiling rate of every valid interval between cleanings [day⁻¹; −0.002 = 0.2 %/day].
2. **Forecast** — pvlib's Kimber model (``pvlib.soiling.kimber``) accumulates soiling at that rate, resets on
   rain above a threshold and on the robot cleanings passed as manual wash dates.
3. **Economics** — with a linear soiling rate s [1/day], daily energy E [kWh/day], tariff p [yuan/kWh] and
   a cleaning cost C [yuan], the revenue lost T days after a cleaning is p·E·s·T²/2; minimising the cost per
   day (C + p·E·s·T²/2)/T gives the optimal interval **T* = √(2C / (s·E·p))**, equivalently "clean when the
   revenue lost since the last cleaning reaches C" (domain/pv.md §6; checked there against
   Greensolver/Abu-Naser 2017).

Pure functions: pandas/numpy in, frozen dataclasses out; no I/O.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gongzhi.modules.pv.analytics.production import IndexCalibration


@dataclass(frozen=True, slots=True)
class SoilingEstimate:
    """What stochastic rate and recovery found in a production series.

    Attributes
    ----------
    soiling_ratio : float
        P50 insolation-weighted soiling ratio (1.0 = no loss; 0.95 = 5 % lost to soiling).
    soiling_ratio_low, soiling_ratio_high : float
        Bounds of its confidence interval (``confidence_level``, 68.2 % by default).
    rate_per_day : float
        Median soiling rate of the valid intervals [day⁻¹], negative while soiling accumulates; NaN when no
        interval is valid.
    intervals : int
        Number of valid soiling intervals the rate comes from.
    cleanings : tuple of date
        Start days of the intervals after the first: where RdTools saw a recovery (rain or cleaning).
    rate_low, rate_high : float
        Confidence interval of the rate [day⁻¹] (``confidence_level``): each valid interval's Monte Carlo
        slope interval sampled uniformly in proportion to its length, as RdTools' ``monthly_soiling_rates``
        does per month; NaN when no interval is valid.
    profile : tuple of (date, float)
        RdTools' daily soiling ratio under perfect cleaning (``soiling_ratio_perfect_clean``), the days it
        covers.
    """

    soiling_ratio: float
    soiling_ratio_low: float
    soiling_ratio_high: float
    rate_per_day: float
    intervals: int
    cleanings: tuple[dt.date, ...]
    rate_low: float = math.nan
    rate_high: float = math.nan
    profile: tuple[tuple[dt.date, float], ...] = ()

    @property
    def loss_fraction(self) -> float:
        """Share of energy lost to soiling, 1 − soiling ratio."""
        return 1.0 - self.soiling_ratio


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """RdTools draws from numpy's global generator; seed it for a repeatable answer and put it back after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _daily(series: pd.Series, name: str) -> pd.Series:
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError(f"{name} needs a DatetimeIndex of days")
    if len(series) < 30:
        raise ValueError(f"{name} has {len(series)} days; soiling rates need at least 30 days of data")
    return series.astype(float).asfreq("D")


def soiling_from_production(
    energy_normalized_daily: pd.Series,
    insolation_daily: pd.Series,
    *,
    reps: int = 1000,
    seed: int = 0,
    confidence_level: float = 68.2,
    **srr_options: Any,
) -> SoilingEstimate:
    """Soiling ratio and rate from daily production, by RdTools' stochastic rate and recovery.

    Parameters
    ----------
    energy_normalized_daily : pandas.Series
        Daily insolation-weighted performance index (measured / expected energy), DatetimeIndex of days.
    insolation_daily : pandas.Series
        Daily plane-of-array insolation on the same days [any unit, e.g. kWh/m²].
    reps : int
        Monte Carlo realisations (RdTools' default 1000).
    seed : int
        Seed for RdTools' Monte Carlo draws, so the same data gives the same answer.
    confidence_level : float
        Size of the confidence interval [%].
    **srr_options
        Passed to ``rdtools.soiling.soiling_srr`` (``day_scale``, ``clean_threshold``, ``method`` …).

    Returns
    -------
    SoilingEstimate

    Raises
    ------
    ValueError
        Too few days, no DatetimeIndex, or no valid soiling interval in the data.
    """
    with warnings.catch_warnings():  # RdTools flags its soiling module "experimental" on every import
        warnings.simplefilter("ignore", UserWarning)
        from rdtools.soiling import soiling_srr  # heavy (statsmodels, xgboost): imported only when used

    energy = _daily(energy_normalized_daily, "energy_normalized_daily")
    insolation = _daily(insolation_daily, "insolation_daily").reindex(energy.index)
    with _seeded(seed):
        try:
            ratio, interval, info = soiling_srr(
                energy, insolation, reps=reps, confidence_level=confidence_level, **srr_options
            )
        except ValueError as exc:  # RdTools says "no valid soiling intervals" this way
            raise ValueError(f"no soiling estimate from this series: {exc}") from exc
    summary = info["soiling_interval_summary"]
    valid = summary[summary["valid"]]
    rate = float(valid["soiling_rate"].median()) if len(valid) else math.nan
    starts = tuple(pd.Timestamp(t).date() for t in summary["start"].iloc[1:])
    low, high = _rate_interval(valid, confidence_level, seed)
    daily = info["soiling_ratio_perfect_clean"].dropna()
    return SoilingEstimate(
        soiling_ratio=float(ratio),
        soiling_ratio_low=float(interval[0]),
        soiling_ratio_high=float(interval[1]),
        rate_per_day=rate,
        intervals=len(valid),
        cleanings=starts,
        rate_low=low,
        rate_high=high,
        profile=tuple((pd.Timestamp(d).date(), float(v)) for d, v in daily.items()),
    )


def _rate_interval(valid: pd.DataFrame, confidence_level: float, seed: int) -> tuple[float, float]:
    """Quantiles of the soiling rate over the valid intervals, each drawn from its own slope interval."""
    if not len(valid):
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    lengths = valid["length"].to_numpy(dtype=float)
    counts = np.ceil(lengths / lengths.sum() * 10_000).astype(int)
    draws = np.concatenate(
        [
            rng.uniform(lo, hi, n)
            for lo, hi, n in zip(valid["soiling_rate_low"], valid["soiling_rate_high"], counts, strict=True)
        ]
    )
    half = confidence_level / 200.0
    low, high = np.quantile(draws, [0.5 - half, 0.5 + half])
    return float(low), float(high)


def forecast_soiling(
    rainfall_hourly_mm: pd.Series,
    *,
    rate_per_day: float,
    cleanings: Iterable[dt.datetime] = (),
    rain_cleaning_threshold_mm: float = 6.0,
    grace_period_days: int = 14,
    max_soiling: float = 0.3,
    initial_soiling: float = 0.0,
) -> pd.Series:
    """Soiling loss over time (0–1) by pvlib's Kimber model, the robot cleanings counted as manual washes.

    Parameters
    ----------
    rainfall_hourly_mm : pandas.Series
        Hourly rainfall [mm] with a DatetimeIndex (timezone-aware or not, consistently with ``cleanings``).
    rate_per_day : float
        Soiling rate [day⁻¹]; the sign is ignored (RdTools reports accumulation as negative).
    cleanings : iterable of datetime
        Times the robots (or people) cleaned the zone: each resets the loss to 0.
    rain_cleaning_threshold_mm : float
        Rain in 24 h that washes the modules (Kimber's 6 mm default; 25 mm for flat roofs with little tilt).
    grace_period_days : int
        Days after a washing rain during which soiling does not accumulate.
    max_soiling : float
        Ceiling of the loss.
    initial_soiling : float
        Loss at the start of the series.

    Returns
    -------
    pandas.Series
        Hourly soiling loss fraction on the rainfall's index.
    """
    from pvlib.soiling import kimber

    washes = [pd.Timestamp(t) for t in cleanings]
    index = rainfall_hourly_mm.index
    if washes and isinstance(index, pd.DatetimeIndex) and index.tz is not None:
        washes = [w.tz_localize(index.tz) if w.tzinfo is None else w.tz_convert(index.tz) for w in washes]
    # Kimber resets on a wash *date*; pvlib compares the index's dates with these.
    wash_dates = sorted({w.floor("D") for w in washes}) or None
    loss = kimber(
        rainfall_hourly_mm,
        cleaning_threshold=rain_cleaning_threshold_mm,
        soiling_loss_rate=abs(rate_per_day),
        grace_period=grace_period_days,
        max_soiling=max_soiling,
        manual_wash_dates=wash_dates,
        initial_soiling=initial_soiling,
    )
    return pd.Series(loss, index=index, name="soiling_loss")


@dataclass(frozen=True, slots=True)
class CleaningAdvice:
    """When cleaning a zone pays, by the linear-soiling economics.

    Attributes
    ----------
    optimal_interval_days : float
        T* = √(2C / (s·E·p)) [days]; ``inf`` when the zone does not soil.
    loss_at_cleaning : float
        Soiling loss fraction reached after T* days, s·T*.
    revenue_lost_yuan : float
        Revenue lost since the last cleaning, p·E·s·t²/2 [yuan].
    cleaning_cost_yuan : float
        C [yuan].
    clean_now : bool
        True when the revenue lost since the last cleaning has reached the cleaning cost.
    next_cleaning : date | None
        Last cleaning + T*, or None when cleaning never pays.
    days_since_cleaning : float
        t [days].
    """

    optimal_interval_days: float
    loss_at_cleaning: float
    revenue_lost_yuan: float
    cleaning_cost_yuan: float
    clean_now: bool
    next_cleaning: dt.date | None
    days_since_cleaning: float


def optimal_cleaning_interval(
    cleaning_cost: float, rate_per_day: float, energy_kwh_per_day: float, tariff_per_kwh: float
) -> float:
    """T* = √(2C / (s·E·p)) [days], the cleaning interval that minimises cost plus lost revenue per day.

    Parameters
    ----------
    cleaning_cost : float
        C, cost of one cleaning of the zone [currency].
    rate_per_day : float
        s, linear soiling rate [day⁻¹] (sign ignored).
    energy_kwh_per_day : float
        E, the zone's clean energy yield [kWh/day].
    tariff_per_kwh : float
        p, value of a kWh [currency/kWh].

    Returns
    -------
    float
        Days; ``math.inf`` when s, E or p is zero.
    """
    if cleaning_cost < 0 or energy_kwh_per_day < 0 or tariff_per_kwh < 0:
        raise ValueError("cleaning cost, energy and tariff must not be negative")
    s = abs(rate_per_day)
    denominator = s * energy_kwh_per_day * tariff_per_kwh
    if denominator == 0:
        return math.inf
    return math.sqrt(2.0 * cleaning_cost / denominator)


def cleaning_advice(
    *,
    cleaning_cost: float,
    rate_per_day: float,
    energy_kwh_per_day: float,
    tariff_per_kwh: float,
    last_cleaning: dt.date,
    today: dt.date,
) -> CleaningAdvice:
    """Optimal interval, revenue lost so far and whether to clean now, for one zone.

    The loss grows linearly after a cleaning (s·t), so the revenue lost after t days is p·E·s·t²/2;
    cleaning now pays once that reaches the cost C, which happens exactly at t = T*.
    """
    if today < last_cleaning:
        raise ValueError(f"today ({today}) is before the last cleaning ({last_cleaning})")
    t_star = optimal_cleaning_interval(cleaning_cost, rate_per_day, energy_kwh_per_day, tariff_per_kwh)
    s = abs(rate_per_day)
    t = float((today - last_cleaning).days)
    lost = tariff_per_kwh * energy_kwh_per_day * s * t * t / 2.0
    finite = math.isfinite(t_star)
    return CleaningAdvice(
        optimal_interval_days=t_star,
        loss_at_cleaning=s * t_star if finite else 0.0,
        revenue_lost_yuan=lost,
        cleaning_cost_yuan=cleaning_cost,
        clean_now=finite and lost >= cleaning_cost,
        next_cleaning=last_cleaning + dt.timedelta(days=math.ceil(t_star)) if finite else None,
        days_since_cleaning=t,
    )


# --- per zone, from the drone's soiling index ------------------------------------------------------------

INDEX_TO_LOSS = 1.0
"""Energy loss fraction per unit of soiling index [-]. The index is the share of a module's area that the
thermal camera sees warmer than its clean upper third (:func:`.modules.soiling_index`); reading it one for
one as a power-loss fraction is an uncalibrated proxy (dirt on part of a cell can cost more, through the
series string, or less). Replace the rate by RdTools' (:func:`soiling_from_production`) where production
data exists."""


@dataclass(frozen=True, slots=True)
class ZoneSoiling:
    """The cleaning economics of one zone (an array of the plant).

    Attributes
    ----------
    zone : str
        Array name.
    modules : int
        Modules in the zone [-].
    energy_share : float
        The zone's share of the plant's energy, by module count (one module type per plant) [-].
    soiling_index : float | None
        Mean soiling index of the zone at the latest inspection that saw it [0–1].
    rate_per_day : float
        Soiling loss rate used [day⁻¹].
    rate_source : str
        ``inspections`` (index change between the last two inspections), ``since cleaning`` (index of the
        latest inspection over the days since the zone's last cleaning) or ``assumed`` (the plant rate given).
    last_cleaning : date
        Last robot cleaning of the zone, else the first inspection that saw it (where its forecast starts).
    advice : CleaningAdvice
        T*, revenue lost since ``last_cleaning`` and whether to clean now, for the zone's share of the
        cleaning cost and energy.
    method : str
        What the rate rests on: ``production`` (RdTools SRR on the zone's production data),
        ``ir_calibrated`` (the index change turned into loss by the plant's calibration), ``ir_index`` (the
        index read one for one as loss, uncalibrated) or ``typed`` (the plant rate the operator typed in).
    rate_low, rate_high : float | None
        Confidence interval of the rate [day⁻¹] (SRR's for ``production``, the slope's standard error for
        ``ir_calibrated``); None when the method gives none.
    loss_estimate : float | None
        Energy loss fraction the calibration reads from the latest soiling index [-]; None uncalibrated.
    soiling_since : date | None
        The day its soiling starts again (:func:`soiling_since`): ``last_cleaning``, or the end of a washing
        rain's grace period, which may be after today; ``advice`` counts from it. None: ``last_cleaning``.
    """

    zone: str
    modules: int
    energy_share: float
    soiling_index: float | None
    rate_per_day: float
    rate_source: str
    last_cleaning: dt.date
    advice: CleaningAdvice
    method: str = "typed"
    rate_low: float | None = None
    rate_high: float | None = None
    loss_estimate: float | None = None
    soiling_since: dt.date | None = None


@dataclass(frozen=True, slots=True)
class MeasuredRate:
    """A zone's soiling rate from its production data [day⁻¹, positive while soiling], with its interval."""

    rate_per_day: float
    low: float | None = None
    high: float | None = None


def index_rate(
    seen: list[tuple[dt.date, float]], cleaned: dt.date | None, index_to_loss: float = INDEX_TO_LOSS
) -> tuple[float, str] | None:
    """Soiling loss rate [day⁻¹] of a zone from its soiling index over time, and how it was found.

    Parameters
    ----------
    seen : list of (date, index)
        The zone's mean soiling index at each inspection, oldest first.
    cleaned : date, optional
        The zone's last cleaning; the index is taken as zero just after it.
    index_to_loss : float
        Loss fraction per unit of index (:data:`INDEX_TO_LOSS`).

    Returns
    -------
    (rate, source) or None
        None when the data give no positive rate (one inspection only, the same day, or an index that fell
        without a cleaning, e.g. after rain).
    """
    if not seen:
        return None
    day, last = seen[-1]
    if cleaned is not None and cleaned <= day:
        before = [(d, i) for d, i in seen[:-1] if d >= cleaned]
        start, base = before[-1] if before else (cleaned, 0.0)
        source = "inspections" if before else "since cleaning"
    elif len(seen) >= 2:
        (start, base), source = seen[-2], "inspections"
    else:
        return None
    days = (day - start).days
    if days < 1 or last <= base:
        return None
    return (last - base) / days * index_to_loss, source


def zone_economics(
    *,
    zones: dict[str, int],
    seen: dict[str, list[tuple[dt.date, float]]],
    cleaned: dict[str, dt.date],
    cleaning_cost: float,
    energy_kwh_per_day: float,
    tariff_per_kwh: float,
    assumed_rate_per_day: float,
    today: dt.date,
    measured: Mapping[str, MeasuredRate] | None = None,
    calibration: IndexCalibration | None = None,
    rainfall_hourly_mm: pd.Series | None = None,
) -> list[ZoneSoiling]:
    """:func:`cleaning_advice` for every zone, each with its share of the plant's cost and energy.

    A zone's rate is, by preference, the one measured from its production data, the change of its soiling
    index turned into loss by the plant's calibration (when usable), the index change read one for one, and
    last the rate typed in for the plant.

    Parameters
    ----------
    zones : dict
        Modules per zone [-].
    seen : dict
        Per zone, (inspection date, mean soiling index) oldest first.
    cleaned : dict
        Per zone, its last cleaning.
    cleaning_cost, energy_kwh_per_day, tariff_per_kwh : float
        For the whole plant: C [yuan], E [kWh/day], p [yuan/kWh].
    assumed_rate_per_day : float
        The rate for zones whose inspections give none [day⁻¹].
    today : date
        The day the advice is for.
    measured : mapping, optional
        Per zone, the rate from production data (:class:`MeasuredRate`).
    calibration : IndexCalibration, optional
        The plant's fit of soiling loss on the soiling index; used when ``usable``.
    rainfall_hourly_mm : pandas.Series, optional
        The plant's hourly rain [mm] (timezone-aware): a zone washed by rain since its last cleaning counts
        its lost revenue from :func:`soiling_since`, as the forecast does.
    """
    total = sum(zones.values()) or 1
    cal = calibration if calibration is not None and calibration.usable else None
    out = []
    for zone, n in sorted(zones.items()):
        share = n / total
        points = seen.get(zone, [])
        rate, source, method, low, high = _zone_rate(
            (measured or {}).get(zone), points, cleaned.get(zone), cal, assumed_rate_per_day
        )
        last = cleaned.get(zone) or (points[0][0] if points else today)
        last = min(last, today)
        since = soiling_since(rainfall_hourly_mm, start=last, today=today)
        advice = cleaning_advice(
            cleaning_cost=cleaning_cost * share,
            rate_per_day=rate,
            energy_kwh_per_day=energy_kwh_per_day * share,
            tariff_per_kwh=tariff_per_kwh,
            last_cleaning=since,
            today=max(today, since),
        )
        index = points[-1][1] if points else None
        loss = cal.loss(index) if cal is not None and index is not None else None
        out.append(
            ZoneSoiling(zone, n, share, index, rate, source, last, advice, method, low, high, loss, since)
        )
    return out


def _zone_rate(
    measured: MeasuredRate | None,
    points: list[tuple[dt.date, float]],
    cleaned: dt.date | None,
    cal: IndexCalibration | None,
    assumed: float,
) -> tuple[float, str, str, float | None, float | None]:
    """(rate, rate source, method, low, high) of one zone, by the preference of :func:`zone_economics`."""
    if measured is not None and math.isfinite(measured.rate_per_day):
        return max(0.0, measured.rate_per_day), "production", "production", measured.low, measured.high
    if cal is not None:
        found = index_rate(points, cleaned, cal.slope)
        if found is not None:
            rate, source = found
            spread = rate * cal.slope_se / cal.slope if math.isfinite(cal.slope_se) else None
            if spread is None:
                return rate, source, "ir_calibrated", None, None
            return rate, source, "ir_calibrated", max(0.0, rate - spread), rate + spread
    found = index_rate(points, cleaned)
    if found is not None:
        return found[0], found[1], "ir_index", None, None
    return abs(assumed), "assumed", "typed", None, None


# --- per zone, the Kimber forecast -------------------------------------------------------------------------

PLANT_TZ = "Asia/Shanghai"
FORECAST_HORIZONS = (7, 14, 30)
FORECAST_MAX_DAYS = 730
"""How far ahead the clean-by date is looked for [days]; beyond it the forecast says "not within"."""
RAIN_WASH_MM = 6.0
"""Rain in 24 h that washes the modules, Kimber's default [mm]."""
GRACE_DAYS = 14
"""Days after a washing rain without soiling, Kimber's default [day]."""


def plant_day(when: dt.datetime, tz: str = PLANT_TZ) -> dt.date:
    """The plant's calendar day of an instant (naive instants are UTC, as stored): a robot cleaning at
    23:00 UTC is the next morning's on site, and every day-based figure (rates, last cleaning, the
    forecast's washes, "today") counts it there."""
    day: dt.date = _local(when, tz).date()
    return day


@dataclass(frozen=True, slots=True)
class SoilingForecast:
    """A zone's soiling loss by pvlib's Kimber model, from its last known clean day to some weeks ahead.

    Losses are fractions of energy [0–1] at the start (local midnight) of the day named.

    Attributes
    ----------
    start : date
        The day the zone is taken as clean; the model runs from there.
    today : date
        The day the forecast is made; rain is known up to it and assumed zero after it.
    rate_per_day : float
        Soiling rate the model accumulates [day⁻¹, positive].
    loss_today : float
        Loss at the start of ``today`` [-].
    ahead : tuple of (int, float)
        (days after today, loss then) for each horizon [day, -].
    clean_level : float | None
        Loss at which cleaning pays, s·T* [-]; None when cleaning never pays.
    clean_by : date | None
        First day whose loss reaches ``clean_level`` (``today`` when it already has); None when it never
        does within :data:`FORECAST_MAX_DAYS` or the loss ceiling is below it.
    rain_from, rain_to : date | None
        First and last day of the rain history used; None when there was none.
    ceiling : float
        The model's loss ceiling, Kimber's ``max_soiling`` [-].
    """

    start: dt.date
    today: dt.date
    rate_per_day: float
    loss_today: float
    ahead: tuple[tuple[int, float], ...]
    clean_level: float | None
    clean_by: dt.date | None
    rain_from: dt.date | None = None
    rain_to: dt.date | None = None
    ceiling: float = 0.3

    @property
    def levels_off_below_clean_level(self) -> bool:
        """The loss stops growing (at :attr:`ceiling`) before it reaches the clean-now level.

        Cleaning then never pays for itself: with the loss capped at L, what a cycle of T days saves
        against never cleaning, ∫(L − loss) = L²/2s once T is past the cap, stays below the cost, which
        is s·T*²/2 = level²/2s in the same units, exactly when level > L. The average cost per day of
        cleaning every T days falls towards L as T grows and never dips under it."""
        return self.clean_level is not None and self.clean_level > self.ceiling


def zone_forecast(
    rainfall_hourly_mm: pd.Series | None,
    *,
    rate_per_day: float,
    start: dt.date,
    today: dt.date,
    cleanings: Iterable[dt.datetime] = (),
    clean_level: float | None = None,
    horizons: Iterable[int] = FORECAST_HORIZONS,
    tz: str = PLANT_TZ,
    rain_cleaning_threshold_mm: float = RAIN_WASH_MM,
    grace_period_days: int = GRACE_DAYS,
    max_soiling: float = 0.3,
) -> SoilingForecast:
    """Loss today and ahead, and the day it reaches the clean-now level, by :func:`forecast_soiling`.

    The model starts clean at ``start``; the robot cleanings between ``start`` and ``today`` are its manual
    washes, the rain history (up to ``today``) its washing rains, and no rain and no cleaning are assumed
    from ``today`` on. With linear soiling since a cleaning on day c, the loss at day d is s·(d − c), so it
    reaches s·T* on c + ⌈T*⌉, the day :func:`cleaning_advice` names (the revenue lost then equals the cost).

    Parameters
    ----------
    rainfall_hourly_mm : pandas.Series or None
        Hourly rainfall [mm], timezone-aware DatetimeIndex; hours without data count as dry.
    rate_per_day : float
        Soiling rate [day⁻¹] (sign ignored).
    start, today : date
        Local days (``tz``): the zone clean, and the day of the forecast.
    cleanings : iterable of datetime
        Robot cleanings (timezone-aware or UTC); those outside ``start``–``today`` are ignored.
    clean_level : float, optional
        Loss at which cleaning pays, s·T* [-].
    horizons : iterable of int
        Days after ``today`` to report [day].
    tz : str
        The plant's timezone, whose midnights are the days.
    rain_cleaning_threshold_mm, grace_period_days, max_soiling : float, int, float
        Kimber's washing rain in 24 h [mm], dry days after it [day] and loss ceiling [-].

    Raises
    ------
    ValueError
        ``today`` before ``start``, or a negative horizon.
    """
    if today < start:
        raise ValueError(f"today ({today}) is before the zone was last clean ({start})")
    ahead_days = sorted(set(horizons))
    if ahead_days and ahead_days[0] < 0:
        raise ValueError("forecast horizons are days after today and cannot be negative")
    s = abs(rate_per_day)
    level = clean_level if clean_level is not None and math.isfinite(clean_level) and s > 0 else None
    span = max([*ahead_days, 0])
    if level is not None and level <= max_soiling:
        span = max(span, min(FORECAST_MAX_DAYS, math.ceil(level / s) + grace_period_days + 1))
    first = pd.Timestamp(start).tz_localize(tz)
    last_day = pd.Timestamp(today).tz_localize(tz)
    index = pd.date_range(first, last_day + pd.Timedelta(days=span), freq="h")
    rain, rain_from, rain_to = _rain_history(rainfall_hourly_mm, index, last_day + pd.Timedelta(days=1))
    washes = [w for w in (_local(c, tz) for c in cleanings) if first <= w.floor("D") <= last_day]
    loss = forecast_soiling(
        rain,
        rate_per_day=s,
        cleanings=washes,
        rain_cleaning_threshold_mm=rain_cleaning_threshold_mm,
        grace_period_days=grace_period_days,
        max_soiling=max_soiling,
    )
    daily = loss[loss.index.hour == 0]
    daily.index = pd.Index([t.date() for t in daily.index])
    return SoilingForecast(
        start=start,
        today=today,
        rate_per_day=s,
        loss_today=float(daily[today]),
        ahead=tuple((n, float(daily[today + dt.timedelta(days=n)])) for n in ahead_days),
        clean_level=level,
        clean_by=_reaches(daily, today, level),
        rain_from=rain_from,
        rain_to=rain_to,
        ceiling=max_soiling,
    )


def soiling_since(
    rainfall_hourly_mm: pd.Series | None,
    *,
    start: dt.date,
    today: dt.date,
    tz: str = PLANT_TZ,
    rain_cleaning_threshold_mm: float = RAIN_WASH_MM,
    grace_period_days: int = GRACE_DAYS,
) -> dt.date:
    """The day the zone's soiling starts again by the Kimber model of :func:`zone_forecast`: ``start`` (its
    last cleaning), or the last day that begins clean after a washing rain up to ``today`` — its grace
    period's last day, which may be after ``today``.

    The economics count the revenue lost from this day, so that a rain the forecast counts as a wash
    restarts their clock as well. A rain of ``today`` itself counts; none is assumed after it.

    Parameters
    ----------
    rainfall_hourly_mm : pandas.Series or None
        Hourly rainfall [mm], timezone-aware DatetimeIndex; None or empty gives ``start``.
    start, today : date
        Local days (``tz``); ``today`` before ``start`` gives ``start``.
    rain_cleaning_threshold_mm, grace_period_days : float, int
        Kimber's washing rain in 24 h [mm] and dry days after it [day].
    """
    if rainfall_hourly_mm is None or not len(rainfall_hourly_mm) or today < start:
        return start
    first = pd.Timestamp(start).tz_localize(tz)
    last_day = pd.Timestamp(today).tz_localize(tz)
    index = pd.date_range(first, last_day + pd.Timedelta(days=grace_period_days + 2), freq="h")
    rain, _, _ = _rain_history(rainfall_hourly_mm, index, last_day + pd.Timedelta(days=1))
    loss = forecast_soiling(
        rain,
        rate_per_day=1.0,  # only where the loss is zero matters, and that does not depend on the rate
        rain_cleaning_threshold_mm=rain_cleaning_threshold_mm,
        grace_period_days=grace_period_days,
        max_soiling=1e9,
    )
    clean = loss[(loss.index.hour == 0) & (loss <= 0.0)]
    day: dt.date = clean.index[-1].date() if len(clean) else start
    return max(day, start)


def _local(t: dt.datetime, tz: str) -> pd.Timestamp:
    """A cleaning time on the plant's clock; a naive time is taken as UTC, as the database stores it."""
    stamp = pd.Timestamp(t)
    return (stamp if stamp.tzinfo is not None else stamp.tz_localize("UTC")).tz_convert(tz)


def _rain_history(
    rain: pd.Series | None, index: pd.DatetimeIndex, until: pd.Timestamp
) -> tuple[pd.Series, dt.date | None, dt.date | None]:
    """The rain on the model's hours: the history up to ``until``, dry elsewhere; and the days it covers."""
    known = pd.Series(dtype=float) if rain is None else rain.dropna().astype(float)
    if len(known):
        if not isinstance(known.index, pd.DatetimeIndex) or known.index.tz is None:
            raise ValueError("rainfall needs a timezone-aware DatetimeIndex")
        known = known.tz_convert(index.tz)
        known = known[(known.index >= index[0]) & (known.index < until)]
        known = known.groupby(known.index.floor("h")).sum()
    out = known.reindex(index).fillna(0.0) if len(known) else pd.Series(0.0, index=index)
    if not len(known):
        return out, None, None
    return out, known.index[0].date(), known.index[-1].date()


def _reaches(daily: pd.Series, today: dt.date, level: float | None) -> dt.date | None:
    if level is None:
        return None
    ahead = daily[daily.index >= today]
    hit = ahead[ahead.to_numpy() >= level - 1e-12]
    return None if hit.empty else hit.index[0]

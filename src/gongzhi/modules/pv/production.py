"""Production data of a plant's zones and the soiling rate it gives.

- :func:`import_production`: a CSV/Excel file (``io.production``) becomes rows of ``pv_production_samples``;
  the same zone and time again replaces its row, so a re-import changes nothing; each zone touched is
  marked stale, and so is each zone a robot reports cleaned (:func:`mark_cleaned`).
- :func:`recompute_stale`: the worker's job: RdTools SRR on each stale zone's daily performance, the
  recoveries named rain or robot (from the cleaning cases), stored in ``pv_zone_soiling``.
- :func:`calibration`: the plant's fit of the production soiling loss on the IR soiling index
  (:func:`.analytics.production.calibrate_index`) over its inspections' days.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import operator
import threading
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from gongzhi.core.service import require_role
from gongzhi.db import Scope, SessionFactory, scope_of, table_of, unit_of_work, utcnow
from gongzhi.errors import InvalidInput, msg
from gongzhi.modules.pv import service
from gongzhi.modules.pv.analytics import production as prod
from gongzhi.modules.pv.analytics import soiling
from gongzhi.modules.pv.io.production import ProductionFileError, ProductionSample, read_production
from gongzhi.modules.pv.models import PvCleaningOrder, PvModule, PvPlant, PvProductionSample, PvZoneSoiling
from gongzhi.registry import Registry

log = logging.getLogger(__name__)
SRR_REPS = 100
"""Monte Carlo realisations of SRR per zone (RdTools' default is 1000: about ten times the time for a
slightly tighter interval; 100 keeps a zone of a year's data to seconds on the worker)."""
SRR_CONFIDENCE = 95.0
"""Size of the confidence intervals the plant reports [%] (RdTools' default is 68.2, one sigma: a planted
rate falls outside it one time in three, too often for a cleaning decision)."""
SOILING_EVERY_S = 5.0
_SAMPLES = table_of(PvProductionSample)
SAMPLE_COLUMNS = ("interval_min", "energy_kwh", "poa_w_m2", "temp_c", "temp_kind", "rain_mm")
"""The columns a sample sets, on a new row and on a row it replaces (the key is plant, zone and time)."""
_sample_values = operator.attrgetter(*SAMPLE_COLUMNS)
_REPLACE = (
    update(_SAMPLES)
    .where(_SAMPLES.c.id == bindparam("row_id"))
    .values({c: bindparam(c) for c in SAMPLE_COLUMNS})
)


def sample_row(x: ProductionSample) -> dict[str, object]:
    """A sample's :data:`SAMPLE_COLUMNS` by name, as the INSERT and the UPDATE take them."""
    return dict(zip(SAMPLE_COLUMNS, _sample_values(x), strict=True))


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows read, new and replaced, per zone, and the gaps longer than a day."""

    rows: int
    inserted: int
    replaced: int
    zones: list[str]
    gaps: list[dict[str, str]] = field(default_factory=list)


def plant_zones(s: Session, plant_id: int) -> tuple[set[str], set[str]]:
    """The plant's arrays and strings: the names a production zone may have."""
    rows = s.execute(select(PvModule.array, PvModule.string).where(PvModule.plant_id == plant_id)).all()
    return {str(a) for a, _ in rows if a}, {str(st) for _, st in rows if st}


def import_production(
    s: Session,
    plant_id: int,
    data: bytes,
    filename: str,
    *,
    zone: str | None = None,
    timezone: str | None = None,
) -> ImportResult:
    """Store a production file's samples for the plant; all or nothing, and idempotent."""
    require_role(scope_of(s), *service.INSPECTORS)
    plant = service.get_plant(s, plant_id)
    try:
        parsed = read_production(data, filename, zone=zone, timezone=timezone)
    except ProductionFileError as exc:
        raise InvalidInput(
            exc.args[0], errors=[e.as_dict() for e in exc.errors], error_count=exc.total
        ) from None
    arrays, strings = plant_zones(s, plant.id)
    unknown = sorted({x.zone for x in parsed.samples} - arrays - strings)
    if unknown:
        raise InvalidInput(
            msg(
                "zones %(zones)s are not arrays or strings of plant %(code)s (arrays: %(arrays)s)",
                zones=", ".join(unknown),
                code=plant.code,
                arrays=", ".join(sorted(arrays)) or msg("none"),
            )
        )
    inserted = replaced = 0
    by_zone: dict[str, list[ProductionSample]] = {}
    for x in parsed.samples:
        by_zone.setdefault(x.zone, []).append(x)
    for z, items in by_zone.items():
        # plain statements, not an ORM object a row: a year of 15-minute data is 35,040 rows a zone
        have = {
            ts: row_id
            for ts, row_id in s.execute(
                select(PvProductionSample.ts, PvProductionSample.id).where(
                    PvProductionSample.plant_id == plant.id,
                    PvProductionSample.zone == z,
                    PvProductionSample.ts >= min(x.ts for x in items),
                    PvProductionSample.ts <= max(x.ts for x in items),
                )
            )
        }
        new: list[dict[str, object]] = []
        again: list[dict[str, object]] = []
        for x in items:
            values = sample_row(x)
            row_id = have.get(x.ts)
            if row_id is None:
                new.append(
                    {"region_id": plant.region_id, "plant_id": plant.id, "zone": z, "ts": x.ts} | values
                )
            else:
                again.append({"row_id": row_id} | values)
        if new:
            s.execute(insert(_SAMPLES), new)
        if again:
            s.execute(_REPLACE, again)
        inserted, replaced = inserted + len(new), replaced + len(again)
        _mark_stale(s, plant, z)
    gaps = [{"zone": z, "from": a.isoformat(), "to": b.isoformat()} for z, a, b in parsed.gaps]
    return ImportResult(len(parsed.samples), inserted, replaced, sorted(by_zone), gaps)


def _mark_stale(s: Session, plant: PvPlant, zone: str) -> None:
    row = s.execute(
        select(PvZoneSoiling).where(PvZoneSoiling.plant_id == plant.id, PvZoneSoiling.zone == zone)
    ).scalar_one_or_none()
    if row is None:
        s.add(PvZoneSoiling(region_id=plant.region_id, plant_id=plant.id, zone=zone, stale=True))
    else:
        row.stale = True


def mark_cleaned(s: Session, plant_id: int, rows: list[str]) -> list[str]:
    """A robot cleaned ``rows``: their zones' soiling is recomputed, so the recovery is labelled robot. Only
    zones with production data are marked (the others have nothing to recompute); returns them."""
    zones = {zone_of(r) for r in rows}
    found = s.execute(
        select(PvZoneSoiling).where(PvZoneSoiling.plant_id == plant_id, PvZoneSoiling.zone.in_(zones))
    ).scalars()
    marked = []
    for row in found:
        row.stale = True
        marked.append(row.zone)
    return sorted(marked)


def zone_soiling(s: Session, plant_id: int) -> dict[str, PvZoneSoiling]:
    """The plant's production-derived soiling per zone, computed or waiting for the worker."""
    rows = s.execute(select(PvZoneSoiling).where(PvZoneSoiling.plant_id == plant_id)).scalars()
    return {r.zone: r for r in rows}


def sample_counts(s: Session, plant_id: int) -> dict[str, int]:
    rows = s.execute(
        select(PvProductionSample.zone, func.count(PvProductionSample.id))
        .where(PvProductionSample.plant_id == plant_id)
        .group_by(PvProductionSample.zone)
    ).all()
    return {str(z): int(n) for z, n in rows}


# --- the worker's recomputation -------------------------------------------------------------------------


def recompute_stale(factory: SessionFactory, *, reps: int = SRR_REPS, limit: int = 20) -> list[int]:
    """Run SRR on every stale zone, one unit of work each; returns the ids of the rows computed."""
    with unit_of_work(factory, Scope.for_system()) as s:
        ids = list(
            s.execute(
                select(PvZoneSoiling.id).where(PvZoneSoiling.stale).order_by(PvZoneSoiling.id).limit(limit)
            ).scalars()
        )
    for zid in ids:
        with unit_of_work(factory, Scope.for_system()) as s:
            row = s.get_one(PvZoneSoiling, zid)
            recompute_zone(s, row, reps=reps)
    return ids


def recompute_zone(s: Session, row: PvZoneSoiling, *, reps: int = SRR_REPS) -> None:
    """SRR on the zone's stored samples; the row keeps the estimate, or the reason there is none."""
    plant = s.get_one(PvPlant, row.plant_id)
    samples = _samples(s, row.plant_id, row.zone)
    row.stale, row.computed_at = False, utcnow()
    try:
        daily = prod.daily_performance(samples, longitude=service.plant_origin(plant).lon0_deg)
        est = soiling.soiling_from_production(
            daily["energy_normalized"],
            daily["insolation_kwh_m2"],
            reps=reps,
            recenter=False,
            confidence_level=SRR_CONFIDENCE,
        )
    except ValueError as exc:
        row.error = str(exc)
        row.rate_per_day = row.rate_low = row.rate_high = None
        row.soiling_ratio = row.ratio_low = row.ratio_high = None
        return
    rain = {d.date(): float(v) for d, v in daily["rain_mm"].dropna().items()}
    events = prod.label_cleanings(est.cleanings, rain, _robot_days(s, row.plant_id, row.zone))
    row.error = ""
    row.rate_per_day = _finite(-est.rate_per_day)
    row.rate_low, row.rate_high = _finite(-est.rate_high), _finite(-est.rate_low)
    row.soiling_ratio, row.ratio_low, row.ratio_high = (
        est.soiling_ratio,
        est.soiling_ratio_low,
        est.soiling_ratio_high,
    )
    row.intervals, row.days = est.intervals, int(daily["energy_normalized"].notna().sum())
    row.first_day, row.last_day = daily.index[0].date().isoformat(), daily.index[-1].date().isoformat()
    row.cleanings = [{"day": e.day.isoformat(), "cause": e.cause} for e in events]
    row.profile = {d.isoformat(): round(v, 5) for d, v in est.profile}


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _samples(s: Session, plant_id: int, zone: str) -> pd.DataFrame:
    c = PvProductionSample
    rows = s.execute(
        select(c.ts, c.energy_kwh, c.interval_min, c.poa_w_m2, c.temp_c, c.temp_kind, c.rain_mm)
        .where(c.plant_id == plant_id, c.zone == zone)
        .order_by(c.ts)
    ).all()
    frame = pd.DataFrame(
        rows, columns=["ts", "energy_kwh", "interval_h", "poa_w_m2", "temp_c", "kind", "rain_mm"]
    )
    frame["interval_h"] = frame["interval_h"] / 60.0
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("ts"), utc=True))
    module = frame["kind"].to_numpy() == "module"
    on_module = prod.cell_temperature(frame["temp_c"], frame["poa_w_m2"], module=True)
    on_ambient = prod.cell_temperature(frame["temp_c"], frame["poa_w_m2"], module=False)
    frame["cell_temp_c"] = on_module.where(module, on_ambient)
    frame["rain_mm"] = frame["rain_mm"].astype(float).fillna(0.0)
    return frame


def zone_of(row: str) -> str:
    """The zone (array) of a row: ``A-03`` → ``A``."""
    return str(row).rsplit("-", 1)[0]


def zone_cleaning_times(s: Session, plant_id: int) -> dict[str, list[dt.datetime]]:
    """When the robots finished cleaning rows of each zone (rows are named ``<array>-<row>``)."""
    stmt = select(PvCleaningOrder).where(
        PvCleaningOrder.plant_id == plant_id, PvCleaningOrder.cleaned_at.is_not(None)
    )
    times: dict[str, list[dt.datetime]] = {}
    for o in s.execute(stmt).scalars():
        assert o.cleaned_at is not None
        for zone in {zone_of(row) for row in o.cleaned_rows or o.rows}:
            times.setdefault(zone, []).append(o.cleaned_at)
    return times


def _robot_days(s: Session, plant_id: int, zone: str) -> list[dt.date]:
    """Days (the plant's) the robots finished cleaning rows of this zone."""
    return [soiling.plant_day(t) for t in zone_cleaning_times(s, plant_id).get(zone, [])]


_running: list[threading.Thread] = []


def _guarded(factory: SessionFactory) -> None:
    try:
        done = recompute_stale(factory)
        if done:
            log.info("pv zone soiling recomputed: %s", done)
    except Exception:
        log.exception("pv zone soiling failed")


def register(registry: Registry) -> None:
    """The worker's job: SRR runs for seconds per zone, so in a thread of its own, one at a time."""

    def job(factory: SessionFactory) -> None:
        if any(t.is_alive() for t in _running):
            return
        thread = threading.Thread(target=_guarded, args=(factory,), daemon=True, name="gongzhi-pv-soiling")
        _running[:] = [thread]
        thread.start()

    registry.add_job("pv.soiling", SOILING_EVERY_S, job)


# --- calibration of the IR soiling index ------------------------------------------------------------------


def calibration_pairs(
    seen: dict[str, list[tuple[dt.date, float]]], rows: dict[str, PvZoneSoiling]
) -> list[tuple[float, float]]:
    """(IR soiling index, production soiling loss) of each zone at each inspection its profile covers."""
    pairs = []
    for zone, points in seen.items():
        row = rows.get(zone)
        if row is None or not row.profile:
            continue
        for day, index in points:
            ratio = row.profile.get(day.isoformat())
            if ratio is not None:
                pairs.append((index, 1.0 - float(ratio)))
    return pairs


def calibration(
    seen: dict[str, list[tuple[dt.date, float]]], rows: dict[str, PvZoneSoiling]
) -> prod.IndexCalibration:
    """The plant's fit of soiling loss on the IR index (usable only with enough points)."""
    return prod.calibrate_index(calibration_pairs(seen, rows))

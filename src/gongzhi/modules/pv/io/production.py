"""Read a zone's production data from CSV or Excel, refusing bad rows with their row number and reason.

One row per interval (the timestamp is the interval's end). Columns, by name, the unit in the name:

=====================================  ==========================================================
``timestamp``                          ISO 8601 with a UTC offset (``2026-05-01T10:15:00+08:00``);
                                       without one only when the import names the timezone
``zone``                               array/inverter/string name; may come from the import instead
``ac_power_kw`` | ``ac_power_w`` |     AC power (mean over the interval) or AC energy of the interval,
``energy_kwh`` | ``energy_wh``         exactly one of them
``poa_w_m2``                           plane-of-array irradiance [W m-2]
``module_temp_c`` | ``ambient_temp_c``  back-of-module or ambient temperature [°C], one of them
``rain_mm``                            optional rain in the interval [mm]
=====================================  ==========================================================

Each zone's interval is the most common step between its timestamps; duplicates (same zone and time),
values outside physical ranges (irradiance in kW m-2, temperature in K, negative energy) and timestamps
without an offset are errors; gaps longer than a day are reported, not refused.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import itertools
import math
import zipfile
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from python_calamine import CalamineError

from gongzhi.errors import msg

POWER_COLUMNS = {"ac_power_kw": 1.0, "ac_power_w": 0.001}
ENERGY_COLUMNS = {"energy_kwh": 1.0, "energy_wh": 0.001}
TEMP_COLUMNS = ("module_temp_c", "ambient_temp_c")
MAX_POA_W_M2 = 1600.0
TEMP_RANGE_C = (-40.0, 95.0)
MAX_ERRORS = 50
"""Errors listed at most; the count says how many there were."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One refused row: its line in the file (header = line 1), the column and why."""

    line: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message}


@dataclass(frozen=True, slots=True)
class ProductionSample:
    """One interval of one zone, in the units the database keeps."""

    zone: str
    ts: dt.datetime
    interval_min: int
    energy_kwh: float
    poa_w_m2: float
    temp_c: float
    temp_kind: str
    rain_mm: float | None


@dataclass(frozen=True, slots=True)
class ProductionFile:
    """What a file held: its samples and the gaps (zone, from, to) longer than a day."""

    samples: list[ProductionSample]
    gaps: list[tuple[str, dt.datetime, dt.datetime]] = field(default_factory=list)


class ProductionFileError(ValueError):
    """The file cannot be read, or some of its rows are bad; ``errors`` lists the rows."""

    def __init__(self, message: str, errors: list[RowError] | None = None, total: int = 0) -> None:
        super().__init__(message)
        self.errors = errors or []
        self.total = total or len(self.errors)


def _table(data: bytes, filename: str) -> pd.DataFrame:
    name = filename.lower()
    try:
        if name.endswith((".xlsx", ".xlsm")):
            # calamine (Rust): a year of 15-minute rows in a fifth of openpyxl's time, the same table
            return pd.read_excel(io.BytesIO(data), dtype=object, engine="calamine")
        text = data.decode("utf-8-sig")
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except UnicodeDecodeError:
        raise ProductionFileError(
            msg("%(file)s: not UTF-8 text (save the CSV as UTF-8)", file=filename)
        ) from None
    except (ValueError, KeyError, IndexError, OSError, zipfile.BadZipFile, CalamineError) as exc:
        raise ProductionFileError(
            msg("%(file)s: not a readable CSV or Excel table (%(why)s)", file=filename, why=str(exc))
        ) from None


def _one_of(columns: set[str], names: Any, what: str) -> str:
    found = [c for c in names if c in columns]
    if len(found) != 1:
        raise ProductionFileError(
            msg(
                "give exactly one %(what)s column of %(names)s (found %(found)s)",
                what=what,
                names=", ".join(names),
                found=", ".join(found) or msg("none"),
            )
        )
    return str(found[0])


def _number(raw: Any) -> float | None:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    text = str(raw).strip()
    if not text:
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


class _NoOffset(ValueError):
    """A timestamp without a UTC offset, and no timezone given for the file."""


class _NotOneInstant(ValueError):
    """A local time the clocks repeat (two instants) or skip (none) in the zone named for the file."""


def _timestamp(raw: Any, tz: str | None) -> dt.datetime:
    """The instant of a cell: ISO 8601 text and date cells read directly (a tenth of pandas' time a row),
    pandas for other forms of text; a time without an offset is in the zone named for the file."""
    when: dt.datetime | None = None
    if isinstance(raw, str):
        try:
            when = dt.datetime.fromisoformat(raw.strip())
        except ValueError:
            when = None  # another form pandas may read (or say why not)
    elif isinstance(raw, dt.datetime) and not pd.isna(raw):  # a date cell (pandas' Timestamp or not)
        when = raw.to_pydatetime() if isinstance(raw, pd.Timestamp) else raw
    if when is None:
        stamp = pd.Timestamp(raw if isinstance(raw, dt.datetime) else str(raw).strip())
        if pd.isna(stamp):
            raise ValueError("empty")
        when = stamp.to_pydatetime()
    if when.tzinfo is not None:
        return when.astimezone(dt.UTC)
    zone = _zone(tz)
    if zone is None:
        raise _NoOffset(str(raw))
    early, late = when.replace(tzinfo=zone, fold=0), when.replace(tzinfo=zone, fold=1)
    if early.utcoffset() != late.utcoffset():  # an hour the clocks repeat or skip there (PEP 495)
        raise _NotOneInstant(str(raw))
    return early.astimezone(dt.UTC)


@functools.lru_cache(maxsize=32)
def _zone(tz: str | None) -> ZoneInfo | None:
    """The IANA zone named ``tz``, or ``None`` (none named, or no such zone)."""
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        return None


def read_production(
    data: bytes, filename: str, *, zone: str | None = None, timezone: str | None = None
) -> ProductionFile:
    """Parse a production file into samples, or raise :class:`ProductionFileError` with every bad row.

    Parameters
    ----------
    data : bytes
        The file's content (CSV in UTF-8, or ``.xlsx``).
    filename : str
        Its name: ``.xlsx``/``.xlsm`` are read as Excel, anything else as CSV.
    zone : str, optional
        The zone of every row, when the file has no ``zone`` column.
    timezone : str, optional
        IANA name (``Asia/Shanghai``) for timestamps written without a UTC offset.
    """
    if timezone is not None and _zone(timezone) is None:
        raise ProductionFileError(
            msg("unknown timezone “%(tz)s” (use an IANA name like Asia/Shanghai)", tz=timezone)
        )
    table = _table(data, filename)
    table.columns = [str(c).strip().lower() for c in table.columns]
    columns = set(table.columns)
    if table.empty:
        raise ProductionFileError(msg("%(file)s: no data rows", file=filename))
    if "timestamp" not in columns or "poa_w_m2" not in columns:
        raise ProductionFileError(msg("the file needs the columns timestamp and poa_w_m2"))
    if "zone" not in columns and not zone:
        raise ProductionFileError(msg("the file has no zone column: name the zone of its rows"))
    value_col = _one_of(columns, [*POWER_COLUMNS, *ENERGY_COLUMNS], msg("power or energy"))
    temp_col = _one_of(columns, TEMP_COLUMNS, msg("temperature"))
    rows, errors = _parse_rows(table, value_col, temp_col, zone, timezone)
    errors += _duplicates(rows)
    if errors:
        errors.sort(key=lambda e: e.line)
        raise ProductionFileError(
            msg("%(file)s: %(n)s bad rows; nothing was imported", file=filename, n=len(errors)),
            errors[:MAX_ERRORS],
            len(errors),
        )
    return _samples(rows, value_col, temp_col)


_Row = tuple[int, str, dt.datetime, float, float, float, float | None]


def _parse_rows(
    table: pd.DataFrame, value_col: str, temp_col: str, zone: str | None, tz: str | None
) -> tuple[list[_Row], list[RowError]]:
    rows: list[_Row] = []
    errors: list[RowError] = []
    names = list(table.columns)
    # the columns as lists, zipped into a dict a row: far cheaper than pandas' records
    for i, cells in enumerate(zip(*(table.iloc[:, k].tolist() for k in range(len(names))), strict=True)):
        rec = dict(zip(names, cells, strict=True))
        line = i + 2
        bad = len(errors)
        where = str(rec.get("zone") or "").strip() or (zone or "")
        if not where or len(where) > 20:
            errors.append(RowError(line, "zone", msg("zone is empty or longer than 20 characters")))
        try:
            ts = _timestamp(rec["timestamp"], tz)
        except _NoOffset:
            errors.append(
                RowError(line, "timestamp", msg("no UTC offset (write +08:00) and no timezone given"))
            )
        except _NotOneInstant:
            said = msg(
                "%(raw)s: the clocks repeat or skip this hour in %(tz)s, so it is not one instant (write "
                "its UTC offset)",
                raw=rec["timestamp"],
                tz=tz,
            )
            errors.append(RowError(line, "timestamp", said))
        except (ValueError, TypeError, OverflowError) as exc:
            said = msg("not a date and time: “%(raw)s” (%(why)s)", raw=rec["timestamp"], why=str(exc))
            errors.append(RowError(line, "timestamp", said))
        values = {}
        for col in (value_col, "poa_w_m2", temp_col, "rain_mm"):
            if col not in rec:
                continue
            try:
                values[col] = _number(rec[col])
            except (ValueError, TypeError):
                errors.append(RowError(line, col, msg("not a number: “%(raw)s”", raw=rec[col])))
        errors += _ranges(line, values, value_col, temp_col)
        if len(errors) == bad:
            v, poa, temp = values[value_col], values["poa_w_m2"], values[temp_col]
            assert v is not None and poa is not None and temp is not None
            rows.append((line, where, ts, v, poa, temp, values.get("rain_mm")))
    return rows, errors


def _ranges(line: int, values: dict[str, float | None], value_col: str, temp_col: str) -> list[RowError]:
    out = []
    for col in (value_col, "poa_w_m2", temp_col):
        if col in values and values[col] is None:
            out.append(RowError(line, col, msg("missing value")))
    v, poa, temp, rain = (values.get(c) for c in (value_col, "poa_w_m2", temp_col, "rain_mm"))
    if v is not None and v < -0.01 * abs(v) - 1e-3:
        out.append(
            RowError(line, value_col, msg("negative %(column)s: %(value)s", column=value_col, value=v))
        )
    if poa is not None and not -10.0 <= poa <= MAX_POA_W_M2:
        said = (
            msg(
                "irradiance %(poa)s W m-2 is outside -10 … 1600 (kW m-2 or W given? the unit is W m-2)",
                poa=poa,
            )
            if poa > MAX_POA_W_M2
            else msg("irradiance %(poa)s W m-2 is outside -10 … 1600", poa=poa)
        )
        out.append(RowError(line, "poa_w_m2", said))
    if temp is not None and not TEMP_RANGE_C[0] <= temp <= TEMP_RANGE_C[1]:
        said = (
            msg("temperature %(t)s °C is outside -40 … 95 (kelvin or °F given? the unit is °C)", t=temp)
            if temp > TEMP_RANGE_C[1]
            else msg("temperature %(t)s °C is outside -40 … 95", t=temp)
        )
        out.append(RowError(line, temp_col, said))
    if rain is not None and not 0.0 <= rain <= 300.0:
        out.append(
            RowError(line, "rain_mm", msg("rain %(mm)s mm in one interval is outside 0 … 300", mm=rain))
        )
    return out


def _duplicates(rows: list[_Row]) -> list[RowError]:
    first: dict[tuple[str, dt.datetime], int] = {}
    out = []
    for line, zone, ts, *_ in rows:
        key = (zone, ts)
        if key in first:
            out.append(
                RowError(
                    line,
                    "timestamp",
                    msg(
                        "duplicate of line %(line)s (zone %(zone)s, %(at)s)",
                        line=first[key],
                        zone=zone,
                        at=ts.isoformat(),
                    ),
                )
            )
        else:
            first[key] = line
    return out


def _samples(rows: list[_Row], value_col: str, temp_col: str) -> ProductionFile:
    by_zone: dict[str, list[_Row]] = {}
    for r in rows:
        by_zone.setdefault(r[1], []).append(r)
    samples: list[ProductionSample] = []
    gaps: list[tuple[str, dt.datetime, dt.datetime]] = []
    temp_kind = "module" if temp_col == "module_temp_c" else "ambient"
    for zone, zrows in sorted(by_zone.items()):
        zrows.sort(key=lambda r: r[2])
        step = _interval_min(zrows)
        for (_, _, a, *_), (_, _, b, *_) in itertools.pairwise(zrows):
            if b - a > dt.timedelta(days=1):
                gaps.append((zone, a, b))
        for _line, _z, ts, v, poa, temp, rain in zrows:
            if value_col in POWER_COLUMNS:
                energy = v * POWER_COLUMNS[value_col] * step / 60.0
            else:
                energy = v * ENERGY_COLUMNS[value_col]
            samples.append(ProductionSample(zone, ts, step, energy, poa, temp, temp_kind, rain))
    return ProductionFile(samples, gaps)


def _interval_min(rows: list[_Row]) -> int:
    steps = [round((b[2] - a[2]).total_seconds() / 60) for a, b in itertools.pairwise(rows)]
    steps = [s for s in steps if s > 0]
    if not steps:
        raise ProductionFileError(
            f"zone {rows[0][1]}: one row gives no interval; send at least a day of data"
        )
    return max(set(steps), key=steps.count)


def write_production_csv(samples: pd.DataFrame, zone: str) -> bytes:
    """A zone's samples (timezone-aware index; columns named as :func:`read_production` reads them) as the
    CSV that function reads back."""
    out = samples.copy()
    out.insert(0, "zone", zone)
    out.index = out.index.map(lambda t: t.isoformat())
    return str(out.to_csv(index_label="timestamp")).encode()

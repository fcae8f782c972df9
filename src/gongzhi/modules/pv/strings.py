"""A plant's string map (组串表) from a spreadsheet: which string each module is wired into, as the
as-built drawings or the inverter's commissioning sheet name it. The plant's own layout CSV (its
``id`` and ``string`` columns) comes back as it went out, so an operator can download it, correct the
strings in Excel or WPS, and import it again; any other layout of strings (serpentine across two rows,
strings across arrays, uneven lengths) is then as the file says.

Every row is checked first; on any problem no module is changed and each problem is named by row and
column (the shape of the other imports, :mod:`gongzhi.kit.sheets`). Modules the file leaves out keep
their strings. Strings that look mistyped (far shorter than the others, in pieces that do not touch, or
spread over two arrays) are warned about but imported."""

from __future__ import annotations

import hashlib
import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.core.service import require_role
from gongzhi.db import scope_of, utcnow
from gongzhi.errors import msg, stored
from gongzhi.kit import sheets
from gongzhi.modules.pv import service
from gongzhi.modules.pv.analytics import layout as lay
from gongzhi.modules.pv.models import PvModule

COLUMNS: dict[str, tuple[str, ...]] = {
    "module": ("组件编号", "组件", "组件id", "module", "module_id", "id"),
    "string": ("组串", "组串编号", "string", "string_id"),
}
"""field: (the header written on export, other accepted headers); the layout CSV's ``id`` and
``string`` are among them, so its other columns (array, row, place, coordinates) are left unread."""
STRING_MAX = 40
"""The longest string name (the column's width)."""
MAX_ROWS = 200_000
"""The most rows a file may hold (a plant of 50,000 m² has about 25,000 modules)."""
PROBLEMS_LISTED = 100
"""Most problems a rejected file's report lists one by one (the rest are counted in one more line)."""
WARNINGS_LISTED = 20
SHORT_FRACTION = 0.5
"""A string of fewer modules than this fraction of the median string is warned about."""


@dataclass
class StringMapReport:
    """What an import of a string map did: ``status`` is ``rejected`` (nothing changed, ``errors`` say
    why), ``checked`` (a dry run that would have been imported) or ``imported``."""

    filename: str
    sha256: str
    status: str = "checking"
    rows: int = 0
    restrung: int = 0  # modules whose string the file changes
    unchanged: int = 0  # modules the file names with the string they already have
    left_out: int = 0  # the plant's modules the file does not name (they keep their strings)
    strings: int = 0  # the plant's strings after the import
    modules_per_string: dict[str, int] = field(default_factory=dict)  # min, median, max
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def _rows(data: bytes, filename: str) -> list[sheets.Row]:
    table = sheets.read_table(data, filename)
    header = sheets.header_fields(table, sheets.aliases(COLUMNS))
    missing = [COLUMNS[f][0] for f in COLUMNS if f not in header]
    if missing:
        raise sheets.SheetError(
            msg(
                "the header lacks the column(s) %(columns)s (the layout CSV's id and string columns do)",
                columns=", ".join(missing),
            )
        )
    return sheets.data_rows(table, header, MAX_ROWS)


def _string_problem(name: str) -> str | None:
    if not name:
        return msg("required")
    if len(name) > STRING_MAX:
        return msg("at most %(n)s characters", n=STRING_MAX)
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return msg("holds a control character")
    return None


def check(
    modules: dict[str, tuple[str, str]], rows: list[sheets.Row]
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The string each named module gets, and every row's problems. ``modules`` maps each of the
    plant's module ids to its (array, string)."""
    wanted: dict[str, str] = {}
    first_row: dict[str, int] = {}
    errors: list[dict[str, Any]] = []
    for row in rows:
        mid, string = row.values.get("module", ""), row.values.get("string", "")
        if not mid:
            errors.append(row.problem("module", msg("required")))
        elif mid not in modules:
            errors.append(row.problem("module", msg("no module %(module)s in this plant", module=mid)))
        elif mid in first_row:
            errors.append(
                row.problem(
                    "module",
                    msg("%(module)s is named in row %(row)s already", module=mid, row=first_row[mid]),
                )
            )
        why = _string_problem(string)
        if why:
            errors.append(row.problem("string", why))
        if mid in modules and mid not in first_row:
            first_row[mid] = row.number
            if not why:
                wanted[mid] = string
    return wanted, errors


def _warnings(
    modules: dict[str, tuple[str, str]], after: dict[str, str], pieces: dict[str, int]
) -> list[dict[str, Any]]:
    """Strings that look mistyped, with the module ids they hold: far shorter than the median string, in
    more than one piece (``pieces``, by :func:`wiring`), or over more than one array."""
    members: dict[str, list[str]] = defaultdict(list)
    for mid, string in after.items():
        members[string].append(mid)
    median = statistics.median(len(v) for v in members.values())
    median_text = f"{median:g}"
    out = []
    for string, mids in sorted(members.items(), key=lambda kv: _natural(kv[0])):
        arrays = sorted({modules[m][0] for m in mids})
        listed = ", ".join(sorted(mids, key=_natural)[:10])
        if len(mids) < SHORT_FRACTION * median:
            text = msg(
                "string %(string)s has %(n)s module(s) where the median string has %(median)s: %(modules)s",
                string=string, n=len(mids), median=median_text, modules=listed,
            )  # fmt: skip
        elif pieces.get(string, 1) > 1:
            text = msg(
                "string %(string)s lies in %(n)s pieces not next to each other: %(modules)s",
                string=string, n=pieces[string], modules=listed,
            )  # fmt: skip
        elif len(arrays) > 1:
            text = msg("string %(string)s spans arrays %(arrays)s", string=string, arrays=", ".join(arrays))
        else:
            continue
        out.append({"string": string, **stored(text)})
    return out


def _listed(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(errors) <= PROBLEMS_LISTED:
        return errors
    more = msg("%(n)s more problems are not listed", n=len(errors) - PROBLEMS_LISTED)
    return [*errors[:PROBLEMS_LISTED], sheets.problem(errors[PROBLEMS_LISTED]["row"], "", more)]


def import_string_map(
    s: Session,
    plant_id: int,
    filename: str,
    data: bytes,
    *,
    dry_run: bool = False,
    max_bytes: int | None = None,
) -> StringMapReport:
    """Check a string map (.xlsx, or .csv in UTF-8 or GB18030) against the plant's modules; on any
    problem change nothing, else set each named module's string (unless ``dry_run``). The plant's
    strings then count as given (no longer assumed), and its wiring is recorded as this file's, in
    place of a string length. Every attempt is audited, a refused one with its first problems.

    Inspections already analysed keep their results; the next ones group string faults by the new
    strings."""
    require_role(scope_of(s), *service.PLANNERS)
    plant = service.get_plant(s, plant_id)
    report = StringMapReport(filename[:200], hashlib.sha256(data).hexdigest())
    stmt = select(PvModule).where(PvModule.plant_id == plant.id).order_by(PvModule.id)
    rows_of = {m.module_id: m for m in s.execute(stmt).scalars()}
    modules = {mid: (m.array, m.string) for mid, m in rows_of.items()}
    wanted: dict[str, str] = {}
    big = sheets.too_large(data, max_bytes)
    if not data:
        report.errors = [sheets.problem(1, "", msg("the file is empty"))]
    elif big:
        report.errors = [sheets.problem(1, "", big)]
    else:
        try:
            rows = _rows(data, filename)
        except sheets.SheetError as exc:
            report.errors = [sheets.problem(1, "", exc.args[0])]
        else:
            report.rows = len(rows)
            wanted, report.errors = check(modules, rows)
            if not rows:
                report.errors.append(sheets.problem(2, "", msg("the file has no data rows")))
    report.errors = _listed(report.errors)
    if not report.errors:
        after = {mid: wanted.get(mid, string) for mid, (_, string) in modules.items()}
        report.restrung = sum(1 for mid, string in wanted.items() if modules[mid][1] != string)
        report.unchanged = len(wanted) - report.restrung
        report.left_out = len(modules) - len(wanted)
        sizes = Counter(after.values())
        report.strings = len(sizes)
        report.modules_per_string = {
            "min": min(sizes.values()),
            "median": int(statistics.median(sizes.values())),
            "max": max(sizes.values()),
        }
        layout = service.plant_layout(s, plant)
        rewired = lay.with_modules(layout, [replace(m, string=after[m.id]) for m in layout.modules])
        pieces = {r.string: r.pieces for r in wiring(rewired)}
        report.warnings = _warnings(modules, after, pieces)[:WARNINGS_LISTED]
    report.status = "rejected" if report.errors else ("checked" if dry_run else "imported")
    if report.status == "imported":
        for mid, string in wanted.items():
            rows_of[mid].string = string
        params = {k: v for k, v in plant.layout_params.items() if k != "modules_per_string"}
        assumed = [k for k in params.pop("assumed", []) if k != "string"]
        params["string_map"] = {
            "filename": report.filename,
            "sha256": report.sha256,
            "strings": report.strings,
            "at": utcnow().isoformat(timespec="seconds"),
        }
        plant.layout_params = {**params, **({"assumed": assumed} if assumed else {})}
        s.flush()
    if report.status != "checked":
        service._audit(
            s,
            "pv.plant.strings",
            "pv_plant",
            plant.id,
            {
                "filename": report.filename,
                "sha256": report.sha256,
                "status": report.status,
                "rows": report.rows,
                "restrung": report.restrung,
                "errors": report.errors[:50],
            },
        )
    return report


# --- the wiring as it stands ------------------------------------------------------------------------

PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
"""The wiring map's colours (Okabe and Ito's, told apart with most colour blindness): they only tell
neighbouring strings apart."""
REACH = 3.5
"""Modules within this many times the plant's median distance between next modules are neighbours: the
next module of a row, and of the next row (a string that turns into the next row stays one piece)."""


@dataclass(frozen=True)
class StringRow:
    """One string of a plant as its modules are wired now."""

    string: str
    modules: tuple[str, ...]  # module ids, sorted
    arrays: tuple[str, ...]
    rows: tuple[int, ...]
    pieces: int  # groups of its modules not next to each other (more than one: a likely wiring error)
    colour: str


def _natural(text: str) -> tuple[Any, ...]:
    """Sort key that puts S2 before S10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def wiring(layout: lay.PlantLayout) -> list[StringRow]:
    """The plant's strings as its modules name them, in natural order, each with the arrays and rows it
    spans, how many separate pieces its modules form, and a colour that differs from its neighbours'
    where :data:`PALETTE` allows (a greedy colouring of the strings' adjacency, most neighbours first)."""
    modules = layout.modules
    if not modules:
        return []
    centres = layout.centres_xy()
    near = lay.neighbours(layout, _reach(centres))
    names = sorted({m.string for m in modules}, key=_natural)
    index = {s: k for k, s in enumerate(names)}
    of = np.array([index[m.string] for m in modules], dtype=np.intp)
    # every pair of neighbours once: on one string they join a piece, on two they make the strings touch
    owner = np.repeat(np.arange(len(modules)), [len(nb) for nb in near])
    other = np.concatenate(near) if len(owner) else np.zeros(0, dtype=np.intp)
    same = of[owner] == of[other]
    graph = coo_matrix(
        (np.ones(int(same.sum()), dtype=np.int8), (owner[same], other[same])), shape=(len(modules),) * 2
    )
    _, piece = connected_components(graph, directed=False)
    pieces = Counter(k for k, _ in set(zip(of.tolist(), piece.tolist(), strict=True)))
    touching: list[set[int]] = [set() for _ in names]
    for a, b in set(zip(of[owner[~same]].tolist(), of[other[~same]].tolist(), strict=True)):
        touching[a].add(b)
    colours: dict[int, int] = {}
    for k in sorted(range(len(names)), key=lambda k: (-len(touching[k]), k)):
        taken = Counter(colours[j] for j in touching[k] if j in colours)
        free = [c for c in range(len(PALETTE)) if c not in taken]
        colours[k] = free[0] if free else min(range(len(PALETTE)), key=lambda c: (taken[c], c))
    members: dict[int, list[lay.Module]] = defaultdict(list)
    for m in modules:
        members[index[m.string]].append(m)
    return [
        StringRow(
            name,
            tuple(sorted((m.id for m in members[k]), key=_natural)),
            tuple(sorted({m.array for m in members[k]})),
            tuple(sorted({m.row for m in members[k]})),
            pieces[k],
            PALETTE[colours[k]],
        )
        for k, name in enumerate(names)
    ]


def _reach(centres: npt.NDArray[np.float64]) -> float:
    """:data:`REACH` times the median distance from a module to its nearest one [m]."""
    from scipy.spatial import cKDTree

    if len(centres) < 2:
        return 1.0
    gaps, _ = cKDTree(centres).query(centres, k=2)
    nearest = float(np.median(gaps[:, 1]))
    return REACH * nearest if np.isfinite(nearest) and nearest > 0 else 1.0

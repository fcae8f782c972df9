"""Plant layouts as GeoJSON FeatureCollections and CSV rows.

GeoJSON (RFC 7946, WGS84 lon/lat): one ``roof`` feature, the outline as a Polygon whose properties carry the
plant name and the module format, tilt, row azimuth and orientation, then one ``module`` feature per module,
its footprint as a Polygon, with ``id``, ``array``, ``row``, ``index``, ``string``. A FeatureCollection from
another tool is read as long as it has the roof feature and module Polygons. Modules without ids take
``row`` and ``index`` from their properties (row 1 and the features' order where those are missing); when no
module has an id or a row number (outlines drawn in another tool), all of them are numbered by where they lie,
as gongzhi numbers the plants it lays out (``A-03-17``). CSV rows alike.

A file that does not give the rows' azimuth has it read off its modules: the line through each numbered
row's centres, else the edges of the module outlines (GeoJSON), the side whose length is the footprint's
along the row; of the two opposite directions, the one whose modules face south of east-west. Only when
neither tells (no row of two modules on a line, no outline, a footprint near a square) is it 90°.

CSV (one dict per module, as :class:`csv.DictWriter` takes it): ``id, array, row, index, string, lon, lat``
plus the plant columns repeated on every row so a spreadsheet round-trips on its own.

``layout_*`` functions are pure conversions; ``read_*`` / ``write_*`` touch files.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gongzhi.kit.sheets import formula_safe, unguard
from gongzhi.modules.pv.analytics.geometry import clean_ring, local_frame, polygon_centroid, rotate
from gongzhi.modules.pv.analytics.layout import (
    MODULE_TYPES,
    LayoutParams,
    Module,
    ModuleType,
    PlantLayout,
    array_name,
    footprint,
    module_id,
    parse_module_id,
    string_id,
)

CSV_FIELDS = (
    "id", "array", "row", "index", "string", "lon", "lat",
    "plant", "module_type", "width_m", "length_m", "cells_short", "cells_long", "half_cut",
    "tilt_deg", "row_azimuth_deg", "portrait",
)  # fmt: skip


def _plant_properties(layout: PlantLayout) -> dict[str, Any]:
    t = layout.module_type
    return {
        "plant": layout.name,
        "module_type": t.name,
        "width_m": t.width_m,
        "length_m": t.length_m,
        "cells_short": t.cells_short,
        "cells_long": t.cells_long,
        "half_cut": t.half_cut,
        "tilt_deg": layout.tilt_deg,
        "row_azimuth_deg": layout.row_azimuth_deg,
        "portrait": layout.portrait,
    }


def layout_to_geojson(layout: PlantLayout) -> dict[str, Any]:
    """A plant as a GeoJSON FeatureCollection (roof feature first, then modules)."""
    ring = [list(p) for p in layout.polygon]
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            "properties": {"kind": "roof", **_plant_properties(layout)},
        }
    ]
    for m, corners in zip(layout.modules, layout.corners_xy().tolist(), strict=True):
        ll = [list(layout.origin.to_lonlat(x, y)) for x, y in corners]
        features.append(
            {
                "type": "Feature",
                "id": m.id,
                "geometry": {"type": "Polygon", "coordinates": [[*ll, ll[0]]]},
                "properties": {"kind": "module", "id": m.id, "array": m.array, "row": m.row,
                               "index": m.index, "string": m.string},
            }
        )  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def _module_type(props: Mapping[str, Any]) -> ModuleType:
    name = str(props.get("module_type") or "72")
    if "width_m" not in props and name in MODULE_TYPES:
        return MODULE_TYPES[name]
    base = MODULE_TYPES.get(name, MODULE_TYPES["72"])
    return ModuleType(
        name,
        float(props.get("width_m", base.width_m)),
        float(props.get("length_m", base.length_m)),
        int(props.get("cells_short", base.cells_short)),
        int(props.get("cells_long", base.cells_long)),
        _bool(props.get("half_cut", base.half_cut)),
    )


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in {"1", "true", "yes"}


def layout_from_geojson(collection: Mapping[str, Any]) -> PlantLayout:
    """Read a plant from a GeoJSON FeatureCollection written by :func:`layout_to_geojson` or another tool.

    Raises
    ------
    ValueError
        If the collection has no roof polygon, a module is not a Polygon, or ids repeat.
    """
    if collection.get("type") != "FeatureCollection":
        raise ValueError("a plant must be a GeoJSON FeatureCollection")
    features = list(collection.get("features") or [])
    roofs = [f for f in features if (f.get("properties") or {}).get("kind") == "roof"]
    if not roofs:
        raise ValueError("the FeatureCollection has no feature with properties.kind = 'roof'")
    props = roofs[0]["properties"]
    ring = clean_ring(_outer_ring(roofs[0]))
    origin = local_frame(ring)
    modules, outlines, unnumbered = [], [], True
    for n, f in enumerate(
        f for f in features if (f.get("properties") or {}).get("kind", "module") == "module"
    ):
        p = f.get("properties") or {}
        corners = [origin.to_xy(float(q[0]), float(q[1])) for q in clean_ring(_outer_ring(f))]
        x, y = polygon_centroid(corners)
        modules.append(_module(p, n, x, y))
        outlines.append(corners)
        unnumbered = unnumbered and _unnumbered(p)
    module_type, tilt, portrait = (
        _module_type(props),
        float(props.get("tilt_deg", 10.0)),
        _bool(props.get("portrait", True)),
    )
    given = props.get("row_azimuth_deg")
    azimuth, modules = _rows_and_numbers(
        modules, outlines, None if given is None else float(given), footprint(module_type, tilt, portrait),
        unnumbered,
    )  # fmt: skip
    return PlantLayout(
        str(props.get("plant") or "plant"), tuple(ring), origin, module_type, tilt, azimuth, portrait,
        tuple(modules),
    )  # fmt: skip


def _outer_ring(feature: Mapping[str, Any]) -> Sequence[Sequence[float]]:
    geometry = feature.get("geometry") or {}
    if geometry.get("type") != "Polygon" or not geometry.get("coordinates"):
        raise ValueError(f"feature {feature.get('id', '?')} must be a Polygon")
    ring: Sequence[Sequence[float]] = geometry["coordinates"][0]
    return ring


def _module(props: Mapping[str, Any], n: int, x: float, y: float) -> Module:
    if props.get("id"):
        array, row, index = parse_module_id(str(props["id"]))
    else:
        array, row, index = "A", int(props.get("row", 1)), int(props.get("index", n + 1))
    mid = module_id(array, row, index)
    return Module(mid, array, row, index, str(props.get("string") or f"{array}-{row:02d}-S1"), x, y)


def layout_to_csv_rows(layout: PlantLayout) -> list[dict[str, str]]:
    """One dict per module with :data:`CSV_FIELDS` as keys, values as text; text a spreadsheet would run as
    a formula (a plant or string name a user gave) with a leading apostrophe, which
    :func:`layout_from_csv_rows` takes off again."""
    plant = {k: str(formula_safe(str(v))) for k, v in _plant_properties(layout).items()}
    rows = []
    for m in layout.modules:
        lon, lat = layout.origin.to_lonlat(m.x_m, m.y_m)
        rows.append({"id": m.id, "array": m.array, "row": str(m.row), "index": str(m.index),
                     "string": str(formula_safe(m.string)), "lon": f"{lon:.9f}", "lat": f"{lat:.9f}",
                     **plant})  # fmt: skip
    return rows


def layout_from_csv_rows(
    rows: Sequence[Mapping[str, str]], polygon: Sequence[Sequence[float]]
) -> PlantLayout:
    """Read a plant from CSV rows (:data:`CSV_FIELDS`; plant columns from the first row) and its roof outline.

    Raises
    ------
    ValueError
        If there are no rows, a position is missing or an id is malformed.
    """
    if not rows:
        raise ValueError("the CSV has no module rows")
    rows = [{k: unguard(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]
    ring = clean_ring(polygon)
    origin = local_frame(ring)
    modules = []
    for n, r in enumerate(rows):
        try:
            x, y = origin.to_xy(float(r["lon"]), float(r["lat"]))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"row {n + 2}: lon and lat must be numbers") from exc
        modules.append(_module(r, n, x, y))
    first = rows[0]
    module_type, tilt = _module_type(first), float(first.get("tilt_deg") or 10.0)
    portrait = _bool(first.get("portrait", "true"))
    given = first.get("row_azimuth_deg")
    azimuth, modules = _rows_and_numbers(
        modules, (), float(given) if given else None, footprint(module_type, tilt, portrait),
        all(_unnumbered(r) for r in rows),
    )  # fmt: skip
    return PlantLayout(
        str(first.get("plant") or "plant"), tuple(ring), origin, module_type, tilt, azimuth, portrait,
        tuple(modules),
    )  # fmt: skip


DEFAULT_ROW_AZIMUTH_DEG = 90.0
"""Rows' azimuth of a plant file that neither gives it nor lets it be read off its modules (rows east-west,
the modules facing south)."""

ROW_LINE_TOLERANCE_M = 0.25
"""Largest RMS distance of a row's module centres from their line for the row to give the rows' direction
[m]: a quarter of a module's width. A file whose modules all carry row 1 (no row numbers) has no such row."""

OUTLINE_ASPECT = 1.15
"""Least ratio of a module footprint's sides for an outline's edges to tell along the row from across it."""


def _rows_and_numbers(
    modules: list[Module],
    outlines: Sequence[Sequence[tuple[float, float]]],
    given_deg: float | None,
    footprint_m: tuple[float, float],
    unnumbered: bool,
) -> tuple[float, list[Module]]:
    """The rows' azimuth of a plant file [°]: ``given_deg`` when the file gives it, else read off the
    numbered rows' centres (:func:`_rows_azimuth`), else off the module ``outlines``
    (:func:`_outlines_azimuth`, with the footprint along × across the row), else
    :data:`DEFAULT_ROW_AZIMUTH_DEG`; and the modules, numbered by where they lie
    (:func:`_numbered_by_position`) when the file numbered none of them."""
    azimuth = given_deg
    if azimuth is None:
        azimuth = _rows_azimuth(modules)
    if azimuth is None:
        azimuth = _outlines_azimuth(outlines, *footprint_m)
    if azimuth is None:
        azimuth = DEFAULT_ROW_AZIMUTH_DEG
    if unnumbered and modules:
        modules = _numbered_by_position(modules, azimuth, footprint_m[1])
    return azimuth, modules


def _rows_azimuth(modules: Sequence[Module]) -> float | None:
    """The rows' azimuth [°, clockwise from north, in [0, 180): the modules facing south of east-west]
    from the module centres: each row (array and row number) of at least two modules whose centres lie on a
    line (:data:`ROW_LINE_TOLERANCE_M`) gives its direction, and the rows' directions are averaged as axes
    (doubled angles). ``None`` when no row gives one."""
    rows: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for m in modules:
        rows.setdefault((m.array, m.row), []).append((m.x_m, m.y_m))
    directions = []
    for centres in rows.values():
        if len(centres) < 2:
            continue
        xy = np.asarray(centres) - np.mean(centres, axis=0)
        _, spread, axes = np.linalg.svd(xy, full_matrices=False)
        if spread[0] > 0 and spread[-1] / math.sqrt(len(centres)) <= ROW_LINE_TOLERANCE_M:
            directions.append((float(axes[0][0]), float(axes[0][1])))
    return _axial_mean_deg(directions)


def _outlines_azimuth(
    outlines: Sequence[Sequence[tuple[float, float]]], along_m: float, across_m: float
) -> float | None:
    """The rows' azimuth [°, in [0, 180)] from the module outlines: in each outline the edge whose length is
    nearer the footprint's side along the row (``along_m``) than across it (``across_m``) runs along the row.
    ``None`` when the footprint is too near a square (:data:`OUTLINE_ASPECT`) or no outline has an edge."""
    if max(along_m, across_m) < OUTLINE_ASPECT * min(along_m, across_m):
        return None
    directions = []
    for corners in outlines:
        for (x0, y0), (x1, y1) in zip(corners, [*corners[1:], corners[0]], strict=True):
            length = math.hypot(x1 - x0, y1 - y0)
            if length > 0 and abs(length - along_m) < abs(length - across_m):
                directions.append(((x1 - x0) / length, (y1 - y0) / length))
    return _axial_mean_deg(directions)


ARRAY_GAP_M = 0.5
"""How much farther apart than the plant's usual step from one row to the next two rows must lie to start a
new array (a walkway, 1 m in gongzhi's own layouts, or another block), in a file whose modules carry no
numbers [m]."""


ASSUMED_PROPERTIES = ("module_type", "tilt_deg", "portrait", "string")
"""What a plant file may leave the readers to assume, in the order :func:`assumed_properties` names them."""


def assumed_properties(plant: Mapping[str, Any], modules: Sequence[Mapping[str, Any]]) -> list[str]:
    """Of :data:`ASSUMED_PROPERTIES`, those a plant file leaves out, which the readers then take at their
    defaults: ``plant`` is the roof feature's properties (GeoJSON) or the first row (CSV), ``modules`` the
    modules' properties or rows. ``module_type`` when neither it nor ``width_m`` is given (a 72-cell module),
    ``tilt_deg`` (10°), ``portrait`` (portrait), and ``string`` when a module names no string (one string a
    row, or strings of consecutive modules when the modules are numbered by where they lie). The rows'
    azimuth is not among them: a file that does not give it has it read off its modules."""

    def absent(props: Mapping[str, Any], key: str) -> bool:
        value = props.get(key)
        return value is None or (isinstance(value, str) and not value.strip())

    out = [k for k in ("tilt_deg", "portrait") if absent(plant, k)]
    if absent(plant, "module_type") and absent(plant, "width_m"):
        out.append("module_type")
    if any(absent(m, "string") for m in modules):
        out.append("string")
    return sorted(out, key=ASSUMED_PROPERTIES.index)


def geojson_assumed(collection: Mapping[str, Any]) -> list[str]:
    """:func:`assumed_properties` of a plant FeatureCollection that :func:`layout_from_geojson` reads."""
    props = [f.get("properties") or {} for f in collection.get("features") or []]
    roof = next((p for p in props if p.get("kind") == "roof"), {})
    return assumed_properties(roof, [p for p in props if p.get("kind", "module") == "module"])


def csv_assumed(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """:func:`assumed_properties` of the CSV rows that :func:`layout_from_csv_rows` reads."""
    return assumed_properties(rows[0] if rows else {}, rows)


def _unnumbered(props: Mapping[str, Any]) -> bool:
    """A module given neither an id nor a row number."""
    return not props.get("id") and props.get("row") in (None, "")


def _numbered_by_position(modules: Sequence[Module], azimuth_deg: float, across_m: float) -> list[Module]:
    """Modules a file numbered nowhere, numbered by where they lie, as :func:`.layout.generate_layout`
    numbers its own: rows from the edge on the right of the row direction (the south edge for east-west
    rows), a new row where the centres step more than half the footprint across it (``across_m``), a new
    array where two rows lie :data:`ARRAY_GAP_M` farther apart than the usual step, modules from the row's
    start, strings of ``LayoutParams.modules_per_string`` consecutive modules of a row; in that order."""
    uv = rotate([(m.x_m, m.y_m) for m in modules], azimuth_deg)
    rows: list[list[int]] = []
    last = -math.inf
    for i in sorted(range(len(modules)), key=lambda i: uv[i][1]):
        if uv[i][1] - last > across_m / 2:
            rows.append([])
        rows[-1].append(i)
        last = uv[i][1]
    levels = [float(np.mean([uv[i][1] for i in row])) for row in rows]
    steps = np.diff(levels)
    usual = float(np.median(steps)) if len(steps) else 0.0
    per_string = LayoutParams().modules_per_string
    numbered, array, row = [], 0, 0
    for k, members in enumerate(rows):
        if k and steps[k - 1] > usual + ARRAY_GAP_M:
            array, row = array + 1, 0
        row += 1
        name = array_name(array)
        for index, i in enumerate(sorted(members, key=lambda i: uv[i][0]), start=1):
            m = modules[i]
            numbered.append(Module(module_id(name, row, index), name, row, index,
                                   string_id(name, row, index, per_string), m.x_m, m.y_m))  # fmt: skip
    return numbered


def _axial_mean_deg(directions: Sequence[tuple[float, float]]) -> float | None:
    """Mean of unit (east, north) vectors taken as axes (a direction and its opposite alike), as an azimuth
    [°, clockwise from north] in [0, 180), rounded to 0.01°; ``None`` without any."""
    if not directions:
        return None
    doubled = [2 * math.atan2(e, n) for e, n in directions]
    mean = 0.5 * math.degrees(math.atan2(sum(map(math.sin, doubled)), sum(map(math.cos, doubled))))
    return round(mean % 180.0, 2) % 180.0


def write_plant_geojson(layout: PlantLayout, path: Path) -> None:
    """Write :func:`layout_to_geojson` to ``path`` (UTF-8)."""
    path.write_text(json.dumps(layout_to_geojson(layout), ensure_ascii=False), encoding="utf-8")


def read_plant_geojson(path: Path) -> PlantLayout:
    """Read a plant GeoJSON file (see :func:`layout_from_geojson`)."""
    return layout_from_geojson(json.loads(path.read_text(encoding="utf-8")))


def write_plant_csv(layout: PlantLayout, path: Path) -> None:
    """Write :func:`layout_to_csv_rows` to ``path`` (UTF-8 with BOM, so Excel opens it as UTF-8)."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(layout_to_csv_rows(layout))


def read_plant_csv(path: Path, polygon: Sequence[Sequence[float]]) -> PlantLayout:
    """Read a plant CSV file (see :func:`layout_from_csv_rows`)."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        return layout_from_csv_rows(list(csv.DictReader(f)), polygon)

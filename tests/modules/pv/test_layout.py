from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gongzhi.modules.pv.analytics.geometry import distance_to_boundary, point_in_polygon
from gongzhi.modules.pv.analytics.layout import (
    MODULE_TYPES,
    LayoutParams,
    PlantLayout,
    array_name,
    generate_layout,
    neighbours,
    parse_module_id,
)
from gongzhi.modules.pv.io.plant import (
    layout_from_csv_rows,
    layout_from_geojson,
    layout_to_csv_rows,
    layout_to_geojson,
    read_plant_csv,
    read_plant_geojson,
    write_plant_csv,
    write_plant_geojson,
)

from .shapes import outline, rectangle


@pytest.fixture(scope="module")
def small() -> PlantLayout:
    return generate_layout(rectangle(40, 30), LayoutParams(rows_per_array=4, modules_per_string=10))


def test_it_fills_a_roof_with_rows_inside_the_setback(small: PlantLayout) -> None:
    roof = small.polygon_xy()
    corners = small.corners_xy()
    assert len(small.modules) > 200
    for quad in corners.tolist():
        for c in quad:
            assert point_in_polygon((c[0], c[1]), roof)
            assert distance_to_boundary((c[0], c[1]), roof) >= 1.0 - 1e-6


def test_modules_do_not_overlap(small: PlantLayout) -> None:
    along, across = small.footprint_m
    c = small.centres_xy()
    d = np.abs(c[:, None, :] - c[None, :, :])
    overlap = (d[..., 0] < along - 1e-6) & (d[..., 1] < across - 1e-6)
    assert overlap.sum() == len(c)  # only each module with itself


def test_ids_count_arrays_rows_and_modules_from_the_row_start(small: PlantLayout) -> None:
    first = small.modules[0]
    assert first.id == "A-01-01"
    assert parse_module_id("A-03-17") == ("A", 3, 17)
    arrays = sorted({m.array for m in small.modules})
    assert arrays[:2] == ["A", "B"]
    assert max(m.row for m in small.modules) == 4
    row = [m for m in small.modules if m.array == "A" and m.row == 1]
    assert [m.index for m in row] == list(range(1, len(row) + 1))
    assert all(b.x_m > a.x_m for a, b in itertools.pairwise(row))  # rows run east
    assert row[0].string == "A-01-S1" and row[10].string == "A-01-S2"
    assert array_name(0) == "A" and array_name(25) == "Z" and array_name(26) == "AA"


def test_the_same_polygon_gives_the_same_ids() -> None:
    roof = outline([(0, 0), (30, 0), (30, 20), (10, 20), (10, 10), (0, 10)])
    a, b = generate_layout(roof), generate_layout(roof)
    assert a.modules == b.modules
    # the L shape: upper rows are shorter than lower rows
    lengths: dict[tuple[str, int], int] = {}
    for m in a.modules:
        lengths[(m.array, m.row)] = max(lengths.get((m.array, m.row), 0), m.index)
    assert min(lengths.values()) < max(lengths.values())


def test_tilt_foreshortens_the_footprint_and_formats_set_the_cell_grid() -> None:
    params = LayoutParams(module_type=MODULE_TYPES["144-half-cut"], tilt_deg=30)
    layout = generate_layout(rectangle(20, 20), params)
    along, across = layout.footprint_m
    assert along == pytest.approx(1.134)
    assert across == pytest.approx(2.279 * math.cos(math.radians(30)))
    assert layout.cell_grid == (6, 24)
    landscape = generate_layout(rectangle(20, 20), LayoutParams(portrait=False))
    assert landscape.cell_grid == (12, 6)


def test_it_refuses_a_roof_too_small() -> None:
    with pytest.raises(ValueError, match="too small"):
        generate_layout(rectangle(2, 2))


def test_neighbours_are_within_the_radius(small: PlantLayout) -> None:
    near = neighbours(small, 3.0)
    c = small.centres_xy()
    for i in (0, 50, 100):
        d = np.hypot(*(c - c[i]).T)
        expected = set(np.flatnonzero((d <= 3.0) & (np.arange(len(c)) != i)).tolist())
        assert set(near[i].tolist()) == expected


def test_geojson_and_csv_round_trip(small: PlantLayout, tmp_path: Path) -> None:
    back = layout_from_geojson(layout_to_geojson(small))
    assert [m.id for m in back.modules] == [m.id for m in small.modules]
    assert np.allclose(back.centres_xy(), small.centres_xy(), atol=1e-3)
    assert back.module_type == small.module_type and back.tilt_deg == small.tilt_deg
    rows = layout_from_csv_rows(layout_to_csv_rows(small), small.polygon)
    assert [m.string for m in rows.modules] == [m.string for m in small.modules]
    assert np.allclose(rows.centres_xy(), small.centres_xy(), atol=1e-3)
    write_plant_geojson(small, tmp_path / "p.geojson")
    write_plant_csv(small, tmp_path / "p.csv")
    assert read_plant_geojson(tmp_path / "p.geojson").modules[3].id == small.modules[3].id
    assert len(read_plant_csv(tmp_path / "p.csv", small.polygon).modules) == len(small.modules)


@pytest.mark.parametrize("azimuth", [0.0, 30.0, 90.0, 135.0])
def test_a_plant_file_that_does_not_give_the_rows_azimuth_has_it_read_off_its_modules(azimuth: float) -> None:
    roof = rectangle(40, 30, azimuth_deg=azimuth)
    layout = generate_layout(roof, LayoutParams(rows_per_array=4, row_azimuth_deg=azimuth))
    collection = layout_to_geojson(layout)
    del collection["features"][0]["properties"]["row_azimuth_deg"]
    assert layout_from_geojson(collection).row_azimuth_deg == pytest.approx(azimuth, abs=0.02)
    rows = [{k: v for k, v in r.items() if k != "row_azimuth_deg"} for r in layout_to_csv_rows(layout)]
    assert layout_from_csv_rows(rows, layout.polygon).row_azimuth_deg == pytest.approx(azimuth, abs=0.02)
    # another tool's outlines, without ids or row numbers: their edges tell
    for f in collection["features"][1:]:
        f["properties"] = {"kind": "module"}
    anonymous = layout_from_geojson(collection)
    assert anonymous.row_azimuth_deg == pytest.approx(azimuth, abs=0.02)
    # one module's outline is enough
    alone = {"type": "FeatureCollection", "features": collection["features"][:2]}
    assert layout_from_geojson(alone).row_azimuth_deg == pytest.approx(azimuth, abs=0.02)
    # nothing to read it off: a footprint near a square (portrait at 60° tilt: 0.99 × 0.98 m) and no rows
    steep = layout_to_geojson(replace(layout, tilt_deg=60.0))
    del steep["features"][0]["properties"]["row_azimuth_deg"]
    for f in steep["features"][1:]:
        f["properties"] = {"kind": "module"}
    assert layout_from_geojson(steep).row_azimuth_deg == 90.0
    # with its row numbers, the rows still tell
    numbered = layout_to_geojson(replace(layout, tilt_deg=60.0))
    del numbered["features"][0]["properties"]["row_azimuth_deg"]
    assert layout_from_geojson(numbered).row_azimuth_deg == pytest.approx(azimuth, abs=0.02)
    # an azimuth the file gives stands
    given = layout_to_geojson(replace(layout, row_azimuth_deg=200.0))
    assert layout_from_geojson(given).row_azimuth_deg == 200.0


@pytest.mark.parametrize("azimuth", [30.0, 90.0])
def test_modules_a_file_numbers_nowhere_are_numbered_by_where_they_lie_as_gongzhi_numbers_its_own(
    azimuth: float,
) -> None:
    # 14 rows: arrays A (10 rows) and B behind a 1 m walkway, rows over 20 modules (two strings)
    roof = rectangle(50, 44, azimuth_deg=azimuth)
    layout = generate_layout(roof, LayoutParams(row_azimuth_deg=azimuth, setback_m=0.5))
    assert {m.array for m in layout.modules} == {"A", "B"} and max(m.index for m in layout.modules) > 20
    collection = layout_to_geojson(layout)
    del collection["features"][0]["properties"]["row_azimuth_deg"]
    for f in collection["features"][1:]:
        f.pop("id")
        f["properties"] = {"kind": "module"}
    # shuffled, as another tool may write them
    modules = collection["features"][1:]
    collection["features"][1:] = [modules[k] for k in np.random.default_rng(1).permutation(len(modules))]
    back = layout_from_geojson(collection)

    def by_place(plant: PlantLayout) -> list[tuple[str, str]]:
        """Each of the layout's modules' (id, string) in ``plant``: the module nearest its centre."""
        gaps = np.linalg.norm(layout.centres_xy()[:, None] - plant.centres_xy()[None], axis=2)
        assert gaps.min(axis=1).max() < 0.01
        return [(plant.modules[j].id, plant.modules[j].string) for j in gaps.argmin(axis=1)]

    original = [(m.id, m.string) for m in layout.modules]
    assert by_place(back) == original
    assert [m.id for m in back.modules] == [m.id for m in layout.modules]  # in the layout's order too
    rows = [
        {k: v for k, v in r.items() if k not in ("id", "row", "index", "string")}
        for r in layout_to_csv_rows(layout)
    ]
    assert by_place(layout_from_csv_rows(rows[::-1], layout.polygon)) == original
    # a file that numbers its modules keeps its numbers
    assert [m.id for m in layout_from_geojson(layout_to_geojson(layout)).modules] == [
        m.id for m in layout.modules
    ]


def test_a_plant_csv_keeps_formula_like_names_inert(small: PlantLayout, tmp_path: Path) -> None:
    first = replace(small.modules[0], string="+S1")
    named = replace(small, name="=1+2 电站", modules=(first, *small.modules[1:]))
    write_plant_csv(named, tmp_path / "p.csv")
    text = (tmp_path / "p.csv").read_text(encoding="utf-8-sig")
    assert ",'=1+2 电站," in text and ",'+S1," in text and ",=" not in text and ",+" not in text
    back = read_plant_csv(tmp_path / "p.csv", small.polygon)
    assert back.name == named.name and back.modules[0].string == "+S1"


def test_it_rejects_geojson_without_a_roof_and_bad_ids() -> None:
    with pytest.raises(ValueError, match="roof"):
        layout_from_geojson({"type": "FeatureCollection", "features": []})
    with pytest.raises(ValueError, match="module id"):
        parse_module_id("row 3")


def test_the_centres_are_the_modules_positions_bit_for_bit_in_layout_order() -> None:
    layout = generate_layout(rectangle(30, 20), LayoutParams(setback_m=0.5))
    pairs = np.array([(m.x_m, m.y_m) for m in layout.modules], dtype=np.float64).reshape(-1, 2)
    centres = layout.centres_xy()
    assert centres.dtype == np.float64 and centres.flags.c_contiguous
    assert np.array_equal(centres, pairs) and centres.tobytes() == pairs.tobytes()
    assert replace(layout, modules=()).centres_xy().shape == (0, 2)

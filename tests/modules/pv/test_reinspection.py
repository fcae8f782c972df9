"""The re-inspection of a cleaning: a short flight over the cleaned rows (their rectangle, aligned with the
rows, a few metres wider) sees every cleaned module in its frames and is a fraction of the whole-plant
flight; the simulator renders frames along that flight."""

from __future__ import annotations

import math

import numpy as np

from gongzhi.modules.pv.analytics.cameras import M3T
from gongzhi.modules.pv.analytics.flightplan import FlightPlan, plan_flight
from gongzhi.modules.pv.analytics.layout import LayoutParams, PlantLayout, generate_layout, rows_outline
from gongzhi.modules.pv.analytics.synthetic import reflown, synthetic_flight
from gongzhi.modules.pv.loop import REINSPECTION_BUFFER_M

from .shapes import rectangle


def seen_by(plan: FlightPlan, layout: PlantLayout, xy: np.ndarray) -> bool:
    """Whether point ``xy`` [m] lies in the footprint of some frame of ``plan``."""
    across, along = plan.footprint_m
    for line in plan.lines:
        (x0, y0), (x1, y1) = layout.origin.to_xy(*line.start), layout.origin.to_xy(*line.end)
        d = np.array([x1 - x0, y1 - y0]) / max(1e-9, math.hypot(x1 - x0, y1 - y0))
        n = np.array([-d[1], d[0]])
        for p in line.triggers:
            rel = xy - np.array(layout.origin.to_xy(*p))
            if abs(rel @ d) <= along / 2 and abs(rel @ n) <= across / 2:
                return True
    return False


def test_the_reinspection_flies_only_the_cleaned_rows_and_sees_every_cleaned_module() -> None:
    layout = generate_layout(rectangle(120.0, 90.0), LayoutParams(setback_m=1.0), name="re-roof")
    rows = sorted({(m.array, m.row) for m in layout.modules})
    wanted = {rows[3], rows[4]}
    cleaned = [m.id for m in layout.modules if (m.array, m.row) in wanted]
    outline = rows_outline(layout, cleaned[::7], REINSPECTION_BUFFER_M)  # some modules name their rows
    module = layout.footprint_m  # each module whole in two images of a line, as the platform plans
    # as loop.reinspection_plan: the fewest turns, along the rows, which size the modules along the lines
    short = plan_flight(
        outline,
        M3T,
        row_azimuth_deg=layout.row_azimuth_deg,
        lines_across_rows=False,
        module_footprint_m=module,
    )
    diagonal = plan_flight(outline, M3T, module_footprint_m=module)
    assert short.line_azimuth_deg == diagonal.line_azimuth_deg
    assert short.module_extent_m < diagonal.module_extent_m and short.image_count < diagonal.image_count
    across = plan_flight(outline, M3T, row_azimuth_deg=layout.row_azimuth_deg, module_footprint_m=module)
    whole = plan_flight(
        layout.polygon, M3T, row_azimuth_deg=layout.row_azimuth_deg, module_footprint_m=module
    )
    corners = layout.corners_xy()
    for m in cleaned:
        assert all(seen_by(short, layout, c) for c in corners[layout.position(m)]), m
    assert short.image_count * 4 < whole.image_count, (short.image_count, whole.image_count)
    assert short.image_count < across.image_count
    assert short.total_time_s < whole.total_time_s / 2, (short.total_time_s, whole.total_time_s)
    print(
        f"re-inspection of 2 of {len(rows)} rows: {short.image_count} images,"
        f" {short.total_time_s / 60:.1f} min against {whole.image_count} images,"
        f" {whole.total_time_s / 60:.1f} min for the whole plant ({diagonal.image_count} images with the"
        " modules' diagonal)"
    )


def test_the_simulated_world_is_rendered_along_the_reinspection_lines() -> None:
    layout = generate_layout(rectangle(40.0, 24.0), LayoutParams(setback_m=0.5), name="tiny")
    flight = synthetic_flight(layout, seed=3, anomalies_per_class=1)
    row = [m.id for m in layout.modules if m.row == 1]
    short = plan_flight(rows_outline(layout, row), M3T)
    again = reflown(flight, short.waypoints, short.trigger_spacing_m, short.altitude_m)
    assert len(again) == short.image_count < len(flight)
    assert again._scene is flight._scene and again.anomalies == flight.anomalies
    frame = again.frame(0)
    assert frame.temperature_c.shape == (M3T.height_px, M3T.width_px)

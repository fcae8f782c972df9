"""What the platform's parallel runs need from the analytics: a layout that pickles, and accumulators of two
parts of a flight that merge into what one accumulator fed every frame gives."""

from __future__ import annotations

import pickle

from gongzhi.modules.pv.analytics.layout import LayoutParams, generate_layout
from gongzhi.modules.pv.analytics.modules import InspectionAccumulator
from gongzhi.modules.pv.analytics.synthetic import synthetic_flight

from .shapes import rectangle


def test_a_layout_survives_pickling_for_process_pools() -> None:
    layout = generate_layout(rectangle(30, 20), LayoutParams(setback_m=0.5))
    again = pickle.loads(pickle.dumps(layout))
    assert again == layout and again.position(layout.modules[-1].id) == len(layout.modules) - 1


def test_two_merged_accumulators_give_the_result_of_one() -> None:
    layout = generate_layout(rectangle(40, 24), LayoutParams(setback_m=0.5))
    flight = synthetic_flight(layout, seed=4, anomalies_per_class=1)
    frames = [flight.frame(i) for i in range(6)]
    whole = InspectionAccumulator(layout, irradiance_w_m2=850, refine=False)
    first = InspectionAccumulator(layout, irradiance_w_m2=850, refine=False)
    second = InspectionAccumulator(layout, irradiance_w_m2=850, refine=False)
    for i, frame in enumerate(frames):
        whole.add(frame)
        (first if i < 3 else second).add(frame)
    first.merge(pickle.loads(pickle.dumps(second)))
    assert first.result() == whole.result()
    assert whole.result().findings


def test_a_pickled_accumulator_keeps_its_views_and_goes_on_adding_frames() -> None:
    layout = generate_layout(rectangle(40, 24), LayoutParams(setback_m=0.5))
    flight = synthetic_flight(layout, seed=5, anomalies_per_class=1)
    frames = [flight.frame(i) for i in range(6)]
    whole = InspectionAccumulator(layout, irradiance_w_m2=850, refine=False)
    part = InspectionAccumulator(layout, irradiance_w_m2=850, refine=False)
    for i, frame in enumerate(frames):
        whole.add(frame)
        if i < 3:
            part.add(frame)
    again = pickle.loads(pickle.dumps(part))
    assert again._views == part._views and again.result() == part.result()
    for frame in frames[3:]:
        again.add(frame)
    assert again.result() == whole.result()


def test_a_fresh_accumulator_from_a_template_gives_the_result_of_a_new_one() -> None:
    layout = generate_layout(rectangle(40, 24), LayoutParams(setback_m=0.5))
    flight = synthetic_flight(layout, seed=6, anomalies_per_class=1)
    template = InspectionAccumulator(layout, irradiance_w_m2=850)
    template.add(flight.frame(0))
    new, fresh = InspectionAccumulator(layout, irradiance_w_m2=850), template.fresh()
    for i in range(1, 5):
        new.add(flight.frame(i))
        fresh.add(flight.frame(i))
    assert fresh.result() == new.result()
    assert template.result().frames_total == 1  # the template keeps its own frames


def test_a_part_travels_without_its_layout_and_merges_once_given_it_back() -> None:
    layout = generate_layout(rectangle(40, 24), LayoutParams(setback_m=0.5))
    flight = synthetic_flight(layout, seed=7, anomalies_per_class=1)
    whole = InspectionAccumulator(layout, irradiance_w_m2=850, refine=False)
    first = InspectionAccumulator(layout, irradiance_w_m2=850, refine=False)
    second = InspectionAccumulator(layout, irradiance_w_m2=850, refine=False)
    for i in range(6):
        whole.add(flight.frame(i))
        (first if i < 3 else second).add(flight.frame(i))
    with_layout = len(pickle.dumps(second))
    second.leave_layout_out()
    blob = pickle.dumps(second)
    assert len(blob) < with_layout
    again = pickle.loads(blob)
    assert "layout" not in again.__dict__
    again.attach(layout)
    first.merge(again)
    assert first.result() == whole.result()


def test_an_accumulator_without_a_whole_module_in_view_gives_an_empty_result() -> None:
    layout = generate_layout(rectangle(40, 24), LayoutParams(setback_m=0.5))
    empty = InspectionAccumulator(layout, irradiance_w_m2=850, refine=False)
    result = empty.result()
    assert result.modules == () and result.findings == () and result.frames_total == 0

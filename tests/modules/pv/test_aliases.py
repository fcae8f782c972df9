from __future__ import annotations

import dataclasses
import pickle
import warnings

import numpy as np
import pytest

from gongzhi.modules.pv.analytics import aliases
from gongzhi.modules.pv.analytics.aliases import AliasTracker, end_alias
from gongzhi.modules.pv.analytics.anomalies import Anomaly
from gongzhi.modules.pv.analytics.evaluation import evaluate
from gongzhi.modules.pv.analytics.georef import module_index, visible_modules
from gongzhi.modules.pv.analytics.layout import LayoutParams, generate_layout
from gongzhi.modules.pv.analytics.modules import (
    _VIEW_COLUMNS,
    NORMAL,
    InspectionAccumulator,
    ViewClass,
    _pitches,
    _ViewTable,
)
from gongzhi.modules.pv.analytics.synthetic import Conditions, _gps_bias_track, synthetic_flight

from .shapes import rectangle


@pytest.fixture(scope="module")
def flight():  # type: ignore[no-untyped-def]
    layout = generate_layout(rectangle(44.0, 30.0))
    return synthetic_flight(
        layout, seed=6, anomalies_per_class=1, conditions=Conditions(gps_bias_sigma_m=1.5)
    )


def _tracker(flight) -> AliasTracker:  # type: ignore[no-untyped-def]
    index = module_index(flight.layout)
    return AliasTracker(index, _pitches(index))


def test_the_row_ends_in_a_frame_settle_which_module_it_sees(flight) -> None:  # type: ignore[no-untyped-def]
    tracker = _tracker(flight)
    settled = 0
    for i in range(len(flight)):
        frame, pose = flight.frame(i), flight.poses[i]
        positions = visible_modules(tracker.index, pose)
        if not aliases.sees_end(tracker, positions, 0):
            continue
        # at the true pose the ends say "stay"; a pitch off along the rows they say "back by one"
        shift, _ = end_alias(frame.temperature_c, pose, tracker, positions)
        assert shift == (0, 0)
        off = tracker.moved(pose, (1, 0))
        back, known_off = end_alias(frame.temperature_c, off, tracker, visible_modules(tracker.index, off))
        if known_off[0]:
            assert back[0] == -1
            settled += 1
    assert settled >= 5


def test_a_frame_named_a_module_off_links_back_to_the_frames_before(flight) -> None:  # type: ignore[no-untyped-def]
    tracker = _tracker(flight)
    first, second = flight.frame(3), flight.frame(4)
    p1 = visible_modules(tracker.index, flight.poses[3])
    tracker.remember(p1, tracker.fingerprint(first.temperature_c, flight.poses[3], p1), 3)
    for k in [(0, 0), (1, 0), (-1, 0), (-2, 0)]:
        pose = tracker.moved(flight.poses[4], k)
        p2 = visible_modules(tracker.index, pose)
        assert tracker.linked(p2, tracker.fingerprint(second.temperature_c, pose, p2)) == (-k[0], -k[1])


def test_renaming_views_moves_them_and_their_classes_and_drops_those_named_nowhere() -> None:
    table = _ViewTable()
    numbers = np.arange(6, dtype=float)[:, None] * np.ones((1, _VIEW_COLUMNS))
    hot = ViewClass(Anomaly.HOT_SPOT, 9.0)
    table.add(0, np.array([0, 1, 2]), numbers[:3], [NORMAL, hot, NORMAL])
    table.add(1, np.array([1, 2, 3]), numbers[3:], [hot, NORMAL, NORMAL])
    names = np.array([1, 2, 3, -1])  # one module further; module 3 has none beyond it
    table.rename(names, 1, 2)
    positions, frames, _ = table.columns()
    assert list(zip(frames.tolist(), positions.tolist(), strict=True)) == [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 2),
        (1, 3),
    ]
    assert set(table.classes) == {(0, 1), (1, 2)}


def test_the_gps_bias_wanders_slowly_and_is_drawn_from_the_seed() -> None:
    track = _gps_bias_track(5, 4000, 1.5, 600.0, 1.0)
    assert np.array_equal(track, _gps_bias_track(5, 4000, 1.5, 600.0, 1.0))
    assert not np.array_equal(track, _gps_bias_track(6, 4000, 1.5, 600.0, 1.0))
    steps = np.diff(track, axis=0)
    assert float(np.std(steps)) < 0.1  # one photo to the next: centimetres
    assert 0.3 < float(np.std(track)) < 3.0  # a flight: metres
    default = synthetic_flight(generate_layout(rectangle(20.0, 12.0)), seed=1)
    assert default.conditions.gps_bias_sigma_m == 0.0


def test_a_flight_without_rtk_names_every_module_right(flight) -> None:  # type: ignore[no-untyped-def]
    # a GPS bias of 1.5 m (σ), which is more than a module pitch along the rows and half a row pitch across:
    # before the naming was settled by the frames before and the ends of the rows, this flight put its views
    # on the wrong modules (false and missed findings on every class). Its frames say they are no RTK fix
    # (single point), which the default positioning ("auto") takes for the naming without RTK
    acc = InspectionAccumulator(flight.layout)
    for i in range(len(flight)):
        acc.add(flight.frame(i))
    result = acc.result()
    assert evaluate(result, flight.anomalies).confusions == {}
    assert result.positions == (0, len(flight), 0)
    assert 0.9 * len(flight) <= result.frames_named <= len(flight)  # every frame the grid placed
    assert any("module names without RTK" in str(n) for n in result.notes)


def test_the_same_flight_named_from_its_positions_puts_views_on_the_wrong_modules(flight) -> None:  # type: ignore[no-untyped-def]
    acc = InspectionAccumulator(flight.layout, without_rtk=False)  # positioning "rtk": trusted as logged
    for i in range(len(flight)):
        acc.add(flight.frame(i))
    result = acc.result()
    assert evaluate(result, flight.anomalies).confusions
    assert result.frames_named == 0
    assert not any("RTK" in str(n) for n in result.notes)


def test_auto_names_from_the_positions_while_the_frames_say_they_are_an_rtk_fix() -> None:
    layout = generate_layout(rectangle(20.0, 12.0))
    fixed = synthetic_flight(layout, seed=2, anomalies_per_class=0)  # σ 0.1 m: reported as RTK fixed
    acc = InspectionAccumulator(layout)
    for i in range(len(fixed)):
        frame = fixed.frame(i)
        assert frame.meta.rtk_flag == 50 and frame.meta.position_fixed
        acc.add(frame)
    result = acc.result()
    assert result.positions == (len(fixed), 0, 0)
    assert result.frames_named == 0 and acc._aliases is None  # no fingerprint was even taken
    assert not any("RTK" in str(n) for n in result.notes)
    # frames that do not say (a camera that writes no RtkFlag) are named from their positions, with a note
    # that tells how to ask for the naming without RTK
    unknown = InspectionAccumulator(layout)
    for i in range(len(fixed)):
        frame = fixed.frame(i)
        unknown.add(dataclasses.replace(frame, meta=dataclasses.replace(frame.meta, rtk_flag=None,
                                                                         position_std_m=None)))  # fmt: skip
    result = unknown.result()
    assert result.positions == (0, 0, len(fixed)) and result.frames_named == 0
    assert any("positioning gnss" in str(n) for n in result.notes)


def test_two_parts_of_a_flight_without_rtk_merge_into_the_right_names(flight) -> None:  # type: ignore[no-untyped-def]
    # the second part starts in the middle of the roof with its running correction at none, so it names
    # its first frames from the biased positions; merged after the first part, its first fingerprints say
    # by how much they were off (unpickled in between, as from a process pool)
    half = len(flight) // 2
    first, second = (
        InspectionAccumulator(flight.layout, without_rtk=True),
        InspectionAccumulator(flight.layout, without_rtk=True),
    )
    for i in range(len(flight)):
        (first if i < half else second).add(flight.frame(i))
    alone = evaluate(second.result(), flight.anomalies)
    first.merge(pickle.loads(pickle.dumps(second)))
    assert evaluate(first.result(), flight.anomalies).confusions == {}
    assert alone.confusions  # the part on its own named some modules wrong (else this test shows nothing)


def test_row_medians_are_numpys_medians_of_sorted_rows() -> None:
    rng = np.random.default_rng(3)
    for width in (1, 2, 4, 5, 15):
        a = rng.normal(size=(40, width))
        a[rng.random(a.shape) < 0.3] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
            expected = np.where(np.isfinite(a).sum(axis=1) >= 2, np.nanmedian(a, axis=1), np.nan)
        ordered = np.sort(a, axis=1)
        assert np.array_equal(aliases._row_medians(ordered, min_count=2), expected, equal_nan=True)
        assert np.array_equal(aliases._row_medians(ordered), np.median(a, axis=1), equal_nan=True)


def test_a_later_part_whose_links_broke_before_an_end_settled_them_is_renamed_whole_when_merged() -> None:
    # on this roof the second half's links break after its eighth frame, long before the first frame that
    # sees a row's end along the rows (its 25th); the frames in between are named from the running
    # correction, which carries its opening's error, so the merge renames all 25 (on the code before,
    # which renamed only the first eight, the merged flight had 13 confusions)
    layout = generate_layout(rectangle(80.0, 50.0))
    flight = synthetic_flight(
        layout, seed=3, anomalies_per_class=1, conditions=Conditions(gps_bias_sigma_m=2.0)
    )
    half = len(flight) // 2
    first, second = (
        InspectionAccumulator(layout, without_rtk=True),
        InspectionAccumulator(layout, without_rtk=True),
    )
    for i in range(len(flight)):
        (first if i < half else second).add(flight.frame(i))
    assert evaluate(second.result(), flight.anomalies).confusions  # named wrong on its own
    assert second._opening.until(len(second._sources))[0] > 8
    first.merge(pickle.loads(pickle.dumps(second)))
    assert evaluate(first.result(), flight.anomalies).confusions == {}


def test_without_rtk_each_carried_frame_is_matched_afresh_not_climbed_from_a_lagging_correction() -> None:
    # the bench's 50,000 m² roof at its 600-frame spacing: the bias moves a few centimetres a frame, and a
    # climb from the running correction (which follows it slowly) ended on the grid's local maximum 0.4 of a
    # module along the row for a few frames at a time (73 false findings in its first 200 frames,
    # "vegetation" about 10 K below its neighbours and substrings); the coarse match on every frame finds
    # the peak
    layout = generate_layout(rectangle(250.0, 200.0), LayoutParams())
    flight = synthetic_flight(
        layout,
        seed=7,
        anomalies_per_class=4,
        whole_modules=False,
        conditions=Conditions(gps_bias_sigma_m=1.5),
    )
    acc = InspectionAccumulator(layout)
    for i in range(200):
        acc.add(flight.frame(i))
    assert evaluate(acc.result(), flight.anomalies).confusions == {}


def test_a_flight_whose_rtk_fix_is_lost_halfway_goes_on_naming_as_the_fixed_frames_did(flight) -> None:  # type: ignore[no-untyped-def]
    # the first half as with an RTK fix (the true positions, RtkFlag 50), the rest single point (biased,
    # RtkFlag 16): the first frame without a fix links to the fingerprints of the last fixed one, so the
    # jump of its position by the bias does not rename the modules
    half = len(flight) // 2
    origin = flight.layout.origin
    acc = InspectionAccumulator(flight.layout)
    for i in range(len(flight)):
        frame = flight.frame(i)
        if i < half:
            lon, lat = origin.to_lonlat(flight.poses[i].x_m, flight.poses[i].y_m)
            fixed = dataclasses.replace(frame.meta, lon=lon, lat=lat, rtk_flag=50, position_std_m=0.02)
            frame = dataclasses.replace(frame, meta=fixed)
        acc.add(frame)
    result = acc.result()
    assert result.positions == (half, len(flight) - half, 0)
    assert 0 < result.frames_named <= len(flight) - half
    assert evaluate(result, flight.anomalies).confusions == {}

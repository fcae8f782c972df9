from __future__ import annotations

import math

import pytest

from gongzhi.modules.pv.analytics.anomalies import Anomaly
from gongzhi.modules.pv.analytics.evaluation import evaluate
from gongzhi.modules.pv.analytics.modules import Finding, InspectionResult, ModuleResult
from gongzhi.modules.pv.analytics.synthetic import PlantedAnomaly


def seen(*ids: str) -> tuple[ModuleResult, ...]:
    return tuple(ModuleResult(i, 3, 45.0, 46.0, 47.0, 0.0, 0.0, math.nan, math.nan) for i in ids)


def found(module_id: str, anomaly: Anomaly) -> Finding:
    return Finding(module_id, anomaly, 5.0, None, 50.0, "S1", 2, 3, 1.0, math.nan, math.nan, (), {})


def test_it_counts_hits_misses_wrong_classes_and_false_alarms_per_class() -> None:
    truth = [
        PlantedAnomaly("A-01-01", Anomaly.HOT_SPOT, 20.0),
        PlantedAnomaly("A-01-02", Anomaly.HOT_SPOT, 15.0),
        PlantedAnomaly("A-01-03", Anomaly.SOILING, 2.0),
        PlantedAnomaly("A-09-09", Anomaly.SHADING, -5.0),  # never flown over: left out
    ]
    result = InspectionResult(
        seen("A-01-01", "A-01-02", "A-01-03", "A-01-04"),
        (
            found("A-01-01", Anomaly.HOT_SPOT),
            found("A-01-02", Anomaly.CRACKING),
            found("A-01-04", Anomaly.CRACKING),
        ),
        3, 3, None, None, 0, {}, (),
    )  # fmt: skip
    ev = evaluate(result, truth)
    hot, crack, soil = ev.score(Anomaly.HOT_SPOT), ev.score(Anomaly.CRACKING), ev.score(Anomaly.SOILING)
    assert (hot.true_positives, hot.false_positives, hot.false_negatives) == (1, 0, 1)
    assert (crack.true_positives, crack.false_positives, crack.false_negatives) == (0, 2, 0)
    assert (soil.true_positives, soil.false_negatives) == (0, 1)
    assert hot.precision == 1.0 and hot.recall == pytest.approx(0.5)
    assert crack.precision == 0.0 and crack.recall == 1.0
    assert ev.score(Anomaly.SHADING).support == 0
    assert ev.confusions == {("hot_spot", "cracking"): 1, ("none", "cracking"): 1, ("soiling", "none"): 1}
    assert not ev.module_accuracy_ok

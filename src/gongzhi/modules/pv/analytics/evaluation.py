"""Per-class precision and recall of an inspection against synthetic ground truth.

A module counts once per class: a true positive when the inspection reports the planted class on it, a
false negative of the planted class otherwise, and a false positive of the reported class when it reports
a class that was not planted there (a wrong class is both a false negative and a false positive). Modules
never seen by the flight are left out of recall (they cannot be found).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gongzhi.modules.pv.analytics.anomalies import ANOMALIES, Anomaly
from gongzhi.modules.pv.analytics.modules import InspectionResult
from gongzhi.modules.pv.analytics.synthetic import PlantedAnomaly


@dataclass(frozen=True, slots=True)
class ClassScore:
    """Counts and rates of one class.

    Attributes
    ----------
    anomaly : Anomaly
        The class.
    true_positives, false_positives, false_negatives : int
        Module counts [-].
    """

    anomaly: Anomaly
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1 when nothing was reported [-]."""
        reported = self.true_positives + self.false_positives
        return self.true_positives / reported if reported else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1 when nothing was planted [-]."""
        planted = self.true_positives + self.false_negatives
        return self.true_positives / planted if planted else 1.0

    @property
    def support(self) -> int:
        """Planted modules of the class [-]."""
        return self.true_positives + self.false_negatives


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Scores of an inspection against ground truth.

    Attributes
    ----------
    classes : tuple of ClassScore
        One per anomaly class.
    confusions : dict
        (planted, reported) → count, for every module where they differ (``none`` for missed / spurious).
    """

    classes: tuple[ClassScore, ...]
    confusions: dict[tuple[str, str], int]

    def score(self, anomaly: Anomaly) -> ClassScore:
        """Score of one class."""
        return next(c for c in self.classes if c.anomaly is anomaly)

    @property
    def module_accuracy_ok(self) -> bool:
        """Whether every class with support reaches 0.95 precision and recall."""
        return all(c.precision >= 0.95 and c.recall >= 0.95 for c in self.classes if c.support)


def evaluate(result: InspectionResult, truth: Iterable[PlantedAnomaly]) -> Evaluation:
    """Compare an inspection's findings with the planted anomalies, per class.

    Parameters
    ----------
    result : InspectionResult
        From :func:`.modules.analyse_flight`.
    truth : iterable of PlantedAnomaly
        From :attr:`.synthetic.SyntheticFlight.anomalies`.

    Returns
    -------
    Evaluation
    """
    seen = {m.module_id for m in result.modules}
    planted: Mapping[str, Anomaly] = {a.module_id: a.anomaly for a in truth if a.module_id in seen}
    reported: dict[str, Anomaly] = {}
    for f in result.findings:
        reported.setdefault(f.module_id, f.anomaly_class)
    tp = dict.fromkeys(ANOMALIES, 0)
    fp = dict.fromkeys(ANOMALIES, 0)
    fn = dict.fromkeys(ANOMALIES, 0)
    confusions: dict[tuple[str, str], int] = {}
    for module in seen:
        want, got = planted.get(module, Anomaly.NONE), reported.get(module, Anomaly.NONE)
        if want is got:
            if want is not Anomaly.NONE:
                tp[want] += 1
            continue
        if want is not Anomaly.NONE:
            fn[want] += 1
        if got is not Anomaly.NONE:
            fp[got] += 1
        confusions[(want.value, got.value)] = confusions.get((want.value, got.value), 0) + 1
    return Evaluation(tuple(ClassScore(a, tp[a], fp[a], fn[a]) for a in ANOMALIES), confusions)

"""The seam between the platform (pipeline, worker, CLI) and the PV analytics and readers: how a frame file
is read, how a per-module accumulator is made and merged, and how its result becomes platform records."""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gongzhi.modules.pv.analytics.cameras import CAMERAS
from gongzhi.modules.pv.analytics.frames import ThermalFrame
from gongzhi.modules.pv.analytics.layout import MODULE_TYPES, PlantLayout
from gongzhi.modules.pv.analytics.modules import (
    InspectionAccumulator,
    InspectionResult,
    LayoutFreeAccumulator,
    ModuleClassifier,
    ModuleResult,
    RuleClassifier,
)
from gongzhi.modules.pv.io import dji_thermal_cli
from gongzhi.modules.pv.io.thermal import check_frame, read_frame
from gongzhi.modules.pv.outcome import FindingRecord, ModuleRecord, OutcomeExtra


def read(path: Path) -> ThermalFrame:
    """Read one radiometric frame; raises ``ValueError`` (a ``ReaderError``, with the file's name) when it is
    not one."""
    return read_frame(path)


def check(path: Path, name: str) -> None:
    """Refuse, with ``name`` in the reason, a frame file the analysis could not read, without converting a
    DJI R-JPEG (:func:`.io.thermal.check_frame`); raises ``ValueError`` (a ``ReaderError``)."""
    check_frame(path, name)


def prepare(paths: Sequence[Path], jobs: int) -> None:
    """Get a flight's files ready to read before its frames are: the temperatures of its DJI R-JPEGs converted
    in one call of ``dji-thermal-cli`` with ``jobs`` processes (:func:`.io.dji_thermal_cli.prepare`), rather
    than in one call each as they are read. A file it cannot convert is refused when read, with the reason."""
    dji_thermal_cli.prepare(paths, jobs=jobs)


_KERNELS = "gongzhi.modules.pv.analytics.kernels"


def load_kernels() -> None:
    """Load the analysis's compiled kernels now (a process pool's parent, so that forked workers inherit
    them instead of each loading them on its first frame), with the cyclic collector paused: numba's
    set-up makes over a hundred thousand objects, and the collections they set off (about a sixth of
    the load's CPU) free nothing.

    The first load then moves every object of the process into the collector's permanent generation
    (``gc.freeze``): numba's objects live as long as the process, and otherwise the next full collection
    (~0.2 s, in the template's set-up) and each forked worker's (touching every inherited object's
    header, so copying its memory page) would scan them all for nothing. Frozen objects are still freed
    when no longer referenced; only a cycle among them would never be."""
    if _KERNELS in sys.modules:
        return
    with cyclic_gc_paused():
        importlib.import_module(_KERNELS)
    gc.freeze()


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, for bursts of allocations that make no reference cycles (it is
    left as it was afterwards)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def new_accumulator(
    layout: PlantLayout,
    irradiance_w_m2: float | None,
    camera: str | None,
    like: InspectionAccumulator | None = None,
    classifier: ModuleClassifier | None = None,
    without_rtk: bool | None = None,
) -> InspectionAccumulator:
    """A fresh accumulator, its modules classified by ``classifier`` (default the rules) and named as
    ``without_rtk`` says (:data:`.analytics.modules.POSITIONING`); ``like``'s module index and neighbours
    are reused when it has the same plant and settings (a template built once by the parent of a process
    pool)."""
    cam = CAMERAS.get(camera) if camera else None
    classifier = classifier or RuleClassifier()
    same = (
        like is not None
        and like.irradiance_w_m2 == irradiance_w_m2
        and like.camera == cam
        and like.classifier == classifier
        and like.without_rtk == without_rtk
    )
    if like is not None and same and (like.layout is layout or like.layout == layout):
        return like.fresh()
    return InspectionAccumulator(
        layout, cam, irradiance_w_m2=irradiance_w_m2, classifier=classifier, without_rtk=without_rtk
    )


def leave_layout_out(acc: InspectionAccumulator) -> None:
    """Pickle ``acc`` without its layout (the receiver has it and calls :func:`attach`)."""
    acc.leave_layout_out()


def attach(acc: InspectionAccumulator, layout: PlantLayout) -> None:
    """Give an accumulator pickled without its layout the layout back."""
    acc.attach(layout)


def merge(a: InspectionAccumulator, b: InspectionAccumulator) -> InspectionAccumulator:
    """``b``'s frames (later in the flight) into ``a``."""
    a.merge(b)
    return a


def records(
    acc: InspectionAccumulator, layout: PlantLayout
) -> tuple[list[ModuleRecord], list[FindingRecord], OutcomeExtra]:
    """Every module of the layout (unseen ones with no figures) and every finding, as platform records."""
    result: InspectionResult = acc.result()
    worst = _worst_classes(result)
    seen = {m.module_id: m for m in result.modules}
    ids = [m.id for m in layout.modules]
    xy = layout.centres_xy()
    lons, lats = (a.tolist() for a in layout.origin.to_lonlat_array(xy[:, 0], xy[:, 1]))
    # built a column at a time: on a large plant these are 17,000 records, which a loop calling a
    # function for each builds at about twice the CPU
    rs = [seen.get(i) for i in ids]
    modules = list(map(
        ModuleRecord, ids, lons, lats,
        [0 if r is None else r.frames_seen for r in rs],
        [None if r is None else r.t_median_c for r in rs],
        [None if r is None else r.t_p95_c for r in rs],
        [None if r is None else r.t_max_c for r in rs],
        [None if r is None else r.t_corrected_k for r in rs],
        [None if r is None else r.soiling_index for r in rs],
        ["unseen" if r is None else worst.get(i, "none") for i, r in zip(ids, rs, strict=True)],
        [{} if r is None or r.rgb_soiling_index is None else _record_extra(r) for r in rs],
    ))  # fmt: skip
    return modules, _finding_records(result), _extra(result)


def new_photo_accumulator(
    irradiance_w_m2: float | None,
    camera: str | None,
    module_type: str = "72",
    classifier: ModuleClassifier | None = None,
) -> LayoutFreeAccumulator:
    """An accumulator for photos without a plant layout: the modules are segmented in each frame
    (``module_type``: a key of ``MODULE_TYPES``, the cell grid the maps are resampled on) and classified by
    ``classifier`` (default the rules)."""
    cam = CAMERAS.get(camera) if camera else None
    return LayoutFreeAccumulator(
        cam, module_type=MODULE_TYPES[module_type], irradiance_w_m2=irradiance_w_m2, classifier=classifier
    )


def photo_records(acc: LayoutFreeAccumulator) -> tuple[list[ModuleRecord], list[FindingRecord], OutcomeExtra]:
    """Every module the photos showed (ids ``X-00001`` when the frames are placed by GPS, ``F0003-017``
    per frame otherwise; no position is NaN) and every finding, as platform records."""
    result = acc.result()
    worst = _worst_classes(result)
    modules = [_module_record(m, m.lon, m.lat, worst) for m in result.modules]
    return modules, _finding_records(result), _extra(result)


def _module_record(r: ModuleResult, lon: float, lat: float, worst: dict[str, str]) -> ModuleRecord:
    """A seen module's record at (``lon``, ``lat``), classed by its most severe finding (``worst``)."""
    return ModuleRecord(
        module_id=r.module_id,
        lon=lon,
        lat=lat,
        frames_seen=r.frames_seen,
        t_median_c=r.t_median_c,
        t_p95_c=r.t_p95_c,
        t_max_c=r.t_max_c,
        t_corrected_k=r.t_corrected_k,
        soiling_index=r.soiling_index,
        anomaly_class=worst.get(r.module_id, "none"),
        extra=_record_extra(r),
    )


def _record_extra(r: ModuleResult) -> dict[str, Any]:
    """A seen module's :attr:`ModuleRecord.extra`."""
    return {} if r.rgb_soiling_index is None else {"rgb_soiling_index": r.rgb_soiling_index}


def _worst_classes(result: InspectionResult) -> dict[str, str]:
    """Each module's most severe class (the findings come most severe first)."""
    worst: dict[str, str] = {}
    for f in result.findings:
        worst.setdefault(f.module_id, f.anomaly_class.value)
    return worst


def _finding_records(result: InspectionResult) -> list[FindingRecord]:
    return [
        FindingRecord(
            module_id=f.module_id,
            anomaly_class=f.anomaly_class.value,
            delta_t_k=f.delta_t_k,
            delta_tn_k=f.delta_tn_k,
            t_max_c=f.t_max_c,
            severity=f.severity,
            coa=f.coa,
            frames_seen=f.frames_seen,
            confidence=f.confidence,
            lon=f.lon,
            lat=f.lat,
            best_frame=f.evidence[0] if f.evidence else None,
            details={**f.details, "frames": list(f.evidence[:20])},
        )
        for f in result.findings
    ]


def _extra(result: InspectionResult) -> OutcomeExtra:
    return OutcomeExtra(
        frames_with_modules=result.frames_used,
        irradiance_w_m2=result.irradiance_w_m2,
        iec_compliant=result.iec_compliant,
        reflections_rejected=result.reflections_rejected,
        soiling_by_zone=dict(result.soiling_by_zone),
        notes=tuple(result.notes),
        rgb_soiling_by_zone=dict(result.rgb_soiling_by_zone),
        positions=result.positions,
        frames_named=result.frames_named,
    )

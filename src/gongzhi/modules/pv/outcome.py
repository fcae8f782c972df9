"""What a flight's analysis hands to the platform: plain records of modules and findings, and the figures of
the flight; the CLI writes them as files, the worker stores them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from gongzhi import errors
from gongzhi.modules.pv.analytics.oblique import NEAR_NADIR_DEG


class _OnAModule(Protocol):
    @property
    def module_id(self) -> str: ...

    @property
    def delta_t_k(self) -> float | None: ...


F = TypeVar("F", bound=_OnAModule)


def worst_by_module(findings: Iterable[F]) -> dict[str, F]:
    """Each module's worst finding: the one of the largest ΔT (the first of equals; no ΔT counts as 0).
    The one a module's results row, map colour and placemark show, of records or of stored findings."""
    worst: dict[str, F] = {}
    for f in findings:
        known = worst.get(f.module_id)
        if known is None or (f.delta_t_k or 0) > (known.delta_t_k or 0):
            worst[f.module_id] = f
    return worst


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """Where and when one frame was taken, as its reader found it (file name, not the source path)."""

    name: str
    time: dt.datetime | None = None
    lat: float | None = None
    lon: float | None = None
    alt_rel_m: float | None = None
    yaw_deg: float | None = None
    camera: str | None = None
    model: str | None = None
    pitch_deg: float | None = None
    """The gimbal's pitch, −90 straight down [°]."""
    visible: str | None = None
    """What became of the visible-light photo taken with the frame: ``"used"``, the reason it was not
    (:attr:`.io.visible.VisibleError.reason`), or ``None`` when there was none."""

    def meta(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (("alt_rel_m", self.alt_rel_m), ("yaw_deg", self.yaw_deg), ("camera", self.camera),
                         ("model", self.model), ("pitch_deg", self.pitch_deg), ("visible", self.visible))
            if v is not None
        }  # fmt: skip


class SkippedFrame(str):
    """A frame the analysis left out: its text is ``file: why`` (what the command line prints), and its
    parts are kept apart for the console, which shows them in its reader's language.

    ``reason`` says what kind of reason it is: a reader's (:attr:`.io.reader_errors.ReaderError.reason`,
    the file could not be read as temperatures) or an accumulator's
    (:data:`.analytics.modules.SKIP_REASONS`, read but not analysed). ``why`` is a
    :func:`gongzhi.errors.msg` where the project words it, the reader's own English otherwise.
    """

    file: str
    reason: str
    why: str

    def __new__(cls, file: str, reason: str, why: str) -> SkippedFrame:
        self = super().__new__(cls, f"{file}: {why}")
        self.file, self.reason, self.why = file, reason, why
        return self

    def __reduce__(self) -> tuple[type[SkippedFrame], tuple[str, str, str]]:
        return SkippedFrame, (self.file, self.reason, self.why)

    def record(self) -> dict[str, Any]:
        """As an inspection's summary keeps it (``frames_skipped``): ``file``, ``reason``, and ``why`` as
        :func:`gongzhi.errors.stored` keeps a detail (``message``, the English, with ``template`` and
        ``params`` when it is a :func:`~gongzhi.errors.msg`)."""
        return {"file": self.file, "reason": self.reason, **errors.stored(self.why)}


@dataclass(frozen=True, slots=True)
class OutcomeExtra:
    """Figures of the whole flight from the analysis."""

    frames_with_modules: int = 0
    irradiance_w_m2: float | None = None
    iec_compliant: bool | None = None
    reflections_rejected: int = 0
    soiling_by_zone: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    """What the reader should know of the flight (irradiance, classes, sun reflections): each a
    :func:`gongzhi.errors.msg` where the analysis made it one, kept in the summary as
    :func:`gongzhi.errors.stored` keeps a detail, so that the console shows it in its reader's language."""
    rgb_soiling_by_zone: dict[str, float] = field(default_factory=dict)
    positions: tuple[int, int, int] = (0, 0, 0)
    """Frames whose position was an RTK fix, was not, did not say (``FrameMeta.position_fixed``)."""
    frames_named: int = 0
    """Frames whose modules were named by fingerprints and row ends (``analytics/aliases.py``)."""


# not frozen: a frozen dataclass sets each field through object.__setattr__, which makes building one
# cost about seven times the CPU, and a flight builds one a module (17,000 on a 50,000 m² roof)
@dataclass(slots=True)
class ModuleRecord:
    """What a flight measured on one module."""

    module_id: str
    lon: float
    lat: float
    frames_seen: int
    t_median_c: float | None
    t_p95_c: float | None
    t_max_c: float | None
    t_corrected_k: float | None
    soiling_index: float | None
    anomaly_class: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """An anomaly on a module: class, ΔT measured and normalised [K], severity band, class of abnormality."""

    module_id: str
    anomaly_class: str
    delta_t_k: float | None
    delta_tn_k: float | None
    t_max_c: float | None
    severity: str
    coa: int
    frames_seen: int
    confidence: float | None
    lon: float
    lat: float
    best_frame: str | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FlightOutcome:
    modules: tuple[ModuleRecord, ...]
    findings: tuple[FindingRecord, ...]
    frames: int
    frames_used: int
    irradiance_w_m2: float | None
    iec_compliant: bool | None
    skipped: tuple[SkippedFrame, ...] = ()
    extra: OutcomeExtra = field(default_factory=OutcomeExtra)
    frame_infos: tuple[FrameInfo, ...] = ()

    @property
    def time_span(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """First and last frame time, when the frames carry times."""
        times = sorted(f.time for f in self.frame_infos if f.time is not None)
        return (times[0], times[-1]) if times else (None, None)

    @property
    def oblique(self) -> tuple[int, float | None]:
        """How many frames were taken oblique (resampled onto the module plane: more than
        :data:`.analytics.oblique.NEAR_NADIR_DEG` from straight down), and their median pitch [°]."""
        oblique = -90.0 + NEAR_NADIR_DEG
        pitches = sorted(
            f.pitch_deg for f in self.frame_infos if f.pitch_deg is not None and f.pitch_deg > oblique
        )
        return len(pitches), (pitches[len(pitches) // 2] if pitches else None)

    @property
    def camera(self) -> str | None:
        """The camera most frames name."""
        names = [f.camera for f in self.frame_infos if f.camera]
        return max(set(names), key=names.count) if names else None

    def visible_summary(self) -> dict[str, Any]:
        """The visible-light photos' part of the summary: how many frames had one registered, those that
        could not be and why (the reason's count), and the visible soiling per zone; empty without photos."""
        used, unused = 0, dict[str, int]()
        for f in self.frame_infos:
            if f.visible == "used":
                used += 1
            elif f.visible is not None:
                unused[f.visible] = unused.get(f.visible, 0) + 1
        if not used and not unused:
            return {}
        return {
            "frames_with_visible": used,
            "visible_photos_unused": dict(sorted(unused.items())),
            "rgb_soiling_by_zone": {
                k: round(v, 4) for k, v in sorted(self.extra.rgb_soiling_by_zone.items())
            },
        }

    def summary(self) -> dict[str, Any]:
        by_class: dict[str, int] = {}
        by_severity: dict[str, int] = {}
        for f in self.findings:
            by_class[f.anomaly_class] = by_class.get(f.anomaly_class, 0) + 1
            by_severity[f.severity] = by_severity.get(f.severity, 0) + 1
        oblique, pitch = self.oblique
        return {
            "frames": self.frames,
            "frames_used": self.frames_used,
            "frames_skipped": [s.record() for s in self.skipped[:50]],
            "frames_oblique": oblique,
            "gimbal_pitch_deg": pitch,
            "modules": len(self.modules),
            "modules_seen": sum(1 for m in self.modules if m.frames_seen),
            "findings": len(self.findings),
            "by_class": dict(sorted(by_class.items())),
            "by_severity": dict(sorted(by_severity.items())),
            "frames_with_modules": self.extra.frames_with_modules,
            "irradiance_w_m2": self.irradiance_w_m2,
            "iec_compliant": self.iec_compliant,
            "reflections_rejected": self.extra.reflections_rejected,
            "soiling_by_zone": {k: round(v, 4) for k, v in sorted(self.extra.soiling_by_zone.items())},
            **self.visible_summary(),
            "positions": dict(zip(("rtk_fixed", "not_fixed", "unknown"), self.extra.positions, strict=True)),
            "frames_named_without_rtk": self.extra.frames_named,
            "notes": [errors.stored(n) for n in self.extra.notes],
            "first_frame_at": None if self.time_span[0] is None else self.time_span[0].isoformat(),
            "last_frame_at": None if self.time_span[1] is None else self.time_span[1].isoformat(),
        }

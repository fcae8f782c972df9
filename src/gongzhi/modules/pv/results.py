"""Inspections in the worker: claim a queued flight, analyse its frames with progress, store per-module
results and findings, and raise one core alert per module and anomaly class (a re-seen module bumps it)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi import errors
from gongzhi.cases import alerts
from gongzhi.cases.schemas import AlertRaise, Severity
from gongzhi.core import outbox
from gongzhi.db import Scope, SessionFactory, unit_of_work, utcnow
from gongzhi.errors import DomainError, InvalidInput, Message
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import names, pipeline, report, service
from gongzhi.modules.pv.analytics.anomalies import Anomaly
from gongzhi.modules.pv.analytics.cameras import CAMERAS
from gongzhi.modules.pv.analytics.layout import PlantLayout
from gongzhi.modules.pv.analytics.modules import ModuleClassifier, ism_classifier
from gongzhi.modules.pv.io import kml
from gongzhi.modules.pv.models import PvFinding, PvFrame, PvInspection, PvModule, PvModuleResult, PvPlant
from gongzhi.modules.pv.outcome import FindingRecord, FlightOutcome, ModuleRecord, worst_by_module
from gongzhi.registry import Registry

if TYPE_CHECKING:
    from fastapi import UploadFile

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 1.0
STALE_AFTER = timedelta(minutes=10)
"""A running inspection whose progress has not moved for this long has lost its worker."""
ALERT_SEVERITY: dict[str, Severity] = {"S1": "low", "S2": "medium", "S3": "high"}


def inspection_classifier(inspection: PvInspection) -> ModuleClassifier | None:
    """What names the anomalies of ``inspection``: ``None`` for the rules alone (the accumulators' default),
    else the shipped crop network behind the rules at :func:`.service.network_confidence`."""
    least = service.network_confidence(inspection)
    return None if least is None else ism_classifier(least)


def check_frame(path: Path, name: str) -> None:
    """Refuse a frame the readers cannot turn into temperatures (400 with the reader's reason, the frame by
    the name it was uploaded with); a DJI R-JPEG is checked without being converted, which the worker does
    for the whole flight in one call."""
    try:
        adapter.check(path, name)
    except InvalidInput:
        raise
    except ValueError as exc:
        raise InvalidInput(f"{name}: not a radiometric thermal frame: {exc}") from exc


def queue_upload(
    s: Session,
    store: FileStore,
    plant_id: int,
    files: Sequence[UploadFile],
    conditions: service.FlightConditions,
) -> PvInspection:
    """Queue an inspection of ``plant_id`` from a request's uploaded files (frames or zip archives), each
    named by its uploaded name, the first frame checked by the readers (:func:`check_frame`); the API and
    the console's upload form both come here."""
    uploads = [(f.filename or f"frame-{i}", f.file) for i, f in enumerate(files)]
    return service.create_inspection(s, store, plant_id, uploads, conditions, check=check_frame)


def _scope(inspection: PvInspection) -> Scope:
    return Scope(region_id=inspection.region_id, system=True, username="pv-worker")


def claim_next(factory: SessionFactory, *, now: datetime | None = None) -> int | None:
    """Mark the oldest waiting uploaded inspection running and return its id (``None`` when none waits).

    Waiting: queued, or running without a sign of life for ``STALE_AFTER`` (its worker died, e.g. the
    server restarted mid-flight): such a flight is analysed again from the start. A dock flight is analysed
    by the dock listener as its frames arrive (modules/pv/dock.py), never here.
    """
    now = now or utcnow()
    with unit_of_work(factory, Scope.for_system()) as s:
        stale = (PvInspection.status == "running") & (PvInspection.heartbeat_at < now - STALE_AFTER)
        waiting = (PvInspection.status == "queued") | stale
        stmt = select(PvInspection).where(waiting, PvInspection.source != "dock").order_by(PvInspection.id)
        inspection = s.execute(stmt.limit(1).with_for_update(skip_locked=True)).scalar_one_or_none()
        if inspection is None:
            return None
        inspection.status, inspection.progress, inspection.frames_done = "running", 0.0, 0
        inspection.heartbeat_at = now
        return inspection.id


def process_queued(
    factory: SessionFactory, registry: Registry, store: FileStore, *, workers: int = 1, limit: int = 10
) -> list[int]:
    """Analyse queued inspections one after another; returns the ids handled."""
    done = []
    for _ in range(limit):
        inspection_id = claim_next(factory)
        if inspection_id is None:
            break
        process(factory, registry, store, inspection_id, workers=workers)
        done.append(inspection_id)
    return done


def process(
    factory: SessionFactory, registry: Registry, store: FileStore, inspection_id: int, *, workers: int = 1
) -> None:
    """Analyse one claimed inspection; a flight that cannot be analysed ends ``failed`` with the reason."""
    job = None
    try:
        job = _load(factory, store, inspection_id)
        result = pipeline.analyse_flight(
            job.paths,
            job.layout,
            irradiance_w_m2=job.irradiance,
            camera=job.camera,
            workers=workers,
            progress=_progress_writer(factory, job.scope, inspection_id),
            photos=job.photos,
            classifier=job.classifier,
            positioning=job.positioning,
        )
        with unit_of_work(factory, job.scope) as s:
            store_outcome(s, registry, s.get_one(PvInspection, inspection_id), result, job.names)
    except Exception as exc:  # noqa: BLE001 - the flight fails, the worker goes on with the next one
        log.warning("inspection %s failed: %s", inspection_id, exc)
        with unit_of_work(factory, Scope.for_system()) as s:
            failed(s.get_one(PvInspection, inspection_id), exc, job.names if job is not None else {})


FAILURE_KEYS = ("error", "failed_in")
"""What :func:`failed` writes into an inspection's summary (gone again if the inspection comes back)."""


def failed(
    inspection: PvInspection, exc: Exception, frames: dict[str, tuple[str, str]], *, in_flight: bool = False
) -> None:
    """End ``inspection`` ``failed`` with the reason, its frames named as they were uploaded (``frames``:
    stored name → (uploaded name, digest)). When no frame could be analysed, the reason is that sentence
    alone and the summary lists each frame's reason (``frames_skipped``), as a done inspection's does.

    ``error`` keeps the English; a reason the project words itself (a domain error's
    :func:`~gongzhi.errors.msg`) is kept in ``summary["error"]`` too (:func:`gongzhi.errors.stored`), so
    that the console says it in its reader's language. ``in_flight``: the dock's flight failed, not the
    analysis (``summary["failed_in"] = "flight"``)."""
    detail: str = exc.detail if isinstance(exc, DomainError) else str(exc)
    summary = {k: v for k, v in inspection.summary.items() if k not in FAILURE_KEYS}
    if in_flight:
        summary["failed_in"] = "flight"
    if isinstance(exc, pipeline.NothingAnalysed):
        detail = pipeline.NOTHING_ANALYSED
        listed = exc.skipped[: service.FRAMES_LISTED]
        summary["frames_skipped"] = [_uploaded(s.record(), frames) for s in listed]
    said = _uploaded_names(str(detail), frames)
    if isinstance(detail, Message) and said == detail:
        summary["error"] = errors.stored(detail)
    inspection.summary = summary
    inspection.status, inspection.error = "failed", said[:2000] or type(exc).__name__
    inspection.analysed_at = utcnow()


@dataclass(frozen=True)
class _Job:
    scope: Scope
    layout: PlantLayout
    paths: list[Path]
    names: dict[str, tuple[str, str]]
    irradiance: float | None
    camera: str | None
    photos: dict[Path, Path]
    """A frame's stored file → the stored visible-light photo uploaded with it."""
    classifier: ModuleClassifier | None = None
    """What names the anomalies (:func:`inspection_classifier`); ``None``: the rules."""
    positioning: str = "auto"
    """How the modules a frame sees are named (:attr:`.PvInspection.positioning`)."""


def _load(factory: SessionFactory, store: FileStore, inspection_id: int) -> _Job:
    with unit_of_work(factory, Scope.for_system()) as s:
        inspection = s.get_one(PvInspection, inspection_id)
        s.info["scope"] = scope = _scope(inspection)
        layout = service.plant_layout(s, service.get_plant(s, inspection.plant_id))
        stmt = select(PvFrame).where(PvFrame.inspection_id == inspection_id).order_by(PvFrame.seq)
        frames = list(s.execute(stmt).scalars())
        return _Job(
            scope,
            layout,
            [store.path_for(f.sha256) for f in frames],
            {store.path_for(f.sha256).name: (f.filename, f.sha256) for f in frames},
            inspection.irradiance_w_m2,
            inspection.camera or None,
            {
                store.path_for(f.sha256): store.path_for(str(f.meta[service.PHOTO_KEY]["sha256"]))
                for f in frames
                if isinstance(f.meta.get(service.PHOTO_KEY), dict)
            },
            inspection_classifier(inspection),
            inspection.positioning,
        )


def _progress_writer(factory: SessionFactory, scope: Scope, inspection_id: int) -> pipeline.Progress:
    last = [0.0]

    def write(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S and done < total:
            return
        last[0] = now
        with unit_of_work(factory, scope) as s:
            inspection = s.get_one(PvInspection, inspection_id)
            inspection.frames_done, inspection.progress = done, round(done / max(1, total), 4)
            inspection.heartbeat_at = utcnow()

    return write


def store_outcome(
    s: Session,
    registry: Registry,
    inspection: PvInspection,
    result: FlightOutcome,
    frames: dict[str, tuple[str, str]],
) -> None:
    """Keep a finished flight's results and findings, raise their alerts, mark the inspection done."""
    rid = inspection.region_id
    s.add_all(
        PvModuleResult(
            region_id=rid,
            inspection_id=inspection.id,
            module_id=m.module_id,
            frames_seen=m.frames_seen,
            t_median_c=pipeline._round(m.t_median_c),
            t_p95_c=pipeline._round(m.t_p95_c),
            t_max_c=pipeline._round(m.t_max_c),
            t_corrected_k=pipeline._round(m.t_corrected_k),
            soiling_index=pipeline._round(m.soiling_index),
            values={"anomaly_class": m.anomaly_class, **m.extra},
        )
        for m in result.modules
    )
    found = [_finding(inspection, f, frames) for f in result.findings]
    s.add_all(found)
    s.flush()
    for string, members in _alert_groups(s, inspection.plant_id, found):
        data = (
            _alert_data(inspection, members[0])
            if string is None
            else _string_alert(inspection, string, members)
        )
        alert, _ = alerts.raise_alert(
            s, registry, data, region_id=rid, resighting=inspection.source == service.REANALYSIS
        )
        for finding in members:
            finding.alert_id = alert.id
    _frame_metadata(s, inspection, result)
    inspection.status, inspection.progress, inspection.frames_done = "done", 1.0, result.frames
    inspection.iec_compliant = result.iec_compliant
    summary = result.summary()
    # the reader's skips name the stored file (its digest): the pilot knows the frame by its own name
    summary["frames_skipped"] = [_uploaded(said, frames) for said in summary["frames_skipped"]]
    upload = {k: v for k, v in inspection.summary.items() if k in service.UPLOAD_SUMMARY}
    inspection.summary = {**summary, **upload}
    inspection.analysed_at = utcnow()
    s.flush()
    payload = {"inspection_id": inspection.id, "plant_id": inspection.plant_id, **inspection.summary}
    outbox.publish(s, registry, rid, "pv.inspection.done", payload)


_STORED_NAME = re.compile(r"\b[0-9a-f]{64}\b")
"""A frame's name in the file store (its SHA-256), as the readers' messages give it."""


def _uploaded(skipped: dict[str, Any], frames: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """A skipped frame's record (:meth:`.SkippedFrame.record`) with the frame named as it was uploaded."""
    named = {**skipped, "file": _uploaded_names(skipped["file"], frames)}
    named["message"] = _uploaded_names(skipped["message"], frames)
    if "params" in skipped:
        named["params"] = {k: _uploaded_names(v, frames) for k, v in skipped["params"].items()}
    return named


def _uploaded_names(said: str, frames: dict[str, tuple[str, str]]) -> str:
    """``said`` (a reader's reasons) with each frame named as it was uploaded instead of by its digest in
    the store (``frames``: stored name → (uploaded name, digest))."""
    return _STORED_NAME.sub(lambda m: frames[m[0]][0] if m[0] in frames else m[0], said)


def _frame_metadata(s: Session, inspection: PvInspection, result: FlightOutcome) -> None:
    """What the readers found in each frame onto its row; the flight's times and camera when not given."""
    infos = {f.name: f for f in result.frame_infos}
    for row in s.execute(select(PvFrame).where(PvFrame.inspection_id == inspection.id)).scalars():
        info = infos.get(row.sha256)
        if info is not None:
            photo = row.meta.get(service.PHOTO_KEY)  # the photo uploaded with the frame stays named
            meta = {**info.meta(), **({service.PHOTO_KEY: photo} if photo else {})}
            row.taken_at, row.lat, row.lon, row.meta = info.time, info.lat, info.lon, meta
    first, last = result.time_span
    inspection.started_at = inspection.started_at or first
    inspection.finished_at = inspection.finished_at or last
    inspection.camera = inspection.camera or result.camera or ""


def _finding(inspection: PvInspection, f: FindingRecord, frames: dict[str, tuple[str, str]]) -> PvFinding:
    source = frames.get(Path(f.best_frame).name) if f.best_frame else None
    return PvFinding(
        region_id=inspection.region_id,
        inspection_id=inspection.id,
        plant_id=inspection.plant_id,
        module_id=f.module_id,
        anomaly_class=f.anomaly_class,
        delta_t_k=pipeline._round(f.delta_t_k),
        delta_tn_k=pipeline._round(f.delta_tn_k),
        t_max_c=pipeline._round(f.t_max_c),
        severity=f.severity,
        coa=f.coa,
        frames_seen=f.frames_seen,
        confidence=pipeline._round(f.confidence),
        lon=f.lon,
        lat=f.lat,
        evidence=[source[1]] if source else [],
        details={**f.details, **({"frame": source[0]} if source else {})},
    )


def dedup_key(plant_id: int, module_id: str, anomaly_class: str) -> str:
    """One live alert per plant module and anomaly class, whichever flight saw it."""
    return f"pv:{plant_id}:{module_id}:{anomaly_class}"


def string_dedup_key(plant_id: int, string: str) -> str:
    """One live alert per offline plant string, whichever flight saw it and however many modules."""
    return f"pv:{plant_id}:string:{string}:{OFFLINE_STRING}"


OFFLINE_STRING = Anomaly.STRING_OFFLINE.value


def _alert_groups(
    s: Session, plant_id: int, found: list[PvFinding]
) -> list[tuple[str | None, list[PvFinding]]]:
    """Findings as they raise alerts: one each, but the offline modules of a plant string together, with
    the string (one outage of one string is one alert, not one per module, and keeps its key whether
    one or all of its modules were seen), as the repair cases and the inspection's rows group them."""
    strings = service.offline_strings(s, plant_id, found, strung_only=True)
    groups: list[tuple[str | None, list[PvFinding]]] = list(strings.items())
    grouped = {id(f) for _, members in groups for f in members}
    return [(None, [f]) for f in found if id(f) not in grouped] + groups


def _string_alert(inspection: PvInspection, string: str, members: list[PvFinding]) -> AlertRaise:
    first = members[0]
    worst = service.worst_finding(members)
    name = names.zh(OFFLINE_STRING)
    return AlertRaise(
        kind=f"pv.{OFFLINE_STRING}",
        severity=_alert_severity(worst),
        title=f"{service.module_span(members)} {name}（{len(members)} 块组件）"[:200],
        description=(
            f"巡检 #{inspection.id}，组串 {string}：{name}，{len(members)} 块组件"
            f"（{'、'.join(f.module_id for f in members)}），严重度 {worst.severity}，CoA {worst.coa}"
        )[:4000],
        location={"type": "Point", "coordinates": [first.lon, first.lat]} if first.lon is not None else None,
        evidence=sorted({str(e) for f in members for e in f.evidence}),
        source=f"pv-inspection:{inspection.id}",
        dedup_key=string_dedup_key(inspection.plant_id, string),
    )


def _alert_severity(f: PvFinding) -> Severity:
    """An alert's severity from the finding that grades it: critical at CoA 3, else by its ΔT band."""
    return "critical" if f.coa >= 3 else ALERT_SEVERITY.get(f.severity, "medium")


def _alert_data(inspection: PvInspection, f: PvFinding) -> AlertRaise:
    at_least = service.delta_t_lower_bound(f)
    ge = "≥ " if at_least else ""
    dt = "" if f.delta_t_k is None else f" ΔT {ge}{f.delta_t_k:.1f} K"
    return AlertRaise(
        kind=f"pv.{f.anomaly_class}"[:60],
        severity=_alert_severity(f),
        title=f"{f.module_id} {names.zh(f.anomaly_class)}{dt}"[:200],
        description=(
            f"巡检 #{inspection.id}，组件 {f.module_id}：{names.zh(f.anomaly_class)}，严重度 {f.severity}，"
            f"CoA {f.coa}，{f.frames_seen} 帧可见"
            + ("" if f.delta_tn_k is None else f"，ΔTn {ge}{f.delta_tn_k:.1f} K")
            + (f"；{names.LOWER_BOUND_NOTE['zh-CN']}" if at_least else "")
        ),
        location={"type": "Point", "coordinates": [f.lon, f.lat]} if f.lon is not None else None,
        evidence=list(f.evidence),
        source=f"pv-inspection:{inspection.id}",
        dedup_key=dedup_key(inspection.plant_id, f.module_id, f.anomaly_class),
    )


# --- reading results back ---------------------------------------------------------------------------


def _rows(
    s: Session, inspection: PvInspection, *, live_only: bool = False
) -> tuple[list[dict[str, Any]], dict[str, list[list[float]]], dict[str, PvFinding]]:
    """The inspection's module rows (:func:`.pipeline.module_rows`, each with its worst finding and that
    finding's review status), the modules' outlines, and the finding each row shows by module
    (:func:`.outcome.worst_by_module`); ``live_only``: findings rejected as false alarms left out, so that
    a module's other finding stands for it."""
    modules = {
        m.module_id: m
        for m in s.execute(select(PvModule).where(PvModule.plant_id == inspection.plant_id)).scalars()
    }
    stmt = select(PvModuleResult).where(PvModuleResult.inspection_id == inspection.id)
    measured = {r.module_id: r for r in s.execute(stmt).scalars()}
    found = list(s.execute(select(PvFinding).where(PvFinding.inspection_id == inspection.id)).scalars())
    if live_only:
        found = [f for f in found if f.status != "rejected"]
    records = [
        ModuleRecord(
            module_id=mid,
            lon=m.lon,
            lat=m.lat,
            frames_seen=r.frames_seen if r else 0,
            t_median_c=r.t_median_c if r else None,
            t_p95_c=r.t_p95_c if r else None,
            t_max_c=r.t_max_c if r else None,
            t_corrected_k=r.t_corrected_k if r else None,
            soiling_index=r.soiling_index if r else None,
            anomaly_class=str(r.values.get("anomaly_class", "none")) if r else "unseen",
            extra={k: v for k, v in r.values.items() if k != "anomaly_class"} if r else {},
        )
        for mid, m in modules.items()
        for r in [measured.get(mid)]
    ]
    findings = [_record(f) for f in found]
    rows = pipeline.module_rows(records, findings)
    shown = worst_by_module(found)  # the finding each row shows, as module_rows takes it
    for row in rows:
        f = shown.get(row["module_id"])
        row["finding_status"] = f.status if f else ""
    return rows, {mid: m.outline for mid, m in modules.items()}, shown


def _record(f: PvFinding) -> FindingRecord:
    return FindingRecord(
        f.module_id,
        f.reviewed_class or f.anomaly_class,
        f.delta_t_k,
        f.delta_tn_k,
        f.t_max_c,
        f.severity,
        f.coa,
        f.frames_seen,
        f.confidence,
        f.lon or 0.0,
        f.lat or 0.0,
        None,
        dict(f.details or {}),
    )


def results_geojson(s: Session, inspection_id: int) -> dict[str, Any]:
    inspection = service.finished_inspection(s, inspection_id)
    rows, outlines, _ = _rows(s, inspection)
    return pipeline.results_geojson(rows, outlines, inspection.summary)


def results_kml(s: Session, inspection_id: int, lang: str = "zh-CN") -> bytes:
    """A finished inspection's findings as KML for a field crew's map (:func:`.io.kml.findings_kml`): the
    reviewed class where an operator changed it, false alarms left out."""
    inspection = service.finished_inspection(s, inspection_id)
    rows, outlines, _ = _rows(s, inspection, live_only=True)
    return kml.findings_kml(rows, outlines, title=_map_title(s, inspection, lang), lang=lang)


def results_kmz(s: Session, store: FileStore, inspection_id: int, lang: str = "zh-CN") -> bytes:
    """:func:`results_kml` as KMZ with each placemark's thermal crop and visible photo, those of the O&M
    report (:func:`.report.finding_pictures`; a frame that cannot be read leaves its pictures out)."""
    inspection = service.finished_inspection(s, inspection_id)
    rows, outlines, shown = _rows(s, inspection, live_only=True)
    pictures = report.finding_pictures(s, store, list(shown.values()), CAMERAS.get(inspection.camera or ""))
    by_module = {mid: pictures[f.id] for mid, f in shown.items() if f.id in pictures}
    return kml.findings_kmz(rows, outlines, by_module, title=_map_title(s, inspection, lang), lang=lang)


def _map_title(s: Session, inspection: PvInspection, lang: str) -> str:
    """A findings map's name: the plant and the inspection."""
    plant = s.get_one(PvPlant, inspection.plant_id)
    return f"{plant.name} #{inspection.id}" if lang == "en" else f"{plant.name} 巡检 #{inspection.id}"


def results_csv(s: Session, inspection_id: int) -> str:
    rows, _, _ = _rows(s, service.finished_inspection(s, inspection_id))
    return pipeline.results_csv(rows)

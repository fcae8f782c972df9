"""Tables of the PV module: plants with their module layout, inspections (one flight each) with their
frames, per-module results and findings that an operator reviews before they become cases (issue 5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gongzhi.db import Base, RegionOwned, utcnow

INSPECTION_STATUSES = ("queued", "running", "done", "failed")
FINDING_STATUSES = ("new", "accepted", "rejected", "reclassified")


class PvPlant(RegionOwned, Base):
    """A rooftop or ground plant: its outline (GeoJSON Polygon, WGS84) and the parameters of its layout."""

    __tablename__ = "pv_plants"
    __table_args__ = (UniqueConstraint("region_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    polygon: Mapped[dict[str, Any]]
    row_azimuth_deg: Mapped[float | None]
    tilt_deg: Mapped[float | None]
    layout_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    layout_source: Mapped[str] = mapped_column(String(20), default="generated")
    module_count: Mapped[int] = mapped_column(default=0)
    area_m2: Mapped[float] = mapped_column(default=0.0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the plant's cleaning economics as its operator gave them; empty: the platform's default
    # (:func:`.loop.plant_economics`, which the report, the plant page and the defect ledger read)
    cleaning_cost_yuan: Mapped[float | None]
    tariff_yuan_kwh: Mapped[float | None]
    energy_kwh_per_day: Mapped[float | None]
    soiling_rate_per_day: Mapped[float | None]
    # how the plant's flights are flown: the positioning ("auto", "rtk" or "gnss") of its uploads and dock
    # flights that name none (``PvInspection.positioning``)
    positioning: Mapped[str] = mapped_column(String(10), default="auto", server_default="auto")


class PvModule(RegionOwned, Base):
    """One module of a plant, with a stable id (``A-03-17``: array A, row 3, position 17) and its outline."""

    __tablename__ = "pv_modules"
    __table_args__ = (UniqueConstraint("plant_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plant_id: Mapped[int] = mapped_column(ForeignKey("pv_plants.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[str] = mapped_column(String(40))
    array: Mapped[str] = mapped_column(String(20), default="")
    row: Mapped[int] = mapped_column(default=0)
    position: Mapped[int] = mapped_column(default=0)
    string: Mapped[str] = mapped_column(String(40), default="")
    x_m: Mapped[float]
    y_m: Mapped[float]
    lon: Mapped[float]
    lat: Mapped[float]
    outline: Mapped[list[Any]]


class PvInspection(RegionOwned, Base):
    """One flight over a plant and its analysis: conditions, IEC TS 62446-3 compliance, status, progress."""

    __tablename__ = "pv_inspections"
    __table_args__ = (Index("ix_pv_inspections_plant_created", "plant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plant_id: Mapped[int] = mapped_column(ForeignKey("pv_plants.id", ondelete="CASCADE"))
    camera: Mapped[str] = mapped_column(String(40), default="")
    source: Mapped[str] = mapped_column(String(20), default="upload")
    # what names a flagged module's anomaly: "rules", or "learned" (the rules, overruled by the shipped crop
    # network where it is confident; ``analytics.modules.ism_classifier``)
    classifier: Mapped[str] = mapped_column(String(20), default="rules", server_default="rules")
    # with "learned": the network's least confidence to rename an anomaly the rules found (else NULL)
    min_confidence: Mapped[float | None]
    # how the modules a frame sees are named: "auto", "rtk" or "gnss" (``analytics.modules.POSITIONING``)
    positioning: Mapped[str] = mapped_column(String(10), default="auto", server_default="auto")
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    irradiance_w_m2: Mapped[float | None]
    ambient_temp_c: Mapped[float | None]
    wind_m_s: Mapped[float | None]
    iec_compliant: Mapped[bool | None]
    frame_count: Mapped[int] = mapped_column(default=0)
    frames_done: Mapped[int] = mapped_column(default=0)
    progress: Mapped[float] = mapped_column(default=0.0)
    error: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    analysed_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]


class PvFrame(RegionOwned, Base):
    """One uploaded thermal frame: the file is evidence (by hash), the metadata what its reader found."""

    __tablename__ = "pv_frames"
    __table_args__ = (UniqueConstraint("inspection_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("pv_inspections.id", ondelete="CASCADE"))
    seq: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    taken_at: Mapped[datetime | None]
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)


class PvModuleResult(RegionOwned, Base):
    """What one inspection measured on one module (every module seen, anomalous or not)."""

    __tablename__ = "pv_module_results"
    __table_args__ = (UniqueConstraint("inspection_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("pv_inspections.id", ondelete="CASCADE"))
    module_id: Mapped[str] = mapped_column(String(40))
    frames_seen: Mapped[int] = mapped_column(default=0)
    t_median_c: Mapped[float | None]
    t_p95_c: Mapped[float | None]
    t_max_c: Mapped[float | None]
    t_corrected_k: Mapped[float | None]
    soiling_index: Mapped[float | None]
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)


class PvFinding(RegionOwned, Base):
    """An anomaly on a module found by an inspection; the operator accepts, rejects or reclassifies it."""

    __tablename__ = "pv_findings"
    __table_args__ = (
        UniqueConstraint("inspection_id", "module_id", "anomaly_class"),
        Index("ix_pv_findings_plant_module", "plant_id", "module_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("pv_inspections.id", ondelete="CASCADE"))
    plant_id: Mapped[int] = mapped_column(ForeignKey("pv_plants.id", ondelete="CASCADE"))
    module_id: Mapped[str] = mapped_column(String(40))
    anomaly_class: Mapped[str] = mapped_column(String(40))
    delta_t_k: Mapped[float | None]
    delta_tn_k: Mapped[float | None]
    t_max_c: Mapped[float | None]
    severity: Mapped[str] = mapped_column(String(10))
    coa: Mapped[int] = mapped_column(default=2)
    frames_seen: Mapped[int] = mapped_column(default=1)
    confidence: Mapped[float | None]
    lon: Mapped[float | None]
    lat: Mapped[float | None]
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    reviewed_class: Mapped[str | None] = mapped_column(String(40))
    review_note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


ROBOT_STATES = ("pending", "queued", "running", "done", "fault", "rejected", "charging")


class PvCleaningOrder(RegionOwned, Base):
    """What a cleaning case asks of a robot (rows, modules, mode, window) and what the robot last reported.

    The case carries state, SLA and timeline; this row carries the robot's side. Robots are core actors
    (kind ``robot``, adapter ``pv_robot_mqtt``) whose config names the plant, the robot id and the rows it
    serves.
    """

    __tablename__ = "pv_cleaning_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    plant_id: Mapped[int] = mapped_column(ForeignKey("pv_plants.id"), index=True)
    robot_actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"))
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("pv_inspections.id"))
    rows: Mapped[list[Any]]
    modules: Mapped[list[Any]] = mapped_column(default=list)
    mode: Mapped[str] = mapped_column(String(10), default="dry")
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(20), default="soiling")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(80), index=True)
    robot_state: Mapped[str] = mapped_column(String(20), default="pending")
    progress_pct: Mapped[float] = mapped_column(default=0.0)
    battery_pct: Mapped[float | None]
    cleaned_rows: Mapped[list[Any]] = mapped_column(default=list)
    cleaned_modules: Mapped[list[Any]] = mapped_column(default=list)
    fault: Mapped[str] = mapped_column(Text, default="")
    cleaned_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PvProductionSample(RegionOwned, Base):
    """One interval of a zone's production data (the timestamp is the interval's end, UTC): AC energy,
    plane-of-array irradiance, temperature and rain, as imported. A re-import of the same zone and time
    replaces the row."""

    __tablename__ = "pv_production_samples"
    __table_args__ = (UniqueConstraint("plant_id", "zone", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plant_id: Mapped[int] = mapped_column(ForeignKey("pv_plants.id", ondelete="CASCADE"), index=True)
    zone: Mapped[str] = mapped_column(String(20))
    ts: Mapped[datetime]
    interval_min: Mapped[int]
    energy_kwh: Mapped[float]
    poa_w_m2: Mapped[float]
    temp_c: Mapped[float]
    temp_kind: Mapped[str] = mapped_column(String(10), default="module")
    rain_mm: Mapped[float | None]


class PvZoneSoiling(RegionOwned, Base):
    """A zone's soiling rate from its production data (RdTools SRR), recomputed by the worker when new
    data arrives (``stale``): rate and ratio with their confidence intervals, the recoveries found with
    their cause, and the daily soiling ratio the IR calibration is fitted against."""

    __tablename__ = "pv_zone_soiling"
    __table_args__ = (UniqueConstraint("plant_id", "zone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plant_id: Mapped[int] = mapped_column(ForeignKey("pv_plants.id", ondelete="CASCADE"), index=True)
    zone: Mapped[str] = mapped_column(String(20))
    stale: Mapped[bool] = mapped_column(default=True, index=True)
    rate_per_day: Mapped[float | None]
    rate_low: Mapped[float | None]
    rate_high: Mapped[float | None]
    soiling_ratio: Mapped[float | None]
    ratio_low: Mapped[float | None]
    ratio_high: Mapped[float | None]
    intervals: Mapped[int] = mapped_column(default=0)
    days: Mapped[int] = mapped_column(default=0)
    first_day: Mapped[str | None] = mapped_column(String(10))
    last_day: Mapped[str | None] = mapped_column(String(10))
    cleanings: Mapped[list[Any]] = mapped_column(default=list)
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    computed_at: Mapped[datetime | None]

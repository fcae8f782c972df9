"""Payloads of the PV API: plants and their layout, flight plans, inspections, results and findings."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gongzhi.kit.sheets import ImportProblem
from gongzhi.kit.validation import Yuan

FindingStatus = Literal["new", "accepted", "rejected", "reclassified"]
PlanFormat = Literal["json", "plan", "kmz"]


class LayoutIn(BaseModel):
    """Parameters of a generated layout (see ``analytics.layout.LayoutParams``)."""

    model_config = ConfigDict(extra="forbid")

    module_type: str = Field(default="72", max_length=40)
    tilt_deg: float = Field(default=10.0, ge=0, lt=90)
    row_azimuth_deg: float = Field(default=90.0, ge=0, lt=360)
    portrait: bool = True
    row_pitch_m: float | None = Field(default=None, gt=0, le=50)
    ground_coverage_ratio: float = Field(default=0.7, gt=0, le=1)
    module_gap_m: float = Field(default=0.02, ge=0, le=5)
    setback_m: float = Field(default=1.0, ge=0, le=100)
    rows_per_array: int = Field(default=10, ge=1, le=1000)
    walkway_m: float = Field(default=1.0, ge=0, le=50)
    modules_per_string: int = Field(default=20, ge=1, le=200)


PLANT_POSITIONING = (
    "how the plant's flights are flown, the positioning of its uploads and dock flights that name none: auto "
    "(from the frames' positions until a frame says it is not an RTK fix), rtk, or gnss (a drone without "
    "RTK: by matching frames with each other and with the ends of the rows)"
)


class PlantCreate(BaseModel):
    """A plant generated from its roof outline, a GeoJSON Polygon (or a Feature holding one)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=60, pattern=r"^[\w.-]+$")
    name: str = Field(min_length=1, max_length=200)
    polygon: dict[str, Any]
    layout: LayoutIn = Field(default_factory=LayoutIn)
    positioning: str = Field(
        default="auto",
        max_length=20,
        description=PLANT_POSITIONING,
    )


class PlantUpdate(BaseModel):
    """A plant's name and the layout properties an operator may correct after adding it (those an imported
    file left to be assumed, say); what is left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    module_type: str | None = Field(default=None, max_length=40)
    tilt_deg: float | None = Field(default=None, ge=0, lt=90)
    row_azimuth_deg: float | None = Field(default=None, ge=0, lt=360)
    portrait: bool | None = None
    modules_per_string: int | None = Field(
        default=None,
        ge=1,
        le=200,
        description="Wire the plant again as strings of this many consecutive modules of a row (A-03-S1, "
        "A-03-S2, …), replacing every module's string; left out, the strings stay as they are.",
    )
    positioning: str | None = Field(
        default=None,
        max_length=20,
        description=PLANT_POSITIONING,
    )


TARIFF_MAX_YUAN_KWH = 100.0
ENERGY_MAX_KWH_DAY = 1e8
SOILING_RATE_MAX_PCT = 10.0
"""The bounds of a plant's economics, wherever one is given (this API, the console's form and queries); the
rate in % a day, as the console takes it."""


class PlantEconomicsIn(BaseModel):
    """A plant's cleaning economics as its operator gives them, all at once: a value left out (or null) is
    the platform's default. The plant's page, its defect ledger and its O&M reports read them."""

    model_config = ConfigDict(extra="forbid")

    cleaning_cost_yuan: Yuan | None = Field(default=None, description="Cost of one cleaning of the plant.")
    tariff_yuan_kwh: float | None = Field(
        default=None,
        ge=0,
        le=TARIFF_MAX_YUAN_KWH,
        allow_inf_nan=False,
        description="What a kWh is worth to the plant.",
    )
    energy_kwh_per_day: float | None = Field(
        default=None,
        ge=0,
        le=ENERGY_MAX_KWH_DAY,
        allow_inf_nan=False,
        description="The plant's clean daily energy; 0 or null: estimated from the roof's area.",
    )
    soiling_rate_per_day: float | None = Field(
        default=None,
        ge=0,
        le=SOILING_RATE_MAX_PCT / 100,
        allow_inf_nan=False,
        description="Soiling loss a day, as a fraction (0.002 is 0.2 % a day), for the zones whose "
        "production data and inspections give none.",
    )


class PlantEconomicsRead(BaseModel):
    """The economics a plant's reports use: the operator's values, else the defaults (named in
    ``defaults``)."""

    cleaning_cost_yuan: float
    tariff_yuan_kwh: float
    energy_kwh_per_day: float
    soiling_rate_per_day: float
    defaults: list[str] = Field(description="The fields above that are the platform's defaults.")


class StringMapWarning(BaseModel):
    """A string the imported map makes that looks mistyped (it is imported all the same)."""

    string: str
    message: str
    template: str | None = None
    params: dict[str, str] = Field(default_factory=dict)


class StringMapRead(BaseModel):
    """What an import of a plant's string map did (:class:`gongzhi.modules.pv.strings.StringMapReport`):
    ``status`` is ``checked`` for a dry run, ``imported`` otherwise (a refused map is a 422 problem with
    the same members and its ``errors``)."""

    model_config = ConfigDict(from_attributes=True)

    filename: str
    sha256: str
    status: str
    rows: int
    restrung: int
    unchanged: int
    left_out: int
    strings: int
    modules_per_string: dict[str, int]
    errors: list[ImportProblem]
    warnings: list[StringMapWarning]


class DefectRead(BaseModel):
    """A defect of a plant's ledger (:class:`gongzhi.modules.pv.defects.Defect`): a module and a class
    followed over the plant's flights (each flight by its latest analysis, false alarms left out)."""

    module_id: str = Field(description="the module, or the first of ``modules``")
    modules: list[str] = Field(description="the module, or the offline modules of a plant string")
    anomaly_class: str
    string: str
    state: Literal["open", "resolved"]
    rechecked: bool = Field(description="whether a flight has seen the module since the first finding")
    first_inspection_id: int
    first_at: datetime
    last_inspection_id: int
    last_at: datetime
    checked_inspection_id: int | None
    checked_at: datetime | None
    resolved_by_inspection_id: int | None
    resolved_at: datetime | None
    flights_found: int
    flights_seen: int
    severity: str
    coa: int
    delta_t_max_k: float | None
    delta_t_k: float | None
    est_loss_modules: float | None = Field(
        description="the power it costs, in modules' worth (an estimate: a third of the module for a "
        "substring, all of it for an offline module or each module of an offline string, else 15, 30 or "
        "60 % by severity); null for shade, soiling and vegetation, which one flight cannot put a figure on"
    )
    finding_id: int
    review: str
    case_id: int | None
    case_number: str
    case_state: str


class LedgerRead(BaseModel):
    plant_id: int
    flights: int
    open: int
    resolved: int
    open_loss_modules: float = Field(description="the open defects' ``est_loss_modules`` summed")
    open_loss_share: float = Field(description="that, as a share of the plant's modules [0–1]")
    open_not_estimated: int = Field(description="open defects without an estimate")
    defects: list[DefectRead]


class PlantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    region_id: int
    code: str
    name: str
    polygon: dict[str, Any]
    row_azimuth_deg: float | None
    tilt_deg: float | None
    layout_params: dict[str, Any]
    layout_source: str
    module_count: int
    area_m2: float
    positioning: str
    created_at: datetime


class FlightPlanRead(BaseModel):
    """The summary of a planned flight (what ``gongzhi pv plan`` prints)."""

    camera: str
    altitude_m: float
    gsd_cm: float
    footprint_m: tuple[float, float]
    line_azimuth_deg: float
    lines: int
    line_spacing_m: float
    trigger_spacing_m: float
    images: int
    distance_km: float
    line_time_min: float
    flight_time_min: float
    total_time_min: float
    batteries: int
    gimbal_pitch_deg: float = -90.0
    view_ahead_m: float = 0.0
    module_extent_m: float = 0.0
    """What a module spans along the lines, kept whole in two images of each line; 0: modules unknown."""


class InspectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    region_id: int
    plant_id: int
    camera: str
    source: str
    classifier: str
    min_confidence: float | None
    positioning: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    irradiance_w_m2: float | None
    ambient_temp_c: float | None
    wind_m_s: float | None
    iec_compliant: bool | None
    frame_count: int
    frames_done: int
    progress: float
    error: str
    summary: dict[str, Any]
    created_at: datetime
    analysed_at: datetime | None


class ReanalysisCreate(BaseModel):
    """How a finished inspection's frames are analysed again; what is left out is as the first time."""

    model_config = ConfigDict(extra="forbid")

    positioning: str | None = Field(
        default=None,
        max_length=20,
        description="how the modules a frame sees are named: rtk, auto or gnss (by matching frames with each "
        "other and with the ends of the rows, for a drone that flew without RTK); default the first's",
    )


class InspectionList(BaseModel):
    items: list[InspectionRead]
    total: int


class FindingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    region_id: int
    inspection_id: int
    plant_id: int
    module_id: str
    anomaly_class: str
    delta_t_k: float | None
    delta_tn_k: float | None
    t_max_c: float | None
    severity: str
    coa: int
    frames_seen: int
    confidence: float | None
    lon: float | None
    lat: float | None
    evidence: list[Any]
    details: dict[str, Any]
    status: str
    reviewed_class: str | None
    review_note: str
    alert_id: int | None


class ModuleVisitRead(BaseModel):
    """What one finished inspection made of a module: its figures (null where the flight did not see it)
    and its findings there."""

    inspection_id: int
    flown_at: datetime
    frames_seen: int
    t_median_c: float | None
    t_p95_c: float | None
    t_max_c: float | None
    t_corrected_k: float | None
    soiling_index: float | None
    findings: list[FindingRead]


class ModuleHistoryRead(BaseModel):
    """A module of a plant and every finished inspection's view of it, oldest flight first."""

    plant_id: int
    module_id: str
    array: str
    row: int
    position: int
    string: str
    lon: float
    lat: float
    visits: list[ModuleVisitRead]


class ChangesRead(BaseModel):
    """How a finished inspection's findings compare with the plant's previous flight's, module by module
    (false alarms left out on both sides); ``previous_inspection_id`` null for the plant's first flight,
    and then every module with a finding is new."""

    inspection_id: int
    previous_inspection_id: int | None
    new: list[str]
    again: list[str]
    gone: list[str]
    unseen: list[str]


class FindingReview(BaseModel):
    """The operator's verdict: accept, reject as a false alarm, or change the class."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["accepted", "rejected", "reclassified"]
    anomaly_class: str | None = Field(default=None, min_length=1, max_length=40)
    note: str = Field(default="", max_length=2000)


class ProductionImportRead(BaseModel):
    """What an import of production data did; ``gaps`` lists the holes longer than a day (zone, from, to)."""

    rows: int
    inserted: int
    replaced: int
    zones: list[str]
    gaps: list[dict[str, str]]


class ZoneSoilingRead(BaseModel):
    """A zone's soiling rate from production data (RdTools SRR) [day⁻¹, positive while soiling] with its
    confidence interval, the soiling ratio with its interval, and the recoveries found (day, cause)."""

    model_config = ConfigDict(from_attributes=True)

    zone: str
    stale: bool
    rate_per_day: float | None
    rate_low: float | None
    rate_high: float | None
    soiling_ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    intervals: int
    days: int
    first_day: str | None
    last_day: str | None
    cleanings: list[dict[str, str]]
    error: str
    computed_at: datetime | None


class CalibrationRead(BaseModel):
    """The plant's fit: soiling loss = slope · IR soiling index + intercept."""

    slope: float | None
    intercept: float | None
    r2: float | None
    slope_se: float | None
    points: int
    usable: bool


class SoilingRead(BaseModel):
    zones: list[ZoneSoilingRead]
    calibration: CalibrationRead

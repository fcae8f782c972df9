"""Payloads of the catalog API (validated at the edge) and the record schema every import goes through."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gongzhi.cases.schemas import SlaPolicyIn
from gongzhi.kit.validation import DbInt, Yuan

Kind = Literal["dataset", "application"]
AppKind = Literal["ruleset", "detector", "dispatch_template", "report_template", "module_config"]
DocKind = Literal["policy", "experience", "investment", "business_environment", "other"]
Sharing = Literal["private", "pairs", "selected"]
Verdict = Literal["pending", "duplicate", "distinct", "merged"]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    type: str = Field(default="", max_length=60)
    sensitive: bool = False


class DistributionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access_url: str = Field(default="", max_length=1000)
    download_url: str = Field(default="", max_length=1000)
    media_type: str = Field(default="", max_length=100)
    format: str = Field(default="", max_length=100)
    title: str = Field(default="", max_length=300)


class RecordIn(BaseModel):
    """A catalog record: the GB/T 21063.3 core metadata plus the 2017 guideline's share and open attributes.

    Code-list fields are free text here on purpose: a value outside the code list is a finding of the
    audit, not a reason to refuse the record.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Kind = "dataset"
    key: str = Field(default="", max_length=300)
    identifier: str = Field(default="", max_length=300)
    metadata_id: str = Field(default="", max_length=200)
    name: str = Field(min_length=1, max_length=500)
    summary: str = Field(default="", max_length=20_000)
    provider: str = Field(default="", max_length=200)
    provider_code: str = Field(default="", max_length=100)
    category: str = Field(default="", max_length=300)
    category_code: str = Field(default="", max_length=60)
    keywords: list[str] = Field(default_factory=list, max_length=100)
    format: str = Field(default="", max_length=100)
    resource_type: str = Field(default="", max_length=60)
    share_type: str = Field(default="", max_length=40)
    share_condition: str = Field(default="", max_length=5_000)
    share_mode: str = Field(default="", max_length=40)
    open_type: str = Field(default="", max_length=40)
    open_condition: str = Field(default="", max_length=5_000)
    rights: str = Field(default="", max_length=5_000)
    update_cycle: str = Field(default="", max_length=40)
    published: date | None = None
    modified: date | None = None
    contact_name: str = Field(default="", max_length=200)
    contact_email: str = Field(default="", max_length=200)
    contact_phone: str = Field(default="", max_length=60)
    url: str = Field(default="", max_length=1000)
    license: str = Field(default="", max_length=500)
    functions: str = Field(default="", max_length=20_000)
    items: list[ItemIn] = Field(default_factory=list, max_length=2_000)
    distributions: list[DistributionIn] = Field(default_factory=list, max_length=200)
    extra: dict[str, Any] = Field(default_factory=dict)


class RecordRead(RecordIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: int
    region_id: int
    source: str
    version: int
    shared_with_pairs: bool = False
    archived_at: datetime | None = None
    archived_by: str = ""
    archive_reason: str = ""
    created_at: datetime
    updated_at: datetime


class ArchiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2_000)


class RecordSharingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shared_with_pairs: bool


class RecordList(BaseModel):
    items: list[RecordRead]
    total: int


class RecordVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    change: str
    changed_by: str
    changed_at: datetime
    data: dict[str, Any]


class RowErrorRead(BaseModel):
    """One refused row; ``template`` and ``params``, when set, are the message's catalogue id and values."""

    row: int
    field: str
    message: str
    template: str | None = None
    params: dict[str, str] = Field(default_factory=dict)


class ImportReport(BaseModel):
    format: str
    rows: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    errors: list[RowErrorRead]


class RuleRead(BaseModel):
    """A built-in rule; ``title``, ``explanation`` and ``fix_hint`` in the language asked for."""

    id: str
    title: str
    severity: str
    explanation: str
    fix_hint: str
    params: dict[str, Any]
    default_enabled: bool


class RuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    severity: Literal["error", "warning", "info"] | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class RulesetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5_000)
    rules: dict[str, RuleConfig] = Field(default_factory=dict)
    is_default: bool = False


class RulesetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    rules: dict[str, Any]
    is_default: bool
    subscription_id: int | None
    updated_at: datetime


class AuditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ruleset_id: DbInt | None = None
    shacl: bool = False
    open_cases: bool = False
    reference_date: date | None = None


class AuditRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ruleset_id: int | None
    reference_date: date
    applications: int
    datasets: int
    problems: int
    records_with_problems: int
    fixed: int
    cases_opened: int
    summary: dict[str, Any]
    created_at: datetime


class FindingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    record_id: int
    rule_id: str
    severity: str
    field: str
    message: str
    message_key: str = ""
    message_params: dict[str, Any] = Field(default_factory=dict)
    status: str
    first_run_id: int | None
    case_id: int | None

    @classmethod
    def of(cls, finding: Any, message: str) -> FindingRead:
        """A stored finding with its message in the language asked for."""
        read = cls.model_validate(finding)
        read.message = message
        return read


class DupeScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind = "application"
    threshold: float = Field(default=0.6, ge=0.1, le=1.0)


class DupeScanRead(BaseModel):
    systems: int
    pairs: int
    new: int
    seconds: float


class DuplicateRead(BaseModel):
    id: int
    score: float
    verdict: str
    note: str
    reviewed_by: str
    stale: bool
    evidence: dict[str, Any]
    a: RecordRead
    b: RecordRead


class CrossScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=0.6, ge=0.1, le=1.0)


class CrossScanRead(BaseModel):
    systems: int
    shared: int
    pairs: int
    new: int
    seconds: float


class SharedSystemRead(BaseModel):
    """What a paired region shares of one of its systems (nothing more)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    region_id: int
    region: str
    name: str
    summary: str
    functions: str
    items: list[str]
    provider: str
    category: str


class CrossDuplicateRead(BaseModel):
    id: int
    score: float
    verdict: str
    note: str
    reviewed_by: str
    stale: bool
    evidence: dict[str, Any]
    mine: RecordRead
    theirs: SharedSystemRead


class VerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    note: str = Field(default="", max_length=5_000)


class VerdictRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    verdict: str
    note: str
    reviewed_by: str
    reviewed_at: datetime | None


class AppPublish(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: AppKind
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    config: dict[str, Any] = Field(default_factory=dict)
    ruleset_id: DbInt | None = None
    from_region: bool = Field(
        default=False, description="take a dispatch-rule template from this region's current dispatch rules"
    )
    build_cost_yuan: Yuan | None = None


class AppVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any] | None = None
    ruleset_id: DbInt | None = None
    from_region: bool = False
    changelog: str = Field(default="", max_length=5_000)
    description: str | None = Field(default=None, max_length=20_000)


class AppRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    region_id: int
    slug: str
    kind: str
    name: str
    description: str
    version: int
    build_cost_yuan: float | None
    active: bool
    updated_at: datetime


class AppVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    config: dict[str, Any]
    changelog: str
    published_at: datetime


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    saved_yuan: Yuan = 0
    note: str = Field(default="", max_length=5_000)
    overrides: dict[str, Any] = Field(default_factory=dict)
    mapping: MappingIn = Field(default_factory=lambda: MappingIn())


class MappingIn(BaseModel):
    """How a dispatch-rule template's actors and grid cells land in the subscriber's region: the
    publisher's actor key (its department code, else its name) or grid-cell code → the subscriber's own
    actor id or grid-cell id. Whatever is not listed is matched by code, then by name."""

    model_config = ConfigDict(extra="forbid")

    actors: dict[str, int] = Field(default_factory=dict, max_length=1_000)
    grid_cells: dict[str, int] = Field(default_factory=dict, max_length=10_000)


class PreviewRead(BaseModel):
    kind: str
    version: int
    parts: list[str]
    dispatch_rules: list[dict[str, Any]]
    unmapped: list[str]


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    app_id: int
    kind: str
    publisher_region_id: int
    accepted_version: int
    latest_version: int = 0
    update_available: bool = False
    overrides: dict[str, Any]
    config: dict[str, Any]
    active: bool
    ruleset_id: int | None = None
    mapping: dict[str, Any] = Field(default_factory=dict)
    instance: dict[str, Any] = Field(default_factory=dict)


class OverridesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overrides: dict[str, Any]
    mapping: MappingIn | None = None


# --- what each kind of app carries (validated on publishing, on overrides and on every update) ---------

ReportSection = Literal["headline", "by_rule", "by_department", "findings"]
ReportColumn = Literal["record", "department", "rule_id", "severity", "message", "status", "case_number"]
DEFAULT_SECTIONS: tuple[ReportSection, ...] = get_args(ReportSection)
DEFAULT_COLUMNS: tuple[ReportColumn, ...] = get_args(ReportColumn)


class ReportTemplate(BaseModel):
    """The layout of an audit report: title, sections in order, finding columns, rules shown, footer."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="资源目录智能审核报告", min_length=1, max_length=200)
    subtitle: str = Field(default="", max_length=500)
    sections: list[ReportSection] = Field(default_factory=lambda: list(DEFAULT_SECTIONS), min_length=1)
    columns: list[ReportColumn] = Field(default_factory=lambda: list(DEFAULT_COLUMNS), min_length=1)
    rules: list[str] = Field(default_factory=list, max_length=100)
    footer: str = Field(default="", max_length=2_000)


class DetectorTemplate(BaseModel):
    """A detector model: the terms the sensitive-data detector flags in open resources (on top of the
    built-in GB/T 35273 list), and names it must leave alone."""

    model_config = ConfigDict(extra="forbid")

    detector: Literal["sensitive-data"] = "sensitive-data"
    terms: list[str] = Field(default_factory=list, max_length=2_000)
    ignore: list[str] = Field(default_factory=list, max_length=2_000)
    scan_summary: bool | None = None


class GridRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=40)
    name: str = Field(default="", max_length=100)


class ActorRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(default="department", max_length=20)
    name: str = Field(min_length=1, max_length=100)
    department_code: str = Field(default="", max_length=40)
    department_name: str = Field(default="", max_length=100)

    @property
    def key(self) -> str:
        return self.department_code or self.name


class DispatchTemplateRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: int = Field(default=100, ge=0, le=100_000)
    category: str | None = Field(default=None, max_length=60)
    grid_cell: GridRef | None = None
    actor: ActorRef


class DispatchTemplate(BaseModel):
    """Dispatch rules without ids: category × grid-cell code → an actor by kind, name and department."""

    model_config = ConfigDict(extra="forbid")

    rules: list[DispatchTemplateRule] = Field(min_length=1, max_length=1_000)


class RulesetTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: dict[str, Any] = Field(default_factory=dict)
    description: str = Field(default="", max_length=20_000)


class SlaMatrixTemplate(BaseModel):
    """Cells of an SLA matrix (category × priority → time to claim and to resolve)."""

    model_config = ConfigDict(extra="forbid")

    policies: list[SlaPolicyIn] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _unique_cells(self) -> SlaMatrixTemplate:
        cells = [(p.category, p.priority) for p in self.policies]
        if len(cells) != len(set(cells)):
            raise ValueError("each category × priority cell may appear once")
        return self


class ModuleTemplate(BaseModel):
    """A whole module configuration, applied in one step: any of a rule set, a report template, a
    dispatch-rule template, a detector and an SLA matrix."""

    model_config = ConfigDict(extra="forbid")

    ruleset: RulesetTemplate | None = None
    report_template: ReportTemplate | None = None
    dispatch_template: DispatchTemplate | None = None
    detector: DetectorTemplate | None = None
    sla_matrix: SlaMatrixTemplate | None = None


class LedgerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    region_id: int
    app_id: int
    publisher_region_id: int
    event: str
    version: int
    saved_yuan: float
    note: str
    recorded_by: str
    at: datetime


class ReuseSummary(BaseModel):
    reused_apps: int
    saved_yuan: float
    reused_by_others: int
    saved_for_others_yuan: float
    by_app: list[dict[str, Any]]


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    kind: DocKind = "other"
    summary: str = Field(default="", max_length=5_000)
    body: str = Field(default="", max_length=500_000)
    tags: list[str] = Field(default_factory=list, max_length=50)
    sharing: Sharing = "private"
    share_region_ids: list[DbInt] = Field(default_factory=list, max_length=50)
    published_on: date | None = None


class SharingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sharing: Sharing
    share_region_ids: list[DbInt] = Field(default_factory=list, max_length=50)


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    region_id: int
    title: str
    kind: str
    summary: str
    body: str
    tags: list[str]
    sharing: str
    share_region_ids: list[int]
    published_on: date | None
    author: str
    updated_at: datetime


class SearchHit(BaseModel):
    id: int
    region_id: int
    title: str
    kind: str
    summary: str
    score: int
    snippet: str

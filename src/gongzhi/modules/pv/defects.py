"""A plant's defect ledger (缺陷台账): every defect its flights have found, followed from flight to flight,
as an O&M team keeps it between inspections. A defect is a module and a class (the reviewed class where
an operator changed it), or a plant string that went offline (its offline modules together, as its alert
and repair case have them); false alarms are left out. Each flight counts once: a flight analysed again
counts by its latest analysis.

A defect is **open** while the latest flight that saw its module found it again, or while no flight has
seen the module since (it is then *not re-checked*); it is **resolved** when a later flight saw the
module without it, by the first such flight. One that comes back after that is open again, and its
flights found and checked say so. Its repair case is the latest case made of any of its findings."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from gongzhi.cases.models import Case
from gongzhi.errors import InvalidInput, msg
from gongzhi.kit.sheets import formula_safe
from gongzhi.modules.pv import service
from gongzhi.modules.pv.analytics.anomalies import Anomaly, LossAtStake, loss_at_stake, named_loss_share
from gongzhi.modules.pv.models import PvFinding, PvInspection, PvModule, PvModuleResult
from gongzhi.modules.pv.report import check_lang, class_name, local_time, review_name
from gongzhi.modules.pv.report_xlsx import HEADER_FILL, SEVERITY_FILLS
from gongzhi.web import labels
from gongzhi.web.i18n import Lang

State = Literal["open", "resolved"]
STATES: tuple[State, ...] = ("open", "resolved")
SEVERITY_RANK = {"S1": 1, "S2": 2, "S3": 3}


@dataclass(frozen=True)
class Sighting:
    """A flight of the ledger: its latest analysis and when it was flown."""

    inspection_id: int
    at: dt.datetime


@dataclass
class Defect:
    module_id: str  # the first of ``modules``
    modules: tuple[str, ...]  # one, or the offline modules of a plant string
    anomaly_class: str
    string: str
    first: Sighting  # the first flight that found it
    last: Sighting  # the latest flight that found it
    checked: Sighting | None  # the latest flight that saw the module (whether it found it or not)
    resolved_by: Sighting | None  # the first flight after ``last`` that saw the module without it
    found: int  # flights that found it
    seen: int  # flights that saw the module from the first finding on
    severity: str  # the worst of its findings
    coa: int
    delta_t_max_k: float | None
    delta_t_k: float | None  # the highest of the latest flight's findings
    finding_id: int  # the latest flight's worst finding
    has_crop: bool  # whether that finding kept its thermal crop
    review: str  # that finding's review status
    case_id: int | None = None
    case_number: str = ""
    case_state: str = ""

    @property
    def state(self) -> State:
        return "resolved" if self.resolved_by is not None else "open"

    @property
    def span(self) -> str:
        """The module, or the first and last of a string's: ``A-05-02 … A-05-19``."""
        return self.module_id if len(self.modules) == 1 else f"{self.modules[0]} … {self.modules[-1]}"

    @property
    def rechecked(self) -> bool:
        """Whether a flight has seen the module since the finding (for an open defect: found again)."""
        return self.checked is not None and self.checked != self.first

    @property
    def loss_modules(self) -> float | None:
        """The power it costs, in modules' worth (:func:`.analytics.anomalies.power_loss_share` of each of
        its modules): a third for a substring, a string's every module when it is out; ``None`` where one
        flight cannot tell (shade, soiling, vegetation)."""
        share = named_loss_share(self.anomaly_class, self.severity)
        return None if share is None else share * len(self.modules)


@dataclass
class Ledger:
    plant_id: int
    flights: list[Sighting]
    defects: list[Defect] = field(default_factory=list)

    def count(self, state: State) -> int:
        return sum(1 for d in self.defects if d.state == state)

    def open_loss(self, module_count: int, energy_kwh_per_day: float, tariff_per_kwh: float) -> LossAtStake:
        """What the open defects cost (:func:`.analytics.anomalies.loss_at_stake`)."""
        losses = [d.loss_modules for d in self.defects if d.state == "open"]
        return loss_at_stake(losses, module_count, energy_kwh_per_day, tariff_per_kwh)

    def open_by_class(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for d in self.defects:
            if d.state == "open":
                out[d.anomaly_class] += 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class StringDefects:
    """A plant string's open defects in the ledger."""

    count: int
    coa: int  # the highest class of abnormality among them
    offline: bool  # whether the string itself is out (an open string-offline defect)


def by_string(ledger: Ledger) -> dict[str, StringDefects]:
    """The open defects of each string that has any, by the string its (first) module is wired into now."""
    found: dict[str, list[Defect]] = defaultdict(list)
    for d in ledger.defects:
        if d.state == "open" and d.string:
            found[d.string].append(d)
    return {
        string: StringDefects(
            count=len(ds),
            coa=max(d.coa for d in ds),
            offline=any(d.anomaly_class == Anomaly.STRING_OFFLINE.value for d in ds),
        )
        for string, ds in found.items()
    }


def _flights(s: Session, plant_id: int) -> list[tuple[PvInspection, dt.datetime]]:
    """The plant's finished flights in the order flown, each by its latest analysis."""
    from gongzhi.modules.pv.loop import inspection_time  # the loop builds on the service

    done = select(PvInspection).where(PvInspection.plant_id == plant_id, PvInspection.status == "done")
    inspections = list(s.execute(done).scalars())
    by_id = {i.id: i for i in inspections}

    def root(i: PvInspection) -> int:
        seen = set()
        while (first := (i.summary or {}).get("reanalysis_of")) in by_id and first not in seen:
            seen.add(first)
            i = by_id[first]
        return i.id

    latest: dict[int, PvInspection] = {}
    for i in inspections:
        key = root(i)
        if key not in latest or i.id > latest[key].id:
            latest[key] = i
    flights = [(i, inspection_time(by_id[key])) for key, i in latest.items()]
    return sorted(flights, key=lambda f: (f[1], f[0].id))


_FOUND_COLUMNS = (
    PvFinding.id,
    PvFinding.inspection_id,
    PvFinding.module_id,
    PvFinding.anomaly_class,
    PvFinding.reviewed_class,
    PvFinding.status,
    PvFinding.severity,
    PvFinding.coa,
    PvFinding.delta_t_k,
    PvFinding.case_id,
)


@dataclass(frozen=True, slots=True)
class _Found:
    """What the ledger reads of a finding (:data:`_FOUND_COLUMNS`, and whether it kept any evidence)."""

    id: int
    inspection_id: int
    module_id: str
    anomaly_class: str
    reviewed_class: str | None
    status: str
    severity: str
    coa: int
    delta_t_k: float | None
    case_id: int | None
    has_crop: bool


def plant_ledger(s: Session, plant_id: int) -> Ledger:
    """The plant's defect ledger, open defects first, then the highest class of abnormality, severity and
    ΔT (:class:`Defect`)."""
    service.get_plant(s, plant_id)
    flights = _flights(s, plant_id)
    ledger = Ledger(plant_id, [Sighting(i.id, at) for i, at in flights])
    if not flights:
        return ledger
    order = {i.id: n for n, (i, _) in enumerate(flights)}
    sightings = ledger.flights
    # the columns the ledger uses, not ORM rows: their JSON (evidence, details) was most of its time
    stmt = select(*_FOUND_COLUMNS, cast(PvFinding.evidence, Text)).where(
        PvFinding.plant_id == plant_id,
        PvFinding.inspection_id.in_(list(order)),
        PvFinding.status != "rejected",
    )
    findings = [
        _Found(
            fid,
            insp,
            mid,
            cls,
            reviewed,
            status,
            severity,
            coa,
            delta,
            case,
            kept not in (None, "[]", "null"),
        )
        for fid, insp, mid, cls, reviewed, status, severity, coa, delta, case, kept in s.execute(stmt)
    ]
    if not findings:
        return ledger
    modules = sorted({f.module_id for f in findings})
    covered: dict[str, set[int]] = defaultdict(set)  # module: the flights (by order) that saw it
    strings: dict[str, str] = {}
    for chunk in _chunks(modules, 500):
        seen = select(PvModuleResult.inspection_id, PvModuleResult.module_id).where(
            PvModuleResult.inspection_id.in_(list(order)), PvModuleResult.module_id.in_(chunk)
        )
        for insp_id, mid in s.execute(seen):
            covered[mid].add(order[insp_id])
        where = (PvModule.plant_id == plant_id, PvModule.module_id.in_(chunk))
        strings.update(
            (mid, st) for mid, st in s.execute(select(PvModule.module_id, PvModule.string).where(*where))
        )
    # a module and a class; the offline modules of a plant string together, as its alert and case have them
    found: dict[tuple[str, str], list[_Found]] = defaultdict(list)
    for f in findings:
        cls = service.effective_class(f)
        whole = cls == Anomaly.STRING_OFFLINE.value and strings.get(f.module_id)
        found[(f"string:{strings[f.module_id]}" if whole else f.module_id, cls)].append(f)
    case_ids = {f.case_id for f in findings if f.case_id is not None}
    cases: dict[int, Case] = {}
    if case_ids:  # the cases the caller may see
        cases = {c.id: c for c in s.execute(select(Case).where(Case.id.in_(case_ids))).scalars()}
    for (_, cls), fs in found.items():
        fs.sort(
            key=lambda f: (order[f.inspection_id], -f.coa, -SEVERITY_RANK.get(f.severity, 0), f.module_id)
        )
        hits = sorted({order[f.inspection_id] for f in fs})
        first, last = hits[0], hits[-1]
        on = sorted({f.module_id for f in fs})
        # a flight saw the defect when it saw one of its modules (a finding is a sighting, result or not)
        saw = set(hits).union(*(covered.get(m, set()) for m in on))
        after = sorted(n for n in saw if n > last)
        latest = [f for f in fs if order[f.inspection_id] == last]
        worst = max(fs, key=lambda f: (f.coa, SEVERITY_RANK.get(f.severity, 0), f.delta_t_k or 0))
        deltas = [f.delta_t_k for f in fs if f.delta_t_k is not None]
        now = [f.delta_t_k for f in latest if f.delta_t_k is not None]
        with_case = [f.case_id for f in fs if f.case_id is not None and f.case_id in cases]
        case = cases[with_case[-1]] if with_case else None
        ledger.defects.append(
            Defect(
                module_id=on[0],
                modules=tuple(on),
                anomaly_class=cls,
                string=strings.get(on[0], ""),
                first=sightings[first],
                last=sightings[last],
                checked=sightings[max(saw)],
                resolved_by=sightings[after[0]] if after else None,
                found=len(hits),
                seen=sum(1 for n in saw if n >= first),
                severity=worst.severity,
                coa=worst.coa,
                delta_t_max_k=max(deltas) if deltas else None,
                delta_t_k=max(now) if now else None,
                finding_id=latest[0].id,
                has_crop=latest[0].has_crop,
                review=latest[0].status,
                case_id=case.id if case else None,
                case_number=case.number if case else "",
                case_state=case.state if case else "",
            )
        )
    ledger.defects.sort(
        key=lambda d: (
            d.state != "open",
            -d.coa,
            -SEVERITY_RANK.get(d.severity, 0),
            -(d.delta_t_max_k or 0),
            d.module_id,
            d.anomaly_class,
        )
    )
    return ledger


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for k in range(0, len(items), size):
        yield items[k : k + size]


def selected(ledger: Ledger, state: str = "", anomaly_class: str = "", string: str = "") -> list[Defect]:
    """The ledger's defects of one state (``open`` or ``resolved``; all when empty), class and string.

    Raises
    ------
    InvalidInput
        If the state is neither.
    """
    if state and state not in STATES:
        raise InvalidInput(msg("state must be open or resolved"))
    return [
        d
        for d in ledger.defects
        if (not state or d.state == state)
        and (not anomaly_class or d.anomaly_class == anomaly_class)
        and (not string or d.string == string)
    ]


# --- the workbook ---------------------------------------------------------------------------------

_HEAD: dict[str, dict[str, str]] = {
    "sheet": {"zh-CN": "缺陷台账", "en": "Defect ledger"},
    "module": {"zh-CN": "组件", "en": "Module"},
    "string": {"zh-CN": "组串", "en": "String"},
    "class": {"zh-CN": "缺陷类型", "en": "Class"},
    "state": {"zh-CN": "状态", "en": "State"},
    "severity": {"zh-CN": "严重度", "en": "Severity"},
    "coa": {"zh-CN": "异常等级 (CoA)", "en": "CoA"},
    "dt_max": {"zh-CN": "最大 ΔT (K)", "en": "Max ΔT (K)"},
    "dt": {"zh-CN": "最近 ΔT (K)", "en": "Latest ΔT (K)"},
    "loss": {"zh-CN": "估算损失 (组件当量)", "en": "Est. loss (modules)"},
    "first": {"zh-CN": "首次发现", "en": "First found"},
    "last": {"zh-CN": "最近发现", "en": "Last found"},
    "checked": {"zh-CN": "最近复查", "en": "Last checked"},
    "resolved": {"zh-CN": "消除于", "en": "Cleared by"},
    "found": {"zh-CN": "发现次数 / 复查次数", "en": "Found / seen (flights)"},
    "review": {"zh-CN": "复核", "en": "Review"},
    "case": {"zh-CN": "工单", "en": "Case"},
    "case_state": {"zh-CN": "工单状态", "en": "Case state"},
    "open": {"zh-CN": "未消除", "en": "Unresolved"},
    "resolved_state": {"zh-CN": "已消除", "en": "Cleared"},
    "not_rechecked": {"zh-CN": "未复查", "en": "not re-checked"},
}
WIDTHS = (12, 14, 18, 16, 8, 10, 11, 11, 12, 22, 22, 22, 22, 12, 10, 16, 12)


def _h(key: str, lang: str) -> str:
    return _HEAD[key][lang]


def _flight(sighting: Sighting | None) -> str:
    return "" if sighting is None else f"#{sighting.inspection_id} {local_time(sighting.at)}"


def ledger_xlsx(defects: list[Defect], lang: str = "zh-CN") -> bytes:
    """The defects as an ``.xlsx`` sheet in ``lang`` (``zh-CN`` or ``en``): a row each, numbers as
    numbers, the severity tinted, the header frozen and filterable."""
    check_lang(lang)
    ui = Lang("zh_CN" if lang == "zh-CN" else "en")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = _h("sheet", lang)
    keys = ("module", "string", "class", "state", "severity", "coa", "dt_max", "dt", "loss", "first", "last",
            "checked", "resolved", "found", "review", "case", "case_state")  # fmt: skip
    ws.append([_h(k, lang) for k in keys])
    for cell in ws[1]:
        cell.font, cell.fill = Font(bold=True), HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for d in defects:
        state = _h("open", lang) if d.state == "open" else _h("resolved_state", lang)
        if d.state == "open" and not d.rechecked:
            state += f" ({_h('not_rechecked', lang)})"
        ws.append(
            [
                formula_safe(d.span),
                formula_safe(d.string) or None,
                class_name(d.anomaly_class, lang),
                state,
                d.severity,
                d.coa,
                None if d.delta_t_max_k is None else round(d.delta_t_max_k, 1),
                None if d.delta_t_k is None else round(d.delta_t_k, 1),
                None if d.loss_modules is None else round(d.loss_modules, 2),
                _flight(d.first),
                _flight(d.last),
                _flight(d.checked),
                _flight(d.resolved_by) or None,
                f"{d.found} / {d.seen}",
                review_name(d.review, lang),
                formula_safe(d.case_number) or None,
                ui.gettext(labels.label("state", d.case_state)) if d.case_state else None,
            ]
        )
        fill = SEVERITY_FILLS.get(d.severity)
        if fill is not None:
            ws.cell(ws.max_row, keys.index("severity") + 1).fill = fill
    for n, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(n)].width = width
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(keys))}{max(ws.max_row, 1)}"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

"""Audit rules for resource catalogs (资源目录智能审核).

Each rule has an id, a default severity, an explanation and a fix hint, and checks one entry at a time;
a region's rule set switches rules on or off and overrides severities and parameters. Sources: GB/T
21063.3-2007 core metadata; the 2017 《政务信息资源目录编制指南（试行）》 share and open attributes
(code lists as in kweaver-ai/dsg); Project Open Data v1.1 (``rights`` for non-public data; freshness
against ``accrualPeriodicity`` as in datosgobar/pydatajson); Open Data Portal Watch contact metrics
(Neumaier et al., ACM JDIQ 8(1), 2016). The DCAT-AP SHACL rule needs the whole graph and lives in
``io/dcat.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from gongzhi.modules.catalog.analytics.entry import OPEN_TYPES, SHARE_MODES, SHARE_TYPES, Entry
from gongzhi.modules.catalog.analytics.periods import is_known_cycle, period_days

SEVERITIES = ("error", "warning", "info")
Issue = tuple[str, str]  # (field, message)


@dataclass(frozen=True)
class Context:
    """What a run knows beyond the entry: the reference date for freshness [date]."""

    today: date


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    explanation: str
    fix_hint: str
    params: Mapping[str, Any]
    check: Callable[[Entry, Mapping[str, Any], Context], Iterable[Issue]] | None
    default_enabled: bool = True


@dataclass(frozen=True)
class ActiveRule:
    rule: Rule
    severity: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Finding:
    key: str
    rule_id: str
    severity: str
    field: str
    message: str


LABELS = {
    "name": "名称",
    "summary": "摘要",
    "provider": "提供方",
    "identifier": "资源标识符",
    "metadata_id": "元数据标识符",
    "published": "发布日期",
    "modified": "更新日期",
    "category": "资源分类",
    "keywords": "关键字",
    "share_type": "共享类型",
    "open_type": "开放属性",
    "update_cycle": "更新周期",
    "format": "格式",
    "items": "信息项",
    "functions": "功能描述",
    "contact": "联系方式",
}


# --- completeness -----------------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | tuple | list) and not value)


def check_completeness(e: Entry, p: Mapping[str, Any], _: Context) -> Iterator[Issue]:
    for name in p["application_fields" if e.kind == "application" else "dataset_fields"]:
        value = (e.contact_email or e.contact_phone or e.contact_name) if name == "contact" else e.value(name)
        if _empty(value) or (isinstance(value, str) and not value.strip()):
            yield name, f"必填项缺失 missing required field: {LABELS.get(name, name)} ({name})"


# --- code lists -------------------------------------------------------------------------------------

CATEGORY_CODE = re.compile(r"^\d(\d{2}(\d{3}(\d+)?)?)?$")


def check_code_lists(e: Entry, p: Mapping[str, Any], _: Context) -> Iterator[Issue]:
    for name, table in (("share_type", SHARE_TYPES), ("share_mode", SHARE_MODES), ("open_type", OPEN_TYPES)):
        value = e.value(name)
        if value and value not in table:
            yield name, f"{LABELS.get(name, name)} {value!r} is not in the code list ({', '.join(table)})"
    if e.update_cycle and not is_known_cycle(e.update_cycle):
        yield (
            "update_cycle",
            f"更新周期 {e.update_cycle!r} is neither a code (每日…每年, 不定时) nor R/P… period",
        )
    if e.category_code and not CATEGORY_CODE.match(e.category_code):
        yield "category_code", f"分类编码 {e.category_code!r} does not follow 类(1)/项(2)/目(3)/细目 digits"
    allowed = p.get("allowed_formats") or ()
    if allowed and e.format and e.format not in allowed:
        yield "format", f"格式 {e.format!r} is not one of {', '.join(allowed)}"


# --- consistency ------------------------------------------------------------------------------------


def check_share_condition(e: Entry, _: Mapping[str, Any], __: Context) -> Iterator[Issue]:
    if e.share_type == "conditional" and not (e.share_condition.strip() or e.rights.strip()):
        yield "share_condition", "有条件共享 without 共享条件: conditional sharing must state its conditions"


def check_share_mode(e: Entry, _: Mapping[str, Any], __: Context) -> Iterator[Issue]:
    if e.share_type in ("unconditional", "conditional") and not e.share_mode.strip():
        yield "share_mode", "共享方式 missing: every resource that is shared must say how (平台, 邮件, 介质)"


def check_non_public_reason(e: Entry, _: Mapping[str, Any], __: Context) -> Iterator[Issue]:
    restricted = e.share_type == "none" or e.open_type == "closed"
    if restricted and not (e.rights.strip() or e.share_condition.strip() or e.open_condition.strip()):
        yield "rights", "不予共享/不开放 without a legal or policy basis (rights)"


def check_dates(e: Entry, _: Mapping[str, Any], c: Context) -> Iterator[Issue]:
    if e.published and e.modified and e.modified < e.published:
        yield "modified", f"更新日期 {e.modified} is before 发布日期 {e.published}"
    for name in ("published", "modified"):
        d = e.value(name)
        if d is not None and d > c.today:
            yield name, f"{LABELS[name]} {d} lies in the future"


# --- freshness --------------------------------------------------------------------------------------


def check_freshness(e: Entry, p: Mapping[str, Any], c: Context) -> Iterator[Issue]:
    days = period_days(e.update_cycle) if e.update_cycle else None
    last = e.modified or e.published
    if days is None or last is None:
        return
    age = (c.today - last).days
    if age > float(p["factor"]) * days:
        yield (
            "modified",
            (
                f"last updated {last} ({age} days ago) but declares 更新周期 {e.update_cycle} "
                f"(> {p['factor']}× {days:g} days): stale data or an unmaintained date"
            ),
        )


# --- contact ----------------------------------------------------------------------------------------

EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+?[\d\s()\-]{7,20}$")
NO_REPLY = re.compile(r"^(no-?reply|do-?not-?reply|noreply)@", re.IGNORECASE)


def check_contact(e: Entry, _: Mapping[str, Any], __: Context) -> Iterator[Issue]:
    email = e.contact_email.strip().removeprefix("mailto:")
    phone = e.contact_phone.strip()
    if not email and not phone:
        yield "contact", "联系方式 missing: neither an e-mail address nor a telephone number"
        return
    if email and not EMAIL.match(email):
        yield "contact_email", f"e-mail address {email!r} is not valid"
    elif email and NO_REPLY.match(email):
        yield "contact_email", f"e-mail address {email!r} does not accept replies"
    digits = re.sub(r"\D", "", phone)
    if phone and (not PHONE.match(phone) or not 7 <= len(digits) <= 15):
        yield "contact_phone", f"telephone number {phone!r} is not valid"


# --- personal or sensitive data in open resources ----------------------------------------------------

# personal identifiers (GB/T 35273 个人敏感信息 examples); an office's 联系电话 is public and not listed
SENSITIVE_TERMS = (
    "身份证",
    "证件号码",
    "手机号",
    "家庭住址",
    "居住地址",
    "个人电话",
    "出生日期",
    "银行卡",
    "银行账号",
    "病历",
    "病史",
    "个人信息",
    "户籍",
    "social security",
    "ssn",
    "date of birth",
    "birth date",
    "home address",
    "passport",
    "medical record",
    "driver's license",
    "bank account",
)
_TERMS = re.compile("|".join(re.escape(t) for t in SENSITIVE_TERMS), re.IGNORECASE)


@lru_cache(maxsize=64)
def _terms(extra: tuple[str, ...], ignore: tuple[str, ...]) -> re.Pattern[str] | None:
    """The built-in terms plus a detector model's ``extra`` ones, minus those it ``ignore``s."""
    if not extra and not ignore:
        return _TERMS
    dropped = {t.lower() for t in ignore}
    terms = [t for t in (*SENSITIVE_TERMS, *extra) if t.strip() and t.lower() not in dropped]
    if not terms:
        return None
    return re.compile(
        "|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True)), re.IGNORECASE
    )


def check_sensitive(e: Entry, p: Mapping[str, Any], _: Context) -> Iterator[Issue]:
    if not e.is_open:
        return
    pattern = _terms(tuple(p.get("extra_terms", ())), tuple(p.get("ignore_terms", ())))
    flagged = [i.name for i in e.items if i.sensitive]
    named = [i.name for i in e.items if not i.sensitive and pattern and pattern.search(i.name)]
    if flagged or named:
        yield "items", f"open resource carries personal or sensitive items: {'、'.join(flagged + named)}"
    elif pattern and p.get("scan_summary", True):
        terms = sorted({m.group(0).lower() for m in pattern.finditer(f"{e.name} {e.summary}")})
        if terms:
            yield "summary", f"open resource mentions personal data ({'、'.join(terms)}): check masking"


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "completeness",
            "必填项完整性 Required metadata",
            "error",
            "GB/T 21063.3 makes 名称, 发布日期, 摘要, 提供方, 资源标识符 and 元数据标识符 mandatory; "
            "the 2017 guideline "
            "adds 分类, 共享类型 and 更新周期. Applications need a name, summary, provider and contact.",
            "Fill in the missing field in the catalog record; the field name is given in the finding.",
            {
                "dataset_fields": [
                    "name",
                    "summary",
                    "provider",
                    "identifier",
                    "published",
                    "category",
                    "keywords",
                    "share_type",
                    "update_cycle",
                ],
                "application_fields": ["name", "summary", "provider", "contact", "published"],
            },
            check_completeness,
        ),
        Rule(
            "code-list",
            "代码表符合性 Code-list conformance",
            "error",
            "共享类型, 共享方式, 开放属性 and 更新周期 take values from the guideline's code lists; "
            "分类编码 follows "
            "类(1 digit)/项(2)/目(3)/细目.",
            "Choose a value from the code list named in the finding.",
            {"allowed_formats": []},
            check_code_lists,
        ),
        Rule(
            "share-condition",
            "共享条件 Conditional sharing states its conditions",
            "error",
            "有条件共享 must state its 共享条件 (2017 guideline); "
            "不予共享 is covered by 'non-public-reason'.",
            "Write the conditions (who may use it, for what, how to apply) into 共享条件.",
            {},
            check_share_condition,
        ),
        Rule(
            "share-mode",
            "共享方式 Sharing mode",
            "error",
            "Every resource that is not 不予共享 must name its 共享方式 (共享平台, 邮件, 介质).",
            "Set 共享方式, usually 共享平台; an open resource without a download needs a distribution.",
            {},
            check_share_mode,
        ),
        Rule(
            "non-public-reason",
            "不予共享依据 Basis for withholding",
            "error",
            "不予共享 and non-public resources must cite a law, regulation or policy (国发〔2016〕51号); "
            "data.json's 'rights' should explain a non-public access level.",
            "Cite the legal or policy basis in 'rights' (不予共享依据).",
            {},
            check_non_public_reason,
        ),
        Rule(
            "dates",
            "日期一致性 Date consistency",
            "warning",
            "The update date cannot precede the publication date, nor lie in the future.",
            "Correct 发布日期 or 更新日期.",
            {},
            check_dates,
        ),
        Rule(
            "freshness",
            "更新及时性 Freshness against the update period",
            "warning",
            "A resource whose last update is older than factor × its declared 更新周期 is stale, or its date "
            "is not maintained (pydatajson's datasets_actualizados_pct).",
            "Update the data and its 更新日期, or declare the period it really keeps.",
            {"factor": 2.0},
            check_freshness,
        ),
        Rule(
            "contact",
            "联系方式有效性 Contact validity",
            "warning",
            "A record needs a reachable contact: a valid e-mail address or telephone number "
            "that accepts replies.",
            "Give the responsible office's e-mail or telephone number.",
            {},
            check_contact,
        ),
        Rule(
            "sensitive-open",
            "开放资源敏感信息 Personal data in open resources",
            "error",
            "Open (无条件共享/向公众开放) resources must not carry personal or sensitive items "
            "(身份证, 手机号, 住址 …).",
            "Mask or remove the items, or change the sharing type to 有条件共享/不予共享.",
            {"scan_summary": True},
            check_sensitive,
        ),
        Rule(
            "dcat-ap-shacl",
            "DCAT-AP 3 SHACL",
            "error",
            "The DCAT export of the record must satisfy the DCAT-AP 3.0.1 SHACL shapes (SEMICeu, CC BY 4.0).",
            "Fill the property named in the finding (e.g. dct:description, dcat:accessURL).",
            {"recommended": False},
            None,
            default_enabled=False,
        ),
    )
}


def activate(config: Mapping[str, Any]) -> list[ActiveRule]:
    """The rules a configuration switches on, with its severities and parameters over the defaults.

    ``config`` maps rule id to ``{"enabled": bool, "severity": str, "params": {...}}``; unknown ids
    and severities raise ``ValueError``.
    """
    unknown = set(config) - set(RULES)
    if unknown:
        raise ValueError(f"unknown rule(s): {', '.join(sorted(unknown))}")
    active = []
    for rule in RULES.values():
        conf = config.get(rule.id, {})
        if not conf.get("enabled", rule.default_enabled):
            continue
        severity = conf.get("severity", rule.severity)
        if severity not in SEVERITIES:
            raise ValueError(f"rule {rule.id}: severity must be one of {', '.join(SEVERITIES)}")
        active.append(ActiveRule(rule, severity, {**rule.params, **conf.get("params", {})}))
    return active


def audit(entries: Sequence[Entry], rules: Sequence[ActiveRule], ctx: Context) -> list[Finding]:
    """Run every per-entry rule on every entry; graph-level rules (check is None) are left to the caller."""
    findings = []
    per_entry = [r for r in rules if r.rule.check is not None]
    for e in entries:
        for r in per_entry:
            assert r.rule.check is not None
            for name, message in r.rule.check(e, r.params, ctx):
                findings.append(Finding(e.key, r.rule.id, r.severity, name, message))
    return findings

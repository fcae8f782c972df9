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
from gongzhi.modules.catalog.analytics.texts import DEFAULT_LANG, Text, render

SEVERITIES = ("error", "warning", "info")
Issue = tuple[str, str, dict[str, Any]]  # (field, message key, parameters): see texts.MESSAGES


@dataclass(frozen=True)
class Context:
    """What a run knows beyond the entry: the reference date for freshness [date]."""

    today: date


@dataclass(frozen=True)
class Rule:
    """A rule's title, explanation and fix hint are each one ``Text`` in zh-CN and English."""

    id: str
    title: Text
    severity: str
    explanation: Text
    fix_hint: Text
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
    """One problem of the entry ``key``: its message is ``message_key`` with ``params`` (language-neutral)."""

    key: str
    rule_id: str
    severity: str
    field: str
    message_key: str
    params: Mapping[str, Any]

    def text(self, lang: str = DEFAULT_LANG) -> str:
        return render(self.message_key, self.params, lang)

    @property
    def message(self) -> str:
        """The message in the primary language (zh-CN)."""
        return self.text()


# --- completeness -----------------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | tuple | list) and not value)


def check_completeness(e: Entry, p: Mapping[str, Any], _: Context) -> Iterator[Issue]:
    for name in p["application_fields" if e.kind == "application" else "dataset_fields"]:
        value = (e.contact_email or e.contact_phone or e.contact_name) if name == "contact" else e.value(name)
        if _empty(value) or (isinstance(value, str) and not value.strip()):
            yield name, "missing_field", {"field": name}


# --- code lists -------------------------------------------------------------------------------------

CATEGORY_CODE = re.compile(r"^\d(\d{2}(\d{3}(\d+)?)?)?$")


def check_code_lists(e: Entry, p: Mapping[str, Any], _: Context) -> Iterator[Issue]:
    for name, table in (("share_type", SHARE_TYPES), ("share_mode", SHARE_MODES), ("open_type", OPEN_TYPES)):
        value = e.value(name)
        if value and value not in table:
            yield name, "not_in_code_list", {"field": name, "value": value, "allowed": list(table)}
    if e.update_cycle and not is_known_cycle(e.update_cycle):
        yield "update_cycle", "unknown_cycle", {"value": e.update_cycle}
    if e.category_code and not CATEGORY_CODE.match(e.category_code):
        yield "category_code", "bad_category_code", {"value": e.category_code}
    allowed = p.get("allowed_formats") or ()
    if allowed and e.format and e.format not in allowed:
        yield "format", "format_not_allowed", {"value": e.format, "allowed": list(allowed)}


# --- consistency ------------------------------------------------------------------------------------


def check_share_condition(e: Entry, _: Mapping[str, Any], __: Context) -> Iterator[Issue]:
    if e.share_type == "conditional" and not (e.share_condition.strip() or e.rights.strip()):
        yield "share_condition", "no_share_condition", {}


def check_share_mode(e: Entry, _: Mapping[str, Any], __: Context) -> Iterator[Issue]:
    if e.share_type in ("unconditional", "conditional") and not e.share_mode.strip():
        yield "share_mode", "no_share_mode", {}


def check_non_public_reason(e: Entry, _: Mapping[str, Any], __: Context) -> Iterator[Issue]:
    restricted = e.share_type == "none" or e.open_type == "closed"
    if restricted and not (e.rights.strip() or e.share_condition.strip() or e.open_condition.strip()):
        yield "rights", "no_restriction_basis", {}


def check_dates(e: Entry, _: Mapping[str, Any], c: Context) -> Iterator[Issue]:
    if e.published and e.modified and e.modified < e.published:
        params = {"modified": e.modified.isoformat(), "published": e.published.isoformat()}
        yield "modified", "modified_before_published", params
    for name in ("published", "modified"):
        d = e.value(name)
        if d is not None and d > c.today:
            yield name, "date_in_future", {"field": name, "date": d.isoformat()}


# --- freshness --------------------------------------------------------------------------------------


def check_freshness(e: Entry, p: Mapping[str, Any], c: Context) -> Iterator[Issue]:
    days = period_days(e.update_cycle) if e.update_cycle else None
    last = e.modified or e.published
    if days is None or last is None:
        return
    age = (c.today - last).days
    if age > float(p["factor"]) * days:
        params = {
            "last": last.isoformat(),
            "age": age,
            "cycle": e.update_cycle,
            "factor": float(p["factor"]),
            "days": float(days),
        }
        yield "modified", "stale", params


# --- contact ----------------------------------------------------------------------------------------

EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+?[\d\s()\-]{7,20}$")
NO_REPLY = re.compile(r"^(no-?reply|do-?not-?reply|noreply)@", re.IGNORECASE)


def check_contact(e: Entry, _: Mapping[str, Any], __: Context) -> Iterator[Issue]:
    email = e.contact_email.strip().removeprefix("mailto:")
    phone = e.contact_phone.strip()
    if not email and not phone:
        yield "contact", "no_contact", {}
        return
    if email and not EMAIL.match(email):
        yield "contact_email", "invalid_email", {"value": email}
    elif email and NO_REPLY.match(email):
        yield "contact_email", "no_reply_email", {"value": email}
    digits = re.sub(r"\D", "", phone)
    if phone and (not PHONE.match(phone) or not 7 <= len(digits) <= 15):
        yield "contact_phone", "invalid_phone", {"value": phone}


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
        yield "items", "sensitive_items", {"items": flagged + named}
    elif pattern and p.get("scan_summary", True):
        terms = sorted({m.group(0).lower() for m in pattern.finditer(f"{e.name} {e.summary}")})
        if terms:
            yield "summary", "sensitive_summary", {"terms": terms}


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "completeness",
            Text("必填项完整性", "Required metadata"),
            "error",
            Text(
                "GB/T 21063.3 规定信息资源名称、发布日期、摘要、提供方、资源标识符和元数据标识符"
                "为必选核心元数据；"
                "《政务信息资源目录编制指南（试行）》另要求填写信息资源分类、共享类型和更新周期。"
                "信息系统须填写名称、摘要、提供方和联系方式。",
                "GB/T 21063.3 makes the resource name, publication date, summary, provider, resource "
                "identifier and metadata identifier mandatory core metadata; the 2017 cataloguing guideline "
                "adds the category, sharing type and update frequency. An information system needs a name, "
                "summary, provider and contact.",
            ),
            Text(
                "在目录中补充问题所列的必填项。",
                "Fill in the field named in the finding in the catalog record.",
            ),
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
            Text("代码表符合性", "Code-list conformance"),
            "error",
            Text(
                "共享类型、共享方式、开放属性和更新周期应按《政务信息资源目录编制指南（试行）》代码表取值；"
                "分类编码按类（1位）、项（2位）、目（3位）、细目逐级编码。",
                "The sharing type, sharing mode, openness and update frequency take values from the "
                "cataloguing guideline's code lists; the category code follows class (1 digit), "
                "sub-class (2), item (3) and sub-item digits.",
            ),
            Text(
                "按问题所列代码表重新选择取值。",
                "Choose a value from the code list named in the finding.",
            ),
            {"allowed_formats": []},
            check_code_lists,
        ),
        Rule(
            "share-condition",
            Text("有条件共享须注明共享条件", "Conditional sharing states its conditions"),
            "error",
            Text(
                "共享类型为有条件共享的，应注明共享条件（《政务信息资源目录编制指南（试行）》）；"
                "不予共享的依据由“不予共享依据”规则检查。",
                "A resource shared on conditions must state its sharing conditions (2017 cataloguing "
                "guideline); resources that are not shared are checked by the 'non-public-reason' rule.",
            ),
            Text(
                "在“共享条件”中写明使用对象、使用用途和申请方式。",
                "State in the sharing condition who may use the data, for what, and how to apply.",
            ),
            {},
            check_share_condition,
        ),
        Rule(
            "share-mode",
            Text("共享方式", "Sharing mode"),
            "error",
            Text(
                "除不予共享外，每项信息资源均应注明共享方式（共享平台、邮件或介质）。",
                "Every resource that is shared must name its sharing mode (sharing platform, e-mail or "
                "physical media).",
            ),
            Text(
                "填写共享方式，一般为“共享平台”；向社会开放但无下载地址的资源，应补充资源下载地址。",
                "Set the sharing mode, usually the sharing platform; an open resource without a download "
                "needs a distribution.",
            ),
            {},
            check_share_mode,
        ),
        Rule(
            "non-public-reason",
            Text("不予共享依据", "Basis for withholding"),
            "error",
            Text(
                "不予共享或不向公众开放的信息资源，应注明有关法律、行政法规或政策依据"
                "（《政务信息资源共享管理暂行办法》，国发〔2016〕51号）。",
                "A resource that is not shared, or not open to the public, must cite a law, regulation or "
                "policy (State Council Guo Fa [2016] No. 51); in data.json, 'rights' should explain a "
                "non-public access level.",
            ),
            Text(
                "在“不予共享（开放）依据”中注明具体的法律法规或政策文件。",
                "Cite the legal or policy basis in the rights field.",
            ),
            {},
            check_non_public_reason,
        ),
        Rule(
            "dates",
            Text("日期一致性", "Date consistency"),
            "warning",
            Text(
                "更新日期不得早于发布日期，发布日期和更新日期均不得晚于审核基准日。",
                "The update date cannot precede the publication date, and neither date may lie in the "
                "future.",
            ),
            Text("核实并更正发布日期或更新日期。", "Correct the publication date or the update date."),
            {},
            check_dates,
        ),
        Rule(
            "freshness",
            Text("更新及时性", "Freshness against the update frequency"),
            "warning",
            Text(
                "信息资源最近一次更新距今超过声明更新周期的规定倍数（参数 factor）的，视为未按期更新，"
                "或更新日期未及时维护（参照 pydatajson 的 datasets_actualizados_pct 指标）。",
                "A resource whose last update is older than factor × its declared update frequency is "
                "stale, or its date is not maintained (pydatajson's datasets_actualizados_pct).",
            ),
            Text(
                "按期更新数据并同步维护更新日期；确实无法按原周期更新的，如实调整更新周期。",
                "Update the data and its update date, or declare the frequency it really keeps.",
            ),
            {"factor": 2.0},
            check_freshness,
        ),
        Rule(
            "contact",
            Text("联系方式有效性", "Contact validity"),
            "warning",
            Text(
                "目录应提供可联系的有效联系方式：格式正确且可接收回复的电子邮箱，或有效的联系电话。",
                "A record needs a reachable contact: a valid e-mail address that accepts replies, or a "
                "valid telephone number.",
            ),
            Text(
                "填写责任处室的电子邮箱或联系电话。",
                "Give the responsible office's e-mail address or telephone number.",
            ),
            {},
            check_contact,
        ),
        Rule(
            "sensitive-open",
            Text("开放资源敏感信息", "Personal data in open resources"),
            "error",
            Text(
                "无条件共享或向公众开放的信息资源，不得含有身份证号、手机号、住址等个人信息或敏感信息项。",
                "Resources shared unconditionally or open to the public must not carry personal or "
                "sensitive data items (identity card numbers, mobile numbers, home addresses …).",
            ),
            Text(
                "对相关信息项脱敏或删除，或将共享类型调整为有条件共享或不予共享。",
                "Mask or remove the items, or change the sharing type to conditional or not shared.",
            ),
            {"scan_summary": True},
            check_sensitive,
        ),
        Rule(
            "dcat-ap-shacl",
            Text("DCAT-AP 3 SHACL 校验", "DCAT-AP 3 SHACL"),
            "error",
            Text(
                "目录导出的 DCAT 数据应符合 DCAT-AP 3.0.1 SHACL 约束（SEMICeu，CC BY 4.0）。",
                "The DCAT export of the record must satisfy the DCAT-AP 3.0.1 SHACL shapes (SEMICeu, "
                "CC BY 4.0).",
            ),
            Text(
                "补充问题所列的 DCAT 属性（如 dct:description、dcat:accessURL）。",
                "Fill the property named in the finding (e.g. dct:description, dcat:accessURL).",
            ),
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
            for name, key, params in r.rule.check(e, r.params, ctx):
                findings.append(Finding(e.key, r.rule.id, r.severity, name, key, params))
    return findings

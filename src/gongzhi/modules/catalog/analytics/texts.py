"""What the catalog audit says, in zh-CN (the primary language) and in English, never mixed in one string.

A finding is stored language-neutral, as a message key and its parameters (field names, values, dates,
counts); each reader sees it rendered in their language by ``render``. Field names and code-list values in
the parameters are codes (``share_type``, ``conditional``) and are named here per language; what the
record itself holds (a value, an item's name) is data and is quoted as written. Terms follow GB/T
21063.3-2007 and the 2017 《政务信息资源目录编制指南（试行）》.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"


@dataclass(frozen=True)
class Text:
    """One text in both languages; ``text(lang)`` picks one (zh-CN for anything but ``en``)."""

    zh: str
    en: str

    def __call__(self, lang: str = DEFAULT_LANG) -> str:
        return self.en if lang == "en" else self.zh


FIELDS: dict[str, Text] = {
    "name": Text("信息资源名称", "resource name"),
    "summary": Text("信息资源摘要", "summary"),
    "provider": Text("信息资源提供方", "provider"),
    "identifier": Text("信息资源标识符", "resource identifier"),
    "metadata_id": Text("元数据标识符", "metadata identifier"),
    "published": Text("发布日期", "publication date"),
    "modified": Text("更新日期", "update date"),
    "category": Text("信息资源分类", "resource category"),
    "category_code": Text("分类编码", "category code"),
    "keywords": Text("关键字说明", "keywords"),
    "share_type": Text("共享类型", "sharing type"),
    "share_condition": Text("共享条件", "sharing condition"),
    "share_mode": Text("共享方式", "sharing mode"),
    "open_type": Text("开放属性", "openness"),
    "update_cycle": Text("更新周期", "update frequency"),
    "format": Text("信息资源格式", "format"),
    "items": Text("信息项", "data items"),
    "functions": Text("功能描述", "functions"),
    "contact": Text("联系方式", "contact"),
    "contact_email": Text("联系邮箱", "contact e-mail"),
    "contact_phone": Text("联系电话", "contact telephone"),
    "rights": Text("不予共享（开放）依据", "basis for withholding (rights)"),
}

CODES: dict[str, dict[str, Text]] = {
    "share_type": {
        "unconditional": Text("无条件共享", "unconditional"),
        "conditional": Text("有条件共享", "conditional"),
        "none": Text("不予共享", "not shared"),
    },
    "share_mode": {
        "platform": Text("共享平台", "sharing platform"),
        "email": Text("邮件", "e-mail"),
        "media": Text("介质", "physical media"),
    },
    "open_type": {
        "open": Text("向公众开放", "open to the public"),
        "conditional": Text("有条件开放", "open on conditions"),
        "closed": Text("不向公众开放", "not open to the public"),
    },
    "update_cycle": {
        "irregular": Text("不定时", "irregular"),
        "realtime": Text("实时", "real-time"),
        "daily": Text("每日", "daily"),
        "weekly": Text("每周", "weekly"),
        "monthly": Text("每月", "monthly"),
        "quarterly": Text("每季度", "quarterly"),
        "semiannual": Text("每半年", "every six months"),
        "annual": Text("每年", "yearly"),
        "other": Text("其他", "other"),
    },
}

MESSAGES: dict[str, Text] = {
    "missing_field": Text("必填项“{field}”未填写", "Required field missing: {field}"),
    "not_in_code_list": Text(
        "{field}“{value}”不在代码表中，应为：{allowed}",
        "{field} '{value}' is not in the code list; use one of: {allowed}",
    ),
    "unknown_cycle": Text(
        "更新周期“{value}”既不是代码表取值（不定时、实时、每日、每周、每月、每季度、每半年、每年、其他），"
        "也不是 ISO 8601 重复周期（R/P…）",
        "Update frequency '{value}' is neither a code-list value (irregular, real-time, daily, weekly, "
        "monthly, quarterly, every six months, yearly, other) nor an ISO 8601 repeating period (R/P…)",
    ),
    "bad_category_code": Text(
        "分类编码“{value}”不符合类（1位）、项（2位）、目（3位）、细目的编码规则",
        "Category code '{value}' does not follow the class (1 digit), sub-class (2), item (3), "
        "sub-item digits",
    ),
    "format_not_allowed": Text(
        "信息资源格式“{value}”不在本区允许的格式范围内（{allowed}）",
        "Format '{value}' is not one of the formats this region allows ({allowed})",
    ),
    "no_share_condition": Text(
        "共享类型为有条件共享，但未填写共享条件",
        "Shared on conditions, but no sharing condition is stated",
    ),
    "no_share_mode": Text(
        "未填写共享方式：除不予共享外，均应注明共享方式（共享平台、邮件或介质）",
        "No sharing mode: every resource that is shared must state how (sharing platform, e-mail or "
        "physical media)",
    ),
    "no_restriction_basis": Text(
        "不予共享或不向公众开放，但未注明法律法规或政策依据",
        "Not shared or not open to the public, but no legal or policy basis is given",
    ),
    "modified_before_published": Text(
        "更新日期 {modified} 早于发布日期 {published}",
        "Update date {modified} is before the publication date {published}",
    ),
    "date_in_future": Text(
        "{field} {date} 晚于审核基准日，不应为将来日期",
        "{field} {date} lies in the future",
    ),
    "stale": Text(
        "最近更新于 {last}（距审核基准日 {age} 天），已超过声明更新周期“{cycle}”（{days} 天）的 {factor} 倍："
        "数据未按期更新，或更新日期未维护",
        "Last updated {last} ({age} days ago), more than {factor} × the declared update frequency "
        "'{cycle}' ({days} days): the data is stale or its date is not maintained",
    ),
    "no_contact": Text(
        "未填写联系方式：既无电子邮箱，也无联系电话",
        "No contact: neither an e-mail address nor a telephone number",
    ),
    "invalid_email": Text("电子邮箱“{value}”格式不正确", "E-mail address '{value}' is not valid"),
    "no_reply_email": Text(
        "电子邮箱“{value}”不接收回复，不能作为联系方式",
        "E-mail address '{value}' does not accept replies",
    ),
    "invalid_phone": Text("联系电话“{value}”格式不正确", "Telephone number '{value}' is not valid"),
    "sensitive_items": Text(
        "开放资源含有个人信息或敏感信息项：{items}",
        "Open resource carries personal or sensitive data items: {items}",
    ),
    "sensitive_summary": Text(
        "开放资源的名称或摘要涉及个人信息（{terms}），请核实是否已脱敏",
        "Open resource's name or summary mentions personal data ({terms}): check that it is masked",
    ),
    "shacl_missing": Text(
        "DCAT-AP 校验未通过：缺少必备属性 {prop}",
        "DCAT-AP validation: required property {prop} is missing",
    ),
    "shacl_recommended": Text(
        "DCAT-AP 校验提示：建议填写属性 {prop}",
        "DCAT-AP validation: recommended property {prop} is missing",
    ),
    "shacl_violation": Text(
        "DCAT-AP 校验未通过：属性 {prop} 不符合约束 {component}",
        "DCAT-AP validation: property {prop} violates {component} ({detail})",
    ),
}

SEVERITIES = {
    "error": Text("错误（必须整改）", "error (must fix)"),
    "warning": Text("警告（建议整改）", "warning (should fix)"),
    "info": Text("提示", "info"),
}
STATUSES = {
    "open": Text("待整改", "open"),
    "fixed": Text("已整改", "fixed"),
    "archived": Text("已归档", "archived"),
}


def lang_of(code: str | None) -> str:
    """``zh-CN`` or ``en`` for a console locale (``zh_CN``, ``en``) or an API ``lang`` value."""
    return "en" if code and code.lower().startswith("en") else DEFAULT_LANG


def field_name(name: str, lang: str = DEFAULT_LANG) -> str:
    text = FIELDS.get(name)
    return text(lang) if text else name


def code_name(field: str, code: str, lang: str = DEFAULT_LANG) -> str:
    text = CODES.get(field, {}).get(code)
    return text(lang) if text else code


def _join(values: Any, lang: str) -> str:
    return ("、" if lang != "en" else ", ").join(str(v) for v in values)


def _param(key: str, value: Any, params: Mapping[str, Any], lang: str) -> str:
    field = str(params.get("field", ""))
    if key == "field":
        return field_name(str(value), lang)
    if key == "allowed" and field in CODES:
        return _join((code_name(field, str(v), lang) for v in value), lang)
    if key == "cycle":
        return code_name("update_cycle", str(value), lang)
    if isinstance(value, list | tuple):
        return _join(value, lang)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render(key: str, params: Mapping[str, Any], lang: str = DEFAULT_LANG) -> str:
    """The finding message ``key`` with its ``params`` in ``lang``; raises KeyError for an unknown key."""
    values = {k: _param(k, v, params, lang) for k, v in params.items()}
    text = MESSAGES[key](lang).format(**values)
    return text[:1].upper() + text[1:] if lang == "en" else text


def message_text(key: str, params: Mapping[str, Any], stored: str, lang: str = DEFAULT_LANG) -> str:
    """What a stored finding shows: its key rendered in ``lang``, or, for a finding stored before findings
    carried a key (or with a key this version does not know), the text as stored."""
    if key not in MESSAGES:
        return stored
    try:
        return render(key, params, lang)
    except (KeyError, IndexError, ValueError):
        return stored

"""Every audit rule on a good and a bad entry, and the per-region configuration of rules."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from gongzhi.modules.catalog.analytics import rules, texts
from gongzhi.modules.catalog.analytics.entry import Entry, Item
from gongzhi.modules.catalog.analytics.periods import normalise_cycle, period_days

TODAY = rules.Context(date(2025, 2, 1))
GOOD = Entry(
    key="1",
    name="不动产登记信息",
    summary="不动产登记结果",
    provider="自然资源局",
    identifier="330000/A0001",
    category="自然资源",
    category_code="101001",
    keywords=("不动产",),
    share_type="conditional",
    share_condition="仅限政务用途",
    share_mode="platform",
    open_type="closed",
    rights="《不动产登记暂行条例》",
    update_cycle="monthly",
    published=date(2024, 1, 1),
    modified=date(2025, 1, 10),
    contact_email="data@zrzy.gov.cn",
    contact_phone="0571-87654321",
    items=(Item("坐落"), Item("面积", "number")),
)
BAD = {
    "completeness": replace(GOOD, summary="", keywords=()),
    "code-list": replace(GOOD, share_type="部分共享", update_cycle="每两年", category_code="1-01"),
    "share-condition": replace(GOOD, share_condition="", rights=""),
    "share-mode": replace(GOOD, share_mode=""),
    "non-public-reason": replace(GOOD, share_type="none", share_condition="", rights=""),
    "dates": replace(GOOD, modified=date(2023, 5, 1)),
    "freshness": replace(GOOD, modified=date(2024, 9, 1)),
    "contact": replace(GOOD, contact_email="noreply@zrzy.gov.cn", contact_phone="12"),
    "sensitive-open": replace(GOOD, share_type="unconditional", open_type="open", items=(Item("身份证号"),)),
}
PER_ENTRY = [r for r in rules.RULES.values() if r.check is not None]


def run(entry: Entry, rule_id: str, **params: object) -> list[rules.Finding]:
    active = rules.activate({rule_id: {"enabled": True, "params": params}})
    return [f for f in rules.audit([entry], active, TODAY) if f.rule_id == rule_id]


def test_every_per_entry_rule_has_a_bad_fixture() -> None:
    assert {r.id for r in PER_ENTRY} == set(BAD)


@pytest.mark.parametrize("rule", PER_ENTRY, ids=lambda r: r.id)
def test_a_good_entry_passes(rule: rules.Rule) -> None:
    assert run(GOOD, rule.id) == []


@pytest.mark.parametrize("rule", PER_ENTRY, ids=lambda r: r.id)
def test_a_bad_entry_is_found_with_its_rule_and_field(rule: rules.Rule) -> None:
    found = run(BAD[rule.id], rule.id)
    assert found and all(f.key == "1" and f.severity == rule.severity and f.message for f in found)


def test_completeness_names_each_missing_field() -> None:
    assert {f.field for f in run(BAD["completeness"], "completeness")} == {"summary", "keywords"}
    app = Entry(
        key="2",
        kind="application",
        name="排水系统",
        summary="x",
        provider="水务局",
        published=date(2024, 1, 1),
    )
    assert [f.field for f in run(app, "completeness")] == ["contact"]


def test_code_lists_flag_each_value_outside_them() -> None:
    fields = {f.field for f in run(BAD["code-list"], "code-list")}
    assert fields == {"share_type", "update_cycle", "category_code"}
    assert run(replace(GOOD, update_cycle="R/P2W"), "code-list") == []  # ISO 8601 repetitions conform
    assert run(replace(GOOD, format="xls"), "code-list", allowed_formats=["csv", "json"])


def test_unconditional_sharing_needs_no_condition_but_a_mode() -> None:
    open_entry = replace(GOOD, share_type="unconditional", share_condition="", rights="", open_type="open")
    assert run(open_entry, "share-condition") == [] and run(open_entry, "non-public-reason") == []
    assert run(replace(open_entry, share_mode=""), "share-mode")
    assert run(replace(GOOD, share_type="none", share_mode=""), "share-mode") == []


def test_freshness_uses_the_declared_period_and_factor() -> None:
    stale = BAD["freshness"]  # 153 days old, monthly
    assert run(stale, "freshness", factor=6.0) == []
    assert run(replace(stale, update_cycle="irregular"), "freshness") == []
    assert run(replace(stale, update_cycle="R/P1Y"), "freshness") == []


def test_contact_rejects_malformed_addresses_and_missing_contacts() -> None:
    assert {f.field for f in run(BAD["contact"], "contact")} == {"contact_email", "contact_phone"}
    assert [f.field for f in run(replace(GOOD, contact_email="a@b", contact_phone=""), "contact")] == [
        "contact_email"
    ]
    assert [f.field for f in run(replace(GOOD, contact_email="", contact_phone=""), "contact")] == ["contact"]


def test_sensitive_data_counts_only_in_open_resources() -> None:
    assert (
        run(replace(BAD["sensitive-open"], share_type="conditional", open_type="closed"), "sensitive-open")
        == []
    )
    flagged = replace(GOOD, share_type="unconditional", items=(Item("病种", sensitive=True),))
    assert "病种" in run(flagged, "sensitive-open")[0].message
    prose = replace(GOOD, share_type="unconditional", items=(), summary="包括姓名、手机号等")
    assert run(prose, "sensitive-open")[0].field == "summary"
    assert run(prose, "sensitive-open", scan_summary=False) == []


def test_a_region_switches_rules_and_severities() -> None:
    active = rules.activate({"freshness": {"enabled": False}, "contact": {"severity": "info"}})
    ids = {r.rule.id for r in active}
    assert "freshness" not in ids and "dcat-ap-shacl" not in ids  # SHACL is opt-in
    assert next(r for r in active if r.rule.id == "contact").severity == "info"
    with pytest.raises(ValueError, match="unknown rule"):
        rules.activate({"nope": {}})
    with pytest.raises(ValueError, match="severity"):
        rules.activate({"contact": {"severity": "fatal"}})


def test_update_periods_read_labels_codes_and_iso_durations() -> None:
    assert [normalise_cycle(v) for v in ("每月", "5", "R/P1M", "半年")] == [
        "monthly",
        "monthly",
        "monthly",
        "semiannual",
    ]
    assert period_days("R/P2W") == 14 and period_days("irregular") is None and period_days("soon") is None


# --- language: zh-CN first, English second, never mixed ------------------------------------------------

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def _without_data(text: str, params: Mapping[str, Any]) -> str:
    """``text`` less the record's own values (data, quoted as written, may be Chinese)."""
    for key, value in params.items():
        if key in ("field", "allowed", "cycle", "component"):  # codes, named per language
            continue
        for v in value if isinstance(value, list) else [value]:
            text = text.replace(str(v), "")
    return text


@pytest.mark.parametrize("rule", rules.RULES.values(), ids=lambda r: r.id)
def test_each_rule_says_itself_once_in_chinese_and_once_in_english(rule: rules.Rule) -> None:
    for text in (rule.title, rule.explanation, rule.fix_hint):
        assert CJK.search(text.zh) and text() == text.zh and text("zh-CN") == text.zh, text.zh
        assert text.en and not CJK.search(text.en) and text("en") == text.en, text.en


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_message_has_the_same_parameters_in_both_languages() -> None:
    """Except ``detail``: the SHACL engine's own English explanation, which only the English text shows."""
    for key, m in texts.MESSAGES.items():
        assert _placeholders(m.zh) == _placeholders(m.en) - {"detail"}, key


@pytest.mark.parametrize("rule_id", sorted(BAD))
def test_a_finding_reads_in_chinese_or_in_english_from_its_key(rule_id: str) -> None:
    for f in run(BAD[rule_id], rule_id):
        zh, en = f.text("zh-CN"), f.text("en")
        assert f.message == zh and f.message_key in texts.MESSAGES
        assert CJK.search(zh) and not re.search(r"[a-z]{3,}", _without_data(zh, f.params)), zh
        assert not CJK.search(_without_data(en, f.params)), en
        assert en[:1].isupper()


def test_code_list_values_and_field_names_are_named_per_language() -> None:
    (f,) = [f for f in run(BAD["code-list"], "code-list") if f.field == "share_type"]
    assert f.params == {
        "field": "share_type",
        "value": "部分共享",
        "allowed": ["unconditional", "conditional", "none"],
    }
    assert f.text() == "共享类型“部分共享”不在代码表中，应为：无条件共享、有条件共享、不予共享"
    assert f.text("en") == (
        "Sharing type '部分共享' is not in the code list; use one of: unconditional, conditional, not shared"
    )
    (stale,) = run(BAD["freshness"], "freshness")
    assert "“每月”（31 天）的 2 倍" in stale.text() and "'monthly' (31 days)" in stale.text("en")


def test_a_finding_stored_before_message_keys_shows_as_stored() -> None:
    legacy = "必填项缺失 missing required field: 名称 (name)"
    assert texts.message_text("", {}, legacy, "en") == legacy == texts.message_text("", {}, legacy)
    assert (
        texts.message_text("missing_field", {"field": "name"}, legacy, "en")
        == "Required field missing: resource name"
    )
    assert texts.message_text("missing_field", {}, legacy, "en") == legacy  # parameters lost: as stored

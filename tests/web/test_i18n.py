"""One catalogue: every string of the templates and the console's code is in it, in Chinese and English."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from gongzhi.web.i18n import HERE, LOCALES, Lang, catalog, translations


def test_every_message_of_the_sources_is_in_every_catalogue() -> None:
    assert catalog.problems() == [], "run: python -m gongzhi.web.i18n.catalog update, then translate"


def test_the_template_catalogue_lists_every_id() -> None:
    from babel.messages.pofile import read_po

    with (HERE / "messages.pot").open("rb") as fh:
        pot = {m.id for m in read_po(fh) if m.id}
    assert {m.id for m in catalog.extract_ids() if m.id} <= pot


def test_chinese_is_the_default_and_translates() -> None:
    zh, en = Lang("zh_CN"), Lang("en")
    assert zh.gettext("Dispatch") == "派单" and en.gettext("Dispatch") == "Dispatch"
    assert zh.gettext("Case %(number)s created", number="GS1") == "工单 GS1 已创建"
    assert set(LOCALES) == {"zh_CN", "en"} and translations("zh_CN") is translations("zh_CN")


def test_dates_are_shown_in_shanghai_time_per_locale() -> None:
    utc = datetime(2026, 11, 28, 16, 30, tzinfo=UTC)  # 00:30 the next day in Shanghai
    assert Lang("zh_CN").when(utc) == "2026/11/29 00:30"
    assert Lang("en").when(utc).startswith("11/29/26")
    assert Lang("zh_CN").day(date(2026, 11, 29)) == "11/29"
    assert Lang("zh_CN").number(12345) == "12,345" and Lang("zh_CN").percent(0.875) == "88%"
    assert Lang("zh_CN").relative(timedelta(hours=-3)) == "3小时前"
    assert Lang("en").relative(timedelta(hours=5)) == "in 5 hours"


def test_the_consoles_alert_kinds_name_the_pv_classes_as_the_pv_module_does() -> None:
    """The PV classes' names stand in ``pv/names.py`` (report, stored alert and case texts) and, for the
    catalogue to extract them, in ``web/labels.py``: every class has one, in English and in zh-CN alike."""
    from gongzhi.modules.pv.names import CLASS_NAMES
    from gongzhi.web.labels import ALERT_KINDS

    pv_kinds = {k.removeprefix("pv."): v for k, v in ALERT_KINDS.items() if k.startswith("pv.")}
    assert pv_kinds == {c: n["en"] for c, n in CLASS_NAMES.items()}
    zh = Lang("zh_CN")
    assert {c: zh.gettext(v) for c, v in pv_kinds.items()} == {c: n["zh-CN"] for c, n in CLASS_NAMES.items()}


def test_every_robot_state_and_timeline_entry_has_a_name_the_console_shows() -> None:
    """A robot's state and a case event's kind are stored codes; an unnamed one would show as its code."""
    import re
    from pathlib import Path

    from gongzhi.modules.pv.models import ROBOT_STATES
    from gongzhi.web.labels import ACTIONS
    from gongzhi.web.labels import ROBOT_STATES as NAMES

    assert set(NAMES) == set(ROBOT_STATES)
    src = Path(HERE).parents[1]
    recorded = {
        m
        for path in src.rglob("*.py")
        for m in re.findall(r'(?:record_event|_event)\(\s*\w+,\s*\w+,\s*"(\w+)"', path.read_text())
    }
    from gongzhi.modules.pv import loop

    recorded |= {loop.VERIFICATION, loop.RECLEAN_HELD}
    assert recorded and recorded <= set(ACTIONS), recorded - set(ACTIONS)

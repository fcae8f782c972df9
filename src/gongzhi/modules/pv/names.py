"""The names of the PV anomaly classes, zh-CN and English: one table for the O&M report, the alerts and the
work orders a finding raises (stored text is zh-CN, the language of the people who act on it)."""

from __future__ import annotations

CLASS_NAMES: dict[str, dict[str, str]] = {
    "single_hot_cell": {"zh-CN": "单个热斑电池片", "en": "Single hot cell"},
    "multiple_hot_cells": {"zh-CN": "多个热斑电池片", "en": "Multiple hot cells"},
    "hot_spot": {"zh-CN": "局部热点", "en": "Hot spot"},
    "substring": {"zh-CN": "旁路二极管/子串", "en": "Bypass diode / substring"},
    "module_offline": {"zh-CN": "组件离线", "en": "Module offline"},
    "string_offline": {"zh-CN": "组串离线", "en": "String offline"},
    "junction_box": {"zh-CN": "接线盒过热", "en": "Junction box"},
    "shading": {"zh-CN": "遮挡", "en": "Shading"},
    "soiling": {"zh-CN": "积灰污渍", "en": "Soiling"},
    "vegetation": {"zh-CN": "植被遮挡", "en": "Vegetation"},
    "cracking": {"zh-CN": "隐裂", "en": "Cracking"},
}


def zh(anomaly_class: str) -> str:
    """The class's Chinese name (the code itself for a class without one)."""
    return CLASS_NAMES.get(anomaly_class, {}).get("zh-CN", anomaly_class)

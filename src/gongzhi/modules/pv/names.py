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

LOWER_BOUND_NOTE: dict[str, str] = {
    "zh-CN": "缺陷小于 3×3 像素测温光斑，ΔT 读数偏低、为下限，建议近距离复测",
    "en": "The pattern is smaller than the 3 × 3 px measurement spot: its ΔT reads low, a lower bound; "
    "measure it again from closer",
}
"""What a finding whose ΔT is only a lower bound (``details["delta_t_lower_bound"]``) says in its alert,
its case and the findings map."""


def zh(anomaly_class: str) -> str:
    """The class's Chinese name (the code itself for a class without one)."""
    return CLASS_NAMES.get(anomaly_class, {}).get("zh-CN", anomaly_class)

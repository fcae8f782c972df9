"""Update periods (更新周期): the code list of the 2017 catalogue guideline and ISO 8601 repetitions.

Codes follow the "GXZQ" dictionary of a real platform (kweaver-ai/dsg): 1 不定时, 2 实时, 3 每日, 4 每周,
5 每月, 6 每季度, 7 每半年, 8 每年, 9 其他. data.json's ``accrualPeriodicity`` (``R/P1M`` …) maps onto them.
"""

from __future__ import annotations

import re

CYCLE_DAYS: dict[str, float | None] = {
    "irregular": None,
    "realtime": 1.0,
    "daily": 1.0,
    "weekly": 7.0,
    "monthly": 31.0,
    "quarterly": 92.0,
    "semiannual": 183.0,
    "annual": 366.0,
    "other": None,
}
SYNONYMS = {
    "irregular": ("1", "不定时", "不定期", "irregular", "as needed"),
    "realtime": ("2", "实时", "realtime", "real-time", "continuous"),
    "daily": ("3", "每日", "每天", "日", "daily", "r/p1d"),
    "weekly": ("4", "每周", "周", "weekly", "r/p1w"),
    "monthly": ("5", "每月", "月", "monthly", "r/p1m"),
    "quarterly": ("6", "每季度", "季度", "quarterly", "r/p3m"),
    "semiannual": ("7", "每半年", "半年", "semiannual", "r/p6m"),
    "annual": ("8", "每年", "年", "annual", "yearly", "r/p1y"),
    "other": ("9", "其他", "other"),
}
_LOOKUP = {s: code for code, names in SYNONYMS.items() for s in names}
_ISO = re.compile(r"^r/p(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)w)?(?:(\d+)d)?(?:t(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?)?$")


def normalise_cycle(raw: str) -> str:
    """The code for a known label (每月, 5, R/P1M → monthly); anything else is kept as written."""
    value = raw.strip()
    return _LOOKUP.get(value.lower(), value)


def period_days(cycle: str) -> float | None:
    """Length of one update period [days], or None for irregular, other and unknown values."""
    if cycle in CYCLE_DAYS:
        return CYCLE_DAYS[cycle]
    m = _ISO.match(cycle.strip().lower())
    if not m or not any(m.groups()):
        return None
    y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    days = 365.25 * y + 30.44 * mo + 7 * w + d + (h + mi / 60 + s / 3600) / 24
    return max(days, 1.0)


def is_known_cycle(cycle: str) -> bool:
    return cycle in CYCLE_DAYS or period_days(cycle) is not None

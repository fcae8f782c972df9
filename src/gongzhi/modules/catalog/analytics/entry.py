"""A catalog record as the auditor sees it: plain, immutable, independent of the database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

SHARE_TYPES = {
    "unconditional": ("1", "无条件共享", "无条件", "unconditional"),
    "conditional": ("2", "有条件共享", "有条件", "conditional"),
    "none": ("3", "不予共享", "不共享", "none"),
}
SHARE_MODES = {
    "platform": ("1", "共享平台", "平台", "platform"),
    "email": ("2", "邮件", "电子邮件", "email"),
    "media": ("3", "介质", "光盘", "media"),
}
OPEN_TYPES = {
    "open": ("1", "向公众开放", "无条件开放", "开放", "open", "public"),
    "conditional": ("有条件开放", "conditional", "restricted public"),
    "closed": ("2", "不向公众开放", "不予开放", "不开放", "closed", "non-public"),
}
KINDS = ("dataset", "application")


def _lookup(table: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {s.lower(): code for code, names in table.items() for s in names}


_SHARE_TYPE = _lookup(SHARE_TYPES)
_SHARE_MODE = _lookup(SHARE_MODES)
_OPEN_TYPE = _lookup(OPEN_TYPES)


def normalise_code(kind: str, raw: str) -> str:
    """Known labels and numeric codes to the stored code; unknown values stay for the code-list rule."""
    table = {"share_type": _SHARE_TYPE, "share_mode": _SHARE_MODE, "open_type": _OPEN_TYPE}[kind]
    value = raw.strip()
    return table.get(value.lower(), value)


class Item(NamedTuple):
    """An information item (信息项) with its data type and whether it is personal or sensitive."""

    name: str
    type: str = ""
    sensitive: bool = False


@dataclass(frozen=True)
class Entry:
    """An application (信息系统) or data resource: GB/T 21063.3 core metadata and the 2017 guideline."""

    key: str
    kind: str = "dataset"
    name: str = ""
    summary: str = ""
    provider: str = ""
    provider_code: str = ""
    category: str = ""
    category_code: str = ""
    identifier: str = ""
    metadata_id: str = ""
    keywords: tuple[str, ...] = ()
    format: str = ""
    resource_type: str = ""
    share_type: str = ""
    share_condition: str = ""
    share_mode: str = ""
    open_type: str = ""
    open_condition: str = ""
    rights: str = ""
    update_cycle: str = ""
    published: date | None = None
    modified: date | None = None
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    url: str = ""
    license: str = ""
    functions: str = ""
    items: tuple[Item, ...] = ()
    distributions: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    def value(self, name: str) -> Any:
        return getattr(self, name)

    @property
    def is_open(self) -> bool:
        return self.share_type == "unconditional" or self.open_type == "open"

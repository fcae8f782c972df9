"""Writers of catalog exports: data.json (Project Open Data v1.1) and Excel in the import's own columns."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook

from gongzhi.kit.sheets import XLSX_MEDIA_TYPE, formula_safe
from gongzhi.modules.catalog.analytics.entry import Entry
from gongzhi.modules.catalog.io.dcat import CatalogInfo

POD_SCHEMA = "https://project-open-data.cio.gov/v1.1/schema"
ACCESS_LEVEL = {"unconditional": "public", "conditional": "restricted public", "none": "non-public"}
PERIODICITY = {
    "daily": "R/P1D",
    "weekly": "R/P1W",
    "monthly": "R/P1M",
    "quarterly": "R/P3M",
    "semiannual": "R/P6M",
    "annual": "R/P1Y",
    "realtime": "R/PT1S",
    "irregular": "irregular",
}
XLSX = XLSX_MEDIA_TYPE
COLUMNS = [
    ("kind", "类型"),
    ("key", "目录键"),
    ("identifier", "信息资源代码"),
    ("metadata_id", "元数据标识符"),
    ("name", "信息资源名称"),
    ("summary", "信息资源摘要"),
    ("provider", "信息资源提供方"),
    ("provider_code", "提供方代码"),
    ("category", "信息资源分类"),
    ("category_code", "分类编码"),
    ("keywords", "关键字"),
    ("format", "信息资源格式"),
    ("resource_type", "资源类型"),
    ("share_type", "共享类型"),
    ("share_condition", "共享条件"),
    ("share_mode", "共享方式"),
    ("open_type", "开放属性"),
    ("open_condition", "开放条件"),
    ("rights", "不予共享依据"),
    ("update_cycle", "更新周期"),
    ("published", "发布日期"),
    ("modified", "更新日期"),
    ("contact_name", "联系人"),
    ("contact_email", "联系邮箱"),
    ("contact_phone", "联系电话"),
    ("url", "在线资源链接地址"),
    ("license", "许可"),
    ("functions", "功能描述"),
    ("items", "信息项"),
]


def _pod(e: Entry) -> dict[str, Any]:
    last = e.modified or e.published
    d: dict[str, Any] = {
        "@type": "dcat:Dataset",
        "title": e.name,
        "description": e.summary,
        "keyword": list(e.keywords),
        "modified": last.isoformat() if last else "",
        "publisher": {"@type": "org:Organization", "name": e.provider},
        "contactPoint": {
            "@type": "vcard:Contact",
            "fn": e.contact_name,
            "hasEmail": f"mailto:{e.contact_email}",
        },
        "identifier": e.identifier or e.key,
        "accessLevel": ACCESS_LEVEL.get(e.share_type, "non-public"),
    }
    optional = {
        "issued": e.published.isoformat() if e.published else "",
        "accrualPeriodicity": PERIODICITY.get(e.update_cycle, ""),
        "rights": e.rights or e.share_condition,
        "landingPage": e.url,
        "license": e.license,
        "theme": [e.category] if e.category else [],
    }
    d.update({k: v for k, v in optional.items() if v})
    dists = [
        {"@type": "dcat:Distribution", **{k: v for k, v in _dist(x).items() if v}} for x in e.distributions
    ]
    if dists:
        d["distribution"] = dists
    return d


def _dist(x: dict[str, Any]) -> dict[str, Any]:
    return {
        "accessURL": x.get("access_url", ""),
        "downloadURL": x.get("download_url", ""),
        "mediaType": x.get("media_type", ""),
        "title": x.get("title", ""),
    }


def write_datajson(entries: Sequence[Entry], info: CatalogInfo) -> bytes:
    """A Project Open Data v1.1 catalog of the data resources (applications are not datasets there)."""
    doc = {
        "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld",
        "@type": "dcat:Catalog",
        "conformsTo": POD_SCHEMA,
        "describedBy": f"{POD_SCHEMA}/catalog.json",
        "dataset": [_pod(e) for e in entries if e.kind == "dataset"],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode()


def _cell(e: Entry, col: str) -> object:
    value = getattr(e, col)
    if col == "keywords":
        value = "；".join(value)
    elif col == "items":
        value = "; ".join(
            f"{i.name}{':' + i.type if i.type else ''}{'!' if i.sensitive else ''}" for i in value
        )
    return "" if value is None else formula_safe(value)


def write_xlsx(entries: Sequence[Entry]) -> bytes:
    """One sheet with the import's columns (``中文 field``), so an export can be edited and re-imported."""
    wb = Workbook()
    ws = wb.active
    ws.title = "资源目录 catalog"
    ws.append([f"{zh} {en}" for en, zh in COLUMNS])
    for e in entries:
        ws.append([_cell(e, col) for col, _ in COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

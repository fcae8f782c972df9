"""Readers of catalog files: the Chinese open-data catalog, data.json (POD v1.1), code.json, our own JSON,
CSV and Excel. Each returns one :class:`ParsedRow` per input record, with the fields of the record in our
vocabulary and the problems found while reading it; nothing here touches the database.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from gongzhi.errors import msg
from gongzhi.kit import sheets
from gongzhi.modules.catalog.analytics.entry import normalise_code
from gongzhi.modules.catalog.analytics.periods import normalise_cycle

FORMATS = ("auto", "cn-opendata", "datajson", "codejson", "native", "csv", "xlsx")


@dataclass
class RowError:
    row: int
    field: str
    message: str


@dataclass
class ParsedRow:
    """One input record; ``columns`` names the fields a spreadsheet provides (None: the whole record)."""

    row: int
    data: dict[str, Any]
    errors: list[RowError] = field(default_factory=list)
    columns: frozenset[str] | None = None


class ReadError(ValueError):
    """The file as a whole cannot be read (not JSON, unknown layout, empty sheet)."""


# --- values -----------------------------------------------------------------------------------------

_CN_DATE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?$")
_YMD = re.compile(r"^(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?")
_YEAR = re.compile(r"^(\d{4})$")
LIST_SPLIT = re.compile(r"[;；,，、\n]+")


def parse_date(value: Any) -> date | None:
    """Dates as catalogs write them: 2020-12-31, 2020/12/31, 2020年12月31日, ISO timestamps, 2020-12, 2020."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    m = _CN_DATE.match(text) or _YMD.match(text)
    if m:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
    if _YEAR.match(text):
        return date(int(text), 1, 1)
    raise ValueError(msg("not a date: “%(text)s”", text=text))


def split_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in LIST_SPLIT.split(str(value)) if v.strip()]


def parse_items(value: Any) -> list[dict[str, Any]]:
    """信息项 written as ``姓名:string!; 地址`` (``:type`` optional, ``!`` marks personal or sensitive)."""
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return [
            {
                "name": str(v.get("name", "")),
                "type": str(v.get("type", "")),
                "sensitive": bool(v.get("sensitive")),
            }
            for v in value
            if v.get("name")
        ]
    items = []
    for part in re.split(r"[;；\n]+", str(value or "")):
        part = part.strip()
        if not part:
            continue
        sensitive = part.endswith(("!", "！"))
        name, _, typ = (
            part.rstrip("!！").partition(":") if ":" in part else part.rstrip("!！").partition("：")
        )
        items.append({"name": name.strip(), "type": typ.strip(), "sensitive": sensitive})
    return items


def derived_key(*parts: str) -> str:
    """A stable key for a record that brings no identifier (provider + name)."""
    return "k-" + hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()[:16]


def _clean(data: dict[str, Any], row: int) -> ParsedRow:
    """Normalise codes and dates of a mapped record; bad dates become row errors, not exceptions."""
    out = ParsedRow(row, {k: v for k, v in data.items() if v not in (None, "")})
    for name in ("published", "modified"):
        try:
            out.data[name] = parse_date(data.get(name))
        except ValueError as exc:
            out.errors.append(RowError(row, name, exc.args[0]))
            out.data.pop(name, None)
    for name in ("share_type", "share_mode", "open_type"):
        if isinstance(out.data.get(name), str):
            out.data[name] = normalise_code(name, out.data[name])
    if isinstance(out.data.get("update_cycle"), str):
        out.data["update_cycle"] = normalise_cycle(out.data["update_cycle"])
    for name in ("keywords",):
        if name in out.data:
            out.data[name] = split_list(out.data[name])
    if "items" in out.data:
        out.data["items"] = parse_items(out.data["items"])
    if not str(out.data.get("name", "")).strip():
        out.errors.append(RowError(row, "name", msg("the record has no name (名称) and was skipped")))
    return out


# --- the Chinese open-data catalog (北京 and the like) --------------------------------------------

CN_FIELDS = {
    "资源名称": "name",
    "信息资源名称": "name",
    "资源摘要": "summary",
    "信息资源摘要": "summary",
    "资源所有权单位": "provider",
    "信息资源提供方": "provider",
    "提供方": "provider",
    "资源分类": "category",
    "信息资源分类": "category",
    "关键字说明": "keywords",
    "资源类型": "resource_type",
    "资源出版日期": "published",
    "信息资源发布日期": "published",
}
_ITEMS_IN_SUMMARY = re.compile(r"包括(.+?)等(?:属性)?(?:字段|信息|数据项)")


def items_from_summary(summary: str) -> list[dict[str, Any]]:
    """The 2017 guideline's 信息项 as the Beijing catalog states them in prose: 包括A、B、C等属性字段."""
    m = _ITEMS_IN_SUMMARY.search(summary)
    if not m:
        return []
    names = [re.sub(r"[（(].*?[)）]", "", n).strip() for n in re.split(r"[、，,]", m.group(1))]
    return [{"name": n, "type": "", "sensitive": False} for n in names if 0 < len(n) <= 30]


def read_cn_opendata(records: list[dict[str, Any]]) -> list[ParsedRow]:
    rows = []
    for n, rec in enumerate(records, start=1):
        data: dict[str, Any] = {"kind": "dataset", "open_type": "open", "extra": {}}
        for k, v in rec.items():
            if k in CN_FIELDS:
                data[CN_FIELDS[k]] = v
            else:
                data["extra"][k] = v
        data["items"] = items_from_summary(str(data.get("summary", "")))
        data["key"] = derived_key(str(data.get("provider", "")), str(data.get("name", "")))
        rows.append(_clean(data, n))
    return rows


# --- Project Open Data v1.1 (data.json) ------------------------------------------------------------

POD_ACCESS = {"public": "unconditional", "restricted public": "conditional", "non-public": "none"}


def _pod_dataset(d: dict[str, Any]) -> dict[str, Any]:
    contact = d.get("contactPoint") or {}
    publisher = d.get("publisher") or {}
    dists = [
        {
            "access_url": x.get("accessURL", ""),
            "download_url": x.get("downloadURL", ""),
            "media_type": x.get("mediaType", ""),
            "format": x.get("format", ""),
            "title": x.get("title", ""),
        }
        for x in d.get("distribution") or []
        if isinstance(x, dict)
    ]
    access = str(d.get("accessLevel", ""))
    return {
        "kind": "dataset",
        "key": str(
            d.get("identifier") or derived_key(str(publisher.get("name", "")), str(d.get("title", "")))
        ),
        "identifier": d.get("identifier", ""),
        "name": d.get("title", ""),
        "summary": d.get("description", ""),
        "provider": publisher.get("name", "") if isinstance(publisher, dict) else str(publisher),
        "provider_code": ",".join(d.get("bureauCode") or []),
        "category": ",".join(d["theme"]) if isinstance(d.get("theme"), list) else d.get("theme", ""),
        "keywords": d.get("keyword") or [],
        "share_type": POD_ACCESS.get(access, access),
        "share_mode": "platform" if dists else "",
        "open_type": {"public": "open", "restricted public": "conditional", "non-public": "closed"}.get(
            access, ""
        ),
        "rights": d.get("rights", ""),
        "update_cycle": d.get("accrualPeriodicity", ""),
        "published": d.get("issued"),
        "modified": d.get("modified"),
        "contact_name": contact.get("fn", ""),
        "contact_email": str(contact.get("hasEmail", "")).removeprefix("mailto:"),
        "url": d.get("landingPage", ""),
        "license": d.get("license", ""),
        "distributions": dists,
        "extra": {k: d[k] for k in ("programCode", "bureauCode", "spatial", "temporal") if k in d},
    }


def read_datajson(doc: dict[str, Any]) -> list[ParsedRow]:
    return [_clean(_pod_dataset(d), n) for n, d in enumerate(doc.get("dataset") or [], start=1)]


# --- code.json (code.gov 2.0) ----------------------------------------------------------------------


def _code_release(r: dict[str, Any], agency: str) -> dict[str, Any]:
    contact = r.get("contact") or {}
    dates = r.get("date") or {}
    perms = r.get("permissions") or {}
    provider = str(r.get("organization") or agency)
    name = str(r.get("name", ""))
    return {
        "kind": "application",
        "key": derived_key(provider, name, str(r.get("repositoryURL", ""))),
        "name": name,
        "summary": r.get("description", ""),
        "provider": provider,
        "keywords": r.get("tags") or [],
        "published": dates.get("created"),
        "modified": dates.get("lastModified"),
        "contact_name": contact.get("name", ""),
        "contact_email": contact.get("email", ""),
        "contact_phone": contact.get("phone", ""),
        "url": r.get("repositoryURL") or r.get("homepageURL", ""),
        "license": ",".join(str(x.get("name") or x.get("URL", "")) for x in perms.get("licenses") or []),
        "open_type": "open" if perms.get("usageType") == "openSource" else "",
        "extra": {k: r[k] for k in ("languages", "laborHours", "status", "version") if k in r},
    }


def read_codejson(doc: dict[str, Any]) -> list[ParsedRow]:
    agency = str(doc.get("agency", ""))
    releases = doc.get("releases") or doc.get("projects") or []
    return [_clean(_code_release(r, agency), n) for n, r in enumerate(releases, start=1)]


# --- our own JSON, CSV and Excel -------------------------------------------------------------------

SHEET_FIELDS = {
    **CN_FIELDS,
    "类型": "kind",
    "资源代码": "identifier",
    "信息资源代码": "identifier",
    "资源标识符": "identifier",
    "元数据标识符": "metadata_id",
    "摘要": "summary",
    "名称": "name",
    "提供方代码": "provider_code",
    "分类": "category",
    "分类编码": "category_code",
    "关键字": "keywords",
    "格式": "format",
    "信息资源格式": "format",
    "共享类型": "share_type",
    "共享条件": "share_condition",
    "共享方式": "share_mode",
    "开放属性": "open_type",
    "开放条件": "open_condition",
    "不予共享依据": "rights",
    "更新周期": "update_cycle",
    "发布日期": "published",
    "更新日期": "modified",
    "联系人": "contact_name",
    "联系邮箱": "contact_email",
    "联系电话": "contact_phone",
    "在线资源链接地址": "url",
    "链接": "url",
    "许可": "license",
    "功能描述": "functions",
    "信息项": "items",
}
FIELDS = {
    "kind",
    "key",
    "identifier",
    "metadata_id",
    "name",
    "summary",
    "provider",
    "provider_code",
    "category",
    "category_code",
    "keywords",
    "format",
    "resource_type",
    "share_type",
    "share_condition",
    "share_mode",
    "open_type",
    "open_condition",
    "rights",
    "update_cycle",
    "published",
    "modified",
    "contact_name",
    "contact_email",
    "contact_phone",
    "url",
    "license",
    "functions",
    "items",
    "distributions",
    "extra",
}


def header_field(header: str) -> str | None:
    """A column's field: ``name``, ``信息资源名称`` or our export's ``名称 name`` all map to ``name``."""
    text = str(header or "").strip()
    last = text.rsplit(" ", 1)[-1].lower()
    if last in FIELDS:
        return last
    return SHEET_FIELDS.get(text.split(" ", 1)[0]) or SHEET_FIELDS.get(text)


def _sheet_rows(header: list[Any], rows: Iterable[tuple[int, list[Any]]]) -> list[ParsedRow]:
    fields = [header_field(str(h)) for h in header]
    if "name" not in fields:
        raise ReadError(msg("no column for the name (名称 / 信息资源名称 / name) in the header row"))
    out = []
    for n, values in rows:
        if all(v in (None, "") for v in values):
            continue
        data = {f: v for f, v in zip(fields, values, strict=False) if f and v not in (None, "")}
        data = {k: (sheets.unguard(v.strip()) if isinstance(v, str) else v) for k, v in data.items()}
        data.setdefault("kind", "dataset")
        data["kind"] = {"应用": "application", "信息系统": "application", "数据": "dataset"}.get(
            str(data["kind"]), str(data["kind"])
        )
        for k in ("identifier", "category_code", "provider_code", "contact_phone"):
            if isinstance(data.get(k), int | float):
                data[k] = str(int(data[k]))
        if "key" not in data:
            data["key"] = str(
                data.get("identifier")
                or derived_key(str(data.get("provider", "")), str(data.get("name", "")))
            )
        parsed = _clean(data, n)
        parsed.columns = frozenset(f for f in fields if f) | {"kind", "key"}
        out.append(parsed)
    return out


def read_csv(raw: bytes) -> list[ParsedRow]:
    try:
        text = sheets.csv_text(raw)
    except sheets.SheetError as exc:
        raise ReadError(exc.args[0]) from exc
    reader = list(csv.reader(io.StringIO(text)))
    if not reader:
        raise ReadError(msg("the CSV file is empty"))
    return _sheet_rows(reader[0], ((n, r) for n, r in enumerate(reader[1:], start=2)))


def read_xlsx(raw: bytes) -> list[ParsedRow]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:
        raise ReadError(msg("not an Excel workbook: %(why)s", why=str(exc))) from exc
    sheet = wb.worksheets[0]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    wb.close()
    if not values:
        raise ReadError(msg("the first sheet is empty"))
    return _sheet_rows(values[0], ((n, r) for n, r in enumerate(values[1:], start=2)))


def read_native(doc: Any) -> list[ParsedRow]:
    records = doc.get("records", []) if isinstance(doc, dict) else doc
    out = []
    for n, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            out.append(ParsedRow(n, {}, [RowError(n, "", msg("not an object"))]))
            continue
        unknown = sorted(set(rec) - FIELDS)
        data = {k: v for k, v in rec.items() if k in FIELDS}
        data.setdefault(
            "key",
            str(
                data.get("identifier")
                or derived_key(str(data.get("provider", "")), str(data.get("name", "")))
            ),
        )
        row = _clean(data, n)
        row.errors.extend(RowError(n, k, msg("unknown field ignored")) for k in unknown)
        out.append(row)
    return out


def detect_json(doc: Any) -> str:
    if isinstance(doc, dict) and "dataset" in doc:
        return "datajson"
    if isinstance(doc, dict) and ("releases" in doc or "projects" in doc):
        return "codejson"
    records = doc.get("records") if isinstance(doc, dict) else doc
    if isinstance(records, list) and records and isinstance(records[0], dict):
        return "cn-opendata" if set(records[0]) & set(CN_FIELDS) else "native"
    raise ReadError(
        msg("unknown JSON layout: expected data.json, code.json, a Chinese catalog or our records")
    )


JSON_READERS: dict[str, Callable[[Any], list[ParsedRow]]] = {
    "cn-opendata": read_cn_opendata,
    "datajson": read_datajson,
    "codejson": read_codejson,
    "native": read_native,
}


def read_any(raw: bytes, filename: str = "", fmt: str = "auto") -> tuple[str, list[ParsedRow]]:
    """Read a catalog file of the given or detected format; returns (format, rows)."""
    if fmt not in FORMATS:
        raise ReadError(
            msg("unknown format “%(fmt)s”; one of %(formats)s", fmt=fmt, formats=", ".join(FORMATS))
        )
    lower = filename.lower()
    if fmt == "xlsx" or (fmt == "auto" and (lower.endswith(".xlsx") or raw[:2] == b"PK")):
        return "xlsx", read_xlsx(raw)
    if fmt == "csv" or (fmt == "auto" and lower.endswith(".csv")):
        return "csv", read_csv(raw)
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReadError(msg("not valid JSON: %(why)s", why=str(exc))) from exc
    kind = detect_json(doc) if fmt == "auto" else fmt
    return kind, JSON_READERS[kind](doc)

"""Open311 GeoReport v2 documents in XML and JSON (the "Spark convention": XML lists become JSON arrays).

Element names and nesting follow the specification (open311.org GeoReport v2): ``services/service``,
``service_definition/attributes/attribute/values/value``, ``service_requests/request``,
``errors/error``; in JSON the outer wrapper is dropped and lists are arrays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree as ET

XML = "text/xml"
JSON = "application/json"
# list element → item element name, so nested lists serialise the way the spec shows them
_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "keywords": "keyword",
    "notes": "note",
    "media_urls": "media_url",
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _append(parent: ET.Element, name: str, value: Any) -> None:
    el = ET.SubElement(parent, name)
    if isinstance(value, Mapping):
        for k, v in value.items():
            _append(el, k, v)
    elif isinstance(value, list | tuple):
        item = _ITEMS.get(name, "item")
        for v in value:
            _append(el, item, v)
    else:
        el.text = _text(value)


def to_xml(root: str, items: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> bytes:
    """A document with ``root`` wrapping one item element per entry (or the mapping's fields)."""
    el = ET.Element(root)
    if isinstance(items, Mapping):
        for k, v in items.items():
            _append(el, k, v)
    else:
        name = _ITEMS.get(root, "item")
        for it in items:
            _append(el, name, it)
    body: bytes = ET.tostring(el, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def to_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def errors(items: Sequence[tuple[int, str]], fmt: str) -> bytes:
    body = [{"code": code, "description": desc} for code, desc in items]
    return to_xml("errors", body) if fmt == "xml" else to_json(body)

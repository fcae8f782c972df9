"""An inspection's findings as KML 2.2 (OGC 07-147r2), for the crews who walk the roof to them: Google Earth,
DJI Pilot 2 and the phone map apps field crews use (e.g. 奥维互动地图) open it.

One placemark per module with a finding (its worst, as in the results CSV): the module's outline and its
centre, named by the module id, coloured by severity (S3 red, S2 orange, S1 yellow), in one folder per
class, the most severe first; the description says the class, severity, CoA and ΔT in the reader's
language (zh-CN or en), and ``ExtendedData`` carries the same figures under their CSV names. Findings an
operator rejected as false alarms are left out: nobody should walk to them. As KMZ (:func:`findings_kmz`)
the placemarks also show the finding's thermal crop and, where the frame came with one, the visible
photo over the same window, so that the crew knows the module when they stand at it. Written with the
standard library; the tests check it against the OGC schema and read it back with ``fastkml``.
"""

from __future__ import annotations

import html
import io
import math
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree as ET

from gongzhi.modules.pv.io.wpml import KML_NS
from gongzhi.modules.pv.names import CLASS_NAMES, LOWER_BOUND_NOTE

MEDIA_TYPE = "application/vnd.google-earth.kml+xml"
KMZ_MEDIA_TYPE = "application/vnd.google-earth.kmz"

SEVERITY_COLOURS = {"S3": "ff0000ff", "S2": "ff0080ff", "S1": "ff00ffff"}
"""Each severity's colour, as KML spells it (aabbggrr): red, orange, yellow."""

_ORDER = {severity: i for i, severity in enumerate(SEVERITY_COLOURS)}
"""The most severe first."""

_TEXT: dict[str, dict[str, str]] = {
    "severity": {"zh-CN": "严重度", "en": "severity"},
    "frames": {"zh-CN": "{n} 帧可见", "en": "seen in {n} frames"},
    "at_least": LOWER_BOUND_NOTE,
    "findings": {"zh-CN": "{n} 处缺陷", "en": "{n} findings"},
}

_DATA = (
    "module_id", "anomaly_class", "severity", "coa", "delta_t_k", "delta_tn_k", "delta_t_lower_bound",
    "t_max_c", "frames_seen", "finding_status",
)  # fmt: skip
"""The row fields a placemark's ``ExtendedData`` carries, under these names (those of the results CSV)."""


def findings_kml(
    rows: Sequence[Mapping[str, Any]],
    outlines: Mapping[str, Sequence[Sequence[float]]],
    *,
    title: str,
    lang: str = "zh-CN",
    images: Mapping[str, Sequence[str]] | None = None,
) -> bytes:
    """The modules of ``rows`` that have a finding (a ``severity``; :func:`.pipeline.module_rows`, with
    ``finding_status`` where an operator reviewed it) as a KML document named ``title``.

    Parameters
    ----------
    rows : sequence of mapping
        One per module: ``module_id``, ``lon``, ``lat``, ``anomaly_class``, ``severity``, ``coa``,
        ``delta_t_k``, ``delta_tn_k``, ``delta_t_lower_bound``, ``t_max_c``, ``frames_seen`` and optionally
        ``finding_status``. A module without a position (a photo without GPS) is left out.
    outlines : mapping
        Module id → its corners as [lon, lat] pairs (:func:`.pipeline.layout_outlines`); a module without
        one is its centre alone.
    title : str
        The document's name, e.g. the plant and the inspection.
    lang : str
        ``zh-CN`` (default) or ``en``: the language of the names and descriptions.
    images : mapping, optional
        Module id → paths of pictures (relative, inside a KMZ) its description shows; the description is
        then HTML.
    """
    lang = lang if lang in ("zh-CN", "en") else "zh-CN"
    found = [
        r
        for r in rows
        if r.get("severity")
        and r.get("finding_status") != "rejected"
        and _finite(r.get("lon"))
        and _finite(r.get("lat"))
    ]
    found.sort(
        key=lambda r: (_ORDER.get(str(r["severity"]), 3), -(r.get("delta_t_k") or 0.0), r["module_id"])
    )
    # the namespace declared as an attribute and the tags left plain: ElementTree's default_namespace
    # refuses the plain attribute names (id, name) KML uses
    root = ET.Element("kml", {"xmlns": KML_NS})
    document = ET.SubElement(root, "Document")
    _text(document, "name", title)
    _text(document, "open", "1")
    _text(document, "description", _TEXT["findings"][lang].format(n=len(found)))
    for severity, colour in SEVERITY_COLOURS.items():
        _style(document, severity, colour)
    # a folder per class, in the order of their most severe finding
    for cls in dict.fromkeys(str(r["anomaly_class"]) for r in found):
        members = [r for r in found if r["anomaly_class"] == cls]
        folder = ET.SubElement(document, "Folder")
        _text(folder, "name", f"{_class_name(cls, lang)} ({len(members)})")
        for r in members:
            pictures = (images or {}).get(str(r["module_id"]), ())
            _placemark(folder, r, outlines.get(str(r["module_id"])), lang, pictures)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def findings_kmz(
    rows: Sequence[Mapping[str, Any]],
    outlines: Mapping[str, Sequence[Sequence[float]]],
    pictures: Mapping[str, tuple[bytes | None, bytes | None]],
    *,
    title: str,
    lang: str = "zh-CN",
) -> bytes:
    """:func:`findings_kml` as a KMZ (a zip whose ``doc.kml`` comes first) with each finding's pictures:
    ``pictures`` maps a module id to its thermal crop and visible photo (PNG, either ``None``), stored as
    ``files/<module>-ir.png`` and ``files/<module>-photo.png`` and shown in the placemark's description."""
    images: dict[str, list[str]] = {}
    files: list[tuple[str, bytes]] = []
    for module_id, pair in pictures.items():
        for kind, png in zip(("ir", "photo"), pair, strict=True):
            if png:
                path = f"files/{module_id}-{kind}.png"
                images.setdefault(module_id, []).append(path)
                files.append((path, png))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as kmz:
        kmz.writestr("doc.kml", findings_kml(rows, outlines, title=title, lang=lang, images=images))
        for path, png in files:
            kmz.writestr(zipfile.ZipInfo(path), png, zipfile.ZIP_STORED)  # PNG is compressed already
    return buffer.getvalue()


def _placemark(folder: ET.Element, r: Mapping[str, Any], outline: Sequence[Sequence[float]] | None,
               lang: str, pictures: Sequence[str] = ()) -> None:  # fmt: skip
    placemark = ET.SubElement(folder, "Placemark")
    _text(placemark, "name", str(r["module_id"]))
    text = _description(r, lang)
    if pictures:  # HTML, as KML readers show a description
        lines = "<br/>".join(html.escape(line) for line in text.splitlines())
        shown = "".join(f'<img src="{html.escape(p)}" width="160"/>' for p in pictures)
        text = f"{lines}<br/>{shown}"
    _text(placemark, "description", text)
    _text(placemark, "styleUrl", f"#{r['severity']}" if r["severity"] in SEVERITY_COLOURS else "#S1")
    data = ET.SubElement(placemark, "ExtendedData")
    for name in _DATA:
        value = r.get(name)
        if value is None or value == "":
            continue
        item = ET.SubElement(data, "Data", {"name": name})
        _text(item, "value", str(value).lower() if isinstance(value, bool) else str(value))
    geometry = ET.SubElement(placemark, "MultiGeometry")
    point = ET.SubElement(geometry, "Point")
    _text(point, "coordinates", _coordinates([(r["lon"], r["lat"])]))
    if outline:
        ring = [(p[0], p[1]) for p in outline]
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        polygon = ET.SubElement(geometry, "Polygon")
        boundary = ET.SubElement(ET.SubElement(polygon, "outerBoundaryIs"), "LinearRing")
        _text(boundary, "coordinates", _coordinates(ring))


def _description(r: Mapping[str, Any], lang: str) -> str:
    at_least = "≥ " if r.get("delta_t_lower_bound") else ""
    parts = [_class_name(str(r["anomaly_class"]), lang), f"{_TEXT['severity'][lang]} {r['severity']}"]
    if r.get("coa") is not None:
        parts.append(f"CoA {r['coa']}")
    lines = [" · ".join(parts)]
    temps = [f"ΔT {at_least}{r['delta_t_k']:.1f} K"] if _finite(r.get("delta_t_k")) else []
    if _finite(r.get("delta_tn_k")):
        temps.append(f"ΔTn {at_least}{r['delta_tn_k']:.1f} K")
    if r.get("frames_seen"):
        temps.append(_TEXT["frames"][lang].format(n=r["frames_seen"]))
    if temps:
        lines.append(" · ".join(temps))
    if at_least:
        lines.append(_TEXT["at_least"][lang])
    return "\n".join(lines)


def _class_name(cls: str, lang: str) -> str:
    return CLASS_NAMES.get(cls, {}).get(lang, cls)


def _style(document: ET.Element, severity: str, colour: str) -> None:
    style = ET.SubElement(document, "Style", {"id": severity})
    icon = ET.SubElement(style, "IconStyle")
    _text(icon, "color", colour)
    _text(icon, "scale", "1.2" if severity == "S3" else "1.0")
    line = ET.SubElement(style, "LineStyle")
    _text(line, "color", colour)
    _text(line, "width", "2")
    poly = ET.SubElement(style, "PolyStyle")
    _text(poly, "color", "66" + colour[2:])  # the outline filled at 40 % opacity


def _coordinates(points: Sequence[tuple[Any, Any]]) -> str:
    return " ".join(f"{float(lon):.8f},{float(lat):.8f},0" for lon, lat in points)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element

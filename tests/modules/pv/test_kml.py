"""Findings as KML for a field crew's map: valid against the OGC KML 2.2 schema, read back by ``fastkml`` (an
independent reader), one placemark per module with a finding, by severity and class, false alarms left out."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from gongzhi.modules.pv.io.kml import SEVERITY_COLOURS, findings_kml, findings_kmz

from .kml_check import placemarks, valid

OUTLINE = [[120.0999, 30.1999], [120.1001, 30.1999], [120.1001, 30.2001], [120.0999, 30.2001]]


def row(module_id: str, cls: str, severity: str, dt: float, **more: Any) -> dict[str, Any]:
    return {"module_id": module_id, "lon": 120.1, "lat": 30.2, "anomaly_class": cls, "severity": severity,
            "coa": 3 if severity == "S3" else 2, "delta_t_k": dt, "delta_tn_k": dt * 1.25, "t_max_c": 50 + dt,
            "frames_seen": 4, "delta_t_lower_bound": False, **more}  # fmt: skip


def test_findings_are_placemarks_by_class_most_severe_first_valid_kml_22() -> None:
    rows = [
        row("A-01-03", "soiling", "S1", 2.0, delta_tn_k=None),
        row("A-01-02", "hot_spot", "S3", 20.4, delta_t_lower_bound=True),
        row("A-02-01", "hot_spot", "S2", 12.0),
        row("A-02-02", "cracking", "S2", 11.0, finding_status="rejected"),  # a false alarm
        row("A-02-03", "none", "", 0.0),  # no finding
        row("X-00001", "shading", "S1", -4.0, lon=float("nan"), lat=float("nan")),  # no position
    ]
    data = findings_kml(rows, {"A-01-02": OUTLINE}, title="报社屋顶 巡检 #6")
    valid(data)
    folders = placemarks(data)
    assert list(folders) == ["局部热点 (2)", "积灰污渍 (1)"]
    spot, other = folders["局部热点 (2)"]
    assert (spot.name, other.name) == ("A-01-02", "A-02-01")  # S3 before S2
    assert spot.style_url is not None and spot.style_url.url == "#S3"
    assert spot.description.splitlines() == [
        "局部热点 · 严重度 S3 · CoA 3",
        "ΔT ≥ 20.4 K · ΔTn ≥ 25.5 K · 4 帧可见",
        "缺陷小于 3×3 像素测温光斑，ΔT 读数偏低、为下限，建议近距离复测",
    ]
    data_of = {d.name: d.value for d in spot.extended_data.elements}
    assert data_of["delta_t_lower_bound"] == "true" and data_of["anomaly_class"] == "hot_spot"
    # the module's outline (closed) and its centre; a module without an outline is its centre alone
    geometries = list(spot.geometry.geoms)
    assert [g.geom_type for g in geometries] == ["Point", "Polygon"]
    assert geometries[0].coords[0][:2] == pytest.approx((120.1, 30.2))
    ring = geometries[1].exterior.coords
    assert len(ring) == 5 and ring[0] == ring[-1]
    assert [g.geom_type for g in folders["积灰污渍 (1)"][0].geometry.geoms] == ["Point"]
    text = data.decode()
    assert "A-02-02" not in text and "A-02-03" not in text and "X-00001" not in text
    assert all(
        f'<Style id="{s}">' in text and f"<color>{c}</color>" in text for s, c in SEVERITY_COLOURS.items()
    )


def test_the_findings_kml_speaks_english_on_request_and_is_valid_when_empty() -> None:
    data = findings_kml([row("A-01-02", "junction_box", "S2", 14.0)], {}, title="Roof #6", lang="en")
    valid(data)
    (only,) = placemarks(data)["Junction box (1)"]
    assert only.description.splitlines() == [
        "Junction box · severity S2 · CoA 2",
        "ΔT 14.0 K · ΔTn 17.5 K · seen in 4 frames",
    ]
    empty = findings_kml([], {}, title="Roof #7", lang="en")
    valid(empty)
    assert placemarks(empty) == {} and "<description>0 findings</description>" in empty.decode()


def test_as_kmz_each_placemark_shows_its_thermal_crop_and_photo() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16  # the bytes are stored as given
    rows = [row("A-01-02", "hot_spot", "S3", 20.4), row("A-01-03", "soiling", "S1", 2.0)]
    pictures = {"A-01-02": (png, png + b"photo"), "A-01-03": (png, None), "A-09-09": (png, None)}
    data = findings_kmz(rows, {"A-01-02": OUTLINE}, pictures, title="屋顶 巡检 #6")
    with zipfile.ZipFile(io.BytesIO(data)) as kmz:
        names = kmz.namelist()
        assert names[0] == "doc.kml"  # readers take the first .kml
        assert set(names[1:]) == {"files/A-01-02-ir.png", "files/A-01-02-photo.png", "files/A-01-03-ir.png",
                                  "files/A-09-09-ir.png"}  # fmt: skip
        assert kmz.read("files/A-01-02-photo.png") == png + b"photo"
        doc = kmz.read("doc.kml")
    valid(doc)
    spot = placemarks(doc)["局部热点 (1)"][0]
    assert spot.description.startswith("局部热点 · 严重度 S3 · CoA 3<br/>ΔT 20.4 K")
    assert spot.description.endswith(
        '<img src="files/A-01-02-ir.png" width="160"/><img src="files/A-01-02-photo.png" width="160"/>'
    )
    dirty = placemarks(doc)["积灰污渍 (1)"][0]
    assert dirty.description.endswith('<br/><img src="files/A-01-03-ir.png" width="160"/>')

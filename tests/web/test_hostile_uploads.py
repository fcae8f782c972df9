"""Every upload the API takes (multipart: flights, case files, photos, spreadsheets, plants) answers files
with hostile names and contents without a 500, and keeps nothing outside its store: a path climbing out,
a NUL, a name of 1,000 characters, none, a right-to-left override; empty, binary, GBK text, a damaged zip,
a real frame."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import World
from tests.modules.pv.flights import tiny_flight
from tests.web.helpers import openapi_schema

NAMES = (
    "../../../escaped.tif",
    "a\x00b.tif",
    "x" * 1000 + ".tif",
    "",
    "名字.tif",
    "CON",
    "a/b\\c.csv",
    "\u202etxt.exe",
)


def damaged_zip(member: bytes) -> bytes:
    """A zip (an .xlsx is one too) whose directory is whole and whose member's deflated data is not."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", member)
    data = bytearray(out.getvalue())
    data[80:140] = bytes(b ^ 0x5A for b in data[80:140])
    return bytes(data)


def test_every_upload_takes_hostile_names_and_contents_without_a_500(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    flight = tiny_flight(tmp_path / "flight", frames=2)
    files = {"file": ("roof.geojson", flight.geojson, "application/geo+json")}
    made = client.post("/api/v1/pv/plants/import", files=files, headers=world.alice.headers)
    assert made.status_code == 201, made.text
    ids = {"plant_id": made.json()["id"]}  # the other ids name no row: those uploads end in 404
    contents = (
        b"",
        b"II*\x00" + bytes(100),
        "名字,编号\n1,2\n".encode("gbk"),
        damaged_zip(flight.frames[0].read_bytes()),
        flight.frames[0].read_bytes(),
    )
    spec = client.get("/openapi.json").json()
    answered: dict[tuple[str, str], set[int]] = {}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            form = op.get("requestBody", {}).get("content", {}).get("multipart/form-data")
            if form is None:
                continue
            schema = openapi_schema(spec, form["schema"])
            fields = [k for k, v in schema.get("properties", {}).items() if "contentMediaType" in str(v)]
            for name in NAMES:
                for content in contents:
                    r = client.request(
                        method.upper(),
                        re.sub(r"\{([^}]+)\}", lambda m: str(ids.get(m.group(1), 1)), path),
                        files=[(f, (name, content, "application/octet-stream")) for f in fields],
                        headers=world.adam.headers,
                    )
                    assert r.status_code < 500, (method, path, name, content[:8], r.text[:300])
                    answered.setdefault((method, path), set()).add(r.status_code)
    assert len(answered) >= 8
    # the real frame was taken under every name but the one PostgreSQL cannot store (a NUL: 422 there)
    assert 202 in answered[("post", "/api/v1/pv/plants/{plant_id}/inspections")]
    assert not list(tmp_path.parent.glob("**/escaped.tif"))

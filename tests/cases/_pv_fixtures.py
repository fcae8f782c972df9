"""Region A's PV plant and inspection for the isolation walk (``test_isolation.py``): what A's people build
through the PV API, the bodies the walk sends to every PV write, and what an outsider may get back.

Region A holds a plant named after the mark (its code is the mark) and one analysed inspection of a tiny
synthetic flight with its findings and their alerts. Region C, the outsider, has no plant when the walk reads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope
from gongzhi.modules.pv import models as pv_models
from gongzhi.modules.pv import results
from gongzhi.registry import load_modules
from tests.conftest import World
from tests.modules.pv.flights import Flight, tiny_flight

PV = "/api/v1/pv"
LISTS: dict[str, str | None] = {"/pv/plants": "id", "/pv/inspections": "id"}
OUTSIDER_CREATES: dict[tuple[str, str], int] = {
    ("POST", "/pv/plants"): 201,  # reuses A's plant code: 409 would mean it saw A's plant
    ("POST", "/pv/plants/import"): 201,
}
EMPTY_FOR_OUTSIDER = ("/pv/plants", "/pv/inspections")
PRODUCTION_CSV = b"timestamp,zone,power_kw,poa_w_m2,module_temp_c\n2026-07-01T12:00:00+08:00,A,80.5,900,45\n"
COUNTED = (
    pv_models.PvPlant,
    pv_models.PvModule,
    pv_models.PvInspection,
    pv_models.PvFrame,
    pv_models.PvModuleResult,
    pv_models.PvFinding,
    pv_models.PvCleaningOrder,
)


@dataclass(frozen=True)
class PvA:
    plant_id: int
    plant_code: str  # the imported plant, analysed
    generated_code: str  # a second plant, generated from the outline
    inspection_id: int
    finding_id: int
    module_id: str  # the finding's module
    flight: Flight | None

    def substitutions(self) -> dict[str, list[str]]:
        return {
            "plant_id": [str(self.plant_id)],
            "inspection_id": [str(self.inspection_id)],
            "finding_id": [str(self.finding_id)],
            "module_id": [self.module_id],
        }

    def queries(self) -> dict[str, list[str]]:
        return {
            "/pv/plants/{plant_id}/layout": ["", "?format=csv"],
            "/pv/plants/{plant_id}/flight-plan": ["", "?format=plan", "?format=kmz"],
            "/pv/plants/{plant_id}/defects": ["", "?format=xlsx"],
            "/pv/inspections": ["", f"?plant_id={self.plant_id}"],
            "/pv/inspections/{inspection_id}/results": ["", "?format=csv"],
            "/pv/inspections/{inspection_id}/report": ["", "?format=pdf&lang=en"],
        }

    @classmethod
    def placeholder(cls) -> PvA:
        return cls(1, "p", "g", 1, 1, "A-01-01", None)


def _ok(r: Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text}"
    return r.json() if r.content else None


def build_pv_a(client: TestClient, world: World, factory: sessionmaker[Session], mark: str) -> PvA:
    flight = tiny_flight(Path(tempfile.mkdtemp(prefix="pv-iso-")), frames=4)
    files = {"file": (f"{mark}.geojson", flight.geojson, "application/geo+json")}
    plant = _ok(client.post(f"{PV}/plants/import", files=files, headers=world.alice.headers), 201)
    ring = [list(p) for p in flight.synthetic.layout.polygon]
    polygon = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    code = f"{mark}-gen"
    generated = {"code": code, "name": f"{mark} 屋顶", "polygon": polygon}
    _ok(client.post(f"{PV}/plants", json=generated, headers=world.alice.headers), 201)
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    form = {"camera": "M3T", "irradiance_w_m2": "850"}
    url = f"{PV}/plants/{plant['id']}/inspections"
    inspection = _ok(client.post(url, files=frames, data=form, headers=world.bob.headers), 202)
    store = client.app.state.gongzhi.store  # type: ignore[attr-defined]
    assert results.process_queued(factory, load_modules(), store) == [inspection["id"]]
    found = _ok(client.get(f"{PV}/inspections/{inspection['id']}/findings", headers=world.alice.headers))
    assert found, "the tiny flight should yield findings"
    return PvA(
        plant["id"], plant["code"], code, inspection["id"], found[0]["id"], found[0]["module_id"], flight
    )


def snapshot(client: TestClient, world: World, pv: PvA, factory: sessionmaker[Session]) -> dict[str, Any]:
    def get(path: str) -> Any:
        r = client.get(PV + path, headers=world.adam.headers)
        return _ok(r) if r.headers["content-type"].startswith("application/json") else r.content

    seen: dict[str, Any] = {
        path: get(path)
        for path in (
            "/plants",
            "/inspections",
            f"/inspections/{pv.inspection_id}/findings",
            f"/inspections/{pv.inspection_id}/results",
            f"/plants/{pv.plant_id}/layout",
            f"/plants/{pv.plant_id}/modules/{pv.module_id}",
        )
    }
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        for model in COUNTED:
            seen[model.__tablename__] = s.scalar(
                select(func.count()).select_from(model).where(model.region_id == world.a)
            )
    return seen


def write_bodies(
    pv: PvA, world: World, foreign: Callable[..., Any], upload: Callable[..., Any]
) -> dict[tuple[str, str], list[Any]]:
    """Bodies for every PV write; creates reuse A's plant code, so a lookup across regions would show."""
    if pv.flight is None:  # the placeholder region of the 401 walk: the bodies are never read
        ring, frame_name, frame_bytes, layout = (
            [[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
            "f.tif",
            b"II*\x00",
            b"{}",
        )
    else:
        ring = [list(p) for p in pv.flight.synthetic.layout.polygon]
        frame_name, frame_bytes, layout = (
            pv.flight.frames[0].name,
            pv.flight.frames[0].read_bytes(),
            pv.flight.geojson,
        )
    polygon = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    geojson = upload(f"{pv.plant_code}.geojson", layout, "application/geo+json")
    return {
        ("POST", "/pv/plants"): [{"code": pv.generated_code, "name": "外人电站", "polygon": polygon}],
        ("POST", "/pv/plants/import"): [geojson],
        ("PATCH", "/pv/plants/{plant_id}"): [{"tilt_deg": 25.0, "name": "外人改名"}],
        ("PUT", "/pv/plants/{plant_id}/economics"): [{"tariff_yuan_kwh": 9.9, "cleaning_cost_yuan": 1}, {}],
        ("PUT", "/pv/plants/{plant_id}/strings"): [
            upload("strings.csv", f"id,string\n{pv.module_id},外人组串\n".encode(), "text/csv")
        ],
        ("POST", "/pv/plants/{plant_id}/inspections"): [upload(frame_name, frame_bytes, "image/tiff")],
        ("PUT", "/pv/findings/{finding_id}/review"): [{"status": "rejected", "note": "外人"}],
        ("POST", "/pv/plants/{plant_id}/robots"): [{"robot_id": "X1", "rows": {"A-01": 30.0}}],
        ("POST", "/pv/plants/{plant_id}/docks"): [{"sn": "X1"}],
        ("POST", "/pv/plants/{plant_id}/one-click"): [{}, {"dock": "X1", "irradiance_w_m2": 800}],
        ("POST", "/pv/inspections/{inspection_id}/confirm"): [{"mode": "wet"}],
        ("POST", "/pv/inspections/{inspection_id}/reanalysis"): [{}],
        ("POST", "/pv/cases/{case_id}/verify-cleaning"): [{"inspection_id": pv.inspection_id}, {}],
        ("POST", "/pv/cases/{case_id}/reinspection"): [{}],
        ("POST", "/pv/cases/{case_id}/verification-override"): [{"passed": True, "reason": "外人"}],
        ("POST", "/pv/cases/{case_id}/reclean"): [{"mode": "wet", "note": "外人"}],
        ("POST", "/pv/plants/{plant_id}/production"): [upload("production.csv", PRODUCTION_CSV, "text/csv")],
    }


def listing_problem(template: str, r: Response) -> str | None:
    body = r.json()
    items = body["items"] if isinstance(body, dict) else body
    if template in EMPTY_FOR_OUTSIDER and items:
        return f"lists {items} for a region that has built no plant"
    return None

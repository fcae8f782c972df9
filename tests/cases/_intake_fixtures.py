"""Region A's citizen intake and village supervision for the isolation walk (``test_isolation.py``): what A's
people build through the API, the bodies the walk sends to every intake and village write, and what an
outsider may get back.

Region A holds a seeded category tree plus a category named after the mark, three look-alike requests (a hot
topic, one triaged), an Open311 api key, an import, a trained model; a village with a station, a supervisor,
a project, a visit that became a case, a decision with its first step, an asset, two contracts (one paid, one
flagged), a consultation and two opinions from the public page. Region C, the outsider, gets one village of
its own, built by charlie before the walk, so its creates can name its own village next to A's objects.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Base, RegionOwned, Scope
from gongzhi.modules.intake import models as intake_models
from gongzhi.modules.village import models as village_models
from tests.conftest import World

API = "/api/v1"
VILLAGE = "/api/v1/village"
VILLAGE_PHONE = "13987654321"
OPINION_PHONE = "13611112222"
EMAIL_DOMAIN = "mail.example.org"

# Lists that take ``?village_id=``: the walk also asks them for A's village.
BY_VILLAGE = (
    "/village/projects",
    "/village/visits",
    "/village/decisions",
    "/village/assets",
    "/village/contracts",
    "/village/consultations",
    "/village/opinions",
    "/village/ledger/flags",
    "/village/ledger.xlsx",
)

LISTS: dict[str, str | None] = {
    "/intake/requests": "id",
    "/intake/categories": "id",
    "/intake/imports": "id",
    "/intake/imports/template.xlsx": None,  # the columns and the caller's own categories
    "/intake/model": None,  # A's latest model; the outsider, which trained none, gets 404
    "/intake/hot-topics": "key",
    "/intake/hot-topics.xlsx": None,
    "/intake/stats/monthly": None,
    "/intake/stats/monthly.xlsx": None,
    "/village/villages": "id",
    "/village/projects.xlsx": None,
    "/village/projects.csv": None,
    "/village/visits.xlsx": None,
    "/village/visits.csv": None,
    "/village/stations": "id",
    "/village/supervisors": "id",
    "/village/projects": "id",
    "/village/visits": "id",
    "/village/decisions": "id",
    "/village/assets": "id",
    "/village/contracts": "id",
    "/village/ledger/flags": "contract_id",
    "/village/ledger.xlsx": None,
    "/village/consultations": "id",
    "/village/opinions": "id",
}

# GET routes without an object that answer 404 when the caller's region has none of the thing.
MAY_BE_ABSENT = ("/intake/model",)

OUTSIDER_CREATES: dict[tuple[str, str], int] = {
    ("PUT", "/intake/categories"): 200,  # reuses A's category code: an upsert across regions would show
    ("POST", "/intake/categories/seed"): 200,
    ("POST", "/intake/api-keys"): 201,
    ("POST", "/intake/imports"): 201,  # reuses A's external id: 422 "already imported" would be a leak
    ("POST", "/intake/model/retrain"): 201,
    ("POST", "/intake/hot-topics/refresh"): 200,
    ("POST", "/village/villages"): 201,  # reuses A's village code
    ("POST", "/village/stations"): 201,
    ("POST", "/village/supervisors"): 201,
    ("POST", "/village/projects"): 201,
    ("POST", "/village/visits"): 201,
    ("POST", "/village/decisions"): 201,
    ("POST", "/village/assets"): 201,
    ("POST", "/village/contracts"): 201,
    ("POST", "/village/consultations"): 201,
    ("POST", "/village/projects/import"): 201,  # reuses A's project name: "already exists" would leak
    ("POST", "/village/visits/import"): 201,
}

# Case actions in intake's clothes: the state machine may refuse a viewer before the role check does.
CASE_ACTIONS = ("/intake/requests/{request_id}/follow-up",)

# Writes that change nothing, which a viewer may therefore be allowed to call.
READ_ONLY_WRITES = {("POST", "/intake/classify")}


@dataclass(frozen=True)
class IntakeA:
    """Ids and secrets of region A's intake and village data, and the outsider's own village."""

    mark: str
    category_code: str
    request_ids: tuple[int, ...]
    case_ids: tuple[int, ...]
    external_id: str
    api_key: str
    month: str
    village_id: int
    village_code: str
    station_id: int
    supervisor_id: int
    project_id: int
    visit_id: int
    decision_id: int
    asset_id: int
    contract_ids: tuple[int, int]
    opinion_ids: tuple[int, int]
    c_village_id: int  # charlie's own village

    def substitutions(self) -> dict[str, list[str]]:
        return {
            "request_id": [str(i) for i in self.request_ids],
            "decision_id": [str(self.decision_id)],
            "visit_id": [str(self.visit_id)],
            "project_id": [str(self.project_id)],
            "contract_id": [str(i) for i in self.contract_ids],
            "opinion_id": [str(i) for i in self.opinion_ids],
        }

    def secrets(self) -> list[str]:
        return [
            self.mark,
            self.external_id,
            self.api_key,
            self.api_key[:18],  # "o311_" and the key's prefix
            f"@{EMAIL_DOMAIN}",
            VILLAGE_PHONE,
            OPINION_PHONE,
            "周大伯",
        ]

    def queries(self) -> dict[str, list[str]]:
        month = f"?month={self.month}"
        return {
            "/intake/requests": ["", "?channel=staff", "?triage=corrected"],
            "/intake/stats/monthly": [month],
            "/intake/stats/monthly.xlsx": [month],
            **{t: ["", f"?village_id={self.village_id}"] for t in BY_VILLAGE},
        }

    def write_queries(self) -> dict[tuple[str, str], str]:
        return {
            ("POST", "/village/opinions/{opinion_id}/to-decision"): "?title=外人议事",
            ("POST", "/intake/imports"): "?kind=hotline",
        }

    @classmethod
    def placeholder(cls) -> IntakeA:
        return cls(
            "x",
            "x",
            (1,),
            (1,),
            "e",
            "o311_0123456789ab_x",
            "2030-01",
            1,
            "v",
            1,
            1,
            1,
            1,
            1,
            1,
            (1, 2),
            (1, 2),
            2,
        )


# --- building region A --------------------------------------------------------------------------


def _ok(r: Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text}"
    return r.json() if r.content else None


def photo_jpeg(colour: tuple[int, int, int] = (90, 60, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, "JPEG")
    return out.getvalue()


def village_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def hotline_csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["工单编号", "标题", "内容", "来电号码", "来电时间"])
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def build_intake_a(client: TestClient, world: World, mark: str) -> IntakeA:
    alice, dana, adam = world.alice.headers, world.dana.headers, world.adam.headers

    def send(method: str, path: str, body: Any, who: dict[str, str], status: int = 201) -> Any:
        return _ok(client.request(method, API + path, json=body, headers=who), status)

    _ok(client.post(f"{API}/intake/categories/seed", headers=adam))
    code = mark.replace("secret", "lamp")  # not a secret: refusals may echo the code the outsider sent
    category = {"code": code, "name": f"{mark} 路灯", "keywords": [mark, "路灯"]}
    send("PUT", "/intake/categories", category, adam, 200)
    external_id = f"{mark}-ext"
    requests = []
    for i in range(3):  # look-alikes from three reporters: a hot topic
        body = {
            "subject": f"{mark} 文三路路灯不亮",
            "description": f"文三路路灯连续多晚不亮，行人摔倒 {mark} 第{i}次",
            "service_code": code,
            "lat": 30.312,
            "lon": 120.141,
            "reporter_name": "张伟",
            "reporter_phone": "13812345678",
            "reporter_email": f"{mark}{i}@{EMAIL_DOMAIN}",
            "external_id": f"{external_id}-{i}",
            "channel": "hotline",
        }
        requests.append(send("POST", "/intake/requests", body, alice))
    seeded = next(c["code"] for c in send("GET", "/intake/categories", None, adam, 200) if c["code"] != code)
    send("POST", f"/intake/requests/{requests[2]['id']}/triage", {"service_code": seeded}, alice, 200)
    api_key = send("POST", "/intake/api-keys", {"name": mark}, adam)["api_key"]
    rows = [[external_id, f"{mark} 热线", f"{mark} 热线内容", "13812345678", "2026-11-01 09:00"]]
    upload = {"file": ("hotline.csv", hotline_csv(rows), "text/csv")}
    _ok(client.post(f"{API}/intake/imports?kind=hotline", files=upload, headers=alice), 201)
    send("POST", "/intake/model/retrain", None, adam)
    assert send("POST", "/intake/hot-topics/refresh", None, dana, 200), "A should have a hot topic"

    def village(path: str, body: dict[str, Any]) -> Any:
        return send("POST", f"/village{path}", body, dana)

    v = village("/villages", {"code": mark, "name": f"{mark}村", "town": "前进镇", "representatives": 30})
    station = village("/stations", {"village_id": v["id"], "name": f"{mark}站", "phone": VILLAGE_PHONE})
    sup = village(
        "/supervisors",
        {
            "name": f"{mark}监督员",
            "phone": VILLAGE_PHONE,
            "station_id": station["id"],
            "village_ids": [v["id"]],
        },
    )
    project = village(
        "/projects",
        {
            "village_id": v["id"],
            "name": f"{mark} 道路硬化",
            "budget_yuan": 200000,
            "contractor": f"{mark}建设",
            "milestones": [{"name": "路基", "due_on": "2026-12-01", "amount_yuan": 50000}],
        },
    )
    visit = village(
        "/visits",
        {
            "village_id": v["id"],
            "project_id": project["id"],
            "supervisor_id": sup["id"],
            "findings": f"{mark} 路基压实不足",
            "issue": True,
        },
    )
    photo = {"file": ("site.jpg", photo_jpeg(), "image/jpeg")}
    _ok(client.post(f"{VILLAGE}/visits/{visit['id']}/photos", files=photo, headers=dana), 201)
    decision = village("/decisions", {"village_id": v["id"], "title": f"{mark} 议事", "matter": mark})
    village(
        f"/decisions/{decision['id']}/steps", {"step": "proposal", "held_on": "2026-11-01", "summary": mark}
    )
    asset = village(
        "/assets", {"village_id": v["id"], "kind": "asset", "name": f"{mark}厂房", "value_yuan": 1e6}
    )
    lease = {"village_id": v["id"], "asset_id": asset["id"], "counterparty": f"{mark}公司", "subject": mark}
    old = village(
        "/contracts",
        {**lease, "starts_on": "2016-01-01", "ends_on": "2020-12-31", "annual_rent_yuan": 100000},
    )
    renewal = village(
        "/contracts",
        {
            **lease,
            "starts_on": "2021-01-01",
            "ends_on": "2025-12-31",
            "annual_rent_yuan": 90000,
            "previous_id": old["id"],
        },
    )
    village(f"/contracts/{old['id']}/payments", {"paid_on": "2021-03-01", "amount_yuan": 1000, "note": mark})
    consult = village("/consultations", {"village_id": v["id"], "title": f"{mark} 征求意见"})
    page = f"/village/alpha/{mark}/opinions"
    for data in (
        {
            "text": f"{mark} 屋顶漏水",
            "name": "周大伯",
            "phone": OPINION_PHONE,
            "consultation_id": str(consult["id"]),
        },
        {"text": f"{mark} 路灯不亮"},
    ):
        assert client.post(page, data=data, follow_redirects=False).status_code == 303
    opinions = send("GET", "/village/opinions", None, alice, 200)
    assert len(opinions) == 2, opinions

    c_village = _ok(
        client.post(
            f"{VILLAGE}/villages", json={"code": "c-own", "name": "丙村"}, headers=world.charlie.headers
        ),
        201,
    )
    return IntakeA(
        mark=mark,
        category_code=code,
        request_ids=tuple(r["id"] for r in requests),
        case_ids=tuple(r["case_id"] for r in requests),
        external_id=external_id,
        api_key=api_key,
        month=requests[0]["created_at"][:7],
        village_id=v["id"],
        village_code=v["code"],
        station_id=station["id"],
        supervisor_id=sup["id"],
        project_id=project["id"],
        visit_id=visit["id"],
        decision_id=decision["id"],
        asset_id=asset["id"],
        contract_ids=(old["id"], renewal["id"]),
        opinion_ids=tuple(o["id"] for o in opinions),
        c_village_id=c_village["id"],
    )


# --- region A as its people see it --------------------------------------------------------------

COUNTED = tuple(
    m
    for module in (intake_models, village_models)
    for m in vars(module).values()
    if isinstance(m, type)
    and issubclass(m, RegionOwned)
    and issubclass(m, Base)  # a mapped model: it has a __tablename__
    and m.__module__ == module.__name__
)


def snapshot(client: TestClient, world: World, a: IntakeA, factory: sessionmaker[Session]) -> dict[str, Any]:
    def get(path: str) -> Any:
        return _ok(client.get(API + path, headers=world.adam.headers))

    seen: dict[str, Any] = {}
    for template in LISTS:
        if not template.endswith((".xlsx", ".csv")):
            seen[template] = get(template + a.queries().get(template, [""])[0])
    for rid in a.request_ids:
        seen[f"request {rid}"] = get(f"/intake/requests/{rid}")
    seen["decision"] = get(f"/village/decisions/{a.decision_id}")
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        for model in COUNTED:
            seen[model.__tablename__] = s.scalar(
                select(func.count()).select_from(model).where(model.region_id == world.a)
            )
    return seen


# --- the bodies of the walk ---------------------------------------------------------------------


def write_bodies(
    a: IntakeA, world: World, foreign: Callable[..., Any], upload: Callable[..., Any]
) -> dict[tuple[str, str], list[Any]]:
    """Bodies for every intake and village write. Creates reuse A's natural keys (category code, external
    id, village code); ``foreign`` wraps a create body that names one of A's objects."""
    own = a.c_village_id
    rows = [[a.external_id, "外人热线", "外人的热线内容", "13900000000", "2026-11-01 09:00"]]
    lease = {"counterparty": "外人", "subject": "外人", "starts_on": "2021-01-01", "ends_on": "2022-01-01"}
    lease["annual_rent_yuan"] = 1  # type: ignore[assignment]
    return {
        ("POST", "/intake/requests"): [
            foreign({"subject": "外人诉求", "service_code": a.category_code}, statuses=(404,))
        ],
        ("POST", "/intake/requests/{request_id}/triage"): [{"service_code": a.category_code}],
        ("POST", "/intake/requests/{request_id}/merge"): [{"into_case_id": a.case_ids[0]}],
        ("POST", "/intake/requests/{request_id}/follow-up"): [{"rating": 1, "satisfied": False}],
        # the outsider's region has no categories yet: 404, where A's categories would answer 200
        ("POST", "/intake/classify"): [{"subject": a.mark, "description": f"{a.mark} 路灯不亮"}],
        ("PUT", "/intake/categories"): [{"code": a.category_code, "name": "外人类别", "keywords": ["外人"]}],
        ("POST", "/intake/categories/seed"): [None],
        ("POST", "/intake/api-keys"): [{"name": "outsider"}],
        ("POST", "/intake/imports"): [upload("hotline.csv", hotline_csv(rows), "text/csv")],
        ("POST", "/intake/model/retrain"): [None],
        ("POST", "/intake/hot-topics/refresh"): [None],
        ("POST", "/village/villages"): [{"code": a.village_code, "name": "外人村"}],
        ("POST", "/village/stations"): [
            {"village_id": own, "name": "外人站"},
            foreign({"village_id": a.village_id, "name": "外人站"}),
        ],
        ("POST", "/village/supervisors"): [
            {"name": "外人", "village_ids": [own]},
            foreign({"name": "外人", "village_ids": [a.village_id]}),
            foreign({"name": "外人", "station_id": a.station_id}),
            foreign({"name": "外人", "user_id": world.alice.user_id}),
        ],
        ("POST", "/village/projects"): [
            {"village_id": own, "name": "外人工程", "budget_yuan": 1},
            foreign({"village_id": a.village_id, "name": "外人工程", "budget_yuan": 1}),
        ],
        ("POST", "/village/visits"): [
            {"village_id": own, "findings": "外人走访"},
            foreign({"village_id": a.village_id, "findings": "外人走访"}),
            foreign({"village_id": own, "project_id": a.project_id}),
            foreign({"village_id": own, "supervisor_id": a.supervisor_id}),
        ],
        ("POST", "/village/decisions"): [
            {"village_id": own, "title": "外人议事"},
            foreign({"village_id": a.village_id, "title": "外人议事"}),
        ],
        ("POST", "/village/decisions/{decision_id}/steps"): [{"step": "committees", "held_on": "2026-11-02"}],
        ("POST", "/village/assets"): [
            {"village_id": own, "kind": "fund", "name": "外人资金"},
            foreign({"village_id": a.village_id, "kind": "fund", "name": "外人资金"}),
        ],
        ("POST", "/village/contracts"): [
            {**lease, "village_id": own},
            foreign({**lease, "village_id": a.village_id}),
            foreign({**lease, "village_id": own, "previous_id": a.contract_ids[0]}),
            foreign({**lease, "village_id": own, "asset_id": a.asset_id}),
        ],
        ("POST", "/village/contracts/{contract_id}/payments"): [{"paid_on": "2026-01-01", "amount_yuan": 1}],
        ("POST", "/village/consultations"): [
            {"village_id": own, "title": "外人征求"},
            foreign({"village_id": a.village_id, "title": "外人征求"}),
        ],
        ("POST", "/village/projects/{project_id}/decision"): [
            {"decision_id": None},
            {"decision_id": a.decision_id},
        ],
        ("POST", "/village/visits/{visit_id}/photos"): [upload("x.jpg", photo_jpeg((1, 2, 3)), "image/jpeg")],
        ("POST", "/village/projects/import"): [
            upload(
                "p.csv",
                village_csv([["村", "项目名称", "预算（元）"], ["c-own", f"{a.mark} 道路硬化", "1"]]),
                "text/csv",
            ),
            foreign(
                # A's village by name: its code names the outsider's own village by then
                upload("p.csv", village_csv([["村", "项目名称"], [f"{a.mark}村", "外人工程"]]), "text/csv"),
                statuses=(422,),
            ),
        ],
        ("POST", "/village/visits/import"): [
            upload("v.csv", village_csv([["村", "发现情况"], ["c-own", "外人导入走访"]]), "text/csv"),
            foreign(
                upload("v.csv", village_csv([["村", "发现情况"], [f"{a.mark}村", "外人走访"]]), "text/csv"),
                statuses=(422,),
            ),
        ],
        ("POST", "/village/opinions/{opinion_id}/to-case"): [None],
        ("POST", "/village/opinions/{opinion_id}/to-decision"): [None],
    }


# --- what the outsider may get back -------------------------------------------------------------


def workbook_text(r: Response) -> str:
    wb = load_workbook(io.BytesIO(r.content))
    return "\n".join(str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row)


def workbook_rows(r: Response) -> int:
    """Data rows (below the header) of every sheet together."""
    wb = load_workbook(io.BytesIO(r.content))
    return sum(max(ws.max_row - 1, 0) for ws in wb.worksheets)


def listing_problem(template: str, r: Response, world: World, secrets: list[str]) -> str | None:
    """Intake and village checks of the outsider's reads (made before it writes; its one village aside)."""
    if template.endswith(".csv"):
        text = r.content.decode("utf-8-sig")
        found = [x for x in secrets if x in text]
        lines = text.strip().splitlines()
        return (
            f"exports region A's data {found}" if found else (f"exports {lines}" if len(lines) != 1 else None)
        )
    if template.endswith(".xlsx"):
        found = [x for x in secrets if x in workbook_text(r)]
        if found:
            return f"exports region A's data {found}"
        if template == "/intake/hot-topics.xlsx" and workbook_rows(r):
            return f"exports {workbook_rows(r)} hot topics for a region that has none"
        if template in ("/village/projects.xlsx", "/village/visits.xlsx") and workbook_rows(r):
            return f"exports {workbook_rows(r)} rows for a region that has no village data"
        if template == "/village/ledger.xlsx" and workbook_rows(r):
            return f"exports {workbook_rows(r)} ledger rows for a region that has none"
        return None
    body = r.json()
    if template == "/intake/stats/monthly":
        if body["region_id"] != world.c or body["total"]["received"] or body["departments"]:
            return f"counts requests for a region that has none: {body}"
        return None
    if template.startswith("/intake/") and (body["items"] if isinstance(body, dict) else body):
        return f"lists {body} for a region that has no intake data"
    if template.startswith("/village/") and template != "/village/villages" and body:
        return f"lists {body} for a region that has no village data"
    return None


def creation_problem(template: str, r: Response, secrets: list[str]) -> str | None:
    """Intake checks of the outsider's own creations."""
    body = r.json()
    if template == "/intake/imports" and (body["status"], body["imported"]) != ("imported", 1):
        return f"did not import the region's own row: {body}"
    if template == "/intake/hot-topics/refresh" and [x for x in secrets if x in r.text]:
        return f"computed topics from region A's requests: {body}"
    return None

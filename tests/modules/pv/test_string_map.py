"""A plant's string map (组串表) imported from a spreadsheet: the layout CSV downloaded, its strings
corrected and imported again; Chinese headers in .xlsx and GB18030 CSV; every row checked first, a bad
file changing nothing and naming each row and column; warnings for strings that look mistyped; a dry
run; the audit trail; and a string length given afterwards wiring the plant anew."""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.core.models import AuditEntry
from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.pv import results, strings
from gongzhi.modules.pv import service as pv_service
from gongzhi.modules.pv.analytics.anomalies import Anomaly
from gongzhi.modules.pv.analytics.layout import PlantLayout
from gongzhi.registry import Registry
from tests.conftest import World
from tests.web.helpers import as_user

from .flights import tiny_flight
from .test_inspections_api import import_plant, pv_alerts, run_worker
from .test_plants_api import PROBLEM, PV, make_plant

Layout = dict[str, dict[str, Any]]


def layout(client: TestClient, world: World, pid: int) -> Layout:
    """The plant's modules by id: their array, row, index and string."""
    features = client.get(f"{PV}/plants/{pid}/layout", headers=world.alice.headers).json()["features"][1:]
    return {f["properties"]["id"]: f["properties"] for f in features}


def service_layout(factory: sessionmaker[Session], world: World, pid: int) -> PlantLayout:
    """The plant's layout as the analytics see it."""
    with unit_of_work(factory, Scope(region_id=world.a, system=True, username="tests")) as s:
        return pv_service.plant_layout(s, pv_service.get_plant(s, pid))


def layout_csv(client: TestClient, world: World, pid: int) -> list[dict[str, str]]:
    raw = client.get(f"{PV}/plants/{pid}/layout?format=csv", headers=world.alice.headers).content
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def as_csv(rows: list[dict[str, str]], encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def upload(client: TestClient, who: dict[str, str], pid: int, name: str, data: bytes, **query: Any) -> Any:
    files = {"file": (name, data, "application/octet-stream")}
    return client.put(f"{PV}/plants/{pid}/strings", files=files, params=query, headers=who)


def serpentine(modules: Layout, per_string: int) -> dict[str, str]:
    """Strings that run out along one row and back along the next (rows 1+2, 3+4, …), ``per_string``
    modules each: the wiring the layout generator cannot express."""
    out = {}
    for mid, m in modules.items():
        pair = (m["row"] - 1) // 2
        # walk out along the odd row and back along the even one
        length = max(x["index"] for x in modules.values() if x["row"] == m["row"])
        step = m["index"] - 1 if m["row"] % 2 else length + (length - m["index"])
        out[mid] = f"INV1-{pair + 1:02d}-S{step // per_string + 1}"
    return out


def test_the_layout_csv_comes_back_with_its_strings_corrected(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    plant = make_plant(client, world.alice.headers, modules_per_string=4)
    pid = plant["id"]
    before = layout(client, world, pid)
    rows = layout_csv(client, world, pid)
    wanted = serpentine(before, 8)
    for row in rows:
        row["string"] = wanted[row["id"]]
    data = as_csv(rows)

    r = upload(client, world.alice.headers, pid, "strings.csv", data, dry_run="true")
    assert r.status_code == 200, r.text
    checked = r.json()
    assert checked["status"] == "checked" and checked["rows"] == plant["module_count"]
    assert checked["restrung"] == sum(before[m]["string"] != s for m, s in wanted.items()) > 0
    assert checked["restrung"] + checked["unchanged"] == plant["module_count"] and checked["left_out"] == 0
    assert layout(client, world, pid) == before  # a dry run changes nothing

    r = upload(client, world.alice.headers, pid, "strings.csv", data)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "imported" and done["restrung"] == checked["restrung"]
    assert done["strings"] == len(set(wanted.values()))
    sizes = {s: list(wanted.values()).count(s) for s in set(wanted.values())}
    assert done["modules_per_string"] == {
        "min": min(sizes.values()),
        "median": int(statistics.median(sizes.values())),
        "max": max(sizes.values()),
    }
    after = layout(client, world, pid)
    assert {m: p["string"] for m, p in after.items()} == wanted
    for mid, p in after.items():  # the modules stay where they were
        assert (p["array"], p["row"], p["index"]) == (
            before[mid]["array"],
            before[mid]["row"],
            before[mid]["index"],
        )
    params = client.get(f"{PV}/plants/{pid}", headers=world.alice.headers).json()["layout_params"]
    assert "modules_per_string" not in params  # the file wires it now, not a string length
    assert (
        params["string_map"]["filename"] == "strings.csv"
        and params["string_map"]["strings"] == done["strings"]
    )
    with unit_of_work(factory, Scope.for_system()) as s:
        stmt = select(AuditEntry.data).where(
            AuditEntry.action == "pv.plant.strings", AuditEntry.object_id == str(pid)
        )
        [audit] = s.execute(stmt).scalars()  # the dry run is not on the trail
    assert audit["status"] == "imported" and audit["restrung"] == done["restrung"]
    assert audit["sha256"] == done["sha256"]

    # the same file again moves nothing; a string length afterwards wires the plant anew
    again = upload(client, world.alice.headers, pid, "strings.csv", data).json()
    assert (again["restrung"], again["unchanged"]) == (0, plant["module_count"])
    r = client.patch(f"{PV}/plants/{pid}", json={"modules_per_string": 5}, headers=world.alice.headers)
    assert r.status_code == 200, r.text
    assert (
        "string_map" not in r.json()["layout_params"] and r.json()["layout_params"]["modules_per_string"] == 5
    )


def test_a_map_with_chinese_headers_as_a_workbook_or_gb18030_csv_may_name_only_some_modules(
    client: TestClient, world: World
) -> None:
    plant = make_plant(client, world.alice.headers, modules_per_string=4)
    pid = plant["id"]
    before = layout(client, world, pid)
    first_row = sorted(m for m, p in before.items() if p["row"] == 1)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["序号", "组件编号", "组串", "备注"])
    for n, mid in enumerate(first_row, start=1):
        ws.append([n, mid, "1号逆变器-组串01", "东侧"])
    buffer = io.BytesIO()
    wb.save(buffer)
    r = upload(client, world.alice.headers, pid, "组串表.xlsx", buffer.getvalue())
    assert r.status_code == 200, r.text
    assert r.json()["left_out"] == plant["module_count"] - len(first_row)
    after = layout(client, world, pid)
    assert all(after[m]["string"] == "1号逆变器-组串01" for m in first_row)
    assert all(after[m] == before[m] for m in before if m not in first_row)  # the rest keep theirs

    second_row = sorted(m for m, p in before.items() if p["row"] == 2)
    rows = [{"组件编号": m, "组串编号": "2号逆变器-组串01"} for m in second_row]
    r = upload(client, world.alice.headers, pid, "组串表.csv", as_csv(rows, "gb18030"))
    assert r.status_code == 200, r.text
    assert {layout(client, world, pid)[m]["string"] for m in second_row} == {"2号逆变器-组串01"}


def test_a_bad_map_changes_nothing_and_names_each_row_and_column(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    plant = make_plant(client, world.alice.headers)
    pid = plant["id"]
    before = layout(client, world, pid)
    ids = sorted(before)
    rows = [
        {"id": ids[0], "string": "S-new"},  # row 2: fine
        {"id": "Z-99-99", "string": "S-new"},  # row 3: no such module
        {"id": ids[0], "string": "S-other"},  # row 4: the module again
        {"id": ids[1], "string": ""},  # row 5: no string
        {"id": ids[2], "string": "S" * 41},  # row 6: too long
        {"id": "", "string": "S-new"},  # row 7: no module
    ]
    r = upload(client, world.alice.headers, pid, "bad.csv", as_csv(rows))
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), r.text
    body = r.json()
    assert body["import_status"] == "rejected" and body["detail"].startswith("5 problem(s)")
    found = {(e["row"], e["column"], e["header"]): e["message"] for e in body["errors"]}
    assert found == {
        (3, "module", "id"): "no module Z-99-99 in this plant",
        (4, "module", "id"): f"{ids[0]} is named in row 2 already",
        (5, "string", "string"): "required",
        (6, "string", "string"): "at most 40 characters",
        (7, "module", "id"): "required",
    }
    assert layout(client, world, pid) == before
    with unit_of_work(factory, Scope.for_system()) as s:  # the refused attempt is on the trail
        stmt = select(AuditEntry.data).where(
            AuditEntry.action == "pv.plant.strings", AuditEntry.object_id == str(pid)
        )
        [audit] = s.execute(stmt).scalars()
    assert audit["status"] == "rejected" and len(audit["errors"]) == 5

    # whole-file problems: no string column, an empty file, not a table, no rows, a control character
    for name, data, says in (
        ("no-string.csv", b"id,array\nA-01-01,A\n", "the header lacks the column(s) 组串"),
        ("empty.csv", b"", "the file is empty"),
        ("broken.xlsx", b"PK\x03\x04 not really", "not a readable .xlsx workbook"),
        ("header-only.csv", b"id,string\n", "the file has no data rows"),
        ("nul.csv", f"id,string\n{ids[0]},S\x01\n".encode(), "holds a control character"),
    ):
        r = upload(client, world.alice.headers, pid, name, data)
        assert r.status_code == 422, (name, r.text)
        assert says in r.json()["errors"][0]["message"], (name, r.json())
    # each message with its catalogue id and values, for a client that shows it in its reader's language
    r = upload(client, world.alice.headers, pid, "bad.csv", as_csv(rows))
    unknown = r.json()["errors"][0]
    assert unknown["template"] == "no module %(module)s in this plant"
    assert unknown["params"] == {"module": "Z-99-99"}
    assert layout(client, world, pid) == before


def test_strings_that_look_mistyped_are_warned_about_but_imported(client: TestClient, world: World) -> None:
    plant = make_plant(client, world.alice.headers, modules_per_string=4)
    pid = plant["id"]
    before = layout(client, world, pid)
    stray = sorted(before)[5]
    r = upload(client, world.alice.headers, pid, "typo.csv", as_csv([{"id": stray, "string": "A-01-S9x"}]))
    assert r.status_code == 200, r.text
    [warning] = r.json()["warnings"]
    assert warning["string"] == "A-01-S9x"
    assert warning["message"] == f"string A-01-S9x has 1 module(s) where the median string has 4: {stray}"
    assert layout(client, world, pid)[stray]["string"] == "A-01-S9x"


def test_only_planners_import_a_string_map(client: TestClient, world: World) -> None:
    plant = make_plant(client, world.alice.headers)
    data = as_csv([{"id": "A-01-01", "string": "S1"}])
    for who in (world.vera, world.bob):
        r = upload(client, who.headers, plant["id"], "s.csv", data)
        assert r.status_code == 403, (who, r.text)
    r = upload(client, world.charlie.headers, plant["id"], "s.csv", data)  # another region's plant
    assert r.status_code == 404, r.text
    assert layout(client, world, plant["id"])["A-01-01"]["string"] != "S1"


def test_a_planner_imports_a_string_map_from_the_plant_page(client: TestClient, world: World) -> None:
    plant = make_plant(client, world.alice.headers, modules_per_string=4)
    pid = plant["id"]
    before = layout(client, world, pid)
    alice, csrf = as_user(client, world.alice)
    page = alice.get(f"/pv/plants/{pid}").text
    assert f'action="/pv/plants/{pid}/strings"' in page and "导入组串表" in page

    rows = layout_csv(client, world, pid)
    wanted = serpentine(before, 8)
    for row in rows:
        row["string"] = wanted[row["id"]]
    files = {"file": ("组串表.csv", as_csv(rows), "text/csv")}
    checked = {"file": ("组串表.csv", as_csv(rows), "text/csv")}
    r = alice.post(f"/pv/plants/{pid}/strings", data={"csrf_token": csrf, "dry_run": "true"}, files=checked)
    assert r.status_code == 200, r.text[:2000]
    moved = sum(before[m]["string"] != s for m, s in wanted.items())
    assert (
        f"组串表.csv 检查无误：导入后将有 {moved} 块组件改接到其他组串" in r.text
        and "尚未作任何修改" in r.text
    )
    assert layout(client, world, pid) == before

    r = alice.post(f"/pv/plants/{pid}/strings", data={"csrf_token": csrf}, files=files)
    assert r.status_code == 200, r.text[:2000]
    assert f"已导入 组串表.csv：{moved} 块组件改接到其他组串" in r.text
    assert {m: p["string"] for m, p in layout(client, world, pid).items()} == wanted
    page = alice.get(f"/pv/plants/{pid}").text
    assert f"当前接线：组串表.csv（{len(set(wanted.values()))} 个组串），导入于" in page

    bad = {"file": ("bad.csv", as_csv([{"组件编号": "Z-99-99", "组串": "S1"}]), "text/csv")}
    r = alice.post(f"/pv/plants/{pid}/strings", data={"csrf_token": csrf}, files=bad)
    assert r.status_code == 400
    assert "未作修改" in r.text and "bad.csv 有 1 处问题" in r.text
    assert "此电站没有组件 Z-99-99" in r.text and '<td class="num" data-label="行">2</td>' in r.text
    assert {m: p["string"] for m, p in layout(client, world, pid).items()} == wanted

    vera, _ = as_user(client, world.vera)
    assert "导入组串表" not in vera.get(f"/pv/plants/{pid}").text


def test_the_next_inspection_groups_an_offline_string_by_the_imported_map(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    flight = tiny_flight(tmp_path, frames=6)
    plant = import_plant(client, world.alice.headers, flight)
    pid = plant["id"]
    before = layout(client, world, pid)
    planted = {a.module_id for a in flight.synthetic.anomalies if a.anomaly is Anomaly.STRING_OFFLINE}
    [old] = {before[m]["string"] for m in planted}  # the flight plants one string's outage
    renamed = [{"组件编号": m, "组串": "2号逆变器-组串07"} for m, p in before.items() if p["string"] == old]
    r = upload(client, world.alice.headers, pid, "组串表.csv", as_csv(renamed))
    assert r.status_code == 200 and r.json()["restrung"] == len(renamed), r.text

    files = [("file", ("flight.zip", flight.zip(), "application/zip"))]
    r = client.post(
        f"{PV}/plants/{pid}/inspections", files=files, data={"camera": "M3T", "irradiance_w_m2": "850"},
        headers=world.bob.headers,
    )  # fmt: skip
    assert r.status_code == 202, r.text
    assert run_worker(client, factory, registry) == [r.json()["id"]]
    alerts = {a.dedup_key: a for a in pv_alerts(factory, world.a)}
    alert = alerts[results.string_dedup_key(pid, "2号逆变器-组串07")]  # one alert, named as the map names it
    assert "组串 2号逆变器-组串07" in alert.description
    assert results.string_dedup_key(pid, old) not in alerts


def test_the_wiring_map_colours_neighbouring_strings_apart_and_flags_a_string_in_pieces(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    plant = make_plant(client, world.alice.headers, modules_per_string=4)
    pid = plant["id"]
    before = layout(client, world, pid)
    alice, _ = as_user(client, world.alice)
    page = alice.get(f"/pv/plants/{pid}/strings").text
    strings_now = {p["string"] for p in before.values()}
    assert f"{len(strings_now)} 个组串，每串" in page and "分成多段" not in page
    assert page.count('data-m="') == plant["module_count"] and "<title>A-01-01 · A-01-S1</title>" in page

    # the colours: no two strings side by side share one (rows of short strings need few colours)
    rows = strings.wiring(service_layout(factory, world, pid))
    colour = {r.string: r.colour for r in rows}
    for p in before.values():
        right = before.get(f"{p['array']}-{p['row']:02d}-{p['index'] + 1:02d}")
        if right and right["string"] != p["string"]:
            assert colour[right["string"]] != colour[p["string"]], (p["id"], right["id"])

    # a module typed into the string of another row: that string now lies in two pieces
    far = max(before.values(), key=lambda p: (p["row"], p["index"]))
    r = upload(client, world.alice.headers, pid, "typo.csv", as_csv([{"id": far["id"], "string": "A-01-S1"}]))
    assert r.status_code == 200, r.text
    said = "string A-01-S1 lies in 2 pieces not next to each other: A-01-01, A-01-02, A-01-03, A-01-04"
    assert [w["message"] for w in r.json()["warnings"]] == [f"{said}, {far['id']}"]
    page = alice.get(f"/pv/plants/{pid}/strings").text
    assert "以下组串的组件不相连、分成多段" in page and '<span class="badge short danger">2</span>' in page
    assert (
        f'<a href="/pv/plants/{pid}/strings#string-A-01-S1">A-01-S1</a>' in page
        and '<tr id="string-A-01-S1">' in page
    )
    module_page = alice.get(f"/pv/plants/{pid}/modules/{far['id']}").text  # its string, linked to its row
    assert f'组串 <a href="/pv/plants/{pid}/strings#string-A-01-S1">A-01-S1</a>' in module_page
    [broken] = [r for r in strings.wiring(service_layout(factory, world, pid)) if r.pieces > 1]
    assert broken.string == "A-01-S1" and far["id"] in broken.modules and broken.rows == (1, far["row"])

    r = upload(client, world.alice.headers, pid, "x.csv", as_csv([{"id": far["id"], "string": '<i>"S"</i>'}]))
    assert r.status_code == 200, r.text  # a name is any text: escaped in the link and in its label
    module_page = alice.get(f"/pv/plants/{pid}/modules/{far['id']}").text
    link = (
        f'<a href="/pv/plants/{pid}/strings#string-%3Ci%3E%22S%22%3C/i%3E">&lt;i&gt;&#34;S&#34;&lt;/i&gt;</a>'
    )
    assert link in module_page and "<i>" not in module_page
    assert '<tr id="string-%3Ci%3E%22S%22%3C/i%3E">' in alice.get(f"/pv/plants/{pid}/strings").text

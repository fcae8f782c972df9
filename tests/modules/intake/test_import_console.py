"""Spreadsheet imports in the console: the upload form, the report in the reader's language with the file's
own column names, dry run then import, the blank template that imports back, and the size limit."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.app import create_app
from gongzhi.modules.intake.io import tabular, workbooks
from gongzhi.settings import Settings
from tests.conftest import World
from tests.modules.intake.conftest import Intake, xlsx
from tests.web.helpers import as_user

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload(
    client: TestClient, csrf: str, data: bytes, *, kind: str = "hotline", dry_run: bool = False
) -> str:
    form = {"csrf_token": csrf, "kind": kind, **({"dry_run": "true"} if dry_run else {})}
    r = client.post(
        "/intake/imports", data=form, files={"file": ("工单.xlsx", data, XLSX)}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    location: str = r.headers["location"]
    assert location.startswith("/intake/imports/")
    return location


def test_a_rejected_file_is_reported_row_by_row_in_chinese_under_its_own_headers(
    client: TestClient, intake: Intake, world: World
) -> None:
    header = ["工单编号", "标题", "内容", "类别", "来电时间", "纬度"]
    rows: list[list[object]] = [
        ["H101", "路灯不亮", "小区门口路灯坏了", "", "2026-11-01 09:00", ""],
        ["H102", "公交不停站", "12路公交不停靠", "火星事务", "2026-11-01 10:00", "north"],
        ["H103", "", "", "", "2099-01-01 08:00", ""],
        ["H101", "重复", "同一编号", "", "2026-11-03 08:00", ""],
        ["H104", "噪音", "夜间施工", "", "昨天", ""],
    ]
    before = client.get("/api/v1/cases", headers=world.alice.headers).json()["total"]
    alice, csrf = as_user(client, world.alice)
    report = alice.get(_upload(alice, csrf, xlsx(header, rows)))
    assert report.status_code == 200
    text = report.text
    assert "已拒绝，未导入" in text and "发现 6 处问题，未导入任何数据。" in text
    for phrase in (
        "未知类别“火星事务”",
        "不是数字",
        "标题和内容至少填写一项",
        "晚于当前时间",
        "“H101”在本文件中出现了两次",
        "不是日期时间（例如 2026-11-28 09:30）",
    ):
        assert phrase in text, phrase
    assert "来电时间" in text and "received_at" not in text  # the file's own column names
    assert client.get("/api/v1/cases", headers=world.alice.headers).json()["total"] == before
    listed = alice.get("/intake/imports")
    assert "工单.xlsx" in listed.text and "已拒绝，未导入" in listed.text

    en, _ = as_user(client, world.alice, "en")
    english = en.get(_upload(en, csrf_of(en), xlsx(header, rows[1:2]))).text
    assert "unknown category “火星事务”" in english and "not a number" in english

    # the API keeps English, with the catalogue id and the column as the file named it
    listed_api = client.get("/api/v1/intake/imports", headers=world.alice.headers).json()
    assert [i["rows"] for i in listed_api] == [1, 5]  # the English upload, then the first: data rows
    api = listed_api[1]["errors"]
    lat = next(e for e in api if e["column"] == "lat")
    assert lat == {"row": 3, "column": "lat", "header": "纬度", "message": "not a number",
                   "template": "not a number", "params": {}}  # fmt: skip


def csrf_of(client: TestClient) -> str:
    page: str = client.get("/intake/imports").text
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_a_dry_run_imports_nothing_then_the_same_file_imports_every_row(
    client: TestClient, intake: Intake, world: World
) -> None:
    header = ["来访人", "来访事由", "来访时间", "联系电话"]
    rows: list[list[object]] = [
        ["孙七", "村道路灯坏了，晚上看不见", "2026/11/20 14:00", 13800000007],
        ["周八", "小区垃圾清运不及时", "2026/11/21 09:30", 13800000008],
    ]
    data = xlsx(header, rows)
    before = client.get("/api/v1/cases", headers=world.alice.headers).json()["total"]
    alice, csrf = as_user(client, world.alice)
    checked = alice.get(_upload(alice, csrf, data, kind="visit", dry_run=True)).text
    assert "全部 2 行检查无误，尚未导入。" in checked and "如需导入，请取消勾选" in checked
    assert client.get("/api/v1/cases", headers=world.alice.headers).json()["total"] == before
    imported = alice.get(_upload(alice, csrf, data, kind="visit")).text
    assert "已导入 2 行。" in imported
    assert client.get("/api/v1/cases", headers=world.alice.headers).json()["total"] == before + 2
    items = client.get("/api/v1/intake/requests?channel=visit", headers=world.alice.headers).json()["items"]
    assert {i["reporter_phone"] for i in items} >= {"13800000007", "13800000008"}  # no ".0" of a number cell


def test_the_blank_template_names_every_field_and_imports_back_once_filled(
    client: TestClient, intake: Intake, world: World
) -> None:
    for kind in ("hotline", "visit"):
        r = client.get(f"/api/v1/intake/imports/template.xlsx?kind={kind}", headers=world.alice.headers)
        assert r.status_code == 200 and r.headers["content-type"] == XLSX
        header, _ = tabular.read_rows(r.content, "t.xlsx")
        assert None not in header and set(header) == set(tabular.COLUMNS)
        wb = load_workbook(io.BytesIO(r.content))
        notes = [row[0] for row in wb["填写说明"].iter_rows(values_only=True)]
        assert "类别代码" in notes and "transport" in notes  # the region's categories follow the notes
        ws = wb.worksheets[0]
        ws.append(["T-" + kind, "井盖缺失", "人行道井盖缺失", "transport", "文三路", 30.31, 120.14, "王五",
                   "13900000000", "否", "2026-11-20 10:00", "紧急"])  # fmt: skip
        out = io.BytesIO()
        wb.save(out)
        done = client.post(
            f"/api/v1/intake/imports?kind={kind}",
            files={"file": ("filled.xlsx", out.getvalue(), XLSX)},
            headers=world.alice.headers,
        )
        assert done.status_code == 201, done.text
        assert done.json()["imported"] == 1
    assert (
        client.get("/api/v1/intake/imports/template.xlsx?kind=fax", headers=world.alice.headers).status_code
        == 422
    )
    assert workbooks.IMPORT_HEADERS.keys() == {"hotline", "visit"}


def test_a_viewer_sees_the_imports_but_cannot_upload(
    client: TestClient, intake: Intake, world: World
) -> None:
    vera, csrf = as_user(client, world.vera)
    page = vera.get("/intake/imports")
    assert page.status_code == 200 and 'action="/intake/imports"' not in page.text
    r = vera.post(
        "/intake/imports",
        data={"csrf_token": csrf, "kind": "hotline"},
        files={"file": ("t.xlsx", xlsx(["标题"], [["x"]]), XLSX)},
        follow_redirects=False,
    )
    assert r.status_code == 403
    charlie, _ = as_user(client, world.charlie)
    assert charlie.get("/intake/imports/1").status_code == 404


def test_a_file_over_the_upload_limit_is_refused_whole_not_cut(
    settings: Settings, factory: sessionmaker[Session], intake: Intake, world: World
) -> None:
    rows: list[list[object]] = [[f"H{n:04}", "噪音", "夜间施工噪音扰民" * 5] for n in range(200)]
    with TestClient(create_app(settings.model_copy(update={"max_upload_bytes": 4096}), factory)) as c:
        csv = "编号,标题,内容\n" + "\n".join(",".join(map(str, r)) for r in rows)
        r = c.post(
            "/api/v1/intake/imports?kind=hotline",
            files={"file": ("big.csv", csv.encode(), "text/csv")},
            headers=world.alice.headers,
        )
        assert r.status_code == 422, r.text
        body = r.json()
        assert [e["message"] for e in body["errors"]] == ["the file is larger than 4 KB; split it"]
        assert body["rows"] == 0 and body["imported"] == 0

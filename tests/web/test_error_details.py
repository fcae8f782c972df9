"""A refused action tells the console user why in the console's language (zh-CN by default, English after
``/lang/en``), while the API's problem+json keeps its English detail for the clients that read it."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from markupsafe import escape

from gongzhi import errors
from gongzhi.errors import msg
from gongzhi.kit import validation
from gongzhi.web import labels
from gongzhi.web.i18n import Lang
from tests.conftest import World
from tests.modules.pv.flights import tiny_flight
from tests.web.helpers import act, as_user, new_case

PV = "/api/v1/pv"
ZH, EN = Lang("zh_CN"), Lang("en")


def test_a_refused_case_transition_is_explained_in_the_consoles_language(
    client: TestClient, world: World
) -> None:
    case = new_case(client, world.alice)
    api = client.post(f"/api/v1/cases/{case['id']}/actions/close", json={}, headers=world.alice.headers)
    english = "cannot close a case that is accepted as dispatcher"
    assert api.status_code == 409 and api.json()["detail"] == english
    zh, csrf = as_user(client, world.alice)
    page = act(zh, csrf, case["id"], "close")
    assert page.status_code == 409 and "派单员无法对状态为“已受理”的工单执行“办结”" in page.text
    assert english not in page.text
    toast = zh.post(
        f"/cases/{case['id']}/act/close", data={"csrf_token": csrf}, headers={"HX-Request": "true"}
    )
    assert "派单员无法对状态为“已受理”的工单执行“办结”" in toast.text
    en, csrf = as_user(client, world.alice, lang="en")
    assert english in act(en, csrf, case["id"], "close").text


def test_confirming_an_inspection_still_queued_is_explained_in_the_consoles_language(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    flight = tiny_flight(tmp_path, frames=2)
    files = {"file": ("loop.geojson", flight.geojson, "application/geo+json")}
    plant = client.post(f"{PV}/plants/import", files=files, headers=world.alice.headers).json()
    frames = [("file", (p.name, p.read_bytes(), "image/tiff")) for p in flight.frames]
    r = client.post(
        f"{PV}/plants/{plant['id']}/inspections",
        files=frames,
        data={"camera": "M3T"},
        headers=world.bob.headers,
    )
    insp = r.json()["id"]
    api = client.post(f"{PV}/inspections/{insp}/confirm", json={}, headers=world.alice.headers)
    english = f"inspection {insp} is queued; confirm it once its analysis is done"
    assert api.status_code == 400 and api.json()["detail"] == english
    zh, csrf = as_user(client, world.alice)
    page = zh.post(f"/pv/inspections/{insp}/confirm", data={"csrf_token": csrf}, follow_redirects=False)
    assert page.status_code == 400 and f"巡检 {insp} 当前为“排队中”，请在分析完成后再确认" in page.text
    en, csrf = as_user(client, world.alice, lang="en")
    page = en.post(f"/pv/inspections/{insp}/confirm", data={"csrf_token": csrf}, follow_redirects=False)
    assert page.status_code == 400 and english in page.text


def test_a_public_request_for_an_unknown_service_gives_the_form_back_with_the_reason_in_its_language(
    client: TestClient, world: World
) -> None:
    typed = {"subject": "井盖缺失", "description": "小区门口井盖缺失", "service_code": "nope"}
    api = client.post("/api/v1/public/intake/alpha/requests", data=typed)
    assert api.status_code == 404 and api.json()["detail"] == "no service 'nope' in this region"
    page = client.post("/intake/alpha/report", data=typed, follow_redirects=False)
    assert page.status_code == 404 and escape("本区县没有诉求类别 'nope'") in page.text
    client.cookies.set("gz_lang", "en")
    page = client.post("/intake/alpha/report", data=typed, follow_redirects=False)
    assert page.status_code == 404 and escape("no service 'nope' in this region") in page.text


def test_a_village_supervisor_limited_to_villages_is_told_what_they_cannot_do_in_its_language() -> None:
    refused = msg("a supervisor limited to their villages cannot %(what)s", what=msg("add villages"))
    assert refused == "a supervisor limited to their villages cannot add villages"
    assert labels.detail(ZH, refused) == "仅负责所辖村的监督员不能新增村"
    assert labels.detail(EN, refused) == "a supervisor limited to their villages cannot add villages"


def test_a_detail_names_stored_values_only_where_the_console_has_names_for_them() -> None:
    moved = msg(
        "alert %(alert_id)s is %(alert_status)s, no longer open", alert_id=4, alert_status="dismissed"
    )
    assert labels.detail(ZH, moved) == "预警 4 状态为“已忽略”，已不再待处置"
    busy = msg(
        "robot %(name)s is still on case %(number)s (%(robot_state)s)",
        name="R1",
        number="A-1",
        robot_state="busy",
    )
    assert labels.detail(ZH, busy) == "机器人 R1 仍在处理工单 A-1（busy）"


def test_plain_details_and_untranslated_ids_are_shown_as_written() -> None:
    assert labels.detail(ZH, "the parser says: bad byte 0x9f") == "the parser says: bad byte 0x9f"
    assert labels.detail(ZH, "an opinion needs text") == "请填写您的意见"  # a catalogue id stays translated
    new = msg("a message nobody translated yet about %(state)s", state="closed")
    assert labels.detail(ZH, new) == "a message nobody translated yet about closed"


def test_the_pv_pages_and_the_error_details_name_inspection_statuses_alike() -> None:
    from gongzhi.modules.pv.views import STATUS_NAMES

    assert {k: STATUS_NAMES[k] for k in labels.INSPECTION_STATUSES} == labels.INSPECTION_STATUSES


def test_a_form_that_does_not_match_the_schema_is_explained_in_the_consoles_language(
    client: TestClient, world: World
) -> None:
    """Request validation is not a domain error: the console shows the handler's fixed wording translated."""
    case = new_case(client, world.alice)
    api = client.post(f"/api/v1/cases/{case['id']}/actions/close", content=b"[", headers=world.alice.headers)
    assert api.status_code == 422 and api.json()["detail"] == "the request does not match the schema"
    zh, csrf = as_user(client, world.alice)
    page = zh.post("/pv/cases/1/reclean", data={"csrf_token": csrf, "mode": "zzz"}, follow_redirects=False)
    assert (
        page.status_code == 422
        and "提交的内容不符合要求" in page.text
        and "清洗方式: 格式不符合要求" in page.text  # the field by its label on the form
    )
    assert "the request does not match the schema" not in page.text and "String should match" not in page.text
    en, csrf = as_user(client, world.alice, lang="en")
    page = en.post("/pv/cases/1/reclean", data={"csrf_token": csrf, "mode": "zzz"}, follow_redirects=False)
    assert page.status_code == 422 and "the request does not match the schema" in page.text
    assert (
        "Mode: String should match pattern" in page.text
    )  # English keeps pydantic's own, naming the pattern


def test_a_fields_problem_is_worded_in_the_consoles_language_from_pydantics_type_and_context() -> None:
    too_long: dict[str, object] = {
        "type": "string_too_long",
        "loc": ("body", "title"),
        "msg": "String should have at most 200 characters",
        "ctx": {"max_length": 200},
    }
    assert labels.field_problem(ZH, too_long) == "标题: 最多 200 个字符"  # by the forms' label
    assert labels.field_problem(EN, too_long) == "Title: String should have at most 200 characters"
    missing: dict[str, object] = {"type": "missing", "loc": ("body", "address", 0), "msg": "Field required"}
    assert labels.field_problem(ZH, missing) == "地址第 1 项: 必填"  # a list's item, counted from 1
    assert labels.field_problem(EN, missing) == "Address, item 1: Field required"
    odd: dict[str, object] = {
        "type": "url_scheme",
        "loc": ("query", "next"),
        "msg": "URL scheme should be 'http'",
        "ctx": {},
    }
    assert labels.field_problem(ZH, odd) == "next: URL scheme should be 'http'"  # no label, no wording
    # a ctx that lacks the template's placeholder keeps pydantic's message rather than failing
    assert (
        labels.field_problem(ZH, {**too_long, "ctx": {}}) == "标题: String should have at most 200 characters"
    )


def test_a_validation_problem_keeps_pydantics_english_and_the_wording_it_is_translated_from() -> None:
    too_short = {"type": "string_too_short", "loc": ("name",), "msg": "too short!", "ctx": {"min_length": 2}}
    said = validation.problem(too_short)
    assert said == "too short!" and said.template == "needs at least %(min_length)s characters"
    assert labels.detail(ZH, said) == "至少需要 2 个字符" and labels.detail(EN, said) == "too short!"
    named = validation.field_problem(too_short)
    assert named == "name: too short!"  # the key in the API's English
    assert labels.detail(ZH, named) == "名称: 至少需要 2 个字符"  # the label in the console
    odd = validation.problem({"type": "url_scheme", "msg": "URL scheme should be 'http'"})
    assert labels.detail(ZH, odd) == "URL scheme should be 'http'"  # no wording: pydantic's everywhere


def test_a_stored_detail_comes_back_in_the_readers_language() -> None:
    row = errors.stored(msg("repeats row %(row)s; skipped", row=4))
    assert row == {
        "message": "repeats row 4; skipped",
        "template": "repeats row %(row)s; skipped",
        "params": {"row": "4"},
    }
    assert labels.detail(ZH, errors.restored(row)) == "与第 4 行重复，已跳过"
    assert labels.detail(EN, errors.restored(row)) == "repeats row 4; skipped"
    legacy = {"message": "written before templates were kept"}
    assert errors.stored("plain") == {"message": "plain"}
    assert labels.detail(ZH, errors.restored(legacy)) == "written before templates were kept"


def test_a_console_form_the_model_refuses_names_each_fields_problem_in_the_consoles_language(
    client: TestClient, world: World
) -> None:
    zh, csrf = as_user(client, world.alice)
    form = {"csrf_token": csrf, "title": "x" * 201, "category": "road", "priority": "normal"}
    page = zh.post("/cases/new", data=form, follow_redirects=False)
    assert page.status_code == 400 and "标题: 最多 200 个字符" in page.text
    en, csrf = as_user(client, world.alice, lang="en")
    page = en.post("/cases/new", data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert page.status_code == 400 and "Title: String should have at most 200 characters" in page.text


def test_a_missing_records_kind_is_named_in_the_consoles_language() -> None:
    assert labels.detail(ZH, msg("no %(kind)s %(obj_id)s", kind="project", obj_id=5)) == "未找到项目 5"
    core = msg("no %(kind)s %(obj_id)s in this region", kind="GridCell", obj_id=9)
    assert labels.detail(ZH, core) == "本区县未找到网格 9"
    assert labels.detail(EN, core) == "no GridCell 9 in this region"  # the API's English, as raised
    taken = msg("a %(kind)s with key %(key)r exists already (record %(id)s)", kind="dataset", key="k1", id=3)
    assert labels.detail(ZH, taken) == "键为 'k1' 的数据资源已存在（目录 3）"

"""The public pages residents use without logging in (the request form, the tracking and rating page, a
village's opinion page) speak one language at a time: Chinese by default, English once the visitor chose
it with the header's switch (the console's ``gz_lang`` cookie), and only data stays in its own words."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World
from tests.modules.intake.conftest import Intake
from tests.modules.intake.test_intake import _close, jpeg, submit
from tests.modules.village.test_village import post, village
from tests.web.helpers import as_user

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
WORD = re.compile(r"[A-Za-z]{2,}")
OLD_BILINGUAL = (
    "Category",
    "Submit",
    "Report anonymously",
    "Not submitted",
    "Citizen requests",
    "Rate the outcome",
)
SWITCH = re.compile(r'<nav class="lang".*?</nav>', re.S)  # each language is named in its own words


class _Visible(HTMLParser):
    """What a visitor reads: text outside script and style, and placeholders, titles and labels."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("script", "style")
        self.parts += [v for k, v in attrs if k in ("placeholder", "title", "aria-label", "alt") and v]

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(html: str, *data: str) -> str:
    """The page's visible text without the language switch and without the given data values."""
    parser = _Visible()
    parser.feed(SWITCH.sub("", html))
    text = " ".join(parser.parts)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return text


def in_chinese(html: str, *data: str) -> None:
    assert '<html lang="zh-CN">' in html
    assert WORD.findall(visible(html, *data)) == []
    assert not any(old in html for old in OLD_BILINGUAL)


def in_english(html: str, *data: str) -> None:
    assert '<html lang="en">' in html
    assert CJK.findall(visible(html, *data)) == []


def as_visitor(client: TestClient, lang: str) -> TestClient:
    client.cookies.set("gz_lang", lang)
    return client


def test_the_form_speaks_chinese_by_default_and_english_when_chosen(
    client: TestClient, intake: Intake
) -> None:
    zh = client.get("/intake/alpha/")
    assert zh.status_code == 200 and "问题类别" in zh.text and "匿名反映（不保存姓名和电话）" in zh.text
    in_chinese(zh.text)
    en = as_visitor(client, "en").get("/intake/alpha/")
    assert en.status_code == 200 and en.headers["content-language"] == "en"
    assert "Kind of problem" in en.text and "Urban and rural construction" in en.text
    in_english(en.text, "甲区")  # the region's name is data


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_a_refused_form_keeps_what_the_resident_typed_in_either_language(
    client: TestClient, intake: Intake, lang: str
) -> None:
    typed = {
        "subject": "路灯不亮",
        "description": "湖墅南路口路灯连续三晚不亮",
        "name": "王芳",
        "phone": "13712345678",
    }
    visitor = as_visitor(client, lang)
    photo = [("photos", ("a.jpg", b"not an image at all", "image/jpeg"))]
    refusals = [
        visitor.post("/intake/alpha/report", data=typed, files=photo),
        visitor.post("/intake/alpha/report", data={**typed, "description": "  "}),
        visitor.post("/intake/alpha/report", data={**typed, "lat": "999", "lon": "0"}),
    ]
    expected = {
        "zh_CN": ["照片被拒收：照片内容与文件类型不符", "请填写问题描述", "位置无效"],
        "en": [
            "Photo refused: the content of the photo does not match its file type",
            "Please describe the problem",
            "The location is not valid",
        ],
    }[lang]
    for r, notice in zip(refusals, expected, strict=True):
        assert r.status_code == 400 and notice in r.text
        assert all(f'value="{typed[k]}"' in r.text for k in ("subject", "name", "phone"))
        check = in_chinese if lang == "zh_CN" else in_english
        check(r.text, "甲区", *typed.values())
    assert "湖墅南路口路灯连续三晚不亮</textarea>" in refusals[0].text


def test_the_tracking_and_rating_page_speaks_one_language(
    client: TestClient, intake: Intake, world: World
) -> None:
    made = submit(client)
    case = client.get("/api/v1/cases", params={"q": made["number"]}, headers=world.alice.headers).json()
    _close(client, world, case["items"][0]["id"])
    page, data = f"/intake/track/{made['tracking_code']}?new=1", (made["number"], made["tracking_code"])
    zh = client.get(page).text
    assert "回访评价" in zh and "状态：" in zh and "已办结" in zh and "不满意，问题未解决" in zh
    in_chinese(zh, *data, "小区门口井盖缺失")  # the request's title is the resident's own words
    assert f'href="/lang/en?next=/intake/track/{made["tracking_code"]}%3Fnew%3D1"' in zh
    en = as_visitor(client, "en").get(page).text
    assert "Rate the outcome" in en and 'State: <span class="state">Closed</span>' in en
    assert "Sent to the department in charge" in en and "Urban and rural construction" in en
    in_english(en, *data, "甲区", "小区门口井盖缺失")


def test_the_tracking_page_after_a_form_submission_in_english(client: TestClient, intake: Intake) -> None:
    visitor = as_visitor(client, "en")
    sent = visitor.post(
        "/intake/alpha/report",
        data={"subject": "井盖缺失", "description": "文三路口井盖缺失"},
        files=[("photos", ("a.jpg", jpeg(), "image/jpeg"))],
        follow_redirects=False,
    )
    assert sent.status_code == 303
    page = visitor.get(sent.headers["location"])
    assert "Your request has been sent." in page.text and "Request received" in page.text
    code = sent.headers["location"].split("/")[-1].split("?")[0]
    in_english(page.text, code, "甲区", "井盖缺失")


def _opinions(client: TestClient, world: World) -> dict[str, Any]:
    """Village 前进村 of 湖镇镇 (region alpha) with one open consultation, 礼堂改造."""
    v = village(client, world)
    return cast(
        dict[str, Any],
        post(client, world.dana, "/consultations", {"village_id": v["id"], "title": "礼堂改造"}),
    )


def test_the_village_opinion_page_speaks_one_language(client: TestClient, world: World) -> None:
    _opinions(client, world)
    page, data = "/village/alpha/qianjin/opinions", ("湖镇镇", "前进村", "礼堂改造")
    zh = client.get(page).text
    assert "民意征集" in zh and "您的意见" in zh
    in_chinese(zh, *data)
    en = as_visitor(client, "en").get(page).text
    assert "Public consultation" in en and "Your opinion" in en and "礼堂改造" in en
    in_english(en, *data)
    thanks = client.get(page + "?thanks=1").text
    assert "Thank you for your opinion" in thanks
    in_english(thanks, *data)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_a_refused_opinion_keeps_what_the_villager_typed_in_either_language(
    client: TestClient, world: World, lang: str
) -> None:
    _opinions(client, world)
    typed = {"text": "  ", "name": "周大伯", "phone": "13611112222"}
    r = as_visitor(client, lang).post("/village/alpha/qianjin/opinions", data=typed)
    assert r.status_code == 400 and 'value="周大伯"' in r.text and 'value="13611112222"' in r.text
    if lang == "zh_CN":
        assert "提交未成功，请修改后重新提交（请填写您的意见）" in r.text
        in_chinese(r.text, "湖镇镇", "前进村", "礼堂改造")
    else:
        assert "Not submitted; please correct and send again (Please write your opinion)" in r.text
        in_english(r.text, "湖镇镇", "前进村", "礼堂改造", "周大伯")


@pytest.mark.parametrize(
    "page",
    ["/intake/alpha/", "/village/alpha/qianjin/opinions"],
)
def test_the_language_switch_works_without_login_and_returns_to_the_public_page(
    client: TestClient, intake: Intake, world: World, page: str
) -> None:
    _opinions(client, world)
    html = client.get(page).text
    link = re.search(r'href="(/lang/en\?next=[^"]+)"', html)
    assert link is not None and "中文" in SWITCH.search(html).group(0)  # type: ignore[union-attr]
    switched = client.get(link.group(1), follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == page
    assert "gz_lang=en" in switched.headers["set-cookie"]
    assert '<html lang="en">' in client.get(page).text
    back = client.get(f"/lang/zh_CN?next={page}", follow_redirects=False)
    assert back.headers["location"] == page and '<html lang="zh-CN">' in client.get(page).text
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert (
            client.get("/lang/en", params={"next": evil}, follow_redirects=False).headers["location"] == "/"
        )


def test_a_refused_post_offers_a_switch_back_to_the_form_not_to_the_post(
    client: TestClient, intake: Intake
) -> None:
    r = client.post("/intake/alpha/report", data={"description": " "})
    assert r.status_code == 400 and 'href="/lang/en?next=/intake/alpha/"' in r.text


def test_a_field_past_the_forms_maxlength_gets_the_form_again_with_the_field_named_and_the_text_kept(
    client: TestClient, intake: Intake
) -> None:
    # a client that ignores maxlength: the form again (not an error page), the field by its label
    form = {"description": "井盖缺失，请尽快处理", "address": "湖" * 301}
    zh = as_visitor(client, "zh_CN").post("/intake/alpha/report", data=form)
    assert zh.status_code == 400 and "位置: 最多 300 个字符" in zh.text
    assert "井盖缺失，请尽快处理</textarea>" in zh.text and f'value="{"湖" * 301}"' in zh.text
    assert 'id="address" maxlength="300"' in zh.text and 'id="description" maxlength="4000"' in zh.text
    en = as_visitor(client, "en").post("/intake/alpha/report", data=form)
    assert en.status_code == 400 and "Location: takes at most 300 characters" in en.text
    long = as_visitor(client, "en").post("/intake/alpha/report", data={"description": "x" * 4001})
    assert long.status_code == 400 and "Describe the problem: takes at most 4000 characters" in long.text
    assert "x" * 4001 + "</textarea>" in long.text
    at_most = client.post("/intake/alpha/report", data={"description": "x" * 4000}, follow_redirects=False)
    assert at_most.status_code == 303


def test_a_visitors_error_page_leads_back_to_the_page_they_came_from_not_to_the_console(
    client: TestClient, intake: Intake, world: World
) -> None:
    visitor = as_visitor(client, "zh_CN")
    lost = visitor.get("/intake/track/NOSUCHCODE")
    assert lost.status_code == 404 and 'href="/"' not in lost.text  # the overview would ask to log in
    came = visitor.get("/intake/track/NOSUCHCODE", headers={"Referer": "http://testserver/intake/alpha/"})
    assert 'href="/intake/alpha/"' in came.text and "返回" in came.text
    elsewhere = visitor.get("/intake/track/NOSUCHCODE", headers={"Referer": "https://example.com/x"})
    assert "example.com" not in elsewhere.text
    staff, _ = as_user(client, world.alice)
    assert 'href="/"' in staff.get("/intake/track/NOSUCHCODE").text  # staff: back to the overview

"""The shared library: per-document sharing with paired regions and Chinese full-text search."""

from __future__ import annotations

from typing import Any, cast

from fastapi.testclient import TestClient

from tests.conftest import Person, World

API = "/api/v1/catalog/library"


def doc(client: TestClient, who: Person, status: int = 201, **body: Any) -> dict[str, Any]:
    r = client.post(f"{API}/documents", json={"kind": "policy", **body}, headers=who.headers)
    assert r.status_code == status, r.text
    return cast(dict[str, Any], r.json())


def titles(client: TestClient, who: Person, path: str) -> list[str]:
    return sorted(d["title"] for d in client.get(f"{API}/{path}", headers=who.headers).json())


def test_sharing_is_per_document_and_only_along_pairings(
    client: TestClient, world: World, bert: Person
) -> None:
    private = doc(client, world.adam, title="内部工作要点", body="仅本区使用")
    doc(client, world.adam, title="优化营商环境若干措施", body="推进营商环境数字化改革", sharing="pairs")
    doc(
        client,
        world.adam,
        title="山海协作经验",
        kind="experience",
        body="拱墅龙游结对",
        sharing="selected",
        share_region_ids=[world.b],
    )
    doc(client, world.adam, status=400, title="x", sharing="selected", share_region_ids=[world.c])
    assert titles(client, world.adam, "documents") == ["优化营商环境若干措施", "内部工作要点", "山海协作经验"]
    assert titles(client, world.bella, "documents") == ["优化营商环境若干措施", "山海协作经验"]
    assert titles(client, world.charlie, "documents") == []
    assert client.get(f"{API}/documents/{private['id']}", headers=world.bella.headers).status_code == 404
    r = client.put(
        f"{API}/documents/{private['id']}/sharing", json={"sharing": "pairs"}, headers=world.adam.headers
    )
    assert r.status_code == 200
    assert client.get(f"{API}/documents/{private['id']}", headers=world.bella.headers).status_code == 200
    assert client.get(f"{API}/documents/{private['id']}", headers=world.charlie.headers).status_code == 404
    r = client.put(
        f"{API}/documents/{private['id']}/sharing", json={"sharing": "private"}, headers=bert.headers
    )
    assert r.status_code == 404  # only the owner changes sharing


def test_chinese_full_text_search_finds_words_inside_sentences(client: TestClient, world: World) -> None:
    doc(
        client,
        world.adam,
        title="招商引资政策汇编",
        body="对新引进的数字经济企业给予租金补贴和人才奖励。",
        sharing="pairs",
    )
    doc(
        client,
        world.adam,
        title="垃圾分类工作经验",
        kind="experience",
        body="推行定时定点投放，数字经济无关。",
    )
    doc(client, world.charlie, title="丙区人才奖励办法", body="人才奖励", sharing="pairs")
    hits = client.get(f"{API}/search", params={"q": "人才奖励"}, headers=world.adam.headers).json()
    assert [h["title"] for h in hits] == ["招商引资政策汇编"] and "人才奖励" in hits[0]["snippet"]
    both = client.get(f"{API}/search", params={"q": "数字经济"}, headers=world.adam.headers).json()
    assert {h["title"] for h in both} == {"招商引资政策汇编", "垃圾分类工作经验"}
    assert [
        h["title"]
        for h in client.get(f"{API}/search", params={"q": "招商"}, headers=world.bella.headers).json()
    ] == ["招商引资政策汇编"]
    assert client.get(f"{API}/search", params={"q": "垃圾分类"}, headers=world.bella.headers).json() == []
    assert client.get(f"{API}/search", params={"q": "招商"}, headers=world.charlie.headers).json() == []
    assert client.get(f"{API}/search", params={"q": "不存在的词语"}, headers=world.adam.headers).json() == []


def test_editing_a_document_reindexes_it(client: TestClient, world: World) -> None:
    d = doc(client, world.adam, title="旧标题", body="旧内容")
    r = client.put(
        f"{API}/documents/{d['id']}", json={"title": "新标题", "body": "营商环境"}, headers=world.adam.headers
    )
    assert r.status_code == 200
    assert client.get(f"{API}/search", params={"q": "旧内容"}, headers=world.adam.headers).json() == []
    assert [
        h["id"] for h in client.get(f"{API}/search", params={"q": "营商"}, headers=world.adam.headers).json()
    ] == [d["id"]]

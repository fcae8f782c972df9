"""Duplicate-system detection and the text helpers it and the library search stand on."""

from __future__ import annotations

from gongzhi.modules.catalog.analytics.dupes import System, find_duplicates
from gongzhi.modules.catalog.analytics.text import normalise_name, query_tokens, search_tokens

PREFIXES = ["拱墅区", "龙游县"]


def test_the_same_system_under_two_jurisdictions_is_a_pair_with_evidence() -> None:
    systems = [
        System(
            "1",
            "拱墅区智慧停车管理平台",
            "停车泊位实时查询、停车诱导与缴费",
            items=("泊位编号", "车牌号"),
            provider="城管局",
        ),
        System(
            "2",
            "龙游县智慧停车管理平台",
            "泊位实时查询，停车诱导，在线缴费",
            items=("泊位编号", "车牌号"),
            provider="交通局",
        ),
        System("3", "拱墅区幸福食堂订餐系统", "老年人助餐订餐", items=("订单号",), provider="民政局"),
    ]
    (pair,) = find_duplicates(systems, prefixes=PREFIXES, threshold=0.5)
    assert (pair.i, pair.j) == (0, 1) and pair.name_similarity > 0.99
    assert pair.shared_items == ("泊位编号", "车牌号") and pair.normalised_names == (
        "智慧停车管理平台",
        "智慧停车管理平台",
    )
    assert 0.5 <= pair.score <= 1.0


def test_department_names_in_prose_do_not_make_systems_alike() -> None:
    systems = [
        System("1", "甲系统", "该系统是北京市水务局提供的河湖水情查询", provider="北京市水务局"),
        System("2", "乙平台", "该平台是北京市水务局提供的供水许可办理", provider="北京市水务局"),
    ]
    assert find_duplicates(systems, threshold=0.3) == []


def test_nothing_to_compare_yields_no_pairs() -> None:
    assert find_duplicates([]) == [] and find_duplicates([System("1", "x")]) == []


def test_names_lose_prefixes_paths_and_punctuation() -> None:
    assert normalise_name("龙游县 智慧停车（二期）", PREFIXES) == "智慧停车二期"
    assert normalise_name("USEPA/Envirofacts-API", []) == "envirofactsapi"


def test_search_tokens_are_cjk_unigrams_and_bigrams_and_latin_words() -> None:
    tokens = search_tokens("营商环境 Policy 2024")
    assert {"营", "营商", "商环", "环境", "policy", "2024"} <= set(tokens)
    assert query_tokens("营商环境") == ["营商", "商环", "环境"] and query_tokens("营") == ["营"]


def test_a_split_scores_only_pairs_across_the_two_sides_with_the_same_scores() -> None:
    names = ["智慧停车管理平台", "幸福食堂订餐系统", "排水许可管理系统", "城市网格治理平台"]
    left = [System(f"a{i}", f"拱墅区{n}", n, items=("编号", n[:2])) for i, n in enumerate(names)]
    left.append(
        System("a9", "拱墅区智慧停车管理系统", "停车", items=("编号",))
    )  # a look-alike on its own side
    right = [System(f"b{i}", f"龙游县{n}", n, items=("编号", n[:2])) for i, n in enumerate(names[1:3])]
    systems = [*left, *right]
    full = {(p.i, p.j): p.score for p in find_duplicates(systems, prefixes=PREFIXES, threshold=0.5, block=2)}
    crossed = find_duplicates(systems, prefixes=PREFIXES, threshold=0.5, block=2, split=len(left))
    assert any(i < len(left) and j < len(left) for i, j in full)  # the within-side pair exists
    assert {(p.i, p.j): p.score for p in crossed} == {
        (i, j): sc for (i, j), sc in full.items() if i < len(left) <= j
    }
    assert {(p.i, p.j) for p in crossed} == {(1, 5), (2, 6)}

"""Text normalisation for duplicate detection and the tokens of the portable Chinese full-text search.

Chinese has no spaces, so the search indexes character unigrams and bigrams of every CJK run (the
classic bigram indexing of Chinese IR, e.g. Nie et al., "On the use of words and n-grams for Chinese
information retrieval", IRAL 2000) and lower-cased words of every Latin/digit run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
WORD = re.compile(r"[0-9a-z]+")
SPLIT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[0-9a-z]+")
PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
MAX_TOKEN = 40


def search_tokens(text: str) -> Counter[str]:
    """Index tokens of ``text``: CJK unigrams and bigrams, Latin words; with their counts."""
    out: Counter[str] = Counter()
    for run in SPLIT.findall(text.lower()):
        if CJK_RUN.fullmatch(run):
            out.update(run)
            out.update(run[i : i + 2] for i in range(len(run) - 1))
        else:
            out[run[:MAX_TOKEN]] += 1
    return out


def query_tokens(query: str) -> list[str]:
    """Tokens a query needs: bigrams of CJK runs (a single character stands alone), Latin words."""
    found: list[str] = []
    for run in SPLIT.findall(query.lower()):
        if CJK_RUN.fullmatch(run):
            found.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
        else:
            found.append(run[:MAX_TOKEN])
    return list(dict.fromkeys(found))


def strip_prefixes(text: str, prefixes: Sequence[str]) -> str:
    """Remove leading jurisdiction or department names, repeatedly: 北京市水务局河湖… → 河湖…"""
    changed = True
    while changed:
        changed = False
        for p in prefixes:
            if p and text.startswith(p) and len(text) > len(p):
                text, changed = text[len(p) :], True
    return text


def normalise_name(name: str, prefixes: Sequence[str]) -> str:
    """A system's name without jurisdiction or department prefix, an ``org/`` path, case or punctuation."""
    name = name.strip().lower()
    name = name.rsplit("/", 1)[-1] if "/" in name and " " not in name.split("/", 1)[0] else name
    return PUNCT.sub("", strip_prefixes(name, prefixes))


def names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching any of the names (jurisdictions, departments), longest first."""
    alternatives = sorted({n for n in names if len(n) >= 2}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, alternatives))) if alternatives else None


def remove_all(text: str, names: re.Pattern[str] | None) -> str:
    """Drop every occurrence of the names ``names_pattern`` matches from free text."""
    return names.sub(" ", text) if names is not None else text


def char_ngrams(text: str, sizes: tuple[int, ...] = (2, 3)) -> list[str]:
    """Character n-grams of the text with punctuation and spaces removed (CJK-friendly TF-IDF features)."""
    compact = PUNCT.sub("", text.lower())
    grams: list[str] = []
    for n in sizes:
        grams.extend(compact[i : i + n] for i in range(len(compact) - n + 1))
    return grams or ([compact] if compact else [])


def normalise_item(name: str) -> str:
    """An information item's name reduced for matching (姓名 / 姓 名 / Name → one form)."""
    return PUNCT.sub("", name.lower())

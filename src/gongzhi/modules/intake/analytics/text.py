"""Normalisation of Chinese request text and character n-grams.

Chinese has no spaces between words; character uni- and bigrams stand in for words when no segmenter is used,
for classification and near-duplicate detection alike.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import numpy.typing as npt

_HTML = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")
_KEEP = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_ID_CARD = re.compile(r"(?<![0-9Xx])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9Xx])")


def clean(text: str) -> str:
    """Strip HTML residue and collapse whitespace (the exported board text starts with ``\\n\\t\\t``)."""
    return _SPACE.sub(" ", _HTML.sub(" ", unicodedata.normalize("NFKC", text))).strip()


def compact(text: str) -> str:
    """Lower-case letters, digits and CJK characters only: the form shingles and n-grams are taken from."""
    return _KEEP.sub("", unicodedata.normalize("NFKC", text).lower())


def redact(text: str) -> str:
    """Mask mobile numbers and ID-card numbers a citizen typed into free text (for public output)."""
    return _ID_CARD.sub(r"\1********\2", _PHONE.sub(r"\1****\3", text))


def ngrams(text: str, n_min: int = 1, n_max: int = 2) -> list[str]:
    """Character n-grams of the compact form of ``text``, shortest first."""
    s = compact(text)
    return [s[i : i + n] for n in range(n_min, n_max + 1) for i in range(len(s) - n + 1)]


def _table() -> npt.NDArray[np.int64]:
    t = np.zeros(0x10000, dtype=np.int64)
    keep = list(range(48, 58)) + list(range(97, 123)) + list(range(0x3400, 0xA000))
    t[keep] = keep
    t[65:91] = np.arange(97, 123)  # A–Z → a–z
    full = np.arange(0xFF01, 0xFF5F)
    t[full] = t[full - 0xFEE0]  # full-width ASCII → its ASCII mapping
    return t


_TABLE = _table()


def codepoints(text: str, limit: int | None = None) -> npt.NDArray[np.int64]:
    """The compact form of ``text`` as code points, computed in numpy (no per-character Python).

    Full-width ASCII becomes ASCII (the NFKC mapping that matters for Chinese input), letters are lower-cased,
    and only digits, Latin letters and CJK ideographs are kept; at most ``limit`` code points are returned.
    """
    if "<" in text:
        text = _HTML.sub(" ", text)
    raw = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    mapped = _TABLE[np.minimum(raw, 0xFFFF)]
    out = mapped[mapped > 0]
    return out if limit is None else out[:limit]


def from_codepoints(cps: npt.NDArray[np.int64]) -> str:
    return cps.astype("<u4").tobytes().decode("utf-32-le")

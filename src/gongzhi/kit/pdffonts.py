"""Fonts for PDFs that read the same on any machine: embedded TrueType subsets (``kit/fonts/README.md``).

Droid Sans Fallback carries the Chinese, DejaVu Sans the Latin, Greek and symbols; :func:`markup` splits a
text into runs of each so a ReportLab paragraph never falls back to a font the reader's machine may lack.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

FONTS = Path(__file__).parent / "fonts"
CJK, LATIN = "GongzhiCJK", "GongzhiLatin"


@cache
def register() -> tuple[frozenset[int], frozenset[int]]:
    """Register both fonts with ReportLab once; returns the code points each covers (CJK, Latin)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    cjk = TTFont(CJK, str(FONTS / "DroidSansFallback-GB2312.ttf"))
    latin = TTFont(LATIN, str(FONTS / "DejaVuSans-subset.ttf"))
    pdfmetrics.registerFont(cjk)
    pdfmetrics.registerFont(latin)
    return frozenset(cjk.face.charToGlyph), frozenset(latin.face.charToGlyph)


def font_of(ch: str) -> str:
    _cjk, latin = register()
    return LATIN if ord(ch) in latin or ch.isspace() else CJK


def markup(text: str) -> str:
    """ReportLab paragraph markup of ``text`` (escaped) with each run in the font that has its glyphs."""
    if not text:
        return ""
    out: list[str] = []
    run, font = "", font_of(text[0])
    for ch in text:
        f = font_of(ch)
        if f != font and not ch.isspace():
            out.append(f'<font name="{font}">{escape(run)}</font>')
            run, font = "", f
        run += ch
    out.append(f'<font name="{font}">{escape(run)}</font>')
    return "".join(out)

#!/usr/bin/env python
"""Build the two fonts gongzhi embeds in its PDF reports (re-run to reproduce the shipped files).

Source: Droid Sans Fallback (Google, Apache-2.0), Debian package ``fonts-droid-fallback``:

    apt-get download fonts-droid-fallback && dpkg-deb -x fonts-droid-fallback_*.deb /tmp/droid
    .venv/bin/python scripts/fonts/subset_cjk.py \
        /tmp/droid/usr/share/fonts-droid-fallback/truetype/DroidSansFallback.ttf \
        /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf  # fonts-dejavu-core (Bitstream Vera licence)

Droid Sans Fallback has no Latin letters, so Latin, Greek and symbols come from a subset of DejaVu Sans.
The CJK font keeps ASCII, Latin-1, Greek, general and CJK punctuation, arrows and maths symbols, full-width
forms, and every character of GB 2312 (6,763 hanzi: the characters of plant names, place names and report
text); the result is a TrueType font ReportLab can embed (ReportLab embeds only the glyphs a PDF uses).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset

FONTS = Path(__file__).resolve().parents[2] / "src" / "gongzhi" / "kit" / "fonts"

RANGES = [
    (0x20, 0x7E),  # ASCII
    (0xA0, 0xFF),  # Latin-1
    (0x370, 0x3FF),  # Greek (Δ, μ)
    (0x2000, 0x206F),  # general punctuation
    (0x2070, 0x209F),  # super- and subscripts (⁻¹)
    (0x2100, 0x214F),  # letterlike (℃)
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # maths (≥, ≤, ×)
    (0x2460, 0x24FF),  # enclosed numbers (①)
    (0x25A0, 0x25FF),  # shapes (■ ●)
    (0x3000, 0x303F),  # CJK punctuation
    (0xFF00, 0xFFEF),  # full-width forms
]


def gb2312() -> set[int]:
    chars = set()
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    for hi in range(0xA1, 0xAA):  # symbols rows of GB 2312
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return chars


def main(cjk: str, latin: str) -> None:
    symbols = {c for lo, hi in RANGES for c in range(lo, hi + 1)}
    write(cjk, gb2312() | symbols, FONTS / "DroidSansFallback-GB2312.ttf")
    write(latin, symbols, FONTS / "DejaVuSans-subset.ttf")


def write(source: str, codepoints: set[int], out: Path) -> None:
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = subset.load_font(source, options)
    sub = subset.Subsetter(options)
    sub.populate(unicodes=sorted(codepoints))
    sub.subset(font)
    out.parent.mkdir(parents=True, exist_ok=True)
    subset.save_font(font, str(out), options)
    print(f"{out}: {out.stat().st_size / 1e6:.2f} MB, {len(font.getBestCmap())} characters")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

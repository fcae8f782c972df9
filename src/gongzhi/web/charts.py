"""Small server-rendered SVG charts; colours come from the stylesheet, so the wall theme restyles them."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 480, 200
LEFT, RIGHT, TOP, BOTTOM = 34, 8, 12, 26


def nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (at least 1), for a y axis."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return int(next(step * power for step in (1, 2, 5, 10) if step * power >= value))


def trend(
    labels: Sequence[str], bars: Sequence[int], line: Sequence[int], title: str, names: tuple[str, str]
) -> Markup:
    """Bars (cases created) and a line (cases closed) per day, with a y axis and a legend."""
    n = len(labels)
    top = nice_max(max([*bars, *line, 0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(n, 1)

    def y(v: float) -> float:
        return TOP + plot_h - plot_h * v / top

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in (0, top / 2, top):
        at = y(tick)
        parts.append(
            f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{at:.1f}" y2="{at:.1f}"/>'
            f'<text class="chart-label" x="{LEFT - 6}" y="{at + 4:.1f}" text-anchor="end">{tick:g}</text>'
        )
    every = max(1, math.ceil(n / 8))
    for i, (lab, v) in enumerate(zip(labels, bars, strict=True)):
        x = LEFT + i * slot
        parts.append(
            f'<rect class="chart-bar" x="{x + slot * 0.15:.1f}" y="{y(v):.1f}" width="{slot * 0.7:.1f}" '
            f'height="{y(0) - y(v):.1f}"><title>{escape(lab)}: {v}</title></rect>'
        )
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text class="chart-label" x="{x + slot / 2:.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{escape(lab)}</text>'
            )
    points = " ".join(f"{LEFT + (i + 0.5) * slot:.1f},{y(v):.1f}" for i, v in enumerate(line))
    parts.append(f'<polyline class="chart-line" points="{points}"/>')
    parts.append("</svg>")
    legend = (
        f'<p class="legend"><span class="key key-bar"></span>{escape(names[0])}'
        f'<span class="key key-line"></span>{escape(names[1])}</p>'
    )
    return Markup("".join(parts) + legend)  # noqa: S704 - every interpolated text is escaped above

"""Charts as inline SVG: no JavaScript library, prints well, readable without colour (each
series also has its own pattern of label)."""
from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from .filters import fa_digits

COLOURS = ("#2563eb", "#16a34a", "#dc2626", "#d97706")


def grouped_bars(groups: Sequence[str], series: Sequence[tuple[str, Sequence[int]]],
                 title: str) -> Markup:
    """Bars for each group (e.g. a unit), one per series (e.g. received, approved, ...)."""
    bar, gap, height, top, left = 14, 18, 180, 24, 8
    # Room under each group for its name, and at least room for the two-column legend.
    width_group = max(bar * len(series) + gap, 110)
    width = max(left * 2 + max(1, len(groups)) * width_group, 300)
    peak = max([1] + [v for _, values in series for v in values])
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" '
             f'viewBox="0 0 {width} {height + top + 70}" width="{width}" '
             f'xmlns="http://www.w3.org/2000/svg" font-family="inherit" font-size="11">',
             f"<title>{escape(title)}</title>",
             f'<line x1="0" y1="{top + height}" x2="{width}" y2="{top + height}" '
             'stroke="#999"/>']
    # Right to left, as the page reads: the first group stands at the right edge.
    for g, name in enumerate(groups):
        x0 = width - left - (g + 1) * width_group
        first = x0 + (width_group - bar * len(series)) / 2
        for s, (label, values) in enumerate(series):
            value = values[g]
            h = round(height * value / peak)
            x = first + (len(series) - 1 - s) * bar
            parts.append(f'<rect x="{x}" y="{top + height - h}" width="{bar - 2}" height="{h}" '
                         f'fill="{COLOURS[s % len(COLOURS)]}"><title>{escape(name)} — '
                         f'{escape(label)}: {fa_digits(value)}</title></rect>')
            parts.append(f'<text x="{x + bar / 2 - 1}" y="{top + height - h - 3}" '
                         f'text-anchor="middle">{fa_digits(value)}</text>')
        parts.append(f'<text x="{x0 + width_group / 2}" y="{top + height + 16}" '
                     f'text-anchor="middle" direction="rtl">{escape(name)}</text>')
    for s, (label, _) in enumerate(series):
        y = top + height + 36 + (s // 2) * 16
        x = width - left - (s % 2) * 130
        parts.append(f'<rect x="{x - 10}" y="{y - 9}" width="10" height="10" '
                     f'fill="{COLOURS[s % len(COLOURS)]}"/>')
        parts.append(f'<text x="{x - 14}" y="{y}" direction="rtl">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))

"""Charts as inline SVG drawn on the server: for pages (no chart library to download) and for
PDFs (WeasyPrint renders SVG). Black-and-white printable: bars are solid, the ones below
target are hatched, and every value is also written as text.

Each chart is one picture to a screen reader (``role="img"``), named by a summary of what
it shows: its name, then every label with its value, the same text the chart prints.

Text carries an explicit CJK font family and the document's ``lang`` must be zh-CN: without
both, Han characters in SVG fall back to Japanese glyph shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

FONT = "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"


@dataclass
class Bar:
    label: str
    value: float  # a share from 0 to 1
    text: str  # what to print beside the bar, e.g. "45/48 93.8%"
    below_target: bool = False


def _text(x: float, y: float, content: str, anchor: str = "start", size: float = 11) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-family="{FONT}" font-size="{size}" '
        f'text-anchor="{anchor}" fill="#000">{escape(content)}</text>'
    )


def _open_svg(width: float, height: float, summary: str) -> str:
    """The ``<svg>`` tag and its ``<title>``: a text alternative for readers who cannot see
    the picture (and a tooltip for those who can)."""
    named = f' aria-label="{escape(summary)}"><title>{escape(summary)}</title>' if summary else ">"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}"{named}'
    )


def _summary(name: str, items: list[str]) -> str:
    listed = "; ".join(items)
    return f"{name}: {listed}" if name and listed else name or listed


def bar_chart(bars: list[Bar], width: float = 640, title: str = "", label: str = "") -> str:
    """Horizontal bars of shares (0–100%), one per row, labels on the left.

    ``label`` names the chart for screen readers when it has no ``title`` to show."""
    row = 20
    label_w = 90
    text_w = 110
    top = 22 if title else 6
    plot_w = width - label_w - text_w
    height = top + row * len(bars) + 22
    summary = _summary(title or label, [f"{bar.label} {bar.text}" for bar in bars])
    parts = [
        _open_svg(width, height, summary),
        '<defs><pattern id="hatch" width="5" height="5" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="5" height="5" fill="#fff"/>'
        '<line x1="0" y1="0" x2="0" y2="5" stroke="#000" stroke-width="2"/></pattern></defs>',
    ]
    if title:
        parts.append(_text(0, 14, title, size=12))
    for i, bar in enumerate(bars):
        y = top + i * row
        w = max(0.0, min(1.0, bar.value)) * plot_w
        fill = "url(#hatch)" if bar.below_target else "#444"
        parts.append(_text(label_w - 6, y + 14, bar.label, anchor="end"))
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{plot_w:.1f}" height="{row - 6}" '
            'fill="none" stroke="#bbb" stroke-width="0.5"/>'
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{fill}" stroke="#000" stroke-width="0.5"/>'
        )
        parts.append(_text(label_w + plot_w + 6, y + 14, bar.text))
    axis_y = top + row * len(bars) + 4
    for pct in (0, 50, 100):
        x = label_w + plot_w * pct / 100
        parts.append(_text(x, axis_y + 12, f"{pct}%", anchor="middle", size=9))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    points: list[tuple[str, float]], width: float = 640, height: float = 180, label: str = ""
) -> str:
    """A line of shares (0–100%) over labelled points, e.g. completion of the last 12 months.

    ``label`` names the chart for screen readers."""
    left, right, top, bottom = 36, 12, 10, 28
    plot_w = width - left - right
    plot_h = height - top - bottom
    summary = _summary(label, [f"{name} {value * 100:.0f}%" for name, value in points])
    parts = [_open_svg(width, height, summary)]
    for pct in (0, 50, 100):
        y = top + plot_h * (1 - pct / 100)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            'stroke="#ccc" stroke-width="0.5"/>'
        )
        parts.append(_text(left - 4, y + 4, f"{pct}%", anchor="end", size=9))
    step = plot_w / max(1, len(points) - 1)
    coords = [
        (left + i * step, top + plot_h * (1 - max(0.0, min(1.0, value))))
        for i, (_label, value) in enumerate(points)
    ]
    if coords:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#000" stroke-width="1.5"/>')
    for (label, value), (x, y) in zip(points, coords, strict=True):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#000"/>')
        parts.append(_text(x, height - 14, label, anchor="middle", size=9))
        parts.append(_text(x, y - 5, f"{value * 100:.0f}", anchor="middle", size=8))
    parts.append("</svg>")
    return "".join(parts)

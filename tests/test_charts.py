"""SVG charts: well-formed, labelled, with a CJK font on their text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fieldvisit.documents.charts import Bar, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_bar_chart_is_valid_svg_with_every_label_and_value():
    svg = bar_chart(
        [Bar("聂河村", 0.5, "24/48 50.0%", below_target=True), Bar("王寨<村>", 1.0, "40/40 100%")],
        title="各村走访完成率",
    )
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"聂河村", "王寨<村>", "24/48 50.0%", "40/40 100%", "各村走访完成率"} <= set(texts)
    assert all("WenQuanYi" in t.get("font-family", "") for t in root.iter(f"{SVG}text"))
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect") if r.get("stroke") == "#000"]
    assert widths[0] * 2 == widths[1]  # 50% is half of 100%
    assert "url(#hatch)" in svg  # below target is marked without colour


def test_line_chart_has_a_point_per_month():
    points = [(f"{m}月", m / 12) for m in range(1, 13)]
    root = ET.fromstring(line_chart(points))
    assert len(list(root.iter(f"{SVG}circle"))) == 12
    assert "12月" in [t.text for t in root.iter(f"{SVG}text")]
    ET.fromstring(line_chart([]))  # nothing to draw is still a valid picture

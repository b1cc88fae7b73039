"""Charts are inline SVG: escaped labels, no script, nothing fetched from elsewhere."""

from __future__ import annotations

import re

from bot.console import charts

HOSTILE = '<script>alert(1)</script>"onload="x'


def test_charts_are_self_contained_svg_with_escaped_labels() -> None:
    drawn = [
        charts.bar(["11-24", HOSTILE], [3, 5], series=HOSTILE, empty="无"),
        charts.bar(["立案", "联系商户"], [10, 4], series="案件", empty="无", horizontal=True),
        charts.line(["11-24", "11-25"], {HOSTILE: [10.0, None]}, empty="无"),
        charts.pie({HOSTILE: 3, "已解决": 1}, empty="无"),
    ]
    for svg in drawn:
        assert svg.startswith("<svg") and "<script" not in svg and "<?xml" not in svg
        assert not re.search(r"<[^>]*\son\w+=", svg)  # no event-handler attribute on any element
        urls = set(re.findall(r'(?:href|src)="([^"]+)"', svg))
        assert not any(url.startswith(("http", "//")) for url in urls), urls
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in drawn[0]


def test_a_chart_without_data_says_so() -> None:
    assert "还没有案件" in charts.bar(["11-25"], [0], series="案件", empty="还没有案件")
    assert "还没有案件" in charts.pie({"已解决": 0}, empty="还没有案件")

"""Server-rendered SVG charts (pygal), inlined in the page: no script, no CDN.

Templates call these with their own wording (series names, the text shown
when there is no data), so every user-facing string stays in a template.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pygal
from markupsafe import Markup
from pygal.style import Style

_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)
_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1f2937",
    foreground_strong="#111827",
    foreground_subtle="#d1d5db",
    font_family='"Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif',
    label_font_size=12,
    major_label_font_size=12,
    value_font_size=11,
    legend_font_size=12,
    no_data_font_size=16,
    colors=("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2"),
)


def _config(empty: str, **options: object) -> dict[str, object]:
    return {
        "style": _STYLE,
        "js": [],  # pygal's default tooltip script comes from a CDN
        "disable_xml_declaration": True,
        "no_data_text": empty,
        "width": 720,
        "height": 300,
        "margin": 12,
        **options,
    }


def _render(chart: pygal.graph.graph.Graph) -> Markup:
    # pygal builds the SVG with ElementTree, which escapes every label and value.
    # It always embeds a <script> with its tooltip settings; without the tooltip
    # library that does nothing, and the console runs no script at all.
    return Markup(_SCRIPT.sub("", chart.render(is_unicode=True)))


def bar(
    labels: Sequence[str], values: Sequence[int], *, series: str, empty: str, horizontal: bool = False
) -> Markup:
    chart_class = pygal.HorizontalBar if horizontal else pygal.Bar
    chart = chart_class(
        **_config(
            empty,
            show_legend=False,
            print_values=True,
            x_label_rotation=0 if horizontal else 45,
            show_minor_x_labels=True,
            height=max(300, 28 * len(labels) + 60) if horizontal else 300,
        )
    )
    chart.x_labels = list(labels)
    if any(values):
        chart.add(series, list(values))
    return _render(chart)


def line(labels: Sequence[str], series: dict[str, Sequence[float | None]], *, empty: str) -> Markup:
    chart = pygal.Line(
        **_config(
            empty,
            x_label_rotation=45,
            show_minor_x_labels=False,
            x_labels_major_every=max(1, len(labels) // 10),
            legend_at_bottom=True,
            dots_size=2,
        )
    )
    chart.x_labels = list(labels)
    for name, values in series.items():
        if any(value for value in values):
            chart.add(name, list(values))
    return _render(chart)


def pie(parts: dict[str, int], *, empty: str) -> Markup:
    chart = pygal.Pie(
        **_config(empty, inner_radius=0.45, legend_at_bottom=True, print_values=True, height=320)
    )
    for name, value in parts.items():
        if value:
            chart.add(name, value)
    return _render(chart)

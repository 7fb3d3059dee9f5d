"""Pictures drawn on the server as SVG: no script, no library, readable without colour.

Each chart has a ``<title>`` and a text table beside it in the page, so a screen reader
gets the same numbers. A chart with nothing to draw is a sentence saying so, not axes
scaled to nothing (``R$ 0,01 / R$ 0,00``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from connector.credit.dashboard import AgingBucket, UsePoint

_AGING_COLOURS = ("#2f855a", "#d69e2e", "#dd6b20", "#c53030", "#822727")


def empty_chart(message: str) -> Markup:
    """The place of a chart with nothing to draw."""
    return Markup('<p class="chart-empty">{}</p>').format(message)


def aging_chart(
    buckets: Sequence[AgingBucket],
    labels: Sequence[str],
    money: Callable[[int], str],
    title: str,
    empty: str,
) -> Markup:
    """Horizontal bars: the open value in each age bucket; ``empty`` when none holds any."""
    if not any(b.total_cents > 0 for b in buckets):
        return empty_chart(empty)
    width, row, label_w, value_w = 560, 34, 120, 150
    bar_w = width - label_w - value_w
    height = row * len(buckets) + 8
    top = max((b.total_cents for b in buckets), default=0) or 1
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (bucket, label) in enumerate(zip(buckets, labels, strict=True)):
        y = 4 + index * row
        length = 0 if bucket.total_cents <= 0 else max(2, round(bar_w * bucket.total_cents / top))
        parts.append(
            f'<text x="0" y="{y + 21}" class="chart-label">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 6}" width="{bar_w}" height="20" rx="3" '
            f'class="chart-track"/>'
            f'<rect x="{label_w}" y="{y + 6}" width="{length}" height="20" rx="3" '
            f'fill="{_AGING_COLOURS[index % len(_AGING_COLOURS)]}"/>'
            f'<text x="{width}" y="{y + 21}" text-anchor="end" class="chart-value">'
            f"{escape(money(bucket.total_cents))} ({bucket.count})</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)


def use_chart(
    points: Sequence[UsePoint],
    money: Callable[[int], str],
    day: Callable[[UsePoint], str],
    title: str,
    used_label: str,
    limit_label: str,
    empty: str,
) -> Markup:
    """Credit in use over time (area), with the credit limit as a step line when known;
    ``empty`` when nothing was ever in use nor any limit granted in the period."""
    if not any(p.used_cents or p.limit_cents for p in points):
        return empty_chart(empty)
    width, height, left, right, top, bottom = 560, 220, 96, 12, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    limits = [p.limit_cents for p in points if p.limit_cents is not None]
    high = max([p.used_cents for p in points] + limits + [1])
    n = max(len(points) - 1, 1)

    def x(i: int) -> float:
        return left + plot_w * i / n

    def y(cents: int) -> float:
        return top + plot_h - plot_h * cents / high

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.5, 1):
        gy = top + plot_h - plot_h * fraction
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{gy:.1f}" y2="{gy:.1f}" '
            f'class="chart-grid"/><text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" '
            f'class="chart-axis">{escape(money(round(high * fraction)))}</text>'
        )
    if points:
        line = " ".join(f"{x(i):.1f},{y(p.used_cents):.1f}" for i, p in enumerate(points))
        area = f"{x(0):.1f},{y(0):.1f} {line} {x(len(points) - 1):.1f},{y(0):.1f}"
        parts.append(f'<polygon points="{area}" class="chart-area"/>')
        parts.append(f'<polyline points="{line}" class="chart-line"/>')
        if limits:
            steps: list[str] = []
            for i, p in enumerate(points):
                if p.limit_cents is None:
                    continue
                if steps:
                    steps.append(f"{x(i):.1f},{float(steps[-1].split(',')[1]):.1f}")
                steps.append(f"{x(i):.1f},{y(p.limit_cents):.1f}")
            parts.append(f'<polyline points="{" ".join(steps)}" class="chart-limit"/>')
        for i in (0, len(points) // 2, len(points) - 1):
            anchor = "start" if i == 0 else "end" if i == len(points) - 1 else "middle"
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="{anchor}" '
                f'class="chart-axis">{escape(day(points[i]))}</text>'
            )
    legend_x = left + 8
    parts.append(
        f'<rect x="{legend_x}" y="{top}" width="10" height="10" class="chart-area-key"/>'
        f'<text x="{legend_x + 14}" y="{top + 9}" class="chart-axis">{escape(used_label)}</text>'
    )
    if limits:
        parts.append(
            f'<line x1="{legend_x + 120}" x2="{legend_x + 134}" y1="{top + 5}" y2="{top + 5}" '
            f'class="chart-limit"/><text x="{legend_x + 138}" y="{top + 9}" '
            f'class="chart-axis">{escape(limit_label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)

"""A small SVG chart of the weekly trend: deployments per ISO week (bars, change failures in
a second colour) above the median lead time per week (a line; weeks without changes leave a
gap). Plain SVG 1.1 with no scripts or external references, so it renders in a README, a wiki
and a browser alike; byte-identical for the same metrics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

from deploysmith.dora.metrics import Metrics, Week

WIDTH = 720
PANEL = 130  # height of each panel's plot area
LEFT, RIGHT, TOP, GAP, BOTTOM = 56, 16, 34, 46, 40
BAR, FAIL, LINE, GRID, INK = "#4c78a8", "#e45756", "#f58518", "#dddddd", "#333333"


def render_svg(metrics: Metrics) -> str:
    weeks = list(metrics.trend)
    height = TOP + PANEL + GAP + PANEL + BOTTOM
    plot = WIDTH - LEFT - RIGHT
    step = plot / max(len(weeks), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11" fill="{INK}">',
        "<title>Deployments and median lead time per ISO week</title>",
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold">Deployments per week</text>',
        f'<text x="{WIDTH - RIGHT}" y="18" text-anchor="end">'
        f'<tspan fill="{BAR}">■</tspan> successful  <tspan fill="{FAIL}">■</tspan> change failure</text>',
    ]
    deploy_step = max(1.0, _nice(max((w.deployments for w in weeks), default=0) / 4))
    deploy_top = deploy_step * 4
    parts += _axis(TOP, deploy_step, plot)
    for index, week in enumerate(weeks):
        x = LEFT + index * step + step * 0.15
        width = step * 0.7
        base: float = TOP + PANEL
        for count, colour in ((week.deployments - week.failed, BAR), (week.failed, FAIL)):
            if count:
                bar = PANEL * count / deploy_top
                base -= bar
                parts.append(
                    f'<rect x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" height="{bar:.1f}" '
                    f'fill="{colour}"><title>{escape(week.week)}: {count}</title></rect>'
                )
    lead_y = TOP + PANEL + GAP
    parts.append(
        f'<text x="{LEFT}" y="{lead_y - 12}" font-size="13" font-weight="bold">'
        "Median lead time for changes (hours)</text>"
    )
    leads = [w.lead_time_median_hours for w in weeks]
    lead_step = _nice(max((v for v in leads if v is not None), default=0.0) / 4)
    lead_top = lead_step * 4
    parts += _axis(lead_y, lead_step, plot)
    parts += _line(leads, lead_y, lead_top, step)
    parts += _labels(weeks, lead_y + PANEL, step)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _nice(value: float) -> float:
    """A round tick step at or above `value` (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if value <= factor * power:
            return float(factor * power)
    return float(10 * power)


def _axis(top: float, step: float, plot: float) -> list[str]:
    """Five grid lines, 0 to 4 steps; labels with as many decimals as the step needs."""
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    parts = []
    for tick in range(5):
        y = top + PANEL - PANEL * tick / 4
        label = f"{step * tick:.{decimals}f}"
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    return parts


def _line(values: Sequence[float | None], top: float, maximum: float, step: float) -> list[str]:
    """Polylines through consecutive weeks with a value (a week without changes breaks the
    line), then a dot per value on top."""
    lines: list[str] = []
    dots: list[str] = []
    segment: list[str] = []
    for index, value in enumerate([*values, None]):
        if value is None:
            if len(segment) > 1:
                points = " ".join(segment)
                lines.append(f'<polyline points="{points}" fill="none" stroke="{LINE}" stroke-width="2"/>')
            segment = []
            continue
        x = LEFT + index * step + step / 2
        y = top + PANEL - PANEL * value / maximum
        segment.append(f"{x:.1f},{y:.1f}")
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{LINE}"><title>{value:.2f} h</title></circle>'
        )
    return lines + dots


def _labels(weeks: Sequence[Week], baseline: float, step: float) -> list[str]:
    every = max(1, math.ceil(len(weeks) / 12))
    parts = []
    for index, week in enumerate(weeks):
        if index % every:
            continue
        x = LEFT + index * step + step / 2
        parts.append(
            f'<text x="{x:.1f}" y="{baseline + 16:.1f}" text-anchor="middle">{escape(week.week[5:])}</text>'
        )
    if weeks:
        parts.append(
            f'<text x="{LEFT}" y="{baseline + 32:.1f}">ISO weeks {escape(weeks[0].week)} to '
            f"{escape(weeks[-1].week)}</text>"
        )
    return parts

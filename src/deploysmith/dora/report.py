"""The DORA report as text, JSON or Markdown. Returns strings; the command layer writes them.

JSON (numbers rounded: per week and hours to 2 decimals, ratios to 3; null where there is no
data, the reason in `notes`):

    {"period": {"start": "2024-01-01T00:00:00Z", "end": "2024-04-01T00:00:00Z"},
     "thresholds": {"report": "2023", "source": "..."}, "source": "git tags matching 'v*'",
     "deployments": 5,
     "deployment_frequency": {"per_week": 0.31, "level": "medium", "successful": 4},
     "lead_time": {"median_hours": 26.5, "level": "high", "changes": 12},
     "change_failure_rate": {"ratio": 0.2, "level": "low", "failed": 1},
     "time_to_restore": {"median_hours": 3.0, "level": "high", "incidents": 2},
     "failed_deployment_recovery_time": {"median_hours": 2.0, "level": "high", "recoveries": 1},
     "failures": [{"deployment": "v1.2", "sha": "...", "finished": "...", "reasons": [...],
                   "recovered": "..." | null}],
     "trend": [{"week": "2024-W01", "start": "2024-01-01", "deployments": 1, "successful": 1,
                "failed": 0, "lead_time_median_hours": 12.0 | null}],
     "notes": ["..."]}

The period's end is exclusive.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from deploysmith.dora.levels import METRIC_NAMES, SOURCES, THRESHOLDS, Level
from deploysmith.dora.metrics import Measure, Metrics
from deploysmith.errors import DeploysmithError

FORMATS = ("text", "json", "markdown")


def render(fmt: str, metrics: Metrics, *, chart: str | None = None) -> str:
    if fmt == "json":
        return render_json(metrics)
    if fmt == "markdown":
        return render_markdown(metrics, chart=chart)
    if fmt == "text":
        return render_text(metrics)
    raise DeploysmithError(f"--format {fmt}: use one of {', '.join(FORMATS)}")


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def to_json(metrics: Metrics) -> dict[str, Any]:
    def measure(key: str, value: Measure, digits: int, count_key: str) -> dict[str, Any]:
        return {key: _round(value.value, digits), "level": value.level, count_key: value.count}

    return {
        "period": {"start": utc(metrics.period.start), "end": utc(metrics.period.end)},
        "thresholds": {"report": metrics.thresholds, "source": SOURCES[metrics.thresholds]},
        "source": metrics.source,
        "deployments": metrics.deployments,
        "deployment_frequency": measure("per_week", metrics.deployment_frequency, 2, "successful"),
        "lead_time": measure("median_hours", metrics.lead_time, 2, "changes"),
        "change_failure_rate": measure("ratio", metrics.change_failure_rate, 3, "failed"),
        "time_to_restore": measure("median_hours", metrics.time_to_restore, 2, "incidents"),
        "failed_deployment_recovery_time": measure("median_hours", metrics.recovery_time, 2, "recoveries"),
        "failures": [
            {
                "deployment": failure.deployment.id,
                "sha": failure.deployment.sha,
                "finished": utc(failure.deployment.finished),
                "reasons": list(failure.reasons),
                "recovered": None if failure.recovered is None else utc(failure.recovered),
            }
            for failure in metrics.failures
        ],
        "trend": [
            {
                "week": week.week,
                "start": week.start.isoformat(),
                "deployments": week.deployments,
                "successful": week.successful,
                "failed": week.failed,
                "lead_time_median_hours": _round(week.lead_time_median_hours, 2),
            }
            for week in metrics.trend
        ],
        "notes": list(metrics.notes),
    }


def render_json(metrics: Metrics) -> str:
    return json.dumps(to_json(metrics), indent=2, ensure_ascii=False) + "\n"


# -- shared wording ------------------------------------------------------------------------


def _hours(value: float | None) -> str:
    if value is None:
        return "no data"
    if value >= 48:
        return f"{value:.2f} h ({value / 24:.1f} days)"
    return f"{value:.2f} h"


def _rows(metrics: Metrics) -> list[tuple[str, str, Level | None, str]]:
    """(metric, value, level, basis) for the five measures."""
    frequency, lead, rate = metrics.deployment_frequency, metrics.lead_time, metrics.change_failure_rate
    restore, recovery = metrics.time_to_restore, metrics.recovery_time
    return [
        (
            "deployment frequency",
            "no data" if frequency.value is None else f"{frequency.value:.2f} per week",
            frequency.level,
            f"{frequency.count} successful deployment(s)",
        ),
        (
            "lead time for changes",
            _hours(lead.value) + (" median" if lead.value is not None else ""),
            lead.level,
            f"{lead.count} change(s)",
        ),
        (
            "change failure rate",
            "no data"
            if rate.value is None
            else f"{rate.value * 100:.1f}% ({rate.count} of {metrics.deployments})",
            rate.level,
            f"{metrics.deployments} deployment(s)",
        ),
        (
            "time to restore",
            _hours(restore.value) + (" median" if restore.value is not None else ""),
            restore.level,
            f"{restore.count} restored incident(s)",
        ),
        (
            "failed deployment recovery time",
            _hours(recovery.value) + (" median" if recovery.value is not None else ""),
            recovery.level,
            f"{recovery.count} recovery(ies)",
        ),
    ]


def _headline(metrics: Metrics) -> str:
    period = metrics.period
    return (
        f"{utc(period.start)} to {utc(period.end)} (UTC, end exclusive); deployments from "
        f"{metrics.source or 'the given records'}; levels from the DORA {metrics.thresholds} report"
    )


# -- text ----------------------------------------------------------------------------------


def render_text(metrics: Metrics) -> str:
    failed = metrics.change_failure_rate.count
    lines = [
        "DORA metrics",
        f"  {_headline(metrics)}",
        "",
        f"  {'deployments':<32} {metrics.deployments} "
        f"({metrics.successful} successful, {failed} change failure(s))",
    ]
    for name, value, level, basis in _rows(metrics):
        lines.append(f"  {name:<32} {value:<34} {level or '-':<7} {basis}")
    if metrics.trend:
        lines += ["", f"  {'ISO week':<10} {'deploys':>7} {'failed':>7}  median lead time"]
        for week in metrics.trend:
            lead = "-" if week.lead_time_median_hours is None else f"{week.lead_time_median_hours:.2f} h"
            lines.append(f"  {week.week:<10} {week.deployments:>7} {week.failed:>7}  {lead}")
    if metrics.failures:
        lines += ["", "  change failures"]
        for failure in metrics.failures:
            recovered = (
                "not recovered" if failure.recovered is None else f"recovered {utc(failure.recovered)}"
            )
            lines.append(
                f"    {failure.deployment.id} ({utc(failure.deployment.finished)}): "
                f"{'; '.join(failure.reasons)}; {recovered}"
            )
    if metrics.notes:
        lines += ["", "  notes"]
        lines += [f"    - {note}" for note in metrics.notes]
    lines += ["", f"  thresholds: {SOURCES[metrics.thresholds]}"]
    return "\n".join(lines) + "\n"


# -- markdown ------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(metrics: Metrics, *, chart: str | None = None) -> str:
    failed = metrics.change_failure_rate.count
    lines = [
        "# Delivery performance (DORA)",
        "",
        _headline(metrics) + ".",
        "",
        f"{metrics.deployments} deployment(s): {metrics.successful} successful, {failed} change failure(s).",
        "",
        "| Metric | Value | Level | Based on |",
        "| --- | --- | --- | --- |",
    ]
    for name, value, level, basis in _rows(metrics):
        lines.append(f"| {name[0].upper() + name[1:]} | {value} | {level or '-'} | {basis} |")
    if chart:
        lines += ["", f"![Deployments and median lead time per ISO week]({chart})"]
    if metrics.trend:
        lines += [
            "",
            "## Per ISO week",
            "",
            "| Week | Starts | Deployments | Change failures | Median lead time |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for week in metrics.trend:
            lead = "-" if week.lead_time_median_hours is None else f"{week.lead_time_median_hours:.2f} h"
            lines.append(
                f"| {week.week} | {week.start.isoformat()} | {week.deployments} | {week.failed} | {lead} |"
            )
    if metrics.failures:
        lines += [
            "",
            "## Change failures",
            "",
            "| Deployment | Finished (UTC) | Why | Recovered (UTC) |",
            "| --- | --- | --- | --- |",
        ]
        for failure in metrics.failures:
            recovered = "not yet" if failure.recovered is None else utc(failure.recovered)
            lines.append(
                f"| {_cell(failure.deployment.id)} | {utc(failure.deployment.finished)} | "
                f"{_cell('; '.join(failure.reasons))} | {recovered} |"
            )
    if metrics.notes:
        lines += ["", "## Notes", ""] + [f"- {_cell(note)}" for note in metrics.notes]
    lines += [
        "",
        "## Thresholds",
        "",
        f"Source: {SOURCES[metrics.thresholds]}.",
        "",
        "| Metric | Elite | High | Medium | Low |",
        "| --- | --- | --- | --- | --- |",
    ]
    for metric, bands in THRESHOLDS[metrics.thresholds].items():
        wording = {band.level: band.wording for band in bands}
        cells = [
            _cell(wording.get(level, "(same band as high)")) for level in ("elite", "high", "medium", "low")
        ]
        lines.append(f"| {METRIC_NAMES[metric]} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"

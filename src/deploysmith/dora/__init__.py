"""`deploysmith dora [PATH]`: delivery performance (the four DORA keys) from git history and
deployment records.

    events.py   deployments (git tags, a JSON-lines log, a GitHub export) and incidents
    git.py      the user's git, run read-only with safety flags; `git log` read as a stream
    changes.py  which deployment first shipped each commit (git log prev..deploy, in one walk)
    metrics.py  the four keys for a period, failures and recoveries, the ISO-week trend
    levels.py   DORA performance levels: 2023 thresholds (default) and 2021, with sources
    report.py   text, JSON and Markdown;  chart.py  the weekly trend as a small SVG

`dora_command(args)` is the command layer: it reads the inputs, measures, writes the chart
(the only file it writes) and prints the report.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from deploysmith import output
from deploysmith.dora import events, git
from deploysmith.dora.chart import render_svg
from deploysmith.dora.levels import REPORTS, Report
from deploysmith.dora.metrics import Metrics, Period, measure
from deploysmith.dora.report import FORMATS, render
from deploysmith.errors import EXIT_OK, DeploysmithError

DEFAULT_DAYS = 90
DEFAULT_ENVIRONMENTS = ("production", "prod")
DEFAULT_TAG_PATTERN = "v*"
DEFAULT_INCIDENT_LABEL = "incident"

__all__ = ["DEFAULT_ENVIRONMENTS", "dora_command", "measure_repository", "parse_period"]


def dora_command(args: argparse.Namespace) -> int:
    fmt = _option(args, "format", "text")
    if fmt not in FORMATS:
        raise DeploysmithError(f"--format {fmt}: use one of {', '.join(FORMATS)}")
    metrics = measure_repository(
        _option(args, "path", "."),
        since=_option(args, "since", None),
        until=_option(args, "until", None),
        tag_pattern=_option(args, "tag_pattern", DEFAULT_TAG_PATTERN),
        deployments=_option(args, "deployments", None),
        environments=_environments(_option(args, "environment", None)),
        incidents=_option(args, "incidents", None),
        incident_label=_option(args, "incident_label", DEFAULT_INCIDENT_LABEL),
        thresholds=_option(args, "thresholds", "2023"),
    )
    chart_path = _option(args, "chart", None)
    chart_link = None
    if chart_path:
        target = Path(chart_path)
        try:
            target.write_text(render_svg(metrics), encoding="utf-8")
        except OSError as error:
            raise DeploysmithError(f"--chart {chart_path}: cannot write it ({error.strerror})") from None
        chart_link = target.name  # the Markdown links it by name: keep the chart next to the report
        output.info(f"deploysmith: wrote {chart_path}")
    output.out(render(fmt, metrics, chart=chart_link))
    return EXIT_OK


def measure_repository(
    path: str,
    *,
    since: str | None = None,
    until: str | None = None,
    tag_pattern: str = DEFAULT_TAG_PATTERN,
    deployments: str | None = None,
    environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS,
    incidents: str | None = None,
    incident_label: str = DEFAULT_INCIDENT_LABEL,
    thresholds: str = "2023",
    now: datetime | None = None,
) -> Metrics:
    """The library entry point: read the records, measure the period, return Metrics."""
    if thresholds not in REPORTS:
        raise DeploysmithError(f"--thresholds {thresholds}: use one of {', '.join(REPORTS)}")
    report: Report = "2023" if thresholds == "2023" else "2021"
    period = parse_period(since, until, now or datetime.now(UTC))
    repo, shallow = git.open_repository(path)
    notes: list[str] = []
    if shallow:
        notes.append(
            "shallow clone: commits beyond its depth are missing; fetch the full history "
            "(git fetch --unshallow) for complete lead times"
        )
    if deployments:
        found = events.deployments_from_file(repo, deployments, environments)
    else:
        found = events.deployments_from_tags(repo, tag_pattern)
        if environments != DEFAULT_ENVIRONMENTS:
            notes.append("git tags carry no environment: --environment applies to --deployments only")
    notes += found.notes
    incident_list = None
    if incidents:
        incident_list, incident_notes = events.incidents_from_file(incidents, incident_label)
        notes += incident_notes
    return measure(
        repo,
        found.deployments,
        incident_list,
        period,
        thresholds=report,
        source=found.description,
        notes=notes,
    )


def parse_period(since: str | None, until: str | None, now: datetime) -> Period:
    """[since, until) in UTC. A date means its whole day (until 2024-03-31 ends at
    2024-04-01T00:00Z); a date-time without an offset is UTC. Default: the 90 days up to now."""
    end = _moment(until, "--until", end_of_day=True) if until else now.astimezone(UTC)
    start = _moment(since, "--since", end_of_day=False) if since else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise DeploysmithError(
            f"the period is empty: --since {since or utc_text(start)} is not before "
            f"--until {until or utc_text(end)}"
        )
    return Period(start, end)


def utc_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(text: str, flag: str, *, end_of_day: bool) -> datetime:
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(), UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DeploysmithError(
            f"{flag} {text}: not an ISO date (2024-03-31) or date-time (2024-03-31T12:00:00Z)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _environments(value: Any) -> tuple[str, ...]:
    if not value:
        return DEFAULT_ENVIRONMENTS
    if isinstance(value, str):
        value = [value]
    names = tuple(name.strip() for item in value for name in str(item).split(",") if name.strip())
    return names or DEFAULT_ENVIRONMENTS


def _option(args: argparse.Namespace, name: str, default: Any) -> Any:
    value = getattr(args, name, None)
    return default if value is None else value

"""DORA performance levels: the thresholds of the 2023 report (default) and the 2021 report.

Sources (the software delivery performance tables, "How do you compare?"):

- 2023: Google Cloud / DORA, *Accelerate State of DevOps Report 2023*. Clusters:
  elite — on demand (multiple deploys per day), change lead time less than one day,
  change failure rate 5%, failed deployment recovery time less than one hour;
  high — between once per day and once per week, between one day and one week, 10%,
  less than one day; medium — between once per week and once per month, between one week
  and one month, 15%, between one day and one week; low — between once per week and once
  per month, between one week and one month, 64%, between one month and six months.
- 2021: Google Cloud / DORA, *Accelerate State of DevOps 2021*:
  elite — on demand (multiple deploys per day), lead time less than one hour, time to
  restore less than one hour, change failure rate 0%–15%; high — between once per week and
  once per month, between one day and one week, less than one day, 16%–30%; medium —
  between once per month and once every 6 months, between one month and six months,
  between one day and one week, 16%–30%; low — fewer than once per six months, more than
  six months, more than six months, 16%–30%.

The reports describe clusters of survey answers, not a rule book, so turning them into a
classifier takes choices, stated here and in the report's notes:

- A value gets the best level whose band it reaches at the band's worse edge ("less than
  one day" is strict, "between one day and one week" includes the week). A value in a gap
  between two bands therefore gets the lower level; a value worse than every band is low.
- "On demand (multiple deploys per day)" is read as at least one deploy per day on
  average over the period (7 a week): a count cannot tell on-demand from scheduled.
- 2023 gives medium and low the same frequency and lead-time bands; a value in that band
  is medium, and only values beyond it are low.
- 2023 gives one change failure rate per cluster (5/10/15/64%), not a range: a rate at or
  below a cluster's rate gets its level.
- 2021 gives high, medium and low the same change failure rate (16–30%): a rate in it is
  reported as high (the best level it reaches), above 30% as low.
- Units: a day is 24 h, a week 7 days, a month 30 days, six months 180 days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Level = Literal["elite", "high", "medium", "low"]
Report = Literal["2023", "2021"]
Metric = Literal["deployment_frequency", "lead_time", "change_failure_rate", "recovery_time"]
REPORTS: tuple[Report, ...] = ("2023", "2021")

HOUR = 1.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY
SIX_MONTHS = 180 * DAY
PER_WEEK_DAILY = 7.0  # once a day, in deploys per week
PER_WEEK_WEEKLY = 1.0
PER_WEEK_MONTHLY = 7 / 30
PER_WEEK_SIX_MONTHLY = 7 / 180


@dataclass(frozen=True)
class Band:
    """One level's band. `limit` is the band's worse edge in the metric's unit (deploys per
    week; hours; a ratio); `strict` when the report says "less than"."""

    level: Level
    limit: float
    strict: bool
    wording: str  # as the report says it


SOURCES: dict[Report, str] = {
    "2023": "DORA, Accelerate State of DevOps Report 2023 (software delivery performance clusters)",
    "2021": "DORA, Accelerate State of DevOps 2021 (software delivery performance metrics table)",
}

HIGHER_IS_BETTER: frozenset[Metric] = frozenset({"deployment_frequency"})

# report → metric → bands, best first. The last band of each metric catches everything worse.
THRESHOLDS: dict[Report, dict[Metric, tuple[Band, ...]]] = {
    "2023": {
        "deployment_frequency": (
            Band("elite", PER_WEEK_DAILY, False, "on demand (multiple deploys per day)"),
            Band("high", PER_WEEK_WEEKLY, False, "between once per day and once per week"),
            Band("medium", PER_WEEK_MONTHLY, False, "between once per week and once per month"),
            Band(
                "low", 0.0, False, "between once per week and once per month (as medium; less often is low)"
            ),
        ),
        "lead_time": (
            Band("elite", DAY, True, "less than one day"),
            Band("high", WEEK, False, "between one day and one week"),
            Band("medium", MONTH, False, "between one week and one month"),
            Band("low", math.inf, False, "between one week and one month (as medium; longer is low)"),
        ),
        "change_failure_rate": (
            Band("elite", 0.05, False, "5%"),
            Band("high", 0.10, False, "10%"),
            Band("medium", 0.15, False, "15%"),
            Band("low", math.inf, False, "64%"),
        ),
        "recovery_time": (
            Band("elite", HOUR, True, "less than one hour"),
            Band("high", DAY, True, "less than one day"),
            Band("medium", WEEK, False, "between one day and one week"),
            Band("low", math.inf, False, "between one month and six months"),
        ),
    },
    "2021": {
        "deployment_frequency": (
            Band("elite", PER_WEEK_DAILY, False, "on demand (multiple deploys per day)"),
            Band("high", PER_WEEK_MONTHLY, False, "between once per week and once per month"),
            Band("medium", PER_WEEK_SIX_MONTHLY, False, "between once per month and once every 6 months"),
            Band("low", 0.0, False, "fewer than once per six months"),
        ),
        "lead_time": (
            Band("elite", HOUR, True, "less than one hour"),
            Band("high", WEEK, False, "between one day and one week"),
            Band("medium", SIX_MONTHS, False, "between one month and six months"),
            Band("low", math.inf, False, "more than six months"),
        ),
        "change_failure_rate": (
            Band("elite", 0.15, False, "0%-15%"),
            Band("high", 0.30, False, "16%-30% (shared by high, medium and low)"),
            Band("low", math.inf, False, "16%-30% (more than 30% is low)"),
        ),
        "recovery_time": (
            Band("elite", HOUR, True, "less than one hour"),
            Band("high", DAY, True, "less than one day"),
            Band("medium", WEEK, False, "between one day and one week"),
            Band("low", math.inf, False, "more than six months"),
        ),
    },
}

METRIC_NAMES: dict[Metric, str] = {
    "deployment_frequency": "deployment frequency",
    "lead_time": "lead time for changes",
    "change_failure_rate": "change failure rate",
    "recovery_time": "time to restore / failed deployment recovery time",
}


def classify(report: Report, metric: Metric, value: float | None) -> Level | None:
    """The level of `value` (deploys per week, hours or a ratio); None when there is no value."""
    if value is None:
        return None
    bands = THRESHOLDS[report][metric]
    for band in bands:
        if metric in HIGHER_IS_BETTER:
            if value >= band.limit:
                return band.level
        elif value < band.limit or (not band.strict and value == band.limit):
            return band.level
    return bands[-1].level

"""The level tables, at and around every edge (see levels.py for the reports' wording and the
choices made where the reports leave gaps or share bands)."""

from __future__ import annotations

import pytest

from deploysmith.dora.levels import THRESHOLDS, classify

CASES_2023 = [
    # deployment frequency, deploys per week: elite >= 7 (daily), high >= 1, medium >= 7/30
    ("deployment_frequency", 14.0, "elite"),
    ("deployment_frequency", 7.0, "elite"),
    ("deployment_frequency", 6.99, "high"),
    ("deployment_frequency", 1.0, "high"),
    ("deployment_frequency", 0.99, "medium"),
    ("deployment_frequency", 7 / 30, "medium"),
    ("deployment_frequency", 0.2, "low"),
    ("deployment_frequency", 0.0, "low"),
    # lead time, hours: elite < 24, high <= 168, medium <= 720
    ("lead_time", 0.0, "elite"),
    ("lead_time", 23.99, "elite"),
    ("lead_time", 24.0, "high"),
    ("lead_time", 168.0, "high"),
    ("lead_time", 168.01, "medium"),
    ("lead_time", 720.0, "medium"),
    ("lead_time", 720.01, "low"),
    # change failure rate: elite <= 5%, high <= 10%, medium <= 15%
    ("change_failure_rate", 0.0, "elite"),
    ("change_failure_rate", 0.05, "elite"),
    ("change_failure_rate", 0.06, "high"),
    ("change_failure_rate", 0.10, "high"),
    ("change_failure_rate", 0.15, "medium"),
    ("change_failure_rate", 0.16, "low"),
    ("change_failure_rate", 1.0, "low"),
    # recovery, hours: elite < 1, high < 24, medium <= 168
    ("recovery_time", 0.99, "elite"),
    ("recovery_time", 1.0, "high"),
    ("recovery_time", 23.99, "high"),
    ("recovery_time", 24.0, "medium"),
    ("recovery_time", 168.0, "medium"),
    ("recovery_time", 169.0, "low"),
]

CASES_2021 = [
    # deployment frequency: elite >= 7, high >= 7/30 (monthly), medium >= 7/180 (six-monthly)
    ("deployment_frequency", 7.0, "elite"),
    ("deployment_frequency", 3.0, "high"),  # in the report's gap between daily and weekly
    ("deployment_frequency", 7 / 30, "high"),
    ("deployment_frequency", 0.2, "medium"),
    ("deployment_frequency", 7 / 180, "medium"),
    ("deployment_frequency", 0.03, "low"),
    # lead time: elite < 1 h, high <= 1 week, medium <= 180 days
    ("lead_time", 0.5, "elite"),
    ("lead_time", 1.0, "high"),
    ("lead_time", 168.0, "high"),
    ("lead_time", 169.0, "medium"),  # in the gap between one week and one month
    ("lead_time", 4320.0, "medium"),
    ("lead_time", 4321.0, "low"),
    # change failure rate: elite <= 15%, 16-30% shared by high/medium/low -> high, > 30% low
    ("change_failure_rate", 0.15, "elite"),
    ("change_failure_rate", 0.2, "high"),
    ("change_failure_rate", 0.30, "high"),
    ("change_failure_rate", 0.31, "low"),
    # time to restore: elite < 1 h, high < 1 day, medium <= 1 week
    ("recovery_time", 0.5, "elite"),
    ("recovery_time", 12.0, "high"),
    ("recovery_time", 24.0, "medium"),
    ("recovery_time", 168.0, "medium"),
    ("recovery_time", 200.0, "low"),
]


@pytest.mark.parametrize(("metric", "value", "level"), CASES_2023)
def test_2023_levels(metric: str, value: float, level: str) -> None:
    assert classify("2023", metric, value) == level  # type: ignore[arg-type]


@pytest.mark.parametrize(("metric", "value", "level"), CASES_2021)
def test_2021_levels(metric: str, value: float, level: str) -> None:
    assert classify("2021", metric, value) == level  # type: ignore[arg-type]


def test_no_value_has_no_level() -> None:
    assert classify("2023", "lead_time", None) is None


def test_tables_are_ordered_best_first_and_end_with_low() -> None:
    for report, metrics in THRESHOLDS.items():
        for metric, bands in metrics.items():
            assert bands[0].level == "elite" and bands[-1].level == "low", (report, metric)
            limits = [band.limit for band in bands]
            ordered = sorted(limits, reverse=metric == "deployment_frequency")
            assert limits == ordered, (report, metric)

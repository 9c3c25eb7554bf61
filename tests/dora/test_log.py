"""Deployments from a JSON-lines log, incidents from an issues export: change failures by
status, revert, rollback and incident; recovery and restore times; the 2021 thresholds; the
Markdown report and its chart. Expected values are computed by hand next to them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deploysmith.dora import dora_command
from tests.dora.gitrepo import GitRepo, dora_json, namespace, write_json, write_jsonl

# The period: Monday Feb 5 to Sunday Feb 18 2024 -> [Feb 5, Feb 19) = 14 days = 2 weeks.
PERIOD = {"since": "2024-02-05", "until": "2024-02-18"}


@dataclass(frozen=True)
class History:
    repo: GitRepo
    log: Path
    incidents: Path
    sha: dict[str, str]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    base = tmp_path_factory.mktemp("log")
    repo = GitRepo(base / "app")
    sha = {
        "a0": repo.commit("2024-01-29T10:00:00Z", "init"),
        "a1": repo.commit("2024-02-05T08:00:00Z", "feature A"),
        "a2": repo.commit("2024-02-05T09:00:00Z", "feature B"),
        "a3": repo.commit("2024-02-06T09:00:00Z", "feature C"),
    }
    sha["a4"] = repo.revert(sha["a1"], "2024-02-07T10:00:00Z")  # "This reverts commit <a1>."
    sha["a5"] = repo.commit("2024-02-08T10:00:00Z", "feature D")
    sha["a6"] = repo.commit("2024-02-12T15:00:00Z", "feature skewed")  # after d7 finished
    sha["a7"] = repo.commit("2024-02-13T09:00:00Z", "feature E")
    sha["a8"] = repo.revert(sha["a7"], "2024-02-13T10:00:00Z")  # reverted before it shipped

    def deploy(
        ident: str,
        commit: str,
        finished: str,
        status: str = "success",
        environment: str = "production",
        started: str | None = None,
    ) -> dict[str, Any]:
        return {
            "id": ident,
            "sha": commit,
            "environment": environment,
            "status": status,
            "started": started,
            "finished": finished,
        }

    log = write_jsonl(
        base / "deploys.jsonl",
        [
            deploy("d0", sha["a0"], "2024-01-30T10:00:00Z"),  # before the period
            deploy("d1", sha["a2"][:10], "2024-02-05T12:00:00Z", started="2024-02-05T11:00:00Z"),
            deploy("d2", sha["a3"], "2024-02-06T10:00:00Z", status="failure"),
            deploy("d3", sha["a3"], "2024-02-06T14:00:00+01:00"),  # = 13:00Z
            deploy("d4", sha["a4"], "2024-02-07T12:00:00"),  # no offset: UTC
            deploy("d5", sha["a5"], "2024-02-08T12:00:00Z"),
            deploy("d6", sha["a4"], "2024-02-08T14:00:00Z"),  # back to a4: a rollback of d5
            deploy("d7", sha["a6"], "2024-02-12T12:00:00Z"),
            deploy("d8", sha["a8"], "2024-02-13T12:00:00Z"),
            deploy("d9", sha["a8"], "2024-02-13T13:00:00Z", environment="staging"),
            deploy("d10", sha["a8"], "2024-02-14T00:00:00Z", status="pending"),
            deploy("d11", sha["a8"], "2024-02-20T00:00:00Z"),  # after the period
        ],
    )
    incidents = write_json(
        base / "issues.json",
        [
            {
                "number": 1,
                "title": "API down",
                "body": "no root cause line",
                "labels": [{"name": "incident"}],
                "createdAt": "2024-02-14T09:00:00Z",
                "closedAt": "2024-02-14T11:00:00Z",
            },
            {
                "number": 2,
                "title": "Bad totals",
                "body": f"Details.\nRoot cause: {sha['a3'][:10]}\n",
                "labels": [{"name": "incident"}, {"name": "sev2"}],
                "createdAt": "2024-02-15T09:00:00Z",
                "closedAt": "2024-02-15T13:00:00Z",
            },
            {
                "number": 3,
                "title": "Slow pages",
                "body": "",
                "labels": ["incident"],
                "createdAt": "2024-02-16T09:00:00Z",
                "closedAt": None,
            },
            {
                "number": 4,
                "title": "A bug",
                "body": "",
                "labels": [{"name": "bug"}],
                "createdAt": "2024-02-16T09:00:00Z",
                "closedAt": "2024-02-16T10:00:00Z",
            },
        ],
    )
    return History(repo, log, incidents, sha)


def measure(capsys: pytest.CaptureFixture[str], history: History, **options: Any) -> dict[str, Any]:
    settings = {"deployments": str(history.log), "incidents": str(history.incidents), **PERIOD, **options}
    return dora_json(capsys, history.repo.root, **settings)


def test_the_four_keys_from_a_log_and_incidents(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    data = measure(capsys, history)
    assert data["source"] == "deployment log deploys.jsonl"
    # In the period, production, completed: d1 d2 d3 d4 d5 d6 d7 d8 (d0 before, d9 staging,
    # d10 pending, d11 after the end).
    assert data["deployments"] == 8
    # successful: d1 d3 d4 d5 d6 d7 d8 = 7 in 2 weeks -> 3.5 a week: 2023 high
    assert data["deployment_frequency"] == {"per_week": 3.5, "level": "high", "successful": 7}
    # Changes each successful deployment shipped first, and their lead times:
    #   d1 (Feb 5 12:00): a1 08:00 -> 4 h, a2 09:00 -> 3 h
    #   d3 (Feb 6 13:00Z): a3 09:00 -> 4 h            (d2, the failed attempt, ships nothing)
    #   d4 (Feb 7 12:00): a4 (revert of a1) 10:00 -> 2 h
    #   d5 (Feb 8 12:00): a5 10:00 -> 2 h
    #   d6: a4 again, shipped by d4 already -> nothing new (a rollback)
    #   d7 (Feb 12 12:00): a6 committed 15:00, 3 h after: clock skew -> 0 h
    #   d8 (Feb 13 12:00): a7 09:00 -> 3 h, a8 (revert of a7) 10:00 -> 2 h
    # sorted 0 2 2 2 3 3 4 4 -> median (2 + 3) / 2 = 2.5 h: less than a day -> elite
    assert data["lead_time"] == {"median_hours": 2.5, "level": "elite", "changes": 8}
    # Change failures among the 8:
    #   d2: failed status                  -> recovered by d3 (next success), Feb 6 10:00 -> 13:00 = 3 h
    #   d1: a1 reverted by a4, shipped by d4 -> recovered Feb 5 12:00 -> Feb 7 12:00 = 48 h
    #   d5: rolled back by d6 (a4, shipped before, replacing a5) -> Feb 8 12:00 -> 14:00 = 2 h
    #   d8: incident 1 (no root cause line; last deployment before Feb 14 09:00 is d8) and
    #       incident 3 (open) -> recovered when incident 1 closed: Feb 13 12:00 -> Feb 14 11:00 = 23 h
    #   d3: incident 2, "Root cause: <a3>" -> a3 was shipped by d3 -> Feb 6 13:00 -> Feb 15 13:00 = 216 h
    #   not failures: a8 reverts a7, but both shipped in d8: the bad change never reached production
    # 5 of 8 = 0.625 -> above 15%: 2023 low
    assert data["change_failure_rate"] == {"ratio": 0.625, "level": "low", "failed": 5}
    # recoveries sorted 2 3 23 48 216 -> median 23 h: less than one day -> high
    assert data["failed_deployment_recovery_time"] == {"median_hours": 23.0, "level": "high", "recoveries": 5}
    # incidents opened in the period: 1 (2 h), 2 (4 h), 3 (open) -> median 3 h: < 1 day -> high
    assert data["time_to_restore"] == {"median_hours": 3.0, "level": "high", "incidents": 2}
    a1 = history.sha["a1"][:12]
    assert [(f["deployment"], f["reasons"], f["recovered"]) for f in data["failures"]] == [
        ("d1", [f"change {a1} reverted by d4"], "2024-02-07T12:00:00Z"),
        ("d2", ["deployment failed"], "2024-02-06T13:00:00Z"),
        ("d3", ["incident 2"], "2024-02-15T13:00:00Z"),
        ("d5", ["rolled back by d6"], "2024-02-08T14:00:00Z"),
        ("d8", ["incident 1", "incident 3"], "2024-02-14T11:00:00Z"),
    ]
    assert data["failures"][0]["sha"] == history.sha["a2"]  # the log's short sha, resolved
    assert data["failures"][2]["finished"] == "2024-02-06T13:00:00Z"  # +01:00 in the log, UTC here
    assert data["notes"] == [
        "1 deployment(s) to other environments than production/prod ignored",
        "1 deployment(s) not completed (pending, cancelled, skipped, ...) ignored",
        "1 commit(s) are dated after the deployment that shipped them (clock skew): "
        "their lead time counts as 0",
        "1 deployment(s) shipped no new commits (redeploys or rollbacks): they count for frequency, "
        "not for lead time",
        "1 incident(s) still open at the end of the period",
    ]


def test_trend_counts_failures_per_week(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    data = measure(capsys, history)
    assert data["trend"] == [
        # W06 (Feb 5-11): d1 d2 d3 d4 d5 d6; successful 5; failures d1 d2 d3 d5;
        # leads d1 4 3, d3 4, d4 2, d5 2 -> sorted 2 2 3 4 4 -> 3 h
        {
            "week": "2024-W06",
            "start": "2024-02-05",
            "deployments": 6,
            "successful": 5,
            "failed": 4,
            "lead_time_median_hours": 3.0,
        },
        # W07 (Feb 12-18): d7 d8; failure d8; leads 0, 3, 2 -> 2 h
        {
            "week": "2024-W07",
            "start": "2024-02-12",
            "deployments": 2,
            "successful": 2,
            "failed": 1,
            "lead_time_median_hours": 2.0,
        },
    ]


def test_2021_levels_for_the_same_history(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    data = measure(capsys, history, thresholds="2021")
    assert data["thresholds"]["report"] == "2021"
    assert data["deployment_frequency"]["level"] == "high"  # 3.5 a week: weekly..monthly band reached
    assert data["lead_time"]["level"] == "high"  # 2.5 h: not < 1 h, <= one week
    assert data["change_failure_rate"]["level"] == "low"  # 62.5% > 30%
    assert data["failed_deployment_recovery_time"]["level"] == "high"  # 23 h < one day
    assert data["time_to_restore"]["level"] == "high"  # 3 h


def test_environment_option_selects_the_log_lines(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    data = measure(capsys, history, environment=["staging"], incidents=None)
    # d9 only; its commit a8 was never shipped to staging before, and there is no earlier staging
    # deployment: it is the first, so no lead time
    assert data["deployments"] == 1
    assert data["lead_time"]["median_hours"] is None


def test_incident_label_is_a_case_insensitive_glob(
    history: History, capsys: pytest.CaptureFixture[str]
) -> None:
    data = measure(capsys, history, incident_label="SEV*")
    # only issue 2 carries sev2: linked by its root cause to d3; restored in 4 h
    assert data["time_to_restore"] == {"median_hours": 4.0, "level": "high", "incidents": 1}


def test_markdown_report_and_chart(
    history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "dora.svg"
    args = namespace(
        history.repo.root,
        deployments=str(history.log),
        incidents=str(history.incidents),
        format="markdown",
        chart=str(chart),
        **PERIOD,
    )
    assert dora_command(args) == 0
    captured = capsys.readouterr()
    markdown = captured.out
    assert markdown.startswith("# Delivery performance (DORA)\n")
    assert "| Deployment frequency | 3.50 per week | high | 7 successful deployment(s) |" in markdown
    assert "| Lead time for changes | 2.50 h median | elite | 8 change(s) |" in markdown
    assert "| Change failure rate | 62.5% (5 of 8) | low | 8 deployment(s) |" in markdown
    assert "| Time to restore | 3.00 h median | high | 2 restored incident(s) |" in markdown
    assert "| Failed deployment recovery time | 23.00 h median | high | 5 recovery(ies) |" in markdown
    assert "![Deployments and median lead time per ISO week](dora.svg)" in markdown
    assert "| 2024-W06 | 2024-02-05 | 6 | 4 | 3.00 h |" in markdown
    assert "| change failure rate | 5% | 10% | 15% | 64% |" in markdown
    assert f"wrote {chart}" in captured.err
    svg = chart.read_text()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<title>2024-W06: 4</title>" in svg  # the failed part of week 6's bar
    assert "<title>3.00 h</title>" in svg and "<title>2.00 h</title>" in svg
    # byte-identical on a second run
    assert dora_command(args) == 0
    capsys.readouterr()
    assert chart.read_text() == svg


def test_text_report(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        dora_command(namespace(history.repo.root, deployments=str(history.log), format="text", **PERIOD)) == 0
    )
    text = capsys.readouterr().out
    assert text.splitlines()[:10] == [
        "DORA metrics",
        "  2024-02-05T00:00:00Z to 2024-02-19T00:00:00Z (UTC, end exclusive); deployments from "
        "deployment log deploys.jsonl; levels from the DORA 2023 report",
        "",
        "  deployments                      8 (7 successful, 3 change failure(s))",
        "  deployment frequency             3.50 per week                      high    "
        "7 successful deployment(s)",
        "  lead time for changes            2.50 h median                      elite   8 change(s)",
        # without incidents: d2 (status), d1 (reverted), d5 (rolled back)
        "  change failure rate              37.5% (3 of 8)                     low     8 deployment(s)",
        "  time to restore                  no data                            -       "
        "0 restored incident(s)",
        # recoveries 3, 48, 2 -> median 3 h
        "  failed deployment recovery time  3.00 h median                      high    3 recovery(ies)",
        "",
    ]

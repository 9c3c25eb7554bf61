"""Deployments from git tags: lead time over merges and time zones, redeploys, clock skew,
the first deployment, no deployments, and the trend. Expected values are computed by hand
in the comments next to them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.dora.gitrepo import GitRepo, dora_json

PERIOD = {"since": "2024-01-01", "until": "2024-01-28"}  # [Jan 1, Jan 29) = 28 days = 4 weeks


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    repo = GitRepo(tmp_path_factory.mktemp("tagged") / "app")
    repo.commit("2023-12-20T09:00:00Z", "init")
    repo.tag("v0.9", "2023-12-20T12:00:00Z")  # before the period: its history counts as shipped
    repo.commit("2024-01-01T09:00:00+02:00", "c1")  # = 07:00Z
    repo.commit("2024-01-02T10:00:00Z", "c2")
    repo.tag("v1.0", "2024-01-02T16:00:00Z")
    repo.checkout("-b", "feature")
    repo.commit("2024-01-03T08:00:00Z", "f1")
    repo.commit("2024-01-04T08:00:00Z", "f2")
    repo.checkout("main")
    repo.commit("2024-01-04T09:00:00Z", "c3")
    repo.merge("feature", "2024-01-05T10:00:00Z")
    repo.tag("v1.1", "2024-01-05T12:00:00Z")
    repo.tag("v1.2", "2024-01-10T12:00:00Z")  # the same commit again: no new commits
    repo.commit("2024-01-15T00:00:00Z", "c4")
    repo.tag("v1.3", "2024-01-15T12:00:00+01:00")  # = 11:00Z
    repo.tag("release-candidate", "2024-01-16T00:00:00Z")  # not matching v*
    return repo


def test_lead_time_frequency_and_levels_from_tags(
    tagged: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    data = dora_json(capsys, tagged.root, **PERIOD)
    assert data["period"] == {"start": "2024-01-01T00:00:00Z", "end": "2024-01-29T00:00:00Z"}
    assert data["source"] == "git tags matching 'v*'"
    # v1.0, v1.1, v1.2, v1.3 finished in the period (v0.9 before it; release-candidate does not match)
    assert data["deployments"] == 4
    # 4 successful / 4 weeks = 1.0 a week: 2023 "between once per day and once per week" -> high
    assert data["deployment_frequency"] == {"per_week": 1.0, "level": "high", "successful": 4}
    # v1.0 (Jan 2 16:00Z): c1 07:00Z Jan 1 -> 33 h, c2 10:00Z Jan 2 -> 6 h
    # v1.1 (Jan 5 12:00Z): f1 Jan 3 08:00 -> 52 h, f2 Jan 4 08:00 -> 28 h, c3 Jan 4 09:00 -> 27 h;
    #                      the merge commit is not a change of its own
    # v1.2: same commit as v1.1, nothing new;  v1.3 (Jan 15 11:00Z): c4 Jan 15 00:00 -> 11 h
    # sorted 6, 11, 27, 28, 33, 52 -> median (27 + 28) / 2 = 27.5 h: 2023 "one day to one week" -> high
    assert data["lead_time"] == {"median_hours": 27.5, "level": "high", "changes": 6}
    assert data["change_failure_rate"] == {"ratio": 0.0, "level": "elite", "failed": 0}
    assert data["time_to_restore"] == {"median_hours": None, "level": None, "incidents": 0}
    assert data["failed_deployment_recovery_time"] == {"median_hours": None, "level": None, "recoveries": 0}
    assert data["failures"] == []
    assert data["notes"] == [
        "1 merge commit(s) not counted as changes (the commits they merge are)",
        "1 deployment(s) shipped no new commits (redeploys or rollbacks): they count for frequency, "
        "not for lead time",
        "failed deployment recovery time: no change failure in the period",
        "time to restore: no incidents file (--incidents); see failed deployment recovery time for "
        "recovery measured from deployments",
    ]


def test_trend_per_iso_week(tagged: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    data = dora_json(capsys, tagged.root, **PERIOD)

    def week(name: str, start: str, deployments: int, lead: float | None) -> dict[str, Any]:
        return {
            "week": name,
            "start": start,
            "deployments": deployments,
            "successful": deployments,
            "failed": 0,
            "lead_time_median_hours": lead,
        }

    assert data["trend"] == [
        week("2024-W01", "2024-01-01", 2, 28.0),  # v1.0, v1.1: 6, 27, 28, 33, 52 -> 28
        week("2024-W02", "2024-01-08", 1, None),  # v1.2 shipped nothing new
        week("2024-W03", "2024-01-15", 1, 11.0),  # v1.3
        week("2024-W04", "2024-01-22", 0, None),
    ]


def test_2021_thresholds_on_request(tagged: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    data = dora_json(capsys, tagged.root, thresholds="2021", **PERIOD)
    assert data["thresholds"]["report"] == "2021"
    # 1.0 a week >= once a month -> high; 27.5 h: not < 1 h, <= one week -> high; 0% -> elite
    assert data["deployment_frequency"]["level"] == "high"
    assert data["lead_time"]["level"] == "high"
    assert data["change_failure_rate"]["level"] == "elite"


def test_timezones_are_utc_in_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepo(tmp_path / "tz")
    repo.commit("2024-03-01T00:00:00Z")
    repo.tag("v1", "2024-03-01T01:00:00Z")
    repo.commit("2024-03-04T23:30:00-05:00")  # = Mar 5 04:30Z
    repo.tag("v2", "2024-03-05T07:00:00+02:00")  # = Mar 5 05:00Z: lead 0.5 h
    data = dora_json(capsys, repo.root, since="2024-03-04", until="2024-03-10")
    assert data["lead_time"]["median_hours"] == 0.5
    assert data["trend"][0]["week"] == "2024-W10"  # Mar 4-10; the deploy is on Mar 5 in UTC


def test_lead_time_uses_the_committer_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepo(tmp_path / "rebased")
    repo.commit("2024-03-01T00:00:00Z")
    repo.tag("v1", "2024-03-01T01:00:00Z")
    # authored a month earlier, committed (rebased) on Mar 5 at 10:00
    repo.commit("2024-03-05T10:00:00Z", author_when="2024-02-01T10:00:00Z")
    repo.tag("v2", "2024-03-05T12:00:00Z")
    data = dora_json(capsys, repo.root, since="2024-03-04", until="2024-03-10")
    assert data["lead_time"]["median_hours"] == 2.0  # 12:00 - 10:00, not 33 days


def test_clock_skew_clamps_to_zero_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepo(tmp_path / "skew")
    repo.commit("2024-03-01T00:00:00Z")
    repo.tag("v1", "2024-03-01T01:00:00Z")
    repo.commit("2024-03-05T08:00:00Z")  # 4 h before v2
    repo.commit("2024-03-05T15:00:00Z")  # 3 h after v2 was tagged: a skewed clock
    repo.tag("v2", "2024-03-05T12:00:00Z")
    data = dora_json(capsys, repo.root, since="2024-03-04", until="2024-03-10")
    # leads 4 h and -3 h -> clamped to 0: median (0 + 4) / 2 = 2 h
    assert data["lead_time"] == {"median_hours": 2.0, "level": "elite", "changes": 2}
    assert (
        "1 commit(s) are dated after the deployment that shipped them (clock skew): "
        "their lead time counts as 0"
    ) in data["notes"]


def test_lightweight_tags_use_the_commit_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepo(tmp_path / "light")
    repo.commit("2024-03-01T00:00:00Z")
    repo.tag("v1")
    repo.commit("2024-03-05T08:00:00Z")
    repo.commit("2024-03-06T08:00:00Z")
    repo.tag("v2")  # deploy time = its commit's date, Mar 6 08:00: leads 24 h and 0 h
    data = dora_json(capsys, repo.root, since="2024-03-04", until="2024-03-10")
    assert data["deployments"] == 1
    assert data["lead_time"]["median_hours"] == 12.0
    assert data["notes"][0] == (
        "2 lightweight tag(s): their commit date is taken as the deploy time "
        "(annotated tags carry the release time)"
    )


def test_the_first_deployment_has_no_lead_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepo(tmp_path / "first")
    repo.commit("2024-03-04T00:00:00Z")
    repo.tag("v1", "2024-03-04T10:00:00Z")  # the first tag ever, inside the period
    repo.commit("2024-03-05T06:00:00Z")
    repo.tag("v2", "2024-03-05T12:00:00Z")
    data = dora_json(capsys, repo.root, since="2024-03-04", until="2024-03-10")
    assert data["deployments"] == 2  # both count for frequency: 2 / (7 days / 7) = 2.0 a week
    assert data["deployment_frequency"]["per_week"] == 2.0
    assert data["lead_time"] == {"median_hours": 6.0, "level": "elite", "changes": 1}  # v2 only
    assert data["notes"][0] == (
        "the first deployment (v1) has no earlier deployment to compare with: "
        "the commits it shipped are not counted for lead time"
    )


def test_no_deployments_at_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepo(tmp_path / "none")
    repo.commit("2024-03-04T00:00:00Z")
    data = dora_json(capsys, repo.root, since="2024-03-04", until="2024-03-10")
    assert data["deployments"] == 0
    for key, field in (
        ("deployment_frequency", "per_week"),
        ("lead_time", "median_hours"),
        ("change_failure_rate", "ratio"),
        ("time_to_restore", "median_hours"),
        ("failed_deployment_recovery_time", "median_hours"),
    ):
        assert data[key][field] is None and data[key]["level"] is None, key
    assert data["notes"][:2] == [
        "no git tag matches 'v*'; pass --tag-pattern or --deployments FILE",
        "no deployments found: nothing to measure",
    ]


def test_no_deployments_in_the_period(tagged: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    data = dora_json(capsys, tagged.root, since="2024-02-01", until="2024-02-14")
    assert data["deployments"] == 0
    # deployments exist, none in the period: a measured 0 a week, which is low
    assert data["deployment_frequency"] == {"per_week": 0.0, "level": "low", "successful": 0}
    assert data["lead_time"]["median_hours"] is None
    assert data["change_failure_rate"]["ratio"] is None
    assert "no deployments in the period: frequency is 0 and the other keys have no data" in data["notes"]


def test_tag_pattern_is_a_glob(tagged: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    data = dora_json(capsys, tagged.root, tag_pattern="release-*", **PERIOD)
    assert data["deployments"] == 1  # release-candidate, the first such tag: no lead time
    assert data["lead_time"]["median_hours"] is None


def test_revert_deploy_is_a_failure_and_its_restore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = GitRepo(tmp_path / "revert")
    repo.commit("2024-03-01T00:00:00Z")
    repo.tag("v1", "2024-03-01T01:00:00Z")  # before the period
    bad = repo.commit("2024-03-04T08:00:00Z", "feature")
    repo.tag("v2", "2024-03-04T10:00:00Z")  # ships the feature: lead 2 h
    revert = repo.revert(bad, "2024-03-04T13:00:00Z")
    repo.tag("v3", "2024-03-04T14:00:00Z")  # ships its revert: lead 1 h
    repo.revert(revert, "2024-03-05T09:00:00Z")  # "Reapply": the fixed feature goes out again
    repo.tag("v4", "2024-03-05T10:00:00Z")  # lead 1 h
    data = dora_json(capsys, repo.root, since="2024-03-04", until="2024-03-10")
    # v2 failed (its change was reverted by v3), restored by v3: 10:00 -> 14:00 = 4 h.
    # v4 reverts the revert: not a failure of v3. 1 of 3 deployments -> 0.333: 2023 low (> 15%)
    assert data["change_failure_rate"] == {"ratio": 0.333, "level": "low", "failed": 1}
    assert data["failed_deployment_recovery_time"] == {"median_hours": 4.0, "level": "high", "recoveries": 1}
    assert data["failures"][0]["deployment"] == "v2"
    assert data["failures"][0]["reasons"] == [f"change {bad[:12]} reverted by v3"]
    assert data["lead_time"]["median_hours"] == 1.0  # 2, 1, 1 -> 1


def test_redeploying_an_older_tag_is_a_rollback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepo(tmp_path / "rollback")
    repo.commit("2024-03-01T00:00:00Z")
    repo.tag("v1", "2024-03-01T01:00:00Z")
    good = repo.commit("2024-03-04T08:00:00Z")
    repo.tag("v2", "2024-03-04T10:00:00Z")
    repo.commit("2024-03-05T08:00:00Z")
    repo.tag("v3", "2024-03-05T10:00:00Z")
    repo.tag("v3-rollback", "2024-03-05T11:30:00Z", rev=good)  # v2's commit again
    data = dora_json(capsys, repo.root, since="2024-03-04", until="2024-03-10", tag_pattern="v*")
    # v3 failed: rolled back 1.5 h later. 1 of 3 -> 0.333
    assert data["change_failure_rate"]["ratio"] == 0.333
    assert data["failures"][0]["reasons"] == ["rolled back by v3-rollback"]
    assert data["failed_deployment_recovery_time"]["median_hours"] == 1.5

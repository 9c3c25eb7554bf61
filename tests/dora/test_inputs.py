"""Reading the records: the JSON-lines log (and every way it can be wrong), GitHub exports,
issue exports, the period, and the repository itself. Bad input is one DeploysmithError line
naming the file and line (or item)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from deploysmith.dora import dora_command, events, parse_period
from deploysmith.errors import DeploysmithError, run_guarded
from tests.dora.gitrepo import GitRepo, dora_json, namespace, write_json


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    made = GitRepo(tmp_path_factory.mktemp("inputs") / "app")
    made.commit("2024-03-01T00:00:00Z", "init")
    made.commit("2024-03-04T08:00:00Z", "one")
    made.commit("2024-03-05T08:00:00Z", "two")
    return made


def line(commit: str, **fields: Any) -> str:
    record = {
        "id": "d",
        "sha": commit,
        "environment": "production",
        "status": "success",
        "started": None,
        "finished": "2024-03-05T10:00:00Z",
        **fields,
    }
    return json.dumps(record)


def error_for(repo: GitRepo, tmp_path: Path, text: str) -> str:
    log = tmp_path / "deploys.jsonl"
    log.write_text(text, encoding="utf-8")
    with pytest.raises(DeploysmithError) as caught:
        events.deployments_from_file(repo.root, str(log), ("production",))
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- the JSON-lines log ---------------------------------------------------------------------


def test_malformed_json_names_the_line(repo: GitRepo, tmp_path: Path) -> None:
    head = repo.head()
    text = f'{line(head)}\n\n{{"id": "broken",\n'
    assert error_for(repo, tmp_path, text).startswith("deploys.jsonl:3: not valid JSON (")


def test_unknown_field_names_the_line_and_the_field(repo: GitRepo, tmp_path: Path) -> None:
    text = line(repo.head()) + "\n" + line(repo.head(), finshed="2024-03-05T10:00:00Z") + "\n"
    assert error_for(repo, tmp_path, text) == (
        "deploys.jsonl:2: unknown field 'finshed' "
        "(a deployment line has id, sha, environment, status, started, finished)"
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"sha": None}, "deploys.jsonl:1: missing 'sha'"),
        ({"finished": "yesterday"}, "deploys.jsonl:1: 'finished' is not an ISO 8601 timestamp: 'yesterday'"),
        (
            {"finished": 1709632800},
            "deploys.jsonl:1: 'finished' must be an ISO 8601 timestamp, not 1709632800",
        ),
        (
            {"status": "exploded"},
            "deploys.jsonl:1: status 'exploded' is not success, failure or a pending state",
        ),
        ({"environment": 3}, "deploys.jsonl:1: 'environment' must be a non-empty string, not 3"),
        (
            {"started": "2024-03-05T11:00:00Z"},
            "deploys.jsonl:1: finished (2024-03-05T10:00:00Z) is before started (2024-03-05T11:00:00Z)",
        ),
    ],
)
def test_bad_values_name_the_line(
    repo: GitRepo, tmp_path: Path, fields: dict[str, Any], expected: str
) -> None:
    assert error_for(repo, tmp_path, line(repo.head(), **fields) + "\n") == expected


def test_not_an_object(repo: GitRepo, tmp_path: Path) -> None:
    assert error_for(repo, tmp_path, "42\n").startswith("deploys.jsonl:1: expected a JSON object")


def test_unknown_commit_names_the_line(repo: GitRepo, tmp_path: Path) -> None:
    text = line(repo.head()) + "\n" + line("deadbeefdeadbeef") + "\n"
    assert error_for(repo, tmp_path, text) == (
        f"deploys.jsonl:2: commit deadbeefdeadbeef is not in the repository at {repo.root} "
        "(fetch it, or check the sha)"
    )


def test_missing_file(repo: GitRepo, tmp_path: Path) -> None:
    with pytest.raises(
        DeploysmithError, match=r"nope.jsonl: no such file \(deployment file \(--deployments\)\)"
    ):
        events.deployments_from_file(repo.root, str(tmp_path / "nope.jsonl"), ("production",))
    with pytest.raises(DeploysmithError, match=r"issues.json: no such file \(incidents file"):
        events.incidents_from_file(str(tmp_path / "issues.json"), "incident")


def test_log_reads_offsets_and_naive_times_as_utc(repo: GitRepo, tmp_path: Path) -> None:
    log = tmp_path / "deploys.jsonl"
    log.write_text(
        line(repo.head(), finished="2024-03-05T12:00:00+02:00")
        + "\n"
        + line(repo.head(), finished="2024-03-05T12:00:00", status="FAILED")
        + "\n"
    )
    found = events.deployments_from_file(repo.root, str(log), ("Production",))
    assert [(d.finished, d.status, d.source) for d in found.deployments] == [
        (datetime(2024, 3, 5, 10, tzinfo=UTC), "success", "deploys.jsonl:1"),
        (datetime(2024, 3, 5, 12, tzinfo=UTC), "failure", "deploys.jsonl:2"),
    ]


# -- GitHub exports -------------------------------------------------------------------------


def test_github_deployments_with_statuses(repo: GitRepo, tmp_path: Path) -> None:
    head = repo.head()
    export = write_json(
        tmp_path / "deployments.json",
        [
            {
                "id": 11,
                "sha": head,
                "ref": "main",
                "environment": "production",
                "created_at": "2024-03-05T10:00:00Z",
                "updated_at": "2024-03-05T10:05:00Z",
                "statuses": [
                    {"state": "in_progress", "created_at": "2024-03-05T10:01:00Z"},
                    {"state": "success", "created_at": "2024-03-05T10:04:00Z"},
                ],
            },
            {
                "id": 12,
                "sha": head,
                "environment": "production",
                "created_at": "2024-03-05T11:00:00Z",
                "statuses": [{"state": "failure", "created_at": "2024-03-05T11:09:00Z"}],
            },
            {"id": 13, "sha": head, "environment": "production", "created_at": "2024-03-05T12:00:00Z"},
            {"id": 14, "sha": head, "environment": "preview", "created_at": "2024-03-05T12:00:00Z"},
        ],
    )
    found = events.deployments_from_file(repo.root, str(export), ("production", "prod"))
    assert found.description == "GitHub deployments deployments.json"
    assert [(d.id, d.status, d.finished.isoformat()) for d in found.deployments] == [
        ("11", "success", "2024-03-05T10:04:00+00:00"),  # the newest status's time
        ("12", "failure", "2024-03-05T11:09:00+00:00"),
        ("13", "success", "2024-03-05T12:00:00+00:00"),  # no status exported
    ]
    assert found.notes == (
        "1 deployment(s) to other environments than production/prod ignored",
        "1 GitHub deployment(s) exported without a status were counted as successful "
        "(add each deployment's `statuses` to the export to count failures)",
    )


def test_github_workflow_runs_rest_and_gh_cli(repo: GitRepo, tmp_path: Path) -> None:
    head = repo.head()
    rest = write_json(
        tmp_path / "runs.json",
        {
            "total_count": 3,
            "workflow_runs": [
                {
                    "id": 1,
                    "head_sha": head,
                    "status": "completed",
                    "conclusion": "success",
                    "run_started_at": "2024-03-05T10:00:00Z",
                    "updated_at": "2024-03-05T10:07:00Z",
                },
                {
                    "id": 2,
                    "head_sha": head,
                    "status": "completed",
                    "conclusion": "cancelled",
                    "run_started_at": "2024-03-05T11:00:00Z",
                    "updated_at": "2024-03-05T11:01:00Z",
                },
                {
                    "id": 3,
                    "head_sha": head,
                    "status": "in_progress",
                    "conclusion": None,
                    "run_started_at": "2024-03-05T12:00:00Z",
                    "updated_at": "2024-03-05T12:01:00Z",
                },
            ],
        },
    )
    found = events.deployments_from_file(repo.root, str(rest), ("production",))
    assert [(d.id, d.status) for d in found.deployments] == [("1", "success")]
    assert found.description == "GitHub workflow runs runs.json"
    gh = write_json(
        tmp_path / "gh.json",
        [
            {
                "databaseId": 7,
                "headSha": head[:12],
                "status": "completed",
                "conclusion": "failure",
                "startedAt": "2024-03-05T10:00:00Z",
                "updatedAt": "2024-03-05T10:03:00Z",
                "workflowName": "deploy",
            },
        ],
    )
    found = events.deployments_from_file(repo.root, str(gh), ("production",))
    assert [(d.id, d.sha, d.status) for d in found.deployments] == [("7", head, "failure")]
    assert found.notes[-1].startswith("workflow runs carry no environment")


def test_export_item_of_unknown_shape(repo: GitRepo, tmp_path: Path) -> None:
    export = write_json(tmp_path / "odd.json", [{"name": "x"}])
    with pytest.raises(DeploysmithError, match=r"^odd.json item 1: neither a GitHub deployment"):
        events.deployments_from_file(repo.root, str(export), ("production",))


# -- incidents ------------------------------------------------------------------------------


def test_incidents_from_rest_and_gh_exports(tmp_path: Path) -> None:
    export = write_json(
        tmp_path / "issues.json",
        [
            {
                "number": 5,
                "title": "Down",
                "body": "Timeline...\n> **Root cause:** `ABCDEF1234`\n",
                "labels": [{"name": "Incident"}],
                "created_at": "2024-03-05T10:00:00+01:00",
                "closed_at": "2024-03-05T12:00:00Z",
            },
            {
                "number": 6,
                "title": "PR",
                "labels": [{"name": "incident"}],
                "pull_request": {},
                "created_at": "2024-03-05T10:00:00Z",
            },
            {
                "number": 7,
                "title": "Slow",
                "body": None,
                "labels": ["incident-sev1"],
                "createdAt": "2024-03-06T10:00:00Z",
                "closedAt": None,
            },
        ],
    )
    found, notes = events.incidents_from_file(str(export), "incident*")
    assert [(i.id, i.opened.isoformat(), i.closed, i.root_cause) for i in found] == [
        ("5", "2024-03-05T09:00:00+00:00", datetime(2024, 3, 5, 12, tzinfo=UTC), "abcdef1234"),
        ("7", "2024-03-06T10:00:00+00:00", None, None),
    ]
    assert notes == []
    found, notes = events.incidents_from_file(str(export), "outage")
    assert found == [] and notes == ["no issue in issues.json has a label matching 'outage'"]


def test_incident_closed_before_it_opened(tmp_path: Path) -> None:
    export = write_json(
        tmp_path / "issues.json",
        [
            {
                "number": 1,
                "labels": ["incident"],
                "createdAt": "2024-03-05T10:00:00Z",
                "closedAt": "2024-03-05T09:00:00Z",
            },
        ],
    )
    with pytest.raises(
        DeploysmithError, match=r"^issues.json item 1: closed \(2024-03-05T09:00:00Z\) before"
    ):
        events.incidents_from_file(str(export), "incident")


def test_incidents_file_with_broken_json_names_the_line(tmp_path: Path) -> None:
    broken = tmp_path / "issues.json"
    broken.write_text('[\n {"number": 1,\n  "labels": [}\n]\n')
    with pytest.raises(DeploysmithError, match=r"^issues.json:3: not valid JSON"):
        events.incidents_from_file(str(broken), "incident")


def test_unknown_root_cause_falls_back_to_the_last_deployment(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = repo.head()
    log = tmp_path / "deploys.jsonl"
    log.write_text(
        line(repo.git("rev-parse", "HEAD~1"), id="d1", finished="2024-03-04T10:00:00Z")
        + "\n"
        + line(head, id="d2", finished="2024-03-05T10:00:00Z")
        + "\n"
    )
    issues = write_json(
        tmp_path / "issues.json",
        [
            {
                "number": 9,
                "body": "root cause: 0123456789abcdef",
                "labels": ["incident"],
                "createdAt": "2024-03-05T11:00:00Z",
                "closedAt": "2024-03-05T12:30:00Z",
            },
        ],
    )
    data = dora_json(
        capsys, repo.root, deployments=str(log), incidents=str(issues), since="2024-03-04", until="2024-03-10"
    )
    # d2 (last before 11:00) failed; recovered when the incident closed: 10:00 -> 12:30 = 2.5 h
    assert data["failures"][0]["deployment"] == "d2"
    assert data["failed_deployment_recovery_time"]["median_hours"] == 2.5
    assert data["time_to_restore"]["median_hours"] == 1.5
    assert (
        "incident(s) 9 (0123456789abcdef): the root cause is not a commit in the repository; linked to "
        "the last deployment before the incident instead"
    ) in data["notes"]


# -- the period and the repository --------------------------------------------------------


NOW = datetime(2024, 6, 30, 15, 30, tzinfo=UTC)


def test_period_defaults_to_the_last_90_days() -> None:
    period = parse_period(None, None, NOW)
    assert (period.start, period.end) == (datetime(2024, 4, 1, 15, 30, tzinfo=UTC), NOW)


def test_period_dates_cover_whole_days_and_offsets_become_utc() -> None:
    period = parse_period("2024-01-01", "2024-01-31", NOW)
    assert (period.start, period.end) == (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))
    period = parse_period("2024-01-01T02:00:00+02:00", "2024-01-02T00:00:00", NOW)
    assert (period.start, period.end) == (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("01/02/2024", None, "--since 01/02/2024: not an ISO date"),
        (
            "2024-02-01",
            "2024-01-01",
            "the period is empty: --since 2024-02-01 is not before --until 2024-01-01",
        ),
    ],
)
def test_bad_period(since: str, until: str | None, message: str) -> None:
    with pytest.raises(DeploysmithError, match=f"^{message}"):
        parse_period(since, until, NOW)


def test_not_a_git_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    status = run_guarded(lambda: dora_command(namespace(plain)))
    assert status == 2
    assert capsys.readouterr().err == (
        f"deploysmith: error: {plain}: not a git repository (deploysmith dora reads its history)\n"
    )
    with pytest.raises(DeploysmithError, match="no such directory"):
        dora_command(namespace(tmp_path / "missing"))


def test_bad_thresholds_and_format(repo: GitRepo) -> None:
    with pytest.raises(DeploysmithError, match=r"^--thresholds 2019: use one of 2023, 2021$"):
        dora_command(namespace(repo.root, thresholds="2019"))
    with pytest.raises(DeploysmithError, match=r"^--format sarif: use one of text, json, markdown$"):
        dora_command(namespace(repo.root, format="sarif"))


def test_nothing_from_the_repository_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A hostile repository config: fsmonitor, pager, signature checking and hooks all point
    at a script that leaves a mark. Reading the history must not run it."""
    hostile = GitRepo(tmp_path / "hostile")
    mark = tmp_path / "ran"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {mark}\ncat\n")
    script.chmod(0o755)
    hostile.commit("2024-03-01T00:00:00Z")
    hostile.tag("v1", "2024-03-01T01:00:00Z")
    hostile.commit("2024-03-05T00:00:00Z")
    hostile.fake_sign_head()  # a signed commit: log.showSignature would run gpg.program
    hostile.tag("v2", "2024-03-05T01:00:00Z")
    for key in ("core.fsmonitor", "core.pager", "gpg.program", "core.hooksPath"):
        hostile.git("config", key, str(script) if key != "core.hooksPath" else str(tmp_path))
    hostile.git("config", "log.showSignature", "true")
    for hook in ("post-checkout", "post-index-change", "reference-transaction"):
        (tmp_path / hook).write_text(f"#!/bin/sh\ntouch {mark}\n")
        (tmp_path / hook).chmod(0o755)
    data = dora_json(capsys, hostile.root, since="2024-03-04", until="2024-03-10")
    assert data["lead_time"]["median_hours"] == 1.0
    assert not mark.exists()

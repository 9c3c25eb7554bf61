"""`deploysmith dora` through main(argv), once cli.py wires it (skipped until then)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from deploysmith.cli import build_parser, main
from tests.dora.gitrepo import GitRepo


def _wired() -> bool:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return "dora" in commands.choices


pytestmark = pytest.mark.skipif(not _wired(), reason="`dora` is not wired into cli.py yet")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    made = GitRepo(tmp_path / "app")
    made.commit("2024-03-01T00:00:00Z")
    made.tag("v1.0", "2024-03-01T01:00:00Z")
    made.commit("2024-03-05T00:00:00Z")
    made.tag("v1.1", "2024-03-05T06:00:00Z")
    made.tag("rel-2", "2024-03-06T00:00:00Z")
    return made


def test_defaults(repo: GitRepo) -> None:
    args = build_parser().parse_args(["dora"])
    assert (args.path, args.since, args.until, args.tag_pattern, args.deployments, args.environment,
            args.incidents, args.incident_label, args.thresholds, args.format, args.chart) == (
        ".", None, None, "v*", None, None, None, "incident", "2023", "text", None,
    )  # fmt: skip


def test_json_through_main(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    period = ["--since", "2024-03-04", "--until", "2024-03-10"]
    assert main(["dora", str(repo.root), *period, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # v1.1 alone in the week: 1 a week; one commit 6 h before it
    assert data["deployments"] == 1
    assert data["lead_time"]["median_hours"] == 6.0


def test_every_option_through_main(repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = tmp_path / "trend.svg"
    status = main([
        "dora", str(repo.root), "--since", "2024-03-04", "--until", "2024-03-10", "--tag-pattern", "rel-*",
        "--environment", "prod", "--incident-label", "outage", "--thresholds", "2021",
        "--format", "markdown", "--chart", str(chart),
    ])  # fmt: skip
    assert status == 0
    assert "levels from the DORA 2021 report" in capsys.readouterr().out
    assert chart.read_text().startswith("<svg")


def test_input_errors_exit_2(repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dora", str(repo.root), "--deployments", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl: no such file" in capsys.readouterr().err
    assert main(["dora", str(repo.root), "--thresholds", "2019"]) == 2

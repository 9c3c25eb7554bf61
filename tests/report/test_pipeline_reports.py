"""The pipeline-coverage section of every report format."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path

import jsonschema

from deploysmith.audit import audit_report
from deploysmith.audit.ci.summary import PipelineSummary
from deploysmith.audit.engine import _Source, build
from deploysmith.repo import Repo
from deploysmith.report import render

SARIF_SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "schemastore" / "sarif-2.1.0.json"

GITLAB = """\
stages: [test, deploy]
unit:
  stage: test
  image: node:22-bookworm
  cache: {paths: [.npm]}
  script: [npm ci, npm test]
scan:
  stage: test
  image: node:22-bookworm
  allow_failure: true
  script: [npm audit]
deploy:
  stage: deploy
  image: bitnami/kubectl:1.33
  environment: staging
  script: [kubectl apply -k deploy/staging]
"""


def summaries() -> tuple[PipelineSummary, ...]:
    return build([_Source(".gitlab-ci.yml", GITLAB)], frozenset({".gitlab-ci.yml"}), "audit").summaries


def test_text_section() -> None:
    assert render("text", (), pipelines=summaries()) == (
        "Pipeline coverage: .gitlab-ci.yml (GitLab CI)\n"
        "  Build             ok            unit\n"
        "  Test              ok            unit\n"
        "  Security Scan     NOT BLOCKING  scan (scan sets allow_failure: true, so its failure does not "
        "stop the "
        "pipeline)\n"
        "  Package           MISSING\n"
        "  Deploy Staging    ok            deploy\n"
        "  Integration Test  -             no production deploy\n"
        "  Approval          -             no production deploy\n"
        "  Deploy Prod       MISSING\n"
        "  Verify            -             no production deploy\n"
        "  Duration (estimate): commit stage 2.2 min warm / 3.8 min cold; whole pipeline 3.2 min warm / "
        "5.2 min "
        "cold (approvals not counted)\n"
        "  Critical path: unit\n"
        "\n"
        "no findings\n"
    )


def test_json_has_a_pipelines_field_beside_the_findings() -> None:
    document = jsonlib.loads(render("json", (), pipelines=summaries()))
    assert list(document) == ["findings", "summary", "pipelines"]
    (pipeline,) = document["pipelines"]
    assert pipeline["path"] == ".gitlab-ci.yml" and pipeline["platform"] == "gitlab"
    assert pipeline["stages"][2] == {
        "stage": "Security Scan",
        "status": "not blocking",
        "jobs": ["scan"],
        "note": "scan sets allow_failure: true, so its failure does not stop the pipeline",
    }
    assert [s["status"] for s in pipeline["stages"]] == [
        "present",
        "present",
        "not blocking",
        "missing",
        "present",
        "not applicable",
        "not applicable",
        "missing",
        "not applicable",
    ]
    assert (
        pipeline["duration"]["commit_stage_warm_minutes"] == 2.2
    )  # 15 + 10 + npm ci 20 + npm test 90 = 135 s
    assert list(jsonlib.loads(render("json", ()))) == ["findings", "summary"]  # no summaries given


def test_sarif_carries_pipelines_and_stays_valid() -> None:
    document = jsonlib.loads(render("sarif", (), pipelines=summaries()))
    jsonschema.validate(document, jsonlib.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))
    assert document["runs"][0]["properties"]["pipelines"][0]["path"] == ".gitlab-ci.yml"


def test_markdown_table() -> None:
    text = render("markdown", (), pipelines=summaries())
    assert "#### Pipeline coverage: `.gitlab-ci.yml` (GitLab CI)" in text
    assert (
        "| Security Scan | ⚠️ not blocking | `scan` (scan sets allow_failure: true, so its failure does not "
        "stop the pipeline) |" in text
    )
    assert "| Deploy Prod | ❌ missing |  |" in text


def test_audit_report_returns_findings_and_pipelines(tmp_path: Path) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text(GITLAB, encoding="utf-8")
    report = audit_report(Repo.open(tmp_path))
    assert [p.pipeline.path for p in report.pipelines] == [".gitlab-ci.yml"]
    assert {f.rule for f in report.findings} >= {"DS-PIPE-001", "DS-PIPE-002"}

from __future__ import annotations

from pathlib import Path

import pytest

from deploysmith.audit import AuditConfig, audit_files, audit_repo, exit_code, verify
from deploysmith.audit.engine import FAMILIES
from deploysmith.errors import DeploysmithError
from deploysmith.model import Finding, RenderedFile
from deploysmith.repo import Repo

GOOD_DOCKERFILE = (
    "FROM python:3.13-slim-trixie\n"
    "USER 10001\n"
    'HEALTHCHECK CMD ["python", "-c", "print(1)"]\n'
    'CMD ["python", "-m", "app"]\n'
)
DOCKERIGNORE = RenderedFile(".dockerignore", ".git\n")


def rules(findings: tuple[Finding, ...]) -> list[tuple[str, str, int | None]]:
    return [(f.rule, f.path, f.line) for f in findings]


def test_clean_kit_has_no_findings() -> None:
    assert verify([RenderedFile("Dockerfile", GOOD_DOCKERFILE), DOCKERIGNORE]) == ()


def test_findings_are_sorted_by_path_line_rule() -> None:
    findings = verify(
        [
            RenderedFile("b/Dockerfile", "FROM python\nCMD python app.py\n"),
            RenderedFile("a/Dockerfile", "FROM python:3.13\n"),
        ]
    )
    assert rules(findings) == [
        ("DS-DOCKER-010", "a/Dockerfile", None),
        ("DS-DOCKER-001", "a/Dockerfile", 1),
        ("DS-DOCKER-009", "a/Dockerfile", 1),
        ("DS-DOCKER-010", "b/Dockerfile", None),
        ("DS-DOCKER-001", "b/Dockerfile", 1),
        ("DS-DOCKER-002", "b/Dockerfile", 1),
        ("DS-DOCKER-009", "b/Dockerfile", 1),
        ("DS-DOCKER-004", "b/Dockerfile", 2),
    ]


def test_suppression_on_the_line_or_the_line_above() -> None:
    text = (
        "FROM python:3.13\n"
        "USER 10001\n"
        "# deploysmith: ignore[DS-DOCKER-004] legacy entrypoint, tracked in OPS-12\n"
        "CMD python app.py\n"
        "ENTRYPOINT python x.py  # deploysmith: ignore[DS-DOCKER-004] same line works too\n"
    )
    findings = verify([RenderedFile("Dockerfile", text), DOCKERIGNORE])
    assert "DS-DOCKER-004" not in {f.rule for f in findings}


def test_suppression_two_lines_above_does_not_apply() -> None:
    text = "FROM python:3.13\n# deploysmith: ignore[DS-DOCKER-004] too far\nUSER 10001\nCMD python app.py\n"
    findings = verify([RenderedFile("Dockerfile", text), DOCKERIGNORE])
    assert ("DS-DOCKER-004", "Dockerfile", 4) in rules(findings)


def test_file_level_findings_are_suppressed_from_the_header_comments() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "# deploysmith: ignore[DS-DOCKER-010] the build context is ./app, which has its own ignore file\n"
        + GOOD_DOCKERFILE
    )
    assert verify([RenderedFile("Dockerfile", text)]) == ()
    late = GOOD_DOCKERFILE + "# deploysmith: ignore[DS-DOCKER-010] not in the header\n"
    assert "DS-DOCKER-010" in {f.rule for f in verify([RenderedFile("Dockerfile", late)])}


def test_suppression_without_reason_still_applies_but_is_reported() -> None:
    text = "FROM python:3.13\nUSER 10001\n# deploysmith: ignore[DS-DOCKER-004]\nCMD python app.py\n"
    findings = verify([RenderedFile("Dockerfile", text), DOCKERIGNORE])
    assert [f for f in findings if f.rule in ("DS-DOCKER-004", "DS-META-001")] == [
        Finding(
            "DS-META-001",
            "warning",
            "Dockerfile",
            3,
            "suppression of DS-DOCKER-004 gives no reason; "
            "say why after the bracket so a reviewer can judge it",
        )
    ]


def test_suppression_of_unknown_rule_is_reported_and_meta_rules_cannot_be_silenced() -> None:
    text = (
        "# deploysmith: ignore[DS-META-001, DS-META-003]\n"
        "# deploysmith: ignore[DS-DOCKER-999] typo\n" + GOOD_DOCKERFILE
    )
    findings = verify([RenderedFile("Dockerfile", text), DOCKERIGNORE])
    assert rules(findings) == [
        ("DS-META-001", "Dockerfile", 1),
        ("DS-META-003", "Dockerfile", 2),
    ]


def test_markdown_suppressions_use_html_comments() -> None:
    text = "<!-- deploysmith: ignore[DS-DOCS-002] rollback lives in the platform runbook -->\n# Runbook\n"
    assert verify([RenderedFile("docs/deploy/RUNBOOK.md", text)]) == ()
    assert rules(verify([RenderedFile("docs/deploy/RUNBOOK.md", "# Runbook\n")])) == [
        ("DS-DOCS-002", "docs/deploy/RUNBOOK.md", None)
    ]


def test_config_disable_severity_and_exclude() -> None:
    files = [
        RenderedFile("Dockerfile", "FROM python:3.13\nUSER 10001\nCMD python app.py\n"),
        RenderedFile("examples/Dockerfile", "FROM python\n"),
        DOCKERIGNORE,
    ]
    config = AuditConfig.from_mapping(
        {
            "disable": ["DS-DOCKER-009", "dockerfile-missing-dockerignore"],
            "severity": {"DS-DOCKER-004": "error"},
            "exclude": ["examples/*"],
        }
    )
    assert verify(files, config) == (
        Finding(
            "DS-DOCKER-004",
            "error",
            "Dockerfile",
            3,
            "CMD uses the shell form, so the app runs under /bin/sh -c and does not receive SIGTERM; "
            'use the exec form CMD ["executable", "arg"]',
        ),
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "deploysmith.yaml: audit: expected a mapping with disable, severity or exclude"),
        (
            {"disabled": []},
            "deploysmith.yaml: audit: unknown key disabled; expected disable, severity or exclude",
        ),
        ({"disable": "DS-K8S-001"}, "deploysmith.yaml: audit.disable: expected a list of rule ids"),
        (
            {"disable": ["DS-K8S-999"]},
            "deploysmith.yaml: audit.disable: unknown rule 'DS-K8S-999'; `deploysmith rules` lists the ids",
        ),
        (
            {"severity": {"DS-K8S-001": "fatal"}},
            "deploysmith.yaml: audit.severity.DS-K8S-001: 'fatal' is not a severity; "
            "use error, warning or info",
        ),
        ({"exclude": "docs"}, "deploysmith.yaml: audit.exclude: expected a list of path patterns"),
    ],
)
def test_config_errors_say_what_to_fix(data: object, message: str) -> None:
    with pytest.raises(DeploysmithError) as error:
        AuditConfig.from_mapping(data)  # type: ignore[arg-type]
    assert str(error.value) == message


def test_config_from_nothing_is_the_default() -> None:
    assert AuditConfig.from_mapping(None) == AuditConfig()
    assert AuditConfig.from_mapping({}) == AuditConfig()


def test_unparseable_yaml_is_a_finding_not_a_crash() -> None:
    findings = verify([RenderedFile("deploy/app.yaml", "a: [1\nb: 2\n")])
    assert rules(findings) == [("DS-META-002", "deploy/app.yaml", 2)]
    assert findings[0].severity == "error"
    assert findings[0].message.startswith("cannot parse: malformed YAML")


def test_audit_reports_broken_yaml_only_when_it_matters() -> None:
    files = [
        RenderedFile("deploy/app.yaml", "apiVersion: v1\nkind: Service\nspec: [\n"),
        RenderedFile("tests/fixtures/broken.yaml", "a: [1\n"),
        RenderedFile(".github/workflows/ci.yml", "on: push\njobs: [\n"),
        RenderedFile("chart/templates/deployment.yaml", "kind: Deployment\n{{- if .Values.x }}\n"),
    ]
    found = audit_files(files, mode="audit", families={})
    assert [(f.rule, f.path) for f in found] == []  # meta family not run
    found = audit_files(files, mode="audit")
    assert sorted((f.rule, f.path) for f in found if f.rule == "DS-META-002") == [
        ("DS-META-002", ".github/workflows/ci.yml"),
        ("DS-META-002", "deploy/app.yaml"),
    ]


def test_workflow_that_is_not_a_mapping() -> None:
    findings = verify([RenderedFile(".github/workflows/ci.yml", "- just\n- a list\n")])
    assert rules(findings) == [("DS-META-002", ".github/workflows/ci.yml", None)]


def test_audit_repo_reads_the_repository(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM node\nUSER node\n", encoding="utf-8")
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "Dockerfile.worker").write_bytes(b"\x00\x01binary")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "Dockerfile").write_text("FROM ignored\n", encoding="utf-8")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(
        "on: push\npermissions: {contents: read}\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        "    timeout-minutes: 5\n    steps:\n      - run: make test\n",
        encoding="utf-8",
    )
    findings = audit_repo(Repo.open(tmp_path))
    assert rules(findings) == [
        ("DS-DOCS-001", ".github/workflows/ci.yml", None),
        # `make test` only: no Build, Security Scan or Package (there is a Dockerfile) stage
        ("DS-PIPE-001", ".github/workflows/ci.yml", None),
        ("DS-PIPE-001", ".github/workflows/ci.yml", None),
        ("DS-PIPE-001", ".github/workflows/ci.yml", None),
        ("DS-DOCKER-010", "Dockerfile", None),
        ("DS-DOCKER-002", "Dockerfile", 1),
        ("DS-DOCKER-009", "Dockerfile", 1),
        ("DS-META-002", "deploy/Dockerfile.worker", None),
    ]
    assert findings[-1].message == (
        "cannot parse: binary content where text was expected; no rule checked this file"
    )


def test_audit_repo_with_config_exclude(tmp_path: Path) -> None:
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "Dockerfile").write_text("FROM node\n", encoding="utf-8")
    assert audit_repo(Repo.open(tmp_path), AuditConfig(exclude=("examples/*",))) == ()


def test_families_are_one_literal_dict_of_modules() -> None:
    assert list(FAMILIES) == [
        "dockerfile", "kubernetes", "workflows", "ci", "pipeline", "secrets", "docs", "meta",
    ]
    for module in FAMILIES.values():
        assert module.RULES and callable(module.applies_to)


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [("error", 0), ("warning", 1), ("info", 1)],
)
def test_exit_code(fail_on: str, expected: int) -> None:
    findings = [Finding("DS-K8S-001", "warning", "a.yaml", 1, "m")]
    assert exit_code(findings, fail_on) == expected
    assert exit_code([], fail_on) == 0


def test_exit_code_rejects_unknown_threshold() -> None:
    with pytest.raises(DeploysmithError):
        exit_code([], "fatal")

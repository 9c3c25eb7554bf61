from __future__ import annotations

import pytest

from tests.audit.helpers import hits

DOCKERFILE = {"Dockerfile": "FROM python:3.13\n"}


def test_missing_docs_only_in_audit_mode() -> None:
    assert hits("docs", DOCKERFILE, mode="audit") == [("DS-DOCS-001", None)]
    assert hits("docs", DOCKERFILE, mode="verify") == []


def test_no_deployment_files_no_finding() -> None:
    assert hits("docs", {"README.md": "# app\n", "src/app.py": "print(1)\n"}, mode="audit") == []


@pytest.mark.parametrize(
    "doc", ["docs/deploy/DEPLOYMENT.md", "DEPLOYMENT.md", "ops/runbook.md", "docs/deployment/guide.md"]
)
def test_any_deployment_doc_counts(doc: str) -> None:
    files = {**DOCKERFILE, doc: "# Deploying\n\n## Rollback\n"}
    assert hits("docs", files, "DS-DOCS-001", mode="audit") == []


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("# Runbook\n\n## Alerts\n", True),
        ("# Runbook\n\nTo roll back, run the pipeline again.\n", True),  # prose, not a section
        ("# Runbook\n\n## Rollback\n", False),
        ("# Runbook\n\n### Rolling back a release\n", False),
        ("Runbook\n=======\n\nHow to roll back\n----------------\n", False),
        ("# Runbook\n\n## Revert a bad deploy\n", False),
        ("# Runbook\n\n```\n## Rollback\n```\n", True),  # a heading inside code is not a section
    ],
)
def test_runbook_rollback(text: str, flagged: bool) -> None:
    found = hits("docs", {"docs/deploy/RUNBOOK.md": text}, "DS-DOCS-002")
    assert found == ([("DS-DOCS-002", None)] if flagged else [])

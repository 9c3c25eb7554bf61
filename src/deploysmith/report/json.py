"""JSON report: `{"findings": [...], "summary": {...}, "pipelines": [...]}`, each finding
exactly as DESIGN.md §3 (rule, severity, path, line, message; column when known).
`pipelines` (present when the caller passes the summaries) is one object per CI/CD
pipeline: path, platform, files, the nine stages with status (present, missing, not
blocking, not applicable), jobs and note, and the duration estimate."""

from __future__ import annotations

import json
from collections.abc import Sequence

from deploysmith.audit.base import Rule
from deploysmith.audit.ci.summary import PipelineSummary
from deploysmith.model import Finding
from deploysmith.report.summary import summarize


def render(
    findings: Sequence[Finding],
    rules: Sequence[Rule] = (),
    *,
    pipelines: Sequence[PipelineSummary] | None = None,
) -> str:
    document: dict[str, object] = {
        "findings": [finding.to_json() for finding in findings],
        "summary": summarize(findings).to_json(),
    }
    if pipelines is not None:
        document["pipelines"] = [pipeline.to_json() for pipeline in pipelines]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

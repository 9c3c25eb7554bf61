"""JSON report: `{"findings": [...], "summary": {...}}`, each finding exactly as DESIGN.md §3
(rule, severity, path, line, message; column when known)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from deploysmith.audit.base import Rule
from deploysmith.model import Finding
from deploysmith.report.summary import summarize


def render(findings: Sequence[Finding], rules: Sequence[Rule] = ()) -> str:
    document = {
        "findings": [finding.to_json() for finding in findings],
        "summary": summarize(findings).to_json(),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

"""SARIF 2.1.0 report for code-scanning upload. Deterministic: no timestamps or machine
details; rules sorted by id, results in the order of the findings (path, line, rule)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import deploysmith
from deploysmith.audit.base import Rule
from deploysmith.audit.ci.summary import PipelineSummary
from deploysmith.audit.rules_index import all_rules, help_path
from deploysmith.model import Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def render(
    findings: Sequence[Finding],
    rules: Sequence[Rule] | None = None,
    *,
    help_base: str = "",
    pipelines: Sequence[PipelineSummary] | None = None,
) -> str:
    """`rules`: the rules to describe (all of them when None). `help_base` prefixes each
    rule's docs/rules/<ID>.md in helpUri; give an absolute base (a repository URL ending in
    "/blob/<ref>/") for links that resolve outside the checkout. `pipelines` go into the run's
    property bag (`properties.pipelines`), as in the JSON report."""
    described = sorted(all_rules() if rules is None else rules, key=lambda rule: rule.id)
    index = {rule.id: position for position, rule in enumerate(described)}
    document: dict[str, Any] = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "deploysmith",
                        "version": deploysmith.__version__,
                        "rules": [_descriptor(rule, help_base) for rule in described],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_result(finding, index) for finding in findings],
            }
        ],
    }
    if pipelines is not None:
        document["runs"][0]["properties"] = {"pipelines": [p.to_json() for p in pipelines]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _descriptor(rule: Rule, help_base: str) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.slug,
        "shortDescription": {"text": rule.summary},
        "helpUri": f"{help_base}{help_path(rule.id)}",
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
    }


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {"ruleId": finding.rule}
    if finding.rule in index:
        result["ruleIndex"] = index[finding.rule]
    result["level"] = _LEVELS[finding.severity]
    result["message"] = {"text": finding.message}
    artifact = {"uri": quote(finding.path, safe="/"), "uriBaseId": "%SRCROOT%"}
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if finding.line is not None:
        region: dict[str, Any] = {"startLine": finding.line}
        if finding.column is not None:
            region["startColumn"] = finding.column
        physical["region"] = region
    result["locations"] = [{"physicalLocation": physical}]
    return result

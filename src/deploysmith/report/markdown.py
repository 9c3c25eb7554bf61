"""Markdown report for pull-request comments: a heading with the counts and one table row
per finding, the rule linked to its documentation page."""

from __future__ import annotations

from collections.abc import Sequence

from deploysmith.audit.base import Rule
from deploysmith.audit.ci.summary import PipelineSummary
from deploysmith.audit.rules_index import help_path
from deploysmith.model import Finding
from deploysmith.report.pipelines import markdown_lines
from deploysmith.report.summary import summarize
from deploysmith.report.text import location

_ICONS = {"error": "🔴 error", "warning": "🟡 warning", "info": "🔵 info"}


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def render(
    findings: Sequence[Finding],
    rules: Sequence[Rule] = (),
    *,
    help_base: str = "",
    pipelines: Sequence[PipelineSummary] | None = None,
) -> str:
    """`help_base` prefixes the docs/rules links (e.g. a repository URL ending in "/blob/main/");
    the pipeline-coverage tables (when given) follow the findings."""
    summary = summarize(findings)
    lines = [f"### deploysmith audit: {summary.sentence()}", ""]
    if not findings:
        return "\n".join(lines + markdown_lines(pipelines or ()))
    slugs = {rule.id: rule.slug for rule in rules}
    lines += ["| Severity | Rule | Location | Message |", "| --- | --- | --- | --- |"]
    for f in findings:
        rule = f"[{f.rule}]({help_base}{help_path(f.rule)})"
        if f.rule in slugs:
            rule += f" `{slugs[f.rule]}`"
        lines.append(f"| {_ICONS[f.severity]} | {rule} | `{_cell(location(f))}` | {_cell(f.message)} |")
    lines.append("")
    lines.extend(markdown_lines(pipelines or ()))
    return "\n".join(lines)

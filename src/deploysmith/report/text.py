"""Plain-text report: `path:line:col: severity: message [RULE-ID]`, one block per file,
then a summary line. Colour only when the caller asks for it."""

from __future__ import annotations

from collections.abc import Sequence

from deploysmith.audit.base import Rule
from deploysmith.audit.ci.summary import PipelineSummary
from deploysmith.model import Finding
from deploysmith.report.pipelines import text_lines
from deploysmith.report.summary import summarize

_COLOURS = {"error": "\033[1;31m", "warning": "\033[33m", "info": "\033[36m"}
_DIM, _BOLD, _RESET = "\033[2m", "\033[1m", "\033[0m"


def location(finding: Finding) -> str:
    parts = [finding.path]
    if finding.line is not None:
        parts.append(str(finding.line))
        if finding.column is not None:
            parts.append(str(finding.column))
    return ":".join(parts)


def render(
    findings: Sequence[Finding],
    rules: Sequence[Rule] = (),
    *,
    color: bool = False,
    pipelines: Sequence[PipelineSummary] | None = None,
) -> str:
    """The findings grouped by file, then the pipeline-coverage section (when given), then
    the summary line."""
    lines: list[str] = []
    previous: str | None = None
    for finding in findings:
        if previous is not None and finding.path != previous:
            lines.append("")
        previous = finding.path
        severity: str = finding.severity
        rule = f"[{finding.rule}]"
        where = f"{location(finding)}:"
        if color:
            severity = f"{_COLOURS[finding.severity]}{severity}{_RESET}"
            rule = f"{_DIM}{rule}{_RESET}"
            where = f"{_BOLD}{where}{_RESET}"
        lines.append(f"{where} {severity}: {finding.message} {rule}")
    if lines:
        lines.append("")
    lines.extend(text_lines(pipelines or ()))
    lines.append(summarize(findings).sentence())
    return "\n".join(lines) + "\n"

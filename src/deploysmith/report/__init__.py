"""Reports: findings (and the rules they refer to) rendered as text. No printing here;
the command layer writes what these return.

    render(fmt, findings, rules, color=False, pipelines=None) -> str    fmt in FORMATS
        pipelines: each CI/CD pipeline's coverage of the nine stages and duration estimate
        (AuditReport.pipelines); the text and Markdown reports print a section for them, the
        JSON report a top-level "pipelines" list, SARIF the run's properties. None: no section.
    format_text / format_json / format_sarif / format_markdown   one format each
"""

from __future__ import annotations

from collections.abc import Sequence

from deploysmith.audit.base import Rule
from deploysmith.audit.ci.summary import PipelineSummary
from deploysmith.audit.rules_index import all_rules
from deploysmith.errors import DeploysmithError
from deploysmith.model import Finding
from deploysmith.report import json, markdown, sarif, text

FORMATS: tuple[str, ...] = ("text", "json", "sarif", "markdown")


def render(
    fmt: str,
    findings: Sequence[Finding],
    rules: Sequence[Rule] | None = None,
    *,
    color: bool = False,
    help_base: str = "",
    pipelines: Sequence[PipelineSummary] | None = None,
) -> str:
    described = all_rules() if rules is None else rules
    if fmt == "text":
        return text.render(findings, described, color=color, pipelines=pipelines)
    if fmt == "json":
        return json.render(findings, described, pipelines=pipelines)
    if fmt == "sarif":
        return sarif.render(findings, described, help_base=help_base, pipelines=pipelines)
    if fmt == "markdown":
        return markdown.render(findings, described, help_base=help_base, pipelines=pipelines)
    raise DeploysmithError(f"--format {fmt}: use one of {', '.join(FORMATS)}")


def format_text(
    findings: Sequence[Finding], rules: Sequence[Rule] | None = None, *, color: bool = False
) -> str:
    return render("text", findings, rules, color=color)


def format_json(findings: Sequence[Finding]) -> str:
    return render("json", findings)


def format_sarif(
    findings: Sequence[Finding], rules: Sequence[Rule] | None = None, *, help_base: str = ""
) -> str:
    return render("sarif", findings, rules, help_base=help_base)


def format_markdown(
    findings: Sequence[Finding], rules: Sequence[Rule] | None = None, *, help_base: str = ""
) -> str:
    return render("markdown", findings, rules, help_base=help_base)


__all__ = ["FORMATS", "format_json", "format_markdown", "format_sarif", "format_text", "render"]

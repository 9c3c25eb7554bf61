"""Reports: findings (and the rules they refer to) rendered as text. No printing here;
the command layer writes what these return.

    render(fmt, findings, rules, color=False) -> str    fmt in FORMATS
"""

from __future__ import annotations

from collections.abc import Sequence

from deploysmith.audit.base import Rule
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
) -> str:
    described = all_rules() if rules is None else rules
    if fmt == "text":
        return text.render(findings, described, color=color)
    if fmt == "json":
        return json.render(findings, described)
    if fmt == "sarif":
        return sarif.render(findings, described, help_base=help_base)
    if fmt == "markdown":
        return markdown.render(findings, described, help_base=help_base)
    raise DeploysmithError(f"--format {fmt}: use one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "render"]

"""Rules about the audit itself: files it could not read, suppressions it cannot honour well.

The engine collects both while it reads the set (FileSet.problems, FileSet.suppressions);
these rules report them so they can be configured like any other rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from deploysmith.audit.base import FileSet, Hit, Rule, Suppression, TextFile

# `# deploysmith: ignore[DS-K8S-001, DS-K8S-002] reason`, also in <!-- --> and // comments.
_SUPPRESSION = re.compile(r"(?:#|<!--|//)\s*deploysmith:\s*ignore\[([^\]]*)\](.*)$")
_COMMENT_LINE = re.compile(r"^\s*(?:#|<!--|//|-->|---\s*$|$)")


def applies_to(path: str) -> bool:
    return False  # reads what the engine has already parsed


def suppressions(file: TextFile) -> list[Suppression]:
    """The inline suppressions of one file."""
    if "deploysmith:" not in file.text:
        return []
    found: list[Suppression] = []
    in_header = True
    for number, line in enumerate(file.text.splitlines(), start=1):
        match = _SUPPRESSION.search(line)
        in_header = in_header and (bool(_COMMENT_LINE.match(line)) or number == 1 and line.startswith("#!"))
        if match is None:
            continue
        rules = tuple(part.strip() for part in match.group(1).split(",") if part.strip())
        reason = match.group(2).replace("-->", "").strip().lstrip("-:—").strip()
        found.append(Suppression(file.path, number, rules, reason, in_header))
    return found


def _cannot_parse(fs: FileSet) -> Iterator[Hit]:
    return iter(fs.problems)


def _no_reason(fs: FileSet) -> Iterator[Hit]:
    for item in fs.suppressions:
        if not item.reason:
            yield Hit(
                item.path,
                item.line,
                f"suppression of {', '.join(item.rules) or 'nothing'} gives no reason; say why after the "
                "bracket so a reviewer can judge it",
            )


def _unknown_rule(fs: FileSet) -> Iterator[Hit]:
    for item in fs.suppressions:
        unknown = [rule for rule in item.rules if rule not in fs.known_rules]
        if unknown or not item.rules:
            yield Hit(
                item.path,
                item.line,
                f"suppression names unknown rule {', '.join(unknown) or '(none)'}; "
                "`deploysmith rules` lists the ids",
            )


def _chart_not_rendered(fs: FileSet) -> Iterator[Hit]:
    return iter(fs.chart_notices)


RULES: tuple[Rule, ...] = (
    Rule("DS-META-001", "suppression-without-reason", "warning",
         "An inline suppression gives no reason.", _no_reason),
    Rule("DS-META-002", "cannot-parse", "error",
         "A deployment file cannot be read or parsed, so no other rule checked it.", _cannot_parse),
    Rule("DS-META-003", "suppression-unknown-rule", "warning",
         "An inline suppression names a rule that does not exist.", _unknown_rule),
    Rule("DS-META-004", "helm-chart-not-rendered", "info",
         "A Helm chart or its subcharts were not rendered, so their templates were not checked.",
         _chart_not_rendered),
)

# Findings of these rules cannot themselves be suppressed inline.
UNSUPPRESSIBLE = frozenset({"DS-META-001", "DS-META-003"})

"""Documentation rules: the pages a team needs on a bad day.

Applies to Markdown files. DS-DOCS-001 looks at the repository as a whole and runs only
in audit mode (a rendered kit is checked by its own pages); DS-DOCS-002 reads runbooks.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from deploysmith.audit.base import FileSet, Hit, Rule

_DEPLOY_DOC_NAMES = frozenset({"deployment.md", "deploy.md", "deploying.md", "runbook.md"})
_DEPLOY_DOC_DIR = re.compile(r"(?:^|/)docs/deploy[^/]*/")
_ATX = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ROLLBACK = re.compile(r"roll(?:ing|ed)?[\s-]?back|revert", re.IGNORECASE)


def applies_to(path: str) -> bool:
    return path.lower().endswith(".md")


def _is_deploy_doc(path: str) -> bool:
    lower = path.lower()
    return posixpath.basename(lower) in _DEPLOY_DOC_NAMES or bool(
        _DEPLOY_DOC_DIR.search(lower) and lower.endswith(".md")
    )


def _is_runbook(path: str) -> bool:
    name = posixpath.basename(path).lower()
    return name.startswith("runbook") and name.endswith(".md")


def headings_of(text: str) -> list[str]:
    """The Markdown headings (ATX and setext) outside fenced code blocks."""
    headings: list[str] = []
    fence: str | None = None
    previous = ""
    for line in text.splitlines():
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            previous = ""
            continue
        if opening:
            fence = opening.group(1)
            previous = ""
            continue
        atx = _ATX.match(line)
        if atx:
            headings.append(atx.group(1))
        elif previous.strip() and _SETEXT_UNDERLINE.match(line):
            headings.append(previous.strip())
        previous = line
    return headings


def _missing_docs(fs: FileSet) -> Iterator[Hit]:
    if fs.mode != "audit" or any(_is_deploy_doc(path) for path in fs.paths):
        return
    deployment = sorted(
        {df.path for df in fs.dockerfiles}
        | {wf.path for wf in fs.workflows}
        | {obj.path for obj in fs.objects if obj.pod is not None}
    )
    if not deployment:
        return
    shown = ", ".join(deployment[:3]) + (f" and {len(deployment) - 3} more" if len(deployment) > 3 else "")
    yield Hit(
        deployment[0],
        None,
        f"the repository deploys ({shown}) but has no deployment docs; add docs/deploy/DEPLOYMENT.md "
        "(how a release ships) and RUNBOOK.md (what to do when it breaks)",
    )


def _runbook_rollback(fs: FileSet) -> Iterator[Hit]:
    for file in fs.texts:
        if not _is_runbook(file.path):
            continue
        headings = headings_of(file.text)
        if not any(_ROLLBACK.search(heading) for heading in headings):
            yield Hit(
                file.path,
                None,
                "the runbook has no rollback section; add one with the exact commands to return to the "
                "previous release and how to confirm it worked",
            )


RULES: tuple[Rule, ...] = (
    Rule("DS-DOCS-001", "docs-missing-deployment-docs", "warning",
         "The repository has deployment files but no deployment docs or runbook.", _missing_docs),
    Rule("DS-DOCS-002", "docs-runbook-no-rollback", "warning",
         "A runbook has no rollback section.", _runbook_rollback),
)

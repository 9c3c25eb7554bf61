"""Documentation rules: the pages a team needs on a bad day.

Applies to Markdown files. DS-DOCS-001 looks at the repository as a whole and runs only
in audit mode (a rendered kit is checked by its own pages); DS-DOCS-002 reads runbooks.
"""

from __future__ import annotations

import posixpath
import re
from typing import Iterator

from deploysmith.audit.base import FileSet, Hit, Rule

_DEPLOY_DOC_NAMES = frozenset({"deployment.md", "deploy.md", "deploying.md", "runbook.md"})
_DEPLOY_DOC_DIR = re.compile(r"(?:^|/)docs/deploy[^/]*/")
_HEADING = re.compile(r"^(?:#{1,6}[ \t]+(?P<atx>.+?)[ \t#]*$|(?P<setext>[^\n]+)\n(?:=+|-+)[ \t]*$)", re.MULTILINE)
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
        headings = (match.group("atx") or match.group("setext") or "" for match in _HEADING.finditer(file.text))
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

"""A plain static site: an index.html at the folder root and no package manager.

Served as it is (no build). ASSETS strength, so a server in the same folder always wins;
the core also drops it when it sits inside another component's folder (templates, a
server's public files).
"""

from __future__ import annotations

import re

from deploysmith.detect import common
from deploysmith.detect.base import Detection, Strength
from deploysmith.detect.common import Facts
from deploysmith.repo import Repo, join

MARKERS: tuple[str, ...] = ("index.html", "index.htm")

# Folders whose index.html is a template, a report or a server's asset, not a site.
_NOT_SITES = frozenset(
    {"templates", "template", "views", "layouts", "partials", "htmlcov", "coverage", "_layouts"}
)


def detect(repo: Repo, directory: str) -> Detection | None:
    names = set(common.names_in(repo, directory))
    index = next((name for name in MARKERS if name in names), None)
    if index is None or "package.json" in names:
        return None
    if directory.rsplit("/", 1)[-1] in _NOT_SITES:
        return None
    rel = join(directory, index)
    text = repo.read_text(rel)
    if text is None or re.search(r"\{\{|\{%|<\?php|<%", text):  # a server-side template
        return None
    facts = Facts()
    facts.set("build_output", ".", repo.evidence(rel, re.compile(r"<html|<!doctype", re.I)))
    return Detection(components=(facts.component(directory, "static", None),), strength=Strength.ASSETS)

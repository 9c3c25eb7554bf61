"""Pages with an example per CI platform: each problematic file raises the rule on its own
(not just the set of them), and each correct file does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploysmith.audit import FAMILIES, audit_files
from tests.audit.test_rule_docs import PAGES, parse_page

MULTI = [path for path in PAGES if path.stem.startswith(("DS-PIPE-", "DS-CI-"))]


@pytest.mark.parametrize("path", MULTI, ids=lambda path: path.stem)
def test_every_example_file_on_its_own(path: Path) -> None:
    page = parse_page(path.read_text(encoding="utf-8"))
    families = {page.family: FAMILIES[page.family]}
    for example in page.examples["Problematic"]:
        found = audit_files([example], mode="audit", families=families)
        assert page.rule_id in {f.rule for f in found}, example.path
    for example in page.examples["Correct"]:
        found = audit_files([example], mode="audit", families=families)
        assert page.rule_id not in {f.rule for f in found}, (example.path, found)

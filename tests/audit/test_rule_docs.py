"""Every rule has a page in docs/rules/, and every page's examples are run: the
problematic example must raise the rule's finding, the correct example must not."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploysmith.audit import FAMILIES, all_rules, audit_files, get_rule, rule_page
from deploysmith.audit.rules_index import family_of
from deploysmith.model import RenderedFile

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"
_TITLE = re.compile(r"^# (DS-[A-Z0-9]+-\d{3}): ([a-z0-9-]+)$")
_META = re.compile(r"^\*\*Severity:\*\* (error|warning|info) · \*\*Family:\*\* ([a-z]+)$")
_FENCE = re.compile(r"^(```|~~~)(\w*)(?: path=(\S+))?\s*$")


@dataclass
class Page:
    rule_id: str
    slug: str
    severity: str
    family: str
    summary: str
    sections: dict[str, str]
    examples: dict[str, list[RenderedFile]]


def parse_page(text: str) -> Page:
    lines = text.splitlines()
    title = _TITLE.match(lines[0])
    assert title, f"first line must be '# ID: slug', got {lines[0]!r}"
    assert lines[1] == ""
    meta = _META.match(lines[2])
    assert meta, f"third line must be the severity and family, got {lines[2]!r}"
    summary = lines[4]
    sections: dict[str, list[str]] = {}
    examples: dict[str, list[RenderedFile]] = {}
    current: str | None = None
    fence: tuple[str, str, list[str]] | None = None  # (marker, path, body)
    for line in lines[5:]:
        if fence is not None:
            if line == fence[0]:
                assert current is not None
                examples.setdefault(current, []).append(RenderedFile(fence[1], "\n".join(fence[2]) + "\n"))
                fence = None
            else:
                fence[2].append(line)
            continue
        opening = _FENCE.match(line)
        if opening and opening.group(3) and current in ("Problematic", "Correct"):
            fence = (opening.group(1), opening.group(3), [])
            continue
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
            continue
        if current is not None:
            sections[current].append(line)
    assert fence is None, "unclosed code fence"
    return Page(
        title.group(1),
        title.group(2),
        meta.group(1),
        meta.group(2),
        summary,
        {name: "\n".join(body).strip() for name, body in sections.items()},
        examples,
    )


PAGES = sorted(DOCS.glob("DS-*.md"))


def test_every_rule_has_a_page_and_every_page_a_rule() -> None:
    assert sorted(path.stem for path in PAGES) == sorted(rule.id for rule in all_rules())


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.stem)
def test_page_matches_its_rule(path: Path) -> None:
    page = parse_page(path.read_text(encoding="utf-8"))
    rule = get_rule(page.rule_id)
    assert page.rule_id == path.stem
    assert (page.slug, page.severity, page.family, page.summary) == (
        rule.slug,
        rule.severity,
        family_of(rule),
        rule.summary,
    )
    assert list(page.sections) == ["Why", "Problematic", "Correct", "Fix"]
    assert all(page.sections[name] for name in ("Why", "Fix"))
    assert page.examples.get("Problematic") and page.examples.get("Correct")


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.stem)
def test_examples(path: Path) -> None:
    page = parse_page(path.read_text(encoding="utf-8"))
    families = {page.family: FAMILIES[page.family]}

    bad = audit_files(page.examples["Problematic"], mode="audit", families=families)
    assert page.rule_id in {f.rule for f in bad}, bad
    good = audit_files(page.examples["Correct"], mode="audit", families=families)
    assert page.rule_id not in {f.rule for f in good}, good
    if page.rule_id != "DS-META-002":  # every other example parses
        assert "DS-META-002" not in {f.rule for f in bad + good}
        everything = audit_files(page.examples["Problematic"], mode="audit")
        assert "DS-META-002" not in {f.rule for f in everything}


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.stem)
def test_rule_page_reads_the_page(path: Path) -> None:
    assert rule_page(path.stem) == path.read_text(encoding="utf-8")

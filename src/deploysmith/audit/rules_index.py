"""The rule catalogue: every rule, one lookup, and each rule's documentation page.

The canonical pages are docs/rules/<ID>.md in the source checkout (DESIGN.md §2). They are
read from there: an editable install, a git checkout and the tests all have them. An
installation without the docs folder (a plain wheel) gets a short page built from the
rule's record, which names the full page.
"""

from __future__ import annotations

from pathlib import Path

from deploysmith.audit.base import Rule
from deploysmith.audit.engine import FAMILIES, family_rules
from deploysmith.errors import DeploysmithError

DOCS_DIR = Path(__file__).resolve().parents[3] / "docs" / "rules"
DOCS_PATH = "docs/rules"  # where the pages live in the repository, for links


def all_rules() -> tuple[Rule, ...]:
    """Every rule, sorted by id."""
    return tuple(sorted(family_rules(), key=lambda rule: rule.id))


def get_rule(name: str) -> Rule:
    """A rule by id (DS-K8S-003, any case) or slug (k8s-run-as-root)."""
    wanted = name.strip()
    for rule in family_rules():
        if rule.id == wanted.upper() or rule.slug == wanted.lower():
            return rule
    raise DeploysmithError(f"no rule named {name!r}; `deploysmith rules` lists them")


def family_of(rule: Rule) -> str:
    return next(name for name, module in FAMILIES.items() if rule in module.RULES)


def help_path(rule_id: str) -> str:
    return f"{DOCS_PATH}/{rule_id}.md"


def rule_page(name: str) -> str:
    """The Markdown page of a rule: docs/rules/<ID>.md, or a short page from the record."""
    rule = get_rule(name)
    page = DOCS_DIR / f"{rule.id}.md"
    try:
        return page.read_text(encoding="utf-8")
    except OSError:
        return (
            f"# {rule.id}: {rule.slug}\n\n"
            f"**Severity:** {rule.severity} · **Family:** {family_of(rule)}\n\n"
            f"{rule.summary}\n\n"
            f"The full page with examples is {help_path(rule.id)} in the deploysmith source.\n"
        )

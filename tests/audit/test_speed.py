"""The shortcuts that keep `deploysmith audit` fast give the same answers as the slow way."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploysmith.audit.ci.keywords import Keywords
from deploysmith.audit.engine import CONFIG_FILE, AuditConfig
from deploysmith.audit.parse import _Loader, load_yaml
from deploysmith.plan import requirements

_TEXTS = (
    "npm audit --audit-level=high",
    "NPM AUDIT",
    "Npm@2",
    "npm@2",
    "NPM@2",
    "run: trivy image app",
    "trivyx image",
    "xtrivy",
    "sonarqube-scan",
    "make",
    "make lint  ",
    "remake lint",
    "ſonar scan",  # ſ: IGNORECASE matches it with s, str.lower leaves it alone
    "TRIVY ✓",
    "\u212aubectl apply -f k8s/",  # the Kelvin sign: IGNORECASE matches it with k
    "",
)


@pytest.mark.parametrize(
    "keywords",
    [
        Keywords(r"trivy|npm audit|kubectl\b.*\bapply", starts=r"sonar|make(?: lint)?\s*$"),
        Keywords(anywhere=r"security/|-tags[= ]\S*integration", exact=r"Npm@\d|DotNetCoreCLI@\d"),
        Keywords(r"(?:npm|pnpm) (?:ci|install)", exact=r"^(?:Maven@\d|npm@\d)"),
    ],
)
def test_keywords_answer_as_the_ignorecase_pattern(keywords: Keywords) -> None:
    reference = re.compile(keywords.pattern, re.IGNORECASE)
    assert [keywords.search(text) for text in _TEXTS] == [bool(reference.search(text)) for text in _TEXTS]


def test_keyword_patterns_are_written_in_lower_case() -> None:
    with pytest.raises(ValueError, match="lower case"):
        Keywords(r"DotNetCoreCLI@")
    assert Keywords(r"a\S+b", anywhere=r"\W\D").search("A-B")


_YAML = """\
plain: text
ints: [1, 0x1f, 0o17, +3, -4, 1_000]
floats: [1.5, .inf, -.Inf, .nan, 6.8523015e+5]
bools: [yes, No, true, FALSE, on, Off]
nulls: [~, null, ]
dates: [2001-12-14, 2001-12-14t21:59:43.10-05:00]
quoted: ["1", '2', "yes"]
block: |
  line
base: &base {a: 1}
merged:
  <<: *base
  b: 2
=: value key
tagged: !custom 5
"""


def test_the_fast_resolver_gives_the_safe_loader_tags() -> None:
    def tags(loader: type) -> list[str]:
        out: list[str] = []

        def walk(node: yaml.Node) -> None:
            out.append(node.tag)
            if isinstance(node, yaml.SequenceNode):
                for item in node.value:
                    walk(item)
            elif isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    walk(key)
                    walk(value)

        root = yaml.compose(_YAML, Loader=loader)
        assert root is not None
        walk(root)
        return out

    safe = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    assert tags(_Loader) == tags(safe)
    assert load_yaml(_YAML)[0]["merged"] == {"a": 1, "b": 2}


def test_the_audit_reads_the_config_file_plan_reads(tmp_path: Path) -> None:
    assert CONFIG_FILE == requirements.CONFIG_FILE
    assert AuditConfig.load(tmp_path) == AuditConfig()
    (tmp_path / CONFIG_FILE).write_text("audit:\n  disable: [DS-DOCS-001]\n", encoding="utf-8")
    assert AuditConfig.load(tmp_path) == AuditConfig(disable=frozenset({"DS-DOCS-001"}))


def test_an_audit_run_does_not_import_the_plan_package(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.12-slim\nUSER app\n", encoding="utf-8")
    code = (
        "import sys; from deploysmith.cli import main; main(['audit', sys.argv[1], '--format', 'json']); "
        "print(sorted(m for m in sys.modules if m.startswith('deploysmith.plan')), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.stderr.strip().splitlines()[-1] == "[]"

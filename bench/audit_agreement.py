"""What checkov and hadolint flag on the benchmark corpus that `deploysmith audit` does not.

    python bench/audit_agreement.py RAW_DIR [--coverage docs/rules/COVERAGE.md]

RAW_DIR holds deploysmith.json, checkov.json and hadolint.json as bench/audit_speed.py
keeps them (--keep). The mapping from their check ids to our rule ids is the table in
docs/rules/COVERAGE.md (one source: the script reads it). For every check id they report,
the script prints, by family, how many files they flag, on how many of those files
deploysmith reports a mapped rule, and the mapping or the documented reason there is none.
A check id missing from COVERAGE.md is listed as UNEXPLAINED and the exit status is 1.

checkov's azure_pipelines and circleci_pipelines frameworks are not part of the timed run
(the issue compares the four frameworks above); for their agreement, run them too and put
both reports in one JSON list:
    BC_SKIP_MAPPING=TRUE checkov -d CORPUS --framework azure_pipelines circleci_pipelines \
        -o json --quiet --compact --skip-download > more.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_ROW = re.compile(r"^\|\s*(checkov|hadolint)\s*\|\s*`?([A-Z0-9_]+)`?\s*\|([^|]*)\|([^|]*)\|([^|]*)\|\s*$")
_RULE = re.compile(r"DS-[A-Z0-9]+-\d{3}")


def read_mapping(coverage: Path) -> dict[tuple[str, str], tuple[list[str], str]]:
    """(tool, check id) → (our rule ids, reason)."""
    mapping: dict[tuple[str, str], tuple[list[str], str]] = {}
    for line in coverage.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            tool, check, _what, ours, reason = (part.strip() for part in match.groups())
            mapping[(tool, check)] = (_RULE.findall(ours), reason)
    return mapping


def _relative(path: str, corpus: str) -> str:
    path = path.replace("\\", "/")
    if corpus and path.startswith(corpus):
        path = path[len(corpus) :]
    return path.lstrip("/")


def theirs(raw: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(tool, check id) → {family, name, files}."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    checkov = raw / "checkov.json"
    if checkov.exists() and checkov.stat().st_size:
        data = json.loads(checkov.read_text(encoding="utf-8"))
        for report in data if isinstance(data, list) else [data]:
            for failed in report.get("results", {}).get("failed_checks", []):
                entry = found.setdefault(
                    ("checkov", failed["check_id"]),
                    {"family": report.get("check_type", "?"), "name": failed["check_name"], "files": set()},
                )
                entry["files"].add(_relative(failed["file_path"], ""))
    hadolint = raw / "hadolint.json"
    if hadolint.exists() and hadolint.stat().st_size:
        for item in json.loads(hadolint.read_text(encoding="utf-8")):
            entry = found.setdefault(
                ("hadolint", item["code"]),
                {"family": "dockerfile", "name": item["message"][:70], "files": set()},
            )
            entry["files"].add(_corpus_relative(item["file"]))
    return found


def _corpus_relative(path: str) -> str:
    marker = "/corpus/"
    return path.split(marker, 1)[1] if marker in path else path.lstrip("/")


def ours(raw: Path) -> dict[str, set[str]]:
    """file → our rule ids reported on it."""
    rules: dict[str, set[str]] = defaultdict(set)
    for finding in json.loads((raw / "deploysmith.json").read_text(encoding="utf-8"))["findings"]:
        rules[finding["path"]].add(finding["rule"])
    return rules


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--coverage", type=Path, default=ROOT / "docs" / "rules" / "COVERAGE.md")
    args = parser.parse_args()
    mapping = read_mapping(args.coverage)
    reported = ours(args.raw)
    unexplained = 0
    by_family: dict[str, list[str]] = defaultdict(list)
    for (tool, check), entry in sorted(theirs(args.raw).items()):
        files = sorted(entry["files"])
        rules, reason = mapping.get((tool, check), ([], ""))
        matched = [f for f in files if reported.get(f, set()) & set(rules)] if rules else []
        if (tool, check) not in mapping:
            unexplained += 1
            verdict = "UNEXPLAINED (add it to docs/rules/COVERAGE.md)"
        elif rules:
            verdict = f"-> {', '.join(rules)}: {len(matched)}/{len(files)} of their files" + (
                f" ({reason})" if reason else ""
            )
        else:
            verdict = f"no rule: {reason}"
        by_family[entry["family"]].append(f"  {tool:8} {check:14} {len(files):4} files  {verdict}")
    for family, lines in sorted(by_family.items()):
        print(f"{family}:")
        print("\n".join(lines))
    print(f"{unexplained} unexplained check ids")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())

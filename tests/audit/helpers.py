"""Run one rule family over in-memory files."""

from __future__ import annotations

from deploysmith.audit import FAMILIES, audit_files
from deploysmith.model import Finding, RenderedFile


def run_family(family: str, files: dict[str, str], mode: str = "verify") -> tuple[Finding, ...]:
    rendered = [RenderedFile(path, text) for path, text in files.items()]
    return audit_files(
        rendered, mode="verify" if mode == "verify" else "audit", families={family: FAMILIES[family]}
    )


def hits(
    family: str, files: dict[str, str], rule: str | None = None, mode: str = "verify"
) -> list[tuple[str, int | None]]:
    return [(f.rule, f.line) for f in run_family(family, files, mode) if rule is None or f.rule == rule]

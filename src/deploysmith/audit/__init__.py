"""Audit: the rules engine behind `deploysmith audit PATH` and the `verify` gate.

    verify(files)                  rendered files in memory → findings (before any write)
    audit_repo(repo, config)       a repository → findings
    audit_report(repo, config)     a repository → findings and each CI/CD pipeline's coverage
    exit_code(findings, fail_on)   0 clean, 1 findings at or above fail_on
    all_rules(), rule_page(id)     the catalogue and each rule's documentation page

Rules live in one module per family, listed in engine.FAMILIES; see base.py for the
contract and docs/rules/<ID>.md for each rule.
"""

from __future__ import annotations

from deploysmith.audit.base import FileSet, Hit, Rule
from deploysmith.audit.engine import (
    FAMILIES,
    AuditConfig,
    AuditReport,
    audit_files,
    audit_repo,
    audit_report,
    exit_code,
    verify,
)
from deploysmith.audit.rules_index import all_rules, get_rule, help_path, rule_page

__all__ = [
    "FAMILIES",
    "AuditConfig",
    "AuditReport",
    "FileSet",
    "Hit",
    "Rule",
    "all_rules",
    "audit_files",
    "audit_repo",
    "audit_report",
    "exit_code",
    "get_rule",
    "help_path",
    "rule_page",
    "verify",
]

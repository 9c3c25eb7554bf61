"""What the CI platform tests share (GitLab CI, Azure Pipelines, Jenkins, CircleCI): the
golden cases, the matrix the judges run over, and the judges themselves (check-jsonschema's
vendor schemas, shellcheck over every extracted script, the project's own audit).

Regenerate the golden files with DEPLOYSMITH_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deploysmith.model import Plan, RenderedFile
from tests.sample_plans import STACKS, sample_plan

GOLDEN_ROOT = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DEPLOYSMITH_UPDATE_GOLDEN") == "1"

# name → requirement overrides: every sample plan, GitOps, a monorepo, dev/prod only.
GOLDEN_CASES: dict[str, dict[str, Any]] = {
    **{name: {} for name in STACKS},
    "fastapi-postgres-gitops": {"gitops": True},
    "monorepo-gitops": {"gitops": True},
    "express-dev-prod": {"environments": ("dev", "prod")},
    "express-prod-only": {"environments": ("prod",)},
    "django-celery-registry": {"registry": "registry.example.com/shop"},
}

ENV_SETS: dict[str, tuple[str, ...]] = {
    "all": ("dev", "staging", "prod"),
    "dev-prod": ("dev", "prod"),
    "prod-only": ("prod",),
    "no-prod": ("dev", "staging"),
}
MATRIX: dict[str, tuple[str, dict[str, Any]]] = {
    f"{name}-{'gitops' if gitops else 'imperative'}-{env_id}": (
        name,
        {"gitops": gitops, "environments": envs},
    )
    for name in STACKS
    for gitops in (False, True)
    for env_id, envs in ENV_SETS.items()
}


def stack_of(case: str) -> str:
    return next(name for name in sorted(STACKS, key=len, reverse=True) if case.startswith(name))


@functools.cache
def golden_plan(case: str) -> Plan:
    return sample_plan(stack_of(case), **GOLDEN_CASES[case])


@functools.cache
def matrix_plan(case: str) -> Plan:
    name, requirements = MATRIX[case]
    return sample_plan(name, **requirements)


def check_golden(folder: str, case: str, rendered: RenderedFile, suffix: str) -> None:
    path = GOLDEN_ROOT / folder / f"{case}{suffix}"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered.content, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with DEPLOYSMITH_UPDATE_GOLDEN=1"
    assert rendered.content == path.read_text(encoding="utf-8")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return path


def only(module: ModuleType, plan: Plan) -> RenderedFile:
    (rendered,) = module.render(plan)
    assert isinstance(rendered, RenderedFile)
    return rendered


def write_matrix(module: ModuleType, root: Path, name: Callable[[str], str]) -> dict[str, Path]:
    """Render every matrix case (and golden case) into root; case → file."""
    files: dict[str, Path] = {}
    cases = {**{c: matrix_plan(c) for c in MATRIX}, **{f"golden-{c}": golden_plan(c) for c in GOLDEN_CASES}}
    for case, plan in cases.items():
        path = root / name(case)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(only(module, plan).content, encoding="utf-8")
        files[case] = path
    return files


def check_jsonschema(schema: str, files: Iterable[Path], *extra: str) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with a builtin schema over the files, in two processes side by side;
    one result whose return code is the worse of the two."""
    binary = tool("check-jsonschema")
    paths = [str(path) for path in files]
    half = (len(paths) + 1) // 2
    running = [
        subprocess.Popen(
            [binary, "--builtin-schema", schema, *extra, *chunk],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for chunk in (paths[:half], paths[half:])
        if chunk
    ]
    outputs = [process.communicate() for process in running]
    code = max(process.returncode for process in running)
    return subprocess.CompletedProcess(
        [binary, schema], code, "".join(out for out, _ in outputs), "".join(err for _, err in outputs)
    )


def shellcheck(scripts: dict[str, str], root: Path) -> dict[str, list[str]]:
    """Run shellcheck over many scripts (name → text), each distinct text once, two processes
    side by side; name → its findings."""
    binary = tool("shellcheck")
    root.mkdir(parents=True, exist_ok=True)
    names: dict[str, list[str]] = {}
    for name, text in scripts.items():
        names.setdefault(text, []).append(name)
    paths: dict[str, str] = {}
    for index, text in enumerate(names):
        path = root / f"{index:05d}.sh"
        path.write_text(text, encoding="utf-8")
        paths[str(path)] = text
    batch = list(paths)
    half = (len(batch) + 1) // 2
    running = [
        subprocess.Popen(
            [binary, "--format", "json1", *chunk], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for chunk in (batch[:half], batch[half:])
        if chunk
    ]
    found: dict[str, list[str]] = {}
    for process in running:
        out, err = process.communicate()
        assert process.returncode in (0, 1), err
        for comment in json.loads(out or '{"comments": []}')["comments"]:
            for name in names[paths[comment["file"]]]:
                found.setdefault(name, []).append(
                    f"SC{comment['code']} line {comment['line']}: {comment['message']}"
                )
    return found


def audit(files: tuple[RenderedFile, ...]) -> list[dict[str, Any]]:
    from deploysmith.audit.engine import verify  # the rules `deploysmith init` gates on

    return [finding.to_json() for finding in verify(files)]


# The coverage rules that state the requirements: every stage, gates that block,
# an approval before production and a rollback after it.
COVERAGE_RULES = ("DS-PIPE-001", "DS-PIPE-002", "DS-PIPE-003", "DS-PIPE-004")


def audit_problems(files: tuple[RenderedFile, ...], all_environments: bool) -> list[dict[str, Any]]:
    """Error findings always; for a plan with every environment, the coverage findings too."""
    problems = []
    for finding in audit(files):
        if finding["severity"] == "error" or all_environments and finding["rule"] in COVERAGE_RULES:
            problems.append(finding)
    return problems


def image_refs_flow(text: str, image_vars: Iterable[str]) -> None:
    """Every deploy references the images by the variables Package set."""
    for variable in image_vars:
        assert re.search(r"\$\{" + variable + r"\}", text), variable


__all__ = [
    "ENV_SETS",
    "GOLDEN_CASES",
    "MATRIX",
    "UPDATE",
    "audit",
    "audit_problems",
    "check_golden",
    "check_jsonschema",
    "golden_plan",
    "matrix_plan",
    "only",
    "shellcheck",
    "tool",
    "write_matrix",
]

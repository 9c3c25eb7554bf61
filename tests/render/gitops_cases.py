"""What the GitOps and secrets tests share: sample plans, the CRD schemas of
../shared/schemas/crds, `kubectl kustomize` + `kubernetes-validate --strict` over overlays,
and golden files of the GitOps part of a kit.

Regenerate the golden files with DEPLOYSMITH_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from deploysmith.model import Plan
from deploysmith.render import render_kit
from tests.sample_plans import sample_plan

CRDS = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "crds"
GOLDEN = Path(__file__).parent / "golden" / "gitops"
UPDATE = os.environ.get("DEPLOYSMITH_UPDATE_GOLDEN") == "1"
KUBERNETES_VERSION = "1.34.0"
CORE_GROUPS = ("", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "kustomize.config.k8s.io")

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "flux-sops": (
        "fastapi-postgres",
        {"gitops": True, "gitops_tool": "flux", "secrets": "sops", "environments": ("dev", "staging", "prod")},
    ),
    "flux-eso-separate": (
        "django-celery",
        {"gitops": True, "gitops_tool": "flux", "secrets": "external-secrets", "gitops_repo": "separate"},
    ),
    "flux-sealed-dev-prod": (
        "monorepo",
        {"gitops": True, "gitops_tool": "flux", "secrets": "sealed-secrets", "environments": ("dev", "prod")},
    ),
    "argocd-eso": ("fastapi-postgres", {"gitops": True, "secrets": "external-secrets"}),
    "argocd-sealed-separate": (
        "django-celery",
        {"gitops": True, "secrets": "sealed-secrets", "gitops_repo": "separate"},
    ),
    "imperative-sealed": ("fastapi-postgres", {"secrets": "sealed-secrets"}),
}


@functools.cache
def plan_for(case: str) -> Plan:
    name, overrides = CASES[case]
    return sample_plan(name, **overrides)


@functools.cache
def kit(case: str) -> Mapping[str, str]:
    return {file.path: file.content for file in render_kit(plan_for(case))}


def documents(files: Mapping[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, content in sorted(files.items()):
        if not path.endswith((".yaml", ".yml")) or path.startswith("."):
            continue
        for doc in yaml.safe_load_all(content):
            if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc:
                yield path, doc


def custom(doc: dict[str, Any]) -> bool:
    group = doc["apiVersion"].rpartition("/")[0]
    return group not in CORE_GROUPS and "." in group


@functools.cache
def _schema(group: str, kind: str, version: str) -> dict[str, Any]:
    path = CRDS / group / f"{kind.lower()}_{version}.json"
    assert path.is_file(), f"no CRD schema {path}"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def crd_errors(doc: dict[str, Any]) -> list[str]:
    group, _, version = doc["apiVersion"].rpartition("/")
    validator = jsonschema.Draft7Validator(_schema(group, doc["kind"], version))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def write(files: Mapping[str, str], root: Path) -> Path:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return root


def build_and_validate(root: Path, folders: list[Path], tmp: Path) -> list[tuple[str, dict[str, Any]]]:
    """`kubectl kustomize` each folder; core kinds through kubernetes-validate --strict;
    the custom resources returned for CRD validation."""
    kubectl, validate = tool("kubectl"), tool("kubernetes-validate")
    customs: list[tuple[str, dict[str, Any]]] = []
    for folder in folders:
        built = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False)
        assert built.returncode == 0, f"{folder}: {built.stderr}"
        docs = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
        customs += [(str(folder.relative_to(root)), doc) for doc in docs if custom(doc)]
        core = [doc for doc in docs if not custom(doc)]
        if not core:
            continue
        target = tmp / (str(folder.relative_to(root)).replace("/", "_") + ".yaml")
        target.write_text(yaml.safe_dump_all(core), encoding="utf-8")
        result = subprocess.run(
            [validate, "--strict", "--kubernetes-version", KUBERNETES_VERSION, "--quiet", str(target)],
            capture_output=True, text=True, check=False,
        )
        assert result.returncode == 0 and "ERROR" not in result.stdout, f"{folder}: {result.stdout}{result.stderr}"
    return customs


def gitops_part(files: Mapping[str, str]) -> dict[str, str]:
    """The files this feature owns: deploy/gitops/, the secrets folders, .sops.yaml."""
    return {
        path: content
        for path, content in files.items()
        if path.startswith("deploy/gitops/") or "/secrets/" in path or path == ".sops.yaml"
    }


def check_golden(case: str, files: Mapping[str, str]) -> None:
    folder = GOLDEN / case
    if UPDATE:
        shutil.rmtree(folder, ignore_errors=True)
        write(files, folder)
    expected = {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
        for path in folder.rglob("*")
        if path.is_file()
    }
    assert expected == dict(files)


def new_findings(case: str) -> list[dict[str, Any]]:
    """verify() findings of the kit that the same app without GitOps and secrets does not
    have: what this feature adds must be clean (pipeline-wide rules are other tests' job)."""
    from deploysmith.audit.engine import verify
    from deploysmith.model import RenderedFile

    name, overrides = CASES[case]
    baseline_plan = sample_plan(name, environments=overrides.get("environments", ("dev", "staging", "prod")))
    baseline = {(f.rule, f.path, f.message) for f in verify(render_kit(baseline_plan))}
    files = tuple(RenderedFile(path, content) for path, content in kit(case).items())
    return [f.to_json() for f in verify(files) if (f.rule, f.path, f.message) not in baseline]

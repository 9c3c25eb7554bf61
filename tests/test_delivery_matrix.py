"""strategy × progressive delivery × traffic router × example app × GitOps (none, Argo CD), packaging
kustomize: every kit's deploy/ tree renders, its custom resources validate against their CRD schemas, and the
audit finds nothing the rolling kit does not. A covering subset (each strategy, controller and
router at least once) is also built with `kubectl kustomize` and checked with
`kubernetes-validate --strict` (marked `judges`)."""

from __future__ import annotations

import functools
import itertools
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.audit import verify
from deploysmith.detect import detect_path
from deploysmith.model import Finding, Plan, Requirements, Stack
from deploysmith.plan import build_plan
from deploysmith.render import kustomize, render_kit
from tests.render.test_rollouts import custom_resources, schema_errors

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").iterdir() if p.is_dir())
STRATEGIES = ("canary", "blue-green", "ab-testing")
CONTROLLERS = ("argo-rollouts", "flagger")
ROUTERS = ("nginx", "istio", "gateway-api")
GITOPS = (False, True)
KUBERNETES_VERSION = "1.34.0"


@functools.cache
def stack(example: str) -> Stack:
    found = detect_path(ROOT / "examples" / example)
    return replace(found, git_remote=f"github.com/acme/{example}")


def plan_for(example: str, strategy: str, controller: str, router: str, gitops: bool) -> Plan:
    requirements = replace(
        Requirements(), strategy=strategy, progressive_delivery=controller, traffic_router=router, gitops=gitops
    )
    return build_plan(stack(example), requirements)


@functools.cache
def baseline(example: str, gitops: bool) -> frozenset[Finding]:
    return frozenset(verify(kustomize.render(plan_for(example, "rolling", "argo-rollouts", "nginx", gitops))))


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("gitops", GITOPS, ids=["imperative", "argocd"])
def test_every_combination_renders_validates_and_passes_the_audit(example: str, gitops: bool) -> None:
    failures: list[str] = []
    for strategy, controller, router in itertools.product(STRATEGIES, CONTROLLERS, ROUTERS):
        label = f"{strategy}/{controller}/{router}"
        plan = plan_for(example, strategy, controller, router, gitops)
        files = kustomize.render(plan)  # the CI files of each strategy: tests/render/test_rollouts.py
        contents = {f.path: f.content for f in files}
        for path, doc in custom_resources(contents):
            failures += [f"{label} {path}: {error}" for error in schema_errors(doc)]
        known = baseline(example, gitops)
        failures += [f"{label} {f.rule} {f.path}: {f.message}" for f in verify(files) if f not in known]
    assert failures == []


# Each strategy, controller and router at least once, on apps with and without a worker.
COVERING = [
    ("django-celery", "canary", "argo-rollouts", "nginx"),
    ("fastapi-postgres", "blue-green", "argo-rollouts", "istio"),
    ("express", "ab-testing", "argo-rollouts", "gateway-api"),
    ("go-api", "canary", "flagger", "istio"),
    ("nextjs", "ab-testing", "flagger", "nginx"),
    ("spring-boot-maven", "blue-green", "flagger", "gateway-api"),
]


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return path


@pytest.mark.judges
@pytest.mark.parametrize(("example", "strategy", "controller", "router"), COVERING)
def test_covering_overlays_build_and_core_kinds_validate(
    example: str, strategy: str, controller: str, router: str, tmp_path: Path
) -> None:
    kubectl, validate = tool("kubectl"), tool("kubernetes-validate")
    plan = plan_for(example, strategy, controller, router, False)
    for rendered in render_kit(plan):
        if rendered.path.startswith("deploy/"):
            target = tmp_path / rendered.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rendered.content)
    for env in plan.environments:
        overlay = tmp_path / "deploy" / "overlays" / env.name
        built = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=False)
        assert built.returncode == 0, f"{overlay}: {built.stderr}"
        docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(built.stdout) if d]
        core = [d for d in docs if "." not in d["apiVersion"].split("/")[0] or "k8s.io/" in d["apiVersion"]
                and "gateway.networking" not in d["apiVersion"]]
        for doc in docs:
            if doc not in core:
                assert schema_errors(doc) == [], f"{env.name} {doc['kind']} {doc['metadata']['name']}"
        target = tmp_path / f"{env.name}.yaml"
        target.write_text(yaml.safe_dump_all(core))
        result = subprocess.run(
            [validate, "--strict", "--kubernetes-version", KUBERNETES_VERSION, "--quiet", str(target)],
            capture_output=True, text=True, check=False,
        )
        assert result.returncode == 0 and "ERROR" not in result.stdout, result.stdout + result.stderr

"""Argo Rollouts and Flagger resources: golden kits for one canary and one blue/green plan,
every custom resource against its CRD schema, and the CI / runbook commands.

Regenerate the golden files with DEPLOYSMITH_UPDATE_GOLDEN=1 and read the diff.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.audit import verify
from deploysmith.model import Plan, Requirements
from deploysmith.plan import build_plan
from deploysmith.render import progressive, render_kit, rollouts
from tests.sample_plans import STACKS

GOLDEN = Path(__file__).resolve().parent / "golden" / "rollouts"
CRDS = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "crds"
UPDATE = os.environ.get("DEPLOYSMITH_UPDATE_GOLDEN") == "1"
GOLDEN_CASES = {
    "express-canary": ("express", {"strategy": "canary"}),
    "fastapi-postgres-blue-green": ("fastapi-postgres", {"strategy": "blue-green", "double_capacity": True}),
}


def plan_for(app: str, **values: Any) -> Plan:
    return build_plan(STACKS[app], replace(Requirements(), **values))


def custom_resources(files: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """Every non-core document of the base (overlay documents are partial patches)."""
    found = []
    for path, content in sorted(files.items()):
        if not path.startswith("deploy/base/") or not path.endswith(".yaml"):
            continue
        for doc in yaml.safe_load_all(content):
            api = doc.get("apiVersion", "") if isinstance(doc, dict) else ""
            core = api.startswith(("kustomize.config.k8s.io", "networking.k8s.io", "autoscaling", "policy", "apps"))
            if "." in api.split("/")[0] and "/" in api and not core:
                found.append((path, doc))
    return found


@functools.cache
def _validator(api_version: str, kind: str) -> Any:
    import jsonschema

    group, version = api_version.split("/")
    schema_path = CRDS / group / f"{kind.lower()}_{version}.json"
    assert schema_path.exists(), f"no CRD schema for {api_version} {kind}"
    schema = json.loads(schema_path.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def schema_errors(doc: dict[str, Any]) -> list[str]:
    validator = _validator(doc["apiVersion"], doc["kind"])
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_kit(case: str) -> None:
    app, values = GOLDEN_CASES[case]
    files = {f.path: f.content for f in render_kit(plan_for(app, **values))}
    chosen = {
        path: content for path, content in files.items()
        if path.startswith(f"deploy/base/{app}/") or path == f"deploy/overlays/prod/{app}.yaml"
        or path == f"deploy/overlays/staging/{app}.yaml"
    }
    chosen["RUNBOOK-progressive.md"] = progressive.runbook_section(plan_for(app, **values))
    folder = GOLDEN / case
    for path, content in sorted(chosen.items()):
        target = folder / path
        if UPDATE:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        assert target.exists(), f"{target} is missing: run with DEPLOYSMITH_UPDATE_GOLDEN=1"
        assert content == target.read_text(), path
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert on_disk == sorted(chosen)


ROUTERS = ("nginx", "istio", "gateway-api")


@pytest.mark.parametrize("controller", ["argo-rollouts", "flagger"])
@pytest.mark.parametrize("router", ROUTERS)
@pytest.mark.parametrize("strategy", ["canary", "blue-green", "ab-testing"])
def test_custom_resources_match_their_crd_schemas(strategy: str, router: str, controller: str) -> None:
    plan = plan_for("django-celery", strategy=strategy, traffic_router=router, progressive_delivery=controller)
    files = {f.path: f.content for f in render_kit(plan)}
    resources = custom_resources(files)
    kinds = sorted({doc["kind"] for _, doc in resources})
    expected = {"argo-rollouts": {"Rollout", "AnalysisTemplate"}, "flagger": {"Canary"}}[controller]
    assert expected <= set(kinds)
    for path, doc in resources:
        assert schema_errors(doc) == [], f"{path} {doc['kind']}"
    assert new_findings(plan) == []


def new_findings(plan: Plan) -> list[Any]:
    """What the audit finds in this kit and not in the same kit with a rolling update (the
    files other features render are judged by their own tests)."""
    rolling = build_plan(plan.stack, replace(plan.requirements, strategy="rolling"))
    baseline = set(verify(render_kit(rolling)))
    return [finding for finding in verify(render_kit(plan)) if finding not in baseline]


def test_workloadref_rollout_keeps_the_template_in_a_scaled_down_deployment() -> None:
    files = {f.path: f.content for f in render_kit(plan_for("express", strategy="canary"))}
    deployment = yaml.safe_load(files["deploy/base/express/deployment.yaml"])
    rollout = yaml.safe_load(files["deploy/base/express/rollout.yaml"])
    hpa = yaml.safe_load(files["deploy/base/express/hpa.yaml"])
    assert deployment["spec"]["replicas"] == 0
    assert "replicas" not in rollout["spec"]
    assert rollout["spec"]["workloadRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "express"}
    assert rollout["spec"]["strategy"]["canary"]["dynamicStableScale"] is True
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                                             "name": "express"}


def test_analysis_guards_against_no_data() -> None:
    files = {f.path: f.content for f in render_kit(plan_for("express", strategy="canary"))}
    template = yaml.safe_load(files["deploy/base/express/analysistemplate.yaml"])
    success, latency = template["spec"]["metrics"]
    assert success["successCondition"] == (
        "len(result) == 0 || isNaN(result[0]) || result[0] >= 0.99"
    )
    assert success["failureCondition"] == "len(result) > 0 && !isNaN(result[0]) && !(result[0] >= 0.99)"
    assert latency["successCondition"] == "len(result) == 0 || isNaN(result[0]) || result[0] <= 0.5"
    assert success["initialDelay"] == "1m" and success["failureLimit"] == 2
    assert success["provider"]["prometheus"]["address"] == rollouts.PROMETHEUS_ADDRESS


def test_blue_green_promotes_by_hand_in_prod_only() -> None:
    plan = plan_for("express", strategy="blue-green")
    files = {f.path: f.content for f in render_kit(plan)}
    rollout = yaml.safe_load(files["deploy/base/express/rollout.yaml"])
    assert rollout["spec"]["strategy"]["blueGreen"]["autoPromotionEnabled"] is False
    staging = list(yaml.safe_load_all(files["deploy/overlays/staging/express.yaml"]))
    assert [d["spec"] for d in staging if d["kind"] == "Rollout"] == [
        {"strategy": {"blueGreen": {"autoPromotionEnabled": True}}}
    ]
    prod = list(yaml.safe_load_all(files["deploy/overlays/prod/express.yaml"]))
    assert [d for d in prod if d["kind"] == "Rollout"] == []


def test_ci_waits_and_rolls_back_through_argo_rollouts() -> None:
    plan = plan_for("django-celery", strategy="canary")
    assert progressive.ci_rollout_lines(plan, None) == [
        progressive.PLUGIN_CHECK,
        'kubectl argo rollouts status django-celery -n "${NAMESPACE}" --timeout 30m',
        'kubectl --namespace "${NAMESPACE}" rollout status deployment/django-celery-worker --timeout=10m',
    ]
    undo = progressive.ci_undo_lines(plan, {"django-celery": "IMAGE_DJANGO_CELERY"})
    assert undo is not None
    assert undo[-2:] == [
        'undo rollout django-celery "${IMAGE_DJANGO_CELERY}"',
        'undo deployment django-celery-worker "${IMAGE_DJANGO_CELERY}"',
    ]
    workflow = {f.path: f.content for f in render_kit(plan)}[".github/workflows/ci-cd.yml"]
    assert "kubectl argo rollouts status django-celery -n django-celery-prod --timeout 30m" in workflow
    assert 'kubectl argo rollouts abort "$2" --namespace "${NAMESPACE}"' in workflow
    assert "rollout status deployment/django-celery " not in workflow


@pytest.mark.parametrize("ci", ["github", "gitlab", "azure", "jenkins", "circleci"])
def test_every_ci_platform_gets_the_rollouts_commands(ci: str) -> None:
    plan = plan_for("express", strategy="blue-green", ci=ci)
    files = render_kit(plan)
    text = "\n".join(f.content for f in files if not f.path.startswith(("docs/", "deploy/")))
    assert "kubectl argo rollouts status express" in text
    assert "kubectl argo rollouts undo" in text
    assert "rollout status deployment/express " not in text


def test_rolling_kit_has_no_progressive_delivery() -> None:
    files = {f.path for f in render_kit(plan_for("express"))}
    assert "deploy/base/express/rollout.yaml" not in files
    assert progressive.runbook_section(plan_for("express")) == ""

"""Canary, blue/green and A/B in the chart: for every strategy × router × controller the kit
renders, each environment's chart render (Helm's engine, helm-python-sdk) has the same
progressive resources as `kubectl kustomize` builds from that environment's overlay, and
every custom resource validates against its CRD schema (strict)."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.model import Plan
from deploysmith.render import helm, kustomize
from tests.sample_plans import sample_plan

helm_python = pytest.importorskip("helm_python")
jsonschema = pytest.importorskip("jsonschema")

CRDS = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "crds"
DIGEST = "sha256:" + "12" * 32
CASES: dict[str, dict[str, Any]] = {
    "canary-nginx": {"strategy": "canary"},
    "blue-green": {"strategy": "blue-green"},
    "ab-testing-nginx": {"strategy": "ab-testing"},
    "canary-gateway-api": {"strategy": "canary", "traffic_router": "gateway-api"},
    "canary-istio": {"strategy": "canary", "traffic_router": "istio"},
    "flagger-canary": {"strategy": "canary", "progressive_delivery": "flagger"},
    "flagger-gateway-api": {"strategy": "canary", "progressive_delivery": "flagger", "traffic_router": "gateway-api"},
}
# Compared whole (spec): the objects progressive delivery adds or changes. Deployments and
# ConfigMaps differ on purpose (hash suffix vs checksum annotation), and are judged elsewhere.
COMPARED = {"Rollout", "AnalysisTemplate", "Service", "HorizontalPodAutoscaler", "NetworkPolicy", "HTTPRoute",
            "VirtualService", "DestinationRule", "Canary", "Ingress", "PodDisruptionBudget"}

pytestmark = pytest.mark.judges


@functools.cache
def plan_for(case: str, packaging: str) -> Plan:
    return sample_plan("fastapi-postgres", packaging=packaging, domain="shop.example.org", **CASES[case])


def write(files: Any, root: Path) -> None:
    for file in files:
        target = root / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file.content)


def by_key(documents: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in documents if doc["kind"] in COMPARED}


def without_labels(doc: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in doc["metadata"].items() if k not in ("labels", "namespace")}
    return {**doc, "metadata": metadata}


@pytest.mark.parametrize("case", CASES)
def test_chart_renders_what_the_overlays_build(case: str, tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (pip install -e '.[test]')")
    helm_plan, kustomize_plan = plan_for(case, "helm"), plan_for(case, "kustomize")
    assert helm_plan.strategy.choice == kustomize_plan.strategy.choice
    write(helm.render(helm_plan), tmp_path / "helm")
    write(kustomize.render(kustomize_plan), tmp_path / "kustomize")
    chart_dir = tmp_path / "helm" / helm.CHART_DIR
    with helm_python.Chart.load(str(chart_dir)) as chart:
        for env in helm_plan.environments:
            values = yaml.safe_load((chart_dir / f"values-{env.name}.yaml").read_text())
            values["image"] = {"fastapi-postgres": {"digest": DIGEST}}
            if env.name == "prod":  # lint once per case; every environment is rendered below
                report = helm_python.lint(str(chart_dir), values, strict=True, kube_version="v1.34.0")
                assert report["errors"] == [] and all(m["severity"] < 2 for m in report["messages"]), report
            out = chart.render(values, name=helm.release_name(helm_plan), namespace=env.namespace, is_install=True)
            rendered = [doc for key, text in out.items() if key.endswith(".yaml")
                        for doc in yaml.safe_load_all(text) if doc]
            built = subprocess.run([kubectl, "kustomize", str(tmp_path / "kustomize" / "deploy/overlays" / env.name)],
                                   capture_output=True, text=True, check=True).stdout
            expected = by_key([doc for doc in yaml.safe_load_all(built) if doc])
            actual = by_key(rendered)
            assert sorted(actual) == sorted(expected), env.name
            for key, doc in actual.items():
                assert without_labels(doc) == without_labels(expected[key]), (env.name, key)
            for doc in rendered:
                group, _, version = doc["apiVersion"].rpartition("/")
                schema_path = CRDS / group / f"{doc['kind'].lower()}_{version}.json"
                if group and schema_path.is_file():
                    validator(schema_path).validate(doc)


@functools.cache
def validator(path: Path) -> Any:
    """One compiled validator per CRD schema (checking a schema as large as the Rollout's
    costs more than validating a document against it)."""
    schema = json.loads(path.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_deploy_commands_wait_through_the_controller_and_roll_back_with_helm() -> None:
    commands = helm.deploy_commands(plan_for("canary-nginx", "helm"), "prod")
    check = commands.rollout[0]
    assert check.startswith("command -v kubectl-argo-rollouts")
    assert commands.rollout[1:] == (
        "kubectl argo rollouts status fastapi-postgres -n fastapi-postgres-prod --timeout 30m",
    )
    assert commands.rollback == (
        check,
        "kubectl argo rollouts abort fastapi-postgres -n fastapi-postgres-prod",
        "helm rollback fastapi-postgres --namespace fastapi-postgres-prod --wait --timeout 10m",
        "kubectl argo rollouts status fastapi-postgres -n fastapi-postgres-prod --timeout 30m",
    )

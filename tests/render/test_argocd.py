"""Argo CD: AppProject and Applications against the CRD schemas, the project's kinds, sync
policies per environment, ignoreDifferences, the runbook's commands, CI for a separate
environment repository, golden files and the kit's own audit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.render import argocd, gitlab_ci
from tests.render.gitops_cases import (
    CASES,
    build_and_validate,
    check_golden,
    crd_errors,
    documents,
    gitops_part,
    kit,
    new_findings,
    plan_for,
    write,
)
from tests.sample_plans import sample_plan

ARGO_CASES = sorted(case for case in CASES if case.startswith("argocd"))


def argo_objects(case: str) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc
        for path, doc in documents(kit(case))
        if path.startswith("deploy/gitops/") and doc["apiVersion"].startswith("argoproj.io/")
    }


@pytest.mark.parametrize("case", ARGO_CASES)
def test_every_argo_cd_object_validates_against_its_crd(case: str) -> None:
    for name, doc in argo_objects(case).items():
        assert crd_errors(doc) == [], name


@pytest.mark.parametrize("case", ARGO_CASES)
def test_golden(case: str) -> None:
    check_golden(case, gitops_part(kit(case)))


def test_sync_policy_per_environment() -> None:
    objects = argo_objects("argocd-eso")
    for env in ("dev", "staging"):
        policy = objects[f"fastapi-postgres-{env}"]["spec"]["syncPolicy"]
        assert policy["automated"] == {"prune": True, "selfHeal": True}
        assert policy["retry"] == {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}
    assert "automated" not in objects["fastapi-postgres-prod"]["spec"]["syncPolicy"]


def test_project_allows_the_kinds_the_kit_renders() -> None:
    kinds = argo_objects("argocd-eso")["fastapi-postgres"]["spec"]["namespaceResourceWhitelist"]
    assert {"group": "external-secrets.io", "kind": "ExternalSecret"} in kinds
    assert {"group": "monitoring.coreos.com", "kind": "PrometheusRule"} in kinds
    assert {"group": "bitnami.com", "kind": "SealedSecret"} not in kinds


def test_rollouts_get_their_kinds_and_ignored_fields() -> None:
    plan = sample_plan("express", gitops=True, strategy="canary")
    kinds = [(k["group"], k["kind"]) for k in _strip(argocd._project(plan, "x"))["spec"]["namespaceResourceWhitelist"]]
    assert ("argoproj.io", "Rollout") in kinds and ("argoproj.io", "AnalysisTemplate") in kinds
    ignored = argocd.ignore_differences(plan)
    assert ignored[0] == {
        "group": "argoproj.io", "kind": "Rollout", "name": "express", "jsonPointers": ["/spec/replicas"]
    }
    assert {"group": "", "kind": "Service", "managedFieldsManagers": ["rollouts-controller"]} in ignored
    for env in plan.environments:
        assert crd_errors(_strip(argocd._application(plan, env, "https://example.org/x.git"))) == []


def _strip(data: Any) -> Any:
    from deploysmith.render.yamlout import strip

    return yaml.safe_load(yaml.safe_dump(strip(data)))


def test_runbook_says_rollback_needs_auto_sync_off() -> None:
    runbook = kit("argocd-eso")["docs/deploy/RUNBOOK.md"]
    assert "argocd app set fastapi-postgres-dev --sync-policy none" in runbook
    assert "argocd app rollback fastapi-postgres-dev <history ID>" in runbook
    assert "argocd app sync fastapi-postgres-prod" in runbook
    assert "git revert --no-edit <deploy commit>" in runbook


def test_separate_repository_commits_there_never_applies() -> None:
    pipeline = gitlab_ci.render(plan_for("argocd-sealed-separate"))[0].content
    assert 'git clone --quiet --config credential.helper=' in pipeline
    assert 'export GIT_DIR="${GITOPS_CHECKOUT}/.git" GIT_WORK_TREE="${GITOPS_CHECKOUT}"' in pipeline
    assert '(cd "${GITOPS_CHECKOUT}"/deploy/overlays/prod && kustomize edit set image' in pipeline
    assert "kubectl apply" not in pipeline
    source = argo_objects("argocd-sealed-separate")["django-celery-prod"]["spec"]["source"]["repoURL"]
    assert source == "https://git.example.invalid/REPLACE-ME/django-celery-environments.git"


@pytest.mark.parametrize("case", ARGO_CASES)
def test_the_kit_passes_its_own_audit(case: str) -> None:
    assert new_findings(case) == []


@pytest.mark.judges
@pytest.mark.parametrize("case", ARGO_CASES)
def test_overlays_build_and_validate(case: str, tmp_path: Path) -> None:
    root = write(kit(case), tmp_path / "kit")
    folders = sorted(p.parent for p in (root / "deploy/overlays").rglob("kustomization.yaml"))
    folders.append(root / "deploy/gitops")
    for folder, doc in build_and_validate(root, folders, tmp_path):
        assert crd_errors(doc) == [], f"{folder}: {doc['kind']} {doc['metadata']['name']}"


def test_helm_packaging_points_each_application_at_the_chart() -> None:
    from deploysmith.render import gitops

    plan = sample_plan("express", gitops=True, packaging="helm")
    files = {f.path: f.content for f in gitops.render(plan)}
    (app,) = yaml.safe_load_all(files["deploy/gitops/prod.yaml"])
    assert app["spec"]["source"]["path"] == "deploy/chart"
    assert app["spec"]["source"]["helm"] == {
        "releaseName": "express", "valueFiles": ["values.yaml", "values-prod.yaml"]
    }
    assert crd_errors(app) == []

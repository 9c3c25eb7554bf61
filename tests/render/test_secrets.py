"""--secrets: ExternalSecret + SecretStore (external-secrets.io/v1), SealedSecret placeholders
(bitnami.com), SOPS for Flux; CRD schemas, the overlays still build, the runbook's commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deploysmith.render import docs, secrets
from tests.render.gitops_cases import CASES, build_and_validate, crd_errors, documents, kit, plan_for, write

SECRET_CASES = sorted(CASES)


@pytest.mark.parametrize("case", SECRET_CASES)
def test_every_secret_resource_validates_against_its_crd(case: str) -> None:
    found = [doc for path, doc in documents(kit(case)) if "/secrets/" in path and doc["kind"] != "Kustomization"]
    assert found
    for doc in found:
        if doc["apiVersion"] != "v1":
            assert crd_errors(doc) == [], doc["kind"]


def test_external_secret_maps_every_key_of_the_workloads() -> None:
    plan = plan_for("argocd-eso")
    expected = sorted({key for w in plan.workloads for key in w.secret_env})
    (external,) = yaml.safe_load_all(kit("argocd-eso")["deploy/overlays/prod/secrets/externalsecret.yaml"])
    assert external["apiVersion"] == "external-secrets.io/v1"
    assert external["spec"]["target"]["name"] == "fastapi-postgres-secrets"
    assert [item["secretKey"] for item in external["spec"]["data"]] == expected
    assert {item["remoteRef"]["key"] for item in external["spec"]["data"]} == {"fastapi-postgres/prod"}


def test_argo_cd_creates_the_secret_before_the_migration() -> None:
    folder = yaml.safe_load(kit("argocd-eso")["deploy/overlays/prod/secrets/kustomization.yaml"])
    assert folder["commonAnnotations"] == {"argocd.argoproj.io/sync-wave": "-2"}
    overlay = yaml.safe_load(kit("argocd-eso")["deploy/overlays/prod/kustomization.yaml"])
    assert overlay["resources"] == ["namespace.yaml", "../../base", "secrets", "migrate"]


def test_sealed_secrets_runbook_has_the_exact_kubeseal_command() -> None:
    runbook = kit("imperative-sealed")["docs/deploy/RUNBOOK.md"]
    assert (
        "kubectl -n fastapi-postgres-prod create secret generic fastapi-postgres-secrets "
        "--from-literal=DATABASE_URL='…' --dry-run=client -o yaml \\\n"
        "  | kubeseal --controller-namespace kube-system --controller-name sealed-secrets-controller "
        "--format yaml \\\n  > deploy/overlays/prod/secrets/sealedsecret.yaml"
    ) in runbook
    assert "kubectl apply -k deploy/overlays/prod/secrets" in runbook  # bootstrap, before the first deploy


def test_sops_creation_rules_one_key_per_environment() -> None:
    rules = yaml.safe_load(kit("flux-sops")[".sops.yaml"])["creation_rules"]
    assert [rule["path_regex"] for rule in rules] == [
        rf"deploy/overlays/{env}/secrets/.*\.sops\.yaml$" for env in ("dev", "staging", "prod")
    ]
    assert {rule["encrypted_regex"] for rule in rules} == {"^(data|stringData)$"}


def test_none_renders_nothing_and_keeps_the_manual_secret() -> None:
    plan = plan_for("imperative-sealed")
    assert secrets.render(plan)
    from tests.sample_plans import sample_plan

    plain = sample_plan("fastapi-postgres")
    assert secrets.render(plain) == ()
    assert "create secret generic fastapi-postgres-secrets" in docs.render(plain)[0].content + "".join(
        f.content for f in docs.render(plain)
    )


@pytest.mark.judges
def test_imperative_overlays_build_and_validate(tmp_path: Path) -> None:
    root = write(kit("imperative-sealed"), tmp_path / "kit")
    folders = sorted(p.parent for p in (root / "deploy/overlays").rglob("kustomization.yaml"))
    for folder, doc in build_and_validate(root, folders, tmp_path):
        assert crd_errors(doc) == [], f"{folder}: {doc['kind']}"

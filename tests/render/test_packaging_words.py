"""A Helm or plain-manifests kit names its own files: no doc, alert or CI step sends a reader
to a Kustomize overlay that does not exist, and GitOps text names the controller chosen."""

from __future__ import annotations

import re

import pytest

from deploysmith.render import render_kit
from tests.sample_plans import sample_plan

# `OVERLAY` is the deploy jobs' variable holding the packaging's own path (values file, folder).
_OVERLAY_WORD = re.compile(r"(?<![A-Z_])overlays?(?![A-Z_])", re.IGNORECASE)


def _mentions(packaging: str, **requirements: object) -> list[str]:
    files = render_kit(sample_plan("fastapi-postgres", packaging=packaging, **requirements))
    return [
        f"{file.path}: {line.strip()}"
        for file in files
        for line in file.content.splitlines()
        if _OVERLAY_WORD.search(line.replace("OVERLAY", ""))
    ]


@pytest.mark.parametrize(
    ("packaging", "requirements"),
    [("helm", {}), ("plain", {}), ("helm", {"gitops": True, "gitops_tool": "flux"}), ("helm", {"gitops": True})],
)
def test_no_overlay_outside_kustomize(packaging: str, requirements: dict[str, object]) -> None:
    assert _mentions(packaging, **requirements) == []


def test_the_alert_and_the_docs_name_the_values_key_to_raise() -> None:
    files = {f.path: f.content for f in render_kit(sample_plan("fastapi-postgres", packaging="helm"))}
    rules = files["deploy/monitoring/prod/prometheusrule.yaml"]
    assert "raise workloads.fastapi-postgres.autoscaling.maxReplicas in deploy/chart/values-prod.yaml" in rules
    troubleshooting = files["docs/deploy/TROUBLESHOOTING.md"]
    assert "Fix: raise the limit in the values file `deploy/chart/values-prod.yaml`, or lower" in troubleshooting
    assert "- name: Upgrade the prod release\n" in files[".github/workflows/ci-cd.yml"]


def test_plain_manifests_pin_and_apply_their_own_folder() -> None:
    files = {f.path: f.content for f in render_kit(sample_plan("fastapi-postgres", packaging="plain"))}
    workflow = files[".github/workflows/ci-cd.yml"]
    assert "OVERLAY: deploy/manifests/prod\n" in workflow
    assert "- name: Apply the prod manifests\n" in workflow
    rules = files["deploy/monitoring/prod/prometheusrule.yaml"]
    assert "raise maxReplicas in deploy/manifests/prod/app/fastapi-postgres-hpa.yaml" in rules


def test_flux_runbook_and_monitoring_name_flux_and_the_values_file() -> None:
    plan = sample_plan("fastapi-postgres", packaging="helm", gitops=True, gitops_tool="flux")
    files = {f.path: f.content for f in render_kit(plan)}
    assert "git log --oneline -- deploy/chart/values-prod.yaml   # find the deploy commit" in files[
        "docs/deploy/RUNBOOK.md"
    ]
    monitoring = files["docs/deploy/MONITORING.md"]
    assert "Flux reconciles only the app: add a Kustomization for each `deploy/monitoring/<env>`" in monitoring
    assert "Argo CD" not in monitoring

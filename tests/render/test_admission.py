"""Cluster admission policies: every resource validates against its CRD schema (strict), the
mode follows the environment (audit in dev, enforce elsewhere), the signing identity follows
the CI platform, and the kit's own verify stays clean with policies present.

Gatekeeper Constraints are kinds generated from each ConstraintTemplate, so no published
schema covers them: their shape is checked here against the template's parameters and
Gatekeeper's documented Constraint fields. Rego is not compiled: neither `opa` nor a Python
Rego engine (regorus) is installable from the package index here.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from deploysmith.audit.engine import verify
from deploysmith.model import Plan
from deploysmith.render import admission, render_kit
from tests.sample_plans import sample_plan

CRDS = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "crds"
SCHEMAS = {
    ("kyverno.io/v1", "ClusterPolicy"): "kyverno.io/clusterpolicy_v1.json",
    ("templates.gatekeeper.sh/v1", "ConstraintTemplate"): "templates.gatekeeper.sh/constrainttemplate_v1.json",
    ("policy.sigstore.dev/v1beta1", "ClusterImagePolicy"): "policy.sigstore.dev/clusterimagepolicy_v1beta1.json",
}
CONSTRAINT_FIELDS = {"enforcementAction", "match", "parameters"}


@functools.cache
def kit(engine: str, ci: str = "github", compliance: str = "none") -> dict[str, str]:
    plan = sample_plan("fastapi-postgres", ci=ci, admission=engine, compliance=compliance)
    return {f.path: f.content for f in render_kit(plan)}


def policy_docs(files: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path, doc)
        for path, text in sorted(files.items())
        if path.startswith("deploy/policies/") and not path.endswith("kustomization.yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


@functools.cache
def schema(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CRDS / relative).read_text())
    return data


@pytest.mark.parametrize("engine", ["kyverno", "gatekeeper", "sigstore"])
def test_every_policy_resource_validates(engine: str) -> None:
    seen: set[str] = set()
    for path, doc in policy_docs(kit(engine, compliance="pci-dss")):
        key = (doc["apiVersion"], doc["kind"])
        if key in SCHEMAS:
            jsonschema.validate(doc, schema(SCHEMAS[key]))
        elif doc["apiVersion"] == "constraints.gatekeeper.sh/v1beta1":
            assert set(doc["spec"]) <= CONSTRAINT_FIELDS, path
            assert doc["spec"]["enforcementAction"] in ("deny", "dryrun", "warn")
            templates = {d["metadata"]["name"] for _, d in policy_docs(kit(engine))
                         if d["kind"] == "ConstraintTemplate"}
            assert doc["kind"].lower() in templates, path
        else:
            assert key == ("networking.k8s.io/v1", "NetworkPolicy"), path
        seen.add(doc["kind"])
    expected = {
        "kyverno": {"ClusterPolicy", "NetworkPolicy"},
        "gatekeeper": {"ConstraintTemplate", "DsRequireNonRoot", "DsRequireRequestsLimits", "DsDisallowLatestTag",
                       "DsRequireDigest", "DsVerifySignatures", "NetworkPolicy"},
        "sigstore": {"ClusterImagePolicy", "NetworkPolicy"},
    }[engine]
    assert seen == expected


def test_kyverno_modes_and_rules_per_environment() -> None:
    files = kit("kyverno")
    for env, action in (("dev", "Audit"), ("staging", "Enforce"), ("prod", "Enforce")):
        policies = [d for p, d in policy_docs(files) if p.startswith(f"deploy/policies/{env}/")]
        assert sorted(d["metadata"]["name"] for d in policies) == [
            f"fastapi-postgres-{env}-disallow-latest-tag",
            f"fastapi-postgres-{env}-require-non-root",
            f"fastapi-postgres-{env}-require-requests-limits",
            f"fastapi-postgres-{env}-verify-images",
        ]
        for policy in policies:
            for rule in policy["spec"]["rules"]:
                assert rule["match"]["any"][0]["resources"]["namespaces"] == [f"fastapi-postgres-{env}"]
                body = rule.get("validate") or rule["verifyImages"][0]
                assert body["failureAction"] == action
    verify_rule = yaml.safe_load(files["deploy/policies/prod/kyverno-verify-images.yaml"])["spec"]["rules"][0]
    image = verify_rule["verifyImages"][0]
    assert image["imageReferences"] == ["ghcr.io/acme/fastapi-postgres/*"]
    assert image["attestors"][0]["entries"][0]["keyless"]["issuer"] == "https://token.actions.githubusercontent.com"
    assert image["attestors"][0]["entries"][0]["keyless"]["subjectRegExp"] == (
        r"^https://github\.com/acme/fastapi-postgres/\.github/workflows/ci-cd\.yml@refs/heads/main$"
    )
    attestation = image["attestations"][0]
    assert attestation["type"] == "https://cosign.sigstore.dev/attestation/vuln/v1"
    assert attestation["conditions"][0]["all"][0] == {
        "key": "{{ time_since('', '{{ metadata.scanFinishedOn }}', '') }}",
        "operator": "DurationLessThanOrEquals",
        "value": "168h",
        "message": "the image's vulnerability scan is older than 168h; rescan and re-attest it",
    }


def test_gatekeeper_actions_and_signature_file_left_out() -> None:
    files = kit("gatekeeper")
    for env, action in (("dev", "dryrun"), ("prod", "deny")):
        constraints = list(yaml.safe_load_all(files[f"deploy/policies/{env}/gatekeeper-constraints.yaml"]))
        assert {c["spec"]["enforcementAction"] for c in constraints} == {action}
        kustomization = yaml.safe_load(files[f"deploy/policies/{env}/kustomization.yaml"])
        assert kustomization["resources"] == ["../gatekeeper-templates", "gatekeeper-constraints.yaml"]
    assert "external-data provider" in files["deploy/policies/prod/gatekeeper-signatures.yaml"]


def test_sigstore_mode_and_namespace_opt_in() -> None:
    files = kit("sigstore")
    modes = {env: yaml.safe_load(files[f"deploy/policies/{env}/clusterimagepolicy.yaml"])["spec"]["mode"]
             for env in ("dev", "staging", "prod")}
    assert modes == {"dev": "warn", "staging": "enforce", "prod": "enforce"}
    namespace = yaml.safe_load(files["deploy/overlays/prod/namespace.yaml"])
    assert namespace["metadata"]["labels"]["policy.sigstore.dev/include"] == "true"
    assert "policy.sigstore.dev/include" not in kit("kyverno")["deploy/overlays/prod/namespace.yaml"]


@pytest.mark.parametrize(
    ("ci", "issuer", "subject"),
    [
        ("github", "https://token.actions.githubusercontent.com",
         "https://github.com/acme/fastapi-postgres/.github/workflows/ci-cd.yml@refs/heads/main"),
        ("gitlab", "https://gitlab.com", "https://gitlab.com/<group>/<project>//.gitlab-ci.yml@refs/heads/main"),
        ("circleci", "https://oidc.circleci.com/org/<organization-id>",
         "https://circleci.com/api/v2/projects/<project-id>/pipeline-definitions/<pipeline-definition-id>"),
    ],
)
def test_signing_identity_per_platform(ci: str, issuer: str, subject: str) -> None:
    plan: Plan = sample_plan("fastapi-postgres", ci=ci, admission="kyverno")
    signer = admission.identity(plan)
    assert (signer.issuer, signer.subject) == (issuer, subject)


def test_no_policies_by_default() -> None:
    assert not any(path.startswith("deploy/policies/") for path in kit("none"))


@pytest.mark.parametrize("engine", ["kyverno", "gatekeeper", "sigstore"])
def test_verify_stays_clean_with_policies(engine: str) -> None:
    plan = sample_plan("fastapi-postgres", admission=engine, compliance="hipaa")
    assert verify(render_kit(plan)) == ()

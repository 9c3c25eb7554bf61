from __future__ import annotations

from deploysmith.audit.parse import load_yaml, strategic_merge
from tests.audit.helpers import hits, run_family

BASE_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: api
          image: api
          ports: [{containerPort: 8000}]
          readinessProbe: {httpGet: {path: /health, port: 8000}}
          livenessProbe: {httpGet: {path: /health, port: 8000}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
"""
BASE_KUSTOMIZATION = "resources: [deployment.yaml, ingress.yaml, serviceaccount.yaml]\n"
BASE_SERVICE_ACCOUNT = (
    "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default}\nautomountServiceAccountToken: false\n"
)
BASE_INGRESS = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: api}\nspec:\n  rules: []\n"
RESOURCES_PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {memory: 256Mi}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: api}
spec:
  tls: [{hosts: [api.example.com], secretName: api-tls}]
"""


def overlay(name: str, patch: str | None) -> dict[str, str]:
    files = {
        f"deploy/overlays/{name}/kustomization.yaml": (
            f"namespace: {name}\nresources: [../../base]\n"
            "images:\n  - name: api\n    newName: ghcr.io/acme/api\n"
            + ("patches:\n  - path: api.yaml\n" if patch else "")
        )
    }
    if patch:
        files[f"deploy/overlays/{name}/api.yaml"] = patch
    return files


BASE = {
    "deploy/base/kustomization.yaml": BASE_KUSTOMIZATION,
    "deploy/base/deployment.yaml": BASE_DEPLOYMENT,
    "deploy/base/ingress.yaml": BASE_INGRESS,
    "deploy/base/serviceaccount.yaml": BASE_SERVICE_ACCOUNT,
}


def test_overlays_complete_the_base() -> None:
    files = {**BASE, **overlay("dev", RESOURCES_PATCH), **overlay("prod", RESOURCES_PATCH)}
    assert run_family("kubernetes", files) == ()


def test_the_base_alone_is_judged_when_no_overlay_uses_it() -> None:
    found = hits("kubernetes", BASE)
    assert ("DS-K8S-002", 14) in found  # no resources
    assert ("DS-K8S-013", 4) in found  # no tls


def test_a_finding_names_the_overlays_where_it_fails() -> None:
    files = {**BASE, **overlay("dev", None), **overlay("prod", RESOURCES_PATCH)}
    findings = [f for f in run_family("kubernetes", files) if f.rule == "DS-K8S-002"]
    assert [(f.path, f.line) for f in findings] == [("deploy/base/deployment.yaml", 14)]
    assert findings[0].message.endswith("(kustomize build of deploy/overlays/dev)")


def test_patch_files_are_fragments_not_objects_and_their_values_point_at_the_patch() -> None:
    privileged = RESOURCES_PATCH.replace(
        "          resources:",
        "          securityContext:\n            privileged: true\n          resources:",
    )
    files = {**BASE, **overlay("prod", privileged)}
    findings = run_family("kubernetes", files)
    assert [(f.rule, f.path, f.line) for f in findings] == [
        ("DS-K8S-009", "deploy/overlays/prod/api.yaml", 11),
    ]


def test_inline_patches_and_deletes() -> None:
    kustomization = (
        "resources: [../../base]\n"
        "images: [{name: api, newTag: '1.0'}]\n"
        "patches:\n"
        "  - patch: |-\n"
        "      apiVersion: apps/v1\n"
        "      kind: Deployment\n"
        "      metadata: {name: api}\n"
        "      spec:\n"
        "        template:\n"
        "          spec:\n"
        "            hostNetwork: true\n"
        "            containers:\n"
        "              - name: api\n"
        "                readinessProbe: null\n"
    )
    files = {**BASE, "deploy/overlays/x/kustomization.yaml": kustomization}
    found = hits("kubernetes", files)
    assert ("DS-K8S-008", 11) in found
    (host,) = [f for f in run_family("kubernetes", files) if f.rule == "DS-K8S-008"]
    assert host.path == "deploy/overlays/x/kustomization.yaml"
    (probe,) = [f for f in run_family("kubernetes", files) if f.rule == "DS-K8S-001"]
    assert "has no readinessProbe" in probe.message


def test_removed_api_in_a_patch_file_is_reported() -> None:
    patch = "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: api}\nspec: {}\n"
    files = {**BASE, **overlay("prod", patch)}
    assert [(f.rule, f.path) for f in run_family("kubernetes", files) if f.rule == "DS-K8S-015"] == [
        ("DS-K8S-015", "deploy/overlays/prod/api.yaml")
    ]


def test_config_map_generator_literals() -> None:
    files = {
        "deploy/kustomization.yaml": (
            "configMapGenerator:\n  - name: app\n    literals:\n"
            "      - LOG_LEVEL=info\n      - API_TOKEN=abc123\n"
        )
    }
    assert hits("kubernetes", files) == [("DS-K8S-014", 5)]


def test_strategic_merge() -> None:
    base, patch = load_yaml(
        "a: 1\nkeep: {x: 1}\nlist: [1, 2]\ncontainers:\n"
        "  - {name: a, image: a:1}\n  - {name: b, image: b:1}\n"
        "---\n"
        "a: 2\nkeep: {y: 2}\nlist: [3]\ncontainers:\n  - {name: b, image: b:2}\n  - {name: c, image: c:1}\n"
        "  - {name: a, $patch: delete}\ngone: null\n",
        "x.yaml",
    )
    merged = strategic_merge(base, patch)
    assert merged == {
        "a": 2,
        "keep": {"x": 1, "y": 2},
        "list": [3],
        "containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}],
    }
    assert merged.line_of("a") == 8 and merged.line_of("keep") == 2
    assert base["a"] == 1 and len(base["containers"]) == 2  # inputs unchanged


def test_kustomization_image_set_to_latest() -> None:
    kustomization = "resources: [../../base]\nimages:\n  - name: api\n    newTag: latest\n"
    files = {**BASE, "deploy/overlays/x/kustomization.yaml": kustomization}
    assert hits("kubernetes", files, "DS-K8S-007") == [("DS-K8S-007", 4)]
    pinned = kustomization.replace("newTag: latest", "newTag: '1.4.2'")
    assert hits("kubernetes", {**BASE, "deploy/overlays/x/kustomization.yaml": pinned}, "DS-K8S-007") == []

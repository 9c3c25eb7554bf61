from __future__ import annotations

import textwrap

import pytest

from tests.audit.helpers import hits, run_family

SECURE_CONTAINER = """
          securityContext:
            runAsNonRoot: true
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {memory: 256Mi}
          readinessProbe: {httpGet: {path: /health, port: 8000}}
          livenessProbe: {httpGet: {path: /health, port: 8000}}"""


def workload(
    kind: str = "Deployment",
    name: str = "api",
    container: str = SECURE_CONTAINER,
    image: str = "ghcr.io/acme/api:1.0.0",
    spec: str = "",
    pod: str = "",
    namespace: str | None = None,
    labels: str = "{app: api}",
) -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    template = (
        f"  template:\n    metadata:\n      labels: {labels}\n    spec:{pod}\n      containers:\n"
        f"        - name: {name}\n          image: {image}{container}\n"
    )
    if kind == "CronJob":
        template = textwrap.indent("jobTemplate:\n  spec:\n" + textwrap.indent(template, "  "), "  ")
    return f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}{ns}\nspec:{spec}\n{template}"


def k8s(text: str, rule: str, extra: dict[str, str] | None = None) -> list[tuple[str, int | None]]:
    return hits("kubernetes", {"deploy/app.yaml": text, **(extra or {})}, rule)


HARDENED_POD = (
    "\n      automountServiceAccountToken: false"
    "\n      securityContext: {seccompProfile: {type: RuntimeDefault}}"
)


def test_secure_workload_is_clean() -> None:
    assert run_family("kubernetes", {"deploy/app.yaml": workload(pod=HARDENED_POD)}) == ()


def test_seccomp_profile() -> None:
    assert k8s(workload(), "DS-K8S-016") == [("DS-K8S-016", 11)]
    assert k8s(workload(pod=HARDENED_POD), "DS-K8S-016") == []
    unconfined = SECURE_CONTAINER.replace(
        "            runAsNonRoot: true",
        "            runAsNonRoot: true\n            seccompProfile: {type: Unconfined}",
    )
    assert k8s(workload(pod=HARDENED_POD, container=unconfined), "DS-K8S-016") == [("DS-K8S-016", 17)]
    local = "\n      securityContext: {seccompProfile: {type: Localhost, localhostProfile: p.json}}"
    assert k8s(workload(pod=local), "DS-K8S-016") == []


def test_token_automount() -> None:
    assert k8s(workload(), "DS-K8S-017") == [("DS-K8S-017", 10)]
    assert k8s(workload(pod="\n      automountServiceAccountToken: true"), "DS-K8S-017") == []
    account = (
        "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: api}\n"
        "automountServiceAccountToken: false\n"
    )
    named = workload(pod="\n      serviceAccountName: api")
    assert k8s(named + account, "DS-K8S-017") == []
    assert k8s(named, "DS-K8S-017") == [("DS-K8S-017", 10)]


def test_probes_for_containers_that_take_traffic() -> None:
    ports = "\n          ports: [{containerPort: 8000}]"
    assert k8s(workload(container=ports), "DS-K8S-001") == [("DS-K8S-001", 11)]
    assert k8s(workload(kind="Job", container=ports), "DS-K8S-001") == []
    assert k8s(workload(kind="CronJob", container=ports), "DS-K8S-001") == []
    # a worker: no ports and no Service in front of it
    assert k8s(workload(container=""), "DS-K8S-001") == []
    # no ports declared, but a Service sends it traffic
    service = SERVICE.replace("{selector}", "{app: api}")
    assert k8s(workload(container="") + service, "DS-K8S-001") == [("DS-K8S-001", 11)]


def test_missing_probe_message_names_what_is_missing() -> None:
    text = workload(
        container="\n          ports: [{containerPort: 80}]"
        "\n          readinessProbe: {tcpSocket: {port: 80}}"
    )
    (finding,) = [f for f in run_family("kubernetes", {"a.yaml": text}) if f.rule == "DS-K8S-001"]
    assert finding.message.startswith("Deployment api: container api has no livenessProbe;")


def test_resources() -> None:
    partial = workload(container="\n          resources:\n            requests: {cpu: 100m}")
    (finding,) = [f for f in run_family("kubernetes", {"a.yaml": partial}) if f.rule == "DS-K8S-002"]
    assert finding.line == 13
    assert "requests.memory, limits.memory" in finding.message


@pytest.mark.parametrize(
    ("container", "pod", "expected"),
    [
        ("", "", [("DS-K8S-003", 11)]),
        ("\n          securityContext: {runAsNonRoot: false}", "", [("DS-K8S-003", 13)]),
        ("", "\n      securityContext: {runAsNonRoot: true}", []),
        (
            "\n          securityContext: {runAsNonRoot: false}",
            "\n      securityContext: {runAsNonRoot: true}",
            [("DS-K8S-003", 14)],
        ),
        ("\n          securityContext: {runAsNonRoot: true, runAsUser: 0}", "", [("DS-K8S-003", 13)]),
    ],
)
def test_run_as_root(container: str, pod: str, expected: list[tuple[str, int]]) -> None:
    assert k8s(workload(container=container, pod=pod), "DS-K8S-003") == expected


def test_init_containers_are_checked_for_security() -> None:
    pod = "\n      initContainers:\n        - name: migrate\n          image: ghcr.io/acme/api:1.0.0"
    text = workload(pod=pod)
    assert k8s(text, "DS-K8S-003") == [("DS-K8S-003", 11)]
    assert k8s(text, "DS-K8S-001") == []


@pytest.mark.parametrize(
    ("rule", "good"),
    [
        ("DS-K8S-004", "allowPrivilegeEscalation: false"),
        ("DS-K8S-005", "capabilities: {drop: [ALL]}"),
        ("DS-K8S-006", "readOnlyRootFilesystem: true"),
    ],
)
def test_container_security_flags(rule: str, good: str) -> None:
    assert k8s(workload(container=""), rule) == [(rule, 11)]
    assert k8s(workload(container=f"\n          securityContext:\n            {good}"), rule) == []


def test_capabilities_drop_without_all() -> None:
    text = workload(
        container="\n          securityContext:\n            capabilities:\n              drop: [NET_RAW]"
    )
    assert k8s(text, "DS-K8S-005") == [("DS-K8S-005", 15)]


def test_privileged() -> None:
    text = workload(container=SECURE_CONTAINER.replace("runAsNonRoot: true", "privileged: true"))
    assert k8s(text, "DS-K8S-009") == [("DS-K8S-009", 14)]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ghcr.io/acme/api:latest", [("DS-K8S-007", 12)]),
        ("ghcr.io/acme/api", [("DS-K8S-007", 12)]),
        ("ghcr.io/acme/api@sha256:0123", []),
        ("ghcr.io/acme/api:1.2.3", []),
        ("${IMAGE}", []),
    ],
)
def test_image_latest(image: str, expected: list[tuple[str, int]]) -> None:
    assert k8s(workload(image=image), "DS-K8S-007") == expected


def test_untagged_image_is_fine_when_a_kustomization_rewrites_it() -> None:
    base = workload(image="api")
    kustomization = (
        "resources: [../../base]\nimages:\n  - name: api\n    newName: ghcr.io/acme/api\n    newTag: 1.2.3\n"
    )
    assert k8s(base, "DS-K8S-007") == [("DS-K8S-007", 12)]
    assert k8s(base, "DS-K8S-007", {"deploy/overlays/prod/kustomization.yaml": kustomization}) == []
    other = kustomization.replace("name: api", "name: web")
    assert k8s(base, "DS-K8S-007", {"deploy/overlays/prod/kustomization.yaml": other}) == [("DS-K8S-007", 12)]


def test_host_access() -> None:
    pod = (
        "\n      hostNetwork: true\n      hostPID: true\n      volumes:\n"
        "        - name: docker\n          hostPath: {path: /var/run/docker.sock}"
    )
    assert k8s(workload(pod=pod), "DS-K8S-008") == [
        ("DS-K8S-008", 10),
        ("DS-K8S-008", 11),
        ("DS-K8S-008", 14),
    ]


PDB = (
    "---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: api}\n"
    "spec:\n  maxUnavailable: 1\n  selector: {matchLabels: {app: api}}\n"
)
HPA = (
    "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: api}\n"
    "spec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}\n  minReplicas: {min}\n"
    "  maxReplicas: 10\n"
)


def test_pdb_for_multi_replica_workloads() -> None:
    assert k8s(workload(spec="\n  replicas: 3"), "DS-K8S-010") == [("DS-K8S-010", 6)]
    assert k8s(workload(spec="\n  replicas: 1"), "DS-K8S-010") == []
    assert k8s(workload(), "DS-K8S-010") == []
    assert k8s(workload(spec="\n  replicas: 3") + PDB, "DS-K8S-010") == []
    assert k8s(workload() + HPA.replace("{min}", "2"), "DS-K8S-010") == [("DS-K8S-010", 1)]
    assert k8s(workload() + HPA.replace("{min}", "1"), "DS-K8S-010") == []


def test_pdb_must_select_the_pods_in_the_same_namespace() -> None:
    other_labels = PDB.replace("{app: api}", "{app: web}")
    assert k8s(workload(spec="\n  replicas: 3") + other_labels, "DS-K8S-010") == [("DS-K8S-010", 6)]
    elsewhere = PDB.replace("metadata: {name: api}", "metadata: {name: api, namespace: other}")
    assert k8s(workload(spec="\n  replicas: 3", namespace="prod") + elsewhere, "DS-K8S-010") == [
        ("DS-K8S-010", 7)
    ]
    expressions = PDB.replace(
        "selector: {matchLabels: {app: api}}",
        "selector: {matchExpressions: [{key: app, operator: In, values: [api]}]}",
    )
    assert k8s(workload(spec="\n  replicas: 3") + expressions, "DS-K8S-010") == []


def test_replicas_with_hpa() -> None:
    assert k8s(workload(spec="\n  replicas: 2") + HPA.replace("{min}", "2"), "DS-K8S-011") == [
        ("DS-K8S-011", 6)
    ]
    assert k8s(workload() + HPA.replace("{min}", "2"), "DS-K8S-011") == []
    assert k8s(workload(spec="\n  replicas: 2"), "DS-K8S-011") == []


SERVICE = (
    "---\napiVersion: v1\nkind: Service\nmetadata: {name: api}\n"
    "spec:\n  selector: {selector}\n  ports: [{port: 80}]\n"
)


def test_service_selector_must_match_a_pod_template() -> None:
    assert k8s(workload() + SERVICE.replace("{selector}", "{app: api}"), "DS-K8S-012") == []
    assert k8s(workload() + SERVICE.replace("{selector}", "{app: apy}"), "DS-K8S-012") == [("DS-K8S-012", 28)]
    assert (
        k8s(
            workload(labels="{app: api, tier: web}") + SERVICE.replace("{selector}", "{app: api}"),
            "DS-K8S-012",
        )
        == []
    )
    # no workloads in the set: the pods come from elsewhere, nothing to compare with
    assert k8s(SERVICE.replace("{selector}", "{app: apy}"), "DS-K8S-012") == []


def test_ingress_tls() -> None:
    ingress = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: api}\nspec:\n  rules: []\n"
    assert k8s(ingress, "DS-K8S-013") == [("DS-K8S-013", 4)]
    assert k8s(ingress + "  tls: [{hosts: [a.example.com], secretName: a-tls}]\n", "DS-K8S-013") == []


def test_configmap_secrets_never_show_the_value() -> None:
    configmap = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n"
        "  LOG_LEVEL: info\n  STRIPE_API_KEY: hunter2hunter2\n  DATABASE_URL: postgres://app:pa55w0rd@db/app\n"
        "  CACHE_URL: redis://cache:6379/0\n  TOKEN_ENDPOINT: https://auth.example.com/token\n"
        "  EMPTY_PASSWORD: ''\n  TEMPLATE_URL: postgres://app:${PASSWORD}@db/app\n"
    )
    findings = [f for f in run_family("kubernetes", {"a.yaml": configmap}) if f.rule == "DS-K8S-014"]
    assert [(f.line, f.severity) for f in findings] == [(6, "error"), (7, "error")]
    assert not any("hunter2" in f.message or "pa55w0rd" in f.message for f in findings)


@pytest.mark.parametrize(
    ("api", "kind", "removed"),
    [
        ("extensions/v1beta1", "Ingress", "1.22"),
        ("policy/v1beta1", "PodDisruptionBudget", "1.25"),
        ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.26"),
        ("batch/v1beta1", "CronJob", "1.25"),
        ("apps/v1beta2", "Deployment", "1.16"),
    ],
)
def test_removed_apis(api: str, kind: str, removed: str) -> None:
    text = f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: x}}\n"
    (finding,) = [f for f in run_family("kubernetes", {"a.yaml": text}) if f.rule == "DS-K8S-015"]
    assert finding.line == 1
    assert f"was removed in Kubernetes {removed}; use " in finding.message


def test_current_apis_are_fine() -> None:
    text = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\nspec: {tls: [{}]}\n"
    assert k8s(text, "DS-K8S-015") == []


def test_helm_templates_are_skipped() -> None:
    template = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
    assert run_family("kubernetes", {"chart/templates/deployment.yaml": template}) == ()

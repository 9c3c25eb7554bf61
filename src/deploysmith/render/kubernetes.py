"""Plain Kubernetes resources for one workload, as data with comments (see yamlout).

Pure builders: Plan and Workload in, a manifest mapping out. They know nothing about
file layout or overlays; `render.kustomize` decides where each one goes and which
fields an environment overrides. Every value a reviewer might question carries a
comment saying why.

Selectors are written out in every resource (Deployment, Service, PDB, NetworkPolicy,
spread constraints) from `selector_labels`, never added by a transformer: a Deployment's
selector is immutable, so it must not change when someone edits a kustomization.

The kit needs Kubernetes 1.30 or newer (MIN_KUBERNETES): the preStop `sleep` action is
on by default from 1.30 (beta) and GA in 1.34, and `unhealthyPodEvictionPolicy` on a
PodDisruptionBudget is GA from 1.31 (ignored as an unknown field before that).
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, Workload
from deploysmith.render.yamlout import comment

Manifest = dict[str, Any]

MIN_KUBERNETES = "1.30"
INGRESS_CLASS = "nginx"
INGRESS_NAMESPACE = "ingress-nginx"  # where the ingress-nginx controller runs by default
CLUSTER_ISSUER = "letsencrypt"
PORT_NAME = "http"
SERVICE_PORT = 80

NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"
MIGRATION = "migration"  # the component label value of migration Jobs (the CI selects on it)

PRESTOP_SECONDS = 10
GRACE_SECONDS = 45
WORKER_GRACE_SECONDS = 60
MIGRATION_DEADLINE_SECONDS = 600
MIGRATION_TTL_SECONDS = 86400
CPU_TARGET = 70

ARGO_WAVE = "argocd.argoproj.io/sync-wave"
ARGO_HOOK = "argocd.argoproj.io/hook"
ARGO_HOOK_DELETE = "argocd.argoproj.io/hook-delete-policy"
ARGO_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
# Argo CD waves: what the migration Job needs (its ServiceAccount and ConfigMap, the
# Namespace) in wave -2, the Job in wave -1, everything else in the default wave 0.
WAVE_PREREQUISITES = "-2"
WAVE_MIGRATION = "-1"

JVM_LANGUAGES = ("java", "kotlin", "scala")


# -- names and labels --------------------------------------------------------------------


def name(workload: Workload) -> str:
    return workload.component.name


def migration_name(workload: Workload) -> str:
    return f"{workload.component.name}-migrate"


def config_name(workload: Workload) -> str:
    return f"{workload.component.name}-config"


def migration_config_name(workload: Workload) -> str:
    return f"{workload.component.name}-migrate-config"


def tls_secret_name(workload: Workload) -> str:
    return f"{workload.component.name}-tls"


def serves_http(workload: Workload) -> bool:
    """Web and static workloads with a known port get a Service, an Ingress and an HPA."""
    return workload.component.kind in ("web", "static") and workload.container_port is not None


def autoscaled(workload: Workload) -> bool:
    """Serving workloads scale on CPU; workers keep fixed replicas per environment
    (CPU says little about a queue consumer's backlog: scale those on queue length,
    e.g. with KEDA, once you know the queue)."""
    return serves_http(workload)


def component_label(workload: Workload) -> str:
    return workload.component.kind


def selector_labels(workload: Workload) -> dict[str, str]:
    return {NAME: name(workload), COMPONENT: component_label(workload)}


def migration_selector_labels(workload: Workload) -> dict[str, str]:
    return {NAME: name(workload), COMPONENT: MIGRATION}


def volume_name(path: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
    return (slug or "root")[:63].strip("-")


def is_lead(plan: Plan, workload: Workload) -> bool:
    """True when the image's default command runs this workload (the first component of
    its image); the others override `command` with their own start command."""
    for image in plan.images:
        if image.name == workload.image:
            return bool(image.components) and image.components[0] == workload.component.name
    return True


# -- resources ---------------------------------------------------------------------------


def namespace(plan: Plan, env: EnvironmentPlan, gitops: bool) -> Manifest:
    metadata: Manifest = {
        "name": env.namespace,
        "labels": comment(
            {
                PART_OF: plan.app_name,
                MANAGED_BY: "deploysmith",
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            },
            "Pod Security Admission rejects any pod that is not `restricted` (non-root, no\n"
            "privilege escalation, all capabilities dropped, RuntimeDefault seccomp).",
        ),
    }
    if plan.requirements.admission == "sigstore":
        # Sigstore's policy-controller checks only namespaces that opt in (deploy/policies/).
        metadata["labels"].value["policy.sigstore.dev/include"] = "true"
    if gitops:
        metadata["annotations"] = comment(
            {
                ARGO_WAVE: WAVE_PREREQUISITES,
                ARGO_SYNC_OPTIONS: "Prune=false,Delete=false",
            },
            "Argo CD: created before the migration Job; never pruned or deleted with the\n"
            "Application, because it also holds the out-of-band Secret.",
        )
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def service_account(sa_name: str, gitops_wave: str | None = None) -> Manifest:
    metadata: Manifest = {"name": sa_name}
    if gitops_wave is not None:
        metadata["annotations"] = {ARGO_WAVE: gitops_wave}
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata,
        "automountServiceAccountToken": comment(
            False, "Its pods do not call the Kubernetes API: no token is mounted."
        ),
    }


def _pod_security_context(workload: Workload) -> Any:
    return comment(
        {
            "runAsNonRoot": True,
            "runAsUser": workload.uid,
            "runAsGroup": workload.uid,
            "fsGroup": workload.uid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        f"The image's numeric non-root user ({workload.uid}); fsGroup makes mounted volumes writable for it.",
    )


def _container_security_context(workload: Workload) -> Any:
    context: Manifest = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": workload.read_only_root,
        "capabilities": {"drop": ["ALL"]},
    }
    if not workload.read_only_root:
        context["readOnlyRootFilesystem"] = comment(
            False, "the runtime writes inside its own tree (see the plan's image decision)"
        )
    elif workload.writable_paths:
        context["readOnlyRootFilesystem"] = comment(
            True, "writable paths are emptyDir mounts: " + ", ".join(workload.writable_paths)
        )
    return context


def _volumes(workload: Workload) -> tuple[list[Manifest], list[Manifest]]:
    mounts = [{"name": volume_name(path), "mountPath": path} for path in workload.writable_paths]
    volumes = [
        {"name": volume_name(path), "emptyDir": {"sizeLimit": "256Mi"}} for path in workload.writable_paths
    ]
    return mounts, volumes


def secret_env(workload: Workload, secret: str) -> list[Manifest]:
    return [
        {
            "name": key,
            "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": False}},
        }
        for key in workload.secret_env
    ]


def _probes(workload: Workload) -> Manifest:
    probe = workload.probe
    if probe.kind == "none" or workload.container_port is None:
        return {}
    if probe.kind == "http":
        handler: Manifest = {"httpGet": {"path": probe.path or "/", "port": PORT_NAME}}
    else:
        handler = {"tcpSocket": {"port": PORT_NAME}}
    jvm = workload.component.language in JVM_LANGUAGES
    startup_failures = 60 if jvm else 24
    startup_why = (
        "JVM start (class loading, JIT, framework wiring) can take minutes: up to 5 minutes\n"
        "before liveness takes over."
        if jvm
        else "Up to 2 minutes to start before liveness takes over."
    )
    return {
        "startupProbe": comment(
            {**handler, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": startup_failures},
            f"{probe.reason}.\n{startup_why}",
        ),
        "readinessProbe": comment(
            {**handler, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3},
            "Out of the Service after 15 s of failures; back in on the first success.",
        ),
        "livenessProbe": comment(
            {**handler, "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3},
            "Restarted after 30 s of failures. If the health endpoint checks the database,\n"
            "consider a liveness-only endpoint so an outage elsewhere does not restart every pod.",
        ),
    }


def _container(plan: Plan, workload: Workload, secret: str) -> Manifest:
    container: Manifest = {"name": name(workload), "image": workload.image}
    if not is_lead(plan, workload) and workload.component.start_command:
        container["command"] = comment(
            shlex.split(workload.component.start_command),
            f"This image's default command runs another component; {name(workload)} starts with its own.",
        )
    if workload.container_port is not None:
        container["ports"] = [
            {"name": PORT_NAME, "containerPort": workload.container_port, "protocol": "TCP"}
        ]
    container["envFrom"] = comment(
        [{"configMapRef": {"name": config_name(workload)}}],
        "Non-secret settings; kustomize adds a content hash to the name, so a change rolls the pods.",
    )
    env = secret_env(workload, secret)
    if env:
        container["env"] = comment(
            env,
            f"From the Secret {secret}, created out of band (never in this repository).\n"
            "optional: false — a pod without its credentials does not start.",
        )
    container["securityContext"] = _container_security_context(workload)
    container.update(_probes(workload))
    if serves_http(workload):
        container["lifecycle"] = comment(
            {"preStop": {"sleep": {"seconds": PRESTOP_SECONDS}}},
            "Keep serving while endpoints and the ingress controller drop this pod, then get SIGTERM.\n"
            f"The sleep action needs no shell in the image (Kubernetes >= {MIN_KUBERNETES}; GA in 1.34).",
        )
    mounts, _ = _volumes(workload)
    if mounts:
        container["volumeMounts"] = mounts
    return container


def _spread(workload: Workload) -> Any:
    return comment(
        [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector_labels(workload)},
            },
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector_labels(workload)},
            },
        ],
        "Spread replicas across zones, then across nodes, so losing a zone or a node does not take\n"
        "every replica. ScheduleAnyway: a single-zone cluster (or dev's one replica) still schedules.",
    )


def deployment(plan: Plan, workload: Workload, secret: str) -> Manifest:
    spec: Manifest = {}
    if autoscaled(workload):
        spec["selector"] = comment(
            {"matchLabels": selector_labels(workload)},
            "No `replicas`: the HorizontalPodAutoscaler owns the count (an apply must not reset it).",
        )
    else:
        spec["replicas"] = comment(1, "Set per environment in the overlay (no autoscaler for workers).")
        spec["selector"] = {"matchLabels": selector_labels(workload)}
    spec["strategy"] = comment(
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
        "Zero-downtime rollout: a new pod must be ready before an old one goes.",
    )
    spec["minReadySeconds"] = comment(10, "A new pod must stay ready 10 s before it counts as available.")
    spec["revisionHistoryLimit"] = comment(5, "ReplicaSets kept for `kubectl rollout undo`.")
    spec["progressDeadlineSeconds"] = comment(
        600, "`kubectl rollout status` fails after 10 minutes without progress."
    )
    _, volumes = _volumes(workload)
    pod_spec: Manifest = {
        "serviceAccountName": name(workload),
        "automountServiceAccountToken": False,
        "securityContext": _pod_security_context(workload),
    }
    if serves_http(workload):
        pod_spec["terminationGracePeriodSeconds"] = comment(
            GRACE_SECONDS,
            f"Longer than the {PRESTOP_SECONDS} s preStop sleep plus the app's own graceful shutdown.",
        )
    else:
        pod_spec["terminationGracePeriodSeconds"] = comment(
            WORKER_GRACE_SECONDS,
            "Time to finish the task in hand after SIGTERM. No preStop: a worker has no endpoints to\n"
            f"drain. No probes: {workload.probe.reason}.",
        )
    pod_spec["topologySpreadConstraints"] = _spread(workload)
    pod_spec["containers"] = [_container(plan, workload, secret)]
    if volumes:
        pod_spec["volumes"] = volumes
    spec["template"] = {"metadata": {"labels": selector_labels(workload)}, "spec": pod_spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name(workload)},
        "spec": spec,
    }


def service(workload: Workload) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name(workload)},
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(workload),
            "ports": [{"name": PORT_NAME, "port": SERVICE_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
        },
    }


def hpa(workload: Workload) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name(workload)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name(workload)},
            "minReplicas": comment(1, "Bounds are set per environment in the overlay."),
            "maxReplicas": 1,
            "metrics": comment(
                [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": CPU_TARGET},
                        },
                    }
                ],
                f"Scale out above {CPU_TARGET}% of the CPU request (requests are set per environment).",
            ),
            "behavior": comment(
                {"scaleDown": {"stabilizationWindowSeconds": 300}},
                "Scale in only after 5 minutes of lower load, so a brief dip does not drop capacity.",
            ),
        },
    }


def pdb(workload: Workload) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name(workload)},
        "spec": {
            "maxUnavailable": comment(
                1,
                "At most one pod evicted at a time by a drain. maxUnavailable rather than\n"
                "minAvailable: with a single replica (dev) minAvailable 1 would block node drains\n"
                "forever, while maxUnavailable 1 lets the drain proceed; with 2+ replicas (staging,\n"
                "prod) it always keeps all but one serving.",
            ),
            "selector": {"matchLabels": selector_labels(workload)},
            "unhealthyPodEvictionPolicy": comment(
                "AlwaysAllow", "A pod that is not ready anyway may be evicted even when the budget is spent."
            ),
        },
    }


def network_policy(workload: Workload) -> Manifest:
    spec: Manifest = {
        "podSelector": {"matchLabels": selector_labels(workload)},
        "policyTypes": comment(
            ["Ingress"],
            "Ingress only. Egress stays open: the app reaches DNS, its database and external APIs\n"
            "whose addresses this kit does not know; restrict egress once they are known.",
        ),
    }
    if serves_http(workload):
        spec["ingress"] = comment(
            [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": INGRESS_NAMESPACE}
                            }
                        }
                    ],
                    "ports": [{"port": PORT_NAME, "protocol": "TCP"}],
                }
            ],
            f"Only the ingress controller (namespace {INGRESS_NAMESPACE}) reaches the web port; every\n"
            "other connection is denied. Kubelet probes are not subject to NetworkPolicy. Add a rule\n"
            "for your monitoring namespace if Prometheus scrapes the pods.",
        )
    else:
        spec["ingress"] = comment([], "A worker accepts no connections.")
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name(workload)},
        "spec": spec,
    }


def ingress(workload: Workload) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name(workload),
            "annotations": comment(
                {"cert-manager.io/cluster-issuer": CLUSTER_ISSUER},
                f"cert-manager issues the TLS certificate from the ClusterIssuer `{CLUSTER_ISSUER}`.",
            ),
        },
        "spec": {
            "ingressClassName": INGRESS_CLASS,
            "rules": comment(
                [ingress_rule(workload, None)],
                "Host and TLS are set per environment in the overlay.",
            ),
        },
    }


def ingress_rule(workload: Workload, host: str | None) -> Manifest:
    rule: Manifest = {}
    if host is not None:
        rule["host"] = host
    rule["http"] = {
        "paths": [
            {
                "path": "/",
                "pathType": "Prefix",
                "backend": {"service": {"name": name(workload), "port": {"name": PORT_NAME}}},
            }
        ]
    }
    return rule


def migration_job(plan: Plan, workload: Workload, secret: str, gitops: bool) -> Manifest:
    assert workload.migrate_command is not None
    mounts, volumes = _volumes(workload)
    container: Manifest = {
        "name": "migrate",
        "image": workload.image,
        "command": comment(
            shlex.split(workload.migrate_command), "The migration command from the plan, from the new image."
        ),
        "envFrom": [{"configMapRef": {"name": migration_config_name(workload)}}],
    }
    env = secret_env(workload, secret)
    if env:
        container["env"] = env
    container["securityContext"] = _container_security_context(workload)
    if mounts:
        container["volumeMounts"] = mounts
    pod_spec: Manifest = {
        "restartPolicy": "Never",
        "serviceAccountName": migration_name(workload),
        "automountServiceAccountToken": False,
        "securityContext": _pod_security_context(workload),
        "containers": [container],
    }
    if volumes:
        pod_spec["volumes"] = volumes
    metadata: Manifest = {"name": migration_name(workload)}
    if gitops:
        metadata["annotations"] = comment(
            {
                ARGO_HOOK: "Sync",
                ARGO_HOOK_DELETE: "BeforeHookCreation",
                ARGO_WAVE: WAVE_MIGRATION,
            },
            "Argo CD runs this Job in wave -1 of every sync and waits for it to complete before\n"
            "wave 0 (the Deployment). As a hook it is deleted and recreated each sync, so the\n"
            "immutable Job template never blocks a new image.",
        )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": comment(
                1, "One retry for a transient failure (database not reachable yet); more rarely help."
            ),
            "activeDeadlineSeconds": comment(
                MIGRATION_DEADLINE_SECONDS, "A migration that runs longer than 10 minutes fails the deploy."
            ),
            "ttlSecondsAfterFinished": comment(
                MIGRATION_TTL_SECONDS, "Kept a day for `kubectl logs`, then garbage-collected."
            ),
            "template": {"metadata": {"labels": migration_selector_labels(workload)}, "spec": pod_spec},
        },
    }

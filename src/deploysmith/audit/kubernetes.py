"""Kubernetes rules: pod security, health, capacity, and objects that do not fit together.

Applies to YAML files outside .github/workflows; a document is a Kubernetes object when it
has `apiVersion` and `kind`. Workload rules read the pod template of Deployments,
StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs and Argo Rollouts. Rules that relate
objects (PDB, HPA, Service selectors, kustomize image rewrites) look across the whole set.
Helm chart templates (`templates/*.yaml` with `{{ }}`) are skipped: they are not YAML
until rendered.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from deploysmith.audit.base import FileSet, Hit, Rule
from deploysmith.audit.parse import (
    K8sObject,
    YMap,
    labels_of,
    same_namespace,
    selector_matches,
    split_image,
)
from deploysmith.audit.secrets import is_secret_name

_LONG_RUNNING = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Rollout"})
_SCALABLE = frozenset({"Deployment", "StatefulSet", "Rollout", "ReplicaSet"})


def applies_to(path: str) -> bool:
    return path.endswith((".yaml", ".yml")) and not path.startswith(".github/workflows/")


def _workloads(fs: FileSet) -> Iterator[K8sObject]:
    return (obj for obj in fs.objects if obj.pod is not None)


def _containers(obj: K8sObject, init: bool = True) -> Iterator[YMap]:
    assert obj.pod is not None
    yield from obj.pod.containers
    if init:
        yield from obj.pod.init_containers


def _cname(container: YMap) -> str:
    name = container.get("name")
    return str(name) if name is not None else "?"


# -- DS-K8S-001 / 002: health and capacity ------------------------------------------------------


def _probes(fs: FileSet) -> Iterator[Hit]:
    for obj in _workloads(fs):
        if obj.kind not in _LONG_RUNNING:
            continue
        for container in _containers(obj, init=False):
            missing = [probe for probe in ("readinessProbe", "livenessProbe") if probe not in container]
            if missing:
                yield Hit(
                    obj.path,
                    container.line,
                    f"{obj.label}: container {_cname(container)} has no {' or '.join(missing)}; without a "
                    "readiness probe traffic reaches pods that are not ready, without a liveness probe "
                    "a hung process is never restarted",
                )


def _resources(fs: FileSet) -> Iterator[Hit]:
    for obj in _workloads(fs):
        for container in _containers(obj, init=False):
            resources = container.mapping("resources")
            requests, limits = resources.mapping("requests"), resources.mapping("limits")
            missing = [f"requests.{key}" for key in ("cpu", "memory") if key not in requests]
            if "memory" not in limits:
                missing.append("limits.memory")
            if missing:
                yield Hit(
                    obj.path,
                    resources.line if "resources" in container else container.line,
                    f"{obj.label}: container {_cname(container)} sets no {', '.join(missing)}; the scheduler "
                    "cannot place it reliably and it can starve its neighbours",
                )


# -- DS-K8S-003..006, 009: security context -------------------------------------------------------


def _effective(obj: K8sObject, container: YMap, key: str) -> tuple[Any, int]:
    """A securityContext field as the kubelet sees it (container over pod) and its line."""
    assert obj.pod is not None
    own = container.mapping("securityContext")
    if key in own:
        return own[key], own.line_of(key)
    pod = obj.pod.spec.mapping("securityContext")
    if key in pod:
        return pod[key], pod.line_of(key)
    return None, container.line


def _run_as_root(fs: FileSet) -> Iterator[Hit]:
    for obj in _workloads(fs):
        for container in _containers(obj):
            non_root, line = _effective(obj, container, "runAsNonRoot")
            user, user_line = _effective(obj, container, "runAsUser")
            if user == 0 and not isinstance(user, bool):
                yield Hit(obj.path, user_line,
                          f"{obj.label}: container {_cname(container)} sets runAsUser: 0 (root)")
            elif non_root is not True:
                yield Hit(
                    obj.path,
                    line,
                    f"{obj.label}: container {_cname(container)} may run as root: set "
                    "securityContext.runAsNonRoot: true (and a numeric runAsUser)",
                )


def _container_flag(fs: FileSet, key: str, wanted: bool, advice: str) -> Iterator[Hit]:
    for obj in _workloads(fs):
        for container in _containers(obj):
            context = container.mapping("securityContext")
            if context.get(key) is not wanted:
                line = context.line_of(key) if key in context else context.line
                yield Hit(obj.path, line, f"{obj.label}: container {_cname(container)} {advice}")


def _privilege_escalation(fs: FileSet) -> Iterator[Hit]:
    return _container_flag(
        fs, "allowPrivilegeEscalation", False,
        "does not set securityContext.allowPrivilegeEscalation: false; setuid binaries can gain privileges",
    )


def _read_only_root(fs: FileSet) -> Iterator[Hit]:
    return _container_flag(
        fs, "readOnlyRootFilesystem", True,
        "does not set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where the app "
        "must write",
    )


def _drop_all(fs: FileSet) -> Iterator[Hit]:
    for obj in _workloads(fs):
        for container in _containers(obj):
            context = container.mapping("securityContext")
            capabilities = context.mapping("capabilities")
            drop = capabilities.get("drop")
            if not isinstance(drop, list) or not any(str(item).upper() == "ALL" for item in drop):
                line = capabilities.line_of("drop") if "drop" in capabilities else capabilities.line
                yield Hit(
                    obj.path,
                    line,
                    f"{obj.label}: container {_cname(container)} keeps the default Linux capabilities; "
                    "set securityContext.capabilities.drop: [ALL] and add back only what it needs",
                )


def _privileged(fs: FileSet) -> Iterator[Hit]:
    for obj in _workloads(fs):
        for container in _containers(obj):
            context = container.mapping("securityContext")
            if context.get("privileged") is True:
                yield Hit(
                    obj.path,
                    context.line_of("privileged"),
                    f"{obj.label}: container {_cname(container)} is privileged: it has full access to the node",
                )


# -- DS-K8S-007: image tags ------------------------------------------------------------------------


def _image_latest(fs: FileSet) -> Iterator[Hit]:
    for obj in _workloads(fs):
        for container in _containers(obj):
            image = container.get("image")
            if not isinstance(image, str) or not image.strip() or "$" in image or "{" in image:
                continue
            name, tag, digest = split_image(image)
            if digest is not None or name in fs.kustomize_images:
                continue
            if tag is None:
                yield Hit(
                    obj.path,
                    container.line_of("image"),
                    f"{obj.label}: container {_cname(container)} image `{image}` has no tag (means `latest`) "
                    "and no kustomization rewrites it; pin a version or digest",
                )
            elif tag == "latest":
                yield Hit(
                    obj.path,
                    container.line_of("image"),
                    f"{obj.label}: container {_cname(container)} image `{image}` uses the moving `latest` tag; "
                    "pin a version or digest",
                )


# -- DS-K8S-008: host access -----------------------------------------------------------------------


def _host_access(fs: FileSet) -> Iterator[Hit]:
    for obj in _workloads(fs):
        assert obj.pod is not None
        spec = obj.pod.spec
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(key) is True:
                yield Hit(obj.path, spec.line_of(key),
                          f"{obj.label}: {key}: true shares the node's namespace with the pod")
        for volume in spec.maps("volumes"):
            if "hostPath" in volume:
                yield Hit(
                    obj.path,
                    volume.line_of("hostPath"),
                    f"{obj.label}: volume {volume.get('name', '?')} mounts a hostPath from the node",
                )


# -- DS-K8S-010 / 011: disruption budget and autoscaling ----------------------------------------------


def _hpa_targets(fs: FileSet) -> dict[tuple[str, str], K8sObject]:
    targets: dict[tuple[str, str], K8sObject] = {}
    for obj in fs.objects:
        if obj.kind == "HorizontalPodAutoscaler":
            ref = obj.doc.mapping("spec").mapping("scaleTargetRef")
            kind, name = ref.get("kind"), ref.get("name")
            if isinstance(kind, str) and isinstance(name, str):
                targets[(kind, name)] = obj
    return targets


def _hpa_for(obj: K8sObject, targets: dict[tuple[str, str], K8sObject]) -> K8sObject | None:
    hpa = targets.get((obj.kind, obj.name))
    return hpa if hpa is not None and same_namespace(hpa.namespace, obj.namespace) else None


def _no_pdb(fs: FileSet) -> Iterator[Hit]:
    budgets = [obj for obj in fs.objects if obj.kind == "PodDisruptionBudget"]
    targets = _hpa_targets(fs)
    for obj in _workloads(fs):
        if obj.kind not in _SCALABLE or obj.pod is None:
            continue
        spec = obj.doc.mapping("spec")
        replicas = spec.get("replicas")
        hpa = _hpa_for(obj, targets)
        if hpa is not None:
            replicas = hpa.doc.mapping("spec").get("minReplicas", 1)
        if not isinstance(replicas, int) or replicas < 2:
            continue
        labels = obj.pod.labels
        if any(
            same_namespace(pdb.namespace, obj.namespace)
            and selector_matches(pdb.doc.mapping("spec").mapping("selector"), labels)
            for pdb in budgets
        ):
            continue
        yield Hit(
            obj.path,
            spec.line_of("replicas") if "replicas" in spec else obj.line,
            f"{obj.label} runs {replicas} replicas but no PodDisruptionBudget selects its pods; a node "
            "drain can take them all down at once",
        )


def _replicas_with_hpa(fs: FileSet) -> Iterator[Hit]:
    targets = _hpa_targets(fs)
    for obj in _workloads(fs):
        spec = obj.doc.mapping("spec")
        if "replicas" not in spec:
            continue
        hpa = _hpa_for(obj, targets)
        if hpa is not None:
            yield Hit(
                obj.path,
                spec.line_of("replicas"),
                f"{obj.label} sets replicas while HorizontalPodAutoscaler {hpa.name} scales it; every apply "
                "resets the replica count. Remove spec.replicas",
            )


# -- DS-K8S-012 / 013: services and ingress --------------------------------------------------------


def _service_orphan(fs: FileSet) -> Iterator[Hit]:
    workloads = [obj for obj in _workloads(fs)]
    if not workloads:  # the pods are deployed from elsewhere; nothing to compare with
        return
    for obj in fs.objects:
        if obj.kind != "Service":
            continue
        spec = obj.doc.mapping("spec")
        if spec.get("type") == "ExternalName" or not isinstance(spec.get("selector"), YMap):
            continue
        selector = labels_of(spec.mapping("selector"))
        if not selector:
            continue
        if any(
            same_namespace(obj.namespace, workload.namespace)
            and workload.pod is not None
            and all(workload.pod.labels.get(key) == value for key, value in selector.items())
            for workload in workloads
        ):
            continue
        shown = ", ".join(f"{key}={value}" for key, value in sorted(selector.items()))
        yield Hit(
            obj.path,
            spec.line_of("selector"),
            f"{obj.label} selects {shown} but no pod template in this set has those labels; "
            "it will have no endpoints",
        )


def _ingress_tls(fs: FileSet) -> Iterator[Hit]:
    for obj in fs.objects:
        if obj.kind == "Ingress" and not obj.doc.mapping("spec").get("tls"):
            yield Hit(
                obj.path,
                obj.doc.line_of("spec"),
                f"{obj.label} has no tls section, so it serves plain HTTP; add spec.tls with a certificate "
                "secret (cert-manager can issue it)",
            )


# -- DS-K8S-014: secrets in ConfigMaps -----------------------------------------------------------------

_URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:([^@\s/]+)@", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"^\$|^\{\{|^<|changeme|example|xxxx|placeholder|password$", re.IGNORECASE)


def _configmap_secret(fs: FileSet) -> Iterator[Hit]:
    for obj in fs.objects:
        if obj.kind != "ConfigMap":
            continue
        data = obj.doc.mapping("data")
        for key, value in data.items():
            text = "" if value is None else str(value)
            if not text.strip():
                continue
            credentials = _URL_CREDENTIALS.search(text)
            if is_secret_name(str(key)):
                reason = "a secret-looking key"
            elif credentials is not None and not _PLACEHOLDER.search(credentials.group(1)):
                reason = "a URL with an embedded password"
            else:
                continue
            yield Hit(
                obj.path,
                data.line_of(key),
                f"{obj.label}: {key} is {reason}; ConfigMaps are readable by anyone who can read the "
                "namespace's config. Move it to a Secret (or an external secret store)",
            )


# -- DS-K8S-015: removed API versions ---------------------------------------------------------------

_APPS = ("Deployment", "DaemonSet", "ReplicaSet", "StatefulSet")
# (apiVersion, kind) → (the Kubernetes version that removed it, what to use instead)
REMOVED_APIS: dict[tuple[str, str], tuple[str, str]] = {
    **{("extensions/v1beta1", kind): ("1.16", "apps/v1") for kind in _APPS},
    **{("apps/v1beta1", kind): ("1.16", "apps/v1") for kind in _APPS},
    **{("apps/v1beta2", kind): ("1.16", "apps/v1") for kind in _APPS},
    ("extensions/v1beta1", "NetworkPolicy"): ("1.16", "networking.k8s.io/v1"),
    ("extensions/v1beta1", "PodSecurityPolicy"): ("1.16", "Pod Security Admission"),
    ("extensions/v1beta1", "Ingress"): ("1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "Ingress"): ("1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "IngressClass"): ("1.22", "networking.k8s.io/v1"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"): ("1.22", "apiextensions.k8s.io/v1"),
    ("admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration"):
        ("1.22", "admissionregistration.k8s.io/v1"),
    ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration"):
        ("1.22", "admissionregistration.k8s.io/v1"),
    ("apiregistration.k8s.io/v1beta1", "APIService"): ("1.22", "apiregistration.k8s.io/v1"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"): ("1.22", "certificates.k8s.io/v1"),
    ("coordination.k8s.io/v1beta1", "Lease"): ("1.22", "coordination.k8s.io/v1"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"): ("1.22", "scheduling.k8s.io/v1"),
    **{
        ("rbac.authorization.k8s.io/v1beta1", kind): ("1.22", "rbac.authorization.k8s.io/v1")
        for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    },
    **{
        ("storage.k8s.io/v1beta1", kind): ("1.22", "storage.k8s.io/v1")
        for kind in ("CSIDriver", "CSINode", "StorageClass", "VolumeAttachment")
    },
    ("batch/v1beta1", "CronJob"): ("1.25", "batch/v1"),
    ("discovery.k8s.io/v1beta1", "EndpointSlice"): ("1.25", "discovery.k8s.io/v1"),
    ("events.k8s.io/v1beta1", "Event"): ("1.25", "events.k8s.io/v1"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler"): ("1.25", "autoscaling/v2"),
    ("policy/v1beta1", "PodDisruptionBudget"): ("1.25", "policy/v1"),
    ("policy/v1beta1", "PodSecurityPolicy"): ("1.25", "Pod Security Admission"),
    ("node.k8s.io/v1beta1", "RuntimeClass"): ("1.25", "node.k8s.io/v1"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): ("1.26", "autoscaling/v2"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"): ("1.26", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration"):
        ("1.26", "flowcontrol.apiserver.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity"): ("1.27", "storage.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema"): ("1.29", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration"):
        ("1.29", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema"): ("1.32", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration"):
        ("1.32", "flowcontrol.apiserver.k8s.io/v1"),
}


def _deprecated_api(fs: FileSet) -> Iterator[Hit]:
    for obj in fs.objects:
        removed = REMOVED_APIS.get((obj.api_version, obj.kind))
        if removed is not None:
            version, replacement = removed
            yield Hit(
                obj.path,
                obj.doc.line_of("apiVersion"),
                f"{obj.api_version} {obj.kind} was removed in Kubernetes {version}; use {replacement}",
            )


RULES: tuple[Rule, ...] = (
    Rule("DS-K8S-001", "k8s-missing-probes", "warning",
         "A long-running container has no readiness or liveness probe.", _probes),
    Rule("DS-K8S-002", "k8s-missing-resources", "warning",
         "A container sets no CPU/memory requests or no memory limit.", _resources),
    Rule("DS-K8S-003", "k8s-run-as-root", "error",
         "A container may run as root (runAsNonRoot is not true).", _run_as_root),
    Rule("DS-K8S-004", "k8s-privilege-escalation", "warning",
         "A container does not set allowPrivilegeEscalation: false.", _privilege_escalation),
    Rule("DS-K8S-005", "k8s-capabilities-not-dropped", "warning",
         "A container does not drop ALL Linux capabilities.", _drop_all),
    Rule("DS-K8S-006", "k8s-writable-root-filesystem", "warning",
         "A container does not set readOnlyRootFilesystem: true.", _read_only_root),
    Rule("DS-K8S-007", "k8s-image-latest", "error",
         "A container image is untagged or uses the moving `latest` tag.", _image_latest),
    Rule("DS-K8S-008", "k8s-host-access", "error",
         "A pod uses hostNetwork, hostPID, hostIPC or a hostPath volume.", _host_access),
    Rule("DS-K8S-009", "k8s-privileged-container", "error",
         "A container runs privileged.", _privileged),
    Rule("DS-K8S-010", "k8s-no-pdb", "warning",
         "A multi-replica workload has no PodDisruptionBudget.", _no_pdb),
    Rule("DS-K8S-011", "k8s-replicas-with-hpa", "warning",
         "A workload sets replicas while an HPA scales it.", _replicas_with_hpa),
    Rule("DS-K8S-012", "k8s-service-selector-orphan", "warning",
         "A Service selects labels no pod template in the set has.", _service_orphan),
    Rule("DS-K8S-013", "k8s-ingress-no-tls", "warning",
         "An Ingress has no tls section.", _ingress_tls),
    Rule("DS-K8S-014", "k8s-configmap-secret", "error",
         "A ConfigMap holds a secret-looking value.", _configmap_secret),
    Rule("DS-K8S-015", "k8s-removed-api", "error",
         "An object uses an apiVersion that Kubernetes has removed.", _deprecated_api),
)

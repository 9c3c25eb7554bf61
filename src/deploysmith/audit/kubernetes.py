"""Kubernetes rules: pod security, health, capacity, and objects that do not fit together.

Applies to YAML files outside .github/workflows; a document is a Kubernetes object when it
has `apiVersion` and `kind`. Workload rules read the pod template of Deployments,
StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs and Argo Rollouts.

Rules judge what is applied, not file by file: each kustomize build (kustomize.py: an
overlay with its bases and patches) is one unit, and manifests that no kustomization
includes are another. Rules that relate objects (PDB, HPA, Service selectors) look inside
one unit. Helm chart templates (`templates/*.yaml` with `{{ }}`) are not YAML until
rendered: each chart is rendered by Helm's engine (audit/helm.py), once per values file,
and each render is a unit whose findings point at the template files.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from typing import Any

from deploysmith.audit import helm
from deploysmith.audit.base import Check, FileSet, Hit, Rule
from deploysmith.audit.kustomize import Unit
from deploysmith.audit.parse import (
    K8sObject,
    YMap,
    YSeq,
    labels_of,
    same_namespace,
    selector_matches,
    split_image,
)
from deploysmith.audit.secrets import is_secret_name

_LONG_RUNNING = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Rollout"})
_SCALABLE = frozenset({"Deployment", "StatefulSet", "Rollout", "ReplicaSet"})

UnitCheck = Callable[[FileSet, Unit], Iterator[Hit]]


def applies_to(path: str) -> bool:
    return path.endswith((".yaml", ".yml")) and not path.startswith(".github/workflows/")


def per_unit(check: UnitCheck) -> Check:
    """Run a check over every unit (each kustomize build, and the loose manifests). A base
    shared by several overlays is reported once, naming the builds where it fails."""

    def run(fs: FileSet) -> Iterator[Hit]:
        found: dict[tuple[str, int | None], tuple[Hit, list[str]]] = {}
        for unit in fs.units:
            for hit in check(fs, unit):
                _, labels = found.setdefault((hit.path, hit.line), (hit, []))
                if unit.label is not None and unit.label not in labels:
                    labels.append(unit.label)
        for hit, labels in found.values():
            elsewhere = [label for label in labels if label != posixpath.dirname(hit.path)]
            if elsewhere:
                builds = [label for label in elsewhere if not helm.is_render_label(label)]
                charts = helm.describe_renders(label for label in elsewhere if helm.is_render_label(label))
                where = ([f"kustomize build of {', '.join(builds)}"] if builds else []) + charts
                message = f"{hit.message} ({'; '.join(where)})"
                hit = Hit(hit.path, hit.line, message, hit.column)
            yield hit

    return run


def at(mapping: YMap, key: str | None = None) -> tuple[str, int]:
    """Where a mapping (or one of its keys) is: after a kustomize patch, maybe another file."""
    if key is None or key not in mapping:
        return mapping.source, mapping.line
    return mapping.path_of(key), mapping.line_of(key)


def _hit(where: tuple[str, int], message: str) -> Hit:
    return Hit(where[0], where[1], message)


def _workloads(unit: Unit) -> Iterator[K8sObject]:
    return (obj for obj in unit.objects if obj.pod is not None)


def _containers(obj: K8sObject, init: bool = True) -> Iterator[YMap]:
    assert obj.pod is not None
    yield from obj.pod.containers
    if init:
        yield from obj.pod.init_containers


def _cname(container: YMap) -> str:
    name = container.get("name")
    return str(name) if name is not None else "?"


# -- DS-K8S-001 / 002: health and capacity ------------------------------------------------------


def _selected_by_service(obj: K8sObject, unit: Unit) -> bool:
    assert obj.pod is not None
    for service in unit.objects:
        if service.kind != "Service" or not same_namespace(service.namespace, obj.namespace):
            continue
        selector = labels_of(service.doc.mapping("spec").mapping("selector"))
        if selector and all(obj.pod.labels.get(key) == value for key, value in selector.items()):
            return True
    return False


def _probes(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    for obj in _workloads(unit):
        if obj.kind not in _LONG_RUNNING:
            continue
        served = _selected_by_service(obj, unit)
        for container in _containers(obj, init=False):
            if not served and not container.get("ports"):
                continue  # takes no traffic (a worker): no generic probe to ask for
            missing = [probe for probe in ("readinessProbe", "livenessProbe") if probe not in container]
            if missing:
                yield _hit(
                    at(container),
                    f"{obj.label}: container {_cname(container)} has no {' or '.join(missing)}; without a "
                    "readiness probe traffic reaches pods that are not ready, without a liveness probe "
                    "a hung process is never restarted",
                )


def _resources(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    for obj in _workloads(unit):
        for container in _containers(obj, init=False):
            resources = container.mapping("resources")
            requests, limits = resources.mapping("requests"), resources.mapping("limits")
            missing = [f"requests.{key}" for key in ("cpu", "memory") if key not in requests]
            if "memory" not in limits:
                missing.append("limits.memory")
            if missing:
                yield _hit(
                    at(container, "resources"),
                    f"{obj.label}: container {_cname(container)} sets no {', '.join(missing)}; the scheduler "
                    "cannot place it reliably and it can starve its neighbours",
                )


# -- DS-K8S-003..006, 009: security context -------------------------------------------------------


def _effective(obj: K8sObject, container: YMap, key: str) -> tuple[Any, tuple[str, int]]:
    """A securityContext field as the kubelet sees it (container over pod) and where it is."""
    assert obj.pod is not None
    own = container.mapping("securityContext")
    if key in own:
        return own[key], at(own, key)
    pod = obj.pod.spec.mapping("securityContext")
    if key in pod:
        return pod[key], at(pod, key)
    return None, at(container)


def _run_as_root(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    for obj in _workloads(unit):
        for container in _containers(obj):
            non_root, where = _effective(obj, container, "runAsNonRoot")
            user, user_where = _effective(obj, container, "runAsUser")
            if user == 0 and not isinstance(user, bool):
                yield _hit(user_where, f"{obj.label}: container {_cname(container)} sets runAsUser: 0 (root)")
            elif non_root is not True:
                yield _hit(
                    where,
                    f"{obj.label}: container {_cname(container)} may run as root: set "
                    "securityContext.runAsNonRoot: true (and a numeric runAsUser)",
                )


def _container_flag(unit: Unit, key: str, wanted: bool, advice: str) -> Iterator[Hit]:
    for obj in _workloads(unit):
        for container in _containers(obj):
            context = container.mapping("securityContext")
            if context.get(key) is not wanted:
                yield _hit(at(context, key), f"{obj.label}: container {_cname(container)} {advice}")


def _privilege_escalation(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    return _container_flag(
        unit, "allowPrivilegeEscalation", False,
        "does not set securityContext.allowPrivilegeEscalation: false; setuid binaries can gain privileges",
    )


def _read_only_root(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    return _container_flag(
        unit, "readOnlyRootFilesystem", True,
        "does not set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where the app "
        "must write",
    )


def _drop_all(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    for obj in _workloads(unit):
        for container in _containers(obj):
            capabilities = container.mapping("securityContext").mapping("capabilities")
            drop = capabilities.get("drop")
            if not isinstance(drop, list) or not any(str(item).upper() == "ALL" for item in drop):
                yield _hit(
                    at(capabilities, "drop"),
                    f"{obj.label}: container {_cname(container)} keeps the default Linux capabilities; "
                    "set securityContext.capabilities.drop: [ALL] and add back only what it needs",
                )


def _privileged(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    for obj in _workloads(unit):
        for container in _containers(obj):
            context = container.mapping("securityContext")
            if context.get("privileged") is True:
                yield _hit(
                    at(context, "privileged"),
                    f"{obj.label}: container {_cname(container)} is privileged: "
                    "it has full access to the node",
                )


def _seccomp(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    for obj in _workloads(unit):
        for container in _containers(obj):
            profile, where = _effective(obj, container, "seccompProfile")
            kind = profile.get("type") if isinstance(profile, YMap) else None
            if kind in ("RuntimeDefault", "Localhost"):
                continue
            problem = "runs Unconfined" if kind == "Unconfined" else "sets no seccompProfile"
            yield _hit(
                where,
                f"{obj.label}: container {_cname(container)} {problem}, so every system call is open to it; "
                "set securityContext.seccompProfile.type: RuntimeDefault on the pod",
            )


def _token_automount(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    accounts = {
        (o.name, o.namespace): o.doc.get("automountServiceAccountToken")
        for o in unit.objects
        if o.kind == "ServiceAccount"
    }
    for obj in _workloads(unit):
        assert obj.pod is not None
        spec = obj.pod.spec
        if "automountServiceAccountToken" in spec:
            continue  # decided on the pod, either way
        name = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
        account = next(
            (v for (n, ns), v in accounts.items() if n == name and same_namespace(ns, obj.namespace)), None
        )
        if account is False:
            continue
        yield _hit(
            at(spec),
            f"{obj.label}: pods mount the {name} service account's API token; set "
            "automountServiceAccountToken: false unless the app calls the Kubernetes API",
        )


# -- DS-K8S-007: image tags ------------------------------------------------------------------------


def _image_latest(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    for obj in _workloads(unit):
        for container in _containers(obj):
            image = container.get("image")
            if not isinstance(image, str) or not image.strip() or "$" in image or "{" in image:
                continue
            name, tag, digest = split_image(image)
            if digest is not None or name in fs.kustomize_images:
                continue
            if tag is None:
                yield _hit(
                    at(container, "image"),
                    f"{obj.label}: container {_cname(container)} image `{image}` has no tag (means `latest`) "
                    "and no kustomization rewrites it; pin a version or digest",
                )
            elif tag == "latest":
                yield _hit(
                    at(container, "image"),
                    f"{obj.label}: container {_cname(container)} image `{image}` uses the moving "
                    "`latest` tag; pin a version or digest",
                )


def _image_latest_everywhere(fs: FileSet) -> Iterator[Hit]:
    """Workload images (per unit), and the `images:` a kustomization rewrites them to."""
    yield from per_unit(_image_latest)(fs)
    for kustomization in fs.kustomizations:
        for entry in kustomization.doc.maps("images"):
            tag = entry.get("newTag")
            if entry.get("digest") or tag != "latest":
                continue
            yield Hit(
                kustomization.path,
                entry.line_of("newTag"),
                f"kustomization sets image `{entry.get('name')}` to the moving `latest` tag; pin a version "
                "or a digest (newTag: 1.4.2, or digest: sha256:…)",
            )


# -- DS-K8S-008: host access -----------------------------------------------------------------------


def _host_access(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    for obj in _workloads(unit):
        assert obj.pod is not None
        spec = obj.pod.spec
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(key) is True:
                yield _hit(at(spec, key), f"{obj.label}: {key}: true shares the node's {key[4:]} namespace")
        for volume in spec.maps("volumes"):
            if "hostPath" in volume:
                yield _hit(
                    at(volume, "hostPath"),
                    f"{obj.label}: volume {volume.get('name', '?')} mounts a hostPath from the node",
                )


# -- DS-K8S-010 / 011: disruption budget and autoscaling ----------------------------------------------


def _hpa_for(obj: K8sObject, unit: Unit) -> K8sObject | None:
    for hpa in unit.objects:
        if hpa.kind == "HorizontalPodAutoscaler" and same_namespace(hpa.namespace, obj.namespace):
            ref = hpa.doc.mapping("spec").mapping("scaleTargetRef")
            if ref.get("kind") == obj.kind and ref.get("name") == obj.name:
                return hpa
    return None


def _no_pdb(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    budgets = [obj for obj in unit.objects if obj.kind == "PodDisruptionBudget"]
    for obj in _workloads(unit):
        if obj.kind not in _SCALABLE or obj.pod is None:
            continue
        spec = obj.doc.mapping("spec")
        replicas = spec.get("replicas")
        hpa = _hpa_for(obj, unit)
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
        yield _hit(
            at(spec, "replicas") if "replicas" in spec else at(obj.doc),
            f"{obj.label} runs at least 2 replicas but no PodDisruptionBudget selects its pods; a node "
            "drain can take them all down at once",
        )


def _replicas_with_hpa(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    for obj in _workloads(unit):
        spec = obj.doc.mapping("spec")
        if "replicas" not in spec:
            continue
        hpa = _hpa_for(obj, unit)
        if hpa is not None:
            yield _hit(
                at(spec, "replicas"),
                f"{obj.label} sets replicas while HorizontalPodAutoscaler {hpa.name} scales it; every apply "
                "resets the replica count. Remove spec.replicas",
            )


# -- DS-K8S-012 / 013: services and ingress --------------------------------------------------------


def _service_orphan(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    workloads = list(_workloads(unit))
    if not workloads:  # the pods are deployed from elsewhere; nothing to compare with
        return
    for obj in unit.objects:
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
        yield _hit(
            at(spec, "selector"),
            f"{obj.label} selects {shown} but no pod template deployed with it has those labels; "
            "it will have no endpoints",
        )


def _ingress_tls(fs: FileSet, unit: Unit) -> Iterator[Hit]:
    for obj in unit.objects:
        if obj.kind == "Ingress" and not obj.doc.mapping("spec").get("tls"):
            yield _hit(
                at(obj.doc, "spec"),
                f"{obj.label} has no tls section, so it serves plain HTTP; add spec.tls with a certificate "
                "secret (cert-manager can issue it)",
            )


# -- DS-K8S-014: secrets in ConfigMaps -----------------------------------------------------------------

_URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:([^@\s/]+)@", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"^\$|^\{\{|^<|changeme|example|xxxx|placeholder|password$", re.IGNORECASE)


def _secret_reason(key: str, value: str) -> str | None:
    if not value.strip():
        return None
    if is_secret_name(key):
        return "a secret-looking key"
    credentials = _URL_CREDENTIALS.search(value)
    if credentials is not None and not _PLACEHOLDER.search(credentials.group(1)):
        return "a URL with an embedded password"
    return None


_CONFIGMAP_ADVICE = (
    "ConfigMaps are readable by anyone who can read the namespace's config. Move it to a Secret "
    "(or an external secret store)"
)


def _configmap_secret(fs: FileSet) -> Iterator[Hit]:
    for obj in (*fs.objects, *fs.patches):
        if obj.kind != "ConfigMap":
            continue
        data = obj.doc.mapping("data")
        for key, value in data.items():
            reason = _secret_reason(str(key), "" if value is None else str(value))
            if reason is not None:
                yield _hit(at(data, key), f"{obj.label}: {key} is {reason}; {_CONFIGMAP_ADVICE}")
    for kustomization in fs.kustomizations:
        for generator in kustomization.doc.maps("configMapGenerator"):
            literals = generator.get("literals")
            if not isinstance(literals, YSeq):
                continue
            for line, literal in zip(literals.item_lines, literals, strict=False):
                key, sep, value = str(literal).partition("=")
                reason = _secret_reason(key, value) if sep else None
                if reason is not None:
                    yield Hit(
                        kustomization.path,
                        line,
                        f"configMapGenerator {generator.get('name', '?')}: {key} is {reason}; "
                        f"{_CONFIGMAP_ADVICE} (secretGenerator from a file kept out of git)",
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
    for obj in (*fs.objects, *fs.patches):
        removed = REMOVED_APIS.get((obj.api_version, obj.kind))
        if removed is not None:
            version, replacement = removed
            yield _hit(
                at(obj.doc, "apiVersion"),
                f"{obj.api_version} {obj.kind} was removed in Kubernetes {version}; use {replacement}",
            )


RULES: tuple[Rule, ...] = (
    Rule("DS-K8S-001", "k8s-missing-probes", "warning",
         "A long-running container has no readiness or liveness probe.", per_unit(_probes)),
    Rule("DS-K8S-002", "k8s-missing-resources", "warning",
         "A container sets no CPU/memory requests or no memory limit.", per_unit(_resources)),
    Rule("DS-K8S-003", "k8s-run-as-root", "error",
         "A container may run as root (runAsNonRoot is not true).", per_unit(_run_as_root)),
    Rule("DS-K8S-004", "k8s-privilege-escalation", "warning",
         "A container does not set allowPrivilegeEscalation: false.", per_unit(_privilege_escalation)),
    Rule("DS-K8S-005", "k8s-capabilities-not-dropped", "warning",
         "A container does not drop ALL Linux capabilities.", per_unit(_drop_all)),
    Rule("DS-K8S-006", "k8s-writable-root-filesystem", "warning",
         "A container does not set readOnlyRootFilesystem: true.", per_unit(_read_only_root)),
    Rule("DS-K8S-007", "k8s-image-latest", "error",
         "A container image is untagged or uses the moving `latest` tag.", _image_latest_everywhere),
    Rule("DS-K8S-008", "k8s-host-access", "error",
         "A pod uses hostNetwork, hostPID, hostIPC or a hostPath volume.", per_unit(_host_access)),
    Rule("DS-K8S-009", "k8s-privileged-container", "error",
         "A container runs privileged.", per_unit(_privileged)),
    Rule("DS-K8S-010", "k8s-no-pdb", "warning",
         "A multi-replica workload has no PodDisruptionBudget.", per_unit(_no_pdb)),
    Rule("DS-K8S-011", "k8s-replicas-with-hpa", "warning",
         "A workload sets replicas while an HPA scales it.", per_unit(_replicas_with_hpa)),
    Rule("DS-K8S-012", "k8s-service-selector-orphan", "warning",
         "A Service selects labels no pod template in the set has.", per_unit(_service_orphan)),
    Rule("DS-K8S-013", "k8s-ingress-no-tls", "warning",
         "An Ingress has no tls section.", per_unit(_ingress_tls)),
    Rule("DS-K8S-014", "k8s-configmap-secret", "error",
         "A ConfigMap holds a secret-looking value.", _configmap_secret),
    Rule("DS-K8S-015", "k8s-removed-api", "error",
         "An object uses an apiVersion that Kubernetes has removed.", _deprecated_api),
    Rule("DS-K8S-016", "k8s-no-seccomp", "warning",
         "A container runs without the RuntimeDefault (or a Localhost) seccomp profile.", per_unit(_seccomp)),
    Rule("DS-K8S-017", "k8s-token-automount", "info",
         "Pods mount a service account API token they may not need.", per_unit(_token_automount)),
)

"""The chart's templates: the Kustomize base's resources, from the same builders.

Each resource comes from `render.kubernetes` (so the chart has exactly the hardening of the
Kustomize base: security contexts, probes, preStop, spread, PDB, NetworkPolicy) and is then
given what Helm fills in per environment, as `gotmpl` markers:

- labels: the chart's common labels and the workload's name/component (`_helpers.tpl`);
  selectors stay written out from `selector_labels`, so they never change with a release;
- the image (`<chart>.image`: repository@digest), replicas or HPA bounds, resources, the
  Ingress host (no host: no Ingress), APP_ENV;
- a `checksum/config` annotation on the pod template: a changed ConfigMap rolls the pods,
  and `helm rollback` restores the previous ConfigMap with the previous image;
- the migration Job as a `pre-install,pre-upgrade` hook (weight -1) after its ServiceAccount
  and ConfigMap (hooks too, weight -2, since hooks run before the release's own objects
  exist). Helm waits for the Job; a failed migration fails the upgrade before any
  Deployment changes, and `--atomic` rolls the release back.

Resource names are the workload names, as in the Kustomize kit, so monitoring, the CI
rollout checks and the runbook name the same objects whatever the packaging.
"""

from __future__ import annotations

import json
from typing import Any

from deploysmith.model import Plan, Workload
from deploysmith.render import kubernetes as k8s
from deploysmith.render.common import header, secret_name
from deploysmith.render.helm.gotmpl import Block, Expr, Splice, Template
from deploysmith.render.helm.progressive import HOSTED
from deploysmith.render.helm.progressive import resources as progressive_resources
from deploysmith.render.yamlout import Commented, comment

HOOK = "helm.sh/hook"
HOOK_WEIGHT = "helm.sh/hook-weight"
HOOK_DELETE = "helm.sh/hook-delete-policy"
HOOK_EVENTS = "pre-install,pre-upgrade"
HOOK_DELETE_POLICY = "before-hook-creation"
WEIGHT_PREREQUISITES = "-2"
WEIGHT_MIGRATION = "-1"
INSTANCE = "app.kubernetes.io/instance"
WL = "$wl"
IMAGE = "$image"


def go_string(text: str) -> str:
    """A Go template string literal (JSON's escaping is a subset Go accepts)."""
    return json.dumps(text)


def _value(data: Any) -> Any:
    return data.value if isinstance(data, Commented) else data


def _variables(plan: Plan, workload: Workload) -> tuple[tuple[str, str], ...]:
    return (
        (WL, f"index .Values.workloads {go_string(k8s.name(workload))}"),
        (IMAGE, f"index .Values.image {go_string(workload.image)}"),
    )


def labels(chart: str, workload: Workload, component: str | None = None) -> dict[Any, Any]:
    """Object labels: the chart's common labels plus the workload's name and component."""
    wanted = component or k8s.component_label(workload)
    selector = f'(dict "name" {go_string(k8s.name(workload))} "component" {go_string(wanted)})'
    return {
        Splice(f"include {go_string(chart + '.labels')} ."): None,
        Splice(f"include {go_string(chart + '.selectorLabels')} {selector}"): None,
    }


def _pod_labels(plan: Plan, selector: dict[str, str]) -> dict[str, Any]:
    return {**selector, k8s.PART_OF: plan.app_name, INSTANCE: Expr(".Release.Name")}


def _metadata(chart: str, workload: Workload, name: str, component: str | None = None) -> dict[str, Any]:
    return {"name": name, "labels": labels(chart, workload, component)}


def _image(chart: str) -> Expr:
    return Expr(f'include {go_string(chart + ".image")} (dict "image" {IMAGE} "chart" .Chart) | quote')


def _resources() -> Any:
    return comment(Block(f"{WL}.resources"), "Per environment (values-<env>.yaml).")


def _checksum(template_path: str) -> Expr:
    return Expr(f'include (print $.Template.BasePath {go_string("/" + template_path)}) . | sha256sum | quote')


def template_dir(workload: Workload) -> str:
    return k8s.name(workload)


def _template(plan: Plan, workload: Workload, manifest: Any, what: str, condition: str | None = None) -> Template:
    return Template(manifest, header(what), _variables(plan, workload), condition)


def workload_templates(plan: Plan, chart: str, workload: Workload) -> dict[str, Template]:
    """templates/<workload>/<kind>.yaml for one workload, by file name."""
    wl = k8s.name(workload)
    secret = secret_name(plan)
    config_path = f"{template_dir(workload)}/configmap.yaml"
    resources: list[tuple[str, dict[str, Any], str]] = [
        ("deployment.yaml", deployment(plan, chart, workload, secret, config_path), f"Deployment of {wl}"),
        ("serviceaccount.yaml", {**k8s.service_account(wl), "metadata": _metadata(chart, workload, wl)},
         f"ServiceAccount of {wl}"),
    ]
    if k8s.serves_http(workload):
        resources.append(("service.yaml", _named(chart, workload, k8s.service(workload)), f"Service of {wl}"))
        resources.append(("hpa.yaml", hpa(chart, workload), f"HorizontalPodAutoscaler of {wl}"))
    resources.append(("pdb.yaml", _named(chart, workload, k8s.pdb(workload)), f"PodDisruptionBudget of {wl}"))
    resources.append(
        ("networkpolicy.yaml", _named(chart, workload, k8s.network_policy(workload)), f"NetworkPolicy of {wl}")
    )
    if k8s.serves_http(workload):
        resources.append(("ingress.yaml", ingress(chart, workload), f"Ingress of {wl}; only with a host"))
    # Canary, blue/green, A/B: the Kustomize kit's builders, per-environment values by lookup.
    resources = progressive_resources(plan, workload, resources)
    templates = {"configmap.yaml": _template(plan, workload, config_map(plan, chart, workload), f"ConfigMap of {wl}")}
    for path, manifest, what in resources:
        if "labels" not in manifest["metadata"]:
            manifest = _named(chart, workload, manifest)
        condition = f"{WL}.ingress.host" if manifest["kind"] in HOSTED else None
        templates[path] = _template(plan, workload, manifest, what, condition)
    if workload.migrate_command:
        templates.update(
            {f"migrate/{name}": template for name, template in migration_templates(plan, chart, workload).items()}
        )
    return templates


def _named(chart: str, workload: Workload, manifest: dict[str, Any]) -> dict[str, Any]:
    metadata = manifest["metadata"]
    return {**manifest, "metadata": {"name": metadata["name"], "labels": labels(chart, workload), **metadata}}


def config_map(plan: Plan, chart: str, workload: Workload) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if workload.container_port is not None:
        data["PORT"] = str(workload.container_port)
    if workload.component.framework == "nextjs":
        data["HOSTNAME"] = comment(
            "0.0.0.0", "Next.js standalone listens on $HOSTNAME, which Kubernetes sets to the pod name."
        )
    data["APP_ENV"] = Expr(".Values.appEnv | quote")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(chart, workload, k8s.config_name(workload)),
        "data": comment(data, "Non-secret settings; a change rolls the pods (checksum/config on the Deployment)."),
    }


def deployment(plan: Plan, chart: str, workload: Workload, secret: str, config_path: str) -> dict[str, Any]:
    manifest = k8s.deployment(plan, workload, secret)
    spec = dict(manifest["spec"])
    if "replicas" in spec:
        spec["replicas"] = comment(Expr(f"{WL}.replicas"), "Per environment (values-<env>.yaml); no autoscaler.")
    template = _value(spec["template"])
    pod_spec = dict(template["spec"])
    pod_spec["containers"] = [_container(chart, container) for container in pod_spec["containers"]]
    spec["template"] = {
        "metadata": {
            "labels": _pod_labels(plan, template["metadata"]["labels"]),
            "annotations": comment(
                {"checksum/config": _checksum(config_path)},
                "A changed ConfigMap changes this hash and rolls the pods; `helm rollback` restores both.",
            ),
        },
        "spec": pod_spec,
    }
    return {**manifest, "metadata": _metadata(chart, workload, k8s.name(workload)), "spec": spec}


def _container(chart: str, container: dict[str, Any]) -> dict[str, Any]:
    anchor = "env" if "env" in container else "envFrom"
    result: dict[str, Any] = {}
    for key, value in container.items():
        if key == "image":
            result[key] = comment(_image(chart), "repository@digest from the values (CI sets the digest).")
        elif key == "envFrom" and isinstance(value, Commented):
            # The builder's comment speaks of kustomize's hashed name; here a checksum rolls the pods.
            result[key] = comment(value.value, "Non-secret settings: the ConfigMap of this workload.")
        else:
            result[key] = value
        if key == anchor:
            result["resources"] = _resources()
    return result


def hpa(chart: str, workload: Workload) -> dict[str, Any]:
    manifest = k8s.hpa(workload)
    spec = dict(manifest["spec"])
    spec["minReplicas"] = comment(Expr(f"{WL}.autoscaling.minReplicas"), "Bounds per environment (values-<env>.yaml).")
    spec["maxReplicas"] = Expr(f"{WL}.autoscaling.maxReplicas")
    return {**_named(chart, workload, manifest), "spec": spec}


def ingress(chart: str, workload: Workload) -> dict[str, Any]:
    manifest = _named(chart, workload, k8s.ingress(workload))
    spec = dict(manifest["spec"])
    host = Expr(f"{WL}.ingress.host | quote")
    spec["tls"] = comment(
        [{"hosts": [host], "secretName": k8s.tls_secret_name(workload)}],
        "cert-manager writes the certificate into this Secret.",
    )
    spec["rules"] = comment([{"host": host, **k8s.ingress_rule(workload, None)}], "Host from the values.")
    return {**manifest, "spec": spec}


def _hook(weight: str, why: str) -> Any:
    return comment({HOOK: HOOK_EVENTS, HOOK_WEIGHT: weight, HOOK_DELETE: HOOK_DELETE_POLICY}, why)


def migration_templates(plan: Plan, chart: str, workload: Workload) -> dict[str, Template]:
    wl = k8s.name(workload)
    name = k8s.migration_name(workload)
    prerequisite = _hook(
        WEIGHT_PREREQUISITES,
        "A hook like the Job: hooks run before the release's own objects exist, so what the Job\n"
        "needs is created just before it (weight -2) and replaced on each upgrade.",
    )
    account = k8s.service_account(name)
    account["metadata"] = {**_metadata(chart, workload, name, k8s.MIGRATION), "annotations": prerequisite}
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            **_metadata(chart, workload, k8s.migration_config_name(workload), k8s.MIGRATION),
            "annotations": prerequisite,
        },
        "data": {"APP_ENV": Expr(".Values.appEnv | quote")},
    }
    job = k8s.migration_job(plan, workload, secret_name(plan), gitops=False)
    job["metadata"] = {
        **_metadata(chart, workload, name, k8s.MIGRATION),
        "annotations": _hook(
            WEIGHT_MIGRATION,
            "Runs before every install and upgrade, from the new image; Helm waits for it to complete\n"
            "and a failure fails the upgrade before any Deployment changes. Deleted just before the\n"
            "next run (a Job's template is immutable); kept until then for `kubectl logs`.",
        ),
    }
    spec = dict(job["spec"])
    template = spec["template"]
    pod_spec = dict(template["spec"])
    pod_spec["containers"] = [_container(chart, container) for container in pod_spec["containers"]]
    spec["template"] = {"metadata": {"labels": _pod_labels(plan, template["metadata"]["labels"])}, "spec": pod_spec}
    job["spec"] = spec
    return {
        "serviceaccount.yaml": _template(plan, workload, account, f"ServiceAccount of the migration of {wl}"),
        "configmap.yaml": _template(plan, workload, config, f"ConfigMap of the migration of {wl}"),
        "job.yaml": _template(plan, workload, job, f"migration Job of {wl}, a pre-install/pre-upgrade hook"),
    }

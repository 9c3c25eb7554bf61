"""Plain manifests (`--packaging plain`): every object written out per environment, for
`kubectl apply -f`, without kustomize or Helm.

Layout::

    deploy/manifests/<env>/namespace.yaml          the Namespace (Pod Security `restricted`), once
    deploy/manifests/<env>/app/<wl>-<kind>.yaml     the app: one file per object
    deploy/manifests/<env>/migrate/<wl>-<kind>.yaml the migration Job, its ServiceAccount and ConfigMap

The objects are the Kustomize base's (`render.kubernetes` builders, the same hardening) with
what an overlay would patch in already applied: namespace, labels, replicas or HPA bounds,
resources, host and TLS, APP_ENV. ConfigMap names carry a hash of their content, as
kustomize's generator does: a change rolls the pods, and `kubectl rollout undo` returns to
the previous ConfigMap (an apply without --prune never deletes it).

Images name their repository with the tag `unpinned`, which no registry serves: applied by
hand without pinning, a pod fails to pull instead of running whatever `latest` is. Each
deploy pins the digest just built into the files of the checkout first
(`kubectl set image --local`, no cluster involved), then migrates, applies, waits; see
`deploy_commands`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile, Workload
from deploysmith.render import kubernetes as k8s
from deploysmith.render.common import header, image_repository, secret_name
from deploysmith.render.kustomize import (
    DeployCommands,
    ingress_host,
    migration_lines,
    rollout_lines,
    secret_lines,
    undo_lines,
)
from deploysmith.render.yamlout import Commented, comment, dump

MANIFESTS_DIR = "deploy/manifests"
UNPINNED = "unpinned"


def env_dir(env_name: str) -> str:
    return f"{MANIFESTS_DIR}/{env_name}"


def app_dir(env_name: str) -> str:
    return f"{env_dir(env_name)}/app"


def migrate_dir(env_name: str) -> str:
    return f"{env_dir(env_name)}/migrate"


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    files: list[RenderedFile] = []
    for env in plan.environments:
        files.append(
            RenderedFile(
                f"{env_dir(env.name)}/namespace.yaml",
                dump(
                    k8s.namespace(plan, env, gitops=False),
                    header(f"namespace of the {env.name} environment; apply it once by hand before the first deploy"),
                ),
            )
        )
        for workload in plan.workloads:
            for name, manifest, what in _app(plan, workload, env):
                files.append(RenderedFile(f"{app_dir(env.name)}/{name}", dump(manifest, header(what))))
            if workload.migrate_command:
                for name, manifest, what in _migration(plan, workload, env):
                    files.append(RenderedFile(f"{migrate_dir(env.name)}/{name}", dump(manifest, header(what))))
    return tuple(sorted(files, key=lambda rendered: rendered.path))


# -- objects ---------------------------------------------------------------------------------------


def _value(data: Any) -> Any:
    return data.value if isinstance(data, Commented) else data


def _hashed(name: str, data: Mapping[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(dict(data), sort_keys=True).encode()).hexdigest()
    return f"{name}-{digest[:10]}"


def _labels(plan: Plan, selector: Mapping[str, str]) -> dict[str, str]:
    return {**selector, k8s.PART_OF: plan.app_name, k8s.MANAGED_BY: "deploysmith"}


def _placed(plan: Plan, env: EnvironmentPlan, manifest: dict[str, Any], selector: Mapping[str, str]) -> dict[str, Any]:
    """The object in the environment's namespace, with the labels kustomize would add."""
    metadata = manifest["metadata"]
    placed = {"name": metadata["name"], "namespace": env.namespace, "labels": _labels(plan, selector), **metadata}
    return {**manifest, "metadata": placed}


def _resources(env: EnvironmentPlan) -> dict[str, Any]:
    return {
        "requests": {"cpu": env.cpu_request, "memory": env.memory_request},
        "limits": {"cpu": env.cpu_limit, "memory": env.memory_limit},
    }


def config_data(workload: Workload, env: EnvironmentPlan) -> dict[str, str]:
    data: dict[str, str] = {}
    if workload.container_port is not None:
        data["PORT"] = str(workload.container_port)
    if workload.component.framework == "nextjs":
        data["HOSTNAME"] = "0.0.0.0"  # Next.js standalone listens on $HOSTNAME (the pod name otherwise)
    data["APP_ENV"] = env.name
    return data


def config_name(workload: Workload, env: EnvironmentPlan) -> str:
    return _hashed(k8s.config_name(workload), config_data(workload, env))


def migration_config_name(workload: Workload, env: EnvironmentPlan) -> str:
    return _hashed(k8s.migration_config_name(workload), {"APP_ENV": env.name})


def _image(plan: Plan, workload: Workload) -> Any:
    image = next(image for image in plan.images if image.name == workload.image)
    return comment(
        f"{image_repository(plan, image)}:{UNPINNED}",
        "No registry serves this tag: each deploy pins the digest it built (kubectl set image --local).",
    )


def _pod(plan: Plan, template: Any, env: EnvironmentPlan, config: str, resources: dict[str, Any],
         workload: Workload) -> dict[str, Any]:
    template = _value(template)
    pod_spec = dict(template["spec"])
    containers = []
    for container in pod_spec["containers"]:
        updated: dict[str, Any] = {}
        anchor = "env" if "env" in container else "envFrom"
        for key, value in container.items():
            if key == "image":
                updated[key] = _image(plan, workload)
            elif key == "envFrom":
                updated[key] = comment(
                    [{"configMapRef": {"name": config}}],
                    "Non-secret settings. The name carries a hash of the content: a change rolls the pods,\n"
                    "and a rollback returns to the previous ConfigMap.",
                )
            else:
                updated[key] = value
            if key == anchor:
                updated["resources"] = comment(resources, f"{env.name} sizing; limits cap a runaway pod.")
        containers.append(updated)
    pod_spec["containers"] = containers
    labels = _labels(plan, template["metadata"]["labels"])
    return {"metadata": {"labels": labels}, "spec": pod_spec}


def _config_map(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def _app(plan: Plan, workload: Workload, env: EnvironmentPlan) -> list[tuple[str, Any, str]]:
    wl = k8s.name(workload)
    selector = k8s.selector_labels(workload)
    config = config_data(workload, env)
    objects: list[tuple[str, Any, str]] = [
        (
            f"{wl}-configmap.yaml",
            _placed(plan, env, _config_map(config_name(workload, env), config), selector),
            f"{env.name} settings of {wl}",
        ),
        (f"{wl}-serviceaccount.yaml", _placed(plan, env, k8s.service_account(wl), selector), f"ServiceAccount of {wl}"),
    ]
    deployment = k8s.deployment(plan, workload, secret_name(plan))
    spec = dict(deployment["spec"])
    if "replicas" in spec:
        spec["replicas"] = comment(env.min_replicas, f"Fixed replicas in {env.name} (no autoscaler).")
    spec["template"] = _pod(plan, spec["template"], env, config_name(workload, env), _resources(env), workload)
    objects.append((f"{wl}-deployment.yaml", _placed(plan, env, {**deployment, "spec": spec}, selector),
                    f"{env.name} Deployment of {wl}"))
    if k8s.serves_http(workload):
        objects.append((f"{wl}-service.yaml", _placed(plan, env, k8s.service(workload), selector), f"Service of {wl}"))
        hpa = k8s.hpa(workload)
        hpa_spec = dict(hpa["spec"])
        bounds = f"{env.name}: {env.min_replicas} to {env.max_replicas} replicas."
        hpa_spec["minReplicas"] = comment(env.min_replicas, bounds)
        hpa_spec["maxReplicas"] = env.max_replicas
        objects.append((f"{wl}-hpa.yaml", _placed(plan, env, {**hpa, "spec": hpa_spec}, selector),
                        f"HorizontalPodAutoscaler of {wl}"))
    objects.append((f"{wl}-pdb.yaml", _placed(plan, env, k8s.pdb(workload), selector), f"PodDisruptionBudget of {wl}"))
    objects.append((f"{wl}-networkpolicy.yaml", _placed(plan, env, k8s.network_policy(workload), selector),
                    f"NetworkPolicy of {wl}"))
    host = ingress_host(plan, workload, env) if k8s.serves_http(workload) else None
    if host is not None:
        ingress = k8s.ingress(workload)
        ingress_spec = dict(ingress["spec"])
        ingress_spec["tls"] = comment(
            [{"hosts": [host], "secretName": k8s.tls_secret_name(workload)}],
            "cert-manager writes the certificate into this Secret.",
        )
        ingress_spec["rules"] = comment([k8s.ingress_rule(workload, host)], f"The {env.name} host from the plan.")
        objects.append((f"{wl}-ingress.yaml", _placed(plan, env, {**ingress, "spec": ingress_spec}, selector),
                        f"Ingress of {wl}"))
    return objects


def _migration(plan: Plan, workload: Workload, env: EnvironmentPlan) -> list[tuple[str, Any, str]]:
    wl = k8s.name(workload)
    selector = k8s.migration_selector_labels(workload)
    config = {"APP_ENV": env.name}
    job = k8s.migration_job(plan, workload, secret_name(plan), gitops=False)
    spec = dict(job["spec"])
    config_ref = migration_config_name(workload, env)
    spec["template"] = _pod(plan, spec["template"], env, config_ref, _resources(env), workload)
    return [
        (
            f"{wl}-configmap.yaml",
            _placed(plan, env, _config_map(migration_config_name(workload, env), config), selector),
            f"{env.name} settings of the migration of {wl}",
        ),
        (f"{wl}-serviceaccount.yaml", _placed(plan, env, k8s.service_account(k8s.migration_name(workload)), selector),
         f"ServiceAccount of the migration of {wl}"),
        (f"{wl}-job.yaml", _placed(plan, env, {**job, "spec": spec}, selector),
         f"migration Job of {wl}, run and awaited before each rollout"),
    ]


# -- CI and runbook commands -------------------------------------------------------------------------


def _digest_variable(image: str) -> str:
    return "DIGEST_" + re.sub(r"[^A-Za-z0-9]+", "_", image).upper().strip("_")


def deploy_commands(plan: Plan, env_name: str, image_refs: Mapping[str, str] | None = None) -> DeployCommands:
    """The exact commands to deploy `env_name` from plain manifests. `image_refs` maps a logical
    image name to a shell word for the reference CI pushed; by default `<repository>@${DIGEST_<IMAGE>}`."""
    env = plan.environment(env_name)
    if env is None:
        raise KeyError(env_name)
    ns = env.namespace
    refs = {
        image.name: (image_refs or {}).get(image.name)
        or f"{image_repository(plan, image)}@${{{_digest_variable(image.name)}}}"
        for image in plan.images
    }

    def pin(path: str, container: str, image: str) -> str:
        return f"pin {path} {container}={refs[image]}"

    set_image = [
        "pin() {  # file, container=image: the digest into the file, no cluster involved",
        '  kubectl set image --local --filename "$1" "$2" --output yaml > "$1.pinned" && mv "$1.pinned" "$1"',
        "}",
    ]
    set_image += [
        pin(f"{app_dir(env.name)}/{k8s.name(w)}-deployment.yaml", k8s.name(w), w.image) for w in plan.workloads
    ]
    migrating = [w for w in plan.workloads if w.migrate_command]
    set_image += [pin(f"{migrate_dir(env.name)}/{k8s.name(w)}-job.yaml", "migrate", w.image) for w in migrating]
    jobs = [k8s.migration_name(w) for w in migrating]
    migrate = migration_lines(ns, jobs, f"kubectl apply -f {migrate_dir(env.name)}")
    deployments = [k8s.name(w) for w in plan.workloads]
    return DeployCommands(
        bootstrap=(f"kubectl apply -f {env_dir(env.name)}/namespace.yaml", *secret_lines(plan, ns)),
        set_image=tuple(set_image),
        publish=(),
        migrate=migrate,
        apply=(f"kubectl apply -f {app_dir(env.name)}",),
        rollout=rollout_lines(ns, deployments),
        rollback=undo_lines(ns, deployments),
    )

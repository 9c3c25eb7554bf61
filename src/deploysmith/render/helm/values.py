"""The chart's values: defaults, one file per environment, and the JSON Schema Helm enforces.

Shape (every key is in the schema; anything else is rejected on install)::

    appEnv: staging                       # APP_ENV of every workload
    image:
      <image>:                            # one per container image of the plan
        repository: ghcr.io/acme/shop/api
        tag: ""                           # only when no digest: defaults to the chart's appVersion
        digest: ""                        # sha256:…, set by CI with --set-string
    workloads:
      <workload>:
        replicas: 2                       # workers (fixed count)
        autoscaling: {minReplicas, maxReplicas}   # web and static workloads (an HPA)
        resources: {requests: {cpu, memory}, limits: {cpu, memory}}
        ingress: {host: ""}               # web and static; "" renders no Ingress

Images are keyed by their logical name and workloads by their component name, both DNS
labels, so templates read them with `index` (`index .Values.workloads "web-api"`): a
hyphen is not valid in a `.Values.a.b` path.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, Workload
from deploysmith.render import kubernetes as k8s
from deploysmith.render.common import image_repository
from deploysmith.render.kustomize import ingress_host
from deploysmith.render.yamlout import comment

SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"
# A Kubernetes quantity as the kit writes them: 250m, 1, 0.5, 512Mi, 1Gi.
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|[KMGTPE]i?)?$"
DIGEST = r"^$|^sha256:[a-f0-9]{64}$"
TAG = r"^$|^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
HOST = r"^$|^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]([-a-z0-9]*[a-z0-9])?$"


def used_images(plan: Plan) -> list[str]:
    return [image.name for image in plan.images if any(w.image == image.name for w in plan.workloads)]


def resources(env: EnvironmentPlan) -> dict[str, Any]:
    return {
        "requests": {"cpu": env.cpu_request, "memory": env.memory_request},
        "limits": {"cpu": env.cpu_limit, "memory": env.memory_limit},
    }


def _workload(plan: Plan, workload: Workload, env: EnvironmentPlan, host: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if k8s.autoscaled(workload):
        values["autoscaling"] = comment(
            {"minReplicas": env.min_replicas, "maxReplicas": env.max_replicas},
            "HorizontalPodAutoscaler bounds; the Deployment has no replicas of its own.",
        )
    else:
        values["replicas"] = comment(env.min_replicas, "Fixed replicas (no autoscaler for workers).")
    values["resources"] = comment(
        resources(env), "Requests size scheduling (and the autoscaler's CPU target); limits cap a runaway pod."
    )
    if k8s.serves_http(workload):
        found = ingress_host(plan, workload, env) if host else None
        values["ingress"] = comment(
            {"host": found or ""},
            "The public host, TLS by cert-manager; empty: no Ingress, the Service is reachable in-cluster."
            if found
            else "Empty: no Ingress; the Service is reachable in-cluster.",
        )
    return values


def defaults(plan: Plan) -> dict[str, Any]:
    """values.yaml: the first environment's sizing, no public host, images by tag. Every
    deploy passes a values-<env>.yaml and the digests on top of these."""
    first = plan.environments[0]
    return {
        "appEnv": comment(first.name, "APP_ENV of every workload; each values-<env>.yaml sets its own."),
        "image": comment(
            {
                image.name: {"repository": image_repository(plan, image), "tag": "", "digest": ""}
                for image in plan.images
                if image.name in used_images(plan)
            },
            "CI deploys by digest: `--set-string image.<name>.digest=sha256:…` with the digest the Package\n"
            "stage pushed (and the repository it pushed to). Without a digest the tag is used, and\n"
            "without a tag the chart's appVersion.",
        ),
        "workloads": {
            k8s.name(workload): _workload(plan, workload, first, host=False) for workload in plan.workloads
        },
    }


def environment(plan: Plan, env: EnvironmentPlan) -> dict[str, Any]:
    """values-<env>.yaml: what differs from the defaults in this environment."""
    return {
        "appEnv": env.name,
        "workloads": {k8s.name(workload): _workload(plan, workload, env, host=True) for workload in plan.workloads},
    }


# -- values.schema.json ----------------------------------------------------------------------------


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": sorted(properties) if required is None else required,
        "properties": properties,
    }


def _quantity(what: str) -> dict[str, Any]:
    return {"type": ["string", "number"], "pattern": QUANTITY, "description": what}


def _replicas(what: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": 1000, "description": what}


def _workload_schema(workload: Workload) -> dict[str, Any]:
    pair = {"cpu": _quantity("CPU, e.g. 250m"), "memory": _quantity("memory, e.g. 512Mi")}
    properties: dict[str, Any] = {
        "resources": _closed({"requests": _closed(dict(pair)), "limits": _closed(dict(pair))}),
    }
    if k8s.autoscaled(workload):
        properties["autoscaling"] = _closed(
            {
                "minReplicas": _replicas("fewest replicas the autoscaler keeps"),
                "maxReplicas": _replicas("most replicas the autoscaler adds"),
            }
        )
    else:
        properties["replicas"] = _replicas("fixed number of replicas")
    if k8s.serves_http(workload):
        properties["ingress"] = _closed(
            {"host": {"type": "string", "pattern": HOST, "description": "public host; empty: no Ingress"}}
        )
    return _closed(properties)


def schema(plan: Plan) -> dict[str, Any]:
    """JSON Schema (draft-07) of the values; Helm validates install, upgrade, template and lint
    against it, so a typo in a values file fails before anything reaches the cluster."""
    image = _closed(
        {
            "repository": {"type": "string", "minLength": 1, "description": "registry and path, no tag"},
            "tag": {
                "type": "string",
                "pattern": TAG,
                "not": {"const": "latest"},
                "description": "used only without a digest; never `latest`",
            },
            "digest": {"type": "string", "pattern": DIGEST, "description": "sha256:… the image CI pushed"},
        }
    )
    return {
        "$schema": SCHEMA_DRAFT,
        "title": f"values of the {plan.app_name} chart",
        **_closed(
            {
                "appEnv": {"type": "string", "enum": [env.name for env in plan.environments]},
                "image": _closed({name: image for name in used_images(plan)}),
                "workloads": _closed(
                    {k8s.name(workload): _workload_schema(workload) for workload in plan.workloads}
                ),
                "global": {"type": "object", "description": "Helm's values shared with subcharts (none)"},
            },
            required=["appEnv", "image", "workloads"],
        ),
    }

"""Canary, blue/green and A/B testing in the chart, from the Kustomize kit's own builders.

`render.progressive.base_resources` turns a workload's resources into the progressive ones
(Argo Rollouts: a Rollout with a workloadRef to the Deployment at 0 replicas, an
AnalysisTemplate, the canary or preview Service, the HPA on the Rollout, routing through
render.traffic; Flagger: a Canary). What the Kustomize overlays patch per environment
(`render.progressive.overlay_documents`: blue/green auto-promotion outside prod, the
gatewayAPI plugin's namespace, Flagger's load-test URL, route hostnames) is applied here
to each environment's copy, and the copies are folded back into one template: what every
environment shares stays data, and a value that differs becomes a lookup by environment,

    autoPromotionEnabled: {{ index (dict "dev" true "staging" true "prod" false) .Values.appEnv }}

so the chart renders, per values-<env>.yaml, exactly what that overlay builds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, Workload
from deploysmith.render import kubernetes as k8s
from deploysmith.render import progressive
from deploysmith.render.helm.gotmpl import Block, Expr
from deploysmith.render.kustomize import ingress_host
from deploysmith.render.yamlout import Commented, strip

Resource = tuple[str, dict[str, Any], str]
HOSTED = ("Ingress", "HTTPRoute")  # rendered only in environments with a host
APP_ENV = ".Values.appEnv"
HOST = "$wl.ingress.host"  # the template's workload values (render.helm.chart)


def resources(plan: Plan, workload: Workload, base: list[Resource]) -> list[Resource]:
    if not progressive.applies(plan, workload):
        return base
    converted = progressive.base_resources(plan, workload, base)
    patches = {env.name: _patches(plan, workload, env) for env in plan.environments}
    out: list[Resource] = []
    for path, manifest, what in converted:
        key = (manifest["kind"], manifest["metadata"]["name"])
        versions: dict[str, Any] = {}
        for env in plan.environments:
            if manifest["kind"] in HOSTED and ingress_host(plan, workload, env) is None:
                continue
            document: Any = manifest
            for patch in patches[env.name]:
                if (patch.get("kind"), patch.get("metadata", {}).get("name")) == key:
                    document = merge(document, patch)
            versions[env.name] = document
        folded = vary(versions) if versions else manifest
        if manifest["kind"] == "HTTPRoute" and "hostnames" in folded.get("spec", {}):
            # The route answers on the host the values give, like the Ingress would.
            folded = {**folded, "spec": {**folded["spec"], "hostnames": [Expr(f"{HOST} | quote")]}}
        out.append((path, folded, what))
    return out


def _patches(plan: Plan, workload: Workload, env: EnvironmentPlan) -> list[dict[str, Any]]:
    """The overlay's progressive patches for this environment (the chart sets the Ingress
    host itself, from the values)."""
    host = ingress_host(plan, workload, env)
    ingress = [{"kind": "Ingress", "metadata": {"name": k8s.name(workload)}}] if host is not None else []
    documents = progressive.overlay_documents(plan, workload, env, host, ingress)
    return [document for document in documents if document.get("kind") != "Ingress"]


def merge(base: Any, patch: Any) -> Any:
    """A JSON merge patch as kustomize applies one to a custom resource: maps merge, the rest
    (lists included) is replaced. Comments on the base's maps are kept."""
    inner = base.value if isinstance(base, Commented) else base
    patch_inner = patch.value if isinstance(patch, Commented) else patch
    if not (isinstance(inner, dict) and isinstance(patch_inner, dict)):
        return patch
    merged = dict(inner)
    for key, value in patch_inner.items():
        merged[key] = merge(merged[key], value) if key in merged else value
    return Commented(merged, base.comment) if isinstance(base, Commented) else merged


def vary(versions: Mapping[str, Any]) -> Any:
    """One value from its per-environment versions (see the module docstring)."""
    values = list(versions.values())
    first = values[0]
    if all(strip(value) == strip(first) for value in values[1:]):
        return first
    inner = [value.value if isinstance(value, Commented) else value for value in values]

    def keep(data: Any) -> Any:
        return Commented(data, first.comment) if isinstance(first, Commented) else data

    envs = list(versions)

    def part(key: Any) -> Any:
        return vary({env: value[key] for env, value in zip(envs, inner, strict=True)})

    if all(isinstance(value, dict) for value in inner) and all(set(value) == set(inner[0]) for value in inner):
        return keep({key: part(key) for key in inner[0]})
    if all(isinstance(value, (list, tuple)) for value in inner) and len({len(value) for value in inner}) == 1:
        return keep([part(index) for index in range(len(inner[0]))])
    plain = [strip(value) for value in inner]
    if all(isinstance(value, str) for value in plain):
        return keep(Expr(_lookup(envs, [json.dumps(value) for value in plain]) + " | quote"))
    if all(isinstance(value, bool) for value in plain) or all(
        isinstance(value, int) and not isinstance(value, bool) for value in plain
    ):
        return keep(Expr(_lookup(envs, [json.dumps(value) for value in plain])))
    # Anything else (a key only some environments have, a list of another length): the whole
    # value per environment, as JSON the template parses.
    literals = [f"(fromJson {json.dumps(json.dumps({'v': value}))}).v" for value in plain]
    return keep(Block(_lookup(envs, literals)))


def _lookup(envs: list[str], literals: list[str]) -> str:
    pairs = " ".join(f"{json.dumps(env)} {literal}" for env, literal in zip(envs, literals, strict=True))
    return f"(index (dict {pairs}) {APP_ENV})"

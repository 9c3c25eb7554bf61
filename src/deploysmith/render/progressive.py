"""Progressive delivery in the Kustomize kit: which files a web workload gets for the chosen
strategy and controller, its per-environment patches, and the commands that wait for,
promote, abort and undo a release (CI, RUNBOOK.md).

Rolling keeps the plain Deployment (nothing here applies). Blue/green, canary and A/B
testing apply to HTTP workloads only; workers keep a rolling Deployment. Manifests come
from render.rollouts (Argo Rollouts, the default), render.flagger and render.traffic.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from typing import Any, TypeVar

from deploysmith.model import EnvironmentPlan, Plan, Workload
from deploysmith.plan.strategy import PROGRESSIVE
from deploysmith.render import flagger, rollouts, traffic
from deploysmith.render import kubernetes as k8s

Manifest = dict[str, Any]
Resource = tuple[str, Manifest, str]  # file name in the workload folder, manifest, what it is
T = TypeVar("T")

CANARY_TIMEOUT = "30m"  # steps (15 minutes) plus analysis and scale-up
PROMOTE_TIMEOUT = "60m"  # production blue/green: time for a person to check the preview and promote
PAUSE_TIMEOUT = "10m"
ROLLING_TIMEOUT = "10m"  # as render.kustomize.ROLLOUT_TIMEOUT
# Kubernetes packagings whose kit renders these resources (render.helm.progressive templates
# the same builders into the chart).
PACKAGINGS = ("kustomize", "helm")
PLUGIN_CHECK = (
    "command -v kubectl-argo-rollouts >/dev/null || { echo 'kubectl-argo-rollouts (the kubectl argo rollouts "
    "plugin) is not on PATH: install it on the runner (docs/deploy/DEPLOYMENT.md)' >&2; exit 1; }"
)  # A/B: until the variant runs and the rollout pauses for the experiment


def applies(plan: Plan, workload: Workload) -> bool:
    return (
        plan.strategy.choice in PROGRESSIVE
        and plan.requirements.target == "kubernetes"
        and plan.requirements.packaging in PACKAGINGS
        and k8s.serves_http(workload)
    )


def active(plan: Plan) -> bool:
    return any(applies(plan, workload) for workload in plan.workloads)


def argo(plan: Plan) -> bool:
    return plan.requirements.progressive_delivery != "flagger"


def kinds(plan: Plan) -> tuple[tuple[str, str], ...]:
    """(group, kind) of the custom resources the overlays contain (Argo CD AppProject whitelist)."""
    if not active(plan):
        return ()
    router = plan.requirements.traffic_router
    found: list[tuple[str, str]] = []
    if argo(plan):
        found += [("argoproj.io", "Rollout"), ("argoproj.io", "AnalysisTemplate")]
        if plan.strategy.choice != "blue-green" and router == "istio":
            found += [("networking.istio.io", "VirtualService"), ("networking.istio.io", "DestinationRule")]
    else:
        found.append(("flagger.app", "Canary"))
    if router == "gateway-api" and argo(plan):
        found.append(("gateway.networking.k8s.io", "HTTPRoute"))
    return tuple(found)


# -- base and overlays -------------------------------------------------------------------


def base_resources(plan: Plan, workload: Workload, resources: list[Resource]) -> list[Resource]:
    """The workload folder's resources for the chosen strategy (unchanged for rolling)."""
    if not applies(plan, workload):
        return resources
    if argo(plan):
        return _argo_base(plan, workload, resources)
    return _flagger_base(plan, workload, resources)


def _argo_base(plan: Plan, workload: Workload, resources: list[Resource]) -> list[Resource]:
    router = plan.requirements.traffic_router
    splits = plan.strategy.choice != "blue-green"
    wl = k8s.name(workload)
    out: list[Resource] = []
    for path, data, what in resources:
        kind = data["kind"]
        if kind == "Deployment":
            out.append((path, rollouts.template_deployment(data), f"pod template of the Rollout {wl}"))
            out.append(("rollout.yaml", rollouts.rollout(plan, workload), f"Argo Rollout of {wl}"))
            template = rollouts.analysis_template(plan, workload)
            if template is not None:
                out.append(("analysistemplate.yaml", template, f"AnalysisTemplate of {wl}"))
        elif kind == "Service":
            out.append((path, data, f"stable Service of {wl}" if splits else f"active Service of {wl}"))
            for extra in rollouts.services(plan, workload):
                name = extra["metadata"]["name"]
                role = "canary" if splits else "preview"
                out.append((f"service-{role}.yaml", extra, f"{role} Service of {wl} ({name})"))
        elif kind == "HorizontalPodAutoscaler":
            out.append((path, rollouts.autoscaler(data), what))
        elif kind == "NetworkPolicy":
            out.append((path, traffic.edge_policy(data, router), what))
        elif kind == "Ingress":
            if router == "gateway-api":
                out.append(("httproute.yaml", traffic.http_route(workload, splits), f"HTTPRoute of {wl}"))
            elif router == "istio" and splits:
                out.append((path, traffic.service_upstream(data), what))
                out.append(("virtualservice.yaml", traffic.virtual_service(workload), f"VirtualService of {wl}"))
                out.append(("destinationrule.yaml", traffic.destination_rule(workload),
                            f"DestinationRule of the canary of {wl}"))
            else:
                out.append((path, data, what))
        else:
            out.append((path, data, what))
    return out


def _flagger_base(plan: Plan, workload: Workload, resources: list[Resource]) -> list[Resource]:
    router = plan.requirements.traffic_router
    wl = k8s.name(workload)
    out: list[Resource] = []
    for path, data, what in resources:
        kind = data["kind"]
        if kind == "Service":
            continue  # Flagger generates <wl>, <wl>-primary and <wl>-canary
        if kind == "PodDisruptionBudget":
            data = {**data, "spec": {**data["spec"], "selector": flagger.selector(workload)}}
        elif kind == "NetworkPolicy":
            data = traffic.edge_policy(data, router)
            data = {**data, "spec": {**data["spec"], "podSelector": flagger.selector(workload)}}
        elif kind == "Ingress":
            if router == "gateway-api":
                continue  # Flagger generates the HTTPRoute on the shared Gateway
            if router == "istio":
                data = traffic.service_upstream(data)
        out.append((path, data, what))
        if kind == "Deployment":
            out.append(("canary.yaml", flagger.canary(plan, workload), f"Flagger Canary of {wl}"))
    return out


def overlay_documents(
    plan: Plan, workload: Workload, env: EnvironmentPlan, host: str | None, documents: list[Any]
) -> list[Any]:
    """The overlay's patches for the workload: the Ingress patch becomes an HTTPRoute (or
    Canary) hostname patch on Gateway API, plus the Rollout / Canary patch."""
    if not applies(plan, workload):
        return documents
    router = plan.requirements.traffic_router
    out: list[Any] = []
    for document in documents:
        if document.get("kind") == "Ingress" and router == "gateway-api":
            if host is not None and argo(plan):
                out.append(traffic.http_route_hosts(workload, host))
            continue
        out.append(document)
    if argo(plan):
        patch = rollouts.rollout_patch(plan, workload, env)
        if patch is not None:
            out.append(patch)
    else:
        out.append(flagger.canary_patch(plan, workload, env, host))
    return out


# -- commands ----------------------------------------------------------------------------


def _wait(plan: Plan, workload: Workload, ns: str, env_name: str | None, timeout: str | None) -> list[str]:
    name = shlex.quote(k8s.name(workload))
    if not argo(plan):
        wait = timeout or CANARY_TIMEOUT
        return [
            f"kubectl -n {ns} wait canary/{name} --for=jsonpath='{{.status.phase}}'=Progressing --timeout=3m || true",
            f"kubectl -n {ns} wait canary/{name} --for=condition=Promoted --timeout={wait}",
        ]
    if plan.strategy.choice == "ab-testing":
        return [f"kubectl -n {ns} wait rollout/{name} --for=jsonpath='{{.status.phase}}'=Paused "
                f"--timeout={timeout or PAUSE_TIMEOUT}"]
    wait = timeout or (PROMOTE_TIMEOUT if plan.strategy.choice == "blue-green" and env_name == "prod"
                       else CANARY_TIMEOUT)
    return [f"kubectl argo rollouts status {name} -n {ns} --timeout {wait}"]


def _undo(plan: Plan, workload: Workload, ns: str) -> list[str]:
    name = shlex.quote(k8s.name(workload))
    if not argo(plan):
        return [
            f"kubectl -n {ns} rollout undo deployment/{name}",
            *_wait(plan, workload, ns, None, None),
        ]
    return [
        f"kubectl argo rollouts abort {name} -n {ns}",
        f"kubectl argo rollouts undo {name} -n {ns}",
        f"kubectl argo rollouts status {name} -n {ns} --timeout 10m",
    ]


def commands(plan: Plan, env_name: str, ns: str, deploy: T) -> T:
    """`deploy` (kustomize.DeployCommands) with the rollout and rollback steps of the
    progressive workloads; imperative delivery only (GitOps waits on the controller)."""
    if not active(plan) or plan.requirements.gitops:
        return deploy
    rollout: list[str] = [PLUGIN_CHECK] if argo(plan) else []
    rollback: list[str] = [PLUGIN_CHECK] if argo(plan) else []
    for workload in plan.workloads:
        name = k8s.name(workload)
        if applies(plan, workload):
            rollout += _wait(plan, workload, ns, env_name, None)
            rollback += _undo(plan, workload, ns)
        else:
            status = f"kubectl -n {ns} rollout status deployment/{name} --timeout={ROLLING_TIMEOUT}"
            rollout.append(status)
            rollback += [f"kubectl -n {ns} rollout undo deployment/{name}", status]
    return dataclasses.replace(deploy, rollout=tuple(rollout), rollback=tuple(rollback))  # type: ignore[type-var]


def ci_rollout_lines(plan: Plan, timeout: str | None) -> list[str] | None:
    """CI: wait for every workload, the progressive ones through their controller; None when
    nothing is progressive (the caller keeps `kubectl rollout status`)."""
    if not active(plan):
        return None
    lines: list[str] = [PLUGIN_CHECK] if argo(plan) else []
    for workload in plan.workloads:
        if applies(plan, workload):
            lines += _wait(plan, workload, '"${NAMESPACE}"', None, timeout)
        else:
            lines.append(
                f'kubectl --namespace "${{NAMESPACE}}" rollout status '
                f"deployment/{shlex.quote(k8s.name(workload))} --timeout={timeout or ROLLING_TIMEOUT}"
            )
    return lines


def ci_undo_lines(plan: Plan, image_vars: Mapping[str, str]) -> list[str] | None:
    """CI: roll back only what runs this run's image (as the rolling version does); the
    Rollout through `abort` + `undo`, which restores the Deployment template (image and
    hashed ConfigMap). None when nothing is progressive."""
    if not active(plan) or not argo(plan):
        return None
    lines = [
        PLUGIN_CHECK,
        "# Only workloads that run this run's image are rolled back; one this run did not change keeps",
        "# its revision. A Rollout is aborted (traffic back to stable) and undone (template back).",
        "undo() {  # kind (deployment|rollout), name, image reference this run deployed",
        "  local running",
        '  running="$(kubectl --namespace "${NAMESPACE}" get deployment "$2" \\',
        "    --output 'jsonpath={.spec.template.spec.containers[*].image}')\"",
        '  if [[ "${running}" != *"$3"* ]]; then',
        "    return 0",
        "  fi",
        '  if [[ "$1" == rollout ]]; then',
        '    kubectl argo rollouts abort "$2" --namespace "${NAMESPACE}"',
        '    kubectl argo rollouts undo "$2" --namespace "${NAMESPACE}"',
        '    kubectl argo rollouts status "$2" --namespace "${NAMESPACE}" --timeout 10m',
        "  else",
        '    kubectl --namespace "${NAMESPACE}" rollout undo deployment "$2"',
        '    kubectl --namespace "${NAMESPACE}" rollout status deployment "$2" --timeout=10m',
        "  fi",
        "}",
    ]
    for workload in plan.workloads:
        kind = "rollout" if applies(plan, workload) else "deployment"
        lines.append(f'undo {kind} {shlex.quote(k8s.name(workload))} "${{{image_vars[workload.image]}}}"')
    return lines


# -- RUNBOOK.md --------------------------------------------------------------------------


def runbook_section(plan: Plan) -> str:
    """Promote, pause, abort and roll back a release of the chosen strategy, per environment."""
    if not active(plan):
        return ""
    serving = [w for w in plan.workloads if applies(plan, w)]
    env = plan.environment("prod") or plan.environments[-1]
    ns = env.namespace
    parts = ["## Progressive delivery\n"]
    choice = plan.strategy.choice
    if argo(plan):
        parts.append(
            f"Strategy **{choice}** with Argo Rollouts (install the controller and the `kubectl argo rollouts` "
            "plugin"
            + (", plus the `argoproj-labs/gatewayAPI` traffic-router plugin" if plan.requirements.traffic_router
               == "gateway-api" else "")
            + f"). Commands for `{env.name}`; use another namespace for another environment.\n"
        )
        parts.append("```sh")
        for workload in serving:
            name = k8s.name(workload)
            parts += [
                f"kubectl argo rollouts get rollout {name} -n {ns} --watch   # steps, analysis runs, pods",
                f"kubectl argo rollouts status {name} -n {ns} --timeout 10m",
                f"kubectl argo rollouts promote {name} -n {ns}          # next step (or the switch, blue/green)",
                f"kubectl argo rollouts promote {name} -n {ns} --full   # skip the remaining steps and analysis",
                f"kubectl argo rollouts pause {name} -n {ns}            # hold at the current step",
                f"kubectl argo rollouts abort {name} -n {ns}            # all traffic back to the stable version",
                f"kubectl argo rollouts retry rollout {name} -n {ns}    # run an aborted release again",
                f"kubectl argo rollouts undo {name} -n {ns}             # previous revision (image + ConfigMap)",
                f"kubectl -n {ns} get analysisrun -l rollouts-pod-template-hash --sort-by=.metadata.creationTimestamp",
            ]
        parts.append("```\n")
        if choice == "blue-green":
            parts.append(
                "Production does not switch by itself: check the preview "
                f"(`{rollouts.preview_service_name(serving[0])}` Service), then `promote`. The previous version "
                "stays up "
                f"{rollouts.SCALE_DOWN_DELAY_SECONDS // 60} minutes after the switch, so `abort` switches back "
                "instantly while the post-promotion analysis runs.\n"
            )
        if choice == "ab-testing":
            parts.append(
                f"The variant receives only requests with `{traffic.EXPERIMENT_HEADER}: {traffic.EXPERIMENT_VALUE}`"
                + (f" (or the cookie `{traffic.EXPERIMENT_COOKIE}=always`)" if plan.requirements.traffic_router
                   == "nginx" else "")
                + ". End the experiment with `promote` (keep the variant for everyone) or `abort` (drop it).\n"
            )
    else:
        parts.append(
            f"Strategy **{choice}** with Flagger (install Flagger for the `{plan.requirements.traffic_router}` "
            f"provider and its load tester as `{flagger.LOADTESTER_URL}`). Commands for `{env.name}`.\n"
        )
        parts.append("```sh")
        for workload in serving:
            name = k8s.name(workload)
            parts += [
                f"kubectl -n {ns} get canary {name} --watch               # phase, weight, failed checks",
                f"kubectl -n {ns} describe canary {name}                  # events: why it advanced or rolled back",
                f"kubectl -n {ns} patch canary {name} --type merge -p '{{\"spec\":{{\"suspend\":true}}}}'   # pause",
                f"kubectl -n {ns} patch canary {name} --type merge -p '{{\"spec\":{{\"suspend\":false}}}}'  # resume",
                f"kubectl -n {ns} rollout undo deployment/{name}   # roll back: Flagger promotes the previous spec",
            ]
        parts.append("```\n")
        parts.append(
            "A failed check rolls the canary back by itself (traffic returns to the primary). After a promotion, "
            "roll back by reverting the Deployment (above, or `git revert` with GitOps): Flagger runs the "
            "analysis on the previous version and promotes it.\n"
        )
    if plan.requirements.gitops:
        parts.append(
            "With GitOps, follow an `abort`/`undo` with the `git revert` of the digest commit, or the "
            "controller applies the bad version again.\n"
        )
    return "\n".join(parts)


def setup_steps(plan: Plan) -> list[str]:
    """DEPLOYMENT.md one-time setup: the controller, router and tools the strategy needs."""
    if not active(plan):
        return []
    r = plan.requirements
    router = {
        "nginx": "the NGINX ingress controller above does the traffic split (canary Ingress annotations)",
        "istio": "Istio, with the ingress-nginx controller's pods in the mesh (sidecar injected): the Ingress "
                 "sends to the Service (`service-upstream`) and the VirtualService splits the traffic",
        "gateway-api": f"a Gateway API implementation and a shared Gateway `{traffic.GATEWAY_NAMESPACE}/"
                       f"{traffic.GATEWAY_NAME}` that terminates TLS (it replaces the Ingress)",
    }[r.traffic_router]
    if argo(plan):
        steps = [
            "Install Argo Rollouts in the cluster"
            + (" with the `argoproj-labs/gatewayAPI` traffic-router plugin" if r.traffic_router == "gateway-api"
               else "")
            + f", and the `kubectl-argo-rollouts` plugin wherever the pipeline's deploy and verify steps run "
            f"(they wait with `kubectl argo rollouts status` and roll back with `abort` and `undo`). Routing: "
            f"{router}. The analyses query Prometheus at `{rollouts.PROMETHEUS_ADDRESS}` "
            "(`PROMETHEUS_ADDRESS` in deploysmith.render.rollouts; edit the AnalysisTemplates if yours differs).",
        ]
    else:
        steps = [
            f"Install Flagger for the `{flagger.PROVIDERS[r.traffic_router]}` provider, pointed at your "
            f"Prometheus, and its load tester as `{flagger.LOADTESTER_URL}`. Routing: {router}.",
        ]
    return steps

"""Argo Rollouts manifests for one HTTP workload: canary, blue/green and A/B testing.

Pure builders, Plan and Workload in, manifest mappings out (like render.kubernetes); the
Kustomize renderer places them (through render.progressive) and the Helm chart can template
the same mappings. Which function returns what:

    rollout(plan, workload)                -> Rollout (workloadRef to the Deployment)
    analysis_template(plan, workload)      -> AnalysisTemplate (success rate, p99), or None
                                              without metrics or without request metrics
    services(plan, workload)               -> [Service <wl>-canary] or [Service <wl>-preview]
    template_deployment(deployment)        -> the Deployment, at replicas 0 (the pod template)
    autoscaler(hpa)                        -> the HPA, pointed at the Rollout
    rollout_patch(plan, workload, env)     -> per-environment Rollout patch (auto-promotion,
                                              gatewayAPI plugin namespace), or None
    PROMETHEUS_ADDRESS                     -> where every analysis queries (one placeholder)

Why `workloadRef` rather than converting the Deployment into a Rollout: the pod template
stays in a plain Deployment (scaled to 0), so Kustomize's image, ConfigMap-hash and
name-reference transformers and the overlays' resource patches keep working without
teaching Kustomize the Rollout kind; the audit's workload rules still read it; and
`kubectl argo rollouts undo` patches the referenced Deployment back, image and hashed
ConfigMap name together, so configuration rolls back with the code.

Routing: canary and A/B shift traffic through render.traffic (nginx stableIngress, Istio
VirtualService, Gateway API HTTPRoute through the `argoproj-labs/gatewayAPI` plugin).
Blue/green switches the active Service's selector and needs no router.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, Workload
from deploysmith.plan.observability import exporter_for, has_request_metrics, slo_of
from deploysmith.render import kubernetes as k8s
from deploysmith.render import traffic
from deploysmith.render.yamlout import comment, strip

Manifest = dict[str, Any]

API = "argoproj.io/v1alpha1"
# PLACEHOLDER: the Prometheus the analyses query; kube-prometheus-stack's default Service in
# the monitoring kit's namespace (render.monitoring.MONITORING_NAMESPACE, not imported: cycle).
PROMETHEUS_ADDRESS = "http://prometheus-operated.monitoring.svc:9090"
GATEWAY_PLUGIN = "argoproj-labs/gatewayAPI"
SUCCESS_RATE_MIN = 0.99  # a canary judged on few requests: looser than the 99.9 % SLO
ANALYSIS_INTERVAL = "1m"
ANALYSIS_WINDOW = "2m"
INITIAL_DELAY = "1m"  # two scrapes of the new pods before the first measurement
FAILURE_LIMIT = 2  # a third failed measurement fails the analysis
POST_PROMOTION_COUNT = 5
SCALE_DOWN_DELAY_SECONDS = 600  # old pods stay up while the post-promotion analysis runs
CANARY_STEPS: tuple[tuple[int, str], ...] = ((10, "2m"), (25, "3m"), (50, "5m"), (75, "5m"))
EXPERIMENT_CANARY_SHARE = 20  # percent of the replicas the A/B variant runs with


def canary_service_name(workload: Workload) -> str:
    return traffic.canary_service_name(workload)


def preview_service_name(workload: Workload) -> str:
    return f"{k8s.name(workload)}-preview"


def analysed(plan: Plan, workload: Workload) -> bool:
    """An analysis needs Prometheus and the workload's request metrics (a static site's
    nginx exports none)."""
    return plan.requirements.metrics and has_request_metrics(workload)


# -- analysis ----------------------------------------------------------------------------


def _guarded(expression: str) -> tuple[str, str]:
    """(successCondition, failureCondition): no data (no request yet) passes, so a quiet
    minute never aborts a release; a measured value outside the bound fails."""
    data = "len(result) > 0 && !isNaN(result[0])"
    return (
        f"len(result) == 0 || isNaN(result[0]) || {expression}",
        f"{data} && !({expression})",
    )


def analysis_template(plan: Plan, workload: Workload) -> Manifest | None:
    if not analysed(plan, workload):
        return None
    exporter = exporter_for(workload.component)
    selector = '{namespace="{{args.namespace}}",job="{{args.service}}"}'
    errors = '{namespace="{{args.namespace}}",job="{{args.service}}",' + exporter.status_label + '=~"5.."}'
    total = f"sum(rate({exporter.requests}{selector}[{ANALYSIS_WINDOW}]))"
    failed = f"sum(rate({exporter.requests}{errors}[{ANALYSIS_WINDOW}]))"
    success_query = f"1 - (({failed} or 0 * {total}) / {total})"
    latency_ms = slo_of(plan).latency_ms
    p99_query = (
        f"histogram_quantile(0.99, sum by (le) (rate({exporter.duration}_bucket{selector}[{ANALYSIS_WINDOW}])))"
    )
    success_ok, success_bad = _guarded(f"result[0] >= {SUCCESS_RATE_MIN}")
    latency_ok, latency_bad = _guarded(f"result[0] <= {latency_ms / 1000:g}")

    def metric(name: str, query: str, ok: str, bad: str, why: str) -> Manifest:
        return {
            "name": name,
            "interval": ANALYSIS_INTERVAL,
            "initialDelay": comment(INITIAL_DELAY, "Two scrapes of the new pods before the first measurement."),
            "failureLimit": comment(FAILURE_LIMIT, f"{FAILURE_LIMIT + 1} failed measurements fail the analysis "
                                    "(one slow scrape does not)."),
            "successCondition": comment(ok, why),
            "failureCondition": bad,
            "provider": {"prometheus": {"address": comment(PROMETHEUS_ADDRESS, "PLACEHOLDER: the Prometheus "
                                                           "that scrapes the app (see rollouts.PROMETHEUS_ADDRESS).",),
                                        "query": query}},
        }

    return {
        "apiVersion": API,
        "kind": "AnalysisTemplate",
        "metadata": {"name": k8s.name(workload)},
        "spec": {
            "args": comment(
                [{"name": "service"}, {"name": "namespace"}],
                "service: the Service whose pods are judged (job label of the ServiceMonitor target);\n"
                "namespace: the Rollout's own, passed by the Rollout.",
            ),
            "metrics": [
                metric(
                    "success-rate", success_query, success_ok, success_bad,
                    f"Share of requests without a 5xx at least {SUCCESS_RATE_MIN:g}. No requests yet (empty or NaN)\n"
                    "is not a failure; the steps' pauses give traffic time to arrive.",
                ),
                metric(
                    "latency-p99", p99_query, latency_ok, latency_bad,
                    f"p99 at most {latency_ms} ms (the plan's latency objective); NaN without traffic passes.",
                ),
            ],
        },
    }


def _args(service: str) -> list[Manifest]:
    return [
        {"name": "service", "value": service},
        {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]


def _analysis(plan: Plan, workload: Workload, service: str) -> Manifest:
    return {"templates": [{"templateName": k8s.name(workload)}], "args": _args(service)}


# -- the Rollout -------------------------------------------------------------------------


def _canary(plan: Plan, workload: Workload) -> Manifest:
    r = plan.requirements
    wl = k8s.name(workload)
    router = r.traffic_router
    ab = plan.strategy.choice == "ab-testing"
    canary: Manifest = {
        "stableService": wl,
        "canaryService": comment(canary_service_name(workload), "Selects only the new pods during a release."),
    }
    if k8s.autoscaled(workload):
        canary["dynamicStableScale"] = comment(
            True, "Scale the stable pods down as traffic leaves them, so a release costs ~1.1x, not 2x."
        )
    routing: Manifest
    if router == "nginx":
        nginx: Manifest = {"stableIngress": wl}
        if ab:
            nginx["additionalIngressAnnotations"] = comment(
                {
                    "canary-by-header": traffic.EXPERIMENT_HEADER,
                    "canary-by-header-value": traffic.EXPERIMENT_VALUE,
                    "canary-by-cookie": traffic.EXPERIMENT_COOKIE,
                },
                f"ingress-nginx routes `{traffic.EXPERIMENT_HEADER}: {traffic.EXPERIMENT_VALUE}` (or the cookie "
                f"`{traffic.EXPERIMENT_COOKIE}=always`)\nto the variant; Argo Rollouts' setHeaderRoute is not "
                "available for nginx, so the annotations do it.",
            )
        routing = {"nginx": nginx}
    elif router == "istio":
        routing = {"istio": {"virtualService": {"name": wl, "routes": [traffic.ISTIO_ROUTE]}}}
    else:
        routing = {
            "plugins": comment(
                {GATEWAY_PLUGIN: {"httpRoute": wl, "namespace": "set-per-environment"}},
                "The Gateway API traffic-router plugin (install it with the controller). The namespace\n"
                "is set by each overlay.",
            )
        }
    if ab and router != "nginx":
        routing["managedRoutes"] = comment(
            [{"name": traffic.EXPERIMENT_ROUTE}], "The header route Argo Rollouts adds for the experiment."
        )
    canary["trafficRouting"] = routing
    if analysed(plan, workload):
        canary["analysis"] = comment(
            {**_analysis(plan, workload, canary_service_name(workload)), "startingStep": 1},
            "Background analysis of the canary's own pods from the first weighted step; a failure\n"
            "aborts the release and sends all traffic back to the stable version.",
        )
    canary["steps"] = _ab_steps(plan, workload) if ab else _canary_steps(plan, workload)
    return canary


def _canary_steps(plan: Plan, workload: Workload) -> Any:
    steps: list[Manifest] = []
    manual = not analysed(plan, workload)
    for index, (weight, pause) in enumerate(CANARY_STEPS):
        steps.append({"setWeight": weight})
        if index == 0 and manual:
            steps.append({"pause": {}})
        else:
            steps.append({"pause": {"duration": pause}})
    why = (
        "Weights and pauses; the analysis judges every minute, so each pause is time for it to see traffic."
        if not manual else
        "No analysis (no Prometheus or no request metrics): the release stops at the first weight until\n"
        "someone checks it and runs `kubectl argo rollouts promote`."
    )
    return comment(steps, why)


def _ab_steps(plan: Plan, workload: Workload) -> Any:
    router = plan.requirements.traffic_router
    steps: list[Manifest] = [{"setCanaryScale": {"weight": EXPERIMENT_CANARY_SHARE}}]
    if router != "nginx":
        steps.append(
            {
                "setHeaderRoute": {
                    "name": traffic.EXPERIMENT_ROUTE,
                    "match": [
                        {"headerName": traffic.EXPERIMENT_HEADER, "headerValue": {"exact": traffic.EXPERIMENT_VALUE}}
                    ],
                }
            }
        )
    steps.append({"pause": {}})
    if router != "nginx":
        steps.append({"setHeaderRoute": {"name": traffic.EXPERIMENT_ROUTE}})
    return comment(
        steps,
        f"The variant runs at {EXPERIMENT_CANARY_SHARE}% of the replicas with no weighted traffic; only requests "
        f"carrying\n`{traffic.EXPERIMENT_HEADER}: {traffic.EXPERIMENT_VALUE}` reach it. The experiment lasts until "
        "`kubectl argo rollouts promote`\n(keep the variant) or `abort` (drop it).",
    )


def _blue_green(plan: Plan, workload: Workload) -> Manifest:
    wl = k8s.name(workload)
    blue_green: Manifest = {
        "activeService": wl,
        "previewService": comment(preview_service_name(workload), "The new version, before it gets traffic."),
        "autoPromotionEnabled": comment(
            False, "Production waits for `kubectl argo rollouts promote`; the other overlays promote automatically."
        ),
        "scaleDownDelaySeconds": comment(
            SCALE_DOWN_DELAY_SECONDS,
            "The previous version stays up 10 minutes after the switch: an abort switches back instantly.",
        ),
    }
    if analysed(plan, workload):
        blue_green["prePromotionAnalysis"] = comment(
            _analysis(plan, workload, preview_service_name(workload)),
            "Before the switch: the preview's own pods, from whatever testers send to the preview Service.",
        )
        post = _analysis(plan, workload, wl)
        blue_green["postPromotionAnalysis"] = comment(
            post, "After the switch, on real traffic; a failure switches the active Service back."
        )
    return blue_green


def rollout(plan: Plan, workload: Workload) -> Manifest:
    wl = k8s.name(workload)
    spec: Manifest = {}
    if not k8s.autoscaled(workload):
        spec["replicas"] = comment(1, "Set per environment in the overlay.")
    spec["revisionHistoryLimit"] = comment(5, "Revisions kept for `kubectl argo rollouts undo`.")
    spec["selector"] = {"matchLabels": k8s.selector_labels(workload)}
    spec["workloadRef"] = comment(
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": wl},
        "The pod template lives in the Deployment (kept at 0 replicas); see deploysmith.render.rollouts.",
    )
    spec["minReadySeconds"] = 10
    spec["progressDeadlineSeconds"] = comment(600, "A release that makes no progress for 10 minutes ...")
    spec["progressDeadlineAbort"] = comment(True, "... is aborted: traffic returns to the stable version.")
    spec["rollbackWindow"] = comment(
        {"revisions": 3}, "`undo` to one of the last 3 revisions skips the steps and analysis: a rollback is fast."
    )
    if plan.strategy.choice == "blue-green":
        spec["strategy"] = {"blueGreen": _blue_green(plan, workload)}
    else:
        spec["strategy"] = {"canary": _canary(plan, workload)}
    manifest: Manifest = {"apiVersion": API, "kind": "Rollout", "metadata": {"name": wl}, "spec": spec}
    if k8s.autoscaled(workload):
        manifest["spec"] = {
            **spec,
            "selector": comment(
                spec["selector"], "No `replicas`: the HorizontalPodAutoscaler scales the Rollout."
            ),
        }
    return manifest


def services(plan: Plan, workload: Workload) -> list[Manifest]:
    """The second Service: canary (canary, A/B) or preview (blue/green). Argo Rollouts adds
    the pod-template hash to its selector during a release."""
    base = k8s.service(workload)
    name = preview_service_name(workload) if plan.strategy.choice == "blue-green" else canary_service_name(workload)
    return [{**base, "metadata": {"name": name}}]


def template_deployment(deployment: Manifest) -> Manifest:
    """The Deployment the Rollout references: the pod template only, never scaled up."""
    spec = {key: value for key, value in deployment["spec"].items() if key not in ("replicas", "strategy")}
    spec["selector"] = strip(spec["selector"])
    spec["revisionHistoryLimit"] = comment(2, "Rollout revisions, not this Deployment's, are what undo uses.")
    spec["progressDeadlineSeconds"] = 600
    ordered: Manifest = {
        "replicas": comment(
            0, "The Rollout runs the pods from this template; the Deployment itself never does."
        ),
        **spec,
    }
    return {**deployment, "spec": ordered}


def autoscaler(hpa: Manifest) -> Manifest:
    spec = dict(hpa["spec"])
    spec["scaleTargetRef"] = comment(
        {"apiVersion": API, "kind": "Rollout", "name": hpa["metadata"]["name"]},
        "The Rollout owns the pods (its /scale subresource); the Deployment stays at 0.",
    )
    return {**hpa, "spec": spec}


def rollout_patch(plan: Plan, workload: Workload, env: EnvironmentPlan) -> Manifest | None:
    """Per environment: auto-promotion outside production (blue/green), the gatewayAPI
    plugin's namespace (the HTTPRoute's), fixed replicas of a workload without an HPA."""
    spec: Manifest = {}
    if not k8s.autoscaled(workload):
        spec["replicas"] = env.min_replicas
    strategy: Manifest = {}
    if plan.strategy.choice == "blue-green" and env.name != "prod":
        strategy["blueGreen"] = {"autoPromotionEnabled": comment(True, f"{env.name} promotes once the "
                                                                 "pre-promotion analysis passes.")}
    if plan.strategy.choice != "blue-green" and plan.requirements.traffic_router == "gateway-api":
        strategy["canary"] = {"trafficRouting": {"plugins": {GATEWAY_PLUGIN: {"httpRoute": k8s.name(workload),
                                                                              "namespace": env.namespace}}}}
    if strategy:
        spec["strategy"] = strategy
    if not spec:
        return None
    return {"apiVersion": API, "kind": "Rollout", "metadata": {"name": k8s.name(workload)}, "spec": spec}

"""Flagger manifests for one HTTP workload (`--progressive-delivery flagger`).

    canary(plan, workload)              -> Canary (targetRef Deployment, autoscalerRef HPA)
    canary_patch(plan, workload, env)   -> per-environment patch: load-test URL, Gateway hosts
    selector(workload)                  -> the label selector matching both Flagger copies

Flagger clones the Deployment into `<wl>-primary` (which serves) and scales `<wl>` to 0 between
releases; it generates the Services `<wl>` (apex), `<wl>-primary` and `<wl>-canary` itself, so
the kit renders no Service for this workload. The apex Service carries the workload's labels,
so the monitoring kit's ServiceMonitor still finds `job=<wl>`. The primary's pods are
labelled `app.kubernetes.io/name: <wl>-primary`, so the PodDisruptionBudget and NetworkPolicy
select both names (`selector`).

Metrics are Flagger's built-ins (request-success-rate, request-duration), which it reads from
the router's own series; a load-test webhook keeps traffic on the canary when real traffic is low.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, Workload
from deploysmith.plan.observability import slo_of
from deploysmith.render import kubernetes as k8s
from deploysmith.render import traffic
from deploysmith.render.yamlout import comment

Manifest = dict[str, Any]

API = "flagger.app/v1beta1"
PROVIDERS = {"nginx": "nginx", "istio": "istio", "gateway-api": "gatewayapi:v1"}
# PLACEHOLDER: Flagger's load tester (its Helm chart, in the `flagger` namespace).
LOADTESTER_URL = "http://flagger-loadtester.flagger/"
SUCCESS_RATE_MIN = 99  # percent
ITERATIONS = 10  # blue/green and A/B: analysis rounds before promotion
COOKIE_MATCH = f"^(.*?;)?({traffic.EXPERIMENT_COOKIE}={traffic.EXPERIMENT_VALUE})(;.*)?$"


def primary_name(workload: Workload) -> str:
    return f"{k8s.name(workload)}-primary"


def selector(workload: Workload) -> Manifest:
    """Matches the canary (`<wl>`) and the primary (`<wl>-primary`) pods."""
    return {
        "matchLabels": {k8s.COMPONENT: k8s.component_label(workload)},
        "matchExpressions": [
            {"key": k8s.NAME, "operator": "In", "values": [k8s.name(workload), primary_name(workload)]}
        ],
    }


def _load_test(workload: Workload, namespace: str) -> Manifest:
    url = f"http://{traffic.canary_service_name(workload)}.{namespace}/"
    return {
        "name": "load-test",
        "type": "rollout",
        "url": LOADTESTER_URL,
        "timeout": "5s",
        "metadata": {"type": "cmd", "cmd": f"hey -z 1m -q 10 -c 2 {url}"},
    }


def canary(plan: Plan, workload: Workload) -> Manifest:
    r = plan.requirements
    wl = k8s.name(workload)
    choice = plan.strategy.choice
    service: Manifest = {
        "port": k8s.SERVICE_PORT,
        "targetPort": k8s.PORT_NAME,
        "portName": k8s.PORT_NAME,
        "apex": comment(
            {"labels": k8s.selector_labels(workload)},
            f"The ServiceMonitor selects the apex Service `{wl}` by these labels (job={wl}).",
        ),
    }
    if r.traffic_router == "gateway-api":
        service["gatewayRefs"] = comment(
            [{"name": traffic.GATEWAY_NAME, "namespace": traffic.GATEWAY_NAMESPACE}],
            "PLACEHOLDER: the cluster's shared Gateway; each overlay sets the hostnames.",
        )
    analysis: Manifest = {
        "interval": "1m",
        "threshold": comment(5, "Five failed checks roll the canary back."),
    }
    if choice == "canary":
        analysis["maxWeight"] = 50
        analysis["stepWeight"] = 10
    else:
        analysis["iterations"] = comment(
            ITERATIONS, "Rounds of checks before promotion (blue/green and A/B shift no weight)."
        )
    if choice == "ab-testing":
        analysis["match"] = comment(
            [
                {"headers": {traffic.EXPERIMENT_HEADER.lower(): {"exact": traffic.EXPERIMENT_VALUE}}},
                {"headers": {"cookie": {"regex": COOKIE_MATCH}}},
            ],
            f"Only requests with `{traffic.EXPERIMENT_HEADER}: {traffic.EXPERIMENT_VALUE}` or the cookie "
            f"`{traffic.EXPERIMENT_COOKIE}={traffic.EXPERIMENT_VALUE}` reach the variant.",
        )
    if r.metrics:
        analysis["metrics"] = comment(
            [
                {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": SUCCESS_RATE_MIN}},
                {"name": "request-duration", "interval": "1m",
                 "thresholdRange": {"max": slo_of(plan).latency_ms}},
            ],
            f"Flagger's built-in checks from the {r.traffic_router} metrics: at least {SUCCESS_RATE_MIN}% "
            f"non-5xx, p99 under {slo_of(plan).latency_ms} ms.",
        )
    analysis["webhooks"] = comment(
        [_load_test(workload, "set-per-environment")],
        "Synthetic traffic on the canary so the checks have requests to judge; each overlay sets the URL.",
    )
    spec: Manifest = {
        "provider": PROVIDERS[r.traffic_router],
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": wl},
    }
    if k8s.autoscaled(workload):
        spec["autoscalerRef"] = comment(
            {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": wl},
            f"Flagger copies this HPA for {primary_name(workload)}.",
        )
    if r.traffic_router == "nginx":
        spec["ingressRef"] = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": wl}
    spec["progressDeadlineSeconds"] = 600
    spec["service"] = service
    spec["analysis"] = analysis
    return {"apiVersion": API, "kind": "Canary", "metadata": {"name": wl}, "spec": spec}


def canary_patch(plan: Plan, workload: Workload, env: EnvironmentPlan, host: str | None) -> Manifest:
    spec: Manifest = {"analysis": {"webhooks": [_load_test(workload, env.namespace)]}}
    if plan.requirements.traffic_router == "gateway-api" and host:
        spec["service"] = {"hosts": [host]}
    return {"apiVersion": API, "kind": "Canary", "metadata": {"name": k8s.name(workload)}, "spec": spec}

"""Traffic-routing objects for progressive delivery, one router at a time.

- nginx: the kit's Ingress stays the edge; Argo Rollouts clones it into a canary Ingress
  (canary-weight / canary-by-header annotations), Flagger does the same from `ingressRef`.
- istio: the Ingress stays the edge but hands requests to the Service's cluster IP
  (`service-upstream`), so the sidecar of the ingress controller applies the VirtualService
  that splits them between the stable and the canary Service (host-level split).
- gateway-api: an HTTPRoute attached to a shared Gateway replaces the Ingress; Argo Rollouts
  (through its gatewayAPI plugin) or Flagger rewrites the backend weights.

The Gateway the HTTPRoutes attach to is cluster infrastructure, named once here.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import Workload
from deploysmith.render import kubernetes as k8s
from deploysmith.render.yamlout import comment, strip

Manifest = dict[str, Any]

# PLACEHOLDER: the shared Gateway (gateway-api router) and the namespace it runs in; change
# both here if the cluster's Gateway has another name.
GATEWAY_NAME = "public"
GATEWAY_NAMESPACE = "gateway-system"
ISTIO_ROUTE = "primary"  # the VirtualService route Argo Rollouts reweights
EXPERIMENT_ROUTE = "experiment"  # the header route Argo Rollouts adds for A/B testing
EXPERIMENT_HEADER = "X-Experiment"
EXPERIMENT_COOKIE = "experiment"
EXPERIMENT_VALUE = "on"
SERVICE_UPSTREAM = "nginx.ingress.kubernetes.io/service-upstream"


def canary_service_name(workload: Workload) -> str:
    return f"{k8s.name(workload)}-canary"


def edge_namespace(router: str) -> str:
    """Where the requests to the pods come from (the NetworkPolicy admits this namespace)."""
    return GATEWAY_NAMESPACE if router == "gateway-api" else k8s.INGRESS_NAMESPACE


def uses_ingress(router: str) -> bool:
    return router != "gateway-api"


def virtual_service(workload: Workload) -> Manifest:
    """Istio: one HTTP route named `primary` over the stable and the canary Service; Argo
    Rollouts sets the weights (and, for A/B, adds the managed header route above it)."""
    wl = k8s.name(workload)
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": wl},
        "spec": {
            "hosts": comment(
                [wl], "The Service's short name: in-mesh callers and the ingress controller's sidecar\n"
                "(service-upstream) both address it."
            ),
            "http": [
                {
                    "name": ISTIO_ROUTE,
                    "route": comment(
                        [
                            {"destination": {"host": wl, "port": {"number": k8s.SERVICE_PORT}}, "weight": 100},
                            {
                                "destination": {"host": canary_service_name(workload),
                                                "port": {"number": k8s.SERVICE_PORT}},
                                "weight": 0,
                            },
                        ],
                        "Argo Rollouts rewrites these weights at each step; all traffic is stable at rest.",
                    ),
                }
            ],
        },
    }


def destination_rule(workload: Workload) -> Manifest:
    """Istio: connection settings for both hosts of the split. Not a subset split: subsets
    would put the canary pods behind the stable Service, and the analysis tells the two
    versions apart by Service (job=<wl> and job=<wl>-canary)."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": canary_service_name(workload)},
        "spec": {
            "host": canary_service_name(workload),
            "trafficPolicy": comment(
                {"outlierDetection": {"consecutive5xxErrors": 5, "interval": "30s", "baseEjectionTime": "60s"}},
                "A canary pod that answers 5xx five times in a row is taken out of the split for a minute,\n"
                "before the analysis has even judged the version.",
            ),
        },
    }


def http_route(workload: Workload, canary: bool) -> Manifest:
    """Gateway API: the route from the shared Gateway to the stable Service (and, for a
    canary, the canary Service at weight 0). Hostnames are set per environment."""
    wl = k8s.name(workload)
    backends: list[Manifest] = [{"name": wl, "port": k8s.SERVICE_PORT, "weight": 100}]
    if canary:
        backends.append({"name": canary_service_name(workload), "port": k8s.SERVICE_PORT, "weight": 0})
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": wl},
        "spec": {
            "parentRefs": comment(
                [{"name": GATEWAY_NAME, "namespace": GATEWAY_NAMESPACE}],
                f"PLACEHOLDER: the cluster's shared Gateway ({GATEWAY_NAMESPACE}/{GATEWAY_NAME}); it terminates TLS.",
            ),
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": comment(
                        backends,
                        "Argo Rollouts' gatewayAPI plugin rewrites the weights at each step."
                        if canary else "The active Service; blue/green switches its selector, not this route.",
                    ),
                }
            ],
        },
    }


def http_route_hosts(workload: Workload, host: str) -> Manifest:
    """Overlay patch: the environment's hostname on the HTTPRoute."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": k8s.name(workload)},
        "spec": {"hostnames": [host]},
    }


def service_upstream(ingress: Manifest) -> Manifest:
    """Istio behind ingress-nginx: send to the Service's cluster IP instead of pod IPs, so
    the controller's sidecar routes through the VirtualService (weights and header routes)."""
    metadata = dict(ingress["metadata"])
    annotations = dict(strip(metadata.get("annotations", {})))
    annotations[SERVICE_UPSTREAM] = "true"
    metadata["annotations"] = comment(
        annotations,
        "cert-manager issues the TLS certificate; service-upstream sends requests to the Service's\n"
        "cluster IP, so the mesh (the ingress controller's sidecar) applies the VirtualService split.",
    )
    return {**ingress, "metadata": metadata}


def edge_policy(policy: Manifest, router: str) -> Manifest:
    """The workload's NetworkPolicy with the router's edge namespace admitted."""
    if router != "gateway-api":
        return policy
    spec = dict(policy["spec"])
    spec["ingress"] = comment(
        [
            {
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": GATEWAY_NAMESPACE}}}],
                "ports": [{"port": k8s.PORT_NAME, "protocol": "TCP"}],
            }
        ],
        f"Only the Gateway's data plane (namespace {GATEWAY_NAMESPACE}) reaches the web port. Kubelet probes\n"
        "are not subject to NetworkPolicy. Add a rule for your monitoring namespace if Prometheus scrapes the pods.",
    )
    return {**policy, "spec": spec}

"""Monitoring that ships with the kit: deploy/monitoring/ and docs/deploy/MONITORING.md.

Layout::

    deploy/monitoring/<env>/kustomization.yaml   namespace <app>-<env>; apply per environment
    deploy/monitoring/<env>/servicemonitor.yaml  one ServiceMonitor per web workload
    deploy/monitoring/<env>/networkpolicy.yaml   lets Prometheus reach those pods' http port
    deploy/monitoring/<env>/prometheusrule.yaml  SLO recordings and alerts, pod/rollout alerts
    deploy/monitoring/<env>/probe.yaml           blackbox-exporter Probe of each public URL
    deploy/monitoring/grafana/kustomization.yaml the dashboard as a ConfigMap (sidecar label)
    deploy/monitoring/grafana/<app>.json         the dashboard itself (importable by hand too)

Why a separate kustomization per environment rather than objects in deploy/base: the
ServiceMonitor, PrometheusRule and Probe kinds exist only where the Prometheus Operator's
CRDs are installed. In the base they would make every `kubectl apply -k deploy/overlays/…`
fail on a cluster without them, give the deploy identity rights on monitoring.coreos.com
and widen the Argo CD project. Apart, the app deploys with or without monitoring, and
monitoring is applied (rarely: it changes when the SLO or the app's shape does) by
whoever runs the monitoring stack. Each environment gets its own fully written rules,
not a patched base: the namespace is inside every PromQL expression (a kustomize
namespace transformer cannot rewrite it), and alert severities differ (only prod pages).

Assumptions, each stated where it is used and in MONITORING.md: kube-prometheus-stack in
the namespace `monitoring` (its Prometheus selects objects labelled
`release: kube-prometheus-stack`; kube-state-metrics and cAdvisor series), the
prometheus-blackbox-exporter chart there with its `http_2xx` module, and Grafana's
dashboard sidecar watching ConfigMaps labelled `grafana_dashboard: "1"`.
"""

from __future__ import annotations

import re
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile, Workload
from deploysmith.plan.observability import (
    EXPORTERS,
    SLO_WINDOW_DAYS,
    Slo,
    exporter_for,
    has_request_metrics,
    install_line,
    slo_of,
)
from deploysmith.render import bake, gitops, kustomize, packaging
from deploysmith.render import kubernetes as k8s
from deploysmith.render.common import DOCS_DIR, header
from deploysmith.render.monitoring_dashboard import DEPLOY_TAG, dashboard_json
from deploysmith.render.monitoring_dashboard import uid as dashboard_uid
from deploysmith.render.monitoring_queries import (
    BAKE_BURN_RATE,
    BAKE_FIRST_CHECK_MINUTES,
    BAKE_MIN_REQUESTS,
    BAKE_MINUTES,
    BURN_RATES,
    ERROR_RATIO_RECORD,
    P99_RECORD,
    WINDOWS,
    BurnRate,
    Sli,
    bake_checks,
    number,
    pod_regex,
    slis,
)
from deploysmith.render.yamlout import comment, dump, dump_all

MONITORING_DIR = "deploy/monitoring"
GRAFANA_DIR = f"{MONITORING_DIR}/grafana"
MONITORING_DOC = f"{DOCS_DIR}/MONITORING.md"
MONITORING_NAMESPACE = "monitoring"
PROMETHEUS_SELECTOR = {"release": "kube-prometheus-stack"}
PROMETHEUS_POD = {"app.kubernetes.io/name": "prometheus"}
BLACKBOX_PROBER = f"prometheus-blackbox-exporter.{MONITORING_NAMESPACE}.svc:9115"
BLACKBOX_MODULE = "http_2xx"
SCRAPE_INTERVAL = "30s"
SCRAPE_TIMEOUT = "10s"
GRAFANA_LABEL = {"grafana_dashboard": "1"}
PAGE = "critical"  # Alertmanager severity that pages the on-call
TICKET = "warning"  # Alertmanager severity that opens a ticket
LATENCY_FOR = "10m"
CRASHLOOP_FOR = "15m"
NOT_READY_FOR = "15m"
STUCK_FOR = "15m"
HPA_FOR = "15m"
ENDPOINT_FOR = "5m"
CERT_DAYS = 14
SCRAPE_FOR = "15m"
BAKE_PLATFORMS = ("github",)  # CI platforms whose Verify stage runs the error-budget bake

ALERT_LATENCY = "LatencyP99AboveObjective"
ALERT_CRASHLOOP = "PodCrashLooping"
ALERT_NOT_READY = "PodNotReady"
ALERT_STUCK = "DeploymentRolloutStuck"
ALERT_HPA = "HpaAtMaxReplicas"
ALERT_ENDPOINT = "EndpointDown"
ALERT_CERT = "CertificateExpiringSoon"
ALERT_SCRAPE = "MetricsTargetDown"

Manifest = dict[str, Any]


def monitoring_dir(env_name: str) -> str:
    return f"{MONITORING_DIR}/{env_name}"


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    slo = slo_of(plan)
    files: list[RenderedFile] = []
    for env in plan.environments:
        files.extend(_environment(plan, env, slo))
    files.extend(_grafana(plan, slo))
    files.append(RenderedFile(MONITORING_DOC, monitoring_markdown(plan)))
    return tuple(sorted(files, key=lambda rendered: rendered.path))


# -- per environment -------------------------------------------------------------------------


def _environment(plan: Plan, env: EnvironmentPlan, slo: Slo) -> list[RenderedFile]:
    folder = monitoring_dir(env.name)
    files: list[RenderedFile] = []
    resources: list[str] = []

    def add(name: str, documents: list[Any], what: str) -> None:
        if documents:
            resources.append(name)
            files.append(RenderedFile(f"{folder}/{name}", dump_all(documents, header(what))))

    env_slis = slis(plan, env)
    add(
        "servicemonitor.yaml",
        [_service_monitor(sli) for sli in env_slis],
        f"what Prometheus scrapes from {plan.app_name} in {env.name}",
    )
    add(
        "networkpolicy.yaml",
        [_scrape_policy(sli.workload) for sli in env_slis],
        f"lets Prometheus (namespace {MONITORING_NAMESPACE}) scrape {plan.app_name}'s pods in {env.name}",
    )
    add(
        "prometheusrule.yaml",
        [prometheus_rule(plan, env, slo)],
        f"SLO recording rules and alerts of {plan.app_name} in {env.name}",
    )
    add(
        "probe.yaml",
        [probe for workload in plan.workloads if (probe := _probe(plan, workload, env)) is not None],
        f"synthetic checks of {plan.app_name}'s public {env.name} endpoints",
    )
    kustomization = {
        **kustomize.KUSTOMIZATION,
        "namespace": env.namespace,
        "resources": resources,
        "labels": comment(
            [{"pairs": {k8s.PART_OF: plan.app_name, k8s.MANAGED_BY: "deploysmith"}}],
            "On the objects only: the ServiceMonitor's and NetworkPolicy's selectors stay as written.",
        ),
    }
    what = (
        f"monitoring of {plan.app_name} in {env.name}.\n\n"
        "Needs the Prometheus Operator's CRDs (kube-prometheus-stack); apply after the app's namespace "
        "exists:\n"
        f"  kubectl apply -k {folder}\n"
        f"Apart from {packaging.settings_path(plan, env.name)} on purpose: the app deploys with or without "
        "monitoring\n"
        f"(see {MONITORING_DOC})"
    )
    files.append(RenderedFile(f"{folder}/kustomization.yaml", dump(kustomization, header(what))))
    return files


def _operator_labels() -> Any:
    return comment(
        dict(PROMETHEUS_SELECTOR),
        "kube-prometheus-stack's Prometheus selects only objects with its release label (unless\n"
        "its *SelectorNilUsesHelmValues values are false): match your release's name.",
    )


def _service_monitor(sli: Sli) -> Manifest:
    exporter = sli.exporter
    how = (
        f"{exporter.library}'s conventional path"
        if not exporter.convention
        else "the conventional path of a Prometheus client library"
    )
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": sli.job, "labels": _operator_labels()},
        "spec": {
            "selector": comment(
                {"matchLabels": k8s.selector_labels(sli.workload)},
                f"The Service of {sli.job} in this namespace; `job` becomes the Service's name ({sli.job}).",
            ),
            "endpoints": [
                {
                    "port": comment(
                        k8s.PORT_NAME, "The Service port's name, which targets the container port."
                    ),
                    "path": comment(
                        exporter.path,
                        f"{how}.\nNo metrics endpoint was detected in the code: add the exporter,\n"
                        f"  {install_line(sli.workload.component, exporter)}\n"
                        f"(see {MONITORING_DOC}), or set the path where the app serves metrics.",
                    ),
                    "interval": SCRAPE_INTERVAL,
                    "scrapeTimeout": SCRAPE_TIMEOUT,
                }
            ],
        },
    }


def _scrape_policy(workload: Workload) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{k8s.name(workload)}-allow-prometheus"},
        "spec": {
            "podSelector": {"matchLabels": k8s.selector_labels(workload)},
            "policyTypes": ["Ingress"],
            "ingress": comment(
                [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}
                                },
                                "podSelector": {"matchLabels": dict(PROMETHEUS_POD)},
                            }
                        ],
                        "ports": [{"port": k8s.PORT_NAME, "protocol": "TCP"}],
                    }
                ],
                "Adds to the app's own NetworkPolicy (policies are additive), which admits only the\n"
                "ingress controller: without this rule every scrape times out.",
            ),
        },
    }


def probe_url(plan: Plan, workload: Workload, env: EnvironmentPlan) -> str | None:
    host = kustomize.ingress_host(plan, workload, env) if k8s.serves_http(workload) else None
    if host is None:
        return None
    path = workload.probe.path if workload.probe.kind == "http" and workload.probe.path else "/"
    return f"https://{host}{path}"


def probe_job(workload: Workload, env: EnvironmentPlan) -> str:
    return f"blackbox-{env.namespace}-{k8s.name(workload)}"


def _probe(plan: Plan, workload: Workload, env: EnvironmentPlan) -> Manifest | None:
    url = probe_url(plan, workload, env)
    if url is None:
        return None
    why = (
        "The health endpoint, through the public ingress: DNS, TLS and the ingress controller\n"
        "included, which the app's own metrics never see."
        if workload.probe.kind == "http"
        else "No health endpoint is declared: the site's root must answer 2xx (add a health endpoint\n"
        "and point the probe at it otherwise)."
    )
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Probe",
        "metadata": {"name": f"{k8s.name(workload)}-public", "labels": _operator_labels()},
        "spec": {
            "jobName": comment(
                probe_job(workload, env), "The `job` label of probe_success; the alerts select it."
            ),
            "prober": comment(
                {"url": BLACKBOX_PROBER},
                f"The prometheus-blackbox-exporter chart's Service in {MONITORING_NAMESPACE}.",
            ),
            "module": comment(BLACKBOX_MODULE, "Its default module: an HTTP GET that must answer 2xx."),
            "interval": SCRAPE_INTERVAL,
            "scrapeTimeout": SCRAPE_TIMEOUT,
            "targets": {
                "staticConfig": {
                    "static": comment([url], why),
                    "labels": {"namespace": env.namespace, "component": k8s.name(workload)},
                }
            },
        },
    }


# -- rules -----------------------------------------------------------------------------------


def severity(env: EnvironmentPlan, page: bool) -> str:
    """Only production pages; every alert elsewhere is a ticket."""
    return PAGE if page and env.name == "prod" else TICKET


def runbook_url(plan: Plan, alert: str) -> str:
    remote = plan.stack.git_remote or ""
    match = re.fullmatch(r"(?:https?://)?github\.com[/:]([^/\s]+/[^/\s]+?)(?:\.git)?/?", remote.strip())
    anchor = f"{MONITORING_DOC}#{alert.lower()}"
    return f"https://github.com/{match.group(1)}/blob/main/{anchor}" if match else anchor


def _alert(
    plan: Plan,
    env: EnvironmentPlan,
    component: str,
    name: str,
    expr: str,
    for_: str,
    page: bool,
    summary: str,
    description: str,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {
            "severity": severity(env, page),
            "environment": env.name,
            "component": component,
            **(extra or {}),
        },
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": runbook_url(plan, name),
        },
    }


def _burn_alert(plan: Plan, env: EnvironmentPlan, slo: Slo, sli: Sli, burn: BurnRate) -> Any:
    threshold = number(burn.factor * slo.error_budget)
    percent = number(burn.factor * slo.error_budget * 100)
    expr = (
        f"{sli.recorded_ratio(burn.long)} > {threshold}\nand\n{sli.recorded_ratio(burn.short)} > {threshold}"
    )
    rule = _alert(
        plan,
        env,
        sli.job,
        burn.alert,
        expr,
        burn.for_,
        burn.page,
        f"{sli.job} in {env.namespace} is spending its error budget {number(burn.factor)}x too fast",
        f"More than {percent}% of {sli.job}'s requests failed (5xx) over the last {burn.long} and the last "
        f"{burn.short}. At this rate the {SLO_WINDOW_DAYS}-day budget of the {number(slo.availability)}% "
        f"objective lasts {_days(burn.days_to_exhaustion)}. If a deploy just happened, roll it back.",
        {"slo": "availability"},
    )
    kind = "Page" if burn.page else "Ticket"
    return comment(
        rule,
        f"{kind}: {number(burn.factor)}x burn rate over {burn.long}, confirmed over {burn.short}; "
        f"{number(burn.budget_spent * 100)}% of the budget\n"
        "is spent when it fires. The short window resolves it soon after the errors stop.",
    )


def _days(days: float) -> str:
    return f"{number(round(days, 1))} days" if days >= 1 else f"{number(round(days * 24, 1))} hours"


def _recordings(sli: Sli) -> list[Any]:
    labels = {"component": sli.job}  # one label set per component: no two rules record the same series
    rules: list[Any] = [
        {
            "record": ERROR_RATIO_RECORD.format(window=window),
            "expr": sli.error_ratio(window),
            "labels": labels,
        }
        for window in WINDOWS
    ]
    rules[0] = comment(
        rules[0],
        f"{sli.job}: 5xx per request from {sli.exporter.requests} ({sli.exporter.library}), one series\n"
        "per window the burn-rate alerts compare.",
    )
    rules.append({"record": P99_RECORD, "expr": sli.p99(), "labels": labels})
    return rules


def _slo_alerts(plan: Plan, env: EnvironmentPlan, slo: Slo, sli: Sli) -> list[Any]:
    rules = [_burn_alert(plan, env, slo, sli, burn) for burn in BURN_RATES]
    rules.append(
        _alert(
            plan,
            env,
            sli.job,
            ALERT_LATENCY,
            f"{sli.recorded_p99()} > {number(slo.latency_seconds)}",
            LATENCY_FOR,
            True,
            f"{sli.job} in {env.namespace} answers slower than its p99 objective of {slo.latency_ms} ms",
            f"The 99th percentile of {sli.job}'s request duration has been above {slo.latency_ms} ms for "
            f"{LATENCY_FOR}. If a deploy just happened, roll it back.",
            {"slo": "latency"},
        )
    )
    up = f"up{sli.selector()}"
    rules.append(
        comment(
            _alert(
                plan,
                env,
                sli.job,
                ALERT_SCRAPE,
                f"(max by (namespace, job) ({up}) == 0)\nor\nabsent({up})",
                SCRAPE_FOR,
                False,
                f"Prometheus gets no metrics from {sli.job} in {env.namespace}",
                f"No successful scrape of {sli.exporter.path} for {SCRAPE_FOR}, so the SLO alerts of "
                f"{sli.job} are blind. Is the exporter ({sli.exporter.library}) installed, and does the "
                "ServiceMonitor select the Service? See the Prometheus targets page.",
            ),
            "No data is not an alert for the SLO rules above; this one says the data is missing.",
        )
    )
    return rules


def _workload_alerts(plan: Plan, env: EnvironmentPlan, workload: Workload) -> list[Any]:
    name = k8s.name(workload)
    ns = env.namespace
    pods = f'namespace="{ns}",pod=~"{pod_regex(workload)}"'
    deployment = f'{{namespace="{ns}",deployment="{name}"}}'
    by = "max by (namespace, deployment)"
    rules: list[Any] = [
        _alert(
            plan,
            env,
            name,
            ALERT_CRASHLOOP,
            "max by (namespace, pod, container) (\n"
            "  max_over_time(kube_pod_container_status_waiting_reason"
            f'{{{pods},reason="CrashLoopBackOff"}}[5m])\n'
            ") >= 1",
            CRASHLOOP_FOR,
            False,
            f"A pod of {name} in {ns} is crash-looping",
            f"A container of {name} has been restarting in CrashLoopBackOff for {CRASHLOOP_FOR}. Read its "
            f"previous logs: kubectl -n {ns} logs deploy/{name} --previous",
        ),
        _alert(
            plan,
            env,
            name,
            ALERT_NOT_READY,
            f'sum by (namespace, pod) (kube_pod_status_ready{{{pods},condition="false"}}) > 0',
            NOT_READY_FOR,
            False,
            f"A pod of {name} in {ns} has not been ready for {NOT_READY_FOR}",
            f"The pod receives no traffic: its readiness probe fails or it cannot start. "
            f"kubectl -n {ns} describe pod <pod> shows why.",
        ),
        comment(
            _alert(
                plan,
                env,
                name,
                ALERT_STUCK,
                f"(\n  {by} (kube_deployment_status_observed_generation{deployment})\n"
                f"  != {by} (kube_deployment_metadata_generation{deployment})\n)\nor\n"
                f"(\n  ({by} (kube_deployment_spec_replicas{deployment})\n"
                f"  != {by} (kube_deployment_status_replicas_updated{deployment}))\n"
                f"  and {by} (changes(kube_deployment_status_replicas_updated{deployment}[10m])) == 0\n)",
                STUCK_FOR,
                False,
                f"The rollout of {name} in {ns} is stuck",
                f"For {STUCK_FOR} the Deployment's controller has not observed its latest spec, or the "
                "updated "
                f"replicas differ from the desired count without progress. kubectl -n {ns} rollout status "
                f"deployment/{name} says why; kubectl -n {ns} rollout undo deployment/{name} returns to the "
                "previous version.",
            ),
            "Outlasts the Deployment's progressDeadlineSeconds (10 minutes): a rollout CI did not\n"
            "watch (GitOps, a manual apply) that never finishes.",
        ),
    ]
    if k8s.autoscaled(workload):
        hpa = f'{{namespace="{ns}",horizontalpodautoscaler="{name}"}}'
        rules.append(
            _alert(
                plan,
                env,
                name,
                ALERT_HPA,
                "max by (namespace, horizontalpodautoscaler) "
                f"(kube_horizontalpodautoscaler_status_current_replicas{hpa})\n"
                ">= max by (namespace, horizontalpodautoscaler) "
                f"(kube_horizontalpodautoscaler_spec_max_replicas{hpa})",
                HPA_FOR,
                False,
                f"{name} in {ns} has run at its autoscaler's maximum for {HPA_FOR}",
                f"The HorizontalPodAutoscaler cannot add replicas ({env.max_replicas} in {env.name}): raise "
                f"{packaging.max_replicas_field(plan, env.name, name)} or find what made the load grow.",
            )
        )
    return rules


def _probe_alerts(plan: Plan, env: EnvironmentPlan, workload: Workload) -> list[Any]:
    url = probe_url(plan, workload, env)
    if url is None:
        return []
    job = f'{{job="{probe_job(workload, env)}"}}'
    name = k8s.name(workload)
    return [
        _alert(
            plan,
            env,
            name,
            ALERT_ENDPOINT,
            f"max by (namespace, instance) (probe_success{job}) == 0",
            ENDPOINT_FOR,
            True,
            f"{url} has failed its synthetic check for {ENDPOINT_FOR}",
            f"The blackbox exporter gets no 2xx from {url} (DNS, TLS, ingress or the app). "
            f"curl -v {url} shows where it fails.",
        ),
        _alert(
            plan,
            env,
            name,
            ALERT_CERT,
            f"min by (namespace, instance) (probe_ssl_earliest_cert_expiry{job}) - time() < {CERT_DAYS} * "
            "86400",
            "1h",
            False,
            f"The TLS certificate of {url} expires within {CERT_DAYS} days",
            f"cert-manager renews 30 days before expiry, so renewal is failing: kubectl -n {env.namespace} "
            "get certificate,certificaterequest,challenge",
        ),
    ]


def rule_groups(plan: Plan, env: EnvironmentPlan, slo: Slo) -> list[Any]:
    env_slis = slis(plan, env)
    groups: list[Any] = []
    if env_slis:
        groups.append(
            comment(
                {
                    "name": f"{plan.app_name}-slo-recordings",
                    "rules": [rule for sli in env_slis for rule in _recordings(sli)],
                },
                "Error ratios over each window of the burn-rate alerts, and the p99 latency.",
            )
        )
        groups.append(
            comment(
                {
                    "name": f"{plan.app_name}-slo-alerts",
                    "rules": [rule for sli in env_slis for rule in _slo_alerts(plan, env, slo, sli)],
                },
                f"Objectives (the plan's decisions): {number(slo.availability)}% of requests without a 5xx "
                "over "
                f"{SLO_WINDOW_DAYS} days,\np99 under {slo.latency_ms} ms. Multiwindow, multi-burn-rate "
                "alerts "
                "(Google SRE workbook, chapter 5).",
            )
        )
    groups.append(
        {
            "name": f"{plan.app_name}-workload-alerts",
            "rules": [rule for workload in plan.workloads for rule in _workload_alerts(plan, env, workload)],
        }
    )
    probes = [rule for workload in plan.workloads for rule in _probe_alerts(plan, env, workload)]
    if probes:
        groups.append({"name": f"{plan.app_name}-probe-alerts", "rules": probes})
    return groups


def prometheus_rule(plan: Plan, env: EnvironmentPlan, slo: Slo) -> Manifest:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": plan.app_name, "labels": _operator_labels()},
        "spec": {
            "groups": comment(
                rule_groups(plan, env, slo),
                f"severity {PAGE} pages the on-call, {TICKET} opens a ticket"
                + (" (only prod pages)." if env.name == "prod" else f"; nothing in {env.name} pages."),
            )
        },
    }


# -- grafana ---------------------------------------------------------------------------------


def dashboard_file(plan: Plan) -> str:
    return f"{plan.app_name}.json"


def _grafana(plan: Plan, slo: Slo) -> list[RenderedFile]:
    name = dashboard_file(plan)
    kustomization = {
        **kustomize.KUSTOMIZATION,
        "namespace": comment(
            MONITORING_NAMESPACE,
            "Where Grafana's dashboard sidecar looks (kube-prometheus-stack: its own namespace, unless\n"
            "grafana.sidecar.dashboards.searchNamespace is ALL).",
        ),
        "labels": [{"pairs": {k8s.PART_OF: plan.app_name, k8s.MANAGED_BY: "deploysmith"}}],
        "configMapGenerator": comment(
            [
                {
                    "name": f"{plan.app_name}-dashboard",
                    "files": [name],
                    "options": {
                        "disableNameSuffixHash": True,
                        "labels": dict(GRAFANA_LABEL),
                    },
                }
            ],
            "The sidecar loads every ConfigMap labelled grafana_dashboard=1; a fixed name, so an update\n"
            "replaces the dashboard instead of adding one.",
        ),
    }
    what = (
        f"Grafana dashboard of {plan.app_name} (every environment: pick one in its Environment menu).\n\n"
        f"  kubectl apply -k {GRAFANA_DIR}\n"
        f"or import {name} in Grafana (Dashboards > New > Import)"
    )
    return [
        RenderedFile(f"{GRAFANA_DIR}/kustomization.yaml", dump(kustomization, header(what))),
        RenderedFile(f"{GRAFANA_DIR}/{name}", dashboard_json(plan, slo)),
    ]


# -- docs ------------------------------------------------------------------------------------


def _banner(what: str) -> str:
    from deploysmith import __version__

    return (
        f"<!-- Generated by deploysmith {__version__}: {what}. Edit freely: regeneration never "
        "overwrites your edits silently. -->\n"
    )


def _prod(plan: Plan) -> EnvironmentPlan:
    return plan.environment("prod") or plan.environments[-1]


def _alert_table(plan: Plan, slo: Slo) -> list[str]:
    budget = slo.error_budget
    rows = ["| Alert | Fires when | For | prod | elsewhere |", "|---|---|---|---|---|"]
    has_web = any(has_request_metrics(w) for w in plan.workloads)
    has_probe = any(probe_url(plan, w, env) for w in plan.workloads for env in plan.environments)
    prod_pages = plan.environment("prod") is not None

    def sev(page: bool) -> str:
        return "page" if page and prod_pages else "ticket"

    if has_web:
        for burn in BURN_RATES:
            rows.append(
                f"| [{burn.alert}](#{burn.alert.lower()}) | 5xx ratio > "
                f"{number(burn.factor * budget * 100)}% "
                f"({number(burn.factor)}x budget) over {burn.long} and {burn.short} | {burn.for_} "
                f"| {sev(burn.page)} | ticket |"
            )
        rows.append(
            f"| [{ALERT_LATENCY}](#{ALERT_LATENCY.lower()}) | p99 over 5m > {slo.latency_ms} ms "
            f"| {LATENCY_FOR} | {sev(True)} | ticket |"
        )
        rows.append(
            f"| [{ALERT_SCRAPE}](#{ALERT_SCRAPE.lower()}) | no successful scrape of a component's metrics "
            f"| {SCRAPE_FOR} | ticket | ticket |"
        )
    if has_probe:
        rows.append(
            f"| [{ALERT_ENDPOINT}](#{ALERT_ENDPOINT.lower()}) | the public health URL answers no 2xx "
            f"| {ENDPOINT_FOR} | {sev(True)} | ticket |"
        )
        rows.append(
            f"| [{ALERT_CERT}](#{ALERT_CERT.lower()}) | the TLS certificate expires within {CERT_DAYS} days "
            "| 1h | ticket | ticket |"
        )
    rows += [
        f"| [{ALERT_CRASHLOOP}](#{ALERT_CRASHLOOP.lower()}) | a container waits in CrashLoopBackOff "
        f"| {CRASHLOOP_FOR} | ticket | ticket |",
        f"| [{ALERT_NOT_READY}](#{ALERT_NOT_READY.lower()}) | a pod is not ready | {NOT_READY_FOR} | "
        "ticket | ticket |",
        f"| [{ALERT_STUCK}](#{ALERT_STUCK.lower()}) | the spec is not observed, or updated replicas differ "
        f"from desired without progress for 10m | {STUCK_FOR} | ticket | ticket |",
    ]
    if any(k8s.autoscaled(w) for w in plan.workloads):
        rows.append(
            f"| [{ALERT_HPA}](#{ALERT_HPA.lower()}) | current replicas = the HPA's maxReplicas "
            f"| {HPA_FOR} | ticket | ticket |"
        )
    return rows


def _exporter_section(plan: Plan) -> list[str]:
    parts = ["## Request metrics per component\n"]
    web = [w for w in plan.workloads if has_request_metrics(w)]
    if not web:
        parts.append(
            "No component serves HTTP requests from application code (static sites and workers only), so "
            "there are no request metrics and no SLO alerts: the blackbox probes and the pod alerts watch "
            "the app.\n"
        )
        return parts
    parts.append(
        "The SLO alerts read a request counter with the HTTP status and a duration histogram. No metrics "
        "endpoint was detected in the code, so each ServiceMonitor scrapes the path the component's usual "
        "exporter serves; until the exporter is added the target is down, the SLO alerts stay silent and "
        f"`{ALERT_SCRAPE}` opens a ticket. Add it:\n"
    )
    for workload in web:
        component = workload.component
        exporter = exporter_for(component)
        origin = (
            f"{component.framework}'s usual exporter"
            if component.framework in EXPORTERS
            else "no framework exporter is known here: the Prometheus naming convention"
        )
        parts.append(f"### {component.name}\n")
        parts.append(f"- Exporter: **{exporter.library}** ({origin})")
        parts.append(f"- Install: `{install_line(component, exporter)}`")
        parts.append(f"- Add: `{exporter.setup}`")
        parts.append(f"- Serves: `{exporter.path}` on the `{k8s.PORT_NAME}` port")
        parts.append(
            f"- Requests: `{exporter.requests}` with the status in `{exporter.status_label}` "
            f"(a server error looks like `{exporter.status_examples[0]}`); duration: "
            f"`{exporter.duration}_bucket`"
        )
        if exporter.caveat:
            parts.append(f"- Note: {exporter.caveat}")
        parts.append("")
    return parts


def monitoring_markdown(plan: Plan) -> str:
    slo = slo_of(plan)
    prod = _prod(plan)
    budget_minutes = round(SLO_WINDOW_DAYS * 24 * 60 * slo.error_budget)
    parts = [_banner("dashboards, alerts and who is paged")]
    parts.append(f"# Monitoring {plan.app_name}\n")
    parts.append(
        f"`{MONITORING_DIR}/` holds what Prometheus scrapes, the alerts it evaluates and the Grafana "
        "dashboard. "
        "This page says what each alert and panel is for, its threshold and who it reaches.\n"
    )
    parts.append("## What is where\n")
    parts.append("| Path | What |\n|---|---|")
    parts.append(
        f"| `{MONITORING_DIR}/<env>/servicemonitor.yaml` | scrape each web component's metrics "
        f"(every {SCRAPE_INTERVAL}) |"
    )
    parts.append(
        f"| `{MONITORING_DIR}/<env>/networkpolicy.yaml` | let Prometheus (namespace "
        f"`{MONITORING_NAMESPACE}`) "
        "reach those pods |"
    )
    parts.append(
        f"| `{MONITORING_DIR}/<env>/prometheusrule.yaml` | SLO recording rules and every alert below |"
    )
    parts.append(
        f"| `{MONITORING_DIR}/<env>/probe.yaml` | blackbox-exporter checks of the public health URLs |"
    )
    parts.append(f"| `{GRAFANA_DIR}/` | the dashboard, as a ConfigMap for Grafana's sidecar |")
    parts.append("")
    parts.append("## Install\n")
    parts.append(
        "Once per cluster: the Prometheus Operator with kube-state-metrics, Alertmanager and Grafana "
        f"(the `kube-prometheus-stack` Helm chart, release `kube-prometheus-stack`, namespace "
        f"`{MONITORING_NAMESPACE}`), and the `prometheus-blackbox-exporter` chart in the same namespace "
        f"(its Service `{BLACKBOX_PROBER}` and its `{BLACKBOX_MODULE}` module are what the probes use). "
        "kube-prometheus-stack's Prometheus selects ServiceMonitors, Probes and PrometheusRules labelled "
        f"`release: {PROMETHEUS_SELECTOR['release']}`; with another release name change that label, or set "
        "`prometheus.prometheusSpec.*SelectorNilUsesHelmValues=false` to select all of them.\n"
    )
    parts.append(
        "Then, per environment, after its namespace exists (and again whenever these files change):\n"
    )
    parts.append("```sh")
    for env in plan.environments:
        parts.append(f"kubectl apply -k {monitoring_dir(env.name)}")
    parts.append(f"kubectl apply -k {GRAFANA_DIR}   # the dashboard, once for every environment")
    parts.append(f"kubectl -n {prod.namespace} get servicemonitor,probe,prometheusrule")
    parts.append("```\n")
    parts.append(
        f"These folders are not part of `{packaging.settings_path(plan, '<env>')}`: the monitoring kinds need "
        "the operator's "
        "CRDs, and the app must deploy without them. "
        + (
            "With GitOps, Argo CD syncs only the app: add an Application for each "
            f"`{MONITORING_DIR}/<env>` folder (and allow the `monitoring.coreos.com` kinds ServiceMonitor, "
            "PrometheusRule and Probe in the AppProject), or apply them as above.\n"
            if gitops.tool(plan) == "argocd"
            else "With GitOps, Flux reconciles only the app: add a Kustomization for each "
            f"`{MONITORING_DIR}/<env>` folder (dependsOn the app's), or apply them as above.\n"
            if plan.requirements.gitops
            else "CI does not apply them: monitoring changes with the objectives, not with each release.\n"
        )
    )
    parts.append("## Service level objectives\n")
    parts.append("| Objective | Target | Measured as |\n|---|---|---|")
    parts.append(
        f"| Availability | {number(slo.availability)}% of requests over {SLO_WINDOW_DAYS} days "
        f"(error budget {number(slo.error_budget * 100)}%, about {budget_minutes} minutes of full outage) "
        "| requests answered 5xx / all requests, per component |"
    )
    parts.append(
        f"| Latency | p99 under {slo.latency_ms} ms | 99th percentile of the request duration histogram "
        "over 5 minutes |"
    )
    parts.append("")
    parts.append(
        "Both are the plan's defaults (see DEPLOYMENT.md, decisions `slo availability` and `slo latency`): "
        "the requirements set no objective. To change one, edit the thresholds in each "
        "`prometheusrule.yaml` and the Verify stage's check, or regenerate when deploysmith takes it as a "
        "requirement.\n"
    )
    parts.extend(_exporter_section(plan))
    parts.append("## Who is paged\n")
    parts.append(
        f"Alerts carry `severity: {PAGE}` (**page**: the on-call is woken, act now) or `severity: {TICKET}` "
        "(**ticket**: the owning team's queue, next working day). Only production pages; in every other "
        f"environment each alert is a ticket. Each alert also carries `environment` and a `runbook_url` "
        "pointing at its section below. Route them in Alertmanager, for example:\n"
    )
    parts.append("```yaml")
    parts.append("route:")
    parts.append("  receiver: team-tickets")
    parts.append("  routes:")
    parts.append(f"    - matchers: ['severity=\"{PAGE}\"', 'namespace=\"{prod.namespace}\"']")
    parts.append("      receiver: on-call-pager")
    parts.append("```\n")
    parts.extend(_alert_table(plan, slo))
    parts.append("")
    if any(has_request_metrics(w) for w in plan.workloads):
        parts.append("### How the burn-rate alerts work\n")
        parts.append(
            "The burn rate is how fast the error budget is spent: 1x spends exactly the budget in "
            f"{SLO_WINDOW_DAYS} days. Each alert needs the error ratio above its threshold over a long "
            "window "
            "(enough budget is really gone) and a short one (it is still happening, so the alert resolves "
            "minutes after the errors stop).\n"
        )
        parts.append(
            "| Alert | Long / short window | Burn rate | 5xx ratio above | Budget spent when it fires "
            "| Budget gone in | Severity (prod) |"
        )
        parts.append("|---|---|---|---|---|---|---|")
        for burn in BURN_RATES:
            parts.append(
                f"| {burn.alert} | {burn.long} / {burn.short} | {number(burn.factor)}x "
                f"| {number(burn.factor * slo.error_budget * 100)}% | {number(burn.budget_spent * 100)}% "
                f"| {_days(burn.days_to_exhaustion)} | {'page' if burn.page else 'ticket'} |"
            )
        parts.append("")
        parts.append(
            f"Recording rules compute `{ERROR_RATIO_RECORD.format(window='<window>')}` for "
            + ", ".join(WINDOWS)
            + f", and `{P99_RECORD}`. Without traffic the ratio is not a number and no alert fires.\n"
        )
    parts.extend(_alert_sections(plan, slo))
    parts.extend(_dashboard_section(plan, slo))
    parts.extend(_rollback_section(plan, slo))
    return "\n".join(parts).rstrip("\n") + "\n"


def _alert_sections(plan: Plan, slo: Slo) -> list[str]:
    prod = _prod(plan)
    ns = prod.namespace
    parts = ["## Alerts\n"]
    if any(has_request_metrics(w) for w in plan.workloads):
        for burn in BURN_RATES:
            parts.append(f"### {burn.alert}\n")
            parts.append(
                f"{'Page' if burn.page else 'Ticket'}. More than "
                f"{number(burn.factor * slo.error_budget * 100)}% "
                f"of a component's requests failed over {burn.long} and over {burn.short}: "
                f"{number(burn.budget_spent * 100)}% of the {SLO_WINDOW_DAYS}-day budget is already spent, "
                "and "
                f"at this rate the rest lasts {_days(burn.days_to_exhaustion)}. "
                + (
                    "If it follows a deploy, roll back first (RUNBOOK.md, *Rollback triggers*), then read "
                    "the "
                    "failed requests' logs."
                    if burn.page
                    else "Find the slow leak: one endpoint, one dependency, one client; plan the fix."
                )
                + "\n"
            )
        parts.append(f"### {ALERT_LATENCY}\n")
        parts.append(
            f"Page. The p99 request duration has been above {slo.latency_ms} ms for {LATENCY_FOR}. After a "
            "deploy, roll back; otherwise check saturation (CPU at its limit, HPA at max) and slow "
            "dependencies (database, external APIs).\n"
        )
        parts.append(f"### {ALERT_SCRAPE}\n")
        parts.append(
            f"Ticket. Prometheus has not scraped a component's metrics for {SCRAPE_FOR} (or never found the "
            "target), so the SLO alerts above cannot fire. Until the exporter of *Request metrics per "
            "component* is added, this is expected. Otherwise: the Prometheus targets page shows the scrape "
            "error; check the ServiceMonitor's `release` label, the path, and the NetworkPolicy.\n"
        )
    if any(probe_url(plan, w, env) for w in plan.workloads for env in plan.environments):
        parts.append(f"### {ALERT_ENDPOINT}\n")
        parts.append(
            f"Page. The blackbox exporter has had no 2xx from a public health URL for {ENDPOINT_FOR}: users "
            "cannot reach the app, whatever its own metrics say (DNS, TLS, the ingress controller or every "
            f"pod down). `curl -v` the URL; `kubectl -n {ns} get ingress,endpoints`.\n"
        )
        parts.append(f"### {ALERT_CERT}\n")
        parts.append(
            f"Ticket. The certificate expires within {CERT_DAYS} days; cert-manager renews at 30, so renewal "
            f"fails. `kubectl -n {ns} describe certificate` and its challenges say why.\n"
        )
    parts.append(f"### {ALERT_CRASHLOOP}\n")
    parts.append(
        f"Ticket. A container has restarted in a loop for {CRASHLOOP_FOR}: missing configuration, a crash at "
        f"start, or an OOM kill. `kubectl -n {ns} logs deploy/<component> --previous`. Right after a deploy "
        "this is a rollback trigger.\n"
    )
    parts.append(f"### {ALERT_NOT_READY}\n")
    parts.append(
        f"Ticket. A pod has not been ready for {NOT_READY_FOR}, so it serves no traffic: its readiness probe "
        f"fails, or it is Pending (no room to schedule). `kubectl -n {ns} describe pod <pod>`.\n"
    )
    parts.append(f"### {ALERT_STUCK}\n")
    parts.append(
        f"Ticket. For {STUCK_FOR} the Deployment's controller has not caught up with its spec, or the "
        "new version's replicas stopped progressing (a paused rollout also counts). CI's own deploys fail "
        f"sooner (`rollout status` times out); this catches the rest. `kubectl -n {ns} rollout status "
        f"deployment/<component>`; `kubectl -n {ns} rollout undo deployment/<component>` to go back.\n"
    )
    if any(k8s.autoscaled(w) for w in plan.workloads):
        parts.append(f"### {ALERT_HPA}\n")
        parts.append(
            f"Ticket. The autoscaler has run at maxReplicas ({prod.max_replicas} in {prod.name}) for "
            f"{HPA_FOR}: "
            "no headroom is left, and latency alerts usually follow. Raise maxReplicas in the "
            f"{packaging.settings_noun(plan)} (`{packaging.settings_path(plan, prod.name)}`), or find what made "
            "the load grow.\n"
        )
    parts.append(
        "The pod and rollout alerts overlap kube-prometheus-stack's generic Kube* alerts on purpose: these "
        "are scoped to this app, carry its severity and link here. Silence the generic ones for these "
        "namespaces if both reach the same people.\n"
    )
    return parts


def _dashboard_section(plan: Plan, slo: Slo) -> list[str]:
    parts = ["## Dashboard\n"]
    parts.append(
        f"`{GRAFANA_DIR}/{dashboard_file(plan)}` (uid `{dashboard_uid(plan)}`), one dashboard for every "
        "environment: pick it in the *Environment* menu. Panels:\n"
    )
    rows = ["| Panel | Shows | Threshold |", "|---|---|---|"]
    if any(has_request_metrics(w) for w in plan.workloads):
        rows += [
            "| *component*: availability over the time range | requests without a 5xx / all requests "
            f"| red below {number(slo.availability)}% |",
            "| *component*: p99 latency now | 99th percentile of the request duration | red at "
            f"{slo.latency_ms} ms |",
            "| Rate: requests per second by status (web) | the R of RED, per HTTP status | - |",
            f"| Errors: share of requests answered 5xx (web) | the E of RED: the SLI | line at the budget, "
            f"{number(slo.error_budget * 100)}% |",
            f"| Duration: p50, p95, p99 (web) | the D of RED | line at {slo.latency_ms} ms |",
        ]
    rows += [
        "| Saturation: CPU used / limit | per pod; at 100% the container is throttled | line at 100% |",
        "| Saturation: memory used / limit | working set per pod; at 100% it is OOM-killed | line at 100% |",
        "| Rollout status: replicas | desired, updated (new version), available, unavailable, HPA max | - |",
        "| Container restarts | crashes, OOM kills, failed liveness probes | - |",
    ]
    parts.extend(rows)
    parts.append("")
    parts.append(
        "Annotations: *Rollouts* marks the time a Deployment has fewer updated replicas than desired "
        f"(from kube-state-metrics, nothing to set up); *Deploys* shows Grafana annotations tagged "
        f"`{DEPLOY_TAG}` and `{plan.app_name}`, for a pipeline that posts deploy markers.\n"
    )
    return parts


def _rollback_section(plan: Plan, slo: Slo) -> list[str]:
    prod = _prod(plan)
    parts = ["## Automated rollback\n"]
    if plan.environment("prod") is None:
        parts.append("No prod environment is requested, so the pipeline has no Verify stage.\n")
        return parts
    checks = bake_checks(plan, prod, slo)
    if checks and plan.requirements.ci not in BAKE_PLATFORMS:
        parts.append(
            "The pipeline's Verify stage rolls production back when `kubectl rollout status` or the health "
            "URLs "
            "fail. The error-budget bake is wired into the GitHub Actions pipeline only: on "
            f"{plan.requirements.ci}, "
            f"run these queries during the {BAKE_MINUTES} minutes after a deploy (`WINDOW` = the time "
            "since it "
            "finished) and roll back when one returns a series:\n"
        )
        parts.append("```promql")
        for check in checks:
            parts.append(f"# {check.what}")
            parts.append(check.query)
        parts.append("```\n")
        return parts
    parts.append(
        "The pipeline's Verify stage, after Deploy Prod, rolls production back when any check fails: "
        "`kubectl rollout status`, the health URLs through the ingress, and"
        + (
            f" a {BAKE_MINUTES}-minute bake that queries Prometheus every minute (from minute "
            f"{BAKE_FIRST_CHECK_MINUTES}) over the time since the rollout finished. It fails when a "
            "component "
            f"answers more than {number(BAKE_BURN_RATE * slo.error_budget * 100)}% of requests with a 5xx "
            f"({number(BAKE_BURN_RATE)}x the budget, the fast-page rate) or its p99 exceeds "
            f"{slo.latency_ms} ms, "
            f"once it has served at least {BAKE_MIN_REQUESTS} requests.\n"
            if checks
            else " nothing more: no component serves request metrics, so there is no error-budget bake.\n"
        )
    )
    if checks:
        parts.append(
            bake.setting(plan) + " Without `PROMETHEUS_URL` the bake is "
            "skipped with a notice. A query that fails is a warning, not a rollback. The queries, with "
            "`WINDOW` replaced by the time since the bake started:\n"
        )
        parts.append("```promql")
        for check in checks:
            parts.append(f"# {check.what}")
            parts.append(check.query)
        parts.append("```\n")
    parts.append(
        "After the bake, the alerts above take over: a page after a deploy is a rollback trigger "
        "(RUNBOOK.md, *Rollback triggers*).\n"
    )
    return parts


def runbook_triggers(plan: Plan) -> str:
    """The RUNBOOK's *Rollback triggers* section: how to see a rollback is needed, which
    alerts say so, the commands, how to confirm it worked, and what to do with Git."""
    slo = slo_of(plan)
    env = _prod(plan)
    ns = env.namespace
    web = slis(plan, env)
    uses_gitops = plan.requirements.gitops
    parts = ["## Rollback triggers\n"]
    rows = ["| Trigger | How you see it | What rolls back |", "|---|---|---|"]
    automatic = "the Verify stage, at once" + (
        " (git revert of the digest commit)" if uses_gitops else " (rollout undo)"
    )
    if plan.environment("prod") is not None:
        rows.append(
            "| Failed health check after deploy | Verify's *Check the rollout* or *Probe* step fails "
            f"| {automatic} |"
        )
        if web and plan.requirements.ci not in BAKE_PLATFORMS:
            pages = ", ".join(f"`{b.alert}`" for b in BURN_RATES if b.page)
            rows.append(f"| Error-rate spike | {pages} page | you, with the commands below |")
            rows.append(
                f"| Latency regression beyond the SLO (p99 > {slo.latency_ms} ms) | `{ALERT_LATENCY}` pages "
                "| you, with the commands below |"
            )
        elif web:
            rows.append(
                "| Error-rate spike | Verify's bake fails; later "
                + ", ".join(f"`{b.alert}`" for b in BURN_RATES if b.page)
                + f" page | during the bake: {automatic}; after it: you, with the commands below |"
            )
            rows.append(
                f"| Latency regression beyond the SLO (p99 > {slo.latency_ms} ms) | Verify's bake fails; "
                "later "
                f"`{ALERT_LATENCY}` pages | as above |"
            )
    if any(probe_url(plan, w, env) for w in plan.workloads):
        rows.append(f"| Public endpoint down | `{ALERT_ENDPOINT}` pages | you, with the commands below |")
    rows.append(
        f"| Pods crash-loop or the rollout is stuck | `{ALERT_CRASHLOOP}`, `{ALERT_STUCK}` | you, with the "
        "commands below |"
    )
    rows.append(
        "| Manual decision | anything above, a bad release noticed by people | you, with the commands below |"
    )
    parts.extend(rows)
    parts.append("")
    parts.append(f"See what fires and what changed ({env.name}):\n")
    parts.append("```sh")
    parts.append(
        f"kubectl -n {MONITORING_NAMESPACE} port-forward svc/prometheus-operated 9090 &   "
        "# or use your Prometheus URL"
    )
    parts.append("PROMETHEUS_URL=http://localhost:9090")
    parts.append(
        f'curl -fsS --get --data-urlencode \'query=ALERTS{{namespace="{ns}",alertstate="firing"}}\' '
        "\"${PROMETHEUS_URL}/api/v1/query\" | jq -r '.data.result[].metric | [.alertname, .severity] | @tsv'"
    )
    if web:
        parts.append(
            f"curl -fsS --get --data-urlencode 'query={ERROR_RATIO_RECORD.format(window='5m')}"
            f'{{namespace="{ns}"}}\' "${{PROMETHEUS_URL}}/api/v1/query" '
            "| jq -r '.data.result[] | [.metric.job, .value[1]] | @tsv'   # 5xx ratio, last 5 minutes"
        )
    for workload in plan.workloads:
        parts.append(f"kubectl -n {ns} rollout history deployment/{k8s.name(workload)}")
    parts.append("```\n")
    parts.append(
        "Roll back when a trigger fires within a few hours of a deploy, or whenever the release is the "
        "likely "
        "cause; fix forward only when the fix is smaller and surer than the rollback. The commands "
        f"({env.name}; the same with another namespace elsewhere):\n"
    )
    parts.append("```sh")
    parts.extend(packaging.deploy_commands(plan, env.name).rollback)
    parts.append("```\n")
    if uses_gitops:
        parts.append(
            "`DEPLOY_COMMIT` is the digest commit of the bad release (`git log -- "
            f"{packaging.pinned_file(plan, env.name)}`). A rollback in the cluster alone is undone by "
            f"{gitops.controller(plan)} at its next sync (or shows as drift where it does not sync "
            "automatically): the revert in Git is what lasts.\n"
        )
    parts.append("Confirm it worked:\n")
    parts.append("```sh")
    for workload in plan.workloads:
        parts.append(f"kubectl -n {ns} rollout status deployment/{k8s.name(workload)} --timeout=10m")
    parts.append(f"kubectl -n {ns} get deploy -o wide   # the IMAGES column shows the previous digest")
    for workload in plan.workloads:
        url = probe_url(plan, workload, env)
        if url:
            parts.append(f"curl -fsS {url}")
    parts.append("```\n")
    if web:
        parts.append(
            "Then watch the 5xx ratio above fall under "
            f"{number(BURN_RATES[0].factor * slo.error_budget * 100)}% within 5 minutes, and the page alerts "
            f"resolve (their short windows clear within {BURN_RATES[0].short} to {BURN_RATES[1].short}).\n"
        )
    parts.append(
        "Git afterwards: "
        + (
            "the revert commit is on `main` and is now the truth; fix the change on a branch and merge it "
            "with the revert reverted, so the next deploy carries the fix."
            if uses_gitops
            else "`main` still holds the bad change, and the next push to `main` deploys it again. Revert it "
            "(`git revert <sha>` and a pull request) or merge the fix before anything else."
        )
        + " Migrations are not rolled back: they are expand/contract, so the previous release runs on the "
        "new schema (see *Migrations*).\n"
    )
    return "\n".join(parts)


__all__ = ["render", "monitoring_markdown", "runbook_triggers", "prometheus_rule", "rule_groups"]

"""Service level objectives and request metrics: what the plan states and the monitoring
kit (render.monitoring) builds on.

SLOs: the requirements have no SLO field, so the plan states the defaults as decisions a
reviewer can check and change: availability 99.9 % of requests without a 5xx over 30
days, p99 latency under 500 ms.

Request metrics: the SLO alerts need a request counter with the HTTP status and a
duration histogram. Each framework's usual Prometheus exporter names them differently;
EXPORTERS says, per framework, which library produces which series, where it serves them
and the exact dependency and line to add. Detection does not look for an exporter, so
every web workload gets a plan note recommending its framework's exporter, and the kit
scrapes the exporter's conventional path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deploysmith.model import Component, Decision, Plan, Workload

SLO_WINDOW_DAYS = 30
DEFAULT_AVAILABILITY = 99.9  # percent of requests answered without a 5xx
DEFAULT_LATENCY_MS = 500  # p99
AVAILABILITY_TOPIC = "slo availability"
LATENCY_TOPIC = "slo latency"


@dataclass(frozen=True)
class Slo:
    availability: float  # percent, e.g. 99.9
    latency_ms: int  # p99 objective

    @property
    def error_budget(self) -> float:
        """The share of requests that may fail: 0.001 for 99.9 %."""
        return round(1 - self.availability / 100, 10)

    @property
    def latency_seconds(self) -> float:
        return self.latency_ms / 1000


def slo_decisions() -> tuple[Decision, ...]:
    budget_minutes = round(SLO_WINDOW_DAYS * 24 * 60 * (1 - DEFAULT_AVAILABILITY / 100))
    return (
        Decision(
            AVAILABILITY_TOPIC,
            f"{DEFAULT_AVAILABILITY:g}%",
            f"default (the requirements set no availability objective): at most "
            f"{100 - DEFAULT_AVAILABILITY:.1f}% of requests may fail with a 5xx over {SLO_WINDOW_DAYS} days, "
            f"an error budget of {budget_minutes} minutes of full outage; multiwindow burn-rate alerts "
            "page at 14.4x and 6x that rate and open a ticket at 3x and 1x (deploy/monitoring/)",
        ),
        Decision(
            LATENCY_TOPIC,
            f"p99 < {DEFAULT_LATENCY_MS} ms",
            "default (the requirements set no latency objective): 99% of requests answer within "
            f"{DEFAULT_LATENCY_MS} ms; slower for 10 minutes pages, and a slower release is rolled back "
            "by the Verify stage's bake check",
        ),
    )


def slo_of(plan: Plan) -> Slo:
    """The objectives the plan decided (the defaults when a plan predates them)."""
    availability = DEFAULT_AVAILABILITY
    latency = DEFAULT_LATENCY_MS
    for decision in plan.decisions:
        if decision.topic == AVAILABILITY_TOPIC:
            match = re.match(r"\s*([0-9.]+)\s*%", decision.choice)
            if match:
                availability = float(match.group(1))
        elif decision.topic == LATENCY_TOPIC:
            match = re.search(r"([0-9]+)\s*ms", decision.choice)
            if match:
                latency = int(match.group(1))
    return Slo(availability, latency)


# -- exporters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Exporter:
    """A library that serves request metrics, and the series it produces."""

    library: str  # as its registry names it (Maven: group:artifact)
    packages: tuple[str, ...]  # what to install
    setup: str  # the line(s) to add to the application, one line
    path: str  # where it serves metrics
    requests: str  # counter (or histogram _count) of every request
    status_label: str  # the label holding the HTTP status
    status_examples: tuple[str, str]  # how a server error and a success look in that label
    duration: str  # request duration histogram, without the _bucket suffix
    caveat: str = ""  # what else to know
    convention: bool = False  # True: no framework exporter; the Prometheus naming convention


_PY_CLIENT = Exporter(
    "prometheus-client",
    ("prometheus-client",),
    "count each request in Counter('http_requests_total', 'HTTP requests', ['status']) and time it in "
    "Histogram('http_request_duration_seconds', 'HTTP request duration', buckets=(0.05, 0.1, 0.25, 0.5, 1, "
    "2.5, 5)); serve prometheus_client.make_wsgi_app() (or make_asgi_app()) at /metrics",
    "/metrics",
    "http_requests_total",
    "status",
    ("500", "200"),
    "http_request_duration_seconds",
    "with several server workers use prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR)",
    convention=True,
)
_NODE_CLIENT = Exporter(
    "prom-client",
    ("prom-client",),
    "count each request in new client.Counter({ name: 'http_requests_total', help: 'HTTP requests', "
    "labelNames: ['status'] }) and time it in new client.Histogram({ name: 'http_request_duration_seconds', "
    "help: 'HTTP request duration', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] }); serve "
    "await client.register.metrics() at /metrics",
    "/metrics",
    "http_requests_total",
    "status",
    ("500", "200"),
    "http_request_duration_seconds",
    convention=True,
)
_GO_CLIENT = Exporter(
    "github.com/prometheus/client_golang",
    ("github.com/prometheus/client_golang",),
    'mux.Handle("/metrics", promhttp.Handler()) and wrap the app\'s handler in '
    "promhttp.InstrumentHandlerDuration(duration, promhttp.InstrumentHandlerCounter(requests, handler)), "
    'with requests := promauto.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", '
    'Help: "HTTP requests."}, []string{"code", "method"}) and duration := promauto.NewHistogramVec('
    'prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "HTTP request duration.", '
    'Buckets: prometheus.DefBuckets}, []string{"code", "method"})',
    "/metrics",
    "http_requests_total",
    "code",
    ("500", "200"),
    "http_request_duration_seconds",
    "gin, echo and chi routers are http.Handlers and wrap the same way; fiber needs its net/http adaptor",
)
_JVM_CLIENT = Exporter(
    "io.prometheus:prometheus-metrics-core",
    ("io.prometheus:prometheus-metrics-core", "io.prometheus:prometheus-metrics-exporter-servlet-jakarta"),
    "count each request in a Counter http_requests_total{status} and time it in a Histogram "
    "http_request_duration_seconds with a 0.5 s bucket; serve them with the PrometheusMetricsServlet at "
    "/metrics",
    "/metrics",
    "http_requests_total",
    "status",
    ("500", "200"),
    "http_request_duration_seconds",
    convention=True,
)
_RUBY_RACK = Exporter(
    "prometheus-client",
    ("prometheus-client",),
    "in config.ru: require 'prometheus/middleware/collector'; require 'prometheus/middleware/exporter'; "
    "use Prometheus::Middleware::Collector; use Prometheus::Middleware::Exporter",
    "/metrics",
    "http_server_requests_total",
    "code",
    ("500", "200"),
    "http_server_request_duration_seconds",
    "with several puma workers use the DirectFileStore data store",
)
_PHP_CLIENT = Exporter(
    "promphp/prometheus_client_php",
    ("promphp/prometheus_client_php",),
    "count each request in a counter http_requests_total{status} and time it in a histogram "
    "http_request_duration_seconds with a 0.5 s bucket, stored with the APCu or Redis adapter (PHP-FPM "
    "shares "
    "no memory between requests); render them with RenderTextFormat at /metrics",
    "/metrics",
    "http_requests_total",
    "status",
    ("500", "200"),
    "http_request_duration_seconds",
    convention=True,
)
_DOTNET = Exporter(
    "prometheus-net.AspNetCore",
    ("prometheus-net.AspNetCore",),
    "app.UseHttpMetrics(); app.MapMetrics(); (after app.UseRouting())",
    "/metrics",
    "http_requests_received_total",
    "code",
    ("500", "200"),
    "http_request_duration_seconds",
    "its duration buckets are powers of two (0.256 s, 0.512 s): the p99 panel and alert interpolate near "
    "500 ms",
)
_RUST_CLIENT = Exporter(
    "prometheus",
    ("prometheus",),
    "count each request in an IntCounterVec http_requests_total{status} and time it in a HistogramVec "
    "http_request_duration_seconds (default buckets include 0.5 s); serve TextEncoder output at /metrics",
    "/metrics",
    "http_requests_total",
    "status",
    ("500", "200"),
    "http_request_duration_seconds",
    convention=True,
)

EXPORTERS: dict[str, Exporter] = {
    "fastapi": Exporter(
        "prometheus-fastapi-instrumentator",
        ("prometheus-fastapi-instrumentator",),
        "from prometheus_fastapi_instrumentator import Instrumentator; "
        "Instrumentator().instrument(app).expose(app)",
        "/metrics",
        "http_requests_total",
        "status",
        ("5xx", "2xx"),
        "http_request_duration_seconds",
        "status codes are grouped (2xx, 5xx); the default duration buckets (0.1, 0.5, 1 s) include the "
        "500 ms objective; with several workers set PROMETHEUS_MULTIPROC_DIR to a writable directory",
    ),
    "flask": Exporter(
        "prometheus-flask-exporter",
        ("prometheus-flask-exporter",),
        "from prometheus_flask_exporter import PrometheusMetrics; metrics = PrometheusMetrics(app)",
        "/metrics",
        "flask_http_request_total",
        "status",
        ("500", "200"),
        "flask_http_request_duration_seconds",
        "under gunicorn with several workers use GunicornPrometheusMetrics (multiprocess mode)",
    ),
    "django": Exporter(
        "django-prometheus",
        ("django-prometheus",),
        "add 'django_prometheus' to INSTALLED_APPS, "
        "'django_prometheus.middleware.PrometheusBeforeMiddleware' first and "
        "'django_prometheus.middleware.PrometheusAfterMiddleware' last in MIDDLEWARE, and "
        "path('', include('django_prometheus.urls')) to urlpatterns",
        "/metrics",
        "django_http_responses_total_by_status_total",
        "status",
        ("500", "200"),
        "django_http_requests_latency_seconds_by_view_method",
        "Prometheus scrapes the pod by IP, so its Host header must pass ALLOWED_HOSTS; with several gunicorn "
        "workers use prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR)",
    ),
    "express": Exporter(
        "express-prom-bundle",
        ("express-prom-bundle", "prom-client"),
        "const promBundle = require('express-prom-bundle'); "
        "app.use(promBundle({ includeMethod: true, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] }));",
        "/metrics",
        "http_request_duration_seconds_count",
        "status_code",
        ("500", "200"),
        "http_request_duration_seconds",
        "its default buckets have no 0.5 s boundary; the buckets above add it",
    ),
    "nestjs": Exporter(
        "express-prom-bundle",
        ("express-prom-bundle", "prom-client"),
        "in main.ts: app.use(promBundle({ includeMethod: true, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] "
        "})); "
        "(Nest runs on Express by default)",
        "/metrics",
        "http_request_duration_seconds_count",
        "status_code",
        ("500", "200"),
        "http_request_duration_seconds",
    ),
    "fastify": Exporter(
        "fastify-metrics",
        ("fastify-metrics",),
        "await app.register(require('fastify-metrics'), { endpoint: '/metrics' });",
        "/metrics",
        "http_request_duration_seconds_count",
        "status_code",
        ("500", "200"),
        "http_request_duration_seconds",
    ),
    "spring-boot": Exporter(
        "io.micrometer:micrometer-registry-prometheus",
        ("io.micrometer:micrometer-registry-prometheus",),
        "in application.properties: management.endpoints.web.exposure.include=health,prometheus and "
        "management.metrics.distribution.percentiles-histogram.http.server.requests=true and "
        "management.metrics.distribution.slo.http.server.requests=500ms",
        "/actuator/prometheus",
        "http_server_requests_seconds_count",
        "status",
        ("500", "200"),
        "http_server_requests_seconds",
        "needs spring-boot-starter-actuator; the slo setting adds the exact 500 ms bucket",
    ),
    "rails": Exporter(
        "yabeda-rails",
        ("yabeda-rails", "yabeda-prometheus"),
        "in config/routes.rb: mount Yabeda::Prometheus::Exporter, at: '/metrics'",
        "/metrics",
        "rails_requests_total",
        "status",
        ("500", "200"),
        "rails_request_duration_seconds",
        "with puma in cluster mode configure prometheus-client's DirectFileStore",
    ),
    "axum": Exporter(
        "axum-prometheus",
        ("axum-prometheus",),
        "let (layer, handle) = axum_prometheus::PrometheusMetricLayer::pair(); "
        'app.route("/metrics", get(|| async move { handle.render() })).layer(layer)',
        "/metrics",
        "axum_http_requests_total",
        "status",
        ("500", "200"),
        "axum_http_requests_duration_seconds",
    ),
}

_BY_LANGUAGE: dict[str, Exporter] = {
    "python": _PY_CLIENT,
    "javascript": _NODE_CLIENT,
    "typescript": _NODE_CLIENT,
    "go": _GO_CLIENT,
    "java": _JVM_CLIENT,
    "kotlin": _JVM_CLIENT,
    "scala": _JVM_CLIENT,
    "ruby": _RUBY_RACK,
    "php": _PHP_CLIENT,
    "csharp": _DOTNET,
    "fsharp": _DOTNET,
    "rust": _RUST_CLIENT,
}
_GENERIC = Exporter(
    "a Prometheus client library",
    (),
    "count each request in a counter http_requests_total{status} and time it in a histogram "
    "http_request_duration_seconds with a 0.5 s bucket; serve them at /metrics",
    "/metrics",
    "http_requests_total",
    "status",
    ("500", "200"),
    "http_request_duration_seconds",
    convention=True,
)


def has_request_metrics(workload: Workload) -> bool:
    """Web workloads serve request metrics; a static site (nginx) and a worker do not."""
    return workload.component.kind == "web" and workload.container_port is not None


def exporter_for(component: Component) -> Exporter:
    return EXPORTERS.get(component.framework or "") or _BY_LANGUAGE.get(component.language or "", _GENERIC)


def install_line(component: Component, exporter: Exporter) -> str:
    """The exact command (or manifest line) that adds the exporter's packages."""
    packages = " ".join(exporter.packages)
    if not packages:
        return "add your language's Prometheus client library"
    manager = component.package_manager or ""
    language = component.language or ""
    if language == "python":
        return {
            "uv": f"uv add {packages}",
            "poetry": f"poetry add {packages}",
            "pipenv": f"pipenv install {packages}",
        }.get(manager, "add " + ", ".join(f"`{p}`" for p in exporter.packages) + " to requirements.txt")
    if language in ("javascript", "typescript"):
        verb = {"pnpm": "pnpm add", "yarn": "yarn add", "bun": "bun add"}.get(manager, "npm install")
        return f"{verb} {packages}"
    if language == "go":
        return " && ".join(f"go get {p}@latest" for p in exporter.packages)
    if language in ("java", "kotlin", "scala"):
        if manager == "gradle":
            return "; ".join(f'runtimeOnly("{p}") in build.gradle(.kts)' for p in exporter.packages)
        return (
            " ".join(
                f"<dependency><groupId>{p.split(':')[0]}</groupId><artifactId>{p.split(':')[1]}</artifactId>"
                "</dependency>"
                for p in exporter.packages
            )
            + " in pom.xml"
        )
    if language == "ruby":
        return f"bundle add {packages}"
    if language == "php":
        return f"composer require {packages}"
    if language in ("csharp", "fsharp"):
        return " && ".join(f"dotnet add package {p}" for p in exporter.packages)
    if language == "rust":
        return f"cargo add {packages}"
    return f"add {packages}"


def metrics_notes(workloads: tuple[Workload, ...]) -> list[str]:
    """One note per web workload: the exporter the monitoring kit expects, and how to add it."""
    notes = []
    for workload in workloads:
        if not has_request_metrics(workload):
            continue
        component = workload.component
        exporter = exporter_for(component)
        what = (
            f"{component.framework}'s usual exporter {exporter.library}"
            if component.framework in EXPORTERS
            else f"{exporter.library} (Prometheus naming convention)"
        )
        notes.append(
            f"{component.name}: no metrics endpoint was detected; deploy/monitoring/ scrapes {exporter.path} "
            f"and its SLO alerts read {exporter.requests} and {exporter.duration}_bucket from {what}. "
            f"Add it: {install_line(component, exporter)}; then {exporter.setup}"
            + (f" ({exporter.caveat})" if exporter.caveat else "")
        )
    return notes

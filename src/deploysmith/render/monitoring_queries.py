"""PromQL shared by the monitoring kit, its dashboard, the runbook and the pipeline's
Verify stage, so an alert, a panel and a rollback check read the same series.

The SLI of a web workload is its exporter's request counter (plan.observability), with
`namespace` and `job` as Prometheus Operator sets them for a ServiceMonitor target: the
pod's namespace and the Service's name (= the workload's name). Error ratios are recorded
per window (SRE workbook, chapter 5: multiwindow, multi-burn-rate alerts) as
`namespace_job:slo_errors_per_request:ratio_rate<window>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploysmith.model import EnvironmentPlan, Plan, Workload
from deploysmith.plan.observability import SLO_WINDOW_DAYS, Exporter, Slo, exporter_for, has_request_metrics
from deploysmith.render import kubernetes as k8s

ERROR_RATIO_RECORD = "namespace_job:slo_errors_per_request:ratio_rate{window}"
P99_RECORD = "namespace_job:slo_request_duration_seconds:p99_rate5m"
BAKE_MINUTES = 10  # how long Verify watches production after the rollout
BAKE_FIRST_CHECK_MINUTES = 2  # the first check waits for two scrapes of the new pods
BAKE_MIN_REQUESTS = 100  # fewer requests in the window say nothing about a 0.1 % budget
WINDOW = "WINDOW"  # placeholder in bake query templates: the time since the bake started


@dataclass(frozen=True)
class BurnRate:
    """One multiwindow alert: the error ratio over both windows above factor × budget."""

    long: str
    short: str
    factor: float
    page: bool  # False: a ticket
    for_: str  # as Pyrra sets it for a 30-day objective

    @property
    def alert(self) -> str:
        return f"ErrorBudgetBurn{self.long}"

    @property
    def budget_spent(self) -> float:
        """Share of the whole budget gone when the long window first crosses the threshold."""
        return self.factor * _hours(self.long) / (SLO_WINDOW_DAYS * 24)

    @property
    def days_to_exhaustion(self) -> float:
        return SLO_WINDOW_DAYS / self.factor


BURN_RATES = (
    BurnRate("1h", "5m", 14.4, True, "2m"),
    BurnRate("6h", "30m", 6, True, "15m"),
    BurnRate("1d", "2h", 3, False, "1h"),
    BurnRate("3d", "6h", 1, False, "3h"),
)
BAKE_BURN_RATE = BURN_RATES[0].factor  # the bake fails a release burning at the fast-page rate
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def _hours(window: str) -> float:
    unit = {"m": 1 / 60, "h": 1, "d": 24}[window[-1]]
    return float(window[:-1]) * unit


def number(value: float) -> str:
    """A threshold as PromQL and people read it: 0.0144, not 0.014400000000000001."""
    return f"{round(value, 10):g}"


@dataclass(frozen=True)
class Sli:
    """The request metrics of one web workload in one namespace."""

    workload: Workload
    exporter: Exporter
    namespace: str

    @property
    def job(self) -> str:
        return k8s.name(self.workload)

    def selector(self, errors: bool = False) -> str:
        status = f',{self.exporter.status_label}=~"5.."' if errors else ""
        return f'{{namespace="{self.namespace}",job="{self.job}"{status}}}'

    @property
    def bucket(self) -> str:
        return f"{self.exporter.duration}_bucket"

    def requests_rate(self, window: str, by: str = "namespace, job") -> str:
        return f"sum by ({by}) (rate({self.exporter.requests}{self.selector()}[{window}]))"

    def errors_rate(self, window: str, by: str = "namespace, job") -> str:
        return f"sum by ({by}) (rate({self.exporter.requests}{self.selector(errors=True)}[{window}]))"

    def error_ratio(self, window: str) -> str:
        """5xx per request; 0 (not absent) while no request has failed yet, NaN without traffic."""
        total = self.requests_rate(window)
        return f"(\n  {self.errors_rate(window)}\n  or 0 * {total}\n)\n/\n{total}"

    def p99(self, window: str = "5m") -> str:
        return (
            f"histogram_quantile(0.99, sum by (namespace, job, le) "
            f"(rate({self.bucket}{self.selector()}[{window}])))"
        )

    def recorded_ratio(self, window: str) -> str:
        return ERROR_RATIO_RECORD.format(window=window) + self.selector()

    def recorded_p99(self) -> str:
        return P99_RECORD + self.selector()


def slis(plan: Plan, env: EnvironmentPlan) -> list[Sli]:
    return [
        Sli(workload, exporter_for(workload.component), env.namespace)
        for workload in plan.workloads
        if has_request_metrics(workload)
    ]


def pod_regex(workload: Workload) -> str:
    """A Deployment's pods: <name>-<replicaset hash>-<suffix>. Two dash-separated parts after
    the name, so `api` never matches the pods of `api-worker`."""
    return f"{k8s.name(workload)}-[a-z0-9]+-[a-z0-9]+"


@dataclass(frozen=True)
class BakeCheck:
    """A PromQL query that returns a series exactly when the release must be rolled back."""

    what: str
    query: str  # with WINDOW where the range goes


def bake_checks(plan: Plan, env: EnvironmentPlan, slo: Slo) -> list[BakeCheck]:
    checks: list[BakeCheck] = []
    threshold = number(BAKE_BURN_RATE * slo.error_budget)
    for sli in slis(plan, env):
        volume = f"sum(increase({sli.exporter.requests}{sli.selector()}[{WINDOW}])) >= {BAKE_MIN_REQUESTS}"
        ratio = (
            f"sum(rate({sli.exporter.requests}{sli.selector(errors=True)}[{WINDOW}]))"
            f" / sum(rate({sli.exporter.requests}{sli.selector()}[{WINDOW}]))"
        )
        checks.append(
            BakeCheck(
                f"{sli.job}: more than {number(BAKE_BURN_RATE * slo.error_budget * 100)}% of requests failed "
                f"({number(BAKE_BURN_RATE)}x the {number(slo.error_budget * 100)}% error budget)",
                f"({ratio} > {threshold}) and ({volume})",
            )
        )
        checks.append(
            BakeCheck(
                f"{sli.job}: p99 latency above {slo.latency_ms} ms",
                f"(histogram_quantile(0.99, sum by (le) (rate({sli.bucket}{sli.selector()}[{WINDOW}])))"
                f" > {number(slo.latency_seconds)}) and ({volume})",
            )
        )
    return checks


def bake_volume_queries(plan: Plan, env: EnvironmentPlan) -> list[tuple[str, str]]:
    """(job, query) pairs: how many requests each workload served during the bake."""
    return [
        (sli.job, f"sum(increase({sli.exporter.requests}{sli.selector()}[{WINDOW}]))")
        for sli in slis(plan, env)
    ]

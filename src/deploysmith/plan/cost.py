"""Monthly cost drivers per environment, in units a user can price with their provider's
rates: vCPU-hours and GiB-hours of requested capacity, database instance-hours and
storage GiB-months, backup objects kept. No prices: they differ by provider, region,
discount and month, and a wrong number is worse than a unit.

Capacity is requests × replicas × 730 hours (what a scheduler reserves, so what a node pool
must hold), at the autoscaler's minimum and at its maximum. A release adds the strategy's
surge for its duration: a quarter of the pods for a rolling update, a full second copy for
blue/green, one step for a canary. Pure: Plan in, numbers and words out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from deploysmith.model import Decision, EnvironmentPlan, Plan
from deploysmith.plan.infra import (
    DATABASE_SIZES,
    DUMP_RETENTION_DAYS,
    MONTH_HOURS,
    backup_interval_minutes,
    dumped_services,
    managed_database,
)

WORKING_HOURS = 50  # of 168 in a week: ten hours on five days
WEEK_HOURS = 168
SCALE_TO_ZERO_TARGETS = ("cloud-run", "azure-container-apps", "lambda", "fly")
ROLLING_SURGE = 0.25  # maxSurge of the rendered Deployments
CANARY_STEP = 0.10  # the first canary step's share of the pods
# An assumption to turn release surges into monthly hours: one hour-long release a working day.
RELEASE_HOURS = 22


@dataclass(frozen=True)
class EnvironmentCost:
    name: str
    pods_min: int
    pods_max: int
    vcpu_hours_min: float
    vcpu_hours_max: float
    gib_hours_min: float
    gib_hours_max: float
    surge_vcpu: float  # extra vCPU requested while a release runs
    surge_gib: float
    database: str | None  # instance class
    database_instance_hours: int  # primary plus standby
    database_storage_gib: int
    backup_words: str | None  # what backups keep, in objects or GiB-months


@dataclass(frozen=True)
class Saving:
    change: str
    vcpu_hours: float  # saved per month
    gib_hours: float
    keeps: str  # why the requirements still hold


@dataclass(frozen=True)
class CostEstimate:
    environments: tuple[EnvironmentCost, ...]
    strategy: str
    cheapest: Saving | None
    others: tuple[Saving, ...]


def cpu_cores(quantity: str) -> float:
    """A Kubernetes CPU quantity in cores: "100m" → 0.1, "2" → 2.0."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def memory_gib(quantity: str) -> float:
    """A Kubernetes memory quantity in GiB: "256Mi" → 0.25, "1Gi" → 1.0."""
    units = {"Ki": 1 / 1024**2, "Mi": 1 / 1024, "Gi": 1.0, "Ti": 1024.0}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity) / 1024**3


def _pods(plan: Plan, env: EnvironmentPlan) -> tuple[int, int]:
    """Pods at the autoscaler's bounds: serving workloads scale between the environment's
    bounds, workers keep the minimum (see render.kubernetes.autoscaled)."""
    low = high = 0
    for workload in plan.workloads:
        serving = workload.component.kind in ("web", "static") and workload.container_port is not None
        low += env.min_replicas
        high += env.max_replicas if serving else env.min_replicas
    return low, high


def _surge_pods(strategy: str, pods: int) -> int:
    if strategy == "blue-green":
        return pods
    if strategy in ("canary", "ab-testing"):
        return max(1, math.ceil(pods * CANARY_STEP))
    return max(1, math.ceil(pods * ROLLING_SURGE))


def estimate(plan: Plan) -> CostEstimate:
    strategy = plan.strategy.choice
    engine = managed_database(plan)
    dumped = dumped_services(plan)
    environments = []
    for env in plan.environments:
        cpu, memory = cpu_cores(env.cpu_request), memory_gib(env.memory_request)
        low, high = _pods(plan, env)
        surge = _surge_pods(strategy, low)
        size = DATABASE_SIZES.get(env.name, DATABASE_SIZES["staging"])
        backup_words = None
        if engine:
            backup_words = (f"automated backups and logs for {size.backup_retention_days} days "
                            f"(storage beyond {size.storage_gib} GiB is billed per GiB-month)")
        if dumped and env.name == (plan.environment("prod") or plan.environments[-1]).name:
            per_day = 1440 // backup_interval_minutes(plan.requirements.rpo_minutes)
            kept = per_day * DUMP_RETENTION_DAYS
            backup_words = ((backup_words + "; ") if backup_words else "") + (
                f"{kept} dumps per service kept ({per_day} a day × {DUMP_RETENTION_DAYS} days) × the size of "
                "one dump, in GiB-months of object storage")
        environments.append(EnvironmentCost(
            name=env.name,
            pods_min=low,
            pods_max=high,
            vcpu_hours_min=round(low * cpu * MONTH_HOURS, 1),
            vcpu_hours_max=round(high * cpu * MONTH_HOURS, 1),
            gib_hours_min=round(low * memory * MONTH_HOURS, 1),
            gib_hours_max=round(high * memory * MONTH_HOURS, 1),
            surge_vcpu=round(surge * cpu, 2),
            surge_gib=round(surge * memory, 2),
            database=size.aws_class if engine else None,
            database_instance_hours=(MONTH_HOURS * (2 if size.standby else 1)) if engine else 0,
            database_storage_gib=size.storage_gib if engine else 0,
            backup_words=backup_words,
        ))
    savings = _savings(plan, tuple(environments))
    ranked = sorted(savings, key=lambda saving: (-saving.vcpu_hours, -saving.gib_hours, saving.change))
    return CostEstimate(tuple(environments), strategy, ranked[0] if ranked else None, tuple(ranked[1:]))


def _savings(plan: Plan, environments: tuple[EnvironmentCost, ...]) -> list[Saving]:
    requirements = plan.requirements
    savings: list[Saving] = []
    by_name = {env.name: env for env in environments}
    prod = by_name.get("prod")
    if plan.strategy.choice == "blue-green" and prod is not None and requirements.metrics \
            and not requirements.breaking_migrations:
        canary = _surge_pods("canary", prod.pods_min)
        pods = prod.pods_min - canary
        per_pod_cpu = prod.surge_vcpu / max(prod.pods_min, 1)
        per_pod_gib = prod.surge_gib / max(prod.pods_min, 1)
        savings.append(Saving(
            f"canary instead of blue/green in prod: {canary} extra pod(s) during a release instead of "
            f"{prod.pods_min} (counted for {RELEASE_HOURS} release-hours a month)",
            round(pods * per_pod_cpu * RELEASE_HOURS, 1), round(pods * per_pod_gib * RELEASE_HOURS, 1),
            "Prometheus judges each step and rolls back automatically; no breaking migrations require "
            "both versions to be isolated",
        ))
    dev = by_name.get("dev")
    if dev is not None and dev.vcpu_hours_min > 0:
        idle = (WEEK_HOURS - WORKING_HOURS) / WEEK_HOURS
        if requirements.target in SCALE_TO_ZERO_TARGETS:
            change, share = "scale-to-zero in dev (minimum instances 0)", 1.0
            keeps = "dev has no availability objective; the first request after idle waits for a cold start"
        else:
            change, share = "dev scaled to zero outside working hours (50 of 168 hours a week)", idle
            keeps = "dev has no availability objective; scale it with a schedule (e.g. KEDA's cron scaler)"
        savings.append(Saving(change, round(dev.vcpu_hours_min * share, 1), round(dev.gib_hours_min * share, 1),
                              keeps))
    staging = by_name.get("staging")
    if staging is not None and staging.database and dev is not None and dev.database \
            and staging.database != dev.database:
        small, large = DATABASE_SIZES["dev"], DATABASE_SIZES["staging"]
        savings.append(Saving(
            f"staging database on {small.aws_class} instead of {large.aws_class} outside load tests",
            round((large.vcpu - small.vcpu) * MONTH_HOURS, 1),
            round((large.memory_gib - small.memory_gib) * MONTH_HOURS, 1),
            "staging needs the same engine and schema as prod, not its size; prod keeps its standby",
        ))
    return savings


def _range(low: float, high: float) -> str:
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


def summary(estimate_: CostEstimate) -> str:
    return " · ".join(f"{env.name} {_range(env.vcpu_hours_min, env.vcpu_hours_max)} vCPU-h"
                      for env in estimate_.environments) + " a month"


def cost_decision(plan: Plan) -> Decision:
    result = estimate(plan)
    parts = []
    for env in result.environments:
        text = (f"{env.name}: {_range(env.pods_min, env.pods_max)} pods, "
                f"{_range(env.vcpu_hours_min, env.vcpu_hours_max)} vCPU-hours and "
                f"{_range(env.gib_hours_min, env.gib_hours_max)} GiB-hours a month, "
                f"+{env.surge_vcpu:g} vCPU / {env.surge_gib:g} GiB while a release runs ({result.strategy})")
        if env.database:
            text += (f", database {env.database} × {env.database_instance_hours} instance-hours"
                     f"{' (with standby)' if env.database_instance_hours > MONTH_HOURS else ''}, "
                     f"{env.database_storage_gib} GiB-months of storage")
        parts.append(text)
    reason = "; ".join(parts) + "."
    if result.cheapest is not None:
        reason += (f" Cheapest change that keeps the requirements: {result.cheapest.change}, saving "
                   f"{result.cheapest.vcpu_hours:g} vCPU-hours and {result.cheapest.gib_hours:g} GiB-hours "
                   f"({result.cheapest.keeps}).")
    return Decision(
        "cost", summary(result), reason,
        tuple(f"{saving.change}: saves {saving.vcpu_hours:g} vCPU-hours and {saving.gib_hours:g} GiB-hours "
              f"({saving.keeps})" for saving in result.others),
    )


def with_cost(plan: Plan) -> Plan:
    """The plan with its cost decision appended."""
    return replace(plan, decisions=(*plan.decisions, cost_decision(plan)))


def markdown(plan: Plan) -> str:
    """The Cost section of DEPLOYMENT.md."""
    result = estimate(plan)
    lines = [
        "## Cost drivers",
        "",
        "Monthly, in units to price with your provider's rates (730 hours a month; requests × replicas, "
        "what the nodes must hold).",
        "",
        "| Environment | Pods | vCPU-hours | GiB-hours | During a release | Database | Backups |",
        "|---|---|---|---|---|---|---|",
    ]
    for env in result.environments:
        database = (f"{env.database} × {env.database_instance_hours} h, {env.database_storage_gib} GiB"
                    if env.database else "—")
        lines.append(
            f"| {env.name} | {_range(env.pods_min, env.pods_max)} | {_range(env.vcpu_hours_min, env.vcpu_hours_max)} "
            f"| {_range(env.gib_hours_min, env.gib_hours_max)} | +{env.surge_vcpu:g} vCPU, +{env.surge_gib:g} GiB "
            f"({result.strategy}) | {database} | {env.backup_words or '—'} |"
        )
    lines.append("")
    if result.cheapest is not None:
        lines.append(f"Cheapest change that keeps the requirements: **{result.cheapest.change}**, saving "
                     f"{result.cheapest.vcpu_hours:g} vCPU-hours and {result.cheapest.gib_hours:g} GiB-hours a "
                     f"month — {result.cheapest.keeps}.")
        lines.append("")
        lines.extend(f"- Also: {saving.change} ({saving.vcpu_hours:g} vCPU-hours, {saving.gib_hours:g} GiB-hours; "
                     f"{saving.keeps})." for saving in result.others)
        if result.others:
            lines.append("")
    return "\n".join(lines)

"""Infrastructure facts the IaC, backup and cost stages agree on. Pure.

- Which cloud the infrastructure code describes: fixed by the target for the managed
  runtimes (ECS, Lambda and App Runner run on AWS, Cloud Run on Google Cloud, Container
  Apps on Azure); for Kubernetes read from the registry host (ECR, Artifact Registry, ACR),
  else AWS. Platforms that describe their own infrastructure (Fly, Railway, Render, Heroku,
  Vercel, Netlify) get none: their config file is the infrastructure code.
- Which backing services hold state, and which one a managed database replaces.
- The database size per environment, and the backup cadence the RPO asks for.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploysmith.model import Plan, Requirements

CLOUDS = ("aws", "gcp", "azure")
TARGET_CLOUD = {
    "ecs-fargate": "aws",
    "lambda": "aws",
    "app-runner": "aws",
    "cloud-run": "gcp",
    "azure-container-apps": "azure",
}
# Registry host suffixes that say which cloud a Kubernetes cluster most likely lives in.
_REGISTRY_CLOUD = (
    (".amazonaws.com", "aws"),
    ("-docker.pkg.dev", "gcp"),
    ("gcr.io", "gcp"),
    (".azurecr.io", "azure"),
)
DEFAULT_CLOUD = "aws"

# Backing services whose data must survive a loss, with the tool that dumps them. The order
# is the order they appear in docs and backups.
DUMP_TOOLS = {
    "postgres": "pg_dump",
    "mysql": "mysqldump",
    "mariadb": "mariadb-dump",
    "mongodb": "mongodump",
    "redis": "redis-cli --rdb",
}
# Stateful, but not backed up by this kit: said in DISASTER-RECOVERY.md rather than ignored.
UNCOVERED_STATEFUL = ("elasticsearch", "kafka", "rabbitmq", "sqlserver", "minio", "nats")
# Engines a managed relational database (RDS, Cloud SQL, Azure Database) provides.
MANAGED_ENGINE = {"postgres": "postgres", "mysql": "mysql", "mariadb": "mysql"}

MONTH_HOURS = 730  # the hours in an average month (8760 / 12), the unit clouds bill by


@dataclass(frozen=True)
class DatabaseSize:
    """The managed database of one environment. Sizes are starting points to tune."""

    aws_class: str
    gcp_tier: str
    azure_sku: str
    vcpu: int
    memory_gib: int
    storage_gib: int
    standby: bool  # a synchronous standby in a second zone (Multi-AZ, REGIONAL, zone-redundant HA)
    backup_retention_days: int  # also the point-in-time recovery window


DATABASE_SIZES = {
    "dev": DatabaseSize("db.t4g.micro", "db-custom-1-3840", "B_Standard_B1ms", 2, 1, 20, False, 7),
    "staging": DatabaseSize("db.t4g.small", "db-custom-1-3840", "B_Standard_B2s", 2, 2, 20, False, 7),
    "prod": DatabaseSize("db.m7g.large", "db-custom-2-7680", "GP_Standard_D2ds_v5", 2, 8, 100, True, 35),
}
# Dumps kept by the in-cluster backup CronJob (object-storage lifecycle rules delete older ones).
DUMP_RETENTION_DAYS = 14
# Cron intervals a schedule can express evenly, in minutes.
_INTERVALS = (5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440)


def cloud_for(requirements: Requirements) -> str | None:
    """The cloud the IaC describes, or None for a platform that needs none."""
    if requirements.target in TARGET_CLOUD:
        return TARGET_CLOUD[requirements.target]
    if requirements.target != "kubernetes":
        return None
    host = (requirements.registry or "").split("/", 1)[0]
    for suffix, cloud in _REGISTRY_CLOUD:
        if host.endswith(suffix):
            return cloud
    return DEFAULT_CLOUD


def cloud_reason(requirements: Requirements) -> str:
    cloud = cloud_for(requirements)
    if cloud is None:
        return f"{requirements.target} describes its own infrastructure in its config file"
    if requirements.target in TARGET_CLOUD:
        return f"{requirements.target} runs on {cloud}"
    host = (requirements.registry or "").split("/", 1)[0]
    if any(host.endswith(suffix) for suffix, _ in _REGISTRY_CLOUD):
        return f"the registry {host} is on {cloud}"
    return (
        f"no cloud-specific registry given: {cloud} by default (pass --registry with an Artifact Registry "
        "or ACR host for Google Cloud or Azure)"
    )


def stateful_services(plan: Plan) -> tuple[str, ...]:
    """Backing services with data to back up, in DUMP_TOOLS order, across all components."""
    used = {service for workload in plan.workloads for service in workload.component.services}
    return tuple(service for service in DUMP_TOOLS if service in used)


def uncovered_services(plan: Plan) -> tuple[str, ...]:
    used = {service for workload in plan.workloads for service in workload.component.services}
    return tuple(service for service in UNCOVERED_STATEFUL if service in used)


def managed_database(plan: Plan) -> str | None:
    """The relational engine the IaC provisions as a managed database ("postgres" | "mysql"),
    when infrastructure code is rendered for a cloud and the stack uses one."""
    if plan.requirements.iac == "none" or cloud_for(plan.requirements) is None:
        return None
    for service in stateful_services(plan):
        if service in MANAGED_ENGINE:
            return MANAGED_ENGINE[service]
    return None


def managed_service(plan: Plan) -> str | None:
    """The detected service name the managed database stands for ("mariadb" → mysql engine)."""
    if managed_database(plan) is None:
        return None
    return next(service for service in stateful_services(plan) if service in MANAGED_ENGINE)


def dumped_services(plan: Plan) -> tuple[str, ...]:
    """Services the in-cluster CronJob backs up: every stateful one on Kubernetes that no
    managed database (with its own snapshots and PITR) covers."""
    if plan.requirements.target != "kubernetes":
        return ()
    managed = managed_service(plan)
    return tuple(service for service in stateful_services(plan) if service != managed)


def backup_interval_minutes(rpo_minutes: int) -> int:
    """The longest even cron interval that still meets the RPO (a loss loses at most one
    interval of writes); never below 5 minutes — a tighter RPO needs continuous archiving."""
    fitting = [interval for interval in _INTERVALS if interval <= rpo_minutes]
    return fitting[-1] if fitting else _INTERVALS[0]


def backup_schedule(rpo_minutes: int) -> str:
    """A cron expression running every `backup_interval_minutes(rpo)` minutes."""
    interval = backup_interval_minutes(rpo_minutes)
    if interval < 60:
        return f"*/{interval} * * * *"
    if interval == 60:
        return "7 * * * *"
    if interval < 1440:
        return f"7 */{interval // 60} * * *"
    return "7 3 * * *"


# Clouds whose infrastructure code this version renders, per tool.
RENDERED_CLOUDS = {"terraform": CLOUDS, "pulumi": CLOUDS, "cloudformation": ("aws",)}


def infra_notes(requirements: Requirements) -> list[str]:
    """What the IaC leaves out for these requirements, said plainly."""
    if requirements.iac == "none":
        return []
    cloud = cloud_for(requirements)
    if cloud is None:
        return [f"--iac {requirements.iac}: not rendered for {requirements.target}, whose own config file "
                "describes its infrastructure"]
    if cloud not in RENDERED_CLOUDS[requirements.iac]:
        if requirements.iac == "cloudformation":
            return [f"--iac cloudformation is AWS-only; {cloud_reason(requirements)}: choose terraform or pulumi"]
        return [f"--iac {requirements.iac}: {cloud_reason(requirements)}, and this version renders infrastructure "
                "code for AWS only; nothing is rendered under infra/"]
    notes = []
    if requirements.rpo_minutes < 5:
        notes.append(f"an RPO of {requirements.rpo_minutes} minutes needs continuous archiving: the managed "
                     "database's point-in-time recovery meets it, dumps (every 5 minutes at most) do not")
    return notes

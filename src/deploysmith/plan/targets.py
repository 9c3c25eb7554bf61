"""Per-target facts for the plan: what each runtime target can host, which deployment
strategies it supports natively, what it falls back to (and why), and which managed
services replace the stack's backing services there.

Pure and shared: the target renderers (render/targets/), the CI deploy stages, the docs
and the IaC/backup/cost work read these facts rather than keeping their own copies.

    fits(stack, target)                 raise DeploysmithError when the stack cannot run there
    native_strategy(target, wanted)     (strategy the target renders, reason)
    managed_services(target, services)  {"postgres": "Cloud SQL for PostgreSQL", …}
    target_decisions(stack, req, strat) the Decisions the plan records for a non-Kubernetes target
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from deploysmith.errors import DeploysmithError
from deploysmith.model import Component, Decision, Requirements, Stack

KUBERNETES = "kubernetes"


@dataclass(frozen=True)
class TargetFacts:
    name: str
    label: str  # what people call it
    cloud: str | None  # "aws" | "gcp" | "azure" | None (a platform with its own CLI)
    image: bool  # runs the container image the Package stage pushed (the Dockerfile stays)
    workers: bool  # can run a process that serves no port
    static_only: bool  # static sites and Next.js front ends only
    # Strategy → how the target does it natively; a strategy missing here falls back.
    native: Mapping[str, str]
    fallback: str  # what an unsupported strategy becomes
    rollback: str  # how a release is undone, in words


TARGETS: dict[str, TargetFacts] = {
    "cloud-run": TargetFacts(
        "cloud-run", "Google Cloud Run", "gcp", True, False, False,
        {
            "rolling": "the new revision takes all traffic once its startup probe passes",
            "blue-green": "the new revision is deployed with no traffic under a tag, checked at its tag URL, "
            "then given 100% at once",
            "canary": "the new revision gets 10% of traffic by revision percentage, then 100% after the checks",
        },
        "canary",
        "`gcloud run services update-traffic --to-revisions=<previous>=100` (instant, the old revision "
        "is kept)",
    ),
    "ecs-fargate": TargetFacts(
        "ecs-fargate", "AWS ECS on Fargate", "aws", True, True, False,
        {
            "rolling": "ECS rolling update (minimumHealthyPercent 100, maximumPercent 200) with the deployment "
            "circuit breaker rolling back a release whose tasks fail their health checks",
            "blue-green": "CodeDeploy blue/green: a replacement task set behind the test listener, then all "
            "traffic shifted at once, the original kept for instant rollback",
            "canary": "CodeDeploy canary (CodeDeployDefault.ECSCanary10Percent5Minutes) on the load "
            "balancer's listener",
        },
        "canary",
        "ECS: update the service to the previous task definition revision (the circuit breaker does it "
        "on failed health checks); CodeDeploy: `aws deploy stop-deployment --auto-rollback-enabled`",
    ),
    "lambda": TargetFacts(
        "lambda", "AWS Lambda", "aws", True, False, False,
        {
            "canary": "a weighted alias: 10% to the new version (`update-alias --routing-config`), then 100%",
            "blue-green": "the `live` alias moves from the previous version to the new one at once",
        },
        "blue-green",
        "point the `live` alias back at the previous version (`aws lambda update-alias`)",
    ),
    "app-runner": TargetFacts(
        "app-runner", "AWS App Runner", "aws", True, False, False,
        {"rolling": "App Runner starts the new instances and moves traffic once their health check passes"},
        "rolling",
        "`aws apprunner update-service` with the previous image digest",
    ),
    "azure-container-apps": TargetFacts(
        "azure-container-apps", "Azure Container Apps", "azure", True, True, False,
        {
            "rolling": "the new revision takes all traffic once its probes pass (multiple revision mode keeps "
            "the previous one)",
            "blue-green": "the new revision gets the `green` label with no traffic, is checked at its label "
            "URL, then takes 100%",
            "canary": "traffic weights: 10% to the new revision, then 100% after the checks",
        },
        "canary",
        "`az containerapp ingress traffic set --revision-weight <previous>=100`",
    ),
    "fly": TargetFacts(
        "fly", "Fly.io", None, True, True, False,
        {
            "rolling": "`[deploy] strategy = \"rolling\"`: one Machine at a time, each health-checked",
            "blue-green": "`[deploy] strategy = \"bluegreen\"`: a full set of new Machines, health-checked, "
            "then traffic moves at once",
            "canary": "`[deploy] strategy = \"canary\"`: one new Machine first, then the rest rolling",
        },
        "canary",
        "`flyctl deploy --image <previous image>` (`flyctl releases` lists them)",
    ),
    "railway": TargetFacts(
        "railway", "Railway", None, True, True, False,
        {"rolling": "the new deployment must pass its health check before it takes traffic"},
        "rolling",
        "`railway redeploy` of the previous deployment (or Rollback in the dashboard)",
    ),
    "render": TargetFacts(
        "render", "Render", None, True, True, False,
        {"rolling": "zero-downtime deploy: the new instance takes traffic once its health check passes"},
        "rolling",
        "the deploy hook with the previous image digest (or Rollback in the dashboard)",
    ),
    "heroku": TargetFacts(
        "heroku", "Heroku", None, True, True, False,
        {"rolling": "Preboot starts the new dynos and moves traffic once they are up"},
        "rolling",
        "`heroku rollback` to the previous release",
    ),
    "vercel": TargetFacts(
        "vercel", "Vercel", None, False, False, True,
        {"blue-green": "every deploy is immutable; promotion moves the production domain at once"},
        "blue-green",
        "`vercel rollback` (instant: the previous deployment takes the domain again)",
    ),
    "netlify": TargetFacts(
        "netlify", "Netlify", None, False, False, True,
        {"blue-green": "atomic deploys: a new deploy is published at once and the previous one stays "
         "restorable"},
        "blue-green",
        "`netlify api restoreSiteDeploy` of the previous deploy (Publish deploy in the dashboard)",
    ),
}

# Backing services by the managed product each cloud offers for them (read by the IaC work).
_MANAGED: dict[str, dict[str, str]] = {
    "aws": {
        "postgres": "Amazon RDS for PostgreSQL", "mysql": "Amazon RDS for MySQL",
        "mariadb": "Amazon RDS for MariaDB", "redis": "Amazon ElastiCache (Redis OSS/Valkey)",
        "mongodb": "Amazon DocumentDB", "rabbitmq": "Amazon MQ for RabbitMQ", "kafka": "Amazon MSK",
    },
    "gcp": {
        "postgres": "Cloud SQL for PostgreSQL", "mysql": "Cloud SQL for MySQL",
        "redis": "Memorystore for Redis",
    },
    "azure": {
        "postgres": "Azure Database for PostgreSQL flexible server",
        "mysql": "Azure Database for MySQL flexible server", "redis": "Azure Cache for Redis",
        "mongodb": "Azure Cosmos DB for MongoDB", "kafka": "Azure Event Hubs (Kafka endpoint)",
    },
    "render": {"postgres": "Render Postgres", "redis": "Render Key Value"},
    "heroku": {"postgres": "Heroku Postgres", "redis": "Heroku Key-Value Store"},
    "railway": {"postgres": "Railway PostgreSQL", "redis": "Railway Redis", "mysql": "Railway MySQL",
                "mongodb": "Railway MongoDB"},
    "fly": {"postgres": "Fly Managed Postgres", "redis": "Upstash Redis on Fly"},
}


def facts(target: str) -> TargetFacts | None:
    """The facts of a non-Kubernetes target; None for kubernetes."""
    return TARGETS.get(target)


def managed_services(target: str, services: tuple[str, ...]) -> dict[str, str]:
    """The managed product that provides each backing service on `target` (services with none
    are left out: they need a provider of the user's choosing)."""
    fact = TARGETS.get(target)
    if fact is None:
        return {}
    table = _MANAGED.get(fact.cloud or target, {})
    return {service: table[service] for service in services if service in table}


def stack_services(stack: Stack) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for c in stack.components for s in c.services))


def is_front_end(component: Component) -> bool:
    """A static site or a Next.js app: what Vercel and Netlify build and host."""
    return component.kind == "static" or component.framework == "nextjs"


def fits(stack: Stack, target: str) -> None:
    """Refuse, in one line, a stack the target cannot run."""
    fact = TARGETS.get(target)
    if fact is None:
        return
    components = stack.components
    if fact.static_only:
        other = [c for c in components if not is_front_end(c)]
        if other:
            c = other[0]
            what = c.framework or c.language or c.kind
            raise DeploysmithError(
                f"--target {target}: {fact.label} hosts static sites and Next.js front ends; component "
                f"{c.name!r} is a {c.kind} component ({what}), so choose a container target (cloud-run, ecs-fargate, "
                "fly, render, …) or kubernetes"
            )
        return
    if not fact.workers:
        workers = [c for c in components if c.kind in ("worker", "job")]
        if workers:
            c = workers[0]
            hosts = "ecs-fargate, azure-container-apps, fly, railway, render, heroku or kubernetes"
            why = {
                "lambda": "Lambda runs request handlers of at most 15 minutes, not long-running processes",
                "cloud-run": "Cloud Run services must answer HTTP on a port",
                "app-runner": "App Runner runs web services that answer HTTP on a port",
            }[target]
            raise DeploysmithError(
                f"--target {target}: component {c.name!r} is a {c.kind} that serves no port and "
                f"{why}; choose a target that runs workers ({hosts})"
            )
    if target == "lambda":
        web = [c for c in components if c.kind in ("web", "static")]
        if len(web) > 1:
            raise DeploysmithError(
                f"--target lambda: {len(web)} web components ({', '.join(c.name for c in web)}); this kit puts "
                "one HTTP app behind one function URL, so deploy the others to another target"
            )


def native_strategy(target: str, wanted: str) -> tuple[str, str]:
    """The strategy the target renders for the one the plan chose, with the reason."""
    fact = TARGETS[target]
    if wanted in fact.native:
        return wanted, f"{_label(wanted)} is native on {fact.label}: {fact.native[wanted]}."
    why = _FALLBACK_REASON.get((target, wanted)) or _FALLBACK_REASON.get(("*", wanted), "")
    choice = fact.fallback
    return choice, (
        f"{_label(wanted)} was chosen for the service, but {fact.label} does not do it natively"
        f"{': ' + why if why else ''}; falling back to {_label(choice)}: {fact.native[choice]}."
    )


_FALLBACK_REASON: dict[tuple[str, str], str] = {
    ("*", "ab-testing"): "it splits traffic by percentage only, with no header or cookie routing",
    ("*", "blue-green"): "it has no second set of instances to switch to",
    ("*", "canary"): "it cannot send a share of the traffic to the new version",
    ("lambda", "rolling"): "there are no instances to roll; versions are switched by alias",
    ("vercel", "rolling"): "deployments are immutable and switch the domain at once",
    ("netlify", "rolling"): "deployments are atomic and switch at once",
    ("vercel", "canary"): "gradual traffic shifting (Rolling Releases) is a plan feature configured in "
    "the dashboard, not from this kit",
    ("netlify", "canary"): "split testing splits by Git branch, not by release",
    ("fly", "ab-testing"): "its proxy routes by load and region, not by header",
}


def _label(strategy: str) -> str:
    return {"blue-green": "blue/green", "ab-testing": "A/B testing"}.get(strategy, strategy)


def target_strategy(requirements: Requirements, chosen: str) -> str:
    """What a non-Kubernetes target renders for the plan's strategy decision."""
    return native_strategy(requirements.target, chosen)[0]


def target_decisions(stack: Stack, requirements: Requirements, strategy: Decision) -> tuple[Decision, ...]:
    """The plan's decisions for a non-Kubernetes target (none for kubernetes); refuses a stack
    the target cannot run."""
    fact = TARGETS.get(requirements.target)
    if fact is None:
        return ()
    fits(stack, requirements.target)
    if requirements.gitops:
        raise DeploysmithError(
            f"--target {requirements.target}: GitOps delivery syncs Kubernetes manifests from Git; "
            f"{fact.label} is deployed by the pipeline, so drop --gitops or choose --target kubernetes"
        )
    choice, reason = native_strategy(requirements.target, strategy.choice)
    others = tuple(
        f"{_label(s)}: {how}" for s, how in fact.native.items() if s != choice
    )
    decisions = [
        Decision(
            "target", fact.label,
            f"{fact.label}: {_words(requirements.sources.get('target', 'default'))}. "
            + ("The image the Package stage pushed runs there (the Dockerfile stays)."
               if fact.image else "The platform builds the front end from source; no container image.")
            + _registry_words(requirements),
        ),
        Decision("target strategy", choice, reason + f" Rollback: {fact.rollback}.", others),
    ]
    managed = managed_services(requirements.target, stack_services(stack))
    missing = [s for s in stack_services(stack) if s not in managed]
    if managed or missing:
        reason = "; ".join(f"{service}: {product}" for service, product in managed.items())
        if missing:
            reason += ("; " if reason else "") + (
                f"no managed offer on {fact.label} for {', '.join(missing)}: point the app's variables at a "
                "provider of your choice"
            )
        decisions.append(Decision("managed services", ", ".join(managed.values()) or "none", reason + "."))
    return tuple(decisions)


# Targets that pull only from their cloud's own registry.
_REGISTRY = {
    "cloud-run": ("Artifact Registry", "docker.pkg.dev"),
    "lambda": ("Amazon ECR", ".dkr.ecr."),
    "app-runner": ("Amazon ECR", ".dkr.ecr."),
}


def _registry_words(requirements: Requirements) -> str:
    wanted = _REGISTRY.get(requirements.target)
    if wanted is None or (requirements.registry and wanted[1] in requirements.registry):
        return ""
    return (
        f" It pulls images only from {wanted[0]}: pass --registry with that registry so the Package stage "
        "pushes there."
    )


def _words(source: str) -> str:
    return {
        "flag": "chosen with --target",
        "prompt": "chosen at the prompt",
        "deploysmith.yaml": "set in deploysmith.yaml",
    }.get(source, f"from {source}")

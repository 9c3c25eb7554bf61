"""plan: Stack + Requirements → Plan. Pure; every decision carries its reason."""

from __future__ import annotations

import re

from deploysmith.errors import DeploysmithError
from deploysmith.model import (
    Component,
    Decision,
    EnvironmentPlan,
    Image,
    Plan,
    Probe,
    Requirements,
    Stack,
    Workload,
)
from deploysmith.plan.compliance import compliance_notes
from deploysmith.plan.cost import with_cost
from deploysmith.plan.gates import gate_decisions
from deploysmith.plan.images import RUNTIMES, plan_image, runtime_for
from deploysmith.plan.infra import infra_notes
from deploysmith.plan.observability import metrics_notes, slo_decisions
from deploysmith.plan.pipeline import plan_stages
from deploysmith.plan.strategy import PROGRESSIVE, choose_strategy, strategy_notes
from deploysmith.plan.targets import target_decisions

PLACEHOLDER_DOMAIN = "example.com"

# Env vars the app reads its backing-service addresses from; values live in the app's
# Secret, never in a manifest.
SERVICE_ENV = {
    "postgres": "DATABASE_URL",
    "mysql": "DATABASE_URL",
    "mariadb": "DATABASE_URL",
    "sqlserver": "DATABASE_URL",
    "mongodb": "MONGODB_URI",
    "redis": "REDIS_URL",
    "rabbitmq": "AMQP_URL",
    "kafka": "KAFKA_BOOTSTRAP_SERVERS",
    "elasticsearch": "ELASTICSEARCH_URL",
    "memcached": "MEMCACHED_SERVERS",
    "nats": "NATS_URL",
    "minio": "S3_ENDPOINT",
}
# Frameworks that read their database settings from their own variables rather than a URL.
FRAMEWORK_SERVICE_ENV = {
    ("spring-boot", "postgres"): ("SPRING_DATASOURCE_URL", "SPRING_DATASOURCE_USERNAME", "SPRING_DATASOURCE_PASSWORD"),
    ("spring-boot", "mysql"): ("SPRING_DATASOURCE_URL", "SPRING_DATASOURCE_USERNAME", "SPRING_DATASOURCE_PASSWORD"),
    ("spring-boot", "redis"): ("SPRING_DATA_REDIS_URL",),
    ("spring-boot", "mongodb"): ("SPRING_DATA_MONGODB_URI",),
    ("laravel", "postgres"): ("DB_URL",),
    ("laravel", "mysql"): ("DB_URL",),
}
FRAMEWORK_SECRET_ENV = {
    "django": "SECRET_KEY",
    "rails": "SECRET_KEY_BASE",
    "laravel": "APP_KEY",
}

# Per environment: replicas (HPA bounds) and resources. Production keeps two or more pods
# so a node drain or a rollout never leaves it without a ready replica.
_ENV_SHAPES = {
    "dev": (1, 2),
    "staging": (2, 3),
    "prod": (3, 10),
}
# Requests/limits by runtime family: (cpu request, memory request, cpu limit, memory limit).
_RESOURCES = {
    "jvm": ("250m", "512Mi", "1000m", "1Gi"),
    "compiled": ("50m", "64Mi", "500m", "128Mi"),
    "static": ("25m", "32Mi", "200m", "64Mi"),
    "default": ("100m", "256Mi", "500m", "512Mi"),
}


def build_plan(stack: Stack, requirements: Requirements) -> Plan:
    components = tuple(c for c in stack.components)
    if not components:
        raise DeploysmithError(
            f"{stack.root}: no deployable component found (looked for Python, Node, Go, Java, Rust, "
            "Ruby, PHP, .NET and static sites); run `deploysmith detect` to see what was read"
        )
    _check_packaging(stack, requirements)
    notes: list[str] = list(stack.warnings)
    images, image_of = _plan_images(components, notes)
    workloads = tuple(
        _plan_workload(component, image_of[component.name], _image_secrets(components, component), requirements, notes)
        for component in components
        if component.name in image_of
    )
    if not workloads:
        raise DeploysmithError(
            f"{stack.root}: no component has a runtime deploysmith can containerise; "
            "run `deploysmith detect` to see what was found"
        )
    family = _resource_family(workloads[0].component)
    environments = tuple(_plan_environment(stack, requirements, env, family) for env in requirements.environments)
    decisions = _decisions(stack, requirements, images, workloads, family)
    decisions += slo_decisions()
    decisions += gate_decisions(requirements, plan_stages(requirements))
    decisions += target_decisions(stack, requirements, choose_strategy(stack, requirements))
    if requirements.domain is None:
        notes.append(
            f"no domain given: ingress hosts use the placeholder {PLACEHOLDER_DOMAIN}; "
            "pass --domain or set `domain:` in deploysmith.yaml"
        )
    notes.extend(compliance_notes(requirements))
    notes.extend(_environment_notes(requirements))
    if requirements.target == "kubernetes":  # other targets get no deploy/monitoring/ to scrape with
        notes.extend(metrics_notes(workloads))
    notes.extend(strategy_notes(stack, requirements))
    notes.extend(infra_notes(requirements))
    if any(component.framework == "django" for component in components):
        notes.append(
            "Django answers 400 to a Host it does not allow: ALLOWED_HOSTS must accept the ingress host and "
            "the probes' Host (the pod IP), e.g. by adding the pod IP at start-up or exempting the health path"
        )
    if requirements.gitops and not stack.git_remote:
        notes.append(
            "GitOps needs the repository's URL for the "
            + ("Flux GitRepository" if requirements.gitops_tool == "flux" else "Argo CD Applications")
            + "; no git remote was found, "
            "so deploy/gitops/ holds a placeholder repository URL to replace"
        )
    if stack.ci_platform and stack.ci_platform != requirements.ci:
        notes.append(f"the repository uses {stack.ci_platform} CI; this kit renders {requirements.ci}")
    return with_cost(Plan(
        app_name=_app_name(stack, components),
        stack=stack,
        requirements=requirements,
        stages=plan_stages(requirements),
        strategy=choose_strategy(stack, requirements),
        images=images,
        workloads=workloads,
        environments=environments,
        decisions=decisions,
        notes=tuple(notes),
    ))


def _check_packaging(stack: Stack, requirements: Requirements) -> None:
    """Combinations no renderer can honour are refused before anything is planned."""
    if requirements.target != "kubernetes" or requirements.packaging != "plain":
        return
    if requirements.gitops:
        raise DeploysmithError(
            "--packaging plain has no GitOps layout (nothing for Argo CD or Flux to pin digests in); "
            "use --packaging kustomize or helm with --gitops, or --imperative with plain"
        )
    chosen = choose_strategy(stack, requirements).choice
    if chosen in PROGRESSIVE:
        raise DeploysmithError(
            f"--strategy {requirements.strategy} needs Argo Rollouts or Flagger resources, which --packaging plain "
            "does not render; use --packaging kustomize or helm, or --strategy rolling"
        )


def _environment_notes(requirements: Requirements) -> list[str]:
    """What the pipeline leaves out when an environment is not requested."""
    envs = requirements.environments
    notes = []
    pre_prod = [env for env in envs if env != "prod"]
    if "prod" not in envs:
        notes.append("no prod environment requested: Approval, Deploy Prod and Verify are left out of the pipeline")
    if not pre_prod:
        notes.append(
            "no pre-production environment requested: Deploy Staging and Integration Test are left out, "
            "so production is the first place a build runs"
        )
    elif "staging" not in envs:
        notes.append(f"no staging environment requested: Deploy Staging and Integration Test use {pre_prod[0]}")
    return notes


def _app_name(stack: Stack, components: tuple[Component, ...]) -> str:
    if stack.git_remote:
        candidate = stack.git_remote.rstrip("/").rsplit("/", 1)[-1]
    else:
        candidate = stack.root.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    name = re.sub(r"[^a-z0-9-]+", "-", candidate.lower()).strip("-")[:40].strip("-")
    return name or components[0].name


def _plan_images(
    components: tuple[Component, ...], notes: list[str]
) -> tuple[tuple[Image, ...], dict[str, str]]:
    """One image per component path; the web component names it."""
    by_path: dict[str, list[Component]] = {}
    for component in components:
        by_path.setdefault(component.path, []).append(component)
    images: list[Image] = []
    image_of: dict[str, str] = {}
    for path, group in sorted(by_path.items()):
        group.sort(key=lambda c: (c.kind not in ("web", "static"), c.name))
        image = plan_image(group[0].name, path, tuple(group))
        if image is None:
            notes.append(
                f"{path}: no container runtime for language {group[0].language!r}; "
                "this component is left out of the kit"
            )
            continue
        images.append(image)
        for component in group:
            image_of[component.name] = image.name
    return tuple(images), image_of


def _image_secrets(components: tuple[Component, ...], component: Component) -> tuple[str, ...]:
    """Secret env vars for a component: those of every component built from the same path,
    because they run the same code and settings (a Celery worker loads Django's settings,
    so it needs Django's SECRET_KEY and the web process's database URL)."""
    keys: set[str] = set()
    for other in components:
        if other.path != component.path:
            continue
        for service in other.services:
            framework_keys = FRAMEWORK_SERVICE_ENV.get((other.framework or "", service))
            if framework_keys:
                keys.update(framework_keys)
            elif service in SERVICE_ENV:
                keys.add(SERVICE_ENV[service])
        if other.framework in FRAMEWORK_SECRET_ENV:
            keys.add(FRAMEWORK_SECRET_ENV[other.framework])
    return tuple(sorted(keys))


def _plan_workload(
    component: Component, image: str, secret_env: tuple[str, ...], requirements: Requirements, notes: list[str]
) -> Workload:
    runtime = runtime_for(component)
    assert runtime is not None  # images were only planned for components with a runtime
    port = component.port
    if component.kind == "static":
        port = 8080  # nginx in the generated image listens here, unprivileged
    if component.kind == "worker":
        port = None
    if component.kind in ("web", "static") and port is None:
        notes.append(f"{component.name}: no port found; pass it in the start command or set PORT, then re-run")
    probe = _probe(component, port)
    migrate = None
    if component.kind in ("web", "static"):
        if requirements.migrations == "auto":
            migrate = component.migrate_command
        elif requirements.migrations != "none":
            migrate = requirements.migrations
    return Workload(
        component=component,
        image=image,
        container_port=port,
        probe=probe,
        uid=runtime.uid,
        read_only_root=runtime.read_only_root,
        writable_paths=runtime.writable_paths,
        secret_env=secret_env,
        migrate_command=migrate,
    )


def _probe(component: Component, port: int | None) -> Probe:
    if component.kind == "static":
        return Probe("http", "/", port, "static site: nginx answers on / when it is serving")
    if component.health_path and port:
        return Probe(
            "http", component.health_path, port,
            f"HTTP probe on {component.health_path}, the health endpoint the code declares",
        )
    if port:
        return Probe(
            "tcp", None, port,
            f"TCP probe on port {port}: the code declares no health endpoint (add one, e.g. /healthz, "
            "for probes that see more than an open socket)",
        )
    return Probe(
        "none", None, None,
        "a worker serves no port: Kubernetes restarts it if the process exits; add a liveness "
        "command if it can hang",
    )


def _resource_family(component: Component) -> str:
    if component.kind == "static":
        return "static"
    if component.language in ("java", "kotlin", "scala"):
        return "jvm"
    if component.language in ("go", "rust"):
        return "compiled"
    return "default"


def _plan_environment(stack: Stack, requirements: Requirements, env: str, family: str) -> EnvironmentPlan:
    low, high = _ENV_SHAPES[env]
    cpu_request, memory_request, cpu_limit, memory_limit = _RESOURCES[family]
    domain = requirements.domain or PLACEHOLDER_DOMAIN
    app = _app_name(stack, stack.components)
    host = f"{app}.{domain}" if env == "prod" else f"{app}.{env}.{domain}"
    return EnvironmentPlan(
        name=env,
        namespace=f"{app}-{env}",
        host=host,
        min_replicas=low,
        max_replicas=high,
        cpu_request=cpu_request,
        memory_request=memory_request,
        cpu_limit=cpu_limit,
        memory_limit=memory_limit,
        auto_deploy=env != "prod",  # no approval gate; whether CI deploys it is the pipeline's call
    )


def _decisions(
    stack: Stack,
    requirements: Requirements,
    images: tuple[Image, ...],
    workloads: tuple[Workload, ...],
    family: str,
) -> tuple[Decision, ...]:
    decisions: list[Decision] = []
    source = requirements.sources
    decisions.append(Decision(
        "ci", requirements.ci,
        f"{requirements.ci}: {_source_words(source.get('ci', 'default'))}.",
    ))
    decisions.append(_registry_decision(stack, requirements))
    for image in images:
        decisions.append(Decision(
            f"image {image.name}", f"{image.build_base or '-'} → {image.runtime_base}",
            " ".join(image.reasons) + f" Runs as uid {image.uid}"
            + (", read-only root filesystem." if image.read_only_root else "."),
        ))
    for workload in workloads:
        decisions.append(Decision(f"probe {workload.component.name}", workload.probe.kind, workload.probe.reason))
        if workload.migrate_command:
            decisions.append(Decision(
                f"migrations {workload.component.name}", workload.migrate_command,
                "run as a Kubernetes Job from the new image before the rollout; the rollout waits for it",
            ))
    if requirements.migrations == "none":
        decisions.append(Decision("migrations", "none", "migrations disabled by the requirements"))
    decisions.append(Decision(
        "delivery", "gitops" if requirements.gitops else "imperative",
        "CI commits the new image digest to the environment's "
        + ("values file" if requirements.packaging == "helm" else "overlay")
        + " and the cluster's GitOps controller applies it; "
        "CI has no write access to the cluster (it reads rollout status with a short-lived token)"
        if requirements.gitops else
        {
            "helm": "CI runs `helm upgrade --install --atomic` with short-lived cluster credentials and waits "
                    "for the rollout",
            "plain": "CI pins the digests into the manifests and applies them with short-lived cluster "
                     "credentials, then waits for the rollout",
        }.get(
            requirements.packaging,
            "CI applies the Kustomize overlay with short-lived cluster credentials and waits for the rollout",
        ),
    ))
    decisions.append(Decision(
        "resources", family,
        {
            "jvm": "JVM heap and metaspace need more memory than an interpreter at start",
            "compiled": "a native binary needs little memory",
            "static": "nginx serving files needs very little",
            "default": "an interpreted web process with a few workers",
        }[family] + "; tune from observed usage",
    ))
    decisions.append(Decision(
        "packaging", requirements.packaging,
        {
            "kustomize": "Kustomize: a base plus one overlay per environment, built into kubectl; "
                         "no templating to debug",
            "helm": "Helm: one chart with a values file per environment and a values schema; releases are "
                    "versioned, `helm rollback` restores image and configuration together, migrations run "
                    "as a pre-upgrade hook",
            "plain": "plain manifests: every object written out per environment for `kubectl apply -f`, "
                     "no tool beyond kubectl; CI pins the digest into the files before applying",
        }.get(requirements.packaging, requirements.packaging),
    ))
    return tuple(decisions)


# Where a platform keeps the registry credentials when the registry is not its own.
_REGISTRY_STORES = {
    "azure": "the `container-registry` Docker registry service connection",
    "jenkins": "the `container-registry` credential",
    "circleci": "the registry context",
}


def _registry_decision(stack: Stack, requirements: Requirements) -> Decision:
    """Where images are pushed, and with which credentials, on the chosen CI platform."""
    if requirements.registry:
        return Decision("registry", requirements.registry, "the registry given")
    remote = stack.git_remote or ""
    github = remote.startswith("github.com/")
    ghcr = f"ghcr.io/{remote.split('/', 1)[1].lower()}" if github else "ghcr.io/<owner>/<repo>"
    if requirements.ci == "gitlab":
        return Decision(
            "registry", "$CI_REGISTRY_IMAGE",
            "GitLab container registry of the project: the pipeline pushes with the job's own short-lived "
            "CI_JOB_TOKEN, no stored credentials",
        )
    store = _REGISTRY_STORES.get(requirements.ci)
    if store is None:
        return Decision(
            "registry", ghcr,
            "GitHub Container Registry of the repository: CI pushes with its own short-lived token, no stored "
            "credentials",
        )
    if not github:
        return Decision(
            "registry", "$IMAGE_PREFIX",
            f"no registry given and no GitHub remote: set IMAGE_PREFIX beside {store}, or pass --registry",
        )
    return Decision(
        "registry", ghcr,
        f"GitHub Container Registry of the repository; {requirements.ci} pushes with a token kept in {store} "
        "(pass --registry for another registry, e.g. ACR or ECR)",
    )


def _source_words(source: str) -> str:
    return {
        "flag": "chosen on the command line",
        "deploysmith.yaml": "set in deploysmith.yaml",
        "prompt": "answered at the prompt",
        "detected": "detected from the repository's existing CI files or git remote",
        "default": "the default",
    }.get(source, source)


__all__ = ["build_plan", "RUNTIMES"]

"""The values that flow between stages: Stack → Requirements → Plan → RenderedFile → Finding.

Every record is frozen; stages are pure functions over them (see DESIGN.md §1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
ComponentKind = Literal["web", "worker", "static", "job"]
SEVERITY_RANK: Mapping[str, int] = {"info": 0, "warning": 1, "error": 2}


@dataclass(frozen=True)
class Evidence:
    """Where a fact came from: a repo-relative file, a 1-based line, the line's text.

    `default` marks a value taken from a framework convention rather than read from the
    repository (e.g. uvicorn's port 8000), so a reviewer knows it is an assumption.
    """

    file: str
    line: int | None
    text: str
    default: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.file, "line": self.line, "text": self.text}
        if self.default:
            data["default"] = True
        return data


EvidenceMap = Mapping[str, tuple[Evidence, ...]]


@dataclass(frozen=True)
class Component:
    """One deployable process of the application.

    Components that share a `path` share one container image (a Django web process and
    its Celery worker, or several Go `cmd/*` binaries built from one module).
    """

    name: str
    path: str  # posix, relative to the repository root; "." for the root
    kind: ComponentKind
    language: str | None
    language_version: str | None = None
    framework: str | None = None
    package_manager: str | None = None
    start_command: str | None = None
    port: int | None = None
    test_command: str | None = None
    lint_command: str | None = None
    build_command: str | None = None
    build_output: str | None = None
    # What the build compiles when one path holds several binaries: a Go package
    # ("./cmd/api"), a .NET project file, a Maven/Gradle module.
    build_target: str | None = None
    services: tuple[str, ...] = ()
    health_path: str | None = None
    migration_tool: str | None = None
    migrate_command: str | None = None
    # Dependency manifests and lock files present, relative to `path`, in the order a
    # Dockerfile copies them before the source (cache-friendly layers) and CI hashes them.
    dependency_files: tuple[str, ...] = ()
    evidence: EvidenceMap = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "kind": self.kind,
            "language": self.language,
            "language_version": self.language_version,
            "framework": self.framework,
            "package_manager": self.package_manager,
            "start_command": self.start_command,
            "port": self.port,
            "test_command": self.test_command,
            "lint_command": self.lint_command,
            "build_command": self.build_command,
            "build_output": self.build_output,
            "build_target": self.build_target,
            "services": list(self.services),
            "health_path": self.health_path,
            "migration_tool": self.migration_tool,
            "migrate_command": self.migrate_command,
            "dependency_files": list(self.dependency_files),
            "evidence": {
                key: [item.to_json() for item in items]
                for key, items in sorted(self.evidence.items())
            },
        }


@dataclass(frozen=True)
class Stack:
    """What `detect` found in a repository."""

    root: str
    components: tuple[Component, ...]
    existing: tuple[str, ...] = ()  # deployment files already present (Dockerfile, CI, …)
    ci_platform: str | None = None  # proposed from existing CI files or the git remote
    git_remote: str | None = None  # e.g. "github.com/acme/shop", read from .git/config
    warnings: tuple[str, ...] = ()  # what could not be read, said plainly
    evidence: EvidenceMap = field(default_factory=dict)  # for ci_platform, git_remote

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "components": [c.to_json() for c in self.components],
            "existing": list(self.existing),
            "ci_platform": self.ci_platform,
            "git_remote": self.git_remote,
            "warnings": list(self.warnings),
            "evidence": {
                key: [item.to_json() for item in items]
                for key, items in sorted(self.evidence.items())
            },
        }


Environment = Literal["dev", "staging", "prod"]
ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Requirements:
    """What the deployment must satisfy. `sources` says where each value came from:
    "flag", "deploysmith.yaml", "prompt", "detected" or "default".

    The choices of each setting are listed once, in plan/requirements.py SETTINGS."""

    environments: tuple[str, ...] = ENVIRONMENTS
    ci: str = "github"
    registry: str | None = None  # None: the CI platform's own registry, decided in CI
    image: str | None = None  # image name prefix under the registry; None: the repo name
    domain: str | None = None
    zero_downtime: bool = True
    migrations: str = "auto"  # "auto" | "none" | a command
    compliance: str = "none"  # "none" | "sox" | "pci-dss" | "hipaa"
    # Delivery: True means CI commits image digests and a GitOps controller syncs them.
    gitops: bool = False
    gitops_tool: str = "argocd"  # "argocd" | "flux"; only read when gitops is True
    gitops_repo: str = "same"  # "same": deploy/ in this repository; "separate": an environment repo
    secrets: str = "none"  # "external-secrets" | "sealed-secrets" | "sops" | "none" (created by hand)
    # Strategy and the inputs of the decision that detection cannot know.
    strategy: str = "auto"  # "auto" | "rolling" | "blue-green" | "canary" | "ab-testing"
    criticality: str = "standard"  # "low" | "standard" | "critical"
    traffic: str = "moderate"  # "low" | "moderate" | "high"
    metrics: bool = True  # a Prometheus the kit's monitoring and rollout analyses can query
    double_capacity: bool = False  # budget for 2x resources while a release runs
    breaking_migrations: bool = False  # schema changes the running version cannot work with
    validation: str = "none"  # "none" | "real-users" (gradual exposure) | "experiments" (A/B)
    progressive_delivery: str = "argo-rollouts"  # "argo-rollouts" | "flagger"
    traffic_router: str = "nginx"  # "nginx" | "istio" | "gateway-api"
    # Security gates.
    fail_on: str = "high"  # lowest vulnerability severity that blocks: "critical" | "high" | "medium"
    admission: str = "none"  # "kyverno" | "gatekeeper" | "sigstore" | "none"
    # Where and how it runs.
    target: str = "kubernetes"
    packaging: str = "kustomize"  # "kustomize" | "helm" | "plain"
    container: str = "dockerfile"  # generate a Dockerfile per image
    iac: str = "none"  # "terraform" | "pulumi" | "cloudformation" | "none"
    # Telling people.
    notify: str = "none"  # "slack" | "teams" | "email" | "none"
    apm: str = "none"  # deployment markers: "grafana" | "datadog" | "newrelic" | "none"
    # Recovery objectives of the production data, in minutes.
    rpo_minutes: int = 60
    rto_minutes: int = 240
    sources: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "sources":
                value = dict(sorted(value.items()))
            elif isinstance(value, tuple):
                value = list(value)
            data[name] = value
        # sources last, as before, so diffs of JSON plans stay readable
        data["sources"] = data.pop("sources")
        return data


@dataclass(frozen=True)
class Decision:
    """A choice in the plan, with the reason a reviewer can check and the alternatives
    that were rejected (each with its own reason)."""

    topic: str
    choice: str
    reason: str
    rejected: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "choice": self.choice,
            "reason": self.reason,
            "rejected": list(self.rejected),
        }


FailurePolicy = Literal["block", "block-on-severity", "approval", "rollback"]


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline and what happens when it fails."""

    id: str  # build, test, security-scan, package, deploy-staging, integration-test,
    #          approval, deploy-prod, verify
    name: str
    needs: tuple[str, ...]
    failure_policy: FailurePolicy
    policy: str  # the policy in words
    main_only: bool  # False: also runs on pull requests

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "needs": list(self.needs),
            "failure_policy": self.failure_policy,
            "policy": self.policy,
            "main_only": self.main_only,
        }


@dataclass(frozen=True)
class Probe:
    kind: Literal["http", "tcp", "none"]
    path: str | None
    port: int | None
    reason: str


@dataclass(frozen=True)
class Image:
    """One container image, built from one component path."""

    name: str  # logical name ("api"); CI prefixes the registry
    context: str  # build context, relative to the repository root
    dockerfile: str  # path of the Dockerfile, relative to the repository root
    language: str | None
    build_base: str | None  # e.g. "python:3.13-slim-trixie"
    runtime_base: str  # e.g. "python:3.13-slim-trixie" or a distroless image
    uid: int  # numeric non-root user of the runtime stage
    read_only_root: bool
    reasons: tuple[str, ...]  # why these bases and settings
    components: tuple[str, ...]  # names of the components that run from this image


@dataclass(frozen=True)
class Workload:
    """How one component runs in the target."""

    component: Component
    image: str  # Image.name
    container_port: int | None
    probe: Probe
    uid: int
    read_only_root: bool
    writable_paths: tuple[str, ...]  # emptyDir mounts the app needs with a read-only root
    secret_env: tuple[str, ...]  # env vars expected from the app's Secret (DATABASE_URL, …)
    migrate_command: str | None  # run as a Job before the rollout; None: no migrations


@dataclass(frozen=True)
class EnvironmentPlan:
    name: str
    namespace: str
    host: str | None
    min_replicas: int
    max_replicas: int
    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str
    auto_deploy: bool  # False: behind the approval gate


@dataclass(frozen=True)
class Plan:
    app_name: str
    stack: Stack
    requirements: Requirements
    stages: tuple[Stage, ...]
    strategy: Decision
    images: tuple[Image, ...]
    workloads: tuple[Workload, ...]
    environments: tuple[EnvironmentPlan, ...]
    decisions: tuple[Decision, ...]
    notes: tuple[str, ...]  # unknowns and warnings, said plainly

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)

    def preprod(self) -> EnvironmentPlan | None:
        """The environment the Deploy Staging stage targets: staging, else the first
        non-production one; None when only prod is requested."""
        return self.environment("staging") or next(
            (env for env in self.environments if env.name != "prod"), None
        )

    def environment(self, name: str) -> EnvironmentPlan | None:
        for env in self.environments:
            if env.name == name:
                return env
        return None


@dataclass(frozen=True)
class RenderedFile:
    path: str  # posix, relative to the repository root
    content: str
    executable: bool = False


@dataclass(frozen=True)
class Finding:
    rule: str  # e.g. "DS-K8S-003"
    severity: Severity
    path: str
    line: int | None
    message: str
    column: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "message": self.message,
        }
        if self.column is not None:
            data["column"] = self.column
        return data

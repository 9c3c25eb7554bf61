"""An estimate of how long a pipeline takes, cold (no cache) and warm (caches restored), from
its jobs, their order, what each step runs, whether the job restores a cache, and the stack.

Each script line and each action is priced by the first rows of COSTS that match it (a line
can pay for several kinds of work: `mvn verify` downloads, compiles and tests). A job costs
its start-up plus its steps; the pipeline costs its critical path through `needs`. Steps
that run only after a failure cost nothing, and so does waiting for a person (approvals
are reported, not estimated). The figures are seconds on a hosted 2-4 CPU runner, rounded
from public CI timings; they are meant to rank pipelines and show where time goes, not to
predict a run to the second. docs/rules/DS-PIPE-006.md prints the table.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from deploysmith.audit.ci.keywords import Keywords
from deploysmith.audit.ci.model import Job, Pipeline
from deploysmith.audit.ci.stages import COMMANDS, Coverage, step_units


@dataclass(frozen=True)
class Cost:
    kind: str
    pattern: Keywords
    cold: int  # seconds without caches
    warm: int  # seconds when the job restores its cache (= cold when caching does not help)
    self_cached: bool = False  # the tool keeps its own cache (scanners' vulnerability databases)


# The stack a command belongs to, for the rows whose cost depends on it.
STACKS: dict[str, Keywords] = {
    "python": Keywords(r"pytest|pip3? install|poetry|uv (?:sync|run)|pipenv|tox|manage\.py"),
    "node": Keywords(r"npm|pnpm|yarn|bun|npx|jest|vitest|next build"),
    "go": Keywords(r"go (?:build|test|mod|vet)"),
    "jvm": Keywords(r"mvnw?|gradlew?", exact=r"Maven@\d|Gradle@\d"),
    "rust": Keywords(r"cargo"),
    "ruby": Keywords(r"bundle|rspec|rails|rake"),
    "php": Keywords(r"composer|phpunit|artisan"),
    "dotnet": Keywords(r"dotnet", anywhere=r"dotnetcorecli@"),
}
# Files that tell the stack when commands do not (`make test`).
STACK_FILES: dict[str, str] = {
    "pyproject.toml": "python",
    "requirements.txt": "python",
    "setup.py": "python",
    "Pipfile": "python",
    "package.json": "node",
    "go.mod": "go",
    "pom.xml": "jvm",
    "build.gradle": "jvm",
    "build.gradle.kts": "jvm",
    "Cargo.toml": "rust",
    "Gemfile": "ruby",
    "composer.json": "php",
}

# Downloading dependencies (what a cache saves), per stack: (cold, warm).
DEPENDENCIES: dict[str, tuple[int, int]] = {
    "python": (60, 15),
    "node": (90, 20),
    "go": (60, 5),
    "jvm": (180, 30),
    "rust": (300, 60),
    "ruby": (120, 15),
    "php": (60, 10),
    "dotnet": (60, 10),
    "": (60, 15),
}
# Unit tests, per stack (a cache does not make tests faster).
TESTS: dict[str, int] = {
    "python": 120,
    "node": 90,
    "go": 60,
    "jvm": 240,
    "rust": 180,
    "ruby": 150,
    "php": 120,
    "dotnet": 150,
    "": 120,
}
# Compiling, per stack: (cold, warm with a build cache).
COMPILE: dict[str, tuple[int, int]] = {
    "python": (10, 10),
    "node": (120, 60),
    "go": (60, 20),
    "jvm": (120, 60),
    "rust": (0, 0),
    "ruby": (10, 10),
    "php": (10, 10),
    "dotnet": (60, 30),
    "": (90, 45),
}

INSTALL = Keywords(
    r"(?:npm|pnpm) (?:ci|install)|yarn install|bun install|pip3? install|poetry install|uv sync|"
    r"pipenv (?:install|sync)|mvnw?|gradlew?|go mod download|go (?:build|test)|bundle install|"
    r"composer install|cargo (?:build|test|fetch)|dotnet (?:restore|build|test)",
    starts=r"yarn(?: install)?\s*$",
    anywhere=r"/install-packages|dotnetcorecli@",
    exact=r"Maven@\d|Gradle@\d",
)
COMPILE_COMMAND = Keywords(
    r"(?:npm|pnpm|yarn|bun) (?:run )?build|next build|vite build|webpack|tsc|go build|"
    r"mvnw?\b.*\b(?:compile|package|verify|install)|gradlew?\b.*\b(?:build|assemble)|dotnet (?:build|publish)|"
    r"python -m build",
    anywhere=r"dotnetcorecli@\d.*build",
)
LINT = Keywords(r"ruff|flake8|eslint|golangci-lint|mypy|rubocop|prettier|black|(?:npm|pnpm|yarn) (?:run )?lint")

# Actions that install, build or test (an orb's install-packages or test job, Azure build tasks);
# other actions are priced by COSTS. Matched at the start: the unit's text begins with the ref.
INSTALLER_ACTION = Keywords(
    anywhere=r"^[\w.-]+/(?:install-packages|test)\b",
    exact=r"^(?:Maven@\d|Gradle@\d|Npm@\d|npm@\d|DotNetCoreCLI@\d)",
)
_SKIP_TASK = re.compile(r"(?:-x|--exclude-task)\s+\S+|-DskipTests\S*|-Dmaven\.test\.skip\S*")

COSTS: tuple[Cost, ...] = (
    Cost("checkout", Keywords(r"git clone", anywhere=r"actions/checkout@|^checkout\b|^checkout self"), 10, 5),
    Cost(
        "toolchain setup",
        Keywords(
            r"docker login",
            anywhere=r"actions/setup-|setup-ruby|rust-toolchain|setup-gcloud|setup-kubectl|setup-helm|"
            r"setup-buildx|setup-qemu|usenode@|usepythonversion@|nodetool@|javatoolinstaller@|gotool@|"
            r"setup_remote_docker|login-action|configure-aws-credentials|google-github-actions/auth|azure/login",
        ),
        15,
        5,
    ),
    Cost(
        "container image build and push",
        Keywords(
            r"docker (?:buildx )?build|buildah (?:bud|build)|podman build|docker\.build|pack build|jib|"
            r"ko (?:build|publish)",
            anywhere=r"build-push-action|/kaniko/executor|docker@\d.*build|build[-_]and[-_]push|docker/publish",
        ),
        240,
        60,
    ),
    Cost("static analysis (CodeQL)", Keywords(r"codeql database", anywhere=r"codeql-action/analyze"), 360, 360),
    Cost(
        "SAST scan",
        Keywords(
            r"semgrep|checkmarx|sast",
            starts=r"sonar",
            anywhere=r"advancedsecurity-codeql|microsoftsecuritydevops@|jobs/sast|security/sast",
        ),
        120,
        120,
    ),
    Cost(
        "dependency or image scan",
        Keywords(
            r"trivy|grype|snyk|npm audit|pip-audit|osv-scanner|govulncheck|cargo audit|docker scout",
            anywhere=r"aquasecurity/|anchore/|dependency-check|dependency-review-action|"
            r"dependency[-_]scanning|container[-_]scanning",
        ),
        60,
        30,
        self_cached=True,
    ),
    Cost(
        "secret or config scan",
        Keywords(
            r"gitleaks|trufflehog|bandit|gosec|checkov|tfsec|hadolint|kube-linter|zizmor",
            anywhere=r"secret[-_]detection",
        ),
        30,
        30,
    ),
    Cost("integration or end-to-end tests", COMMANDS["Integration Test"], 240, 240),
    Cost("database migration", Keywords(r"migrat(?:e|ion|ions)"), 60, 60),
    Cost(
        "wait for a rollout",
        Keywords(
            r"rollout status|kubectl\b.*\bwait|argocd app wait|aws ecs wait|kubectl argo rollouts status",
            starts=r"helm (?:upgrade|install)\b.*--(?:wait|atomic)",
        ),
        120,
        120,
    ),
    Cost("deploy", COMMANDS["Deploy"], 30, 30),
    Cost("smoke or health check", Keywords(r"curl|wget|smoke", starts=r"health"), 20, 20),
)
# Rows a job pays once however many lines match: rollouts of one apply finish together, one
# migration runs, one set of health checks.
ONCE_PER_JOB = frozenset(
    {"deploy", "wait for a rollout", "database migration", "smoke or health check", "checkout"}
)
JOB_START = (20, 15)  # runner allocation, job set-up
CONTAINER_PULL = (30, 10)  # the job's own container image, per service container too
OTHER_ACTION = 10
OTHER_LINE = 1
BUDGET_MINUTES = 10.0


@dataclass(frozen=True)
class Duration:
    cold: float  # seconds, critical path of the whole pipeline (to production when it deploys)
    warm: float
    commit_cold: float  # seconds, critical path of the commit stage (everything before a deploy)
    commit_warm: float
    commit_path: tuple[str, ...]  # the jobs of the warm commit-stage critical path
    path: tuple[str, ...]  # the jobs of the warm critical path of the whole pipeline
    stack: str
    uncached: tuple[str, ...]  # jobs that download dependencies without a cache

    def to_json(self) -> dict[str, object]:
        return {
            "cold_minutes": round(self.cold / 60, 1),
            "warm_minutes": round(self.warm / 60, 1),
            "commit_stage_cold_minutes": round(self.commit_cold / 60, 1),
            "commit_stage_warm_minutes": round(self.commit_warm / 60, 1),
            "commit_stage_critical_path": list(self.commit_path),
            "critical_path": list(self.path),
            "stack": self.stack or None,
            "uncached_jobs": list(self.uncached),
        }


def repository_stack(paths: Collection[str], root: str = "") -> str:
    """The stack its build files name at `root` (STACK_FILES order decides when several do)."""
    prefix = f"{root}/" if root else ""
    return next((stack for name, stack in STACK_FILES.items() if prefix + name in paths), "")


@functools.lru_cache(maxsize=65536)
def _stack_of(text: str, default: str) -> str:
    return next((stack for stack, pattern in STACKS.items() if pattern.search(text)), default)


def job_seconds(job: Job, cached: bool, default_stack: str) -> tuple[float, float]:
    """(cold, warm) seconds of one job."""
    if job.manual and all(step.kind == "approval" for step in job.steps) or job.agentless:
        return 0.0, 0.0
    cold, warm = float(JOB_START[0]), float(JOB_START[1])
    cold += CONTAINER_PULL[0] * len(job.images)
    warm += CONTAINER_PULL[1] * len(job.images)
    charged: set[str] = set()
    for step, _, text in step_units(job):
        if step.condition == "failure" or step.kind == "approval":
            continue
        line_cold, line_warm, kind = _unit_seconds(
            text, cached, _stack_of(text, default_stack), step.kind == "script"
        )
        if kind in ONCE_PER_JOB:
            if kind in charged:
                continue
            charged.add(kind)
        cold += line_cold
        warm += line_warm
    return cold, warm


@functools.lru_cache(maxsize=65536)
def _unit_seconds(text: str, cached: bool, stack: str, script: bool) -> tuple[float, float, str]:
    """Seconds of one script line or action, and the COSTS row that priced it ("" for others)."""
    cold = warm = 0.0
    kind = ""
    matched = False
    # Other actions are priced by COSTS only (setup-gradle sets up, it does not build).
    runs = script or INSTALLER_ACTION.search(text)
    if runs and INSTALL.search(text):
        dep_cold, dep_warm = DEPENDENCIES.get(stack, DEPENDENCIES[""])
        cold += dep_cold
        warm += dep_warm if cached else dep_cold
        matched = True
    if runs and COMPILE_COMMAND.search(text):
        compile_cold, compile_warm = COMPILE.get(stack, COMPILE[""])
        cold += compile_cold
        warm += compile_warm if cached else compile_cold
        matched = True
    elif runs and LINT.search(text):
        cold += 30
        warm += 30
        matched = True
    testing = _SKIP_TASK.sub("", text)
    # `runs`: a step that runs the tests, not one that publishes their results.
    if runs and COMMANDS["Test"].search(testing) and not COMMANDS["Integration Test"].search(testing):
        cold += TESTS.get(stack, TESTS[""])
        warm += TESTS.get(stack, TESTS[""])
        matched = True
    if not matched:
        for cost in COSTS:
            if cost.pattern.search(text):
                cold += cost.cold
                warm += cost.warm if cached or cost.self_cached else cost.cold
                matched = True
                kind = cost.kind
                break
    if not matched:
        extra = OTHER_LINE if script else OTHER_ACTION
        cold += extra
        warm += extra
    return cold, warm, kind


def _layer_cached(job: Job) -> bool:
    return job.cache or any("--cache-from" in step.text or "cache-from" in step.text for step in job.steps)


def estimate(coverage: Coverage, repo_stack: str = "") -> Duration:
    pipeline = coverage.pipeline
    jobs = [job for job in pipeline.jobs if job.condition != "failure"]
    stacks = (_stack_of(step.text, "") for job in jobs for step in job.steps)
    stack = next((s for s in stacks if s), repo_stack)
    seconds: dict[str, tuple[float, float]] = {}
    uncached: list[str] = []
    for job in jobs:
        cached = pipeline.cache or _layer_cached(job) or (pipeline.platform == "jenkins" and not job.images)
        seconds[job.id] = job_seconds(job, cached, stack)
        if not cached and any(INSTALL.search(text) for _, _, text in step_units(job)):
            uncached.append(job.id)
    delivery = {role.job.id for role in coverage.roles if role.stages & {"Deploy", "Approval"}}
    commit_jobs = [job for job in jobs if job.id not in delivery and not (pipeline.ancestors(job) & delivery)]
    cold, _ = _critical(pipeline, jobs, {k: v[0] for k, v in seconds.items()})
    warm, path = _critical(pipeline, jobs, {k: v[1] for k, v in seconds.items()})
    commit_cold, _ = _critical(pipeline, commit_jobs, {k: v[0] for k, v in seconds.items()})
    commit_warm, commit_path = _critical(pipeline, commit_jobs, {k: v[1] for k, v in seconds.items()})
    return Duration(
        cold, warm, commit_cold, commit_warm, tuple(commit_path), tuple(path), stack, tuple(uncached)
    )


def _critical(pipeline: Pipeline, jobs: list[Job], cost: Mapping[str, float]) -> tuple[float, list[str]]:
    """The longest path through `needs` among `jobs`, and its jobs in order."""
    wanted = {job.id: job for job in jobs}
    finish: dict[str, tuple[float, list[str]]] = {}

    def visit(job_id: str, trail: frozenset[str]) -> tuple[float, list[str]]:
        if job_id in finish:
            return finish[job_id]
        job = wanted[job_id]
        best: tuple[float, list[str]] = (0.0, [])
        for need in job.needs:
            if need in wanted and need not in trail:
                candidate = visit(need, trail | {need})
                if candidate[0] > best[0]:
                    best = candidate
        result = (best[0] + cost.get(job_id, 0.0), [*best[1], job_id])
        finish[job_id] = result
        return result

    longest: tuple[float, list[str]] = (0.0, [])
    for job_id in wanted:
        candidate = visit(job_id, frozenset({job_id}))
        if candidate[0] > longest[0]:
            longest = candidate
    return longest

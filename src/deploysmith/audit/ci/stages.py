"""The pipeline-coverage analysis: which of the nine stages a pipeline has, which gate does
not block, whether production waits for an approval and is rolled back when it fails.

Jobs are classified by what they are called (job id, display name, platform stage) and by
what they run (commands, actions, tasks, orbs), with the keyword tables below; the tables
are the documentation of the heuristics (docs/rules/DS-PIPE-001.md shows them too). A job
can serve several stages (one GitLab job that builds, tests and pushes). Deployments are
told apart by their target: the environment name when the job has one, else the words of
the job; a deploy job with no recognisable target counts as production (it is the
conservative reading: something reaches users).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from deploysmith.audit.ci.keywords import Keywords
from deploysmith.audit.ci.model import Job, Pipeline, Step

STAGES: tuple[str, ...] = (
    "Build",
    "Test",
    "Security Scan",
    "Package",
    "Deploy Staging",
    "Integration Test",
    "Approval",
    "Deploy Prod",
    "Verify",
)
GATES: tuple[str, ...] = ("Build", "Test", "Security Scan", "Integration Test", "Verify")

# -- keyword tables ---------------------------------------------------------------------------------

# Job names (id, display name, platform stage), matched on words split at -, _, space and camelCase.
NAME_WORDS: dict[str, Keywords] = {
    "Build": Keywords(r"build|compile|lint|linters?|static[ -]analysis|typecheck|format|style"),
    "Test": Keywords(r"tests?|unit|unittests?|specs?|pytest|jest|checks?"),
    "Security Scan": Keywords(
        r"security|sec|scan|scanning|sast|dast|vuln\w*|audit|codeql|snyk|trivy|grype|semgrep|gitleaks|"
        r"trufflehog|bandit|gosec|sca|dependency[ -](?:check|review|scan\w*)|secrets?[ -](?:scan\w*|detection)"
    ),
    "Package": Keywords(r"package|packaging|publish|image|images|docker|container|push|artifacts?|bundle"),
    "Deploy": Keywords(r"deploy\w*|rollout|promote|promotion|ship|release to"),
    "Integration Test": Keywords(
        r"integration|e2e|end[ -]to[ -]end|acceptance|functional|system[ -]tests?|api[ -]tests?|contract|"
        r"smoke|load[ -]tests?|perf\w*|cypress|playwright|selenium|newman|postman"
    ),
    "Approval": Keywords(r"approve|approval|approvals|manual[ -]approval|sign[ -]?off"),
    "Verify": Keywords(
        r"verify|verification|smoke|health|healthcheck|post[ -]deploy\w*|sanity|validate[ -]deploy\w*|"
        r"canary[ -]analysis|check[ -]deploy\w*"
    ),
}

# Commands and actions/tasks/orbs (one script line or one step reference at a time): whole
# words first, then what may end inside a word, then what is matched anywhere (see keywords.py).
COMMANDS: dict[str, Keywords] = {
    "Build": Keywords(
        r"(?:npm|pnpm|yarn|bun) (?:run )?(?:build|lint|compile|typecheck)|go (?:build|vet)|"
        r"mvn\b.*\b(?:compile|package)|gradlew?\b.*\b(?:build|assemble|compile\w*)|"
        r"cargo (?:build|clippy|check)|dotnet (?:build|publish|restore)|"
        r"ruff|flake8|eslint|golangci-lint|mypy|tsc|python -m build|bundle exec rubocop|next build|webpack|"
        r"vite build|(?:npm|pnpm) (?:ci|install)|yarn install|pip3? install|poetry install|uv sync|"
        r"pipenv (?:install|sync)|bundle install|composer install|go mod download",
        starts=r"make(?: build| all| lint)?\s*$",
        anywhere=r"dotnetcorecli@\d.*build|/install-packages",
        exact=r"Maven@\d|Gradle@\d|Npm@\d|npm@\d",
    ),
    "Test": Keywords(
        r"pytest|(?:npm|pnpm|yarn|bun) (?:run )?test|go test|mvn\b.*\b(?:test|verify)|"
        r"gradlew?\b.*\b(?:test|check)|cargo (?:test|nextest)|dotnet test|rspec|jest|vitest|mocha|phpunit|"
        r"tox|nox|make (?:test|check)|manage\.py test|unittest|ctest",
        starts=r"bundle exec (?:rake|rails) test",
        anywhere=r"dotnetcorecli@\d.*test|publishtestresults@|store_test_results|/test\b",
    ),
    "Security Scan": Keywords(
        r"trivy|grype|snyk|(?:npm|pnpm|yarn) audit|pip-audit|safety check|bandit|semgrep|gitleaks|"
        r"trufflehog|codeql|gosec|govulncheck|checkov|tfsec|kubesec|kube-linter|hadolint|zap|osv-scanner|"
        r"cargo (?:audit|deny)|bundler? audit|brakeman|docker scout|"
        r"sast|secret[-_]detection|dependency[-_]scanning|container[-_]scanning",
        starts=r"sonar",
        anywhere=r"dependency-check|dependency-review-action|aquasecurity/|anchore/|"
        r"github/codeql-action/(?:init|analyze)|zizmor|snyksecurityscan@|microsoftsecuritydevops@|"
        r"advancedsecurity-|whitesource|snyk/|security/|"
        r"jobs/(?:sast|secret-detection|dependency-scanning|container-scanning)",
    ),
    "Package": Keywords(
        r"docker (?:buildx )?(?:build|push)|docker buildx bake|buildah|kaniko|podman (?:build|push)|"
        r"nerdctl build|jib|ko (?:build|publish|resolve)|pack build|npm publish|twine upload|"
        r"mvn\b.*\bdeploy|gradlew?\b.*\bpublish|helm (?:package|push)|goreleaser|cargo publish|gem push|"
        r"nuget push|docker\.build|buildandpush|crane (?:push|copy)|skopeo copy",
        anywhere=r"/kaniko/executor|docker\.withregistry|docker/build-push-action|docker@\d|docker/publish|"
        r"build[-_]and[-_]push|publishpipelineartifact@|publishbuildartifacts@",
    ),
    "Deploy": Keywords(
        r"kubectl\b.*\b(?:apply|set image|replace|rollout restart|create)|helm (?:upgrade|install)|"
        r"helmfile (?:apply|sync)|argocd app (?:sync|set)|flux reconcile|terraform apply|pulumi up|"
        r"aws ecs (?:update-service|deploy)|aws deploy create-deployment|ecs-deploy|"
        r"copilot (?:svc |app )?deploy|gcloud (?:run|app|functions) deploy|gcloud .*deploy|"
        r"az (?:webapp|containerapp|functionapp|aks|deployment)\b.*\b(?:deploy|update|up|create)|"
        r"fly(?:ctl)? deploy|(?:serverless|sls) deploy|cf push|eb deploy|kamal deploy|"
        r"skaffold (?:run|deploy)|ansible-playbook|netlify deploy|kustomize edit set image|"
        r"kubectl argo rollouts (?:set image|promote)|git push heroku",
        starts=r"vercel\b.*--prod",
        anywhere=r"k8s-deploy|webapps-deploy|deploy-cloudrun|amazon-ecs-deploy|container-apps-deploy|"
        r"kubernetesmanifest@|helmdeploy@|azurewebapp|azurermwebappdeployment@|azurefunctionapp@|"
        r"azurecontainerapps@|kubernetes@\d|kubernetesdeploy|"
        r"(?:^|[\s;&|(])(?:\./|[\w.-]+/)*deploy[\w.-]*\.(?:sh|bash|py|ps1|rb)\b",
    ),
    "Integration Test": Keywords(
        r"newman run|cypress run|playwright test|k6 run|"
        r"(?:npm|pnpm|yarn) (?:run )?(?:e2e|test:e2e|test:integration|integration)|"
        r"pytest\b.*\b(?:integration|e2e)|failsafe|robot|behave|cucumber|helm test",
        anywhere=r"-tags[= ]\S*integration",
    ),
    "Verify": Keywords(
        r"kubectl\b.*\brollout status|kubectl\b.*\bwait|curl\b.*\b(?:health\w*|ready\w*|live\w*|status|ping)|"
        r"argo rollouts status|kubectl argo rollouts status|helm test|aws ecs wait services-stable|smoke|"
        r"health[-_]?check",
        starts=r"wget\b.*\bhealth",
    ),
}


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# A command that makes a failing gate command pass anyway.
NEUTRALISED = re.compile(
    r"\|\|\s*(true|:|exit 0|echo\b)|;\s*(true|exit 0)\s*$|\bset \+e\b|--exit-code[= ]0\b|--soft-fail\b|"
    r"--no-fail\b|--exit-zero\b|--continue-on-error\b|--audit-level[= ]none\b|-Dmaven\.test\.failure\.ignore",
    re.IGNORECASE,
)
ROLLBACK = _words(
    r"roll[ -]?back|\brollout undo\b|\bundo\b|\brevert\b|\bhelm "
    r"rollback\b|\babort\b|previous (version|revision|"
    r"release)|\brestore\b"
)
ATOMIC_DEPLOY = _words(
    r"\bhelm (upgrade|install)\b.*--(atomic|rollback-on-failure)\b|\bargo rollouts\b|\bargo-rollouts\b|"
    r"\bflagger\b|auto-rollback|--auto-rollback|\bcircuit[-_ ]breaker\b|deployment_circuit_breaker"
)
PROD_WORDS = frozenset({"prod", "production", "prd", "live", "prods"})
PREPROD_WORDS = frozenset(
    {
        "staging",
        "stage",
        "stg",
        "preprod",
        "pre",
        "uat",
        "qa",
        "dev",
        "development",
        "sandbox",
        "review",
        "preview",
        "testing",
        "int",
        "demo",
        "nonprod",
        "test",
    }
)
_APPROVAL_ACTIONS = _words(r"manual-approval|approval|ManualValidation@|\binput\b")


@functools.lru_cache(maxsize=65536)
def command_stages_of(text: str) -> tuple[str, ...]:
    """The stages whose COMMANDS pattern matches one script line or action (cached: CI files
    repeat the same lines across jobs and files)."""
    return tuple(stage for stage, pattern in COMMANDS.items() if pattern.search(text))


@functools.lru_cache(maxsize=65536)
def name_stages_of(words: str) -> tuple[str, ...]:
    """The stages whose NAME_WORDS pattern matches a job's words (cached: job names repeat)."""
    return tuple(stage for stage, pattern in NAME_WORDS.items() if pattern.search(words))


_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


@functools.lru_cache(maxsize=65536)
def words_of(text: str) -> str:
    """Lower-case words: `deployProd-eu_1` → "deploy prod eu 1"."""
    spaced = _CAMEL.sub(r"\1 \2", text)
    return " ".join(_NOT_WORD.split(spaced)).lower().strip()


# -- classification -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    stage: str
    line: int
    path: str
    text: str  # what matched: the command, the action or the job name


@dataclass(frozen=True)
class JobRole:
    job: Job
    stages: frozenset[str]
    evidence: tuple[Evidence, ...]
    target: Literal["", "staging", "prod"]  # for deploy jobs

    def evidence_for(self, stage: str) -> list[Evidence]:
        return [item for item in self.evidence if item.stage == stage]


def step_units(job: Job) -> list[tuple[Step, int, str]]:
    """(step, line, text) of each script line and each action reference of a job."""
    units: list[tuple[Step, int, str]] = []
    for step in job.steps:
        if step.kind == "script":
            units.extend(
                (step, line, text)
                for line, text in step.script
                if text.strip() and not text.lstrip().startswith("#")
            )
        else:
            detail = " ".join(f"{k}: {v}" for k, v in step.inputs)
            units.append((step, step.line, f"{step.ref} {step.name} {detail}".strip()))
    return units


# Stages a job's name is trusted for even when its commands say something else: deploy,
# approval and verification jobs usually run project scripts (./deploy.sh) and setup steps.
_NAME_TRUSTED = frozenset({"Deploy", "Approval", "Verify", "Integration Test", "Security Scan", "Test"})


def classify(job: Job) -> JobRole:
    """The stages a job serves: what its commands do, plus what its name says when nothing it
    runs says otherwise (or when the name is a deploy, approval, test or verify name)."""
    own = words_of(" ".join(dict.fromkeys(p for p in (job.id, job.name) if p)))
    grouped = words_of(job.stage)
    named = [Evidence(stage, job.line, job.path, job.words) for stage in name_stages_of(own)]
    staged = set(name_stages_of(grouped)) if grouped else set()
    ran: list[Evidence] = []
    for step, line, text in step_units(job):
        if step.condition == "failure":
            continue
        path = step.path or job.path
        ran.extend(Evidence(stage, line, path, text.strip()) for stage in command_stages_of(text))
        if step.kind == "action" and "deploy" in step.ref.lower() and not step.ref.startswith("checkout"):
            ran.append(Evidence("Deploy", line, path, step.ref))  # an action, task or orb job that deploys
        if step.kind == "approval":
            ran.append(Evidence("Approval", line, path, step.ref or step.name))
    name_stages = {item.stage for item in named}
    if "Integration Test" in name_stages:  # "integration tests" is not the unit Test stage
        name_stages.discard("Test")
    command_stages = {item.stage for item in ran}
    # The platform stage (GitLab `stage: test`) counts only when nothing else does.
    stages = command_stages | (name_stages & _NAME_TRUSTED) if command_stages else name_stages or staged
    if job.manual and not command_stages - {"Approval"}:
        stages.add("Approval")
    # A job with a deployment environment deploys, unless what it runs and is called says it
    # does something else there (a Verify job on a production-verify environment).
    if (job.deployment_job or job.environment is not None) and not stages - {"Deploy", "Approval", "Build"}:
        stages.add("Deploy")
    if "Deploy" in stages:  # a deploy job's own checks are part of the deploy (see analyse)
        stages -= {"Verify"}
        if "Package" not in command_stages:
            stages.discard("Package")
        if "Integration Test" not in command_stages:
            stages.discard("Integration Test")
    target: Literal["", "staging", "prod"] = deploy_target(job) if "Deploy" in stages else ""
    return JobRole(job, frozenset(stages), tuple(named + ran), target)


def deploy_target(job: Job) -> Literal["staging", "prod"]:
    if job.environment:
        found = _target_of(job.environment)
        if found:
            return found
    found = _target_of(job.words)
    if found:
        return found
    targets = {
        _target_of(text)
        for step in job.steps
        if step.condition != "failure"
        for _, text in step.script
        if COMMANDS["Deploy"].search(text)
    }
    return "staging" if targets == {"staging"} else "prod"


def _target_of(text: str) -> Literal["", "staging", "prod"]:
    words = set(words_of(text).split())
    if words & PROD_WORDS:
        return "prod"
    if words & PREPROD_WORDS:
        return "staging"
    return ""


# -- coverage ---------------------------------------------------------------------------------------

Status = Literal["present", "missing", "not blocking", "not applicable"]


@dataclass(frozen=True)
class StageStatus:
    stage: str
    status: Status
    jobs: tuple[str, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "status": self.status, "jobs": list(self.jobs), "note": self.note}


@dataclass(frozen=True)
class Gap:
    """Something DS-PIPE-002/003/004 reports: where and what."""

    path: str
    line: int | None
    message: str
    stage: str = ""
    job: str = ""
    kind: str = ""  # open (lets failures through), order (a deploy does not wait for it), always


@dataclass(frozen=True)
class Coverage:
    pipeline: Pipeline
    roles: tuple[JobRole, ...]
    stages: tuple[StageStatus, ...]
    gates: tuple[Gap, ...] = ()  # gates that do not block
    approvals: tuple[Gap, ...] = ()  # production deploys without an approval
    rollbacks: tuple[Gap, ...] = ()  # production deploys without a rollback
    missing: tuple[str, ...] = ()  # expected stages that are missing
    deploys: bool = False

    def status(self, stage: str) -> StageStatus:
        return next(item for item in self.stages if item.stage == stage)

    def jobs_in(self, stage: str) -> list[JobRole]:
        return [role for role in self.roles if stage in _role_stages(role)]


def _role_stages(role: JobRole) -> set[str]:
    """Deploy split by target."""
    stages = set(role.stages) - {"Deploy"}
    if "Deploy" in role.stages:
        stages.add("Deploy Prod" if role.target == "prod" else "Deploy Staging")
    return stages


def analyse(pipeline: Pipeline, ships_image: bool) -> Coverage:
    """`ships_image`: the project has a Dockerfile, so a Package stage is expected."""
    roles = [classify(job) for job in pipeline.jobs if job.condition != "failure"]
    by_id = {role.job.id: role for role in roles}
    ancestors = {role.job.id: pipeline.ancestors(role.job) for role in roles}
    prod = [role for role in roles if "Deploy" in role.stages and role.target == "prod"]
    staging = [role for role in roles if "Deploy" in role.stages and role.target == "staging"]
    prod_ids = {role.job.id for role in prod}
    # After production: integration-test and verify-ish jobs are the Verify stage.
    staging_ids = {role.job.id for role in staging}
    stage_jobs: dict[str, list[str]] = {stage: [] for stage in STAGES}
    for role in roles:
        stages = _role_stages(role)
        before = ancestors[role.job.id]
        if "Deploy" not in role.stages:
            if before & prod_ids and stages & {"Integration Test", "Verify"}:
                stages -= {"Integration Test"}
                stages.add("Verify")  # checks after production verify it
            elif "Verify" in stages:
                stages.discard("Verify")
                if before & staging_ids:
                    stages.add("Integration Test")  # checks against pre-production test it
        elif role.target == "prod" and _verifies_in_job(role):
            stages.add("Verify")
        for stage in stages:
            stage_jobs[stage].append(role.job.id)
    approvals = _approvals(pipeline, prod, by_id, ancestors)
    if prod and not approvals:
        stage_jobs["Approval"] = sorted(
            {j for role in prod for j in _approvers(pipeline, role, by_id, ancestors)}
            | set(stage_jobs["Approval"])
        )
    deploys = bool(prod or staging)
    expected = {"Build", "Test", "Security Scan"}
    if ships_image or deploys:
        expected.add("Package")
    if prod:
        expected |= {"Deploy Staging", "Integration Test", "Approval", "Verify"}
    if staging:
        expected.add("Deploy Prod")
    gates = _gates(pipeline, roles, stage_jobs, ancestors, by_id)
    not_blocking = {stage for stage in GATES if _stage_fully_open(stage, gates, stage_jobs)}
    statuses: list[StageStatus] = []
    missing: list[str] = []
    for stage in STAGES:
        jobs = tuple(dict.fromkeys(stage_jobs[stage]))
        if jobs:
            note = ""
            status: Status = "present"
            if stage in not_blocking:
                status = "not blocking"
                note = "; ".join(gap.message.split(": ", 1)[-1] for gap in gates if gap.stage == stage)[:200]
            statuses.append(StageStatus(stage, status, jobs, note))
        elif stage in expected:
            statuses.append(StageStatus(stage, "missing"))
            missing.append(stage)
        else:
            reason = "the pipeline deploys nothing" if not deploys else "no production deploy"
            if stage == "Package":
                reason = "no image or artifact to ship"
            statuses.append(StageStatus(stage, "not applicable", (), reason))
    rollbacks = _rollbacks(pipeline, prod, ancestors) if prod else []
    return Coverage(
        pipeline,
        tuple(roles),
        tuple(statuses),
        gates=tuple(gates),
        approvals=tuple(approvals),
        rollbacks=tuple(rollbacks),
        missing=tuple(missing),
        deploys=deploys,
    )


def _verifies_in_job(role: JobRole) -> bool:
    """A deploy job that checks its own rollout after deploying (rollout status, health)."""
    deployed = False
    for step, _, text in step_units(role.job):
        if step.condition == "failure":
            continue
        if COMMANDS["Deploy"].search(text):
            deployed = True
        elif deployed and COMMANDS["Verify"].search(text):
            return True
    return False


def _approvers(
    pipeline: Pipeline, role: JobRole, by_id: dict[str, JobRole], ancestors: dict[str, set[str]]
) -> list[str]:
    """The jobs that hold a production deploy for a person (itself included)."""
    found: list[str] = []
    for job_id in [role.job.id, *sorted(ancestors[role.job.id])]:
        other = by_id.get(job_id)
        if other is None:
            continue
        job = other.job
        # An environment can carry required reviewers (GitHub) or approvals and checks (Azure):
        # the deploy's own, or a production one it waits for.
        guarded = job.environment is not None and (job is role.job or _target_of(job.environment) == "prod")
        if (
            job.manual
            or any(step.kind == "approval" for step in job.steps)
            or (pipeline.platform == "github" and guarded)
            or (pipeline.platform == "azure" and job.deployment_job and guarded)
            or (
                pipeline.platform == "github"
                and any(_APPROVAL_ACTIONS.search(step.ref) for step in job.steps if step.kind == "action")
            )
        ):
            found.append(job.id)
    return found


def _approvals(
    pipeline: Pipeline, prod: list[JobRole], by_id: dict[str, JobRole], ancestors: dict[str, set[str]]
) -> list[Gap]:
    gaps: list[Gap] = []
    for role in prod:
        job = role.job
        approvers = _approvers(pipeline, role, by_id, ancestors)
        if pipeline.platform == "gitlab":
            if approvers and job.environment:
                continue
            if approvers:
                message = (
                    f"production deploy {job.id} is manual but declares no `environment:`, so no "
                    "protected environment limits who may press play; add `environment: production` "
                    "and protect it"
                )
            elif job.environment:
                message = (
                    f"production deploy {job.id} starts without approval: add `when: manual` (and "
                    "protect the environment) or configure deployment approvals on it"
                )
            else:
                message = (
                    f"production deploy {job.id} runs without approval and without an environment; add "
                    "`environment: production` (protected) and `when: manual`"
                )
        elif approvers:
            continue
        elif pipeline.platform == "azure":
            message = (
                f"production deploy {job.id} is a plain job: make it a `deployment:` job with "
                "`environment: production` and add approvals and checks to that environment "
                "(or a ManualValidation task in an agentless job before it)"
            )
        elif pipeline.platform == "jenkins":
            message = (
                f"production stage {job.id} runs without approval: add an `input` directive to the "
                "stage (with `submitter`) or an `input` step before it"
            )
        elif pipeline.platform == "circleci":
            message = (
                f"production deploy {job.id} does not require an approval job: add a job with "
                "`type: approval` to the workflow and list it in `requires:`"
            )
        else:
            message = (
                f"production deploy {job.id} has no environment or approval before it; use "
                "`environment: production` with required reviewers"
            )
        gaps.append(Gap(job.path, job.line, message, "Approval", job.id, "approval"))
    return gaps


def _rollbacks(pipeline: Pipeline, prod: list[JobRole], ancestors: dict[str, set[str]]) -> list[Gap]:
    prod_ids = {role.job.id for role in prod}
    failure_text: list[str] = []
    for job in pipeline.jobs:
        after = job.id in prod_ids or bool(pipeline.ancestors(job) & prod_ids) or job.condition == "failure"
        for step in job.steps:
            if after and (step.condition == "failure" or job.condition == "failure"):
                failure_text.append(step.text)
    gaps: list[Gap] = []
    for role in prod:
        if any(ROLLBACK.search(text) for text in failure_text):
            continue
        if any(ATOMIC_DEPLOY.search(step.text) for step in role.job.steps):
            continue
        gaps.append(
            Gap(
                role.job.path,
                role.job.line,
                f"production deploy {role.job.id} has no automatic rollback: no step that runs on failure "
                "undoes the release (kubectl rollout undo, helm rollback, a revert of the GitOps commit), "
                "and the deploy is not atomic (helm --atomic, Argo Rollouts)",
                "Verify",
                role.job.id,
                "rollback",
            )
        )
    return gaps


def _gates(
    pipeline: Pipeline,
    roles: list[JobRole],
    stage_jobs: dict[str, list[str]],
    ancestors: dict[str, set[str]],
    by_id: dict[str, JobRole],
) -> list[Gap]:
    gaps: list[Gap] = []
    for stage in GATES:
        for job_id in dict.fromkeys(stage_jobs[stage]):
            role = by_id[job_id]
            reason = _not_blocking(role, stage, pipeline)
            if reason:
                gaps.append(
                    Gap(
                        role.job.path,
                        reason[1],
                        f"{stage} does not block: {reason[0]}",
                        stage,
                        job_id,
                        "open",
                    )
                )
    deployers = [
        (role, stage)
        for stage in ("Deploy Staging", "Deploy Prod")
        for role in (by_id[j] for j in dict.fromkeys(stage_jobs[stage]))
    ]
    for role, deploy_stage in deployers:
        before = ancestors[role.job.id]
        wanted = ["Build", "Test", "Security Scan"] + (
            ["Integration Test"] if deploy_stage == "Deploy Prod" else []
        )
        for stage in wanted:
            gate_jobs = [j for j in dict.fromkeys(stage_jobs[stage]) if j != role.job.id]
            if not gate_jobs or any(j in before for j in gate_jobs):
                continue
            if stage == "Integration Test" and not any(j in before for j in stage_jobs["Deploy Staging"]):
                continue
            gaps.append(
                Gap(
                    role.job.path,
                    role.job.line,
                    f"{stage} does not gate {deploy_stage}: {role.job.id} can start without "
                    f"{', '.join(gate_jobs)} passing; {_wait_advice(pipeline.platform, gate_jobs)}",
                    stage,
                    role.job.id,
                    "order",
                )
            )
        if role.job.condition == "always":
            gaps.append(
                Gap(
                    role.job.path,
                    role.job.line,
                    f"{deploy_stage} runs whatever the gates say: {role.job.id} runs even when an "
                    "earlier job failed (always()); deploy only on success",
                    "",
                    role.job.id,
                    "always",
                )
            )
    return gaps


def _wait_advice(platform: str, jobs: list[str]) -> str:
    listed = ", ".join(jobs)
    return {
        "github": f"add them to `needs:` ({listed})",
        "gitlab": f"put the job in a later stage or list them in `needs:` ({listed})",
        "azure": f"add them to `dependsOn:` ({listed})",
        "circleci": f"add them to `requires:` ({listed})",
        "jenkins": "run the stage after them (not in the same parallel block)",
    }.get(platform, "make it wait for them")


def _not_blocking(role: JobRole, stage: str, pipeline: Pipeline) -> tuple[str, int] | None:
    job = role.job
    flag = {
        "github": "continue-on-error: true",
        "gitlab": "allow_failure: true",
        "azure": "continueOnError: true",
    }.get(pipeline.platform, "allows failure")
    if job.allow_failure:
        return f"{job.id} sets {flag}, so its failure does not stop the pipeline", job.line
    evidence = [e for e in role.evidence_for(stage) if not (e.line == job.line and e.text == job.words)]
    if not evidence:
        return None
    neutral: list[tuple[str, int]] = []
    for step, line, text in step_units(job):
        if not any(e.line == line and e.text == text.strip() for e in evidence):
            continue
        if step.allow_failure:
            what = (
                "catchError/returnStatus"
                if pipeline.platform == "jenkins"
                else ("continueOnError" if pipeline.platform == "azure" else "continue-on-error")
            )
            neutral.append((f"{what} on `{_short(text)}`", line))
        elif _neutralised(text, step):
            neutral.append((f"`{_short(text)}` cannot fail", line))
        else:
            return None
    if not neutral:
        return None
    first = neutral[0]
    return f"in {job.id}, {first[0]}", first[1]


def _neutralised(text: str, step: Step) -> bool:
    if NEUTRALISED.search(text):
        return True
    exit_code = step.input("exit-code") or step.input("exit_code") or step.input("exitCode")
    if exit_code is not None and exit_code.strip("'\" ") == "0":
        return True
    return step.input("soft_fail") == "true" or step.input("soft-fail") == "true"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _stage_fully_open(stage: str, gates: Iterable[Gap], stage_jobs: dict[str, list[str]]) -> bool:
    """A gate stage is 'not blocking' when a deploy does not wait for it, or when every job
    of it lets failures through."""
    mine = [gap for gap in gates if gap.stage == stage]
    if any(gap.kind == "order" for gap in mine):
        return True
    open_jobs = {gap.job for gap in mine if gap.kind == "open"}
    return bool(open_jobs) and open_jobs >= set(stage_jobs[stage])

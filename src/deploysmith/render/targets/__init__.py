"""Runtime targets other than Kubernetes: one module per target, listed in TARGETS.

Each module has
    render(plan) -> tuple[RenderedFile, ...]          the target's own files
    commands(plan, env) -> TargetCommands              deploy / verify / rollback shell lines

and this package adds what the pipelines and the docs need around them:

    render(plan)                 the files of plan.requirements.target (RENDERERS["targets"])
    commands(plan, env)          the shell lines of that target for one environment
    login(plan, platform)        how a CI platform's deploy job signs in to the target's cloud
    CLOUD_VARIABLES[cloud]       the CI variables each cloud's commands read
    deployment_section(plan)     DEPLOYMENT.md: where it runs, strategy, one-time setup
    runbook_section(plan)        RUNBOOK.md: deploy and roll back by hand, per environment
    troubleshooting(plan)        TROUBLESHOOTING.md: the target's failures, read with its own
                                 commands (each module's logs(plan, env))

Per-target facts (which strategies are native, which managed services replace the stack's
databases, whether the target runs workers or builds from an image) live in
`deploysmith.plan.targets`; the IaC, backup and cost work read them there.
"""

from __future__ import annotations

import shlex
from types import ModuleType

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.plan.targets import TARGETS as FACTS
from deploysmith.plan.targets import managed_services, native_strategy, stack_services
from deploysmith.render.targets import (
    app_runner,
    aws_lambda,
    cloud_run,
    container_apps,
    ecs_fargate,
    fly,
    heroku,
    netlify,
    railway,
    render_com,
    vercel,
)
from deploysmith.render.targets.base import TargetCommands, secret_keys
from deploysmith.render.targets.login import CLOUD_VARIABLES, SECRETS, Login, login

TARGETS: dict[str, ModuleType] = {
    "cloud-run": cloud_run,
    "ecs-fargate": ecs_fargate,
    "lambda": aws_lambda,
    "app-runner": app_runner,
    "azure-container-apps": container_apps,
    "fly": fly,
    "railway": railway,
    "render": render_com,
    "heroku": heroku,
    "vercel": vercel,
    "netlify": netlify,
}

__all__ = [
    "ci_deploy_lines",
    "ci_rollback_lines",
    "ci_verify_lines",
    "CLOUD_VARIABLES",
    "TARGETS",
    "Login",
    "TargetCommands",
    "commands",
    "deployment_section",
    "is_target",
    "login",
    "render",
    "runbook_section",
    "logs",
    "troubleshooting",
]


def is_target(plan: Plan) -> bool:
    """Whether the plan deploys to one of these targets (not Kubernetes)."""
    return plan.requirements.target in TARGETS


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    module = TARGETS.get(plan.requirements.target)
    if module is None:
        return ()
    files: tuple[RenderedFile, ...] = module.render(plan)
    return files


def commands(plan: Plan, env: EnvironmentPlan) -> TargetCommands:
    result: TargetCommands = TARGETS[plan.requirements.target].commands(plan, env)
    return result


# -- docs ---------------------------------------------------------------------------------------


def deployment_section(plan: Plan, pipeline: str = ".github/workflows/ci-cd.yml") -> str:
    """DEPLOYMENT.md's account of the target: what runs where, the strategy, the one-time setup
    and the files of the kit (it replaces the Kubernetes setup and file list)."""
    target = plan.requirements.target
    fact = FACTS[target]
    choice, reason = native_strategy(target, plan.strategy.choice)
    lines = [
        f"## Where it runs: {fact.label}\n",
        reason + "\n",
        "| Strategy | Native on " + fact.label + " |",
        "|---|---|",
        *(f"| {name} | {how} |" for name, how in fact.native.items()),
        "",
        f"Rollback: {fact.rollback}.\n",
    ]
    managed = managed_services(target, stack_services(plan.stack))
    if managed:
        lines.append("Backing services: " + "; ".join(f"{s} → {p}" for s, p in managed.items()) + ".\n")
    lines.append("## One-time setup\n")
    steps: list[str] = []
    steps.append(
        "Create the CI environments `staging` and `production` (required reviewers: the Approval stage) "
        "and `production-verify` (no reviewers: Verify's rollback never waits), each limited to `main`."
    )
    variables = [
        (name, what) for name, what in CLOUD_VARIABLES.get(fact.cloud or target, ())
        if not (what.startswith("Lambda:") and target != "lambda")
        and not (what.startswith("ECS on Fargate:") and target != "ecs-fargate")
    ]
    if variables:
        steps.append(
            "Give each environment these variables (identifiers, not secrets: CI signs in with its "
            "short-lived OIDC token where the platform issues one and the cloud trusts it):"
        )
        steps[-1] += "".join(f"\n   - `{name}`: {what}" for name, what in variables)
    secrets = SECRETS.get(target, ()) if fact.cloud is None else ()
    if secrets:
        steps.append(
            f"{fact.label} has no OIDC login for CI: store " + ", ".join(f"`{name}`" for name in secrets)
            + " as a secret of each environment, scoped to this app only, and rotate it."
        )
    steps.append(
        "Create the runtime, its registry access and the secrets the app reads "
        f"({', '.join(f'`{key}`' for key in secret_keys(plan)) or 'none'}) once per environment "
        "(the IaC of this kit, or by hand); the files below name them."
    )
    lines += [f"{number}. {step}" for number, step in enumerate(steps, start=1)]
    lines.append("")
    lines.append("## What is in the kit\n")
    kit = [
        *((("Dockerfile", "the image the pipeline builds once and promotes"),) if fact.image else ()),
        (pipeline, "the pipeline above"),
        *((f.path, f"{fact.label} configuration") for f in render(plan)),
        ("docs/deploy/RUNBOOK.md", "deploy, check and roll back, command by command"),
    ]
    lines += [f"- `{path}`: {what}" for path, what in kit]
    lines.append("")
    return "\n".join(lines)


def runbook_section(plan: Plan) -> str:
    """RUNBOOK.md: the exact deploy and rollback commands per environment (as CI runs them)."""
    fact = FACTS[plan.requirements.target]
    parts = [f"## Deploy and roll back on {fact.label}\n"]
    parts.append(
        "CI runs these; by hand, set `IMAGE_<NAME>` to the digest to deploy "
        "(`<repository>@sha256:…`) and the variables of DEPLOYMENT.md first.\n"
    )
    for env in plan.environments:
        run = commands(plan, env)
        parts.append(f"### {env.name}\n")
        parts.append("Deploy:\n\n```bash\n" + "\n".join(run.deploy) + "\n```\n")
        parts.append("Check:\n\n```bash\n" + "\n".join(run.verify) + "\n```\n")
        parts.append("Roll back:\n\n```bash\n" + "\n".join(run.rollback) + "\n```\n")
    return "\n".join(parts)


def logs(plan: Plan) -> str:
    """The shell that reads production's recent logs on the target (TROUBLESHOOTING.md)."""
    env = plan.environment("prod") or plan.environments[-1]
    return "\n".join(TARGETS[plan.requirements.target].logs(plan, env))


def troubleshooting(plan: Plan) -> list[tuple[str, str, str, str]]:
    """TROUBLESHOOTING.md rows for the target: (symptom, likely cause, diagnosing commands, fix),
    with the target's own commands for production (the runbook has the other environments)."""
    fact = FACTS[plan.requirements.target]
    env = plan.environment("prod") or plan.environments[-1]
    run = commands(plan, env)
    recent_logs = logs(plan)
    how = login(plan, plan.requirements.ci)
    sign_in = (
        "the cloud does not trust the CI platform's OIDC token for this repository and environment, "
        "or the role it maps to lacks a permission"
        if how.oidc
        else f"a credential ({', '.join(how.secrets)}) is missing, expired or scoped to another environment"
    )
    return [
        (
            f"The deploy step fails on {fact.label}",
            f"{fact.label} cannot pull the image (registry access) or rejects the service configuration",
            "# the deploy job's log ends with the platform's own error; then the service's logs:\n" + recent_logs,
            "check the digest in the Package job's output, that the platform's identity can read the "
            "registry, and the configuration files under deploy/",
        ),
        (
            "The new release crashes or exits at start",
            "a missing environment variable or secret, a bad start command, or a crash",
            recent_logs,
            "check that every secret DEPLOYMENT.md lists exists for this environment and that the app starts "
            "locally with `docker compose up`",
        ),
        (
            "The new release never becomes healthy (the Check step fails)",
            "the app listens on another port than the platform sends traffic to, or the health path fails",
            "\n".join(run.verify),
            "listen on the port the platform gives the app (PORT) and keep the health path answering 200",
        ),
        (
            f"CI: the deploy job cannot sign in to {fact.label}",
            sign_in,
            "# the sign-in step's log names what was refused",
            "compare the CI variables and the cloud's trust settings with DEPLOYMENT.md's one-time setup",
        ),
        (
            "CI: Security Scan blocks the pipeline",
            "a dependency, the image or the repository has a high or critical finding, or a secret was committed",
            "# open the job's log and the platform's security report (SARIF results)",
            "upgrade the dependency or base image; rotate and remove a leaked secret; never silence without a "
            "reason",
        ),
        (
            "CI: Verify failed and production was rolled back",
            "the new version did not become healthy after the deploy",
            recent_logs,
            "read the Verify job's log and the failed release's logs, fix, and deploy again",
        ),
    ]


def quote(value: str) -> str:
    return shlex.quote(value)


# -- CI ----------------------------------------------------------------------------------------
# render/ci_common.py calls these where it builds the deploy, check and undo shell of a
# pipeline, so every CI platform runs the same commands as the runbook.


def ci_deploy_lines(plan: Plan, env: EnvironmentPlan) -> list[str]:
    """Deploy one environment (its migrations included) and fail when it does not come up."""
    fact = FACTS[plan.requirements.target]
    strategy = native_strategy(plan.requirements.target, plan.strategy.choice)[0]
    return [f"# Deploy {env.name} to {fact.label} ({strategy})", *commands(plan, env).deploy]


def ci_verify_lines(plan: Plan) -> list[str]:
    """Check the release of the environment in DEPLOY_TARGET."""
    return _by_environment(plan, "verify")


def ci_rollback_lines(plan: Plan) -> list[str]:
    """Roll the environment in DEPLOY_TARGET back to its previous release."""
    return _by_environment(plan, "rollback")


def _by_environment(plan: Plan, kind: str) -> list[str]:
    lines = [
        "# Roll back: the previous release of the environment in DEPLOY_TARGET"
        if kind == "rollback" else "# Check the release of the environment in DEPLOY_TARGET",
        'case "${DEPLOY_TARGET}" in',
    ]
    for env in plan.environments:
        run = commands(plan, env)
        body = run.verify if kind == "verify" else run.rollback
        lines += [f"  {env.name})", *(f"    {line}" for line in body), "    ;;"]
    lines += [
        "  *)",
        '    echo "error: unknown environment ${DEPLOY_TARGET}" >&2',
        "    exit 1",
        "    ;;",
        "esac",
    ]
    return lines

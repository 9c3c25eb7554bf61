"""GitHub Actions: the plan's nine stages as one workflow, `.github/workflows/ci-cd.yml`.

Stage → job (in `needs` order), and how each failure policy maps onto GitHub:

    Build, Test            block: a failing job stops everything that `needs` it. Both start
                           at once (with Security Scan); Package needs all three
    Security Scan          block-on-severity: Trivy exits 1 on CRITICAL/HIGH only; every
                           severity is reported to code scanning (SARIF)
    Package                block; pushes each image once, outputs its digest
    Deploy Staging         block; a rollout that is not ready in time is undone
    Integration Test       block: curl smoke checks against the staging hosts
    Approval               approval: the protected `production` environment with required
                           reviewers gates Deploy Prod; this job shows what waits for it
    Deploy Prod            block; same digests as staging (build once, promote)
    Verify                 rollback: on failure the job undoes the release, then fails

Pull requests run Build, Test and Security Scan; the other stages run only on a push to
main. In a monorepo a `changes` job limits Build and Test to the components a pull
request touches; a push to main builds, tests and deploys every component together.

Imperative delivery uses `render.kustomize.deploy_commands`, so the workflow and the
runbook run the same commands. GitOps delivery commits the digests to Git and
waits, read-only, for the controller to roll them out.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.plan import SERVICE_ENV
from deploysmith.plan import pipeline as stages
from deploysmith.plan.images import RUNTIMES
from deploysmith.render import bake, compliance_ci, kustomize, notify, packaging, security_github, targets
from deploysmith.render import ci_common as ci
from deploysmith.render import gitops as gitops_repo
from deploysmith.render import security as security_gates
from deploysmith.render.actions_pins import PINS_CHECKED, tag_of, uses
from deploysmith.render.ci_common import LOCKS as _LOCKS
from deploysmith.render.ci_common import SERVICES, SERVICES_CHECKED
from deploysmith.render.ci_common import Context as _Context
from deploysmith.render.ci_common import Unit as _Unit
from deploysmith.render.ci_common import build_commands as _build_commands
from deploysmith.render.ci_common import digest_var as _digest_var
from deploysmith.render.ci_common import ere_escape as _ere_escape
from deploysmith.render.ci_common import family as _family
from deploysmith.render.ci_common import first as _first
from deploysmith.render.ci_common import image_var as _image_var
from deploysmith.render.ci_common import lint_commands as _lint_commands
from deploysmith.render.ci_common import major as _major
from deploysmith.render.ci_common import rollout_lines as _rollout_lines
from deploysmith.render.ci_common import script as _script
from deploysmith.render.ci_common import slug as _slug
from deploysmith.render.ci_common import test_commands as _test_commands
from deploysmith.render.ci_common import undo_lines as _undo_lines
from deploysmith.render.ci_common import wrap as _wrap
from deploysmith.render.common import WORKFLOW_PATH, header, image_prefix
from deploysmith.render.flux import image_automation as flux_automation
from deploysmith.render.monitoring_queries import BAKE_FIRST_CHECK_MINUTES, BAKE_MINUTES
from deploysmith.render.targets import github as target_github
from deploysmith.render.yamlout import Commented, comment, dump

RUNNER = "ubuntu-24.04"  # a fixed image, not ubuntu-latest: kubectl, kustomize, jq and pipx are on it
MAIN = "main"
ON_MAIN_PUSH = "github.ref == 'refs/heads/main' && github.event_name == 'push'"
PROD_ENVIRONMENT = "production"
# Verify runs with its own identity: a job in `production` would wait for the reviewers again.
VERIFY_ENVIRONMENT = "production-verify"
OIDC_ISSUER = "https://token.actions.githubusercontent.com"
KUBE_AUDIENCE = "kubernetes"
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
SARIF_FILE = "trivy-fs.sarif"
READ_ONLY = "read-only access (get/list/watch on deployments, replicasets and pods)"

# Minutes per job: the platforms' common table plus the change-detection job only GitHub has.
TIMEOUTS = {"changes": 5, **ci.TIMEOUTS}

# Tools installed in CI that no pinned action provides, from their registries on TOOLS_CHECKED.
TOOLS_CHECKED = "2026-11-22"
TOOLS = {"uv": "0.13.8", "poetry": "2.5.1", "pipenv": "2026.10.3"}
NODE_WITHOUT_COREPACK = 25  # Node.js 25 and later no longer ship corepack


Step = dict[str, Any]
Job = dict[str, Any]

# How GitHub's scripts report: workflow commands become annotations on the run.
GITHUB = ci.Dialect(
    error=lambda message: f'echo "::error::{message}"',
    warning=lambda message: f'echo "::warning::{message}"',
    notice=lambda message: f'echo "::notice::{message}"',
)


def _in_workspace(command: str) -> str:
    return ci.in_workspace(command, "${RUNNER_TEMP}")


def _rendered(ctx: _Context, stage_id: str) -> bool:
    return ctx.rendered(stage_id)


def _commands(ctx: _Context, env: EnvironmentPlan) -> kustomize.DeployCommands:
    return ci.commands(ctx, env)


def _git_identity_lines() -> list[str]:
    return ci.git_identity_lines(BOT_NAME, BOT_EMAIL)


def _push_lines() -> list[str]:
    return ci.push_lines(GITHUB, "may github-actions[bot] push there (branch protection)?")


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return (RenderedFile(WORKFLOW_PATH, render_workflow(plan)),)


def render_workflow(plan: Plan) -> str:
    ctx = _Context.of(plan)
    workflow: dict[str, Any] = {
        "name": "ci-cd",
        "on": comment(
            {"push": {"branches": [MAIN]}, "pull_request": {"branches": [MAIN]}},
            "Pull requests run Build, Test and Security Scan; a push to main runs every stage.",
        ),
        "permissions": comment({}, "No token scopes by default: each job grants only what it uses."),
        "concurrency": comment(
            {
                "group": "ci-cd-" + _expr("github.ref"),
                "cancel-in-progress": _expr("github.event_name == 'pull_request'"),
            },
            "One run per ref. A new push to a pull request cancels its superseded run; runs on main are\n"
            "never cancelled, they queue (a newer pending run replaces an older pending one), so a\n"
            "release is never interrupted between deploy, verify and rollback. Deploy jobs also hold\n"
            "a per-environment group that nothing cancels.",
        ),
        "defaults": {"run": {"shell": "bash"}},
        "jobs": _jobs(ctx),
    }
    text = dump(workflow, _header(ctx))
    return _annotate_pins(text)


# -- context -----------------------------------------------------------------------------


# -- jobs --------------------------------------------------------------------------------


def _jobs(ctx: _Context) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    if ctx.monorepo:
        jobs["changes"] = _changes_job(ctx)
    for unit in ctx.units:
        jobs[f"{stages.BUILD}{unit.suffix}"] = _build_job(ctx, unit)
    for unit in ctx.units:
        jobs[f"{stages.TEST}{unit.suffix}"] = _test_job(ctx, unit)
    jobs[stages.SECURITY_SCAN] = _security_job(ctx)
    jobs[security_github.SAST_JOB] = security_github.sast_job(ctx, RUNNER, _checkout())
    jobs["dependency-review"] = security_github.dependency_review_job(ctx, RUNNER)
    for unit, job_id in zip(ctx.units, ctx.package_jobs(), strict=True):
        jobs[job_id] = _package_job(ctx, unit)
    approval_needs = ctx.package_jobs()
    if ctx.preprod is not None:
        jobs[stages.DEPLOY_STAGING] = _deploy_job(ctx, stages.DEPLOY_STAGING, ctx.preprod)
        jobs[stages.INTEGRATION_TEST] = _integration_job(ctx, ctx.preprod)
        approval_needs = [stages.INTEGRATION_TEST, *ctx.package_jobs()]
    if ctx.prod is not None:
        jobs[stages.APPROVAL] = _approval_job(ctx, approval_needs)
        jobs[stages.DEPLOY_PROD] = _deploy_job(ctx, stages.DEPLOY_PROD, ctx.prod)
        jobs[stages.VERIFY] = _verify_job(ctx, ctx.prod)
    compliance_ci.github(ctx, jobs)  # a compliance profile's ticket, approver check and record
    return jobs


def _job(
    ctx: _Context,
    stage_id: str,
    *,
    name: str | None = None,
    needs: list[str] | None = None,
    if_: str | None = None,
    timeout: int,
    permissions: dict[str, str],
    steps: list[Any],
    environment: dict[str, Any] | None = None,
    concurrency: dict[str, Any] | None = None,
    outputs: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    services: dict[str, Any] | None = None,
    working_directory: str | None = None,
    note: str | None = None,
) -> Commented:
    stage = ctx.stage(stage_id)
    job: Job = {"name": name or stage.name}
    if needs:
        job["needs"] = needs
    if if_ is None and stage.main_only:
        if_ = ON_MAIN_PUSH
    if if_:
        job["if"] = if_
    job["runs-on"] = RUNNER
    job["timeout-minutes"] = timeout
    job["permissions"] = permissions
    if environment:
        job["environment"] = environment
    if concurrency:
        job["concurrency"] = concurrency
    if working_directory and working_directory != ".":
        job["defaults"] = {"run": {"working-directory": working_directory}}
    if outputs:
        job["outputs"] = outputs
    if env:
        job["env"] = env
    if services:
        job["services"] = services
    job["steps"] = steps
    text = _wrap(f"Stage {stage.name} ({stage.failure_policy}): {stage.policy}")
    if note:
        text += "\n" + _wrap(note)
    return comment(job, text)


def _changes_job(ctx: _Context) -> Commented:
    outputs = {_slug(unit.label): _expr(f"steps.filter.outputs.{_slug(unit.label)}") for unit in ctx.units}
    lines = [
        'if [[ "${GITHUB_EVENT_NAME}" != "pull_request" ]]; then',
        "  # A push to main builds, tests and deploys every component: the release stays coherent.",
        "  {",
        *(f'    echo "{_slug(u.label)}=true"' for u in ctx.units),
        '  } >> "${GITHUB_OUTPUT}"',
        "  exit 0",
        "fi",
        "# The checkout is the pull request's merge commit: its first parent is the base branch.",
        'changed="$(git diff --name-only HEAD^1 HEAD)"',
        "printf '%s\\n' \"${changed}\"",
        "mark() {  # output name, then an extended regular expression over changed paths",
        '  if grep --quiet --extended-regexp "$2" <<< "${changed}"; then',
        '    echo "$1=true" >> "${GITHUB_OUTPUT}"',
        "  else",
        '    echo "$1=false" >> "${GITHUB_OUTPUT}"',
        "  fi",
        "}",
        *(f"mark {_slug(u.label)} {shlex.quote(_paths_regex(u))}" for u in ctx.units),
    ]
    return comment(
        {
            "name": "Changes",
            "runs-on": RUNNER,
            "timeout-minutes": TIMEOUTS["changes"],
            "permissions": {"contents": "read"},
            "outputs": outputs,
            "steps": [
                _checkout(fetch_depth=2),
                {"name": "Find the components this change touches", "id": "filter", "run": _script(lines)},
            ],
        },
        "Monorepo path filter. A plain `git diff` (no third-party action): on a pull request, Build and\n"
        "Test run only for components whose folder (or this workflow) changed. A skipped job reports\n"
        "success, so required checks keep their names and still gate the merge; Security Scan\n"
        "always scans the whole repository.",
    )


def _paths_regex(unit: _Unit) -> str:
    workflow = _ere_escape(WORKFLOW_PATH)
    if unit.path == ".":
        return "."
    return f"^({_ere_escape(unit.path)}/|{workflow}$)"


def _build_job(ctx: _Context, unit: _Unit) -> Commented:
    toolchain = _toolchain(unit)
    steps: list[Any] = [_checkout(), *toolchain.setup, *toolchain.install]
    for command in _lint_commands(unit):
        steps.append({"name": f"Lint: {command}", "run": command})
    builds = _build_commands(unit, toolchain.family)
    for command in builds:
        step: Any = {"name": f"Build: {command}", "run": _in_workspace(command)}
        if toolchain.family == "go":
            step = comment(
                step,
                "Compiles every package. The Dockerfile builds each binary with its own -o path; here\n"
                "the point is that the code compiles, without writing outside the workspace.",
            )
        elif step["run"] != command:
            step = comment(
                step, "The output goes under $RUNNER_TEMP: the image's absolute path is not writable here."
            )
        steps.append(step)
    if not builds and toolchain.family is not None:
        steps[-1] = _note(
            steps[-1], "No build command: installing the locked dependencies is the build check."
        )
    if toolchain.family is None and not builds:
        steps.append(
            {
                "name": "Nothing to compile",
                "run": f'echo "{unit.label}: no toolchain, no build command: files go into the image as is."',
            }
        )
    audit = security_github.audit_step(unit, security_gates.level(ctx.plan.requirements))
    if audit is not None:
        steps.append(audit)
    needs = ["changes"] if ctx.monorepo else None
    return _job(
        ctx,
        stages.BUILD,
        name=_unit_name(ctx, "Build", unit),
        needs=needs,
        if_=_changed(ctx, unit),
        timeout=TIMEOUTS["build"],
        permissions={"contents": "read"},
        steps=steps,
        working_directory=unit.path,
    )


def _test_job(ctx: _Context, unit: _Unit) -> Commented:
    toolchain = _toolchain(unit)
    steps: list[Any] = [_checkout(), *toolchain.setup, *toolchain.install]
    commands = _test_commands(unit)
    for command in commands:
        steps.append({"name": f"Test: {command}", "run": command})
    if not commands:
        steps.append(
            {
                "name": "No test command",
                "run": _script(
                    [
                        f'echo "::warning title=No tests::no test command was found for {unit.label}; '
                        "add one so this "
                        'stage can stop a broken change"',
                    ]
                ),
            }
        )
    services: dict[str, Any] = {}
    env: dict[str, str] = {}
    missing: list[str] = []
    for name in dict.fromkeys(s for c in unit.components for s in c.services):
        service = SERVICES.get(name)
        if service is None:
            missing.append(name)
            continue
        container: dict[str, Any] = {"image": service.image}
        if service.env:
            container["env"] = dict(service.env)
        container["ports"] = [f"{service.port}:{service.port}"]
        container["options"] = (
            f'--health-cmd "{service.health}" --health-interval 5s --health-timeout 5s --health-retries 20'
        )
        services[name] = container
        if name in SERVICE_ENV:
            env[SERVICE_ENV[name]] = service.local_url
    note = None
    if services:
        note = (
            f"Service containers ({', '.join(services)}) start healthy before the steps; images pinned to "
            f"a version line (checked {SERVICES_CHECKED})."
        )
    if missing:
        note = (note + "\n" if note else "") + (
            f"No CI container for {', '.join(missing)}: tests that need it must start it themselves."
        )
    return _job(
        ctx,
        stages.TEST,
        name=_unit_name(ctx, "Test", unit),
        needs=["changes"] if ctx.monorepo else None,  # it compiles what it tests: Build runs beside it
        if_=_changed(ctx, unit),
        timeout=TIMEOUTS["test"],
        permissions={"contents": "read"},
        services=services or None,
        env=env or None,
        steps=steps,
        working_directory=unit.path,
        note=note,
    )


def _security_job(ctx: _Context) -> Commented:
    steps: list[Any] = [_checkout(), *security_github.scan_steps(ctx)]
    return _job(
        ctx,
        stages.SECURITY_SCAN,
        timeout=TIMEOUTS["security-scan"],
        permissions={
            "contents": "read",
            "security-events": "write",
            "actions": "read",
        },
        steps=steps,
        note="security-events: write only to upload SARIF; actions: read lets the upload read the run\n"
        "in private repositories. What blocks: docs/deploy/DEPLOYMENT.md (Security gates).",
    )


def _package_job(whole: _Context, unit: _Unit) -> Commented:
    """Build, push, scan, SBOM and sign one unit's image. A monorepo gets one such job per image,
    so the images build side by side, each after its own Build and Test."""
    ctx = whole.for_unit(unit)
    plan = ctx.plan
    registry, prefix_literal = _registry(plan)
    if prefix_literal is None:
        prefix_step: Any = comment(
            {
                "name": "Image repository",
                "id": "prefix",
                "run": 'echo "prefix=ghcr.io/${GITHUB_REPOSITORY,,}" >> "${GITHUB_OUTPUT}"',
            },
            "GHCR of this repository, lower-cased (registry paths must be).",
        )
    else:
        prefix_step = {
            "name": "Image repository",
            "id": "prefix",
            "env": {"IMAGE_PREFIX": prefix_literal},
            "run": 'echo "prefix=${IMAGE_PREFIX}" >> "${GITHUB_OUTPUT}"',
        }
    if registry == "ghcr.io":
        login: Any = comment(
            {
                "name": "Log in to GHCR",
                "uses": uses("docker/login-action"),
                "with": {
                    "registry": "ghcr.io",
                    "username": _expr("github.actor"),
                    "password": _expr("github.token"),
                },
            },
            "The job's own short-lived GITHUB_TOKEN (packages: write); no stored registry password.",
        )
    else:
        login = comment(
            {
                "name": f"Log in to {registry}",
                "uses": uses("docker/login-action"),
                "with": {
                    "registry": registry,
                    "username": _expr("secrets.REGISTRY_USERNAME"),
                    "password": _expr("secrets.REGISTRY_PASSWORD"),
                },
            },
            "A registry outside GitHub: prefer its OIDC federation (ECR, Artifact Registry and ACR accept\n"
            "GitHub's ID token) over these stored credentials when it offers one.",
        )
    steps: list[Any] = [
        _checkout(),
        prefix_step,
        {"name": "Set up Buildx", "uses": uses("docker/setup-buildx-action")},
        login,
    ]
    refs_env: dict[str, str] = {"PREFIX": _expr("steps.prefix.outputs.prefix")}
    refs_lines: list[str] = []
    outputs: dict[str, str] = {}
    for image in ctx.images:
        slug = _slug(image.name)
        steps.append(
            comment(
                {
                    "name": f"Build and push {image.name}",
                    "id": f"build-{slug}",
                    "uses": uses("docker/build-push-action"),
                    "with": {
                        "context": image.context,
                        "file": image.dockerfile,
                        "push": True,
                        "tags": f"{_expr('steps.prefix.outputs.prefix')}/{image.name}:{_expr('github.sha')}"
                        + (
                            # Flux image automation (dev) picks the newest main-<commit>-<run number> tag.
                            f"\n{_expr('steps.prefix.outputs.prefix')}/{image.name}:main-{_expr('github.sha')}-"
                            f"{_expr('github.run_number')}"
                            if flux_automation(ctx.plan)
                            else ""
                        ),
                        "cache-from": f"type=gha,scope={slug}",
                        "cache-to": f"type=gha,mode=max,scope={slug}",
                        "provenance": "mode=max",
                        "sbom": True,
                    },
                },
                "Tagged with the commit SHA; later stages deploy it by digest, so staging and production\n"
                "run the same bytes. Layer cache per image in the Actions cache; provenance and SBOM\n"
                "attestations are pushed with it.",
            )
        )
        variable = _digest_var(image.name)
        refs_env[variable] = _expr(f"steps.build-{slug}.outputs.digest")
        refs_lines.append(f'  echo "{slug}=${{PREFIX}}/{image.name}@${{{variable}}}"')
        outputs[f"image-{slug}"] = _expr(f"steps.refs.outputs.{slug}")
    steps.append(
        {
            "name": "Record image references",
            "id": "refs",
            "env": refs_env,
            "run": _script(["{", *refs_lines, '} >> "${GITHUB_OUTPUT}"']),
        }
    )
    steps.extend(  # the image gate; its report is the scan attestation Package signs
        security_github.image_gate_steps(
            ctx, {image.name: _expr(f"steps.refs.outputs.{_slug(image.name)}") for image in ctx.images}
        )
    )
    return _job(
        ctx,
        stages.PACKAGE,
        name=_unit_name(whole, "Package", unit),
        needs=[*ctx.build_jobs(), *ctx.test_jobs(), stages.SECURITY_SCAN, security_github.SAST_JOB],
        timeout=TIMEOUTS["package"],
        permissions={"contents": "read", "packages": "write", "id-token": "write"},
        outputs=outputs,
        steps=[
            *steps,
            *security_github.sign_steps(
                ctx, {image.name: _expr(f"steps.refs.outputs.{_slug(image.name)}") for image in ctx.images}
            ),
        ],
        note="id-token: write only for Cosign's keyless signature (only Package jobs sign).",
    )


def _deploy_job(ctx: _Context, stage_id: str, env: EnvironmentPlan) -> Commented:
    prod = stage_id == stages.DEPLOY_PROD
    github_env = _github_environment(env)
    needs = [stages.APPROVAL, *ctx.package_jobs()] if prod else ctx.package_jobs()
    job_env = _deploy_env(ctx, env)
    outputs = None
    if ctx.gitops:
        steps = _gitops_deploy_steps(ctx, env)
        # A separate environment repository is pushed to with GITOPS_PUSH_TOKEN, not this job's token.
        permissions = {"contents": "read" if gitops_repo.separate(ctx.plan) else "write", "id-token": "write"}
        outputs = {"commit": _expr("steps.publish.outputs.commit")}
        timeout = TIMEOUTS["deploy" if env.auto_deploy else "deploy-gitops-manual"]
        note = (
            "GitOps: this job commits the pinned digests to Git and pushes (contents: write, the only job\n"
            "with it besides Verify's revert); the controller applies them. id-token: write only for a\n"
            "read-only look at the Deployments while waiting."
        )
    else:
        steps = _imperative_deploy_steps(ctx, env)
        permissions = {"contents": "read", "id-token": "write"}
        if targets.is_target(ctx.plan):  # id-token only where the target's cloud takes the OIDC token
            permissions = target_github.permissions(ctx.plan)
        timeout = TIMEOUTS["deploy"]
        note = (
            "id-token: write lets the job request the GitHub OIDC token it authenticates to the cluster with."
        )
    if prod:
        note += (
            f"\nThe `{PROD_ENVIRONMENT}` environment must require reviewers (Settings > Environments): that\n"
            "protection rule is the Approval stage's gate, and it holds this job before it starts,\n"
            "before it can read the environment's variables or get a token for it."
        )
    elif env.name != "staging":
        note += f"\nNo staging environment was requested: this stage deploys to {env.name}."
    if _registry(ctx.plan)[0] == "ghcr.io":
        permissions = {**permissions, "packages": "read"}
        note += "\npackages: read lets Cosign read the image's signature and attestations on GHCR."
    steps = [  # deploy notifications and markers (render.notify), when requested
        *notify.github_steps(ctx.plan, env, "start", "success()", GITHUB),
        *security_github.verify_steps(ctx, _registry(ctx.plan)[0]),  # nothing unsigned deploys
        *steps,
        *notify.github_steps(ctx.plan, env, "success", "success()", GITHUB),
        *notify.github_steps(ctx.plan, env, "failure", "failure()", GITHUB),
    ]
    return _job(
        ctx,
        stage_id,
        needs=needs,
        timeout=timeout,
        permissions=permissions,
        environment=_environment_block(github_env, env),
        concurrency={"group": f"deploy-{github_env}", "cancel-in-progress": False},
        outputs=outputs,
        env=job_env,
        steps=steps,
        note=note,
    )


def _integration_job(ctx: _Context, env: EnvironmentPlan) -> Commented:
    return _job(
        ctx,
        stages.INTEGRATION_TEST,
        needs=[stages.DEPLOY_STAGING],
        timeout=TIMEOUTS["integration-test"],
        permissions={},
        steps=[
            comment(
                {"name": f"Smoke test {env.name}", "run": _smoke_script(ctx, env)},
                "Through the public ingress, as a user would; retries while the new pods warm up.",
            )
        ],
    )


def _approval_job(ctx: _Context, needs: list[str]) -> Commented:
    lines = [
        "{",
        f'  echo "### Waiting for approval: {PROD_ENVIRONMENT}"',
        '  echo ""',
        '  echo "Deploy Prod starts when a required reviewer of the **'
        + PROD_ENVIRONMENT
        + '** environment approves it. It deploys these images, the ones that passed the earlier stages:"',
        '  echo ""',
        *(f'  echo "- \\`${{{_image_var(image.name)}}}\\`"' for image in ctx.images),
        '} >> "${GITHUB_STEP_SUMMARY}"',
    ]
    return _job(
        ctx,
        stages.APPROVAL,
        needs=needs,
        timeout=TIMEOUTS["approval"],
        permissions={},
        env=_image_env(ctx),
        steps=[{"name": "Show what waits for approval", "run": _script(lines)}],
        note=(
            f"The gate itself is the protected `{PROD_ENVIRONMENT}` environment on Deploy Prod: required\n"
            "reviewers, deployment branches limited to main (Settings > Environments). GitHub asks the\n"
            "reviewers once, on the job that deploys, so this job does not name the environment (that\n"
            "would ask twice). It keeps the stage visible in the run and lists the digests for review."
        ),
    )


def _verify_job(ctx: _Context, env: EnvironmentPlan) -> Commented:
    job_env = _deploy_env(ctx, env)
    job_env["DEPLOY_ENVIRONMENT"] = VERIFY_ENVIRONMENT
    steps: list[Any] = []
    if ctx.gitops:
        steps.append(
            _checkout(persist=True, fetch_depth=0, why="Verify pushes the revert commit when it rolls back")
        )
    if targets.is_target(ctx.plan):  # the target's sign-in instead of kubectl's
        steps += [_checkout(), *target_github.connect_steps(ctx.plan)]
    else:
        steps.append(
            _connect_step(
                ctx,
                VERIFY_ENVIRONMENT,
                READ_ONLY
                if ctx.gitops
                else "get/list/watch on deployments, replicasets and pods and patch on deployments",
            )
        )
    steps.append(
        {
            "name": "Check the rollout",
            "run": _script(_rollout_lines(ctx, timeout="2m")),
        }
    )
    steps.append({"name": f"Probe {env.name} health", "run": _smoke_script(ctx, env)})
    bake = _bake_step(ctx, env)
    if bake is not None:
        steps.append(bake)
    permissions: dict[str, str] = {"id-token": "write"}
    if targets.is_target(ctx.plan):  # it checks out the target's files for the rollback
        permissions = target_github.permissions(ctx.plan)
    if ctx.gitops:
        job_env["DEPLOY_COMMIT"] = _expr("needs.deploy-prod.outputs.commit")
        permissions = {"contents": "read" if gitops_repo.separate(ctx.plan) else "write", "id-token": "write"}
        steps.append(
            comment(
                {
                    "name": f"Roll back {env.name}: revert the digest commit",
                    "if": "failure() && steps.connect.outcome == 'success'",
                    **({"env": _env_repo_env()} if gitops_repo.separate(ctx.plan) else {}),
                    "run": _script(_gitops_revert_lines(ctx, env)),
                },
                "Git stays the truth: the revert brings the previous digests back and the controller\n"
                "applies them (a `kubectl rollout undo` would be undone by its self-heal).",
            )
        )
        identity = (
            "Its cluster identity only reads (get/list/watch deployments, replicasets, pods);\n"
            "contents: write is for the revert."
        )
    else:
        steps.append(
            comment(
                {
                    "name": f"Roll back {env.name}",
                    "if": "failure() && steps.connect.outcome == 'success'",
                    "run": _script(
                        [
                            *_undo_lines(ctx),
                            'echo "::error::Verify failed; production was rolled back."',
                            "exit 1",
                        ]
                    ),
                },
                "Automatic rollback: undo each Deployment this run changed, wait for it, and fail the run.\n"
                "Migrations are not reversed; they must stay backward compatible (expand/contract).",
            )
        )
        identity = (
            "Its cluster identity needs get/list/watch on deployments, replicasets and pods, and patch on\n"
            "deployments (what `kubectl rollout undo` does), nothing else."
        )
        if targets.is_target(ctx.plan):
            identity = "Its cloud identity may read the service and move it back to the previous release."
    steps += notify.github_steps(
        ctx.plan, env, "rollback", "failure() && steps.connect.outcome == 'success'", GITHUB
    )
    return _job(
        ctx,
        stages.VERIFY,
        needs=[stages.DEPLOY_PROD, *ctx.package_jobs()],
        timeout=TIMEOUTS["verify"],
        permissions=permissions,
        environment={"name": VERIFY_ENVIRONMENT, "deployment": False},
        concurrency={"group": f"deploy-{PROD_ENVIRONMENT}", "cancel-in-progress": False},
        env=job_env,
        steps=steps,
        note=(
            f"Runs in the `{VERIFY_ENVIRONMENT}` environment (deployment branches: main; no reviewers, the\n"
            "same KUBE_* variables as production) so a failed check rolls back at once instead of waiting\n"
            f"for a second approval. {identity} `deployment: false`: it records no deployment of its own."
        ),
    )


def _bake_step(ctx: _Context, env: EnvironmentPlan) -> Commented | None:
    """Watch production's error ratio and p99 latency in Prometheus for BAKE_MINUTES after the
    rollout; a breach fails the step, and the job's rollback step runs (docs/deploy/MONITORING.md)."""
    lines = bake.bake_lines(ctx.plan, env, GITHUB, f"on the {VERIFY_ENVIRONMENT} environment")
    if lines is None:
        return None
    return comment(
        {
            "name": f"Watch the error budget for {BAKE_MINUTES} minutes",
            "env": {
                "PROMETHEUS_URL": _expr("vars.PROMETHEUS_URL"),
                "PROMETHEUS_TOKEN": _expr("secrets.PROMETHEUS_TOKEN"),
            },
            "run": _script(lines),
        },
        _wrap(
            f"Bake: every minute from minute {BAKE_FIRST_CHECK_MINUTES} to {BAKE_MINUTES}, PromQL over the "
            "time since the rollout finished; more 5xx than the fast-burn alert allows, or a p99 above the "
            "objective, fails the step and the rollback below runs. Skipped (with a notice) while the "
            f"{VERIFY_ENVIRONMENT} environment has no PROMETHEUS_URL variable; PROMETHEUS_TOKEN is an "
            "optional bearer token secret. Queries: docs/deploy/MONITORING.md."
        ),
    )


# -- deploy steps --------------------------------------------------------------------------


def _deploy_env(ctx: _Context, env: EnvironmentPlan) -> dict[str, str]:
    return {
        "DEPLOY_ENVIRONMENT": _github_environment(env),
        "DEPLOY_TARGET": env.name,
        "NAMESPACE": env.namespace,
        "OVERLAY": ci.pinned_path(ctx.plan, env),
        **_image_env(ctx),
        **(target_github.step_env(ctx.plan) if targets.is_target(ctx.plan) else {}),
    }


def _image_env(ctx: _Context) -> dict[str, str]:
    """Each image's reference, from the Package job that pushed it."""
    return {
        _image_var(unit.image.name): _expr(f"needs.{job_id}.outputs.image-{_slug(unit.image.name)}")
        for unit, job_id in zip(ctx.units, ctx.package_jobs(), strict=True)
    }


def _set_image_step(ctx: _Context, env: EnvironmentPlan) -> Any:
    return comment(
        {
            "name": f"Pin this run's images in the {packaging.settings_noun(ctx.plan)}",
            "run": _script(list(_commands(ctx, env).set_image)),
        },
        "kustomize and kubectl are preinstalled on GitHub's Ubuntu runners. The digest, not the tag,\n"
        "is pinned: what passed the earlier stages is exactly what runs.",
    )


def _imperative_deploy_steps(ctx: _Context, env: EnvironmentPlan) -> list[Any]:
    if targets.is_target(ctx.plan):  # Cloud Run, ECS, Fly.io, …: sign in, then the target's commands
        return target_github.deploy_steps(
            ctx.plan, env, _checkout(), _script(ci.deploy_lines(ctx, env)), _script(_undo_lines(ctx))
        )
    commands = _commands(ctx, env)
    access = "what the deploy applies (its objects in the namespace)"
    steps: list[Any] = [
        _checkout(),
        _connect_step(ctx, _github_environment(env), access),
        *([_set_image_step(ctx, env)] if commands.set_image else []),  # Helm takes the digests on its command line
    ]
    if commands.migrate:
        steps.append(
            comment(
                {"name": "Run database migrations", "run": _script(list(commands.migrate))},
                "The migration Job runs the new image before any new pod starts; the rollout waits for it\n"
                "to complete (its previous run is deleted first: a Job's template cannot change).",
            )
        )
    steps.append(
        {
            "name": packaging.apply_step_name(ctx.plan, env.name),
            "id": "apply",
            "run": _script(list(commands.apply)),
        }
    )
    steps.append({"name": "Wait for the rollout", "id": "rollout", "run": _script(list(commands.rollout))})
    steps.append(
        comment(
            {
                "name": "Undo a rollout that did not become ready",
                "if": "failure() && steps.rollout.outcome == 'failure'",
                "run": _script(_undo_lines(ctx)),
            },
            "Only after a rollout that started and failed; the previous version keeps serving.",
        )
    )
    return steps


def _env_repo_env() -> dict[str, str]:
    """gitops_repo separate: where CI commits, and a token that may push there."""
    return {"GITOPS_REPO": _expr("vars.GITOPS_REPO"), "GITOPS_PUSH_TOKEN": _expr("secrets.GITOPS_PUSH_TOKEN")}


def _gitops_deploy_steps(ctx: _Context, env: EnvironmentPlan) -> list[Any]:
    wait_lines = ci.gitops_wait_lines(ctx, env, GITHUB)
    separate = gitops_repo.separate(ctx.plan)
    publish_env = _env_repo_env() if separate else None
    return [
        _checkout()
        if separate
        else _checkout(persist=True, fetch_depth=0, why="this job pushes the digest commit to main"),
        *([] if separate else [_set_image_step(ctx, env)]),
        comment(
            {
                "name": "Commit and push the digests",
                "id": "publish",
                **({"env": publish_env} if publish_env else {}),
                "run": _script(
                    [
                        *_git_identity_lines(),
                        *(ci.gitops_pin_lines(ctx, env, GITHUB) if separate else []),
                        'git add "${OVERLAY}"',
                        "if git diff --cached --quiet; then",
                        '  echo "These images are already pinned; nothing to commit."',
                        "  exit 0",
                        "fi",
                        "git commit --quiet --message \\",
                        '  "deploy(${DEPLOY_TARGET}): pin images built from ${GITHUB_SHA} [skip ci]"',
                        *_push_lines(),
                        'echo "commit=$(git rev-parse HEAD)" >> "${GITHUB_OUTPUT}"',
                    ]
                ),
            },
            "[skip ci]: the commit only moves digests. (A push with GITHUB_TOKEN starts no workflow anyway;\n"
            "the marker matters if you switch to an app token.) If main is protected, let\n"
            "github-actions[bot] bypass the rule for this path, or push with a GitHub App's token.",
        ),
        _connect_step(ctx, _github_environment(env), READ_ONLY),
        comment(
            {
                "name": f"Wait for {gitops_repo.controller(ctx.plan)} to apply the commit",
                "id": "sync",
                "run": _script(wait_lines),
            },
            "Read-only: the controller deploys; this job only watches the Deployments until they run\n"
            "this run's digests (migrations run in the cluster, as an Argo CD Sync hook).",
        ),
        {"name": "Wait for the rollout", "id": "rollout", "run": _script(_rollout_lines(ctx))},
        comment(
            {
                "name": "Revert the digest commit",
                "if": "failure() && steps.publish.outputs.commit != '' && steps.connect.outcome == 'success'",
                "env": {
                    "DEPLOY_COMMIT": _expr("steps.publish.outputs.commit"),
                    **(_env_repo_env() if separate else {}),
                },
                "run": _script(_gitops_revert_lines(ctx, env)),
            },
            "A rollout that did not become ready is undone the GitOps way: revert, push, let it sync.",
        ),
    ]


def _connect_step(ctx: _Context, github_env: str, access: str) -> Any:
    helper = [
        "#!/usr/bin/env bash",
        "# kubectl runs this whenever it needs credentials. A GitHub ID token lives five minutes, so",
        "# each call asks for a fresh one; nothing long-lived is stored.",
        "set -euo pipefail",
        'response="$(curl --fail --silent --show-error \\',
        '  --header "Authorization: bearer ${ACTIONS_ID_TOKEN_REQUEST_TOKEN}" \\',
        f'  "${{ACTIONS_ID_TOKEN_REQUEST_URL}}&audience={KUBE_AUDIENCE}")"',
        'jq --compact-output \'{apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", '
        'status: {token: .value}}\' <<< "${response}"',
    ]
    lines = [
        'if [[ -z "${KUBE_API_SERVER}" || -z "${KUBE_CA_DATA}" ]]; then',
        '  echo "::error::Set the variables KUBE_API_SERVER and KUBE_CA_DATA on the ${DEPLOY_ENVIRONMENT} '
        'environment (Settings > Environments)."',
        "  exit 1",
        "fi",
        "# Not beside the kubeconfig: kubectl stores the path relative to it, and a bare name would",
        "# be looked up on PATH instead.",
        'mkdir -p "${RUNNER_TEMP}/kube-auth"',
        'helper="${RUNNER_TEMP}/kube-auth/github-oidc-token"',
        "cat > \"${helper}\" <<'EOF'",
        *helper,
        "EOF",
        'chmod 700 "${helper}"',
        'printf \'%s\' "${KUBE_CA_DATA}" | base64 --decode > "${RUNNER_TEMP}/kube-ca.crt"',
        'export KUBECONFIG="${RUNNER_TEMP}/kubeconfig"',
        'echo "KUBECONFIG=${KUBECONFIG}" >> "${GITHUB_ENV}"',
        'kubectl config set-cluster target --server="${KUBE_API_SERVER}" \\',
        '  --certificate-authority="${RUNNER_TEMP}/kube-ca.crt" --embed-certs=true',
        "kubectl config set-credentials github-oidc --exec-api-version=client.authentication.k8s.io/v1 \\",
        '  --exec-command="${helper}" --exec-interactive-mode=Never',
        "kubectl config set-context target --cluster=target --user=github-oidc",
        "kubectl config use-context target",
        "kubectl auth whoami  # the user the API server sees: bind RBAC to it",
    ]
    return comment(
        {
            "name": "Connect kubectl (GitHub OIDC, no stored key)",
            "id": "connect",
            "env": {
                "KUBE_API_SERVER": _expr("vars.KUBE_API_SERVER"),
                "KUBE_CA_DATA": _expr("vars.KUBE_CA_DATA"),
            },
            "run": _script(lines),
        },
        _wrap(
            f"No cloud or cluster key is stored. The job requests a GitHub OIDC ID token (audience "
            f'"{KUBE_AUDIENCE}") and kubectl sends it as a bearer token. The API server must trust '
            "the issuer "
            f"{OIDC_ISSUER} (structured authentication, or --oidc-issuer-url with "
            f"--oidc-client-id={KUBE_AUDIENCE} and --oidc-username-claim=sub), and a RoleBinding in the "
            f"namespace grants the token's subject, repo:{_repository(ctx.plan)}:environment:{github_env}, "
            f"{access}. KUBE_API_SERVER (URL) and KUBE_CA_DATA (base64 CA bundle) are variables of the "
            f"{github_env} environment: addresses, not secrets."
        ),
    )


def _gitops_revert_lines(ctx: _Context, env: EnvironmentPlan) -> list[str]:
    return ci.gitops_revert_lines(ctx, env, GITHUB, _push_lines(), _git_identity_lines())


def _smoke_script(ctx: _Context, env: EnvironmentPlan) -> str:
    return _script(ci.smoke_lines(ctx, env, GITHUB))


# -- toolchains --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Toolchain:
    family: str | None
    setup: list[Any]
    install: list[Any]


def _version(unit: _Unit, family: str) -> str:
    if unit.lead.language_version:
        return unit.lead.language_version
    key = {"python": "python", "node": "node", "jvm": "java", "dotnet": "csharp"}.get(family, family)
    return RUNTIMES[key].versions[0]


def _toolchain(unit: _Unit) -> _Toolchain:
    family = _family(unit.lead)
    if family is None:
        return _Toolchain(None, [], [])
    version = _version(unit, family)
    builder = {
        "python": _python,
        "node": _node,
        "go": _go,
        "jvm": _jvm,
        "ruby": _ruby,
        "php": _php,
        "dotnet": _dotnet,
        "rust": _rust,
    }[family]
    setup, install = builder(unit, version)
    return _Toolchain(family, setup, install)


def _cache_step(what: str, paths: list[str], key_prefix: str, lock: str | None) -> Step:
    hashed = _expr(f"hashFiles('{lock}')") if lock else "nolock"
    return {
        "name": f"Cache {what}",
        "uses": uses("actions/cache"),
        "with": {
            "path": "\n".join(paths),
            "key": f"{key_prefix}-{_expr('runner.os')}-{hashed}",
            "restore-keys": f"{key_prefix}-{_expr('runner.os')}-",
        },
    }


def _python(unit: _Unit, version: str) -> tuple[list[Any], list[Any]]:
    manager = unit.lead.package_manager
    add_path = 'echo "${PWD}/.venv/bin" >> "${GITHUB_PATH}"'
    if manager == "uv":
        lock = _first(unit, "uv.lock")
        setup = [
            {
                "name": f"Set up Python {version}",
                "uses": uses("actions/setup-python"),
                "with": {"python-version": version},
            },
            {
                "name": f"Install uv {TOOLS['uv']}",
                "run": f'python -m pip install --disable-pip-version-check "uv=={TOOLS["uv"]}"',
            },
            _cache_step("uv downloads", ["~/.cache/uv"], f"uv-{version}", unit.file(lock) if lock else None),
        ]
        install: Any = comment(
            {
                "name": "Install dependencies" + (" from uv.lock" if lock else ""),
                "env": {"UV_PYTHON_DOWNLOADS": "never"},
                "run": _script(["uv sync --locked" if lock else "uv sync", add_path]),
            },
            "--locked fails when uv.lock is out of date with pyproject.toml. The venv goes on PATH for\n"
            "the commands below."
            if lock
            else "No uv.lock: commit one (`uv lock`) so CI installs exactly it.",
        )
        return setup, [install]
    if manager == "poetry":
        lock = _first(unit, "poetry.lock")
        python: Step = {
            "name": f"Set up Python {version}",
            "uses": uses("actions/setup-python"),
            "with": {"python-version": version},
        }
        if lock:
            python["with"].update({"cache": "poetry", "cache-dependency-path": unit.file(lock)})
        setup = [
            comment(
                {
                    "name": f"Install Poetry {TOOLS['poetry']}",
                    "run": f'pipx install "poetry=={TOOLS["poetry"]}"',
                },
                "Before setup-python: its Poetry cache needs the poetry command.",
            ),
            python,
        ]
        install = {
            "name": "Install dependencies" + (" from poetry.lock" if lock else ""),
            "run": _script(
                [
                    *(["poetry check --lock"] if lock else []),
                    "poetry install --no-interaction",
                    'echo "$(poetry env info --path)/bin" >> "${GITHUB_PATH}"',
                ]
            ),
        }
        return setup, [install]
    if manager == "pipenv":
        lock = _first(unit, "Pipfile.lock")
        python = {
            "name": f"Set up Python {version}",
            "uses": uses("actions/setup-python"),
            "with": {"python-version": version},
        }
        if lock:
            python["with"].update({"cache": "pipenv", "cache-dependency-path": unit.file(lock)})
        setup = [
            {"name": f"Install Pipenv {TOOLS['pipenv']}", "run": f'pipx install "pipenv=={TOOLS["pipenv"]}"'},
            python,
        ]
        install = {
            "name": "Install dependencies from Pipfile.lock",
            "run": _script(["pipenv sync --dev", 'echo "$(pipenv --venv)/bin" >> "${GITHUB_PATH}"']),
        }
        return setup, [install]
    requirements = [f for f in unit.files if re.fullmatch(r"requirements[\w.-]*\.txt", f.rsplit("/", 1)[-1])]
    python = {
        "name": f"Set up Python {version}",
        "uses": uses("actions/setup-python"),
        "with": {"python-version": version},
    }
    hashed = requirements or [f for f in unit.files if f.endswith("pyproject.toml")]
    if hashed:
        python["with"].update(
            {"cache": "pip", "cache-dependency-path": "\n".join(unit.file(f) for f in hashed)}
        )
    pip = ".venv/bin/python -m pip install --disable-pip-version-check"
    installs = [f"{pip} --requirement {shlex.quote(f)}" for f in requirements] or [f"{pip} ."]
    install = comment(
        {
            "name": "Install dependencies",
            "run": _script(["python -m venv .venv", add_path, *installs]),
        },
        "requirements.txt is the lock: pin every version. With hashes (pip-compile --generate-hashes)\n"
        "pip refuses anything that does not match them."
        if requirements
        else "No lock file: this installs the project's unpinned dependencies. Commit a lock (uv.lock,\n"
        "poetry.lock or a pinned requirements.txt) so CI and the image install the same versions.",
    )
    return [python], [install]


def _node(unit: _Unit, version: str) -> tuple[list[Any], list[Any]]:
    manager = unit.lead.package_manager or "npm"
    lock = _first(unit, *_LOCKS.get(manager, ()))
    node: Step = {
        "name": f"Set up Node.js {version}",
        "uses": uses("actions/setup-node"),
        "with": {"node-version": version},
    }
    if manager == "bun":
        setup = [
            {"name": "Set up Bun", "uses": uses("oven-sh/setup-bun")},
            _cache_step("Bun packages", ["~/.bun/install/cache"], "bun", unit.file(lock) if lock else None),
        ]
        return setup, [{"name": "Install dependencies", "run": "bun install --frozen-lockfile"}]
    if manager == "npm":
        if lock:
            node["with"].update({"cache": "npm", "cache-dependency-path": unit.file(lock)})
        install = comment(
            {"name": "Install dependencies", "run": "npm ci" if lock else "npm install"},
            "npm ci installs exactly package-lock.json and fails if it disagrees with package.json."
            if lock
            else "No package-lock.json: commit one so CI installs exactly it (npm ci).",
        )
        return [node], [install]
    store = {"pnpm": "~/.local/share/pnpm/store", "yarn": "~/.yarn/berry/cache"}.get(manager, "~/.cache")
    command = {"pnpm": "pnpm install --frozen-lockfile", "yarn": "yarn install --immutable"}.get(
        manager, f"{manager} install"
    )
    if _major(version) < NODE_WITHOUT_COREPACK:
        enable: Any = comment(
            {"name": f"Enable {manager} (corepack)", "run": f"corepack enable {manager}"},
            f"Node's bundled corepack runs the {manager} version that package.json's packageManager\n"
            "field names (add one to pin it).",
        )
    elif manager == "pnpm":
        pnpm: Step = {"name": "Set up pnpm", "uses": uses("pnpm/action-setup")}
        if unit.path != ".":
            pnpm["with"] = {"package_json_file": unit.file("package.json")}
        enable = comment(
            pnpm,
            f"Node {version} no longer bundles corepack; this reads the pnpm version from package.json's\n"
            "packageManager field, which must be set.",
        )
    else:
        enable = comment(
            {"name": f"Check {manager}", "run": f"{manager} --version"},
            f"Node {version} no longer bundles corepack: this uses the {manager} preinstalled on the runner.",
        )
    setup = [
        node,
        enable,
        _cache_step(f"{manager} store", [store], manager, unit.file(lock) if lock else None),
    ]
    return setup, [{"name": "Install dependencies", "run": command}]


def _go(unit: _Unit, version: str) -> tuple[list[Any], list[Any]]:
    lock = _first(unit, "go.sum", "go.mod") or "go.mod"
    setup = [
        {
            "name": f"Set up Go {version}",
            "uses": uses("actions/setup-go"),
            "with": {"go-version": version, "cache-dependency-path": unit.file(lock)},
        }
    ]
    install = comment(
        {"name": "Download and verify modules", "run": _script(["go mod download", "go mod verify"])},
        "go mod verify checks the downloaded modules against go.sum.",
    )
    return setup, [install]


def _jvm(unit: _Unit, version: str) -> tuple[list[Any], list[Any]]:
    maven = unit.lead.package_manager == "maven" or "pom.xml" in unit.files
    java: Step = {
        "name": f"Set up Java {version}",
        "uses": uses("actions/setup-java"),
        "with": {"distribution": "temurin", "java-version": version},
    }
    if maven:
        java["with"].update({"cache": "maven", "cache-dependency-path": unit.file("pom.xml")})
        return [comment(java, "Maven has no lock file: it resolves dependencies during the build.")], []
    return [java, {"name": "Set up Gradle (with its cache)", "uses": uses("gradle/actions/setup-gradle")}], []


def _ruby(unit: _Unit, version: str) -> tuple[list[Any], list[Any]]:
    ruby: Step = {
        "name": f"Set up Ruby {version} and install gems",
        "uses": uses("ruby/setup-ruby"),
        "with": {"ruby-version": version, "bundler-cache": True},
    }
    if unit.path != ".":
        ruby["with"]["working-directory"] = unit.path
    return [
        comment(ruby, "bundler-cache runs bundle install frozen to Gemfile.lock and caches the gems.")
    ], []


def _php(unit: _Unit, version: str) -> tuple[list[Any], list[Any]]:
    lock = _first(unit, "composer.lock")
    setup = [
        {
            "name": f"Set up PHP {version}",
            "uses": uses("shivammathur/setup-php"),
            "with": {"php-version": version, "tools": "composer", "coverage": "none"},
        },
        _cache_step(
            "Composer packages", ["~/.cache/composer"], "composer", unit.file(lock) if lock else None
        ),
    ]
    install = comment(
        {
            "name": "Install dependencies",
            "run": "composer install --no-interaction --no-progress --prefer-dist",
        },
        "composer install installs exactly composer.lock when it is present.",
    )
    return setup, [install]


def _dotnet(unit: _Unit, version: str) -> tuple[list[Any], list[Any]]:
    lock = _first(unit, "packages.lock.json")
    dotnet: Step = {
        "name": f"Set up .NET {version}",
        "uses": uses("actions/setup-dotnet"),
        "with": {"dotnet-version": version if version.count(".") >= 2 else f"{version}.x"},
    }
    if lock:
        dotnet["with"].update({"cache": True, "cache-dependency-path": unit.file(lock)})
    return [dotnet], [
        {"name": "Restore packages", "run": "dotnet restore --locked-mode" if lock else "dotnet restore"}
    ]


def _rust(unit: _Unit, version: str) -> tuple[list[Any], list[Any]]:
    lock = _first(unit, "Cargo.lock")
    setup = [
        {
            "name": f"Set up Rust {version}",
            "uses": uses("dtolnay/rust-toolchain"),
            "with": {"toolchain": version},
        },
        _cache_step(
            "Cargo registry and target",
            ["~/.cargo/registry", "~/.cargo/git", unit.file("target")],
            "cargo",
            unit.file(lock) if lock else None,
        ),
    ]
    return setup, [{"name": "Fetch crates", "run": "cargo fetch --locked" if lock else "cargo fetch"}]


# -- small helpers -----------------------------------------------------------------------


def _header(ctx: _Context) -> str:
    plan = ctx.plan
    lines = [
        header(f"CI/CD pipeline of {plan.app_name} for GitHub Actions"),
        "",
        "Stages, in order (each job's comment gives its failure policy):",
        "  " + " -> ".join(s.name for s in plan.stages if _rendered(ctx, s.id)),
        "Pull requests run Build, Test and Security Scan; a push to main runs them all.",
        "",
        "Set up once (Settings > Environments), each with the variables KUBE_API_SERVER and KUBE_CA_DATA:"
        if not targets.is_target(plan)
        else "Set up once (Settings > Environments), each with the variables and secrets of DEPLOYMENT.md:",
    ]
    if ctx.preprod is not None:
        lines.append(f"  {_github_environment(ctx.preprod)}: deployment branches limited to main.")
        if ctx.preprod.name != "staging":
            lines.append(
                f"  (No staging environment was requested: Deploy Staging deploys to {ctx.preprod.name}.)"
            )
    if ctx.prod is not None:
        lines.append(
            f"  {PROD_ENVIRONMENT}: required reviewers (the Approval gate), deployment branches: main."
        )
        lines.append(f"  {VERIFY_ENVIRONMENT}: deployment branches: main, no reviewers (Verify's rollback).")
    if ctx.gitops:
        lines.append(
            f"GitOps: CI commits the digests to {packaging.pinned_file(ctx.plan, '<env>')} and\n"
            f"{gitops_repo.controller(ctx.plan)} applies them (bootstrap once: kubectl apply -k deploy/gitops); "
            "CI's cluster\nidentities only read, to wait and verify."
        )
    others = [env.name for env in plan.environments if env is not ctx.preprod and env is not ctx.prod]
    if others:
        lines.append(f"Not deployed by this pipeline: {', '.join(others)} (by hand: docs/deploy/RUNBOOK.md).")
    if ctx.preprod is None:
        lines.append(
            "No pre-production environment was requested: Deploy Staging and Integration Test are left out.\n"
            "deploysmith: ignore[DS-PIPE-001] no pre-production environment was requested"
        )
    if ctx.prod is None:
        lines.append(
            "No prod environment was requested: Approval, Deploy Prod and Verify are left out; add prod to\n"
            "the environments and regenerate to get them.\n"
            "deploysmith: ignore[DS-PIPE-001] no prod environment was requested"
        )
    lines += [
        "",
        f"Actions are pinned to full commit SHAs (release tags checked {PINS_CHECKED}); Dependabot or",
        "Renovate can keep them current. No `${{ }}` expression is expanded inside a script: values",
        "reach scripts through env.",
    ]
    return "\n".join(lines)


def _repository(plan: Plan) -> str:
    """owner/repo on GitHub when the remote says so, else a placeholder."""
    remote = (plan.stack.git_remote or "").strip()
    match = re.search(r"github\.com[/:]([^/\s]+/[^/\s]+?)(?:\.git)?/?$", remote)
    return match.group(1) if match else "<owner>/<repo>"


def _github_environment(env: EnvironmentPlan) -> str:
    return PROD_ENVIRONMENT if env.name == "prod" else env.name


def _environment_block(name: str, env: EnvironmentPlan) -> dict[str, Any]:
    block: dict[str, Any] = {"name": name}
    if env.host:
        block["url"] = f"https://{env.host}"
    return block


def _registry(plan: Plan) -> tuple[str, str | None]:
    """(registry host, literal image prefix or None when CI computes it from the repository)."""
    requirements = plan.requirements
    if requirements.registry:
        prefix = image_prefix(plan) or requirements.registry
        return requirements.registry.split("/", 1)[0], prefix.lower()
    if requirements.image:
        return "ghcr.io", f"ghcr.io/{requirements.image.lower()}"
    return "ghcr.io", None


def _checkout(persist: bool = False, fetch_depth: int | None = None, why: str | None = None) -> Any:
    step: Step = {
        "name": "Check out",
        "uses": uses("actions/checkout"),
        "with": {"persist-credentials": persist},
    }
    if fetch_depth is not None:
        step["with"]["fetch-depth"] = fetch_depth
    if persist:
        return comment(step, f"Credentials stay in the checkout ({why or 'this job pushes'}).")
    return step


def _changed(ctx: _Context, unit: _Unit) -> str | None:
    if not ctx.monorepo:
        return None
    return f"needs.changes.outputs.{_slug(unit.label)} == 'true'"


def _unit_name(ctx: _Context, stage_name: str, unit: _Unit) -> str:
    return f"{stage_name} ({unit.label})" if ctx.monorepo else stage_name


def _note(value: Any, text: str) -> Commented:
    """Add a comment above a value, after the one it already has."""
    if isinstance(value, Commented):
        return comment(value.value, f"{value.comment}\n{text}")
    return comment(value, text)


def _expr(text: str) -> str:
    return "${{ " + text + " }}"


_USES_LINE = re.compile(r"^(\s*(?:- )?uses: )(\S+)$", re.MULTILINE)


def _annotate_pins(text: str) -> str:
    """Append `# <tag>` to every pinned `uses:` line (comments cannot be attached to a
    scalar through yamlout, and the tag must sit on the same line for update tools)."""

    def tagged(match: re.Match[str]) -> str:
        tag = tag_of(match.group(2))
        return match.group(0) + (f" # {tag}" if tag else "")

    return _USES_LINE.sub(tagged, text)


__all__ = ["render", "render_workflow"]

"""CircleCI: the plan's nine stages as `.circleci/config.yml` (version 2.1), the CircleCI way.

Stage → job in one workflow (a `requires` graph), and how each policy is enforced:

    Build, Test            block: a failed job stops every job that `requires` it; caches
                           keyed on the lock file's checksum; `store_test_results`. Both
                           start at once (with Security Scan); Package requires all three
    Security Scan          block-on-severity: Trivy exits 1 on CRITICAL/HIGH
    Package                block: images pushed once; digests travel in the workspace. A
                           monorepo gets one package-<image> job per image (and one
                           package-sign-<image> after each): the images build side by side
    Deploy Staging         block: branch filter `main`, the staging context; a
                           `when: on_fail` step undoes a rollout that did not become ready
    Integration Test       block: smoke checks through the ingress
    Approval               approval: a `type: approval` job; the production context,
                           restricted to the deployers' security group, lets only them approve
    Deploy Prod            block: as staging, with the production context
    Verify                 rollback: a `when: on_fail` step rolls production back

Every branch and pull request runs Build, Test and Security Scan; main runs every job.
Secrets live in contexts. The deploy jobs reach the cluster with CircleCI's OIDC token
(no stored key). No orbs: each job is a few shell lines, and an orb would be one more
dependency to pin and review without saving any of them.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.plan import SERVICE_ENV
from deploysmith.plan import pipeline as stages
from deploysmith.plan.gates import mechanism
from deploysmith.render import backups, bake, compliance_ci, notify, security_circleci
from deploysmith.render import ci_common as ci
from deploysmith.render import security as sec
from deploysmith.render.common import header, image_prefix
from deploysmith.render.targets import is_target
from deploysmith.render.targets import platforms as target_ci
from deploysmith.render.yamlout import Commented, comment, dump

PATH = ".circleci/config.yml"
PLATFORM = "circleci"
CACHE_ROOT = "/tmp/ci-cache"
WORKSPACE = "/tmp/workspace"
REFS_FILE = "image-refs.env"  # package-<image> jobs write image-refs-<image>.env (_refs_file)
COMMIT_FILE = "deploy-commit.env"
KUBE_DIR = "/tmp/kube"
KUBECONFIG = f"{KUBE_DIR}/config"
HELPER = f"{KUBE_DIR}/circleci-oidc-token"
BOT_NAME = "deploysmith-ci"
BOT_EMAIL = "deploysmith-ci@users.noreply.circleci.invalid"
CACHE_VERSION = "v1"  # bump to drop every cache
MAIN_ONLY = {"branches": {"only": [ci.MAIN]}}


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return (RenderedFile(PATH, render_config(plan)),)


def render_config(plan: Plan) -> str:
    ctx = ci.Context.of(plan)
    config: dict[str, Any] = {
        "version": 2.1,
        "commands": _commands(ctx),
        "jobs": _jobs(ctx),
        "workflows": {"ci-cd": {"jobs": _workflow(ctx)}},
    }
    if not config["commands"]:
        del config["commands"]
    backups.add_circleci(plan, config)  # the weekly restore test of the backups, on scheduled pipelines
    security_circleci.add_schedule(ctx, config)  # the weekly history scan and scanner self-test
    return dump(config, _header(ctx))


# -- names ---------------------------------------------------------------------------------------


def _context(ctx: ci.Context, env: EnvironmentPlan | None) -> str:
    if env is None:
        return f"{ctx.plan.app_name}-registry"
    return f"{ctx.plan.app_name}-{ctx.environment_name(env)}"


def _run(
    name: str,
    lines: list[str],
    minutes: int,
    when: str | None = None,
    environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    step: dict[str, Any] = {"name": name}
    if environment:
        step["environment"] = environment
    step["command"] = ci.script(lines)
    step["no_output_timeout"] = f"{minutes}m"
    if when:
        step["when"] = when
    return {"run": step}


def _refs_file(unit: ci.Unit) -> str:
    """The workspace file of one image's references: concurrent jobs may not persist the same
    file name (attaching the workspace then fails), so each package-<image> job writes its own."""
    return REFS_FILE.removesuffix(".env") + unit.suffix + ".env"


# -- reusable commands ----------------------------------------------------------------------------


def _commands(ctx: ci.Context) -> dict[str, Any]:
    if ctx.preprod is None and ctx.prod is None:
        return {}
    connect = [
        *ci.exec_credential_lines(
            HELPER,
            "CIRCLE_OIDC_TOKEN_V2",
            [
                "kubectl runs this whenever it needs credentials: the job's CircleCI OIDC token",
                "(v2), never a stored key.",
            ],
        ),
        *ci.kubeconfig_lines(HELPER, KUBECONFIG, "circleci-oidc"),
        f'echo "export KUBECONFIG={KUBECONFIG}" >> "${{BASH_ENV}}"',
        "kubectl auth whoami  # the user the API server sees: bind RBAC to it",
    ]
    commands: dict[str, Any] = {
        "kube-connect": target_ci.circleci_command(ctx.plan) if is_target(ctx.plan) else comment(
            {
                "description": "Point kubectl at the cluster with the job's OIDC token.",
                "steps": [_run("Connect kubectl (CircleCI OIDC, no stored key)", connect, 5)],
            },
            ci.wrap(
                "CIRCLE_OIDC_TOKEN_V2 exists in jobs that use a context; kubectl sends it as a bearer token. "
                "The API server trusts the issuer https://oidc.circleci.com/org/<organization id> with the "
                "organization id as audience; map the token's oidc.circleci.com/context-ids claim to a "
                "group (structured authentication) and bind that group in each namespace to only what the "
                "job does. KUBE_API_SERVER and KUBE_CA_DATA come from the context."
            ),
        ),
        "load-images": {
            "description": (
                "The image references the Package jobs pushed (one file per image), from the workspace."
                if ctx.monorepo
                else "The image references Package pushed, from the workspace."
            ),
            "steps": [
                {"attach_workspace": {"at": WORKSPACE}},
                _run("Load the image references", _load_lines(ctx), 1),
            ],
        },
    }
    if not ctx.gitops:
        commands["undo-rollout"] = {
            "description": "Undo the Deployments this run changed, and wait for them.",
            "steps": [_run("Undo this run's rollout", ci.undo_lines(ctx), 15, when="on_fail")],
        }
    return commands


def _load_lines(ctx: ci.Context) -> list[str]:
    # Every image's file by name, not a glob: a missing one fails the step instead of deploying less.
    files = [f'"{WORKSPACE}/{_refs_file(unit)}"' for unit in ctx.units]
    if len(files) == 1:
        return [f'cat {files[0]} >> "${{BASH_ENV}}"']
    return ["cat \\", *(f"  {name} \\" for name in files), '  >> "${BASH_ENV}"']


# -- jobs ----------------------------------------------------------------------------------------


def _job(ctx: ci.Context, stage_id: str, job: dict[str, Any], note: str | None = None) -> Commented:
    stage = ctx.stage(stage_id)
    text = ci.stage_comment(stage, mechanism(PLATFORM, stage_id))
    if note:
        text += "\n" + ci.wrap(note)
    return comment(job, text)


def _jobs(ctx: ci.Context) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    for unit in ctx.units:
        jobs[f"{stages.BUILD}{unit.suffix}"] = _build_job(ctx, unit)
    for unit in ctx.units:
        jobs[f"{stages.TEST}{unit.suffix}"] = _test_job(ctx, unit)
    jobs[stages.SECURITY_SCAN] = _security_job(ctx)
    jobs.update(security_circleci.gate_jobs(ctx))
    # One Package job per image, each followed by its own scan-and-sign job: the images build,
    # scan and sign side by side, so the commit stage lasts as long as the slowest image, not
    # the sum of them all.
    for unit, package in zip(ctx.units, ctx.package_jobs(), strict=True):
        jobs[package] = _package_job(ctx, unit)
        jobs.update(security_circleci.image_jobs(ctx, unit, WORKSPACE, _refs_file(unit), _registry_host(ctx)))
    if ctx.preprod is not None:
        jobs[stages.DEPLOY_STAGING] = _deploy_job(ctx, stages.DEPLOY_STAGING, ctx.preprod)
        jobs[stages.INTEGRATION_TEST] = _integration_job(ctx, ctx.preprod)
    if ctx.prod is not None:
        jobs[stages.DEPLOY_PROD] = _deploy_job(ctx, stages.DEPLOY_PROD, ctx.prod)
        jobs[stages.VERIFY] = _verify_job(ctx, ctx.prod)
    compliance_ci.circleci(ctx, jobs)  # a compliance profile's ticket check and release record
    return jobs


def _cache_key(unit: ci.Unit, cache: ci.Cache) -> tuple[str, str]:
    base = f"{CACHE_VERSION}-{cache.name}-{ci.slug(unit.label)}-{{{{ arch }}}}-"
    sums = "-".join(f'{{{{ checksum "{f}" }}}}' for f in cache.key_files)
    return base + sums, base


def _toolchain_steps(
    unit: ci.Unit, minutes: int
) -> tuple[ci.Toolchain, dict[str, str], list[Any], list[Any]]:
    """(toolchain, environment, steps before the work, steps after it)."""
    toolchain = ci.toolchain(unit)
    env = ci.cache_env(toolchain, CACHE_ROOT)
    before: list[Any] = ["checkout"]
    after: list[Any] = []
    for cache in toolchain.caches:
        key, prefix = _cache_key(unit, cache)
        before.append({"restore_cache": {"name": f"Restore the {cache.name} cache", "keys": [key, prefix]}})
        after.append(
            {
                "save_cache": {
                    "name": f"Save the {cache.name} cache",
                    "key": key,
                    "paths": [f"{CACHE_ROOT}/{cache.folder}"],
                }
            }
        )
    lines = [*toolchain.setup]
    if toolchain.path:
        folders = ":".join(p if p.startswith("/") else f"${{PWD}}/{p}" for p in toolchain.path)
        lines.append(f'echo "export PATH=\\"{folders}:\\${{PATH}}\\"" >> "${{BASH_ENV}}"')
    lines.extend(toolchain.install)
    if lines:
        before.append(_workdir(unit, _run("Install dependencies", lines, minutes)))
    return toolchain, env, before, after


def _workdir(unit: ci.Unit, step: dict[str, Any]) -> dict[str, Any]:
    if unit.path != ".":
        step["run"]["working_directory"] = unit.path
    return step


def _docker(image: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    primary: dict[str, Any] = {"image": image}
    if env:
        primary["environment"] = env
    return [primary]


def _build_job(ctx: ci.Context, unit: ci.Unit) -> Commented:
    minutes = ci.TIMEOUTS["build"]
    toolchain, env, steps, after = _toolchain_steps(unit, minutes)
    for command in ci.lint_commands(unit):
        steps.append(_workdir(unit, _run(f"Lint: {command}", [command], minutes)))
    for command in ci.build_commands(unit, toolchain.family):
        steps.append(
            _workdir(unit, _run(f"Build: {command}", [ci.in_workspace(command, "${PWD}/.ci-out")], minutes))
        )
    auditor = sec.auditor(unit, sec.level(ctx.plan.requirements))
    if auditor is not None:  # the ecosystem's own advisory check, on what was just installed
        steps.append(_workdir(unit, _run(f"Audit dependencies ({auditor.tool})", list(auditor.lines), minutes)))
    if toolchain.family is None and len(steps) == 1:
        steps.append(
            _run(
                "Nothing to compile",
                [f'echo "{unit.label}: no toolchain, no build command: files go into the image as is."'],
                1,
            )
        )
    notes = [
        f"Runs in {toolchain.image}, the Dockerfile's build image (same version line).",
        *toolchain.notes,
    ]
    if toolchain.caches:
        notes.append(
            "The cache key holds the lock file's checksum; a changed lock starts from the newest older cache."
        )
    return _job(
        ctx,
        stages.BUILD,
        {
            "docker": _docker(toolchain.image, env or None),
            "resource_class": "medium",
            "steps": [*steps, *after],
        },
        " ".join(notes),
    )


def _test_job(ctx: ci.Context, unit: ci.Unit) -> Commented:
    minutes = ci.TIMEOUTS["test"]
    toolchain, env, steps, after = _toolchain_steps(unit, minutes)
    docker = _docker(toolchain.image)
    services = {name: ci.SERVICES[name] for name in unit.services if name in ci.SERVICES}
    for name, service in services.items():
        container: dict[str, Any] = {"image": service.image}
        if service.env:
            container["environment"] = dict(service.env)
        docker.append(container)
        if name in SERVICE_ENV:
            env[SERVICE_ENV[name]] = service.local_url
    if env:
        docker[0]["environment"] = env
    if services:
        steps.append(
            _run("Wait for the services", ci.wait_for_port_lines(services, lambda _, s: s.local_host), 3)
        )
    runs = ci.test_runs(unit)
    for run in runs:
        steps.append(
            _workdir(unit, _run(f"Test: {run.command}", [f"mkdir -p {ci.JUNIT_DIR}", run.command], minutes))
        )
    if not runs:
        steps.append(
            _run(
                "No test command",
                [
                    f'echo "warning: no test command was found for {unit.label}; add one so this stage can '
                    "stop a broken "
                    'change" >&2'
                ],
                1,
            )
        )
    folders = dict.fromkeys(glob.rsplit("/", 1)[0] for glob in ci.report_globs(unit))
    steps.extend({"store_test_results": {"path": folder}} for folder in folders)
    notes = [run.note for run in runs if run.note]
    if services:
        notes.append(
            f"Services ({', '.join(services)}) run as secondary containers on localhost (images pinned to a "
            f"version line, checked {ci.SERVICES_CHECKED}); the job waits for their ports."
        )
    return _job(
        ctx,
        stages.TEST,
        {"docker": docker, "resource_class": "medium", "steps": [*steps, *after]},
        " ".join(notes) or None,
    )


def _security_job(ctx: ci.Context) -> Commented:
    minutes = ci.TIMEOUTS["security-scan"]
    return _job(
        ctx,
        stages.SECURITY_SCAN,
        {
            "docker": _docker(
                ci.TRIVY_IMAGE, {"TRIVY_CACHE_DIR": f"{CACHE_ROOT}/trivy", "TRIVY_NO_PROGRESS": "true"}
            ),
            "resource_class": "small",
            "steps": [
                "checkout",
                _run(
                    "Scan dependencies and secrets",
                    [*sec.ignore_check_lines(), *sec.fs_scan_lines(sec.level(ctx.plan.requirements))],
                    minutes,
                ),
                {"store_artifacts": {"path": ci.FS_REPORT, "destination": "security/trivy-fs.json"}},
            ],
        },
        f"Trivy's own image ({ci.TRIVY_IMAGE}): CircleCI ignores its entrypoint. Vulnerabilities with no "
        "fixed "
        "version are reported but do not block (accept them in .trivyignore with a reason).",
    )


def _registry(ctx: ci.Context) -> tuple[str, str]:
    prefix = image_prefix(ctx.plan)
    if prefix is None:
        return "${IMAGE_PREFIX}", f"the IMAGE_PREFIX of the `{_context(ctx, None)}` context"
    return prefix.lower(), prefix.lower()


def _registry_host(ctx: ci.Context) -> str:
    prefix, _ = _registry(ctx)
    return "${IMAGE_PREFIX%%/*}" if prefix.startswith("$") else prefix.split("/", 1)[0]


def _package_job(ctx: ci.Context, unit: ci.Unit) -> Commented:
    minutes = ci.TIMEOUTS["package"]
    refs_file = _refs_file(unit)
    sign_job = security_circleci.sign_job(unit)
    prefix, where = _registry(ctx)
    host = "${IMAGE_PREFIX%%/*}" if prefix.startswith("$") else prefix.split("/", 1)[0]
    login = (
        f'printf \'%s\' "${{REGISTRY_PASSWORD}}" | docker login --username "${{REGISTRY_USERNAME}}" '
        f'--password-stdin "{host}"'
    )
    return _job(
        ctx,
        stages.PACKAGE,
        {
            "docker": _docker(ci.DOCKER_IMAGE),
            "resource_class": "medium",
            "steps": [
                "checkout",
                {"setup_remote_docker": {"docker_layer_caching": False}},
                _run("Log in to the registry", [login], 2),
                _run(
                    f"Build and push the {unit.label} image once" if ctx.monorepo else "Build and push each image once",
                    ci.pushed_refs_lines(ctx.for_unit(unit), prefix, "${CIRCLE_SHA1}", refs_file),
                    minutes,
                ),
                {"persist_to_workspace": {"root": ".", "paths": [refs_file]}},
            ],
        },
        f"Pushes to {where} with REGISTRY_USERNAME / REGISTRY_PASSWORD from the `{_context(ctx, None)}` "
        "context. "
        "Each image is tagged with the commit and deployed by digest: the references go into the workspace "
        "and every later job loads them, so staging and production run the same bytes. Layer cache in the "
        "registry (:buildcache); provenance and SBOM attestations are pushed with the image. "
        + (
            f"This job builds the {unit.label} image only, beside the other images' package jobs; its "
            f"references go to {refs_file}. {sign_job} blocks on the image, then signs it; the deploys "
            "wait for every image."
            if ctx.monorepo
            else f"{sign_job} blocks on the images, then signs them."
        ),
    )


def _deploy_env(ctx: ci.Context, env: EnvironmentPlan) -> dict[str, str]:
    return {
        "DEPLOY_ENVIRONMENT": ctx.environment_name(env),
        "DEPLOY_TARGET": env.name,
        "NAMESPACE": env.namespace,
        "OVERLAY": ci.pinned_path(ctx.plan, env),
    }


def _git_lines() -> list[str]:
    return [
        *ci.git_identity_lines(BOT_NAME, BOT_EMAIL),
        "git config credential.helper 'cache --timeout=900'",
        "printf 'protocol=https\\nhost=github.com\\nusername=x-access-token\\npassword=%s\\n\\n' "
        '"${GITOPS_PUSH_TOKEN}" | git credential approve',
        "git remote set-url origin "
        '"https://github.com/${CIRCLE_PROJECT_USERNAME}/${CIRCLE_PROJECT_REPONAME}.git"',
    ]


def _deploy_job(ctx: ci.Context, stage_id: str, env: EnvironmentPlan) -> Commented:
    minutes = ci.TIMEOUTS["deploy" if (env.auto_deploy or not ctx.gitops) else "deploy-gitops-manual"]
    steps: list[Any] = [
        "checkout",
        "load-images",
        _run(  # nothing unsigned deploys
            "Verify signatures and attestations",
            security_circleci.verify_lines(ctx, _registry_host(ctx)),
            5,
        ),
        "kube-connect",
    ]
    if ctx.gitops:
        push = ci.push_lines(ci.PLAIN, "may GITOPS_PUSH_TOKEN push to main (branch protection)?")
        steps.append(
            _run(
                "Commit and push the digests",
                [
                    *_git_lines(),
                    "git checkout --quiet -B deploy",
                    *ci.gitops_pin_lines(ctx, env, ci.PLAIN),
                    *ci.gitops_publish_lines(
                        push,
                        "${CIRCLE_SHA1}",
                        record=(f'echo "export DEPLOY_COMMIT=$(git rev-parse HEAD)" > {COMMIT_FILE}',),
                    ),
                    f"touch {COMMIT_FILE}",
                ],
                5,
            )
        )
        steps.append({"persist_to_workspace": {"root": ".", "paths": [COMMIT_FILE]}})
        steps.append(
            _run(
                ci.gitops_wait_name(ctx),
                [*ci.gitops_wait_lines(ctx, env, ci.PLAIN), *ci.rollout_lines(ctx)],
                minutes,
            )
        )
        steps.append(
            _run(
                "Revert the digest commit",
                [
                    f"DEPLOY_COMMIT=\"$(sed -n 's/^export DEPLOY_COMMIT=//p' {COMMIT_FILE})\"",
                    *ci.gitops_revert_lines(ctx, env, ci.PLAIN, push, _git_lines()),
                ],
                10,
                when="on_fail",
            )
        )
        note = (
            "GitOps: commits the pinned digests to Git and pushes with GITOPS_PUSH_TOKEN from the context; "
            "[skip ci] keeps the push from starting a pipeline. Argo CD applies it; the cluster identity "
            "only "
            "reads while it waits."
        )
    else:
        steps.append(_run(f"Deploy {env.name}", ci.deploy_lines(ctx, env), minutes))
        steps.append("undo-rollout")
        note = (
            f"The `{_context(ctx, env)}` context holds KUBE_API_SERVER and KUBE_CA_DATA; its OIDC token's "
            f"group may change only the objects of {env.namespace}."
        )
    steps = [  # deploy notifications and markers (render.notify), when requested
        *notify.circleci_steps(ctx.plan, env, "start", None),
        *steps,
        *notify.circleci_steps(ctx.plan, env, "success", "on_success"),
        *notify.circleci_steps(ctx.plan, env, "failure", "on_fail"),
    ]
    if stage_id == stages.DEPLOY_PROD:
        note += (
            f" Restrict the `{_context(ctx, env)}` context to the deployers' security group: then only they "
            "can "
            "approve the approval job in front of this one."
        )
    elif env.name != "staging":
        note += f" No staging environment was requested: this stage deploys to {env.name}."
    return _job(
        ctx,
        stage_id,
        {
            "docker": _docker(target_ci.deploy_image(ctx.plan) if is_target(ctx.plan) else ci.DEPLOY_IMAGE,
                              _deploy_env(ctx, env)),
            "resource_class": "small",
            "steps": steps,
        },
        note,
    )


def _integration_job(ctx: ci.Context, env: EnvironmentPlan) -> Commented:
    return _job(
        ctx,
        stages.INTEGRATION_TEST,
        {
            "docker": _docker(ci.DEPLOY_IMAGE),
            "resource_class": "small",
            "steps": [
                _run(
                    f"Smoke test {env.name}",
                    ci.smoke_lines(ctx, env, ci.PLAIN),
                    ci.TIMEOUTS["integration-test"],
                )
            ],
        },
        "Through the public ingress, as a user would; retries while the new pods warm up.",
    )


def _verify_job(ctx: ci.Context, env: EnvironmentPlan) -> Commented:
    minutes = ci.TIMEOUTS["verify"]
    steps: list[Any] = [
        "checkout",
        "load-images",
        "kube-connect",
        _run(
            f"Check {env.name}",
            [*ci.rollout_lines(ctx, timeout="2m"), *ci.smoke_lines(ctx, env, ci.PLAIN)],
            minutes,
        ),
    ]
    bake_lines = bake.bake_lines(ctx.plan, env, ci.PLAIN, f"in the {_context(ctx, env)} context")
    if bake_lines:  # the error-budget bake; a breach fails the job and the on_fail step rolls back
        steps.append(_run(bake.TITLE, bake_lines, bake.QUIET_MINUTES))
    if ctx.gitops:
        push = ci.push_lines(ci.PLAIN, "may GITOPS_PUSH_TOKEN push to main (branch protection)?")
        steps.append(
            _run(
                f"Roll back {env.name}: revert the digest commit",
                [
                    f"DEPLOY_COMMIT=\"$(sed -n 's/^export DEPLOY_COMMIT=//p' {WORKSPACE}/{COMMIT_FILE})\"",
                    *ci.gitops_revert_lines(ctx, env, ci.PLAIN, push, _git_lines()),
                ],
                10,
                when="on_fail",
            )
        )
        how = "reverts the digest commit, and Argo CD applies the previous digests"
    else:
        steps.append(
            _run(
                f"Roll back {env.name}",
                [
                    *ci.undo_lines(ctx),
                    'echo "error: Verify failed; production was rolled back." >&2',
                    "exit 1",
                ],
                15,
                when="on_fail",
            )
        )
        how = (
            "undoes each Deployment this run changed (migrations are not reversed: keep them expand/contract)"
        )
    steps += notify.circleci_steps(ctx.plan, env, "rollback", "on_fail")
    note = f"On failure the `when: on_fail` step {how}; the workflow stays failed."
    if bake_lines:
        note += (
            f" {bake.summary()} PROMETHEUS_URL (the bake is skipped while it is unset) and the optional "
            f"PROMETHEUS_TOKEN come from the `{_context(ctx, env)}` context."
        )
    return _job(
        ctx,
        stages.VERIFY,
        {
            "docker": _docker(target_ci.deploy_image(ctx.plan) if is_target(ctx.plan) else ci.DEPLOY_IMAGE,
                              _deploy_env(ctx, env)),
            "resource_class": "small",
            "steps": steps,
        },
        note,
    )


# -- the workflow ---------------------------------------------------------------------------------


def _workflow(ctx: ci.Context) -> list[Any]:
    # Build, Test and the security gates read only the source: all start at once.
    jobs: list[Any] = [
        *ctx.build_jobs(),
        *ctx.test_jobs(),
        stages.SECURITY_SCAN,
        security_circleci.SAST_JOB,
        security_circleci.SECRETS_JOB,
    ]
    # Every Package job waits for all of Build, Test and Security Scan (a broken component
    # stops every image); everything after Package waits for every image's signing job.
    signed = [security_circleci.sign_job(unit) for unit in ctx.units]
    for index, (package, sign) in enumerate(zip(ctx.package_jobs(), signed, strict=True)):
        entry = {
            package: {
                "requires": [
                    *ctx.build_jobs(),
                    *ctx.test_jobs(),
                    stages.SECURITY_SCAN,
                    security_circleci.SAST_JOB,
                    security_circleci.SECRETS_JOB,
                ],
                "context": [_context(ctx, None)],
                "filters": MAIN_ONLY,
            }
        }
        jobs.append(comment(entry, "From here on, main only.") if index == 0 else entry)
        jobs.append({sign: {"requires": [package], "context": [_context(ctx, None)], "filters": MAIN_ONLY}})
    approval_after = list(signed)
    if ctx.preprod is not None:
        jobs.append(
            {
                stages.DEPLOY_STAGING: {
                    "requires": list(signed),
                    "context": [_context(ctx, ctx.preprod)],
                    "filters": MAIN_ONLY,
                }
            }
        )
        jobs.append({stages.INTEGRATION_TEST: {"requires": [stages.DEPLOY_STAGING], "filters": MAIN_ONLY}})
        approval_after = [stages.INTEGRATION_TEST]
    if ctx.prod is not None:
        jobs.append(
            comment(
                {stages.APPROVAL: {"type": "approval", "requires": approval_after, "filters": MAIN_ONLY}},
                ci.stage_comment(ctx.stage(stages.APPROVAL), mechanism(PLATFORM, stages.APPROVAL))
                + "\n"
                + ci.wrap(
                    "The workflow holds here until someone approves in the CircleCI app. Deploy Prod uses "
                    "the "
                    f"`{_context(ctx, ctx.prod)}` context; restricted to the deployers' security group, "
                    "only its "
                    "members' approval lets the workflow continue."
                ),
            )
        )
        jobs.append(
            {
                stages.DEPLOY_PROD: {
                    "requires": [stages.APPROVAL],
                    "context": [_context(ctx, ctx.prod)],
                    "filters": MAIN_ONLY,
                }
            }
        )
        jobs.append(
            {
                stages.VERIFY: {
                    "requires": [stages.DEPLOY_PROD],
                    "context": [_context(ctx, ctx.prod)],
                    "filters": MAIN_ONLY,
                }
            }
        )
    return jobs


def _header(ctx: ci.Context) -> str:
    contexts = [_context(ctx, None), *(_context(ctx, e) for e in (ctx.preprod, ctx.prod) if e is not None)]
    lines = [
        header(f"CI/CD pipeline of {ctx.plan.app_name} for CircleCI"),
        "",
        *ci.header_lines(ctx, "CircleCI"),
        "",
        "Set once (Organization Settings > Contexts): " + ", ".join(f"`{c}`" for c in contexts) + ";",
        "restrict the production context to the deployers' security group.",
        "CircleCI has no job-level timeout key: every step carries no_output_timeout, and the waits inside",
        "the scripts (rollout status, curl, the migration Job) have their own limits.",
        f"Images run pinned to version lines (official images checked {ci.IMAGES_CHECKED}).",
    ]
    return "\n".join(lines)


__all__ = ["PATH", "render", "render_config"]


def setup_steps(plan: Plan) -> list[str]:
    """The one-time CircleCI setup DEPLOYMENT.md lists (numbered with the common steps)."""
    ctx = ci.Context.of(plan)
    push = " and `GITOPS_PUSH_TOKEN` (a token that may push to main)" if plan.requirements.gitops else ""
    envs = [e for e in (ctx.preprod, ctx.prod) if e is not None]
    return [
        f"Create the contexts (Organization Settings → Contexts): `{_context(ctx, None)}` with "
        "`REGISTRY_USERNAME` and `REGISTRY_PASSWORD`; "
        + ", ".join(f"`{_context(ctx, e)}`" for e in envs)
        + f" with `KUBE_API_SERVER` and `KUBE_CA_DATA`{push}. Restrict the production context to the "
        "deployers' security group: the `approval` job (`type: approval`) then lets the workflow go on only "
        "when one of them approves.",
        "Configure the cluster to trust CircleCI's OIDC issuer `https://oidc.circleci.com/org/<organization "
        "id>` "
        "(audience: the organization id) and map the token's `oidc.circleci.com/context-ids` claim to "
        "groups; "
        "bind each context's group to a role in its namespace only. No cluster key is stored.",
        "Make the `test` and `security-scan` jobs required status checks on `main` in your repository host.",
    ]

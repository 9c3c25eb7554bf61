"""GitLab CI: the plan's nine stages as `.gitlab-ci.yml`, written the GitLab way.

Stage → job(s) (a `needs:` DAG over the `stages:` list), and how each policy is enforced:

    Build, Test            block: a failed job skips every job that `needs` it; JUnit reports.
                           Both start at once (with Security Scan); Package needs all three
    Security Scan          block-on-severity: Trivy exits 1 on CRITICAL/HIGH; CycloneDX report;
                           GitLab's SAST and Secret Detection templates report (non-blocking)
    Package                block: images pushed once, digests handed on as a dotenv report;
                           `package-scan` blocks on the images (container_scanning report).
                           A monorepo gets a package → package-scan → package-sign chain per
                           image (`package-<image>`…), side by side; later jobs need them all
    Deploy Staging         block: `environment` with `deployment_tier`, `resource_group`;
                           `after_script` undoes a failed rollout
    Integration Test       block: smoke checks through the ingress
    Approval               approval: `when: manual`, `allow_failure: false`, on the protected
                           `production` environment (only its allowed deployers can run it)
    Deploy Prod            block: as staging, on `production`
    Verify                 rollback: `rollback-prod` (`when: on_failure`) undoes the release

Merge request pipelines run Build, Test and Security Scan; the default branch runs them all
(`workflow: rules`, no duplicate branch pipelines). In a monorepo `rules:changes` limits a
merge request's Build and Test to the components it touches. Cluster access uses GitLab's
OIDC `id_tokens` (no stored key); the registry is the project's own, with the job token.
"""

from __future__ import annotations

import shlex
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.plan import SERVICE_ENV
from deploysmith.plan import pipeline as stages
from deploysmith.plan.gates import mechanism
from deploysmith.render import backups, bake, compliance_ci, gitops, notify, security_gitlab
from deploysmith.render import ci_common as ci
from deploysmith.render import security as sec
from deploysmith.render.common import header, image_prefix
from deploysmith.render.targets import is_target
from deploysmith.render.targets import platforms as target_ci
from deploysmith.render.yamlout import Commented, comment, dump

PATH = ".gitlab-ci.yml"
PLATFORM = "gitlab"
# Scheduled pipelines (the weekly security checks) run on the default branch too: they never deploy.
ON_DEFAULT_BRANCH = '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE != "schedule"'
ON_MERGE_REQUEST = '$CI_PIPELINE_SOURCE == "merge_request_event"'
REFS_FILE = "image-refs.env"
DEPLOY_FILE = "deploy.env"
KUBE_DIR = "/tmp/kube"  # outside the checkout: nothing here is ever an artifact
KUBECONFIG = f"{KUBE_DIR}/config"
HELPER = f"{KUBE_DIR}/gitlab-oidc-token"
SCAN_REPORT = "gl-container-scanning-report"
SBOM_REPORT = "gl-sbom.cdx.json"
BOT_NAME = "deploysmith-ci"
BOT_EMAIL = "deploysmith-ci@users.noreply.gitlab.com"
ROLLBACK_JOB = "rollback-prod"
SCAN_JOB = "package-scan"
AFTER_SCRIPT_TIMEOUT = "15m"  # after_script may wait for a rollout undo (10 minutes)
TEMPLATES = ("Jobs/SAST.gitlab-ci.yml", "Jobs/Secret-Detection.gitlab-ci.yml")
KUBECTL = ".kubectl"  # the hidden job every job that talks to the cluster extends
FAN_OUT_NOTE = (
    "One package job per image, so a monorepo's images build side by side; it starts once its own "
    "unit's build and test pass (a failure elsewhere still stops every deploy, which needs all package "
    "jobs). Each job's dotenv report carries its own image's reference."
)

Job = dict[str, Any]


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return (RenderedFile(PATH, render_pipeline(plan)),)


def render_pipeline(plan: Plan) -> str:
    ctx = ci.Context.of(plan)
    pipeline: dict[str, Any] = {
        "workflow": comment(
            {
                "rules": [
                    {"if": security_gitlab.ON_SCHEDULE},
                    {"if": ON_MERGE_REQUEST},
                    {"if": "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS", "when": "never"},
                    {"if": ON_DEFAULT_BRANCH},
                ],
                "auto_cancel": {"on_new_commit": "interruptible"},
            },
            "Merge request pipelines, the default branch and its schedules (the weekly security checks,\n"
            "which never deploy); a branch with an open merge request runs\n"
            "once (as the merge request), not twice. A newer commit cancels the interruptible jobs of\n"
            "an older pipeline; deploy, approval and verify jobs are not interruptible.",
        ),
        "include": comment(
            [{"template": template} for template in TEMPLATES],
            "GitLab's SAST and Secret Detection (all tiers) report into the merge request's security\n"
            "widget; they run in the test stage and do not block. The blocking gate is security-scan.",
        ),
        "stages": comment(
            [stage.id for stage in ctx.stages],
            "One GitLab stage per plan stage; `needs:` lets each job start as soon as its inputs are done.",
        ),
        "default": {"interruptible": True},
        **({KUBECTL: _kubectl_template(ctx)} if ctx.preprod or ctx.prod else {}),
        **_jobs(ctx),
    }
    return dump(pipeline, _header(ctx))


# -- jobs --------------------------------------------------------------------------------------------


def _jobs(ctx: ci.Context) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    for unit in ctx.units:
        jobs[f"{stages.BUILD}{unit.suffix}"] = _build_job(ctx, unit)
    for unit in ctx.units:
        jobs[f"{stages.TEST}{unit.suffix}"] = _test_job(ctx, unit)
    jobs[stages.SECURITY_SCAN] = _security_job(ctx)
    jobs.update(security_gitlab.gate_jobs(ctx))
    jobs.update(security_gitlab.scheduled_jobs(ctx))
    jobs.update(backups.gitlab_jobs(ctx.plan))  # the weekly restore test of the backups
    # One package → scan → sign chain per image: in a monorepo the images build, scan and sign side
    # by side, each chain starting as soon as its own unit's build and test pass, so the commit stage
    # lasts as long as the slowest image rather than the sum of all of them. Scanning and signing stay
    # in their own jobs per image (not one job after every package) because a single scan-and-sign job
    # would put every image's Trivy scan and Cosign signature back in series on the critical path.
    for unit in ctx.units:
        one = ctx.for_unit(unit)
        package, scan = f"{stages.PACKAGE}{unit.suffix}", f"{SCAN_JOB}{unit.suffix}"
        refs = f"image-refs{unit.suffix}.env" if unit.suffix else REFS_FILE
        jobs[package] = _package_job(one, refs, several=bool(unit.suffix))
        jobs[scan] = _package_scan_job(one, package)
        jobs[f"{security_gitlab.SIGN_JOB}{unit.suffix}"] = security_gitlab.sign_job(
            one,
            _registry(ctx)[1],
            [{"if": ON_DEFAULT_BRANCH}],
            [package, scan],
        )
    # Everything after Package needs every package job: GitLab hands a job the dotenv report of each
    # job it `needs`, so each later job receives every IMAGE_<NAME>.
    packages = ctx.package_jobs()
    approval_needs = [*packages, *_per_image(ctx, SCAN_JOB)]
    if ctx.preprod is not None:
        jobs[stages.DEPLOY_STAGING] = _deploy_job(ctx, stages.DEPLOY_STAGING, ctx.preprod)
        jobs[stages.INTEGRATION_TEST] = _integration_job(ctx, ctx.preprod)
        approval_needs = [stages.INTEGRATION_TEST, *packages]
    if ctx.prod is not None:
        jobs[stages.APPROVAL] = _approval_job(ctx, approval_needs)
        jobs[stages.DEPLOY_PROD] = _deploy_job(ctx, stages.DEPLOY_PROD, ctx.prod)
        jobs[stages.VERIFY] = _verify_job(ctx, ctx.prod)
        jobs[ROLLBACK_JOB] = _rollback_job(ctx, ctx.prod)
    compliance_ci.gitlab(ctx, jobs, stages.VERIFY)  # a compliance profile's ticket, approver check, record
    _need_every_package(ctx, jobs)
    return jobs


def _per_image(ctx: ci.Context, job_id: str) -> list[str]:
    """A per-image job's ids (`package-scan`, or `package-scan-<image>` in a monorepo)."""
    return [f"{job_id}{unit.suffix}" for unit in ctx.units]


def _need_every_package(ctx: ci.Context, jobs: dict[str, Any]) -> None:
    """Jobs other modules add (the compliance record) need `package`; in a monorepo that is
    every package job, whose dotenv reports carry the image references."""
    if len(ctx.units) < 2:
        return
    for job in jobs.values():
        value = job.value if isinstance(job, Commented) else job
        needs = value.get("needs") if isinstance(value, dict) else None
        if isinstance(needs, list) and stages.PACKAGE in needs:
            at = needs.index(stages.PACKAGE)
            needs[at : at + 1] = ctx.package_jobs()


def _job(
    ctx: ci.Context,
    stage_id: str,
    *,
    image: str | dict[str, Any] | None,
    timeout: int,
    extends: str | None = None,
    needs: list[Any] | None = None,
    rules: list[dict[str, Any]] | None = None,
    variables: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    before_script: list[str] | None = None,
    script: list[str],
    after_script: list[str] | None = None,
    artifacts: dict[str, Any] | None = None,
    note: str | None = None,
) -> Commented:
    stage = ctx.stage(stage_id)
    job: Job = {"stage": stage_id}
    if extends:
        job["extends"] = extends
    if image is not None:
        job["image"] = image
    if needs is not None:
        job["needs"] = needs
    if rules is None and stage.main_only:
        rules = [{"if": ON_DEFAULT_BRANCH}]
    if rules:
        job["rules"] = rules
    job["timeout"] = f"{timeout} minutes"
    if variables:
        job["variables"] = variables
    job.update(extra or {})
    if before_script:
        job["before_script"] = before_script
    job["script"] = script
    if after_script:
        job["after_script"] = after_script
    if artifacts:
        job["artifacts"] = artifacts
    text = ci.stage_comment(stage, mechanism(PLATFORM, stage_id))
    if note:
        text += "\n" + ci.wrap(note)
    return comment(job, text)


def _image(name: str) -> dict[str, Any]:
    """An image whose entrypoint is not a shell: GitLab needs the entrypoint cleared."""
    return {"name": name, "entrypoint": [""]}


def _changes_rules(ctx: ci.Context, unit: ci.Unit) -> list[dict[str, Any]] | None:
    if not ctx.monorepo:
        return None
    return [
        {"if": ON_MERGE_REQUEST, "changes": {"paths": [f"{unit.path}/**/*", PATH]}},
        {"if": ON_DEFAULT_BRANCH},
    ]


def _toolchain_parts(unit: ci.Unit, policy: str) -> tuple[ci.Toolchain, dict[str, str], list[Any], list[str]]:
    """The toolchain, its variables, its caches and the before_script that installs it."""
    toolchain = ci.toolchain(unit)
    variables = ci.cache_env(toolchain, "${CI_PROJECT_DIR}")
    caches: list[Any] = []
    for cache in toolchain.caches:
        key: Any
        if cache.key_files:
            key = {"files": list(cache.key_files), "prefix": f"{cache.name}-{ci.slug(unit.label)}"}
        else:
            key = f"{cache.name}-{ci.slug(unit.label)}"
        caches.append({"key": key, "paths": [cache.folder], "policy": policy})
    before: list[str] = []
    if unit.path != ".":
        before.append(f"cd {shlex.quote(unit.path)}")
    before.extend(toolchain.setup)
    if toolchain.path:
        folders = ":".join(p if p.startswith("/") else f"${{PWD}}/{p}" for p in toolchain.path)
        before.append(f'export PATH="{folders}:${{PATH}}"')
    before.extend(toolchain.install)
    return toolchain, variables, caches, before


def _build_job(ctx: ci.Context, unit: ci.Unit) -> Commented:
    toolchain, variables, caches, before = _toolchain_parts(unit, "pull-push")
    script: list[str] = list(ci.lint_commands(unit))
    builds = [ci.in_workspace(c, "${PWD}/.ci-out") for c in ci.build_commands(unit, toolchain.family)]
    script.extend(builds)
    if not script:
        script.append(
            f'echo "{unit.label}: no build command; installing the locked dependencies is the build check."'
            if toolchain.family
            else f'echo "{unit.label}: no toolchain, no build command: files go into the image as is."'
        )
    auditor = sec.auditor(unit, sec.level(ctx.plan.requirements))
    if auditor is not None:  # the ecosystem's own advisory check, on what was just installed
        script.append(ci.script(list(auditor.lines)))
    extra: dict[str, Any] = {"cache": caches} if caches else {}
    return _job(
        ctx,
        stages.BUILD,
        image=toolchain.image,
        timeout=ci.TIMEOUTS["build"],
        needs=[],
        rules=_changes_rules(ctx, unit),
        variables=variables or None,
        extra=extra,
        before_script=before or None,
        script=script,
        note=_toolchain_note(ctx, unit, toolchain),
    )


def _toolchain_note(ctx: ci.Context, unit: ci.Unit, toolchain: ci.Toolchain) -> str:
    parts = [f"Runs in {toolchain.image}, the Dockerfile's build image (same version line)."]
    parts.extend(toolchain.notes)
    if toolchain.caches:
        parts.append(
            "The cache lives under .cache/ (GitLab caches only paths inside the project), keyed on "
            + ", ".join(f for c in toolchain.caches for f in c.key_files[:1] or ("the unit",))
            + "."
        )
    if ctx.monorepo:
        parts.append(f"On a merge request it runs only when {unit.path}/ (or this file) changes.")
    return " ".join(parts)


def _test_job(ctx: ci.Context, unit: ci.Unit) -> Commented:
    toolchain, variables, caches, before = _toolchain_parts(unit, "pull")
    runs = ci.test_runs(unit)
    script: list[str] = []
    if runs:
        script.append(f"mkdir -p {ci.JUNIT_DIR}")
        script.extend(run.command for run in runs)
    else:
        script.append(
            f'echo "warning: no test command was found for {unit.label}; add one so this stage can stop '
            'a broken change" >&2'
        )
    services: list[dict[str, Any]] = []
    missing: list[str] = []
    for name in unit.services:
        service = ci.SERVICES.get(name)
        if service is None:
            missing.append(name)
            continue
        entry: dict[str, Any] = {"name": service.image, "alias": name}
        if service.env:
            entry["variables"] = dict(service.env)
        services.append(entry)
        if name in SERVICE_ENV:
            variables[SERVICE_ENV[name]] = service.url_at(name)
    notes = [run.note for run in runs if run.note]
    if services:
        notes.append(
            f"Services ({', '.join(s['alias'] for s in services)}) answer on their alias; GitLab waits for "
            f"their ports before the script (images pinned to a version line, checked {ci.SERVICES_CHECKED})."
        )
    if missing:
        notes.append(
            f"No CI container for {', '.join(missing)}: tests that need it must start it themselves."
        )
    extra: dict[str, Any] = {}
    if caches:
        extra["cache"] = caches
    if services:
        extra["services"] = services
    return _job(
        ctx,
        stages.TEST,
        image=toolchain.image,
        timeout=ci.TIMEOUTS["test"],
        needs=[],
        rules=_changes_rules(ctx, unit),
        variables=variables or None,
        extra=extra,
        before_script=before or None,
        script=script,
        artifacts={
            "when": "always",
            "expire_in": "30 days",
            "reports": {"junit": ci.report_globs(unit)},
        },
        note=" ".join(notes) or None,
    )


def _security_job(ctx: ci.Context) -> Commented:
    return _job(
        ctx,
        stages.SECURITY_SCAN,
        image=_image(ci.TRIVY_IMAGE),
        timeout=ci.TIMEOUTS["security-scan"],
        needs=[],
        variables={"TRIVY_CACHE_DIR": ".cache/trivy", "TRIVY_NO_PROGRESS": "true"},
        extra={"cache": [{"key": "trivy-db", "paths": [".cache/trivy"]}]},
        script=[
            ci.script(
                [
                    *sec.ignore_check_lines(),
                    *sec.fs_scan_lines(sec.level(ctx.plan.requirements)),
                    "# The dependency list (SBOM) for GitLab's dependency scanning and dependency list",
                    f"trivy fs --format cyclonedx --skip-dirs {sec.SELFTEST_DIR} --output {SBOM_REPORT} .",
                ]
            )
        ],
        artifacts={
            "when": "always",
            "expire_in": "30 days",
            "paths": [ci.FS_REPORT],
            "reports": {"cyclonedx": [SBOM_REPORT]},
        },
        note="Vulnerabilities with no fixed version are reported but do not block (accept them in "
        ".trivyignore with a reason)."
        + (
            " In a monorepo the scan runs on every merge request, whichever builds ran."
            if ctx.monorepo
            else ""
        ),
    )


def _registry(ctx: ci.Context) -> tuple[str, list[str], dict[str, str], str]:
    """(image prefix, login lines, trivy credentials, why) for the registry the plan names,
    else the project's own GitLab registry with the job token."""
    requirements = ctx.plan.requirements
    if requirements.registry:
        prefix = (image_prefix(ctx.plan) or requirements.registry).lower()
        host = requirements.registry.split("/", 1)[0]
        login = [
            f'printf \'%s\' "${{REGISTRY_PASSWORD}}" | docker login --username "${{REGISTRY_USERNAME}}" '
            f"--password-stdin {host}"
        ]
        creds = {"TRIVY_USERNAME": "$REGISTRY_USERNAME", "TRIVY_PASSWORD": "$REGISTRY_PASSWORD"}
        why = (
            f"Pushes to {host} with REGISTRY_USERNAME / REGISTRY_PASSWORD, masked and protected CI/CD "
            "variables (prefer the registry's OIDC federation with id_tokens when it offers one)."
        )
        return prefix, login, creds, why
    prefix = f"${{CI_REGISTRY}}/{requirements.image}" if requirements.image else "${CI_REGISTRY_IMAGE}"
    login = [
        'printf \'%s\' "${CI_REGISTRY_PASSWORD}" | docker login --username "${CI_REGISTRY_USER}" '
        '--password-stdin "${CI_REGISTRY}"'
    ]
    creds = {"TRIVY_USERNAME": "$CI_REGISTRY_USER", "TRIVY_PASSWORD": "$CI_REGISTRY_PASSWORD"}
    why = (
        "Pushes to the project's container registry with the job's own short-lived token: no stored password."
    )
    return prefix, login, creds, why


def _package_job(ctx: ci.Context, refs_file: str, several: bool) -> Commented:
    """Build and push the image of `ctx` (a monorepo's context narrowed to one image, `several`
    true); it needs only its own unit's build and test jobs and the source scans."""
    prefix, login, _, why = _registry(ctx)
    return _job(
        ctx,
        stages.PACKAGE,
        image=ci.DOCKER_IMAGE,
        timeout=ci.TIMEOUTS["package"],
        needs=[
            *ctx.build_jobs(),
            *ctx.test_jobs(),
            stages.SECURITY_SCAN,
            security_gitlab.SAST_JOB,
            security_gitlab.SECRETS_JOB,
        ],
        variables={"DOCKER_TLS_CERTDIR": "/certs"},
        extra={"services": [ci.DIND_IMAGE]},
        script=[*login, ci.script(ci.pushed_refs_lines(ctx, prefix, "${CI_COMMIT_SHA}", refs_file))],
        artifacts={"reports": {"dotenv": refs_file}},
        note=f"{why} Each image is tagged with the commit and deployed by digest: the dotenv report hands "
        "IMAGE_<NAME>=<repository>@sha256:… to every job that needs this one, so staging and production "
        "run the same bytes. Layer cache in the registry (:buildcache); provenance and SBOM attestations "
        "are pushed with the image. Docker-in-Docker needs a runner that allows privileged services "
        "(GitLab.com's do)." + (f" {FAN_OUT_NOTE}" if several else ""),
    )


def _package_scan_job(ctx: ci.Context, package: str) -> Commented:
    _, _, creds, _ = _registry(ctx)
    reports: list[str] = []
    script: list[str] = []
    for image in ctx.images:
        report = f"{SCAN_REPORT}-{ci.slug(image.name)}.json"
        reports.append(report)
        script.append(
            f"trivy image --scanners vuln --format template --template @/contrib/gitlab.tpl "
            f'--output {report} "${{{ci.image_var(image.name)}}}"'
        )
    script.extend(sec.image_scan_lines(ctx, sec.level(ctx.plan.requirements)))
    return _job(
        ctx,
        stages.PACKAGE,
        image=_image(ci.TRIVY_IMAGE),
        timeout=ci.TIMEOUTS["security-scan"],
        needs=[package],
        variables={**creds, "TRIVY_NO_PROGRESS": "true"},
        script=script,
        artifacts={
            "when": "always",
            "expire_in": "30 days",
            "paths": security_gitlab.vuln_reports(ctx),
            "reports": {"container_scanning": reports},
        },
        note="The image part of the security policy: a critical or high finding in a pushed image fails "
        "Package, so it never deploys. The report feeds GitLab's container scanning view.",
    )


def _deploy_variables(ctx: ci.Context, env: EnvironmentPlan) -> dict[str, str]:
    return {
        "DEPLOY_ENVIRONMENT": ctx.environment_name(env),
        "DEPLOY_TARGET": env.name,
        "NAMESPACE": env.namespace,
        "OVERLAY": ci.pinned_path(ctx.plan, env),
    }


def _environment(ctx: ci.Context, env: EnvironmentPlan, action: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"name": ctx.environment_name(env)}
    if env.host and action is None:
        block["url"] = f"https://{env.host}"
    if action:
        block["action"] = action
    block["deployment_tier"] = (
        "production" if env.name == "prod" else ("staging" if env.name == "staging" else "development")
    )
    return block


def _kubectl_template(ctx: ci.Context) -> Commented:
    if is_target(ctx.plan):  # Cloud Run, ECS, Fly.io, …: the target's sign-in instead of kubectl's
        return target_ci.gitlab_template(ctx.plan)
    connect = [
        *ci.exec_credential_lines(
            HELPER,
            "KUBE_ID_TOKEN",
            [
                "kubectl runs this whenever it needs credentials: the job's GitLab ID token",
                "(id_tokens, audience kubernetes), never a stored key.",
            ],
        ),
        *ci.kubeconfig_lines(HELPER, KUBECONFIG, "gitlab-oidc"),
        "kubectl auth whoami  # the user the API server sees: bind RBAC to it",
    ]
    project = _project_path(ctx.plan)
    return comment(
        {
            "image": _image(ci.DEPLOY_IMAGE),
            "interruptible": False,
            "variables": {"KUBECONFIG": KUBECONFIG},
            "id_tokens": {"KUBE_ID_TOKEN": {"aud": ci.KUBE_AUDIENCE}},
            "before_script": [ci.script(connect)],
        },
        ci.wrap(
            "Every job that talks to the cluster extends this. No cluster key is stored: `id_tokens` gives "
            f'the job a GitLab OIDC token (audience "{ci.KUBE_AUDIENCE}") and kubectl sends it as a bearer '
            "token. The API server trusts the GitLab instance's OIDC issuer; a RoleBinding in each namespace "
            f"grants the token's subject (project_path:{project}:ref_type:branch:ref:{ci.MAIN}, told apart "
            "per environment by the `environment` claim) only what its job does. KUBE_API_SERVER and "
            "KUBE_CA_DATA are CI/CD variables scoped to each environment: addresses, not secrets. The image "
            f"{ci.DEPLOY_IMAGE} carries kubectl, kustomize, curl, git and bash."
        ),
    )


def _project_path(plan: Plan) -> str:
    remote = plan.stack.git_remote or ""
    host, _, path = remote.partition("/")
    return path if host and path and "gitlab" in host else "<group>/<project>"


def _undo_after_script(ctx: ci.Context) -> list[str]:
    if is_target(ctx.plan):
        return [ci.script(target_ci.gitlab_after_lines(ctx.plan, ci.undo_lines(ctx)))]
    return [
        ci.script(
            [
                'if [[ "${CI_JOB_STATUS}" == "failed" && -s "${KUBECONFIG}" ]]; then',
                '  echo "The deploy failed: undoing this run\'s rollout."',
                *("  " + line for line in ci.undo_lines(ctx)),
                "fi",
            ]
        )
    ]


def _deploy_job(ctx: ci.Context, stage_id: str, env: EnvironmentPlan) -> Commented:
    prod = stage_id == stages.DEPLOY_PROD
    packages = ctx.package_jobs()
    # Each image's scan is needed through its signing job (which needs it); a monorepo's staging
    # deploy does not list the scans again, so it stays under GitLab's limit of 50 needs longer.
    scans = _per_image(ctx, SCAN_JOB) if len(ctx.units) == 1 else []
    needs = [stages.APPROVAL, *packages] if prod else [*packages, *scans]
    needs.extend(_per_image(ctx, security_gitlab.SIGN_JOB))  # the deploy verifies the signatures first
    variables = _deploy_variables(ctx, env)
    env_name = ctx.environment_name(env)
    extra: dict[str, Any] = {"environment": _environment(ctx, env), "resource_group": env_name}
    if ctx.gitops:
        variables["GIT_DEPTH"] = "0"
        script = [ci.script(_gitops_deploy_lines(ctx, env))]
        after = [ci.script(_gitops_after_lines(ctx, env))]
        artifacts: dict[str, Any] | None = {"reports": {"dotenv": DEPLOY_FILE}}
        timeout = ci.TIMEOUTS["deploy" if env.auto_deploy else "deploy-gitops-manual"]
        note = (
            "GitOps: the job commits the pinned digests to Git and pushes with GITOPS_PUSH_TOKEN (a "
            "project access token with write_repository, a masked and protected variable); `-o ci.skip` "
            "keeps the push from starting a pipeline. Argo CD applies the commit; the job's cluster identity "
            "only reads (get/list/watch on deployments, replicasets and pods) while it waits. A failed "
            "rollout is reverted the GitOps way in after_script."
        )
    else:
        script = [ci.script(ci.deploy_lines(ctx, env))]
        after = _undo_after_script(ctx)
        artifacts = None
        timeout = ci.TIMEOUTS["deploy"]
        note = (
            f"Its cluster identity (environment claim {env_name}) may change only the objects of "
            f"{env.namespace}. `resource_group` runs one {env_name} deploy at a time, in order."
        )
    variables["RUNNER_AFTER_SCRIPT_TIMEOUT"] = AFTER_SCRIPT_TIMEOUT
    cosign_login = [line.replace("docker login", "cosign login") for line in _registry(ctx)[1]]
    script = [ci.script(security_gitlab.verify_lines(ctx, cosign_login)), *script]  # nothing unsigned deploys
    # Deploy notifications and markers (render.notify), when requested
    script = [*notify.gitlab_script(ctx.plan, env, "start"), *script]
    after = [*after, *notify.gitlab_after_script(ctx.plan, env, {"success": "success", "failed": "failure"})]
    if prod:
        note += (
            f" Protect the `{env_name}` environment (Settings > CI/CD > Protected environments): only its "
            "allowed deployers can run the approval job and this one."
        )
    elif env.name != "staging":
        note += f" No staging environment was requested: this stage deploys to {env.name}."
    return _job(
        ctx,
        stage_id,
        image=None,
        extends=KUBECTL,
        timeout=timeout,
        needs=needs,
        variables=variables,
        extra=extra,
        script=script,
        after_script=after,
        artifacts=artifacts,
        note=note,
    )


def _credential_lines() -> list[str]:
    return [
        *ci.git_identity_lines(BOT_NAME, BOT_EMAIL),
        "git config credential.helper 'cache --timeout=900'",
        "printf 'protocol=https\\nhost=%s\\nusername=oauth2\\npassword=%s\\n\\n' \"${CI_SERVER_HOST}\" "
        '"${GITOPS_PUSH_TOKEN}" | git credential approve',
        'git remote set-url origin "https://${CI_SERVER_HOST}/${CI_PROJECT_PATH}.git"',
    ]


_PUSH = "git push --quiet -o ci.skip origin HEAD:refs/heads/main"
_PUSH_HINT = "may GITOPS_PUSH_TOKEN push to main (protected branch)?"


def _gitops_deploy_lines(ctx: ci.Context, env: EnvironmentPlan) -> list[str]:
    push = ci.push_lines(ci.PLAIN, _PUSH_HINT, _PUSH)
    return [
        *_credential_lines(),
        "git checkout --quiet -B deploy",
        f"# Pin this run's digests in the overlay, commit and push; {gitops.controller(ctx.plan)} applies the commit",
        *ci.gitops_pin_lines(ctx, env, ci.PLAIN),
        *ci.gitops_publish_lines(
            push,
            "${CI_COMMIT_SHA}",
            skip="",
            record=(f'echo "DEPLOY_COMMIT=$(git rev-parse HEAD)" > {DEPLOY_FILE}',),
        ),
        *ci.gitops_wait_lines(ctx, env, ci.PLAIN),
        *ci.rollout_lines(ctx),
    ]


def _gitops_after_lines(ctx: ci.Context, env: EnvironmentPlan) -> list[str]:
    push = ci.push_lines(ci.PLAIN, _PUSH_HINT, _PUSH)
    return [
        f'if [[ "${{CI_JOB_STATUS}}" == "failed" && -s {DEPLOY_FILE} ]]; then',
        f"  DEPLOY_COMMIT=\"$(sed -n 's/^DEPLOY_COMMIT=//p' {DEPLOY_FILE})\"",
        *(
            "  " + line
            for line in ci.gitops_revert_lines(ctx, env, ci.PLAIN, push, _credential_lines(), skip="")
        ),
        "fi",
    ]


def _integration_job(ctx: ci.Context, env: EnvironmentPlan) -> Commented:
    return _job(
        ctx,
        stages.INTEGRATION_TEST,
        image=_image(ci.DEPLOY_IMAGE),
        timeout=ci.TIMEOUTS["integration-test"],
        needs=[stages.DEPLOY_STAGING],
        script=[ci.script(ci.smoke_lines(ctx, env, ci.PLAIN))],
        note="Through the public ingress, as a user would; retries while the new pods warm up.",
    )


def _approval_job(ctx: ci.Context, needs: list[str]) -> Commented:
    prod = ctx.prod
    assert prod is not None
    return _job(
        ctx,
        stages.APPROVAL,
        image=_image(ci.DEPLOY_IMAGE),
        timeout=ci.TIMEOUTS["approval"],
        needs=needs,
        rules=[{"if": ON_DEFAULT_BRANCH, "when": "manual", "allow_failure": False}],
        extra={"environment": _environment(ctx, prod, action="prepare"), "interruptible": False},
        script=[
            ci.script(
                ci.approval_summary_lines(
                    ctx, f"someone allowed to deploy to the protected {ci.PROD_ENVIRONMENT} environment"
                )
            )
        ],
        note=f"The gate: the pipeline waits (blocked) until a person runs this job. Protect "
        f"`{ci.PROD_ENVIRONMENT}` (Settings > CI/CD > Protected environments) and allow only the deployers' "
        "group: GitLab then lets only them run it. With deployment approvals (Premium) you may require "
        "reviewers there as well.",
    )


def _verify_job(ctx: ci.Context, env: EnvironmentPlan) -> Commented:
    bake_script = bake.bake_lines(
        ctx.plan, env, ci.PLAIN, f"(a CI/CD variable scoped to {ctx.environment_name(env)})"
    )
    return _job(
        ctx,
        stages.VERIFY,
        image=None,
        extends=KUBECTL,
        timeout=ci.TIMEOUTS["verify"],
        needs=[stages.DEPLOY_PROD],
        variables=_deploy_variables(ctx, env),
        extra={
            "environment": _environment(ctx, env, action="verify"),
            "resource_group": ctx.environment_name(env),
        },
        script=[
            ci.script(ci.rollout_lines(ctx, timeout="2m")),
            ci.script(ci.smoke_lines(ctx, env, ci.PLAIN)),
            *([ci.script(bake_script)] if bake_script else []),
        ],
        note="`action: verify` records no deployment. When this job fails, rollback-prod runs."
        + (
            f" {bake.summary()} Skipped (with a notice) while PROMETHEUS_URL is not set; PROMETHEUS_TOKEN "
            "(masked) is an optional bearer token. Both are CI/CD variables scoped to "
            f"{ctx.environment_name(env)}."
            if bake_script
            else ""
        ),
    )


def _rollback_job(ctx: ci.Context, env: EnvironmentPlan) -> Commented:
    variables = _deploy_variables(ctx, env)
    extends: str | None = KUBECTL
    image: dict[str, Any] | None = None
    if ctx.gitops:
        variables["GIT_DEPTH"] = "0"
        push = ci.push_lines(ci.PLAIN, _PUSH_HINT, _PUSH)
        script = [ci.script(ci.gitops_revert_lines(ctx, env, ci.PLAIN, push, _credential_lines(), skip=""))]
        needs: list[Any] = [stages.VERIFY, stages.DEPLOY_PROD]
        extends, image = None, _image(ci.DEPLOY_IMAGE)
        how = (
            "Git stays the truth: it reverts the digest commit (DEPLOY_COMMIT, from deploy-prod's dotenv "
            "report) and Argo CD applies the previous digests."
        )
    else:
        script = [
            ci.script(
                [
                    *ci.undo_lines(ctx),
                    'echo "error: Verify failed; production was rolled back." >&2',
                    "exit 1",
                ]
            ),
        ]
        needs = [stages.VERIFY, *ctx.package_jobs()]
        how = (
            "It undoes each Deployment this run changed and waits for it. Migrations are not reversed; "
            "they must stay backward compatible (expand/contract)."
        )
    job = _job(
        ctx,
        stages.VERIFY,
        image=image,
        extends=extends,
        timeout=ci.TIMEOUTS["verify"],
        needs=needs,
        rules=[{"if": ON_DEFAULT_BRANCH, "when": "on_failure"}],
        variables=variables,
        extra={
            "environment": _environment(ctx, env, action="access"),
            "resource_group": ctx.environment_name(env),
            "interruptible": False,
        },
        script=script,
        after_script=notify.gitlab_after_script(ctx.plan, env, {"failed": "rollback"}) or None,
    )
    text = ci.wrap(
        "Verify's rollback (rollback policy): `when: on_failure` runs this job only when Verify fails. "
        + how
        + " It exits 1, so the pipeline stays failed."
    )
    return comment(job.value, text)


# -- header -------------------------------------------------------------------------------------------


def _header(ctx: ci.Context) -> str:
    lines = [
        header(f"CI/CD pipeline of {ctx.plan.app_name} for GitLab CI"),
        "",
        *ci.header_lines(ctx, "GitLab"),
        "",
        "Set once (Settings > CI/CD): KUBE_API_SERVER and KUBE_CA_DATA variables scoped to each environment;",
        f"protect `{ci.PROD_ENVIRONMENT}` (Protected environments) for the deployers' group; require",
        '"Pipelines must succeed" for merge requests.',
        f"Images run pinned to version lines (official images checked {ci.IMAGES_CHECKED}).",
    ]
    return "\n".join(lines)


__all__ = ["PATH", "render", "render_pipeline"]


def setup_steps(plan: Plan) -> list[str]:
    """The one-time GitLab setup DEPLOYMENT.md lists (numbered with the common steps)."""
    ctx = ci.Context.of(plan)
    staging = ctx.preprod.namespace if ctx.preprod else "<staging namespace>"
    prod = ctx.prod.namespace if ctx.prod else "<prod namespace>"
    variables = "`KUBE_API_SERVER` (the API server URL) and `KUBE_CA_DATA` (its base64 CA bundle)"
    extra = []
    if plan.requirements.registry:
        extra.append("`REGISTRY_USERNAME` and `REGISTRY_PASSWORD` (masked, protected)")
    if plan.requirements.gitops:
        extra.append(
            "`GITOPS_PUSH_TOKEN`, a project access token with `write_repository` (masked, protected)"
        )
    return [
        "Protect the environments (Settings → CI/CD → Protected environments): `staging`, and "
        f"`{ci.PROD_ENVIRONMENT}` allowed only to the deployers' group — only they can run the manual "
        "**approval** job (the Approval stage) and Deploy Prod, whose jobs carry `deployment_tier: "
        "production`; "
        "add deployment approvals there if you want reviewers as well. Protect `main` and turn on "
        "*Pipelines must succeed* for merge requests.",
        f"Add the CI/CD variables {variables}, each scoped to its environment. They are addresses, not "
        "secrets: jobs authenticate with a GitLab OIDC ID token (`id_tokens`, audience `kubernetes`), so no "
        "cluster key is stored." + (f" Also add {', '.join(extra)}." if extra else ""),
        "Configure the cluster to trust the GitLab instance's OIDC issuer (`https://gitlab.com` on "
        "GitLab.com) "
        "with audience `kubernetes`, taking the username from the `project_path` and `environment` claims "
        "(a structured authentication configuration). Bind the staging identity to a role in "
        f"`{staging}` (apply the overlay) and the production one to `{prod}` (apply the overlay, and patch "
        "Deployments for the rollback job) — nothing cluster-wide.",
        f"The package job builds with Docker-in-Docker (`{ci.DIND_IMAGE}` service): use runners that allow "
        "privileged services (GitLab.com's hosted runners do).",
    ]

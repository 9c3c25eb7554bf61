"""Azure Pipelines: the plan's nine stages as `azure-pipelines.yml`, written the Azure way.

Stage → Azure stage (a `dependsOn` graph), and how each policy is enforced:

    Build, Test            block: a failed job stops the stages that depend on it; Cache@2
                           keyed on the lock file; PublishTestResults@2 (JUnit). Both start
                           at once (with Security Scan); Package depends on all three
    Security Scan          block-on-severity: Trivy exits 1 on CRITICAL/HIGH
    Package                block: images pushed once (Docker@2 login through a service
                           connection); digests flow on as output variables; image scan blocks.
                           A monorepo gets one Package job per image, side by side
    Deploy Staging         block: a deployment job on the `staging` environment; its
                           `on: failure` hook undoes a rollout that did not become ready
    Integration Test       block: smoke checks through the ingress
    Approval               approval: approvals and checks on the `production` environment,
                           evaluated before Deploy Prod starts
    Deploy Prod            block: a deployment job on `production`, the same digests
    Verify                 rollback: a deployment job whose `on: failure` hook rolls back

Pull requests run Build, Test and Security Scan; a push to main runs every stage. Each
deploy job signs in to Azure through a workload-identity-federation service connection
(no stored secret) and reads the AKS cluster's kubeconfig with it. Build and Test run in
the Dockerfile's build image as a container job.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.plan import SERVICE_ENV
from deploysmith.plan import pipeline as stages
from deploysmith.plan.gates import mechanism
from deploysmith.render import bake, compliance_ci, notify, security_lines
from deploysmith.render import ci_common as ci
from deploysmith.render import security as sec
from deploysmith.render.common import header, image_prefix
from deploysmith.render.targets import is_target
from deploysmith.render.targets import platforms as target_ci
from deploysmith.render.yamlout import Commented, comment, dump

PATH = "azure-pipelines.yml"
PLATFORM = "azure"
VM_IMAGE = "ubuntu-24.04"  # docker, az, kubectl, kustomize and kubelogin are on it
ON_MAIN_PUSH = (
    "and(succeeded(), eq(variables['Build.SourceBranch'], 'refs/heads/main'), "
    "ne(variables['Build.Reason'], 'PullRequest'))"
)
REGISTRY_CONNECTION = "container-registry"  # Docker registry service connection
VERIFY_ENVIRONMENT = "production-verify"
VERIFY_ENVIRONMENT_CONNECTION = VERIFY_ENVIRONMENT  # its service connection: kubernetes-production-verify
REGISTRY_GROUP = "container-registry"  # variable group with IMAGE_PREFIX when the plan names no registry
REFS_FILE = "image-refs.env"
COSIGN_GROUP = "cosign"  # variable group: COSIGN_PRIVATE_KEY, COSIGN_PASSWORD (secret), COSIGN_PUBLIC_KEY
COSIGN_SECRETS = ("COSIGN_PRIVATE_KEY", "COSIGN_PASSWORD")
CACHE_ROOT = "$(Pipeline.Workspace)"
KUBECONFIG = "$(Agent.TempDirectory)/kubeconfig"
BOT_NAME = "deploysmith-ci"
BOT_EMAIL = "deploysmith-ci@users.noreply.dev.azure.com"
STAGE_IDS = {
    stages.BUILD: "Build",
    stages.TEST: "Test",
    stages.SECURITY_SCAN: "SecurityScan",
    stages.PACKAGE: "Package",
    stages.DEPLOY_STAGING: "DeployStaging",
    stages.INTEGRATION_TEST: "IntegrationTest",
    stages.APPROVAL: "Approval",
    stages.DEPLOY_PROD: "DeployProd",
    stages.VERIFY: "Verify",
}
AZURE = ci.Dialect(
    error=lambda message: f'echo "##vso[task.logissue type=error]{message}"',
    warning=lambda message: f'echo "##vso[task.logissue type=warning]{message}"',
    notice=lambda message: f'echo "{message}"',
)


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return (RenderedFile(PATH, render_pipeline(plan)),)


def render_pipeline(plan: Plan) -> str:
    ctx = ci.Context.of(plan)
    paths = {"exclude": ["docs/**", "**/*.md"]}
    pipeline: dict[str, Any] = {
        "trigger": comment(
            {"batch": True, "branches": {"include": [ci.MAIN]}, "paths": paths},
            "A push to main runs every stage; while a run is in progress, later pushes are batched into\n"
            "one run. Changes to documentation alone start no run.",
        ),
        "pr": comment(
            {"branches": {"include": [ci.MAIN]}, "paths": paths},
            "Pull requests run Build, Test and Security Scan (the later stages' conditions need main).\n"
            "Make this pipeline a build-validation branch policy on main so a failure blocks the merge.",
        ),
        "lockBehavior": comment(
            "sequential",
            "With an exclusive-lock check on each environment, deploys queue in order and never overlap.",
        ),
        **({"resources": {"containers": _containers(ctx)}} if _containers(ctx) else {}),
        "stages": _stages(ctx),
    }
    return dump(_strings(pipeline), _header(ctx))


def _strings(data: Any) -> Any:
    """Azure reads every scalar as a string (its schema says so): numbers and booleans are
    written as the strings Azure would read. Task inputs keep their types (each task's schema
    types them)."""
    if isinstance(data, Commented):
        return comment(_strings(data.value), data.comment)
    if isinstance(data, dict):
        return {key: value if key == "inputs" else _strings(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_strings(item) for item in data]
    if isinstance(data, bool):
        return "true" if data else "false"
    if isinstance(data, int):
        return str(data)
    return data


# -- containers ----------------------------------------------------------------------------------


def _containers(ctx: ci.Context) -> list[Any]:
    """The test jobs' service containers (a job's own container is named inline)."""
    containers: list[Any] = []
    seen: set[str] = set()
    for unit in ctx.units:
        for name in unit.services:
            service = ci.SERVICES.get(name)
            if service is None or name in seen:
                continue
            seen.add(name)
            entry: dict[str, Any] = {"container": name, "image": service.image}
            if service.env:
                entry["env"] = dict(service.env)
            entry["options"] = (
                f'--health-cmd "{service.health}" --health-interval 5s --health-timeout 5s --health-retries '
                "20"
            )
            containers.append(entry)
    return containers


# -- stages --------------------------------------------------------------------------------------


def _stage(
    ctx: ci.Context,
    stage_id: str,
    jobs: list[Any],
    depends_on: list[str],
    *,
    variables: list[Any] | None = None,
    note: str | None = None,
) -> Commented:
    stage = ctx.stage(stage_id)
    block: dict[str, Any] = {"stage": STAGE_IDS[stage_id], "displayName": stage.name, "dependsOn": depends_on}
    if stage.main_only:
        block["condition"] = ON_MAIN_PUSH
    if variables:
        block["variables"] = variables
    block["jobs"] = jobs
    text = ci.stage_comment(stage, mechanism(PLATFORM, stage_id))
    if note:
        text += "\n" + ci.wrap(note)
    return comment(block, text)


def _stages(ctx: ci.Context) -> list[Any]:
    result: list[Any] = [
        _stage(ctx, stages.BUILD, [_build_job(ctx, unit) for unit in ctx.units], []),
        # Test compiles what it tests and the scans read the source only: all three stages start
        # at once, so the commit stage takes the longest of them, not their sum.
        _stage(ctx, stages.TEST, [_test_job(ctx, unit) for unit in ctx.units], []),
        _stage(ctx, stages.SECURITY_SCAN, [_security_job(ctx), _sast_job(ctx)], []),
        _stage(
            ctx,
            stages.PACKAGE,
            [_package_job(ctx, unit) for unit in ctx.units],
            [STAGE_IDS[stages.BUILD], STAGE_IDS[stages.TEST], STAGE_IDS[stages.SECURITY_SCAN]],
            variables=[{"group": REGISTRY_GROUP}] if _registry(ctx)[0] == "${IMAGE_PREFIX}" else None,
            note=_registry(ctx)[2] + (" " + _FAN_OUT_NOTE if ctx.monorepo else ""),
        ),
    ]
    approval_after = STAGE_IDS[stages.PACKAGE]
    if ctx.preprod is not None:
        result.append(_deploy_stage(ctx, stages.DEPLOY_STAGING, ctx.preprod, [STAGE_IDS[stages.PACKAGE]]))
        result.append(
            _stage(
                ctx,
                stages.INTEGRATION_TEST,
                [_integration_job(ctx, ctx.preprod)],
                [STAGE_IDS[stages.DEPLOY_STAGING]],
                note="Through the public ingress, as a user would; retries while the new pods warm up.",
            )
        )
        approval_after = STAGE_IDS[stages.INTEGRATION_TEST]
    if ctx.prod is not None:
        result.append(
            _stage(
                ctx,
                stages.APPROVAL,
                [_approval_job(ctx)],
                [approval_after, STAGE_IDS[stages.PACKAGE]],
                variables=_image_variables(ctx),
                note=f"The gate itself is on the `{ci.PROD_ENVIRONMENT}` environment (Pipelines > "
                "Environments > "
                "Approvals and checks): required approvers, branch control (main only) and an exclusive "
                "lock. Azure evaluates them when Deploy Prod starts, before any of its steps can reach the "
                "cluster. This stage lists what waits for them.",
            )
        )
        result.append(
            _deploy_stage(
                ctx, stages.DEPLOY_PROD, ctx.prod, [STAGE_IDS[stages.APPROVAL], STAGE_IDS[stages.PACKAGE]]
            )
        )
        result.append(_verify_stage(ctx, ctx.prod))
    compliance_ci.azure(ctx, result, AZURE)  # a compliance profile's ticket check and release record
    return result


def _job(name: str, display: str, timeout: int, steps: list[Any], **extra: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "job": name,
        "displayName": display,
        "timeoutInMinutes": timeout,
        "pool": {"vmImage": VM_IMAGE},
    }
    job.update(extra)
    job["steps"] = steps
    return job


def _checkout(**extra: Any) -> dict[str, Any]:
    return {"checkout": "self", "fetchDepth": 1, **extra}


def _bash(
    display: str,
    lines: list[str],
    name: str | None = None,
    env: dict[str, str] | None = None,
    condition: str | None = None,
    workdir: str | None = None,
) -> dict[str, Any]:
    step: dict[str, Any] = {"bash": ci.script(["set -eo pipefail", *lines]), "displayName": display}
    if name:
        step["name"] = name
    if workdir and workdir != ".":
        step["workingDirectory"] = f"$(System.DefaultWorkingDirectory)/{workdir}"
    if env:
        step["env"] = env
    if condition:
        step["condition"] = condition
    return step


def _unit_name(ctx: ci.Context, stage_name: str, unit: ci.Unit) -> str:
    return f"{stage_name} ({unit.label})" if ctx.monorepo else stage_name


def _job_id(stage_id: str, unit: ci.Unit) -> str:
    return f"{stage_id}{unit.suffix}".replace("-", "_")


def _toolchain_steps(unit: ci.Unit) -> tuple[ci.Toolchain, dict[str, str], list[Any]]:
    toolchain = ci.toolchain(unit)
    variables = ci.cache_env(toolchain, f"{CACHE_ROOT}")
    steps: list[Any] = [_checkout()]
    for cache in toolchain.caches:
        key = " | ".join([f'"{cache.name}"', f'"{unit.label}"', '"$(Agent.OS)"', *cache.key_files])
        steps.append(
            {
                "task": "Cache@2",
                "displayName": f"Cache {cache.name}",
                "inputs": {
                    "key": key,
                    "restoreKeys": f'"{cache.name}" | "{unit.label}" | "$(Agent.OS)"',
                    "path": f"{CACHE_ROOT}/{cache.folder}",
                },
            }
        )
    lines = list(toolchain.setup)
    for folder in toolchain.path:
        where = folder if folder.startswith("/") else f"${{PWD}}/{folder}"
        lines.append(f'echo "##vso[task.prependpath]{where}"')
    lines.extend(toolchain.install)
    if lines:
        steps.append(_bash("Install dependencies", lines, workdir=unit.path))
    return toolchain, variables, steps


def _build_job(ctx: ci.Context, unit: ci.Unit) -> Commented:
    toolchain, variables, steps = _toolchain_steps(unit)
    commands = [*ci.lint_commands(unit), *ci.build_commands(unit, toolchain.family)]
    for command in commands:
        what = "Lint" if command in ci.lint_commands(unit) else "Build"
        steps.append(
            _bash(f"{what}: {command}", [ci.in_workspace(command, "${PWD}/.ci-out")], workdir=unit.path)
        )
    if toolchain.family is None and not commands:
        steps.append(
            _bash(
                "Nothing to compile",
                [f'echo "{unit.label}: no toolchain, no build command: files go into the image as is."'],
            )
        )
    auditor = sec.auditor(unit, sec.level(ctx.plan.requirements))
    if auditor is not None:  # the ecosystem's own advisory check, on what was just installed
        steps.append(_bash(f"Audit dependencies ({auditor.tool})", list(auditor.lines), workdir=unit.path))
    job = _job(
        _job_id(stages.BUILD, unit),
        _unit_name(ctx, "Build", unit),
        ci.TIMEOUTS["build"],
        steps,
        container=toolchain.image,
        **({"variables": variables} if variables else {}),
    )
    notes = [
        f"Runs in {toolchain.image}, the Dockerfile's build image (same version line).",
        *toolchain.notes,
    ]
    if toolchain.caches:
        notes.append(
            "Cache@2 restores the package manager's cache, keyed on "
            + ", ".join(k for c in toolchain.caches for k in c.key_files[:1] or (c.name,))
            + "."
        )
    return comment(job, ci.wrap(" ".join(notes)))


def _test_job(ctx: ci.Context, unit: ci.Unit) -> Commented:
    toolchain, variables, steps = _toolchain_steps(unit)
    runs = ci.test_runs(unit)
    services: dict[str, str] = {}
    for name in unit.services:
        service = ci.SERVICES.get(name)
        if service is None:
            continue
        services[name] = name
        if name in SERVICE_ENV:
            variables[SERVICE_ENV[name]] = service.url_at(name)
    if runs:
        for run in runs:
            steps.append(
                _bash(f"Test: {run.command}", [f"mkdir -p {ci.JUNIT_DIR}", run.command], workdir=unit.path)
            )
    else:
        steps.append(
            _bash(
                "No test command",
                [
                    AZURE.warning(
                        f"no test command was found for {unit.label}; add one so this stage can stop a "
                        "broken change"
                    )
                ],
            )
        )
    steps.append(
        {
            "task": "PublishTestResults@2",
            "displayName": "Publish test results",
            "condition": "succeededOrFailed()",
            "inputs": {
                "testResultsFormat": "JUnit",
                "testResultsFiles": "\n".join(ci.report_globs(unit)),
                "searchFolder": "$(System.DefaultWorkingDirectory)",
                "testRunTitle": _unit_name(ctx, "Test", unit),
                "failTaskOnFailedTests": True,
                "failTaskOnMissingResultsFile": False,
            },
        }
    )
    extra: dict[str, Any] = {"container": toolchain.image}
    if services:
        extra["services"] = services
    if variables:
        extra["variables"] = variables
    job = _job(_job_id(stages.TEST, unit), _unit_name(ctx, "Test", unit), ci.TIMEOUTS["test"], steps, **extra)
    notes = [run.note for run in runs if run.note]
    if services:
        notes.append(
            f"Service containers ({', '.join(services)}) answer on their names and start healthy (images "
            "pinned "
            f"to a version line, checked {ci.SERVICES_CHECKED})."
        )
    return comment(job, ci.wrap(" ".join(notes))) if notes else comment(job, "Runs the unit's tests.")


def _trivy(args: str, docker_config: bool = False) -> str:
    mount = (
        ' --volume "${DOCKER_CONFIG:-${HOME}/.docker}/config.json:/root/.docker/config.json:ro"'
        if docker_config
        else ""
    )
    return (
        f'docker run --rm --volume "${{PWD}}:/src" --workdir /src{mount} '
        f"--env TRIVY_NO_PROGRESS=true {ci.TRIVY_IMAGE} {args}"
    )


def _security_job(ctx: ci.Context) -> Commented:
    fail_on = sec.level(ctx.plan.requirements)
    trivy = _trivy("").rstrip()
    steps: list[Any] = [
        _checkout(),
        _bash(
            f"Security gates (block on {sec.trivy_severities(fail_on).lower()})",
            security_lines.scan_lines(fail_on, trivy),
        ),
        {
            "task": "PublishPipelineArtifact@1",
            "displayName": "Keep the full report",
            "condition": "succeededOrFailed()",
            "inputs": {"targetPath": ci.FS_REPORT, "artifact": "trivy-fs"},
        },
        {
            "task": "PublishPipelineArtifact@1",
            "displayName": "Publish the SARIF reports",
            "condition": "succeededOrFailed()",
            "inputs": {"targetPath": sec.SARIF_DIR, "artifact": "CodeAnalysisLogs"},
        },
    ]
    job = _job("security_scan", "Security Scan", ci.TIMEOUTS["security-scan"], steps)
    return comment(
        job,
        ci.wrap(
            f"Trivy ({ci.TRIVY_IMAGE}) and Gitleaks ({sec.GITLEAKS_IMAGE}) run "
            "as containers on the agent; every gate runs, and the step fails if any blocked. Vulnerabilities "
            f"with no fixed version are reported but do not block (accept them in {sec.TRIVYIGNORE} with a "
            "reason and an expiry). The SARIF reports go to the CodeAnalysisLogs artifact, which the SARIF SAST "
            "Scans Tab extension shows."
        ),
    )


def _sast_job(ctx: ci.Context) -> Commented:
    fail_on = sec.level(ctx.plan.requirements)
    steps: list[Any] = [
        _checkout(),
        _bash("SAST: Semgrep", security_lines.sast_lines(fail_on)),
        {
            "task": "PublishPipelineArtifact@1",
            "displayName": "Publish the SARIF report",
            "condition": "succeededOrFailed()",
            "inputs": {"targetPath": sec.SEMGREP_SARIF, "artifact": "CodeAnalysisLogs-sast"},
        },
    ]
    job = _job("sast", "SAST (Semgrep)", ci.TIMEOUTS["security-scan"], steps)
    return comment(
        job,
        ci.wrap(
            f"Semgrep ({sec.SEMGREP_IMAGE}; registry rules p/default and {sec.SEMGREP_RULES}) fails on "
            f"{' or '.join(sec.semgrep_severities(fail_on))} findings; it runs beside the build."
        ),
    )


def _registry(ctx: ci.Context) -> tuple[str, list[Any], str]:
    """(image prefix expression, login steps, why)."""
    prefix = image_prefix(ctx.plan)
    login = {
        "task": "Docker@2",
        "displayName": "Log in to the registry",
        "inputs": {"command": "login", "containerRegistry": REGISTRY_CONNECTION},
    }
    if prefix is None:
        return (
            "${IMAGE_PREFIX}",
            [login],
            f"Pushes to $(IMAGE_PREFIX) (a variable of the `{REGISTRY_GROUP}` variable group) through the "
            f"`{REGISTRY_CONNECTION}` Docker registry service connection (for ACR: workload identity, no "
            "secret).",
        )
    return (
        prefix.lower(),
        [login],
        f"Pushes to {prefix.lower()} through the `{REGISTRY_CONNECTION}` Docker registry service connection: "
        "its credentials live in Azure DevOps, never in this file (for ACR prefer workload identity).",
    )


# A monorepo's images build side by side: one Package job per image in the one Package stage,
# and the stages after it wait for the whole stage, so for every job.
_FAN_OUT_NOTE = (
    "One job per image, side by side: each builds, pushes, scans, SBOMs and signs its own image, so "
    "the stage takes as long as the slowest image, not the sum of them (a scan or signature in a "
    "job of its own would wait for every push first). The later stages depend on the whole stage "
    "and map each job's IMAGE_<NAME> output."
)


def _package_job_id(unit: ci.Unit) -> str:
    return _job_id(stages.PACKAGE, unit)


def _package_job(whole: ci.Context, unit: ci.Unit) -> Commented:
    ctx = whole.for_unit(unit)  # the helpers below loop over ctx.images: this job's image only
    prefix, login, _ = _registry(ctx)
    env = {"IMAGE_PREFIX": "$(IMAGE_PREFIX)"} if prefix == "${IMAGE_PREFIX}" else None
    outputs = [
        "while IFS='=' read -r name ref; do",
        '  echo "##vso[task.setvariable variable=${name};isOutput=true]${ref}"',
        f'done < "{REFS_FILE}"',
    ]
    steps: list[Any] = [
        _checkout(),
        *login,
        _bash(
            "Build and push each image once",
            ci.pushed_refs_lines(ctx, prefix, "${BUILD_SOURCEVERSION}", REFS_FILE),
            env=env,
        ),
        _bash("Hand the digests to the later stages", outputs, name="refs"),
        _bash(
            f"Scan the pushed images (blocks on {sec.trivy_severities(sec.level(ctx.plan.requirements)).lower()})",
            sec.image_scan_lines(
                ctx, sec.level(ctx.plan.requirements), trivy=_trivy("", docker_config=True).rstrip()
            ),
            env={ci.image_var(i.name): f"$(refs.{ci.image_var(i.name)})" for i in ctx.images},
        ),
        _bash(
            "SBOMs, signature and attestations",
            security_lines.sign_lines(ctx, sec.SIGNERS["azure"], COSIGN_SECRETS),
            env={
                **{ci.image_var(i.name): f"$(refs.{ci.image_var(i.name)})" for i in ctx.images},
                **{name: f"$({name})" for name in COSIGN_SECRETS},
            },
        ),
    ]
    job = _job(
        _package_job_id(unit),
        _unit_name(whole, "Package", unit),
        ci.TIMEOUTS["package"],
        steps,
        variables=[{"group": COSIGN_GROUP}],
    )
    first = whole.units[0]
    if unit != first:  # the first job's comment says it for all of them
        return comment(
            job, f"Builds, pushes, scans and signs {unit.label} ({unit.path}), as {_package_job_id(first)} does."
        )
    return comment(
        job,
        ci.wrap(
            "Each image is tagged with the commit and pushed once; the `refs` step publishes "
            "IMAGE_<NAME>=<repository>@sha256:… as output variables, which every later stage maps in, so "
            "staging and production run the same bytes. Layer cache in the registry (:buildcache); "
            "provenance and SBOM attestations are pushed with the image. A blocked finding in a pushed "
            "image fails Package, so it never deploys. " + sec.SIGNERS["azure"].why
        ),
    )


def _image_variables(ctx: ci.Context) -> list[Any]:
    """Every image's digest, each from the Package job that pushed it."""
    return [
        {
            "name": ci.image_var(unit.image.name),
            "value": f"$[ stageDependencies.{STAGE_IDS[stages.PACKAGE]}.{_package_job_id(unit)}"
            f".outputs['refs.{ci.image_var(unit.image.name)}'] ]",
        }
        for unit in ctx.units
    ]


def _group(env_name: str) -> str:
    return f"deploy-{env_name}"


def _deploy_variables(ctx: ci.Context, env: EnvironmentPlan, azure_env: str) -> list[Any]:
    return [
        {"group": _group(azure_env)},
        {"group": COSIGN_GROUP},  # COSIGN_PUBLIC_KEY: what the deploy verifies the images against
        {"name": "DEPLOY_ENVIRONMENT", "value": azure_env},
        {"name": "DEPLOY_TARGET", "value": env.name},
        {"name": "NAMESPACE", "value": env.namespace},
        {"name": "OVERLAY", "value": ci.pinned_path(ctx.plan, env)},
        {"name": "KUBECONFIG", "value": KUBECONFIG},
        *_image_variables(ctx),
    ]


def _connection(azure_env: str) -> str:
    return f"kubernetes-{azure_env}"


def _kube_step(
    azure_env: str, display: str, lines: list[str], name: str | None = None, env: dict[str, str] | None = None,
    plan: Plan | None = None,
) -> dict[str, Any]:
    """An AzureCLI@2 step: signed in through the environment's workload-identity service
    connection, it reads the AKS kubeconfig and runs `lines` with kubectl. For a plan with
    another target (Cloud Run, ECS, …) it signs in to that target instead of reading a kubeconfig."""
    connect = [
        'az aks get-credentials --resource-group "${AKS_RESOURCE_GROUP}" --name "${AKS_CLUSTER}" \\',
        '  --file "${KUBECONFIG}" --overwrite-existing',
        'kubelogin convert-kubeconfig --login azurecli --kubeconfig "${KUBECONFIG}"',
    ]
    if plan is not None and is_target(plan):
        connect = target_ci.azure_sign_in(plan)
    step: dict[str, Any] = {
        "task": "AzureCLI@2",
        "displayName": display,
        "inputs": {
            "azureSubscription": _connection(azure_env),
            "scriptType": "bash",
            "scriptLocation": "inlineScript",
            "inlineScript": ci.script(["set -eo pipefail", *connect, *lines]),
        },
    }
    if name:
        step["name"] = name
    if env:
        step["env"] = env
    return step


def _deployment_job(
    job_id: str,
    display: str,
    environment: str,
    timeout: int,
    deploy: list[Any],
    failure: list[Any],
    variables: dict[str, str] | None = None,
) -> dict[str, Any]:
    job: dict[str, Any] = {
        "deployment": job_id,
        "displayName": display,
        "environment": environment,
        "timeoutInMinutes": timeout,
        "pool": {"vmImage": VM_IMAGE},
    }
    if variables:
        job["variables"] = variables
    job["strategy"] = {"runOnce": {"deploy": {"steps": deploy}, "on": {"failure": {"steps": failure}}}}
    return job


def _push_env() -> dict[str, str]:
    return {"GITOPS_PUSH_TOKEN": "$(GITOPS_PUSH_TOKEN)"}


def _git_lines() -> list[str]:
    return [
        *ci.git_identity_lines(BOT_NAME, BOT_EMAIL),
        "git config credential.helper 'cache --timeout=900'",
        "host=\"$(printf '%s' \"${BUILD_REPOSITORY_URI}\" | sed -E 's#^https://([^/@]*@)?([^/]+)/.*#\\2#')\"",
        "printf 'protocol=https\\nhost=%s\\nusername=x-access-token\\npassword=%s\\n\\n' \"${host}\" "
        '"${GITOPS_PUSH_TOKEN}" | git credential approve',
    ]


def _deploy_stage(ctx: ci.Context, stage_id: str, env: EnvironmentPlan, depends_on: list[str]) -> Commented:
    azure_env = ctx.environment_name(env)
    display = ctx.stage(stage_id).name
    push = ci.push_lines(AZURE, "may GITOPS_PUSH_TOKEN push to main (branch policies)?")
    undo = ci.undo_lines(ctx)
    if ctx.gitops:
        deploy_steps: list[Any] = [
            _checkout(fetchDepth=0),
            _bash(
                "Commit and push the digests",
                [
                    *_git_lines(),
                    "git checkout --quiet -B deploy",
                    *ci.gitops_pin_lines(ctx, env, AZURE),
                    *ci.gitops_publish_lines(
                        push,
                        "${BUILD_SOURCEVERSION}",
                        record=(
                            'echo "##vso[task.setvariable variable=DEPLOY_COMMIT;isOutput=true]$(git '
                            'rev-parse HEAD)"',
                        ),
                    ),
                ],
                name="publish",
                env=_push_env(),
            ),
            _kube_step(
                azure_env,
                ci.gitops_wait_name(ctx),
                [*ci.gitops_wait_lines(ctx, env, AZURE), *ci.rollout_lines(ctx)],
            ),
        ]
        failure_steps: list[Any] = [
            _checkout(fetchDepth=0),
            _bash(
                "Revert the digest commit",
                ci.gitops_revert_lines(ctx, env, AZURE, push, _git_lines()),
                env={**_push_env(), "DEPLOY_COMMIT": "$(publish.DEPLOY_COMMIT)"},
            ),
        ]
        timeout = ci.TIMEOUTS["deploy" if env.auto_deploy else "deploy-gitops-manual"]
        note = (
            "GitOps: the job commits the pinned digests to Git and pushes with GITOPS_PUSH_TOKEN (a secret "
            f"variable of the `{_group(azure_env)}` group, mapped into that step only); `[skip ci]` keeps "
            "the "
            "push from starting a run. Argo CD applies it; the cluster identity only reads while it waits."
        )
    else:
        deploy_steps = [
            _checkout(), _kube_step(azure_env, f"Deploy {env.name}", ci.deploy_lines(ctx, env), plan=ctx.plan)
        ]
        failure_steps = [_kube_step(azure_env, "Undo a rollout that did not become ready", undo, plan=ctx.plan)]
        timeout = ci.TIMEOUTS["deploy"]
        note = _identity_note(azure_env, "what the deploy applies in " + env.namespace)
    if env.name not in ("staging", "prod"):
        note += f" No staging environment was requested: this stage deploys to {env.name}."
    deploy_steps = [  # deploy notifications and markers (render.notify), when requested
        *notify.azure_steps(ctx.plan, env, "start", "succeeded()", AZURE),
        *_registry(ctx)[1],  # Cosign reads the signatures beside the image
        _bash(
            "Verify signatures and attestations",
            security_lines.verify_lines(ctx, sec.SIGNERS["azure"], ("COSIGN_PUBLIC_KEY",)),
            env={"COSIGN_PUBLIC_KEY": "$(COSIGN_PUBLIC_KEY)"},
        ),
        *deploy_steps,
        *notify.azure_steps(ctx.plan, env, "success", "succeeded()", AZURE),
        *notify.azure_steps(ctx.plan, env, "failure", "failed()", AZURE),
    ]
    job = _deployment_job("deploy", display, azure_env, timeout, deploy_steps, failure_steps)
    return _stage(
        ctx, stage_id, [job], depends_on, variables=_deploy_variables(ctx, env, azure_env), note=note
    )


def _identity_note(azure_env: str, access: str) -> str:
    return (
        f"No stored key: AzureCLI@2 signs in through the `{_connection(azure_env)}` service connection "
        "(workload identity federation: Azure DevOps exchanges a short-lived token, no secret) and reads the "
        f"AKS kubeconfig; its identity needs {access} (Azure RBAC for Kubernetes). AKS_RESOURCE_GROUP and "
        f"AKS_CLUSTER come from the `{_group(azure_env)}` variable group."
    )


def _integration_job(ctx: ci.Context, env: EnvironmentPlan) -> dict[str, Any]:
    return _job(
        "smoke",
        "Integration Test",
        ci.TIMEOUTS["integration-test"],
        [_bash(f"Smoke test {env.name}", ci.smoke_lines(ctx, env, AZURE))],
    )


def _approval_job(ctx: ci.Context) -> dict[str, Any]:
    lines = [
        'summary="${AGENT_TEMPDIRECTORY}/approval.md"',
        "{",
        f'  echo "### Waiting for approval: {ci.PROD_ENVIRONMENT}"',
        *(
            "  " + line
            for line in ci.approval_summary_lines(
                ctx, f"an approver of the {ci.PROD_ENVIRONMENT} environment"
            )
        ),
        '} > "${summary}"',
        'echo "##vso[task.uploadsummary]${summary}"',
    ]
    return _job(
        "approval", "Approval", ci.TIMEOUTS["approval"], [_bash("Show what waits for approval", lines)]
    )


def _verify_stage(ctx: ci.Context, env: EnvironmentPlan) -> Commented:
    checks = [*ci.rollout_lines(ctx, timeout="2m"), *ci.smoke_lines(ctx, env, AZURE)]
    if ctx.gitops:
        failure: list[Any] = [
            _checkout(fetchDepth=0),
            _bash(
                "Roll back: revert the digest commit",
                ci.gitops_revert_lines(
                    ctx, env, AZURE, ci.push_lines(AZURE, "may GITOPS_PUSH_TOKEN push to main?"), _git_lines()
                ),
                env={**_push_env(), "DEPLOY_COMMIT": "$(DEPLOY_COMMIT)"},
            ),
        ]
        variables = {
            "DEPLOY_COMMIT": "$[ stageDependencies.DeployProd.deploy"
            ".outputs['deploy.publish.DEPLOY_COMMIT'] ]"
        }
    else:
        failure = [
            _kube_step(
                VERIFY_ENVIRONMENT_CONNECTION,
                f"Roll back {env.name}",
                [*ci.undo_lines(ctx), AZURE.error("Verify failed; production was rolled back."), "exit 1"],
                plan=ctx.plan,
            )
        ]
        variables = {}
    deploy = [_checkout(), _kube_step(VERIFY_ENVIRONMENT_CONNECTION, f"Check {env.name}", checks, plan=ctx.plan)]
    bake_lines = bake.bake_lines(
        ctx.plan, env, AZURE, f"in the {_group(ci.PROD_ENVIRONMENT)} variable group"
    )
    if bake_lines:  # the error-budget bake; a breach fails the job and the failure hook rolls back
        deploy.append(
            _bash(
                bake.TITLE,
                [notify.macro_guard("PROMETHEUS_TOKEN"), *bake_lines],
                env={"PROMETHEUS_TOKEN": "$(PROMETHEUS_TOKEN)"},
            )
        )
    failure += notify.azure_steps(ctx.plan, env, "rollback", "failed()", AZURE)
    job = _deployment_job(
        "verify", "Verify", VERIFY_ENVIRONMENT, ci.TIMEOUTS["verify"], deploy, failure, variables or None
    )
    stage_variables = _deploy_variables(ctx, env, ci.PROD_ENVIRONMENT)
    return _stage(
        ctx,
        stages.VERIFY,
        [job],
        [STAGE_IDS[stages.DEPLOY_PROD], STAGE_IDS[stages.PACKAGE]],
        variables=stage_variables,
        note=f"Runs on the `{VERIFY_ENVIRONMENT}` environment (branch control: main; no approvers) so a "
        "failed "
        "check rolls back at once instead of waiting for a second approval. Its service connection "
        f"(`{_connection(VERIFY_ENVIRONMENT)}`) needs read access plus patch on deployments (what `rollout "
        "undo` does). Migrations are not reversed; they must stay backward compatible (expand/contract)."
        + (
            f" {bake.summary()} PROMETHEUS_URL (the bake is skipped while it is unset) and the optional "
            f"secret PROMETHEUS_TOKEN come from the `{_group(ci.PROD_ENVIRONMENT)}` variable group."
            if bake_lines
            else ""
        ),
    )


# -- header -------------------------------------------------------------------------------------------


def _header(ctx: ci.Context) -> str:
    lines = [
        header(f"CI/CD pipeline of {ctx.plan.app_name} for Azure Pipelines"),
        "",
        *ci.header_lines(ctx, "Azure DevOps"),
        "",
        "Set once (Pipelines > Environments, Library, Project settings > Service connections):",
        f"  environments {', '.join(_azure_envs(ctx))}; `{ci.PROD_ENVIRONMENT}` with approvals, branch "
        "control",
        "  and an exclusive lock;",
        "  service connections "
        + ", ".join(f"`{_connection(e)}`" for e in _azure_envs(ctx))
        + f" (Azure Resource Manager, workload identity federation) and `{REGISTRY_CONNECTION}` (Docker "
        "registry);",
        "  variable groups "
        + ", ".join(f"`{_group(e)}`" for e in _azure_envs(ctx) if e != VERIFY_ENVIRONMENT)
        + " with AKS_RESOURCE_GROUP and AKS_CLUSTER.",
        f"Images run pinned to version lines (official images checked {ci.IMAGES_CHECKED}).",
    ]
    return "\n".join(lines)


def _azure_envs(ctx: ci.Context) -> list[str]:
    envs = [ctx.environment_name(env) for env in (ctx.preprod, ctx.prod) if env is not None]
    if ctx.prod is not None:
        envs.append(VERIFY_ENVIRONMENT)
    return envs


__all__ = ["PATH", "render", "render_pipeline"]


def setup_steps(plan: Plan) -> list[str]:
    """The one-time Azure DevOps setup DEPLOYMENT.md lists (numbered with the common steps)."""
    ctx = ci.Context.of(plan)
    envs = _azure_envs(ctx)
    groups = [_group(e) for e in envs if e != VERIFY_ENVIRONMENT]
    secret = " and `GITOPS_PUSH_TOKEN` as a secret variable" if plan.requirements.gitops else ""
    return [
        "Create the environments (Pipelines → Environments): "
        + ", ".join(f"`{e}`" for e in envs)
        + f". On `{ci.PROD_ENVIRONMENT}` add the checks that make the Approval stage: Approvals (the "
        "deployers' "
        "group; approvers cannot approve their own runs), Branch control (`refs/heads/main` only) and "
        "Exclusive "
        f"lock. `{VERIFY_ENVIRONMENT}` gets branch control and an exclusive lock but no approvers, so "
        "Verify's "
        "rollback never waits for a second approval.",
        "Create the service connections (Project settings → Service connections): Azure Resource Manager "
        "with "
        "workload identity federation, no secret — "
        + ", ".join(f"`{_connection(e)}`" for e in envs)
        + ", each an identity with Azure RBAC for Kubernetes on its namespace only (the verify one may read "
        "and "
        f"patch Deployments); and a Docker registry connection `{REGISTRY_CONNECTION}`.",
        "Create the variable groups (Pipelines → Library) "
        + ", ".join(f"`{g}`" for g in groups)
        + f" with `AKS_RESOURCE_GROUP` and `AKS_CLUSTER`{secret}; authorize them for this pipeline only. "
        "Secret variables reach a script only where a step maps them, masked.",
        "Add this pipeline as a build-validation branch policy on `main`, so Build, Test and Security Scan "
        "gate every pull request.",
    ]

"""Jenkins: the plan's nine stages as a declarative `Jenkinsfile`, written the Jenkins way.

Stage → declarative stage, and how each policy is enforced:

    Build, Test            block: a failed `sh` fails the stage and every later stage is
                           skipped; `junit` publishes the results; Job Cacher keyed on the lock
    Security Scan          block-on-severity: Trivy exits 1 on CRITICAL/HIGH (one parallel
                           block with Build and Test: none needs another's output)
    Package                block: images pushed once; digests kept in env.IMAGE_* for the
                           later stages (the same bytes go to staging and production); a
                           monorepo's images in a `parallel` block, one stage per image
    Deploy Staging         block: `when { branch 'main' }`; `post { failure }` undoes the rollout
    Integration Test       block: smoke checks through the ingress
    Approval               approval: `input` with a `submitter` group; no agent is held
    Deploy Prod            block: as staging, on production
    Verify                 rollback: `post { failure }` rolls production back

Pull requests (multibranch change requests) run Build, Test and Security Scan; main runs
every stage. Jenkins has no identity of its own for jobs: the cluster is reached with a
kubeconfig kept as a file credential and bound only inside the deploy steps.

The file is Groovy, written from a small tree (blocks and lines) so indentation and quoting
are right by construction: every literal is a single-quoted Groovy string, every shell
script a triple-single-quoted one (no Groovy interpolation reaches a script).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.plan import SERVICE_ENV
from deploysmith.plan import pipeline as stages
from deploysmith.plan.gates import mechanism
from deploysmith.render import bake, compliance_ci, notify, security_jenkins
from deploysmith.render import ci_common as ci
from deploysmith.render import security as sec
from deploysmith.render.common import header, image_prefix
from deploysmith.render.targets import is_target
from deploysmith.render.targets import platforms as target_ci

PATH = "Jenkinsfile"
PLATFORM = "jenkins"
DOCKER_LABEL = "docker"  # agents with a Docker engine (Docker Pipeline plugin)
DEPLOYERS = "deployers"  # the group allowed to answer the approval input
REGISTRY_CREDENTIALS = "container-registry"
GIT_CREDENTIALS = "git-push"
REFS_FILE = "image-refs.env"
COMMIT_FILE = "deploy-commit.txt"
BOT_NAME = "deploysmith-ci"
BOT_EMAIL = "deploysmith-ci@users.noreply.jenkins.invalid"
PIPELINE_HOURS = ci.APPROVAL_WAIT_HOURS + 8  # the approval wait plus the stages' own budgets
INDENT = "    "


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return (RenderedFile(PATH, render_jenkinsfile(plan)),)


# -- a small Groovy writer -----------------------------------------------------------------------


@dataclass
class Block:
    head: str  # e.g. "stage('Build')"; the body goes in braces
    body: list[Block | Line] = field(default_factory=list)
    comment: str | None = None


@dataclass
class Line:
    text: str
    comment: str | None = None


Node = Block | Line


def _lines(node: Node, depth: int) -> list[str]:
    pad = INDENT * depth
    out = [f"{pad}// {line}".rstrip() for line in (node.comment or "").splitlines()] if node.comment else []
    if isinstance(node, Line):
        text_lines = node.text.split("\n")
        out.append(pad + text_lines[0])
        out.extend(text_lines[1:])  # the rest of a multi-line string literal keeps its own indentation
        return out
    # A closure with a parameter (`withRun('…') { c ->`) opens its own brace in the head.
    out.append(f"{pad}{node.head}" if node.head.endswith("->") else f"{pad}{node.head} {{")
    for child in node.body:
        out.extend(_lines(child, depth + 1))
    out.append(f"{pad}}}")
    return out


def q(text: str) -> str:
    """A single-quoted Groovy string: no interpolation."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sh(label: str, lines: list[str], *, posix: bool = False) -> Line:
    """An `sh` step with a labelled, triple-single-quoted script (bash unless `posix`)."""
    prelude = ["#!/bin/sh", "set -eu"] if posix else ["#!/usr/bin/env bash", "set -euo pipefail"]
    body = "\n".join([*prelude, *lines])
    body = body.replace("\\", "\\\\").replace("'''", "\\'\\'\\'")
    return Line(f"sh(label: {q(label)}, script: '''{body}\n''')")


# -- the pipeline ------------------------------------------------------------------------------


def render_jenkinsfile(plan: Plan) -> str:
    ctx = ci.Context.of(plan)
    pipeline = Block(
        "pipeline",
        [
            Line(
                "agent none",
                "Each stage names its own agent: the approval waits without holding an executor.",
            ),
            Block(
                "options",
                [
                    Line(
                        f"timeout(time: {PIPELINE_HOURS}, unit: 'HOURS')",
                        f"The whole run, approval wait ({ci.APPROVAL_WAIT_HOURS} h) included; each stage "
                        "has its own "
                        "tighter timeout.",
                    ),
                    Line(
                        "disableConcurrentBuilds()",
                        "One run per branch at a time: two deploys never overlap.",
                    ),
                    Line("buildDiscarder(logRotator(numToKeepStr: '50', artifactNumToKeepStr: '10'))"),
                    Line("parallelsAlwaysFailFast()", "A failed parallel branch stops its siblings."),
                ],
            ),
            Block("stages", _stages(ctx)),
        ],
    )
    text = "\n".join(_lines(pipeline, 0))
    return _header(ctx) + "\n" + text + "\n"


def _when(ctx: ci.Context, main_only: bool, *, before: str = "beforeAgent") -> Block | None:
    conditions: list[Node] = []
    if main_only:
        conditions.append(Line(f"branch {q(ci.MAIN)}"))
    if ctx.gitops:
        conditions.append(
            Block(
                "not",
                [Line("changelog '.*\\\\[skip ci\\\\].*'")],
                "The deploy commits this pipeline pushes carry [skip ci]: they build nothing.",
            )
        )
    if not conditions:
        return None
    return Block("when", [Line(f"{before} true"), *conditions])


def _options(minutes: int | None = None, hours: int | None = None) -> Block:
    if hours is not None:
        return Block("options", [Line(f"timeout(time: {hours}, unit: 'HOURS')")])
    return Block("options", [Line(f"timeout(time: {minutes}, unit: 'MINUTES')")])


def _stage(ctx: ci.Context, stage_id: str, name: str, body: list[Node], note: str | None = None) -> Block:
    stage = ctx.stage(stage_id)
    text = ci.stage_comment(stage, mechanism(PLATFORM, stage_id))
    if note:
        text += "\n" + ci.wrap(note)
    when = _when(ctx, stage.main_only, before="beforeInput" if stage_id == stages.APPROVAL else "beforeAgent")
    return Block(f"stage({q(name)})", [*([when] if when else []), *body], text)


def _stages(ctx: ci.Context) -> list[Node]:
    checks: list[Node] = [_build_stage(ctx, unit) for unit in ctx.units]
    checks.extend(_test_stage(ctx, unit) for unit in ctx.units)
    checks.append(_security_stage(ctx))
    checks.append(_stage(ctx, stages.SECURITY_SCAN, "Security Scan (SAST)", security_jenkins.sast_stage_body(ctx)))
    result: list[Node] = [
        Block(
            "stage('Build, Test and Security Scan')",
            [Block("parallel", checks)],
            "Each reads only the source (Test compiles what it tests), so they run side by side on their own "
            "agents; any failing stops the pipeline before Package.",
        )
    ]
    result.append(_package_stage(ctx))
    if ctx.preprod is not None:
        result.append(_signature_stage(ctx, ctx.preprod))
        result.append(_deploy_stage(ctx, stages.DEPLOY_STAGING, ctx.preprod))
        result.append(_integration_stage(ctx, ctx.preprod))
    if ctx.prod is not None:
        result.append(_approval_stage(ctx))
        result.append(_signature_stage(ctx, ctx.prod))
        result.append(_deploy_stage(ctx, stages.DEPLOY_PROD, ctx.prod))
        result.append(_verify_stage(ctx, ctx.prod))
    compliance_ci.jenkins(ctx, result)  # a compliance profile's ticket, approver check and release record
    return result


def _docker_agent(image: str, entrypoint: bool = False) -> Block:
    body: list[Node] = [Line(f"image {q(image)}")]
    if entrypoint:
        body.append(Line("args '--entrypoint='"))
    return Block("agent", [Block("docker", body)])


def _deploy_agent(ctx: ci.Context) -> Block:
    """Where deploy and verify run: the deploy image, or for targets that build and push an
    image while deploying (Lambda, Heroku) an agent with a Docker engine, like Package's; that
    agent also needs bash and the target's CLI (aws, or Node for the Heroku CLI)."""
    image = target_ci.deploy_image(ctx.plan) if is_target(ctx.plan) else ci.DEPLOY_IMAGE
    if is_target(ctx.plan) and ctx.plan.requirements.target in ("lambda", "heroku"):
        return Block("agent", [Line(f"label {q(DOCKER_LABEL)}")])
    return _docker_agent(image, entrypoint=True)


def _unit_name(ctx: ci.Context, stage_name: str, unit: ci.Unit) -> str:
    return f"{stage_name} ({unit.label})" if ctx.monorepo else stage_name


def _environment(values: dict[str, str]) -> Block:
    return Block("environment", [Line(f"{key} = {value}") for key, value in values.items()])


def _toolchain_env(toolchain: ci.Toolchain) -> dict[str, str]:
    env = {key: q(value) for key, value in toolchain.env}
    for cache in toolchain.caches:
        for variable, value in cache.variables:
            env[variable] = '"' + value.format(dir="${WORKSPACE}/" + cache.folder) + '"'
    env["HOME"] = '"${WORKSPACE}/.ci-home"'  # a writable home: the agent's user has none in the image
    return env


def _path_prelude(toolchain: ci.Toolchain) -> list[str]:
    if not toolchain.path:
        return []
    folders = ":".join(p if p.startswith("/") else f"${{PWD}}/{p}" for p in toolchain.path)
    return [f'export PATH="{folders}:${{PATH}}"']


def _cached(toolchain: ci.Toolchain, steps: list[Node]) -> list[Node]:
    """Wrap steps in the Job Cacher's `cache` step, one cache per folder, valid while its lock
    file is unchanged."""
    if not toolchain.caches:
        return steps
    caches = []
    for cache in toolchain.caches:
        deciding = f", cacheValidityDecidingFile: {q(cache.key_files[0])}" if cache.key_files else ""
        caches.append(f"arbitraryFileCache(path: {q(cache.folder)}{deciding})")
    return [
        Block(f"cache(maxCacheSize: 2048, defaultBranch: {q(ci.MAIN)}, caches: [{', '.join(caches)}])", steps)
    ]


def _in_unit(unit: ci.Unit, steps: list[Node]) -> list[Node]:
    return steps if unit.path == "." else [Block(f"dir({q(unit.path)})", steps)]


def _install_steps(toolchain: ci.Toolchain) -> list[Node]:
    lines = [*toolchain.setup, *_path_prelude(toolchain), *toolchain.install]
    return [sh("Install dependencies", lines)] if lines else []


def _build_stage(ctx: ci.Context, unit: ci.Unit) -> Block:
    toolchain = ci.toolchain(unit)
    steps: list[Node] = _install_steps(toolchain)
    prelude = _path_prelude(toolchain)
    for command in ci.lint_commands(unit):
        steps.append(sh(f"Lint: {command}", [*prelude, command]))
    for command in ci.build_commands(unit, toolchain.family):
        steps.append(sh(f"Build: {command}", [*prelude, ci.in_workspace(command, "${PWD}/.ci-out")]))
    auditor = sec.auditor(unit, sec.level(ctx.plan.requirements))
    if auditor is not None:  # the ecosystem's own advisory check, on what was just installed
        steps.append(sh(f"Audit dependencies ({auditor.tool})", [*prelude, *auditor.lines]))
    if not steps:
        steps.append(
            Line(f"echo {q(f'{unit.label}: no toolchain, no build command: files go into the image as is.')}")
        )
    body: list[Node] = [
        _docker_agent(toolchain.image),
        _options(ci.TIMEOUTS["build"]),
        _environment(_toolchain_env(toolchain)),
        Block("steps", _cached(toolchain, _in_unit(unit, steps))),
    ]
    notes = [
        f"Runs in {toolchain.image}, the Dockerfile's build image (same version line).",
        *toolchain.notes,
    ]
    if toolchain.caches:
        notes.append("The Job Cacher plugin keeps .cache/ between builds, until the lock file changes.")
    return _stage(ctx, stages.BUILD, _unit_name(ctx, "Build", unit), body, " ".join(notes))


def _test_stage(ctx: ci.Context, unit: ci.Unit) -> Block:
    toolchain = ci.toolchain(unit)
    runs = ci.test_runs(unit)
    prelude = _path_prelude(toolchain)
    env = _toolchain_env(toolchain)
    services = {name: ci.SERVICES[name] for name in unit.services if name in ci.SERVICES}
    for name, service in services.items():
        if name in SERVICE_ENV:
            env[SERVICE_ENV[name]] = q(service.url_at(name))
    steps: list[Node] = _install_steps(toolchain)
    if services:
        steps.append(sh("Wait for the services", ci.wait_for_port_lines(services, lambda name, _: name)))
    if runs:
        for run in runs:
            steps.append(sh(f"Test: {run.command}", [*prelude, f"mkdir -p {ci.JUNIT_DIR}", run.command]))
    else:
        steps.append(
            sh(
                "No test command",
                [
                    f'echo "warning: no test command was found for {unit.label}; add one so this stage can '
                    "stop a "
                    'broken change" >&2'
                ],
            )
        )
    inner = _cached(toolchain, _in_unit(unit, steps))
    notes = [run.note for run in runs if run.note]
    if services:
        agent = Block("agent", [Line(f"label {q(DOCKER_LABEL)}")])
        closure: list[Node] = [Block(f"docker.image({q(toolchain.image)}).inside({_links(services)})", inner)]
        for name, service in reversed(services.items()):
            args = " ".join(f"-e {key}={value}" for key, value in service.env.items())
            closure = [
                Block(f"docker.image({q(service.image)}).withRun({q(args)}) {{ {_var(name)} ->", closure)
            ]
        steps_block = Block("steps", [Block("script", closure)])
        notes.append(
            f"Services ({', '.join(services)}) run beside the test container (Docker Pipeline's withRun) and "
            f"answer on their names (images pinned to a version line, checked {ci.SERVICES_CHECKED})."
        )
    else:
        agent = _docker_agent(toolchain.image)
        steps_block = Block("steps", inner)
    junit = Line(f"junit(testResults: {q(', '.join(ci.report_globs(unit)))}, allowEmptyResults: true)")
    body: list[Node] = [
        agent,
        _options(ci.TIMEOUTS["test"]),
        _environment(env),
        steps_block,
        Block("post", [Block("always", [junit])]),
    ]
    return _stage(ctx, stages.TEST, _unit_name(ctx, "Test", unit), body, " ".join(notes) or None)


def _var(name: str) -> str:
    return "svc_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def _links(services: dict[str, ci.Service]) -> str:
    links = " ".join(f"--link ${{{_var(name)}.id}}:{name}" for name in services)
    return f'"{links}"'


def _security_stage(ctx: ci.Context) -> Block:
    return _stage(
        ctx,
        stages.SECURITY_SCAN,
        "Security Scan",
        security_jenkins.security_stage_body(ctx),
        "Trivy and Gitleaks run as pinned images on a Docker agent (Semgrep beside them); every gate runs and the "
        "stage fails if any blocked. Vulnerabilities with no fixed version are reported but do not block (accept "
        f"them in {sec.TRIVYIGNORE} with a reason and an expiry). The reports are archived with the build.",
    )


def _registry(ctx: ci.Context) -> tuple[str, str]:
    prefix = image_prefix(ctx.plan)
    if prefix is None:
        return "${IMAGE_PREFIX}", "the registry path in the IMAGE_PREFIX global environment variable"
    return prefix.lower(), prefix.lower()


def _refs_file(unit: ci.Unit) -> str:
    """Where a Package stage records its digests: one file per image in a monorepo, so the
    archived artifacts of the parallel stages do not overwrite one another."""
    return REFS_FILE.removesuffix(".env") + unit.suffix + ".env"


def _refs_files(ctx: ci.Context) -> str:
    return REFS_FILE if not ctx.monorepo else REFS_FILE.removesuffix(".env") + "-*.env"


def _package_stage(ctx: ci.Context) -> Block:
    _, where = _registry(ctx)
    note = (
        f"Pushes to {where} with the `{REGISTRY_CREDENTIALS}` username/password credential, bound only in "
        "these steps (masked in the log). Each image is tagged with the commit and deployed by digest; layer "
        "cache in the registry (:buildcache); provenance and SBOM attestations are pushed with it. A "
        "critical "
        "or high finding in a pushed image fails Package, so it never deploys."
    )
    if not ctx.monorepo:
        (unit,) = ctx.units
        return _stage(ctx, stages.PACKAGE, "Package", _package_body(ctx, unit), note)
    # One parallel stage per image: each builds, pushes, scans, SBOMs and signs its own image, so
    # Package takes as long as the slowest image rather than the sum of them; a separate signing
    # stage would wait for every push. Every later stage runs after the whole parallel block.
    branches: list[Node] = [
        Block(
            f"stage({q(_unit_name(ctx, 'Package', unit))})",
            _package_body(ctx.for_unit(unit), unit, isolated=True),
            f"Builds, pushes, scans and signs {unit.label} ({unit.path}); sets env.{ci.image_var(unit.image.name)}.",
        )
        for unit in ctx.units
    ]
    return _stage(
        ctx,
        stages.PACKAGE,
        "Package",
        [Block("parallel", branches)],
        note
        + " One stage per image, side by side (parallelsAlwaysFailFast: one failing stops the others); "
        "each sets its own env.IMAGE_<NAME> and archives its own digest file, and every later stage waits "
        "for all of them. Each keeps its Docker login and buildx builder in its own workspace, so two "
        "branches on one agent do not log each other out.",
    )


def _package_body(ctx: ci.Context, unit: ci.Unit, *, isolated: bool = False) -> list[Node]:
    """Package for the images of `ctx` (all of them, or one narrowed with `for_unit`)."""
    prefix, _ = _registry(ctx)
    refs_file = _refs_file(unit)
    host = "${IMAGE_PREFIX%%/*}" if prefix.startswith("$") else prefix.split("/", 1)[0]
    login = (
        f'printf \'%s\' "${{REGISTRY_PASSWORD}}" | docker login --username "${{REGISTRY_USERNAME}}" '
        f'--password-stdin "{host}"'
    )
    trivy = (
        'docker run --rm --volume "${HOME}/.docker/config.json:/root/.docker/config.json:ro" '
        f"--env TRIVY_NO_PROGRESS=true {ci.TRIVY_IMAGE} "
    )
    del trivy  # the image gate runs from the checkout: its report is the signed scan attestation
    scan = sec.image_scan_lines(
        ctx, sec.level(ctx.plan.requirements), trivy=sec.docker_tool(ci.TRIVY_IMAGE, registry=True)
    )
    keep: list[Node] = [
        Line(
            f"env.{ci.image_var(image.name)} = sh(label: {q('Read ' + image.name + ' digest')}, "
            "returnStdout: true, "
            f"script: {q(f'sed -n s/^{ci.image_var(image.name)}=//p {refs_file}')}).trim()"
        )
        for image in ctx.images
    ]
    # A builder of its own per image: parallel stages may share an agent's Docker engine.
    builder = f"ci-builder{unit.suffix}" if isolated else "ci-builder"
    pushed = ci.pushed_refs_lines(ctx, prefix, "${GIT_COMMIT}", refs_file, builder=builder)
    credentials = (
        f"withCredentials([usernamePassword(credentialsId: {q(REGISTRY_CREDENTIALS)}, "
        "usernameVariable: 'REGISTRY_USERNAME', passwordVariable: 'REGISTRY_PASSWORD')])"
    )
    return [
        Block("agent", [Line(f"label {q(DOCKER_LABEL)}")]),
        _options(ci.TIMEOUTS["package"]),
        *([_environment({"DOCKER_CONFIG": '"${WORKSPACE}/.docker-config"'})] if isolated else []),
        Block(
            "steps",
            [
                Block(
                    credentials,
                    [
                        sh("Log in to the registry", [login]),
                        sh("Build and push each image once", pushed),
                    ],
                ),
                Block("script", keep, "Later stages deploy exactly these references (env is pipeline-wide)."),
                sh("Scan the pushed images (blocks on critical and high)", scan),
                *security_jenkins.sign_steps(ctx),
                Line(f"archiveArtifacts(artifacts: {q(refs_file)})"),
            ],
        ),
        Block("post", [Block("always", [Line("sh(label: 'Log out', script: 'docker logout || true')")])]),
    ]


def _signature_stage(ctx: ci.Context, env: EnvironmentPlan) -> Block:
    prefix, _ = _registry(ctx)
    host = "${IMAGE_PREFIX%%/*}" if prefix.startswith("$") else prefix.split("/", 1)[0]
    login = (
        f'printf \'%s\' "${{REGISTRY_PASSWORD}}" | docker login --username "${{REGISTRY_USERNAME}}" '
        f'--password-stdin "{host}"'
    )
    credentials = (
        f"withCredentials([usernamePassword(credentialsId: {q(REGISTRY_CREDENTIALS)}, "
        "usernameVariable: 'REGISTRY_USERNAME', passwordVariable: 'REGISTRY_PASSWORD')])"
    )
    stage_id = stages.DEPLOY_PROD if env is ctx.prod else stages.DEPLOY_STAGING
    return security_jenkins.signature_stage(ctx, ctx.stage(stage_id).name, env, login, credentials)


def _kubeconfig_id(env_name: str) -> str:
    return f"kubeconfig-{env_name}"


def _with_kubeconfig(env_name: str, steps: list[Node], plan: Plan | None = None) -> Block:
    if plan is not None and is_target(plan):  # Cloud Run, ECS, …: the target's credentials, signed in first
        sign_in = target_ci.jenkins_sign_in(plan)
        return Block(target_ci.jenkins_credentials(plan), [*([sh("Sign in", sign_in)] if sign_in else []), *steps])
    return Block(
        f"withCredentials([file(credentialsId: {q(_kubeconfig_id(env_name))}, variable: 'KUBECONFIG')])",
        steps,
    )


def _deploy_env(ctx: ci.Context, env: EnvironmentPlan) -> Block:
    return _environment(
        {
            "DEPLOY_ENVIRONMENT": q(ctx.environment_name(env)),
            "DEPLOY_TARGET": q(env.name),
            "NAMESPACE": q(env.namespace),
            "OVERLAY": q(ci.pinned_path(ctx.plan, env)),
        }
    )


def _git_steps(lines: list[str], label: str) -> Block:
    return Block(
        f"withCredentials([gitUsernamePassword(credentialsId: {q(GIT_CREDENTIALS)}, gitToolName: "
        "'Default')])",
        [sh(label, [*ci.git_identity_lines(BOT_NAME, BOT_EMAIL), *lines])],
    )


def _deploy_stage(ctx: ci.Context, stage_id: str, env: EnvironmentPlan) -> Block:
    env_name = ctx.environment_name(env)
    name = ctx.stage(stage_id).name
    undo = ci.undo_lines(ctx)
    if ctx.gitops:
        push = ci.push_lines(ci.PLAIN, f"may the {GIT_CREDENTIALS} credential push to main?")
        publish = _git_steps(
            [
                "git checkout --quiet -B deploy",
                *ci.gitops_pin_lines(ctx, env, ci.PLAIN),
                *ci.gitops_publish_lines(
                    push, "${GIT_COMMIT}", record=(f"git rev-parse HEAD > {COMMIT_FILE}",)
                ),
            ],
            "Commit and push the digests",
        )
        keep = Block(
            "script",
            [
                Line(
                    f"env.DEPLOY_COMMIT = fileExists({q(COMMIT_FILE)}) ? readFile({q(COMMIT_FILE)}).trim() "
                    ": ''"
                )
            ],
        )
        wait = _with_kubeconfig(
            env_name,
            [
                sh(
                    ci.gitops_wait_name(ctx),
                    [*ci.gitops_wait_lines(ctx, env, ci.PLAIN), *ci.rollout_lines(ctx)],
                )
            ],
        )
        steps: list[Node] = [publish, keep, wait]
        failure: list[Node] = [
            Block("script", [Line("env.DEPLOY_COMMIT = env.DEPLOY_COMMIT ?: ''")]),
            _git_steps(ci.gitops_revert_lines(ctx, env, ci.PLAIN, push, []), "Revert the digest commit"),
        ]
        timeout = ci.TIMEOUTS["deploy" if env.auto_deploy else "deploy-gitops-manual"]
        note = (
            f"GitOps: commits the pinned digests to Git and pushes with the `{GIT_CREDENTIALS}` credential "
            "(Git plugin binding); Argo CD applies them. The kubeconfig credential only needs to read."
        )
    else:
        steps = [_with_kubeconfig(env_name, [sh(f"Deploy {env.name}", ci.deploy_lines(ctx, env))], ctx.plan)]
        failure = [_with_kubeconfig(env_name, [sh("Undo a rollout that did not become ready", undo)], ctx.plan)]
        timeout = ci.TIMEOUTS["deploy"]
        note = _kube_note(env_name, f"what the deploy applies in {env.namespace}")
    if env.name not in ("staging", "prod"):
        note += f" No staging environment was requested: this stage deploys to {env.name}."
    # Deploy notifications and markers (render.notify), when requested
    steps = [*notify.jenkins_nodes(ctx.plan, env, "start"), *steps]
    failure = [*failure, *notify.jenkins_nodes(ctx.plan, env, "failure")]
    success = notify.jenkins_nodes(ctx.plan, env, "success")
    body: list[Node] = [
        _deploy_agent(ctx),
        _options(timeout),
        _deploy_env(ctx, env),
        Block("steps", steps),
        Block("post", [*([Block("success", success)] if success else []), Block("failure", failure)]),
    ]
    return _stage(ctx, stage_id, name, body, note)


def _kube_note(env_name: str, access: str) -> str:
    return (
        f"The cluster is reached with the `{_kubeconfig_id(env_name)}` file credential, bound only inside "
        "these "
        f"steps; its user needs {access}. Jenkins gives jobs no OIDC identity of its own, so this is a "
        "stored "
        "credential: make it a short-lived token that is rotated (or use the OpenID Connect Provider plugin "
        "with an exec credential)."
    )


def _integration_stage(ctx: ci.Context, env: EnvironmentPlan) -> Block:
    body: list[Node] = [
        _docker_agent(ci.DEPLOY_IMAGE, entrypoint=True),
        _options(ci.TIMEOUTS["integration-test"]),
        Block("steps", [sh(f"Smoke test {env.name}", ci.smoke_lines(ctx, env, ci.PLAIN))]),
    ]
    return _stage(
        ctx,
        stages.INTEGRATION_TEST,
        "Integration Test",
        body,
        "Through the public ingress, as a user would; retries while the new pods warm up.",
    )


def _approval_stage(ctx: ci.Context) -> Block:
    listing = ", ".join(f"{image.name}" for image in ctx.images)
    body: list[Node] = [
        _options(hours=ci.APPROVAL_WAIT_HOURS),
        Block(
            "input",
            [
                Line(
                    "message "
                    + q(
                        f"Deploy {ctx.plan.app_name} to {ci.PROD_ENVIRONMENT}? "
                        f"(images: {listing}; digests in {_refs_files(ctx)})"
                    )
                ),
                Line("ok 'Deploy'"),
                Line(f"submitter {q(DEPLOYERS)}"),
            ],
        ),
        Block(
            "steps",
            [Line(f"echo {q(f'Approved: deploying the digests in {_refs_files(ctx)} to {ci.PROD_ENVIRONMENT}.')}")],
        ),
    ]
    return _stage(
        ctx,
        stages.APPROVAL,
        "Approval",
        body,
        f"Only members of `{DEPLOYERS}` (or administrators) can answer; no agent is held while it waits, "
        "and an "
        f"unanswered request aborts after {ci.APPROVAL_WAIT_HOURS} hours.",
    )


def _verify_stage(ctx: ci.Context, env: EnvironmentPlan) -> Block:
    env_name = ctx.environment_name(env)
    checks = [*ci.rollout_lines(ctx, timeout="2m"), *ci.smoke_lines(ctx, env, ci.PLAIN)]
    bake_lines = bake.bake_lines(ctx.plan, env, ci.PLAIN, "(a global environment variable of Jenkins)")
    # sh runs with `set -u`: the bake's variables may be unset
    bake_steps = (
        [sh(bake.TITLE, [': "${PROMETHEUS_URL:=}" "${PROMETHEUS_TOKEN:=}"', *bake_lines])] if bake_lines else []
    )
    if ctx.gitops:
        push = ci.push_lines(ci.PLAIN, f"may the {GIT_CREDENTIALS} credential push to main?")
        failure: list[Node] = [
            _git_steps(
                ci.gitops_revert_lines(ctx, env, ci.PLAIN, push, []),
                f"Roll back {env.name}: revert the digest commit",
            )
        ]
        how = "reverts the digest commit, and Argo CD applies the previous digests"
    else:
        failure = [
            _with_kubeconfig(
                env_name,
                [
                    sh(
                        f"Roll back {env.name}",
                        [
                            *ci.undo_lines(ctx),
                            'echo "error: Verify failed; production was rolled back." >&2',
                            "exit 1",
                        ],
                    )
                ],
                ctx.plan,
            )
        ]
        how = (
            "undoes each Deployment this run changed (migrations are not reversed: keep them expand/contract)"
        )
    body: list[Node] = [
        _deploy_agent(ctx),
        _options(ci.TIMEOUTS["verify"]),
        _deploy_env(ctx, env),
        Block("steps", [_with_kubeconfig(env_name, [sh(f"Check {env.name}", checks)], ctx.plan), *bake_steps]),
        Block("post", [Block("failure", [*failure, *notify.jenkins_nodes(ctx.plan, env, "rollback")])]),
    ]
    note = f"On failure the post section {how}; the build stays failed."
    if bake_steps:
        note += (
            f" {bake.summary()} PROMETHEUS_URL is a global environment variable (Manage Jenkins > System); "
            "the bake is skipped while it is unset. A Prometheus that wants a bearer token: bind it as "
            "PROMETHEUS_TOKEN with withCredentials around the bake."
        )
    return _stage(ctx, stages.VERIFY, "Verify", body, note)


def _header(ctx: ci.Context) -> str:
    lines = [
        header(f"CI/CD pipeline of {ctx.plan.app_name} for Jenkins (declarative)"),
        "",
        *ci.header_lines(ctx, "Jenkins"),
        "",
        "Plugins: Pipeline, Docker Pipeline, Credentials Binding, Git, JUnit, Job Cacher, Pipeline Utility",
        f"Steps. Agents labelled `{DOCKER_LABEL}` run the containers. Credentials: `{REGISTRY_CREDENTIALS}`"
        " (username/password),",
        "  "
        + ", ".join(f"`{_kubeconfig_id(ctx.environment_name(e))}`" for e in (ctx.preprod, ctx.prod) if e)
        + " (secret files)"
        + (f", `{GIT_CREDENTIALS}` (GitOps pushes)" if ctx.gitops else "")
        + ".",
        f"Run it as a multibranch pipeline so `when {{ branch '{ci.MAIN}' }}` and change requests work.",
        f"Images run pinned to version lines (official images checked {ci.IMAGES_CHECKED}).",
    ]
    return "\n".join(f"// {line}".rstrip() for line in "\n".join(lines).splitlines())


__all__ = ["PATH", "q", "render", "render_jenkinsfile", "sh"]


def setup_steps(plan: Plan) -> list[str]:
    """The one-time Jenkins setup DEPLOYMENT.md lists (numbered with the common steps)."""
    ctx = ci.Context.of(plan)
    kubeconfigs = [_kubeconfig_id(ctx.environment_name(e)) for e in (ctx.preprod, ctx.prod) if e is not None]
    git = (
        f", and `{GIT_CREDENTIALS}` (username/token that may push to main)"
        if plan.requirements.gitops
        else ""
    )
    return [
        "Create a multibranch pipeline for the repository (the Jenkinsfile at its root), with the plugins "
        "Pipeline, Docker Pipeline, Credentials Binding, Git, JUnit and Job Cacher. Label the agents that "
        "run "
        f"Docker `{DOCKER_LABEL}`; never run builds on the controller.",
        f"Add the credentials (scoped to the pipeline's folder): `{REGISTRY_CREDENTIALS}` "
        "(username/password), "
        + ", ".join(f"`{k}`" for k in kubeconfigs)
        + f" (secret files){git}. Jenkins gives jobs no OIDC identity of its own — that is the platform's "
        "limit — so the cluster credential is stored: make each kubeconfig a short-lived ServiceAccount "
        "token "
        "limited to its namespace, rotated from outside Jenkins (or issue ID tokens with the OpenID Connect "
        "Provider plugin).",
        f"Create the group `{DEPLOYERS}` in the security realm: only its members (and administrators) can "
        "answer the Approval stage's input.",
    ]

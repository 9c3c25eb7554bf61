"""CI platform rules for GitLab CI, Azure Pipelines, Jenkins and CircleCI (GitHub Actions
has its own family, workflows.py): timeouts, unpinned images and templates, script
injection, secrets in logs, excess privilege.

Applies to .gitlab-ci.yml (and *.gitlab-ci.yml, .gitlab/ci/*.yml), azure-pipelines*.yml,
Jenkinsfile, .circleci/config.yml; each is parsed once into a Pipeline (audit/ci/).
What each platform expands textually before the shell runs is what can inject:
Azure's `$(Var)` macros, CircleCI's `<< pipeline.* >>` values, Groovy's "${...}" strings
in a Jenkinsfile. GitLab passes variables as environment variables, so a GitLab variable
injects only where the script hands it to a second parser (eval, sh -c, ssh, …) or leaves
it unquoted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from deploysmith.audit.base import FileSet, Hit, Rule
from deploysmith.audit.ci import jenkins
from deploysmith.audit.ci import platform_of as _platform_of
from deploysmith.audit.ci.model import Job, Pipeline, Step
from deploysmith.audit.parse import YMap, split_image
from deploysmith.audit.secrets import is_secret_name


def applies_to(path: str) -> bool:
    return _platform_of(path) is not None


def _pipelines(fs: FileSet, *platforms: str) -> Iterator[Pipeline]:
    for pipeline in fs.pipelines:
        if not platforms or pipeline.platform in platforms:
            yield pipeline


def _lines(job: Job) -> Iterator[tuple[Step, str, int, str]]:
    """(step, path, line, text) of every script line of a job."""
    for step in job.steps:
        path = step.path or job.path
        for line, text in step.script:
            yield step, path, line, text
        for key, value in step.inputs:  # inline scripts of tasks (Bash@3 script:, PowerShell@2 …)
            if key in ("script", "inlineScript", "arguments") and step.kind == "action":
                for offset, text in enumerate(value.splitlines()):
                    yield step, path, step.line + offset, text


_OTHERS = ("gitlab", "azure", "jenkins", "circleci")

# -- DS-CI-001: timeouts ------------------------------------------------------------------------------


def _no_timeout(fs: FileSet) -> Iterator[Hit]:
    for pipeline in _pipelines(fs, "jenkins", "azure"):
        if pipeline.platform == "azure":
            for job in pipeline.jobs:
                if job.timeout_minutes == 0:
                    yield Hit(
                        job.path,
                        job.line,
                        f"job {job.id} sets timeoutInMinutes: 0, the platform maximum (6 hours hosted, no "
                        "limit on self-hosted agents); set a limit a little above its usual duration",
                    )
            continue
        stages = [job for job in pipeline.jobs if not job.id.startswith("post ")]
        bare = [job.id for job in stages if job.timeout_minutes is None]
        if stages and bare:
            where = "the pipeline" if len(bare) == len(stages) else f"stage(s) {', '.join(bare)}"
            yield Hit(
                pipeline.path,
                _jenkins_pipeline_line(pipeline),
                f"{where} can run forever: Jenkins sets no build timeout; add "
                "`options { timeout(time: 30, unit: 'MINUTES') }` to the pipeline (or each stage)",
            )


def _jenkins_pipeline_line(pipeline: Pipeline) -> int:
    for _, nodes in pipeline.sources:
        for node in nodes:
            if node.name in ("pipeline", "node"):
                return int(node.line)
    return 1


# -- DS-CI-002: images ---------------------------------------------------------------------------------


def _image_problem(image: str) -> str | None:
    if "$" in image or "<<" in image or "{{" in image:
        return None
    name, tag, digest = split_image(image)
    if digest:
        return None
    if tag is None:
        return f"`{image}` has no tag, so it means `latest`"
    if tag == "latest":
        return f"`{image}` uses the moving `latest` tag"
    return None


def _image_unpinned(fs: FileSet) -> Iterator[Hit]:
    seen: set[tuple[str, int]] = set()
    for pipeline in fs.pipelines:
        found: list[tuple[str, int, str]] = []
        for job in pipeline.jobs:
            found.extend((job.path, line, image) for line, image in job.images)
        if pipeline.platform == "azure":
            for path, doc in pipeline.sources:
                for container in doc.mapping("resources").maps("containers"):
                    if isinstance(container.get("image"), str):
                        found.append((path, container.line_of("image"), container["image"]))
        for path, line, image in found:
            problem = _image_problem(image)
            if problem is None or (path, line) in seen:
                continue
            seen.add((path, line))
            yield Hit(
                path,
                line,
                f"CI image {problem} and changes under the pipeline; pin a version tag "
                "(and ideally a digest: image@sha256:…)",
            )


# -- DS-CI-003: templates, orbs, libraries -----------------------------------------------------------------


def _unpinned_reference(fs: FileSet) -> Iterator[Hit]:
    for pipeline in _pipelines(fs, *_OTHERS):
        for ref in pipeline.references:
            if ref.pinned:
                continue
            yield Hit(
                ref.path,
                ref.line,
                f"{ref.kind} `{ref.target}` is not pinned to an immutable version, so whoever can "
                f"change it changes this pipeline; {ref.advice}",
            )


# -- DS-CI-004: script injection ---------------------------------------------------------------------------

GITLAB_UNTRUSTED = (
    "CI_COMMIT_MESSAGE",
    "CI_COMMIT_TITLE",
    "CI_COMMIT_DESCRIPTION",
    "CI_COMMIT_TAG_MESSAGE",
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_REF_NAME",
    "CI_COMMIT_AUTHOR",
    "CI_MERGE_REQUEST_TITLE",
    "CI_MERGE_REQUEST_DESCRIPTION",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME",
    "GITLAB_USER_NAME",
    "CI_COMMIT_TAG",
)
_GITLAB_VAR = re.compile(r"\$\{?(" + "|".join(GITLAB_UNTRUSTED) + r")\b\}?")
_REPARSE = re.compile(
    r"\beval\b|\b(?:ba|z|da)?sh\s+-c\b|\bssh\b|\bsu\s+-c\b|\b(?:python3?|node|perl|ruby)\s+-[ce]\b|"
    r"\bkubectl\s+exec\b|\bdocker\s+(?:exec|run)\b.*\bsh\b|\bxargs\b|\bsource\b|\bpowershell\b.*-Command|"
    r"\bInvoke-Expression\b|\biex\b"
)
AZURE_UNTRUSTED = (
    "Build.SourceVersionMessage",
    "Build.SourceBranch",
    "Build.SourceBranchName",
    "Build.RequestedFor",
    "Build.RequestedForEmail",
    "System.PullRequest.SourceBranch",
    "Build.SourceVersionAuthor",
)
_AZURE_MACRO = re.compile(
    r"\$\(\s*(" + "|".join(re.escape(v) for v in AZURE_UNTRUSTED) + r")\s*\)", re.IGNORECASE
)
_CIRCLE_VALUE = re.compile(
    r"<<\s*(pipeline\.(?:git\.(?:branch|tag|commit\.[a-z_.]+|"
    r"branch\.[a-z_.]+)|trigger_parameters\.[A-Za-z0-9_.]+|"
    r"event\.[A-Za-z0-9_.]+))\s*>>"
)
JENKINS_UNTRUSTED = re.compile(
    r"^(?:env\.)?(?:CHANGE_TITLE|CHANGE_BRANCH|CHANGE_AUTHOR|CHANGE_AUTHOR_DISPLAY_NAME|CHANGE_AUTHOR_EMAIL|"
    r"BRANCH_NAME|GIT_BRANCH|TAG_NAME|CHANGE_FORK|GIT_COMMITTER_NAME|GIT_AUTHOR_NAME)\b|^params\.|^params\[",
)


def _unquoted(text: str, start: int) -> bool:
    """Whether text[start] sits outside single and double quotes (shell rules, roughly)."""
    quote = ""
    index = 0
    while index < start:
        ch = text[index]
        if ch == "\\" and quote != "'":
            index += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        index += 1
    return quote == ""


def _injection(fs: FileSet) -> Iterator[Hit]:
    for pipeline in _pipelines(fs, *_OTHERS):
        if pipeline.platform == "jenkins":
            yield from _jenkins_injection(pipeline)
            continue
        for job in pipeline.jobs:
            for _step, path, line, text in _lines(job):
                if pipeline.platform == "gitlab":
                    yield from _gitlab_injection(path, line, text)
                elif pipeline.platform == "azure":
                    for match in dict.fromkeys(m.group(1) for m in _AZURE_MACRO.finditer(text)):
                        yield Hit(
                            path,
                            line,
                            f"`$({match})` is replaced in the script text before it runs, so whoever writes "
                            "it (a commit message, a branch name) can inject commands; map it to an env "
                            'variable (env: {MSG: $(…)}) and use "$MSG"',
                        )
                else:
                    for match in dict.fromkeys(m.group(1) for m in _CIRCLE_VALUE.finditer(text)):
                        yield Hit(
                            path,
                            line,
                            f"`<< {match} >>` is pasted into the command before it runs, so whoever names "
                            "the branch or writes the commit can inject commands; pass it through an "
                            'environment variable (environment: {VALUE: << … >>}) and quote "$VALUE"',
                        )


def _segments(text: str) -> list[tuple[int, int]]:
    """(start, end) of the commands of a shell line, split at unquoted |, ||, && and ;."""
    bounds: list[tuple[int, int]] = []
    quote, start, index = "", 0, 0
    while index < len(text):
        ch = text[index]
        if ch == "\\" and quote != "'":
            index += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "|;" or text.startswith("&&", index):
            bounds.append((start, index))
            index += 2 if text.startswith(("||", "&&"), index) else 1
            start = index
            continue
        index += 1
    bounds.append((start, len(text)))
    return bounds


def _gitlab_injection(path: str, line: int, text: str) -> Iterator[Hit]:
    reported: set[str] = set()
    segments = _segments(text)
    for match in _GITLAB_VAR.finditer(text):
        name = match.group(1)
        if name in reported:
            continue
        start, end = next(((a, b) for a, b in segments if a <= match.start() < b), (0, len(text)))
        command = _REPARSE.search(text[start:end])
        if command is not None and start + command.start() < match.start():
            reported.add(name)
            yield Hit(
                path,
                line,
                f"${name} is set by whoever writes the commit, branch or merge request, and this line hands "
                "it to a second shell or interpreter (eval, sh -c, ssh, …), which runs any command inside "
                "it; pipe it on stdin or pass it through a file instead",
            )
        elif _unquoted(text, match.start()):
            reported.add(name)
            yield Hit(
                path,
                line,
                f"${name} is set by whoever writes the commit, branch or merge request and is used "
                f'unquoted: word splitting and globbing let it inject arguments; quote it ("${name}")',
            )


def _jenkins_injection(pipeline: Pipeline) -> Iterator[Hit]:
    for path, nodes in pipeline.sources:
        for call in jenkins.script_calls(nodes):
            token = call.script
            if token is None or not token.gstring:
                continue
            for part in dict.fromkeys(token.interpolations):
                if JENKINS_UNTRUSTED.search(part.expression):
                    yield Hit(
                        path,
                        part.line,
                        f"`${{{part.expression}}}` is interpolated by Groovy into the {call.node.name} "
                        "script before the shell parses it, so whoever sets it (a branch name, a pull "
                        "request title, a build parameter) can inject commands; use a single-quoted script "
                        "and the environment variable ('… \"$CHANGE_TITLE\"')",
                    )


# -- DS-CI-005: secrets in logs -----------------------------------------------------------------------------

_ECHO = re.compile(r"(?:^|[;&|]\s*|\s)(?:echo|printf|Write-Host|Write-Output)\b")
_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?|\$\(([A-Za-z_][A-Za-z0-9_.]*)\)")
_XTRACE = re.compile(r"\bset\s+-[A-Za-z]*x|\bset\s+-o\s+xtrace\b|\bbash\s+-[A-Za-z]*x\b")
_SETVARIABLE = re.compile(r"##vso\[task\.setvariable ([^\]]*)\]")


def _secret_like(name: str, pipeline: Pipeline) -> bool:
    return name in pipeline.secret_names or is_secret_name(name)


def _secret_in_log(fs: FileSet) -> Iterator[Hit]:
    for pipeline in _pipelines(fs, *_OTHERS):
        if pipeline.platform == "gitlab":
            yield from _gitlab_debug_trace(pipeline)
        if pipeline.platform == "jenkins":
            yield from _jenkins_interpolated_secrets(pipeline)
        for job in pipeline.jobs:
            uses_secrets = any(
                _secret_like(m.group(1) or m.group(2), pipeline)
                for _step, _path, _line, text in _lines(job)
                for m in _VAR.finditer(text)
            )
            for _step, path, line, text in _lines(job):
                names = [m.group(1) or m.group(2) for m in _VAR.finditer(text)]
                secret = next((n for n in names if _secret_like(n, pipeline)), None)
                setvariable = _SETVARIABLE.search(text)
                if setvariable:  # the logging command is how Azure sets variables: judged on issecret
                    if secret and "issecret=true" not in setvariable.group(1).lower():
                        yield Hit(
                            path,
                            line,
                            f"sets a pipeline variable from {secret} without issecret=true, so later steps "
                            "print it unmasked; add `;issecret=true`",
                        )
                elif secret and _ECHO.search(text) and "|" not in text and ">" not in text:
                    yield Hit(
                        path,
                        line,
                        f"prints {secret}, which holds a secret; masking misses encoded or partial "
                        "values, so do not echo secrets",
                    )
                if uses_secrets and _XTRACE.search(text):
                    yield Hit(
                        path,
                        line,
                        "`set -x` in a job that uses secrets traces commands with their expanded "
                        "values; remove it (or turn tracing off around secret use)",
                    )


def _gitlab_debug_trace(pipeline: Pipeline) -> Iterator[Hit]:
    for path, doc in pipeline.sources:
        holders: list[YMap] = [doc] + [v for v in doc.values() if isinstance(v, YMap)]
        for holder in holders:
            variables = holder.mapping("variables")
            for name in ("CI_DEBUG_TRACE", "CI_DEBUG_SERVICES"):
                value = variables.get(name)
                if value is True or str(value).lower() == "true":
                    yield Hit(
                        path,
                        variables.line_of(name),
                        f"{name}: true writes every variable, masked ones included, into the job log; "
                        "remove it (enable it for one run from the UI when you must debug)",
                    )


def _jenkins_interpolated_secrets(pipeline: Pipeline) -> Iterator[Hit]:
    for path, nodes in pipeline.sources:
        for top in nodes:
            for node in top.walk():
                if node.name not in (*jenkins.SCRIPT_STEPS, "echo"):
                    continue
                for token in node.strings():
                    if not token.gstring:
                        continue
                    for part in token.interpolations:
                        name = part.expression.removeprefix("env.")
                        if name in pipeline.secret_names or (is_secret_name(name) and "." not in name):
                            yield Hit(
                                path,
                                part.line,
                                f"`${{{part.expression}}}` puts a credential into the {node.name} text with "
                                "Groovy interpolation: it lands in the process list and the log unmasked; "
                                f"use a single-quoted string and the environment variable ('$${name}')",
                            )


# -- DS-CI-006: excess privilege ----------------------------------------------------------------------

_PRIVILEGED = re.compile(
    r"--privileged\b|/var/run/docker\.sock|--cap-add[= ](?:ALL|SYS_ADMIN)\b|--pid[= ]host\b"
)
_CONTROLLER = frozenset({"master", "built-in", "builtin", "controller"})


def _excess_privilege(fs: FileSet) -> Iterator[Hit]:
    for pipeline in _pipelines(fs, *_OTHERS):
        for job in pipeline.jobs:
            for step, path, line, text in _lines(job):
                del step
                match = _PRIVILEGED.search(text)
                if match:
                    yield Hit(
                        path,
                        line,
                        f"`{match.group(0)}` gives the job root on the runner host (and every other job "
                        "on it); build images with BuildKit rootless, kaniko or buildah instead",
                    )
            for step in job.steps:
                if step.ref.startswith("checkout") and step.input("persistCredentials") == "true":
                    yield Hit(
                        step.path or job.path,
                        step.line,
                        "persistCredentials: true leaves the job's access token in .git/config for every "
                        "later step (and anything they run); drop it and pass a token only to the step "
                        "that pushes",
                    )
        if pipeline.platform == "jenkins":
            yield from _jenkins_privilege(pipeline)


def _jenkins_privilege(pipeline: Pipeline) -> Iterator[Hit]:
    for path, nodes in pipeline.sources:
        for top in nodes:
            for node in top.walk():
                if node.name in ("label", "node", "agent") or node.name == "docker":
                    for token in node.strings():
                        if node.name in ("label", "node") and token.value.strip().lower() in _CONTROLLER:
                            yield Hit(
                                path,
                                token.line,
                                f"runs on the controller ('{token.value}'): a build there can read "
                                "every credential and job config; run builds on agents",
                            )
                if node.name == "args":
                    for token in node.strings():
                        match = _PRIVILEGED.search(token.value)
                        if match:
                            yield Hit(
                                path,
                                token.line,
                                f"docker agent args `{match.group(0)}` give the stage root on the agent "
                                "host; build images rootless (kaniko, buildah) instead",
                            )


RULES: tuple[Rule, ...] = (
    Rule(
        "DS-CI-001",
        "ci-no-timeout",
        "info",
        "A Jenkins pipeline or an Azure job can run without a time limit.",
        _no_timeout,
    ),
    Rule(
        "DS-CI-002",
        "ci-image-unpinned",
        "warning",
        "A CI job runs in or beside an image with no tag or the `latest` tag.",
        _image_unpinned,
    ),
    Rule(
        "DS-CI-003",
        "ci-unpinned-template",
        "warning",
        "A CI include, template repository, orb or shared library is not pinned to an immutable version.",
        _unpinned_reference,
    ),
    Rule(
        "DS-CI-004",
        "ci-script-injection",
        "error",
        "An untrusted value (commit message, branch, pull request title, build parameter) reaches a script "
        "as code.",
        _injection,
    ),
    Rule(
        "DS-CI-005",
        "ci-secret-in-log",
        "error",
        "A CI job prints a secret, traces commands while using secrets, or turns on debug tracing.",
        _secret_in_log,
    ),
    Rule(
        "DS-CI-006",
        "ci-excess-privilege",
        "warning",
        "A CI job runs privileged, mounts the Docker socket, "
        "keeps its token in .git or runs on the controller.",
        _excess_privilege,
    ),
)

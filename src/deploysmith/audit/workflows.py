"""GitHub Actions rules: token permissions, action pinning, script injection, secret handling.

Applies to .github/workflows/*.yml and *.yaml. Each workflow is parsed once into its
triggers, jobs and steps; every rule reads that shared form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from deploysmith.audit.base import FileSet, Hit, Rule
from deploysmith.audit.parse import Job, Workflow, YMap


def applies_to(path: str) -> bool:
    return path.startswith(".github/workflows/") and path.count("/") == 2 and path.endswith((".yml", ".yaml"))


def _steps(fs: FileSet) -> Iterator[tuple[Workflow, Job, YMap]]:
    for workflow in fs.workflows:
        for job in workflow.jobs:
            for step in job.steps:
                yield workflow, job, step


def _text_lines(step: YMap, key: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of a step's string value such as `run`."""
    value = step.get(key)
    if not isinstance(value, str):
        return
    first = step.value_line(key)
    for offset, line in enumerate(value.splitlines()):
        yield first + offset, line


# -- DS-GHA-001 / 002: permissions ------------------------------------------------------------------


def _missing_permissions(fs: FileSet) -> Iterator[Hit]:
    for workflow in fs.workflows:
        if "permissions" in workflow.doc:
            continue
        bare = [job.id for job in workflow.jobs if "permissions" not in job.data]
        if bare:
            yield Hit(
                workflow.path,
                workflow.jobs_line,
                f"no top-level permissions and job(s) {', '.join(bare)} set none, so they get the "
                "repository's default GITHUB_TOKEN scopes (often read-write); add "
                "`permissions: {contents: read}` at the top and grant more per job",
            )


def _write_all(fs: FileSet) -> Iterator[Hit]:
    for workflow in fs.workflows:
        scopes: list[tuple[str, YMap]] = [("the workflow", workflow.doc)]
        scopes.extend((f"job {job.id}", job.data) for job in workflow.jobs)
        for where, mapping in scopes:
            if mapping.get("permissions") == "write-all":
                yield Hit(
                    workflow.path,
                    mapping.line_of("permissions"),
                    f"{where} grants `permissions: write-all`; list only the scopes it needs "
                    "(e.g. contents: read, packages: write)",
                )


# -- DS-GHA-003 / 004: pinning ------------------------------------------------------------------------

_SHA = re.compile(r"^[0-9a-f]{40}$")
_OFFICIAL = ("actions/", "github/")


def _uses(fs: FileSet) -> Iterator[tuple[Workflow, YMap, str]]:
    for workflow in fs.workflows:
        for job in workflow.jobs:
            if isinstance(job.data.get("uses"), str):
                yield workflow, job.data, job.data["uses"]
            for step in job.steps:
                if isinstance(step.get("uses"), str):
                    yield workflow, step, step["uses"]


def _unpinned(fs: FileSet, official: bool) -> Iterator[Hit]:
    for workflow, holder, uses in _uses(fs):
        uses = uses.strip()
        if uses.startswith("./"):
            continue
        if uses.startswith("docker://"):
            if not official and "@sha256:" not in uses:
                yield Hit(workflow.path, holder.line_of("uses"),
                          f"`{uses}` is not pinned to an image digest; use docker://image@sha256:…")
            continue
        action, _, ref = uses.partition("@")
        if _SHA.match(ref) or action.lower().startswith(_OFFICIAL) != official:
            continue
        shown = f"`{uses}`" if ref else f"`{uses}` (no ref)"
        if official:
            message = (
                f"{shown} is pinned to a tag; GitHub-maintained, but a tag can move. Pin the commit SHA: "
                f"`{action}@<40-hex sha> # {ref or 'tag'}`"
            )
        else:
            message = (
                f"{shown} is a third-party action pinned to a movable ref; whoever controls the tag controls "
                f"your job. Pin the commit SHA: `{action}@<40-hex sha> # {ref or 'tag'}`"
            )
        yield Hit(workflow.path, holder.line_of("uses"), message)


def _unpinned_third_party(fs: FileSet) -> Iterator[Hit]:
    return _unpinned(fs, official=False)


def _unpinned_official(fs: FileSet) -> Iterator[Hit]:
    return _unpinned(fs, official=True)


# -- DS-GHA-005: script injection -----------------------------------------------------------------------

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")
_CONTEXT = re.compile(r"\bgithub\.(?:event(?:\.[A-Za-z0-9_*-]+)+|head_ref)\b")
# Event fields an outsider cannot shape into shell syntax: numbers, ids, hashes, flags.
_SAFE_FIELDS = frozenset({
    "number", "id", "node_id", "sha", "after", "before", "action", "merged", "draft", "run_id",
    "run_number", "run_attempt", "created_at", "updated_at", "closed_at", "merged_at", "additions",
    "deletions", "changed_files", "commits", "forced", "size", "state", "locked", "private", "fork",
    "full_name", "login", "html_url", "url", "clone_url", "conclusion", "status", "head_sha", "event",
})
_SAFE_PREFIXES = ("github.event.repository.", "github.event.inputs.", "github.event.installation.")


def _normalise(expression: str) -> str:
    expression = re.sub(r"\[\s*['\"]([^'\"]*)['\"]\s*\]", r".\1", expression)
    return re.sub(r"\[\s*(\d+|\*)\s*\]", r".\1", expression)


def untrusted_references(text: str) -> list[str]:
    found: list[str] = []
    for expression in _EXPRESSION.finditer(text):
        for ref in _CONTEXT.finditer(_normalise(expression.group(1))):
            name = ref.group(0)
            if name.startswith(_SAFE_PREFIXES) or name.rsplit(".", 1)[-1] in _SAFE_FIELDS:
                continue
            found.append(name)
    return found


def _script_injection(fs: FileSet) -> Iterator[Hit]:
    for workflow, _job, step in _steps(fs):
        sources: list[tuple[str, YMap, str]] = [("run", step, "run")]
        uses = step.get("uses")
        if isinstance(uses, str) and uses.startswith("actions/github-script@"):
            sources.append(("github-script", step.mapping("with"), "script"))
        for what, holder, key in sources:
            for line, text in _text_lines(holder, key):
                for name in dict.fromkeys(untrusted_references(text)):
                    yield Hit(
                        workflow.path,
                        line,
                        f"`${{{{ {name} }}}}` is expanded into the {what} script before it runs, so whoever "
                        "controls it can inject commands; pass it through `env:` and use the variable "
                        '("$VAR") instead',
                    )


# -- DS-GHA-006: pull_request_target with the PR's code ---------------------------------------------------

_PR_HEAD = re.compile(
    r"github\.event\.pull_request\.head\.|github\.head_ref|refs/pull/|github\.event\.number|"
    r"github\.event\.pull_request\.merge_commit_sha|github\.event\.workflow_run\.head_"
)
_PR_CHECKOUT_RUN = re.compile(
    r"\bgh\s+pr\s+checkout\b|\bgit\s+(?:fetch|checkout)\b[^\n]*(?:pull/|head_ref|head\.)"
)


def _pr_target_checkout(fs: FileSet) -> Iterator[Hit]:
    for workflow, _job, step in _steps(fs):
        trigger = next((t for t in ("pull_request_target", "workflow_run") if t in workflow.triggers), None)
        if trigger is None:
            continue
        uses = step.get("uses")
        hit = False
        if isinstance(uses, str) and uses.startswith("actions/checkout@"):
            with_ = step.mapping("with")
            hit = any(_PR_HEAD.search(str(with_.get(key, ""))) for key in ("ref", "repository"))
        run = step.get("run")
        if isinstance(run, str) and _PR_CHECKOUT_RUN.search(run):
            hit = True
        if hit:
            yield Hit(
                workflow.path,
                step.line,
                f"checks out the pull request's code in a `{trigger}` workflow, which runs with secrets "
                "and a write token; run untrusted code in a `pull_request` workflow instead",
            )


# -- DS-GHA-007: job timeouts -------------------------------------------------------------------------------


def _job_timeout(fs: FileSet) -> Iterator[Hit]:
    for workflow in fs.workflows:
        for job in workflow.jobs:
            if "timeout-minutes" not in job.data and "uses" not in job.data:
                yield Hit(
                    workflow.path,
                    job.line,
                    f"job {job.id} has no timeout-minutes, so a hung step burns runner time for 6 hours; "
                    "set a limit a little above its usual duration",
                )


# -- DS-GHA-008: secrets in logs ------------------------------------------------------------------------

_SECRET_EXPR = re.compile(r"\$\{\{\s*secrets\.")
_ECHO = re.compile(r"\b(?:echo|printf)\b")
_XTRACE = re.compile(r"\bset\s+-[A-Za-z]*x|\bset\s+-o\s+xtrace\b|\bbash\s+-[A-Za-z]*x\b")


def _secret_env_names(*holders: YMap) -> set[str]:
    names: set[str] = set()
    for holder in holders:
        for name, value in holder.mapping("env").items():
            if isinstance(value, str) and "secrets." in value:
                names.add(str(name))
    return names


def _secret_leak(fs: FileSet) -> Iterator[Hit]:
    for workflow, job, step in _steps(fs):
        run = step.get("run")
        if not isinstance(run, str):
            continue
        env_names = _secret_env_names(workflow.doc, job.data, step)
        uses_secrets = bool(env_names) or "secrets." in run
        echo_env = (
            re.compile(r"\$\{?(?:" + "|".join(re.escape(name) for name in sorted(env_names)) + r")\b")
            if env_names
            else None
        )
        shell = step.get("shell")
        if uses_secrets and isinstance(shell, str) and _XTRACE.search(shell):
            yield Hit(workflow.path, step.line_of("shell"),
                      "the step uses secrets and its shell traces every command (-x); drop -x")
        for line, text in _text_lines(step, "run"):
            if _ECHO.search(text) and _SECRET_EXPR.search(text):
                yield Hit(
                    workflow.path,
                    line,
                    "echoes a secret expression: the value is written into the script and can reach the "
                    "log or output in a transformed (unmasked) form; pass it through env: and to the "
                    "tool's stdin",
                )
            elif (
                echo_env is not None
                and _ECHO.search(text)
                and echo_env.search(text)
                and "|" not in text
                and ">" not in text
            ):
                yield Hit(workflow.path, line,
                          "prints an environment variable that holds a secret; do not echo secrets")
            if uses_secrets and _XTRACE.search(text):
                yield Hit(
                    workflow.path,
                    line,
                    "`set -x` in a step that uses secrets traces commands with their expanded values; "
                    "remove it (or turn tracing off around secret use)",
                )


# -- DS-GHA-009: production deploys without an environment ----------------------------------------------

_DEPLOY_WORD = re.compile(r"(?:^|[\W_])(deploy\w*|release|promote|rollout|ship)(?:$|[\W_])", re.IGNORECASE)
_PROD_WORD = re.compile(r"(?:^|[\W_])(prod|production|live)(?:$|[\W_])", re.IGNORECASE)


def _deploy_no_environment(fs: FileSet) -> Iterator[Hit]:
    for workflow in fs.workflows:
        for job in workflow.jobs:
            if "environment" in job.data or "uses" in job.data:
                continue
            title = f"{job.id} {job.data.get('name', '')}"
            if not _DEPLOY_WORD.search(title):
                continue
            step_text = " ".join(
                str(value)
                for step in job.steps
                for key in ("run", "with", "name")
                if (value := step.get(key)) is not None
            )
            if _PROD_WORD.search(title) or _PROD_WORD.search(step_text):
                yield Hit(
                    workflow.path,
                    job.line,
                    f"job {job.id} deploys to production without `environment:`; an environment gives it "
                    "required reviewers, branch rules and environment-scoped secrets",
                )


RULES: tuple[Rule, ...] = (
    Rule("DS-GHA-001", "gha-missing-permissions", "warning",
         "A workflow sets no token permissions, at the top or on every job.", _missing_permissions),
    Rule("DS-GHA-002", "gha-permissions-write-all", "error",
         "A workflow or job grants `permissions: write-all`.", _write_all),
    Rule("DS-GHA-003", "gha-unpinned-action", "warning",
         "A third-party action is not pinned to a full commit SHA.", _unpinned_third_party),
    Rule("DS-GHA-004", "gha-unpinned-official-action", "info",
         "A GitHub-maintained action (actions/*, github/*) is pinned to a tag, not a commit SHA.",
         _unpinned_official),
    Rule("DS-GHA-005", "gha-script-injection", "error",
         "An untrusted expression (github.event.*, github.head_ref) is expanded inside a script.",
         _script_injection),
    Rule("DS-GHA-006", "gha-pr-target-checkout", "error",
         "A pull_request_target workflow checks out the pull request's code.", _pr_target_checkout),
    Rule("DS-GHA-007", "gha-job-timeout", "info",
         "A job has no timeout-minutes.", _job_timeout),
    Rule("DS-GHA-008", "gha-secret-in-log", "error",
         "A step echoes a secret or traces commands (set -x) while using secrets.", _secret_leak),
    Rule("DS-GHA-009", "gha-deploy-no-environment", "warning",
         "A production deploy job has no `environment:`.", _deploy_no_environment),
)

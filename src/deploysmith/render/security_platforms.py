"""The security pipelines a platform keeps beside its main one: GitHub's CodeQL workflow and
its scheduled workflow (full-history secret scan, scanner self-test), and the scheduled
pipelines of Azure Pipelines and Jenkins. GitLab and CircleCI put the same two jobs in
their main file, guarded by their schedule rules.
"""

from __future__ import annotations

import re
from typing import Any

from deploysmith.model import Plan
from deploysmith.render import ci_common as ci
from deploysmith.render import security as sec
from deploysmith.render.actions_pins import tag_of, uses
from deploysmith.render.common import header
from deploysmith.render.yamlout import comment, dump

RUNNER = "ubuntu-24.04"
HISTORY_JOB = "secrets-history"
SELFTEST_JOB = "scanner-selftest"
HISTORY_NAME = "Secrets in the full history"
SELFTEST_NAME = "Scanner self-test"
TIMEOUT_MINUTES = 20
HISTORY_NOTE = (
    "Gitleaks over every commit: a secret that a later commit removed is still in the history, and "
    "still has to be revoked. Weekly; the push-time scan in Security Scan covers the tree."
)
SELFTEST_NOTE = (
    "Runs the gates over security/selftest/, planted with a vulnerable pin per ecosystem, a fake "
    "credential and a root Dockerfile; passes only if every gate blocks it. Weekly, and on any change "
    "to the security configuration."
)

# The coverage rule judges every pipeline file as a delivery pipeline; this one only scans.
SIDE_PIPELINE = "deploysmith: ignore[DS-PIPE-001] scheduled security checks only; the main pipeline has every stage"

# CodeQL languages by toolchain family, with the build mode that needs no build (Go has none).
CODEQL: dict[str, tuple[str, str]] = {
    "python": ("python", "none"),
    "node": ("javascript-typescript", "none"),
    "go": ("go", "autobuild"),
    "jvm": ("java-kotlin", "none"),
    "dotnet": ("csharp", "none"),
    "ruby": ("ruby", "none"),
    "rust": ("rust", "none"),
}


def codeql_languages(plan: Plan) -> list[tuple[str, str]]:
    """(language, build mode) for every unit CodeQL can read, plus the workflows themselves."""
    found = [CODEQL[f] for u in ci.Context.of(plan).units if (f := ci.family(u.lead)) in CODEQL]
    return list(dict.fromkeys([*found, ("actions", "none")]))


def _expr(text: str) -> str:
    return "${{ " + text + " }}"


def _checkout(fetch_depth: int | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {
        "name": "Check out",
        "uses": uses("actions/checkout"),
        "with": {"persist-credentials": False},
    }
    if fetch_depth is not None:
        step["with"]["fetch-depth"] = fetch_depth
    return step


_USES_LINE = re.compile(r"^(\s*(?:- )?uses: )(\S+)$", re.MULTILINE)


def _annotate(text: str) -> str:
    def tagged(match: re.Match[str]) -> str:
        tag = tag_of(match.group(2))
        return match.group(0) + (f" # {tag}" if tag else "")

    return _USES_LINE.sub(tagged, text)


def codeql_workflow(plan: Plan) -> str:
    matrix = [{"language": language, "build-mode": mode} for language, mode in codeql_languages(plan)]
    workflow: dict[str, Any] = {
        "name": "codeql",
        "on": comment(
            {
                "push": {"branches": [ci.MAIN]},
                "pull_request": {"branches": [ci.MAIN]},
                "schedule": [{"cron": sec.SCHEDULE_CRON}],
            },
            "Every change, and weekly: new CodeQL queries find old code.",
        ),
        "permissions": {},
        "concurrency": {
            "group": "codeql-" + _expr("github.ref"),
            "cancel-in-progress": _expr("github.event_name == 'pull_request'"),
        },
        "jobs": {
            "analyze": comment(
                {
                    "name": "CodeQL (" + _expr("matrix.language") + ")",
                    "runs-on": RUNNER,
                    "timeout-minutes": 30,
                    "permissions": {"contents": "read", "security-events": "write", "actions": "read"},
                    "strategy": {"fail-fast": False, "matrix": {"include": matrix}},
                    "steps": [
                        _checkout(),
                        {
                            "name": "Initialise CodeQL",
                            "uses": uses("github/codeql-action/init"),
                            "with": {
                                "languages": _expr("matrix.language"),
                                "build-mode": _expr("matrix.build-mode"),
                            },
                        },
                        {
                            "name": "Analyse",
                            "uses": uses("github/codeql-action/analyze"),
                            "with": {"category": "/language:" + _expr("matrix.language")},
                        },
                    ],
                },
                "security-events: write to upload the results to code scanning; actions: read lets the upload\n"
                "read the run in private repositories. build-mode none reads the source without building it\n"
                "(Go has no such mode: autobuild). Make this check required to let its alerts block merges.",
            )
        },
    }
    return _annotate(
        dump(
            workflow,
            header("CodeQL code scanning") + "\n\nPHP and static files have no CodeQL "
            "language: Semgrep in Security Scan covers them.",
        )
    )


def _paths() -> list[str]:
    return [p + "**" if p.endswith("/") else p for p in sec.SECURITY_PATHS]


def schedule_workflow(plan: Plan) -> str:
    fail_on = sec.level(plan.requirements)
    paths = [*_paths(), sec.SCHEDULE_PATH]
    workflow: dict[str, Any] = {
        "name": "security-schedule",
        "on": comment(
            {
                "schedule": [{"cron": sec.SCHEDULE_CRON}],
                "push": {"branches": [ci.MAIN], "paths": paths},
                "pull_request": {"branches": [ci.MAIN], "paths": paths},
                "workflow_dispatch": {},
            },
            "Weekly, on demand, and whenever the security configuration or its fixture changes.",
        ),
        "permissions": {},
        "concurrency": {"group": "security-schedule-" + _expr("github.ref"), "cancel-in-progress": True},
        "defaults": {"run": {"shell": "bash"}},
        "jobs": {
            HISTORY_JOB: comment(
                {
                    "name": HISTORY_NAME,
                    "if": "github.event_name != 'pull_request'",
                    "runs-on": RUNNER,
                    "timeout-minutes": TIMEOUT_MINUTES,
                    "permissions": {"contents": "read"},
                    "steps": [
                        _checkout(fetch_depth=0),
                        {"name": "Scan every commit with Gitleaks", "run": ci.script(sec.history_lines())},
                    ],
                },
                ci.wrap(HISTORY_NOTE),
            ),
            SELFTEST_JOB: comment(
                {
                    "name": SELFTEST_NAME,
                    "runs-on": RUNNER,
                    "timeout-minutes": TIMEOUT_MINUTES,
                    "permissions": {"contents": "read"},
                    "steps": [
                        _checkout(),
                        {
                            "name": "Every gate must block the planted fixture",
                            "run": ci.script(sec.selftest_lines(fail_on)),
                        },
                    ],
                },
                ci.wrap(SELFTEST_NOTE),
            ),
        },
    }
    return _annotate(dump(workflow, header("scheduled security checks")))


def azure_schedule(plan: Plan) -> str:
    fail_on = sec.level(plan.requirements)
    paths = [p.rstrip("/") for p in sec.SECURITY_PATHS] + [sec.AZURE_SCHEDULE_PATH]
    pipeline: dict[str, Any] = {
        "trigger": {"branches": {"include": [ci.MAIN]}, "paths": {"include": paths}},
        "pr": {"branches": {"include": [ci.MAIN]}, "paths": {"include": paths}},
        "schedules": comment(
            [
                {
                    "cron": sec.SCHEDULE_CRON,
                    "displayName": "Weekly security checks",
                    "branches": {"include": [ci.MAIN]},
                    "always": True,
                }
            ],
            "always: the checks run even when nothing changed (new rules, new leaks to find).",
        ),
        "pool": {"vmImage": RUNNER},
        "jobs": [
            comment(
                {
                    "job": HISTORY_JOB.replace("-", "_"),
                    "displayName": HISTORY_NAME,
                    "condition": "ne(variables['Build.Reason'], 'PullRequest')",
                    "timeoutInMinutes": TIMEOUT_MINUTES,
                    "steps": [
                        {"checkout": "self", "fetchDepth": 0},
                        {"bash": ci.script(["set -eo pipefail", *sec.history_lines()]), "displayName": "Gitleaks"},
                    ],
                },
                ci.wrap(HISTORY_NOTE),
            ),
            comment(
                {
                    "job": SELFTEST_JOB.replace("-", "_"),
                    "displayName": SELFTEST_NAME,
                    "timeoutInMinutes": TIMEOUT_MINUTES,
                    "steps": [
                        {"checkout": "self", "fetchDepth": 1},
                        {
                            "bash": ci.script(["set -eo pipefail", *sec.selftest_lines(fail_on)]),
                            "displayName": "Every gate must block the planted fixture",
                        },
                    ],
                },
                ci.wrap(SELFTEST_NOTE),
            ),
        ],
    }
    from deploysmith.render.azure_pipelines import _strings  # Azure reads every scalar as a string

    return dump(
        _strings(pipeline),
        header("scheduled security checks for Azure Pipelines")
        + "\n\nCreate a second pipeline from this file (Pipelines > New pipeline > Existing YAML file).\n"
        + SIDE_PIPELINE,
    )


def jenkins_schedule(plan: Plan) -> str:
    from deploysmith.render import jenkins  # the Groovy writer; imported here, jenkins imports security

    fail_on = sec.level(plan.requirements)
    changed = [jenkins.Line(f"changeset {jenkins.q(p + '**' if p.endswith('/') else p)}") for p in sec.SECURITY_PATHS]
    pipeline = jenkins.Block(
        "pipeline",
        [
            jenkins.Line(f"agent {{ label {jenkins.q(jenkins.DOCKER_LABEL)} }}", "Tools run as pinned images."),
            jenkins.Block("triggers", [jenkins.Line(f"cron({jenkins.q('H 4 * * 1')})", "Weekly, on Monday morning.")]),
            jenkins.Block(
                "options",
                [
                    jenkins.Line(f"timeout(time: {TIMEOUT_MINUTES * 2}, unit: 'MINUTES')"),
                    jenkins.Line("disableConcurrentBuilds()"),
                    jenkins.Line("buildDiscarder(logRotator(numToKeepStr: '20'))"),
                ],
            ),
            jenkins.Block(
                "stages",
                [
                    jenkins.Block(
                        f"stage({jenkins.q(HISTORY_NAME)})",
                        [
                            jenkins.Block("when", [jenkins.Line("triggeredBy 'TimerTrigger'")]),
                            jenkins.Block(
                                "steps",
                                [
                                    jenkins.sh(
                                        "Scan every commit with Gitleaks",
                                        [
                                            "# A shallow clone hides the history Gitleaks must read",
                                            "if [[ -f .git/shallow ]]; then git fetch --quiet --unshallow; fi",
                                            *sec.history_lines(),
                                        ],
                                    ),
                                ],
                            ),
                        ],
                        ci.wrap(HISTORY_NOTE),
                    ),
                    jenkins.Block(
                        f"stage({jenkins.q(SELFTEST_NAME)})",
                        [
                            jenkins.Block(
                                "when",
                                [jenkins.Block("anyOf", [jenkins.Line("triggeredBy 'TimerTrigger'"), *changed])],
                            ),
                            jenkins.Block(
                                "steps",
                                [jenkins.sh("Every gate must block the planted fixture", sec.selftest_lines(fail_on))],
                            ),
                        ],
                        ci.wrap(SELFTEST_NOTE),
                    ),
                ],
            ),
        ],
    )
    head = "\n".join(
        "// " + line if line else "//"
        for line in (
            header("scheduled security checks for Jenkins")
            + "\n\nCreate a second Pipeline (or Multibranch) job whose script path is Jenkinsfile.security.\n"
            + SIDE_PIPELINE
        ).splitlines()
    )
    return head + "\n" + "\n".join(jenkins._lines(pipeline, 0)) + "\n"


__all__ = ["CODEQL", "azure_schedule", "codeql_languages", "codeql_workflow", "jenkins_schedule", "schedule_workflow"]

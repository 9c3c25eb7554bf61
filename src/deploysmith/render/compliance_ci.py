"""What a compliance profile adds to the pipeline, on every CI platform.

Three additions, each a shell script shared by the platforms plus a small hook per platform
(`github`, `gitlab`, `azure`, `jenkins`, `circleci`) that each CI renderer calls once on its
assembled jobs, so the renderers themselves change by one line:

- a change ticket: the production deploy names one (the CHANGE_TICKET variable, or a
  `Change-Ticket:` trailer on the deployed commit) matching CHANGE_TICKET_PATTERN;
- separation of duties: where the platform tells a job who approved (GitHub's run approvals
  API, the user who ran GitLab's manual job, Jenkins' input submitter), the deploy fails when
  that person is the commit's author; elsewhere the environment's own setting does it (the
  compliance doc lists the setting);
- a deployment record: a JSON file per production deploy (who approved, which ticket, which
  digests, when, outcome), kept as a pipeline artifact for the profile's retention period or
  the platform's maximum, whichever is shorter.

Untrusted values (commit messages, user names) reach scripts only through environment
variables, and are compared, never evaluated.
"""

from __future__ import annotations

from typing import Any

from deploysmith.plan import pipeline as stages
from deploysmith.plan.compliance import (
    RECORD_MARKER,
    RETENTION_MARKER,
    SOD_MARKER,
    TICKET_MARKER,
    TICKET_PATTERN,
    TICKET_TRAILER,
    Profile,
    profile_of,
)
from deploysmith.render import ci_common as ci
from deploysmith.render.actions_pins import uses
from deploysmith.render.yamlout import Commented, comment

RECORD_FILE = "deployment-record.json"
RECORD_JOB = "release-record"  # not "deploy…": the audit would read it as a deploy job
CIRCLECI_MAX_RETENTION_DAYS = 30
GITHUB_MAX_RETENTION_DAYS = 400  # an organisation's private repositories; public ones stop at 90


def profile(ctx: ci.Context) -> Profile | None:
    """The profile when the pipeline deploys production (no prod, no production controls)."""
    found = profile_of(ctx.plan.requirements)
    return found if found is not None and ctx.prod is not None else None


# -- shared scripts ------------------------------------------------------------------------


def ticket_lines(dialect: ci.Dialect) -> list[str]:
    """Fail unless the deploy names a change ticket; export it as CHANGE_TICKET."""
    return [
        f"# {TICKET_MARKER}: the CHANGE_TICKET variable, else the deployed commit's {TICKET_TRAILER}: trailer",
        f"pattern=\"${{CHANGE_TICKET_PATTERN:-{TICKET_PATTERN}}}\"",
        'ticket="${CHANGE_TICKET:-}"',
        'if [[ -z "${ticket}" ]]; then',
        f"  ticket=\"$(git log -1 --format='%(trailers:key={TICKET_TRAILER},valueonly)' | head -n 1 "
        "| tr -d '[:space:]')\"",
        "fi",
        'if [[ ! "${ticket}" =~ ^${pattern}$ ]]; then',
        "  "
        + dialect.error(
            f"production needs a change ticket: set CHANGE_TICKET or add a '{TICKET_TRAILER}: <id>' trailer "
            "to the commit (pattern ${pattern})."
        ),
        "  exit 1",
        "fi",
        'export CHANGE_TICKET="${ticket}"',
        'echo "Change ticket: ${CHANGE_TICKET}"',
    ]


def sod_lines(dialect: ci.Dialect) -> list[str]:
    """Fail when the approver (APPROVER) is the commit's author (AUTHOR_ID, AUTHOR_EMAIL, AUTHOR_NAME)."""
    return [
        f"# {SOD_MARKER}: the person who approved production is not the change's author",
        'if [[ -z "${APPROVER:-}" ]]; then',
        "  " + dialect.error("no approver is recorded for this production deploy."),
        "  exit 1",
        "fi",
        'approver="${APPROVER,,}"',
        'for author in "${AUTHOR_ID:-}" "${AUTHOR_EMAIL:-}" "${AUTHOR_NAME:-}"; do',
        '  if [[ -n "${author}" && "${approver}" == "${author,,}" ]]; then',
        "    " + dialect.error("${APPROVER} approved their own change; another release manager must approve."),
        "    exit 1",
        "  fi",
        "done",
        'echo "Approved by ${APPROVER}, not the author."',
    ]


def record_lines(ctx: ci.Context) -> list[str]:
    """Write RECORD_FILE from environment variables (jq builds the JSON: no quoting by hand)."""
    images = " ".join(f'--arg {ci.image_var(i.name).lower()} "${{{ci.image_var(i.name)}:-}}"' for i in ctx.images)
    image_fields = ", ".join(
        f'"{i.name}": ${ci.image_var(i.name).lower()}' for i in ctx.images
    )
    return [
        f"# {RECORD_MARKER}: who approved which change, what ran where, and how it ended",
        f"jq --null-input {images} \\",
        "  --arg environment \"${RECORD_ENVIRONMENT}\" --arg commit \"${RECORD_COMMIT}\" \\",
        "  --arg run \"${RECORD_RUN}\" --arg approver \"${APPROVER:-}\" --arg ticket \"${CHANGE_TICKET:-}\" \\",
        "  --arg outcome \"${RECORD_OUTCOME}\" --arg recorded \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\" \\",
        "  '{environment: $environment, commit: $commit, run: $run, approver: $approver,"
        " change_ticket: $ticket, outcome: $outcome, recorded_at: $recorded, images: {"
        + image_fields
        + f"}}}}' > {RECORD_FILE}",
        f"cat {RECORD_FILE}",
    ]


def _retention_words(found: Profile, days: int) -> str:
    return (
        f"{RETENTION_MARKER}: {found.title} keeps deployment records {found.retention_days} days; "
        f"this artifact is kept {days} days, export it to write-once storage for the rest "
        "(docs/deploy/COMPLIANCE.md)"
    )


# -- GitHub Actions ------------------------------------------------------------------------


def github(ctx: ci.Context, jobs: dict[str, Any]) -> None:
    """Add the ticket and separation-of-duties check to Deploy Prod, and the record job."""
    found = profile(ctx)
    if found is None or stages.DEPLOY_PROD not in jobs:
        return
    from deploysmith.render import github_actions as gh  # the renderer imports this module

    deploy = _job_dict(jobs[stages.DEPLOY_PROD])
    deploy["permissions"] = {**deploy["permissions"], "actions": "read"}
    check = comment(
        {
            "name": "Change ticket and separation of duties",
            "id": "compliance",
            "env": {
                "GH_TOKEN": gh._expr("github.token"),
                "CHANGE_TICKET_PATTERN": gh._expr("vars.CHANGE_TICKET_PATTERN"),
            },
            "run": ci.script(
                [
                    *ticket_lines(gh.GITHUB),
                    "# The run's approvals (actions: read) and the commit's author, from the API",
                    'APPROVER="$(gh api "repos/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}/approvals" \\',
                    "  --jq '[.[] | select(.state == \"approved\") | .user.login] | last // \"\"')\"",
                    'AUTHOR_ID="$(gh api "repos/${GITHUB_REPOSITORY}/commits/${GITHUB_SHA}" \\',
                    "  --jq '.author.login // \"\"')\"",
                    'AUTHOR_NAME="${GITHUB_ACTOR}"',
                    *sod_lines(gh.GITHUB),
                    '{ echo "approver=${APPROVER}"; echo "ticket=${CHANGE_TICKET}"; } >> "${GITHUB_OUTPUT}"',
                ]
            ),
        },
        ci.wrap(
            f"{found.title}: production needs a change ticket and an approver other than the author "
            "(or the person who pushed). GitHub's own `prevent_self_review` on the environment cannot be "
            "set from a workflow: turn it on too (docs/deploy/COMPLIANCE.md)."
        ),
    )
    steps = deploy["steps"]
    steps.insert(1, check)  # after the checkout: the trailer is read from the deployed commit
    deploy["outputs"] = {
        **(deploy.get("outputs") or {}),
        "approver": gh._expr("steps.compliance.outputs.approver"),
        "ticket": gh._expr("steps.compliance.outputs.ticket"),
    }
    days = min(found.retention_days, GITHUB_MAX_RETENTION_DAYS)
    record_env = {
        "RECORD_ENVIRONMENT": ci.PROD_ENVIRONMENT,
        "RECORD_COMMIT": gh._expr("github.sha"),
        "RECORD_RUN": gh._expr("github.server_url") + "/" + gh._expr("github.repository") + "/actions/runs/"
        + gh._expr("github.run_id"),
        "RECORD_OUTCOME": "deploy " + gh._expr("needs.deploy-prod.result") + ", verify "
        + gh._expr("needs.verify.result"),
        "APPROVER": gh._expr("needs.deploy-prod.outputs.approver"),
        "CHANGE_TICKET": gh._expr("needs.deploy-prod.outputs.ticket"),
        **gh._image_env(ctx),
    }
    jobs[RECORD_JOB] = comment(
        {
            "name": "Release record",
            "needs": [*ctx.package_jobs(), stages.DEPLOY_PROD, stages.VERIFY],
            "if": "always() && needs.deploy-prod.result != 'skipped' && " + gh.ON_MAIN_PUSH,
            "runs-on": gh.RUNNER,
            "timeout-minutes": 5,
            "permissions": {},
            "env": record_env,
            "steps": [
                {"name": "Write the deployment record", "run": ci.script(record_lines(ctx))},
                comment(
                    {
                        "name": "Keep the record",
                        "uses": uses("actions/upload-artifact"),
                        "with": {
                            "name": "deployment-record-" + gh._expr("github.run_id"),
                            "path": RECORD_FILE,
                            "retention-days": days,
                            "if-no-files-found": "error",
                        },
                    },
                    ci.wrap(_retention_words(found, days) + ". GitHub caps retention at the repository's "
                            "setting (90 days for public repositories)."),
                ),
            ],
        },
        ci.wrap(
            f"{found.title} audit trail: one record per production deploy, success or failure, kept as an "
            "artifact of this run (runs and their logs are kept by the repository's retention setting)."
        ),
    )


def _job_dict(job: Any) -> dict[str, Any]:
    value = job.value if isinstance(job, Commented) else job
    assert isinstance(value, dict)
    return value


# -- GitLab CI -----------------------------------------------------------------------------


def gitlab(ctx: ci.Context, jobs: dict[str, Any], record_stage: str) -> None:
    """Check the ticket and the approver in the manual approval job (GitLab knows who ran it),
    hand both on as a dotenv report, and add the record job."""
    found = profile(ctx)
    if found is None or stages.APPROVAL not in jobs:
        return
    approval = _job_dict(jobs[stages.APPROVAL])
    approval["script"] = [
        *approval["script"],
        ci.script(
            [
                *ticket_lines(ci.PLAIN),
                "# The user who ran this manual job approved; CI_COMMIT_AUTHOR is 'Name <email>'",
                'APPROVER="${GITLAB_USER_LOGIN}"',
                'commit_author="${CI_COMMIT_AUTHOR}"',
                'AUTHOR_EMAIL="${commit_author##*<}"',
                'AUTHOR_EMAIL="${AUTHOR_EMAIL%>*}"',
                'if [[ "${GITLAB_USER_EMAIL,,}" == "${AUTHOR_EMAIL,,}" ]]; then AUTHOR_ID="${APPROVER}"; fi',
                *sod_lines(ci.PLAIN),
                '{ echo "APPROVER=${APPROVER}"; echo "CHANGE_TICKET=${CHANGE_TICKET}"; } > approval.env',
            ]
        ),
    ]
    approval["artifacts"] = {"reports": {"dotenv": "approval.env"}}
    days = found.retention_days
    jobs[RECORD_JOB] = comment(
        {
            "stage": record_stage,
            "image": {"name": ci.DEPLOY_IMAGE, "entrypoint": [""]},
            "needs": [*ctx.package_jobs(), stages.APPROVAL, stages.DEPLOY_PROD, stages.VERIFY],
            "rules": [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "when": "always"}],
            "timeout": "5 minutes",
            "variables": {
                "RECORD_ENVIRONMENT": ci.PROD_ENVIRONMENT,
                "RECORD_COMMIT": "${CI_COMMIT_SHA}",
                "RECORD_RUN": "${CI_PIPELINE_URL}",
                "RECORD_OUTCOME": "see the pipeline's deploy-prod and verify jobs",
            },
            "script": [ci.script(record_lines(ctx))],
            "artifacts": comment(
                {"paths": [RECORD_FILE], "expire_in": f"{days} days", "when": "always"},
                ci.wrap(_retention_words(found, days) + ". The instance's maximum artifact expiry must allow it."),
            ),
        },
        ci.wrap(
            f"{found.title} audit trail: one record per production deploy, whatever its outcome; APPROVER and "
            "CHANGE_TICKET come from the approval job's dotenv report."
        ),
    )


# -- Azure Pipelines -----------------------------------------------------------------------


def azure(ctx: ci.Context, stage_list: list[Any], dialect: ci.Dialect) -> None:
    """The ticket check runs in the Approval stage, before the production environment's checks
    (whose approval check, with self-approval off, separates duties); a last stage records."""
    found = profile(ctx)
    if found is None:
        return
    by_id = {_job_dict(stage)["stage"]: _job_dict(stage) for stage in stage_list}
    approval = by_id.get("Approval")
    if approval is None:
        return
    approval["jobs"][0]["steps"].append(
        comment(
            {
                "bash": ci.script(
                    [
                        *ticket_lines(dialect),
                        f"# {SOD_MARKER}: the production environment's approval check, with 'Allow approvers",
                        "# to approve their own runs' off, refuses the requester's own approval.",
                        'echo "Requested by ${REQUESTED_BY}"',
                    ]
                ),
                "displayName": "Change ticket",
                "env": {
                    "CHANGE_TICKET": "$(CHANGE_TICKET)",
                    "CHANGE_TICKET_PATTERN": "$(CHANGE_TICKET_PATTERN)",
                    "REQUESTED_BY": "$(Build.RequestedForEmail)",
                },
            },
            ci.wrap(f"{found.title}: production needs a change ticket (the queue-time variable CHANGE_TICKET, "
                    "or a commit trailer)."),
        )
    )
    record: dict[str, Any] = {
        "stage": "ReleaseRecord",
        "displayName": "Release record",
        # Package too: a stage reads stageDependencies outputs only of the stages it depends on.
        "dependsOn": ["Package", "Approval", "DeployProd", "Verify"],
        "condition": "and(always(), ne(dependencies.DeployProd.result, 'Skipped'))",
    }
    if "variables" in approval:
        record["variables"] = approval["variables"]
    record["jobs"] = [
        {
            "job": "record",
            "displayName": "Release record",
            "timeoutInMinutes": 5,
            "pool": approval["jobs"][0]["pool"],
            "steps": [
                {
                    "bash": ci.script(record_lines(ctx)),
                    "displayName": "Write the release record",
                    "env": {
                        "RECORD_ENVIRONMENT": ci.PROD_ENVIRONMENT,
                        "RECORD_COMMIT": "$(Build.SourceVersion)",
                        "RECORD_RUN": "$(System.CollectionUri)$(System.TeamProject)/_build/results?buildId="
                        "$(Build.BuildId)",
                        "RECORD_OUTCOME": "see the DeployProd and Verify stages",
                        "APPROVER": "see the production environment's approval history",
                        "CHANGE_TICKET": "$(CHANGE_TICKET)",
                    },
                },
                comment(
                    {"publish": RECORD_FILE, "artifact": "deployment-record", "displayName": "Keep the record"},
                    ci.wrap(_retention_words(found, found.retention_days) + ". Azure keeps it as long as the "
                            "run is retained (project retention settings, or a retention lease)."),
                ),
            ],
        }
    ]
    stage_list.append(
        comment(record, ci.wrap(f"{found.title} audit trail: one record per production deploy, whatever "
                                "its outcome."))
    )


# -- CircleCI ------------------------------------------------------------------------------


def circleci(ctx: ci.Context, jobs: dict[str, Any]) -> None:
    """Deploy Prod: the ticket check after the checkout, the record at the end (always)."""
    found = profile(ctx)
    if found is None or stages.DEPLOY_PROD not in jobs:
        return
    steps: list[Any] = _job_dict(jobs[stages.DEPLOY_PROD])["steps"]
    index = next((i for i, step in enumerate(steps) if step == "checkout"), -1) + 1
    steps.insert(
        index,
        {
            "run": {
                "name": "Change ticket",
                "command": ci.script(
                    [
                        *ticket_lines(ci.PLAIN),
                        f"# {SOD_MARKER}: only the production context's security group can approve the",
                        "# approval job; CircleCI does not tell a job who approved, so it cannot compare.",
                        'echo "export CHANGE_TICKET=\'${CHANGE_TICKET}\'" >> "${BASH_ENV}"',
                    ]
                ),
            }
        },
    )
    steps.append(
        {
            "run": {
                "name": "Write the deployment record",
                "when": "always",
                "environment": {
                    "RECORD_ENVIRONMENT": ci.PROD_ENVIRONMENT,
                    "RECORD_OUTCOME": "see this job's status",
                },
                "command": ci.script(
                    [
                        'RECORD_COMMIT="${CIRCLE_SHA1}"',
                        'RECORD_RUN="${CIRCLE_BUILD_URL}"',
                        *record_lines(ctx),
                    ]
                ),
            }
        }
    )
    steps.append(
        comment(
            {"store_artifacts": {"path": RECORD_FILE, "destination": RECORD_FILE}},
            ci.wrap(_retention_words(found, CIRCLECI_MAX_RETENTION_DAYS) + ". CircleCI keeps artifacts at most "
                    f"{CIRCLECI_MAX_RETENTION_DAYS} days (Plan > Usage controls)."),
        )
    )


# -- Jenkins -------------------------------------------------------------------------------


def jenkins(ctx: ci.Context, stage_list: list[Any]) -> None:
    """The approval input asks for the ticket and records who answered (submitterParameter);
    Deploy Prod checks both before it deploys, and archives the record whatever the outcome."""
    found = profile(ctx)
    if found is None:
        return
    from deploysmith.render import jenkins as jk  # the renderer imports this module

    heads = {getattr(node, "head", ""): node for node in stage_list}
    approval = heads.get("stage('Approval')")
    deploy = heads.get("stage('Deploy Prod')")
    if approval is None or deploy is None:
        return
    parts = {getattr(node, "head", ""): node for node in approval.body}
    parts["input"].body += [
        jk.Line("submitterParameter 'APPROVER'", f"{SOD_MARKER}: who answered, checked against the author"),
        jk.Block(
            "parameters",
            [jk.Line("string(name: 'CHANGE_TICKET', defaultValue: '', trim: true, "
                     "description: 'Change ticket of this release')")],
            f"{TICKET_MARKER}: the approver names the change",
        ),
    ]
    parts["steps"].body.append(
        jk.Block("script", [jk.Line("env.APPROVER = APPROVER"), jk.Line("env.CHANGE_TICKET = CHANGE_TICKET")])
    )
    stage_parts = {getattr(node, "head", ""): node for node in deploy.body}
    stage_parts["steps"].body.insert(
        0, jk.sh("Change ticket and separation of duties", jenkins_check_lines(ctx))
    )
    post = stage_parts["post"]
    post.body.append(
        jk.Block(
            "always",
            [
                jk.sh("Write the release record", jenkins_record_lines(ctx)),
                jk.Line(
                    f"archiveArtifacts(artifacts: {jk.q(RECORD_FILE)}, fingerprint: true)",
                    _retention_words(found, found.retention_days) + ".\nKeep builds that long "
                    "(buildDiscarder) or archive the record to write-once storage.",
                ),
            ],
            f"{RECORD_MARKER}: one record per production deploy, whatever its outcome",
        )
    )


def jenkins_check_lines(ctx: ci.Context) -> list[str]:
    """Deploy Prod's first step: APPROVER and CHANGE_TICKET come from the approval input."""
    del ctx
    return [
        *ticket_lines(ci.PLAIN),
        "AUTHOR_EMAIL=\"$(git log -1 --format='%ae')\"",
        "AUTHOR_NAME=\"$(git log -1 --format='%an')\"",
        'AUTHOR_ID="${AUTHOR_EMAIL%%@*}"',
        *sod_lines(ci.PLAIN),
    ]


def jenkins_record_lines(ctx: ci.Context) -> list[str]:
    return [
        'RECORD_COMMIT="${GIT_COMMIT:-}"',
        'RECORD_RUN="${BUILD_URL:-}"',
        'RECORD_ENVIRONMENT="production"',
        'RECORD_OUTCOME="${RECORD_OUTCOME:-see the build result}"',
        *record_lines(ctx),
    ]


__all__ = ["RECORD_FILE", "RECORD_JOB", "azure", "circleci", "github", "gitlab",
           "jenkins", "jenkins_check_lines", "jenkins_record_lines", "profile", "record_lines", "sod_lines",
           "ticket_lines"]

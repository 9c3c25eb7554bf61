"""The security jobs of `.gitlab-ci.yml` (render/gitlab_ci.py places them): Semgrep and
Gitleaks beside the Trivy security-scan job, each in its tool's own image; the signing job
after the image scan; the scheduled history scan and scanner self-test.

GitLab's Docker-in-Docker cannot mount the checkout into another container, so each tool
runs as the job's image, and Cosign and Syft come from Alpine's signed packages.
"""

from __future__ import annotations

from typing import Any

from deploysmith.render import ci_common as ci
from deploysmith.render import security as sec
from deploysmith.render.yamlout import Commented, comment

ON_SCHEDULE = '$CI_PIPELINE_SOURCE == "schedule"'
SAST_JOB = "sast-semgrep"
SECRETS_JOB = "secrets-gitleaks"
SIGN_JOB = "package-sign"
HISTORY_JOB = "secrets-history"
SELFTEST_JOBS = sec.CONTAINER_SELFTEST_JOBS
APK = "apk add --no-cache cosign syft"
# The clone belongs to the runner's user; git refuses another owner's repository without this.
SAFE_DIRECTORY = 'git config --global --add safe.directory "${PWD}"'
APK_NOTE = (
    "Cosign and Syft from Alpine's community repository (signed packages; their versions follow the "
    "image's Alpine release)."
)


def _image(name: str) -> dict[str, Any]:
    return {"name": name, "entrypoint": [""]}


def gate_jobs(ctx: ci.Context) -> dict[str, Commented]:
    """Semgrep and Gitleaks: part of the Security Scan stage, both needed by Package. Both read
    only the source, so they start at once."""
    fail_on = sec.level(ctx.plan.requirements)
    return {
        SAST_JOB: comment(
            {
                "stage": "security-scan",
                "image": _image(sec.SEMGREP_IMAGE),
                "needs": [],
                "timeout": f"{ci.TIMEOUTS['security-scan']} minutes",
                "variables": {"SEMGREP_ENABLE_VERSION_CHECK": "0"},
                "script": [ci.script(sec.semgrep_lines(fail_on, gitlab=True))],
                "artifacts": {
                    "when": "always",
                    "expire_in": "30 days",
                    "paths": [sec.SEMGREP_SARIF],
                    "reports": {"sast": sec.SEMGREP_GITLAB},
                },
            },
            ci.wrap(
                f"Security Scan, SAST: Semgrep {sec.SEMGREP_VERSION} (registry rules p/default and "
                f"{sec.SEMGREP_RULES}) fails on {' or '.join(sec.semgrep_severities(fail_on))} findings; the "
                "`sast` report shows all of them in the merge request. It reads only the source, so it starts "
                "at once."
            ),
        ),
        SECRETS_JOB: comment(
            {
                "stage": "security-scan",
                "image": _image(sec.GITLEAKS_IMAGE),
                "needs": [],
                "timeout": f"{ci.TIMEOUTS['security-scan']} minutes",
                "script": [ci.script(sec.gitleaks_lines())],
                "artifacts": {"when": "always", "expire_in": "30 days", "paths": [sec.GITLEAKS_REPORT]},
            },
            ci.wrap(
                "Security Scan, secrets: any Gitleaks finding in the tree fails the job (the report is "
                "redacted). The whole history is scanned on the weekly schedule (secrets-history)."
            ),
        ),
    }


def vuln_reports(ctx: ci.Context) -> list[str]:
    return [sec.VULN_REPORT.format(image=ci.slug(i.name)) for i in ctx.images]


def sign_job(ctx: ci.Context, login: list[str], rules: list[dict[str, Any]], needs: list[str]) -> Commented:
    """Sign the images of `ctx` (in a monorepo, one image: one signing job per image). `needs`
    ends with the scan job whose report is attested."""
    signer = sec.SIGNERS["gitlab"]
    return comment(
        {
            "stage": "package",
            "image": _image(ci.DOCKER_IMAGE),
            "needs": needs,
            "rules": rules,
            "interruptible": False,
            "timeout": f"{ci.TIMEOUTS['security-scan']} minutes",
            "id_tokens": {"SIGSTORE_ID_TOKEN": {"aud": "sigstore"}},
            "script": [
                APK,
                *login,
                ci.script([*sec.sbom_lines(ctx), *sec.sign_lines(ctx, signer)]),
            ],
            "artifacts": {
                "expire_in": "90 days",
                "paths": [
                    p.format(image=ci.slug(i.name)) for i in ctx.images for p in (sec.SBOM_SPDX, sec.SBOM_CYCLONEDX)
                ],
            },
        },
        ci.wrap(
            f"Package, signing: SBOMs (Syft: SPDX and CycloneDX) of each pushed digest, then Cosign signs the "
            f"digest and attests the SBOMs and {needs[-1]}'s vulnerability report. {signer.why} {APK_NOTE}"
        ),
    )


def verify_lines(ctx: ci.Context, login: list[str]) -> list[str]:
    """The first lines of a deploy job: install Cosign, log in to read, verify."""
    return [
        "apk add --no-cache cosign",
        *login,
        *sec.verify_lines(ctx, sec.SIGNERS["gitlab"]),
    ]


def scheduled_jobs(ctx: ci.Context) -> dict[str, Commented]:
    """The weekly history scan and the self-test (which also runs when the configuration changes)."""
    fail_on = sec.level(ctx.plan.requirements)
    changes = [p + "**/*" if p.endswith("/") else p for p in sec.SECURITY_PATHS]
    selftest_rules = [
        {"if": ON_SCHEDULE},
        {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "changes": changes},
        {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "changes": changes},
    ]
    jobs: dict[str, Commented] = {
        HISTORY_JOB: comment(
            {
                "stage": "security-scan",
                "image": _image(sec.GITLEAKS_IMAGE),
                "needs": [],
                "rules": [{"if": ON_SCHEDULE}],
                "variables": {"GIT_DEPTH": "0"},
                "timeout": f"{ci.TIMEOUTS['security-scan']} minutes",
                "script": [ci.script([SAFE_DIRECTORY, *sec.history_lines("gitleaks")])],
                "artifacts": {"when": "always", "expire_in": "30 days", "paths": [sec.GITLEAKS_REPORT]},
            },
            ci.wrap(
                "Scheduled (CI/CD > Schedules: weekly on main). Gitleaks over every commit: a secret a later "
                "commit removed is still in the history and must be revoked. GIT_DEPTH 0: a full clone."
            ),
        )
    }
    tools = {"gitleaks": "gitleaks", "semgrep": "semgrep", "trivy": "trivy", "awk": "awk"}
    for name, (image, gates) in SELFTEST_JOBS.items():
        variables = {"SEMGREP_ENABLE_VERSION_CHECK": "0"} if "sast" in gates else {}
        job: dict[str, Any] = {
            "stage": "security-scan",
            "image": _image(image),
            "needs": [],
            "rules": selftest_rules,
        }
        if variables:
            job["variables"] = variables
        job["timeout"] = f"{ci.TIMEOUTS['security-scan']} minutes"
        job["script"] = [ci.script(sec.selftest_lines(fail_on, gates, tools))]
        jobs[name] = comment(
            job,
            ci.wrap(
                f"Scanner self-test ({', '.join(gates)}): passes only if the gate blocks the fixture planted in "
                f"{sec.SELFTEST_DIR}/. Scheduled, and on changes to the security configuration."
            ),
        )
    return jobs


__all__ = ["APK", "ON_SCHEDULE", "SAST_JOB", "SECRETS_JOB", "SIGN_JOB", "gate_jobs", "scheduled_jobs", "sign_job"]

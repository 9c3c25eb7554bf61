"""The security jobs of `.circleci/config.yml` (render/circleci.py places them): Semgrep and
Gitleaks beside Trivy's security-scan job, the image gate and the signing job after Package,
and the scheduled workflow (history scan, scanner self-test).

CircleCI's remote Docker cannot mount the checkout, so each tool runs as its job's image;
Cosign and Syft come from Alpine's signed packages. Signing is keyless: a CircleCI OIDC
token with the audience `sigstore`.
"""

from __future__ import annotations

from typing import Any

from deploysmith.render import ci_common as ci
from deploysmith.render import security as sec
from deploysmith.render.yamlout import Commented, comment

SAST_JOB = "security-scan-sast"
SECRETS_JOB = "security-scan-secrets"
SIGN_JOB = "package-sign"
HISTORY_JOB = "secrets-history"
SELFTEST_JOBS = sec.CONTAINER_SELFTEST_JOBS
SCHEDULED = {"equal": ["scheduled_pipeline", "<< pipeline.trigger_source >>"]}
TOOLS = {"gitleaks": "gitleaks", "semgrep": "semgrep", "trivy": "trivy", "awk": "awk"}
OIDC_LINE = 'SIGSTORE_ID_TOKEN="$(circleci run oidc get --claims \'{"aud": "sigstore"}\')"; export SIGSTORE_ID_TOKEN'


def _run(name: str, lines: list[str], minutes: int) -> dict[str, Any]:
    return {"run": {"name": name, "command": ci.script(lines), "no_output_timeout": f"{minutes}m"}}


def _docker(image: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    primary: dict[str, Any] = {"image": image}
    if env:
        primary["environment"] = env
    return [primary]


def gate_jobs(ctx: ci.Context) -> dict[str, Commented]:
    fail_on = sec.level(ctx.plan.requirements)
    minutes = ci.TIMEOUTS["security-scan"]
    return {
        SAST_JOB: comment(
            {
                "docker": _docker(sec.SEMGREP_IMAGE, {"SEMGREP_ENABLE_VERSION_CHECK": "0"}),
                "resource_class": "medium",
                "steps": [
                    "checkout",
                    _run("SAST: Semgrep", sec.semgrep_lines(fail_on), minutes),
                    {"store_artifacts": {"path": sec.SEMGREP_SARIF, "destination": "security/semgrep.sarif"}},
                ],
            },
            ci.wrap(
                f"Security Scan, SAST: Semgrep (registry rules p/default and {sec.SEMGREP_RULES}) fails on "
                f"{' or '.join(sec.semgrep_severities(fail_on))} findings. It reads only the source: it starts at "
                "once."
            ),
        ),
        SECRETS_JOB: comment(
            {
                "docker": _docker(sec.GITLEAKS_IMAGE),
                "resource_class": "small",
                "steps": [
                    "checkout",
                    _run("Secrets: Gitleaks", sec.gitleaks_lines(), minutes),
                    {"store_artifacts": {"path": sec.GITLEAKS_REPORT, "destination": "security/gitleaks.sarif"}},
                ],
            },
            ci.wrap("Security Scan, secrets: any Gitleaks finding in the tree fails the job (redacted report)."),
        ),
    }


def sign_job(unit: ci.Unit) -> str:
    """The scan-and-sign job of one image: `package-sign`, or `package-sign-<image>` in a monorepo."""
    return f"{SIGN_JOB}{unit.suffix}"


def image_jobs(
    ctx: ci.Context, unit: ci.Unit, workspace: str, refs_file: str, host: str
) -> dict[str, Commented]:
    """The job after one image's Package job, in Trivy's image (it reads the checkout's ignore
    file): the image gate, then SBOMs, signature and attestations of that image. One per image
    rather than one after every Package job: each image is scanned and signed as soon as it is
    pushed, so the slowest image, not the sum of them, sets the commit stage's length."""
    monorepo = ctx.monorepo
    ctx = ctx.for_unit(unit)
    fail_on = sec.level(ctx.plan.requirements)
    load = ["set -a", "# shellcheck source=/dev/null", f'. "{workspace}/{refs_file}"', "set +a"]
    signer = sec.SIGNERS["circleci"]
    minutes = ci.TIMEOUTS["security-scan"]
    login = (
        'printf \'%s\' "${REGISTRY_PASSWORD}" | cosign login --username "${REGISTRY_USERNAME}" '
        f'--password-stdin "{host}"'
    )
    return {
        sign_job(unit): comment(
            {
                "docker": _docker(ci.TRIVY_IMAGE, {"TRIVY_NO_PROGRESS": "true"}),
                "resource_class": "small",
                "steps": [
                    "checkout",
                    {"attach_workspace": {"at": workspace}},
                    _run(
                        f"Scan the pushed {'image' if monorepo else 'images'} (blocks on "
                        f"{sec.trivy_severities(fail_on).lower()})",
                        [
                            *load,
                            'export TRIVY_USERNAME="${REGISTRY_USERNAME}" TRIVY_PASSWORD="${REGISTRY_PASSWORD}"',
                            *sec.image_scan_lines(ctx, fail_on),
                        ],
                        minutes,
                    ),
                    _run(
                        "SBOMs, signature and attestations",
                        [
                            "apk add --no-cache cosign syft",
                            login,
                            *load,
                            OIDC_LINE,
                            *sec.sbom_lines(ctx),
                            *sec.sign_lines(ctx, signer),
                        ],
                        minutes,
                    ),
                ],
            },
            ci.wrap(
                "The image part of the security policy: a blocked finding in a pushed image stops the workflow, "
                f"so it never deploys; the scan's report is the attestation signed next. {signer.why} SBOMs: "
                "Syft (SPDX and CycloneDX) of each pushed digest. Cosign and Syft from Alpine's community "
                "repository (signed packages)."
                + (f" This job covers the {unit.label} image, from {refs_file}." if monorepo else "")
            ),
        ),
    }


def verify_lines(ctx: ci.Context, host: str) -> list[str]:
    return [
        "apk add --no-cache cosign",
        'if [ -n "${REGISTRY_USERNAME:-}" ]; then',
        '  printf \'%s\' "${REGISTRY_PASSWORD}" | cosign login --username "${REGISTRY_USERNAME}" '
        f'--password-stdin "{host}"',
        "fi",
        *sec.verify_lines(ctx, sec.SIGNERS["circleci"]),
    ]


def add_schedule(ctx: ci.Context, config: dict[str, Any]) -> None:
    """The scheduled jobs and their workflow; the delivery workflow stays off scheduled pipelines."""
    fail_on = sec.level(ctx.plan.requirements)
    minutes = ci.TIMEOUTS["security-scan"]
    jobs = config["jobs"]
    jobs[HISTORY_JOB] = comment(
        {
            "docker": _docker(sec.GITLEAKS_IMAGE),
            "resource_class": "small",
            "steps": [
                "checkout",
                _run(
                    "Gitleaks over every commit",
                    [
                        'git config --global --add safe.directory "${PWD}"',
                        "if [ -f .git/shallow ]; then git fetch --quiet --unshallow; fi",
                        *sec.history_lines("gitleaks"),
                    ],
                    minutes,
                ),
            ],
        },
        ci.wrap("A secret a later commit removed is still in the history, and must be revoked."),
    )
    for name, (image, gates) in SELFTEST_JOBS.items():
        env = {"SEMGREP_ENABLE_VERSION_CHECK": "0"} if "sast" in gates else None
        jobs[name] = comment(
            {
                "docker": _docker(image, env),
                "resource_class": "small",
                "steps": [
                    "checkout",
                    _run(f"Self-test: {', '.join(gates)}", sec.selftest_lines(fail_on, gates, TOOLS), minutes),
                ],
            },
            ci.wrap(f"Passes only if the gate blocks the fixture planted in {sec.SELFTEST_DIR}/."),
        )
    workflows = config["workflows"]
    for name, workflow in list(workflows.items()):
        if isinstance(workflow, dict) and "when" not in workflow:
            workflows[name] = {"when": {"not": SCHEDULED}, **workflow}
    workflows["security-schedule"] = comment(
        {"when": SCHEDULED, "jobs": [HISTORY_JOB, *SELFTEST_JOBS]},
        ci.wrap(
            "A scheduled pipeline (Project Settings > Triggers, weekly on main) runs the history scan and the "
            "scanner self-test. Run one by hand after changing the security configuration: CircleCI filters "
            "workflows by path only through dynamic configuration."
        ),
    )


__all__ = ["SAST_JOB", "SECRETS_JOB", "SIGN_JOB", "add_schedule", "gate_jobs", "image_jobs", "sign_job"]

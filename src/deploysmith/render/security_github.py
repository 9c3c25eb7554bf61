"""The security steps of GitHub's ci-cd workflow (render/github_actions.py places them):
the Security Scan's gates and their SARIF uploads, the dependency auditor of each Build job,
dependency review on pull requests, SBOM + signature + attestations in Package, and the
signature check before each deploy.

Untrusted values (refs, titles, digests) reach scripts only through `env`; the tools run as
pinned images (`docker run`) or as actions pinned by SHA.
"""

from __future__ import annotations

from typing import Any

from deploysmith.render import ci_common as ci
from deploysmith.render import security as sec
from deploysmith.render.actions_pins import uses
from deploysmith.render.yamlout import Commented, comment

SARIF_TRIVY = f"{sec.SARIF_DIR}/trivy.sarif"
# Forks get a read-only token and cannot upload SARIF; their gates still run.
SAME_REPO = "github.event_name == 'push' || github.event.pull_request.head.repo.full_name == github.repository"
EVERY_GATE = "!cancelled()"  # each gate runs and reports even when an earlier one failed


def _expr(text: str) -> str:
    return "${{ " + text + " }}"


def scan_steps(ctx: ci.Context) -> list[Any]:
    """The Security Scan job's steps after the checkout."""
    fail_on = sec.level(ctx.plan.requirements)
    trivy = uses("aquasecurity/trivy-action")
    severities = sec.trivy_severities(fail_on)
    common = {
        "scan-type": "fs",
        "scan-ref": ".",
        "scanners": "vuln,secret",
        "skip-dirs": sec.SELFTEST_DIR,
    }
    # Not the action's `trivyignores` input: it merges files into one without the .yaml name,
    # and Trivy reads the YAML format only from a .yaml/.yml file.
    ignorefile = {"TRIVY_IGNOREFILE": sec.TRIVYIGNORE}
    return [
        comment(
            {
                "name": "Check the accepted findings",
                "run": ci.script([*sec.ignore_check_lines(), f"mkdir -p {sec.SARIF_DIR}  # the scans' reports"]),
            },
            f"Every entry of {sec.TRIVYIGNORE} needs a reason (statement) and an expiry (expired_at) that has "
            "not\npassed; this step fails otherwise, so an accepted risk is reviewed, not forgotten.",
        ),
        comment(
            {
                "name": "Report dependency vulnerabilities and secrets (all severities, SARIF)",
                "if": EVERY_GATE,
                "uses": trivy,
                "env": ignorefile,
                "with": {**common, "format": "sarif", "output": SARIF_TRIVY, "exit-code": "0"},
            },
            "Trivy reads the lock files (dependency audit) and scans the tree for secrets; the self-test\n"
            f"fixture ({sec.SELFTEST_DIR}) is skipped by every main scan.",
        ),
        comment(
            {
                "name": "Secrets: Gitleaks",
                "if": EVERY_GATE,
                "run": ci.script(sec.gitleaks_lines(sec.docker_tool(sec.GITLEAKS_IMAGE))),
            },
            "Gitleaks' own image (gitleaks-action needs a licence key for organisation repositories).\n"
            "The whole history is scanned weekly by security-schedule.yml.",
        ),
        comment(
            {
                "name": f"Block on {severities.replace(',', ', ').lower()} dependency findings",
                "if": EVERY_GATE,
                "uses": trivy,
                "env": ignorefile,
                "with": {**common, "severity": severities, "ignore-unfixed": True, "exit-code": "1", "format": "table"},
            },
            f"The gate: exit code 1 on {severities} (fail_on: {fail_on}). Vulnerabilities without a fixed "
            f"version\nare reported above but do not block; accept a finding in {sec.TRIVYIGNORE} with a "
            "reason and an expiry.",
        ),
        comment(
            {
                "name": "Upload the reports to code scanning",
                "if": f"!cancelled() && ({SAME_REPO})",
                "uses": uses("github/codeql-action/upload-sarif"),
                "with": {"sarif_file": sec.SARIF_DIR},
            },
            "One upload of both SARIF files (Trivy, Gitleaks: one run per tool). Pull requests from\n"
            "forks get a read-only token and cannot upload; their gates above still run.",
        ),
    ]


SAST_JOB = "sast"


def sast_job(ctx: ci.Context, runner: str, checkout: Any) -> Commented:
    """Semgrep in a job of its own: it reads the source, so it starts at once, beside Build;
    Package needs it."""
    fail_on = sec.level(ctx.plan.requirements)
    job: dict[str, Any] = {"name": "SAST (Semgrep)"}
    job.update(
        {
            "runs-on": runner,
            "timeout-minutes": ci.TIMEOUTS["security-scan"],
            "permissions": {"contents": "read", "security-events": "write", "actions": "read"},
            "steps": [
                checkout,
                comment(
                    {
                        "name": "SAST: Semgrep",
                        "run": ci.script(sec.semgrep_lines(fail_on, semgrep=sec.semgrep_docker())),
                    },
                    f"Semgrep {sec.SEMGREP_VERSION} from its pinned image; registry rules p/default are fetched "
                    f"at run time,\n{sec.SEMGREP_RULES} is the kit's own. Fails on "
                    f"{' or '.join(sec.semgrep_severities(fail_on))} findings; all go to code scanning.",
                ),
                {
                    "name": "Upload the report to code scanning",
                    "if": f"!cancelled() && ({SAME_REPO})",
                    "uses": uses("github/codeql-action/upload-sarif"),
                    "with": {"sarif_file": sec.SEMGREP_SARIF},
                },
            ],
        }
    )
    return comment(
        job,
        ci.wrap(
            "Part of the Security Scan stage (block-on-severity): static analysis reads the source, so it "
            "starts with Build instead of after it; Package needs it. security-events: write only to upload "
            "SARIF."
        ),
    )


def audit_step(unit: ci.Unit, fail_on: str) -> Commented | None:
    found = sec.auditor(unit, fail_on)
    if found is None:
        return None
    return comment(
        {"name": f"Audit dependencies ({found.tool})", "run": ci.script(list(found.lines))},
        f"The ecosystem's own advisory check, on what was just installed. {found.note}",
    )


def dependency_review_job(ctx: ci.Context, runner: str) -> Commented:
    fail_on = sec.level(ctx.plan.requirements)
    planted = sorted({pin.ghsa for pin in sec.VULNERABLE_PINS.values()})
    return comment(
        {
            "name": "Dependency Review",
            "if": "github.event_name == 'pull_request'",
            "runs-on": runner,
            "timeout-minutes": 5,
            "permissions": {"contents": "read"},
            "steps": [
                {
                    "name": "Refuse new dependencies with known vulnerabilities",
                    "uses": uses("actions/dependency-review-action"),
                    "with": {
                        "fail-on-severity": sec.review_severity(fail_on),
                        "allow-ghsas": ", ".join(planted),
                        "comment-summary-in-pr": "never",
                    },
                }
            ],
        },
        ci.wrap(
            f"Pull requests only: a dependency the change adds with a {sec.review_severity(fail_on)} or worse "
            f"advisory fails the check (make it required). The advisories planted in {sec.SELFTEST_DIR} are "
            "allowed by id, nothing else. Needs the dependency graph (on by default for public repositories; "
            "GitHub Advanced Security for private ones)."
        ),
    )


def image_gate_steps(ctx: ci.Context, image_output: dict[str, str]) -> list[Any]:
    """Block on findings at fail_on in each pushed image. The scan writes Cosign's vuln
    predicate, so the attestation Package signs is this gate's own result."""
    fail_on = sec.level(ctx.plan.requirements)
    severities = sec.trivy_severities(fail_on)
    steps: list[Any] = []
    for name, ref in image_output.items():
        gate = {
            "image-ref": ref,
            "scanners": "vuln",
            "severity": severities,
            "ignore-unfixed": True,
            "exit-code": "1",
        }
        steps += [
            comment(
                {
                    "name": f"Scan {name} image (blocks on {severities.lower().replace(',', ', ')})",
                    "id": f"scan-{ci.slug(name)}",
                    "uses": uses("aquasecurity/trivy-action"),
                    "env": {"TRIVY_IGNOREFILE": sec.TRIVYIGNORE},
                    "with": {
                        **gate,
                        "format": "cosign-vuln",
                        "output": sec.VULN_REPORT.format(image=ci.slug(name)),
                    },
                },
                "The image part of the security policy: a finding fails Package, so the image never deploys.\n"
                "The report is the vulnerability attestation signed below.",
            ),
            {
                "name": f"Show what blocked {name}",
                "if": f"failure() && steps.scan-{ci.slug(name)}.outcome == 'failure'",
                "uses": uses("aquasecurity/trivy-action"),
                "env": {"TRIVY_IGNOREFILE": sec.TRIVYIGNORE},
                "with": {**gate, "format": "table"},
            },
        ]
    return steps


def sign_steps(ctx: ci.Context, image_output: dict[str, str]) -> list[Any]:
    """After the push and the image gate: SBOMs, the vulnerability report, signature and
    attestations. `image_output` maps each image name to the expression of its reference."""
    env = {ci.image_var(name): ref for name, ref in image_output.items()}
    signer = sec.SIGNERS["github"]
    return [
        comment(
            {"name": "Install Cosign", "uses": uses("sigstore/cosign-installer")},
            "The release the installer pins, checked against its published checksum.",
        ),
        comment(
            {
                "name": "SBOMs (SPDX and CycloneDX) of the pushed digests",
                "env": env,
                "run": ci.script(sec.sbom_lines(ctx, syft=sec.docker_tool(sec.SYFT_IMAGE, registry=True))),
            },
            f"Syft ({sec.SYFT_IMAGE}) reads the pushed image with this job's registry login.",
        ),
        comment(
            {"name": "Sign and attest (keyless)", "env": env, "run": ci.script(sec.sign_lines(ctx, signer))},
            ci.wrap(signer.why),
        ),
    ]


def verify_steps(ctx: ci.Context, registry: str) -> list[Any]:
    """Before a deploy: the digests must carry this workflow's signature and attestations.
    Cosign reads them from the registry: GHCR with the job's token (packages: read), another
    registry with the same secrets Package pushes with."""
    if registry == "ghcr.io":
        credentials = {"username": _expr("github.actor"), "password": _expr("github.token")}
    else:
        credentials = {
            "username": _expr("secrets.REGISTRY_USERNAME"),
            "password": _expr("secrets.REGISTRY_PASSWORD"),
        }
    return [
        comment(
            {
                "name": f"Log in to {registry} (read the signatures)",
                "uses": uses("docker/login-action"),
                "with": {"registry": registry, **credentials},
            },
            "Cosign reads the signature and attestations stored beside the image.",
        ),
        {"name": "Install Cosign", "uses": uses("sigstore/cosign-installer")},
        comment(
            {
                "name": "Verify signatures and attestations",
                "run": ci.script(sec.verify_lines(ctx, sec.SIGNERS["github"])),
            },
            "Only a digest signed by this workflow on main, with its SBOM and scan attestations, deploys.",
        ),
    ]


__all__ = [
    "SAST_JOB",
    "audit_step",
    "image_gate_steps",
    "dependency_review_job",
    "sast_job",
    "scan_steps",
    "sign_steps",
    "verify_steps",
]

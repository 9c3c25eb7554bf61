"""The security parts of the Jenkinsfile (render/jenkins.py places them): the Security Scan
stage, the signing steps of Package, and the signature stage before each deploy.

Jenkins has no OIDC identity Sigstore's certificate authority accepts, so Cosign signs with a
key pair kept as Jenkins credentials, bound only around the steps that use them. The deploy
stages run in the kubectl image as the agent's user (no Docker, no package installs): the
signature check is a stage of its own, just before, on a Docker agent.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from deploysmith.model import EnvironmentPlan
from deploysmith.render import ci_common as ci
from deploysmith.render import security as sec
from deploysmith.render import security_lines

if TYPE_CHECKING:
    from deploysmith.render.jenkins import Block, Line

PRIVATE_KEY = "cosign-private-key"  # Secret text: the PEM of `cosign generate-key-pair`
PASSWORD = "cosign-password"  # Secret text
PUBLIC_KEY = "cosign-public-key"  # Secret text (not secret, but kept beside the others)


def _jenkins() -> ModuleType:
    from deploysmith.render import jenkins  # jenkins imports this module

    return jenkins


def security_stage_body(ctx: ci.Context) -> list[Block | Line]:
    j = _jenkins()
    fail_on = sec.level(ctx.plan.requirements)
    trivy = sec.docker_tool(ci.TRIVY_IMAGE)
    return [
        j.Block("agent", [j.Line(f"label {j.q(j.DOCKER_LABEL)}")]),
        j._options(ci.TIMEOUTS["security-scan"]),
        j.Block(
            "steps",
            [
                j.sh(
                    f"Security gates (block on {sec.trivy_severities(fail_on).lower()})",
                    security_lines.scan_lines(fail_on, trivy),
                )
            ],
        ),
        j.Block(
            "post",
            [
                j.Block(
                    "always",
                    [
                        j.Line(
                            f"archiveArtifacts(artifacts: {j.q(ci.FS_REPORT + ', ' + sec.SARIF_DIR + '/*.sarif')}, "
                            "allowEmptyArchive: true)",
                            "The SARIF reports: Warnings Next Generation's recordIssues(tool: sarif(…)) can show them.",
                        ),
                    ],
                )
            ],
        ),
    ]


def sast_stage_body(ctx: ci.Context) -> list[Block | Line]:
    j = _jenkins()
    fail_on = sec.level(ctx.plan.requirements)
    return [
        j.Block("agent", [j.Line(f"label {j.q(j.DOCKER_LABEL)}")]),
        j._options(ci.TIMEOUTS["security-scan"]),
        j.Block("steps", [j.sh("SAST: Semgrep", security_lines.sast_lines(fail_on))]),
        j.Block(
            "post",
            [
                j.Block(
                    "always",
                    [j.Line(f"archiveArtifacts(artifacts: {j.q(sec.SEMGREP_SARIF)}, allowEmptyArchive: true)")],
                )
            ],
        ),
    ]


def sign_steps(ctx: ci.Context) -> list[Block | Line]:
    j = _jenkins()
    credentials = (
        f"withCredentials([string(credentialsId: {j.q(PRIVATE_KEY)}, variable: 'COSIGN_PRIVATE_KEY'), "
        f"string(credentialsId: {j.q(PASSWORD)}, variable: 'COSIGN_PASSWORD')])"
    )
    return [
        j.Block(
            credentials,
            [
                j.sh(
                    "SBOMs, signature and attestations",
                    security_lines.sign_lines(ctx, sec.SIGNERS["jenkins"], ("COSIGN_PRIVATE_KEY", "COSIGN_PASSWORD")),
                )
            ],
            "The key and its password exist only inside this block (masked in the log).",
        )
    ]


def signature_stage(
    ctx: ci.Context, stage_name: str, env: EnvironmentPlan, registry_login: str, credentials: str
) -> Block:
    """A stage just before a deploy stage, named after it: the digests must carry this
    pipeline's signature."""
    j = _jenkins()
    name = f"{stage_name} (signatures)"
    when = j._when(ctx, True)
    verify = j.Block(
        f"withCredentials([string(credentialsId: {j.q(PUBLIC_KEY)}, variable: 'COSIGN_PUBLIC_KEY')])",
        [
            j.Block(
                credentials,
                [
                    j.sh(
                        "Verify signatures and attestations",
                        [
                            registry_login,
                            *security_lines.verify_lines(ctx, sec.SIGNERS["jenkins"], ("COSIGN_PUBLIC_KEY",)),
                        ],
                    )
                ],
            )
        ],
    )
    body: list[Block | Line] = [
        *([when] if when else []),
        j.Block("agent", [j.Line(f"label {j.q(j.DOCKER_LABEL)}")]),
        j._options(10),
        j.Block("steps", [verify]),
        j.Block("post", [j.Block("always", [j.Line("sh(label: 'Log out', script: 'docker logout || true')")])]),
    ]
    stage: Block = j.Block(
        f"stage({j.q(name)})",
        body,
        ci.wrap(
            f"Nothing unsigned deploys to {env.name}: Cosign checks the digests' signature and their SBOM and "
            f"vulnerability attestations against the `{PUBLIC_KEY}` credential. {sec.SIGNERS['jenkins'].why}"
        ),
    )
    return stage


__all__ = ["sast_stage_body", "security_stage_body", "sign_steps", "signature_stage"]

"""Security gate scripts as whole shell blocks, for the platforms whose jobs run the tools as
pinned images with `docker run` over the checkout (Azure Pipelines' hosted agents, Jenkins
agents with a Docker engine). The platform module wraps each block in its own step.
"""

from __future__ import annotations

from deploysmith.render import ci_common as ci
from deploysmith.render import security as sec


def scan_lines(fail_on: str, trivy: str) -> list[str]:
    """Security Scan: accepted-findings check, Trivy (report + gate), Gitleaks. Each gate runs
    even when an earlier one failed (each block's last command is its gate); the block fails
    if any did. Semgrep runs beside it (`sast_lines`)."""
    gates = [
        ("accepted findings", sec.ignore_check_lines()),
        ("dependencies and secrets (Trivy)", sec.fs_scan_lines(fail_on, trivy)),
        ("secrets (Gitleaks)", sec.gitleaks_lines(sec.docker_tool(sec.GITLEAKS_IMAGE))),
    ]
    lines = ["failed=''"]
    for name, body in gates:
        lines += [
            f"# Gate: {name}",
            "if ! (",
            *(f"  {line}" for line in body),
            f'); then failed="${{failed}} {name};"; fi',
        ]
    lines += [
        'if [ -n "${failed}" ]; then',
        '  echo "error: blocked by:${failed} see above" >&2',
        "  exit 1",
        "fi",
    ]
    return lines


def sast_lines(fail_on: str) -> list[str]:
    return sec.semgrep_lines(fail_on, semgrep=sec.semgrep_docker())


def sign_lines(ctx: ci.Context, signer: sec.Signer, secret_env: tuple[str, ...]) -> list[str]:
    """SBOMs of the pushed digests, then signature and attestations, tools as pinned images."""
    cosign = sec.docker_tool(sec.COSIGN_IMAGE, registry=True, env=secret_env)
    return [
        *sec.sbom_lines(ctx, syft=sec.docker_tool(sec.SYFT_IMAGE, registry=True)),
        *sec.sign_lines(ctx, signer, cosign=cosign),
    ]


def verify_lines(ctx: ci.Context, signer: sec.Signer, secret_env: tuple[str, ...]) -> list[str]:
    cosign = sec.docker_tool(sec.COSIGN_IMAGE, registry=True, env=secret_env)
    return sec.verify_lines(ctx, signer, cosign=cosign)


__all__ = ["sast_lines", "scan_lines", "sign_lines", "verify_lines"]

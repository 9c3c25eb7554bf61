"""The security gates every CI platform runs, as shell lines, and the files they read.

The five CI renderers put these lines into their own jobs; nothing here names a platform
except `SIGNERS` (who signs, and how a deploy job checks it) and `render`, which writes the
platform's side files (GitHub's CodeQL, scheduled and Dependabot files; Renovate, the
scheduled pipeline of Azure Pipelines and Jenkins elsewhere).

What blocks, at the plan's `fail_on` level (critical | high | medium):

    SAST            Semgrep (registry rules p/default + security/semgrep.yml), severity
                    ERROR (medium: ERROR and WARNING); CodeQL on GitHub reports
    Dependencies    the ecosystem's own auditor in each Build job; Trivy over the lock
                    files in Security Scan; dependency review on GitHub pull requests
    Secrets         Gitleaks over the tree on every run, over the whole history on a schedule
    Container       Trivy on each pushed image, `fail_on` and above; accepted findings only
                    in .trivyignore.yaml, each with a reason and an expiry (checked)
    Signing         Cosign signs each digest and attests its SBOM (Syft: SPDX, CycloneDX)
                    and its vulnerability scan; deploy jobs verify both before deploying

The scanner self-test runs the same scanners over security/selftest/, a fixture planted
with one known-vulnerable pin per ecosystem, a fake credential and a root Dockerfile, and
passes only when every gate fails on it. The main scans skip that folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploysmith.model import Plan, Requirements
from deploysmith.plan import gates
from deploysmith.render import ci_common as ci
from deploysmith.render.common import WORKFLOW_PATH

# Scanner images and versions, pinned to a release (checked SECURITY_CHECKED; a newer
# deploysmith brings newer ones, Renovate/Dependabot propose them in between).
SECURITY_CHECKED = "2026-11-22"
SEMGREP_VERSION = "1.170.0"
SEMGREP_IMAGE = f"semgrep/semgrep:{SEMGREP_VERSION}"
GITLEAKS_IMAGE = "zricethezav/gitleaks:v8.30.1"
SYFT_IMAGE = "anchore/syft:v1.20.0"
COSIGN_IMAGE = "ghcr.io/sigstore/cosign/cosign:v2.5.0"
PIP_AUDIT = "pip-audit==2.10.1"
GOVULNCHECK = "golang.org/x/vuln/cmd/govulncheck@v1.1.4"
CARGO_AUDIT = "0.21.2"
BUNDLER_AUDIT = "0.9.2"

# Files of the kit (paths from the repository root).
SELFTEST_DIR = gates.SELFTEST_DIR
TRIVYIGNORE = gates.TRIVYIGNORE
IGNORE_CHECK = "security/check-trivyignore.awk"
GITLEAKS_CONFIG = ".gitleaks.toml"
SEMGREP_RULES = gates.SEMGREP_RULES
CODEQL_PATH = ".github/workflows/codeql.yml"
SCHEDULE_PATH = ".github/workflows/security-schedule.yml"
DEPENDABOT_PATH = ".github/dependabot.yml"
RENOVATE_PATH = "renovate.json"
AZURE_SCHEDULE_PATH = "azure-pipelines.security.yml"
JENKINS_SCHEDULE_PATH = "Jenkinsfile.security"
# Reports the scans write (the platforms publish them their own way).
SARIF_DIR = "sarif"  # every SARIF report, uploaded together where the platform takes SARIF
SEMGREP_SARIF = f"{SARIF_DIR}/code.sarif"
SEMGREP_GITLAB = "gl-sast-semgrep.json"
GITLEAKS_REPORT = f"{SARIF_DIR}/leaks.sarif"
SBOM_SPDX = "sbom-{image}.spdx.json"
SBOM_CYCLONEDX = "sbom-{image}.cdx.json"
VULN_REPORT = "vuln-{image}.json"
# A change to one of these runs the self-test (it proves the configuration still catches).
SECURITY_PATHS = (TRIVYIGNORE, GITLEAKS_CONFIG, SEMGREP_RULES, IGNORE_CHECK, f"{SELFTEST_DIR}/")
SCHEDULE_CRON = "17 4 * * 1"  # Mondays 04:17 UTC: off the hour, when shared runners are busiest

_DOTNET = {"critical": "Critical", "high": "Critical|High", "medium": "Critical|High|Moderate"}
_NPM = {"critical": "critical", "high": "high", "medium": "moderate"}


def level(requirements: Requirements) -> str:
    return gates.fail_on_level(requirements)


trivy_severities = gates.trivy_severities
review_severity = gates.review_severity
semgrep_severities = gates.semgrep_severities


# -- Security Scan ---------------------------------------------------------------------------------


def fs_scan_lines(fail_on: str, trivy: str = "trivy") -> list[str]:
    """Trivy over the tree: every finding as a report, then the gate at fail_on."""
    common = f"--scanners vuln,secret --skip-dirs {SELFTEST_DIR} --ignorefile {TRIVYIGNORE}"
    return [
        "# Every severity, as a report for review (dependencies from the lock files, secrets in the tree)",
        f"{trivy} fs {common} --format json --output {ci.FS_REPORT} .",
        f"# The gate: exit code 1 on {trivy_severities(fail_on)} with a fixed version available",
        f"{trivy} fs {common} --severity {trivy_severities(fail_on)} --ignore-unfixed --exit-code 1 .",
    ]


def ignore_check_lines(awk: str = "awk") -> list[str]:
    """Fail when an accepted finding has no reason, no expiry, or has expired."""
    return [
        f"# Every entry of {TRIVYIGNORE} needs a statement and an expired_at that has not passed",
        f'{awk} -v today="$(date -u +%Y-%m-%d)" -f {IGNORE_CHECK} {TRIVYIGNORE}',
    ]


def semgrep_args(fail_on: str, target: str = ".", config: str = "p/default") -> str:
    severities = " ".join(f"--severity {s}" for s in semgrep_severities(fail_on))
    exclude = f" --exclude {SELFTEST_DIR}" if target == "." else ""
    return (
        f"scan --config {config} --config {SEMGREP_RULES}{exclude} {severities} --metrics off "
        f"--disable-version-check --error {target}"
    )


def semgrep_lines(fail_on: str, semgrep: str = "semgrep", gitlab: bool = False) -> list[str]:
    """Semgrep: all findings as SARIF (GitLab: its SAST report too), the gate at fail_on."""
    reports = f"--sarif-output {SEMGREP_SARIF}"
    if gitlab:
        reports += f" --gitlab-sast-output {SEMGREP_GITLAB}"
    return [
        f"mkdir -p {SARIF_DIR}",
        "# Registry rules (p/default, fetched at run time) plus the kit's own rules; the gate at "
        + " and ".join(semgrep_severities(fail_on)),
        f"{semgrep} {semgrep_args(fail_on)} {reports}",
    ]


def gitleaks_lines(gitleaks: str = "gitleaks", source: str = ".", history: bool = False) -> list[str]:
    """Gitleaks with the kit's config (.gitleaks.toml: default rules, the fixture allowed)."""
    if history:
        return [
            f"mkdir -p {SARIF_DIR}",
            "# Every commit of every branch the clone has: a secret removed later is still leaked",
            f"{gitleaks} git --config {GITLEAKS_CONFIG} --redact --no-banner "
            f"--report-format sarif --report-path {GITLEAKS_REPORT} {source}",
        ]
    return [
        f"mkdir -p {SARIF_DIR}",
        "# The tree as pushed; the scheduled history scan finds what a later commit removed",
        f"{gitleaks} dir --config {GITLEAKS_CONFIG} --redact --no-banner "
        f"--report-format sarif --report-path {GITLEAKS_REPORT} {source}",
    ]


# -- dependency auditors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Auditor:
    tool: str
    lines: tuple[str, ...]
    note: str


def auditor(unit: ci.Unit, fail_on: str) -> Auditor | None:
    """The ecosystem's own auditor for a unit, run after its dependencies are installed in the
    unit's folder. None: Trivy's lock-file scan in Security Scan is the dependency gate."""
    family = ci.family(unit.lead)
    manager = unit.lead.package_manager
    if family == "python":
        return Auditor(
            "pip-audit",
            (
                "# Audits what the project's environment installed (pip-audit in a venv of its own)",
                'site="$(python -c \'import sysconfig; print(sysconfig.get_path("purelib"))\')"',
                f'python -m venv "{ci.TOOLS_DIR}/auditor"',
                f'"{ci.TOOLS_DIR}/auditor/bin/python" -m pip install --quiet --disable-pip-version-check "{PIP_AUDIT}"',
                f'"{ci.TOOLS_DIR}/auditor/bin/pip-audit" --path "${{site}}" --progress-spinner off',
            ),
            "pip-audit has no severity filter: any known advisory with a fix blocks.",
        )
    if family == "node":
        npm_level = _NPM[fail_on]
        command = {
            "pnpm": f"pnpm audit --prod --audit-level {npm_level}",
            "yarn": f"yarn npm audit --all --recursive --environment production --severity {npm_level}",
            "bun": f"bun audit --prod --audit-level={npm_level}",
        }.get(manager or "npm", f"npm audit --omit=dev --audit-level={npm_level}")
        return Auditor(command.split(" audit")[0] + " audit", (command,), "Runtime dependencies only.")
    if family == "go":
        return Auditor(
            "govulncheck",
            (f"go run {GOVULNCHECK} ./...",),
            "govulncheck reports only vulnerabilities the code can reach; each one blocks.",
        )
    if family == "rust":
        return Auditor(
            "cargo audit",
            (f"cargo install --locked --version {CARGO_AUDIT} cargo-audit", "cargo audit"),
            "Any RustSec advisory blocks (most have no CVSS score).",
        )
    if family == "ruby":
        return Auditor(
            "bundler-audit",
            (
                "# bundler-audit from a Gemfile of its own: the app's bundle stays as locked",
                f'tool="{ci.TOOLS_DIR}/bundler-audit"',
                'mkdir -p "${tool}"',
                f'printf \'source "https://rubygems.org"\\ngem "bundler-audit", "{BUNDLER_AUDIT}"\\n\' '
                '> "${tool}/Gemfile"',
                'BUNDLE_GEMFILE="${tool}/Gemfile" BUNDLE_FROZEN=false bundle install --quiet',
                'BUNDLE_GEMFILE="${tool}/Gemfile" bundle exec bundle-audit check --update "${PWD}"',
            ),
            "Any advisory from ruby-advisory-db blocks.",
        )
    if family == "php":
        return Auditor(
            "composer audit",
            ("composer audit --locked --no-interaction",),
            "Any advisory blocks (composer audit has no severity filter).",
        )
    if family == "dotnet":
        blocked = _DOTNET[fail_on]
        return Auditor(
            "dotnet list package --vulnerable",
            (
                "# The command lists vulnerable packages but always exits 0: the gate greps its severities",
                'report="$(dotnet list package --vulnerable --include-transitive)"',
                "printf '%s\\n' \"${report}\"",
                f'if grep --quiet --extended-regexp "\\b({blocked})\\b" <<< "${{report}}"; then',
                f'  echo "error: vulnerable NuGet packages rated {blocked.replace("|", "/")}" >&2',
                "  exit 1",
                "fi",
            ),
            "NuGet's advisories, rated by GitHub's severities.",
        )
    return None


# -- image: scan, SBOM, signature, attestations --------------------------------------------------


def image_scan_lines(ctx: ci.Context, fail_on: str, trivy: str = "trivy") -> list[str]:
    """Block on findings at fail_on and above in each pushed image. The gate writes Cosign's
    vuln predicate, so the scan attestation is the gate's own result; on a failure the table
    shows what blocked."""
    lines = [f"# The image gate ({trivy_severities(fail_on)}); its report is the signed scan attestation"]
    for image in ctx.images:
        ref = f'"${{{ci.image_var(image.name)}}}"'
        common = (
            f"{trivy} image --scanners vuln --ignorefile {TRIVYIGNORE} --severity {trivy_severities(fail_on)} "
            "--ignore-unfixed"
        )
        lines.append(
            f"{common} --exit-code 1 --format cosign-vuln --output {VULN_REPORT.format(image=ci.slug(image.name))} "
            f"{ref} || {{ {common} --format table {ref}; exit 1; }}"
        )
    return lines


@dataclass(frozen=True)
class Signer:
    """How a platform signs (keyless through its OIDC identity, or a key from its credential
    store) and the flags that check the signature is this pipeline's."""

    keyless: bool
    sign_flags: str  # after `cosign sign|attest`
    verify_flags: str  # after `cosign verify|verify-attestation`
    why: str


_KEY_SIGNER = (
    "--key env://COSIGN_PRIVATE_KEY",
    "--key env://COSIGN_PUBLIC_KEY",
)

SIGNERS: dict[str, Signer] = {
    "github": Signer(
        True,
        "",
        '--certificate-identity-regexp "^${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/'
        + WORKFLOW_PATH.replace(".", "\\.")
        + '@refs/heads/main$" --certificate-oidc-issuer https://token.actions.githubusercontent.com',
        gates.SIGNING["github"],
    ),
    "gitlab": Signer(
        True,
        "",
        '--certificate-identity-regexp "^${CI_PROJECT_URL}//\\.gitlab-ci\\.yml@refs/heads/main$" '
        '--certificate-oidc-issuer "${CI_SERVER_URL}"',
        gates.SIGNING["gitlab"],
    ),
    "circleci": Signer(
        True,
        '--identity-token "${SIGSTORE_ID_TOKEN}"',
        '--certificate-identity-regexp "^https://circleci\\.com/api/v2/projects/${CIRCLE_PROJECT_ID}/" '
        '--certificate-oidc-issuer "https://oidc.circleci.com/org/${CIRCLE_ORGANIZATION_ID}"',
        gates.SIGNING["circleci"],
    ),
    "azure": Signer(
        False,
        _KEY_SIGNER[0],
        _KEY_SIGNER[1],
        gates.SIGNING["azure"],
    ),
    "jenkins": Signer(
        False,
        _KEY_SIGNER[0],
        _KEY_SIGNER[1],
        gates.SIGNING["jenkins"],
    ),
}


def sbom_lines(ctx: ci.Context, syft: str = "syft") -> list[str]:
    """SPDX and CycloneDX SBOMs of each pushed digest."""
    lines = ["# SBOMs of the pushed digests (what runs, not what the lock files say)"]
    for image in ctx.images:
        slug = ci.slug(image.name)
        lines.append(
            f'{syft} scan "registry:${{{ci.image_var(image.name)}}}" '
            f"--output spdx-json={SBOM_SPDX.format(image=slug)} "
            f"--output cyclonedx-json={SBOM_CYCLONEDX.format(image=slug)}"
        )
    return lines


def sign_lines(ctx: ci.Context, signer: Signer, cosign: str = "cosign") -> list[str]:
    """Sign each digest and attest its SBOMs and its vulnerability scan."""
    flags = f" {signer.sign_flags}" if signer.sign_flags else ""
    lines = ["# Sign the digest, then attach SBOMs and the scan as signed attestations"]
    for image in ctx.images:
        ref = f'"${{{ci.image_var(image.name)}}}"'
        slug = ci.slug(image.name)
        lines += [
            f"{cosign} sign --yes{flags} {ref}",
            f"{cosign} attest --yes{flags} --type spdxjson --predicate {SBOM_SPDX.format(image=slug)} {ref}",
            f"{cosign} attest --yes{flags} --type cyclonedx --predicate {SBOM_CYCLONEDX.format(image=slug)} {ref}",
            f"{cosign} attest --yes{flags} --type vuln --predicate {VULN_REPORT.format(image=slug)} {ref}",
        ]
    return lines


def verify_lines(ctx: ci.Context, signer: Signer, cosign: str = "cosign") -> list[str]:
    """Refuse to deploy an image this pipeline did not sign and attest."""
    lines = ["# Deploy only digests this pipeline signed, with their SBOM and scan attestations"]
    for image in ctx.images:
        ref = f'"${{{ci.image_var(image.name)}}}"'
        lines += [
            f"{cosign} verify {signer.verify_flags} {ref} > /dev/null",
            f"{cosign} verify-attestation --type spdxjson {signer.verify_flags} {ref} > /dev/null",
            f"{cosign} verify-attestation --type vuln {signer.verify_flags} {ref} > /dev/null",
        ]
    lines.append(f'echo "Signatures and attestations verified for {len(ctx.images)} image(s)."')
    return lines


def docker_tool(
    image: str,
    *,
    entrypoint: str | None = None,
    registry: bool = False,
    env: tuple[str, ...] = (),
) -> str:
    """`docker run` of a pinned tool image over the checkout, as the calling user (what it
    writes stays removable) with a scratch HOME, and with the registry login (read-only) when
    it reads or writes pushed images. `env` names variables passed through, never values."""
    parts = [
        "docker run --rm",
        '--user "$(id -u):$(id -g)" --env HOME=/tmp --volume "${PWD}:/src" --workdir /src',
    ]
    if registry:
        parts.append(
            '--volume "${DOCKER_CONFIG:-${HOME}/.docker}:/docker-config:ro" --env DOCKER_CONFIG=/docker-config'
        )
    parts.extend(f"--env {name}" for name in env)
    if entrypoint:
        parts.append(f"--entrypoint {entrypoint}")
    parts.append(image)
    return " ".join(parts)


def semgrep_docker() -> str:
    return docker_tool(SEMGREP_IMAGE, entrypoint="semgrep", env=("SEMGREP_ENABLE_VERSION_CHECK=0",))


# -- the scanner self-test ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VulnerablePin:
    """A dependency version with a published critical advisory, planted in the fixture."""

    path: str  # under SELFTEST_DIR
    package: str
    version: str
    fixed: str
    cve: str
    ghsa: str


VULNERABLE_PINS: dict[str, VulnerablePin] = {
    "python": VulnerablePin(
        "python/requirements.txt", "pyyaml", "5.3.1", "5.4", "CVE-2020-14343", "GHSA-8q59-q68h-6hv4"
    ),
    "node": VulnerablePin(
        "node/package-lock.json", "minimist", "1.2.5", "1.2.6", "CVE-2021-44906", "GHSA-xvch-5gv4-984h"
    ),
    "go": VulnerablePin(
        "go/go.mod", "golang.org/x/crypto", "v0.30.0", "v0.31.0", "CVE-2024-45337", "GHSA-v778-237x-gjrc"
    ),
    "rust": VulnerablePin("rust/Cargo.lock", "hyper", "0.14.9", "0.14.10", "CVE-2021-32714", "GHSA-5h46-h7hh-c6x9"),
    "ruby": VulnerablePin("ruby/Gemfile.lock", "nokogiri", "1.10.3", "1.10.4", "CVE-2019-5477", "GHSA-cr5j-953j-xw5p"),
    "php": VulnerablePin(
        "php/composer.lock", "phpmailer/phpmailer", "v5.2.17", "v5.2.18", "CVE-2016-10033", "GHSA-5f37-gxvh-23v6"
    ),
    "jvm": VulnerablePin(
        "jvm/pom.xml",
        "org.apache.logging.log4j:log4j-core",
        "2.14.1",
        "2.15.0",
        "CVE-2021-44228",
        "GHSA-jfh8-c2jp-5v3q",
    ),
    "dotnet": VulnerablePin(
        "dotnet/packages.lock.json",
        "System.Text.Encodings.Web",
        "4.5.0",
        "4.5.1",
        "CVE-2021-26701",
        "GHSA-ghhp-997w-qr28",
    ),
}
# A fake AWS access key id: AWS's format (AKIA + 16 of A-Z2-7), so gitleaks' aws-access-token
# rule matches it, but it spells FAKE and DEPLOYSMITH: no key was ever issued like it, and
# deploysmith's own audit treats it as a placeholder (audit/secrets.py is_placeholder).
FAKE_AWS_KEY_ID = "AKIAFAKE2DEPLOYSMITH"
SELFTEST_IGNORE = "expired.trivyignore.yaml"  # an entry past its expiry, for the ignore-file check


def selftest_families(plan: Plan) -> tuple[str, ...]:
    units = ci.Context.of(plan).units
    return tuple(dict.fromkeys(f for u in units if (f := ci.family(u.lead)) in VULNERABLE_PINS)) or ("python",)


SELFTEST_GATES = ("secrets", "sast", "dependencies", "accepted-risks")
SCRATCH = ".selftest-copy"  # inside the checkout (tool containers see only the checkout)


def docker_tools() -> dict[str, str]:
    """The scanners as pinned images, for platforms whose jobs can `docker run` over the checkout."""
    return {
        "gitleaks": docker_tool(GITLEAKS_IMAGE),
        "semgrep": semgrep_docker(),
        "trivy": docker_tool(ci.TRIVY_IMAGE),
        "awk": "awk",
    }


def selftest_lines(
    fail_on: str, gates: tuple[str, ...] = SELFTEST_GATES, tools: dict[str, str] | None = None
) -> list[str]:
    """Run `gates` over the fixture; pass only if each one fails (POSIX sh: tool images have
    no bash). `tools` are the commands
    (default: the pinned images through docker); a platform that runs each tool in its own
    job image passes the bare command and one gate per job."""
    tools = tools or docker_tools()
    fixture = SELFTEST_DIR
    commands = {
        # A copy outside .gitleaks.toml's allowlist: Gitleaks' default rules judge it.
        "secrets": f"{tools['gitleaks']} dir --no-banner --redact --exit-code 1 {SCRATCH}",
        "sast": f"{tools['semgrep']} {semgrep_args(fail_on, target=fixture)}",
        "dependencies": f"{tools['trivy']} fs --scanners vuln --severity {trivy_severities(fail_on)} "
        f"--exit-code 1 {fixture}",
        "accepted-risks": f'{tools["awk"]} -v today="$(date -u +%Y-%m-%d)" -f {IGNORE_CHECK} '
        f"{fixture}/{SELFTEST_IGNORE}",
    }
    lines = [
        "broken=0",
        "expect_block() {  # gate name, then the gate's command: it must fail on the planted fixture",
        '  gate="$1"',
        "  shift",
        '  if "$@"; then',
        '    echo "error: the ${gate} gate let the planted fixture through: it would not block the real thing" >&2',
        "    broken=1",
        "  else",
        '    echo "ok: the ${gate} gate blocked the planted fixture"',
        "  fi",
        "}",
    ]
    if "secrets" in gates:
        lines += [f"rm -rf {SCRATCH}", f"cp -R {fixture} {SCRATCH}"]
    lines += [f"expect_block {gate} {commands[gate]}" for gate in gates]
    if "secrets" in gates:
        lines.append(f"rm -rf {SCRATCH}")
    lines += [
        'if [ "${broken}" = 1 ]; then',
        '  echo "error: a security gate no longer catches what it must; see the lines above" >&2',
        "  exit 1",
        "fi",
    ]
    return lines


def history_lines(gitleaks: str | None = None) -> list[str]:
    """Gitleaks over the full history (the checkout must be a full clone)."""
    return gitleaks_lines(gitleaks or docker_tool(GITLEAKS_IMAGE), source=".", history=True)


# -- words: the plan and DEPLOYMENT.md ---------------------------------------------------------------


def policy(requirements: Requirements) -> list[tuple[str, str]]:
    """(gate, what it blocks): the plan's words (plan/gates.py)."""
    return gates.security_policy(requirements)


def deployment_section(plan: Plan) -> str:
    """The Security gates section of DEPLOYMENT.md."""
    requirements = plan.requirements
    fail_on = level(requirements)
    lines = [
        "## Security gates",
        "",
        f"The pipeline blocks at `fail_on: {fail_on}` (severities {trivy_severities(fail_on)}; change it "
        "with `--fail-on critical|high|medium` and regenerate). What is blocked:",
        "",
        "| Gate | Blocks |",
        "|---|---|",
        *(f"| {gate} | {what.replace('|', '/')} |" for gate, what in policy(requirements)),
        "",
        "Accepting a finding: add it to `.trivyignore.yaml` with `id`, `statement` (why it is acceptable) and "
        "`expired_at` (YYYY-MM-DD, at most a few months out). The Security Scan fails on an entry without "
        "them, and again once the date passes.",
        "",
        f"The scanner self-test plants a vulnerable pin per ecosystem, a fake AWS key id and a root "
        f"Dockerfile in `{SELFTEST_DIR}/`; the main scans skip that folder. If the self-test fails, a gate "
        "has stopped catching what it must: fix the gate before trusting a green pipeline.",
        "",
        "Signing: " + SIGNERS.get(requirements.ci, SIGNERS["github"]).why,
        "",
    ]
    return "\n".join(lines)


__all__ = [
    "SECURITY_CHECKED",
    "SIGNERS",
    "Auditor",
    "Signer",
    "auditor",
    "deployment_section",
    "fs_scan_lines",
    "gitleaks_lines",
    "ignore_check_lines",
    "image_scan_lines",
    "policy",
    "selftest_lines",
    "semgrep_lines",
    "sign_lines",
    "verify_lines",
]


# The self-test's jobs on platforms that run each scanner in its own container (GitLab,
# CircleCI): job name -> (scanner image, the self-test gates it must see fail).
CONTAINER_SELFTEST_JOBS: dict[str, tuple[str, tuple[str, ...]]] = {
    "selftest-secrets": (GITLEAKS_IMAGE, ("secrets",)),
    "selftest-sast": (SEMGREP_IMAGE, ("sast",)),
    "selftest-dependencies": (ci.TRIVY_IMAGE, ("dependencies", "accepted-risks")),
}

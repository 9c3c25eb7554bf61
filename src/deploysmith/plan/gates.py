"""How each stage's failure policy is enforced on each CI platform, in words.

One table, read three ways: `deploysmith plan` states the mechanisms of the chosen
platform (one Decision per stage), each rendered pipeline repeats its stage's mechanism
above the job, and docs/ci-platforms.md prints the whole table. The renderers build
exactly these mechanisms; their tests check that every stage is present with them.
"""

from __future__ import annotations

from deploysmith.model import Decision, Requirements, Stage

PLATFORM_NAMES: dict[str, str] = {
    "github": "GitHub Actions",
    "gitlab": "GitLab CI",
    "azure": "Azure Pipelines",
    "jenkins": "Jenkins",
    "circleci": "CircleCI",
}

MECHANISMS: dict[str, dict[str, str]] = {
    "github": {
        "build": "a failed job skips every job that `needs` it; a required status check blocks the merge",
        "test": "a failed job skips every job that `needs` it; a required status check blocks the merge",
        "security-scan": "Trivy (lock files), Gitleaks and the accepted-findings check in Security Scan, "
        "Semgrep in `sast`, each exits 1 at the fail_on level (all findings go to code scanning as SARIF); "
        "Package `needs` both; dependency review blocks pull requests",
        "package": "pushes each image once by digest (job outputs; one job per image in a monorepo); the "
        "image scan in the job blocks; Cosign signs the digest and attests its SBOMs and scan (keyless)",
        "deploy-staging": "`environment: staging`; an `if: failure()` step undoes a rollout that does not "
        "become ready",
        "integration-test": "curl smoke checks through the ingress; Approval `needs` the job",
        "approval": "the protected `production` environment with required reviewers holds Deploy Prod",
        "deploy-prod": "`environment: production`; an `if: failure()` step undoes a rollout that does not "
        "become ready",
        "verify": "an `if: failure()` step runs `kubectl rollout undo` (GitOps: `git revert`) and the run "
        "fails",
    },
    "gitlab": {
        "build": 'a failed job skips every job that `needs` it; "Pipelines must succeed" blocks the merge '
        "request",
        "test": "a failed job skips every job that `needs` it; results as an `artifacts:reports:junit` "
        "report in the merge request",
        "security-scan": "Trivy, Semgrep and Gitleaks jobs exit 1 at the fail_on level (none is "
        "`allow_failure`); CycloneDX, SAST and Secret Detection reports in the merge request",
        "package": "pushes each image once (one package, scan and sign job per image in a monorepo); "
        "digests flow on as `dotenv` reports; the image scan job (`container_scanning` report) blocks; "
        "`package-sign` signs and attests (keyless, `id_tokens`)",
        "deploy-staging": "`environment: staging` (`deployment_tier: staging`) and `resource_group`; "
        "`after_script` undoes a failed rollout",
        "integration-test": "a failed smoke job leaves the approval job unplayable",
        "approval": "a `when: manual` job with `allow_failure: false` on the protected `production` "
        "environment: only its allowed deployers can run it",
        "deploy-prod": "`environment: production` (`deployment_tier: production`) and `resource_group`; "
        "`after_script` undoes a failed rollout",
        "verify": "a `rollback-prod` job with `when: on_failure` undoes the release; the pipeline stays "
        "failed",
    },
    "azure": {
        "build": "a failed job stops the stages that `dependsOn` it; a build-validation branch policy "
        "blocks the pull request",
        "test": "a failed job stops the stages that `dependsOn` it; PublishTestResults@2 publishes the "
        "results",
        "security-scan": "Trivy, Gitleaks and Semgrep exit 1 at the fail_on level; Package `dependsOn` "
        "the stage",
        "package": "pushes each image once (one job per image in a monorepo); digests flow on as output "
        "variables (`stageDependencies`); the image scan step blocks; Cosign signs with the key of the "
        "`cosign` variable group",
        "deploy-staging": "a deployment job on the `staging` environment; its `on: failure` hook undoes "
        "the rollout",
        "integration-test": "a failed smoke job stops the later stages",
        "approval": "approvals and checks on the `production` environment, evaluated before Deploy Prod "
        "starts",
        "deploy-prod": "a deployment job on the `production` environment; its `on: failure` hook undoes "
        "the rollout",
        "verify": "a deployment job whose `on: failure` hook rolls production back; the run fails",
    },
    "jenkins": {
        "build": "a failed `sh` step fails the stage and declarative skips every later stage",
        "test": "a failed stage skips every later stage; `junit` publishes the results",
        "security-scan": "Trivy, Gitleaks and Semgrep exit 1 at the fail_on level; the later stages are "
        "skipped",
        "package": "pushes each image once (a parallel stage per image in a monorepo); digests kept in "
        "`env.IMAGE_*` for the later stages; the image scan blocks; Cosign signs with the key pair of the "
        "Jenkins credentials",
        "deploy-staging": "`when { branch 'main' }`; `post { failure { … } }` undoes a failed rollout",
        "integration-test": "a failed stage skips the approval and everything after it",
        "approval": "`input` with a `submitter` group; no executor is held while it waits",
        "deploy-prod": "`post { failure { … } }` undoes a failed rollout; `disableConcurrentBuilds()` "
        "keeps deploys apart",
        "verify": "`post { failure { … } }` rolls production back; the build stays failed",
    },
    "circleci": {
        "build": "a failed job stops every job that `requires` it; a required status check blocks the merge",
        "test": "a failed job stops every job that `requires` it; `store_test_results` publishes the results",
        "security-scan": "Trivy, Semgrep and Gitleaks jobs exit 1 at the fail_on level; Package `requires` "
        "them",
        "package": "pushes each image once (one job per image in a monorepo); digests flow on through the "
        "workspace; each `package-sign` job scans (blocking), signs and attests (keyless OIDC)",
        "deploy-staging": "branch filter `main`, the staging context; a `when: on_fail` step undoes a failed "
        "rollout",
        "integration-test": "a failed smoke job never lets the approval job start",
        "approval": "a `type: approval` job; the production context, restricted to the deployers' "
        "security group, lets only them approve",
        "deploy-prod": "the restricted production context; a `when: on_fail` step undoes a failed rollout",
        "verify": "a `when: on_fail` step rolls production back; the workflow stays failed",
    },
}


# -- the security policy: what blocks, in words (the plan, DEPLOYMENT.md, render/security.py) --------

TRIVYIGNORE = ".trivyignore.yaml"
SEMGREP_RULES = "security/semgrep.yml"
SELFTEST_DIR = "security/selftest"
FAIL_ON_LEVELS = ("critical", "high", "medium")
_TRIVY = {"critical": "CRITICAL", "high": "CRITICAL,HIGH", "medium": "CRITICAL,HIGH,MEDIUM"}
_REVIEW = {"critical": "critical", "high": "high", "medium": "moderate"}  # npm and GitHub say moderate
_SEMGREP = {"critical": ("ERROR",), "high": ("ERROR",), "medium": ("ERROR", "WARNING")}

# How each platform signs, and why (keyless where Sigstore accepts the platform's OIDC identity).
SIGNING: dict[str, str] = {
    "github": "Keyless: the job's GitHub OIDC token (id-token: write) gets a short-lived Sigstore certificate "
    "naming this workflow on main; no key exists to leak.",
    "gitlab": "Keyless: the job's `id_tokens` SIGSTORE_ID_TOKEN (audience sigstore) gets a short-lived Sigstore "
    "certificate naming this project's .gitlab-ci.yml on main (GitLab.com; a self-managed instance needs its "
    "own Fulcio).",
    "circleci": "Keyless: a CircleCI OIDC token with the audience sigstore (`circleci run oidc get`) gets a "
    "short-lived Sigstore certificate naming this project.",
    "azure": "A key pair: the public Sigstore instance accepts no Azure DevOps identity. The private key and "
    "its password live in the `cosign` variable group as secrets (or use an Azure Key Vault key: "
    "--key azurekms://…), the public key beside them.",
    "jenkins": "A key pair: Jenkins has no OIDC identity that Sigstore's certificate authority accepts. The "
    "private key, its password and the public key are Jenkins credentials (cosign-private-key, "
    "cosign-password, cosign-public-key), bound only around the steps that use them.",
}


def fail_on_level(requirements: Requirements) -> str:
    return requirements.fail_on if requirements.fail_on in FAIL_ON_LEVELS else "high"


def trivy_severities(fail_on: str) -> str:
    """Trivy's --severity list for a fail_on level: that level and every worse one."""
    return _TRIVY[fail_on]


def review_severity(fail_on: str) -> str:
    return _REVIEW[fail_on]


def semgrep_severities(fail_on: str) -> tuple[str, ...]:
    return _SEMGREP[fail_on]


def security_policy(requirements: Requirements) -> list[tuple[str, str]]:
    """(gate, what it blocks) for the chosen platform and fail_on level."""
    fail_on = fail_on_level(requirements)
    severities = trivy_severities(fail_on).replace(",", ", ")
    sast = f"Semgrep findings rated {' or '.join(_SEMGREP[fail_on])} (registry rules p/default and {SEMGREP_RULES})"
    if requirements.ci == "github":
        sast += "; CodeQL reports to code scanning (make its check required to let it block merges)"
    deps = (
        f"known vulnerabilities rated {severities} with a fixed version (Trivy over the lock files), and "
        "each ecosystem's own auditor in Build (npm/pnpm/yarn/bun at that level; pip-audit, govulncheck, "
        "cargo audit, bundler-audit and composer audit on any advisory; dotnet list package --vulnerable "
        "at that level)"
    )
    if requirements.ci == "github":
        deps += f"; pull requests that add a dependency with a {review_severity(fail_on)} or worse advisory"
    return [
        ("SAST", sast),
        ("Dependencies", deps),
        ("Secrets", "any Gitleaks finding in the tree (every run) or in the history (weekly schedule)"),
        (
            "Container",
            f"image findings rated {severities} with a fixed version; an accepted finding needs an entry "
            f"in {TRIVYIGNORE} with a statement and an expired_at that has not passed",
        ),
        (
            "Signing",
            "a deploy of a digest without this pipeline's Cosign signature and its SBOM and vulnerability "
            "attestations; " + SIGNING.get(requirements.ci, SIGNING["github"]),
        ),
        (
            "Self-test",
            f"weekly and on changes to the security configuration, every gate runs over {SELFTEST_DIR}/ "
            "and the check fails if any gate lets the planted fixture through",
        ),
    ]


def security_decisions(requirements: Requirements) -> tuple[Decision, ...]:
    """One Decision per security gate: what it blocks at the requirements' fail_on level."""
    fail_on = fail_on_level(requirements)
    return tuple(
        Decision(f"security {gate}", f"blocks at fail_on {fail_on}", f"Blocks {what}.")
        for gate, what in security_policy(requirements)
    )


def mechanism(platform: str, stage_id: str) -> str:
    return MECHANISMS[platform][stage_id]


def gate_decisions(requirements: Requirements, stages: tuple[Stage, ...]) -> tuple[Decision, ...]:
    """One Decision per stage: how its failure policy is enforced on the chosen platform."""
    platform = requirements.ci
    if platform not in MECHANISMS:
        return ()
    name = PLATFORM_NAMES[platform]
    return tuple(
        Decision(
            f"gate {stage.name}",
            stage.failure_policy,
            f"{name}: {mechanism(platform, stage.id)}.",
        )
        for stage in stages
    ) + security_decisions(requirements)


def markdown_table(stages: tuple[Stage, ...]) -> str:
    """Stage × platform, each cell the native mechanism (docs/ci-platforms.md prints it)."""
    platforms = list(MECHANISMS)
    lines = [
        "| Stage (failure policy) | " + " | ".join(PLATFORM_NAMES[p] for p in platforms) + " |",
        "|---|" + "---|" * len(platforms),
    ]
    for stage in stages:
        cells = [MECHANISMS[p][stage.id].replace("|", "\\|") for p in platforms]
        lines.append(f"| {stage.name} ({stage.failure_policy}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = [
    "MECHANISMS",
    "PLATFORM_NAMES",
    "SIGNING",
    "fail_on_level",
    "gate_decisions",
    "markdown_table",
    "mechanism",
    "review_severity",
    "security_decisions",
    "security_policy",
    "semgrep_severities",
    "trivy_severities",
]

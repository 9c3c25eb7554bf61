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
        "security-scan": "Trivy exits 1 on critical/high findings (all findings go to code scanning as "
        "SARIF); Package `needs` the job",
        "package": "pushes each image once by digest (job outputs); the image scan in the job blocks",
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
        "security-scan": "Trivy exits 1 on critical/high findings (the job is not `allow_failure`); "
        "CycloneDX, SAST and Secret Detection reports in the merge request",
        "package": "pushes each image once; digests flow on as a `dotenv` report; the image scan job "
        "(`container_scanning` report) blocks",
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
        "security-scan": "Trivy exits 1 on critical/high findings; Package `dependsOn` the stage",
        "package": "pushes each image once; digests flow on as output variables (`stageDependencies`); "
        "the image scan step blocks",
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
        "security-scan": "Trivy exits 1 on critical/high findings; the later stages are skipped",
        "package": "pushes each image once; digests kept in `env.IMAGE_*` for the later stages",
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
        "security-scan": "Trivy exits 1 on critical/high findings; Package `requires` the job",
        "package": "pushes each image once; digests flow on through the workspace",
        "deploy-staging": "branch filter `main`, the staging context; a `when: on_fail` step undoes a failed "
        "rollout",
        "integration-test": "a failed smoke job never lets the approval job start",
        "approval": "a `type: approval` job; the production context, restricted to the deployers' "
        "security group, lets only them approve",
        "deploy-prod": "the restricted production context; a `when: on_fail` step undoes a failed rollout",
        "verify": "a `when: on_fail` step rolls production back; the workflow stays failed",
    },
}


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
    )


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


__all__ = ["MECHANISMS", "PLATFORM_NAMES", "gate_decisions", "markdown_table", "mechanism"]

"""Delivery rules over every CI/CD pipeline (GitHub Actions, GitLab CI, Azure Pipelines,
Jenkins, CircleCI): the pipeline-coverage report of the nine stages, gates that do not
block, approvals before production, rollback, caching and the duration estimate.

They read the platform-neutral Pipelines the engine builds (audit/ci/) and the analysis in
audit/ci/stages.py (keyword tables) and audit/ci/duration.py (cost table). The same
analysis is the structured summary the reports print (FileSet.summaries).
"""

from __future__ import annotations

from collections.abc import Iterator

from deploysmith.audit.base import FileSet, Hit, Rule
from deploysmith.audit.ci.duration import BUDGET_MINUTES, INSTALL
from deploysmith.audit.ci.stages import step_units


def applies_to(path: str) -> bool:
    return False  # reads the pipelines the engine has already parsed


_MISSING: dict[str, str] = {
    "Build": "no job builds the code (compiles it or installs its locked dependencies) before later stages",
    "Test": "no job runs the test suite (pytest, npm test, go test, mvn test, …)",
    "Security Scan": "no job scans dependencies, secrets or the image (trivy, grype, npm audit, pip-audit, "
    "gitleaks, CodeQL, a SAST template)",
    "Package": "no job builds and pushes the image or artifact once, so what is deployed is not the "
    "exact artifact that was tested (build once, promote the same digest)",
    "Deploy Staging": "production is the first environment this pipeline deploys to; deploy to a "
    "pre-production environment first",
    "Integration Test": "nothing tests a deployed pre-production environment before production (smoke, "
    "end-to-end or API tests against it)",
    "Deploy Prod": "the pipeline deploys to pre-production but never to production, so production is "
    "deployed by hand or elsewhere",
    "Verify": "nothing checks production after the deploy (rollout status, health endpoint, smoke test), "
    "so users find a bad release first",
}


def _missing_stage(fs: FileSet) -> Iterator[Hit]:
    for summary in fs.summaries:
        pipeline = summary.pipeline
        for stage in summary.coverage.missing:
            if stage == "Approval":  # DS-PIPE-003 says which deploy and how to gate it
                continue
            yield Hit(
                pipeline.path, None, f"{pipeline.label} pipeline has no {stage} stage: {_MISSING[stage]}"
            )


def _gate_not_blocking(fs: FileSet) -> Iterator[Hit]:
    for summary in fs.summaries:
        for gap in summary.coverage.gates:
            yield Hit(gap.path, gap.line, gap.message)


def _no_approval(fs: FileSet) -> Iterator[Hit]:
    for summary in fs.summaries:
        if summary.pipeline.platform == "github":  # DS-GHA-009 (deploy job without environment)
            continue
        for gap in summary.coverage.approvals:
            yield Hit(gap.path, gap.line, gap.message)


def _no_rollback(fs: FileSet) -> Iterator[Hit]:
    for summary in fs.summaries:
        for gap in summary.coverage.rollbacks:
            yield Hit(gap.path, gap.line, gap.message)


_CACHE_ADVICE = {
    "github": "a setup action's `cache:` input or actions/cache",
    "gitlab": "`cache:` with a key on the lock file",
    "azure": "the Cache@2 task keyed on the lock file",
    "circleci": "restore_cache/save_cache keyed on the lock file",
}


def _no_cache(fs: FileSet) -> Iterator[Hit]:
    for summary in fs.summaries:
        pipeline = summary.pipeline
        if pipeline.platform == "jenkins":  # agents keep their workspace and caches
            continue
        uncached = set(summary.duration.uncached)
        for job in pipeline.jobs:
            if job.id not in uncached:
                continue
            step, line, text = next(
                (u for u in step_units(job) if INSTALL.search(u[2])), (None, job.line, "")
            )
            path = step.path if step is not None and step.path else job.path
            yield Hit(
                path,
                line,
                f"job {job.id} downloads its dependencies (`{' '.join(text.split())[:60]}`) on every run "
                f"without a cache; restore one with {_CACHE_ADVICE[pipeline.platform]}",
            )


def _slow(fs: FileSet) -> Iterator[Hit]:
    for summary in fs.summaries:
        duration = summary.duration
        minutes = duration.commit_warm / 60
        if minutes <= BUDGET_MINUTES:
            continue
        path = " → ".join(duration.commit_path)
        yield Hit(
            summary.pipeline.path,
            None,
            f"the commit stage takes an estimated {minutes:.1f} min warm "
            f"({duration.commit_cold / 60:.1f} min cold), "
            f"over the {BUDGET_MINUTES:.0f}-minute budget for feedback on a change; critical path: {path}. "
            "Cache dependencies and image layers, run independent jobs in parallel, split slow test suites",
        )


RULES: tuple[Rule, ...] = (
    Rule(
        "DS-PIPE-001",
        "pipeline-stage-missing",
        "warning",
        "A CI/CD pipeline lacks one of the nine stages it should have.",
        _missing_stage,
    ),
    Rule(
        "DS-PIPE-002",
        "pipeline-gate-not-blocking",
        "warning",
        "A gate stage lets failures through, or a deploy does not wait for it.",
        _gate_not_blocking,
    ),
    Rule(
        "DS-PIPE-003",
        "pipeline-prod-without-approval",
        "warning",
        "A production deploy does not wait for an approval.",
        _no_approval,
    ),
    Rule(
        "DS-PIPE-004",
        "pipeline-no-rollback",
        "warning",
        "A production deploy has no automatic rollback when it or its verification fails.",
        _no_rollback,
    ),
    Rule(
        "DS-PIPE-005",
        "pipeline-no-cache",
        "info",
        "A CI job downloads its dependencies on every run without a cache.",
        _no_cache,
    ),
    Rule(
        "DS-PIPE-006",
        "pipeline-slow",
        "warning",
        "The estimated warm duration of the commit stage exceeds 10 minutes.",
        _slow,
    ),
)

"""The pipeline every kit implements, whatever the CI platform: nine stages, each with the
policy that applies when it fails. Platform renderers map each policy to their native
mechanism; they never drop a stage."""

from __future__ import annotations

from deploysmith.model import Requirements, Stage

BUILD = "build"
TEST = "test"
SECURITY_SCAN = "security-scan"
PACKAGE = "package"
DEPLOY_STAGING = "deploy-staging"
INTEGRATION_TEST = "integration-test"
APPROVAL = "approval"
DEPLOY_PROD = "deploy-prod"
VERIFY = "verify"

STAGE_ORDER = (
    BUILD, TEST, SECURITY_SCAN, PACKAGE, DEPLOY_STAGING, INTEGRATION_TEST, APPROVAL, DEPLOY_PROD, VERIFY,
)

FAIL_ON_DEFAULT = "high"


def plan_stages(requirements: Requirements) -> tuple[Stage, ...]:
    """The stages in order. Pull requests run build, test and the security scan; only the
    default branch packages and deploys, so nothing unreviewed reaches an environment."""
    has_staging = "staging" in requirements.environments
    has_prod = "prod" in requirements.environments
    staging_name = "staging" if has_staging else "the first environment"
    settings = {"helm": "values file", "plain": "manifests"}.get(requirements.packaging, "overlay")
    deploy_how = (
        f"commits the image digest to the environment's {settings}; the GitOps controller syncs it"
        if requirements.gitops
        else "upgrades the Helm release and waits for the rollout"
        if requirements.packaging == "helm"
        else f"applies the {settings} and waits for the rollout"
    )
    return (
        Stage(BUILD, "Build", (), "block",
              "Blocks the pipeline: nothing is packaged from code that does not build.", False),
        Stage(TEST, "Test", (), "block",
              "Blocks the pipeline: a failing test stops the change before it is packaged. It runs "
              "beside Build (it compiles what it tests), so feedback takes the longer of the two, "
              "not their sum.", False),
        Stage(SECURITY_SCAN, "Security Scan", (), "block-on-severity",
              f"Blocks on findings of severity {FAIL_ON_DEFAULT} or critical (dependencies, secrets, "
              "image); lower severities are reported, not blocking. It reads the source, so it runs "
              "beside Build and Test.", False),
        Stage(PACKAGE, "Package", (BUILD, TEST, SECURITY_SCAN), "block",
              "Builds and pushes the image once; later stages deploy this exact digest "
              "(build once, promote the same artifact).", True),
        Stage(DEPLOY_STAGING, "Deploy Staging", (PACKAGE,), "block",
              f"Deploys to {staging_name} and {deploy_how}; a rollout that does not become ready "
              "in time is undone and the pipeline stops.", True),
        Stage(INTEGRATION_TEST, "Integration Test", (DEPLOY_STAGING,), "block",
              "Blocks promotion: smoke requests against the staging endpoint must pass.", True),
        Stage(APPROVAL, "Approval", (INTEGRATION_TEST,), "approval",
              "Production waits for a required reviewer on the protected production environment"
              + ("." if has_prod else " (no prod environment requested: the gate guards nothing yet)."),
              True),
        Stage(DEPLOY_PROD, "Deploy Prod", (APPROVAL,), "block",
              f"Deploys the digest that passed staging and {deploy_how}; a rollout that does not "
              "become ready in time is undone.", True),
        Stage(VERIFY, "Verify", (DEPLOY_PROD,), "rollback",
              "Checks rollout status and the health endpoint after the deploy; on failure it rolls "
              "production back to the previous revision automatically and fails the pipeline.", True),
    )

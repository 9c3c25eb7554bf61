"""How a deploy job signs in to a target, per CI platform.

Clouds (AWS, Google Cloud, Azure) accept the CI platform's OIDC token where the platform
issues one: on GitHub through the clouds' official actions (pinned), on GitLab through
`id_tokens`, on CircleCI through `CIRCLE_OIDC_TOKEN_V2`, exchanged by the cloud CLI
(AWS: a web-identity token file the CLI assumes the role with; Google: a workload identity
federation credential file; Azure: `az login --federated-token`). Azure Pipelines signs in
through its workload-identity service connection (AzureCLI@2) for Azure, and Jenkins has
no built-in OIDC issuer: there, and for the platforms with their own CLI (Fly.io, Railway,
Render, Heroku, Vercel, Netlify), a documented secret (an API token scoped to the app).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deploysmith.model import Plan
from deploysmith.plan.targets import TARGETS as FACTS

TOKEN_FILE = "/tmp/ci-oidc-token"
AWS_AUDIENCE = "sts.amazonaws.com"
AZURE_AUDIENCE = "api://AzureADTokenExchange"

# The variables each cloud's commands read: identifiers, not secrets.
CLOUD_VARIABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "aws": (
        ("AWS_ROLE_ARN", "the IAM role the CI identity assumes (trust policy: the CI issuer, this repository, "
         "this environment)"),
        ("AWS_REGION", "the region, e.g. eu-west-1"),
        ("AWS_ACCOUNT_ID", "the account that holds the roles, secrets and log groups"),
        ("ECS_CLUSTER", "ECS on Fargate: the cluster of the environment"),
        ("LAMBDA_REPOSITORY", "Lambda: the ECR repository the function's image is pushed to"),
    ),
    "gcp": (
        ("GCP_PROJECT_ID", "the project of the environment"),
        ("GCP_REGION", "the Cloud Run region, e.g. europe-west1"),
        ("GCP_WORKLOAD_IDENTITY_PROVIDER", "projects/<number>/locations/global/workloadIdentityPools/<pool>/"
         "providers/<provider>, trusting the CI issuer"),
        ("GCP_SERVICE_ACCOUNT", "the deployer service account (roles/run.developer, iam.serviceAccountUser)"),
        ("GCP_WORKLOAD_IDENTITY_AUDIENCE", "GitLab only: the audience of its ID token, "
         "//iam.googleapis.com/<the provider above>"),
    ),
    "azure": (
        ("AZURE_CLIENT_ID", "the app registration or managed identity with a federated credential for CI"),
        ("AZURE_TENANT_ID", "the Entra ID tenant"),
        ("AZURE_SUBSCRIPTION_ID", "the subscription of the environment"),
        ("AZURE_RESOURCE_GROUP", "the resource group of the container apps"),
    ),
    "render": (("RENDER_SERVICE_ID_<SERVICE>", "each service's id, for the rollback API calls"),),
    "vercel": (("VERCEL_ORG_ID", "the team id"), ("VERCEL_PROJECT_ID", "the project id")),
    "netlify": (("NETLIFY_SITE_ID", "the site of the environment"),),
}
# Secrets, by target or cloud, when no OIDC login applies.
SECRETS: dict[str, tuple[str, ...]] = {
    "fly": ("FLY_API_TOKEN",),
    "railway": ("RAILWAY_TOKEN",),
    "render": ("RENDER_API_KEY",),
    "heroku": ("HEROKU_API_KEY",),
    "vercel": ("VERCEL_TOKEN",),
    "netlify": ("NETLIFY_AUTH_TOKEN",),
    "aws": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    "gcp": ("GCP_CREDENTIALS_JSON",),
    "azure": ("AZURE_CLIENT_SECRET",),
}
# Images the deploy jobs of container-based CI platforms run in, by cloud or target.
IMAGES_CHECKED = "2026-11-22"
IMAGES: dict[str, str] = {
    "aws": "alpine/k8s:1.34.5",  # the Kubernetes deploy image also carries the AWS CLI v2, jq, curl, bash
    "gcp": "google/cloud-sdk:500.0.0-slim",  # gcloud, curl, bash (Debian)
    "azure": "mcr.microsoft.com/azure-cli:2.67.0",  # az, jq, bash
    "node": "node:24-trixie-slim",  # npx for the Railway, Vercel, Netlify and Heroku CLIs
    "docker": "docker:28-cli",  # docker for Heroku's registry and the Lambda image
}


@dataclass(frozen=True)
class Login:
    """How one platform's deploy job signs in: shell lines before the deploy (or GitHub steps),
    the job image, the OIDC token the job must request (GitLab `id_tokens`), the secrets it
    reads."""

    lines: tuple[str, ...] = ()
    steps: tuple[dict[str, Any], ...] = ()
    image: str = IMAGES["node"]
    id_token: tuple[str, str] | None = None  # (variable, audience)
    secrets: tuple[str, ...] = ()
    oidc: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def _cloud(plan: Plan) -> str | None:
    return FACTS[plan.requirements.target].cloud


def _image(plan: Plan) -> str:
    target = plan.requirements.target
    cloud = _cloud(plan)
    if target in ("lambda", "heroku"):
        return IMAGES["docker"]
    if cloud:
        return IMAGES[cloud]
    return IMAGES["node"] if target != "fly" else IMAGES["aws"]


def login(plan: Plan, platform: str) -> Login:
    """How `platform` ("github", "gitlab", "azure", "jenkins", "circleci") signs in to the target."""
    target = plan.requirements.target
    cloud = _cloud(plan)
    image = _image(plan)
    if cloud is None:
        lines: tuple[str, ...] = ()
        if target == "fly" and platform != "github":
            lines = (
                "# flyctl from Fly.io's installer (FLYCTL_INSTALL keeps it out of the checkout)",
                'export FLYCTL_INSTALL="/tmp/flyctl" PATH="/tmp/flyctl/bin:${PATH}"',
                "curl --fail --silent --show-error --location https://fly.io/install.sh | sh",
            )
        if target == "heroku" and platform != "github":
            lines = ("apk add --no-cache bash curl nodejs npm",)
        return Login(lines=lines, image=image, secrets=SECRETS[target], steps=_github_steps(plan, platform))
    if platform == "github":
        return Login(steps=_github_steps(plan, platform), image=image, oidc=True)
    token = {"gitlab": "CI_OIDC_TOKEN", "circleci": "CIRCLE_OIDC_TOKEN_V2"}.get(platform)
    if platform == "azure" and cloud == "azure":
        # AzureCLI@2 has already signed in through the workload-identity service connection.
        return Login(image=image, oidc=True)
    if token is None:
        return Login(lines=_secret_lines(cloud), image=image, secrets=SECRETS[cloud])
    audience = {"aws": AWS_AUDIENCE, "azure": AZURE_AUDIENCE}.get(cloud, "${GCP_WORKLOAD_IDENTITY_AUDIENCE}")
    id_token = (token, audience) if platform == "gitlab" else None
    write = [f'printf \'%s\' "${{{token}}}" > {TOKEN_FILE}', f"chmod 600 {TOKEN_FILE}"]
    if cloud == "aws":
        lines = (
            *write,
            "# The AWS CLI assumes AWS_ROLE_ARN with this token itself (AssumeRoleWithWebIdentity).",
            f'export AWS_WEB_IDENTITY_TOKEN_FILE={TOKEN_FILE} AWS_ROLE_SESSION_NAME="ci-${{DEPLOY_TARGET:-deploy}}"',
            "export AWS_ROLE_ARN AWS_REGION AWS_DEFAULT_REGION=\"${AWS_REGION}\"",
            "aws sts get-caller-identity --query Arn --output text",
        )
    elif cloud == "gcp":
        lines = (
            *write,
            'gcloud iam workload-identity-pools create-cred-config "${GCP_WORKLOAD_IDENTITY_PROVIDER}" \\',
            f'  --service-account="${{GCP_SERVICE_ACCOUNT}}" --credential-source-file={TOKEN_FILE} \\',
            "  --output-file=/tmp/gcp-credentials.json",
            "gcloud auth login --cred-file=/tmp/gcp-credentials.json --quiet",
        )
    else:
        lines = (
            'az login --service-principal --username "${AZURE_CLIENT_ID}" --tenant "${AZURE_TENANT_ID}" \\',
            f'  --federated-token "${{{token}}}" --output none',
            'az account set --subscription "${AZURE_SUBSCRIPTION_ID}"',
        )
    if image == IMAGES["docker"]:
        # The Docker CLI image is Alpine with sh only: add the AWS CLI and bash (after_script's
        # rollback runs in a new shell, which then finds bash).
        lines = ("apk add --no-cache aws-cli bash", *lines)
    return Login(lines=lines, image=image, id_token=id_token, oidc=True)


def _secret_lines(cloud: str) -> tuple[str, ...]:
    """No OIDC issuer on the platform: a documented secret, scoped to deploying this app."""
    if cloud == "aws":
        return ("aws sts get-caller-identity --query Arn --output text  # AWS_ACCESS_KEY_ID/SECRET from secrets",)
    if cloud == "gcp":
        return (
            'printf \'%s\' "${GCP_CREDENTIALS_JSON}" > /tmp/gcp-credentials.json',
            "gcloud auth login --cred-file=/tmp/gcp-credentials.json --quiet",
        )
    return (
        'az login --service-principal --username "${AZURE_CLIENT_ID}" --tenant "${AZURE_TENANT_ID}" \\',
        '  --password "${AZURE_CLIENT_SECRET}" --output none',
        'az account set --subscription "${AZURE_SUBSCRIPTION_ID}"',
    )


def _github_steps(plan: Plan, platform: str) -> tuple[dict[str, Any], ...]:
    if platform != "github":
        return ()
    from deploysmith.render.actions_pins import uses

    target = plan.requirements.target
    cloud = _cloud(plan)
    if cloud == "aws":
        return ({
            "name": "Sign in to AWS (GitHub OIDC, no stored key)",
            "uses": uses("aws-actions/configure-aws-credentials"),
            "with": {
                "role-to-assume": "${{ vars.AWS_ROLE_ARN }}",
                "aws-region": "${{ vars.AWS_REGION }}",
                "role-session-name": "github-${{ github.run_id }}",
            },
        },)
    if cloud == "gcp":
        return (
            {
                "name": "Sign in to Google Cloud (Workload Identity Federation, no stored key)",
                "uses": uses("google-github-actions/auth"),
                "with": {
                    "workload_identity_provider": "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}",
                    "service_account": "${{ vars.GCP_SERVICE_ACCOUNT }}",
                },
            },
            {"name": "Set up gcloud", "uses": uses("google-github-actions/setup-gcloud")},
        )
    if cloud == "azure":
        return ({
            "name": "Sign in to Azure (federated credential, no stored key)",
            "uses": uses("azure/login"),
            "with": {
                "client-id": "${{ vars.AZURE_CLIENT_ID }}",
                "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
                "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
            },
        },)
    if target == "fly":
        return ({"name": "Set up flyctl", "uses": uses("superfly/flyctl-actions/setup-flyctl")},)
    return ()

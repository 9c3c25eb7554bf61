"""AWS App Runner, where simplicity wins: per environment and web component,
`deploy/app-runner/<env>/<component>.json`, the UpdateService input (image from ECR,
port, secrets from Secrets Manager, instance size, HTTP health check on the health path).

App Runner replaces instances only after the new ones pass the health check (rolling); it
has no traffic splitting, so blue/green and canary fall back (plan/targets.py). The deploy
records the image it replaces as the service tag `previous-image`; rollback redeploys it.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile, Workload
from deploysmith.render.targets.base import (
    DEPLOY_DIR,
    TargetCommands,
    cpu_millis,
    health_path,
    image_var,
    image_vars,
    json_file,
    memory_mib,
    placeholder,
    service_name,
    substitute_lines,
    web,
)

FOLDER = f"{DEPLOY_DIR}/app-runner"
ACCOUNT = "${AWS_ACCOUNT_ID}"
REGION = "${AWS_REGION}"
WAIT_SECONDS = 900


def path(env: EnvironmentPlan, workload: Workload) -> str:
    return f"{FOLDER}/{env.name}/{workload.component.name}.json"


def size(env: EnvironmentPlan) -> tuple[str, str]:
    """The smallest valid App Runner (CPU, memory) pair at or above the limits."""
    cpu, memory = cpu_millis(env.cpu_limit), memory_mib(env.memory_limit)
    if cpu <= 250 and memory <= 512:
        return "0.25 vCPU", "0.5 GB"
    if cpu <= 500 and memory <= 1024:
        return "0.5 vCPU", "1 GB"
    if cpu <= 1000 and memory <= 2048:
        return "1 vCPU", "2 GB"
    return "2 vCPU", "4 GB"


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return tuple(json_file(path(env, w), update_service(plan, env, w)) for env in plan.environments for w in web(plan))


def update_service(plan: Plan, env: EnvironmentPlan, workload: Workload) -> dict[str, Any]:
    cpu, memory = size(env)
    image: dict[str, Any] = {
        "Port": str(workload.container_port or 8080),
        "RuntimeEnvironmentVariables": {"APP_ENV": env.name},
    }
    if workload.secret_env:
        image["RuntimeEnvironmentSecrets"] = {
            key: f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{plan.app_name}/{env.name}/{key}"
            for key in sorted(workload.secret_env)
        }
    probe = health_path(workload)
    check: dict[str, Any] = (
        {"Protocol": "HTTP", "Path": probe} if probe else {"Protocol": "TCP"}
    ) | {"Interval": 10, "Timeout": 5, "HealthyThreshold": 1, "UnhealthyThreshold": 5}
    return {
        "ServiceArn": "${SERVICE_ARN}",
        "SourceConfiguration": {
            "ImageRepository": {
                "ImageIdentifier": placeholder(workload.image),
                "ImageRepositoryType": "ECR",
                "ImageConfiguration": image,
            },
            "AutoDeploymentsEnabled": False,
            "AuthenticationConfiguration": {
                "AccessRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{plan.app_name}-{env.name}-apprunner-access",
            },
        },
        "InstanceConfiguration": {
            "Cpu": cpu,
            "Memory": memory,
            "InstanceRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{plan.app_name}-{env.name}-apprunner-instance",
        },
        "HealthCheckConfiguration": check,
    }


def _arn_lines(name: str) -> list[str]:
    return [
        f"SERVICE_ARN=\"$(aws apprunner list-services --query \"ServiceSummaryList[?ServiceName=='{name}']"
        '.ServiceArn | [0]" --output text)"',
        "export SERVICE_ARN",
    ]


def _wait_lines(name: str) -> list[str]:
    return [
        f"deadline=$((SECONDS + {WAIT_SECONDS}))",
        'until [[ "$(aws apprunner describe-service --service-arn "${SERVICE_ARN}" '
        "--query Service.Status --output text)\" == RUNNING ]]; do",
        f'  (( SECONDS < deadline )) || {{ echo "{name} is not RUNNING after {WAIT_SECONDS}s" >&2; exit 1; }}',
        "  sleep 15",
        "done",
    ]


def commands(plan: Plan, env: EnvironmentPlan) -> TargetCommands:
    deploy: list[str] = []
    verify: list[str] = []
    rollback: list[str] = []
    for workload in web(plan):
        name = service_name(plan, workload, env)
        rendered = f"/tmp/{name}.json"
        deploy += [
            f"# {workload.component.name}: {name}",
            *_arn_lines(name),
            'previous_image="$(aws apprunner describe-service --service-arn "${SERVICE_ARN}" \\',
            "  --query Service.SourceConfiguration.ImageRepository.ImageIdentifier --output text)\"",
            'aws apprunner tag-resource --resource-arn "${SERVICE_ARN}" \\',
            '  --tags "Key=previous-image,Value=${previous_image}"',
            *substitute_lines(path(env, workload), rendered, (*image_vars(plan), "SERVICE_ARN", "AWS_ACCOUNT_ID",
                                                              "AWS_REGION")),
            f"aws apprunner update-service --cli-input-json file://{rendered} --query Service.Status --output text",
            *_wait_lines(name),
        ]
        verify += [*_arn_lines(name), *_wait_lines(name)]
        rollback += [
            *_arn_lines(name),
            'previous="$(aws apprunner list-tags-for-resource --resource-arn "${SERVICE_ARN}" \\',
            "  --query \"Tags[?Key=='previous-image'].Value | [0]\" --output text)\"",
            f'{image_var(workload.image)}="${{previous}}"',
            *substitute_lines(path(env, workload), rendered, (image_var(workload.image), "SERVICE_ARN",
                                                              "AWS_ACCOUNT_ID", "AWS_REGION")),
            f"aws apprunner update-service --cli-input-json file://{rendered} --query Service.Status --output text",
            *_wait_lines(name),
        ]
    return TargetCommands(tuple(deploy), tuple(verify), tuple(rollback))


def logs(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """The last hour of each service's application log group (its name ends in the service id)."""
    lines: list[str] = []
    for workload in web(plan):
        prefix = f"/aws/apprunner/{service_name(plan, workload, env)}/"
        lines += [
            f'group="$(aws logs describe-log-groups --log-group-name-prefix {prefix} --region "{REGION}" \\',
            "  --query 'logGroups[?ends_with(logGroupName, `/application`)].logGroupName | [0]' --output text)\"",
            f'aws logs tail "${{group}}" --since 1h --region "{REGION}"',
        ]
    return tuple(lines)

"""AWS ECS on Fargate: per environment and component, a task definition
(`deploy/ecs/<env>/<component>.task-definition.json`, the RegisterTaskDefinition input)
and the service settings (`<component>.service.json`, the CreateService input). With a
blue/green or canary strategy the web service uses the CODE_DEPLOY controller and each
release is a CodeDeploy deployment (`<component>.codedeploy.yaml`, the CreateDeployment
input with its AppSpec); otherwise the ECS rolling update with the deployment circuit
breaker, which rolls a release back by itself when its tasks fail their health checks.

ARNs, subnets and security groups are `${AWS_ACCOUNT_ID}`/`${AWS_REGION}`-style
placeholders CI fills from its variables; the IaC creates what they name. Secrets are
Secrets Manager ARNs (`<app>/<env>/<KEY>`), resolved by the execution role at task start.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile, Workload
from deploysmith.plan.targets import target_strategy
from deploysmith.render.targets.base import (
    DEPLOY_DIR,
    TargetCommands,
    cpu_millis,
    health_command,
    image_vars,
    json_file,
    memory_mib,
    placeholder,
    quote,
    service_name,
    start_args,
    substitute_lines,
    yaml_file,
)
from deploysmith.render.yamlout import dump

FOLDER = f"{DEPLOY_DIR}/ecs"
ACCOUNT = "${AWS_ACCOUNT_ID}"
REGION = "${AWS_REGION}"
CLUSTER = '--cluster "${ECS_CLUSTER}"'
# Valid Fargate sizes: CPU units → memory (MiB) choices.
FARGATE: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}
CODEDEPLOY_CONFIG = {
    "blue-green": "CodeDeployDefault.ECSAllAtOnce",
    "canary": "CodeDeployDefault.ECSCanary10Percent5Minutes",
}


def fargate_size(cpu_limit: str, memory_limit: str) -> tuple[int, int]:
    """The smallest valid Fargate (cpu, memory) pair at or above the limits."""
    cpu_needed, memory_needed = cpu_millis(cpu_limit) * 1024 // 1000, memory_mib(memory_limit)
    for cpu, memories in FARGATE.items():
        if cpu < cpu_needed:
            continue
        for memory in memories:
            if memory >= memory_needed:
                return cpu, memory
    return 4096, 30720


def _path(env: EnvironmentPlan, workload: Workload, kind: str) -> str:
    return f"{FOLDER}/{env.name}/{workload.component.name}.{kind}"


def task_definition_path(env: EnvironmentPlan, workload: Workload) -> str:
    return _path(env, workload, "task-definition.json")


def codedeploy(plan: Plan, workload: Workload) -> str | None:
    """The CodeDeploy config when this workload's releases go through CodeDeploy."""
    strategy = target_strategy(plan.requirements, plan.strategy.choice)
    if workload.component.kind in ("web", "static") and strategy in CODEDEPLOY_CONFIG:
        return CODEDEPLOY_CONFIG[strategy]
    return None


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    files: list[RenderedFile] = []
    for env in plan.environments:
        for workload in plan.workloads:
            files.append(json_file(task_definition_path(env, workload), task_definition(plan, env, workload)))
            files.append(json_file(_path(env, workload, "service.json"), service(plan, env, workload)))
            config = codedeploy(plan, workload)
            if config:
                files.append(yaml_file(
                    _path(env, workload, "codedeploy.yaml"), deployment(plan, env, workload, config),
                    f"the CodeDeploy deployment of {workload.component.name} in {env.name} "
                    "(aws deploy create-deployment --cli-input-yaml)",
                ))
    return tuple(files)


def secret_arn(plan: Plan, env: EnvironmentPlan, key: str) -> str:
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{plan.app_name}/{env.name}/{key}"


def task_definition(plan: Plan, env: EnvironmentPlan, workload: Workload) -> dict[str, Any]:
    name = service_name(plan, workload, env)
    cpu, memory = fargate_size(env.cpu_limit, env.memory_limit)
    container: dict[str, Any] = {
        "name": workload.component.name,
        "image": placeholder(workload.image),
        "essential": True,
        "user": f"{workload.uid}:{workload.uid}",
        "readonlyRootFilesystem": workload.read_only_root,
        "environment": [{"name": "APP_ENV", "value": env.name}],
        "secrets": [{"name": key, "valueFrom": secret_arn(plan, env, key)} for key in sorted(workload.secret_env)],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": f"/ecs/{name}",
                "awslogs-region": REGION,
                "awslogs-stream-prefix": workload.component.name,
                "awslogs-create-group": "true",
            },
        },
        "linuxParameters": {"initProcessEnabled": True},
        "stopTimeout": 30,
    }
    if workload.component.kind not in ("web", "static") and start_args(workload):
        container["command"] = start_args(workload)
    if workload.container_port:
        container["portMappings"] = [
            {"name": "http", "containerPort": workload.container_port, "protocol": "tcp", "appProtocol": "http"}
        ]
    check = health_command(workload)
    if check:
        container["healthCheck"] = {
            "command": check, "interval": 15, "timeout": 5, "retries": 3, "startPeriod": 30,
        }
    volumes = [{"name": _volume(path)} for path in workload.writable_paths]
    if volumes and workload.read_only_root:
        container["mountPoints"] = [
            {"sourceVolume": _volume(path), "containerPath": path, "readOnly": False}
            for path in workload.writable_paths
        ]
    return {
        "family": name,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(cpu),
        "memory": str(memory),
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{plan.app_name}-{env.name}-ecs-execution",
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{plan.app_name}-{env.name}-ecs-task",
        "containerDefinitions": [container],
        **({"volumes": volumes} if volumes and workload.read_only_root else {}),
    }


def _volume(path: str) -> str:
    return "scratch" + path.replace("/", "-")


def service(plan: Plan, env: EnvironmentPlan, workload: Workload) -> dict[str, Any]:
    name = service_name(plan, workload, env)
    serving = workload.component.kind in ("web", "static") and workload.container_port
    config = codedeploy(plan, workload)
    data: dict[str, Any] = {
        "cluster": "${ECS_CLUSTER}",
        "serviceName": name,
        "taskDefinition": name,
        "desiredCount": env.min_replicas,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "deploymentController": {"type": "CODE_DEPLOY" if config else "ECS"},
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["${PRIVATE_SUBNET_A}", "${PRIVATE_SUBNET_B}"],
                "securityGroups": ["${SERVICE_SECURITY_GROUP}"],
                "assignPublicIp": "DISABLED",
            }
        },
        "propagateTags": "SERVICE",
        "enableECSManagedTags": True,
        "enableExecuteCommand": False,
    }
    if not config:
        data["deploymentConfiguration"] = {
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        }
    if serving:
        data["loadBalancers"] = [{
            "targetGroupArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/"
            f"{name[:26]}-blue/${{TARGET_GROUP_ID}}",
            "containerName": workload.component.name,
            "containerPort": workload.container_port,
        }]
        data["healthCheckGracePeriodSeconds"] = 60
    return data


def deployment(plan: Plan, env: EnvironmentPlan, workload: Workload, config: str) -> dict[str, Any]:
    name = service_name(plan, workload, env)
    appspec = {
        "version": 0.0,
        "Resources": [{
            "TargetService": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "TaskDefinition": "${TASK_DEFINITION_ARN}",
                    "LoadBalancerInfo": {
                        "ContainerName": workload.component.name,
                        "ContainerPort": workload.container_port,
                    },
                },
            }
        }],
    }
    return {
        "applicationName": name,
        "deploymentGroupName": name,
        "deploymentConfigName": config,
        "description": f"{name}: task definition ${{TASK_DEFINITION_ARN}}",
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": dump(appspec)}},
        "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]},
    }


def commands(plan: Plan, env: EnvironmentPlan) -> TargetCommands:
    deploy: list[str] = []
    verify: list[str] = []
    rollback: list[str] = []
    variables = (*image_vars(plan), "AWS_ACCOUNT_ID", "AWS_REGION")
    migrations = [w for w in plan.workloads if w.migrate_command]
    for workload in plan.workloads:
        name = service_name(plan, workload, env)
        rendered = f"/tmp/{name}.task-definition.json"
        deploy += [
            f"# {workload.component.name}: register the task definition with this run's image, then deploy it",
            *substitute_lines(task_definition_path(env, workload), rendered, variables),
            f"TASK_DEFINITION_ARN=\"$(aws ecs register-task-definition --cli-input-json file://{rendered} \\",
            "  --query taskDefinition.taskDefinitionArn --output text)\"",
            "export TASK_DEFINITION_ARN",
        ]
        if workload in migrations:
            deploy += _migration_lines(plan, workload, name)
        config = codedeploy(plan, workload)
        if config:
            spec = f"/tmp/{name}.codedeploy.yaml"
            deploy += [
                *substitute_lines(_path(env, workload, "codedeploy.yaml"), spec, ("TASK_DEFINITION_ARN",)),
                f"deployment_id=\"$(aws deploy create-deployment --cli-input-yaml file://{spec} \\",
                "  --query deploymentId --output text)\"",
                'echo "CodeDeploy deployment ${deployment_id}"',
                'aws deploy wait deployment-successful --deployment-id "${deployment_id}"',
            ]
        else:
            deploy += [
                f'aws ecs update-service {CLUSTER} --service {name} --task-definition "${{TASK_DEFINITION_ARN}}" \\',
                "  --query service.serviceName --output text",
                f"aws ecs wait services-stable {CLUSTER} --services {name}",
                f"state=\"$(aws ecs describe-services {CLUSTER} --services {name} \\",
                "  --query \"services[0].deployments[?status=='PRIMARY'].rolloutState | [0]\" --output text)\"",
                f'[[ "${{state}}" == "COMPLETED" ]] || {{ echo "{name}: rollout ${{state}} (the circuit breaker '
                'rolled it back)" >&2; exit 1; }',
            ]
        verify += [
            f"running=\"$(aws ecs describe-services {CLUSTER} --services {name} \\",
            "  --query 'services[0].runningCount' --output text)\"",
            f'(( running > 0 )) || {{ echo "{name} runs no task" >&2; exit 1; }}',
        ]
        rollback += [
            f"previous=\"$(aws ecs list-task-definitions --family-prefix {name} --sort DESC \\",
            "  --query 'taskDefinitionArns[1]' --output text)\"",
        ]
        if config:
            spec = f"/tmp/{name}.rollback.yaml"
            rollback += [
                'TASK_DEFINITION_ARN="${previous}"',
                "export TASK_DEFINITION_ARN",
                *substitute_lines(_path(env, workload, "codedeploy.yaml"), spec, ("TASK_DEFINITION_ARN",)),
                f"sed -i -e 's|{config}|CodeDeployDefault.ECSAllAtOnce|' {quote(spec)}",
                f"deployment_id=\"$(aws deploy create-deployment --cli-input-yaml file://{spec} \\",
                "  --query deploymentId --output text)\"",
                'aws deploy wait deployment-successful --deployment-id "${deployment_id}"',
            ]
        else:
            rollback += [
                f'aws ecs update-service {CLUSTER} --service {name} --task-definition "${{previous}}" \\',
                "  --query service.serviceName --output text",
                f"aws ecs wait services-stable {CLUSTER} --services {name}",
            ]
    return TargetCommands(tuple(deploy), tuple(verify), tuple(rollback))


def _migration_lines(plan: Plan, workload: Workload, name: str) -> list[str]:
    """Run the migration as a one-off task of the new task definition, in the service's
    network, and stop the deploy when it fails (before the service changes)."""
    import json
    import shlex

    assert workload.migrate_command is not None
    overrides = json.dumps(
        {"containerOverrides": [{"name": workload.component.name, "command": shlex.split(workload.migrate_command)}]},
        separators=(",", ":"),
    )
    return [
        "# Migrations: a one-off task from the new task definition, before the service changes",
        f"network=\"$(aws ecs describe-services {CLUSTER} --services {name} \\",
        "  --query 'services[0].networkConfiguration' --output json)\"",
        f'task="$(aws ecs run-task {CLUSTER} --launch-type FARGATE --task-definition "${{TASK_DEFINITION_ARN}}" \\',
        f'  --network-configuration "${{network}}" --overrides {quote(overrides)} \\',
        "  --query 'tasks[0].taskArn' --output text)\"",
        f'aws ecs wait tasks-stopped {CLUSTER} --tasks "${{task}}"',
        f"code=\"$(aws ecs describe-tasks {CLUSTER} --tasks \"${{task}}\" \\",
        "  --query 'tasks[0].containers[0].exitCode' --output text)\"",
        '[[ "${code}" == "0" ]] || { echo "migration task ${task} exited ${code}" >&2; exit 1; }',
    ]


def logs(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """The last hour of each service's log group (the task definition's awslogs group)."""
    return tuple(
        f'aws logs tail /ecs/{service_name(plan, w, env)} --since 1h --region "{REGION}"' for w in plan.workloads
    )

"""AWS Lambda: one HTTP app per function, run through the AWS Lambda Web Adapter (an
extension that forwards Lambda invocations to the app's port, so the same server code
runs unchanged). Only stacks of one web component fit; workers and long-running processes
are refused by the plan (plan/targets.py).

Files: `deploy/lambda/Dockerfile` adds the adapter to the image the Package stage pushed
(`--build-arg APP_IMAGE=<digest>`; Lambda needs the image in ECR, `LAMBDA_REPOSITORY`);
`deploy/lambda/<env>/function.json` is the UpdateFunctionConfiguration input (memory,
timeout, the adapter's port and readiness path). Each release publishes a version; the
`live` alias (what the function URL serves) moves to it, through a weighted alias for a
canary (`update-alias --routing-config`), and moves back on rollback.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile, Workload
from deploysmith.plan.targets import target_strategy
from deploysmith.render.common import header
from deploysmith.render.targets.base import (
    DEPLOY_DIR,
    TargetCommands,
    health_path,
    image_var,
    json_file,
    memory_mib,
    quote,
    web,
)

FOLDER = f"{DEPLOY_DIR}/lambda"
DOCKERFILE = f"{FOLDER}/Dockerfile"
# The adapter's image on ECR Public, by release; its /lambda-adapter binary is the extension.
ADAPTER = "public.ecr.aws/awsguru/aws-lambda-adapter:0.9.1"
ALIAS = "live"
CANARY_WEIGHT = "0.1"
CANARY_BAKE_SECONDS = 300
TIMEOUT_SECONDS = 30


def function_name(plan: Plan, env: EnvironmentPlan) -> str:
    return f"{plan.app_name}-{env.name}"


def config_path(env: EnvironmentPlan) -> str:
    return f"{FOLDER}/{env.name}/function.json"


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    workload = web(plan)[0]
    files = [RenderedFile(DOCKERFILE, dockerfile(workload.uid))]
    files += [json_file(config_path(env), configuration(plan, env, workload)) for env in plan.environments]
    return tuple(files)


def dockerfile(uid: int) -> str:
    comment = "".join(f"# {line}\n" for line in header(
        "the Lambda image: the app image plus the Lambda Web Adapter extension"
    ).split("\n"))
    return (
        comment
        + "# Built in the deploy stage from the digest that passed the earlier stages:\n"
        + "#   docker build --build-arg APP_IMAGE=<repository>@sha256:... -f deploy/lambda/Dockerfile deploy/lambda\n"
        + "ARG APP_IMAGE\n"
        + f"FROM {ADAPTER} AS adapter\n"
        + "\n"
        + "# hadolint ignore=DL3006\n"
        + "FROM ${APP_IMAGE}\n"
        + "COPY --from=adapter /lambda-adapter /opt/extensions/lambda-adapter\n"
        + "# The app image's own non-root user, restated: Lambda runs the image as it is.\n"
        + f"USER {uid}\n"
        + "# Lambda checks readiness through the adapter (AWS_LWA_READINESS_CHECK_PATH).\n"
        + "HEALTHCHECK NONE\n"
    )


def configuration(plan: Plan, env: EnvironmentPlan, workload: Workload) -> dict[str, Any]:
    variables = {
        "APP_ENV": env.name,
        "AWS_LWA_PORT": str(workload.container_port or 8080),
        "AWS_LWA_READINESS_CHECK_PATH": health_path(workload) or "/",
        # Lambda has no secret references in its environment: the app (or the Parameters and
        # Secrets extension) reads each value from the Secrets Manager ARN given here.
        **{
            f"{key}_SECRET_ARN": f"arn:aws:secretsmanager:${{AWS_REGION}}:${{AWS_ACCOUNT_ID}}:secret:"
            f"{plan.app_name}/{env.name}/{key}"
            for key in sorted(workload.secret_env)
        },
    }
    return {
        "FunctionName": function_name(plan, env),
        "Role": f"arn:aws:iam::${{AWS_ACCOUNT_ID}}:role/{plan.app_name}-{env.name}-lambda",
        "MemorySize": max(memory_mib(env.memory_limit), 512),
        "Timeout": TIMEOUT_SECONDS,
        "Environment": {"Variables": variables},
        "TracingConfig": {"Mode": "Active"},
    }


def commands(plan: Plan, env: EnvironmentPlan) -> TargetCommands:
    strategy = target_strategy(plan.requirements, plan.strategy.choice)
    workload = web(plan)[0]
    name = function_name(plan, env)
    image = f"${{{image_var(workload.image)}}}"
    rendered = f"/tmp/{name}.json"
    deploy = [
        "# The app image plus the adapter, pushed to the function's ECR repository; the app image",
        "# comes from the same account's ECR (--registry), so one short-lived ECR login covers both.",
        'aws ecr get-login-password --region "${AWS_REGION}" \\',
        '  | docker login --username AWS --password-stdin "${LAMBDA_REPOSITORY%%/*}"',
        'REVISION="$(printf \'%s\' "' + image + '" | sed \'s/.*sha256://\' | cut -c1-12)"',
        f'docker build --build-arg APP_IMAGE="{image}" --tag "${{LAMBDA_REPOSITORY}}:${{REVISION}}" \\',
        f"  --file {DOCKERFILE} {FOLDER}",
        'docker push "${LAMBDA_REPOSITORY}:${REVISION}"',
        'lambda_image="$(docker inspect --format \'{{index .RepoDigests 0}}\' "${LAMBDA_REPOSITORY}:${REVISION}")"',
        f'aws lambda update-function-code --function-name {name} --image-uri "${{lambda_image}}" \\',
        "  --query LastUpdateStatus --output text",
        f"aws lambda wait function-updated-v2 --function-name {name}",
        f'sed -e "s|[$]{{AWS_REGION}}|${{AWS_REGION}}|g" -e "s|[$]{{AWS_ACCOUNT_ID}}|${{AWS_ACCOUNT_ID}}|g" '
        f"{quote(config_path(env))} > {rendered}",
        f"aws lambda update-function-configuration --cli-input-json file://{rendered} \\",
        "  --query LastUpdateStatus --output text",
        f"aws lambda wait function-updated-v2 --function-name {name}",
        f'version="$(aws lambda publish-version --function-name {name} --query Version --output text)"',
    ]
    if workload.migrate_command:
        deploy.append(
            f"# Migrations ({workload.migrate_command}): Lambda has no release phase; run them before the alias "
            "moves (see docs/deploy/RUNBOOK.md)"
        )
    if strategy == "canary":
        deploy += [
            f"aws lambda update-alias --function-name {name} --name {ALIAS} \\",
            f'  --routing-config "AdditionalVersionWeights={{${{version}}={CANARY_WEIGHT}}}" '
            "--query AliasArn --output text",
            f"sleep {CANARY_BAKE_SECONDS}  # watch the version's Errors metric in CloudWatch meanwhile",
        ]
    deploy += [
        f'aws lambda update-alias --function-name {name} --name {ALIAS} --function-version "${{version}}" \\',
        "  --routing-config 'AdditionalVersionWeights={}' --query AliasArn --output text",
    ]
    verify = [
        f"aws lambda get-alias --function-name {name} --name {ALIAS} --query FunctionVersion --output text",
    ]
    rollback = [
        f'current="$(aws lambda get-alias --function-name {name} --name {ALIAS} \\',
        "  --query FunctionVersion --output text)\"",
        f"previous=\"$(aws lambda list-versions-by-function --function-name {name} \\",
        "  --query \"Versions[?Version!='\\$LATEST' && to_number(Version) < \\`${current}\\`] | [-1].Version\" "
        "--output text)\"",
        f'aws lambda update-alias --function-name {name} --name {ALIAS} --function-version "${{previous}}" \\',
        "  --routing-config 'AdditionalVersionWeights={}' --query AliasArn --output text",
    ]
    return TargetCommands(tuple(deploy), tuple(verify), tuple(rollback))


def logs(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """The last hour of the function's log group (Lambda's own /aws/lambda/<function>)."""
    return (f'aws logs tail /aws/lambda/{function_name(plan, env)} --since 1h --region "${{AWS_REGION}}"',)

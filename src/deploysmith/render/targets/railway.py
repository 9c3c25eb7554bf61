"""Railway: config as code, one file per service: `railway.json` for the web component
(or the first one) and `railway.<component>.json` for each other (point the service's
"Config file path" setting at it). Railway builds the repository's Dockerfile for the
deploy (`railway up`), checks `healthcheckPath` before the new deployment takes traffic,
runs the migration as the pre-deploy command, and restarts a crashed process on failure.
One Railway environment per plan environment (`railway up --environment <env>`).
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Image, Plan, RenderedFile, Workload
from deploysmith.render.targets.base import TargetCommands, health_path, json_file, quote

SCHEMA = "https://railway.com/railway.schema.json"
CLI = "npx --yes @railway/cli@5.63.1"


def path(plan: Plan, workload: Workload) -> str:
    first = next((w for w in plan.workloads if w.component.kind in ("web", "static")), plan.workloads[0])
    return "railway.json" if workload is first else f"railway.{workload.component.name}.json"


def _image(plan: Plan, workload: Workload) -> Image:
    return next(i for i in plan.images if i.name == workload.image)


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return tuple(json_file(path(plan, w), config(plan, w)) for w in plan.workloads)


def config(plan: Plan, workload: Workload) -> dict[str, Any]:
    image = _image(plan, workload)
    deploy: dict[str, Any] = {
        "restartPolicyType": "ON_FAILURE",
        "restartPolicyMaxRetries": 10,
    }
    if workload.component.start_command:
        deploy["startCommand"] = workload.component.start_command
    probe = health_path(workload)
    if probe:
        deploy["healthcheckPath"] = probe
        deploy["healthcheckTimeout"] = 300
    if workload.migrate_command:
        deploy["preDeployCommand"] = [workload.migrate_command]
    return {
        "$schema": SCHEMA,
        "build": {"builder": "DOCKERFILE", "dockerfilePath": image.dockerfile},
        "deploy": deploy,
    }


def railway_service(plan: Plan, workload: Workload) -> str:
    return workload.component.name


def commands(plan: Plan, env: EnvironmentPlan) -> TargetCommands:
    deploy: list[str] = []
    verify: list[str] = []
    rollback: list[str] = []
    for workload in plan.workloads:
        service = quote(railway_service(plan, workload))
        deploy.append(f"{CLI} up --ci --service {service} --environment {env.name}")
        verify.append(f"{CLI} status --json")
        rollback += [
            "# Railway keeps each deployment: redeploy the one before the newest",
            f"previous=\"$({CLI} deployment list --service {service} --environment {env.name} --json "
            "| jq -r '[.[] | select(.status == \"SUCCESS\")][1].id // empty')\"",
            f'[[ -n "${{previous}}" ]] || {{ echo "no previous deployment of {workload.component.name}" >&2; '
            "exit 1; }",
            f'{CLI} redeploy --service {service} --environment {env.name} --deployment "${{previous}}" --yes',
        ]
    return TargetCommands(tuple(deploy), tuple(verify), tuple(rollback))


def logs(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """Each service's last deploy log lines (without --lines the CLI streams)."""
    return tuple(
        f"{CLI} logs --service {quote(railway_service(plan, w))} --environment {env.name} --lines 100"
        for w in plan.workloads
    )

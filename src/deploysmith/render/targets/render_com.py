"""Render: a `render.yaml` Blueprint. One set of services per environment
(`<app>` in prod, `<app>-<env>` elsewhere): a web service per web component, a background
worker per worker, each running the image the Package stage pushed (`runtime: image`),
and the databases the stack uses (Render Postgres, Render Key Value for Redis), wired in
through `fromDatabase` / `fromService` so no connection string is written down. The
migration is the web service's `preDeployCommand`: it runs before the new instance takes
traffic, and a failure stops the deploy.

CI deploys by calling each service's deploy hook (a secret URL, RENDER_DEPLOY_HOOK_<NAME>)
with the new image digest (`imgURL`), so what runs is what passed the earlier stages.
"""

from __future__ import annotations

import re
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile, Workload
from deploysmith.plan.targets import stack_services
from deploysmith.render.common import image_repository
from deploysmith.render.targets.base import TargetCommands, app_name, health_path, image_var, yaml_file

PATH = "render.yaml"
PLANS = {"prod": "standard", "staging": "starter", "dev": "starter"}


def service_name(plan: Plan, workload: Workload, env: EnvironmentPlan) -> str:
    base = app_name(plan, env)
    return base if workload.component.name == plan.app_name else f"{base}-{workload.component.name}"


def hook_var(plan: Plan, workload: Workload, env: EnvironmentPlan) -> str:
    return "RENDER_DEPLOY_HOOK_" + re.sub(r"[^A-Za-z0-9]+", "_", service_name(plan, workload, env)).upper()


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return (yaml_file(PATH, blueprint(plan), "the Render Blueprint (services and databases per environment)"),)


def _database(plan: Plan, env: EnvironmentPlan) -> str:
    return f"{app_name(plan, env)}-db"


def _cache(plan: Plan, env: EnvironmentPlan) -> str:
    return f"{app_name(plan, env)}-cache"


def blueprint(plan: Plan) -> dict[str, Any]:
    services: list[Any] = []
    databases: list[Any] = []
    uses = stack_services(plan.stack)
    for env in plan.environments:
        tier = PLANS[env.name]
        if "redis" in uses:
            services.append({
                "type": "keyvalue",
                "name": _cache(plan, env),
                "plan": tier,
                "ipAllowList": [],
                "maxmemoryPolicy": "noeviction",
            })
        for workload in plan.workloads:
            services.append(_service(plan, env, workload, tier, uses))
        if "postgres" in uses:
            databases.append({
                "name": _database(plan, env),
                "plan": "basic-1gb" if env.name == "prod" else "basic-256mb",
                "ipAllowList": [],
            })
    data: dict[str, Any] = {"services": services}
    if databases:
        data["databases"] = databases
    return data


def _service(plan: Plan, env: EnvironmentPlan, workload: Workload, tier: str, uses: tuple[str, ...]) -> Any:
    serving = workload.component.kind in ("web", "static")
    image = next(i for i in plan.images if i.name == workload.image)
    variables: list[Any] = [{"key": "APP_ENV", "value": env.name}]
    for key in sorted(workload.secret_env):
        if key == "DATABASE_URL" and "postgres" in uses:
            variables.append(
                {"key": key, "fromDatabase": {"name": _database(plan, env), "property": "connectionString"}}
            )
        elif key == "REDIS_URL" and "redis" in uses:
            variables.append({"key": key, "fromService": {"type": "keyvalue", "name": _cache(plan, env),
                                                          "property": "connectionString"}})
        else:
            variables.append({"key": key, "sync": False})
    service: dict[str, Any] = {
        "type": "web" if serving else "worker",
        "name": service_name(plan, workload, env),
        "runtime": "image",
        "image": {"url": image_repository(plan, image)},
        "plan": tier,
        "autoDeploy": False,
        "envVars": variables,
    }
    if workload.component.kind not in ("web", "static") and workload.component.start_command:
        service["dockerCommand"] = workload.component.start_command
    if serving:
        probe = health_path(workload)
        if probe:
            service["healthCheckPath"] = probe
        service["numInstances"] = env.min_replicas
    if workload.migrate_command:
        service["preDeployCommand"] = workload.migrate_command
    return service


def commands(plan: Plan, env: EnvironmentPlan) -> TargetCommands:
    deploy: list[str] = []
    for workload in plan.workloads:
        hook = hook_var(plan, workload, env)
        deploy += [
            f"# {service_name(plan, workload, env)}: its deploy hook, with this run's image",
            f'curl --fail --silent --show-error --request POST --get "${{{hook}}}" \\',
            f'  --data-urlencode "imgURL=${{{image_var(workload.image)}}}"',
        ]
    verify = ['echo "Render reports each deploy on the service\'s Events page; the smoke test checks the host."']
    rollback = ["api() {  # method, path: the Render API with the RENDER_API_KEY secret",
                '  curl --fail --silent --show-error --request "$1" \\',
                '    --header "Authorization: Bearer ${RENDER_API_KEY}" \\',
                '    --header "Accept: application/json" "https://api.render.com/v1/$2"',
                "}"]
    for workload in plan.workloads:
        service = f"${{{hook_var(plan, workload, env).replace('DEPLOY_HOOK', 'SERVICE_ID')}}}"
        rollback += [
            f"# {service_name(plan, workload, env)}: back to the deploy before the newest",
            f'previous="$(api GET "services/{service}/deploys?limit=2" | jq -r \'.[1].deploy.id // empty\')"',
            f'[[ -n "${{previous}}" ]] || {{ echo "no previous deploy of {service_name(plan, workload, env)}" >&2; '
            "exit 1; }",
            'curl --fail --silent --show-error --request POST --header "Authorization: Bearer ${RENDER_API_KEY}" \\',
            f'  --json "{{\\"deployId\\": \\"${{previous}}\\"}}" "https://api.render.com/v1/services/{service}/rollback"',
        ]
    return TargetCommands(tuple(deploy), tuple(verify), tuple(rollback))


def logs(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """Render shows logs in its dashboard; the kit talks to Render only through deploy hooks and
    the API key the rollback uses."""
    return tuple(
        f"# {service_name(plan, w, env)}: dashboard > the service > Logs (and Events for the deploy)"
        for w in plan.workloads
    )

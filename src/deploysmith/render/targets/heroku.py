"""Heroku: `Procfile` (one line per process, and `release:` for the migration, which runs
before the new release takes traffic and stops it when it fails) and `app.json` (the
container stack, formation, add-ons for the stack's databases, the config vars to set).

CI deploys the image the Package stage pushed through the Heroku container registry: the
digest is retagged `registry.heroku.com/<app>/<process>` for each process (workers and the
release phase get the same image with their command as CMD, from the Procfile's commands),
then `heroku container:release`. One Heroku app per environment (`<app>`, `<app>-<env>`);
Preboot keeps the old dynos serving until the new ones are up.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile, Workload
from deploysmith.plan.targets import managed_services, stack_services
from deploysmith.render.common import header
from deploysmith.render.targets.base import TargetCommands, app_name, image_var, json_file

CLI = "npx --yes heroku@11.10.0"
ADDONS = {"postgres": "heroku-postgresql:essential-0", "redis": "heroku-redis:mini"}


def process(workload: Workload) -> str:
    return "web" if workload.component.kind in ("web", "static") else workload.component.name.replace("-", "_")


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return (RenderedFile("Procfile", procfile(plan)), json_file("app.json", app_json(plan)))


def procfile(plan: Plan) -> str:
    lines = [f"# {line}" for line in header("the Heroku process types and the release phase").split("\n")]
    lines.append("# Container deploys run the same commands as each process image's CMD (see docs/deploy/RUNBOOK.md).")
    migrate = next((w.migrate_command for w in plan.workloads if w.migrate_command), None)
    if migrate:
        lines.append(f"release: {migrate}")
    for workload in plan.workloads:
        command = workload.component.start_command
        if command:
            lines.append(f"{process(workload)}: {command}")
    return "\n".join(lines) + "\n"


def app_json(plan: Plan) -> dict[str, Any]:
    uses = stack_services(plan.stack)
    prod = plan.environment("prod") or plan.environments[-1]
    keys = sorted({key for w in plan.workloads for key in w.secret_env})
    managed = {"DATABASE_URL": "postgres", "REDIS_URL": "redis"}
    env: dict[str, Any] = {"APP_ENV": {"description": "the environment name", "value": "prod"}}
    for key in keys:
        if managed.get(key) in uses:
            continue  # set by the add-on
        env[key] = {"description": f"{key}, a secret: set with heroku config:set", "required": True}
    data: dict[str, Any] = {
        "name": plan.app_name,
        "stack": "container",
        "formation": {
            process(w): {"quantity": prod.min_replicas if process(w) == "web" else 1, "size": "standard-1x"}
            for w in plan.workloads
        },
        "env": env,
    }
    addons = [ADDONS[s] for s in uses if s in ADDONS and s in managed_services("heroku", uses)]
    if addons:
        data["addons"] = addons
    return data


def _cmd(command: str) -> str:
    return json.dumps(shlex.split(command))


def commands(plan: Plan, env: EnvironmentPlan) -> TargetCommands:
    app = app_name(plan, env)
    deploy = [
        'printf \'%s\' "${HEROKU_API_KEY}" | docker login --username=_ --password-stdin registry.heroku.com',
    ]
    types: list[str] = []
    migrate = next((w for w in plan.workloads if w.migrate_command), None)
    entries: list[tuple[str, Workload, str | None]] = [
        (process(w), w, None if process(w) == "web" else w.component.start_command) for w in plan.workloads
    ]
    if migrate is not None and migrate.migrate_command:
        entries.append(("release", migrate, migrate.migrate_command))
    for kind, workload, command in entries:
        target = f"registry.heroku.com/{app}/{kind}"
        source = f"${{{image_var(workload.image)}}}"
        if command:
            deploy += [
                f"# {kind}: the same image, its command as CMD",
                f"printf 'FROM %s\\nCMD %s\\n' \"{source}\" '{_cmd(command)}' | docker build --tag {target} -",
            ]
        else:
            deploy += [f'docker pull "{source}"', f'docker tag "{source}" {target}']
        deploy.append(f"docker push {target}")
        types.append(kind)
    deploy.append(f"{CLI} container:release {' '.join(types)} --app {app}")
    verify = [f"{CLI} releases --app {app} --num 1", f"{CLI} ps --app {app}"]
    rollback = [f"{CLI} rollback --app {app}"]
    return TargetCommands(tuple(deploy), tuple(verify), tuple(rollback))


def logs(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """The app's recent log lines (router, dynos and releases)."""
    return (f'{CLI} logs --num 200 --app {app_name(plan, env)}',)

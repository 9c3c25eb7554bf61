"""Fly.io: `fly.toml` per image (`fly.toml` when the plan has one image, else
`fly.<image>.toml`), one Fly app per environment (`<app>` in prod, `<app>-<env>`
elsewhere, chosen with `--app` at deploy time).

The deploy runs the image the Package stage pushed (`flyctl deploy --image <digest>`), so
the `[build]` section is left out. Every component built from the image is a process
group; the web one gets `[http_service]` with HTTP checks on the health path; the
migration is the `release_command`, which runs once in a temporary Machine before any
Machine is replaced and aborts the deploy when it fails. `[deploy] strategy` is the plan's
strategy as Fly names it.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Image, Plan, RenderedFile, Workload
from deploysmith.plan.targets import target_strategy
from deploysmith.render.targets.base import (
    TargetCommands,
    app_name,
    health_path,
    image_var,
    memory_mib,
    quote,
    toml_file,
)

STRATEGY = {"rolling": "rolling", "blue-green": "bluegreen", "canary": "canary"}
FLYCTL = "flyctl"


def path(plan: Plan, image: Image) -> str:
    images = [i for i in plan.images if any(w.image == i.name for w in plan.workloads)]
    return "fly.toml" if len(images) == 1 else f"fly.{image.name}.toml"


def _images(plan: Plan) -> list[Image]:
    return [i for i in plan.images if any(w.image == i.name for w in plan.workloads)]


def _workloads(plan: Plan, image: Image) -> list[Workload]:
    return [w for w in plan.workloads if w.image == image.name]


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return tuple(
        toml_file(path(plan, image), config(plan, image),
                  f"the Fly.io app of image {image.name} (flyctl deploy --app <app> --image <digest>)")
        for image in _images(plan)
    )


def process_name(workload: Workload) -> str:
    return "web" if workload.component.kind in ("web", "static") else workload.component.name


def config(plan: Plan, image: Image) -> dict[str, Any]:
    workloads = _workloads(plan, image)
    prod = plan.environment("prod") or plan.environments[-1]
    strategy = target_strategy(plan.requirements, plan.strategy.choice)
    data: dict[str, Any] = {
        "app": plan.app_name if len(_images(plan)) == 1 else f"{plan.app_name}-{image.name}",
        "kill_signal": "SIGTERM",
        "kill_timeout": 30,
    }
    deploy: dict[str, Any] = {"strategy": STRATEGY[strategy]}
    migrate = next((w.migrate_command for w in workloads if w.migrate_command), None)
    if migrate:
        deploy["release_command"] = migrate
    data["deploy"] = deploy
    data["env"] = {"PORT": str(next((w.container_port for w in workloads if w.container_port), 8080))}
    several = len(workloads) > 1
    if several:
        data["processes"] = {
            process_name(w): w.component.start_command or "" for w in workloads if w.component.start_command
        }
    serving = next((w for w in workloads if w.component.kind in ("web", "static") and w.container_port), None)
    if serving is not None:
        service: dict[str, Any] = {
            "internal_port": serving.container_port,
            "force_https": True,
            "auto_stop_machines": "off",
            "auto_start_machines": True,
            "min_machines_running": prod.min_replicas,
            "concurrency": {"type": "requests", "soft_limit": 50, "hard_limit": 80},
        }
        if several:
            service["processes"] = [process_name(serving)]
        probe = health_path(serving)
        if probe:
            service["checks"] = [
                {"grace_period": "10s", "interval": "15s", "method": "GET", "path": probe, "timeout": "5s"}
            ]
        data["http_service"] = service
    data["vm"] = [{
        "size": "shared-cpu-1x",
        "memory": f"{max(memory_mib(prod.memory_limit), 256)}mb",
        **({"processes": [process_name(w) for w in workloads]} if several else {}),
    }]
    return data


def commands(plan: Plan, env: EnvironmentPlan) -> TargetCommands:
    deploy: list[str] = []
    verify: list[str] = []
    rollback: list[str] = []
    for image in _images(plan):
        app = app_name(plan, env) if len(_images(plan)) == 1 else f"{app_name(plan, env)}-{image.name}"
        ref = f"${{{image_var(image.name)}}}"
        deploy += [
            f'{FLYCTL} deploy --config {quote(path(plan, image))} --app {app} --image "{ref}" \\',
            f"  --env APP_ENV={env.name} --wait-timeout 10m",
        ]
        verify.append(f"{FLYCTL} status --app {app}")
        rollback += [
            "# The release before the newest one, by its image (fly releases --image)",
            f"previous=\"$({FLYCTL} releases --app {app} --image --json | jq -r '.[1].ImageRef // empty')\"",
            f'[[ -n "${{previous}}" ]] || {{ echo "no previous release of {app}" >&2; exit 1; }}',
            f'{FLYCTL} deploy --config {quote(path(plan, image))} --app {app} --image "${{previous}}" \\',
            f"  --env APP_ENV={env.name} --wait-timeout 10m",
        ]
    return TargetCommands(tuple(deploy), tuple(verify), tuple(rollback))


def logs(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """What each app has logged recently, without streaming."""
    images = _images(plan)
    return tuple(
        f"{FLYCTL} logs --app {app_name(plan, env) if len(images) == 1 else f'{app_name(plan, env)}-{image.name}'} "
        "--no-tail"
        for image in images
    )

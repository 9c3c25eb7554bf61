"""GitHub Actions steps for the non-Kubernetes targets: sign in (the clouds' official
actions with the job's OIDC token, or a token secret for the platforms without one), then
the same shell as every other CI platform (render/ci_common.py → this package)."""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan
from deploysmith.plan.targets import TARGETS as FACTS
from deploysmith.render.targets.login import CLOUD_VARIABLES, SECRETS, login


def _expr(text: str) -> str:
    return "${{ " + text + " }}"


def step_env(plan: Plan) -> dict[str, str]:
    """The variables and secrets the target's commands read, from the job's environment."""
    target = plan.requirements.target
    fact = FACTS[target]
    key = fact.cloud or target
    env = {name: _expr(f"vars.{name}") for name, _ in CLOUD_VARIABLES.get(key, ()) if "<" not in name}
    if fact.cloud is None:
        env.update({name: _expr(f"secrets.{name}") for name in SECRETS[target]})
    if target == "render":
        from deploysmith.render.targets import render_com

        for env_plan in plan.environments:
            for workload in plan.workloads:
                hook = render_com.hook_var(plan, workload, env_plan)
                env[hook] = _expr(f"secrets.{hook}")
                service = hook.replace("DEPLOY_HOOK", "SERVICE_ID")
                env[service] = _expr(f"vars.{service}")
    return env


def permissions(plan: Plan) -> dict[str, str]:
    """Read the repository (the target's files); request an OIDC token only for a cloud sign-in."""
    if FACTS[plan.requirements.target].cloud is None:
        return {"contents": "read"}
    return {"contents": "read", "id-token": "write"}


def connect_steps(plan: Plan) -> list[dict[str, Any]]:
    """Sign-in steps; the last has the id `connect` the rollback steps test."""
    sign_in = [dict(step) for step in login(plan, "github").steps]
    fact = FACTS[plan.requirements.target]
    if fact.cloud is None:
        names = SECRETS[plan.requirements.target]
        check = [
            *(f'[[ -n "${{{name}}}" ]] || {{ echo "::error::Set the secret {name} on the ${{DEPLOY_ENVIRONMENT}} '
              'environment (docs/deploy/DEPLOYMENT.md)."; exit 1; }' for name in names),
        ]
        sign_in.append({
            "name": f"Check the {fact.label} credentials",
            "env": {name: _expr(f"secrets.{name}") for name in names},
            "run": "\n".join(check) + "\n",
        })
    sign_in[-1]["id"] = "connect"
    return sign_in


def deploy_steps(plan: Plan, env: EnvironmentPlan, checkout: Any, script: str, undo: str) -> list[Any]:
    return [
        checkout,
        *connect_steps(plan),
        {"name": f"Deploy {env.name}", "id": "rollout", "run": script},
        {
            "name": "Roll back a release that did not come up",
            "if": "failure() && steps.rollout.outcome == 'failure'",
            "run": undo,
        },
    ]

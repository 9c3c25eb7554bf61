"""Vercel, for static sites and Next.js front ends: `vercel.json` (framework, build,
security headers on every path, the `www.` redirect when a domain is given). Other stacks
are refused by the plan.

CI builds with the Vercel CLI and deploys the prebuilt output (`vercel build` then
`vercel deploy --prebuilt`): a preview deployment for staging, production for prod.
Deployments are immutable; production moves to the new one at once, and `vercel
rollback` moves it back. The token is a secret (VERCEL_TOKEN): Vercel has no OIDC login
for deployments from CI.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.render.targets.base import TargetCommands, json_file, quote
from deploysmith.render.targets.front_end import SECURITY_HEADERS, build, domain, root

CLI = "npx --yes vercel@64.0.2"
SCHEMA = "https://openapi.vercel.sh/vercel.json"


def path(plan: Plan) -> str:
    folder = root(plan)
    return "vercel.json" if folder == "." else f"{folder}/vercel.json"


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return (json_file(path(plan), config(plan)),)


def config(plan: Plan) -> dict[str, Any]:
    command, output, framework = build(plan)
    data: dict[str, Any] = {"$schema": SCHEMA}
    if framework == "nextjs":
        data["framework"] = "nextjs"
    else:
        data["framework"] = None
        if command:
            data["buildCommand"] = command
        if output:
            data["outputDirectory"] = output
    data["headers"] = [{
        "source": "/(.*)",
        "headers": [{"key": key, "value": value} for key, value in SECURITY_HEADERS],
    }]
    apex = domain(plan)
    if apex:
        data["redirects"] = [{
            "source": "/:path*",
            "has": [{"type": "host", "value": f"www.{apex}"}],
            "destination": f"https://{apex}/:path*",
            "permanent": True,
        }]
    return data


def commands(plan: Plan, env: EnvironmentPlan) -> TargetCommands:
    prod = env.name == "prod"
    flag = " --prod" if prod else ""
    target = "production" if prod else "preview"
    cwd = root(plan)
    where = "" if cwd == "." else f" --cwd {quote(cwd)}"
    token = '--token "${VERCEL_TOKEN}"'
    deploy = [
        f"{CLI} pull --yes --environment={target}{where} {token}",
        f"{CLI} build{flag}{where} {token}",
        f'url="$({CLI} deploy --prebuilt{flag}{where} {token})"',
        'echo "Deployed ${url}"',
    ]
    verify = [f'{CLI} inspect "${{url:-}}"{where} {token} >/dev/null || true']
    rollback = [f"{CLI} rollback --yes{where} {token}" if prod else 'echo "previews are not rolled back"']
    return TargetCommands(tuple(deploy), tuple(verify), tuple(rollback))


def logs(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """The build and runtime logs of a deployment, by the URL the deploy step printed."""
    return (f'{CLI} inspect "<deployment url>" --logs --token "${{VERCEL_TOKEN}}"',)

"""Netlify, for static sites and Next.js front ends: `netlify.toml` (build command and
publish folder, security headers on every path, the `www.` redirect when a domain is
given). Other stacks are refused by the plan.

CI builds and deploys with the Netlify CLI (`netlify deploy --build`): a draft deploy
for staging, `--prod` for prod. Deploys are atomic; rollback publishes the previous
production deploy again (`restoreSiteDeploy`). NETLIFY_AUTH_TOKEN is a secret (Netlify has
no OIDC login), NETLIFY_SITE_ID a variable per environment.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.render.targets.base import TargetCommands, quote, toml_file
from deploysmith.render.targets.front_end import SECURITY_HEADERS, build, domain, root

CLI = "npx --yes netlify-cli@27.10.2"


def path(plan: Plan) -> str:
    folder = root(plan)
    return "netlify.toml" if folder == "." else f"{folder}/netlify.toml"


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return (toml_file(path(plan), config(plan), "the Netlify site: build, headers, redirects"),)


def config(plan: Plan) -> dict[str, Any]:
    command, output, framework = build(plan)
    settings: dict[str, Any] = {}
    if command:
        settings["command"] = command
    if output:
        settings["publish"] = output
    data: dict[str, Any] = {
        "build": settings,
        "headers": [{"for": "/*", "values": dict(SECURITY_HEADERS)}],
    }
    apex = domain(plan)
    if apex:
        data["redirects"] = [{
            "from": f"https://www.{apex}/*",
            "to": f"https://{apex}/:splat",
            "status": 301,
            "force": True,
        }]
    return data


def commands(plan: Plan, env: EnvironmentPlan) -> TargetCommands:
    prod = env.name == "prod"
    cwd = root(plan)
    where = "" if cwd == "." else f" --cwd {quote(cwd)}"
    auth = '--auth "${NETLIFY_AUTH_TOKEN}" --site "${NETLIFY_SITE_ID}"'
    deploy = [f"{CLI} deploy --build{' --prod' if prod else ''}{where} {auth} --message \"${{DEPLOY_TARGET:-}}\""]
    verify = [f"{CLI} status{where} {auth}"]
    rollback = [
        f"previous=\"$({CLI} api listSiteDeploys --data '{{\"site_id\": \"'\"${{NETLIFY_SITE_ID}}\"'\", "
        f"\"production\": true, \"state\": \"ready\"}}' --auth \"${{NETLIFY_AUTH_TOKEN}}\" \\",
        "  | jq -r '.[1].id // empty')\"",
        '[[ -n "${previous}" ]] || { echo "no previous production deploy" >&2; exit 1; }',
        f"{CLI} api restoreSiteDeploy --data '{{\"site_id\": \"'\"${{NETLIFY_SITE_ID}}\"'\", "
        f"\"deploy_id\": \"'\"${{previous}}\"'\"}}' --auth \"${{NETLIFY_AUTH_TOKEN}}\"",
    ] if prod else ['echo "draft deploys are not rolled back"']
    return TargetCommands(tuple(deploy), tuple(verify), tuple(rollback))


def logs(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """A static site has no process to log; the deploy log holds the build."""
    return ("# Netlify: Deploys > the failed deploy > Deploy log (the build's own output)",)

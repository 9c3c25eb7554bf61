"""What Vercel and Netlify share: the security headers every response carries, and the
redirect from `www.` to the apex domain."""

from __future__ import annotations

from deploysmith.model import Plan

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


def domain(plan: Plan) -> str | None:
    return plan.requirements.domain


def build(plan: Plan) -> tuple[str | None, str | None, str]:
    """(build command, output folder, framework) of the front end."""
    component = plan.workloads[0].component
    framework = "nextjs" if component.framework == "nextjs" else "static"
    output = component.build_output
    if framework == "nextjs":
        output = ".next"
    return component.build_command, output, framework


def root(plan: Plan) -> str:
    return plan.workloads[0].component.path

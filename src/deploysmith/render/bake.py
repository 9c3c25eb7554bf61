"""The error-budget bake of the Verify stage, the same shell on every CI platform.

After the rollout check and the health probe, Verify watches production in Prometheus for
BAKE_MINUTES: every minute from BAKE_FIRST_CHECK_MINUTES on, PromQL over the time since
the bake started (`monitoring_queries.bake_checks`). A query that returns a series is a
breach: the script exits 1, the Verify job fails, and the platform's rollback mechanism
runs (GitHub's `if: failure()` step, GitLab's `when: on_failure` job, Azure's `on: failure`
hook, Jenkins' `post { failure }`, CircleCI's `when: on_fail` step).

The script reads PROMETHEUS_URL (an address, a plain variable) and, optionally,
PROMETHEUS_TOKEN (a bearer token, a secret); without PROMETHEUS_URL it says where to set it
and passes, so a kit works before Prometheus is reachable from CI. Each platform passes its
own `Dialect` and the words for where the variable is set.
"""

from __future__ import annotations

import shlex

from deploysmith.model import EnvironmentPlan, Plan
from deploysmith.plan.observability import slo_of
from deploysmith.render.ci_common import Dialect
from deploysmith.render.monitoring_queries import (
    BAKE_FIRST_CHECK_MINUTES,
    BAKE_MINUTES,
    WINDOW,
    bake_checks,
    bake_volume_queries,
)

TITLE = f"Watch the error budget for {BAKE_MINUTES} minutes"
# How long a step that runs the bake may stay silent: it prints a line every minute.
QUIET_MINUTES = BAKE_MINUTES + 5


def summary() -> str:
    """What the bake does, for the comment above the step (platforms add where it is set)."""
    return (
        f"Bake: every minute from minute {BAKE_FIRST_CHECK_MINUTES} to {BAKE_MINUTES}, PromQL over the "
        "time since the rollout finished; more 5xx than the fast-burn alert allows, or a p99 above the "
        "objective, fails the step and the rollback runs. Queries: docs/deploy/MONITORING.md."
    )


_REACHABLE = "a Prometheus HTTP API the runner can reach (for example an authenticating proxy)"


def setting(plan: Plan) -> str:
    """Where the pipeline of `plan` reads PROMETHEUS_URL and PROMETHEUS_TOKEN (MONITORING.md)."""
    ci = plan.requirements.ci
    if ci == "gitlab":
        return (
            f"Add the CI/CD variable `PROMETHEUS_URL`, scoped to the `production` environment, pointing at "
            f"{_REACHABLE}, and `PROMETHEUS_TOKEN` (masked) if it wants a bearer token."
        )
    if ci == "azure":
        return (
            f"Add `PROMETHEUS_URL` to the `deploy-production` variable group, pointing at {_REACHABLE}, and "
            "`PROMETHEUS_TOKEN` as a secret variable of that group if it wants a bearer token."
        )
    if ci == "jenkins":
        return (
            f"Set `PROMETHEUS_URL` as a global environment variable of Jenkins, pointing at {_REACHABLE}; "
            "if it wants a bearer token, bind `PROMETHEUS_TOKEN` with withCredentials around the bake step."
        )
    if ci == "circleci":
        return (
            f"Add `PROMETHEUS_URL` to the `{plan.app_name}-production` context, pointing at {_REACHABLE}, and "
            "`PROMETHEUS_TOKEN` there if it wants a bearer token."
        )
    return (
        "Set the variable `PROMETHEUS_URL` on the `production-verify` GitHub environment to "
        f"{_REACHABLE}, and the secret `PROMETHEUS_TOKEN` there if it wants a bearer token."
    )


def bake_lines(plan: Plan, env: EnvironmentPlan, dialect: Dialect, where: str) -> list[str] | None:
    """The bake's script, or None when no workload has request metrics to judge. `where`
    completes "Set the variable PROMETHEUS_URL …" (e.g. "on the production-verify environment")."""
    checks = bake_checks(plan, env, slo_of(plan))
    if not checks:
        return None
    return [
        'if [[ -z "${PROMETHEUS_URL}" ]]; then',
        "  "
        + dialect.notice(
            f"Set the variable PROMETHEUS_URL {where} to check the error budget after each deploy "
            "(docs/deploy/MONITORING.md)."
        ),
        "  exit 0",
        "fi",
        "query() {  # PromQL -> the result vector, as JSON",
        "  local auth=()",
        '  if [[ -n "${PROMETHEUS_TOKEN}" ]]; then',
        '    auth=(--header "Authorization: Bearer ${PROMETHEUS_TOKEN}")',
        "  fi",
        '  curl --fail --silent --show-error --max-time 20 "${auth[@]}" --get \\',
        '    --data-urlencode "query=$1" "${PROMETHEUS_URL%/}/api/v1/query" \\',
        "    | jq --compact-output .data.result",
        "}",
        f"breach() {{  # what, PromQL ({WINDOW} = time since the bake started): a series means roll back",
        "  local result",
        f'  if ! result="$(query "${{2//{WINDOW}/${{window}}}}")"; then',
        "    " + dialect.warning("Prometheus did not answer; not checked this minute: $1"),
        "    return 0",
        "  fi",
        '  if [[ "${result}" != "[]" ]]; then',
        "    " + dialect.error("$1, ${window} after the rollout: ${result}"),
        "    exit 1",
        "  fi",
        "}",
        'start="${SECONDS}"',
        f"for minute in $(seq {BAKE_FIRST_CHECK_MINUTES} {BAKE_MINUTES}); do",
        '  delay="$((start + minute * 60 - SECONDS))"',
        '  if (( delay > 0 )); then sleep "${delay}"; fi',
        '  window="$((SECONDS - start))s"',
        *(f"  breach {shlex.quote(check.what)} \\\n    {shlex.quote(check.query)}" for check in checks),
        '  echo "minute ${minute}: within the objectives"',
        "done",
        "served() {  # component, PromQL: how many requests the bake judged",
        "  local result count",
        f'  if result="$(query "${{2//{WINDOW}/${{window}}}}")"; then',
        "    count=\"$(jq '(.[0].value[1] // \"0\") | tonumber | floor' <<< \"${result}\")\"",
        '    echo "$1: ${count} requests in ${window}"',
        "  fi",
        "}",
        *(f"served {shlex.quote(job)} {shlex.quote(q)}" for job, q in bake_volume_queries(plan, env)),
    ]


__all__ = ["QUIET_MINUTES", "TITLE", "bake_lines", "setting", "summary"]

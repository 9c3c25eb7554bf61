"""The deployment strategy decision: a small table of options, each with what it needs,
so the plan can say why one was chosen and why the others were not."""

from __future__ import annotations

from deploysmith.model import Decision, Requirements, Stack

# What this version renders. Blue/green and canary need a progressive-delivery controller
# (Argo Rollouts or Flagger) and, for canary, a metrics backend to judge the new version.
RENDERED = ("rolling",)


def choose_strategy(stack: Stack, requirements: Requirements) -> Decision:
    rejected = (
        "blue/green: instant switch and rollback, but it doubles the running capacity during "
        "each release and needs Argo Rollouts or Flagger in the cluster; not chosen without a "
        "stated need for instant cutover",
        "canary: shifts a small share of traffic first, but is only safe when a metrics backend "
        "(Prometheus) judges the new version automatically; none is declared",
        "A/B testing: routes by header or cookie for experiments; no experiment was requested",
    )
    if requirements.strategy == "rolling":
        reason = "rolling: requested explicitly."
    else:
        reason = "rolling: the default for a stateless web service."
    if requirements.zero_downtime:
        reason += (
            " Zero downtime holds because new pods must pass readiness before old ones stop "
            "(maxUnavailable 0, maxSurge 25%), and a preStop delay lets load balancers drain."
        )
    else:
        reason += " Zero downtime was not required, but the same safe rollout settings cost nothing."
    reason += (
        " Rollback is `kubectl rollout undo` to the previous ReplicaSet, slower than a blue/green "
        "switch but with no extra capacity."
    )
    if any(component.migrate_command for component in stack.components) and requirements.migrations != "none":
        reason += (
            " Migrations run as a Job before the new version rolls out, so they must be backward "
            "compatible (expand/contract): old pods keep serving during the rollout."
        )
    return Decision(topic="strategy", choice="rolling", reason=reason, rejected=rejected)

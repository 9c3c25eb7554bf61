"""The deployment strategy decision: a small table of options, each with what it needs,
so the plan can say why one was chosen and why the others were not.

| Strategy   | Switch     | Rollback            | Cost   | Chosen when (auto)                              |
|------------|------------|---------------------|--------|-------------------------------------------------|
| rolling    | gradual    | slow (pods roll back)| 1x+25% | the default                                     |
| blue-green | instant    | instant             | 2x     | critical, budget for 2x, no breaking migrations |
| canary     | by weight  | fast (shift back)   | ~1.1x  | high traffic or real-user validation, metrics   |
| ab-testing | by header  | fast (drop route)   | ~1.1x  | experiments requested                           |

Every strategy but rolling runs two versions side by side for minutes to hours, so none of
them is chosen automatically when a migration breaks the running version; rolling only
shortens that window, which is why the plan then asks for expand/contract either way.

Pure: `choose_strategy` reads only the Stack and the Requirements, so other targets (Cloud
Run, ECS, …) may call it and fall back to what they can render.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from deploysmith.model import Decision, Requirements, Stack

STRATEGIES = ("rolling", "blue-green", "canary", "ab-testing")
LABEL = {"rolling": "rolling", "blue-green": "blue/green", "canary": "canary", "ab-testing": "A/B testing"}
PROGRESSIVE = ("blue-green", "canary", "ab-testing")  # rendered with Argo Rollouts or Flagger
# The inputs of the table, in the order their assumed defaults are listed.
INPUTS = (
    "zero_downtime", "criticality", "traffic", "metrics", "double_capacity",
    "breaking_migrations", "validation", "traffic_router",
)
# How each router matches a header or cookie for A/B (all three can; said in the plan).
HEADER_ROUTING = {
    "nginx": "ingress-nginx canary-by-header annotations",
    "istio": "an Istio VirtualService header match",
    "gateway-api": "a Gateway API HTTPRoute header match",
}


@dataclass(frozen=True)
class Facts:
    """What the decision reads, derived once from the Stack and the Requirements."""

    requirements: Requirements
    serves_http: bool  # a web or static component with a port: traffic can be shifted
    migrations: bool  # a migration runs before each release (detected or given)

    @staticmethod
    def of(stack: Stack, requirements: Requirements) -> Facts:
        serving = any(c.kind in ("web", "static") and (c.port or c.kind == "static") for c in stack.components)
        if requirements.migrations == "none":
            migrating = False
        elif requirements.migrations == "auto":
            migrating = any(c.migrate_command for c in stack.components if c.kind in ("web", "static"))
        else:
            migrating = True
        return Facts(requirements, serving, migrating)


def _two_versions(facts: Facts) -> list[str]:
    """Conflicts shared by every strategy that keeps the old and the new version serving."""
    conflicts = []
    if not facts.serves_http:
        conflicts.append("no component serves HTTP, so there is no traffic to shift between versions")
    if facts.requirements.packaging == "plain" and facts.requirements.target == "kubernetes":
        conflicts.append(
            "packaging is plain: plain manifests are Deployments only; the Rollout or Canary resources "
            "this strategy needs are rendered with kustomize or helm packaging"
        )
    if facts.requirements.breaking_migrations:
        conflicts.append(
            "breaking_migrations is yes: the old version keeps serving on the new schema while both run, "
            "so split the change expand/contract (add, deploy, then drop in a later release)"
        )
    return conflicts


def _rolling(facts: Facts) -> list[str]:
    validation = facts.requirements.validation
    if validation == "experiments":
        return ["validation is experiments: a rolling update cannot route users by header or cookie"]
    if validation == "real-users":
        return ["validation is real-users: a rolling update exposes everyone as pods turn over, with no "
                "automatic judgement of the new version"]
    return []


def _blue_green(facts: Facts) -> list[str]:
    conflicts = _two_versions(facts)
    if not facts.requirements.double_capacity:
        conflicts.append("double_capacity is no: blue/green runs a full second copy (2x pods) during each release")
    return conflicts


def _canary(facts: Facts) -> list[str]:
    conflicts = _two_versions(facts)
    if not facts.requirements.metrics:
        conflicts.append("metrics is no: a canary is only safe when Prometheus judges it; without analysis a bad "
                         "version is promoted on a timer")
    return conflicts


def _ab_testing(facts: Facts) -> list[str]:
    conflicts = _two_versions(facts)
    if facts.requirements.validation != "experiments":
        conflicts.append(f"validation is {facts.requirements.validation}: no header/cookie experiment was requested")
    return conflicts


CONFLICTS: dict[str, Callable[[Facts], list[str]]] = {
    "rolling": _rolling,
    "blue-green": _blue_green,
    "canary": _canary,
    "ab-testing": _ab_testing,
}


def _auto(facts: Facts) -> tuple[str, str]:
    """The table, first match wins: (strategy, why in words)."""
    r = facts.requirements
    ok = {name: not CONFLICTS[name](facts) for name in STRATEGIES}
    if r.validation == "experiments" and ok["ab-testing"]:
        return "ab-testing", (
            f"feature experiments were requested; {HEADER_ROUTING[r.traffic_router]} send the users who carry the "
            "experiment header or cookie to the new version while everyone else stays on the stable one"
        )
    if r.criticality == "critical" and ok["blue-green"]:
        return "blue-green", (
            "a critical service with budget for 2x capacity and no breaking migrations: the new version starts "
            "beside the old one, is checked before it gets any traffic, and the switch (and a rollback) is instant"
        )
    if (r.traffic == "high" or r.validation == "real-users") and ok["canary"]:
        why = "high traffic" if r.traffic == "high" else "real-user validation was requested"
        if r.traffic == "high" and r.validation == "real-users":
            why = "high traffic and real-user validation"
        return "canary", (
            f"{why}, and Prometheus is available to judge the new version: a small share of requests goes to it "
            "first, the analysis checks success rate and p99 latency, and a bad release is shifted back in "
            "seconds at about 1.1x cost"
        )
    if r.breaking_migrations and facts.serves_http:
        return "rolling", (
            "breaking migrations rule out the strategies that keep two versions serving for minutes or hours; "
            "a rolling update keeps that window shortest"
        )
    if not facts.serves_http:
        return "rolling", "no component serves HTTP, so there is no traffic to shift; workers roll pod by pod"
    return "rolling", "the default: zero downtime at no extra cost, and nothing in the requirements asks for more"


def _preference(name: str, chosen: str, facts: Facts) -> str:
    """Why a strategy that would work was still not chosen."""
    r = facts.requirements
    if name == "rolling":
        return (f"possible, but {LABEL[chosen]} fits the requirements better "
                "(rollback is slower: pods roll back one by one)")
    if name == "blue-green":
        return ("possible (budget for 2x, no breaking migrations), but the service is not critical enough to "
                "pay double capacity for an instant switch" if r.criticality != "critical" else
                f"possible, but {LABEL[chosen]} was preferred for the requirements above")
    if name == "canary":
        if r.traffic != "high" and r.validation != "real-users":
            return (f"possible (Prometheus available), but traffic is {r.traffic} and no real-user validation was "
                    "requested: the analysis would judge few requests for little gain")
        return f"possible, but {LABEL[chosen]} was preferred for the requirements above"
    return "not needed: no experiment was requested"


def _assumed(requirements: Requirements) -> list[str]:
    sources = requirements.sources
    assumed = []
    for name in INPUTS:
        if sources.get(name, "default") != "default":
            continue
        value = getattr(requirements, name)
        shown = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        assumed.append(f"{name} {shown}")
    return assumed


def _mechanics(choice: str, facts: Facts) -> str:
    r = facts.requirements
    if choice == "rolling":
        text = ("New pods must pass readiness before old ones stop (maxUnavailable 0, maxSurge 25%), and a preStop "
                "delay lets load balancers drain. Rollback is `kubectl rollout undo` to the previous ReplicaSet, "
                "slower than a blue/green switch but with no extra capacity.")
        if not r.zero_downtime:
            text = "Zero downtime was not required, but the same safe rollout settings cost nothing. " + text
        return text
    tool = "Flagger" if r.progressive_delivery == "flagger" else "Argo Rollouts"
    return {
        "blue-green": f"{tool} starts the new version behind a preview Service, runs the pre-promotion analysis, "
                      "and switches the active Service; production waits for a manual promote.",
        "canary": f"{tool} shifts traffic in steps through {r.traffic_router}, and aborts back to the stable "
                  "version when the analysis fails.",
        "ab-testing": f"{tool} routes the experiment header/cookie to the new version through {r.traffic_router}; "
                      "the experiment ends with a promote (keep it) or an abort (drop it).",
    }[choice]


def choose_strategy(stack: Stack, requirements: Requirements) -> Decision:
    facts = Facts.of(stack, requirements)
    explicit = requirements.strategy in STRATEGIES
    if explicit:
        choice = requirements.strategy
        conflicts = CONFLICTS[choice](facts)
        reason = f"{LABEL[choice]}: requested explicitly"
        if conflicts:
            reason += " although it breaks a requirement (" + "; ".join(conflicts) + ")"
        reason += "."
    else:
        choice, why = _auto(facts)
        reason = f"{LABEL[choice]}: {why}."
        conflicts = CONFLICTS[choice](facts)
        if conflicts:
            reason += " No strategy meets every requirement; this one still breaks: " + "; ".join(conflicts) + "."
    reason += " " + _mechanics(choice, facts)
    if facts.migrations and choice != "rolling" and not requirements.breaking_migrations:
        reason += (" Migrations run before the new version starts and both versions then share the schema, "
                   "so they must stay backward compatible (expand/contract).")
    elif facts.migrations and choice == "rolling":
        reason += (" Migrations run as a Job before the new version rolls out, so they must be backward "
                   "compatible (expand/contract): old pods keep serving during the rollout.")
    assumed = _assumed(requirements)
    if assumed:
        reason += " Assumed defaults (not stated): " + ", ".join(assumed) + "."
    rejected = []
    for name in STRATEGIES:
        if name == choice:
            continue
        conflicts = CONFLICTS[name](facts)
        why = "; ".join(conflicts) if conflicts else _preference(name, choice, facts)
        rejected.append(f"{LABEL[name]}: {why}")
    return Decision(topic="strategy", choice=choice, reason=reason, rejected=tuple(rejected))


def strategy_notes(stack: Stack, requirements: Requirements) -> tuple[str, ...]:
    """Warnings for the plan: an explicit strategy that breaks a requirement, breaking
    migrations under any strategy, and what progressive delivery leaves as it was."""
    facts = Facts.of(stack, requirements)
    notes: list[str] = []
    chosen = choose_strategy(stack, requirements).choice
    how = "was requested" if requirements.strategy in STRATEGIES else "was chosen (nothing fits better)"
    for conflict in CONFLICTS[chosen](facts):
        notes.append(f"strategy {chosen} {how} although {conflict}")
    if requirements.breaking_migrations and not any("breaking_migrations" in note for note in notes):
        notes.append(
            "breaking_migrations is yes: every strategy runs the old version against the new schema for a while "
            "(a rolling update for the length of the rollout); split the change expand/contract"
        )
    if chosen == "canary" and requirements.traffic == "low":
        notes.append("canary with low traffic: the analysis judges few requests; expect inconclusive runs "
                     "(they pause the rollout for a person to decide)")
    if chosen in PROGRESSIVE and any(c.kind == "worker" for c in stack.components):
        notes.append(f"{LABEL[chosen]} applies to the HTTP components only: workers keep a rolling Deployment "
                     "(they take no requests to shift)")
    return tuple(notes)


def progressive(decision: Decision) -> bool:
    """True when the chosen strategy needs a progressive-delivery controller."""
    return decision.choice in PROGRESSIVE

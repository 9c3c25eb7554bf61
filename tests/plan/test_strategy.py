"""The strategy decision table: given requirements, the exact choice, reasons and rejections."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from deploysmith.model import Requirements
from deploysmith.plan import build_plan
from deploysmith.plan.strategy import choose_strategy, strategy_notes
from tests.sample_plans import STACKS

STATED = {name: "flag" for name in (
    "zero_downtime", "criticality", "traffic", "metrics", "double_capacity",
    "breaking_migrations", "validation", "traffic_router",
)}
API = STACKS["express"]  # no migrations
MIGRATING = STACKS["fastapi-postgres"]  # alembic upgrade head before each release


def _req(**values: Any) -> Requirements:
    return replace(Requirements(), sources=STATED, **values)


TABLE = [
    ({}, "rolling"),
    ({"criticality": "critical"}, "rolling"),  # no budget for 2x
    ({"criticality": "critical", "double_capacity": True}, "blue-green"),
    ({"criticality": "critical", "double_capacity": True, "breaking_migrations": True}, "rolling"),
    ({"traffic": "high"}, "canary"),
    ({"traffic": "high", "metrics": False}, "rolling"),
    ({"validation": "real-users"}, "canary"),
    ({"validation": "real-users", "metrics": False}, "rolling"),
    ({"validation": "experiments"}, "ab-testing"),
    ({"validation": "experiments", "traffic_router": "istio"}, "ab-testing"),
    ({"validation": "experiments", "criticality": "critical", "double_capacity": True}, "ab-testing"),
    ({"traffic": "high", "criticality": "critical", "double_capacity": True}, "blue-green"),
    ({"traffic": "high", "breaking_migrations": True}, "rolling"),
]


@pytest.mark.parametrize(("values", "expected"), TABLE, ids=[str(v) for v, _ in TABLE])
def test_auto_picks_from_the_table(values: dict[str, Any], expected: str) -> None:
    assert choose_strategy(API, _req(**values)).choice == expected


def test_default_is_rolling_and_says_which_defaults_were_assumed() -> None:
    decision = choose_strategy(MIGRATING, Requirements(sources={"ci": "flag"}))
    assert decision.choice == "rolling"
    assert decision.reason == (
        "rolling: the default: zero downtime at no extra cost, and nothing in the requirements asks for more. "
        "New pods must pass readiness before old ones stop (maxUnavailable 0, maxSurge 25%), and a preStop delay "
        "lets load balancers drain. Rollback is `kubectl rollout undo` to the previous ReplicaSet, slower than a "
        "blue/green switch but with no extra capacity. Migrations run as a Job before the new version rolls out, "
        "so they must be backward compatible (expand/contract): old pods keep serving during the rollout. "
        "Assumed defaults (not stated): zero_downtime yes, criticality standard, traffic moderate, metrics yes, "
        "double_capacity no, breaking_migrations no, validation none, traffic_router nginx."
    )
    assert decision.rejected == (
        "blue/green: double_capacity is no: blue/green runs a full second copy (2x pods) during each release",
        "canary: possible (Prometheus available), but traffic is moderate and no real-user validation was "
        "requested: the analysis would judge few requests for little gain",
        "A/B testing: validation is none: no header/cookie experiment was requested",
    )


def test_canary_for_high_traffic_with_metrics() -> None:
    decision = choose_strategy(API, _req(traffic="high"))
    assert decision.reason == (
        "canary: high traffic, and Prometheus is available to judge the new version: a small share of requests "
        "goes to it first, the analysis checks success rate and p99 latency, and a bad release is shifted back "
        "in seconds at about 1.1x cost. Argo Rollouts shifts traffic in steps through nginx, and aborts back to "
        "the stable version when the analysis fails."
    )
    assert decision.rejected == (
        "rolling: possible, but canary fits the requirements better (rollback is slower: pods roll back one by one)",
        "blue/green: double_capacity is no: blue/green runs a full second copy (2x pods) during each release",
        "A/B testing: validation is none: no header/cookie experiment was requested",
    )


def test_blue_green_for_a_critical_service_with_budget() -> None:
    decision = choose_strategy(MIGRATING, _req(criticality="critical", double_capacity=True))
    assert decision.choice == "blue-green"
    assert decision.reason == (
        "blue/green: a critical service with budget for 2x capacity and no breaking migrations: the new version "
        "starts beside the old one, is checked before it gets any traffic, and the switch (and a rollback) is "
        "instant. Argo Rollouts starts the new version behind a preview Service, runs the pre-promotion "
        "analysis, and switches the active Service; production waits for a manual promote. Migrations run "
        "before the new version starts and both versions then share the schema, so they must stay backward "
        "compatible (expand/contract)."
    )
    assert decision.rejected[1] == (
        "canary: possible (Prometheus available), but traffic is moderate and no real-user validation was "
        "requested: the analysis would judge few requests for little gain"
    )


def test_ab_testing_names_the_routers_header_match() -> None:
    decision = choose_strategy(API, _req(validation="experiments", traffic_router="gateway-api",
                                         progressive_delivery="flagger"))
    assert decision.reason.startswith(
        "A/B testing: feature experiments were requested; a Gateway API HTTPRoute header match send the users"
    )
    assert "Flagger routes the experiment header/cookie to the new version through gateway-api" in decision.reason
    assert decision.rejected[0] == (
        "rolling: validation is experiments: a rolling update cannot route users by header or cookie"
    )


def test_breaking_migrations_rule_out_two_versions_and_say_expand_contract() -> None:
    requirements = _req(traffic="high", breaking_migrations=True)
    decision = choose_strategy(MIGRATING, requirements)
    assert decision.choice == "rolling"
    assert decision.reason.startswith(
        "rolling: breaking migrations rule out the strategies that keep two versions serving for minutes or "
        "hours; a rolling update keeps that window shortest."
    )
    assert decision.rejected[1] == (
        "canary: breaking_migrations is yes: the old version keeps serving on the new schema while both run, so "
        "split the change expand/contract (add, deploy, then drop in a later release)"
    )
    assert strategy_notes(MIGRATING, requirements) == (
        "breaking_migrations is yes: every strategy runs the old version against the new schema for a while "
        "(a rolling update for the length of the rollout); split the change expand/contract",
    )


@pytest.mark.parametrize(
    ("values", "note"),
    [
        ({"strategy": "canary", "metrics": False},
         "strategy canary was requested although metrics is no: a canary is only safe when Prometheus judges it; "
         "without analysis a bad version is promoted on a timer"),
        ({"strategy": "blue-green"},
         "strategy blue-green was requested although double_capacity is no: blue/green runs a full second copy "
         "(2x pods) during each release"),
        ({"strategy": "ab-testing", "double_capacity": True},
         "strategy ab-testing was requested although validation is none: no header/cookie experiment was "
         "requested"),
        ({"strategy": "blue-green", "double_capacity": True, "breaking_migrations": True},
         "strategy blue-green was requested although breaking_migrations is yes: the old version keeps serving "
         "on the new schema while both run, so split the change expand/contract (add, deploy, then drop in a "
         "later release)"),
    ],
)
def test_an_explicit_conflicting_strategy_is_accepted_with_a_warning(values: dict[str, Any], note: str) -> None:
    requirements = _req(**values)
    decision = choose_strategy(MIGRATING, requirements)
    assert decision.choice == values["strategy"]
    assert "requested explicitly although it breaks a requirement" in decision.reason
    assert strategy_notes(MIGRATING, requirements)[0] == note
    assert note in build_plan(MIGRATING, requirements).notes


def test_explicit_strategy_without_conflict_has_no_warning() -> None:
    requirements = _req(strategy="canary")
    assert choose_strategy(API, requirements).reason.startswith("canary: requested explicitly. Argo Rollouts")
    assert strategy_notes(API, requirements) == ()


def test_workers_only_get_rolling_and_progressive_notes_mention_workers() -> None:
    requirements = _req(traffic="high")
    assert strategy_notes(STACKS["django-celery"], requirements) == (
        "canary applies to the HTTP components only: workers keep a rolling Deployment (they take no requests "
        "to shift)",
    )

from __future__ import annotations

import pytest

from deploysmith.errors import DeploysmithError
from deploysmith.model import Probe, Requirements, Stack
from deploysmith.plan import build_plan
from deploysmith.plan.observability import metrics_notes
from tests.sample_plans import STACKS, sample_plan


def test_pipeline_has_the_nine_stages_in_order_with_their_policies() -> None:
    plan = sample_plan("fastapi-postgres")
    assert [(s.id, s.needs, s.failure_policy, s.main_only) for s in plan.stages] == [
        ("build", (), "block", False),
        ("test", (), "block", False),
        ("security-scan", (), "block-on-severity", False),
        ("package", ("build", "test", "security-scan"), "block", True),
        ("deploy-staging", ("package",), "block", True),
        ("integration-test", ("deploy-staging",), "block", True),
        ("approval", ("integration-test",), "approval", True),
        ("deploy-prod", ("approval",), "block", True),
        ("verify", ("deploy-prod",), "rollback", True),
    ]


def test_strategy_auto_explains_rolling_and_the_rejected_alternatives() -> None:
    strategy = sample_plan("fastapi-postgres").strategy
    assert strategy.choice == "rolling"
    assert strategy.reason.startswith(
        "rolling: the default: zero downtime at no extra cost, and nothing in the requirements asks for more."
    )
    assert "maxUnavailable 0" in strategy.reason
    assert "expand/contract" in strategy.reason  # alembic migrations run before the rollout
    assert [r.split(":")[0] for r in strategy.rejected] == ["blue/green", "canary", "A/B testing"]


def test_workers_share_the_web_image_and_get_no_port_or_probe() -> None:
    plan = sample_plan("django-celery")
    assert [(i.name, i.components) for i in plan.images] == [
        ("django-celery", ("django-celery", "django-celery-worker"))
    ]
    web, worker = plan.workloads
    assert web.probe == Probe(
        "http", "/healthz/", 8000, "HTTP probe on /healthz/, the health endpoint the code declares"
    )
    assert web.secret_env == ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")
    assert web.migrate_command == "python manage.py migrate --noinput"
    assert (worker.container_port, worker.probe.kind, worker.migrate_command) == (None, "none", None)


def test_monorepo_gets_one_image_per_component_path() -> None:
    plan = sample_plan("monorepo")
    assert [(i.name, i.context, i.dockerfile, i.runtime_base, i.uid) for i in plan.images] == [
        ("web", "apps/web", "apps/web/Dockerfile", "nginx:1.30-alpine-slim", 101),
        ("api", "services/api", "services/api/Dockerfile", "python:3.13-slim-trixie", 10001),
    ]


def test_environments_scale_up_towards_production() -> None:
    plan = sample_plan("go-api", domain="shop.example.org")
    environments = [
        (e.name, e.namespace, e.host, e.min_replicas, e.max_replicas, e.auto_deploy) for e in plan.environments
    ]
    assert environments == [
        ("dev", "go-api-dev", "go-api.dev.shop.example.org", 1, 2, True),
        ("staging", "go-api-staging", "go-api.staging.shop.example.org", 2, 3, True),
        ("prod", "go-api-prod", "go-api.shop.example.org", 3, 10, False),
    ]
    assert plan.notes == tuple(metrics_notes(plan.workloads))  # only the exporter recommendation


def test_unknowns_are_said_plainly_in_the_notes() -> None:
    plan = sample_plan("express", compliance="hipaa")
    assert plan.notes == (
        "no domain given: ingress hosts use the placeholder example.com; pass --domain or set `domain:` in "
        "deploysmith.yaml",
        "compliance profile HIPAA Security Rule: 7 controls are rendered into the kit (separation of duties, "
        "change tickets, deployment records and their retention, admission policy, TLS and default-deny "
        "networking); docs/deploy/COMPLIANCE.md maps each to the file and line that implements it",
        "compliance profile HIPAA Security Rule blocks medium vulnerabilities by default; fail_on is high, so "
        "medium findings ship (say why in the change record)",
        "compliance profile HIPAA Security Rule with admission none: the cluster does not refuse unsigned images, "
        "so the signed-image controls are not met by this kit",
        *metrics_notes(plan.workloads),
    )


def test_migrations_requirement_overrides_detection() -> None:
    assert sample_plan("fastapi-postgres", migrations="none").workloads[0].migrate_command is None
    assert sample_plan("express", migrations="npm run migrate").workloads[0].migrate_command == "npm run migrate"


def test_a_declared_version_without_an_image_line_falls_back_with_a_reason() -> None:
    image = sample_plan("go-api").images[0]
    assert image.build_base == "golang:1.27-trixie"
    assert "declares 1.24, which has no current official image line" in image.reasons[1]


def test_no_components_is_a_clear_error() -> None:
    with pytest.raises(DeploysmithError, match="no deployable component found"):
        build_plan(Stack(root="/empty", components=()), Requirements())


def test_every_decision_has_a_reason() -> None:
    for name in STACKS:
        for decision in sample_plan(name).decisions:
            assert decision.reason.strip(), decision


@pytest.mark.parametrize(
    ("requirements", "message"),
    [
        ({"gitops": True}, r"^--packaging plain has no GitOps layout"),
        (
            {"strategy": "canary"},
            r"^--strategy canary needs Argo Rollouts or Flagger resources, which --packaging plain",
        ),
    ],
)
def test_plain_packaging_refuses_what_it_cannot_render(requirements: dict[str, object], message: str) -> None:
    with pytest.raises(DeploysmithError, match=message):
        sample_plan("express", packaging="plain", **requirements)


def test_auto_strategy_stays_rolling_with_plain_packaging() -> None:
    plan = sample_plan("express", packaging="plain", traffic="high")
    assert plan.strategy.choice == "rolling"

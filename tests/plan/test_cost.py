"""plan/cost.py: monthly cost drivers, hand-computed.

fastapi-postgres (one web workload, requests 100m CPU / 256Mi): dev 1–2 pods, staging 2–3,
prod 3–10, 730 hours a month, so dev 0.1 × 730 = 73 to 146 vCPU-hours and 0.25 × 730 =
182.5 to 365 GiB-hours; staging 146–219 / 365–547.5; prod 219–730 / 547.5–1825. A rolling
release adds ceil(25% of 3) = 1 pod in prod.
"""

from __future__ import annotations

import dataclasses

import pytest

from deploysmith.describe import plan_text
from deploysmith.model import Decision
from deploysmith.plan.cost import EnvironmentCost, cost_decision, cpu_cores, estimate, markdown, memory_gib
from tests.sample_plans import sample_plan


@pytest.mark.parametrize(("quantity", "cores"), [("100m", 0.1), ("250m", 0.25), ("1", 1.0), ("1500m", 1.5)])
def test_cpu_cores(quantity: str, cores: float) -> None:
    assert cpu_cores(quantity) == cores


@pytest.mark.parametrize(("quantity", "gib"), [("256Mi", 0.25), ("1Gi", 1.0), ("64Mi", 0.0625), ("512Mi", 0.5)])
def test_memory_gib(quantity: str, gib: float) -> None:
    assert memory_gib(quantity) == gib


def test_fastapi_postgres_defaults() -> None:
    result = estimate(sample_plan("fastapi-postgres"))
    assert result.environments == (
        EnvironmentCost("dev", 1, 2, 73.0, 146.0, 182.5, 365.0, 0.1, 0.25, None, 0, 0, None),
        EnvironmentCost("staging", 2, 3, 146.0, 219.0, 365.0, 547.5, 0.1, 0.25, None, 0, 0, None),
        EnvironmentCost("prod", 3, 10, 219.0, 730.0, 547.5, 1825.0, 0.1, 0.25, None, 0, 0,
                        "336 dumps per service kept (24 a day × 14 days) × the size of one dump, in GiB-months "
                        "of object storage"),
    )
    # 118 idle hours of 168: 73 × 118 / 168 = 51.27 vCPU-hours, 182.5 × 118 / 168 = 128.18 GiB-hours.
    assert result.cheapest is not None
    assert result.cheapest.change == "dev scaled to zero outside working hours (50 of 168 hours a week)"
    assert (result.cheapest.vcpu_hours, result.cheapest.gib_hours) == (51.3, 128.2)


def test_workers_keep_the_minimum() -> None:
    # django-celery: web 1–2 plus a worker fixed at 1 in dev → 2–3 pods.
    dev = estimate(sample_plan("django-celery")).environments[0]
    assert (dev.pods_min, dev.pods_max, dev.vcpu_hours_min, dev.vcpu_hours_max) == (2, 3, 146.0, 219.0)


def test_managed_database_and_its_standby() -> None:
    result = estimate(sample_plan("fastapi-postgres", iac="terraform"))
    dev, staging, prod = result.environments
    assert (dev.database, dev.database_instance_hours, dev.database_storage_gib) == ("db.t4g.micro", 730, 20)
    assert (staging.database, staging.database_instance_hours) == ("db.t4g.small", 730)
    assert (prod.database, prod.database_instance_hours, prod.database_storage_gib) == ("db.m7g.large", 1460, 100)
    assert prod.backup_words == ("automated backups and logs for 35 days (storage beyond 100 GiB is billed per "
                                 "GiB-month)")
    # staging on the dev class saves (2 - 1) GiB × 730 hours; dev scale-down still saves more CPU.
    assert [(s.change, s.vcpu_hours, s.gib_hours) for s in result.others] == [
        ("staging database on db.t4g.micro instead of db.t4g.small outside load tests", 0.0, 730.0),
    ]


def test_blue_green_names_canary() -> None:
    plan = sample_plan("fastapi-postgres", environments=("staging", "prod"))
    plan = dataclasses.replace(plan, strategy=Decision("strategy", "blue-green", "instant cutover"))
    result = estimate(plan)
    prod = result.environments[1]
    assert (prod.surge_vcpu, prod.surge_gib) == (0.3, 0.75)  # a full second copy of 3 pods
    # canary: ceil(10% of 3) = 1 pod instead of 3 → 2 × 0.1 vCPU × 22 release-hours = 4.4.
    assert result.cheapest is not None
    assert result.cheapest.change.startswith("canary instead of blue/green in prod: 1 extra pod(s)")
    assert (result.cheapest.vcpu_hours, result.cheapest.gib_hours) == (4.4, 11.0)


def test_blue_green_with_breaking_migrations_keeps_blue_green() -> None:
    plan = sample_plan("fastapi-postgres", environments=("staging", "prod"), breaking_migrations=True)
    plan = dataclasses.replace(plan, strategy=Decision("strategy", "blue-green", "isolated schema"))
    assert estimate(plan).cheapest is None


def test_scale_to_zero_where_the_platform_has_it() -> None:
    result = estimate(sample_plan("express", target="cloud-run"))
    assert result.cheapest is not None
    assert result.cheapest.change == "scale-to-zero in dev (minimum instances 0)"
    assert result.cheapest.vcpu_hours == result.environments[0].vcpu_hours_min


def test_in_the_plan_and_its_outputs() -> None:
    plan = sample_plan("fastapi-postgres")
    decision = next(d for d in plan.decisions if d.topic == "cost")
    assert decision == cost_decision(plan)
    assert decision.choice == "dev 73–146 vCPU-h · staging 146–219 vCPU-h · prod 219–730 vCPU-h a month"
    assert "  cost: dev 73–146 vCPU-h" in plan_text(plan)
    section = markdown(plan)
    assert "| prod | 3–10 | 219–730 | 547.5–1825 | +0.1 vCPU, +0.25 GiB (rolling) | — |" in section

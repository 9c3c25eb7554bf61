"""The Azure Pipelines renderer: golden files, Azure's schema (check-jsonschema's
vendor.azure-pipelines), shellcheck over every bash step and inline script, the project's
audit, and the native mechanism of every stage.

Regenerate the golden files with DEPLOYSMITH_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.plan.pipeline import STAGE_ORDER
from deploysmith.render import azure_pipelines as azure
from deploysmith.render import ci_common as ci
from tests.render.ci_cases import (
    GOLDEN_CASES,
    MATRIX,
    audit_problems,
    check_golden,
    check_jsonschema,
    golden_plan,
    matrix_plan,
    only,
    shellcheck,
    write_matrix,
)
from tests.sample_plans import STACKS, sample_plan

STAGE_OF = {azure_id: stage_id for stage_id, azure_id in azure.STAGE_IDS.items()}


def _pipeline(case: str) -> dict[str, Any]:
    data = yaml.safe_load(only(azure, matrix_plan(case)).content)
    assert isinstance(data, dict)
    return data


def _steps(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "steps" and isinstance(value, list):
                yield from value
            else:
                yield from _steps(value)
    elif isinstance(node, list):
        for item in node:
            yield from _steps(item)


def _script(step: dict[str, Any]) -> str | None:
    if "bash" in step:
        return str(step["bash"])
    if step.get("task") == "AzureCLI@2":
        return str(step["inputs"]["inlineScript"])
    return None


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden(case: str) -> None:
    check_golden("azure_pipelines", case, only(azure, golden_plan(case)), ".yml")


def test_rendering_is_deterministic() -> None:
    plan = sample_plan("monorepo", gitops=True)
    assert azure.render(plan) == azure.render(plan)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("azure")
    return write_matrix(azure, root, lambda case: f"{case}/azure-pipelines.yml")


@pytest.mark.judges
def test_azure_schema(rendered: dict[str, Path]) -> None:
    # The schema's patterns use escapes the default (ECMA) regex engine rejects; Python's reads them.
    # The schema is 1.6 MB and slow to apply: the golden cases and every delivery mode and environment
    # set of one stack cover every shape the renderer writes (the golden cases hold the monorepo).
    shapes = [path for case, path in rendered.items() if case.startswith(("golden-", "fastapi-postgres-"))]
    result = check_jsonschema("vendor.azure-pipelines", shapes, "--regex-variant", "python")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.judges
def test_shellcheck_every_script(tmp_path: Path) -> None:
    scripts: dict[str, str] = {}
    for case in MATRIX:
        for index, step in enumerate(_steps(_pipeline(case))):
            text = _script(step)
            if text is not None:
                scripts[f"{case} step {index} {step.get('displayName')}"] = "#!/usr/bin/env bash\n" + text
    assert len(scripts) > 500
    assert shellcheck(scripts, tmp_path) == {}


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_audit_finds_no_gap(case: str) -> None:
    assert audit_problems(azure.render(matrix_plan(case)), case.endswith("-all")) == []


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_every_stage_is_present_with_its_mechanism(case: str) -> None:
    plan = matrix_plan(case)
    ctx = ci.Context.of(plan)
    pipeline = _pipeline(case)
    stages = {STAGE_OF[stage["stage"]]: stage for stage in pipeline["stages"]}
    assert [s for s in STAGE_ORDER if s in stages] == [stage.id for stage in ctx.stages]
    assert pipeline["trigger"]["paths"]["exclude"] and pipeline["pr"]["branches"]["include"] == ["main"]
    for stage_id, stage in stages.items():
        main_only = ctx.stage(stage_id).main_only
        assert ("condition" in stage) is main_only, stage_id
        for job in stage["jobs"]:
            assert int(job["timeoutInMinutes"]) > 0, (stage_id, job)
    for job in stages["test"]["jobs"]:
        publish = [s for s in job["steps"] if s.get("task") == "PublishTestResults@2"]
        assert publish and publish[0]["condition"] == "succeededOrFailed()"
        assert publish[0]["inputs"]["testResultsFormat"] == "JUnit"
    for job in [*stages["build"]["jobs"], *stages["test"]["jobs"]]:
        caches = [s for s in job["steps"] if s.get("task") == "Cache@2"]
        assert caches and all("$(Agent.OS)" in c["inputs"]["key"] for c in caches)
    scan = "\n".join(_script(s) or "" for s in _steps(stages["security-scan"]))
    assert "--exit-code 1" in scan and "CRITICAL,HIGH" in scan
    for package in stages["package"]["jobs"]:
        assert any(s.get("name") == "refs" for s in package["steps"])
        assert any(s.get("task") == "Docker@2" for s in package["steps"])
    for stage_id in ("deploy-staging", "deploy-prod", "verify"):
        if stage_id not in stages:
            continue
        stage = stages[stage_id]
        (job,) = stage["jobs"]
        assert "deployment" in job and job["environment"]
        group = ci.PROD_ENVIRONMENT if stage_id == "verify" else job["environment"]
        assert stage["variables"][0] == {"group": f"deploy-{group}"}  # the environment's variable group
        failure = "\n".join(_script(s) or "" for s in job["strategy"]["runOnce"]["on"]["failure"]["steps"])
        assert ("git revert" in failure) if ctx.gitops else ("rollout undo" in failure)
        mapped = {v["name"]: v["value"] for v in stage["variables"] if "name" in v}
        for unit in ctx.units:  # each image's digest comes from the Package job that pushed it
            job_id = f"package{unit.suffix}".replace("-", "_")
            expected = f"$[ stageDependencies.Package.{job_id}.outputs['refs.{ci.image_var(unit.image.name)}'] ]"
            assert mapped[ci.image_var(unit.image.name)] == expected
    if ctx.prod is not None:
        assert stages["deploy-prod"]["jobs"][0]["environment"] == ci.PROD_ENVIRONMENT
        assert stages["deploy-prod"]["dependsOn"][0] == "Approval"
        assert stages["verify"]["jobs"][0]["environment"] == azure.VERIFY_ENVIRONMENT


def test_connection_uses_workload_identity_service_connections() -> None:
    pipeline = yaml.safe_load(only(azure, sample_plan("fastapi-postgres")).content)
    steps = [s for s in _steps(pipeline) if s.get("task") == "AzureCLI@2"]
    assert {s["inputs"]["azureSubscription"] for s in steps} == {
        "kubernetes-staging",
        "kubernetes-production",
        "kubernetes-production-verify",
    }
    assert all("kubelogin convert-kubeconfig" in s["inputs"]["inlineScript"] for s in steps)


def test_services_and_containers() -> None:
    pipeline = yaml.safe_load(only(azure, sample_plan("django-celery")).content)
    assert [c["container"] for c in pipeline["resources"]["containers"]] == ["postgres", "redis"]
    test = next(s for s in pipeline["stages"] if s["stage"] == "Test")["jobs"][0]
    assert test["container"] == "python:3.12-slim-trixie"
    assert test["services"] == {"postgres": "postgres", "redis": "redis"}
    assert test["variables"]["DATABASE_URL"] == "postgresql://postgres@postgres:5432/test"


# -- one Package job per image ---------------------------------------------------------------------


def _graph(pipeline: dict[str, Any]) -> list[tuple[str, list[str], list[str]]]:
    return [
        (stage["stage"], stage["dependsOn"], [job.get("job") or job["deployment"] for job in stage["jobs"]])
        for stage in pipeline["stages"]
    ]


def test_monorepo_packages_each_image_in_its_own_job() -> None:
    pipeline = yaml.safe_load(only(azure, sample_plan("monorepo")).content)
    assert _graph(pipeline) == [
        ("Build", [], ["build_web", "build_api"]),
        ("Test", [], ["test_web", "test_api"]),
        ("SecurityScan", [], ["security_scan", "sast"]),
        # every Package job waits for all of Build, Test and Security Scan (stage dependencies)
        ("Package", ["Build", "Test", "SecurityScan"], ["package_web", "package_api"]),
        # and everything after Package waits for the whole stage: both jobs
        ("DeployStaging", ["Package"], ["deploy"]),
        ("IntegrationTest", ["DeployStaging"], ["smoke"]),
        ("Approval", ["IntegrationTest", "Package"], ["approval"]),
        ("DeployProd", ["Approval", "Package"], ["deploy"]),
        ("Verify", ["DeployProd", "Package"], ["verify"]),
    ]
    package = next(stage for stage in pipeline["stages"] if stage["stage"] == "Package")
    for job, (own, other) in zip(package["jobs"], [("WEB", "API"), ("API", "WEB")], strict=True):
        scripts = "\n".join(_script(step) or "" for step in job["steps"])
        assert f'echo "IMAGE_{own}=ghcr.io/acme/monorepo/' in scripts  # pushes its image only
        assert f"IMAGE_{other}" not in scripts
        for step in job["steps"]:
            if "env" in step and step["displayName"] != "Build and push each image once":
                assert {k: v for k, v in step["env"].items() if k.startswith("IMAGE_")} == {
                    f"IMAGE_{own}": f"$(refs.IMAGE_{own})"
                }


@pytest.mark.parametrize("name", sorted(set(STACKS) - {"monorepo"}))
def test_single_image_has_one_package_job(name: str) -> None:
    pipeline = yaml.safe_load(only(azure, sample_plan(name)).content)
    (package,) = (stage for stage in pipeline["stages"] if stage["stage"] == "Package")
    assert [job["job"] for job in package["jobs"]] == ["package"]
    assert package["jobs"][0]["displayName"] == "Package"


@pytest.mark.parametrize("gitops", [False, True])
def test_every_deploy_receives_every_image(gitops: bool) -> None:
    plan = sample_plan("monorepo", gitops=gitops)
    pipeline = yaml.safe_load(only(azure, plan).content)
    expected = {
        "IMAGE_WEB": "$[ stageDependencies.Package.package_web.outputs['refs.IMAGE_WEB'] ]",
        "IMAGE_API": "$[ stageDependencies.Package.package_api.outputs['refs.IMAGE_API'] ]",
    }
    names = ["DeployStaging", "Approval", "DeployProd", "Verify"]
    receivers = [stage for stage in pipeline["stages"] if stage["stage"] in names]
    assert [stage["stage"] for stage in receivers] == names
    for stage in receivers:
        assert "Package" in stage["dependsOn"]  # stageDependencies reads direct dependencies only
        mapped = {v["name"]: v["value"] for v in stage["variables"] if v.get("name", "").startswith("IMAGE_")}
        assert mapped == expected, stage["stage"]
    for stage in receivers:
        if stage["stage"] in ("DeployStaging", "DeployProd"):
            (job,) = stage["jobs"]
            deploy = "\n".join(_script(s) or "" for s in job["strategy"]["runOnce"]["deploy"]["steps"])
            assert '"${IMAGE_WEB}"' in deploy and '"${IMAGE_API}"' in deploy


def test_polyglot_commit_stage_stays_in_budget() -> None:
    """11 images: one Package job each keeps the commit stage under 10 minutes (DS-PIPE-006),
    and the pipeline has no finding of its own."""
    from deploysmith.audit.engine import verify
    from deploysmith.render import render_kit
    from tests.render.test_github_actions import polyglot_plan

    findings = verify(render_kit(polyglot_plan(ci="azure")))
    assert [(f.rule, f.message) for f in findings if f.path == azure.PATH] == []

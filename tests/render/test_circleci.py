"""The CircleCI renderer: golden files, CircleCI's schema (check-jsonschema's vendor.circle-ci),
shellcheck over every `run` command, the project's audit, and the native mechanism of every
stage.

Regenerate the golden files with DEPLOYSMITH_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.plan.pipeline import STAGE_ORDER
from deploysmith.render import ci_common as ci
from deploysmith.render import circleci
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
from tests.sample_plans import sample_plan


def _config(case: str) -> dict[str, Any]:
    data = yaml.safe_load(only(circleci, matrix_plan(case)).content)
    assert isinstance(data, dict)
    return data


def _runs(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, dict):
                yield value
            else:
                yield from _runs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _runs(item)


def _workflow(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = {}
    for entry in config["workflows"]["ci-cd"]["jobs"]:
        if isinstance(entry, str):
            jobs[entry] = {}
        else:
            ((name, settings),) = entry.items()
            jobs[name] = settings
    return jobs


def _stage_of(job: str) -> str:
    return next(stage for stage in STAGE_ORDER if job == stage or job.startswith(stage + "-"))


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden(case: str) -> None:
    check_golden("circleci", case, only(circleci, golden_plan(case)), ".yml")


def test_rendering_is_deterministic() -> None:
    plan = sample_plan("monorepo", gitops=True)
    assert circleci.render(plan) == circleci.render(plan)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("circleci")
    return write_matrix(circleci, root, lambda case: f"{case}/.circleci/config.yml")


@pytest.mark.judges
def test_circleci_schema(rendered: dict[str, Path]) -> None:
    result = check_jsonschema("vendor.circle-ci", rendered.values())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.judges
def test_shellcheck_every_script(tmp_path: Path) -> None:
    scripts = {
        f"{case} {index} {run['name']}": "#!/usr/bin/env bash\nset -eo pipefail\n" + run["command"]
        for case in MATRIX
        for index, run in enumerate(_runs(_config(case)))
    }
    assert len(scripts) > 500
    assert shellcheck(scripts, tmp_path) == {}


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_audit_finds_no_gap(case: str) -> None:
    assert audit_problems(circleci.render(matrix_plan(case)), case.endswith("-all")) == []


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_every_stage_is_present_with_its_mechanism(case: str) -> None:
    plan = matrix_plan(case)
    ctx = ci.Context.of(plan)
    config = _config(case)
    assert config["version"] == 2.1
    assert "orbs" not in config
    workflow = _workflow(config)
    present = list(dict.fromkeys(_stage_of(job) for job in workflow))
    assert present == [stage.id for stage in ctx.stages]
    for job, settings in workflow.items():
        stage = ctx.stage(_stage_of(job))
        if stage.main_only:
            assert settings["filters"] == {"branches": {"only": ["main"]}}, job
        else:
            assert "filters" not in settings, job
        if job != "approval":
            assert job in config["jobs"]
            for run in _runs(config["jobs"][job]):
                assert run["no_output_timeout"].endswith("m"), (job, run["name"])
    for unit in ctx.units:
        build, test = config["jobs"][f"build{unit.suffix}"], config["jobs"][f"test{unit.suffix}"]
        for job in (build, test):
            restores = [
                s["restore_cache"] for s in job["steps"] if isinstance(s, dict) and "restore_cache" in s
            ]
            saves = [s["save_cache"] for s in job["steps"] if isinstance(s, dict) and "save_cache" in s]
            assert restores and saves and restores[0]["keys"][0] == saves[0]["key"]
        assert any(isinstance(s, dict) and "store_test_results" in s for s in test["steps"])
    scan = "\n".join(r["command"] for r in _runs(config["jobs"]["security-scan"]))
    assert "--exit-code 1" in scan and "CRITICAL,HIGH" in scan
    for unit, job in zip(ctx.units, ctx.package_jobs(), strict=True):
        refs = circleci.REFS_FILE if len(ctx.units) == 1 else f"image-refs{unit.suffix}.env"
        persist = {"persist_to_workspace": {"root": ".", "paths": [refs]}}
        assert persist in config["jobs"][job]["steps"], job
        assert workflow[job]["context"] == [f"{plan.app_name}-registry"]
    for job in ("deploy-staging", "deploy-prod", "verify"):
        if job not in workflow:
            continue
        assert workflow[job]["context"], job
        steps = config["jobs"][job]["steps"]
        assert "load-images" in steps and "kube-connect" in steps
        if ctx.gitops or job == "verify":
            fail = [r for r in _runs(config["jobs"][job]) if r.get("when") == "on_fail"]
            assert fail, job
            text = fail[0]["command"]
            assert ("git revert" in text) if ctx.gitops else ("rollout undo" in text)
        else:
            assert "undo-rollout" in steps
            assert config["commands"]["undo-rollout"]["steps"][0]["run"]["when"] == "on_fail"
    if ctx.prod is not None:
        assert workflow["approval"]["type"] == "approval"
        assert workflow["deploy-prod"]["requires"] == ["approval"]
        assert workflow["deploy-prod"]["context"] == [f"{plan.app_name}-production"]


def test_oidc_token_reaches_kubectl_without_being_printed() -> None:
    config = yaml.safe_load(only(circleci, sample_plan("express")).content)
    connect = config["commands"]["kube-connect"]["steps"][0]["run"]["command"]
    assert "env.CIRCLE_OIDC_TOKEN_V2" in connect
    assert "echo" not in "\n".join(line for line in connect.splitlines() if "CIRCLE_OIDC" in line)


def test_caches_are_keyed_on_the_lock_files_checksum() -> None:
    config = yaml.safe_load(only(circleci, sample_plan("monorepo")).content)
    keys = [
        s["restore_cache"]["keys"][0]
        for s in config["jobs"]["build-api"]["steps"]
        if isinstance(s, dict) and "restore_cache" in s
    ]
    assert keys == ['v1-poetry-api-{{ arch }}-{{ checksum "services/api/poetry.lock" }}']


def test_services_run_beside_the_tests() -> None:
    test = yaml.safe_load(only(circleci, sample_plan("django-celery")).content)["jobs"]["test"]
    assert [d["image"] for d in test["docker"]][1:] == ["postgres:18-trixie", "redis:8.10-trixie"]
    assert test["docker"][0]["environment"]["DATABASE_URL"] == "postgresql://postgres@localhost:5432/test"
    assert any(
        isinstance(s, dict) and s.get("run", {}).get("name") == "Wait for the services" for s in test["steps"]
    )


# -- one Package job per image --------------------------------------------------------------


def _requires(config: dict[str, Any]) -> dict[str, list[str]]:
    return {job: settings.get("requires", []) for job, settings in _workflow(config).items()}


def _upstream(graph: dict[str, list[str]], job: str) -> set[str]:
    """Every job `job` waits for: CircleCI attaches the workspace layers of exactly these."""
    seen: set[str] = set()
    todo = list(graph[job])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    return seen


GATES = ["security-scan", "security-scan-sast", "security-scan-secrets"]


@pytest.mark.parametrize("gitops", [False, True])
def test_monorepo_packages_each_image_in_its_own_job(gitops: bool) -> None:
    config = yaml.safe_load(only(circleci, sample_plan("monorepo", gitops=gitops)).content)
    before = ["build-web", "build-api", "test-web", "test-api", *GATES]
    assert _requires(config) == {
        **{job: [] for job in before},
        "package-web": before,
        "package-sign-web": ["package-web"],
        "package-api": before,
        "package-sign-api": ["package-api"],
        "deploy-staging": ["package-sign-web", "package-sign-api"],
        "integration-test": ["deploy-staging"],
        "approval": ["integration-test"],
        "deploy-prod": ["approval"],
        "verify": ["deploy-prod"],
    }
    jobs = config["jobs"]
    assert "package" not in jobs and "package-sign" not in jobs
    for image in ("web", "api"):
        package = next(r for r in _runs(jobs[f"package-{image}"]) if r["name"].startswith("Build and push"))
        assert package["name"] == f"Build and push the {image} image once"
        assert package["command"].count("docker buildx build") == 1
        assert f'>> "image-refs-{image}.env"' in package["command"]
        sign = "\n".join(r["command"] for r in _runs(jobs[f"package-sign-{image}"]))
        assert f'. "/tmp/workspace/image-refs-{image}.env"' in sign
        assert sign.count("cosign sign ") == 1 and f'"${{IMAGE_{image.upper()}}}"' in sign


def test_single_image_kits_keep_one_package_job() -> None:
    for name in ("fastapi-postgres", "django-celery", "express", "nextjs", "go-api", "spring-boot-maven"):
        graph = _requires(yaml.safe_load(only(circleci, sample_plan(name)).content))
        packages = sorted(job for job in graph if job.startswith("package"))
        assert packages == ["package", "package-sign"], name
        assert graph["package-sign"] == ["package"]
        assert graph["deploy-staging"] == ["package-sign"]


@pytest.mark.parametrize("case", ["monorepo-imperative-all", "monorepo-gitops-all", "monorepo-gitops-prod-only"])
def test_every_deploy_job_receives_every_image(case: str) -> None:
    config = _config(case)
    graph = _requires(config)
    loaded = config["commands"]["load-images"]["steps"][1]["run"]["command"]
    assert loaded == (
        "cat \\\n"
        '  "/tmp/workspace/image-refs-web.env" \\\n'
        '  "/tmp/workspace/image-refs-api.env" \\\n'
        '  >> "${BASH_ENV}"\n'
    )
    written = {
        step["persist_to_workspace"]["paths"][0]: job
        for job in ("package-web", "package-api")
        for step in config["jobs"][job]["steps"]
        if isinstance(step, dict) and "persist_to_workspace" in step
    }
    assert written == {"image-refs-web.env": "package-web", "image-refs-api.env": "package-api"}
    deploys = [job for job in ("deploy-staging", "deploy-prod", "verify") if job in graph]
    assert deploys
    for job in deploys:
        assert "load-images" in config["jobs"][job]["steps"], job
        # the workspace holds only what upstream jobs persisted: every image's package job must be upstream
        assert {"package-web", "package-sign-web", "package-api", "package-sign-api"} <= _upstream(graph, job)
        if job == "verify":
            continue
        # a deploy checks every image's signature before it deploys anything
        (checked,) = [r["command"] for r in _runs(config["jobs"][job]) if r["name"].startswith("Verify signatures")]
        verified = [line.rsplit(" ", 3)[-3] for line in checked.splitlines() if line.startswith("cosign verify --")]
        assert verified == ['"${IMAGE_WEB}"', '"${IMAGE_API}"'], job


def test_eleven_images_fit_the_commit_stage_budget() -> None:
    from deploysmith.audit.engine import _Source, build, verify
    from tests.render.test_github_actions import polyglot_plan

    plan = polyglot_plan(ci="circleci")
    files = circleci.render(plan)
    assert verify(files) == ()
    fileset = build([_Source(f.path, f.content) for f in files], frozenset(f.path for f in files), "verify")
    (summary,) = fileset.summaries
    packages = [job for job in summary.duration.commit_path if job.startswith("package")]
    assert len(packages) == 2 and packages[1] == packages[0].replace("package-", "package-sign-", 1)
    assert summary.duration.commit_warm <= 10 * 60


@pytest.mark.judges
def test_eleven_images_pass_the_judges(tmp_path: Path) -> None:
    from tests.render.test_github_actions import polyglot_plan

    files: list[Path] = []
    scripts: dict[str, str] = {}
    for gitops in (False, True):
        (rendered,) = circleci.render(polyglot_plan(ci="circleci", gitops=gitops))
        path = tmp_path / f"polyglot-{gitops}.yml"
        path.write_text(rendered.content, encoding="utf-8")
        files.append(path)
        for index, run in enumerate(_runs(yaml.safe_load(rendered.content))):
            scripts[f"{gitops} {index} {run['name']}"] = "#!/usr/bin/env bash\nset -eo pipefail\n" + run["command"]
    result = check_jsonschema("vendor.circle-ci", files)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert shellcheck(scripts, tmp_path / "shellcheck") == {}

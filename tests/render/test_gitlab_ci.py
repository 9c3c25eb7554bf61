"""The GitLab CI renderer: golden files, GitLab's schema (check-jsonschema's vendor.gitlab-ci),
shellcheck over every job's script, the project's audit, the native mechanism of every stage,
and gitlab-ci-local running the build and test jobs of the express example for real.

Regenerate the golden files with DEPLOYSMITH_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.model import Plan
from deploysmith.plan.pipeline import STAGE_ORDER
from deploysmith.render import ci_common as ci
from deploysmith.render import gitlab_ci
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

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"workflow", "include", "stages", "default", "variables"}


def _pipeline(case: str, matrix: bool = True) -> dict[str, Any]:
    plan = matrix_plan(case) if matrix else golden_plan(case)
    data = yaml.safe_load(only(gitlab_ci, plan).content)
    assert isinstance(data, dict)
    return data


def _jobs(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in pipeline.items() if k not in KEYWORDS and not k.startswith(".")}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden(case: str) -> None:
    check_golden("gitlab_ci", case, only(gitlab_ci, golden_plan(case)), ".gitlab-ci.yml")


def test_rendering_is_deterministic() -> None:
    plan = sample_plan("monorepo", gitops=True)
    assert gitlab_ci.render(plan) == gitlab_ci.render(plan)


# -- judges ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gitlab")
    return write_matrix(gitlab_ci, root, lambda case: f"{case}/.gitlab-ci.yml")


@pytest.mark.judges
def test_gitlab_schema(rendered: dict[str, Path]) -> None:
    result = check_jsonschema("vendor.gitlab-ci", rendered.values())
    assert result.returncode == 0, result.stdout + result.stderr


def _scripts(pipeline: dict[str, Any]) -> dict[str, str]:
    """Each job's shell as the runner runs it: before_script and script in one shell (inherited
    from an `extends` template), after_script in another."""
    scripts: dict[str, str] = {}
    for name, job in _jobs(pipeline).items():
        parent = pipeline.get(job.get("extends", ""), {})
        before = job.get("before_script", parent.get("before_script", []))
        main = [*before, *job["script"]]
        scripts[f"{name}: script"] = "#!/usr/bin/env bash\nset -eo pipefail\n" + "\n".join(main) + "\n"
        if job.get("after_script"):
            scripts[f"{name}: after_script"] = "#!/usr/bin/env bash\n" + "\n".join(job["after_script"]) + "\n"
    return scripts


@pytest.mark.judges
def test_shellcheck_every_script(tmp_path: Path) -> None:
    scripts = {f"{case} {name}": text for case in MATRIX for name, text in _scripts(_pipeline(case)).items()}
    assert len(scripts) > 500
    assert shellcheck(scripts, tmp_path) == {}


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_audit_finds_no_gap(case: str) -> None:
    plan = matrix_plan(case)
    assert audit_problems(gitlab_ci.render(plan), case.endswith("-all")) == []


# -- every stage, natively -----------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_every_stage_is_present_with_its_mechanism(case: str) -> None:
    plan = matrix_plan(case)
    ctx = ci.Context.of(plan)
    pipeline = _pipeline(case)
    jobs = _jobs(pipeline)
    assert pipeline["stages"] == [stage.id for stage in ctx.stages]
    by_stage: dict[str, list[str]] = {}
    for name, job in jobs.items():
        if name.startswith(("sast", "secret_detection")):
            continue
        by_stage.setdefault(job["stage"], []).append(name)
        assert job["timeout"].endswith(" minutes"), name
    assert [s for s in STAGE_ORDER if s in by_stage] == [stage.id for stage in ctx.stages]
    main_only = {stage.id for stage in ctx.stages if stage.main_only}
    for stage_id, names in by_stage.items():
        for name in names:
            rules = jobs[name].get("rules", [])
            on_main = [r for r in rules if r.get("if") == gitlab_ci.ON_DEFAULT_BRANCH]
            if stage_id in main_only:
                assert rules and all("merge_request" not in r.get("if", "") for r in rules), name
                assert on_main, name
    scan = jobs["security-scan"]
    assert "allow_failure" not in scan
    assert "--exit-code 1" in "\n".join(scan["script"]) and "CRITICAL,HIGH" in "\n".join(scan["script"])
    assert scan["artifacts"]["reports"]["cyclonedx"]
    for unit in ctx.units:
        test = jobs[f"test{unit.suffix}"]
        assert test["artifacts"]["when"] == "always" and test["artifacts"]["reports"]["junit"]
    for unit in ctx.units:
        refs = f"image-refs{unit.suffix}.env" if unit.suffix else gitlab_ci.REFS_FILE
        assert jobs[f"package{unit.suffix}"]["artifacts"]["reports"]["dotenv"] == refs
        assert jobs[f"package-scan{unit.suffix}"]["artifacts"]["reports"]["container_scanning"]
    template = pipeline.get(gitlab_ci.KUBECTL, {})
    if ctx.preprod or ctx.prod:
        assert template["id_tokens"] == {"KUBE_ID_TOKEN": {"aud": "kubernetes"}}
        assert template["interruptible"] is False
    for stage_id in ("deploy-staging", "deploy-prod"):
        if stage_id not in jobs:
            continue
        deploy = jobs[stage_id]
        assert deploy["extends"] == gitlab_ci.KUBECTL
        assert deploy["environment"]["deployment_tier"] in ("staging", "production", "development")
        assert deploy["resource_group"] == deploy["environment"]["name"]
        after = "\n".join(deploy["after_script"])
        assert "CI_JOB_STATUS" in after
        assert ("git revert" in after) if ctx.gitops else ("rollout undo" in after)
        for image in ctx.images:
            assert f"${{{ci.image_var(image.name)}}}" in "\n".join(deploy["script"])
    if ctx.prod is not None:
        approval = jobs["approval"]
        assert approval["rules"] == [
            {"if": gitlab_ci.ON_DEFAULT_BRANCH, "when": "manual", "allow_failure": False}
        ]
        assert approval["environment"]["name"] == "production"
        assert jobs["deploy-prod"]["needs"][0] == "approval"
        assert jobs["deploy-prod"]["environment"]["deployment_tier"] == "production"
        rollback = jobs[gitlab_ci.ROLLBACK_JOB]
        assert rollback["rules"] == [{"if": gitlab_ci.ON_DEFAULT_BRANCH, "when": "on_failure"}]
        assert rollback["needs"][0] == "verify"
        text = "\n".join(rollback["script"])
        assert ("git revert" in text) if ctx.gitops else ("rollout undo" in text)
        assert text.rstrip().endswith("exit 1")


@pytest.mark.parametrize(
    ("name", "lock"),
    [
        ("fastapi-postgres", "uv.lock"),
        ("django-celery", "requirements.txt"),
        ("express", "package-lock.json"),
        ("nextjs", "pnpm-lock.yaml"),
        ("go-api", "go.mod"),
        ("spring-boot-maven", "pom.xml"),
        ("monorepo", "services/api/poetry.lock"),
    ],
)
def test_cache_is_keyed_on_the_lock_file(name: str, lock: str) -> None:
    jobs = _jobs(yaml.safe_load(only(gitlab_ci, sample_plan(name)).content))
    builds = [job for job_name, job in jobs.items() if job_name.startswith("build")]
    keys = [c["key"]["files"] for build in builds for c in build["cache"] if isinstance(c["key"], dict)]
    assert [lock] in keys
    for build in builds:
        for cache in build["cache"]:
            assert all(
                not path.startswith("/") for path in cache["paths"]
            )  # GitLab caches inside the project


def test_monorepo_limits_merge_requests_to_changed_components() -> None:
    jobs = _jobs(yaml.safe_load(only(gitlab_ci, sample_plan("monorepo")).content))
    assert jobs["build-api"]["rules"][0]["changes"]["paths"] == ["services/api/**/*", ".gitlab-ci.yml"]
    assert jobs["test-web"]["rules"][0]["changes"]["paths"] == ["apps/web/**/*", ".gitlab-ci.yml"]
    # Build, Test and Security Scan start at once; each image's package job waits for its own
    # unit's build and test and for the source scans.
    assert jobs["security-scan"]["needs"] == []
    assert jobs["test-api"]["needs"] == []
    assert jobs["package-api"]["needs"] == [
        "build-api", "test-api", "security-scan", "sast-semgrep", "secrets-gitleaks"
    ]


# -- Package: one job per image in a monorepo --------------------------------------------------------

SOURCE_SCANS = ["security-scan", "sast-semgrep", "secrets-gitleaks"]
AFTER_PACKAGE = ("deploy-staging", "integration-test", "approval", "deploy-prod", "verify")


@pytest.mark.parametrize("gitops", [False, True])
def test_monorepo_packages_each_image_in_its_own_job(gitops: bool) -> None:
    jobs = _jobs(yaml.safe_load(only(gitlab_ci, sample_plan("monorepo", gitops=gitops)).content))
    assert {name: job["needs"] for name, job in jobs.items() if job["stage"] == "package"} == {
        "package-web": ["build-web", "test-web", *SOURCE_SCANS],
        "package-scan-web": ["package-web"],
        "package-sign-web": ["package-web", "package-scan-web"],
        "package-api": ["build-api", "test-api", *SOURCE_SCANS],
        "package-scan-api": ["package-api"],
        "package-sign-api": ["package-api", "package-scan-api"],
    }
    assert {name: job["needs"] for name, job in jobs.items() if job["stage"] in AFTER_PACKAGE} == {
        "deploy-staging": ["package-web", "package-api", "package-sign-web", "package-sign-api"],
        "integration-test": ["deploy-staging"],
        "approval": ["integration-test", "package-web", "package-api"],
        "deploy-prod": ["approval", "package-web", "package-api", "package-sign-web", "package-sign-api"],
        "verify": ["deploy-prod"],
        "rollback-prod": ["verify", "deploy-prod"] if gitops else ["verify", "package-web", "package-api"],
    }
    assert jobs["package-web"]["artifacts"] == {"reports": {"dotenv": "image-refs-web.env"}}
    assert jobs["package-api"]["artifacts"] == {"reports": {"dotenv": "image-refs-api.env"}}


@pytest.mark.parametrize("case", sorted(c for c in GOLDEN_CASES if not c.startswith("monorepo")))
def test_one_image_keeps_one_package_job(case: str) -> None:
    jobs = _jobs(yaml.safe_load(only(gitlab_ci, golden_plan(case)).content))
    assert [name for name, job in jobs.items() if job["stage"] == "package"] == [
        "package", "package-scan", "package-sign"
    ]
    assert jobs["package"]["artifacts"] == {"reports": {"dotenv": gitlab_ci.REFS_FILE}}


def _dotenv_vars(job: dict[str, Any]) -> set[str]:
    """The IMAGE_<NAME> variables a job's dotenv report carries (what its script writes there)."""
    report = job.get("artifacts", {}).get("reports", {}).get("dotenv")
    if report is None:
        return set()
    script = "\n".join(job["script"])
    return set(re.findall(r'echo "(IMAGE_[A-Z0-9_]+)=[^"]*" >> "' + re.escape(report) + '"', script))


MONOREPO_CASES: dict[str, dict[str, Any]] = {
    "monorepo": {},
    "monorepo-gitops-sox": {"gitops": True, "compliance": "sox"},
    "monorepo-dev-prod": {"environments": ("dev", "prod")},
    "polyglot": {},  # eleven images (tests/render/test_github_actions.py)
}


@functools.cache
def _monorepo_plan(case: str) -> Plan:
    if case == "polyglot":
        from tests.render.test_github_actions import polyglot_plan

        return polyglot_plan(ci="gitlab")
    return sample_plan("monorepo", ci="gitlab", **MONOREPO_CASES[case])


@pytest.mark.parametrize("case", sorted(MONOREPO_CASES))
def test_every_job_after_package_receives_every_image(case: str) -> None:
    plan = _monorepo_plan(case)
    ctx = ci.Context.of(plan)
    every = {ci.image_var(image.name) for image in ctx.images}
    assert len(every) > 1
    jobs = _jobs(yaml.safe_load(only(gitlab_ci, plan).content))
    given = {name: _dotenv_vars(job) for name, job in jobs.items()}
    assert set().union(*given.values()) == every
    for unit in ctx.units:  # each package job hands on exactly its own image
        assert given[f"package{unit.suffix}"] == {ci.image_var(unit.image.name)}
    receivers = [n for n in ("deploy-staging", "approval", "deploy-prod", "release-record") if n in jobs]
    if not ctx.gitops:
        receivers.append(gitlab_ci.ROLLBACK_JOB)
    assert {"deploy-prod", "approval"} <= set(receivers)
    for name in receivers:
        received = set().union(*(given[need] for need in jobs[name]["needs"]))
        assert received == every, name
    # and no job reads an image variable that no job it needs hands it
    for name, job in jobs.items():
        used = set(re.findall(r"\$\{(IMAGE_[A-Z0-9_]+)\}", "\n".join(job["script"])))
        if used and not given[name]:
            assert used <= set().union(*(given.get(need, set()) for need in job.get("needs", []))), name


def test_monorepo_commit_stage_stays_under_ten_minutes() -> None:
    """Eleven images packaged side by side: the kit's own audit finds nothing in the pipeline
    (DS-PIPE-006 would warn past ten minutes of warm commit stage)."""
    from deploysmith.audit.engine import verify
    from deploysmith.render import render_kit

    for case in ("monorepo", "polyglot"):
        findings = [f.to_json() for f in verify(render_kit(_monorepo_plan(case))) if f.path == gitlab_ci.PATH]
        assert findings == [], case


def test_services_answer_on_their_alias() -> None:
    test = _jobs(yaml.safe_load(only(gitlab_ci, sample_plan("django-celery")).content))["test"]
    assert [s["alias"] for s in test["services"]] == ["postgres", "redis"]
    assert test["variables"]["DATABASE_URL"] == "postgresql://postgres@postgres:5432/test"
    assert test["variables"]["REDIS_URL"] == "redis://redis:6379/0"


def test_registry_is_the_projects_own_with_the_job_token() -> None:
    package = _jobs(yaml.safe_load(only(gitlab_ci, sample_plan("express")).content))["package"]
    script = "\n".join(package["script"])
    assert '"${CI_REGISTRY_PASSWORD}" | docker login --username "${CI_REGISTRY_USER}"' in script
    assert "${CI_REGISTRY_IMAGE}/express:${CI_COMMIT_SHA}" in script
    given = _jobs(yaml.safe_load(only(gitlab_ci, golden_plan("django-celery-registry")).content))["package"]
    assert "registry.example.com/shop/acme/django-celery/django-celery@" in "\n".join(given["script"])


# -- gitlab-ci-local: the build and test jobs, for real ----------------------------------------------


def _gitlab_ci_local() -> str:
    binary = shutil.which("gitlab-ci-local")
    if binary is None:
        pytest.skip("gitlab-ci-local is not installed (npm install gitlab-ci-local@4.60.0)")
    for needed in ("rsync", "git", "npm", "node"):
        if shutil.which(needed) is None:
            pytest.skip(f"gitlab-ci-local needs {needed}, which is not installed")
    return binary


@pytest.mark.judges
def test_gitlab_ci_local_runs_build_and_test(tmp_path: Path) -> None:
    binary = _gitlab_ci_local()
    repo = tmp_path / "express"
    shutil.copytree(ROOT / "examples" / "express", repo)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "remote", "add", "origin", "https://github.com/acme/express.git"], check=True
    )
    from deploysmith.cli import main

    assert main(["init", str(repo), "--yes", "--ci", "gitlab"]) == 0
    pipeline = yaml.safe_load((repo / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    # GitLab's own templates are fetched from gitlab.com: offline, run our jobs without them.
    pipeline.pop("include")
    (repo / ".gitlab-ci.yml").write_text(yaml.safe_dump(pipeline, sort_keys=False), encoding="utf-8")
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "commit", "-q", "-m", "kit"], check=True, env={**os.environ, **env}
    )
    result = subprocess.run(
        [binary, "--force-shell-executor", "--no-color", "build", "test"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "PASS  build" in output and "PASS  test" in output
    assert "npm ci" in output  # the locked install ran

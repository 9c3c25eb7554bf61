"""The GitHub Actions renderer: golden files, the field's judges (actionlint with shellcheck,
zizmor) over every sample plan × delivery mode × environment set, and the properties the
issue asks for, asserted on the parsed workflow.

Regenerate the golden files with DEPLOYSMITH_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.model import Component, Plan, Requirements, Stack
from deploysmith.plan import build_plan
from deploysmith.plan.pipeline import STAGE_ORDER
from deploysmith.render import github_actions
from deploysmith.render.actions_pins import PINS, PINS_CHECKED
from deploysmith.render.common import WORKFLOW_PATH
from tests.sample_plans import STACKS, sample_plan

GOLDEN = Path(__file__).parent / "golden" / "github_actions"
UPDATE = os.environ.get("DEPLOYSMITH_UPDATE_GOLDEN") == "1"
SHARED_PINS = Path(__file__).resolve().parents[3] / "shared" / "data" / "action-pins.json"

ON_MAIN_PUSH = "github.ref == 'refs/heads/main' && github.event_name == 'push'"
SHA = re.compile(r"^[0-9a-f]{40}$")

# name → requirement overrides
GOLDEN_CASES: dict[str, dict[str, Any]] = {
    **{name: {} for name in STACKS},
    "fastapi-postgres-gitops": {"gitops": True},
    "monorepo-gitops": {"gitops": True},
    "express-dev-prod": {"environments": ("dev", "prod")},
    "express-no-prod": {"environments": ("dev", "staging")},
    "express-prod-only": {"environments": ("prod",)},
    "django-celery-registry": {"registry": "registry.example.com/shop"},
    "polyglot": {},
    "polyglot-gitops": {"gitops": True},
}

# Every toolchain the renderer knows, each in its own folder: one workflow with eleven units.
C = Component
POLYGLOT = Stack(
    root="/work/polyglot",
    components=(
        C(
            name="shop",
            path="apps/shop",
            kind="web",
            language="ruby",
            language_version="3.4",
            framework="rails",
            package_manager="bundler",
            port=3000,
            test_command="bundle exec rspec",
            lint_command="bundle exec rubocop",
            services=("postgres", "redis"),
            health_path="/up",
            migrate_command="bin/rails db:migrate",
            dependency_files=("Gemfile", "Gemfile.lock"),
        ),
        C(
            name="blog",
            path="apps/blog",
            kind="web",
            language="php",
            language_version="8.4",
            framework="laravel",
            package_manager="composer",
            port=8080,
            test_command="php artisan test",
            services=("mysql",),
            dependency_files=("composer.json", "composer.lock"),
        ),
        C(
            name="billing",
            path="apps/billing",
            kind="web",
            language="csharp",
            language_version="10.0",
            package_manager="nuget",
            port=8080,
            test_command="dotnet test",
            build_command="dotnet publish -c Release -o /app",
            dependency_files=("Billing.csproj", "packages.lock.json"),
        ),
        C(
            name="edge",
            path="apps/edge",
            kind="web",
            language="rust",
            language_version="1.98",
            package_manager="cargo",
            port=8080,
            test_command="cargo test --locked",
            lint_command="cargo clippy -- -D warnings",
            build_command="cargo build --release --locked",
            services=("mongodb", "kafka"),
            dependency_files=("Cargo.toml", "Cargo.lock"),
        ),
        C(
            name="ledger",
            path="apps/ledger",
            kind="web",
            language="kotlin",
            language_version="21",
            package_manager="gradle",
            port=8080,
            test_command="./gradlew test",
            build_command="./gradlew build -x test",
            services=("rabbitmq", "mariadb"),
            dependency_files=("build.gradle.kts", "settings.gradle.kts"),
        ),
        C(
            name="chat",
            path="apps/chat",
            kind="web",
            language="typescript",
            language_version="24",
            package_manager="bun",
            port=3000,
            test_command="bun test",
            dependency_files=("package.json", "bun.lock"),
        ),
        C(
            name="admin",
            path="apps/admin",
            kind="static",
            language="typescript",
            language_version="22",
            package_manager="yarn",
            build_command="yarn build",
            build_output="dist",
            dependency_files=("package.json", "yarn.lock"),
        ),
        C(
            name="jobs",
            path="apps/jobs",
            kind="worker",
            language="python",
            language_version="3.11",
            package_manager="pipenv",
            test_command="pytest",
            dependency_files=("Pipfile", "Pipfile.lock"),
        ),
        C(
            name="scripts",
            path="apps/scripts",
            kind="worker",
            language="python",
            package_manager="pip",
            dependency_files=("pyproject.toml",),
        ),
        C(
            name="portal",
            path="apps/portal",
            kind="web",
            language="typescript",
            language_version="26",
            package_manager="pnpm",
            port=3000,
            build_command="pnpm build",
            test_command="pnpm test",
            dependency_files=("package.json", "pnpm-lock.yaml"),
        ),
        C(name="docs", path="site", kind="static", language="html"),
    ),
)


def polyglot_plan(**requirements: Any) -> Plan:
    return build_plan(POLYGLOT, Requirements(**requirements))


ENV_SETS = {"all-envs": ("dev", "staging", "prod"), "dev-prod": ("dev", "prod")}
MATRIX = [
    pytest.param(name, gitops, envs, id=f"{name}-{'gitops' if gitops else 'imperative'}-{env_id}")
    for name in STACKS
    for gitops in (False, True)
    for env_id, envs in ENV_SETS.items()
]


def _stack_name(case: str) -> str:
    return next(name for name in sorted(STACKS, key=len, reverse=True) if case.startswith(name))


@functools.cache
def _plan(case: str) -> Plan:
    if case.startswith("polyglot"):
        return polyglot_plan(**GOLDEN_CASES[case])
    return sample_plan(_stack_name(case), **GOLDEN_CASES[case])


LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _workflow(plan: Plan) -> dict[str, Any]:
    data = yaml.load(_content(plan), Loader=LOADER)  # noqa: S506 - a safe loader
    assert isinstance(data, dict)
    return data


_RENDERED: dict[int, tuple[Plan, str]] = {}


def _content(plan: Plan) -> str:
    """The rendered workflow, once per plan object (plans are cached, so ids stay unique)."""
    if id(plan) not in _RENDERED:
        (rendered,) = github_actions.render(plan)
        assert rendered.path == WORKFLOW_PATH
        _RENDERED[id(plan)] = (plan, rendered.content)
    return _RENDERED[id(plan)][1]


def _all_workflows() -> Iterator[tuple[str, dict[str, Any]]]:
    for case in GOLDEN_CASES:
        yield case, _workflow(_plan(case))
    for name in STACKS:
        for gitops in (False, True):
            for env_id, envs in ENV_SETS.items():
                yield f"{name}-{gitops}-{env_id}", _workflow(_sample(name, gitops, envs))


@functools.cache
def _sample(name: str, gitops: bool, envs: tuple[str, ...]) -> Plan:
    return sample_plan(name, gitops=gitops, environments=envs)


WORKFLOWS = list(_all_workflows())


def _steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in workflow["jobs"].items():
        for step in job["steps"]:
            yield job_id, step


def _stage_of(job_id: str) -> str | None:
    if job_id in STAGE_ORDER:
        return job_id
    for stage in ("build", "test", "package"):
        if job_id.startswith(stage + "-"):
            return stage
    return None


def _closure(workflow: dict[str, Any], job_id: str) -> set[str]:
    seen: set[str] = set()
    todo = list(workflow["jobs"][job_id].get("needs", []))
    while todo:
        need = todo.pop()
        if need not in seen:
            seen.add(need)
            todo.extend(workflow["jobs"][need].get("needs", []))
    return seen


# -- golden files ------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden(case: str) -> None:
    (rendered,) = github_actions.render(_plan(case))
    path = GOLDEN / f"{case}.yml"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered.content, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with DEPLOYSMITH_UPDATE_GOLDEN=1"
    assert rendered.content == path.read_text(encoding="utf-8")


def test_rendering_is_deterministic() -> None:
    plan = sample_plan("monorepo", gitops=True)
    assert github_actions.render(plan) == github_actions.render(plan)


# -- the field's judges ------------------------------------------------------------------
#
# Every sample plan × {imperative, gitops} × {all environments, dev+prod}, plus the edge
# cases, written side by side; each judge runs once over all of them and every case checks
# its own file's findings.

JUDGED: dict[str, Plan] = {
    **{
        f"{name}-{'gitops' if gitops else 'imperative'}-{env_id}": _sample(name, gitops, envs)
        for name in STACKS
        for gitops in (False, True)
        for env_id, envs in ENV_SETS.items()
    },
    **{
        case: _plan(case)
        for case in (
            "express-no-prod",
            "express-prod-only",
            "django-celery-registry",
            "polyglot",
            "polyglot-gitops",
        )
    },
}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return path


@pytest.fixture(scope="module")
def judged_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("judged")
    folder = root / ".github" / "workflows"
    folder.mkdir(parents=True)
    for case, plan in JUDGED.items():
        (folder / f"{case}.yml").write_text(_content(plan), encoding="utf-8")
    return root


def _actionlint(root: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    actionlint = _tool("actionlint")
    shellcheck = _tool("shellcheck")  # without it actionlint silently skips run: scripts
    return subprocess.run(
        [actionlint, "-no-color", "-format", "{{json .}}", "-shellcheck", shellcheck, *paths],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )


@pytest.fixture(scope="module")
def actionlint_findings(judged_repo: Path) -> dict[str, list[dict[str, Any]]]:
    result = _actionlint(judged_repo, *(f".github/workflows/{case}.yml" for case in JUDGED))
    assert result.returncode in (0, 1), result.stderr
    findings: dict[str, list[dict[str, Any]]] = {}
    for finding in json.loads(result.stdout or "[]"):
        findings.setdefault(Path(finding["filepath"]).stem, []).append(finding)
    return findings


@pytest.fixture(scope="module")
def zizmor_findings(judged_repo: Path) -> dict[str, list[dict[str, Any]]]:
    zizmor = _tool("zizmor")
    result = subprocess.run(
        [zizmor, "--offline", "--no-config", "--no-progress", "--format", "json", ".github/workflows"],
        capture_output=True,
        text=True,
        cwd=judged_repo,
        check=False,
    )
    findings: dict[str, list[dict[str, Any]]] = {}
    for finding in json.loads(result.stdout):
        for location in finding["locations"]:
            path = location["symbolic"]["key"]["Local"]["verbatim_path"]
            findings.setdefault(Path(path).stem, []).append(finding)
    if not findings:
        assert result.returncode == 0, result.stderr
    return findings


@pytest.mark.judges
def test_actionlint_runs_shellcheck(tmp_path: Path) -> None:
    """Guards the judge itself: a script shellcheck objects to must be reported."""
    path = tmp_path / ".github" / "workflows" / "bad.yml"
    path.parent.mkdir(parents=True)
    path.write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo $UNQUOTED\n",
        encoding="utf-8",
    )
    result = _actionlint(tmp_path, ".github/workflows/bad.yml")
    assert result.returncode == 1
    assert "SC2086" in result.stdout


@pytest.mark.judges
@pytest.mark.parametrize("case", sorted(JUDGED))
def test_actionlint_clean(actionlint_findings: dict[str, list[dict[str, Any]]], case: str) -> None:
    assert actionlint_findings.get(case, []) == []


@pytest.mark.judges
@pytest.mark.parametrize("case", sorted(JUDGED))
def test_zizmor_clean(zizmor_findings: dict[str, list[dict[str, Any]]], case: str) -> None:
    found = zizmor_findings.get(case, [])
    assert found == [], json.dumps([(f["ident"], f["desc"]) for f in found], indent=2)


@pytest.mark.judges
def test_zizmor_reports_what_it_should(tmp_path: Path) -> None:
    """Guards the judge: an expression in a script and a tag-pinned action are findings."""
    zizmor = _tool("zizmor")
    path = tmp_path / ".github" / "workflows" / "bad.yml"
    path.parent.mkdir(parents=True)
    path.write_text(
        "on: pull_request\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v4\n        with:\n          persist-credentials: false\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [zizmor, "--offline", "--no-config", "--no-progress", "--format", "json", ".github/workflows"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert {finding["ident"] for finding in json.loads(result.stdout)} >= {
        "template-injection",
        "unpinned-uses",
    }


def test_deploysmith_audit_finds_nothing() -> None:
    from deploysmith.audit.engine import verify  # the project's own workflow rules, as `verify` runs them

    for case in GOLDEN_CASES:
        findings = verify(github_actions.render(_plan(case)))
        rules = [finding.rule for finding in findings]
        assert rules == [], [finding.to_json() for finding in findings]


# -- properties --------------------------------------------------------------------------


@pytest.mark.parametrize(("case", "workflow"), WORKFLOWS, ids=[case for case, _ in WORKFLOWS])
def test_no_expression_inside_a_script(case: str, workflow: dict[str, Any]) -> None:
    for job_id, step in _steps(workflow):
        assert "${{" not in step.get("run", ""), f"{case}: {job_id} / {step['name']}"


@pytest.mark.parametrize(("case", "workflow"), WORKFLOWS, ids=[case for case, _ in WORKFLOWS])
def test_every_action_is_pinned_by_sha(case: str, workflow: dict[str, Any]) -> None:
    for job_id, step in _steps(workflow):
        if "uses" not in step:
            continue
        action, _, ref = step["uses"].partition("@")
        assert SHA.match(ref), f"{case}: {job_id} uses {step['uses']}"
        owner_repo = "/".join(action.split("/")[:2])
        assert PINS[owner_repo].sha == ref


def test_pins_carry_their_tag_on_the_same_line() -> None:
    (rendered,) = github_actions.render(sample_plan("monorepo"))
    lines = [line for line in rendered.content.splitlines() if re.match(r"\s*(- )?uses: ", line)]
    assert lines
    for line in lines:
        match = re.search(r"uses: ([\w./-]+)@([0-9a-f]{40}) # (\S+)$", line)
        assert match, line
        assert PINS["/".join(match.group(1).split("/")[:2])].tag == match.group(3)


@pytest.mark.parametrize(("case", "workflow"), WORKFLOWS, ids=[case for case, _ in WORKFLOWS])
def test_every_job_has_a_timeout_and_permissions(case: str, workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {}
    for job_id, job in workflow["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"{case}: {job_id}"
        assert isinstance(job.get("permissions"), dict), f"{case}: {job_id}"


@pytest.mark.parametrize(("case", "workflow"), WORKFLOWS, ids=[case for case, _ in WORKFLOWS])
def test_permissions_are_minimal(case: str, workflow: dict[str, Any]) -> None:
    gitops = "gitops" in case or "-True-" in case
    for job_id, job in workflow["jobs"].items():
        permissions: dict[str, str] = job["permissions"]
        writes = {scope for scope, level in permissions.items() if level == "write"}
        assert set(permissions.values()) <= {"read", "write"}
        allowed: set[str] = set()
        if _stage_of(job_id) == "package":
            allowed = {"packages", "id-token"}  # id-token: Cosign's keyless signature
        elif job_id in ("security-scan", "sast"):
            allowed = {"security-events"}
        elif job_id in ("deploy-staging", "deploy-prod", "verify"):
            allowed = {"id-token", "contents"} if gitops else {"id-token"}
        assert writes == allowed, f"{case}: {job_id} writes {writes}"
        reads = {scope for scope, level in permissions.items() if level == "read"}
        # packages: read lets the deploy jobs' Cosign read the signatures on GHCR
        assert reads <= {"contents", "actions", "packages"}, f"{case}: {job_id} reads {reads}"
        if "actions" in reads:
            assert job_id in ("security-scan", "sast")
        if "packages" in reads:
            assert job_id in ("deploy-staging", "deploy-prod")


@pytest.mark.parametrize(("case", "workflow"), WORKFLOWS, ids=[case for case, _ in WORKFLOWS])
def test_deploy_jobs_run_only_on_a_push_to_main(case: str, workflow: dict[str, Any]) -> None:
    assert workflow["on"] == {"push": {"branches": ["main"]}, "pull_request": {"branches": ["main"]}}
    for job_id, job in workflow["jobs"].items():
        stage = _stage_of(job_id)
        if stage in ("package", "deploy-staging", "integration-test", "approval", "deploy-prod", "verify"):
            assert job["if"] == ON_MAIN_PUSH, f"{case}: {job_id}"
        else:
            assert "refs/heads/main" not in job.get("if", ""), f"{case}: {job_id} must run on pull requests"


@pytest.mark.parametrize(("case", "workflow"), WORKFLOWS, ids=[case for case, _ in WORKFLOWS])
def test_stages_are_chained_in_order(case: str, workflow: dict[str, Any]) -> None:
    by_stage: dict[str, list[str]] = {}
    for job_id in workflow["jobs"]:
        stage = _stage_of(job_id)
        if stage is not None:
            by_stage.setdefault(stage, []).append(job_id)
    present = [stage for stage in STAGE_ORDER if stage in by_stage]
    # Every stage's jobs depend, through `needs`, on every job of every earlier stage, but Build,
    # Test and Security Scan, which all read only the source, start side by side, and each image's
    # Package job waits only for its own component's Build and Test.
    side_by_side = {"build", "test", "security-scan"}
    for index, stage in enumerate(present):
        for job_id in by_stage[stage]:
            closure = _closure(workflow, job_id)
            for earlier in present[:index]:
                if stage in side_by_side and earlier in side_by_side:
                    assert not set(by_stage[earlier]) & closure, f"{case}: {job_id} waits for {earlier}"
                    continue
                wanted = set(by_stage[earlier])
                if stage == "package" and earlier in ("build", "test") and job_id != "package":
                    wanted = {earlier + job_id[len("package") :]}
                assert wanted <= closure, f"{case}: {job_id} does not wait for {earlier}"


@pytest.mark.parametrize("name", sorted(STACKS))
def test_all_nine_stages_are_present_with_every_environment(name: str) -> None:
    workflow = _workflow(sample_plan(name))
    names = [job["name"].split(" (")[0] for job in workflow["jobs"].values()]
    side = {"Changes", "SAST", "Dependency Review"}  # the monorepo filter; Security Scan's side jobs
    assert [n for n in dict.fromkeys(names) if n not in side] == [
        "Build",
        "Test",
        "Security Scan",
        "Package",
        "Deploy Staging",
        "Integration Test",
        "Approval",
        "Deploy Prod",
        "Verify",
    ]


@pytest.mark.parametrize(("case", "workflow"), WORKFLOWS, ids=[case for case, _ in WORKFLOWS])
def test_checkout_keeps_no_credentials_except_to_push(case: str, workflow: dict[str, Any]) -> None:
    for job_id, step in _steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            pushes = workflow["jobs"][job_id]["permissions"].get("contents") == "write"
            assert step["with"]["persist-credentials"] is pushes, f"{case}: {job_id}"


@pytest.mark.parametrize(("case", "workflow"), WORKFLOWS, ids=[case for case, _ in WORKFLOWS])
def test_concurrency(case: str, workflow: dict[str, Any]) -> None:
    assert workflow["concurrency"] == {
        "group": "ci-cd-${{ github.ref }}",
        "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
    }
    for job_id in ("deploy-staging", "deploy-prod", "verify"):
        if job_id in workflow["jobs"]:
            concurrency = workflow["jobs"][job_id]["concurrency"]
            assert concurrency["cancel-in-progress"] is False
            assert concurrency["group"].startswith("deploy-")


def test_environments_and_approval_gate() -> None:
    jobs = _workflow(sample_plan("fastapi-postgres"))["jobs"]
    assert jobs["deploy-staging"]["environment"] == {
        "name": "staging",
        "url": "https://fastapi-postgres.staging.example.com",
    }
    assert jobs["deploy-prod"]["environment"] == {
        "name": "production",
        "url": "https://fastapi-postgres.example.com",
    }
    assert jobs["verify"]["environment"] == {"name": "production-verify", "deployment": False}
    assert "environment" not in jobs["approval"]  # one approval, on the job that deploys
    assert jobs["deploy-prod"]["needs"] == ["approval", "package"]
    assert jobs["approval"]["needs"] == ["integration-test", "package"]


def test_without_staging_the_first_other_environment_is_used() -> None:
    (rendered,) = github_actions.render(sample_plan("express", environments=("dev", "prod")))
    jobs = yaml.safe_load(rendered.content)["jobs"]
    assert jobs["deploy-staging"]["environment"]["name"] == "dev"
    assert jobs["deploy-staging"]["env"]["OVERLAY"] == "deploy/overlays/dev"
    assert "No staging environment was requested: this stage deploys to dev." in rendered.content


def test_without_prod_the_prod_stages_are_left_out() -> None:
    (rendered,) = github_actions.render(sample_plan("express", environments=("dev", "staging")))
    jobs = yaml.safe_load(rendered.content)["jobs"]
    assert not {"approval", "deploy-prod", "verify"} & set(jobs)
    assert "integration-test" in jobs
    assert (
        "No prod environment was requested: Approval, Deploy Prod and Verify are left out" in rendered.content
    )


def test_without_a_preproduction_environment_approval_follows_package() -> None:
    jobs = _workflow(sample_plan("express", environments=("prod",)))["jobs"]
    assert not {"deploy-staging", "integration-test"} & set(jobs)
    assert jobs["approval"]["needs"] == ["package"]


def test_package_pushes_each_image_by_digest_in_a_job_of_its_own() -> None:
    jobs = _workflow(sample_plan("monorepo"))["jobs"]
    assert "package" not in jobs
    for unit, context in (("web", "apps/web"), ("api", "services/api")):
        package = jobs[f"package-{unit}"]
        assert package["name"] == f"Package ({unit})"
        # Only its own component's Build and Test, and the repository-wide scans.
        assert package["needs"] == [f"build-{unit}", f"test-{unit}", "security-scan", "sast"]
        assert set(package["outputs"]) == {f"image-{unit}"}
        (build,) = [s for s in package["steps"] if s.get("uses", "").startswith("docker/build-push-action@")]
        assert build["with"]["context"] == context
        assert build["with"]["push"] is True
        assert build["with"]["tags"].endswith(":${{ github.sha }}")
        assert build["with"]["cache-from"].startswith("type=gha")
        assert build["with"]["sbom"] is True and build["with"]["provenance"] == "mode=max"
        refs = next(s for s in package["steps"] if s.get("id") == "refs")
        assert f'"{unit}=${{PREFIX}}/{unit}@${{DIGEST_{unit.upper()}}}"' in refs["run"]
    for job_id in ("deploy-staging", "approval", "deploy-prod", "verify"):
        assert {"package-web", "package-api"} <= set(jobs[job_id]["needs"]), job_id
        assert jobs[job_id]["env"]["IMAGE_API"] == "${{ needs.package-api.outputs.image-api }}", job_id
        assert jobs[job_id]["env"]["IMAGE_WEB"] == "${{ needs.package-web.outputs.image-web }}", job_id


def test_one_image_keeps_one_package_job() -> None:
    jobs = _workflow(sample_plan("django-celery"))["jobs"]
    assert [job_id for job_id in jobs if job_id.startswith("package")] == ["package"]
    assert jobs["deploy-prod"]["env"]["IMAGE_DJANGO_CELERY"] == "${{ needs.package.outputs.image-django-celery }}"


def test_security_scan_blocks_on_critical_and_high_and_uploads_sarif() -> None:
    steps = _workflow(sample_plan("express"))["jobs"]["security-scan"]["steps"]
    trivy = [s for s in steps if s.get("uses", "").startswith("aquasecurity/trivy-action@")]
    gate = trivy[-1]["with"]
    assert gate["severity"] == "CRITICAL,HIGH" and gate["exit-code"] == "1"
    assert "secret" in gate["scanners"] and "vuln" in gate["scanners"]
    assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif@") for s in steps)


def test_test_job_gets_healthy_pinned_service_containers() -> None:
    test = _workflow(sample_plan("django-celery"))["jobs"]["test"]
    assert set(test["services"]) == {"postgres", "redis"}
    for service in test["services"].values():
        assert re.fullmatch(r"[a-z]+:\d[\w.-]*", service["image"]), service["image"]
        assert "--health-cmd" in service["options"]
    assert test["env"] == {
        "DATABASE_URL": "postgresql://postgres@localhost:5432/test",
        "REDIS_URL": "redis://localhost:6379/0",
    }


@pytest.mark.parametrize(
    ("name", "job", "expected"),
    [
        ("fastapi-postgres", "build", {"uses": "actions/cache@", "key": "uv.lock"}),
        ("django-celery", "build", {"uses": "actions/setup-python@", "cache": "pip"}),
        ("express", "build", {"uses": "actions/setup-node@", "cache": "npm"}),
        ("nextjs", "build", {"uses": "actions/cache@", "key": "pnpm-lock.yaml"}),
        ("go-api", "build", {"uses": "actions/setup-go@", "cache-dependency-path": "go.mod"}),
        ("spring-boot-maven", "build", {"uses": "actions/setup-java@", "cache": "maven"}),
        ("monorepo", "build-api", {"uses": "actions/setup-python@", "cache": "poetry"}),
        (
            "monorepo",
            "build-web",
            {"uses": "actions/setup-node@", "cache-dependency-path": "apps/web/package-lock.json"},
        ),
    ],
)
def test_dependency_caching(name: str, job: str, expected: dict[str, str]) -> None:
    steps = _workflow(sample_plan(name))["jobs"][job]["steps"]
    prefix = expected.pop("uses")
    step = next(s for s in steps if s.get("uses", "").startswith(prefix))
    for key, value in expected.items():
        assert value in str(step["with"][key]), (key, step["with"])


def test_toolchain_runs_the_components_commands_at_their_version() -> None:
    build = _workflow(sample_plan("nextjs"))["jobs"]["build"]
    node = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/setup-node@"))
    assert node["with"]["node-version"] == "22"
    runs = [s.get("run", "") for s in build["steps"]]
    assert "pnpm install --frozen-lockfile" in runs
    assert "pnpm run lint" in runs and "pnpm run build" in runs
    test = _workflow(sample_plan("nextjs"))["jobs"]["test"]
    assert any("::warning title=No tests::" in s.get("run", "") for s in test["steps"])
    go = _workflow(sample_plan("go-api"))["jobs"]["build"]
    assert "go build ./..." in [s.get("run") for s in go["steps"]]  # not -o /app/… outside the workspace


def test_monorepo_builds_and_tests_only_changed_components_on_pull_requests() -> None:
    jobs = _workflow(sample_plan("monorepo"))["jobs"]
    changes = jobs["changes"]
    assert changes["permissions"] == {"contents": "read"}
    script = changes["steps"][-1]["run"]
    assert "mark api '^(services/api/|\\.github/workflows/ci-cd\\.yml$)'" in script
    assert 'echo "api=true"' in script  # pushes to main: everything
    for unit in ("api", "web"):
        assert jobs[f"build-{unit}"]["if"] == f"needs.changes.outputs.{unit} == 'true'"
        assert jobs[f"test-{unit}"]["if"] == f"needs.changes.outputs.{unit} == 'true'"
    assert jobs[f"test-{unit}"]["needs"] == ["changes"]  # not the build: the two run side by side
    assert "needs" not in jobs["security-scan"] and "if" not in jobs["security-scan"]
    assert jobs["package-api"]["needs"] == ["build-api", "test-api", "security-scan", "sast"]


def test_imperative_deploy_uses_oidc_and_undoes_a_failed_rollout() -> None:
    deploy = _workflow(sample_plan("fastapi-postgres"))["jobs"]["deploy-prod"]
    runs = "\n".join(s.get("run", "") for s in deploy["steps"])
    assert "audience=kubernetes" in runs and "--exec-interactive-mode=Never" in runs
    connect = next(s for s in deploy["steps"] if s.get("id") == "connect")
    assert connect["env"] == {
        "KUBE_API_SERVER": "${{ vars.KUBE_API_SERVER }}",
        "KUBE_CA_DATA": "${{ vars.KUBE_CA_DATA }}",
    }
    assert 'kustomize edit set image fastapi-postgres="${IMAGE_FASTAPI_POSTGRES}"' in runs
    migrate = next(s for s in deploy["steps"] if s["name"] == "Run database migrations")
    assert "--for=condition=Complete" in migrate["run"]
    names = [s["name"] for s in deploy["steps"]]
    assert names.index("Run database migrations") < names.index("Apply the prod overlay")
    undo = deploy["steps"][-1]
    assert undo["if"] == "failure() && steps.rollout.outcome == 'failure'"
    assert 'rollout undo deployment "$1"' in undo["run"]


def test_verify_rolls_back_and_fails() -> None:
    verify_job = _workflow(sample_plan("go-api"))["jobs"]["verify"]
    rollback = verify_job["steps"][-1]
    assert rollback["if"] == "failure() && steps.connect.outcome == 'success'"
    assert 'undo api "${IMAGE_API}"' in rollback["run"] and 'undo worker "${IMAGE_API}"' in rollback["run"]
    assert rollback["run"].rstrip().endswith("exit 1")
    probe = next(s for s in verify_job["steps"] if s["name"].startswith("Probe"))
    assert "check https://go-api.example.com/healthz" in probe["run"]


def test_gitops_commits_digests_and_reverts_on_failure() -> None:
    jobs = _workflow(sample_plan("fastapi-postgres", gitops=True))["jobs"]
    deploy = jobs["deploy-prod"]
    publish = next(s for s in deploy["steps"] if s.get("id") == "publish")
    assert "[skip ci]" in publish["run"] and "git push" in publish["run"]
    assert "kubectl apply" not in "\n".join(s.get("run", "") for s in deploy["steps"])
    assert deploy["outputs"] == {"commit": "${{ steps.publish.outputs.commit }}"}
    rollback = jobs["verify"]["steps"][-1]
    assert 'git revert --no-commit "${DEPLOY_COMMIT}"' in rollback["run"]
    assert jobs["verify"]["env"]["DEPLOY_COMMIT"] == "${{ needs.deploy-prod.outputs.commit }}"
    assert rollback["run"].rstrip().endswith("exit 1")


def test_integration_test_smokes_each_web_host() -> None:
    job = _workflow(sample_plan("monorepo"))["jobs"]["integration-test"]
    script = job["steps"][0]["run"]
    assert "check https://monorepo.staging.example.com/" in script  # the static site
    assert "check https://api.monorepo.staging.example.com/healthz" in script
    assert "--retry-all-errors" in script


def test_pins_table_matches_the_verified_data() -> None:
    if not SHARED_PINS.exists():
        pytest.skip(f"{SHARED_PINS} is not beside this checkout")
    data = json.loads(SHARED_PINS.read_text(encoding="utf-8"))
    assert data["generated"].startswith(PINS_CHECKED)
    for action, pin in PINS.items():
        assert data["actions"][action]["sha"] == pin.sha, action
        assert data["actions"][action]["tag"] == pin.tag, action

"""Every CI platform from one plan: the same stages with their failure policies on each,
the mechanism table `deploysmith plan` states, the kit each `--ci` writes, the one-time
setup DEPLOYMENT.md gives, and the platform-neutral toolchains."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from deploysmith.cli import main
from deploysmith.model import Component, Requirements, Stack
from deploysmith.plan import build_plan
from deploysmith.plan.gates import MECHANISMS, PLATFORM_NAMES
from deploysmith.plan.pipeline import STAGE_ORDER
from deploysmith.plan.requirements import CI_PLATFORMS
from deploysmith.render import CI_RENDERERS, RENDERERS, ci_common, docs, render_kit
from tests.render.ci_cases import ENV_SETS, matrix_plan
from tests.sample_plans import STACKS, sample_plan

PATHS = {
    "github": ".github/workflows/ci-cd.yml",
    "gitlab": ".gitlab-ci.yml",
    "azure": "azure-pipelines.yml",
    "jenkins": "Jenkinsfile",
    "circleci": ".circleci/config.yml",
}
OTHERS = ("gitlab", "azure", "jenkins", "circleci")


def test_every_platform_has_a_mechanism_for_every_stage() -> None:
    assert set(MECHANISMS) == set(CI_PLATFORMS) == set(CI_RENDERERS) == set(PLATFORM_NAMES)
    for platform, table in MECHANISMS.items():
        assert list(table) == list(STAGE_ORDER), platform
        assert all(text and not text.endswith(".") for text in table.values()), platform


def _prose(text: str) -> str:
    """Comment text of a pipeline file, as one line of words."""
    lines = [re.sub(r"^\s*(#|//) ?", "", line) for line in text.splitlines() if re.match(r"^\s*(#|//)", line)]
    return " ".join(" ".join(lines).split())


@pytest.mark.parametrize("platform", OTHERS)
@pytest.mark.parametrize("env_id", sorted(ENV_SETS))
@pytest.mark.parametrize("gitops", [False, True], ids=["imperative", "gitops"])
def test_each_stage_states_its_policy_and_mechanism(platform: str, env_id: str, gitops: bool) -> None:
    for name in STACKS:
        plan = matrix_plan(f"{name}-{'gitops' if gitops else 'imperative'}-{env_id}")
        (rendered,) = RENDERERS[CI_RENDERERS[platform]].render(plan)
        assert rendered.path == PATHS[platform]
        prose = _prose(rendered.content)
        ctx = ci_common.Context.of(plan)
        for stage in plan.stages:
            stated = f"Stage {stage.name} ({stage.failure_policy})" in prose
            assert stated is ctx.rendered(stage.id), (platform, name, stage.id)
            if stated:
                assert " ".join(f"Here: {MECHANISMS[platform][stage.id]}.".split()) in prose, (
                    platform,
                    stage.id,
                )


@pytest.mark.parametrize("platform", CI_PLATFORMS)
def test_plan_states_how_each_policy_is_enforced(platform: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "examples/express", "--yes", "--ci", platform]) == 0
    printed = capsys.readouterr().out
    for stage_id, mechanism in MECHANISMS[platform].items():
        stage = sample_plan("express").stage(stage_id)
        assert f"gate {stage.name}: {stage.failure_policy}" in printed
        assert f"why: {PLATFORM_NAMES[platform]}: {mechanism}." in printed


@pytest.mark.parametrize("platform", CI_PLATFORMS)
def test_the_kit_holds_the_chosen_platforms_pipeline_only(platform: str) -> None:
    files = {f.path: f for f in render_kit(sample_plan("express", ci=platform))}
    assert PATHS[platform] in files
    assert not (set(PATHS.values()) - {PATHS[platform]}) & set(files)
    deployment = files["docs/deploy/DEPLOYMENT.md"].content
    assert f"`{PATHS[platform]}`: the pipeline above" in deployment


SETUP_WORDS = {
    "github": ("Settings → Environments", "required reviewers", "production-verify"),
    "gitlab": ("Protected environments", "deployment_tier", "id_tokens", "Pipelines must succeed"),
    "azure": ("Approvals", "Exclusive lock", "variable groups", "workload identity federation"),
    "jenkins": ("credentials", "`kubeconfig-production`", "`deployers`", "input", "platform's limit"),
    "circleci": ("Contexts", "security group", "`type: approval`", "oidc.circleci.com"),
}


@pytest.mark.parametrize("platform", CI_PLATFORMS)
def test_deployment_doc_gives_the_platforms_one_time_setup(platform: str) -> None:
    (deployment, *_) = docs.render(sample_plan("fastapi-postgres", ci=platform, gitops=True))
    setup = deployment.content.split("## One-time setup", 1)[1].split("## What is in the kit", 1)[0]
    for words in SETUP_WORDS[platform]:
        assert words in setup, (platform, words)
    assert "Install Argo CD" in setup and "ingress controller" in setup
    if platform != "github":
        assert "token.actions.githubusercontent.com" not in setup


def test_registry_decision_follows_the_platform() -> None:
    def registry(**requirements: object) -> tuple[str, str]:
        decision = next(d for d in sample_plan("express", **requirements).decisions if d.topic == "registry")
        return decision.choice, decision.reason

    assert registry(ci="github")[0] == "ghcr.io/acme/express"
    assert registry(ci="gitlab") == (
        "$CI_REGISTRY_IMAGE",
        "GitLab container registry of the project: the pipeline pushes with the job's own short-lived "
        "CI_JOB_TOKEN, no stored credentials",
    )
    choice, reason = registry(ci="circleci")
    assert choice == "ghcr.io/acme/express" and "the registry context" in reason
    assert registry(ci="jenkins", registry="registry.example.com")[0] == "registry.example.com"


POLYGLOT = Stack(
    root="/work/tools",
    components=(
        Component(
            name="py",
            path="py",
            kind="web",
            language="python",
            package_manager="pipenv",
            port=8000,
            dependency_files=("Pipfile", "Pipfile.lock"),
        ),
        Component(
            name="rb",
            path="rb",
            kind="web",
            language="ruby",
            package_manager="bundler",
            port=3000,
            dependency_files=("Gemfile", "Gemfile.lock"),
        ),
        Component(
            name="php",
            path="php",
            kind="web",
            language="php",
            package_manager="composer",
            port=8080,
            test_command="php artisan test",
            dependency_files=("composer.json", "composer.lock"),
        ),
        Component(
            name="net",
            path="net",
            kind="web",
            language="csharp",
            package_manager="nuget",
            port=8080,
            dependency_files=("Api.csproj", "packages.lock.json"),
        ),
        Component(
            name="rs",
            path="rs",
            kind="web",
            language="rust",
            package_manager="cargo",
            port=8080,
            dependency_files=("Cargo.toml", "Cargo.lock"),
        ),
        Component(
            name="kt",
            path="kt",
            kind="web",
            language="kotlin",
            package_manager="gradle",
            port=8080,
            test_command="./gradlew test",
            dependency_files=("build.gradle.kts", "settings.gradle.kts"),
        ),
        Component(
            name="bun",
            path="bun",
            kind="web",
            language="typescript",
            package_manager="bun",
            port=3000,
            test_command="bun test",
            dependency_files=("package.json", "bun.lock"),
        ),
        Component(
            name="yarn",
            path="yarn",
            kind="static",
            language="typescript",
            package_manager="yarn",
            build_command="yarn build",
            build_output="dist",
            dependency_files=("package.json", "yarn.lock"),
        ),
    ),
)


def test_toolchains_cache_on_the_lock_file_and_report_tests() -> None:
    ctx = ci_common.Context.of(build_plan(POLYGLOT, Requirements()))
    expected = {
        "py": ("pipenv", "py/Pipfile.lock"),
        "rb": ("bundle", "rb/Gemfile.lock"),
        "php": ("composer", "php/composer.lock"),
        "net": ("nuget", "net/packages.lock.json"),
        "rs": ("cargo", "rs/Cargo.lock"),
        "kt": ("gradle", "kt/build.gradle.kts"),
        "bun": ("bun", "bun/bun.lock"),
        "yarn": ("yarn", "yarn/yarn.lock"),
    }
    for unit in ctx.units:
        toolchain = ci_common.toolchain(unit)
        name, lock = expected[unit.label]
        assert (toolchain.caches[0].name, toolchain.caches[0].key_files[0]) == (name, lock), unit.label
        assert toolchain.image, unit.label
    reports = {unit.label: [run.reports for run in ci_common.test_runs(unit)] for unit in ctx.units}
    assert reports["php"] == ["reports/junit/php-artisan-test.xml"]
    assert reports["kt"] == ["build/test-results/test/TEST-*.xml"]
    assert reports["bun"] == ["reports/junit/bun-test.xml"]


def test_go_tests_write_junit_through_gotestsum() -> None:
    unit = ci_common.Context.of(sample_plan("go-api")).units[0]
    (run,) = ci_common.test_runs(unit)
    assert (
        run.command
        == f"go run {ci_common.GOTESTSUM} --format testname --junitfile reports/junit/go-test.xml -- ./..."
    )


def test_the_platform_table_in_the_docs_is_the_mechanism_table() -> None:
    from deploysmith.plan.gates import markdown_table
    from deploysmith.plan.pipeline import plan_stages

    page = (Path(__file__).resolve().parents[2] / "docs" / "ci-platforms.md").read_text(encoding="utf-8")
    assert markdown_table(plan_stages(Requirements())) in page


@pytest.mark.parametrize("platform", OTHERS)
@pytest.mark.parametrize("example", ["fastapi-postgres", "express"])
@pytest.mark.parametrize(
    "variant",
    [["--yes"], ["--yes", "--gitops", "--env", "dev", "--env", "prod"]],
    ids=["default", "gitops-dev-prod"],
)
def test_init_writes_a_kit_verify_accepts(
    platform: str, example: str, variant: list[str], tmp_path: Path
) -> None:
    """`deploysmith init --ci <platform>` end to end: the kit's own verify gate (the audit rules,
    error level) accepts what the renderer wrote, and a second run changes nothing."""
    repo = tmp_path / example
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / example, repo)
    assert main(["init", str(repo), "--ci", platform, *variant]) == 0
    assert (repo / PATHS[platform]).is_file()
    assert not (repo / PATHS["github"]).exists()
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    assert main(["init", str(repo), "--ci", platform, *variant]) == 0
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("platform", CI_PLATFORMS)
def test_the_detected_platform_is_the_default(platform: str) -> None:
    from dataclasses import replace

    from deploysmith.plan.requirements import defaults

    stack = replace(STACKS["express"], ci_platform=platform)
    requirements, sources = defaults(stack)
    assert requirements.ci == platform
    assert sources["ci"] == "detected"

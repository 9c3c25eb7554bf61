"""`deploysmith init --packaging helm|plain` on every example app, judged by the field's tools:
actionlint (with shellcheck) on the workflow, Helm's own engine (helm-python-sdk: lint and
template per environment) on the chart, shellcheck on the deploy and rollback scripts every
CI platform shares, and the kit's own audit (`kubernetes-validate --strict` runs on every
example's chart and manifests in tests/render/test_helm.py and test_plain.py). A focused
companion of test_kit_judges.py (which covers the Kustomize kits): only what packaging
changes is judged again."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploysmith.cli import main
from deploysmith.render import ci_common, helm
from tests.sample_plans import sample_plan

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").iterdir() if p.is_dir())
KUBERNETES_VERSION = "1.34.0"
DIGEST = "sha256:" + "ef" * 32
PACKAGINGS = ("helm", "plain")
BASELINE = "kustomize"  # the default kit, judged in full by test_kit_judges.py

pytestmark = pytest.mark.judges


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return path


@pytest.fixture(scope="module")
def kits(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    built: dict[tuple[str, str], Path] = {}
    for packaging in (*PACKAGINGS, BASELINE):
        for example in EXAMPLES:
            repo = tmp_path_factory.mktemp(packaging) / example
            shutil.copytree(ROOT / "examples" / example, repo)
            subprocess.run(["git", "init", "-q", str(repo)], check=True)
            subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", f"https://github.com/acme/{example}.git"],
                           check=True)
            assert main(["init", str(repo), "--yes", "--packaging", packaging, "--domain", "shop.example.org"]) == 0
            built[packaging, example] = repo
    return built


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("packaging", PACKAGINGS)
def test_workflows_pass_actionlint_with_shellcheck(packaging: str, kits: dict[tuple[str, str], Path]) -> None:
    actionlint, shellcheck = tool("actionlint"), tool("shellcheck")
    for example in EXAMPLES:
        result = run(actionlint, "-no-color", "-shellcheck", shellcheck, cwd=kits[packaging, example])
        assert result.returncode == 0, f"{example}: {result.stdout}{result.stderr}"


def _findings(kit: Path, capsys: pytest.CaptureFixture[str]) -> set[tuple[str, str]]:
    capsys.readouterr()
    main(["audit", str(kit), "--format", "json", "--fail-on", "info"])
    return {(f["rule"], f["path"]) for f in json.loads(capsys.readouterr().out)["findings"]}


@pytest.mark.parametrize("packaging", PACKAGINGS)
def test_the_kits_own_audit_finds_nothing_the_kustomize_kit_does_not(
    packaging: str, kits: dict[tuple[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for example in EXAMPLES:
        found = _findings(kits[packaging, example], capsys)
        assert found <= _findings(kits[BASELINE, example], capsys), example


def _values(chart: Path, env: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((chart / f"values-{env}.yaml").read_text())
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    values["image"] = {name: {"digest": DIGEST} for name in defaults["image"]}
    return values


def test_charts_lint_and_render_for_every_environment(kits: dict[tuple[str, str], Path]) -> None:
    """Strict validation of what the charts render is in tests/render/test_helm.py (every
    example's plan, one kubernetes-validate run); here the chart written by `init` itself."""
    helm_python = pytest.importorskip("helm_python")
    for example in EXAMPLES:
        kit = kits["helm", example]
        chart = kit / helm.CHART_DIR
        envs = sorted(path.stem.removeprefix("values-") for path in chart.glob("values-*.yaml"))
        assert envs
        with helm_python.Chart.load(str(chart)) as loaded:
            for env in envs:
                values = _values(chart, env)
                report = helm_python.lint(str(chart), values, strict=True, kube_version=f"v{KUBERNETES_VERSION}")
                assert report["errors"] == [] and all(m["severity"] < 2 for m in report["messages"]), report
                out = loaded.render(values, name=loaded.name, namespace=f"{example}-{env}", is_install=True)
                assert any(key.endswith("/deployment.yaml") for key in out), sorted(out)
                assert (kit / helm.namespace_file(env)).is_file()


@pytest.mark.parametrize("packaging, strategy", [("helm", "auto"), ("helm", "canary"), ("plain", "auto")])
def test_shared_deploy_and_rollback_scripts_pass_shellcheck(packaging: str, strategy: str, tmp_path: Path) -> None:
    """What GitLab, Azure, Jenkins and CircleCI run comes from ci_common; check it directly."""
    shellcheck = tool("shellcheck")
    for app in ("django-celery", "go-api"):
        plan = sample_plan(app, packaging=packaging, strategy=strategy, domain="shop.example.org")
        ctx = ci_common.Context.of(plan)
        for env in ctx.plan.environments:
            lines = [*ci_common.deploy_lines(ctx, env), *ci_common.undo_lines(ctx)]
            script = tmp_path / f"{app}-{env.name}.sh"
            script.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + "\n".join(lines) + "\n")
            result = run(shellcheck, "--severity=style", "--exclude=SC2154", str(script))
            assert result.returncode == 0, f"{app} {env.name}: {result.stdout}"

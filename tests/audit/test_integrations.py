"""The pre-commit hook definition and the GitHub Action ship valid metadata: checked against
their SchemaStore schemas, with actionlint on a workflow that uses the action, and shellcheck
on the action's scripts. No `${{ }}` expression is expanded inside a script."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT.parent / "shared" / "schemas" / "schemastore"
PINS = ROOT.parent / "shared" / "data" / "action-pins.json"
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")
_CONTEXTS = ("inputs.", "github.", "runner.", "steps.", "env.")


def load(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def schema(name: str) -> Any:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def test_pre_commit_hook_is_valid() -> None:
    hooks = load(".pre-commit-hooks.yaml")
    jsonschema.validate(hooks, schema("pre-commit-hooks.json"))
    (hook,) = hooks
    assert (hook["id"], hook["entry"], hook["language"], hook["pass_filenames"]) == (
        "deploysmith-audit",
        "deploysmith audit",
        "python",
        False,
    )


def test_action_is_valid_against_its_schema() -> None:
    jsonschema.validate(load("action.yml"), schema("github-action.json"))


def test_action_runs_audit_and_uploads_sarif_pinned_by_sha() -> None:
    action = load("action.yml")
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) >= {"path", "fail-on"}
    pins = json.loads(PINS.read_text(encoding="utf-8"))["actions"]
    steps = action["runs"]["steps"]
    uses = [step["uses"] for step in steps if "uses" in step]
    assert uses == [
        f"actions/setup-python@{pins['actions/setup-python']['sha']}",
        f"github/codeql-action/upload-sarif@{pins['github/codeql-action']['sha']}",
    ]
    scripts = "\n".join(step.get("run", "") for step in steps)
    assert (
        '"${ACTION_PATH}"' in scripts and "--format sarif" in scripts and '--fail-on "${FAIL_ON}"' in scripts
    )


def test_action_expands_no_expression_inside_a_script() -> None:
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    for step in load("action.yml")["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]
    for match in _EXPRESSION.finditer(text):
        expression = match.group(1).strip()
        names = re.findall(r"[A-Za-z_][\w.-]*", re.sub(r"'[^']*'", "", expression))
        for name in names:
            assert name.startswith(_CONTEXTS) or name in ("always", "true", "false"), expression


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


@pytest.mark.judges
def test_actionlint_accepts_a_workflow_that_uses_the_action(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # actionlint finds the project by .git
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    workflow = tmp_path / ".github" / "workflows" / "audit.yml"
    workflow.parent.mkdir(parents=True)
    checkout = json.loads(PINS.read_text(encoding="utf-8"))["actions"]["actions/checkout"]["sha"]
    workflow.write_text(
        "on: push\npermissions:\n  contents: read\n  security-events: write\njobs:\n  audit:\n"
        "    runs-on: ubuntu-24.04\n    timeout-minutes: 10\n    steps:\n"
        f"      - uses: actions/checkout@{checkout} # v7.0.1\n"
        "      - id: audit\n        uses: ./\n        with:\n          path: .\n          fail-on: warning\n"
        '      - run: echo "$CODE"\n        env:\n          CODE: ${{ steps.audit.outputs.exit-code }}\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [_tool("actionlint"), "-no-color"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    broken = workflow.read_text(encoding="utf-8").replace("fail-on: warning", "fail-level: warning")
    workflow.write_text(broken, encoding="utf-8")
    result = subprocess.run(
        [_tool("actionlint"), "-no-color"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1 and "fail-level" in result.stdout  # the judge reads action.yml


@pytest.mark.judges
def test_shellcheck_accepts_the_action_scripts(tmp_path: Path) -> None:
    for number, step in enumerate(load("action.yml")["runs"]["steps"]):
        if "run" not in step:
            continue
        script = tmp_path / f"step{number}.sh"
        script.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + step["run"], encoding="utf-8")
        result = subprocess.run(
            [_tool("shellcheck"), str(script)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout

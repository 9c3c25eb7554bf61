"""Compliance profiles in the rendered kit: for every profile and CI platform, each control the
profile promises is cited in COMPLIANCE.md at a file and line that really holds its marker;
one profile's COMPLIANCE.md is a golden file; the CI judges still pass on a compliance kit.

Regenerate the golden file with DEPLOYSMITH_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deploysmith.audit.engine import verify
from deploysmith.plan.compliance import PROFILES, SOD_MARKER, TICKET_MARKER
from deploysmith.render import render_kit
from deploysmith.render.compliance_docs import COMPLIANCE_DOC
from tests.sample_plans import sample_plan

GOLDEN = Path(__file__).parent / "golden" / "compliance"
UPDATE = os.environ.get("DEPLOYSMITH_UPDATE_GOLDEN") == "1"
PLATFORMS = ("github", "gitlab", "azure", "jenkins", "circleci")
CITATION = re.compile(r"\[([^\]:]+):(\d+)\]")


@functools.cache
def kit(profile: str, ci: str) -> dict[str, str]:
    plan = sample_plan("fastapi-postgres", ci=ci, compliance=profile, admission="kyverno", fail_on="medium")
    return {f.path: f.content for f in render_kit(plan)}


@pytest.mark.parametrize("ci", PLATFORMS)
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_control_is_cited_where_it_is_implemented(profile: str, ci: str) -> None:
    files = kit(profile, ci)
    doc = files[COMPLIANCE_DOC]
    rows = [line for line in doc.splitlines() if line.startswith("| ") and not line.startswith("| Control")]
    assert [row.split(" | ")[0][2:] for row in rows] == [c.id for c in PROFILES[profile].controls]
    assert "not in this kit" not in doc and "was not rendered" not in doc
    for row, control in zip(rows, PROFILES[profile].controls, strict=True):
        cited = CITATION.findall(row)
        markers = [e.marker for e in control.evidence]
        assert cited, row
        for path, line in cited:
            text = files[path].splitlines()[int(line) - 1]
            assert any(marker in text for marker in markers), (path, line, text)


@pytest.mark.parametrize("ci", PLATFORMS)
def test_compliance_kit_is_clean_and_changes_the_pipeline(ci: str) -> None:
    plan = sample_plan("fastapi-postgres", ci=ci, compliance="sox", admission="kyverno", fail_on="medium")
    files = render_kit(plan)
    assert verify(files) == ()
    pipeline = next(f.content for f in files if f.path in (
        ".github/workflows/ci-cd.yml", ".gitlab-ci.yml", "azure-pipelines.yml", "Jenkinsfile", ".circleci/config.yml"))
    assert TICKET_MARKER in pipeline and SOD_MARKER in pipeline
    assert 'if [[ ! "${ticket}" =~ ^${pattern}$ ]]; then' in pipeline


def test_default_kit_has_no_compliance_files() -> None:
    files = {f.path for f in render_kit(sample_plan("fastapi-postgres"))}
    assert not {COMPLIANCE_DOC, ".github/CODEOWNERS"} & files
    assert not any(path.startswith("deploy/policies/") for path in files)


def test_codeowners_guard_the_kit() -> None:
    assert kit("sox", "github")[".github/CODEOWNERS"].splitlines()[4:] == [
        "/.github/ @acme/release-managers",
        "/deploy/ @acme/release-managers",
        "/docs/deploy/ @acme/release-managers",
        "Dockerfile @acme/release-managers",
    ]


def test_golden_pci_dss_compliance_doc() -> None:
    text = kit("pci-dss", "github")[COMPLIANCE_DOC]
    golden = GOLDEN / "pci-dss-github-COMPLIANCE.md"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


@pytest.mark.judges
def test_github_judges_on_a_compliance_kit(tmp_path: Path) -> None:
    workflow = tmp_path / ".github" / "workflows" / "ci-cd.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(kit("pci-dss", "github")[".github/workflows/ci-cd.yml"])
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    lint = subprocess.run([_tool("actionlint"), "-no-color", "-shellcheck", _tool("shellcheck")],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    zizmor = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", "--format", "plain", ".github/workflows"],
                            cwd=tmp_path, capture_output=True, text=True, check=False)
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr


@pytest.mark.judges
@pytest.mark.parametrize(
    ("ci", "path", "schema", "extra"),
    [
        ("gitlab", ".gitlab-ci.yml", "vendor.gitlab-ci", []),
        ("azure", "azure-pipelines.yml", "vendor.azure-pipelines", ["--regex-variant", "python"]),
        ("circleci", ".circleci/config.yml", "vendor.circle-ci", []),
    ],
)
def test_schema_judges_on_a_compliance_kit(tmp_path: Path, ci: str, path: str, schema: str, extra: list[str]) -> None:
    target = tmp_path / Path(path).name
    target.write_text(kit("hipaa", ci)[path])
    result = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", schema, *extra, str(target)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

"""The Jenkins renderer: golden Jenkinsfiles, a structural check of the declarative sections
(pipeline / agent / options / stages / stage / steps / post nesting, every stage present, the
approval input), shellcheck over every `sh` script, the project's audit, and npm-groovy-lint
(a Groovy parser, on Node 22) with zero errors where it is installed.

Regenerate the golden files with DEPLOYSMITH_UPDATE_GOLDEN=1. npm-groovy-lint needs Node 22 or
later: set DEPLOYSMITH_NODE22 to such a `node` when the one on PATH is older.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deploysmith.render import ci_common as ci
from deploysmith.render import jenkins
from tests.render.ci_cases import (
    GOLDEN_CASES,
    MATRIX,
    audit_problems,
    check_golden,
    golden_plan,
    matrix_plan,
    only,
    shellcheck,
)
from tests.sample_plans import STACKS, sample_plan

SECTIONS = {"when", "agent", "options", "environment", "input", "steps", "post", "parallel", "tools"}
POST_CONDITIONS = {
    "always",
    "success",
    "failure",
    "unstable",
    "aborted",
    "changed",
    "fixed",
    "regression",
    "cleanup",
}


@dataclass
class Node:
    head: str
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # statements directly inside (not in a child block)

    def blocks(self, head: str) -> list[Node]:
        return [child for child in self.children if child.head == head]

    def block(self, head: str) -> Node:
        (found,) = self.blocks(head)
        return found


def parse(source: str) -> Node:
    """Braces outside comments and string literals, as a tree of blocks; each block's head is
    the statement text before its brace."""
    root = Node("")
    stack = [root]
    current = ""
    i = 0
    while i < len(source):
        if source.startswith("//", i):
            i = source.index("\n", i) if "\n" in source[i:] else len(source)
            continue
        for quote in ("'''", '"""', "'", '"'):
            if source.startswith(quote, i):
                j = i + len(quote)
                while not source.startswith(quote, j):
                    j += 2 if source[j] == "\\" else 1
                current += source[i : j + len(quote)]
                i = j + len(quote)
                break
        else:
            ch = source[i]
            if ch == "{":
                node = Node(" ".join(current.split()))
                stack[-1].children.append(node)
                stack.append(node)
                current = ""
            elif ch == "}":
                if current.strip():
                    stack[-1].text.append(current.strip())
                assert len(stack) > 1, "unbalanced braces"
                stack.pop()
                current = ""
            elif ch == "\n":
                if current.strip():
                    stack[-1].text.append(current.strip())
                current = ""
            else:
                current += ch
            i += 1
    assert len(stack) == 1, "unbalanced braces"
    return root


def _stages(stages: Node) -> list[Node]:
    """Leaf stages in order (parallel branches flattened; a branch without a `when` of its own
    runs under its parent's)."""
    found: list[Node] = []
    for stage in stages.children:
        assert stage.head.startswith("stage('"), stage.head
        if stage.blocks("parallel"):
            branches = _stages(stage.block("parallel"))
            for branch in branches:
                if stage.blocks("when") and not branch.blocks("when"):
                    branch.children.insert(0, stage.block("when"))
            found.extend(branches)
        else:
            found.append(stage)
    return found


def _name(stage: Node) -> str:
    match = re.match(r"stage\('(.*)'\)$", stage.head)
    assert match, stage.head
    return match.group(1)


def _all_text(node: Node) -> str:
    return "\n".join([*node.text, node.head, *(_all_text(child) for child in node.children)])


def _check_structure(source: str, case: str) -> None:
    plan = matrix_plan(case) if case in MATRIX else golden_plan(case)
    ctx = ci.Context.of(plan)
    (pipeline,) = parse(source).children
    assert pipeline.head == "pipeline"
    assert "agent none" in pipeline.text
    options = pipeline.block("options")
    assert any(t.startswith("timeout(") for t in options.text)
    assert "disableConcurrentBuilds()" in options.text
    assert any(t.startswith("buildDiscarder(") for t in options.text)
    stages = _stages(pipeline.block("stages"))
    names = [re.sub(r" \(.*\)$", "", _name(stage)) for stage in stages]
    expected = [s.name for s in ctx.stages]
    assert list(dict.fromkeys(names)) == expected, names
    for stage in stages:
        heads = {child.head for child in stage.children}
        assert heads <= SECTIONS, heads
        assert stage.blocks("steps"), _name(stage)
        assert any(t.startswith("timeout(") for t in stage.block("options").text), _name(stage)
        for post in stage.blocks("post"):
            assert {c.head for c in post.children} <= POST_CONDITIONS
        if _name(stage).endswith("(signatures)"):  # the signature check just before a deploy
            assert "branch 'main'" in stage.block("when").text, _name(stage)
            assert re.search(r"cosign:\S+ verify ", _all_text(stage.block("steps"))), _name(stage)
            continue
        plan_stage = next(s for s in ctx.stages if s.name == re.sub(r" \(.*\)$", "", _name(stage)))
        when = stage.blocks("when")
        if plan_stage.main_only:
            assert when and "branch 'main'" in when[0].text, _name(stage)
        if plan_stage.id in (
            "build",
            "test",
            "security-scan",
            "package",
            "deploy-staging",
            "integration-test",
            "deploy-prod",
            "verify",
        ):
            assert stage.blocks("agent"), _name(stage)
        if plan_stage.id == "test":
            assert "junit(" in _all_text(stage.block("post").block("always"))
        if plan_stage.id in ("deploy-staging", "deploy-prod", "verify"):
            failure = _all_text(stage.block("post").block("failure"))
            assert ("git revert" in failure) if ctx.gitops else ("rollout undo" in failure), _name(stage)
            assert "withCredentials(" in _all_text(stage.block("steps"))
        if plan_stage.id == "approval":
            assert not stage.blocks("agent")  # no executor held while waiting
            inputs = stage.block("input")
            assert any(t.startswith("submitter 'deployers'") for t in inputs.text)
            assert any(t.startswith("message ") for t in inputs.text)
            assert "beforeInput true" in stage.block("when").text
        else:
            assert not stage.blocks("input")
    assert sum(1 for child in pipeline.block("stages").children if child.blocks("parallel")) >= 1


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden(case: str) -> None:
    check_golden("jenkins", case, only(jenkins, golden_plan(case)), ".Jenkinsfile")


def test_rendering_is_deterministic() -> None:
    plan = sample_plan("monorepo", gitops=True)
    assert jenkins.render(plan) == jenkins.render(plan)


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_declarative_structure(case: str) -> None:
    _check_structure(only(jenkins, matrix_plan(case)).content, case)


def test_structure_check_catches_a_missing_stage() -> None:
    source = only(jenkins, sample_plan("express")).content
    broken = source.replace("stage('Verify')", "stage('Check')")
    with pytest.raises(AssertionError):
        _check_structure(broken, "express-imperative-all")
    with pytest.raises(AssertionError, match="unbalanced"):
        parse(source + "}\n{")


# -- one Package stage per image ---------------------------------------------------------------------


def _top(source: str) -> list[tuple[str, list[str]]]:
    """Top-level stages in order, each with its parallel branches."""
    (pipeline,) = parse(source).children
    return [
        (stage.head, [b.head for b in stage.block("parallel").children] if stage.blocks("parallel") else [])
        for stage in pipeline.block("stages").children
    ]


@pytest.mark.parametrize("gitops", [False, True])
def test_monorepo_packages_each_image_in_a_parallel_stage(gitops: bool) -> None:
    source = only(jenkins, sample_plan("monorepo", gitops=gitops)).content
    # Stages run in order: every Package branch starts after the whole check block, and every
    # stage after Package starts after both branches.
    assert _top(source) == [
        (
            "stage('Build, Test and Security Scan')",
            [
                "stage('Build (web)')",
                "stage('Build (api)')",
                "stage('Test (web)')",
                "stage('Test (api)')",
                "stage('Security Scan')",
                "stage('Security Scan (SAST)')",
            ],
        ),
        ("stage('Package')", ["stage('Package (web)')", "stage('Package (api)')"]),
        ("stage('Deploy Staging (signatures)')", []),
        ("stage('Deploy Staging')", []),
        ("stage('Integration Test')", []),
        ("stage('Approval')", []),
        ("stage('Deploy Prod (signatures)')", []),
        ("stage('Deploy Prod')", []),
        ("stage('Verify')", []),
    ]
    (pipeline,) = parse(source).children
    package = pipeline.block("stages").children[1]
    assert "branch 'main'" in package.block("when").text  # the branches run on main only
    for branch, (own, other, refs) in zip(
        package.block("parallel").children,
        [("IMAGE_WEB", "IMAGE_API", "image-refs-web.env"), ("IMAGE_API", "IMAGE_WEB", "image-refs-api.env")],
        strict=True,
    ):
        text = _all_text(branch)
        assert [t for t in _all_text(branch.block("steps")).splitlines() if t.startswith("env.")] == [
            f"env.{own} = sh(label: 'Read {own[6:].lower()} digest', returnStdout: true, "
            f"script: 'sed -n s/^{own}=//p {refs}').trim()"
        ]
        assert f"archiveArtifacts(artifacts: '{refs}')" in text
        assert other not in text  # builds, scans and signs its own image only
        assert branch.block("environment").text == ['DOCKER_CONFIG = "${WORKSPACE}/.docker-config"']
        assert branch.blocks("agent") and branch.blocks("post")


@pytest.mark.parametrize("name", sorted(set(STACKS) - {"monorepo"}))
def test_single_image_has_one_package_stage(name: str) -> None:
    source = only(jenkins, sample_plan(name)).content
    packages = [(head, branches) for head, branches in _top(source) if head.startswith("stage('Package")]
    assert packages == [("stage('Package')", [])]
    assert "archiveArtifacts(artifacts: 'image-refs.env')" in source
    assert "DOCKER_CONFIG = " not in source


@pytest.mark.parametrize("gitops", [False, True])
def test_every_deploy_receives_every_image(gitops: bool) -> None:
    plan = sample_plan("monorepo", gitops=gitops)
    (pipeline,) = parse(only(jenkins, plan).content).children
    stages = {_name(stage): stage for stage in pipeline.block("stages").children}
    for name in ("Deploy Staging (signatures)", "Deploy Staging", "Deploy Prod (signatures)", "Deploy Prod"):
        text = _all_text(stages[name].block("steps"))
        assert "${IMAGE_WEB}" in text and "${IMAGE_API}" in text, name
    assert "digests in image-refs-*.env" in _all_text(stages["Approval"])


def test_polyglot_commit_stage_stays_in_budget() -> None:
    """11 images: one Package stage each keeps the commit stage under 10 minutes (DS-PIPE-006),
    and the Jenkinsfile has no finding of its own."""
    from deploysmith.audit.engine import verify
    from deploysmith.render import render_kit
    from tests.render.test_github_actions import polyglot_plan

    findings = verify(render_kit(polyglot_plan(ci="jenkins")))
    assert [(f.rule, f.message) for f in findings if f.path == jenkins.PATH] == []


_SCRIPT = re.compile(r"script: '''(.*?)\n'''\)", re.S)


def _scripts(source: str) -> list[str]:
    return [
        m.group(1).replace("\\'\\'\\'", "'''").replace("\\\\", "\\") + "\n" for m in _SCRIPT.finditer(source)
    ]


@pytest.mark.judges
def test_shellcheck_every_script(tmp_path: Path) -> None:
    scripts = {
        f"{case} #{index}": text
        for case in MATRIX
        for index, text in enumerate(_scripts(only(jenkins, matrix_plan(case)).content))
    }
    assert len(scripts) > 500
    assert all(text.startswith("#!") for text in scripts.values())
    assert shellcheck(scripts, tmp_path) == {}


def test_no_groovy_interpolation_reaches_a_script() -> None:
    for case in MATRIX:
        source = only(jenkins, matrix_plan(case)).content
        assert 'sh("' not in source and 'script: "' not in source, case


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_audit_finds_no_gap(case: str) -> None:
    assert audit_problems(jenkins.render(matrix_plan(case)), case.endswith("-all")) == []


# -- npm-groovy-lint ------------------------------------------------------------------------------------


def _node22() -> str:
    candidates = [os.environ.get("DEPLOYSMITH_NODE22", ""), shutil.which("node") or ""]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            version = subprocess.run(
                [candidate, "--version"], capture_output=True, text=True, check=False
            ).stdout
        except OSError:
            continue
        match = re.match(r"v(\d+)", version)
        if match and int(match.group(1)) >= 22:
            return candidate
    pytest.skip("npm-groovy-lint needs Node.js 22 or later: set DEPLOYSMITH_NODE22 (npm install node@22)")


def _groovy_lint() -> str:
    found = shutil.which("npm-groovy-lint")
    if found is None:
        pytest.skip("npm-groovy-lint is not installed (npm install npm-groovy-lint)")
    return os.path.realpath(found)


@pytest.mark.judges
def test_npm_groovy_lint_finds_no_error(tmp_path: Path) -> None:
    node, lint = _node22(), _groovy_lint()
    java = shutil.which("java")
    if java is None:
        pytest.skip("npm-groovy-lint runs CodeNarc on Java, which is not installed")
    cases = ["express-prod-only", "fastapi-postgres-gitops", "monorepo"]
    for case in cases:
        folder = tmp_path / case
        folder.mkdir()
        (folder / "Jenkinsfile").write_text(only(jenkins, golden_plan(case)).content, encoding="utf-8")
    # Guards the judge: a Jenkinsfile with a brace missing must be an error.
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "Jenkinsfile").write_text(
        "pipeline {\n  agent any\n  stages {\n", encoding="utf-8"
    )
    result = subprocess.run(
        [node, lint, "--noserver", "--output", "json", "--files", "**/Jenkinsfile"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(result.stdout[result.stdout.index("{") :])
    errors = {
        Path(path).parent.name: [e for e in found["errors"] if e["severity"] == "error"]
        for path, found in report["files"].items()
    }
    assert errors.pop("broken"), "npm-groovy-lint accepted a broken Jenkinsfile"
    assert {case: found for case, found in errors.items() if found} == {}
    assert report["summary"]["totalFilesLinted"] == len(cases) + 1

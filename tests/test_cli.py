"""The command layer, through main(argv): exit codes, messages, and the spine end to end."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from deploysmith import cli
from deploysmith.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DEPLOYSMITH_UPDATE_GOLDEN") == "1"
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())


def copy_example(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(EXAMPLES / name, target)
    return target


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def check_golden(relative: str, actual: str) -> None:
    path = GOLDEN / relative
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
    assert path.exists(), f"golden file {relative} is missing: run with DEPLOYSMITH_UPDATE_GOLDEN=1"
    assert actual == path.read_text()


# -- detect / plan: the JSON contracts, as golden files ----------------------------------


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_detect_json_matches_golden(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detect", str(EXAMPLES / name), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["root"] == str(EXAMPLES / name)
    data["root"] = f"examples/{name}"
    check_golden(f"detect/{name}.json", json.dumps(data, indent=2) + "\n")


def test_detect_json_has_the_design_contract_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detect", str(EXAMPLES / "fastapi-postgres"), "--json"]) == 0
    component = json.loads(capsys.readouterr().out)["components"][0]
    contract = {
        "name", "path", "kind", "language", "language_version", "framework", "package_manager",
        "start_command", "port", "test_command", "build_command", "build_output", "services",
        "health_path", "evidence",
    }
    assert contract <= set(component)
    assert component["evidence"]["port"] == [
        {
            "file": "app/main.py",
            "line": 27,
            "text": 'uvicorn.run("app.main:app", host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))',
        }
    ]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_plan_json_matches_golden(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(EXAMPLES / name), "--format", "json", "--yes"]) == 0
    check_golden(f"plan/{name}.json", capsys.readouterr().out)


def test_plan_markdown_and_text_state_every_stage(capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("text", "markdown"):
        assert main(["plan", str(EXAMPLES / "express"), "--format", fmt, "--yes"]) == 0
        printed = capsys.readouterr().out
        for stage in ("Build", "Test", "Security Scan", "Package", "Deploy Staging", "Integration Test",
                      "Approval", "Deploy Prod", "Verify"):
            assert stage in printed


# -- init: write, idempotence, user edits, dry run -----------------------------------------


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_init_writes_the_kit_and_a_second_run_changes_no_byte(name: str, tmp_path: Path) -> None:
    repo = copy_example(name, tmp_path)
    before = snapshot(repo)
    assert main(["init", str(repo), "--yes"]) == 0
    first = snapshot(repo)
    written = sorted(set(first) - set(before))
    check_golden(f"kit/{name}.txt", "\n".join(written) + "\n")
    assert all(first[path] == content for path, content in before.items())  # the app is untouched
    mtimes = {p: (repo / p).stat().st_mtime_ns for p in first}
    assert main(["init", str(repo), "--yes"]) == 0
    assert snapshot(repo) == first
    assert {p: (repo / p).stat().st_mtime_ns for p in first} == mtimes


def test_init_never_overwrites_a_user_edit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = copy_example("express", tmp_path)
    assert main(["init", str(repo), "--yes"]) == 0
    edited = (repo / "Dockerfile").read_text() + "# my change\n"
    (repo / "Dockerfile").write_text(edited)
    assert main(["init", str(repo), "--yes", "--domain", "shop.example.org"]) == 0
    assert (repo / "Dockerfile").read_text() == edited
    assert (repo / "Dockerfile.deploysmith-new").exists()
    err = capsys.readouterr().err
    assert "Dockerfile: edited since deploysmith wrote it; the new version is in Dockerfile.deploysmith-new" in err
    # Files the user did not touch take the new domain.
    assert "shop.example.org" in (repo / "deploy/overlays/prod/express.yaml").read_text()


def test_dry_run_prints_the_diff_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = copy_example("go-api", tmp_path)
    before = snapshot(repo)
    assert main(["init", str(repo), "--yes", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert snapshot(repo) == before
    assert "--- /dev/null\n+++ b/Dockerfile\n" in printed
    assert "+++ b/.github/workflows/ci-cd.yml\n" in printed


def test_the_written_kit_passes_verification(tmp_path: Path) -> None:
    from deploysmith.audit import audit_repo
    from deploysmith.repo import Repo

    repo = copy_example("django-celery", tmp_path)
    assert main(["init", str(repo), "--yes"]) == 0
    findings = [f for f in audit_repo(Repo.open(repo)) if f.severity in ("error", "warning")]
    assert findings == []


def test_requirements_come_from_deploysmith_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = copy_example("express", tmp_path)
    (repo / "deploysmith.yaml").write_text("environments: [dev, prod]\ndomain: shop.example.org\n")
    assert main(["plan", str(repo), "--format", "json", "--yes"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["requirements"]["environments"] == ["dev", "prod"]
    assert plan["requirements"]["sources"]["domain"] == "deploysmith.yaml"
    assert [env["host"] for env in plan["environments"]] == ["express.dev.shop.example.org", "express.shop.example.org"]


def test_prompts_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    # environments, ci, registry, domain, zero_downtime, migrations, compliance, gitops, strategy
    answers = "\n".join(["dev,prod", "", "", "shop.example.org", "", "", "", "", ""]) + "\n"
    monkeypatch.setattr(sys, "stdin", Terminal(answers))
    repo = copy_example("express", tmp_path)
    assert main(["plan", str(repo), "--format", "json"]) == 0
    captured = capsys.readouterr()
    plan = json.loads(captured.out)
    assert plan["requirements"]["environments"] == ["dev", "prod"]
    assert plan["requirements"]["domain"] == "shop.example.org"
    assert plan["requirements"]["sources"]["domain"] == "prompt"
    assert "Public domain for the ingress hosts" in captured.err


def test_no_prompt_without_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["plan", str(EXAMPLES / "express"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["requirements"]["sources"]["domain"] == "default"


# -- bad input: one line, exit 2, nothing written ------------------------------------------


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("deploysmith: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_a_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "nope"), "--yes"]) == 2
    assert _one_line_error(capsys) == f"deploysmith: error: {tmp_path / 'nope'}: no such directory; check the path"


def test_a_file_instead_of_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("x")
    assert main(["detect", str(tmp_path / "f")]) == 2
    assert "not a directory" in _one_line_error(capsys)


def test_an_empty_folder_has_nothing_to_deploy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path), "--yes"]) == 2
    assert "no deployable component found" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_deploysmith_yaml_stops_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = copy_example("express", tmp_path)
    (repo / "deploysmith.yaml").write_text("domain: [oops\n")
    before = snapshot(repo)
    assert main(["init", str(repo), "--yes"]) == 2
    assert _one_line_error(capsys).startswith("deploysmith: error: deploysmith.yaml:2: malformed YAML")
    assert snapshot(repo) == before


def test_bad_flags_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--env", "qa"]) == 2
    assert "invalid choice: 'qa'" in _one_line_error(capsys)
    assert main(["frobnicate"]) == 2
    _one_line_error(capsys)


def test_hostile_files_give_warnings_not_tracebacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = copy_example("express", tmp_path)
    (repo / "blob.bin").write_bytes(b"\x00\x01" * 100)
    (repo / "src/app.js").write_bytes(b"\x00binary where source was expected")
    (repo / "Procfile").write_bytes(b"web: node src/server.js\n" + b"#" * (50 * 1024 * 1024))
    os.symlink("loop", repo / "loop")
    os.symlink(repo, repo / "self")  # a folder link back to the root
    (repo / os.fsdecode(b"caf\xe9.txt")).write_text("latin-1 name")
    assert main(["detect", str(repo), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["components"][0]["framework"] == "express"
    assert "src/app.js: binary content where text was expected; skipped" in data["warnings"]
    assert "Procfile: 50 MB is larger than the 1 MB read limit; skipped" in data["warnings"]
    assert any("file name is not valid UTF-8" in warning for warning in data["warnings"])


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(path: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_detect_stack", interrupted)
    assert main(["detect", "."]) == 130
    assert capsys.readouterr().err == "deploysmith: interrupted\n"


def test_a_bug_exits_3_with_a_log(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(path: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_detect_stack", broken)
    assert main(["detect", "."]) == 3
    err = capsys.readouterr().err
    assert err.startswith(
        "deploysmith: internal error (a bug in deploysmith, not in your repository); details written to "
    )
    log = Path(err.strip().rsplit(" ", 1)[-1])
    assert "RuntimeError: boom" in log.read_text()
    log.unlink()


def test_init_refuses_a_link_that_leads_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = copy_example("express", tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, repo / "deploy")
    assert main(["init", str(repo), "--yes"]) == 2
    assert "deploy" in _one_line_error(capsys)
    assert list(outside.iterdir()) == []
    assert not (repo / "Dockerfile").exists()  # nothing of the kit was written


def test_a_kit_that_fails_verification_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from deploysmith import render
    from deploysmith.model import RenderedFile

    real = render.render_kit

    def with_a_root_dockerfile(plan: object) -> tuple[RenderedFile, ...]:
        files = real(plan)  # type: ignore[arg-type]
        return tuple(
            RenderedFile(f.path, "FROM python:3.13-slim-trixie\nCMD [\"python\", \"-V\"]\n")
            if f.path == "Dockerfile" else f
            for f in files
        )

    monkeypatch.setattr(render, "render_kit", with_a_root_dockerfile)
    repo = copy_example("fastapi-postgres", tmp_path)
    before = snapshot(repo)
    assert main(["init", str(repo), "--yes"]) == 1
    err = capsys.readouterr().err
    assert (
        "Dockerfile:1: error: the final stage has no USER, so the container runs as root; add `USER <uid>` "
        "(a numeric non-root uid such as 10001) after the last package install [DS-DOCKER-001]\n"
    ) in err
    assert "the rendered kit failed verification (1 error(s)); nothing was written" in err
    assert snapshot(repo) == before

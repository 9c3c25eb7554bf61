"""Path safety: the writer never writes outside the repository, into .git, or through links."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from deploysmith.errors import DeploysmithError
from deploysmith.model import RenderedFile
from deploysmith.write import WriteResult, plan_changes, read_lock
from deploysmith.write.paths import check_path

Run = Callable[..., WriteResult]
Snapshot = Callable[[Path], dict[str, tuple[bytes, int, int]]]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../evil", "../evil: '..' would leave the repository; use a path inside it"),
        ("deploy/../../evil", "deploy/../../evil: '..' would leave the repository; use a path inside it"),
        ("/etc/passwd", "/etc/passwd: absolute path; output paths must be relative to the repository root"),
        ("./Dockerfile", "./Dockerfile: not a normalised path; write it as 'Dockerfile'"),
        ("deploy//app.yaml", "deploy//app.yaml: not a normalised path; write it as 'deploy/app.yaml'"),
        ("deploy/", "deploy/: not a normalised path; write it as 'deploy'"),
        (
            ".git/hooks/pre-commit",
            ".git/hooks/pre-commit: inside .git/; deploysmith never writes git's own files",
        ),
        ("sub/.GIT/config", "sub/.GIT/config: inside .git/; deploysmith never writes git's own files"),
        ("C:/x", "C:/x: use a posix path relative to the repository root (no '\\', no drive)"),
        (
            "deploy\\app.yaml",
            "deploy\\app.yaml: use a posix path relative to the repository root (no '\\', no drive)",
        ),
        ("", "'': not a usable file path; check the configured output paths"),
    ],
)
def test_unsafe_paths_are_refused_with_one_line(path: str, message: str) -> None:
    with pytest.raises(DeploysmithError) as caught:
        check_path(path)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    "path", ["Dockerfile", ".github/workflows/ci-cd.yml", "deploy/overlays/prod/kustomization.yaml"]
)
def test_kit_paths_are_accepted(path: str) -> None:
    check_path(path)


def test_dotdot_render_is_refused_and_nothing_written(
    repo: Path, run: Run, kit: tuple[RenderedFile, ...], snapshot: Snapshot
) -> None:
    with pytest.raises(DeploysmithError, match=r"^\.\./escape\.yaml: '\.\.' would leave the repository"):
        run((*kit, RenderedFile("../escape.yaml", "x\n")))

    assert snapshot(repo.parent) == {}


def test_symlinked_folder_leading_outside_is_refused_and_nothing_written(
    repo: Path, tmp_path: Path, run: Run
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "deploy").symlink_to(outside)

    with pytest.raises(DeploysmithError) as caught:
        run()

    assert str(caught.value) == (
        f"deploy/base/app.yaml: a folder on this path is a symlink that leads outside the repository "
        f"(to {outside.resolve()}/base); remove the link or choose another output path"
    )
    assert os.listdir(repo) == ["deploy"]
    assert list(outside.iterdir()) == []


def test_symlinked_folder_inside_the_repository_is_followed(
    repo: Path, run: Run, kit: tuple[RenderedFile, ...]
) -> None:
    (repo / "infra").mkdir()
    (repo / "deploy").symlink_to("infra")

    result = run()

    assert result.summary.created == ("Dockerfile", "deploy/base/app.yaml", "scripts/smoke.sh")
    assert (repo / "infra/base/app.yaml").read_text() == "kind: Deployment\n"


def test_symlinked_folder_into_git_is_refused(repo: Path, run: Run) -> None:
    (repo / ".git").mkdir()
    (repo / "deploy").symlink_to(".git")

    with pytest.raises(
        DeploysmithError, match=r"^deploy/base/app\.yaml: a folder on this path is a symlink into \.git/"
    ):
        run()

    assert sorted(os.listdir(repo)) == [".git", "deploy"]


def test_target_that_is_a_symlink_is_refused_even_inside(repo: Path, run: Run) -> None:
    (repo / "real").write_text("mine\n")
    (repo / "Dockerfile").symlink_to("real")

    with pytest.raises(DeploysmithError) as caught:
        run()

    assert str(caught.value) == (
        "Dockerfile: is a symlink; deploysmith does not write through links, replace it with a regular file"
    )
    assert (repo / "real").read_text() == "mine\n"
    assert sorted(os.listdir(repo)) == ["Dockerfile", "real"]


def test_symlinked_side_file_is_refused(repo: Path, run: Run, tmp_path: Path) -> None:
    (repo / "Dockerfile").write_text("user's\n")
    (repo / "Dockerfile.deploysmith-new").symlink_to(tmp_path / "elsewhere")

    with pytest.raises(DeploysmithError, match=r"^Dockerfile\.deploysmith-new: is a symlink"):
        run()

    assert not (tmp_path / "elsewhere").exists()


def test_lock_folder_symlinked_outside_is_refused(repo: Path, tmp_path: Path, run: Run) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / ".deploysmith").symlink_to(outside)

    with pytest.raises(
        DeploysmithError, match=r"^\.deploysmith/lock\.json: a folder on this path is a symlink"
    ):
        run()

    assert list(outside.iterdir()) == []


def test_folder_where_a_file_goes_is_refused(repo: Path, run: Run) -> None:
    (repo / "Dockerfile").mkdir()

    with pytest.raises(DeploysmithError, match=r"^Dockerfile: exists and is not a regular file"):
        run()


def test_duplicate_and_reserved_paths_are_refused(repo: Path) -> None:
    with pytest.raises(DeploysmithError, match=r"^a: two generated files share this path"):
        plan_changes(repo, (RenderedFile("a", "1"), RenderedFile("a", "2")), None)
    with pytest.raises(
        DeploysmithError, match=r"^\.deploysmith/lock\.json: reserved for deploysmith's own files"
    ):
        plan_changes(repo, (RenderedFile(".deploysmith/lock.json", "{}"),), None)
    with pytest.raises(DeploysmithError, match=r"^a\.deploysmith-new: reserved"):
        plan_changes(repo, (RenderedFile("a.deploysmith-new", ""),), None)


def test_stale_entry_that_became_a_link_is_reported_without_reading(
    repo: Path, tmp_path: Path, run: Run, kit: tuple[RenderedFile, ...]
) -> None:
    run()
    secret = tmp_path / "secret"
    secret.write_text("not deploysmith's\n")
    (repo / "deploy/base/app.yaml").unlink()
    (repo / "deploy/base/app.yaml").symlink_to(secret)

    changes = plan_changes(repo, kit[:1], read_lock(repo))

    assert [(c.kind, c.path, c.reason, c.current_sha256) for c in changes if c.kind == "stale"] == [
        ("stale", "deploy/base/app.yaml", "no longer generated; replaced by a link or folder", None),
        (
            "stale",
            "scripts/smoke.sh",
            "no longer generated",
            hashlib.sha256(b"#!/bin/sh\nexit 0\n").hexdigest(),
        ),
    ]

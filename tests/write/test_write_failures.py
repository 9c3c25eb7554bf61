"""No partial writes: a failure while staging or renaming leaves the repository as it was."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploysmith.errors import DeploysmithError
from deploysmith.model import RenderedFile
from deploysmith.write import WriteResult

Run = Callable[..., WriteResult]
Snapshot = Callable[[Path], dict[str, tuple[bytes, int, int]]]


def fail_on_call(
    number: int, real: Callable[..., Any], error: OSError, *, later_too: bool = False
) -> Callable[..., Any]:
    """`real`, except that call `number` (1-based) raises `error`, and later ones too if asked."""
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == number or (later_too and calls > number):
            raise error
        return real(*args, **kwargs)

    return wrapper


def everything(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*"))


def test_failure_while_creating_a_temp_file_leaves_nothing(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_space = OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(tempfile, "mkstemp", fail_on_call(3, tempfile.mkstemp, no_space))

    with pytest.raises(DeploysmithError) as caught:
        run()

    assert str(caught.value) == (
        "scripts/smoke.sh: could not write (No space left on device); check that its folder is writable "
        "and the disk has space; nothing was written"
    )
    # Staged temp files and the folders made for them are gone too.
    assert everything(repo) == []


def test_failure_while_writing_content_removes_that_temp_file_too(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "fsync", fail_on_call(2, os.fsync, OSError(errno.EIO, "Input/output error")))

    with pytest.raises(
        DeploysmithError, match=r"^deploy/base/app\.yaml: could not write \(Input/output error\)"
    ):
        run()

    assert everything(repo) == []


def test_failure_staging_the_lock_leaves_no_kit_file(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        tempfile, "mkstemp", fail_on_call(4, tempfile.mkstemp, OSError(errno.EDQUOT, "Quota"))
    )

    with pytest.raises(DeploysmithError, match=r"^\.deploysmith/lock\.json: could not write \(Quota\)"):
        run()

    assert everything(repo) == []


def test_failure_while_renaming_rolls_back_what_was_renamed(
    repo: Path,
    run: Run,
    kit: tuple[RenderedFile, ...],
    snapshot: Snapshot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run()
    before = snapshot(repo)
    new_kit = (
        RenderedFile("Dockerfile", "v2\n"),  # update, renamed first
        RenderedFile("README.deploy.md", "new\n"),  # create, renamed second
        RenderedFile("deploy/base/app.yaml", "v2\n"),  # update, rename fails
        kit[2],
    )
    monkeypatch.setattr(
        os, "replace", fail_on_call(3, os.replace, OSError(errno.EACCES, "Permission denied"))
    )

    with pytest.raises(DeploysmithError) as caught:
        run(new_kit)

    assert str(caught.value) == (
        "deploy/base/app.yaml: could not move the new version into place (Permission denied); "
        "check the file and its folder's permissions; nothing was changed"
    )
    monkeypatch.undo()
    after = snapshot(repo)
    # Same bytes and modes everywhere (the restored Dockerfile is a new inode, so its
    # mtime moves), no temp file, no created file, the lock as it was.
    assert {path: (data, mode) for path, (data, _, mode) in after.items()} == {
        path: (data, mode) for path, (data, _, mode) in before.items()
    }
    assert after[".deploysmith/lock.json"] == before[".deploysmith/lock.json"]


def test_rollback_that_fails_names_the_files_to_check(
    repo: Path, run: Run, kit: tuple[RenderedFile, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    run()
    new_kit = (RenderedFile("Dockerfile", "v2\n"), RenderedFile("deploy/base/app.yaml", "v2\n"), kit[2])
    monkeypatch.setattr(
        os, "replace", fail_on_call(2, os.replace, OSError(errno.EIO, "I/O error"), later_too=True)
    )

    with pytest.raises(DeploysmithError) as caught:
        run(new_kit)

    assert str(caught.value) == (
        "deploy/base/app.yaml: could not move the new version into place (I/O error); "
        "check the file and its folder's permissions; could not restore Dockerfile; check them with git diff"
    )
    monkeypatch.undo()
    assert sorted(path.name for path in repo.rglob("*.deploysmith-tmp")) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_fails_before_anything_is_in_place(repo: Path, run: Run) -> None:
    (repo / "deploy").mkdir()
    (repo / "deploy").chmod(0o555)
    try:
        with pytest.raises(
            DeploysmithError, match=r"^deploy/base/app\.yaml: could not write \(Permission denied\)"
        ):
            run()
    finally:
        (repo / "deploy").chmod(0o755)

    assert everything(repo) == ["deploy"]


def test_folder_that_cannot_be_made_fails_before_anything_is_in_place(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a read-only parent folder does, for runs as root (which ignores permissions).
    monkeypatch.setattr(os, "mkdir", fail_on_call(3, os.mkdir, OSError(errno.EACCES, "Permission denied")))

    with pytest.raises(DeploysmithError, match=r"^scripts/smoke\.sh: could not write \(Permission denied\)"):
        run()

    # deploy/ and deploy/base/ were made for the staged app.yaml; they go with it.
    assert everything(repo) == []

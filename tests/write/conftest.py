"""Shared fixtures for the writer tests: a tiny kit, one-call runs, byte-exact snapshots."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from deploysmith.model import RenderedFile
from deploysmith.write import WriteResult, apply_changes, plan_changes, read_lock

INPUTS: dict[str, Any] = {"requirements": {"ci": "github"}, "stack": "sha256:abc"}

Snapshot = dict[str, tuple[bytes, int, int]]
Run = Callable[..., WriteResult]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    return root


@pytest.fixture
def kit() -> tuple[RenderedFile, ...]:
    return (
        RenderedFile("Dockerfile", "FROM python:3.13-slim\n"),
        RenderedFile("deploy/base/app.yaml", "kind: Deployment\n"),
        RenderedFile("scripts/smoke.sh", "#!/bin/sh\nexit 0\n", executable=True),
    )


@pytest.fixture
def run(repo: Path, kit: tuple[RenderedFile, ...]) -> Run:
    """One deploysmith run over `repo`: read the lock, plan, apply."""

    def run(files: tuple[RenderedFile, ...] = kit, inputs: Mapping[str, Any] = INPUTS) -> WriteResult:
        return apply_changes(repo, plan_changes(repo, files, read_lock(repo)), inputs)

    return run


@pytest.fixture
def snapshot() -> Callable[[Path], Snapshot]:
    def take(root: Path) -> Snapshot:
        """Every file under root: bytes, mtime in ns and mode; links are not followed."""
        found: Snapshot = {}
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = Path(folder, name)
                info = path.lstat()
                data = b"<link>" if path.is_symlink() else path.read_bytes()
                found[path.relative_to(root).as_posix()] = (data, info.st_mtime_ns, info.st_mode)
        return found

    return take

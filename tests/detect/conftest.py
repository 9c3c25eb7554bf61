"""Fixture repositories for detection tests, written into tmp_path by each test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from deploysmith.detect import detect_stack
from deploysmith.detect.base import Detection
from deploysmith.model import Component, Stack
from deploysmith.repo import Repo


def make_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (repo-relative path → text or bytes) below `root`; return `root`.
    Text is dedented and its leading newline dropped, so an indented triple-quoted fixture
    starts at line 1 as it reads in the test."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


def detect(root: Path, files: dict[str, str | bytes]) -> Stack:
    return detect_stack(Repo.open(make_repo(root, files)))


def only(stack: Stack) -> Component:
    assert len(stack.components) == 1, [c.name for c in stack.components]
    return stack.components[0]


def named(stack: Stack, name: str) -> Component:
    found = [c for c in stack.components if c.name == name]
    assert found, f"no component {name!r} in {[c.name for c in stack.components]}"
    return found[0]


def where(component: Component, key: str) -> list[tuple[str, int | None]]:
    """(file, line) of each piece of evidence for `key`."""
    return [(e.file, e.line) for e in component.evidence[key]]


def run_plugin(plugin: object, root: Path, files: dict[str, str | bytes], directory: str = ".") -> Detection | None:
    repo = Repo.open(make_repo(root, files))
    result: Detection | None = plugin.detect(repo, directory)  # type: ignore[attr-defined]
    return result


@pytest.fixture
def repo_root(tmp_path: Path) -> Path:
    """A folder named like a repository, so root components get a predictable name."""
    return tmp_path / "shop"

"""Fixture repositories for detection tests, written into tmp_path by each test."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from deploysmith.detect import detect_stack
from deploysmith.detect.base import Detection
from deploysmith.model import Component, Stack
from deploysmith.repo import Repo


def make_repo(root: Path, files: Mapping[str, str | bytes]) -> Path:
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


FACTS = (
    "language_version", "framework", "package_manager", "start_command", "port", "test_command",
    "lint_command", "build_command", "build_output", "build_target", "services", "health_path",
    "migration_tool", "migrate_command", "dependency_files",
)  # fmt: skip


def detect(root: Path, files: Mapping[str, str | bytes]) -> Stack:
    """Detect the stack of a fixture repository, checking the invariants every stack keeps."""
    stack = detect_stack(Repo.open(make_repo(root, files)))
    for component in stack.components:
        assert_evidenced(component)
        assert re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?", component.name), component.name
    assert [(c.path, c.name) for c in stack.components] == sorted((c.path, c.name) for c in stack.components)
    assert len({c.name for c in stack.components}) == len(stack.components)
    return stack


def assert_evidenced(component: Component) -> None:
    """Every known fact cites where it came from (one citation per service)."""
    for key in FACTS:
        value = getattr(component, key)
        if value is not None and value != ():
            assert component.evidence.get(key), f"{component.name}: {key}={value!r} has no evidence"
    assert len(component.evidence.get("services", ())) == len(component.services)


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


def run_plugin(
    plugin: object, root: Path, files: Mapping[str, str | bytes], directory: str = "."
) -> Detection | None:
    repo = Repo.open(make_repo(root, files))
    result: Detection | None = plugin.detect(repo, directory)  # type: ignore[attr-defined]
    for component in result.components if result else ():
        assert_evidenced(component)
    return result


@pytest.fixture
def repo_root(tmp_path: Path) -> Path:
    """A folder named like a repository, so root components get a predictable name."""
    return tmp_path / "shop"

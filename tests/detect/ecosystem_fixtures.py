"""Fixture repositories for the go, jvm, rust, ruby, php and dotnet detection tests.

`make_repo` writes `files` under tmp_path and opens it as a Repo. Text is dedented and its
leading newline dropped, so a fixture written as an indented triple-quoted string starts
at line 1 exactly as it reads in the test.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

from deploysmith.detect.base import Detection
from deploysmith.model import Component, Evidence
from deploysmith.repo import Repo


def make_repo(tmp_path: Path, files: Mapping[str, str | bytes]) -> Repo:
    for rel, content in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return Repo.open(tmp_path)


def only(detection: Detection | None) -> Component:
    """The single component of a detection (fails the test otherwise)."""
    assert detection is not None
    assert len(detection.components) == 1, [c.name for c in detection.components]
    return detection.components[0]


def ev(file: str, line: int | None, text: str, default: bool = False) -> tuple[Evidence, ...]:
    return (Evidence(file=file, line=line, text=text, default=default),)

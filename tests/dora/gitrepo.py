"""Synthetic git repositories for the DORA tests: commits with set dates, tags, reverts and
merges, built with the real git in tmp_path. The machine's git configuration is kept out
(GIT_CONFIG_GLOBAL=/dev/null), so a signing or hook setting there cannot change a test."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from deploysmith.dora import dora_command

_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


class GitRepo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, when: str | None = None, author_when: str | None = None) -> str:
        env = {**os.environ, **_ENV}
        if when is not None:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when
        if author_when is not None:
            env["GIT_AUTHOR_DATE"] = author_when
        result = subprocess.run(
            ["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=True
        )
        return result.stdout.strip()

    def commit(self, when: str, message: str | None = None, *, author_when: str | None = None) -> str:
        """A commit changing its own file, committed at `when` (ISO 8601, offsets allowed);
        `author_when` sets a different author date (a rebased commit)."""
        self.count += 1
        name = f"file{self.count}.txt"
        (self.root / name).write_text(f"{message or name}\n", encoding="utf-8")
        self.git("add", name)
        self.git("commit", "-q", "-m", message or f"change {self.count}", when=when, author_when=author_when)
        return self.head()

    def fake_sign_head(self) -> str:
        """Give HEAD a (bogus) gpgsig header, as a signed commit has: `git log` with
        log.showSignature would then run gpg.program on it."""
        raw = self.git("cat-file", "commit", "HEAD")
        headers, _, message = raw.partition("\n\n")
        signature = "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----"
        signed = f"{headers}\n{signature}\n\n{message}\n"
        env = {**os.environ, **_ENV}
        sha = subprocess.run(
            ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
            cwd=self.root,
            env=env,
            input=signed,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.git("update-ref", "HEAD", sha)
        return sha

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, when: str | None = None, rev: str = "HEAD") -> None:
        """An annotated tag dated `when`; a lightweight tag when `when` is None."""
        if when is None:
            self.git("tag", name, rev)
        else:
            self.git("tag", "-a", name, "-m", name, rev, when=when)

    def revert(self, sha: str, when: str) -> str:
        self.git("revert", "--no-edit", sha, when=when)
        return self.head()

    def checkout(self, *args: str) -> None:
        self.git("checkout", "-q", *args)

    def merge(self, branch: str, when: str) -> str:
        self.git("merge", "-q", "--no-ff", "--no-edit", branch, when=when)
        return self.head()


def write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


def namespace(path: Path | str, **options: Any) -> argparse.Namespace:
    """The Namespace cli.py builds for `deploysmith dora` (defaults as its argparse lines)."""
    values: dict[str, Any] = {
        "path": str(path),
        "since": None,
        "until": None,
        "tag_pattern": "v*",
        "deployments": None,
        "environment": None,
        "incidents": None,
        "incident_label": "incident",
        "thresholds": "2023",
        "format": "json",
        "chart": None,
    }
    values.update(options)
    return argparse.Namespace(**values)


def dora_json(capsys: pytest.CaptureFixture[str], path: Path | str, **options: Any) -> dict[str, Any]:
    assert dora_command(namespace(path, format="json", **options)) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document

"""The lock file: what deploysmith generated, from which inputs, with which content hashes.

The lock is how a later run tells "the user edited this file" (its hash differs from
the recorded one) from "deploysmith wrote this and nobody touched it" (safe to update).
It is deterministic JSON with no timestamps, so regenerating from the same inputs
leaves it byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from deploysmith import __version__
from deploysmith.errors import DeploysmithError
from deploysmith.write.paths import LOCK_PATH, check_path, read_existing, target_path

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class LockedFile:
    path: str  # posix, relative to the repository root
    sha256: str  # of the bytes deploysmith wrote to `path`


@dataclass(frozen=True)
class Lock:
    version: str  # the deploysmith version that wrote the lock
    inputs: Mapping[str, Any] = field(default_factory=dict)  # requirements, stack digest, ...
    files: tuple[LockedFile, ...] = ()  # sorted by path

    def sha256_of(self, path: str) -> str | None:
        for item in self.files:
            if item.path == path:
                return item.sha256
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "deploysmith": self.version,
            "inputs": self.inputs,
            "files": [{"path": f.path, "sha256": f.sha256} for f in sorted(self.files, key=_by_path)],
        }

    def to_bytes(self) -> bytes:
        # sort_keys + fixed indent + trailing newline: the same lock always serialises
        # to the same bytes, so an identical run leaves the file untouched.
        text = json.dumps(self.to_json(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        return text.encode("utf-8")


def _by_path(item: LockedFile) -> str:
    return item.path


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """A stable sha256 of a JSON-able value (e.g. `stack.to_json()`) for `Lock.inputs`.

    Recording a digest rather than the whole stack keeps the lock small and free of
    facts that churn (evidence line numbers) while still telling when the stack changed.
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + sha256_hex(text.encode("utf-8"))


def new_lock(inputs: Mapping[str, Any], files: tuple[LockedFile, ...], version: str = __version__) -> Lock:
    # Round-trip the inputs through JSON now, so a value JSON cannot hold fails here,
    # before anything is written, and the Lock compares equal to one read back from disk.
    canonical = json.loads(json.dumps(dict(inputs), sort_keys=True))
    return Lock(version=version, inputs=canonical, files=tuple(sorted(files, key=_by_path)))


def read_lock(root: Path) -> Lock | None:
    """The lock under `root`, or None when deploysmith has not written one yet."""
    raw = read_existing(target_path(root.resolve(), LOCK_PATH), LOCK_PATH)
    return None if raw is None else parse_lock(raw)


def parse_lock(raw: bytes) -> Lock:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        _bad(f"not valid JSON ({error})")
    if not isinstance(data, dict):
        _bad("expected a JSON object")
    version = data.get("deploysmith")
    inputs = data.get("inputs", {})
    entries = data.get("files")
    if not isinstance(version, str):
        _bad("'deploysmith' must be the version string")
    if not isinstance(inputs, dict):
        _bad("'inputs' must be an object")
    if not isinstance(entries, list):
        _bad("'files' must be a list")
    files: list[LockedFile] = []
    for entry in entries:
        if not isinstance(entry, dict):
            _bad("each entry of 'files' must be an object")
        path, sha = entry.get("path"), entry.get("sha256")
        if not isinstance(path, str) or not isinstance(sha, str) or not _HEX64.fullmatch(sha):
            _bad("each entry of 'files' needs a 'path' and a 64-hex 'sha256'")
        # A lock can come from a cloned repository: its paths are checked like rendered
        # ones, so a crafted lock cannot point the writer (or the stale report) elsewhere.
        try:
            check_path(path)
        except DeploysmithError as error:
            _bad(f"unsafe path ({error})")
        files.append(LockedFile(path=path, sha256=sha))
    return Lock(version=version, inputs=inputs, files=tuple(sorted(files, key=_by_path)))


def _bad(why: str) -> NoReturn:
    raise DeploysmithError(
        f"{LOCK_PATH}: {why}; fix it or delete it (deploysmith then treats existing files as the user's)"
    )

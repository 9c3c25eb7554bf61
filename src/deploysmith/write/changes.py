"""Deciding, per rendered file, what writing it would do — before anything is written.

The decision only reads the disk; `apply_changes` carries it out and `render_diff`
shows it, so a dry run and a real run always agree on what happens.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from deploysmith.errors import DeploysmithError
from deploysmith.model import RenderedFile
from deploysmith.write.lock import Lock, sha256_hex
from deploysmith.write.paths import LOCK_PATH, SIDE_SUFFIX, TEMP_SUFFIX, is_inside, read_existing, target_path

ChangeKind = Literal["create", "update", "unchanged", "conflict", "stale"]

EDITED = "edited since deploysmith wrote it"
NOT_OURS = "exists and was not written by deploysmith"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    path: str  # posix, relative to the repository root
    reason: str  # in words, for the report ("edited since deploysmith wrote it")
    content: str | None = None  # the new content; None for stale files
    executable: bool = False
    # The disk as planned, so apply can refuse when it changed in between (a user
    # saving the file after a dry run must not lose that edit): hash of the file, or
    # None when there was no file.
    current_sha256: str | None = None
    # What the previous lock recorded; kept for conflicts and stale files, whose
    # recorded hash stays the base to compare the user's file with on the next run.
    locked_sha256: str | None = None
    # Conflict only: `<path>.deploysmith-new` already holds exactly the new content.
    side_current: bool = False

    @property
    def side_path(self) -> str:
        return self.path + SIDE_SUFFIX

    @property
    def data(self) -> bytes:
        return (self.content or "").encode("utf-8")

    @property
    def sha256(self) -> str | None:
        """Hash of the new content (None for stale files)."""
        return None if self.content is None else sha256_hex(self.data)

    @property
    def write_to(self) -> str | None:
        """The path apply writes for this change, or None when it writes nothing."""
        if self.kind in ("create", "update"):
            return self.path
        if self.kind == "conflict" and not self.side_current:
            return self.side_path
        return None


def plan_changes(root: Path, files: Sequence[RenderedFile], lock: Lock | None) -> tuple[Change, ...]:
    """One Change per rendered file, plus one per stale lock entry; sorted by path."""
    root = root.resolve()
    if not root.is_dir():
        raise DeploysmithError(f"{root}: not a directory; point deploysmith at the repository root")
    _check_unique(files)
    changes: list[Change | None] = [_plan_file(root, rendered, lock) for rendered in files]
    if lock is not None:
        rendered_paths = {rendered.path for rendered in files}
        stale = (item for item in lock.files if item.path not in rendered_paths)
        changes.extend(_plan_stale(root, item.path, item.sha256) for item in stale)
    return tuple(sorted((c for c in changes if c is not None), key=lambda c: c.path))


def _check_unique(files: Sequence[RenderedFile]) -> None:
    seen: set[str] = set()
    for rendered in files:
        if rendered.path in seen:
            raise DeploysmithError(f"{rendered.path}: two generated files share this path; give each its own")
        if rendered.path == LOCK_PATH or rendered.path.endswith((SIDE_SUFFIX, TEMP_SUFFIX)):
            # These names are the writer's own bookkeeping; a kit file there would be
            # overwritten by it (or mistaken for it on the next run).
            raise DeploysmithError(
                f"{rendered.path}: reserved for deploysmith's own files; choose another path"
            )
        seen.add(rendered.path)


def _plan_file(root: Path, rendered: RenderedFile, lock: Lock | None) -> Change:
    target = target_path(root, rendered.path)
    new = rendered.content.encode("utf-8")
    locked = lock.sha256_of(rendered.path) if lock is not None else None
    current = read_existing(target, rendered.path)
    if current is None:
        return Change(
            "create", rendered.path, "new file", rendered.content, rendered.executable, locked_sha256=locked
        )
    base = Change(
        "unchanged",
        rendered.path,
        "same content",
        rendered.content,
        rendered.executable,
        current_sha256=sha256_hex(current),
        locked_sha256=locked,
    )
    if current == new:
        if _is_executable(target) == rendered.executable:
            return base
        # Same bytes, so the content is exactly ours: only the mode moves.
        mode = "755" if rendered.executable else "644"
        return replace(base, kind="update", reason=f"file mode becomes {mode}")
    if locked is not None and base.current_sha256 == locked:
        return replace(base, kind="update", reason="not edited since deploysmith wrote it")
    side = read_existing(target_path(root, base.side_path), base.side_path)
    return replace(base, kind="conflict", reason=EDITED if locked else NOT_OURS, side_current=side == new)


def _plan_stale(root: Path, path: str, locked: str) -> Change | None:
    # Stale files are only reported, never deleted: the user may still rely on them.
    # A path that is now a link or leads outside the root is reported without reading.
    if not is_inside(root, path):
        if os.path.lexists(root / path):
            reason = "no longer generated; replaced by a link or folder"
            return Change("stale", path, reason, locked_sha256=locked)
        return None
    current = read_existing(target_path(root, path), path)
    if current is None:
        return None  # already deleted: nothing left to report
    current_sha = sha256_hex(current)
    reason = "no longer generated" if current_sha == locked else f"no longer generated; {EDITED}"
    return Change("stale", path, reason, current_sha256=current_sha, locked_sha256=locked)


def _is_executable(target: Path) -> bool:
    return bool(os.stat(target).st_mode & stat.S_IXUSR)

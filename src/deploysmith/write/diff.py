"""The --dry-run view: a unified diff of what a write would change, labelled like git's."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path

from deploysmith.write.changes import Change
from deploysmith.write.paths import read_existing, target_path

_NO_NEWLINE = "\\ No newline at end of file\n"


def render_diff(root: Path, changes: Sequence[Change]) -> str:
    """Diffs for created, updated and conflicting files; `# ` notes for what a diff cannot say.

    Unchanged files print nothing. The lock file is bookkeeping and is not shown.
    """
    root = root.resolve()
    out: list[str] = []
    for change in changes:
        if change.kind == "create":
            out.extend(_diff("", change.content or "", "/dev/null", f"b/{change.path}", force_header=True))
        elif change.kind == "update":
            old = _current_text(root, change.path)
            lines = _diff(old, change.content or "", f"a/{change.path}", f"b/{change.path}")
            # A mode-only update has no content lines; the note says what changes.
            out.extend(lines or [f"# update: {change.path}: {change.reason}\n"])
        elif change.kind == "conflict":
            where = "is already in" if change.side_current else "would go to"
            out.append(
                f"# conflict: {change.path}: {change.reason}; the new version {where} {change.side_path}\n"
            )
            old = _current_text(root, change.path)
            out.extend(_diff(old, change.content or "", f"a/{change.path}", f"b/{change.path}"))
        elif change.kind == "stale":
            out.append(f"# stale: {change.path}: {change.reason}; deploysmith leaves it in place\n")
    return "".join(out)


def _current_text(root: Path, path: str) -> str:
    data = read_existing(target_path(root, path), path) or b""
    # The user's file may not be UTF-8; the diff is for reading, so replace, never fail.
    return data.decode("utf-8", errors="replace")


def _diff(old: str, new: str, old_label: str, new_label: str, force_header: bool = False) -> list[str]:
    lines = list(
        _mark_missing_newlines(
            difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True), old_label, new_label
            )
        )
    )
    if not lines and force_header:
        # An empty new file has no hunk, but creating it is still a change to show.
        lines = [f"--- {old_label}\n", f"+++ {new_label}\n"]
    return lines


def _mark_missing_newlines(lines: Iterable[str]) -> Iterable[str]:
    # difflib leaves a last line without "\n" as is, which would glue it to the next
    # diff line; git prints the marker below instead, and so does patch.
    for line in lines:
        if line.endswith("\n"):
            yield line
        else:
            yield line + "\n"
            yield _NO_NEWLINE

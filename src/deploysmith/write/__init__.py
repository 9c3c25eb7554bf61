"""The safe writer: plan what writing a kit would do, show it, write it without partial states.

    lock = read_lock(root)
    changes = plan_changes(root, rendered_files, lock)
    print(render_diff(root, changes))          # --dry-run
    result = apply_changes(root, changes, {"requirements": ..., "stack": digest(...)})

Only this package and the command layer touch the disk (DESIGN.md §1).
"""

from __future__ import annotations

from deploysmith.write.apply import WriteResult, apply_changes
from deploysmith.write.changes import Change, ChangeKind, plan_changes
from deploysmith.write.diff import render_diff
from deploysmith.write.lock import Lock, LockedFile, digest, read_lock
from deploysmith.write.paths import LOCK_PATH, SIDE_SUFFIX
from deploysmith.write.summary import Summary, summarize

__all__ = [
    "LOCK_PATH",
    "SIDE_SUFFIX",
    "Change",
    "ChangeKind",
    "Lock",
    "LockedFile",
    "Summary",
    "WriteResult",
    "apply_changes",
    "digest",
    "plan_changes",
    "read_lock",
    "render_diff",
    "summarize",
]

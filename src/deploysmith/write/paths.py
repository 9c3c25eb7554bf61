"""Where the writer may write: relative, normalised paths that stay inside the repository.

Rendered paths can come from configuration and lock entries can come from a cloned
repository, so neither is trusted: a path is checked as text first (`check_path`) and
then against the disk (`target_path`), where symlinks could lead the write elsewhere.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath

from deploysmith.errors import DeploysmithError

LOCK_PATH = ".deploysmith/lock.json"
# Where the new version of a file the user edited goes, beside the user's file.
SIDE_SUFFIX = ".deploysmith-new"
# Staged content waits under this suffix until every file of the kit is staged.
TEMP_SUFFIX = ".deploysmith-tmp"


def check_path(path: str) -> None:
    """Refuse a path that is not a plain, normalised, repository-relative posix path."""
    if not path or "\0" in path:
        raise DeploysmithError(f"{path!r}: not a usable file path; check the configured output paths")
    if "\\" in path or PureWindowsPath(path).drive:
        # A backslash or drive letter means a Windows path; on Windows it would escape
        # the normalisation below, so it is refused everywhere.
        raise DeploysmithError(
            f"{path}: use a posix path relative to the repository root (no '\\', no drive)"
        )
    if PurePosixPath(path).is_absolute():
        raise DeploysmithError(f"{path}: absolute path; output paths must be relative to the repository root")
    parts = path.split("/")
    if ".." in parts:
        raise DeploysmithError(f"{path}: '..' would leave the repository; use a path inside it")
    if posixpath.normpath(path) != path or "." in parts or "" in parts:
        raise DeploysmithError(f"{path}: not a normalised path; write it as {posixpath.normpath(path)!r}")
    if any(part.lower() == ".git" for part in parts):
        # Case-insensitive, as git itself does: on macOS and Windows ".GIT" is ".git".
        raise DeploysmithError(f"{path}: inside .git/; deploysmith never writes git's own files")


def target_path(root: Path, path: str) -> Path:
    """The real location of `path` under the resolved `root`, after refusing symlink tricks.

    Symlinked folders inside the repository are followed (a `deploy -> infra/deploy` link
    is a layout choice), but a folder link that leads outside the root or into `.git`,
    and a target that is itself a symlink, are refused: writing through them would
    change a file the user did not ask deploysmith to touch.
    """
    check_path(path)
    lexical = root / path
    parent = lexical.parent.resolve()
    if parent != root and root not in parent.parents:
        raise DeploysmithError(
            f"{path}: a folder on this path is a symlink that leads outside the repository "
            f"(to {parent}); remove the link or choose another output path"
        )
    inside = parent.relative_to(root).parts
    if any(part.lower() == ".git" for part in inside):
        raise DeploysmithError(f"{path}: a folder on this path is a symlink into .git/; remove the link")
    target = parent / lexical.name
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as error:
        raise DeploysmithError(f"{path}: cannot inspect ({error.strerror}); check its permissions") from error
    if stat.S_ISLNK(mode):
        raise DeploysmithError(
            f"{path}: is a symlink; deploysmith does not write through links, replace it with a regular file"
        )
    if not stat.S_ISREG(mode):
        raise DeploysmithError(
            f"{path}: exists and is not a regular file; move it or choose another output path"
        )
    return target


def is_inside(root: Path, path: str) -> bool:
    """Whether `path` is a regular file reached without leaving `root` (no exception)."""
    try:
        target = target_path(root, path)
    except DeploysmithError:
        return False
    return target.is_file()


def read_existing(target: Path, path: str) -> bytes | None:
    """The bytes at `target`, or None when there is no file; unreadable is the user's to fix."""
    try:
        return target.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise DeploysmithError(f"{path}: cannot read ({error.strerror}); check its permissions") from error

"""Carrying out planned changes with no partial writes.

Two phases: stage every new content in a temp file beside its destination (same folder,
so the later rename is atomic on one filesystem), then rename them all into place and
the lock last. A failure while staging leaves no kit file; a failure while renaming
puts back what was already renamed. Either way the repository is as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploysmith.errors import DeploysmithError
from deploysmith.write.changes import Change
from deploysmith.write.lock import Lock, LockedFile, new_lock, sha256_hex
from deploysmith.write.paths import LOCK_PATH, TEMP_SUFFIX, read_existing, target_path
from deploysmith.write.summary import Summary, summarize

EXECUTABLE_MODE = 0o755
REGULAR_MODE = 0o644


@dataclass(frozen=True)
class WriteResult:
    summary: Summary
    written: tuple[str, ...]  # every path whose bytes or mode changed, side files and the lock included
    lock: Lock


@dataclass(frozen=True)
class _Job:
    path: str  # as reported to the user
    dest: Path  # resolved, checked by target_path
    data: bytes
    mode: int
    original: bytes | None  # what to put back if the commit fails; None: there was no file
    original_mode: int


@dataclass(frozen=True)
class _Staged:
    job: _Job
    temp: Path


def apply_changes(root: Path, changes: Sequence[Change], lock_inputs: Mapping[str, Any]) -> WriteResult:
    """Write what `changes` plan and the lock; unchanged files (and an equal lock) are not touched."""
    root = root.resolve()
    lock = new_lock(lock_inputs, tuple(_lock_entries(changes)))
    # Every check happens before the first byte is written, so a refusal changes nothing.
    jobs = [_job(root, change) for change in changes if change.write_to is not None]
    lock_job = _lock_job(root, lock)
    if lock_job is not None:
        jobs.append(lock_job)  # last: a lock never describes files that are not in place
    created_dirs: list[Path] = []
    staged = _stage(jobs, created_dirs)
    _commit(staged, created_dirs)
    return WriteResult(summary=summarize(changes), written=tuple(job.path for job in jobs), lock=lock)


def _lock_entries(changes: Sequence[Change]) -> Iterator[LockedFile]:
    for change in changes:
        if change.kind in ("create", "update", "unchanged") and change.sha256 is not None:
            yield LockedFile(change.path, change.sha256)
        elif change.locked_sha256 is not None:
            # Conflict: the user's file stays, so the recorded hash of what deploysmith
            # last wrote there stays too; reverting the edit then makes it an update.
            # Stale: kept while the file exists, so the report repeats until it is removed.
            yield LockedFile(change.path, change.locked_sha256)


def _job(root: Path, change: Change) -> _Job:
    path = change.write_to
    assert path is not None  # filtered by the caller
    dest = target_path(root, path)
    original = read_existing(dest, path)
    if path == change.path and _sha(original) != change.current_sha256:
        # The file changed between planning and now (e.g. saved after a dry run);
        # writing would overwrite an edit the plan did not see.
        raise DeploysmithError(f"{path}: changed on disk since deploysmith planned this write; run it again")
    mode = EXECUTABLE_MODE if change.executable else REGULAR_MODE
    return _Job(path, dest, change.data, mode, original, _mode(dest) if original is not None else 0)


def _lock_job(root: Path, lock: Lock) -> _Job | None:
    dest = target_path(root, LOCK_PATH)
    original = read_existing(dest, LOCK_PATH)
    data = lock.to_bytes()
    if original == data:
        return None  # an identical run leaves the lock's bytes and mtime alone
    return _Job(LOCK_PATH, dest, data, REGULAR_MODE, original, _mode(dest) if original is not None else 0)


def _stage(jobs: Sequence[_Job], created_dirs: list[Path]) -> list[_Staged]:
    staged: list[_Staged] = []
    for job in jobs:
        try:
            _make_dirs(job.dest.parent, created_dirs)
            staged.append(_Staged(job, _write_temp(job.dest, job.data, job.mode, sync=False)))
        except OSError as error:
            _discard(staged, created_dirs)
            raise DeploysmithError(
                f"{job.path}: could not write ({_why(error)}); check that its folder is writable "
                "and the disk has space; nothing was written"
            ) from error
    _sync_all(staged, created_dirs)
    return staged


def _sync_all(staged: Sequence[_Staged], created_dirs: list[Path]) -> None:
    """Every temp file on disk before the first rename, so a crash cannot leave an empty
    kit file. Synced after all are written: the first fsync commits the journal for all of
    them, the rest find nothing dirty (one disk flush instead of one per file)."""
    for item in staged:
        try:
            fd = os.open(item.temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            _discard(staged, created_dirs)
            raise DeploysmithError(
                f"{item.job.path}: could not write ({_why(error)}); check that its folder is writable "
                "and the disk has space; nothing was written"
            ) from error


def _commit(staged: Sequence[_Staged], created_dirs: list[Path]) -> None:
    for index, item in enumerate(staged):
        try:
            os.replace(item.temp, item.job.dest)
        except OSError as error:
            _discard(staged[index:], [])
            not_restored = _roll_back(staged[:index])
            _remove_dirs(created_dirs)
            outcome = (
                "nothing was changed"
                if not not_restored
                else "could not restore " + ", ".join(not_restored) + "; check them with git diff"
            )
            raise DeploysmithError(
                f"{item.job.path}: could not move the new version into place ({_why(error)}); "
                f"check the file and its folder's permissions; {outcome}"
            ) from error


def _roll_back(done: Sequence[_Staged]) -> list[str]:
    """Undo renames already made, newest first; return the paths that could not be undone."""
    failed: list[str] = []
    for item in reversed(done):
        job = item.job
        try:
            if job.original is None:
                os.unlink(job.dest)
            else:
                temp = _write_temp(job.dest, job.original, job.original_mode)
                try:
                    os.replace(temp, job.dest)
                except OSError:
                    _unlink_quietly(temp)
                    raise
        except OSError:
            failed.append(job.path)
    return failed


def _write_temp(dest: Path, data: bytes, mode: int, sync: bool = True) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=TEMP_SUFFIX, dir=dest.parent)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if sync:
                # On disk before the rename, so a crash cannot leave an empty kit file.
                os.fsync(handle.fileno())
        # mkstemp creates 0600; set the mode the kit file must have (umask-independent,
        # so the same render gives the same mode on every machine).
        os.chmod(temp, mode)
    except BaseException:
        _unlink_quietly(temp)
        raise
    return temp


def _make_dirs(folder: Path, created: list[Path]) -> None:
    # Create missing folders one by one and remember them, so a failed write can remove
    # exactly the folders it made and no folder the user had.
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        os.mkdir(path)
        created.append(path)


def _discard(staged: Sequence[_Staged], created_dirs: list[Path]) -> None:
    for item in staged:
        _unlink_quietly(item.temp)
    _remove_dirs(created_dirs)


def _remove_dirs(created: list[Path]) -> None:
    for path in reversed(created):
        # Not empty (another process wrote there) or already gone: leave it.
        with contextlib.suppress(OSError):
            os.rmdir(path)
    created.clear()


def _unlink_quietly(path: Path) -> None:
    # Cleanup must not hide the error that caused it.
    with contextlib.suppress(OSError):
        os.unlink(path)


def _sha(data: bytes | None) -> str | None:
    return None if data is None else sha256_hex(data)


def _mode(dest: Path) -> int:
    return os.stat(dest).st_mode & 0o7777


def _why(error: OSError) -> str:
    return error.strerror or str(error)

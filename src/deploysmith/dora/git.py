"""Running the user's own `git` on the user's repository, read-only and without side doors.

git is the user's tool and reading history with it is the point of `dora`; nothing from the
repository itself is executed. Every call goes through `_command`, which:

- runs `git -C PATH` with `GIT_DIR`/`GIT_WORK_TREE`/`GIT_INDEX_FILE` removed from the
  environment (the path given is the repository read, whatever the shell exported);
- switches off every repository setting that can start a program during a read:
  `core.fsmonitor` (a hook run on index reads), `core.hooksPath` (points at /dev/null; no
  hook runs for log/for-each-ref/cat-file anyway), `log.showSignature` (would run gpg),
  `core.pager` and `--no-pager`, and asks for UTF-8 log output;
- takes no optional locks (`GIT_OPTIONAL_LOCKS=0`) and never prompts (`GIT_TERMINAL_PROMPT=0`).

`stream_commits` reads `git log` as a stream of NUL-separated fields, parsed chunk by chunk,
so memory stays flat however long the history is.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from deploysmith.errors import DeploysmithError

SAFETY_CONFIG = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "log.showSignature=false",
    "core.pager=cat",
    "i18n.logOutputEncoding=UTF-8",
)
_SCRUBBED_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CEILING_DIRECTORIES",
    "GIT_NAMESPACE",
)
_CHUNK = 1 << 20


class Commit(NamedTuple):
    """One commit from the log stream (a NamedTuple: 100,000 of them are made in a second)."""

    sha: str
    parents: tuple[str, ...]
    committed: int  # committer date, Unix seconds
    reverts: tuple[str, ...] = ()  # ids named by "This reverts commit <id>." lines (git revert)

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


@dataclass(frozen=True)
class TagRef:
    name: str  # without refs/tags/
    commit: str | None  # the commit it points at (peeled); None: points at a tree or blob
    created: datetime  # tagger date of an annotated tag, committer date of a lightweight one
    annotated: bool


def _git_binary() -> str:
    found = shutil.which("git")
    if found is None:
        raise DeploysmithError("git was not found on PATH; install git to measure delivery from history")
    return found


def _command(repo: Path, args: Iterable[str]) -> list[str]:
    command = [_git_binary(), "--no-pager"]
    for setting in SAFETY_CONFIG:
        command += ["-c", setting]
    return command + ["-C", str(repo), *args]


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED_ENV}
    env.update({"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    return env


def run(repo: Path, args: list[str], stdin: str | None = None) -> str:
    """Run one git command to completion; a failure becomes a one-line DeploysmithError."""
    result = subprocess.run(
        _command(repo, args),
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=_env(),
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise DeploysmithError(f"{repo}: `git {args[0]}` failed: {detail}")
    return result.stdout


def open_repository(path: str) -> tuple[Path, bool]:
    """The repository root for `path`, and whether it is a shallow clone."""
    root = Path(path)
    if not root.exists():
        raise DeploysmithError(f"{path}: no such directory; check the path")
    if not root.is_dir():
        raise DeploysmithError(f"{path}: not a directory; point `deploysmith dora` at a git repository")
    result = subprocess.run(
        _command(root, ["rev-parse", "--show-toplevel", "--is-shallow-repository"]),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=_env(),
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or [""])[-1]
        if "dubious ownership" in detail:
            raise DeploysmithError(
                f"{path}: git refuses this repository (dubious ownership); "
                "see `git config --global --add safe.directory`"
            )
        raise DeploysmithError(f"{path}: not a git repository (deploysmith dora reads its history)")
    lines = result.stdout.splitlines()
    if len(lines) < 2:  # a bare repository has no top level
        raise DeploysmithError(f"{path}: a bare repository or .git folder; point at the working tree")
    return Path(lines[0]), lines[1].strip() == "true"


def list_tags(repo: Path) -> list[TagRef]:
    fields = (
        "%(refname)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)%00%(creatordate:unix)"
    )
    tags: list[TagRef] = []
    for line in run(repo, ["for-each-ref", f"--format={fields}", "refs/tags"]).splitlines():
        parts = line.split("\0")
        if len(parts) != 6 or not parts[5].strip():
            continue
        ref, kind, obj, peeled_kind, peeled, created = parts
        # An annotated tag points at a tag object; the commit is what it peels to.
        target_kind, target = (peeled_kind, peeled) if kind == "tag" else (kind, obj)
        commit = target if target_kind == "commit" else None
        tags.append(
            TagRef(
                name=ref.removeprefix("refs/tags/"),
                commit=commit,
                created=datetime.fromtimestamp(int(created), UTC),
                annotated=kind == "tag",
            )
        )
    return tags


def resolve_commits(repo: Path, revisions: Iterable[str]) -> dict[str, str | None]:
    """Full commit ids for `revisions` (full or abbreviated ids, tag names); None where the
    repository has no such commit. One `git cat-file --batch-check` for all of them."""
    wanted = list(dict.fromkeys(revisions))
    if not wanted:
        return {}
    for rev in wanted:
        if not rev or any(ch in rev for ch in "\n\r\0") or rev.startswith("-"):
            raise DeploysmithError(f"{rev!r} is not a commit id")
    out = run(
        repo,
        ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
        stdin="".join(f"{rev}^{{commit}}\n" for rev in wanted),
    )
    answers = out.splitlines()
    resolved: dict[str, str | None] = {}
    for rev, answer in zip(wanted, answers, strict=False):
        parts = answer.split()
        resolved[rev] = parts[0] if len(parts) == 2 and parts[1] == "commit" else None
    return resolved


def stream_commits(repo: Path, include: Iterable[str], exclude: Iterable[str]) -> Iterator[Commit]:
    """Commits reachable from `include` and from none of `exclude`, children before parents
    (`git log --topo-order`), read incrementally. Revisions go through --stdin, so thousands
    of deployments never hit the argument-length limit."""
    revs = [*include, *(f"^{sha}" for sha in exclude)]
    if not any(not rev.startswith("^") for rev in revs):
        return
    log = ["log", "-z", "--topo-order", "--format=%H%x00%P%x00%ct%x00%B", "--stdin"]
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: git never blocks on it
        process = subprocess.Popen(
            _command(repo, log), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=_env()
        )
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write("".join(f"{rev}\n" for rev in revs).encode())
            process.stdin.close()
            fields: list[bytes] = []
            tail = b""
            while chunk := process.stdout.read(_CHUNK):
                tokens = (tail + chunk).split(b"\0")
                tail = tokens.pop()
                fields += tokens
                whole = len(fields) - len(fields) % 4
                for start in range(0, whole, 4):
                    yield _commit(fields[start], fields[start + 1], fields[start + 2], fields[start + 3])
                del fields[:whole]
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()
        if process.returncode != 0:
            errors.seek(0)
            detail = (errors.read().decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
            raise DeploysmithError(f"{repo}: `git log` failed: {detail}")


_REVERTS = re.compile(rb"^This reverts commit ([0-9a-fA-F]{7,40})\b", re.MULTILINE)


def _commit(sha: bytes, parents: bytes, stamp: bytes, message: bytes) -> Commit:
    reverts: tuple[str, ...] = ()
    if b"reverts commit" in message:
        reverts = tuple(match.group(1).decode("ascii").lower() for match in _REVERTS.finditer(message))
    return Commit(sha.decode("ascii"), tuple(parents.decode("ascii").split()), int(stamp), reverts)

"""A read-only view of the repository being analysed.

This is the only way detection and audit look at a repository. It never executes,
imports or evaluates anything it reads; it refuses what it cannot read safely (binary,
huge, undecodable, outside the root) and records a one-line warning instead of failing.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploysmith.errors import DeploysmithError
from deploysmith.model import Evidence

MAX_TEXT_BYTES = 1024 * 1024  # larger files are not configuration or source we need
MAX_FILES = 50_000

# Folders that hold dependencies, build output or tool state, never the app's own config.
# (`bin` is not here: Rails keeps its scripts there and Rust its extra binaries.)
IGNORED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "node_modules", ".venv", "venv", "env", "__pycache__",
        ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".next", ".nuxt",
        "dist", "build", "target", "vendor", "bower_components", ".gradle", ".idea",
        ".vscode", "obj", ".terraform", ".deploysmith", "coverage", ".cache",
        "site-packages", ".turbo", ".svelte-kit", "out",
    }
)


@dataclass
class Repo:
    """Files under `root`, listed once. Paths are posix and relative to the root."""

    root: Path
    files: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)
    _text_cache: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Repo:
        root = Path(path)
        if not root.exists():
            raise DeploysmithError(f"{path}: no such directory; check the path")
        if not root.is_dir():
            raise DeploysmithError(f"{path}: not a directory; point deploysmith at the repository root")
        if not os.access(root, os.R_OK | os.X_OK):
            raise DeploysmithError(f"{path}: permission denied; check the directory's permissions")
        warnings: list[str] = []
        files = tuple(sorted(_walk(root.resolve(), warnings)))
        return cls(root=root.resolve(), files=files, warnings=warnings)

    # -- listing -----------------------------------------------------------------

    def exists(self, rel: str) -> bool:
        return _norm(rel) in self._file_set

    @property
    def _file_set(self) -> frozenset[str]:
        cached = self.__dict__.get("_file_set_cache")
        if cached is None:
            cached = frozenset(self.files)
            self.__dict__["_file_set_cache"] = cached
        return cached

    def dirs(self) -> tuple[str, ...]:
        """Every folder that holds at least one listed file, "." for the root."""
        found = {"."}
        for rel in self.files:
            parts = rel.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                found.add("/".join(parts[:i]))
        return tuple(sorted(found))

    def in_dir(self, directory: str, recursive: bool = False) -> Iterator[str]:
        """Files directly in `directory` (or below it with recursive=True)."""
        prefix = "" if directory in (".", "") else directory.rstrip("/") + "/"
        for rel in self.files:
            if not rel.startswith(prefix):
                continue
            rest = rel[len(prefix):]
            if recursive or "/" not in rest:
                yield rel

    def glob(self, pattern: str) -> tuple[str, ...]:
        """Files matching a glob where `*` stays inside one folder and `**/` spans folders."""
        regex = _glob_to_regex(pattern)
        return tuple(rel for rel in self.files if regex.fullmatch(rel))

    # -- reading -----------------------------------------------------------------

    def read_text(self, rel: str) -> str | None:
        """The file's text, or None (with a warning) if it cannot be read as text."""
        rel = _norm(rel)
        if rel in self._text_cache:
            return self._text_cache[rel]
        text = self._read(rel)
        self._text_cache[rel] = text
        return text

    def _read(self, rel: str) -> str | None:
        if rel not in self._file_set:
            return None
        path = self.root / rel
        try:
            info = os.lstat(path)
        except OSError as error:
            self.warnings.append(f"{rel}: cannot read ({error.strerror or error}); skipped")
            return None
        resolved = path
        # The walk never enters a linked folder, so only a file that is itself a link can lead
        # elsewhere: resolve those (one lstat for the rest, not one per path component).
        if stat.S_ISLNK(info.st_mode):
            try:
                resolved = path.resolve(strict=True)
            except (OSError, RuntimeError):
                self.warnings.append(f"{rel}: cannot resolve (broken link or link loop); skipped")
                return None
            if not _is_within(resolved, self.root):
                self.warnings.append(f"{rel}: a link that leads outside the repository; skipped")
                return None
        try:
            size = resolved.stat().st_size if resolved is not path else info.st_size
            if size > MAX_TEXT_BYTES:
                self.warnings.append(
                    f"{rel}: {size // (1024 * 1024)} MB is larger than the 1 MB read limit; skipped"
                )
                return None
            data = resolved.read_bytes()
        except OSError as error:
            self.warnings.append(f"{rel}: cannot read ({error.strerror or error}); skipped")
            return None
        if b"\x00" in data[:8192]:
            self.warnings.append(f"{rel}: binary content where text was expected; skipped")
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            self.warnings.append(f"{rel}: not valid UTF-8 text; skipped")
            return None

    def load_json(self, rel: str) -> Any:
        text = self.read_text(rel)
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            self.warnings.append(f"{rel}:{error.lineno}: malformed JSON ({error.msg}); ignored")
            return None

    def load_toml(self, rel: str) -> dict[str, Any] | None:
        text = self.read_text(rel)
        if text is None:
            return None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            self.warnings.append(f"{rel}: malformed TOML ({error}); ignored")
            return None

    def load_yaml(self, rel: str) -> Any:
        text = self.read_text(rel)
        if text is None:
            return None
        return self.parse_yaml(rel, text)

    def parse_yaml(self, rel: str, text: str) -> Any:
        import yaml  # lazy: keeps `deploysmith --help` fast

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or "syntax error"
            self.warnings.append(f"{rel}{where}: malformed YAML ({problem}); ignored")
            return None

    # -- evidence ----------------------------------------------------------------

    def evidence(self, rel: str, pattern: str | re.Pattern[str], default: bool = False) -> Evidence:
        """Evidence pointing at the first line of `rel` matching `pattern` (a regex or a
        plain substring); the file alone (line None) when no line matches."""
        text = self.read_text(rel) or ""
        found = find_line(text, pattern)
        if found is None:
            return Evidence(file=rel, line=None, text="", default=default)
        line, line_text = found
        return Evidence(file=rel, line=line, text=line_text, default=default)


def find_line(text: str, pattern: str | re.Pattern[str]) -> tuple[int, str] | None:
    """The 1-based number and stripped text of the first line matching `pattern`."""
    regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
    for number, line in enumerate(text.splitlines(), start=1):
        if regex.search(line):
            return number, line.strip()[:200]
    return None


def _walk(root: Path, warnings: list[str]) -> Iterator[str]:
    """Files below root, without following linked folders (no loops), skipping
    dependency and tool folders, and names that are not valid UTF-8."""
    stack: list[tuple[Path, str]] = [(root, "")]
    count = 0
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as error:
            warnings.append(f"{prefix or '.'}: cannot list ({error.strerror or error}); skipped")
            continue
        for entry in entries:
            name = entry.name
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                warnings.append(f"{prefix}{shown}: file name is not valid UTF-8; skipped")
                continue
            rel = f"{prefix}{name}"
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISLNK(mode):
                # A linked file is listed (reading checks where it leads); a linked folder
                # is not followed, so link loops cannot trap the walk.
                try:
                    if entry.is_file(follow_symlinks=True):
                        count += 1
                        yield rel
                except OSError:
                    warnings.append(f"{rel}: broken or looping link; skipped")
                continue
            if stat.S_ISDIR(mode):
                if name in IGNORED_DIRS:
                    continue
                stack.append((Path(entry.path), rel + "/"))
            elif stat.S_ISREG(mode):
                count += 1
                if count > MAX_FILES:
                    warnings.append(
                        f"more than {MAX_FILES} files; the rest were not read (point deploysmith at the app's folder)"
                    )
                    return
                yield rel


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _norm(rel: str) -> str:
    rel = rel.replace("\\", "/")
    while rel.startswith("./"):
        rel = rel[2:]
    return rel


def join(directory: str, name: str) -> str:
    """Join a component folder ("." for the root) and a relative name."""
    if directory in (".", ""):
        return _norm(name)
    return f"{directory.rstrip('/')}/{_norm(name)}"


def _glob_to_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))

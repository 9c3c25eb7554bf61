"""Running the engine's commands: one small interface, so tests can record exact argv lists
and feed canned output instead of starting real processes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 5) -> str:
        """The last lines of stderr (else stdout), for a one-line reason."""
        text = (self.stderr or self.stdout).strip()
        return " / ".join(text.splitlines()[-lines:])


class Runner(Protocol):
    def run(
        self, argv: Sequence[str], *, timeout: float | None = None, env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> Result: ...

    def stream(
        self, argv: Sequence[str], on_line: Callable[[str], None], *, env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> Result: ...


class SubprocessRunner:
    """The real thing. stdin is closed (an engine must never prompt), output is text."""

    def run(
        self, argv: Sequence[str], *, timeout: float | None = None, env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> Result:
        try:
            completed = subprocess.run(
                list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                timeout=timeout, env=_environment(env), cwd=cwd, check=False,
            )
        except FileNotFoundError as error:
            return Result(127, "", str(error))
        except subprocess.TimeoutExpired as error:
            return Result(124, _text(error.stdout), f"timed out after {timeout:.0f} s: {' '.join(argv)}")
        return Result(completed.returncode, completed.stdout, completed.stderr)

    def stream(
        self, argv: Sequence[str], on_line: Callable[[str], None], *, env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> Result:
        """Run with stdout and stderr merged, handing each line to on_line as it arrives; the
        whole log comes back in Result.stdout. On ^C or any error the child is stopped."""
        try:
            process = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, errors="replace", env=_environment(env), cwd=cwd, bufsize=1,
            )
        except FileNotFoundError as error:
            return Result(127, "", str(error))
        lines: list[str] = []
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                on_line(line.rstrip("\n"))
            returncode = process.wait()
        except BaseException:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            raise
        return Result(returncode, "".join(lines), "")


def _environment(extra: Mapping[str, str] | None) -> dict[str, str] | None:
    if not extra:
        return None
    merged = dict(os.environ)
    merged.update(extra)
    return merged


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value

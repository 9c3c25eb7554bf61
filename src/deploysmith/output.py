"""The only module that writes to the terminal."""

from __future__ import annotations

import sys


def out(text: str) -> None:
    """Results, on stdout (what a pipe or --json consumer reads)."""
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()


def info(text: str) -> None:
    """Progress and summaries, on stderr so stdout stays machine-readable."""
    print(text, file=sys.stderr)


def warn(text: str) -> None:
    print(f"deploysmith: warning: {text}", file=sys.stderr)


def ask(prompt: str, default: str, choices: tuple[str, ...]) -> str:
    """One interactive question; the command layer only calls this when stdin is a TTY."""
    hint = f" [{'/'.join(choices)}]" if choices else ""
    shown = f" (default: {default})" if default else ""
    sys.stderr.write(f"{prompt}{hint}{shown}: ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer:  # end of input: take the default rather than loop
        return default
    return answer.rstrip("\n") or default

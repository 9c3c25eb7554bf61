"""Counts shared by every report format."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deploysmith.model import Finding


@dataclass(frozen=True)
class Summary:
    total: int
    error: int
    warning: int
    info: int
    files: int

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "error": self.error, "warning": self.warning, "info": self.info,
                "files": self.files}

    def sentence(self) -> str:
        """"3 findings (1 error, 2 warnings, 0 info) in 2 files" or "no findings"."""
        if not self.total:
            return "no findings"
        return (
            f"{_plural(self.total, 'finding')} ({_plural(self.error, 'error')}, "
            f"{_plural(self.warning, 'warning')}, {self.info} info) in {_plural(self.files, 'file')}"
        )


def summarize(findings: Sequence[Finding]) -> Summary:
    return Summary(
        total=len(findings),
        error=sum(1 for f in findings if f.severity == "error"),
        warning=sum(1 for f in findings if f.severity == "warning"),
        info=sum(1 for f in findings if f.severity == "info"),
        files=len({f.path for f in findings}),
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"

"""Helpers the platform readers share: script lines with their line numbers, durations,
condition words."""

from __future__ import annotations

import re
from typing import Any

from deploysmith.audit.ci.model import Condition
from deploysmith.audit.parse import YMap, YSeq

_BLOCK_INDICATOR = re.compile(r"(?:^|[\s:-])[|>][0-9+-]*\s*(?:#.*)?$")


def block_offset(lines: list[str], line: int) -> int:
    """1 when the scalar whose node starts on `line` is a block scalar (`|` or `>`), whose
    text starts on the next line; else 0."""
    if 0 < line <= len(lines) and _BLOCK_INDICATOR.search(lines[line - 1].rstrip()):
        return 1
    return 0


def script_lines(text: str, first_line: int) -> list[tuple[int, str]]:
    return [(first_line + offset, line) for offset, line in enumerate(text.splitlines())]


def value_script(holder: YMap, key: Any, lines: list[str]) -> list[tuple[int, str]]:
    """The (line, text) pairs of a string value `holder[key]` (plain, quoted or block)."""
    value = holder.get(key)
    if not isinstance(value, str):
        return []
    return script_lines(value, holder.value_line(key))


def seq_script(value: Any, line: int, lines: list[str]) -> list[tuple[int, str]]:
    """The (line, text) pairs of a script given as a string or a (nested) list of strings."""
    if isinstance(value, str):
        return script_lines(value, line + block_offset(lines, line))
    found: list[tuple[int, str]] = []
    if isinstance(value, list):
        item_lines = value.item_lines if isinstance(value, YSeq) else [line] * len(value)
        for item, item_line in zip(value, item_lines, strict=False):
            found.extend(seq_script(item, item_line, lines))
    return found


_DURATION_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(h|hr|hrs|hours?|m|min|mins|minutes?|s|sec|secs|seconds?|d|days?)\b", re.IGNORECASE
)


def parse_minutes(value: Any) -> float | None:
    """Minutes of a duration: 30 (minutes), "1h 30m", "90 minutes", "2 hours"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    total = 0.0
    matched = False
    for number, unit in _DURATION_PART.findall(value):
        matched = True
        amount = float(number)
        letter = unit.lower()[0]
        total += {"h": amount * 60, "m": amount, "s": amount / 60, "d": amount * 1440}[letter]
    if not matched and value.strip().isdigit():
        return float(value.strip())
    return total if matched else None


_FAILURE = re.compile(r"\bfailure\(\)|\bfailed\(\)", re.IGNORECASE)
_ALWAYS = re.compile(r"\balways\(\)|\bcancelled\(\)|\bsucceededOrFailed\(\)", re.IGNORECASE)


def condition_of(expression: Any) -> Condition:
    """failure() / failed() → "failure"; always() / succeededOrFailed() → "always"."""
    if not isinstance(expression, str):
        return ""
    if _FAILURE.search(expression) and not _ALWAYS.search(expression):
        return "failure"
    if _ALWAYS.search(expression):
        return "always"
    return ""


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return " ".join(text_of(item) for item in (value.values() if isinstance(value, dict) else value))
    return str(value)


def inputs_of(mapping: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(mapping, dict):
        return ()
    return tuple((str(key), text_of(value)) for key, value in mapping.items())


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")

"""YAML from data structures, with comments where a choice needs a reason.

PyYAML cannot emit comments, so this is a small block-style emitter: mappings and
sequences are laid out here, every scalar is quoted by PyYAML's own emitter (so `on`,
`yes`, `1.10`, `*` and friends stay strings), multi-line strings become literal blocks.
Every document is parsed back and compared with the data before it is returned: a file
that would not round-trip is a bug, caught at render time rather than in the user's CI.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

INDENT = "  "


@dataclass(frozen=True)
class Commented:
    """A value with a comment emitted on the line(s) above its key or list item."""

    value: Any
    comment: str


def comment(value: Any, text: str) -> Commented:
    return Commented(value, text)


@dataclass(frozen=True)
class LineComment:
    """A scalar with a comment at the end of its own line: what tools that read markers
    from line comments expect (Flux image automation's `# {"$imagepolicy": …}` setters)."""

    value: Any
    comment: str


def line_comment(value: Any, text: str) -> LineComment:
    return LineComment(value, text)


def dump(data: Any, header: str | None = None) -> str:
    """One YAML document. `header` becomes a comment block at the top."""
    lines: list[str] = []
    if header:
        lines.extend(_comment_lines(header, ""))
    _emit_block(data, 0, lines)
    text = "\n".join(lines) + "\n"
    _check_round_trip(text, data)
    return text


def dump_all(documents: list[Any], header: str | None = None) -> str:
    """Several documents separated by `---`."""
    parts = []
    for index, document in enumerate(documents):
        parts.append(dump(document, header if index == 0 else None))
    return "---\n".join(parts)


def strip(data: Any) -> Any:
    """The plain data without comment wrappers (what a YAML parser will read back)."""
    if isinstance(data, (Commented, LineComment)):
        return strip(data.value)
    if isinstance(data, dict):
        return {key: strip(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [strip(item) for item in data]
    return data


def _emit_block(data: Any, depth: int, lines: list[str]) -> None:
    data = data.value if isinstance(data, Commented) else data
    if isinstance(data, dict):
        if not data:
            lines.append(INDENT * depth + "{}")
        for key, value in data.items():
            _emit_entry(INDENT * depth + _scalar(key) + ":", value, depth, lines)
    elif isinstance(data, (list, tuple)):
        if not data:
            lines.append(INDENT * depth + "[]")
        for item in data:
            _emit_item(item, depth, lines)
    else:
        lines.append(INDENT * depth + _scalar(data))


def _emit_entry(prefix: str, value: Any, depth: int, lines: list[str]) -> None:
    if isinstance(value, Commented):
        lines.extend(_comment_lines(value.comment, INDENT * depth))
        value = value.value
    if isinstance(value, dict) and value:
        lines.append(prefix)
        _emit_block(value, depth + 1, lines)
    elif isinstance(value, (list, tuple)) and value:
        lines.append(prefix)
        # Sequences under a key are indented one level, as most style guides and linters expect.
        _emit_block(value, depth + 1, lines)
    elif isinstance(value, str) and "\n" in value:
        lines.append(prefix + " " + _literal_indicator(value))
        for text_line in value.rstrip("\n").split("\n"):
            lines.append((INDENT * (depth + 1) + text_line) if text_line else "")
    elif isinstance(value, LineComment):
        lines.append(prefix + " " + _flow(value.value) + "  # " + value.comment)
    else:
        lines.append(prefix + " " + _flow(value))


def _emit_item(item: Any, depth: int, lines: list[str]) -> None:
    if isinstance(item, Commented):
        lines.extend(_comment_lines(item.comment, INDENT * depth))
        item = item.value
    pad = INDENT * depth
    if isinstance(item, dict) and item:
        first = True
        for key, value in item.items():
            prefix = (pad + "- " if first else pad + INDENT) + _scalar(key) + ":"
            if first and isinstance(value, Commented):
                # A comment cannot sit between "- " and the first key; put it above the item.
                lines.extend(_comment_lines(value.comment, pad))
                value = value.value
            _emit_entry(prefix, value, depth + 1, lines)
            first = False
    elif isinstance(item, (list, tuple)) and item:
        lines.append(pad + "-")
        _emit_block(item, depth + 1, lines)
    elif isinstance(item, str) and "\n" in item:
        lines.append(pad + "- " + _literal_indicator(item))
        for text_line in item.rstrip("\n").split("\n"):
            lines.append((pad + INDENT + text_line) if text_line else "")
    else:
        lines.append(pad + "- " + _flow(item))


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _scalar(value)


def _literal_indicator(value: str) -> str:
    # "|" keeps one final newline, "|-" none; leading spaces need an explicit indent.
    indicator = "|" if value.endswith("\n") else "|-"
    if value.startswith((" ", "\n")):
        indicator = "|2" + indicator[1:]
    return indicator


_PLAIN = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./@+=()-]*(?: [A-Za-z0-9_./@+=()-]+)*")


# Strings that YAML 1.1 (PyYAML) reads as strings but YAML 1.2 parsers (GitHub Actions) or
# go-yaml v2 (kubectl) read as numbers or booleans: always quote them.
_AMBIGUOUS = re.compile(
    r"[-+]?(?:0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.(?:inf|Inf|INF|nan|NaN|NAN))"
    r"|[yYnN]|~"
)


def _scalar(value: Any) -> str:
    if isinstance(value, str) and _AMBIGUOUS.fullmatch(value):
        return "'" + value + "'"
    if isinstance(value, str) and _PLAIN.fullmatch(value):
        return _plain_or_quoted(value)
    return _emit_scalar(value)


@functools.lru_cache(maxsize=4096)
def _plain_or_quoted(value: str) -> str:
    """Most strings in a kit are plain words and paths; emit them without PyYAML's whole
    emitter when its resolver agrees they read back as strings (not yes/no/1.10/null)."""
    import yaml

    resolved = yaml.resolver.Resolver().resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return value if resolved == "tag:yaml.org,2002:str" else _emit_scalar(value)


def _emit_scalar(value: Any) -> str:
    import yaml  # lazy: only rendering needs it

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot emit {type(value).__name__} as YAML")
    text: str = yaml.safe_dump(value, default_flow_style=True, width=1_000_000, allow_unicode=True)
    text = text.rstrip("\n")
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    elif text.endswith("..."):
        text = text[: -len("...")].rstrip()
    return text


def _comment_lines(text: str, pad: str) -> list[str]:
    return [f"{pad}# {line}".rstrip() for line in text.strip().split("\n")]


def _check_round_trip(text: str, data: Any) -> None:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: ~10x faster
    parsed = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader either way
    if parsed != _normalise(strip(data)):
        raise AssertionError("rendered YAML does not read back as the data it came from")


def _normalise(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _normalise(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_normalise(item) for item in data]
    return data

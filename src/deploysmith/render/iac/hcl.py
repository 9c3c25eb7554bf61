"""HCL (Terraform's native syntax) from data structures, laid out as `terraform fmt` would.

Values are Python data: str (always a quoted, escaped string: `${` and `%{` are doubled so a
value is never read as an interpolation), int, float, bool, None (null), list, dict
(an object). Anything that is code rather than a value is a dedicated type: `Ref`
(a traversal like `var.region` or `aws_kms_key.this.arn`), `Call` (a function call),
`Template` (a string with interpolations), `Op` (a binary operation) and `Type` (a type
constraint). A `Block` in a body is a nested block; a list of `Block`s repeats it.

Layout follows hclwrite's formatter, so `terraform fmt -check` accepts the output:
two-space indent; in a run of consecutive single-line `name = value` lines the `=` signs
line up one space after the longest name; a blank line, a comment, a block or a multi-line
value ends the run. Non-empty objects and lists of objects span lines; short lists of
scalars stay on one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

INDENT = "  "
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INLINE_LIST_WIDTH = 80


@dataclass(frozen=True)
class Ref:
    """A traversal: Ref("var", "region") is `var.region`; an int part is an index `[0]`."""

    parts: tuple[str | int, ...]

    def __init__(self, *parts: str | int) -> None:
        object.__setattr__(self, "parts", tuple(parts))


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]

    def __init__(self, name: str, *args: Any) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "args", tuple(args))


@dataclass(frozen=True)
class Get:
    """Attributes or indexes of an expression's result: Get(Call("one", …), "name")."""

    value: Any
    parts: tuple[str | int, ...]

    def __init__(self, value: Any, *parts: str | int) -> None:
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "parts", tuple(parts))


@dataclass(frozen=True)
class Template:
    """A string with interpolations: literal str parts are escaped, others become `${…}`."""

    parts: tuple[Any, ...]

    def __init__(self, *parts: Any) -> None:
        object.__setattr__(self, "parts", tuple(parts))


@dataclass(frozen=True)
class Op:
    left: Any
    operator: str  # one of the HCL binary operators: == != < > <= >= && || + - * /
    right: Any


@dataclass(frozen=True)
class Cond:
    """A conditional expression: `test ? then : otherwise`."""

    test: Any
    then: Any
    otherwise: Any


@dataclass(frozen=True)
class Type:
    """A type constraint such as `string`, `list(string)`, `map(string)`, `number`, `bool`."""

    text: str


@dataclass(frozen=True)
class Block:
    """A nested block: `key labels… { body }` when it is the value of `key` in a body."""

    body: Mapping[str, Any]
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Note:
    """A value (or block) with a comment on the line(s) above it."""

    value: Any
    text: str


@dataclass(frozen=True)
class TopBlock:
    """A top-level block of a file: resource, data, variable, output, module, terraform…"""

    type: str
    labels: tuple[str, ...] = ()
    body: Mapping[str, Any] = field(default_factory=dict)
    comment: str | None = None


_OPERATORS = ("==", "!=", "<", ">", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%")


def dump(blocks: Sequence[TopBlock], header: str | None = None) -> str:
    """One .tf file: top-level blocks separated by one blank line."""
    lines: list[_Line] = []
    if header:
        lines.extend(_comment_lines(header, 0))
        lines.append(_Line(""))
    for index, block in enumerate(blocks):
        if index:
            lines.append(_Line(""))
        if block.comment:
            lines.extend(_comment_lines(block.comment, 0))
        _emit_block(block.type, block.labels, block.body, 0, lines)
    return _align(lines)


# -- lines and alignment -----------------------------------------------------------------


@dataclass
class _Line:
    text: str  # the whole line, or the part before ` = ` when `value` is set
    value: str | None = None  # the right-hand side of a single-line assignment


def _align(lines: list[_Line]) -> str:
    """Line up `=` within each run of consecutive single-line assignments (hclwrite's rule)."""
    out: list[str] = []
    run: list[_Line] = []

    def flush() -> None:
        width = max((len(line.text) for line in run), default=0)
        for line in run:
            out.append(f"{line.text.ljust(width)} = {line.value}")
        run.clear()

    for line in lines:
        if line.value is None:
            flush()
            out.append(line.text)
        else:
            run.append(line)
    flush()
    return "\n".join(text.rstrip() for text in out) + "\n"


def _comment_lines(text: str, depth: int) -> list[_Line]:
    return [_Line(f"{INDENT * depth}# {line}".rstrip()) for line in text.strip().split("\n")]


# -- blocks and bodies -------------------------------------------------------------------


def _emit_block(kind: str, labels: tuple[str, ...], body: Mapping[str, Any], depth: int, lines: list[_Line]) -> None:
    head = INDENT * depth + " ".join([kind, *(_string(label) for label in labels)])
    if not body:
        lines.append(_Line(head + " {}"))
        return
    lines.append(_Line(head + " {"))
    _emit_body(body, depth + 1, lines)
    lines.append(_Line(INDENT * depth + "}"))


def _is_blocks(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(
        isinstance(_unnote(item), Block) for item in value
    )


def _unnote(value: Any) -> Any:
    return value.value if isinstance(value, Note) else value


def _emit_body(body: Mapping[str, Any], depth: int, lines: list[_Line]) -> None:
    previous_was_block = False
    for index, (key, raw) in enumerate(body.items()):
        note = raw.text if isinstance(raw, Note) else None
        value = _unnote(raw)
        nested = isinstance(value, Block) or _is_blocks(value)
        # A blank line before and after nested blocks, as hand-written Terraform has it.
        if index and (nested or previous_was_block):
            lines.append(_Line(""))
        if note:
            lines.extend(_comment_lines(note, depth))
        if isinstance(value, Block):
            _emit_block(key, value.labels, value.body, depth, lines)
        elif nested:
            for position, item in enumerate(value):
                if position:
                    lines.append(_Line(""))
                item_note = item.text if isinstance(item, Note) else None
                if item_note:
                    lines.extend(_comment_lines(item_note, depth))
                block = _unnote(item)
                _emit_block(key, block.labels, block.body, depth, lines)
        else:
            _emit_attribute(_key(key), value, depth, lines)
        previous_was_block = nested


def _emit_attribute(key: str, value: Any, depth: int, lines: list[_Line]) -> None:
    pad = INDENT * depth
    inline = _inline(value)
    if inline is not None:
        lines.append(_Line(pad + key, inline))
        return
    opening, body, closing = _multiline(value, depth)
    lines.append(_Line(f"{pad}{key} = {opening}"))
    lines.extend(body)
    lines.append(_Line(pad + closing))


def _multiline(value: Any, depth: int) -> tuple[str, list[_Line], str]:
    """The opening text, the inner lines and the closing text of a value spanning lines."""
    inner: list[_Line] = []
    if isinstance(value, Call):
        # Only a single multi-line argument is laid out across lines: jsonencode({...}).
        if len(value.args) != 1:
            raise ValueError(f"{value.name}(): only one multi-line argument is supported")
        opening, body, closing = _multiline(value.args[0], depth)
        return f"{value.name}({opening}", body, f"{closing})"
    if isinstance(value, Mapping):
        for key, item in value.items():
            note = item.text if isinstance(item, Note) else None
            if note:
                inner.extend(_comment_lines(note, depth + 1))
            _emit_attribute(_key(key), _unnote(item), depth + 1, inner)
        return "{", inner, "}"
    if isinstance(value, (list, tuple)):
        for item in value:
            item = _unnote(item)
            text = _inline(item)
            if text is not None:
                inner.append(_Line(f"{INDENT * (depth + 1)}{text},"))
                continue
            opening, body, closing = _multiline(item, depth + 1)
            inner.append(_Line(INDENT * (depth + 1) + opening))
            inner.extend(body)
            inner.append(_Line(f"{INDENT * (depth + 1)}{closing},"))
        return "[", inner, "]"
    raise TypeError(f"cannot lay out {type(value).__name__} across lines")


def _inline(value: Any) -> str | None:
    """The value on one line, or None when it must span lines (non-empty objects, lists
    holding objects, long lists, calls with such arguments)."""
    value = _unnote(value)
    if isinstance(value, Mapping):
        return "{}" if not value else None
    if isinstance(value, (list, tuple)):
        items = [_inline(item) for item in value]
        if any(item is None for item in items):
            return None
        text = "[" + ", ".join(item for item in items if item is not None) + "]"
        return text if len(text) <= _INLINE_LIST_WIDTH else None
    if isinstance(value, Call):
        args = [_inline(arg) for arg in value.args]
        if any(arg is None for arg in args):
            return None
        return f"{value.name}(" + ", ".join(arg for arg in args if arg is not None) + ")"
    return expression(value)


def expression(value: Any) -> str:
    """A single-line expression for a scalar or an expression type."""
    if isinstance(value, Note):
        return expression(value.value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Ref):
        return _traversal(value)
    if isinstance(value, Type):
        return value.text
    if isinstance(value, Get):
        return expression(value.value) + _traversal(Ref("_", *value.parts))[1:]
    if isinstance(value, Cond):
        return f"{_operand(value.test)} ? {_operand(value.then)} : {_operand(value.otherwise)}"
    if isinstance(value, Template):
        return '"' + "".join(
            _escape(part) if isinstance(part, str) else "${" + expression(part) + "}" for part in value.parts
        ) + '"'
    if isinstance(value, Op):
        if value.operator not in _OPERATORS:
            raise ValueError(f"unknown operator {value.operator!r}")
        return f"{_operand(value.left)} {value.operator} {_operand(value.right)}"
    if isinstance(value, (Call, list, tuple, Mapping)):
        text = _inline(value)
        if text is None:
            raise ValueError("a multi-line value cannot be used inside an expression")
        return text
    raise TypeError(f"cannot emit {type(value).__name__} as HCL")


def _operand(value: Any) -> str:
    text = expression(value)
    return f"({text})" if isinstance(value, (Op, Cond)) else text


def _traversal(ref: Ref) -> str:
    text = ""
    for index, part in enumerate(ref.parts):
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _IDENT.fullmatch(part):
            raise ValueError(f"not an identifier in a reference: {part!r}")
        else:
            text += ("." if index else "") + part
    return text


def _key(key: str | Template) -> str:
    if isinstance(key, Template):
        return expression(key)
    return key if _IDENT.fullmatch(key) else _string(key)


def _string(value: str) -> str:
    return '"' + _escape(value) + '"'


def _escape(value: str) -> str:
    out = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return out.replace("${", "$${").replace("%{", "%%{")

"""Helm templates from data: a manifest built as data, with markers where Helm fills in a value.

A Helm template is a Go text template, not YAML, so it cannot be written by a YAML emitter
directly, and building it by string concatenation is how charts end up with broken
indentation. Instead a template is a manifest (the same data the Kustomize base is built
from) in which some values are markers:

- `Expr(".Values.appEnv | quote")`: a scalar, emitted as `{{ .Values.appEnv | quote }}`;
- `Block("$wl.resources")`: a whole YAML node taken from the values, emitted as
  `key: {{- toYaml $wl.resources | nindent N }}` with N one level deeper than the key;
- `Splice('include "shop.labels" .')`: a mapping key whose entries come from a named
  template, emitted as `{{- include "shop.labels" . | nindent N }}` at the mapping's indent.

`render` swaps each marker for a unique plain token, lets `yamlout.dump` lay the document
out (and check that it reads back as the data), then replaces each token on its line with
the template action. Every token must be replaced exactly once, and the text around the
actions must contain no `{{` of its own (a comment with braces would be read as an action);
both are checked, so a template that would not parse is a bug caught at render time. The
tests render every chart with Helm's own engine (helm-python-sdk) to prove the result.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from deploysmith.render.yamlout import Commented, dump

_SPLICED = "HELMSPLICE"


@dataclass(frozen=True)
class Expr:
    """A scalar Helm computes: `{{ text }}`. Quote strings in `text` (`| quote`)."""

    text: str


@dataclass(frozen=True)
class Block:
    """A YAML node from the values, re-indented under its key."""

    text: str


@dataclass(frozen=True)
class Splice:
    """Mapping entries produced by `text` (usually an `include`), used as a dict key."""

    text: str


@dataclass(frozen=True)
class Template:
    """One file under templates/: a manifest, the variables it reads, and an optional
    condition on the whole document (`if <condition>` … `end`)."""

    manifest: Any
    header: str
    variables: tuple[tuple[str, str], ...] = ()  # ("$wl", 'index .Values.workloads "api"')
    condition: str | None = None


def render(template: Template) -> str:
    """The template's text, ready for Helm."""
    markers: dict[str, Expr | Block | Splice] = {}
    data = _tokenise(template.manifest, markers)
    text = dump(data, template.header)
    if "{{" in text or "}}" in text:
        raise AssertionError("template text has braces of its own outside the template actions")
    lines = [_replace_line(line, markers) for line in text.split("\n")]
    if markers:
        raise AssertionError(f"markers not placed: {sorted(markers)}")
    prefix = [f"{{{{- {name} := {value} }}}}" for name, value in template.variables]
    body = "\n".join(lines)
    if template.condition is not None:
        prefix.append(f"{{{{- if {template.condition} }}}}")
        body = body.rstrip("\n") + "\n{{- end }}\n"
    return "\n".join([*prefix, body]) if prefix else body


def _tokenise(data: Any, markers: dict[str, Expr | Block | Splice]) -> Any:
    if isinstance(data, Commented):
        return Commented(_tokenise(data.value, markers), data.comment)
    if isinstance(data, (Expr, Block)):
        return _token(data, markers)
    if isinstance(data, dict):
        result: dict[Any, Any] = {}
        for key, value in data.items():
            if isinstance(key, Splice):
                result[_token(key, markers)] = _SPLICED
            else:
                result[key] = _tokenise(value, markers)
        return result
    if isinstance(data, (list, tuple)):
        return [_tokenise(item, markers) for item in data]
    if isinstance(data, str) and ("{{" in data or "}}" in data):
        # Text with braces of its own (Argo Rollouts' {{args.x}}): a Go string literal the
        # template prints as is (JSON's escapes are a subset of Go's), quoted for YAML.
        return _token(Expr(json.dumps(data) + " | quote"), markers)
    return data


def _token(marker: Expr | Block | Splice, markers: dict[str, Expr | Block | Splice]) -> str:
    token = f"HELMTPL{len(markers):04d}X"
    markers[token] = marker
    return token


_TOKEN = re.compile(r"HELMTPL\d{4}X")
_KEY_COLUMN = re.compile(r"^(\s*(?:- )*)")


def _replace_line(line: str, markers: dict[str, Expr | Block | Splice]) -> str:
    found = _TOKEN.findall(line)
    if not found:
        return line
    if len(found) > 1:
        raise AssertionError(f"two template markers on one line: {line!r}")
    token = found[0]
    marker = markers.pop(token)
    column = len(_KEY_COLUMN.match(line).group(1))  # type: ignore[union-attr]
    if isinstance(marker, Expr):
        return line.replace(token, f"{{{{ {marker.text} }}}}")
    if isinstance(marker, Block):
        if not line.endswith(": " + token):
            raise AssertionError(f"a block marker must be a mapping value: {line!r}")
        return line[: -len(token)] + f"{{{{- toYaml {marker.text} | nindent {column + 2} }}}}"
    if line.strip() != f"{token}: {_SPLICED}" or line.lstrip().startswith("-"):
        raise AssertionError(f"a splice marker must be a key of a block mapping: {line!r}")
    return " " * column + f"{{{{- {marker.text} | nindent {column} }}}}"

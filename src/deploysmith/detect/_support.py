"""Small helpers for the go, jvm, rust, ruby, php and dotnet plugins that detect/common.py
does not have: evidence for a known line number, config-key lookups with their line, and
safe XML parsing for pom.xml and *.csproj.

Conventions shared by the compiled-language plugins (Go, Rust, JVM, .NET): build_command
runs in the component's folder in a build stage and leaves its result at build_output
(relative to the component's folder, or absolute when the build writes outside it); the
runtime image holds that result under /app, and start_command runs there.
"""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator

from deploysmith.detect.common import Facts
from deploysmith.model import Evidence
from deploysmith.repo import Repo


def at_line(repo: Repo, rel: str, number: int, suffix: str = "", default: bool = False) -> Evidence:
    """Evidence for line `number` of `rel`, with an optional explanation after its text."""
    lines = (repo.read_text(rel) or "").splitlines()
    text = lines[number - 1].strip()[:200] if 0 < number <= len(lines) else ""
    return Evidence(file=rel, line=number, text=text + suffix, default=default)


Hit = tuple[str, re.Match[str], Evidence]  # file, match, evidence for the matching line


def search(repo: Repo, files: Iterable[str], regex: re.Pattern[str]) -> Iterator[Hit]:
    """Like common.search, but line by line: `^`, `$` and `\\s` never reach past one line."""
    for rel in files:
        text = repo.read_text(rel)
        for number, line in enumerate((text or "").splitlines(), start=1):
            match = regex.search(line)
            if match:
                yield rel, match, Evidence(file=rel, line=number, text=line.strip()[:200])


def first(repo: Repo, files: Iterable[str], regex: re.Pattern[str]) -> Hit | None:
    return next(search(repo, files, regex), None)


def explained(evidence: Evidence, suffix: str, default: bool = False) -> Evidence:
    """The same line, with an explanation a reviewer needs appended to its text."""
    return Evidence(evidence.file, evidence.line, evidence.text + suffix, default or evidence.default)


def clone(facts: Facts) -> Facts:
    """An independent copy, for a second process that shares most facts (a worker)."""
    return copy.deepcopy(facts)


def yaml_key_line(text: str, dotted: str) -> int | None:
    """The line of a nested key ("server.port") in block-style YAML, by indentation; also
    finds the key spelled flat ("server.port: 80"). None when absent."""
    wanted = dotted.split(".")
    stack: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        match = re.match(r"^(\s*)([\w.\-]+)\s*:", raw)
        if match is None or raw.lstrip().startswith("#"):
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(2)))
        if ".".join(key for _, key in stack).split(".") == wanted:
            return number
    return None


def parse_xml(repo: Repo, rel: str) -> ET.Element | None:
    """The XML document's root with namespaces removed, or None with a warning. Documents
    that declare a DOCTYPE or entities are refused: entity expansion is an attack surface,
    and build files never need it."""
    text = repo.read_text(rel)
    if text is None:
        return None
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        repo.warnings.append(f"{rel}: declares a DOCTYPE or entities; not parsed (unsafe XML)")
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        repo.warnings.append(f"{rel}:{error.position[0]}: malformed XML ({error}); ignored")
        return None
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]
    return root


def xml_text(element: ET.Element | None, path: str) -> str | None:
    """The stripped text at `path` below `element`, or None when missing or empty."""
    if element is None:
        return None
    found = element.find(path)
    text = (found.text or "").strip() if found is not None else ""
    return text or None

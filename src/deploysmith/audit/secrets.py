"""Secret rules: credentials committed in any text file.

Applies to every text file except lock files and known binary formats. DS-SECRET-001
matches provider formats that are almost never anything else; DS-SECRET-002 matches
`password = "…"`-style assignments whose value looks random (Shannon entropy), because a
keyword alone is mostly placeholders. A finding never contains the secret: it names the
kind and at most a four-character prefix.
"""

from __future__ import annotations

import bisect
import math
import posixpath
import re
from collections import Counter
from typing import Iterator

from deploysmith.audit.base import FileSet, Hit, Rule, TextFile

_SKIP_NAMES = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "poetry.lock",
    "Pipfile.lock", "uv.lock", "pdm.lock", "Cargo.lock", "go.sum", "Gemfile.lock", "composer.lock",
    "packages.lock.json", "gradle.lockfile", "mix.lock", "pubspec.lock", "flake.lock",
})
_BINARY_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".ico", ".webp", ".bmp", ".tiff", ".pdf", ".zip", ".gz", ".tgz",
    ".bz2", ".xz", ".zst", ".tar", ".7z", ".rar", ".jar", ".war", ".ear", ".class", ".pyc", ".pyo", ".so",
    ".dylib", ".dll", ".exe", ".o", ".a", ".lib", ".bin", ".woff", ".woff2", ".ttf", ".otf", ".eot",
    ".mp3", ".mp4", ".mov", ".avi", ".wav", ".ogg", ".webm", ".sqlite", ".db", ".parquet", ".wasm",
})


def applies_to(path: str) -> bool:
    name = posixpath.basename(path)
    return name not in _SKIP_NAMES and posixpath.splitext(name)[1].lower() not in _BINARY_EXTENSIONS


# -- names (shared with the Dockerfile and Kubernetes rules) -------------------------------------------

_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL", re.IGNORECASE
)
# Names that say where or how a secret is, not the secret itself.
_NOT_SECRET_NAME = re.compile(
    r"(?:^|[_.-])(?:FILE|PATH|DIR|URL|URI|ENDPOINT|NAME|REF|LENGTH|TTL|EXPIRY|EXPIRES|HEADER|TYPE|"
    r"ENABLED|VERSION|POLICY|MODE|FIELD|ID)(?:[_.-]|$)|(?:NAME|REF|URL|PATH|FILE)$",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """A variable or key that holds a secret value by its name (DB_PASSWORD, API_KEY, …)."""
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


_PLACEHOLDER = re.compile(
    r"example|xxxx|changeme|change_me|change-me|placeholder|dummy|sample|redacted|your[_-]|fake|\*\*\*\*|"
    r"<[^>]*>|\$\{|\{\{|0000000000|1234567890|abcdefgh",
    re.IGNORECASE,
)


def is_placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.search(value))


def mask(value: str) -> str:
    return f"{value[:4]}…" if len(value) > 8 else "…"


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


class _Lines:
    """Line and column of an offset, computed only for files that have a match."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]

    def at(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index] + 1


def _files(fs: FileSet) -> Iterator[TextFile]:
    return (text for text in fs.texts if applies_to(text.path))


# -- DS-SECRET-001 --------------------------------------------------------------------------------------

_PROVIDERS = re.compile(
    r"(?P<aws>\b(?:AKIA|ASIA)[0-9A-Z]{16}\b)"
    r"|(?P<pkey>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)"
    r"|(?P<github>\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{82}\b)"
    r"|(?P<slack>\bxox[abposr]-[A-Za-z0-9-]{10,})"
    r"|(?P<google>\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-]))"
    r"|(?P<stripe>\b[sr]k_live_[0-9A-Za-z]{20,})"
)
_KINDS = {
    "aws": "an AWS access key id",
    "pkey": "a private key",
    "github": "a GitHub token",
    "slack": "a Slack token",
    "google": "a Google API key",
    "stripe": "a Stripe live secret key",
}
_KEY_BODY = re.compile(r"[A-Za-z0-9+/=]{40,}")


def _provider_secrets(fs: FileSet) -> Iterator[Hit]:
    for file in _files(fs):
        lines: _Lines | None = None
        for match in _PROVIDERS.finditer(file.text):
            kind, value = match.lastgroup or "", match.group(0)
            if kind == "pkey":
                body = file.text[match.end(): match.end() + 400]
                if not _KEY_BODY.search(body) or "..." in body or is_placeholder(body):
                    continue
                shown = ""
            else:
                if is_placeholder(value):
                    continue
                shown = f" ({mask(value)})"
            lines = lines or _Lines(file.text)
            line, column = lines.at(match.start())
            yield Hit(
                file.path,
                line,
                f"{_KINDS[kind]}{shown} is committed in this file; revoke it now, then load it from a secret "
                "store or CI secret",
                column,
            )


# -- DS-SECRET-002 --------------------------------------------------------------------------------------

_ASSIGNMENT = re.compile(
    r"(?P<key>[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|client[_-]?secret)[A-Za-z0-9_.-]*)[\"']?[ \t]*[:=][ \t]*[\"']?"
    r"(?P<value>[A-Za-z0-9+/=_.~!@#%^&*-]{16,})",
    re.IGNORECASE,
)
_DOTTED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")


def _looks_random(value: str) -> bool:
    return (
        any(char.isdigit() for char in value)
        and any(char.isalpha() for char in value)
        and not _DOTTED_NAME.match(value)
        and not is_placeholder(value)
        and entropy(value) >= 3.5
    )


def _generic_secrets(fs: FileSet) -> Iterator[Hit]:
    for file in _files(fs):
        lines: _Lines | None = None
        for match in _ASSIGNMENT.finditer(file.text):
            key, value = match.group("key"), match.group("value")
            if _NOT_SECRET_NAME.search(key) or not _looks_random(value):
                continue
            if _PROVIDERS.search(value):  # DS-SECRET-001 reports it
                continue
            lines = lines or _Lines(file.text)
            line, column = lines.at(match.start("value"))
            yield Hit(
                file.path,
                line,
                f"{key} is set to a literal that looks like a real secret ({mask(value)}); load it from the "
                "environment or a secret store, and rotate it if it was ever valid",
                column,
            )


RULES: tuple[Rule, ...] = (
    Rule("DS-SECRET-001", "secret-committed", "error",
         "A credential in a provider's format (AWS, GitHub, Slack, Google, Stripe, private key) is committed.",
         _provider_secrets),
    Rule("DS-SECRET-002", "secret-generic-assignment", "warning",
         "A password/secret/token/key variable is assigned a random-looking literal.", _generic_secrets),
)

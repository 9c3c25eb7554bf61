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
from collections.abc import Iterator

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
        self.starts = [0]
        newline = text.find("\n")
        while newline != -1:
            self.starts.append(newline + 1)
            newline = text.find("\n", newline + 1)

    def at(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index] + 1


def _files(fs: FileSet) -> Iterator[TextFile]:
    return (text for text in fs.texts if applies_to(text.path))


# -- DS-SECRET-001 --------------------------------------------------------------------------------------

# kind → (literal prefixes, pattern); the prefixes are a fast str.find before the regex.
_PROVIDERS: dict[str, tuple[tuple[str, ...], re.Pattern[str]]] = {
    "aws": (("AKIA", "ASIA"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    "pkey": (("PRIVATE KEY",), re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    "github": (
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{82}\b"),
    ),
    "slack": (("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    "google": (("AIza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")),
    "stripe": (("_live_",), re.compile(r"\b[sr]k_live_[0-9A-Za-z]{20,}")),
}


# Any prefix of any provider: one scan rules out most files before the per-provider checks.
_ANY_PREFIX = re.compile("|".join(re.escape(prefix) for prefixes, _ in _PROVIDERS.values() for prefix in prefixes))


def _provider_matches(text: str) -> Iterator[tuple[str, re.Match[str]]]:
    if not _ANY_PREFIX.search(text):
        return
    for kind, (prefixes, pattern) in _PROVIDERS.items():
        if any(prefix in text for prefix in prefixes):
            for match in pattern.finditer(text):
                yield kind, match


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
        for kind, match in _provider_matches(file.text):
            value = match.group(0)
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

_KEYWORDS = ("passw", "secret", "token", "apikey", "api_key", "api-key", "access_key", "access-key",
             "accesskey", "private_key", "private-key", "privatekey")
# Anchored on the keyword (fast); the rest of the name before it is recovered by _key_start.
_ASSIGNMENT = re.compile(
    r"(?:password|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key)"
    r"[A-Za-z0-9_.-]*[\"']?[ \t]*[:=][ \t]*[\"']?(?P<value>[A-Za-z0-9+/=_.~!@#%^&*-]{16,})",
    re.IGNORECASE,
)
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def _key_start(text: str, end: int) -> int:
    start = end
    while start > 0 and text[start - 1] in _NAME_CHARS:
        start -= 1
    return start


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
        lower = file.text.lower()
        if not any(keyword in lower for keyword in _KEYWORDS):
            continue
        lines: _Lines | None = None
        for match in _ASSIGNMENT.finditer(file.text):
            key_end = match.start("value")
            key = file.text[_key_start(file.text, match.start()): key_end].rstrip("\"' \t:=")
            value = match.group("value")
            if _NOT_SECRET_NAME.search(key) or not _looks_random(value):
                continue
            if any(True for _ in _provider_matches(value)):  # DS-SECRET-001 reports it
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
         "A credential in a provider's format (AWS, GitHub, Slack, Google, Stripe, private key) "
         "is committed.",
         _provider_secrets),
    Rule("DS-SECRET-002", "secret-generic-assignment", "warning",
         "A password/secret/token/key variable is assigned a random-looking literal.", _generic_secrets),
)

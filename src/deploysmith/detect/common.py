"""Helpers shared by the discovery core and the ecosystem plugins.

Everything here reads through `Repo` (text only, never executes anything) and is cheap:
listings are indexed once per Repo, source scanning is bounded.

Component names from plugins: the core names components after their folder. A plugin
that returns one component may leave `name` empty; extra processes sharing the folder use
a suffix starting with "-" ("-worker" becomes "<folder name>-worker"). Any other name is
kept (sanitised), e.g. Go binaries named after their `cmd/<name>` folder.
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from deploysmith.model import Component, ComponentKind, Evidence
from deploysmith.repo import Repo, join

# fmt: off
# Files that make a folder a project of its own (used to keep source scans and static-site
# detection inside one project).
PROJECT_MANIFESTS = frozenset(
    {
        "package.json", "pyproject.toml", "requirements.txt", "Pipfile", "setup.py",
        "go.mod", "Cargo.toml", "pom.xml", "build.gradle", "build.gradle.kts", "Gemfile",
        "composer.json", "mix.exs", "deno.json",
    }
)
PROJECT_MANIFEST_SUFFIXES = (".csproj", ".fsproj", ".sln")

# Folders that hold tests, fixtures, docs or examples, never the app to deploy (unless a
# workspace or compose file names them explicitly).
SKIP_SEGMENTS = frozenset(
    {
        "tests", "test", "__tests__", "__mocks__", "fixtures", "__fixtures__", "testdata",
        "test-fixtures", "docs", "doc", "examples", "example", "samples", "e2e",
        "node_modules", "htmlcov", "templates", "template", "third_party", "third-party", "__snapshots__",
    }
)
# Folders a source scan does not enter (tests, migrations, generated or static files).
SCAN_SKIP_SEGMENTS = SKIP_SEGMENTS | {
    "migrations", "alembic", "spec", "specs", "static", "public", "assets", "templates",
    "locale", "scripts", "benchmarks", "bench", "cypress", "playwright", "stories",
}

# fmt: on
HEALTH_NAMES = ("healthz", "health", "livez", "readyz", "ping", "up", "status")


# -- listing -------------------------------------------------------------------------


def _index(repo: Repo) -> dict[str, list[str]]:
    """Folder → names of the files directly in it, built once per Repo."""
    cached: dict[str, list[str]] | None = repo.__dict__.get("_ds_dir_index")
    if cached is None:
        cached = {}
        for rel in repo.files:
            folder, _, name = rel.rpartition("/")
            cached.setdefault(folder or ".", []).append(name)
        repo.__dict__["_ds_dir_index"] = cached
    return cached


def names_in(repo: Repo, directory: str) -> list[str]:
    """Names of the files directly in `directory` ("." for the root)."""
    return _index(repo).get(directory or ".", [])


def folders(repo: Repo) -> list[str]:
    """Folders that directly hold at least one file, sorted."""
    return folders_under(repo, ".")


def files_under(repo: Repo, directory: str) -> Iterator[str]:
    """Every file below `directory`, in sorted order (uses the sorted listing)."""
    if directory in (".", ""):
        yield from repo.files
        return
    prefix = directory.rstrip("/") + "/"
    start = bisect.bisect_left(repo.files, prefix)
    for rel in repo.files[start:]:
        if not rel.startswith(prefix):
            return
        yield rel


def matches_marker(name: str, markers: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, marker) for marker in markers)


def is_project_dir(repo: Repo, directory: str) -> bool:
    """Whether `directory` holds a manifest of its own (cached per Repo)."""
    cache: dict[str, bool] = repo.__dict__.setdefault("_ds_projects", {})
    if directory not in cache:
        cache[directory] = any(
            name in PROJECT_MANIFESTS or name.endswith(PROJECT_MANIFEST_SUFFIXES)
            for name in names_in(repo, directory)
        )
    return cache[directory]


def parent(directory: str) -> str:
    if directory in (".", ""):
        return "."
    head, _, _ = directory.rpartition("/")
    return head or "."


def ancestors(directory: str) -> Iterator[str]:
    """`directory`, its parent, …, up to and including the root "."."""
    current = directory or "."
    while True:
        yield current
        if current == ".":
            return
        current = parent(current)


def find_upwards(repo: Repo, directory: str, names: Sequence[str]) -> str | None:
    """The first of `names` found in `directory` or the nearest folder above it."""
    for folder in ancestors(directory):
        for name in names:
            rel = join(folder, name)
            if repo.exists(rel):
                return rel
    return None


def relative(directory: str, rel: str) -> str:
    """`rel` (repo-relative) expressed relative to the folder `directory`."""
    if directory in (".", ""):
        return rel
    prefix = directory.rstrip("/") + "/"
    return rel[len(prefix) :] if rel.startswith(prefix) else rel


def is_skipped(directory: str) -> bool:
    """Test, docs, example and hidden folders: never a component unless declared."""
    if directory in (".", ""):
        return False
    return any(part in SKIP_SEGMENTS or part.startswith(".") for part in directory.split("/"))


# -- dependency files ------------------------------------------------------------------


def present(repo: Repo, directory: str, names: Iterable[str]) -> list[str]:
    """Those of `names` (relative to `directory`) that exist, in the given order, once each."""
    return [name for name in dict.fromkeys(names) if repo.exists(join(directory, name))]


def listed_under(repo: Repo, directory: str, folder: str) -> list[str]:
    """Every file below `folder` (relative to `directory`), relative to `directory`, sorted."""
    return [relative(directory, rel) for rel in files_under(repo, join(directory, folder))]


def inside(directory: str, rel: str) -> bool:
    """Whether the repo-relative `rel` is in `directory` or below it."""
    if rel == ".." or rel.startswith("../"):
        return False
    return directory in (".", "") or rel.startswith(directory.rstrip("/") + "/")


def build_warning(repo: Repo, directory: str, text: str) -> None:
    """A warning about how the folder's image would build (dependency files, credentials,
    start scripts). The core keeps it only when the folder turns out to be deployed, so
    libraries and tooling folders stay quiet (see flush_build_warnings)."""
    pending: dict[str, list[str]] = repo.__dict__.setdefault("_ds_build_warnings", {})
    pending.setdefault(directory or ".", []).append(text)


def flush_build_warnings(repo: Repo, directory: str, keep: bool) -> None:
    """Move the folder's build warnings to repo.warnings (keep=True) or drop them."""
    pending: dict[str, list[str]] = repo.__dict__.get("_ds_build_warnings", {})
    found = pending.pop(directory or ".", [])
    if keep:
        repo.warnings.extend(found)


def credential_warning(rel: str, what: str) -> str:
    """The warning for a file that holds credentials the dependency install needs: it is
    never listed in dependency_files, so no image layer keeps it."""
    return (
        f"{rel}: holds {what}; not copied with the dependency files (an image layer would keep it): "
        "give the install a BuildKit secret instead (RUN --mount=type=secret) and keep the file out "
        "of the image (.dockerignore)"
    )


def outside_warning(directory: str, files: Sequence[str], reader: str) -> str:
    """The warning for files the install reads that lie outside the component's folder."""
    where = directory if directory not in (".", "") else "the repository root"
    return (
        f"{where}: {reader} reads {', '.join(files)}, outside {where}, the folder the image is built "
        "from; the image build cannot see it"
    )


# -- evidence and facts --------------------------------------------------------------


def file_evidence(rel: str, default: bool = False) -> Evidence:
    """Evidence that a file exists (a lock file, a binary), without reading it."""
    return Evidence(file=rel, line=None, text="", default=default)


def evidence_at(rel: str, text: str, offset: int, default: bool = False) -> Evidence:
    """Evidence for the line of `text` (the content of `rel`) holding character `offset`."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    line_text = text[start : end if end != -1 else len(text)]
    return Evidence(
        file=rel, line=text.count("\n", 0, offset) + 1, text=line_text.strip()[:200], default=default
    )


class Facts:
    """Component fields gathered one at a time, each with its evidence."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.evidence: dict[str, list[Evidence]] = {}

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def set(self, key: str, value: Any, *evidence: Evidence) -> None:
        """Record `value` (ignored when None), replacing an earlier value."""
        if value is None:
            return
        self.values[key] = value
        self.evidence[key] = list(evidence)

    def setdefault(self, key: str, value: Any, *evidence: Evidence) -> None:
        if self.values.get(key) is None:
            self.set(key, value, *evidence)

    def add_service(self, service: str, evidence: Evidence) -> None:
        services: list[str] = self.values.setdefault("services", [])
        if service not in services:
            services.append(service)
            self.evidence.setdefault("services", []).append(evidence)

    def component(self, path: str, kind: ComponentKind, language: str | None, name: str = "") -> Component:
        values = dict(self.values)
        if "services" in values:
            values["services"] = tuple(values["services"])
        if "dependency_files" in values:
            values["dependency_files"] = tuple(values["dependency_files"])
        return Component(
            name=name,
            path=path,
            kind=kind,
            language=language,
            evidence={key: tuple(items) for key, items in self.evidence.items() if items},
            **values,
        )


# -- source scanning -----------------------------------------------------------------


def source_files(
    repo: Repo,
    directory: str,
    suffixes: Sequence[str],
    priority: Sequence[str] = (),
    limit: int = 60,
    max_depth: int = 4,
) -> list[str]:
    """Up to `limit` source files of the project in `directory`, most likely entry points
    first: shallow before deep, then names in `priority` order. Tests, migrations, static
    files and nested projects (folders with their own manifest) are left out."""
    rank = {name: index for index, name in enumerate(priority)}
    ends = tuple(suffixes)
    found: list[tuple[int, int, str]] = []
    for folder in folders_under(repo, directory):
        inner = relative(directory, folder) if folder != directory else ""
        parts = inner.split("/") if inner else []
        if len(parts) > max_depth or any(p in SCAN_SKIP_SEGMENTS or p.startswith(".") for p in parts):
            continue
        if any(is_project_dir(repo, join(directory, "/".join(parts[:i]))) for i in range(1, len(parts) + 1)):
            continue
        prefix = "" if folder == "." else folder + "/"
        for name in names_in(repo, folder):
            if not name.endswith(ends) or name.startswith(("test_", "conftest")) or _TEST_NAME.search(name):
                continue
            found.append((len(parts), rank.get(name.rsplit(".", 1)[0], len(rank)), prefix + name))
    found.sort()
    return [rel for _, _, rel in found[:limit]]


_TEST_NAME = re.compile(r"[._-](test|spec)\.\w+$")


def folders_under(repo: Repo, directory: str) -> list[str]:
    """`directory` (if it holds files) and the folders below it that hold files, sorted."""
    listing: list[str] | None = repo.__dict__.get("_ds_folders")
    if listing is None:
        listing = sorted(_index(repo))
        repo.__dict__["_ds_folders"] = listing
    if directory in (".", ""):
        return listing
    prefix = directory.rstrip("/") + "/"
    start = bisect.bisect_left(listing, directory)
    out = []
    for folder in listing[start:]:
        if folder == directory or folder.startswith(prefix):
            out.append(folder)
        elif folder > prefix:
            break
    return out


def search(
    repo: Repo, files: Iterable[str], pattern: re.Pattern[str]
) -> Iterator[tuple[str, re.Match[str], Evidence]]:
    """Every match of `pattern` in `files`, in file order, with evidence for its line."""
    for rel in files:
        text = repo.read_text(rel)
        if not text:
            continue
        for match in pattern.finditer(text):
            yield rel, match, evidence_at(rel, text, match.start())


def first(
    repo: Repo, files: Iterable[str], pattern: re.Pattern[str]
) -> tuple[str, re.Match[str], Evidence] | None:
    return next(search(repo, files, pattern), None)


def health_rank(path: str) -> tuple[int, int]:
    """Lower is better: the preferred health endpoint name, then the shortest path."""
    last = path.rstrip("/").rsplit("/", 1)[-1].lower()
    index = HEALTH_NAMES.index(last) if last in HEALTH_NAMES else len(HEALTH_NAMES)
    return index, len(path)


HEALTH_PATH_RE = r"/(?:[\w.{}:-]+/)*(?:healthz?|livez|readyz|ping|up|status)/?"


def best_health(found: Iterable[tuple[str, Evidence]]) -> tuple[str, Evidence] | None:
    candidates = sorted(found, key=lambda item: health_rank(item[0]))
    return candidates[0] if candidates else None


# -- values ---------------------------------------------------------------------------

_VERSION_RE = re.compile(r"(\d+)(?:\.(\d+|x|\*))?")


def minor_version(spec: str) -> str | None:
    """ "3.12" from "3.12.1", ">=3.12,<4", "^3.12", "python-3.12.4", "~=3.12"."""
    match = _VERSION_RE.search(spec)
    if match is None or match.group(2) is None or not match.group(2).isdigit():
        return None
    return f"{match.group(1)}.{match.group(2)}"


def major_version(spec: str) -> str | None:
    """ "20" from "v20.11.1", ">=20", "^20.1", "20.x"; None for "lts/*" or "node"."""
    match = _VERSION_RE.search(spec)
    return match.group(1) if match else None


def sanitize_name(text: str, limit: int = 40) -> str:
    """A DNS-1123 label: lowercase letters, digits and '-', at most `limit` characters."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    name = name[:limit].rstrip("-")
    return name or "app"


def dep_pattern(name: str) -> re.Pattern[str]:
    """A line declaring the dependency `name` (requirements, pyproject, Pipfile, package.json),
    tolerant of '-', '_' and '.' spelled interchangeably."""
    parts = [re.escape(part) for part in re.split(r"[-_.]+", name)]
    body = r"[-_.]".join(parts)
    return re.compile(rf"(?i)^(?!\s*\[)(?:.*?[\s\"'])?{body}(?:\[[^\]]*\])?\s*(?:[<>=!~;@\"',:\]]|$)")


# -- Procfile --------------------------------------------------------------------------

_PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+)\s*:\s*(\S.*?)\s*$")


def parse_procfile(text: str) -> list[tuple[str, str, int]]:
    """(process type, command, 1-based line) for each entry of a Procfile."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        match = _PROCFILE_LINE.match(line.strip())
        if match:
            entries.append((match.group(1).lower(), match.group(2), number))
    return entries


_COMMAND_PORT = re.compile(
    r"(?:--port[=\s]+|\s-p\s+|--bind[=\s]+\S*?:|\s-b\s+\S*?:|--listen[=\s]+\S*?:"
    r"|--server\.port[=\s]+|runserver\s+(?:\S*:)?)(\d{2,5})\b"
)


def port_from_command(command: str) -> int | None:
    match = _COMMAND_PORT.search(" " + command)
    return int(match.group(1)) if match else None


# -- backing services ------------------------------------------------------------------

# fmt: off
# Container image names (last path part, without tag) → the service they provide.
SERVICE_IMAGES: dict[str, str] = {
    "postgres": "postgres", "postgis": "postgres", "timescaledb": "postgres",
    "timescaledb-ha": "postgres", "pgvector": "postgres", "mysql": "mysql", "mariadb": "mysql",
    "percona-server": "mysql", "mongo": "mongodb", "mongodb": "mongodb",
    "mongodb-community-server": "mongodb", "redis": "redis", "redis-stack": "redis",
    "redis-stack-server": "redis", "valkey": "redis", "keydb": "redis", "dragonfly": "redis",
    "rabbitmq": "rabbitmq", "kafka": "kafka", "cp-kafka": "kafka", "redpanda": "kafka",
    "elasticsearch": "elasticsearch", "opensearch": "elasticsearch", "memcached": "memcached",
    "minio": "minio", "nats": "nats", "clickhouse-server": "clickhouse", "clickhouse": "clickhouse",
    "cassandra": "cassandra", "meilisearch": "meilisearch", "typesense": "typesense",
}

# fmt: on
_SERVICE_URL = re.compile(
    r"""["'](postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?)(?:\+\w+)?://"""
)
_URL_SERVICE = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mongodb": "mongodb",
    "mongodb+srv": "mongodb",
    "redis": "redis",
    "rediss": "redis",
    "amqp": "rabbitmq",
    "amqps": "rabbitmq",
}


def service_for_image(image: str) -> str | None:
    """ "postgres" for "docker.io/library/postgres:16-alpine", "bitnami/redis:7" → "redis"."""
    name = image.strip().split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    last = last.split(":", 1)[0].lower()
    return SERVICE_IMAGES.get(last)


def services_from_urls(repo: Repo, files: Iterable[str], facts: Facts) -> None:
    """Backing services named by connection-URL literals ("redis://…", "amqp://…")."""
    for _, match, evidence in search(repo, files, _SERVICE_URL):
        facts.add_service(_URL_SERVICE[match.group(1).lower()], evidence)

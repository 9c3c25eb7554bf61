"""Go modules (go.mod): gin, echo, fiber, chi, gRPC and plain net/http servers; workers.

One component per main package: the module root and `cmd/<name>` folders, or (when neither
holds one) any other main package outside examples/tools/scripts. Each binary is analysed
through the packages of its own module that it imports (breadth first, bounded), so an API
binary and a worker binary of one module get their own kind, framework, port and routes.
Services and migrations come from go.mod's direct requirements, shared by all binaries.

Conventions:
- build_command "CGO_ENABLED=0 go build -o /app/<name> <build_target>" (plain "go build"
  when the module needs cgo); build_output "/app/<name>"; start_command "/app/<name>": the
  binary keeps the same absolute path in the build stage and in the runtime image.
- Several binaries: named after their folder (`cmd/api` → "api"); one binary: name left to
  the core (the folder's name).
- A main package named migrate/migrations/migrator is not a component; the others get
  migrate_command "/app/<that name>" (it is built into the same image).
- language_version is the `go` directive's major.minor (a minimum; the newest patch fits).
- A module without a main package is a library: TOOLING (tests and lint only).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from deploysmith.detect import _support, common
from deploysmith.detect.base import Detection, Strength
from deploysmith.detect.common import Facts
from deploysmith.model import Component, ComponentKind, Evidence
from deploysmith.repo import Repo, join

MARKERS: tuple[str, ...] = ("go.mod",)

MAX_FILES = 200  # source files read per binary
MAX_PACKAGES = 50  # folders searched for a main package outside the root and cmd/
FRAMEWORKS = (
    ("github.com/gin-gonic/gin", "gin"),
    ("github.com/labstack/echo", "echo"),
    ("github.com/gofiber/fiber", "fiber"),
    ("github.com/go-chi/chi", "chi"),
    ("google.golang.org/grpc", "grpc"),
)
# How a framework starts listening, beyond net/http's ListenAndServe and Serve.
LISTEN = r"\bListenAndServe(?:TLS)?\(|\bhttp\.Serve\(|\bnet\.Listen\(|\.Serve\(\w+\)"
LISTEN_CALLS = {"gin": r"\.Run(?:TLS)?\(", "echo": r"\.Start(?:TLS)?\(", "fiber": r"\.Listen(?:TLS)?\("}
SERVICES = (
    ("github.com/jackc/pgx", "postgres"),
    ("github.com/lib/pq", "postgres"),
    ("gorm.io/driver/postgres", "postgres"),
    ("github.com/go-pg/pg", "postgres"),
    ("github.com/uptrace/bun/driver/pgdriver", "postgres"),
    ("github.com/go-sql-driver/mysql", "mysql"),
    ("gorm.io/driver/mysql", "mysql"),
    ("github.com/redis/go-redis", "redis"),
    ("github.com/go-redis/redis", "redis"),
    ("github.com/gomodule/redigo", "redis"),
    ("github.com/redis/rueidis", "redis"),
    ("go.mongodb.org/mongo-driver", "mongodb"),
    ("github.com/rabbitmq/amqp091-go", "rabbitmq"),
    ("github.com/streadway/amqp", "rabbitmq"),
    ("github.com/segmentio/kafka-go", "kafka"),
    ("github.com/IBM/sarama", "kafka"),
    ("github.com/Shopify/sarama", "kafka"),
    ("github.com/confluentinc/confluent-kafka-go", "kafka"),
    ("github.com/twmb/franz-go", "kafka"),
)
MIGRATION_LIBRARIES = (
    ("github.com/golang-migrate/migrate", "golang-migrate"),
    ("github.com/pressly/goose", "goose"),
    ("ariga.io/atlas", "atlas"),
)
CGO_MODULES = ("github.com/mattn/go-sqlite3", "github.com/confluentinc/confluent-kafka-go")
MIGRATION_BINARIES = frozenset({"migrate", "migrations", "migration", "migrator", "dbmigrate"})
NOT_BINARIES = frozenset({"example", "examples", "tools", "scripts", "hack", "test", "tests", "testdata"})
GOLANGCI_CONFIGS = (".golangci.yml", ".golangci.yaml", ".golangci.toml", ".golangci.json")

DIRECTIVE = re.compile(r"(module|go|require|replace|exclude|retract|toolchain|godebug)\s+(.*)")
PACKAGE_MAIN = re.compile(r"^package main\b", re.M)
MAIN_FUNC = re.compile(r"^func main\(\)", re.M)
BUILD_IGNORE = re.compile(r"^//\s*(?:go:build|\+build)\s+ignore\b", re.M)
CGO_IMPORT = re.compile(r'^\s*import\s+"C"\s*$')
ADDRESS = re.compile(r"\"(?:0\.0\.0\.0|\[::\])?:(\d{2,5})\"")
PORT_DEFAULT = re.compile(r"\"PORT\"\s*,\s*\"(\d{2,5})\"|\b[pP]ort\s*:?=\s*\"(\d{2,5})\"")
ROUTE = re.compile(
    r"\.(?:HandleFunc|Handle|GET|Get|HEAD|Head|Any|Match|Path)\(\s*\"(?:(?:GET|HEAD)\s+)?"
    rf"({common.HEALTH_PATH_RE})\""
)


@dataclass
class GoMod:
    module: str | None = None
    go: tuple[str, int] | None = None  # version, line
    requires: dict[str, int] = field(default_factory=dict)  # direct requirements: path -> line
    local: list[str] = field(default_factory=list)  # folders that `replace` directives point to


@dataclass(frozen=True)
class Binary:
    name: str
    folder: str  # repo-relative folder of the main package
    main_file: str  # the file with func main


def detect(repo: Repo, directory: str) -> Detection | None:
    gomod_path = join(directory, "go.mod")
    text = repo.read_text(gomod_path)
    if text is None:
        return None
    mod = parse_gomod(text)
    if mod.module is None:
        repo.warnings.append(f"{gomod_path}: no module directive; not read as a Go module")
        return None
    for folder in mod.local:
        resolved = posixpath.normpath(join(directory, folder))
        within = directory in (".", "") or resolved.startswith(directory + "/")
        if resolved.startswith("..") or not within:
            repo.warnings.append(
                f"{gomod_path}: replaces a module with {folder}, outside {directory}; "
                "the image build cannot see it unless it starts from a folder that holds both"
            )
    packages = _packages(repo, directory)
    shared = _module_facts(repo, directory, gomod_path, mod)
    binaries = _binaries(repo, directory, mod, packages)
    apps = [b for b in binaries if b.name not in MIGRATION_BINARIES] or binaries
    for migrator in [b for b in binaries if b not in apps][:1]:
        found = repo.evidence(migrator.main_file, MAIN_FUNC)
        shared.set("migrate_command", f"/app/{migrator.name}",
                   _support.explained(found, " (a migration binary built into the same image)"))
    if not apps:
        return Detection((shared.component(directory, "worker", "go"),), Strength.TOOLING)
    components: list[Component] = []
    strength = Strength.RUNNABLE
    for binary in apps:
        facts = _support.clone(shared)
        if _binary(repo, directory, mod, packages, binary, facts):
            strength = Strength.APP
        kind: ComponentKind = "web" if facts.get("port") is not None else "worker"
        name = binary.name if len(apps) > 1 else ""
        components.append(facts.component(directory, kind, "go", name=name))
    return Detection(tuple(components), strength)


def parse_gomod(text: str) -> GoMod:
    mod = GoMod()
    block: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("//", 1)[0].strip()
        indirect = "// indirect" in raw
        if block is not None:
            if line.startswith(")"):
                block = None
            elif block == "require" and line and not indirect:
                mod.requires.setdefault(line.split()[0], number)
            elif block == "replace":
                _replace(mod, line)
            continue
        match = DIRECTIVE.match(line)
        if match is None:
            continue
        verb, rest = match.group(1), match.group(2).strip()
        if rest == "(":
            block = verb
        elif verb == "module":
            mod.module = rest.strip('"')
        elif verb == "go":
            mod.go = (rest, number)
        elif verb == "require" and rest and not indirect:
            mod.requires.setdefault(rest.split()[0], number)
        elif verb == "replace":
            _replace(mod, rest)
    return mod


def _replace(mod: GoMod, directive: str) -> None:
    target = directive.partition("=>")[2].split()
    if target and target[0].startswith(("./", "../", "/")):
        mod.local.append(target[0])


def _required(mod: GoMod, table: tuple[tuple[str, str], ...]) -> list[tuple[str, int]]:
    """(value, go.mod line) for each module of `table` that go.mod requires directly."""
    found = [
        (value, line)
        for path, line in mod.requires.items()
        for prefix, value in table
        if path == prefix or path.startswith(prefix + "/")
    ]
    return sorted(found, key=lambda item: item[1])


def _packages(repo: Repo, directory: str) -> dict[str, list[str]]:
    """Non-test .go files of this module by folder (nested modules and testdata left out)."""
    packages: dict[str, list[str]] = {}
    nested: dict[str, bool] = {}
    for rel in common.files_under(repo, directory):
        if not rel.endswith(".go") or rel.endswith("_test.go"):
            continue
        folders = common.relative(directory, rel).split("/")[:-1]
        if "testdata" in folders or _nested_module(repo, directory, folders, nested):
            continue
        packages.setdefault(posixpath.dirname(rel) or ".", []).append(rel)
    return packages


def _nested_module(repo: Repo, directory: str, folders: list[str], cache: dict[str, bool]) -> bool:
    for depth in range(1, len(folders) + 1):
        folder = join(directory, "/".join(folders[:depth]))
        if folder not in cache:
            cache[folder] = repo.exists(join(folder, "go.mod"))
        if cache[folder]:
            return True
    return False


def _module_facts(repo: Repo, directory: str, gomod_path: str, mod: GoMod) -> Facts:
    facts = Facts()
    facts.set("package_manager", "go", repo.evidence(gomod_path, re.compile(r"^module\b")))
    if mod.go is not None:
        facts.set("language_version", common.minor_version(mod.go[0]),
                  _support.at_line(repo, gomod_path, mod.go[1]))
    for service, line in _required(mod, SERVICES):
        facts.add_service(service, _support.at_line(repo, gomod_path, line))
    for tool, line in _required(mod, MIGRATION_LIBRARIES)[:1]:
        facts.set("migration_tool", tool, _support.at_line(repo, gomod_path, line))
    test = next((rel for rel in common.files_under(repo, directory) if rel.endswith("_test.go")), None)
    facts.set("test_command", "go test ./...",
              common.file_evidence(test) if test
              else _support.explained(common.file_evidence(gomod_path), "no _test.go files yet", True))
    golangci = common.find_upwards(repo, directory, GOLANGCI_CONFIGS)
    if golangci is not None:
        facts.set("lint_command", "golangci-lint run", common.file_evidence(golangci))
    else:
        facts.set("lint_command", "go vet ./...",
                  _support.explained(common.file_evidence(gomod_path), "no golangci-lint config", True))
    facts.set("dependency_files", _dependency_files(repo, directory, mod), common.file_evidence(gomod_path))
    return facts


def _dependency_files(repo: Repo, directory: str, mod: GoMod) -> list[str]:
    """What `go mod download` reads: go.mod and go.sum; with a go.work in the folder, the
    workspace files and every member's go.mod and go.sum; the go.mod of each local
    `replace` target. A go.work above the folder is left out of the image build: when go.mod
    needs one of its modules, that is reported."""
    files = common.present(repo, directory, ("go.mod", "go.sum"))
    work = join(directory, "go.work")
    uses = _work_uses(repo.read_text(work) or "") if repo.exists(work) else []
    if repo.exists(work):
        files += common.present(repo, directory, ("go.work", "go.work.sum"))
        for use in uses:
            folder = posixpath.normpath(join(directory, use))
            if folder != directory and common.inside(directory, folder):
                inner = common.relative(directory, folder)
                files += common.present(repo, directory, (f"{inner}/go.mod", f"{inner}/go.sum"))
    for target in mod.local:
        folder = posixpath.normpath(join(directory, target))
        if folder != directory and common.inside(directory, folder) and not folder.startswith(".."):
            files += common.present(repo, directory, (f"{common.relative(directory, folder)}/go.mod",))
    above = common.find_upwards(repo, common.parent(directory), ("go.work",)) if directory != "." else None
    if above is not None and not repo.exists(work):
        _workspace_needs(repo, directory, mod, above)
    return list(dict.fromkeys(files))


def _work_uses(text: str) -> list[str]:
    """The folders a go.work `use`s."""
    uses: list[str] = []
    block = False
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if block:
            if line.startswith(")"):
                block = False
            elif line:
                uses.append(line.strip('"'))
        elif re.match(r"use\s*\($", line):
            block = True
        elif match := re.match(r"use\s+(\S+)", line):
            uses.append(match.group(1).strip('"'))
    return uses


def _workspace_needs(repo: Repo, directory: str, mod: GoMod, work: str) -> None:
    """Report modules go.mod requires that only the go.work above the folder provides."""
    root = posixpath.dirname(work) or "."
    provided: dict[str, str] = {}
    for use in _work_uses(repo.read_text(work) or ""):
        folder = posixpath.normpath(join(root, use))
        module = parse_gomod(repo.read_text(join(folder, "go.mod")) or "").module
        if module and folder != directory:
            provided[module] = folder
    needed = sorted(path for path in mod.requires if path in provided)
    if needed:
        common.build_warning(
            repo, directory,
            f"{join(directory, 'go.mod')}: requires {', '.join(needed)}, which {work} provides from "
            f"{', '.join(provided[n] for n in needed)}; the image is built from {directory} alone, "
            "where go.work does not apply: add a replace directive or publish the module"
        )


def _binaries(repo: Repo, directory: str, mod: GoMod, packages: dict[str, list[str]]) -> list[Binary]:
    """The binaries the module builds: root and cmd/* main packages, else any main package
    outside example, tool and test folders."""
    root = directory or "."

    def binary(folder: str) -> Binary | None:
        texts = [(rel, repo.read_text(rel) or "") for rel in packages.get(folder, [])]
        texts = [(rel, text) for rel, text in texts if not BUILD_IGNORE.search(text)]
        if not any(PACKAGE_MAIN.search(text) for _, text in texts):
            return None
        main = next((rel for rel, text in texts if MAIN_FUNC.search(text)), None)
        if main is None:
            return None
        name = _module_name(mod.module or "") if folder == root else posixpath.basename(folder)
        return Binary(common.sanitize_name(name), folder, main)

    cmd = join(directory, "cmd")
    candidates = [root] + sorted(f for f in packages if common.parent(f) == cmd)
    found = [b for f in candidates if (b := binary(f)) is not None]
    if found:
        return found
    others = [
        f for f in sorted(packages)
        if f != root and not NOT_BINARIES.intersection(common.relative(directory, f).split("/"))
    ]
    return [b for f in others[:MAX_PACKAGES] if (b := binary(f)) is not None]


def imports(text: str) -> list[tuple[str, int]]:
    """Import paths of a Go file with their lines (the import section only)."""
    found: list[tuple[str, int]] = []
    in_block = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if in_block:
            if line.startswith(")"):
                in_block = False
            elif match := re.search(r'"([^"]+)"', line):
                found.append((match.group(1), number))
            continue
        if not line.startswith("import"):
            if line.startswith(("func ", "type ", "var ", "const ")):
                break
        elif re.match(r"import\s*\($", line):
            in_block = True
        elif match := re.match(r'import\s+(?:[\w.]+\s+)?"([^"]+)"', line):
            found.append((match.group(1), number))
    return found


def _reachable(repo: Repo, directory: str, module: str, packages: dict[str, list[str]],
               start: str) -> tuple[list[str], dict[str, Evidence]]:
    """Files of the main package and of the module's packages it imports (breadth first,
    at most MAX_FILES), and every import path seen with the line that imports it."""
    queue, seen = [start], {start}
    files: list[str] = []
    imported: dict[str, Evidence] = {}
    while queue and len(files) < MAX_FILES:
        for rel in packages.get(queue.pop(0), []):
            files.append(rel)
            text = repo.read_text(rel) or ""
            lines = text.splitlines()
            for path, line in imports(text):
                if path not in imported:
                    imported[path] = Evidence(rel, line, lines[line - 1].strip()[:200])
                if path == module or path.startswith(module + "/"):
                    target = join(directory, path[len(module) + 1:]) if path != module else directory or "."
                    if target not in seen:
                        seen.add(target)
                        queue.append(target)
    return files[:MAX_FILES], imported


def _binary(repo: Repo, directory: str, mod: GoMod, packages: dict[str, list[str]],
            binary: Binary, facts: Facts) -> bool:
    """Fills the binary's own facts; True when it uses a known framework."""
    files, imported = _reachable(repo, directory, mod.module or "", packages, binary.folder)
    framework, framework_path = next(
        ((value, path) for prefix, value in FRAMEWORKS for path in imported
         if path == prefix or path.startswith(prefix + "/")),
        (None, ""),
    )
    found = _support.first(repo, files, re.compile(LISTEN))
    if found is None and framework in LISTEN_CALLS:
        # r.Run( / e.Start( / app.Listen( count only in files that import the framework.
        users = [rel for rel in files if framework_path in dict(imports(repo.read_text(rel) or ""))]
        found = _support.first(repo, users, re.compile(LISTEN_CALLS[framework]))
    if found is not None:
        listen = found[2]
        if framework is None and "net/http" in imported and "Serve" in listen.text:
            framework, framework_path = "net/http", "net/http"
        if framework is not None:  # a framework counts when the binary serves with it
            facts.set("framework", framework, imported[framework_path])
        facts.evidence["kind"] = [listen]  # kind is passed to component(); this is its evidence
        _port(repo, files, listen, facts)
        health = common.best_health(
            (match.group(1), evidence) for _, match, evidence in _support.search(repo, files, ROUTE)
        )
        if health is not None:
            facts.set("health_path", health[0], health[1])
    root = directory or "."
    target = "." if binary.folder == root else "./" + common.relative(directory, binary.folder)
    main = repo.evidence(binary.main_file, MAIN_FUNC)
    cgo = _cgo(repo, mod, files, join(directory, "go.mod"))
    prefix = "" if cgo else "CGO_ENABLED=0 "
    facts.set("build_target", target, main)
    facts.set("build_command", f"{prefix}go build -o /app/{binary.name} {target}", cgo or main)
    facts.set("build_output", f"/app/{binary.name}", main)
    facts.set("start_command", f"/app/{binary.name}", main)
    return found is not None and framework is not None


def _port(repo: Repo, files: list[str], listen: Evidence, facts: Facts) -> None:
    """The port in the listen call, else the first address literal or PORT default, else
    8080 (marked default)."""
    on_listen = ADDRESS.search(listen.text)
    if on_listen:
        facts.set("port", int(on_listen.group(1)), listen)
        return
    for regex in (ADDRESS, PORT_DEFAULT):
        hit = _support.first(repo, files, regex)
        if hit is not None:
            facts.set("port", int(next(g for g in hit[1].groups() if g)), hit[2])
            return
    facts.set("port", 8080, _support.explained(listen, " (no port in the code; 8080 assumed)", True))


def _cgo(repo: Repo, mod: GoMod, files: list[str], gomod_path: str) -> Evidence | None:
    """Evidence that the binary needs cgo (import "C" or a cgo-only driver), else None."""
    hit = _support.first(repo, files, CGO_IMPORT)
    if hit is not None:
        return _support.explained(hit[2], " (cgo: CGO_ENABLED stays on)")
    for path, line in mod.requires.items():
        if path.startswith(CGO_MODULES):
            return _support.at_line(repo, gomod_path, line, " (needs cgo: CGO_ENABLED stays on)")
    return None


def _module_name(module: str) -> str:
    """"shop" for "github.com/acme/shop/v2"."""
    parts = [p for p in module.split("/") if p]
    while len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]):
        parts.pop()
    return parts[-1] if parts else "app"

"""Rust crates and workspaces (Cargo.toml): axum, actix-web, rocket, warp, poem, tonic.

One component per binary target ([[bin]], src/main.rs, src/bin/*). A workspace root owns
its members' binaries (path = the workspace folder, which holds Cargo.lock and target/);
a member folder asked on its own returns None.

Conventions:
- build_command "cargo build --release" (+ "-p <package>" in a workspace, "--bin <name>"
  when the package has several binaries); build_output "target/release/<bin>";
  start_command "/app/<bin>": the runtime image holds the binary as /app/<bin>.
- A binary is web when its own sources start a server, or when it is the package's main
  binary (src/main.rs) and the library code does; other binaries are workers.
- Port from the bind address or a PORT default in the source; else the framework's
  default (rocket 8000, otherwise 8080), marked default. A 127.0.0.1 bind is reported:
  it is unreachable from outside a container.
- language_version: the rust-toolchain channel when it names a version (rustup uses it),
  else rust-version (the minimum supported).
- sqlx::migrate!/embed_migrations! mean the app applies migrations itself (no command);
  otherwise a migrations folder gives "sqlx migrate run" / "diesel migration run", which
  need the sqlx-cli / diesel_cli binaries in the image that runs them.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from deploysmith.detect import _support, common
from deploysmith.detect.base import Detection, Strength
from deploysmith.detect.common import Facts
from deploysmith.model import Component, ComponentKind, Evidence
from deploysmith.repo import Repo, join

MARKERS: tuple[str, ...] = ("Cargo.toml",)

MAX_FILES = 150
FRAMEWORKS = ("axum", "actix-web", "rocket", "warp", "poem", "tonic")
DEFAULT_PORTS = {"rocket": 8000}
FEATURE_SERVICES = {
    "postgres": "postgres", "sqlx-postgres": "postgres", "mysql": "mysql", "sqlx-mysql": "mysql",
}
FEATURE_CRATES = ("sqlx", "diesel", "sea-orm")
CRATE_SERVICES = {
    "tokio-postgres": "postgres", "postgres": "postgres", "deadpool-postgres": "postgres",
    "bb8-postgres": "postgres", "mysql": "mysql", "mysql_async": "mysql", "redis": "redis",
    "fred": "redis", "deadpool-redis": "redis", "bb8-redis": "redis", "mongodb": "mongodb",
    "lapin": "rabbitmq", "amqprs": "rabbitmq", "rdkafka": "kafka", "tiberius": "sqlserver",
}
LISTEN = re.compile(
    r"axum::serve\(|\bServer::bind\(|HttpServer::new\(|TcpListener::bind\(|#\[launch\]"
    r"|rocket::build\(\)|warp::serve\(|Server::builder\(\)|\.run\(\s*TcpListener"
)
ADDRESS = re.compile(r"\"(0\.0\.0\.0|127\.0\.0\.1|localhost|\[::\]|::)?:(\d{2,5})\"")
OCTETS = re.compile(r"\[\s*(\d+)\s*,\s*\d+\s*,\s*\d+\s*,\s*\d+\s*\]\s*,\s*(\d{2,5})\b")
HOST_PORT = re.compile(r"\(\s*\"(0\.0\.0\.0|127\.0\.0\.1|localhost|::)\"\s*,\s*(\d{2,5})\s*\)")
PORT_ENV = re.compile(r"\"PORT\"[^;\n]*?\b(\d{2,5})\b")
ROUTE = re.compile(
    rf"(?:\.route|\.at|resource|#\[(?:get|head))\(\s*\"({common.HEALTH_PATH_RE})\""
)
EMBEDDED_MIGRATIONS = re.compile(r"sqlx::migrate!|embed_migrations!")


@dataclass
class Crate:
    folder: str
    manifest: str  # path of its Cargo.toml
    name: str
    data: dict[str, Any]
    deps: dict[str, tuple[list[str], Evidence]] = field(default_factory=dict)  # crate -> features, line


@dataclass(frozen=True)
class Bin:
    name: str
    file: str  # its main source file
    default: bool  # src/main.rs: the package's own binary


def detect(repo: Repo, directory: str) -> Detection | None:
    manifest_path = join(directory, "Cargo.toml")
    manifest = repo.load_toml(manifest_path)
    if manifest is None or _member_of_workspace_above(repo, directory):
        return None
    workspace = manifest.get("workspace") if isinstance(manifest.get("workspace"), dict) else None
    folders = ([directory] if isinstance(manifest.get("package"), dict) else [])
    folders += _members(repo, directory, workspace) if workspace else []
    crates = [c for f in dict.fromkeys(folders) if (c := _crate(repo, f, manifest)) is not None]
    if not crates:
        return None
    targets = [(crate, _bins(repo, crate)) for crate in crates]
    if not any(bins for _, bins in targets):
        facts = _facts(repo, directory, crates[0], crates, manifest)
        return Detection((facts.component(directory, "worker", "rust"),), Strength.TOOLING)
    several = sum(len(bins) for _, bins in targets) > 1
    components: list[Component] = []
    strength = Strength.RUNNABLE
    for crate, bins in targets:
        for binary in bins:
            facts = _facts(repo, directory, crate, crates, manifest)
            selector = f" -p {crate.name}" if workspace else ""
            selector += f" --bin {binary.name}" if len(bins) > 1 else ""
            if _binary(repo, crate, binary, bins, selector, facts):
                strength = Strength.APP
            kind: ComponentKind = "web" if facts.get("port") is not None else "worker"
            name = common.sanitize_name(binary.name) if several else ""
            components.append(facts.component(directory, kind, "rust", name=name))
    return Detection(tuple(components), strength)


def _member_of_workspace_above(repo: Repo, directory: str) -> bool:
    for folder in list(common.ancestors(directory))[1:]:
        path = join(folder, "Cargo.toml")
        data = repo.load_toml(path) if repo.exists(path) else None
        workspace = data.get("workspace") if data else None
        if isinstance(workspace, dict):
            return directory in _members(repo, folder, workspace)
    return False


def _members(repo: Repo, root: str, workspace: dict[str, Any]) -> list[str]:
    """Member folders (repo-relative) that hold a Cargo.toml, minus `exclude`."""
    members = [m for m in workspace.get("members", []) if isinstance(m, str)]
    excluded = {join(root, e) for e in workspace.get("exclude", []) if isinstance(e, str)}
    found: list[str] = []
    for pattern in members:
        for manifest in repo.glob(join(root, pattern.rstrip("/")) + "/Cargo.toml"):
            folder = posixpath.dirname(manifest)
            if folder not in excluded and folder not in found:
                found.append(folder)
    return found


def _crate(repo: Repo, folder: str, root_manifest: dict[str, Any]) -> Crate | None:
    path = join(folder, "Cargo.toml")
    data = repo.load_toml(path)
    package = data.get("package") if data else None
    if not isinstance(package, dict) or not isinstance(package.get("name"), str):
        return None
    crate = Crate(folder, path, package["name"], data or {})
    inherited = (root_manifest.get("workspace") or {}).get("dependencies") or {}
    for name, spec in (crate.data.get("dependencies") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        real = str(spec.get("package", name))
        features = [str(f) for f in spec.get("features", [])]
        if spec.get("workspace") is True and isinstance(inherited.get(name), dict):
            features += [str(f) for f in inherited[name].get("features", [])]
        key = re.escape(name)
        line = repo.evidence(path, re.compile(rf"^\s*(?:{key}\s*=|\[dependencies\.{key}\])"))
        crate.deps[real] = (features, line)
    return crate


def _bins(repo: Repo, crate: Crate) -> list[Bin]:
    """Binary targets: [[bin]] entries, then src/main.rs and src/bin/* unless autobins=false."""
    src = join(crate.folder, "src")
    found: dict[str, Bin] = {}
    for entry in crate.data.get("bin", []) or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        name = entry["name"]
        candidates = [join(crate.folder, entry["path"])] if isinstance(entry.get("path"), str) else [
            join(src, f"bin/{name}.rs"), join(src, f"bin/{name}/main.rs"), join(src, "main.rs")]
        file = next((c for c in candidates if repo.exists(c)), None)
        if file is not None:
            found[name] = Bin(name, file, file == join(src, "main.rs"))
    if crate.data.get("package", {}).get("autobins", True) is not False:
        if repo.exists(join(src, "main.rs")) and not any(b.default for b in found.values()):
            found.setdefault(crate.name, Bin(crate.name, join(src, "main.rs"), True))
        for rel in common.files_under(repo, join(src, "bin")):
            inner = common.relative(join(src, "bin"), rel)
            if re.fullmatch(r"[\w\-]+\.rs", inner) or re.fullmatch(r"[\w\-]+/main\.rs", inner):
                name = inner.split("/")[0].removesuffix(".rs")
                found.setdefault(name, Bin(name, rel, False))
    return list(found.values())


def _facts(repo: Repo, directory: str, crate: Crate, crates: list[Crate], manifest: dict[str, Any]) -> Facts:
    facts = Facts()
    facts.set("package_manager", "cargo", common.file_evidence(crate.manifest))
    _version(repo, directory, crate, manifest, facts)
    for name, (features, line) in crate.deps.items():
        if name in FEATURE_CRATES:
            for feature in features:
                if feature in FEATURE_SERVICES:
                    facts.add_service(FEATURE_SERVICES[feature], line)
        elif name in CRATE_SERVICES:
            facts.add_service(CRATE_SERVICES[name], line)
    member = f" -p {crate.name}" if crate.folder != directory else ""
    tests = next(common.files_under(repo, join(crate.folder, "tests")), None)
    facts.set("test_command", f"cargo test{member}", common.file_evidence(tests or crate.manifest))
    facts.set("lint_command", f"cargo clippy{member} -- -D warnings", common.file_evidence(crate.manifest))
    facts.set("dependency_files", _dependency_files(repo, directory, crates, manifest),
              common.file_evidence(join(directory, "Cargo.toml")))
    return facts


CARGO_CREDENTIALS = re.compile(r"^\s*(token)\s*=", re.M)
DEPENDENCY_TABLES = ("dependencies", "dev-dependencies", "build-dependencies")


def _dependency_files(repo: Repo, directory: str, crates: list[Crate], manifest: dict[str, Any]) -> list[str]:
    """What `cargo fetch` reads: the manifest and lock, the toolchain file (rustup installs
    what it names), .cargo/config.toml (registries, source replacement), and the manifests
    of workspace members and of path dependencies."""
    names = ["Cargo.toml", "Cargo.lock", "rust-toolchain.toml", "rust-toolchain"]
    for name in (".cargo/config.toml", ".cargo/config"):
        found = CARGO_CREDENTIALS.search(repo.read_text(join(directory, name)) or "")
        if found is not None:
            what = "registry credentials (token)"
            common.build_warning(repo, directory, common.credential_warning(join(directory, name), what))
        else:
            names.append(name)
    files = common.present(repo, directory, names)
    manifests = [c.manifest for c in crates if c.folder != directory]
    outside: list[str] = []
    for crate in crates:
        for path in _path_dependencies(crate.data, manifest if crate.folder == directory else {}):
            rel = posixpath.normpath(join(crate.folder, path)) + "/Cargo.toml"
            if not repo.exists(rel):
                continue
            (manifests if common.inside(directory, rel) else outside).append(rel)
    if outside:
        warning = common.outside_warning(directory, sorted(set(outside)), "cargo")
        common.build_warning(repo, directory, warning)
    own = join(directory, "Cargo.toml")
    files += [common.relative(directory, rel) for rel in dict.fromkeys(manifests) if rel != own]
    return list(dict.fromkeys(files))


def _path_dependencies(data: dict[str, Any], root: dict[str, Any]) -> list[str]:
    """`path = "…"` of the manifest's dependency tables (target-specific ones too), its
    [patch.*] tables, and the workspace root's [workspace.dependencies]."""
    tables: list[Any] = [data.get(t) for t in DEPENDENCY_TABLES]
    targets = data.get("target")
    for target in targets.values() if isinstance(targets, dict) else []:
        tables += [target.get(t) for t in DEPENDENCY_TABLES] if isinstance(target, dict) else []
    patch = data.get("patch")
    tables += list(patch.values()) if isinstance(patch, dict) else []
    workspace = root.get("workspace")
    tables.append(workspace.get("dependencies") if isinstance(workspace, dict) else None)
    paths = []
    for table in tables:
        for spec in table.values() if isinstance(table, dict) else []:
            if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                paths.append(spec["path"])
    return paths


def _version(repo: Repo, directory: str, crate: Crate, manifest: dict[str, Any], facts: Facts) -> None:
    toolchain = common.find_upwards(repo, crate.folder, ("rust-toolchain.toml", "rust-toolchain"))
    if toolchain is not None:
        text = repo.read_text(toolchain) or ""
        match = re.search(r"""^[ \t]*channel\s*=\s*["']([\d.]+)["']|^([\d.]+)[ \t]*$""", text, re.M)
        if match:
            version = match.group(1) or match.group(2)
            facts.set("language_version", version, repo.evidence(toolchain, version))
            return
    declared = crate.data.get("package", {}).get("rust-version")
    if isinstance(declared, dict):  # rust-version.workspace = true
        declared = ((manifest.get("workspace") or {}).get("package") or {}).get("rust-version")
        source = join(directory, "Cargo.toml")
    else:
        source = crate.manifest
    if isinstance(declared, str):
        facts.set("language_version", declared, repo.evidence(source, re.compile(r"^\s*rust-version\s*=")))


def _binary(repo: Repo, crate: Crate, binary: Bin, bins: list[Bin], selector: str, facts: Facts) -> bool:
    """Fills the binary's facts; True when it serves with a known framework."""
    src = join(crate.folder, "src")
    others = {b.file for b in bins if b != binary}
    library = [f for f in common.source_files(repo, src, (".rs",), ("main", "lib"), MAX_FILES, 6)
               if f not in others and not f.startswith(join(src, "bin") + "/")]
    own = [binary.file]
    if not binary.default and binary.file.endswith("/main.rs"):  # src/bin/<name>/main.rs + modules
        folder = posixpath.dirname(binary.file)
        own += [f for f in common.files_under(repo, folder) if f.endswith(".rs") and f != binary.file]
    files = own + [f for f in library if f not in own]
    # The library's server counts for the package's main binary, not for src/bin tools.
    listen = _support.first(repo, files if binary.default else own, LISTEN)
    framework = next(((n, crate.deps[n][1]) for n in FRAMEWORKS if n in crate.deps), None)
    if listen is not None:
        facts.evidence["kind"] = [listen[2]]
        if framework is not None:
            facts.set("framework", framework[0], framework[1])
        _port(repo, crate, files, listen[2], framework[0] if framework else None, facts)
        health = common.best_health(
            (m.group(1), evidence) for _, m, evidence in _support.search(repo, files, ROUTE)
        )
        if health is not None:
            facts.set("health_path", health[0], health[1])
    _migrations(repo, crate, files, facts)
    main = repo.evidence(binary.file, re.compile(r"\bfn main\("))
    facts.set("build_target", binary.name if selector else None, main)
    facts.set("build_command", f"cargo build --release{selector}", main)
    facts.set("build_output", f"target/release/{binary.name}", main)
    facts.set("start_command", f"/app/{binary.name}", main)
    return listen is not None and framework is not None


def _port(repo: Repo, crate: Crate, files: list[str], listen: Evidence, framework: str | None,
          facts: Facts) -> None:
    for regex in (ADDRESS, OCTETS, HOST_PORT, PORT_ENV):
        hit = _support.first(repo, files, regex)
        if hit is None:
            continue
        host, port = (hit[1].group(1), hit[1].group(2)) if regex is not PORT_ENV else ("", hit[1].group(1))
        if host in ("127.0.0.1", "localhost", "127"):
            where = f"{hit[2].file}:{hit[2].line}"
            repo.warnings.append(f"{where}: binds {host}, unreachable from outside a container; bind 0.0.0.0")
        facts.set("port", int(port), hit[2])
        return
    rocket = join(crate.folder, "Rocket.toml")
    text = repo.read_text(rocket) if repo.exists(rocket) else None
    match = re.search(r"^[ \t]*port[ \t]*=[ \t]*(\d+)", text or "", re.M)
    if match:
        facts.set("port", int(match.group(1)), repo.evidence(rocket, match.group(0)))
        return
    default = DEFAULT_PORTS.get(framework or "", 8080)
    facts.set("port", default, _support.explained(listen, f" (no port in the code; {default} assumed)", True))


def _migrations(repo: Repo, crate: Crate, files: list[str], facts: Facts) -> None:
    tool = "sqlx" if "sqlx" in crate.deps else "diesel" if "diesel" in crate.deps else None
    if tool is None:
        return
    embedded = _support.first(repo, files, EMBEDDED_MIGRATIONS)
    if embedded is not None:
        at_startup = _support.explained(embedded[2], " (the app applies them at startup)")
        facts.set("migration_tool", tool, at_startup)
        return
    folder = join(crate.folder, "migrations")
    migration = next((f for f in common.files_under(repo, folder) if f.endswith(".sql")), None)
    if migration is None:
        return
    command = "sqlx migrate run" if tool == "sqlx" else "diesel migration run"
    cli = f"{tool} migrations (needs the {tool} CLI)"
    evidence = _support.explained(common.file_evidence(migration), cli)
    facts.set("migration_tool", tool, evidence)
    facts.set("migrate_command", command, evidence)

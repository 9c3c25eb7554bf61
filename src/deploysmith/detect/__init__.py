"""Discovery: which folders hold deployable components, and what each one is.

`detect_stack` is pure over the `Repo` view: it never writes and never executes. It finds
candidate folders (plugin markers, workspace members, compose build contexts), asks the
plugins about each, keeps the strongest answer, then applies what is language-neutral:
Procfiles, compose backing services, names, existing deployment files, the CI platform.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, cast

from deploysmith.detect import common, dotnet, go, jvm, node, php, python, ruby, rust, static
from deploysmith.detect.base import Detection, Strength
from deploysmith.model import Component, Evidence, Stack
from deploysmith.repo import Repo, join

DETECTORS: dict[str, ModuleType] = {
    "python": python,
    "node": node,
    "go": go,
    "jvm": jvm,
    "rust": rust,
    "ruby": ruby,
    "php": php,
    "dotnet": dotnet,
    "static": static,
}

COMPOSE_FILE = re.compile(r"(?:docker-)?compose(?:\.[\w-]+)?\.ya?ml")
# fmt: off
CI_FILES = (  # (platform, glob) in order of preference when several are present
    ("github", ".github/workflows/*.yml"), ("github", ".github/workflows/*.yaml"),
    ("gitlab", ".gitlab-ci.yml"), ("azure", "azure-pipelines.yml"), ("azure", "azure-pipelines.yaml"),
    ("azure", ".azure-pipelines/*.yml"), ("jenkins", "Jenkinsfile"), ("circleci", ".circleci/config.yml"),
)
EXISTING_NAMES = re.compile(
    r"(?:Dockerfile|Containerfile)(?:\.[\w.-]+)?|[\w.-]+\.Dockerfile|\.dockerignore|Procfile|fly\.toml"
    r"|render\.yaml|railway\.(?:json|toml)|vercel\.json|netlify\.toml|skaffold\.ya?ml|Tiltfile|heroku\.yml"
    r"|nixpacks\.toml|Jenkinsfile|\.gitlab-ci\.yml|azure-pipelines\.ya?ml|bitbucket-pipelines\.yml"
    r"|\.travis\.yml|cloudbuild\.ya?ml|buildspec\.ya?ml|appspec\.ya?ml|kustomization\.ya?ml|Chart\.yaml"
    r"|[\w.-]+\.tf|helmfile\.ya?ml"
)
DEPLOY_DIRS = frozenset(
    {"deploy", "deployment", "deployments", "k8s", "kubernetes", "kube", "manifests", "charts", "chart",
     "helm", "kustomize", "argocd", "gitops", ".k8s", ".helm"}
)
# fmt: on
GIT_CONFIG_LIMIT = 64 * 1024


class _Plugin(Protocol):
    MARKERS: tuple[str, ...]

    def detect(self, repo: Repo, directory: str) -> Detection | None: ...


# A plugin may also define resolve_command(repo, directory, command): the command a
# Procfile entry such as `npm start` really runs, with the evidence for it, or None.
_Resolved = tuple[str, tuple[Evidence, ...]]
_Resolver = Callable[[str], "_Resolved | None"]


def detect_path(path: str | os.PathLike[str]) -> Stack:
    """Open the repository at `path` (DeploysmithError if it cannot be) and detect its stack."""
    return detect_stack(Repo.open(path))


def detect_stack(repo: Repo) -> Stack:
    own: list[str] = []
    remote = _git_remote(repo)
    compose = _compose_services(repo)
    declared = _workspace_members(repo) | {s.context for s in compose if s.context is not None}
    groups: list[tuple[str, Strength, list[Component]]] = []
    for directory in _candidates(repo, declared):
        found = _detect_folder(repo, directory, own)
        if found is not None:
            groups.append((directory, found[0], found[1]))
    groups = _drop_nested_assets(groups)
    components = [_with_compose(c, compose) for _, _, members in groups for c in members]
    components = _name(components, _repo_name(repo, remote))
    ci = _ci_platform(repo, remote)
    evidence: dict[str, tuple[Evidence, ...]] = {}
    if remote is not None:
        evidence["git_remote"] = (remote[1],)
    if ci is not None:
        evidence["ci_platform"] = (ci[1],)
    return Stack(
        root=str(repo.root),
        components=tuple(sorted(components, key=lambda c: (c.path, c.name))),
        existing=_existing(repo),
        ci_platform=ci[0] if ci else None,
        git_remote=remote[0] if remote else None,
        warnings=tuple(dict.fromkeys([*repo.warnings, *own])),
        evidence=evidence,
    )


# -- candidate folders ----------------------------------------------------------------------


def _candidates(repo: Repo, declared: set[str]) -> list[str]:
    """Folders holding a plugin's marker or a Procfile, outside test/docs/example folders
    unless a workspace or compose file names them; and every declared folder."""
    markers = [m for plugin in DETECTORS.values() for m in cast(_Plugin, plugin).MARKERS]
    marker = re.compile("|".join(fnmatch.translate(m) for m in [*markers, "Procfile"]))
    out = []
    for folder in common.folders(repo):
        if common.is_skipped(folder) and not _declared(folder, declared):
            continue
        if folder in declared or any(marker.match(name) for name in common.names_in(repo, folder)):
            out.append(folder)
    return out


def _declared(folder: str, declared: set[str]) -> bool:
    """A folder named by a workspace or compose file, or inside one (but not its tests)."""
    for base in declared:
        if folder == base:
            return True
        if (
            base != "."
            and folder.startswith(base + "/")
            and not common.is_skipped(common.relative(base, folder))
        ):
            return True
    return False


def _workspace_members(repo: Repo) -> set[str]:
    """Member folders of npm/yarn/bun/pnpm workspaces and uv workspaces."""
    members: set[str] = set()
    for folder in common.folders(repo):
        if common.is_skipped(folder):
            continue
        names = common.names_in(repo, folder)
        patterns: list[tuple[str, str]] = []  # (pattern, the manifest a member holds)
        if "package.json" in names:
            data = repo.load_json(join(folder, "package.json"))
            spaces = data.get("workspaces") if isinstance(data, dict) else None
            if isinstance(spaces, dict):
                spaces = spaces.get("packages")
            patterns += [(p, "package.json") for p in _strings(spaces)]
        if "pnpm-workspace.yaml" in names:
            data = repo.load_yaml(join(folder, "pnpm-workspace.yaml"))
            patterns += [
                (p, "package.json")
                for p in _strings(data.get("packages") if isinstance(data, dict) else None)
            ]
        if "pyproject.toml" in names and "[tool.uv.workspace]" in (
            repo.read_text(join(folder, "pyproject.toml")) or ""
        ):
            data = repo.load_toml(join(folder, "pyproject.toml")) or {}
            spec = _dig(data, "tool", "uv", "workspace")
            patterns += [(p, "pyproject.toml") for p in _strings(spec.get("members"))]
            patterns += [("!" + p, "pyproject.toml") for p in _strings(spec.get("exclude"))]
        if patterns:
            members |= _expand(repo, folder, patterns)
    return members


def _dig(data: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _expand(repo: Repo, base: str, patterns: list[tuple[str, str]]) -> set[str]:
    included: set[str] = set()
    excluded: set[str] = set()
    for pattern, manifest in patterns:
        negate = pattern.startswith("!")
        glob = posixpath.normpath(pattern.lstrip("!").strip().strip("/") or ".")
        regex = re.compile(re.escape(glob).replace(r"\*\*", "\0").replace(r"\*", "[^/]*").replace("\0", ".*"))
        for folder in common.folders(repo):
            inner = common.relative(base, folder) if base != "." else folder
            if inner == folder and base != "." or not regex.fullmatch(inner):
                continue
            if manifest in common.names_in(repo, folder):
                (excluded if negate else included).add(folder)
    return included - excluded


# -- one folder ---------------------------------------------------------------------------------


def _detect_folder(
    repo: Repo, directory: str, warnings: list[str]
) -> tuple[Strength, list[Component]] | None:
    found = _detect_in_folder(repo, directory, warnings)
    common.flush_build_warnings(repo, directory, keep=found is not None)
    return found


def _detect_in_folder(
    repo: Repo, directory: str, warnings: list[str]
) -> tuple[Strength, list[Component]] | None:
    names = common.names_in(repo, directory)
    results: list[tuple[str, Detection]] = []
    for key, module in DETECTORS.items():
        plugin = cast(_Plugin, module)
        if any(common.matches_marker(name, plugin.MARKERS) for name in names):
            detection = plugin.detect(repo, directory)
            if detection is not None and detection.components:
                results.append((key, detection))
    procfile = join(directory, "Procfile")
    entries = common.parse_procfile(repo.read_text(procfile) or "") if "Procfile" in names else []
    if not results and not entries:
        return None
    results.sort(key=lambda item: -item[1].strength)  # stable: registry order breaks ties
    if results:
        winner, detection = results[0]
        strength, components = detection.strength, list(detection.components)
        losers = [key for key, other in results[1:] if other.strength == strength]
        if losers and strength > Strength.TOOLING:
            where = directory if directory != "." else "the repository root"
            warnings.append(
                f"{where}: {winner} and {', '.join(losers)} both detect an application; "
                f"using {winner} (ignored {', '.join(losers)})"
            )
    else:
        strength, components = (
            Strength.TOOLING,
            [Component(name="", path=directory, kind="web", language=None)],
        )
    if entries:
        resolve = _resolver(repo, directory, names)
        components = _apply_procfile(procfile, entries, components, strength, resolve)
        strength = max(strength, Strength.RUNNABLE)
    if strength == Strength.TOOLING or not components:
        return None
    return strength, components


def _resolver(repo: Repo, directory: str, names: list[str]) -> _Resolver:
    """Resolves a Procfile command through the plugins of the folder that can (the Node
    plugin turns `npm start` into the command of the start script)."""
    hooks = [
        hook
        for module in DETECTORS.values()
        if (hook := getattr(module, "resolve_command", None)) is not None
        and any(common.matches_marker(name, cast(_Plugin, module).MARKERS) for name in names)
    ]

    def resolve(command: str) -> _Resolved | None:
        for hook in hooks:
            found = cast("_Resolved | None", hook(repo, directory, command))
            if found is not None:
                return found
        return None

    return resolve


def _apply_procfile(
    rel: str,
    entries: list[tuple[str, str, int]],
    components: list[Component],
    strength: Strength,
    resolve: _Resolver,
) -> list[Component]:
    """`web:` is the start command of the web component, `release:` its migrations, every
    other process type a worker sharing the image. A process run through a package script
    (`npm start`) runs the script's command instead, so the app receives SIGTERM."""
    primary = next((c for c in components if c.kind == "web"), components[0])
    has_web = any(kind == "web" for kind, _, _ in entries)
    keep_primary = has_web or (strength > Strength.TOOLING and primary.kind == "web")
    out = [c for c in components if c is not primary]
    for kind, command, line in entries:
        evidence = Evidence(file=rel, line=line, text=f"{kind}: {command}"[:200])
        start: tuple[Evidence, ...] = (evidence,)
        resolved = resolve(command) if kind != "release" else None
        if resolved is not None:
            command, start = resolved[0], (evidence, *resolved[1])
        if kind == "web":
            primary = _update(primary, kind=("web", evidence), start_command=(command, start))
            port = common.port_from_command(command)
            if port is not None:
                primary = _update(primary, port=(port, start))
        elif kind == "release":
            primary = _update(primary, migrate_command=(command, evidence))
        else:
            name = f"-{kind}"
            existing = next((i for i, c in enumerate(out) if c.name == name), None)
            if existing is not None:
                out[existing] = _update(out[existing], start_command=(command, start))
            else:
                out.append(_worker(primary, name, command, start))
    return ([primary] if keep_primary else []) + out


def _update(component: Component, **changes: tuple[Any, Evidence | tuple[Evidence, ...]]) -> Component:
    evidence = dict(component.evidence)
    values = {}
    for key, (value, items) in changes.items():
        values[key] = value
        evidence[key] = items if isinstance(items, tuple) else (items,)
    return dataclasses.replace(component, evidence=evidence, **values)


def _worker(primary: Component, name: str, command: str, evidence: tuple[Evidence, ...]) -> Component:
    """A process sharing `primary`'s image: same build, no port, tests or migrations."""
    shared = (
        "language_version",
        "package_manager",
        "build_command",
        "build_output",
        "build_target",
        "services",
        "dependency_files",
    )
    return Component(
        name=name,
        path=primary.path,
        kind="worker",
        language=primary.language,
        language_version=primary.language_version,
        package_manager=primary.package_manager,
        start_command=command,
        build_command=primary.build_command,
        build_output=primary.build_output,
        build_target=primary.build_target,
        services=primary.services,
        dependency_files=primary.dependency_files,
        evidence={**{k: v for k, v in primary.evidence.items() if k in shared}, "start_command": evidence},
    )


def _drop_nested_assets(
    groups: list[tuple[str, Strength, list[Component]]],
) -> list[tuple[str, Strength, list[Component]]]:
    """Asset pipelines and static pages inside another component's folder belong to it."""
    paths = {directory for directory, _, _ in groups}

    def nested(directory: str) -> bool:
        return any(other != directory and other in common.ancestors(directory) for other in paths)

    return [g for g in groups if not (g[1] == Strength.ASSETS and nested(g[0]))]


# -- compose ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ComposeService:
    file: str
    name: str
    context: str | None  # build context folder, repo-relative
    service: str | None  # backing service its image provides ("postgres")
    evidence: Evidence
    depends_on: tuple[str, ...]
    port: tuple[int, Evidence] | None


def _compose_services(repo: Repo) -> list[_ComposeService]:
    found = []
    for rel in repo.files:
        folder, _, name = rel.rpartition("/")
        folder = folder or "."
        if not COMPOSE_FILE.fullmatch(name) or common.is_skipped(folder):
            continue
        data = repo.load_yaml(rel)
        services = data.get("services") if isinstance(data, dict) else None
        for key, spec in services.items() if isinstance(services, dict) else []:
            if isinstance(spec, dict):
                found.append(_compose_service(repo, rel, folder, str(key), spec))
    return found


def _compose_service(repo: Repo, rel: str, folder: str, name: str, spec: dict[str, Any]) -> _ComposeService:
    build = spec.get("build")
    raw = build.get("context", ".") if isinstance(build, dict) else build
    context = None
    if isinstance(raw, str) and "://" not in raw and not raw.startswith(("/", "git@")):
        normal = posixpath.normpath(join(folder, raw))
        context = None if normal.startswith("..") else normal
    image = spec.get("image") if isinstance(spec.get("image"), str) else None
    if context is not None:
        key = "context" if isinstance(build, dict) and "context" in build else "build"
        evidence = repo.evidence(rel, re.compile(rf"^\s*{key}\s*:\s*[\"']?{re.escape(str(raw))}"))
    else:
        evidence = repo.evidence(rel, re.compile(rf"^\s*image\s*:\s*[\"']?{re.escape(image or '')}"))
    depends = spec.get("depends_on")
    port = _compose_port(repo, rel, spec)
    return _ComposeService(
        file=rel,
        name=name,
        context=context,
        service=common.service_for_image(image) if image and context is None else None,
        evidence=evidence,
        depends_on=tuple(str(d) for d in depends) if isinstance(depends, (list, dict)) else (),
        port=port,
    )


def _compose_port(repo: Repo, rel: str, spec: dict[str, Any]) -> tuple[int, Evidence] | None:
    """The container side of the first `ports:` / `expose:` entry."""
    for entry in [*_list(spec.get("ports")), *_list(spec.get("expose"))]:
        target = entry.get("target") if isinstance(entry, dict) else entry
        container = str(target).split("/")[0].rsplit(":", 1)[-1]
        if container.isdigit():
            line = re.compile(
                rf"^\s*-\s*[\"']?(?:[\w.]*:)?(?:\d+:)?{container}\b|^\s*target\s*:\s*{container}\b"
            )
            return int(container), repo.evidence(rel, line)
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _with_compose(component: Component, compose: list[_ComposeService]) -> Component:
    """Backing services (with evidence) from the compose files that build this component
    (only those it depends on, when the file uses depends_on), or from a compose file in its folder or above
    that builds nothing; the container port from compose when the plugin only assumed one."""
    if component.kind == "static" or not compose:
        return component
    builds = {s.file for s in compose if s.context is not None}
    builders = [s for s in compose if s.context == component.path]
    # A file whose build services use depends_on says exactly what each one needs.
    linked: dict[str, set[str]] = {s.file: set() for s in compose if s.context is not None and s.depends_on}
    for builder in builders:
        linked.get(builder.file, set()).update(builder.depends_on)
    own = {b.file for b in builders}
    services, evidence = list(component.services), dict(component.evidence)
    for item in compose:
        if item.service is None or item.service in services:
            continue
        if item.file in own:
            if item.file in linked and item.name not in linked[item.file]:
                continue
        elif item.file in builds or common.parent(item.file) not in common.ancestors(component.path):
            continue
        services.append(item.service)
        evidence["services"] = (*evidence.get("services", ()), item.evidence)
    changes: dict[str, Any] = {"services": tuple(services)}
    port = next((b.port for b in builders if b.port), None)
    assumed = component.port is None or all(e.default for e in component.evidence.get("port", ()))
    if port and component.kind == "web" and assumed:
        changes["port"] = port[0]
        evidence["port"] = (port[1],)
    return dataclasses.replace(component, evidence=evidence, **changes)


# -- names ----------------------------------------------------------------------------------------


def _repo_name(repo: Repo, remote: tuple[str, Evidence] | None) -> str:
    if remote is not None:
        return remote[0].rsplit("/", 1)[-1]
    return repo.root.name


def _folder_name(directory: str, repo_name: str) -> str:
    parts = [p for p in directory.split("/") if p not in (".", "", "src")]
    return parts[-1] if parts else repo_name


def _name(components: list[Component], repo_name: str) -> list[Component]:
    """DNS-1123 names, unique: the folder's name, "<folder>-<suffix>" for extra processes."""
    by_path: dict[str, int] = {}
    for c in components:
        by_path[c.path] = by_path.get(c.path, 0) + 1
    used: set[str] = set()
    out = []
    ordered = sorted(components, key=lambda c: (c.path.count("/"), c.path, c.name.startswith("-"), c.name))
    for c in ordered:
        base = _folder_name(c.path, repo_name)
        if c.name and not c.name.startswith("-") and by_path[c.path] > 1:
            candidates = [_label(c.name, ""), _label(base, c.name)]
        else:
            suffix = c.name if c.name.startswith("-") else ""
            long = c.path.replace("/", "-") if c.path != "." else base
            candidates = [_label(base, suffix), _label(long, suffix)]
        name = _unique(candidates, used)
        used.add(name)
        out.append(dataclasses.replace(c, name=name))
    return out


def _label(base: str, suffix: str) -> str:
    """`base` + `suffix` as a DNS-1123 label of at most 40 characters, keeping the suffix."""
    tail = common.sanitize_name(suffix, 30) if suffix.strip("-") else ""
    if not tail:
        return common.sanitize_name(base)
    return f"{common.sanitize_name(base, 40 - len(tail) - 1)}-{tail}"


def _unique(candidates: list[str], used: set[str]) -> str:
    for name in candidates:
        if name not in used:
            return name
    number = 2
    while _label(candidates[0], str(number)) in used:
        number += 1
    return _label(candidates[0], str(number))


# -- existing files, CI platform, git remote ------------------------------------------------------


def _existing(repo: Repo) -> tuple[str, ...]:
    """Deployment files already present: container, compose, CI, PaaS and Kubernetes files."""
    found = []
    for folder in common.folders(repo):
        parts = [] if folder == "." else folder.split("/")
        if any(p in common.SKIP_SEGMENTS and p not in ("templates", "template") for p in parts):
            continue
        deploy_dir = bool(DEPLOY_DIRS.intersection(parts))
        prefix = "" if folder == "." else folder + "/"
        for name in common.names_in(repo, folder):
            if (
                EXISTING_NAMES.fullmatch(name)
                or COMPOSE_FILE.fullmatch(name)
                or (folder == ".github/workflows" and name.endswith((".yml", ".yaml")))
                or (folder == ".circleci" and name == "config.yml")
                or (deploy_dir and name.endswith((".yml", ".yaml", ".json", ".tpl")))
            ):
                found.append(prefix + name)
    return tuple(sorted(found))


def _ci_platform(repo: Repo, remote: tuple[str, Evidence] | None) -> tuple[str, Evidence] | None:
    # deploysmith's own output is not the user's choice of platform: without this, a second
    # run would read back the workflow the first run wrote and change its stated reasons.
    generated = _generated_files(repo)
    for platform, pattern in CI_FILES:
        folder, _, name = pattern.rpartition("/")
        matches = sorted(
            n for n in common.names_in(repo, folder or ".")
            if fnmatch.fnmatchcase(n, name) and join(folder or ".", n) not in generated
        )
        if matches:
            return platform, common.file_evidence(join(folder or ".", matches[0]))
    if remote is None:
        return None
    host = remote[0].split("/", 1)[0]
    if host == "github.com" or host.startswith("github."):
        return "github", remote[1]
    if host.startswith("gitlab.") or ".gitlab." in host:
        return "gitlab", remote[1]
    if host == "dev.azure.com" or host.endswith(".visualstudio.com"):
        return "azure", remote[1]
    return None


def _generated_files(repo: Repo) -> frozenset[str]:
    """Paths listed in .deploysmith/lock.json (read as data; a bad lock lists nothing)."""
    lock = repo.root / ".deploysmith" / "lock.json"
    try:
        if not lock.is_file() or lock.stat().st_size > 1024 * 1024:
            return frozenset()
        data = json.loads(lock.read_text(encoding="utf-8"))
        return frozenset(str(entry["path"]) for entry in data.get("files", []) if isinstance(entry, dict))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return frozenset()


def _git_remote(repo: Repo) -> tuple[str, Evidence] | None:
    """The origin remote (else the first) from .git/config, read as text, credentials removed."""
    text = _git_config_text(repo.root)
    if text is None:
        return None
    remotes: list[tuple[str, str, int]] = []
    section = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r'^\s*\[\s*remote\s+"([^"]+)"\s*\]', line)
        if header:
            section = header.group(1)
            continue
        if line.strip().startswith("["):
            section = None
            continue
        found = re.match(r"^\s*url\s*=\s*(\S+)", line)
        if section is not None and found:
            remotes.append((section, found.group(1), number))
    remotes.sort(key=lambda r: r[0] != "origin")
    for _, url, number in remotes:
        parsed = parse_remote(url)
        if parsed is not None:
            return parsed, Evidence(file=".git/config", line=number, text=f"url = {parsed}")
    return None


def _git_config_text(root: Path) -> str | None:
    git = root / ".git"
    try:
        if git.is_file():  # a worktree or submodule: "gitdir: <path>"
            pointer = _read_small(git)
            match = re.match(r"gitdir:\s*(.+)", pointer or "")
            if match is None:
                return None
            git = (root / match.group(1).strip()).resolve()
            common_dir = _read_small(git / "commondir")
            if common_dir:
                git = (git / common_dir.strip()).resolve()
        return _read_small(git / "config")
    except OSError:
        return None


def _read_small(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > GIT_CONFIG_LIMIT:
            return None
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def parse_remote(url: str) -> str | None:
    """ "github.com/acme/shop" from https, ssh and scp-like remote URLs, without credentials,
    port or ".git"; None for local paths."""
    match = re.match(r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?([^/:@]+)(?::\d*)?/(.+)$", url, re.I) or re.match(
        r"^(?:[^@/:]+@)?([^/:@]+):(?!//)(.+)$", url
    )
    if match is None:
        return None
    host, path = match.group(1).lower(), match.group(2)
    if "." not in host:
        return None
    host = re.sub(r"^(github\.com|gitlab\.com|bitbucket\.org)-[\w-]+$", r"\1", host)  # ssh host aliases
    path = path.strip("/").removesuffix(".git").strip("/")
    if host == "ssh.dev.azure.com":
        host, path = "dev.azure.com", path.removeprefix("v3/")
    path = path.replace("/_git/", "/")
    if not path or ".." in path.split("/"):
        return None
    return f"{host}/{path}"

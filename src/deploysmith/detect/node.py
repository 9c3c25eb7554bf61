"""Node.js: npm, Yarn, pnpm, Bun; Next.js, Nuxt, NestJS, SvelteKit, Express/Fastify/Koa/Hono
servers, Vite/CRA/Angular single-page apps, and front-end asset pipelines of other backends.

Reads package.json as JSON and source files as text; never runs a script.

Start commands never go through a package manager when the script is one plain command:
`npm start` with scripts.start "node dist/main.js" is "node dist/main.js" (npm would not
forward SIGTERM to the app), and a dependency's binary is named by its path
("node_modules/.bin/next start"), which is how npm finds it. A script that needs a shell,
sets variables inline or runs a wrapper (cross-env, nodemon, …) keeps the package manager's
form, with a warning. dependency_files lists every file the install reads (lock, manager
config, Yarn 2+ release and plugins, patches, files of install scripts), never a config
that holds registry credentials.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from typing import Any

from deploysmith.detect import common
from deploysmith.detect.base import Detection, Strength
from deploysmith.detect.common import Facts
from deploysmith.model import ComponentKind, Evidence
from deploysmith.repo import Repo, join

MARKERS: tuple[str, ...] = ("package.json",)

_LOCKS = {
    "pnpm-lock.yaml": "pnpm",
    "yarn.lock": "yarn",
    "bun.lockb": "bun",
    "bun.lock": "bun",
    "npm-shrinkwrap.json": "npm",  # npm prefers it to package-lock.json when both exist
    "package-lock.json": "npm",
}
# Configuration each install reads from the package's folder (Yarn 2+ reads .yarnrc.yml, not
# .npmrc); files that hold registry credentials are left out (see _credentials).
_CONFIG = {
    "npm": (".npmrc",),
    "pnpm": (".npmrc", "pnpm-workspace.yaml", ".pnpmfile.cjs", ".pnpmfile.mjs"),
    "yarn": (".npmrc", ".yarnrc"),
    "yarn-berry": (".yarnrc.yml",),
    "bun": (".npmrc", "bunfig.toml"),
}
_CREDENTIALS = {
    ".npmrc": re.compile(r"^[^#;\n]*?(_authToken|_auth|_password)\s*=", re.M),
    ".yarnrc": re.compile(r"^[^#\n]*?(_authToken|_auth|_password)[\s=]", re.M),
    ".yarnrc.yml": re.compile(r"^\s*(npmAuthToken|npmAuthIdent|npmPassword)\s*:", re.M),
    "bunfig.toml": re.compile(r"^\s*(token|password)\s*=", re.M),
}
# Scripts the package manager runs inside the install of the package itself.
_INSTALL_SCRIPTS = ("preinstall", "install", "postinstall", "prepare")
# fmt: off
_SERVERS = {
    "express": "express", "fastify": "fastify", "koa": "koa", "hono": "hono", "@hono/node-server": "hono",
    "@hapi/hapi": "hapi", "restify": "restify", "@adonisjs/core": "adonisjs", "polka": "polka",
    "@feathersjs/feathers": "feathers", "@remix-run/serve": "remix", "@react-router/serve": "react-router",
}
_SERVICE_DEPS = {
    "pg": "postgres", "postgres": "postgres", "pg-promise": "postgres",
    "@neondatabase/serverless": "postgres", "mysql": "mysql", "mysql2": "mysql", "mariadb": "mysql",
    "mongodb": "mongodb", "mongoose": "mongodb",
    "redis": "redis", "ioredis": "redis", "@redis/client": "redis", "bullmq": "redis", "bull": "redis",
    "amqplib": "rabbitmq", "amqp-connection-manager": "rabbitmq", "kafkajs": "kafka",
    "@elastic/elasticsearch": "elasticsearch", "@opensearch-project/opensearch": "elasticsearch",
    "memjs": "memcached", "nats": "nats",
}
# Dependencies and files that say the folder's front-end build feeds a server of another
# ecosystem (Laravel + Vite, Rails + jsbundling, Django + webpack).
_BACKEND_PLUGINS = (
    "laravel-vite-plugin", "@symfony/webpack-encore", "vite-plugin-ruby", "@rails/webpacker",
    "@rails/ujs", "django-vite", "laravel-mix",
)
_BACKEND_FILES = frozenset({
    "manage.py", "composer.json", "artisan", "Gemfile", "go.mod", "pom.xml", "build.gradle",
    "build.gradle.kts", "Cargo.toml", "mix.exs", "requirements.txt", "pyproject.toml", "Pipfile",
})
_BUNDLERS = (
    "webpack", "vite", "esbuild", "rollup", "parcel", "tailwindcss", "sass", "postcss", "gulp", "laravel-mix",
)
# fmt: on
_TEST_PLACEHOLDER = re.compile(r"no test specified")
_DEV_RUNNERS = re.compile(
    r"^(?:nodemon|ts-node-dev|node-dev|tsx\s+watch|next\s+dev|vite(?:\s|$)|nest\s+start)"
)
_ENTRY_NAMES = ("server", "main", "index", "app", "api", "health", "healthz", "healthcheck", "status")
_SOURCE_EXTS = (".js", ".ts", ".mjs", ".cjs", ".mts", ".cts")


@dataclass
class _Package:
    directory: str
    data: dict[str, Any]
    deps: dict[str, str]
    runtime_deps: dict[str, str]
    scripts: dict[str, str]
    manager: str = "npm"

    @property
    def rel(self) -> str:
        return join(self.directory, "package.json")

    def ev(self, repo: Repo, key: str, within: str | None = None, default: bool = False) -> Evidence:
        """Evidence for the `"key":` line of package.json, inside the `within` object when
        given (a script, a dependency, engines.node)."""
        text = repo.read_text(self.rel) or ""
        start = 0
        if within is not None:
            parent = re.search(rf'"{re.escape(within)}"\s*:', text)
            start = parent.end() if parent else 0
        found = re.compile(rf'"{re.escape(key)}"\s*:').search(text, start)
        if found is None:
            return common.file_evidence(self.rel, default)
        return common.evidence_at(self.rel, text, found.start(), default)

    def dep(self, repo: Repo, name: str, default: bool = False) -> Evidence:
        table = "dependencies" if name in self.runtime_deps else "devDependencies"
        return self.ev(repo, name, table if table in self.data else None, default)

    def script(self, repo: Repo, name: str) -> Evidence:
        return self.ev(repo, name, "scripts")

    def run(self, script: str) -> str:
        """The command that runs a package script with this package manager."""
        if self.manager in ("npm", "pnpm"):
            short = script in ("start", "test")
            return f"{self.manager} {script}" if short else f"{self.manager} run {script}"
        return f"yarn {script}" if self.manager == "yarn" else f"bun run {script}"

    def exec(self, command: str) -> str:
        return {"npm": "npx", "yarn": "yarn", "pnpm": "pnpm exec", "bun": "bunx"}[
            self.manager
        ] + f" {command}"


def detect(repo: Repo, directory: str) -> Detection | None:
    pkg = _read(repo, directory)
    if pkg is None:
        return None
    facts = Facts()
    _package_manager(repo, pkg, facts)
    _node_version(repo, pkg, facts)
    sources = common.source_files(repo, directory, _SOURCE_EXTS, _ENTRY_NAMES, limit=25)
    strength, kind = _framework(repo, pkg, sources, facts)
    if "test" in pkg.scripts and not _TEST_PLACEHOLDER.search(pkg.scripts["test"]):
        facts.set("test_command", pkg.run("test"), pkg.script(repo, "test"))
    if "lint" in pkg.scripts:
        facts.set("lint_command", pkg.run("lint"), pkg.script(repo, "lint"))
    if kind != "static":
        _services(repo, pkg, facts)
        _migrations(repo, pkg, facts)
    typescript = "typescript" in pkg.deps or "tsconfig.json" in common.names_in(repo, directory)
    language = "typescript" if typescript else "javascript"
    return Detection(components=(facts.component(directory, kind, language),), strength=strength)


def _read(repo: Repo, directory: str) -> _Package | None:
    rel = join(directory, "package.json")
    data = repo.load_json(rel)
    if data is None:
        return None
    if not isinstance(data, dict):
        repo.warnings.append(f"{rel}: not a JSON object; ignored")
        return None

    def table(key: str) -> dict[str, str]:
        value = data.get(key)
        return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}

    runtime = table("dependencies")
    deps = {**table("devDependencies"), **table("optionalDependencies"), **runtime}
    return _Package(directory, data, deps, runtime, table("scripts"))


# -- package manager and version -----------------------------------------------------------


def _package_manager(repo: Repo, pkg: _Package, facts: Facts) -> None:
    """packageManager, else the nearest lock file (a workspace's is at its root), else npm."""
    declared = pkg.data.get("packageManager")
    names = set(common.names_in(repo, pkg.directory))
    if isinstance(declared, str) and declared.split("@")[0] in ("npm", "yarn", "pnpm", "bun"):
        pkg.manager = declared.split("@")[0]
        facts.set("package_manager", pkg.manager, pkg.ev(repo, "packageManager"))
    else:
        lock = common.find_upwards(repo, pkg.directory, list(_LOCKS))
        if lock is not None:
            pkg.manager = _LOCKS[lock.rsplit("/", 1)[-1]]
            facts.set("package_manager", pkg.manager, common.file_evidence(lock))
        else:
            facts.set("package_manager", "npm", common.file_evidence(pkg.rel, default=True))
    yarnrc = common.find_upwards(repo, pkg.directory, (".yarnrc.yml",))
    if pkg.manager == "yarn" and yarnrc:  # Yarn 2+ ("berry"): the evidence says so
        facts.evidence["package_manager"].append(common.file_evidence(yarnrc))
    locks = [name for name, manager in _LOCKS.items() if manager == pkg.manager]
    if not any(name in names for name in locks):
        above = common.find_upwards(repo, pkg.directory, locks)
        if above is not None:
            common.build_warning(
                repo, pkg.directory,
                common.outside_warning(pkg.directory, [above], f"{pkg.manager} install")
                + " (the install there is not locked, and workspace dependencies do not resolve)"
            )
    files = _dependency_files(repo, pkg)
    facts.set("dependency_files", files, *[common.file_evidence(join(pkg.directory, n)) for n in files])


def _dependency_files(repo: Repo, pkg: _Package) -> list[str]:
    """Every file the install reads, relative to the package's folder: the manifest, the
    lock, the manager's configuration, Yarn 2+'s release and plugins, patches, and local
    files the install's own lifecycle scripts run."""
    d = pkg.directory
    names = set(common.names_in(repo, d))
    berry = pkg.manager == "yarn" and ".yarnrc.yml" in names
    tool = "yarn-berry" if berry else pkg.manager
    locks = [name for name, manager in _LOCKS.items() if manager == pkg.manager and name in names]
    files = ["package.json", *locks[:1]]
    for name in _CONFIG.get(tool, ()):
        if name in names and not _credentials(repo, d, name):
            files.append(name)
    if tool == "yarn" and ".yarnrc" in files:  # Yarn 1 runs the release its yarn-path names
        text = repo.read_text(join(d, ".yarnrc")) or ""
        found = re.search(r"""^\s*yarn-path\s+["']?([^"'\s]+)""", text, re.M)
        files += _local(repo, pkg, [found.group(1)] if found else [], ".yarnrc")
    if berry:
        files += common.listed_under(repo, d, ".yarn/releases")
        files += common.listed_under(repo, d, ".yarn/plugins")
    files += _patches(repo, pkg, "pnpm-workspace.yaml" in files)
    files += _install_script_files(repo, pkg)
    return list(dict.fromkeys(files))


def _credentials(repo: Repo, directory: str, name: str) -> bool:
    """Whether a package-manager config file holds registry credentials (then: a warning)."""
    pattern = _CREDENTIALS.get(name)
    found = pattern.search(repo.read_text(join(directory, name)) or "") if pattern else None
    if found is not None:
        what = f"registry credentials ({found.group(1)})"
        common.build_warning(repo, directory, common.credential_warning(join(directory, name), what))
    return found is not None


def _local(repo: Repo, pkg: _Package, paths: list[str], source: str) -> list[str]:
    """Those of `paths` (relative to the package) that are files in its folder; files
    outside it are reported."""
    found: list[str] = []
    outside: list[str] = []
    for path in paths:
        rel = posixpath.normpath(join(pkg.directory, path.removeprefix("~/")))
        if rel.startswith("../") or not repo.exists(rel):
            continue
        (found if common.inside(pkg.directory, rel) else outside).append(rel)
    if outside:
        warning = common.outside_warning(pkg.directory, outside, f"the install ({source})")
        common.build_warning(repo, pkg.directory, warning)
    return [common.relative(pkg.directory, rel) for rel in found]


def _patches(repo: Repo, pkg: _Package, workspace_file: bool) -> list[str]:
    """Patches the install applies: pnpm's and Bun's patchedDependencies, Yarn's patch:
    protocol, and patch-package's folder when an install script runs it."""
    declared: list[str] = []
    tables = [pkg.data.get("patchedDependencies")]
    pnpm = pkg.data.get("pnpm")
    tables.append(pnpm.get("patchedDependencies") if isinstance(pnpm, dict) else None)
    if workspace_file:
        workspace = repo.load_yaml(join(pkg.directory, "pnpm-workspace.yaml"))
        tables.append(workspace.get("patchedDependencies") if isinstance(workspace, dict) else None)
    for table in tables:
        declared += [v for v in table.values() if isinstance(v, str)] if isinstance(table, dict) else []
    for key in ("dependencies", "devDependencies", "optionalDependencies", "resolutions"):
        table = pkg.data.get(key)
        for spec in table.values() if isinstance(table, dict) else ():
            if isinstance(spec, str) and spec.startswith("patch:") and "#" in spec:
                declared.append(spec.split("#", 1)[1].split("::", 1)[0])
    files = _local(repo, pkg, declared, "patches")
    for name in _INSTALL_SCRIPTS:
        script = pkg.scripts.get(name, "")
        if "patch-package" in script:
            folder = re.search(r"--patch-dir[=\s]+(\S+)", script)
            files += common.listed_under(repo, pkg.directory, folder.group(1) if folder else "patches")
    return sorted(dict.fromkeys(files))


def _install_script_files(repo: Repo, pkg: _Package) -> list[str]:
    """Files of the package that its install lifecycle scripts read (`node scripts/setup.js`,
    the Prisma schema for `prisma generate`); a script that builds the source is reported:
    it runs before the source is copied."""
    paths: list[str] = []
    for name in _INSTALL_SCRIPTS:
        script = pkg.scripts.get(name, "")
        paths += [t.strip("\"'") for t in re.split(r"[\s;&|()=]+", script) if "/" in t or "." in t.strip(".")]
        if re.search(r"\bprisma\s+generate\b", script) and "--schema" not in script:
            schema = _prisma_schema(repo, pkg)
            paths += [common.relative(pkg.directory, schema)] if schema else []
        if re.search(r"\b(?:tsc|build)\b", script):
            common.build_warning(
                repo, pkg.directory,
                f"{pkg.rel}: scripts.{name} (`{script}`) runs during the install, before the image has "
                "the source; the dependency install there fails or builds nothing"
            )
    return _local(repo, pkg, [p for p in paths if p and not p.startswith(("-", "http"))], "install scripts")


_PINS = (
    (".nvmrc", r"^\s*v?(\d\S*)"),
    (".node-version", r"^\s*v?(\d\S*)"),
    (".tool-versions", r"^node(?:js)?\s+(\d\S*)"),
)


def _node_version(repo: Repo, pkg: _Package, facts: Facts) -> None:
    """Pins in the folder, then Volta, then pins above the folder, then engines.node."""
    folders = list(common.ancestors(pkg.directory))
    if _pinned(repo, folders[0], facts):
        return
    volta = pkg.data.get("volta")
    pinned = volta.get("node") if isinstance(volta, dict) else None
    if isinstance(pinned, str) and common.major_version(pinned):
        facts.set("language_version", common.major_version(pinned), pkg.ev(repo, "node", "volta"))
        return
    if any(_pinned(repo, folder, facts) for folder in folders[1:]):
        return
    engines = pkg.data.get("engines")
    spec = engines.get("node") if isinstance(engines, dict) else None
    if isinstance(spec, str) and common.major_version(spec):
        facts.set("language_version", common.major_version(spec), pkg.ev(repo, "node", "engines"))


def _pinned(repo: Repo, folder: str, facts: Facts) -> bool:
    for name, pattern in _PINS:
        rel = join(folder, name)
        text = repo.read_text(rel) if repo.exists(rel) else None
        match = re.search(pattern, text or "", re.M)
        if text and match and common.major_version(match.group(1)):
            evidence = common.evidence_at(rel, text, match.start(1))
            facts.set("language_version", common.major_version(match.group(1)), evidence)
            return True
    return False


# -- frameworks -------------------------------------------------------------------------------


def _framework(repo: Repo, pkg: _Package, sources: list[str], facts: Facts) -> tuple[Strength, ComponentKind]:
    if _is_workspace_root(repo, pkg):
        return Strength.TOOLING, "web"
    if "next" in pkg.deps:
        return _next(repo, pkg, facts)
    if "nuxt" in pkg.deps:
        facts.set("framework", "nuxt", pkg.dep(repo, "nuxt"))
        _build(repo, pkg, facts, ".output")
        facts.set("start_command", "node .output/server/index.mjs", pkg.dep(repo, "nuxt"))
        _server_port(repo, pkg, sources, facts)
        return Strength.APP, "web"
    if "@sveltejs/kit" in pkg.deps:
        return _sveltekit(repo, pkg, sources, facts)
    if "@nestjs/core" in pkg.deps:
        return _nest(repo, pkg, sources, facts)
    server = next((name for name in _SERVERS if name in pkg.runtime_deps), None)
    if server is not None:
        facts.set("framework", _SERVERS[server], pkg.dep(repo, server))
        _server_start(repo, pkg, sources, facts)
        _server_port(repo, pkg, sources, facts)
        _health(repo, pkg, sources, facts)
        return Strength.APP, "web"
    spa = _spa(repo, pkg, facts)
    if spa is not None:
        return spa, "static"
    if _server_start(repo, pkg, sources, facts):
        _server_port(repo, pkg, sources, facts, default=False)
        _health(repo, pkg, sources, facts)
        return Strength.RUNNABLE, "web" if facts.get("port") else "worker"
    if _feeds_a_backend(repo, pkg) and any(name in pkg.deps for name in _BUNDLERS) and _script(pkg, "build"):
        _build(repo, pkg, facts, None)
        return Strength.ASSETS, "static"
    return Strength.TOOLING, "web"  # linters, formatters, a library's build


def _is_workspace_root(repo: Repo, pkg: _Package) -> bool:
    """A root that declares workspaces and runs nothing of its own."""
    declared = "workspaces" in pkg.data or repo.exists(join(pkg.directory, "pnpm-workspace.yaml"))
    if not declared:
        return False
    start = pkg.scripts.get("start", "")
    delegates = re.search(r"\b(turbo|nx|lerna)\b|--filter|--workspace|-w\s|\s-r\s|workspaces?\s", start)
    frameworks = ("next", "nuxt", "@nestjs/core", *_SERVERS)
    return not (start and not delegates and any(name in pkg.runtime_deps for name in frameworks))


def _script(pkg: _Package, name: str) -> str | None:
    script = pkg.scripts.get(name)
    return script if script and script.strip() not in ("", "exit 0", "true") else None


# -- start scripts ----------------------------------------------------------------------------

# Programs that wrap the app in another process, run a shell, or restart it: the script is
# not the server's own command line.
_WRAPPERS = frozenset({
    "cross-env", "dotenv", "env-cmd", "env", "sh", "bash", "zsh", "exec", "concurrently", "npm-run-all",
    "npm-run-all2", "run-s", "run-p", "nodemon", "ts-node-dev", "node-dev", "forever", "pm2", "npm", "pnpm",
    "yarn", "npx", "pnpx", "bunx", "deno",
})
# Programs on the image's PATH; any other bare name is a dependency's binary, which only a
# package manager puts on PATH: the command names it as node_modules/.bin/<name>.
_ON_PATH = frozenset({"node", "bun"})
_SHELL_SYNTAX = re.compile(r"&&|\|\||[;|<>`&]|\$")


def _script_call(pkg: _Package, command: str) -> str | None:
    """The package script `command` runs (`npm start`, `yarn start`, `pnpm run x`,
    `bun run x`), when that is all it does and the script exists."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        return None
    if len(tokens) == 3 and (tokens[0], tokens[1]) in (
        ("npm", "run"), ("npm", "run-script"), ("pnpm", "run"), ("yarn", "run"), ("bun", "run")
    ):
        name = tokens[2]
    elif len(tokens) == 2 and (tokens[0] in ("pnpm", "yarn") or tokens[0] == "npm" and tokens[1] in (
        "start", "test", "stop", "restart"
    )):
        name = tokens[1]
    else:
        return None
    return name if name in pkg.scripts else None


def _not_plain(script: str) -> str | None:
    """Why a script is not one plain command the image can run itself, or None."""
    if not script.strip():
        return "is empty"
    if _SHELL_SYNTAX.search(script):
        return "needs a shell (&&, pipes, redirects or $ expansion)"
    try:
        tokens = shlex.split(script)
    except ValueError:
        return "cannot be split into arguments"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", tokens[0]):
        return "sets environment variables inline"
    if tokens[0] in ("npx", "pnpx", "bunx") and len(tokens) > 1 and not tokens[1].startswith("-"):
        tokens = tokens[1:]
    if tokens[0] in _WRAPPERS:
        return f"runs the app through {tokens[0]}"
    return None


def _plain_command(script: str) -> str:
    """A plain script as the image runs it: npx dropped, a dependency's binary named by its path."""
    command = script.strip()
    first = command.split(None, 1)[0]
    if first in ("npx", "pnpx", "bunx"):
        command = command.split(None, 1)[1].lstrip()
        first = command.split(None, 1)[0]
    if first in _ON_PATH or "/" in first:
        return command
    return f"node_modules/.bin/{command}"


def _resolve(repo: Repo, pkg: _Package, name: str, depth: int = 0) -> tuple[str | None, list[Evidence], str]:
    """(the command script `name` runs, evidence from its line (and the lines of the scripts
    it calls), why it is not plain when the command is None)."""
    script = pkg.scripts.get(name, "").strip()
    evidence = [pkg.script(repo, name)]
    called = _script_call(pkg, script)
    if called is not None and depth < 3:
        command, more, reason = _resolve(repo, pkg, called, depth + 1)
        return command, evidence + more, reason
    why = _not_plain(script)
    if why is not None:
        return None, evidence, f"scripts.{name} (`{script}`) {why}"
    return _plain_command(script), evidence, ""


def _start_script(repo: Repo, pkg: _Package, facts: Facts, name: str = "start") -> None:
    """start_command from a package script: the command the script runs when it is plain
    (a package manager in between would not forward SIGTERM to the app), else the package
    manager's form, with a warning."""
    command, evidence, reason = _resolve(repo, pkg, name)
    if command is None:
        common.build_warning(repo, pkg.directory, _complex_warning(pkg, pkg.run(name), reason))
    facts.set("start_command", command or pkg.run(name), *evidence)


def _complex_warning(pkg: _Package, command: str, reason: str) -> str:
    runner = command.split()[0]
    return (
        f"{pkg.rel}: {reason}; the start command stays `{command}`, and {runner} does not forward "
        "SIGTERM to the app in a container: make the script one plain command (e.g. `node dist/main.js`)"
    )


def resolve_command(repo: Repo, directory: str, command: str) -> tuple[str, tuple[Evidence, ...]] | None:
    """For the core (Procfile entries): the command behind `npm start` and the like, with the
    evidence of the script lines; None when `command` runs no package script or the script is
    not plain (then with a warning)."""
    if not repo.exists(join(directory, "package.json")):
        return None
    pkg = _read(repo, directory)
    called = _script_call(pkg, command) if pkg is not None else None
    if pkg is None or called is None:
        return None
    resolved, evidence, reason = _resolve(repo, pkg, called)
    if resolved is None:
        common.build_warning(repo, directory, _complex_warning(pkg, command, reason))
        return None
    return resolved, tuple(evidence)


def _build(
    repo: Repo, pkg: _Package, facts: Facts, output: str | None, output_evidence: Evidence | None = None
) -> None:
    if _script(pkg, "build"):
        facts.set("build_command", pkg.run("build"), pkg.script(repo, "build"))
        if output is not None:
            facts.set("build_output", output, output_evidence or pkg.script(repo, "build"))


def _next(repo: Repo, pkg: _Package, facts: Facts) -> tuple[Strength, ComponentKind]:
    facts.set("framework", "nextjs", pkg.dep(repo, "next"))
    configs = [join(pkg.directory, f"next.config.{ext}") for ext in ("js", "mjs", "ts", "cjs", "mts")]
    output = common.first(repo, configs, re.compile(r"""output\s*:\s*["'](standalone|export)["']"""))
    if output and output[1].group(1) == "export":
        _build(repo, pkg, facts, "out", output[2])
        return Strength.APP, "static"
    if output:
        _build(repo, pkg, facts, ".next/standalone", output[2])
        facts.set("start_command", "node server.js", output[2])
    else:
        _build(repo, pkg, facts, ".next")
        if "start" in pkg.scripts:
            _start_script(repo, pkg, facts)
        else:
            facts.set("start_command", pkg.exec("next start"), pkg.dep(repo, "next", default=True))
    found = common.port_from_command(pkg.scripts.get("start", ""))
    if found:
        facts.set("port", found, pkg.script(repo, "start"))
    else:
        facts.set("port", 3000, pkg.dep(repo, "next", default=True))
    _next_health(repo, pkg, facts)
    return Strength.APP, "web"


def _sveltekit(repo: Repo, pkg: _Package, sources: list[str], facts: Facts) -> tuple[Strength, ComponentKind]:
    facts.set("framework", "sveltekit", pkg.dep(repo, "@sveltejs/kit"))
    if "@sveltejs/adapter-static" in pkg.deps:
        _build(repo, pkg, facts, "build", pkg.dep(repo, "@sveltejs/adapter-static"))
        return Strength.APP, "static"
    if "@sveltejs/adapter-node" in pkg.deps:
        _build(repo, pkg, facts, "build", pkg.dep(repo, "@sveltejs/adapter-node"))
        facts.set("start_command", "node build", pkg.dep(repo, "@sveltejs/adapter-node"))
        _server_port(repo, pkg, sources, facts)
    return Strength.APP, "web"


def _nest(repo: Repo, pkg: _Package, sources: list[str], facts: Facts) -> tuple[Strength, ComponentKind]:
    facts.set("framework", "nestjs", pkg.dep(repo, "@nestjs/core"))
    _build(repo, pkg, facts, "dist")
    prod = pkg.scripts.get("start:prod", "")
    if prod.startswith("node ") and _not_plain(prod) is None:
        facts.set("start_command", prod, pkg.script(repo, "start:prod"))
    else:
        facts.set("start_command", "node dist/main.js", pkg.dep(repo, "@nestjs/core", default=True))
    _server_port(repo, pkg, sources, facts)
    _health(repo, pkg, sources, facts)
    return Strength.APP, "web"


def _spa(repo: Repo, pkg: _Package, facts: Facts) -> Strength | None:
    """A single-page app or static-site generator: built files, served by a web server.
    ASSETS when the folder's server is of another ecosystem (Laravel, Rails, Django)."""
    d = pkg.directory
    names = set(common.names_in(repo, d))
    if "react-scripts" in pkg.deps:
        facts.set("framework", "create-react-app", pkg.dep(repo, "react-scripts"))
        _build(repo, pkg, facts, "build")
    elif "@angular/core" in pkg.deps:
        facts.set("framework", "angular", pkg.dep(repo, "@angular/core"))
        angular = join(d, "angular.json")
        found = common.first(repo, [angular], re.compile(r'"outputPath"\s*:\s*"([^"]+)"'))
        modern = "@angular-devkit/build-angular:application" in (repo.read_text(angular) or "")
        output = (found[1].group(1) + ("/browser" if modern else "")) if found else None
        _build(repo, pkg, facts, output, found[2] if found else None)
    elif "gatsby" in pkg.deps:
        facts.set("framework", "gatsby", pkg.dep(repo, "gatsby"))
        _build(repo, pkg, facts, "public")
    elif "astro" in pkg.deps:
        facts.set("framework", "astro", pkg.dep(repo, "astro"))
        _build(repo, pkg, facts, "dist")
    elif "vite" in pkg.deps and "index.html" in names:  # no index.html: library mode or a backend's assets
        facts.set("framework", "vite", pkg.dep(repo, "vite"))
        configs = [join(d, f"vite.config.{ext}") for ext in ("ts", "js", "mjs", "mts", "cjs")]
        found = common.first(repo, configs, re.compile(r"""outDir\s*:\s*["']([^"']+)["']"""))
        _build(repo, pkg, facts, found[1].group(1) if found else "dist", found[2] if found else None)
    else:
        return None
    return Strength.ASSETS if _feeds_a_backend(repo, pkg) else Strength.APP


def _feeds_a_backend(repo: Repo, pkg: _Package) -> bool:
    """Whether the folder's front-end build belongs to a server of another ecosystem."""
    names = common.names_in(repo, pkg.directory)
    return any(name in pkg.deps for name in _BACKEND_PLUGINS) or any(n in _BACKEND_FILES for n in names)


# -- servers: start, port, health ------------------------------------------------------------

_LISTEN = re.compile(r"\.listen\(|createServer\(|\bserve\(\s*\{")


def _server_start(repo: Repo, pkg: _Package, sources: list[str], facts: Facts) -> bool:
    """Prefer a production `node …` script, then the start script (a TypeScript dev runner
    means: run the compiled output of the build), then a file that starts a server (a
    library's `main` is what it exports, not a process)."""
    for name in ("start:prod", "start:production", "serve", "start"):
        script = pkg.scripts.get(name, "").strip()
        if re.match(r"^node\s+\S", script) and _not_plain(script) is None:
            facts.set("start_command", script, pkg.script(repo, name))
            _build(repo, pkg, facts, None)
            return True
    start = pkg.scripts.get("start", "").strip()
    main = pkg.data.get("main") if isinstance(pkg.data.get("main"), str) else None
    compiled = "typescript" in pkg.deps and _script(pkg, "build") is not None
    if start and not _DEV_RUNNERS.match(start) and not re.match(r"^(ts-node|tsx)\s", start):
        _start_script(repo, pkg, facts)
        _build(repo, pkg, facts, None)
        return True
    if start and compiled:
        _compiled_start(repo, pkg, main, sources, facts)
        return True
    conventional = ["server.js", "server.mjs", "app.js", "index.js"]
    for name in dict.fromkeys([(main or "").removeprefix("./"), *conventional]):
        rel = join(pkg.directory, name)
        if name and repo.exists(rel) and _LISTEN.search(repo.read_text(rel) or ""):
            facts.set("start_command", f"node {name}", repo.evidence(rel, _LISTEN))
            return True
    entries = [s for s in sources if re.search(r"(?:^|/)(?:src/)?(?:server|main|index|app)\.[cm]?ts$", s)]
    entry = common.first(repo, entries[:3], _LISTEN) if compiled else None
    if entry is not None:
        _compiled_start(repo, pkg, None, [entry[0]], facts)
        return True
    return False


def _compiled_start(repo: Repo, pkg: _Package, main: str | None, sources: list[str], facts: Facts) -> None:
    out_dir, evidence = _ts_out_dir(repo, pkg.directory)
    entry = main or f"{out_dir}/{_compiled_entry(sources, pkg.directory)}"
    facts.set("start_command", f"node {entry}", evidence)
    _build(repo, pkg, facts, out_dir, evidence)


def _ts_out_dir(repo: Repo, directory: str) -> tuple[str, Evidence]:
    tsconfig = join(directory, "tsconfig.json")
    found = common.first(repo, [tsconfig], re.compile(r'"outDir"\s*:\s*"(?:\./)?([^"]+?)/?"'))
    if found:
        return found[1].group(1), found[2]
    basis = tsconfig if repo.exists(tsconfig) else join(directory, "package.json")
    return "dist", common.file_evidence(basis, default=True)


def _compiled_entry(sources: list[str], directory: str) -> str:
    """ "index.js" for src/index.ts (tsc keeps the path below rootDir, usually src/)."""
    for rel in sources:
        inner = common.relative(directory, rel).removeprefix("src/")
        if inner.rsplit(".", 1)[0] in ("server", "main", "index", "app") and rel.endswith(".ts"):
            return inner[: -len(".ts")] + ".js"
    return "index.js"


_PORT_PATTERNS = re.compile(
    r"process\.env\.PORT\s*(?:\|\||\?\?)\s*[\"']?(\d{2,5})"
    r"|\.listen\(\s*(\d{2,5})\b"
    r"|\bport\s*[:=]\s*(\d{2,5})\b"
    r"|\bPORT\s*=\s*(\d{2,5})\b",
    re.I,
)


def _server_port(repo: Repo, pkg: _Package, sources: list[str], facts: Facts, default: bool = True) -> None:
    """The port in the start command or the source, else 3000 (the Node servers' convention)."""
    found = common.port_from_command(facts.get("start_command") or "")
    if found:
        facts.set("port", found, *facts.evidence["start_command"])
        return
    match = common.first(repo, sources[:20], _PORT_PATTERNS)
    if match:
        port = next(int(group) for group in match[1].groups() if group)
        facts.set("port", port, match[2])
    elif default:
        basis = facts.evidence.get("framework") or [common.file_evidence(pkg.rel)]
        facts.set("port", 3000, *[Evidence(e.file, e.line, e.text, default=True) for e in basis])


_ROUTE = re.compile(
    rf"""\.(?:get|all|head|route)\(\s*["'`]({common.HEALTH_PATH_RE})["'`]"""
    rf"""|\b(?:path|url)\s*:\s*["'`]({common.HEALTH_PATH_RE})["'`]"""
)
_NEST_CONTROLLER = re.compile(r"""@Controller\(\s*(?:["'`]([\w/-]*)["'`])?\s*\)""")
_NEST_GET = re.compile(r"""@Get\(\s*(?:["'`]([\w/-]*)["'`])?\s*\)""")
_NEST_PREFIX = re.compile(r"""setGlobalPrefix\(\s*["'`]([\w/-]+)["'`]""")


def _health(repo: Repo, pkg: _Package, sources: list[str], facts: Facts) -> None:
    """Health routes: app.get("/health"), route options, NestJS controllers (+ global prefix)."""
    found = [(m.group(1) or m.group(2), ev) for _, m, ev in common.search(repo, sources, _ROUTE)]
    controllers = [rel for rel in common.files_under(repo, pkg.directory) if rel.endswith(".controller.ts")]
    prefix = common.first(repo, sources[:10], _NEST_PREFIX)
    for rel in controllers[:40]:
        text = repo.read_text(rel) or ""
        controller = _NEST_CONTROLLER.search(text)
        for get in _NEST_GET.finditer(text) if controller else ():
            parts = (
                prefix[1].group(1) if prefix else "",
                controller.group(1) if controller else "",
                get.group(1),
            )
            path = "/" + "/".join(p.strip("/") for p in parts if p and p.strip("/"))
            if re.fullmatch(common.HEALTH_PATH_RE, path):
                found.append((path, common.evidence_at(rel, text, get.start())))
    best = common.best_health(found)
    if best:
        facts.set("health_path", best[0], best[1])


_NEXT_ROUTE = re.compile(
    r"^(?:src/)?(?:app((?:/[\w-]+)*?)(/(?:healthz?|livez|readyz|ping|up|status))/route"
    r"|pages((?:/[\w-]+)*?)(/(?:healthz?|livez|readyz|ping|up|status))(?:/index)?)\.[jt]sx?$"
)


def _next_health(repo: Repo, pkg: _Package, facts: Facts) -> None:
    """Next.js route handlers: app/health/route.ts → /health, pages/api/ping.ts → /api/ping."""
    found = []
    for rel in common.files_under(repo, pkg.directory):
        match = _NEXT_ROUTE.match(common.relative(pkg.directory, rel))
        if match:
            found.append(("".join(g for g in match.groups() if g), common.file_evidence(rel)))
    best = common.best_health(found)
    if best:
        facts.set("health_path", best[0], best[1])


# -- services and migrations -------------------------------------------------------------------

_PRISMA_PROVIDER = re.compile(
    r"""^\s*provider\s*=\s*["'](postgresql|postgres|cockroachdb|mysql|mongodb)["']""", re.M
)


def _services(repo: Repo, pkg: _Package, facts: Facts) -> None:
    for name in sorted(pkg.deps):
        if name in _SERVICE_DEPS:
            facts.add_service(_SERVICE_DEPS[name], pkg.dep(repo, name))
    schema = _prisma_schema(repo, pkg)
    found = common.first(repo, [schema], _PRISMA_PROVIDER) if schema else None
    if found:
        provider = found[1].group(1)
        facts.add_service({"mysql": "mysql", "mongodb": "mongodb"}.get(provider, "postgres"), found[2])


def _prisma_schema(repo: Repo, pkg: _Package) -> str | None:
    if "prisma" not in pkg.deps and "@prisma/client" not in pkg.deps:
        return None
    prisma = pkg.data.get("prisma")
    declared = prisma.get("schema") if isinstance(prisma, dict) else None
    for rel in (declared, "prisma/schema.prisma", "schema.prisma"):
        if isinstance(rel, str) and repo.exists(join(pkg.directory, rel)):
            return join(pkg.directory, rel)
    return None


_MIGRATE_SCRIPTS = (
    "migrate:deploy",
    "db:migrate:deploy",
    "migrate:prod",
    "migration:run",
    "migrations:run",
    "db:migrate",
    "migrate",
)
_MIGRATE_TOOLS = ("typeorm", "knex", "sequelize", "drizzle-kit", "node-pg-migrate", "umzug")


def _migrations(repo: Repo, pkg: _Package, facts: Facts) -> None:
    """Prisma (migrate deploy), a package script that applies migrations, knex, sequelize, drizzle."""
    d = pkg.directory
    names = set(common.names_in(repo, d))
    schema = _prisma_schema(repo, pkg)
    if schema:
        facts.set("migration_tool", "prisma", common.file_evidence(schema))
        facts.set("migrate_command", pkg.exec("prisma migrate deploy"), common.file_evidence(schema))
        return
    for name in _MIGRATE_SCRIPTS:
        script = pkg.scripts.get(name, "")
        if script and not re.search(r"\b(dev|make|create|generate|rollback|revert)\b", script):
            tool = next((t for t in _MIGRATE_TOOLS if t in script), "script")
            facts.set("migration_tool", tool, pkg.script(repo, name))
            facts.set("migrate_command", pkg.run(name), pkg.script(repo, name))
            return
    knexfile = next((n for n in sorted(names) if re.fullmatch(r"knexfile\.[cm]?[jt]s", n)), None)
    drizzle = next((n for n in sorted(names) if re.fullmatch(r"drizzle\.config\.[cm]?[jt]s", n)), None)
    choice: tuple[str, str, Evidence] | None = None
    if knexfile and "knex" in pkg.deps:
        choice = ("knex", "knex migrate:latest", common.file_evidence(join(d, knexfile)))
    elif ".sequelizerc" in names:
        choice = ("sequelize", "sequelize-cli db:migrate", common.file_evidence(join(d, ".sequelizerc")))
    elif "sequelize-cli" in pkg.deps:
        choice = ("sequelize", "sequelize-cli db:migrate", pkg.dep(repo, "sequelize-cli"))
    elif drizzle and "drizzle-kit" in pkg.deps:
        choice = ("drizzle", "drizzle-kit migrate", common.file_evidence(join(d, drizzle)))
    if choice is not None:
        facts.set("migration_tool", choice[0], choice[2])
        facts.set("migrate_command", pkg.exec(choice[1]), choice[2])

"""Node.js: npm, Yarn, pnpm, Bun; Next.js, Nuxt, NestJS, Express/Fastify/Koa/Hono servers,
Vite/CRA/Angular single-page apps, and front-end asset pipelines of other backends.

Reads package.json as JSON and source files as text; never runs a script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from deploysmith.detect import common
from deploysmith.detect.base import Detection, Strength
from deploysmith.detect.common import Facts
from deploysmith.model import ComponentKind, Evidence
from deploysmith.repo import Repo, join

MARKERS: tuple[str, ...] = ("package.json",)

_LOCKS = (
    ("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("bun.lockb", "bun"), ("bun.lock", "bun"),
    ("package-lock.json", "npm"), ("npm-shrinkwrap.json", "npm"),
)
_SERVERS = {
    "express": "express", "fastify": "fastify", "koa": "koa", "hono": "hono", "@hapi/hapi": "hapi",
    "restify": "restify", "@adonisjs/core": "adonisjs", "@feathersjs/feathers": "feathers",
}
_SERVICE_DEPS = {
    "pg": "postgres", "postgres": "postgres", "pg-promise": "postgres", "@neondatabase/serverless": "postgres",
    "mysql": "mysql", "mysql2": "mysql", "mariadb": "mysql", "mongodb": "mongodb", "mongoose": "mongodb",
    "redis": "redis", "ioredis": "redis", "@redis/client": "redis", "bullmq": "redis", "bull": "redis",
    "amqplib": "rabbitmq", "amqp-connection-manager": "rabbitmq", "kafkajs": "kafka",
    "@elastic/elasticsearch": "elasticsearch", "@opensearch-project/opensearch": "elasticsearch",
    "memjs": "memcached", "nats": "nats",
}
# Dependencies that say the folder's front-end build feeds a server of another ecosystem.
_BACKEND_PLUGINS = (
    "laravel-vite-plugin", "@symfony/webpack-encore", "vite-plugin-ruby", "@rails/webpacker",
    "@rails/ujs", "django-vite", "@vitejs/plugin-laravel",
)
_BACKEND_FILES = (
    "manage.py", "composer.json", "artisan", "Gemfile", "go.mod", "pom.xml", "build.gradle",
    "build.gradle.kts", "Cargo.toml", "mix.exs", "requirements.txt", "pyproject.toml", "Pipfile",
)
_BUNDLERS = ("webpack", "vite", "esbuild", "rollup", "parcel", "tailwindcss", "sass", "postcss", "gulp", "laravel-mix")
_TEST_PLACEHOLDER = re.compile(r"no test specified")
_DEV_RUNNERS = re.compile(r"^(?:nodemon|ts-node-dev|node-dev|tsx\s+watch|next\s+dev|vite(?:\s|$)|nest\s+start)")
_ENTRY_NAMES = ("server", "main", "index", "app", "api")
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

    def ev(self, repo: Repo, key: str, default: bool = False) -> Evidence:
        """Evidence for a "key": line in package.json (a dependency or a script)."""
        return repo.evidence(self.rel, re.compile(rf'"{re.escape(key)}"\s*:'), default=default)

    def run(self, script: str) -> str:
        if script in ("start", "test") and self.manager != "bun":
            return f"{self.manager} {script}"
        return {"npm": f"npm run {script}", "yarn": f"yarn {script}"}.get(self.manager, f"{self.manager} run {script}")

    def exec(self, command: str) -> str:
        return {"npm": "npx", "yarn": "yarn", "pnpm": "pnpm exec", "bun": "bunx"}[self.manager] + f" {command}"


def detect(repo: Repo, directory: str) -> Detection | None:
    pkg = _read(repo, directory)
    if pkg is None:
        return None
    facts = Facts()
    _package_manager(repo, pkg, facts)
    _node_version(repo, pkg, facts)
    sources = common.source_files(repo, directory, _SOURCE_EXTS, _ENTRY_NAMES, limit=40)
    strength, kind = _framework(repo, pkg, sources, facts)
    if "test" in pkg.scripts and not _TEST_PLACEHOLDER.search(pkg.scripts["test"]):
        facts.set("test_command", pkg.run("test"), pkg.ev(repo, "test"))
    if "lint" in pkg.scripts:
        facts.set("lint_command", pkg.run("lint"), pkg.ev(repo, "lint"))
    if kind != "static":
        _services(repo, pkg, facts)
        _migrations(repo, pkg, facts)
    return Detection(components=(facts.component(directory, kind, "node"),), strength=strength)


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
    declared = pkg.data.get("packageManager")
    names = set(common.names_in(repo, pkg.directory))
    if isinstance(declared, str) and declared.split("@")[0] in ("npm", "yarn", "pnpm", "bun"):
        pkg.manager = declared.split("@")[0]
        facts.set("package_manager", pkg.manager, pkg.ev(repo, "packageManager"))
    else:
        lock = common.find_upwards(repo, pkg.directory, [name for name, _ in _LOCKS])
        if lock is not None:
            pkg.manager = dict(_LOCKS)[lock.rsplit("/", 1)[-1]]
            facts.set("package_manager", pkg.manager, common.file_evidence(lock))
        else:
            facts.set("package_manager", "npm", common.file_evidence(pkg.rel, default=True))
    if pkg.manager == "yarn":
        berry = ".yarnrc.yml" in names or re.match(r"yarn@[2-9]", str(declared or "")) is not None
        if berry:  # Yarn 2+ ("berry"): the evidence says so for the renderers' install flags
            facts.evidence["package_manager"].append(
                common.file_evidence(join(pkg.directory, ".yarnrc.yml"))
                if ".yarnrc.yml" in names else pkg.ev(repo, "packageManager")
            )
    lock_names = [name for name, manager in _LOCKS if manager == pkg.manager and name in names]
    extra = [name for name in (".npmrc", ".yarnrc.yml", "pnpm-workspace.yaml") if name in names]
    facts.set("dependency_files", ["package.json", *lock_names[:1], *extra])


def _node_version(repo: Repo, pkg: _Package, facts: Facts) -> None:
    for name in (".nvmrc", ".node-version"):
        rel = common.find_upwards(repo, pkg.directory, (name,))
        text = (repo.read_text(rel) or "").strip() if rel else ""
        if rel and common.major_version(text.split("\n")[0]):
            facts.set("language_version", common.major_version(text.split("\n")[0]), repo.evidence(rel, text[:20]))
            return
    volta = pkg.data.get("volta")
    if isinstance(volta, dict) and isinstance(volta.get("node"), str) and common.major_version(volta["node"]):
        facts.set("language_version", common.major_version(volta["node"]), pkg.ev(repo, "node"))
        return
    tools = common.find_upwards(repo, pkg.directory, (".tool-versions",))
    match = re.search(r"^node(?:js)?\s+(\S+)", repo.read_text(tools) or "", re.M) if tools else None
    if tools and match and common.major_version(match.group(1)):
        facts.set("language_version", common.major_version(match.group(1)), repo.evidence(tools, match.group(0)))
        return
    engines = pkg.data.get("engines")
    spec = engines.get("node") if isinstance(engines, dict) else None
    if isinstance(spec, str) and common.major_version(spec):
        facts.set("language_version", common.major_version(spec), pkg.ev(repo, "node"))


# -- frameworks -------------------------------------------------------------------------------


def _framework(repo: Repo, pkg: _Package, sources: list[str], facts: Facts) -> tuple[Strength, ComponentKind]:
    if _is_workspace_root(repo, pkg):
        return Strength.TOOLING, "web"
    if "next" in pkg.deps:
        return _next(repo, pkg, facts)
    if "nuxt" in pkg.deps:
        facts.set("framework", "nuxt", pkg.ev(repo, "nuxt"))
        _build(repo, pkg, facts, ".output")
        facts.set("start_command", "node .output/server/index.mjs", pkg.ev(repo, "nuxt"))
        _server_port(repo, pkg, sources, facts)
        return Strength.APP, "web"
    if "@nestjs/core" in pkg.deps:
        return _nest(repo, pkg, sources, facts)
    server = next((name for name in _SERVERS if name in pkg.runtime_deps), None)
    if server is not None:
        facts.set("framework", _SERVERS[server], pkg.ev(repo, server))
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
    if any(name in pkg.deps for name in _BUNDLERS) and _script(pkg, "build"):
        _build(repo, pkg, facts, None)
        return Strength.ASSETS, "static"
    return Strength.TOOLING, "web"


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


def _build(repo: Repo, pkg: _Package, facts: Facts, output: str | None, output_evidence: Evidence | None = None) -> None:
    if _script(pkg, "build"):
        facts.set("build_command", pkg.run("build"), pkg.ev(repo, "build"))
        if output is not None:
            facts.set("build_output", output, output_evidence or pkg.ev(repo, "build"))


def _next(repo: Repo, pkg: _Package, facts: Facts) -> tuple[Strength, ComponentKind]:
    facts.set("framework", "next", pkg.ev(repo, "next"))
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
            facts.set("start_command", pkg.run("start"), pkg.ev(repo, "start"))
        else:
            facts.set("start_command", pkg.exec("next start"), pkg.ev(repo, "next", default=True))
    found = common.port_from_command(pkg.scripts.get("start", ""))
    if found:
        facts.set("port", found, pkg.ev(repo, "start"))
    else:
        facts.set("port", 3000, pkg.ev(repo, "next", default=True))
    _health_routes_from_files(repo, pkg, facts)
    return Strength.APP, "web"


def _nest(repo: Repo, pkg: _Package, sources: list[str], facts: Facts) -> tuple[Strength, ComponentKind]:
    facts.set("framework", "nestjs", pkg.ev(repo, "@nestjs/core"))
    _build(repo, pkg, facts, "dist")
    prod = pkg.scripts.get("start:prod", "")
    if prod.startswith("node "):
        facts.set("start_command", prod, pkg.ev(repo, "start:prod"))
    else:
        facts.set("start_command", "node dist/main.js", pkg.ev(repo, "@nestjs/core", default=True))
    _server_port(repo, pkg, sources, facts)
    _health(repo, pkg, sources, facts)
    return Strength.APP, "web"


def _spa(repo: Repo, pkg: _Package, facts: Facts) -> Strength | None:
    """A single-page app or static-site generator: built files, served by a web server."""
    d = pkg.directory
    if "react-scripts" in pkg.deps:
        facts.set("framework", "create-react-app", pkg.ev(repo, "react-scripts"))
        _build(repo, pkg, facts, "build")
    elif "@angular/core" in pkg.deps:
        facts.set("framework", "angular", pkg.ev(repo, "@angular/core"))
        angular = join(d, "angular.json")
        found = common.first(repo, [angular], re.compile(r'"outputPath"\s*:\s*"([^"]+)"'))
        modern = "@angular-devkit/build-angular:application" in (repo.read_text(angular) or "")
        output = (found[1].group(1) + ("/browser" if modern else "")) if found else None
        _build(repo, pkg, facts, output, found[2] if found else None)
    elif "gatsby" in pkg.deps:
        facts.set("framework", "gatsby", pkg.ev(repo, "gatsby"))
        _build(repo, pkg, facts, "public")
    elif "astro" in pkg.deps:
        facts.set("framework", "astro", pkg.ev(repo, "astro"))
        _build(repo, pkg, facts, "dist")
    elif "vite" in pkg.deps:
        ui = next((n for n in ("react", "vue", "svelte", "solid-js", "preact", "lit") if n in pkg.deps), None)
        facts.set("framework", "vite", pkg.ev(repo, "vite"))
        configs = [join(d, f"vite.config.{ext}") for ext in ("ts", "js", "mjs", "mts", "cjs")]
        found = common.first(repo, configs, re.compile(r"""outDir\s*:\s*["']([^"']+)["']"""))
        _build(repo, pkg, facts, found[1].group(1) if found else "dist", found[2] if found else None)
        if ui is not None:
            facts.evidence["framework"].append(pkg.ev(repo, ui))
    else:
        return None
    names = set(common.names_in(repo, d))
    if any(name in pkg.deps for name in _BACKEND_PLUGINS) or names & set(_BACKEND_FILES):
        return Strength.ASSETS
    return Strength.APP


# -- servers: start, port, health ------------------------------------------------------------


def _server_start(repo: Repo, pkg: _Package, sources: list[str], facts: Facts) -> bool:
    """Prefer a production `node …` script, then the compiled output of a build, then the
    start script, then the `main` file or a conventional server file."""
    for name in ("start:prod", "start:production", "serve", "start"):
        script = pkg.scripts.get(name, "").strip()
        if re.match(r"^node\s+\S", script) and "&&" not in script:
            facts.set("start_command", script, pkg.ev(repo, name))
            _build(repo, pkg, facts, None)
            return True
    start = pkg.scripts.get("start", "").strip()
    main = pkg.data.get("main") if isinstance(pkg.data.get("main"), str) else None
    typescript = "typescript" in pkg.deps and _script(pkg, "build")
    if typescript and (not start or _DEV_RUNNERS.match(start) or re.match(r"^(ts-node|tsx)\s", start)):
        out_dir = _ts_out_dir(repo, pkg.directory)
        entry = main or f"{out_dir[0]}/{_compiled_entry(sources, pkg.directory)}"
        facts.set("start_command", f"node {entry}", out_dir[1])
        _build(repo, pkg, facts, out_dir[0], out_dir[1])
        return True
    if start and not _DEV_RUNNERS.match(start):
        facts.set("start_command", pkg.run("start"), pkg.ev(repo, "start"))
        _build(repo, pkg, facts, None)
        return True
    names = common.names_in(repo, pkg.directory)
    if main and main.removeprefix("./") in names:
        facts.set("start_command", f"node {main.removeprefix('./')}", pkg.ev(repo, "main"))
        return True
    for name in ("server.js", "server.mjs", "app.js", "index.js", "main.js"):
        if name in names and re.search(r"\.listen\(", repo.read_text(join(pkg.directory, name)) or ""):
            facts.set("start_command", f"node {name}", repo.evidence(join(pkg.directory, name), ".listen("))
            return True
    return False


def _ts_out_dir(repo: Repo, directory: str) -> tuple[str, Evidence]:
    tsconfig = join(directory, "tsconfig.json")
    found = common.first(repo, [tsconfig], re.compile(r'"outDir"\s*:\s*"(?:\./)?([^"]+?)/?"'))
    if found:
        return found[1].group(1), found[2]
    return "dist", common.file_evidence(tsconfig if repo.exists(tsconfig) else join(directory, "package.json"), True)


def _compiled_entry(sources: list[str], directory: str) -> str:
    """"index.js" for src/index.ts (tsc keeps the path below rootDir, usually src/)."""
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
    found = common.port_from_command(facts.get("start_command") or "")
    if found:
        facts.set("port", found, *facts.evidence["start_command"])
        return
    match = common.first(repo, sources[:20], _PORT_PATTERNS)
    if match:
        port = next(int(group) for group in match[1].groups() if group)
        facts.set("port", port, match[2])
    elif default:
        evidence = facts.evidence.get("framework") or [common.file_evidence(pkg.rel)]
        facts.set("port", 3000, *[Evidence(e.file, e.line, e.text, default=True) for e in evidence])


_ROUTE = re.compile(
    rf"""\.(?:get|all|head|route)\(\s*["'`]({common.HEALTH_PATH_RE})["'`]"""
    rf"""|\bpath\s*:\s*["'`]({common.HEALTH_PATH_RE})["'`]"""
)
_NEST_CONTROLLER = re.compile(r"""@Controller\(\s*(?:["'`]([\w/-]*)["'`])?\s*\)""")
_NEST_GET = re.compile(r"""@Get\(\s*(?:["'`]([\w/-]*)["'`])?\s*\)""")


def _health(repo: Repo, pkg: _Package, sources: list[str], facts: Facts) -> None:
    found = [(m.group(1) or m.group(2), ev) for _, m, ev in common.search(repo, sources, _ROUTE)]
    controllers = [rel for rel in common.files_under(repo, pkg.directory) if rel.endswith(".controller.ts")]
    for rel in controllers[:40]:
        text = repo.read_text(rel) or ""
        controller = _NEST_CONTROLLER.search(text)
        if controller is None:
            continue
        for get in _NEST_GET.finditer(text):
            path = "/" + "/".join(p.strip("/") for p in (controller.group(1), get.group(1)) if p and p.strip("/"))
            if re.fullmatch(common.HEALTH_PATH_RE, path):
                found.append((path, common.evidence_at(rel, text, get.start())))
    prefix = common.first(repo, sources[:10], re.compile(r"""setGlobalPrefix\(\s*["'`]([\w/-]+)["'`]"""))
    best = common.best_health(found)
    if best:
        path, evidence = best
        if prefix is not None and evidence.file.endswith(".controller.ts"):
            path = "/" + prefix[1].group(1).strip("/") + path
        facts.set("health_path", path, evidence)


def _health_routes_from_files(repo: Repo, pkg: _Package, facts: Facts) -> None:
    """Next.js route handlers: app/health/route.ts → /health, pages/api/ping.ts → /api/ping."""
    route = re.compile(rf"^(?:src/)?(?:app((?:/[\w-]+)*?)(/(?:healthz?|livez|readyz|ping|up|status))/route"
                       rf"|pages((?:/[\w-]+)*?)(/(?:healthz?|livez|readyz|ping|up|status))(?:/index)?)\.[jt]sx?$")
    found = []
    for rel in common.files_under(repo, pkg.directory):
        match = route.match(common.relative(pkg.directory, rel))
        if match:
            path = "".join(g for g in match.groups() if g)
            if "(" not in path:
                found.append((path, common.file_evidence(rel)))
    best = common.best_health(found)
    if best:
        facts.set("health_path", best[0], best[1])


# -- services and migrations -------------------------------------------------------------------


def _services(repo: Repo, pkg: _Package, facts: Facts) -> None:
    for name in sorted(pkg.deps):
        if name in _SERVICE_DEPS:
            facts.add_service(_SERVICE_DEPS[name], pkg.ev(repo, name))
    schema = _prisma_schema(repo, pkg)
    if schema:
        provider = re.compile(r"""^\s*provider\s*=\s*["'](postgresql|postgres|cockroachdb|mysql|mongodb)["']""", re.M)
        found = common.first(repo, [schema], provider)
        if found:
            kind = found[1].group(1)
            facts.add_service({"mysql": "mysql", "mongodb": "mongodb"}.get(kind, "postgres"), found[2])


def _prisma_schema(repo: Repo, pkg: _Package) -> str | None:
    if "prisma" not in pkg.deps and "@prisma/client" not in pkg.deps:
        return None
    prisma = pkg.data.get("prisma")
    declared = prisma.get("schema") if isinstance(prisma, dict) else None
    for rel in (declared, "prisma/schema.prisma", "schema.prisma"):
        if isinstance(rel, str) and repo.exists(join(pkg.directory, rel)):
            return join(pkg.directory, rel)
    return None


_MIGRATE_SCRIPTS = ("migrate:deploy", "db:migrate:deploy", "migrate:prod", "migration:run", "migrations:run",
                    "db:migrate", "migrate")


def _migrations(repo: Repo, pkg: _Package, facts: Facts) -> None:
    d = pkg.directory
    names = set(common.names_in(repo, d))
    schema = _prisma_schema(repo, pkg)
    knexfile = next((n for n in names if re.fullmatch(r"knexfile\.[cm]?[jt]s", n)), None)
    drizzle = next((n for n in names if re.fullmatch(r"drizzle\.config\.[cm]?[jt]s", n)), None)
    if schema:
        facts.set("migration_tool", "prisma", common.file_evidence(schema))
        facts.set("migrate_command", pkg.exec("prisma migrate deploy"), common.file_evidence(schema))
        return
    for name in _MIGRATE_SCRIPTS:
        script = pkg.scripts.get(name, "")
        if script and not re.search(r"\b(dev|make|create|generate|rollback|revert)\b", script):
            tool = next((t for t in ("typeorm", "knex", "sequelize", "drizzle-kit", "node-pg-migrate", "umzug")
                         if t in script), None)
            facts.set("migration_tool", tool or "script", pkg.ev(repo, name))
            facts.set("migrate_command", pkg.run(name), pkg.ev(repo, name))
            return
    if knexfile and "knex" in pkg.deps:
        evidence = common.file_evidence(join(d, knexfile))
        facts.set("migration_tool", "knex", evidence)
        facts.set("migrate_command", pkg.exec("knex migrate:latest"), evidence)
    elif ".sequelizerc" in names or "sequelize-cli" in pkg.deps:
        evidence = (common.file_evidence(join(d, ".sequelizerc")) if ".sequelizerc" in names
                    else pkg.ev(repo, "sequelize-cli"))
        facts.set("migration_tool", "sequelize", evidence)
        facts.set("migrate_command", pkg.exec("sequelize-cli db:migrate"), evidence)
    elif drizzle and "drizzle-kit" in pkg.deps:
        evidence = common.file_evidence(join(d, drizzle))
        facts.set("migration_tool", "drizzle", evidence)
        facts.set("migrate_command", pkg.exec("drizzle-kit migrate"), evidence)

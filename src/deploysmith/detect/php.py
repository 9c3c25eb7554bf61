"""PHP (composer.json): Laravel, Symfony, and other apps with a public/index.php front
controller; Laravel queue workers; Vite assets built into the same image.

Conventions:
- start_command "apache2-foreground", port 8080 (both marked default): Apache with mod_php
  from the official php:<version>-apache image, serving public/ on an unprivileged port,
  which is the PHP runtime plan/images.py builds. `php artisan serve` is PHP's
  single-threaded development server, and php-fpm speaks FastCGI, not HTTP, so it would
  need a second web server process in front of it.
- language_version: config.platform.php, else the lowest version require.php allows (major.minor).
- Services from .env.example (DB_CONNECTION, *_CONNECTION/DRIVER/STORE=redis, DATABASE_URL's
  scheme) and client packages. REDIS_HOST alone does not count: Laravel's skeleton always
  sets it. Evidence from .env files shows the key and scheme only, never the value.
- Laravel queue worker ("php artisan queue:work", or "php artisan horizon" with Horizon)
  when the queue is not sync and the app queues work (app/Jobs, ShouldQueue), or when a
  composer script or Procfile already runs one. QUEUE_CONNECTION alone does not count:
  Laravel 11's skeleton sets it to "database".
- Vite assets: build_command "<npm ci|pnpm …|yarn …> && … run build", output public/build;
  the app stays the component (the node plugin reports the same folder as ASSETS).
"""

from __future__ import annotations

import re
from typing import Any

from deploysmith.detect import _support, common
from deploysmith.detect.base import Detection, Strength
from deploysmith.detect.common import Facts
from deploysmith.model import Component, Evidence
from deploysmith.repo import Repo, join

MARKERS: tuple[str, ...] = ("composer.json",)

START = "apache2-foreground"
PACKAGE_SERVICES = {
    "predis/predis": "redis", "ext-redis": "redis", "mongodb/laravel-mongodb": "mongodb",
    "mongodb/mongodb": "mongodb", "ext-mongodb": "mongodb", "php-amqplib/php-amqplib": "rabbitmq",
    "vladimir-yuldashev/laravel-queue-rabbitmq": "rabbitmq", "mateusjunges/laravel-kafka": "kafka",
    "ext-rdkafka": "kafka",
}
DB_CONNECTIONS = {
    "pgsql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlsrv": "sqlserver", "mongodb": "mongodb",
}
URL_SCHEMES = {"postgresql": "postgres", "postgres": "postgres", "pgsql": "postgres", "mysql": "mysql",
               "mariadb": "mysql", "sqlsrv": "sqlserver", "redis": "redis", "amqp": "rabbitmq"}
ENV_LINE = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*[\"']?([^\"'#\s]*)")
REDIS_SETTINGS = ("QUEUE_CONNECTION", "CACHE_STORE", "CACHE_DRIVER", "SESSION_DRIVER",
                  "BROADCAST_CONNECTION", "BROADCAST_DRIVER")
LINTERS = (  # package, command
    ("laravel/pint", "vendor/bin/pint --test"),
    ("friendsofphp/php-cs-fixer", "vendor/bin/php-cs-fixer fix --dry-run --diff"),
    ("phpstan/phpstan", "vendor/bin/phpstan analyse"),
    ("larastan/larastan", "vendor/bin/phpstan analyse"),
    ("nunomaduro/larastan", "vendor/bin/phpstan analyse"),
)
HEALTH_SETTING = re.compile(r"""\bhealth\s*:\s*['"]([^'"]+)['"]""")
HEALTH_NAME = rf"{common.HEALTH_PATH_RE}|(?:healthz?|up|ping|status)"
ROUTE = re.compile(rf"""(?:Route::(?:get|any|match)|#\[Route)\(\s*['"]({HEALTH_NAME})['"]""")
QUEUED = re.compile(r"\bimplements\b.*\bShouldQueue\b")


def detect(repo: Repo, directory: str) -> Detection | None:
    path = join(directory, "composer.json")
    data = repo.load_json(path)
    if data is None:
        return None
    if not isinstance(data, dict):
        repo.warnings.append(f"{path}: not a JSON object; ignored")
        return None
    required = _table(data, "require")
    packages = {**_table(data, "require-dev"), **required}
    facts = Facts()
    facts.set("package_manager", "composer", common.file_evidence(path))
    _version(repo, path, data, facts)
    env = _env(repo, directory)
    _services(repo, path, packages, env, facts)
    index = join(directory, "public/index.php")
    # Packages for these frameworks require them too; an app also has its entry point.
    laravel = "laravel/framework" in required and repo.exists(join(directory, "artisan"))
    symfony = "symfony/framework-bundle" in required and repo.exists(index)
    _tests(repo, directory, path, data, packages, laravel, facts)
    _lint(repo, path, packages, facts)
    files = ["composer.json", "composer.lock", *_composer_reads(repo, directory, path, data)]
    if laravel or symfony or repo.exists(index):
        framework = "laravel" if laravel else "symfony" if symfony else None
        package = "laravel/framework" if laravel else "symfony/framework-bundle"
        evidence = _line(repo, path, package) if framework else common.file_evidence(index)
        facts.set("framework", framework, evidence)
        facts.evidence["kind"] = [evidence]
        front = common.file_evidence(index if repo.exists(index) else path)
        facts.set("start_command", START, _support.explained(front, "Apache + mod_php serves public/", True))
        facts.set("port", 8080, _support.explained(front, "the unprivileged port Apache listens on", True))
        _health(repo, directory, laravel, facts)
        _migrations(repo, directory, path, packages, laravel, symfony, facts)
        files += _assets(repo, directory, facts)
    present = [f for f in files if repo.exists(join(directory, f))]
    facts.set("dependency_files", present, common.file_evidence(path))
    if not facts.get("start_command"):
        return Detection((facts.component(directory, "worker", "php"),), Strength.TOOLING)
    components = [facts.component(directory, "web", "php")]
    if laravel:
        components += _queue_worker(repo, directory, path, packages, env, facts)
    return Detection(tuple(components), Strength.APP if facts.get("framework") else Strength.RUNNABLE)


def _composer_reads(repo: Repo, directory: str, path: str, data: dict[str, Any]) -> list[str]:
    """Files `composer install` reads besides composer.json and its lock: patches that
    cweagans/composer-patches applies. auth.json (credentials) is never one of them; path
    repositories are reported: the install runs before the source is copied."""
    if repo.exists(join(directory, "auth.json")):
        warning = common.credential_warning(join(directory, "auth.json"), "Composer credentials")
        common.build_warning(repo, directory, warning)
    repositories = data.get("repositories")
    if isinstance(repositories, dict):
        repositories = list(repositories.values())
    for entry in repositories if isinstance(repositories, list) else []:
        if isinstance(entry, dict) and entry.get("type") in ("path", "artifact"):
            common.build_warning(
                repo, directory,
                f"{path}: a {entry.get('type')} repository ({entry.get('url')}) is installed from the "
                "repository's own files; the image's `composer install` runs before the source is copied, "
                "so it cannot find them there"
            )
    extra = data.get("extra")
    extra = extra if isinstance(extra, dict) else {}
    files = [extra["patches-file"]] if isinstance(extra.get("patches-file"), str) else []
    patches = extra.get("patches")
    for table in patches.values() if isinstance(patches, dict) else []:
        for patch in table.values() if isinstance(table, dict) else []:
            if isinstance(patch, str) and "://" not in patch:
                files.append(patch)
    return [f for f in files if not f.startswith(("/", "../"))]


def _table(data: dict[str, Any], key: str) -> dict[str, str]:
    table = data.get(key)
    return {str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {}


def _line(repo: Repo, path: str, key: str) -> Evidence:
    return repo.evidence(path, re.compile(rf'"{re.escape(key)}"\s*:'))


def _version(repo: Repo, path: str, data: dict[str, Any], facts: Facts) -> None:
    platform = (data.get("config") or {}).get("platform") if isinstance(data.get("config"), dict) else None
    pinned = platform.get("php") if isinstance(platform, dict) else None
    if isinstance(pinned, str) and common.minor_version(pinned):
        line = repo.evidence(path, re.compile(rf'"php"\s*:\s*"{re.escape(pinned)}"'))
        facts.set("language_version", common.minor_version(pinned), line)
        return
    constraint = _table(data, "require").get("php")
    if constraint:
        lowest = min((common.minor_version(part) or "" for part in re.split(r"\|\|?", constraint)),
                     key=lambda v: tuple(int(x) for x in v.split(".")) if v else (99,))
        facts.set("language_version", lowest or None, _line(repo, path, "php"))


def _env(repo: Repo, directory: str) -> dict[str, tuple[str, Evidence]]:
    """Settings of .env.example (name -> value, evidence showing the name only)."""
    found: dict[str, tuple[str, Evidence]] = {}
    for rel in (join(directory, ".env.example"), join(directory, ".env.dist")):
        for _, match, evidence in _support.search(repo, [rel], ENV_LINE):
            name, value = match.group(1), match.group(2)
            shown = f"{name}={value}" if "://" not in value else f"{name}={value.split('://')[0]}://…"
            found.setdefault(name, (value, Evidence(evidence.file, evidence.line, shown)))
    return found


def _services(repo: Repo, path: str, packages: dict[str, str], env: dict[str, tuple[str, Evidence]],
              facts: Facts) -> None:
    connection = env.get("DB_CONNECTION")
    if connection and connection[0] in DB_CONNECTIONS:
        facts.add_service(DB_CONNECTIONS[connection[0]], connection[1])
    url = env.get("DATABASE_URL")
    if url and url[0].split("://")[0] in URL_SCHEMES:
        facts.add_service(URL_SCHEMES[url[0].split("://")[0]], url[1])
    for name, (value, evidence) in env.items():
        if name in REDIS_SETTINGS and value == "redis":
            facts.add_service("redis", evidence)
        elif name == "QUEUE_CONNECTION" and value == "rabbitmq":
            facts.add_service("rabbitmq", evidence)
    for package, service in PACKAGE_SERVICES.items():
        if package in packages:
            facts.add_service(service, _line(repo, path, package))


def _tests(repo: Repo, directory: str, path: str, data: dict[str, Any], packages: dict[str, str],
           laravel: bool, facts: Facts) -> None:
    scripts = data.get("scripts") if isinstance(data.get("scripts"), dict) else {}
    if "test" in (scripts or {}):
        facts.set("test_command", "composer test", _line(repo, path, "test"))
        return
    config = next((join(directory, n) for n in ("phpunit.xml", "phpunit.xml.dist", "phpunit.dist.xml")
                   if repo.exists(join(directory, n))), None)
    tests = config or next(common.files_under(repo, join(directory, "tests")), None)
    if tests is None:
        return
    if laravel:
        facts.set("test_command", "php artisan test", common.file_evidence(tests))
    elif "pestphp/pest" in packages:
        facts.set("test_command", "vendor/bin/pest", _line(repo, path, "pestphp/pest"))
    elif "phpunit/phpunit" in packages:
        facts.set("test_command", "vendor/bin/phpunit", _line(repo, path, "phpunit/phpunit"))


def _lint(repo: Repo, path: str, packages: dict[str, str], facts: Facts) -> None:
    commands: list[str] = []
    evidence: list[Evidence] = []
    for package, command in LINTERS:
        if package in packages and command not in commands:
            commands.append(command)
            evidence.append(_line(repo, path, package))
    if commands:
        facts.set("lint_command", " && ".join(commands), *evidence)


def _health(repo: Repo, directory: str, laravel: bool, facts: Facts) -> None:
    if laravel:
        setting = _support.first(repo, [join(directory, "bootstrap/app.php")], HEALTH_SETTING)
        if setting is not None:
            facts.set("health_path", setting[1].group(1), setting[2])
            return
    routes = [join(directory, n) for n in ("routes/web.php", "routes/api.php")]
    routes += common.source_files(repo, join(directory, "src/Controller"), (".php",), (), 60, 3)
    found = []
    for rel, match, evidence in _support.search(repo, routes, ROUTE):
        prefix = "/api" if laravel and rel.endswith("routes/api.php") else ""
        found.append((prefix + "/" + match.group(1).strip("/"), evidence))
    best = common.best_health(found)
    if best is not None:
        facts.set("health_path", best[0], best[1])


def _migrations(repo: Repo, directory: str, path: str, packages: dict[str, str], laravel: bool,
                symfony: bool, facts: Facts) -> None:
    if laravel:
        migration = next(common.files_under(repo, join(directory, "database/migrations")), None)
        if migration is not None:
            facts.set("migration_tool", "laravel", common.file_evidence(migration))
            facts.set("migrate_command", "php artisan migrate --force", common.file_evidence(migration))
    elif symfony and "doctrine/doctrine-migrations-bundle" in packages:
        evidence = _line(repo, path, "doctrine/doctrine-migrations-bundle")
        facts.set("migration_tool", "doctrine-migrations", evidence)
        facts.set("migrate_command", "php bin/console doctrine:migrations:migrate --no-interaction", evidence)


def _assets(repo: Repo, directory: str, facts: Facts) -> list[str]:
    """Vite assets built in the app's image; returns the node files to copy before the source."""
    package = join(directory, "package.json")
    data = repo.load_json(package) if repo.exists(package) else None
    if not isinstance(data, dict):
        return []
    deps = {**(data.get("dependencies") or {}), **(data.get("devDependencies") or {})}
    vite = next((name for name in ("laravel-vite-plugin", "vite") if name in deps), None)
    scripts = data.get("scripts") or {}
    if vite is None or not isinstance(scripts, dict) or "build" not in scripts:
        return []
    locks = (("pnpm-lock.yaml", "pnpm install --frozen-lockfile && pnpm run build"),
             ("yarn.lock", "yarn install --frozen-lockfile && yarn build"),
             ("bun.lockb", "bun install --frozen-lockfile && bun run build"),
             ("bun.lock", "bun install --frozen-lockfile && bun run build"),
             ("package-lock.json", "npm ci && npm run build"))
    found = ((n, c) for n, c in locks if repo.exists(join(directory, n)))
    lock, command = next(found, ("", "npm install && npm run build"))
    evidence = repo.evidence(package, re.compile(rf'"{re.escape(vite)}"\s*:'))
    facts.set("build_command", command, evidence)
    facts.set("build_output", "public/build", evidence)
    return ["package.json"] + ([lock] if lock else [])


def _queue_worker(repo: Repo, directory: str, path: str, packages: dict[str, str],
                  env: dict[str, tuple[str, Evidence]], facts: Facts) -> list[Component]:
    horizon = "laravel/horizon" in packages
    command = "php artisan horizon" if horizon else "php artisan queue:work"
    reason = _line(repo, path, "laravel/horizon") if horizon else _queue_evidence(repo, directory, path, env)
    if reason is None:
        return []
    worker = _support.clone(facts)
    for key in ("port", "health_path", "migrate_command", "migration_tool", "test_command", "lint_command"):
        worker.values.pop(key, None)
        worker.evidence.pop(key, None)
    worker.set("start_command", command, reason)
    worker.evidence["kind"] = [reason]
    return [worker.component(directory, "worker", "php", name="-worker")]


def _queue_evidence(repo: Repo, directory: str, path: str,
                    env: dict[str, tuple[str, Evidence]]) -> Evidence | None:
    """Why the app needs a queue worker, or None."""
    runs = _support.first(repo, [path, join(directory, "Procfile")], re.compile(r"queue:work"))
    if runs is not None:
        return runs[2]
    queue = env.get("QUEUE_CONNECTION")
    if queue is None or queue[0] in ("", "sync", "null"):
        return None
    sources = common.source_files(repo, join(directory, "app"), (".php",), (), 100, 5)
    job = next((f for f in sources if f.startswith(join(directory, "app/Jobs/"))), None)
    queued = _support.first(repo, sources, QUEUED)
    if job is not None:
        return _support.explained(queue[1], f" (queued jobs in {job})")
    if queued is not None:
        return _support.explained(queue[1], f" (ShouldQueue in {queued[2].file})")
    return None

"""compose.yaml at the repository root, for local development.

One service per workload, built from its image's Dockerfile (the stage each language's
dev setup names), the backing services each component declares on pinned official images
with healthchecks, `depends_on` that waits for them to be healthy, migrations as a one-off
service that must succeed before the app starts, and hot reload where the framework has
one (a bind mount plus the server's reload flag, or compose watch syncing into a dev
stage). Every credential in it is a throwaway for local use.
"""

from __future__ import annotations

import posixpath
import shlex
import textwrap
from dataclasses import dataclass, field
from typing import Any

from deploysmith.model import Plan, RenderedFile, Workload
from deploysmith.plan import SERVICE_ENV
from deploysmith.plan.images import BASE_IMAGES_CHECKED
from deploysmith.render import yamlout
from deploysmith.render.common import header
from deploysmith.render.dockerfile import builder, image_contexts
from deploysmith.render.dockerfiles.base import DevSetup, ImageContext, parse_start

PATH = "compose.yaml"
USER = PASSWORD = DATABASE = "app"  # local-only credentials, the same for every service


@dataclass(frozen=True)
class Backing:
    """A backing service on its official image (tags checked BASE_IMAGES_CHECKED)."""

    image: str
    url: str  # what the app's env var points at
    healthcheck: tuple[str, ...]
    data: str  # where the named volume is mounted
    environment: dict[str, str] = field(default_factory=dict)


BACKING: dict[str, Backing] = {
    "postgres": Backing(
        "postgres:18-trixie", f"postgresql://{USER}:{PASSWORD}@postgres:5432/{DATABASE}",
        ("CMD", "pg_isready", "-U", USER, "-d", DATABASE),
        # PostgreSQL 18 images keep PGDATA in a versioned directory under /var/lib/postgresql.
        "/var/lib/postgresql",
        {"POSTGRES_USER": USER, "POSTGRES_PASSWORD": PASSWORD, "POSTGRES_DB": DATABASE},
    ),
    "redis": Backing(
        "redis:8.10-trixie", "redis://redis:6379/0", ("CMD", "redis-cli", "ping"), "/data",
    ),
    "mysql": Backing(
        "mysql:9.7-oraclelinux9", f"mysql://{USER}:{PASSWORD}@mysql:3306/{DATABASE}",
        ("CMD", "mysqladmin", "ping", "--host=127.0.0.1", f"--user={USER}", f"--password={PASSWORD}"),
        "/var/lib/mysql",
        {
            "MYSQL_DATABASE": DATABASE, "MYSQL_USER": USER, "MYSQL_PASSWORD": PASSWORD,
            "MYSQL_ROOT_PASSWORD": PASSWORD,
        },
    ),
    "mariadb": Backing(
        "mariadb:12.3-noble", f"mysql://{USER}:{PASSWORD}@mariadb:3306/{DATABASE}",
        ("CMD", "healthcheck.sh", "--connect", "--innodb_initialized"),
        "/var/lib/mysql",
        {
            "MARIADB_DATABASE": DATABASE, "MARIADB_USER": USER, "MARIADB_PASSWORD": PASSWORD,
            "MARIADB_ROOT_PASSWORD": PASSWORD,
        },
    ),
    "mongodb": Backing(
        "mongo:8.0-noble", f"mongodb://{USER}:{PASSWORD}@mongodb:27017/{DATABASE}?authSource=admin",
        ("CMD", "mongosh", "--quiet", "--eval", "db.adminCommand('ping').ok"),
        "/data/db",
        {"MONGO_INITDB_ROOT_USERNAME": USER, "MONGO_INITDB_ROOT_PASSWORD": PASSWORD},
    ),
    "rabbitmq": Backing(
        "rabbitmq:4.3-management-alpine", f"amqp://{USER}:{PASSWORD}@rabbitmq:5672/",
        ("CMD", "rabbitmq-diagnostics", "-q", "ping"),
        "/var/lib/rabbitmq",
        {"RABBITMQ_DEFAULT_USER": USER, "RABBITMQ_DEFAULT_PASS": PASSWORD},
    ),
}
# Framework secrets the app refuses to start without; throwaway values for local use.
LOCAL_SECRETS = {
    "SECRET_KEY": "local-development-only-not-a-secret",
    "SECRET_KEY_BASE": "local-development-only-not-a-secret-" + "0" * 64,
    # Laravel wants base64 of 32 bytes.
    "APP_KEY": "base64:ZGVwbG95c21pdGgtbG9jYWwtZGV2LW9ubHkta2V5ISE=",
}
# Where a framework reads a database address from besides DATABASE_URL.
SPRING_JDBC = {"postgres": "jdbc:postgresql://postgres:5432/app", "mysql": "jdbc:mysql://mysql:3306/app",
               "mariadb": "jdbc:mariadb://mariadb:3306/app"}
LARAVEL_DB = {"postgres": ("pgsql", "5432"), "mysql": ("mysql", "3306"), "mariadb": ("mariadb", "3306")}


def _note(value: Any, text: str) -> yamlout.Commented:
    """A value with a comment above it, wrapped to a readable width."""
    return yamlout.comment(value, "\n".join(textwrap.wrap(text, 92, break_on_hyphens=False)))


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return (RenderedFile(PATH, compose_text(plan)),)


def compose_text(plan: Plan) -> str:
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    notes: list[str] = []
    used_ports: set[int] = set()
    backing = _backing_services(plan, notes)

    for ctx in image_contexts(plan):
        setup = builder(ctx).dev(ctx)
        migrate = _migrate_name(plan, ctx.lead)
        for index, workload in enumerate(ctx.workloads):
            services[workload.component.name] = _app_service(
                ctx, workload, setup, index == 0, backing, used_ports, migrate
            )
        if migrate:
            services[migrate] = _migrate_service(ctx, ctx.lead, setup, backing, migrate)
    for name in backing:
        spec = BACKING[name]
        services[name] = _backing_service(name, spec)
        volumes[f"{name}-data"] = {}

    data: dict[str, Any] = {"name": plan.app_name, "services": services}
    if volumes:
        data["volumes"] = _note(
            volumes, "Named volumes keep the databases' data across `docker compose down` (add -v to wipe)."
        )
    return yamlout.dump(data, header=_header(notes))


def _header(notes: list[str]) -> str:
    lines = [
        header("local development with Docker Compose"),
        "",
        "Start: docker compose up --watch   (hot reload as described on each service)",
        "Stop:  docker compose down          (add -v to drop the databases' volumes)",
        "Every password and key here is a throwaway for this machine only; the deployed app",
        "gets its secrets from the environment's Secret, never from this file.",
        "Backing-service images are official images pinned to a version line "
        f"(tags checked {BASE_IMAGES_CHECKED}).",
    ]
    for note in notes:
        lines.extend(textwrap.wrap(f"NOTE: {note}", 96, break_on_hyphens=False))
    return "\n".join(lines)


def _backing_services(plan: Plan, notes: list[str]) -> tuple[str, ...]:
    wanted: dict[str, None] = {}
    for workload in plan.workloads:
        for service in workload.component.services:
            wanted.setdefault(service, None)
    known = tuple(sorted(name for name in wanted if name in BACKING))
    for name in sorted(name for name in wanted if name not in BACKING):
        notes.append(
            f"{name} is used by the app but has no verified image in deploysmith's table: add a "
            f"service for it and set {SERVICE_ENV.get(name, 'its address')} on the app services."
        )
    return known


def _backing_service(name: str, spec: Backing) -> yamlout.Commented:
    service: dict[str, Any] = {"image": spec.image}
    if spec.environment:
        service["environment"] = dict(spec.environment)
    service["healthcheck"] = _note(
        {
            "test": list(spec.healthcheck),
            "interval": "5s",
            "timeout": "5s",
            "retries": 10,
            "start_period": "10s",
        },
        "The app services wait for this check (depends_on: service_healthy), not just for the "
        "container to start.",
    )
    service["volumes"] = [f"{name}-data:{spec.data}"]
    return _note(
        service, f"{name}: reachable from the app services as host `{name}`; no port is published "
        "(add `ports` to reach it from the host)."
    )


def _services_used(ctx: ImageContext, workload: Workload, backing: tuple[str, ...]) -> tuple[str, ...]:
    """Backing services this workload talks to: its own, and those of the components built
    from the same image whose address it reads (a Celery worker loads the web's settings)."""
    component = workload.component
    return tuple(
        service for service in ctx.services
        if service in backing
        and (service in component.services or SERVICE_ENV.get(service) in workload.secret_env)
    )


def _environment(ctx: ImageContext, workload: Workload, backing: tuple[str, ...]) -> dict[str, str]:
    """Local values for what the deployed workload reads from its Secret (Workload.secret_env),
    plus the framework's own names for a database address."""
    services = _services_used(ctx, workload, backing)
    env: dict[str, str] = {}
    for service in services:
        name = SERVICE_ENV.get(service)
        if name:
            env.setdefault(name, BACKING[service].url)
    for name in workload.secret_env:
        if name in LOCAL_SECRETS:
            env.setdefault(name, LOCAL_SECRETS[name])
    framework = workload.component.framework
    if framework == "spring-boot":
        for service in services:
            if service in SPRING_JDBC:
                env.setdefault("SPRING_DATASOURCE_URL", SPRING_JDBC[service])
                env.setdefault("SPRING_DATASOURCE_USERNAME", USER)
                env.setdefault("SPRING_DATASOURCE_PASSWORD", PASSWORD)
            if service == "redis":
                env.setdefault("SPRING_DATA_REDIS_URL", BACKING["redis"].url)
    if framework == "laravel":
        for service in services:
            if service in LARAVEL_DB:
                driver, port = LARAVEL_DB[service]
                env.update({
                    "DB_CONNECTION": driver, "DB_HOST": service, "DB_PORT": port,
                    "DB_DATABASE": DATABASE, "DB_USERNAME": USER, "DB_PASSWORD": PASSWORD,
                    # The deployed Secret carries one DB_URL (Laravel 11 reads it first).
                    "DB_URL": f"{driver}://{USER}:{PASSWORD}@{service}:{port}/{DATABASE}",
                })
            if service == "redis":
                env.setdefault("REDIS_HOST", "redis")
    return dict(sorted(env.items()))


def _build(ctx: ImageContext, target: str) -> dict[str, Any]:
    image = ctx.image
    context = "." if image.context in ("", ".") else image.context
    dockerfile = posixpath.relpath(image.dockerfile, context)
    return {"context": context, "dockerfile": dockerfile, "target": target}


def _source(ctx: ImageContext) -> str:
    context = ctx.image.context
    return "." if context in ("", ".") else "./" + context


def _depends(
    ctx: ImageContext, workload: Workload, backing: tuple[str, ...], migrate: str | None
) -> dict[str, Any]:
    depends: dict[str, Any] = {
        service: {"condition": "service_healthy"} for service in _services_used(ctx, workload, backing)
    }
    if migrate:
        depends[migrate] = {"condition": "service_completed_successfully"}
    return depends


def _app_service(
    ctx: ImageContext,
    workload: Workload,
    setup: DevSetup,
    lead: bool,
    backing: tuple[str, ...],
    used_ports: set[int],
    migrate: str | None,
) -> dict[str, Any]:
    """One workload. The image's lead runs the dev setup; workers share its source mount."""
    component = workload.component
    worker = component.kind == "worker"
    target = setup.target if lead else "runtime"
    service: dict[str, Any] = {"build": _build(ctx, target)}
    if lead and setup.command:
        service["command"] = _note(list(setup.command), "Dev setup: " + setup.reason + ".")
    elif lead:
        service["build"] = _note(service["build"], "Dev setup: " + setup.reason + ".")
    elif component.start_command:
        argv = parse_start(component.start_command, None, component.name).argv
        service["command"] = _note(
            list(argv), f"{component.kind} from the same image as {ctx.lead.component.name}: its own command."
        )
    else:
        service["build"] = _note(
            service["build"], f"NOTE: no start command was detected for {component.name}; set `command`."
        )
    service["init"] = _note(
        True, "tini as PID 1: forwards signals and reaps zombies for any command run here."
    )
    port = (setup.port if lead and setup.port else None) or workload.container_port
    if component.kind in ("web", "static") and port:
        host = port
        while host in used_ports:
            host += 1
        used_ports.add(host)
        service["ports"] = _note([f"127.0.0.1:{host}:{port}"], "Published on localhost only.")
    env = _environment(ctx, workload, backing)
    if env:
        service["environment"] = _note(
            env, "Local-only values for what the deployed app reads from its Secret."
        )
    depends = _depends(ctx, workload, backing, migrate)
    if depends:
        service["depends_on"] = depends
    if worker and not lead:  # a worker with an image of its own says HEALTHCHECK NONE in it
        service["healthcheck"] = _note(
            {"disable": True}, "The image's HEALTHCHECK probes the web port, which a worker does not serve."
        )
    if target == "runtime" and workload.read_only_root:
        service["read_only"] = _note(
            True, "As in Kubernetes: a read-only root filesystem, writable only where the app needs it."
        )
        if workload.writable_paths:
            service["tmpfs"] = list(workload.writable_paths)
    if setup.bind_source:
        service["volumes"] = [
            _note(
                {"type": "bind", "source": _source(ctx), "target": setup.workdir, "read_only": True},
                "The source, live: edits show up without a rebuild.",
            )
        ]
    service["develop"] = {"watch": _watch(ctx, setup, lead)}
    return service


def _watch(ctx: ImageContext, setup: DevSetup, lead: bool) -> list[Any]:
    """compose watch: rebuild when a manifest changes; sync, restart or rebuild on the source."""
    source = _source(ctx)
    rebuild = [
        {"path": name if source == "." else posixpath.join(source, name), "action": "rebuild"}
        for name in ctx.manifests
    ]
    if lead and setup.sync:
        return [
            *rebuild,
            _note(
                {"path": source, "action": "sync", "target": setup.workdir, "ignore": ["node_modules/"]},
                f"The {setup.target} stage runs as root (local only; the shipped image runs as uid "
                f"{ctx.image.uid}), so edits can be synced into {setup.workdir}.",
            ),
        ]
    if setup.bind_source:
        reloads = lead and setup.command is not None and "--reload" in setup.command
        if reloads:
            return rebuild
        return [*rebuild, _note({"path": source, "action": "restart"}, "No reloader: restart on change.")]
    return [{"path": source, "action": "rebuild"}]


def _migrate_name(plan: Plan, workload: Workload) -> str | None:
    migrating = [w for w in plan.workloads if w.migrate_command]
    if workload not in migrating:
        return None
    return "migrate" if len(migrating) == 1 else f"{workload.component.name}-migrate"


def _migrate_service(
    ctx: ImageContext, workload: Workload, setup: DevSetup, backing: tuple[str, ...], name: str
) -> dict[str, Any]:
    assert workload.migrate_command is not None
    argv = shlex.split(workload.migrate_command)
    service: dict[str, Any] = {
        "build": _build(ctx, "runtime"),
        "command": _note(
            argv,
            f"Migrations run once before the app starts; again with `docker compose run --rm {name}`.",
        ),
        "restart": "no",
    }
    env = _environment(ctx, workload, backing)
    if env:
        service["environment"] = env
    depends = _depends(ctx, workload, backing, None)
    if depends:
        service["depends_on"] = depends
    service["healthcheck"] = {"disable": True}
    if setup.bind_source:
        service["volumes"] = [
            {"type": "bind", "source": _source(ctx), "target": setup.workdir, "read_only": True}
        ]
    return service

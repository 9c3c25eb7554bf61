"""Ruby (Rails and Rack apps): gems compiled in the build image with their headers, copied
with the app into the slim runtime, which gets only the shared libraries they link.
"""

from __future__ import annotations

from deploysmith.render.dockerfiles.base import (
    HEALTHCHECK_NOTE,
    DevSetup,
    ImageContext,
    StartCommand,
    Writer,
    cache,
    copy_manifests,
    create_user,
    parse_start,
    probe_url,
    worker_note,
    write_cmd,
)

BUNDLE = "/usr/local/bundle"
# Headers to build a database gem, and the library it needs at runtime.
DB_LIBS = {
    "postgres": ("libpq-dev", "libpq5"),
    "mysql": ("default-libmysqlclient-dev", "libmariadb3"),
    "mariadb": ("default-libmysqlclient-dev", "libmariadb3"),
}


def _db_libs(ctx: ImageContext) -> tuple[tuple[str, ...], tuple[str, ...]]:
    build: dict[str, None] = {}
    runtime: dict[str, None] = {}
    for service in ctx.services:
        if service in DB_LIBS:
            build.setdefault(DB_LIBS[service][0], None)
            runtime.setdefault(DB_LIBS[service][1], None)
    return tuple(build), tuple(runtime)


def _rails(ctx: ImageContext) -> bool:
    return ctx.component.framework == "rails"


def _bundle_env(locked: bool) -> tuple[str, ...]:
    return (
        *(("BUNDLE_DEPLOYMENT=1",) if locked else ()),
        f"BUNDLE_PATH={BUNDLE}",
        'BUNDLE_WITHOUT="development:test"',
    )


def build(ctx: ImageContext, out: Writer) -> None:
    image = ctx.image
    locked = ctx.has("Gemfile.lock")
    build_libs, runtime_libs = _db_libs(ctx)
    out.stage(
        "${BUILD_IMAGE}", "deps",
        "deps: gems compiled against the headers they need, from Gemfile.lock; reused until the "
        "Gemfile or its lock changes.",
    )
    out.comment(
        "BUNDLE_DEPLOYMENT installs exactly what Gemfile.lock pins and fails if the Gemfile "
        "changed without it."
        if locked else
        "NOTE: no Gemfile.lock was found, so this install is not reproducible: commit it and regenerate."
    )
    out.env(*_bundle_env(locked))
    out.comment("Compilers and headers for gems with native extensions; they stay in this stage.")
    out.apt_install(("build-essential", "git", "libyaml-dev", "pkg-config", *build_libs))
    out.line("WORKDIR /app")
    copy_manifests(out, ctx.manifests or ("Gemfile", "Gemfile.lock"))
    out.run(
        "BUNDLE_GLOBAL_GEM_CACHE=1 bundle install",
        f"rm -rf {BUNDLE}/ruby/*/cache {BUNDLE}/ruby/*/bundler/gems/*/.git",
        mounts=(cache("/root/.bundle/cache"),),
    )

    out.stage("deps", "build", "build: the application" + (", assets precompiled." if _rails(ctx) else "."))
    out.line("COPY . .")
    if _rails(ctx):
        out.comment(
            "SECRET_KEY_BASE_DUMMY lets Rails precompile assets without the real key, which only "
            "the runtime environment holds."
        )
        out.run("RAILS_ENV=production SECRET_KEY_BASE_DUMMY=1 ./bin/rails assets:precompile")

    out.stage(
        "${RUNTIME_IMAGE}", "runtime",
        "runtime: slim Ruby with the gems and the app, no compilers; files owned by root, only "
        f"the writable paths belong to the app (uid {image.uid}).",
    )
    env = list(_bundle_env(locked))
    if _rails(ctx):
        env = ["RAILS_ENV=production", "RAILS_LOG_TO_STDOUT=1", *env]
    out.env(*env)
    if runtime_libs:
        out.comment("Shared libraries the database gems link against.")
        out.apt_install(runtime_libs)
    create_user(out, image.uid)
    out.line("WORKDIR /app")
    out.line(f"COPY --from=build {BUNDLE} {BUNDLE}")
    out.line("COPY --from=build /app /app")
    writable = tuple(path for path in ctx.lead.writable_paths if path.startswith("/app/"))
    if writable:
        out.comment(
            "The only paths the app writes (mounted as emptyDir volumes in Kubernetes, where the "
            "root filesystem is read-only)."
        )
        out.run(f"mkdir -p {' '.join(writable)}", f"chown {image.uid}:{image.uid} {' '.join(writable)}")
    out.line(f"USER {image.uid}:{image.uid}")
    if ctx.port:
        out.line(f"EXPOSE {ctx.port}")
    _healthcheck(ctx, out)
    note = worker_note(ctx)
    write_cmd(
        out, start(ctx),
        "The server is PID 1 (exec form; `bundle exec` replaces itself with it) and Puma stops "
        "gracefully on SIGTERM." + (f" {note}" if note else ""),
    )


def start(ctx: ImageContext) -> StartCommand:
    component = ctx.component
    if component.start_command:
        return parse_start(component.start_command, ctx.port, component.name)
    port = str(ctx.port or 3000)
    if _rails(ctx):
        return StartCommand(("bin/rails", "server", "--binding", "0.0.0.0", "--port", port), (), ())
    return StartCommand(
        ("bundle", "exec", "puma", "--bind", f"tcp://0.0.0.0:{port}"), (),
        (f"no start command was detected for {component.name}; Puma on config.ru is a guess: check it.",),
    )


def _healthcheck(ctx: ImageContext, out: Writer) -> None:
    url = probe_url(ctx.lead)
    probe = ctx.lead.probe
    if url:
        argv: tuple[str, ...] = (
            "ruby", "-rnet/http", "-e", f"exit Net::HTTP.get_response(URI('{url}')).is_a?(Net::HTTPSuccess)",
        )
    elif probe.kind == "tcp" and probe.port:
        argv = ("ruby", "-rsocket", "-e", f"TCPSocket.new('127.0.0.1', {probe.port}).close")
    else:
        out.no_healthcheck()
        return
    out.comment(HEALTHCHECK_NOTE)
    out.healthcheck(argv)


def ignore(ctx: ImageContext) -> tuple[str, ...]:
    return (
        "# Ruby: local gems and bundler config, logs, temp files and compiled assets",
        ".bundle/",
        "vendor/bundle/",
        "log/*",
        "!log/.keep",
        "tmp/*",
        "!tmp/.keep",
        "storage/*",
        "!storage/.keep",
        "public/assets/",
        "**/node_modules/",
        "# Rails credentials keys: the key comes from the environment (RAILS_MASTER_KEY)",
        "config/master.key",
        "config/credentials/*.key",
        "# Tests and coverage: no stage runs tests (CI runs them on the source), so they stay out",
        "spec/",
        "test/",
        "coverage/",
    )


def dev(ctx: ImageContext) -> DevSetup:
    return DevSetup(
        target="runtime",
        reason="the production image (RAILS_ENV=production, no development gems), rebuilt by "
        "compose watch when a file changes",
    )

"""Node.js servers (Express, Nest, Next.js, ...): npm, pnpm, yarn (classic and berry) or bun.

Three shapes: no build step (production dependencies and the source), a build step whose
output runs with production dependencies (dev dependencies pruned after the build), and
Next.js `output: "standalone"` (the self-contained server, static assets and public/).
"""

from __future__ import annotations

from dataclasses import dataclass

from deploysmith.render.dockerfiles.base import (
    HEALTHCHECK_NOTE,
    TOOLS,
    DevSetup,
    ImageContext,
    StartCommand,
    Writer,
    cache,
    copy_manifests,
    parse_start,
    probe_url,
    worker_note,
    write_cmd,
)


@dataclass(frozen=True)
class Manager:
    name: str
    locks: tuple[str, ...]
    setup: tuple[str, ...]  # RUN commands that make the tool available
    install: str  # every dependency, from the lock file only
    install_prod: str  # production dependencies only
    prune: tuple[str, ...]  # after the build: drop dev dependencies
    run: str  # runs a package.json script
    cache: str | None  # download cache, mounted during installs
    unlocked: str  # install when there is no lock file


def _corepack(tool: str) -> tuple[str, ...]:
    # Corepack runs the version package.json's "packageManager" field names. It is pinned
    # and installed from npm because Node 25+ no longer bundles it.
    steps = [f"npm install --global corepack@{TOOLS['corepack']}"]
    if tool == "yarn":
        steps.append("rm -f /usr/local/bin/yarn /usr/local/bin/yarnpkg")
    steps.append(f"corepack enable {tool}")
    return tuple(steps)


MANAGERS: dict[str, Manager] = {
    "npm": Manager(
        "npm", ("package-lock.json", "npm-shrinkwrap.json"), (),
        "npm ci --no-audit --no-fund", "npm ci --omit=dev --no-audit --no-fund",
        ("npm prune --omit=dev --no-audit --no-fund",), "npm run", "/root/.npm",
        "npm install --no-audit --no-fund",
    ),
    "pnpm": Manager(
        "pnpm", ("pnpm-lock.yaml",), _corepack("pnpm"),
        "pnpm install --frozen-lockfile", "pnpm install --frozen-lockfile --prod",
        ("pnpm prune --prod",), "pnpm run", "/root/.local/share/pnpm/store", "pnpm install",
    ),
    "yarn": Manager(
        "yarn", ("yarn.lock",), _corepack("yarn"),
        "yarn install --frozen-lockfile --non-interactive",
        "yarn install --frozen-lockfile --production --non-interactive",
        ("yarn install --frozen-lockfile --production --non-interactive --prefer-offline",),
        "yarn run", "/usr/local/share/.cache/yarn", "yarn install --non-interactive",
    ),
    # Yarn 2+ (a .yarnrc.yml is present), with the node-modules linker: Plug'n'Play would need
    # its package cache inside the image at runtime (see install()).
    "yarn-berry": Manager(
        "yarn", ("yarn.lock",), _corepack("yarn"),
        "yarn install --immutable", "yarn workspaces focus --all --production",
        ("yarn workspaces focus --all --production",), "yarn run", "/root/.yarn/berry/cache", "yarn install",
    ),
    "bun": Manager(
        "bun", ("bun.lock", "bun.lockb"), (f"npm install --global bun@{TOOLS['bun']}",),
        "bun install --frozen-lockfile", "bun install --frozen-lockfile --production",
        ("rm -rf node_modules", "bun install --frozen-lockfile --production"),
        "bun run", "/root/.bun/install/cache", "bun install",
    ),
}
# Servers run from node_modules/.bin without a package manager in between.
LOCAL_BINS = frozenset({
    "next", "nest", "nuxt", "remix-serve", "react-router-serve", "astro", "vite", "tsx", "ts-node",
    "fastify", "serve", "pm2-runtime",
})
RUNNERS = frozenset({"npm", "yarn", "pnpm", "bun", "npx", "pnpx"})
BUN_BINARY = "/usr/local/lib/node_modules/bun/bin/bun.exe"


def manager_for(ctx: ImageContext) -> Manager:
    name = ctx.component.package_manager or "npm"
    if name == "yarn" and ctx.has(".yarnrc.yml"):
        name = "yarn-berry"
    return MANAGERS.get(name, MANAGERS["npm"])


def shape(ctx: ImageContext) -> str:
    component = ctx.component
    if not component.build_command:
        return "plain"
    if component.build_output and "standalone" in component.build_output:
        return "standalone"
    return "built"


def install(ctx: ImageContext, out: Writer, manager: Manager, prod: bool) -> None:
    """Tool setup, manifests, then a lockfile-strict install (the deps stage body)."""
    if manager.setup:
        if any("corepack" in step for step in manager.setup):
            out.env("COREPACK_ENABLE_DOWNLOAD_PROMPT=0")
        if manager is MANAGERS["yarn-berry"]:
            out.comment(
                "node_modules instead of Plug'n'Play: PnP loads packages from Yarn's cache at "
                "runtime, which would have to ship in the image; this way the cache stays a mount."
            )
            out.env("YARN_NODE_LINKER=node-modules", "YARN_ENABLE_GLOBAL_CACHE=true")
        out.run(*manager.setup, mounts=(cache("/root/.npm"),))
    copy_manifests(out, ctx.manifests)
    locked = any(ctx.has(lock) for lock in manager.locks)
    command = (manager.install_prod if prod else manager.install) if locked else manager.unlocked
    if not locked:
        out.comment(
            f"NOTE: no lock file ({', '.join(manager.locks)}) was found, so this install is not "
            "reproducible: commit one and regenerate."
        )
    elif prod:
        out.comment("Production dependencies only, exactly as the lock file pins them.")
    else:
        out.comment("Every dependency the build needs, exactly as the lock file pins them.")
    ignore: tuple[str, ...] = ()
    if manager is MANAGERS["yarn-berry"]:
        out.comment(
            "The Yarn cache is a cache mount, so the layer holds nothing to clean; hadolint's "
            "DL3060 only knows Yarn 1's cache path, not Yarn 2+'s ~/.yarn/berry/cache."
        )
        ignore = ("DL3060",)
    out.run(command, mounts=(cache(manager.cache),) if manager.cache else (), ignore=ignore)


def build(ctx: ImageContext, out: Writer) -> None:
    manager = manager_for(ctx)
    component = ctx.component
    kind = shape(ctx)
    nextjs = component.framework in ("nextjs", "next")
    out.stage(
        "${BUILD_IMAGE}", "deps",
        f"deps: {'production ' if kind == 'plain' else ''}dependencies from the lock file "
        f"({manager.name}); this layer is reused until a manifest changes.",
    )
    out.line("WORKDIR /app")
    install(ctx, out, manager, prod=kind == "plain")

    out.stage("deps", "build", "build: the source" + (", built" if kind != "plain" else "") + ".")
    if nextjs:
        out.env("NEXT_TELEMETRY_DISABLED=1")
    out.line("COPY . .")
    if kind != "plain":
        assert component.build_command is not None
        steps = []
        if nextjs:
            steps.append("mkdir -p public")
        steps.append(component.build_command)
        if kind == "built":
            steps.extend(manager.prune)
            out.comment("Build, then drop the dev dependencies so the runtime copies only what runs.")
        out.run(*steps, mounts=(cache(manager.cache),) if manager.cache and kind == "built" else ())

    image = ctx.image
    out.stage(
        "${RUNTIME_IMAGE}", "runtime",
        f"runtime: Node without the package manager's caches or dev dependencies; files owned "
        f"by root, read-only to the app (uid {image.uid}, the image's `node` user).",
    )
    env = ["NODE_ENV=production"]
    if nextjs:
        env.append("NEXT_TELEMETRY_DISABLED=1")
    if kind == "standalone":
        env.append("HOSTNAME=0.0.0.0")
    if ctx.port:
        env.append(f"PORT={ctx.port}")
    out.env(*env)
    out.line("WORKDIR /app")
    if kind == "standalone":
        output = (component.build_output or ".next/standalone").rstrip("/")
        out.comment(
            "The standalone server carries the node_modules it needs; static assets and public/ are "
            "copied beside it."
        )
        out.line(f"COPY --from=build /app/{output} ./")
        out.line("COPY --from=build /app/.next/static ./.next/static")
        out.line("COPY --from=build /app/public ./public")
    else:
        out.line("COPY --from=build /app ./")
    start = _start(ctx)
    if start.argv[0] == "bun" and manager.name == "bun":
        out.comment("The app runs on Bun: its binary comes from the deps stage.")
        out.line(f"COPY --from=deps {BUN_BINARY} /usr/local/bin/bun")
    elif start.argv[0] == "bun":
        out.comment(f"NOTE: the app starts with Bun but installs with {manager.name}; this image has no Bun.")
    out.line(f"USER {image.uid}:{image.uid}")
    if ctx.port:
        out.line(f"EXPOSE {ctx.port}")
    _healthcheck(ctx, out)
    note = worker_note(ctx)
    write_cmd(
        out, start,
        "The server runs directly (exec form; the image's entrypoint execs it), not through a "
        "package manager, which would not pass SIGTERM on." + (f" {note}" if note else ""),
    )


def _start(ctx: ImageContext) -> StartCommand:
    component = ctx.component
    port = ctx.port
    if not component.start_command:
        return StartCommand(
            ("node", "index.js"), (),
            (f"no start command was detected for {component.name}; `node index.js` is a guess: replace it.",),
        )
    start = parse_start(component.start_command, port, component.name)
    argv = start.argv
    notes = list(start.notes)
    if argv[0] in RUNNERS:
        if component.framework in ("nextjs", "next") and shape(ctx) != "standalone":
            argv = ("node_modules/.bin/next", "start", "--port", str(port or 3000))
            notes.append(
                f"`{component.start_command}` runs through {start.argv[0]}, which does not forward "
                "SIGTERM; the image runs `next start` directly."
            )
        else:
            notes.append(
                f"`{component.start_command}` runs through {start.argv[0]}, which does not forward "
                "SIGTERM to the server: replace it with the command the script runs (e.g. "
                "[\"node\", \"dist/main.js\"])."
            )
    elif argv[0] in LOCAL_BINS:
        argv = (f"node_modules/.bin/{argv[0]}", *argv[1:])
    return StartCommand(argv, start.env, tuple(notes))


def _healthcheck(ctx: ImageContext, out: Writer) -> None:
    url = probe_url(ctx.lead)
    probe = ctx.lead.probe
    if url:
        code = f"fetch('{url}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
    elif probe.kind == "tcp" and probe.port:
        code = (
            f"require('net').connect({probe.port}, '127.0.0.1')"
            ".on('connect', () => process.exit(0)).on('error', () => process.exit(1))"
        )
    else:
        out.no_healthcheck()
        return
    out.comment(HEALTHCHECK_NOTE)
    out.healthcheck(("node", "-e", code))


def ignore(ctx: ImageContext) -> tuple[str, ...]:
    lines = [
        "# Node: dependencies are installed inside the image, for its platform",
        "**/node_modules/",
        ".npm/",
        ".pnpm-store/",
        "npm-debug.log*",
        "yarn-error.log*",
        "# Build output and framework caches: the build stage produces its own",
        ".next/",
        ".nuxt/",
        ".output/",
        ".svelte-kit/",
        ".turbo/",
        ".parcel-cache/",
    ]
    if ctx.component.build_command:
        lines += ["dist/", "build/"]
    lines += [
        "# Tests and coverage: no stage runs tests (CI runs them on the source), so they stay out",
        "test/",
        "tests/",
        "__tests__/",
        "coverage/",
        ".nyc_output/",
    ]
    return tuple(lines)


def dev(ctx: ImageContext) -> DevSetup:
    component = ctx.component
    port = ctx.port or 3000
    start = _start(ctx)
    if component.framework in ("nextjs", "next"):
        return DevSetup(
            target="build",
            reason="the build stage (source and every dependency) running `next dev`, which "
            "reloads on change; compose watch syncs edits into /app",
            command=("node_modules/.bin/next", "dev", "--hostname", "0.0.0.0", "--port", str(port)),
            sync=True,
        )
    if component.framework in ("nestjs", "nest"):
        return DevSetup(
            target="build",
            reason="the build stage running `nest start --watch`, which recompiles and restarts "
            "on change; compose watch syncs edits into /app",
            command=("node_modules/.bin/nest", "start", "--watch"),
            sync=True,
        )
    if shape(ctx) == "plain" and start.argv[0] in ("node", "bun") and len(start.argv) >= 2:
        return DevSetup(
            target="build",
            reason=f"the build stage running `{start.argv[0]} --watch`, which restarts the server "
            "when a file changes; compose watch syncs edits into /app",
            command=(start.argv[0], "--watch", *start.argv[1:]),
            sync=True,
        )
    return DevSetup(
        target="runtime",
        reason="the production image, rebuilt by compose watch when a file changes (the build "
        "step has no watch mode deploysmith knows)",
    )

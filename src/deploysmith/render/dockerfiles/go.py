"""Go: every component's main package built from one module into /app/<name>, static
(CGO_ENABLED=0), stripped and path-free (-trimpath), on distroless static.
"""

from __future__ import annotations

import posixpath

from deploysmith.render.dockerfiles.base import (
    DevSetup,
    ImageContext,
    StartCommand,
    Writer,
    cache,
    copy_manifests,
    parse_start,
    write_distroless_tail,
)

MOD_CACHE = cache("/go/pkg/mod")
BUILD_CACHE = cache("/root/.cache/go-build")


def binaries(ctx: ImageContext) -> tuple[tuple[str, str], ...]:
    """(binary name, package) for every component, in the image's order."""
    seen: dict[str, str] = {}
    for workload in ctx.workloads:
        component = workload.component
        target = component.build_target or "."
        if not target.startswith("."):
            target = "./" + target
        seen.setdefault(component.name, target)
    return tuple(seen.items())


def build(ctx: ImageContext, out: Writer) -> None:
    image = ctx.image
    out.stage(
        "${BUILD_IMAGE}", "deps",
        "deps: the module's dependencies, downloaded and verified against go.sum; reused until "
        "go.mod or go.sum changes.",
    )
    out.comment(
        "GOTOOLCHAIN=local builds with the image's Go and never downloads another toolchain; "
        "CGO_ENABLED=0 makes binaries that need no libc."
    )
    out.env("CGO_ENABLED=0", "GOTOOLCHAIN=local")
    out.line("WORKDIR /src")
    manifests = ctx.manifests or ("go.mod",)
    copy_manifests(out, manifests)
    out.run("go mod download", mounts=(MOD_CACHE,))

    out.stage("deps", "build", "build: one binary per component, named after it, into /out.")
    out.line("COPY . .")
    commands = [
        f'go build -trimpath -ldflags="-s -w" -o /out/{name} {package}' for name, package in binaries(ctx)
    ]
    out.run(*commands, mounts=(MOD_CACHE, BUILD_CACHE))

    out.stage(
        "${RUNTIME_IMAGE}", "runtime",
        "runtime: distroless static: the binaries, CA certificates and tzdata; no shell, no "
        f"package manager, uid {image.uid} (nonroot).",
    )
    out.line("COPY --from=build /out/ /app/")
    write_distroless_tail(out, ctx, start(ctx))


def start(ctx: ImageContext) -> StartCommand:
    """The binary under /app; a start command naming another path is pointed at it."""
    component = ctx.component
    if not component.start_command:
        return StartCommand((f"/app/{component.name}",), (), ())
    parsed = parse_start(component.start_command, ctx.port, component.name)
    program = parsed.argv[0]
    if program.startswith("/app/"):
        return parsed
    named_after_component = program in ("go", "./main", "main")
    binary = f"/app/{component.name}" if named_after_component else f"/app/{posixpath.basename(program)}"
    argv = (binary, *parsed.argv[1:]) if program != "go" else (binary,)
    return StartCommand(
        argv, parsed.env,
        (*parsed.notes, f"The detected start command `{component.start_command}` runs {binary} here."),
    )


def ignore(ctx: ImageContext) -> tuple[str, ...]:
    return (
        "# Go: local build output (vendor/ stays: a vendored module builds from it)",
        "bin/",
        "*.exe",
        "*.test",
        "*.out",
        "coverage.*",
    )


def dev(ctx: ImageContext) -> DevSetup:
    return DevSetup(
        target="runtime",
        reason="the production image, rebuilt by compose watch when a file changes (a Go build "
        "with a warm cache takes seconds)",
    )

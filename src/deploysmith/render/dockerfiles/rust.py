"""Rust: a release build of every binary in the crate, on distroless cc (glibc and libgcc)."""

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

REGISTRY = cache("/usr/local/cargo/registry")
GIT = cache("/usr/local/cargo/git")


def build(ctx: ImageContext, out: Writer) -> None:
    image = ctx.image
    out.stage(
        "${BUILD_IMAGE}", "deps",
        "deps: the crates Cargo.lock pins, fetched into the cargo cache; reused until a manifest "
        "changes.",
    )
    out.line("WORKDIR /src")
    copy_manifests(out, ctx.manifests or ("Cargo.toml", "Cargo.lock"))
    locked = "--locked " if ctx.has("Cargo.lock") else ""
    out.comment(
        "cargo reads the manifest's targets before it fetches: a placeholder src/main.rs stands "
        "in for the source and is removed again."
    )
    out.run(
        "mkdir -p src",
        "touch src/main.rs",
        f"cargo fetch {locked}".rstrip(),
        "rm -rf src",
        mounts=(REGISTRY, GIT),
    )

    out.stage("deps", "build", "build: every binary of the crate, release profile, into /out/bin.")
    out.line("COPY . .")
    out.comment(
        "target/ is a cache mount (incremental across builds); cargo install builds there and "
        "copies the binaries out of it."
    )
    out.env("CARGO_TARGET_DIR=/src/target")
    out.run(
        f"cargo install {locked}--path . --root /out",
        mounts=(REGISTRY, GIT, cache("/src/target")),
    )

    out.stage(
        "${RUNTIME_IMAGE}", "runtime",
        "runtime: distroless cc: the binaries with glibc and libgcc; no shell, no package manager, "
        f"uid {image.uid} (nonroot).",
    )
    out.line("COPY --from=build /out/bin/ /app/")
    write_distroless_tail(out, ctx, start(ctx))


def start(ctx: ImageContext) -> StartCommand:
    component = ctx.component
    if not component.start_command:
        name = component.build_target or component.name
        return StartCommand((f"/app/{name}",), (), ())
    parsed = parse_start(component.start_command, ctx.port, component.name)
    program = parsed.argv[0]
    if program.startswith("/app/"):
        return parsed
    if program == "cargo":
        binary = f"/app/{component.build_target or component.name}"
        return StartCommand(
            (binary,), parsed.env,
            (*parsed.notes, f"`{component.start_command}` runs the release binary at {binary} instead."),
        )
    binary = f"/app/{posixpath.basename(program)}"
    return StartCommand(
        (binary, *parsed.argv[1:]), parsed.env,
        (*parsed.notes, f"The detected start command `{component.start_command}` runs {binary} here."),
    )


def ignore(ctx: ImageContext) -> tuple[str, ...]:
    return ("# Rust: local build output", "target/")


def dev(ctx: ImageContext) -> DevSetup:
    return DevSetup(
        target="runtime",
        reason="the production image, rebuilt by compose watch when a file changes (incremental "
        "builds reuse the target/ cache mount)",
    )

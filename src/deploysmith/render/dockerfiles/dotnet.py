""".NET (ASP.NET Core and workers): restore and publish with the SDK, run on the chiseled
ASP.NET runtime (no shell, no package manager, user `app`, uid 1654).
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
    worker_note,
    write_cmd,
)

NUGET = cache("/root/.nuget/packages", id="nuget")


def _project(ctx: ImageContext) -> str | None:
    component = ctx.component
    if component.build_target:
        return component.build_target
    projects = [name for name in ctx.manifests if name.endswith((".csproj", ".fsproj", ".vbproj"))]
    return projects[0] if len(projects) == 1 else None


def build(ctx: ImageContext, out: Writer) -> None:
    image = ctx.image
    project = _project(ctx)
    target = f" {project}" if project else ""
    out.stage(
        "${BUILD_IMAGE}", "deps",
        "deps: NuGet packages restored from the project files alone; reused until one of them "
        "changes.",
    )
    out.line("WORKDIR /src")
    copy_manifests(out, ctx.manifests)
    locked = " --locked-mode" if any(n.endswith("packages.lock.json") for n in ctx.manifests) else ""
    if locked:
        out.comment("--locked-mode: restore exactly what packages.lock.json pins, or fail.")
    out.run(f"dotnet restore{target}{locked}", mounts=(NUGET,))

    out.stage("deps", "build", "build: a Release publish of the app into /app/publish.")
    out.line("COPY . .")
    out.run(
        f"dotnet publish{target} --configuration Release --output /app/publish /p:UseAppHost=false",
        mounts=(NUGET,),
    )

    out.stage(
        "${RUNTIME_IMAGE}", "runtime",
        "runtime: chiseled ASP.NET: the runtime and the published app; no shell, no package "
        f"manager, uid {image.uid} (`app`).",
    )
    port = ctx.port or 8080
    out.env(f"ASPNETCORE_HTTP_PORTS={port}")
    out.line("WORKDIR /app")
    out.line("COPY --from=build /app/publish ./")
    out.line(f"USER {image.uid}:{image.uid}")
    if ctx.port:
        out.line(f"EXPOSE {ctx.port}")
    out.comment(
        "No HEALTHCHECK: the chiseled image has no shell or HTTP client to run one. Kubernetes "
        "probes the service; compose relies on the process staying up."
    )
    note = worker_note(ctx)
    write_cmd(
        out, start(ctx),
        "dotnet is PID 1 (exec form) and SIGTERM triggers the host's graceful shutdown."
        + (f" {note}" if note else ""),
    )


def start(ctx: ImageContext) -> StartCommand:
    component = ctx.component
    project = _project(ctx)
    stem = posixpath.splitext(posixpath.basename(project))[0] if project else component.name
    default = ("dotnet", f"{stem}.dll")
    if not component.start_command:
        return StartCommand(default, (), ())
    parsed = parse_start(component.start_command, ctx.port, component.name)
    if parsed.argv[:2] == ("dotnet", "run") or parsed.argv[0] == "dotnet" and not parsed.argv[1:2]:
        return StartCommand(
            default, parsed.env,
            (
                *parsed.notes,
                f"`{component.start_command}` builds from source; the image runs the published {stem}.dll.",
            ),
        )
    if parsed.argv[0] == "dotnet" and len(parsed.argv) > 1 and "/" in parsed.argv[1]:
        dll = posixpath.basename(parsed.argv[1])
        return StartCommand(("dotnet", dll, *parsed.argv[2:]), parsed.env, parsed.notes)
    return parsed


def ignore(ctx: ImageContext) -> tuple[str, ...]:
    return (
        "# .NET: local build output and IDE state",
        "**/bin/",
        "**/obj/",
        "**/*.user",
        ".vs/",
        "**/TestResults/",
    )


def dev(ctx: ImageContext) -> DevSetup:
    return DevSetup(
        target="runtime",
        reason="the production image, rebuilt by compose watch when a file changes",
    )

"""Java and Kotlin: Maven or Gradle (with their wrapper when the repository has one) on the
Temurin JDK, the application jar on the Temurin JRE.
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
    create_user,
    parse_start,
    probe_url,
    worker_note,
    write_cmd,
)

JAR = "/app/app.jar"
BUILD_TOOLS = ("mvn", "./mvnw", "mvnw", "gradle", "./gradlew", "gradlew")


def tool(ctx: ImageContext) -> str:
    manager = ctx.component.package_manager
    if manager == "gradle" or ctx.has("build.gradle", "build.gradle.kts", "gradlew"):
        return "gradle"
    return "maven"


def wrapper(ctx: ImageContext) -> bool:
    return ctx.has("gradlew") if tool(ctx) == "gradle" else ctx.has("mvnw")


def build(ctx: ImageContext, out: Writer) -> None:
    image = ctx.image
    gradle = tool(ctx) == "gradle"
    command = ("./gradlew" if wrapper(ctx) else "gradle") if gradle else ("./mvnw" if wrapper(ctx) else "mvn")
    home = "/root/.gradle" if gradle else "/root/.m2"
    mounts = (cache(home),)
    out.stage(
        "${BUILD_IMAGE}", "deps",
        f"deps: {'Gradle' if gradle else 'Maven'} resolves the dependencies into its cache before "
        "the source is copied; reused until a build file changes.",
    )
    out.line("WORKDIR /src")
    if gradle:
        out.env(f"GRADLE_USER_HOME={home}")
    manifests = ctx.manifests or (("settings.gradle.kts", "build.gradle.kts") if gradle else ("pom.xml",))
    folder = "gradle" if gradle else ".mvn"
    if wrapper(ctx):
        # The wrapper's folder goes in whole (wrapper jar and properties, a version catalog).
        manifests = tuple(name for name in manifests if not name.startswith(folder + "/"))
    copy_manifests(out, manifests)
    if wrapper(ctx):
        out.line(f"COPY {folder}/ {folder}/")
    if gradle:
        out.run(f"{command} dependencies --no-daemon --quiet", mounts=mounts)
    else:
        out.run(f"{command} -B -ntp -q dependency:go-offline", mounts=mounts)

    out.stage(
        "deps", "build", "build: the application jar, tests skipped (CI runs them), copied to /out/app.jar."
    )
    out.line("COPY . .")
    libs = _output_dir(ctx, gradle)
    out.run(
        _build_command(ctx, command, gradle),
        "mkdir -p /out",
        f"jar=\"$(find {libs} -maxdepth 1 -name '*.jar' ! -name '*-plain.jar' ! -name '*-sources.jar' "
        "! -name '*-javadoc.jar' -print -quit)\"",
        'cp "$jar" /out/app.jar',
        mounts=mounts,
    )

    out.stage(
        "${RUNTIME_IMAGE}", "runtime",
        "runtime: the JRE and the jar; no JDK, compiler or build tool. The jar is owned by root, "
        f"read-only to the app (uid {image.uid}).",
    )
    create_user(out, image.uid)
    out.line("WORKDIR /app")
    out.line(f"COPY --from=build /out/app.jar {JAR}")
    out.comment(
        "The heap follows the container's memory limit; an OutOfMemoryError ends the process so "
        "the orchestrator restarts it instead of leaving it half-alive."
    )
    out.env('JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError"')
    out.line(f"USER {image.uid}:{image.uid}")
    if ctx.port:
        out.line(f"EXPOSE {ctx.port}")
    _healthcheck(ctx, out)
    note = worker_note(ctx)
    write_cmd(
        out, start(ctx),
        "java is PID 1 (exec form): SIGTERM runs the JVM's shutdown hooks (Spring's graceful "
        "shutdown included)." + (f" {note}" if note else ""),
    )


def _output_dir(ctx: ImageContext, gradle: bool) -> str:
    component = ctx.component
    if component.build_output:
        folder = posixpath.dirname(component.build_output)
        if folder:
            return folder
    base = "build/libs" if gradle else "target"
    target = component.build_target
    if target and not target.endswith((".csproj", ".jar")):
        return f"{target.strip('./') or '.'}/{base}"
    return base


def _build_command(ctx: ImageContext, command: str, gradle: bool) -> str:
    component = ctx.component
    if component.build_command:
        return component.build_command
    target = component.build_target
    if gradle:
        task = "bootJar" if component.framework == "spring-boot" else "assemble"
        prefix = f":{target.strip('./:')}:" if target else ""
        return f"{command} {prefix}{task} --no-daemon"
    modules = f" -pl {target} -am" if target else ""
    return f"{command} -B -ntp package -DskipTests{modules}"


def start(ctx: ImageContext) -> StartCommand:
    component = ctx.component
    default = ("java", "-jar", JAR)
    if not component.start_command:
        return StartCommand(default, (), ())
    parsed = parse_start(component.start_command, ctx.port, component.name)
    argv = list(parsed.argv)
    if argv[0] in BUILD_TOOLS:
        return StartCommand(
            default, parsed.env,
            (*parsed.notes, f"`{component.start_command}` runs a build tool; the image runs the built jar."),
        )
    notes = list(parsed.notes)
    if argv[0] == "java" and "-jar" in argv:
        index = argv.index("-jar") + 1
        if index < len(argv) and argv[index] != JAR:
            notes.append(f"The jar ({argv[index]} in the detected command) is at {JAR} in the image.")
            argv[index] = JAR
    return StartCommand(tuple(argv), parsed.env, tuple(notes))


def _healthcheck(ctx: ImageContext, out: Writer) -> None:
    url = probe_url(ctx.lead)
    probe = ctx.lead.probe
    if url:
        argv: tuple[str, ...] = ("curl", "-fsS", "-o", "/dev/null", url)
    elif probe.kind == "tcp" and probe.port:
        argv = ("bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{probe.port}")
    else:
        out.no_healthcheck()
        return
    out.comment(
        "For docker and compose (curl ships in the Temurin images); Kubernetes ignores HEALTHCHECK "
        "and uses the probes in the manifests."
    )
    out.healthcheck(argv, start_period="60s")


def ignore(ctx: ImageContext) -> tuple[str, ...]:
    return (
        "# JVM: local build output and caches (.mvn/ and gradle/wrapper/ stay: the wrapper needs them)",
        "target/",
        "build/",
        ".gradle/",
        "out/",
        "*.class",
        "# Tests: no stage runs them (CI does), and skipping them keeps the build stage fast",
        "src/test/",
    )


def dev(ctx: ImageContext) -> DevSetup:
    return DevSetup(
        target="runtime",
        reason="the production image, rebuilt by compose watch when a file changes",
    )

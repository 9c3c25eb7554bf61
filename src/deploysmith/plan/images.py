"""Base images per language: which build and runtime images, which numeric user, and
whether the root filesystem can be read-only.

The tags come from the official images' library files as of BASE_IMAGES_CHECKED (every
tag this table can produce exists there: tests/render/test_dockerfile.py checks them
against the recorded data); they are pinned to a minor line (never `latest`), and users
override them with the Dockerfile's build arguments. Version lines not in the table fall
back to the newest listed line, and the plan says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploysmith.model import Component, Image

BASE_IMAGES_CHECKED = "2026-08-21"
# Build images for Java/Kotlin projects without a Maven or Gradle wrapper: the official
# maven and gradle images carry the tool on the same Temurin JDK line.
MAVEN_LINE = "3.9"
GRADLE_LINE = "9.7"


@dataclass(frozen=True)
class Runtime:
    versions: tuple[str, ...]  # supported version lines, newest first
    build: str  # template with {v}
    runtime: str  # template with {v}
    uid: int
    read_only_root: bool
    writable_paths: tuple[str, ...]
    why: str


RUNTIMES: dict[str, Runtime] = {
    "python": Runtime(
        ("3.14", "3.13", "3.12", "3.11", "3.10"),
        "python:{v}-slim-trixie", "python:{v}-slim-trixie", 10001, True, ("/tmp",),
        "python slim (Debian trixie): glibc wheels install as published; a venv built in the "
        "build stage is copied into the same base so compiled extensions match.",
    ),
    "node": Runtime(
        ("26", "24", "22"),
        "node:{v}-trixie-slim", "node:{v}-trixie-slim", 1000, True, ("/tmp",),
        "node slim (Debian trixie), running as the image's built-in `node` user (uid 1000).",
    ),
    "go": Runtime(
        ("1.27", "1.26"),
        "golang:{v}-trixie", "gcr.io/distroless/static-debian13:nonroot", 65532, True, (),
        "a static binary (CGO_ENABLED=0) on distroless static: no shell or package manager "
        "in production, uid 65532 (nonroot).",
    ),
    "rust": Runtime(
        ("1.98",),
        "rust:{v}-slim-trixie", "gcr.io/distroless/cc-debian13:nonroot", 65532, True, (),
        "a release binary on distroless cc (glibc + libgcc, nothing else), uid 65532 (nonroot).",
    ),
    "java": Runtime(
        ("25", "21", "17"),
        "eclipse-temurin:{v}-jdk-noble", "eclipse-temurin:{v}-jre-noble", 10001, True, ("/tmp",),
        "Temurin JDK to build, the JRE alone at runtime (no compiler in production).",
    ),
    "kotlin": Runtime(
        ("25", "21", "17"),
        "eclipse-temurin:{v}-jdk-noble", "eclipse-temurin:{v}-jre-noble", 10001, True, ("/tmp",),
        "Temurin JDK to build, the JRE alone at runtime (no compiler in production).",
    ),
    "ruby": Runtime(
        ("4.0", "3.4", "3.3"),
        "ruby:{v}-slim-trixie", "ruby:{v}-slim-trixie", 10001, True, ("/tmp", "/app/tmp", "/app/log"),
        "ruby slim (Debian trixie); gems are built in the build stage and copied over.",
    ),
    "php": Runtime(
        ("8.5", "8.4", "8.3"),
        "php:{v}-cli-trixie", "php:{v}-apache-trixie", 33, False, (),
        "php with Apache on port 8080 as www-data (uid 33); Laravel writes to storage/ and "
        "bootstrap/cache at runtime, so the root filesystem stays writable.",
    ),
    "csharp": Runtime(
        ("10.0", "9.0", "8.0"),
        "mcr.microsoft.com/dotnet/sdk:{v}-noble", "mcr.microsoft.com/dotnet/aspnet:{v}-noble-chiseled",
        1654, True, ("/tmp",),
        "the .NET SDK to publish, the chiseled ASP.NET runtime (no shell, user `app`, uid 1654).",
    ),
    "static": Runtime(
        ("1.30",),
        "node:24-trixie-slim", "nginx:{v}-alpine-slim", 101, True, ("/tmp", "/var/cache/nginx"),
        "nginx (stable line, alpine slim) serving the built files on port 8080 as uid 101.",
    ),
}
RUNTIMES["dotnet"] = RUNTIMES["csharp"]
RUNTIMES["fsharp"] = RUNTIMES["csharp"]
RUNTIMES["javascript"] = RUNTIMES["node"]
RUNTIMES["typescript"] = RUNTIMES["node"]


def runtime_for(component: Component) -> Runtime | None:
    if component.kind == "static" and component.language in (None, "javascript", "typescript", "html"):
        return RUNTIMES["static"]
    return RUNTIMES.get(component.language or "")


def version_line(runtime: Runtime, wanted: str | None) -> tuple[str, str]:
    """The version line to use and a sentence on why."""
    if runtime is RUNTIMES["static"]:
        return runtime.versions[0], "nginx stable line"
    if wanted:
        for line in runtime.versions:
            if wanted == line or wanted.startswith(line + ".") or line.startswith(wanted + "."):
                return line, f"{line} matches the version the repository declares ({wanted})"
            if "." not in line and wanted.split(".")[0] == line:
                return line, f"{line} matches the version the repository declares ({wanted})"
        return (
            runtime.versions[0],
            f"the repository declares {wanted}, which has no current official image line; "
            f"{runtime.versions[0]} is the newest line — check compatibility",
        )
    newest = runtime.versions[0]
    return newest, f"no version declared in the repository; {newest} is the newest line"


def plan_image(name: str, context: str, components: tuple[Component, ...]) -> Image | None:
    """The image built from one component path, or None when no runtime fits."""
    lead = components[0]
    runtime = runtime_for(lead)
    if runtime is None:
        return None
    line, why_version = version_line(runtime, lead.language_version)
    # Node static builds need node to build and nginx to serve; pick the node line declared.
    if runtime is RUNTIMES["static"] and lead.package_manager is not None:
        node_line, _ = version_line(RUNTIMES["node"], lead.language_version)
        build = RUNTIMES["node"].build.format(v=node_line)
    elif runtime is RUNTIMES["static"]:
        build = None
    else:
        build = runtime.build.format(v=line)
    reasons = [runtime.why]
    jvm_build = _jvm_build_tool_image(lead, line) if lead.language in ("java", "kotlin") else None
    if jvm_build is not None:
        build, why_tool = jvm_build
        reasons.append(why_tool)
    dockerfile = "Dockerfile" if context == "." else f"{context}/Dockerfile"
    return Image(
        name=name,
        context=context,
        dockerfile=dockerfile,
        language=lead.language,
        build_base=build,
        runtime_base=runtime.runtime.format(v=line),
        uid=runtime.uid,
        read_only_root=runtime.read_only_root,
        reasons=(*reasons, f"version: {why_version} (tags checked {BASE_IMAGES_CHECKED})."),
        components=tuple(component.name for component in components),
    )


def _jvm_build_tool_image(lead: Component, line: str) -> tuple[str, str] | None:
    """The maven/gradle image when the repository has no wrapper to bring its own tool."""
    files = lead.dependency_files
    gradle = lead.package_manager == "gradle" or any(f.startswith("build.gradle") for f in files)
    if gradle and "gradlew" not in files:
        return (
            f"gradle:{GRADLE_LINE}-jdk{line}-noble",
            f"No Gradle wrapper in the repository: the build stage uses the official gradle "
            f"image ({GRADLE_LINE} line) on the same JDK.",
        )
    if not gradle and lead.package_manager in (None, "maven") and "mvnw" not in files:
        return (
            f"maven:{MAVEN_LINE}-eclipse-temurin-{line}-noble",
            f"No Maven wrapper in the repository: the build stage uses the official maven image "
            f"({MAVEN_LINE} line) on the same JDK.",
        )
    return None

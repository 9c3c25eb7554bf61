"""Dockerfile and .dockerignore for every image of the plan.

Each Dockerfile is multi-stage (deps → build → runtime): dependency manifests are copied
before the source so a source-only change reuses the dependency layer, package managers
download through BuildKit cache mounts and install from their lock files, and the runtime
stage carries no compiler or build tool, runs as the plan's numeric non-root uid and starts
the web component's server in exec form. Base images are ARGs with pinned defaults.

What differs per language lives in render/dockerfiles/<language>.py, listed in BUILDERS.
"""

from __future__ import annotations

import posixpath

from deploysmith.model import Image, Plan, RenderedFile
from deploysmith.plan.images import RUNTIMES, runtime_for
from deploysmith.render.common import header
from deploysmith.render.dockerfiles import dotnet, go, jvm, node, php, python, ruby, rust, static
from deploysmith.render.dockerfiles.base import ImageContext, Language, Writer, context_ignores

BUILDERS: dict[str, Language] = {
    "python": python,
    "javascript": node,
    "typescript": node,
    "static": static,
    "go": go,
    "rust": rust,
    "java": jvm,
    "kotlin": jvm,
    "ruby": ruby,
    "php": php,
    "csharp": dotnet,
    "fsharp": dotnet,
    "dotnet": dotnet,
}


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    files: list[RenderedFile] = []
    for ctx in image_contexts(plan):
        files.append(RenderedFile(ctx.image.dockerfile, dockerfile(ctx)))
        files.append(RenderedFile(dockerignore_path(ctx.image), dockerignore(ctx)))
    return tuple(files)


def image_contexts(plan: Plan) -> tuple[ImageContext, ...]:
    """Every image with the workloads it runs, ordered as Image.components (web first)."""
    contexts = []
    for image in plan.images:
        by_name = {w.component.name: w for w in plan.workloads if w.image == image.name}
        workloads = tuple(by_name[name] for name in image.components if name in by_name)
        if workloads:
            contexts.append(ImageContext(plan, image, workloads))
    return tuple(contexts)


def builder_key(ctx: ImageContext) -> str:
    if runtime_for(ctx.component) is RUNTIMES["static"]:
        return "static"
    return ctx.component.language or ""


def builder(ctx: ImageContext) -> Language:
    return BUILDERS[builder_key(ctx)]


def dockerignore_path(image: Image) -> str:
    return ".dockerignore" if image.context in (".", "") else f"{image.context.rstrip('/')}/.dockerignore"


def dockerfile(ctx: ImageContext) -> str:
    image = ctx.image
    out = Writer()
    if image.build_base:
        out.arg("BUILD_IMAGE", image.build_base)
    out.arg("RUNTIME_IMAGE", image.runtime_base)
    builder(ctx).build(ctx, out)
    lines = ["# syntax=docker/dockerfile:1", *_header(ctx, out), ""]
    lines.extend(f"ARG {name}={default}" for name, default in out.args)
    return "\n".join(lines) + "\n\n" + out.text().lstrip("\n")


def _header(ctx: ImageContext, out: Writer) -> list[str]:
    image = ctx.image
    component = ctx.component
    what = component.language or "static"
    if component.package_manager:
        what += f", {component.package_manager}"
    where = "the repository root" if image.context in (".", "") else image.context
    text = Writer()
    text.comment(header(f'container image "{image.name}" ({what}), built from {where}'))
    text.line("#")
    text.comment(
        "Base images are pinned to a version line; override one without editing this file, e.g. "
        f"docker build --build-arg RUNTIME_IMAGE={image.runtime_base} ."
    )
    for name, default in out.args:
        text.line(f"#   {name}={default}")
    text.comment("Why: " + " ".join(image.reasons))
    text.line("#")
    runs = ", ".join(f"{w.component.name} ({w.component.kind})" for w in ctx.workloads)
    text.comment(
        f"Runs: {runs}. Build with BuildKit (docker build, docker compose, buildx): the cache "
        "mounts below keep package downloads out of the layers."
    )
    return text.lines


def dockerignore(ctx: ImageContext) -> str:
    intro = Writer()
    intro.comment(header(f'.dockerignore for the build context of image "{ctx.image.name}"'))
    intro.comment(
        "What is listed here stays out of the build context: smaller uploads, no secrets in "
        "layers, and edits to these files do not invalidate the image's cache."
    )
    lines = [
        *intro.lines,
        "",
        "# Version control, CI and editor files",
        ".git",
        ".gitignore",
        ".github/",
        ".gitlab-ci.yml",
        ".circleci/",
        "azure-pipelines.yml",
        "Jenkinsfile",
        ".idea/",
        ".vscode/",
        "**/.DS_Store",
        "**/*.swp",
        "",
        "# The deployment kit: changing it must not rebuild the image",
        _relative(ctx.image.dockerfile, ctx.image.context),
        ".dockerignore",
        "compose.yaml",
        "deploy/",
        "docs/deploy/",
        ".deploysmith/",
        "security/",
        "",
        "# Secrets and local environment files never go into a layer; pass them at runtime",
        "**/.env",
        "**/.env.*",
        "**/*.pem",
        "**/*.key",
        "**/*.p12",
        "**/*.pfx",
    ]
    nested = context_ignores(ctx)
    if nested:
        lines += ["", "# Other images' build contexts", *nested]
    lines.append("")
    for entry in builder(ctx).ignore(ctx):
        if entry.startswith("# ") and lines[-1] != "":
            lines.append("")
        lines.append(entry)
    return "\n".join(lines) + "\n"


def _relative(path: str, context: str) -> str:
    return posixpath.relpath(path, context if context not in ("", ".") else ".")

"""Dockerfile rules: who the container runs as, what it is built from, what it bakes in.

Applies to Dockerfile, Dockerfile.*, Containerfile and *.dockerfile. Rules about the
running image (user, CMD form, package hygiene, healthcheck) look at the final stage and
the earlier stages it is built FROM; rules about the build (base tags, remote ADD,
secrets, layer order) look at every stage.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from deploysmith.audit.base import FileSet, Hit, Rule
from deploysmith.audit.parse import Dockerfile, Instruction, Stage, env_pairs, split_image
from deploysmith.audit.secrets import is_secret_name

_TEMPLATE_SUFFIXES = (".j2", ".jinja", ".jinja2", ".tmpl", ".tpl", ".template", ".in", ".dockerignore")


def applies_to(path: str) -> bool:
    name = posixpath.basename(path)
    lower = name.lower()
    if lower.endswith(_TEMPLATE_SUFFIXES):
        return False
    return name.startswith(("Dockerfile", "Containerfile")) or lower.endswith(".dockerfile")


# -- DS-DOCKER-001 ----------------------------------------------------------------------------

_ROOT_USERS = frozenset({"root", "0"})
# Base images whose default user is not root.
_NON_ROOT_BASE = re.compile(r"[:-]nonroot\b|chiseled|^cgr\.dev/", re.IGNORECASE)


def _user_root(fs: FileSet) -> Iterator[Hit]:
    for df in fs.dockerfiles:
        lineage = df.final_lineage()
        if not lineage:
            continue
        user: Instruction | None = None
        for stage in lineage:
            for ins in stage.instructions:
                if ins.keyword == "USER":
                    user = ins
        final = lineage[-1]
        if user is None:
            if not _NON_ROOT_BASE.search(lineage[0].base):
                yield Hit(
                    df.path,
                    final.line,
                    "the final stage has no USER, so the container runs as root; "
                    "add `USER <uid>` (a numeric non-root uid such as 10001) after the last package install",
                )
            continue
        name = user.args.split(":", 1)[0].strip()
        if name in _ROOT_USERS:
            yield Hit(
                df.path,
                user.line,
                f"`USER {user.args.strip()}` makes the final stage run as root; "
                "switch to a numeric non-root uid",
            )


# -- DS-DOCKER-002 ----------------------------------------------------------------------------


def _base_latest(fs: FileSet) -> Iterator[Hit]:
    for df in fs.dockerfiles:
        earlier: set[str] = set()
        for stage in df.stages:
            base = stage.base
            if base.lower() == "scratch" or base.lower() in earlier or "$" in base or not base:
                pass
            else:
                _, tag, digest = split_image(base)
                if digest is None and tag is None:
                    yield Hit(
                        df.path,
                        stage.line,
                        f"base image `{base}` has no tag, so it means `latest` and changes under you; "
                        "pin a version tag (and ideally a digest)",
                    )
                elif digest is None and tag == "latest":
                    yield Hit(
                        df.path,
                        stage.line,
                        f"base image `{base}` uses the moving `latest` tag; "
                        "pin a version tag (and ideally a digest)",
                    )
            if stage.name:
                earlier.add(stage.name)


# -- DS-DOCKER-003 ----------------------------------------------------------------------------

_REMOTE = re.compile(r"^(?:https?|ftp)://|^git@|\.git(?:#\S*)?$", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def _add_remote(fs: FileSet) -> Iterator[Hit]:
    for df in fs.dockerfiles:
        for ins in df.instructions:
            if ins.keyword != "ADD" or ins.flag("checksum"):
                continue
            sources = ins.args.split("\n", 1)[0].split()[:-1]
            remote = next((src for src in sources if _REMOTE.search(src)), None)
            if remote is not None:
                yield Hit(
                    df.path,
                    ins.line,
                    f"ADD downloads `{_URL_CREDENTIALS.sub('***@', remote)}` without verifying it; "
                    "use `ADD --checksum=sha256:…` "
                    "or RUN curl with a checksum check",
                )


# -- DS-DOCKER-004 ----------------------------------------------------------------------------


def _shell_form(fs: FileSet) -> Iterator[Hit]:
    for df in fs.dockerfiles:
        for stage in df.final_lineage():
            for ins in stage.instructions:
                if ins.keyword in ("CMD", "ENTRYPOINT") and ins.args.strip() and ins.exec_form() is None:
                    yield Hit(
                        df.path,
                        ins.line,
                        f"{ins.keyword} uses the shell form, so the app runs under /bin/sh -c and does not "
                        f'receive SIGTERM; use the exec form {ins.keyword} ["executable", "arg"]',
                    )


# -- DS-DOCKER-005 ----------------------------------------------------------------------------

def _secret_env(fs: FileSet) -> Iterator[Hit]:
    for df in fs.dockerfiles:
        for ins in df.instructions:
            if ins.keyword not in ("ENV", "ARG"):
                continue
            for name, value in env_pairs(ins.args):
                if value is None or not value.strip() or not is_secret_name(name):
                    continue
                where = "image config and history" if ins.keyword == "ENV" else "build history"
                yield Hit(
                    df.path,
                    ins.line,
                    f"{ins.keyword} {name} sets a secret value that stays in the {where}; pass it at run "
                    "time (orchestrator secret) or at build time with RUN --mount=type=secret",
                )


# -- DS-DOCKER-006 / 007 ------------------------------------------------------------------------

_APT_INSTALL = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*install\b")
_APT_NO_RECOMMENDS = re.compile(r"--no-install-recommends|APT::Install-Recommends\s*=\s*\"?(?:false|0)")
_APT_LISTS_CLEANED = re.compile(r"rm\s+-[rRf]+\s+[^;&|]*?/var/lib/apt/lists")
_PIP_INSTALL = re.compile(r"(?<![\w-])(?:python[\d.]*\s+-m\s+)?pip[\d.]*\s+install\b")
_UV_PIP = re.compile(r"\buv\s+pip\s+install\b")


def _cache_mount(ins: Instruction, target: str) -> bool:
    return any("type=cache" in mount and target in mount for mount in ins.flag_values("mount"))


def _lineage_runs(df: Dockerfile) -> Iterator[tuple[Stage, Instruction]]:
    for stage in df.final_lineage():
        for ins in stage.instructions:
            if ins.keyword == "RUN":
                yield stage, ins


def _apt_hygiene(fs: FileSet) -> Iterator[Hit]:
    for df in fs.dockerfiles:
        for _, ins in _lineage_runs(df):
            if not _APT_INSTALL.search(ins.args):
                continue
            missing = []
            if not _APT_NO_RECOMMENDS.search(ins.args):
                missing.append("--no-install-recommends")
            if not _APT_LISTS_CLEANED.search(ins.args) and not _cache_mount(ins, "/var/lib/apt"):
                missing.append("`rm -rf /var/lib/apt/lists/*` in the same RUN")
            if missing:
                yield Hit(
                    df.path,
                    ins.line,
                    f"apt-get install in the final image without {' and '.join(missing)}; "
                    "the image carries packages and package lists it does not need",
                )


def _pip_cache(fs: FileSet) -> Iterator[Hit]:
    for df in fs.dockerfiles:
        env_off = False
        for stage in df.final_lineage():
            for ins in stage.instructions:
                if ins.keyword == "ENV" and any(
                    name == "PIP_NO_CACHE_DIR" and (value or "").lower() not in ("", "0", "false", "no")
                    for name, value in env_pairs(ins.args)
                ):
                    env_off = True
                if ins.keyword != "RUN" or env_off:
                    continue
                text = _UV_PIP.sub("", ins.args)
                if (
                    _PIP_INSTALL.search(text)
                    and "--no-cache-dir" not in text
                    and not _cache_mount(ins, "/root/.cache")
                    and not _cache_mount(ins, "pip")
                ):
                    yield Hit(
                        df.path,
                        ins.line,
                        "pip install in the final image keeps its download cache in the layer; add "
                        "--no-cache-dir or use RUN --mount=type=cache,target=/root/.cache/pip",
                    )


# -- DS-DOCKER-008 ----------------------------------------------------------------------------

_DEPENDENCY_INSTALL = re.compile(
    r"\b(?:pip[\d.]*\s+install|poetry\s+install|uv\s+sync|pipenv\s+(?:install|sync)|pdm\s+(?:install|sync)|"
    r"npm\s+(?:ci|install|i)\b|yarn(?:\s+install|\s+--frozen-lockfile|\s+--immutable|\s*(?:&&|;|$))|"
    r"pnpm\s+(?:install|i)\b|bun\s+install|go\s+mod\s+download|bundle\s+install|composer\s+install|"
    r"mvn\b[^;&|]*dependency:|gradle\w*\b[^;&|]*dependencies|cargo\s+fetch|dotnet\s+restore)",
    re.MULTILINE,
)


def _is_whole_context(ins: Instruction) -> bool:
    if ins.keyword not in ("COPY", "ADD") or ins.flag("from"):
        return False
    words = ins.args.split("\n", 1)[0].split()
    if words and words[0].startswith("["):  # JSON form
        words = [word.strip('[]",') for word in words]
    return any(src in (".", "./") for src in words[:-1])


def _copy_before_deps(fs: FileSet) -> Iterator[Hit]:
    for df in fs.dockerfiles:
        for stage in df.stages:
            # Dependencies installed before the source arrives (here or in a stage this one is
            # built FROM) make a later install the project's own (uv sync, pip install .): fine.
            installed = any(
                ins.keyword == "RUN" and _DEPENDENCY_INSTALL.search(ins.args)
                for parent in df.lineage(stage.index)[:-1]
                for ins in parent.instructions
            )
            copy_all: Instruction | None = None
            for ins in stage.instructions:
                is_install = ins.keyword == "RUN" and bool(_DEPENDENCY_INSTALL.search(ins.args))
                if copy_all is None:
                    installed = installed or is_install
                    if not installed and _is_whole_context(ins):
                        copy_all = ins
                elif is_install:
                    yield Hit(
                        df.path,
                        copy_all.line,
                        f"copies the whole build context before installing dependencies (line {ins.line}), "
                        "so any source change reinstalls them; copy the dependency manifests first, "
                        "install, then copy the rest",
                    )
                    break


# -- DS-DOCKER-009 ----------------------------------------------------------------------------

# Final images with neither a shell nor a runtime that can run an inline check: scratch,
# distroless static/base/cc, .NET chiseled (the runtime cannot run a script without an app).
_NO_SHELL_BASE = re.compile(r"^scratch$|distroless/(?:static|base|cc)(?:[-:@]|$)|chiseled", re.IGNORECASE)


def _no_healthcheck(fs: FileSet) -> Iterator[Hit]:
    for df in fs.dockerfiles:
        lineage = df.final_lineage()
        if not lineage or _NO_SHELL_BASE.search(lineage[0].base):
            continue
        if any(ins.keyword == "HEALTHCHECK" for stage in lineage for ins in stage.instructions):
            continue
        yield Hit(
            df.path,
            lineage[-1].line,
            "the final image has no HEALTHCHECK, so `docker run`/compose cannot tell a hung app from a "
            "healthy one; add one (or `HEALTHCHECK NONE` when the orchestrator probes it)",
        )


# -- DS-DOCKER-010 ----------------------------------------------------------------------------


def _missing_dockerignore(fs: FileSet) -> Iterator[Hit]:
    for df in fs.dockerfiles:
        if f"{df.path}.dockerignore" in fs.paths:
            continue
        folder = posixpath.dirname(df.path)
        while True:
            if posixpath.join(folder, ".dockerignore") in fs.paths:
                break
            if not folder:
                yield Hit(
                    df.path,
                    None,
                    "no .dockerignore beside this Dockerfile (or in a folder above it): .git, local .env "
                    "files and dependency folders are sent to the builder and can end up in the image",
                )
                break
            folder = posixpath.dirname(folder)


RULES: tuple[Rule, ...] = (
    Rule("DS-DOCKER-001", "dockerfile-user-root", "error",
         "The final stage runs as root (no USER, or USER root).", _user_root),
    Rule("DS-DOCKER-002", "dockerfile-base-latest", "error",
         "A base image is untagged or uses the moving `latest` tag.", _base_latest),
    Rule("DS-DOCKER-003", "dockerfile-add-remote", "warning",
         "ADD downloads a remote URL without a checksum.", _add_remote),
    Rule("DS-DOCKER-004", "dockerfile-shell-form-cmd", "warning",
         "CMD or ENTRYPOINT uses the shell form, so the app does not receive signals.", _shell_form),
    Rule("DS-DOCKER-005", "dockerfile-secret-in-env", "error",
         "ENV or ARG sets a secret-looking variable to a value baked into the image.", _secret_env),
    Rule("DS-DOCKER-006", "dockerfile-apt-hygiene", "warning",
         "apt-get install without --no-install-recommends or without removing the package lists.",
         _apt_hygiene),
    Rule("DS-DOCKER-007", "dockerfile-pip-cache", "warning",
         "pip install without --no-cache-dir or a cache mount.", _pip_cache),
    Rule("DS-DOCKER-008", "dockerfile-copy-before-deps", "warning",
         "The whole build context is copied before the dependency install step.", _copy_before_deps),
    Rule("DS-DOCKER-009", "dockerfile-no-healthcheck", "info",
         "The final image has a shell or runtime but no HEALTHCHECK.", _no_healthcheck),
    Rule("DS-DOCKER-010", "dockerfile-missing-dockerignore", "warning",
         "No .dockerignore beside the Dockerfile.", _missing_dockerignore),
)

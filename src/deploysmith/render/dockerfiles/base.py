"""What the language modules share: the image context, a small Dockerfile writer, the
start-command parser and the pinned build tools.

The writer lays out instructions only; what goes into them is decided by the language
modules, so each Dockerfile reads like one written by hand for that stack.
"""

from __future__ import annotations

import json
import re
import shlex
import textwrap
from dataclasses import dataclass
from typing import Protocol

from deploysmith.errors import DeploysmithError
from deploysmith.model import Component, Image, Plan, Workload

# Build-time tools installed inside the build stages, pinned to exact versions. Versions
# were read from PyPI and the npm registry on TOOLS_CHECKED; the Composer image tag from
# docker-library/official-images (library/composer). Bump them like any dependency.
TOOLS_CHECKED = "2026-11-22"
TOOLS: dict[str, str] = {
    "uv": "0.13.9",
    "poetry": "2.5.1",
    "pdm": "2.29.3",
    "pipenv": "2026.10.3",
    "corepack": "0.36.0",
    "bun": "1.4.5",
}
COMPOSER_IMAGE = "composer:2.9"

WIDTH = 100  # comment lines wrap here
APP_DIR = "/app"

HEALTHCHECK_NOTE = (
    "For docker and compose; Kubernetes ignores HEALTHCHECK and uses the probes in the manifests."
)
APT_UNPINNED = (
    "Debian/Ubuntu package versions are not pinned (hadolint DL3008) on purpose: the base "
    "image's release fixes them, and a pinned exact version breaks the build as soon as the "
    "archive ships a security update."
)


@dataclass(frozen=True)
class ImageContext:
    """One image and the workloads that run from it, the web (or static) one first."""

    plan: Plan
    image: Image
    workloads: tuple[Workload, ...]

    @property
    def lead(self) -> Workload:
        return self.workloads[0]

    @property
    def component(self) -> Component:
        return self.lead.component

    @property
    def port(self) -> int | None:
        return self.lead.container_port

    @property
    def manifests(self) -> tuple[str, ...]:
        """Dependency files of every component built here, in the detector's order."""
        seen: dict[str, None] = {}
        for workload in self.workloads:
            for name in workload.component.dependency_files:
                seen.setdefault(name, None)
        return tuple(seen)

    def has(self, *names: str) -> bool:
        return any(name in self.manifests for name in names)

    @property
    def services(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for workload in self.workloads:
            for service in workload.component.services:
                seen.setdefault(service, None)
        return tuple(seen)


@dataclass(frozen=True)
class DevSetup:
    """How compose.yaml runs the image for local development."""

    target: str  # the Dockerfile stage compose builds
    reason: str  # why, shown as a comment in compose.yaml
    command: tuple[str, ...] | None = None  # the web process's dev command; None: the image's CMD
    port: int | None = None  # the dev command's port, when it differs from the image's
    bind_source: bool = False  # bind-mount the build context read-only over the workdir
    sync: bool = False  # compose watch copies changed files into the workdir (stage runs as root)
    workdir: str = APP_DIR


class Language(Protocol):
    """A module under render/dockerfiles/."""

    def build(self, ctx: ImageContext, out: Writer) -> None: ...

    def ignore(self, ctx: ImageContext) -> tuple[str, ...]: ...

    def dev(self, ctx: ImageContext) -> DevSetup: ...


class Writer:
    """Dockerfile lines, plus the base-image ARGs that must come before the first FROM."""

    def __init__(self) -> None:
        self.args: list[tuple[str, str]] = []
        self.lines: list[str] = []

    def arg(self, name: str, default: str) -> None:
        if (name, default) not in self.args:
            self.args.append((name, default))

    def comment(self, text: str) -> None:
        for paragraph in text.strip().split("\n"):
            wrapped = textwrap.wrap(paragraph, WIDTH - 2, break_on_hyphens=False) or [""]
            self.lines.extend(f"# {line}".rstrip() for line in wrapped)

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def line(self, text: str) -> None:
        self.lines.append(text)

    def stage(self, base: str, name: str, why: str) -> None:
        self.blank()
        self.comment(why)
        self.line(f"FROM {base} AS {name}")

    def env(self, *pairs: str) -> None:
        """ENV with one KEY=value per line; values are written as given (quote them)."""
        if len(pairs) == 1:
            self.line(f"ENV {pairs[0]}")
            return
        self.line(f"ENV {pairs[0]} \\")
        for pair in pairs[1:-1]:
            self.line(f"    {pair} \\")
        self.line(f"    {pairs[-1]}")

    def run(self, *commands: str, mounts: tuple[str, ...] = (), ignore: tuple[str, ...] = ()) -> None:
        if ignore:
            self.line("# hadolint ignore=" + ",".join(ignore))
        parts = [f"--mount={mount}" for mount in mounts]
        parts.append(commands[0])
        parts.extend(f"&& {command}" for command in commands[1:])
        if len(parts) == 1:
            self.line(f"RUN {parts[0]}")
            return
        self.line(f"RUN {parts[0]} \\")
        for part in parts[1:-1]:
            self.line(f"    {part} \\")
        self.line(f"    {parts[-1]}")

    def apt_install(self, packages: tuple[str, ...], *after: str, before: tuple[str, ...] = ()) -> None:
        """apt-get install without recommends, lists removed in the same layer."""
        self.comment(APT_UNPINNED)
        self.run(
            *before,
            "apt-get update",
            "apt-get install -y --no-install-recommends " + " ".join(packages),
            *after,
            "rm -rf /var/lib/apt/lists/*",
            ignore=("DL3008",),
        )

    def heredoc(self, destination: str, content: str) -> None:
        """A file written by the Dockerfile itself (BuildKit heredoc; quoted: no expansion)."""
        self.line(f"COPY <<'EOF' {destination}")
        self.lines.extend(content.rstrip("\n").split("\n"))
        self.line("EOF")
        # hadolint (2.15) only parses a heredoc that is followed by an empty line.
        self.line("")

    def exec_form(self, instruction: str, argv: tuple[str, ...] | list[str]) -> None:
        self.line(f"{instruction} {json.dumps(list(argv))}")

    def no_healthcheck(self) -> None:
        """For a process that serves no port: say so, instead of leaving docker to guess."""
        self.comment(
            "No health command: this process serves no port to ask. Docker and Kubernetes watch the process "
            "itself (an exit restarts it)."
        )
        self.line("HEALTHCHECK NONE")

    def healthcheck(self, argv: tuple[str, ...], start_period: str = "30s") -> None:
        self.line(f"HEALTHCHECK --interval=30s --timeout=5s --start-period={start_period} --retries=3 \\")
        self.line(f"    CMD {json.dumps(list(argv))}")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n") + "\n"


def cache(target: str, id: str | None = None) -> str:
    """A BuildKit cache mount: the package manager's download cache survives rebuilds
    without ending up in a layer."""
    return f"type=cache,target={target}" + (f",id={id}" if id else "")


def copy_manifests(out: Writer, files: tuple[str, ...], dest: str = "./") -> None:
    """COPY the dependency manifests (relative to the context), one COPY per directory so
    nested files keep their paths."""
    groups: dict[str, list[str]] = {}
    for name in files:
        folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        groups.setdefault(folder, []).append(name)
    for folder, names in groups.items():
        target = dest if not folder else (folder if dest in ("./", ".") else dest.rstrip("/") + "/" + folder)
        out.line("COPY " + " ".join(names) + " " + target)


def create_user(out: Writer, uid: int, name: str = "app") -> None:
    out.comment(
        f"A system user for uid {uid} (the base image has none): numeric USER below, no home, "
        "no login shell."
    )
    out.run(
        f"groupadd --system --gid {uid} {name}",
        f"useradd --system --uid {uid} --gid {name} --no-create-home --home-dir /nonexistent "
        f"--shell /usr/sbin/nologin {name}",
    )


# ---------------------------------------------------------------------------------------
# Start commands


@dataclass(frozen=True)
class StartCommand:
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]  # leading VAR=value assignments, moved to ENV
    notes: tuple[str, ...]  # what was changed, said in a comment above CMD


_SHELL_TOKENS = frozenset({"&&", "||", ";", "|", "&", ">", ">>", "<", "2>&1", "2>", "1>", "<<"})
_PORT_VAR = re.compile(r"\$\{PORT(?::?-[0-9]*)?\}|\$PORT\b")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")


def parse_start(command: str, port: int | None, who: str) -> StartCommand:
    """The start command as an exec-form argv: split with shlex, never run through a shell,
    so the server itself is PID 1 and receives SIGTERM."""
    text = _PORT_VAR.sub(str(port), command) if port is not None else command
    try:
        tokens = shlex.split(text)
    except ValueError as error:
        raise DeploysmithError(
            f"{who}: cannot split the start command {command!r} ({error}); check its quoting"
        ) from None
    notes: list[str] = []
    if text != command:
        notes.append(f"$PORT in the detected start command is written as {port}, the workload port.")
    if "&&" in tokens:
        last = max(index for index, token in enumerate(tokens) if token == "&&")
        dropped = " ".join(tokens[:last])
        tokens = tokens[last + 1 :]
        notes.append(
            f"The detected start command chains steps with &&; the image runs only the server "
            f"({' '.join(tokens)}). Run `{dropped}` as a job or in the build instead."
        )
    shell_only = [t for t in tokens if t in _SHELL_TOKENS or "$" in t or "`" in t]
    if shell_only:
        raise DeploysmithError(
            f"{who}: the start command {command!r} needs a shell ({shell_only[0]!r}); the image "
            "runs its command without one so the server receives SIGTERM: set start_command to "
            "the server command itself"
        )
    env: list[tuple[str, str]] = []
    while tokens and _ASSIGNMENT.fullmatch(tokens[0]):
        key, value = tokens.pop(0).split("=", 1)
        env.append((key, value))
    if tokens and tokens[0] == "exec":
        tokens.pop(0)
    if not tokens:
        raise DeploysmithError(f"{who}: the start command {command!r} has no program to run")
    return StartCommand(tuple(tokens), tuple(env), tuple(notes))


def write_cmd(out: Writer, start: StartCommand, why: str) -> None:
    if start.env:
        out.env(*(f"{key}={json.dumps(value)}" for key, value in start.env))
    out.comment(why)
    for note in start.notes:
        out.comment("NOTE: " + note)
    out.exec_form("CMD", start.argv)


def probe_url(workload: Workload) -> str | None:
    probe = workload.probe
    if probe.kind == "http" and probe.port:
        return f"http://127.0.0.1:{probe.port}{probe.path or '/'}"
    return None


def worker_note(ctx: ImageContext) -> str | None:
    others = [w.component.name for w in ctx.workloads[1:]]
    if not others:
        return None
    return (
        f"{', '.join(others)} run{'s' if len(others) == 1 else ''} from this image too, with "
        "the command set in compose.yaml and the Kubernetes manifests."
    )


def context_ignores(ctx: ImageContext) -> tuple[str, ...]:
    """Other images' contexts nested inside this one: never part of this build."""
    here = ctx.image.context
    nested = []
    for image in ctx.plan.images:
        if image.context == here:
            continue
        if here == ".":
            nested.append(image.context.rstrip("/") + "/")
        elif image.context.startswith(here.rstrip("/") + "/"):
            nested.append(image.context[len(here.rstrip("/")) + 1 :].rstrip("/") + "/")
    return tuple(sorted(nested))


def write_distroless_tail(out: Writer, ctx: ImageContext, start: StartCommand) -> None:
    """The end of a distroless runtime stage for a compiled binary: user, port, why there is
    no HEALTHCHECK, and the exec-form command."""
    out.line(f"USER {ctx.image.uid}:{ctx.image.uid}")
    if ctx.port:
        out.line(f"EXPOSE {ctx.port}")
    out.comment(
        "No HEALTHCHECK: distroless has no shell or HTTP client to run one. Kubernetes probes the "
        "service; compose relies on the process staying up."
    )
    note = worker_note(ctx)
    write_cmd(
        out, start,
        "The binary is PID 1 (exec form) and receives SIGTERM directly." + (f" {note}" if note else ""),
    )

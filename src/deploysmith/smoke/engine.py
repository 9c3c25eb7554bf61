"""Container engines: which one the user has, and the exact command lines smoke runs.

Discovery looks for docker, podman and buildah on PATH, in that order (or the one named by
--engine). A docker client whose daemon does not answer is not an engine: the next one is
tried and the reason is kept for the message. buildah builds images but does not run
containers, so with buildah alone smoke builds, measures and checks the cache, and says
that the health probe was skipped.

Every command is built by a pure function below, so tests compare argv lists exactly.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from deploysmith.errors import DeploysmithError
from deploysmith.smoke.process import Runner

EngineName = Literal["docker", "podman", "buildah"]
ENGINES: tuple[EngineName, ...] = ("docker", "podman", "buildah")
PROBE_TIMEOUT = 20.0  # seconds for `version` / `--version`


@dataclass(frozen=True)
class Engine:
    name: EngineName
    path: str  # the executable found on PATH
    version: str

    @property
    def runs_containers(self) -> bool:
        return self.name != "buildah"

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}".strip()


def discover(
    runner: Runner, wanted: str | None = None, search_path: str | None = None
) -> tuple[Engine, tuple[str, ...]]:
    """The engine to use and notes on the ones passed over. DeploysmithError when none works.

    search_path: a PATH string (default: the process's PATH); tests pass fake directories.
    """
    names: tuple[EngineName, ...] = ENGINES if wanted is None else tuple(n for n in ENGINES if n == wanted)
    if not names:
        raise DeploysmithError(f"--engine {wanted}: not a supported engine (docker, podman or buildah)")
    notes: list[str] = []
    for name in names:
        path = shutil.which(name, path=search_path)
        if path is None:
            notes.append(f"{name}: not on PATH")
            continue
        engine, problem = _probe(runner, name, path)
        if engine is not None:
            return engine, tuple(notes)
        notes.append(f"{name}: {problem}")
    if wanted is not None:
        raise DeploysmithError(f"--engine {wanted}: {notes[-1].split(': ', 1)[1]}")
    raise DeploysmithError(
        "no usable container engine (" + "; ".join(notes) + "): install Docker or Podman "
        "(buildah alone builds but cannot run), or pass --engine"
    )


def _probe(runner: Runner, name: EngineName, path: str) -> tuple[Engine | None, str]:
    if name == "docker":
        # The client answers without a daemon; the server version needs one.
        result = runner.run([path, "version", "--format", "{{.Server.Version}}"], timeout=PROBE_TIMEOUT)
        version = result.stdout.strip()
        if not result.ok or not version:
            reason = result.tail(1) or "no answer"
            return None, f"{path} found, but no Docker daemon answers ({reason})"
        return Engine(name, path, version), ""
    result = runner.run([path, "--version"], timeout=PROBE_TIMEOUT)
    if not result.ok:
        return None, f"{path} found, but `{name} --version` failed ({result.tail(1)})"
    match = re.search(r"version\s+(\S+)", result.stdout)
    return Engine(name, path, match.group(1) if match else result.stdout.strip()), ""


# -- compose -----------------------------------------------------------------------------------


def compose_candidates(engine: Engine) -> tuple[tuple[str, ...], ...]:
    """Compose front ends that drive this engine, in order of preference."""
    if engine.name == "docker":
        return ((engine.path, "compose"), ("docker-compose",))
    if engine.name == "podman":
        return ((engine.path, "compose"), ("podman-compose",))
    return ()


def compose_up_command(
    engine: Engine,
    base: Sequence[str],
    *,
    pull: str | None = None,
    volumes: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """`up --detach --build` for the front end in `base` (front end, --project-name, --file).
    podman-compose passes options on to `podman build`: the same ones smoke's own builds use
    (Docker image format, so HEALTHCHECK is kept; the pull policy; read-only mounts). The
    compose plugins of docker and podman take no build mounts. Every front end gets the pull
    policy for the backing services' images."""
    front = base[0].rsplit("/", 1)[-1]
    argv = list(base)
    if front == "podman-compose":
        build = ["--format", "docker"]
        if pull is not None:
            build.append(f"--pull={_pull_value(engine, pull)}")
        for source, target in volumes:
            build += ["--volume", f"{source}:{target}:ro"]
        argv += ["--podman-build-args", shlex.join(build)]
    argv += ["up", "--detach", "--build"]
    if pull is not None:  # the backing services' images
        argv.append(f"--pull={pull}")
    return argv


def find_compose(runner: Runner, engine: Engine, search_path: str | None = None) -> tuple[str, ...] | None:
    for candidate in compose_candidates(engine):
        program = candidate[0] if "/" in candidate[0] else shutil.which(candidate[0], path=search_path)
        if program is None:
            continue
        argv = (program, *candidate[1:])
        if runner.run([*argv, "version"], timeout=PROBE_TIMEOUT).ok:
            return argv
    return None


# -- command lines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """How the kit runs a workload, as container-run options."""

    user: str  # "uid:gid", numeric
    read_only: bool
    tmpfs: tuple[str, ...]  # writable paths (Kubernetes emptyDir mounts)
    env: tuple[tuple[str, str], ...]
    port: int | None  # the container port to publish on 127.0.0.1
    command: tuple[str, ...] = ()  # empty: the image's CMD


TMPFS_OPTIONS = "rw,nosuid,nodev,mode=1777,size=256m"  # emptyDir with a 256Mi sizeLimit


def build_command(
    engine: Engine,
    *,
    context: str,
    dockerfile: str,
    tag: str,
    iidfile: str,
    pull: str | None = None,
    volumes: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """Build the Dockerfile's last stage (what CI ships). podman and buildah write the
    Docker image format, without which HEALTHCHECK is dropped; buildah needs --layers for
    the layer cache the rebuild check measures. volumes are read-only mounts into RUN steps
    (podman and buildah only)."""
    argv = [engine.path]
    if engine.name == "docker":
        argv += ["build", "--progress=plain"]
    elif engine.name == "podman":
        argv += ["build", "--format", "docker"]
    else:
        argv += ["build", "--format", "docker", "--layers"]
    if pull is not None:
        argv.append(f"--pull={_pull_value(engine, pull)}")
    if engine.name != "docker":
        for source, target in volumes:
            argv += ["--volume", f"{source}:{target}:ro"]
    argv += ["--file", dockerfile, "--tag", tag, "--iidfile", iidfile, context]
    return argv


def _pull_value(engine: Engine, pull: str) -> str:
    if engine.name == "docker":
        # docker build knows only "always" (--pull) or not; "never"/"missing" use local images.
        return "true" if pull == "always" else "false"
    return pull


def run_command(engine: Engine, spec: RunSpec, image: str, name: str, cidfile: str) -> list[str]:
    """Detached, as the kit's manifests run it: numeric non-root user, every capability
    dropped, no privilege escalation, a read-only root with tmpfs where the manifests mount
    emptyDirs, the manifests' environment, the port published on loopback only."""
    argv = [engine.path, "run", "--detach", "--name", name, "--cidfile", cidfile]
    argv += ["--user", spec.user, "--cap-drop=ALL", "--security-opt=no-new-privileges"]
    if spec.read_only:
        argv.append("--read-only")
        if engine.name == "podman":
            # podman would mount tmpfs on /tmp, /var/tmp and /run by itself; Kubernetes does not.
            argv.append("--read-only-tmpfs=false")
    for path in spec.tmpfs:
        argv += ["--tmpfs", f"{path}:{TMPFS_OPTIONS}"]
    for key, value in spec.env:
        argv += ["--env", f"{key}={value}"]
    if spec.port is not None:
        argv += ["--publish", f"127.0.0.1::{spec.port}"]
    argv.append(image)
    argv += list(spec.command)
    return argv


def inspect_image_command(engine: Engine, image_id: str) -> list[str]:
    if engine.name == "buildah":
        return [engine.path, "inspect", "--type", "image", image_id]
    return [engine.path, "image", "inspect", image_id]


def list_images_command(engine: Engine) -> list[str]:
    """Every image id, intermediates included (the same flags for all three engines)."""
    return [engine.path, "images", "--all", "--quiet", "--no-trunc"]


def port_command(engine: Engine, container: str, port: int) -> list[str]:
    return [engine.path, "port", container, f"{port}/tcp"]


def state_command(engine: Engine, container: str) -> list[str]:
    state = "{{.State.Status}} {{.State.ExitCode}}"
    return [engine.path, "container", "inspect", "--format", state, container]


def logs_command(engine: Engine, container: str) -> list[str]:
    return [engine.path, "logs", "--tail", "40", container]


def healthcheck_command(engine: Engine, container: str) -> list[str] | None:
    """Run the image's own HEALTHCHECK once, inside the container (podman only: docker runs
    it on its schedule, the first time after the 30 s interval)."""
    if engine.name == "podman":
        return [engine.path, "healthcheck", "run", container]
    return None


def remove_containers_command(engine: Engine, containers: Sequence[str]) -> list[str]:
    argv = [engine.path, "rm", "--force"]
    if engine.name == "podman":
        argv += ["--time", "0"]
    return argv + list(containers)


def remove_images_command(engine: Engine, images: Sequence[str]) -> list[str]:
    return [engine.path, "rmi", *images]


def normalize_id(image_id: str) -> str:
    return image_id.strip().removeprefix("sha256:")

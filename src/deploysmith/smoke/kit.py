"""The kit smoke runs: detect → plan (the `--yes` defaults plus deploysmith.yaml, never a
prompt) → render in memory, with the repository's own files taking precedence.

For each image, the Dockerfile is the repository's when it has one at the planned path
(with the repository's .dockerignore, if any), else the rendered one (with the rendered
.dockerignore). The same rule, file by file, gives the Kustomize files the environment is
read from, and compose.yaml. Nothing is written into the repository: builds run from a
temporary copy of it (the workspace) with the missing kit files written there.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from deploysmith.errors import DeploysmithError
from deploysmith.model import Image, Plan, Probe, RenderedFile, Workload
from deploysmith.plan import SERVICE_ENV
from deploysmith.render.common import BASE_DIR, OVERLAYS_DIR
from deploysmith.smoke.engine import RunSpec

Source = Literal["repository", "rendered"]

# Directories never copied into the workspace: version control and local tool state. A
# Dockerfile that needs one of these from the host is outside what smoke can reproduce.
WORKSPACE_SKIP = frozenset({
    ".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache",
})
SOURCE_EXTENSIONS = (
    ".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".go", ".rs", ".java", ".kt", ".scala",
    ".rb", ".php", ".cs", ".fs", ".vue", ".svelte", ".html", ".css",
)
_NOT_SOURCE_DIRS = ("test/", "tests/", "spec/", "__tests__/", "docs/", "deploy/", ".github/")

# Values for the Secret keys a workload reads (Workload.secret_env). Every one is visibly
# fake, and every host is under .invalid (RFC 2606), so nothing can ever be reached with it.
FAKE_HOST = "fake-{service}.invalid"
FAKE_USER = "smoke-fake"
FAKE_PASSWORD = "not-a-real-password"
_DATABASE_SCHEMES = {"postgres": "postgresql", "mysql": "mysql", "mariadb": "mysql", "sqlserver": "sqlserver"}
_DATABASE_PORTS = {"postgres": 5432, "mysql": 3306, "mariadb": 3306, "sqlserver": 1433}
FAKE_VALUES: Mapping[str, str] = {
    "REDIS_URL": "redis://fake-redis.invalid:6379/0",
    "MONGODB_URI": f"mongodb://{FAKE_USER}:{FAKE_PASSWORD}@fake-mongodb.invalid:27017/smoke-fake",
    "AMQP_URL": f"amqp://{FAKE_USER}:{FAKE_PASSWORD}@fake-rabbitmq.invalid:5672/",
    "KAFKA_BOOTSTRAP_SERVERS": "fake-kafka.invalid:9092",
    "ELASTICSEARCH_URL": "http://fake-elasticsearch.invalid:9200",
    "MEMCACHED_SERVERS": "fake-memcached.invalid:11211",
    "NATS_URL": "nats://fake-nats.invalid:4222",
    "S3_ENDPOINT": "http://fake-minio.invalid:9000",
    "SECRET_KEY": "deploysmith-smoke-fake-secret-key-not-for-use",
    "SECRET_KEY_BASE": "deploysmith-smoke-fake-secret-key-base-not-for-use-" + "0" * 64,
    # Laravel wants base64 of exactly 32 bytes.
    "APP_KEY": "base64:" + base64.b64encode(b"deploysmith-smoke-fake-key-32byt").decode(),
}


@dataclass(frozen=True)
class KitFile:
    path: str  # relative to the repository root
    content: str
    source: Source


@dataclass(frozen=True)
class Target:
    """One image to build and the workload smoke runs from it (the image's lead)."""

    image: Image
    workload: Workload
    dockerfile: KitFile
    dockerignore: KitFile | None
    run: RunSpec
    fake_env: tuple[str, ...]  # keys that carry fake Secret values

    @property
    def probe(self) -> Probe:
        return self.workload.probe


@dataclass(frozen=True)
class Kit:
    root: Path
    plan: Plan
    rendered: Mapping[str, RenderedFile]

    def file(self, path: str) -> KitFile | None:
        on_disk = self.root / path
        if on_disk.is_file():
            return KitFile(path, on_disk.read_text(encoding="utf-8", errors="replace"), "repository")
        rendered = self.rendered.get(path)
        return KitFile(path, rendered.content, "rendered") if rendered else None

    def rendered_file(self, path: str) -> KitFile | None:
        rendered = self.rendered.get(path)
        return KitFile(path, rendered.content, "rendered") if rendered else None


def load_kit(path: str) -> Kit:
    """detect + plan with the `--yes` defaults (deploysmith.yaml still applies) + render."""
    from deploysmith.detect import detect_path
    from deploysmith.plan import build_plan
    from deploysmith.plan.requirements import gather, load_config
    from deploysmith.render import render_kit

    root = Path(path)
    if not root.is_dir():
        raise DeploysmithError(f"{path}: not a directory")
    stack = detect_path(path)
    plan = build_plan(stack, gather(stack, {}, load_config(root), None))
    files = render_kit(plan)
    return Kit(root, plan, {rendered.path: rendered for rendered in files})


def targets(kit: Kit, environment: str, only: Iterable[str] = ()) -> tuple[Target, ...]:
    wanted = tuple(only)
    known = [image.name for image in kit.plan.images]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise DeploysmithError(
            f"--image {unknown[0]}: no such image in the plan (images: {', '.join(known)})"
        )
    result = []
    for image in kit.plan.images:
        if wanted and image.name not in wanted:
            continue
        lead = _lead(kit.plan, image)
        if lead is None:
            continue
        dockerfile = kit.file(image.dockerfile)
        assert dockerfile is not None  # every planned image has a rendered Dockerfile
        ignore_path = dockerignore_path(image)
        if dockerfile.source == "repository":
            dockerignore = kit.file(ignore_path) if (kit.root / ignore_path).is_file() else None
        else:
            dockerignore = kit.rendered_file(ignore_path)
        env, fake = workload_env(kit, lead, environment)
        spec = RunSpec(
            user=f"{lead.uid}:{lead.uid}",
            read_only=lead.read_only_root,
            tmpfs=lead.writable_paths if lead.read_only_root else (),
            env=env,
            port=lead.container_port,
        )
        result.append(Target(image, lead, dockerfile, dockerignore, spec, fake))
    return tuple(result)


def _lead(plan: Plan, image: Image) -> Workload | None:
    by_name = {w.component.name: w for w in plan.workloads if w.image == image.name}
    for name in image.components:
        if name in by_name:
            return by_name[name]
    return None


def dockerignore_path(image: Image) -> str:
    return ".dockerignore" if image.context in (".", "") else f"{image.context.rstrip('/')}/.dockerignore"


# -- environment -------------------------------------------------------------------------------


def workload_env(
    kit: Kit, workload: Workload, environment: str
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """What the manifests set: the ConfigMap literals of the base and of the overlay (PORT,
    APP_ENV, …), then a fake value for each Secret key. Returns (env, fake keys)."""
    name = workload.component.name
    values: dict[str, str] = {}
    found = False
    for path in (f"{BASE_DIR}/{name}/kustomization.yaml", f"{OVERLAYS_DIR}/{environment}/kustomization.yaml"):
        literals = config_literals(kit.file(path), f"{name}-config")
        if literals is not None:
            found = True
            values.update(literals)
    if not found and workload.container_port is not None:
        values["PORT"] = str(workload.container_port)
    fake = tuple(key for key in workload.secret_env if key not in values)
    for key in fake:
        values[key] = fake_value(key, workload.component.services)
    return tuple(values.items()), fake


def config_literals(file: KitFile | None, config_name: str) -> dict[str, str] | None:
    """KEY=value literals of the configMapGenerator entry `config_name`; None when absent."""
    if file is None:
        return None
    import yaml

    try:
        data: Any = yaml.safe_load(file.content)
    except yaml.YAMLError:
        raise DeploysmithError(
            f"{file.path}: not valid YAML; fix it, or remove it to use the rendered one"
        ) from None
    if not isinstance(data, dict):
        return None
    result: dict[str, str] | None = None
    for entry in data.get("configMapGenerator") or ():
        if isinstance(entry, dict) and entry.get("name") == config_name:
            result = result or {}
            for literal in entry.get("literals") or ():
                key, sep, value = str(literal).partition("=")
                if sep:
                    result[key] = value
    return result


def fake_value(key: str, services: Iterable[str] = ()) -> str:
    if key == "DATABASE_URL":
        service = next((s for s in services if SERVICE_ENV.get(s) == "DATABASE_URL"), "postgres")
        scheme = _DATABASE_SCHEMES.get(service, service)
        port = _DATABASE_PORTS.get(service, 5432)
        host = FAKE_HOST.format(service=service)
        return f"{scheme}://{FAKE_USER}:{FAKE_PASSWORD}@{host}:{port}/smoke-fake"
    return FAKE_VALUES.get(key, f"deploysmith-smoke-fake-{key.lower().replace('_', '-')}")


# -- workspace -----------------------------------------------------------------------------------


def prepare_workspace(
    kit: Kit, chosen: Iterable[Target], destination: Path, extra: Iterable[KitFile] = ()
) -> Path:
    """Copy the repository to `destination` (without WORKSPACE_SKIP directories), then write
    the rendered kit files the repository lacks: Dockerfiles, .dockerignore files, `extra`."""
    shutil.copytree(kit.root, destination, symlinks=True, ignore=_skip_names)
    for target in chosen:
        for file in (target.dockerfile, target.dockerignore):
            if file is not None and file.source == "rendered":
                _write(destination, file)
    for file in extra:
        if file.source == "rendered":
            _write(destination, file)
    return destination


def _skip_names(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if name in WORKSPACE_SKIP and os.path.isdir(os.path.join(directory, name))}


def _write(root: Path, file: KitFile) -> None:
    path = root / file.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(file.content, encoding="utf-8")


def pick_source_file(workspace: Path, target: Target) -> str | None:
    """A source file of the image's context to change for the rebuild check, relative to the
    workspace: a file the detector cited as the app's code (its start command, port or health
    endpoint), else the first source file by name. Never a dependency manifest or a test."""
    context = "" if target.image.context in (".", "") else target.image.context.rstrip("/") + "/"
    component = target.workload.component
    manifests = {context + name for name in component.dependency_files}
    cited = [
        item.file for key in ("start_command", "health_path", "port", "framework")
        for item in component.evidence.get(key, ()) if not item.default
    ]
    for relative in cited:
        if _is_source(relative, context, manifests) and (workspace / relative).is_file():
            return relative
    base = workspace / context if context else workspace
    for path in sorted(base.rglob("*")):
        relative = path.relative_to(workspace).as_posix()
        if path.is_file() and _is_source(relative, context, manifests):
            return relative
    return None


def _is_source(relative: str, context: str, manifests: set[str]) -> bool:
    if not relative.startswith(context) or relative in manifests or not relative.endswith(SOURCE_EXTENSIONS):
        return False
    inner = "/" + relative[len(context):]
    parts = inner.split("/")[1:]
    if any(part in WORKSPACE_SKIP or part.startswith(".") for part in parts):
        return False
    return not any(f"/{folder}" in inner for folder in _NOT_SOURCE_DIRS)


def touch_source(workspace: Path, relative: str) -> None:
    """A source-only change: one newline appended (harmless in every language listed)."""
    with open(workspace / relative, "a", encoding="utf-8") as handle:
        handle.write("\n")


# -- Dockerfile steps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    text: str  # the whole instruction, whitespace collapsed


def instructions(dockerfile: str) -> tuple[Instruction, ...]:
    """The Dockerfile's instructions with continuations joined, comments and heredoc
    bodies left out."""
    result: list[Instruction] = []
    lines = dockerfile.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        parts = [line]
        while parts[-1].endswith("\\") and index < len(lines):
            parts[-1] = parts[-1][:-1]
            following = lines[index].strip()
            index += 1
            if following.startswith("#"):
                parts.append("\\")  # a comment inside a continuation: keep continuing
                continue
            parts.append(following)
        text = " ".join(part for part in parts if part != "\\")
        heredoc = re.search(r"<<-?(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1", text)
        if heredoc:
            end = heredoc.group(2)
            while index < len(lines) and lines[index].strip() != end:
                index += 1
            index += 1
        text = " ".join(text.split())
        result.append(Instruction(text.split(" ", 1)[0].upper(), text))
    return tuple(result)


def dependency_steps(dockerfile: str) -> tuple[str, ...]:
    """The RUN/COPY/ADD steps before the first one that copies the whole build context
    (`COPY . .`): the dependency layers a source-only change must not rebuild."""
    steps: list[str] = []
    for instruction in instructions(dockerfile):
        if instruction.keyword not in ("RUN", "COPY", "ADD"):
            continue
        if instruction.keyword in ("COPY", "ADD") and _copies_context(instruction.text):
            return tuple(steps)
        if "--from=" not in instruction.text:
            steps.append(instruction.text)
    return ()  # no whole-context copy: nothing to tell apart


def _copies_context(text: str) -> bool:
    args = [arg for arg in text.split()[1:] if not arg.startswith("--")]
    if "--from=" in text or len(args) < 2:
        return False
    return any(source in (".", "./") for source in args[:-1])


# -- build logs ---------------------------------------------------------------------------------

_PODMAN_STEP = re.compile(r"^(?:\[\d+/\d+\] )?STEP \d+/\d+: (.*)$")
_PODMAN_CACHED = re.compile(r"^--> Using cache \S+")
_CLASSIC_STEP = re.compile(r"^Step \d+/\d+ : (.*)$")
_CLASSIC_CACHED = re.compile(r"^ ---> Using cache")
_BUILDKIT_STEP = re.compile(r"^#(\d+) \[[^\]]*\d+/\d+\] (.*)$")
_BUILDKIT_CACHED = re.compile(r"^#(\d+) CACHED$")


@dataclass(frozen=True)
class LogStep:
    text: str  # whitespace collapsed
    cached: bool


def build_steps(log: str) -> tuple[LogStep, ...]:
    """Steps and cache hits from a build log: podman/buildah, BuildKit's plain progress, or
    the classic docker builder."""
    steps: list[list[Any]] = []
    buildkit: dict[str, list[Any]] = {}
    for line in log.splitlines():
        line = line.rstrip()
        match = _PODMAN_STEP.match(line) or _CLASSIC_STEP.match(line)
        if match:
            steps.append([" ".join(match.group(1).split()), False])
            continue
        if steps and (_PODMAN_CACHED.match(line) or _CLASSIC_CACHED.match(line)):
            steps[-1][1] = True
            continue
        match = _BUILDKIT_STEP.match(line)
        if match and match.group(1) not in buildkit:
            buildkit[match.group(1)] = [" ".join(match.group(2).split()), False]
            steps.append(buildkit[match.group(1)])
            continue
        match = _BUILDKIT_CACHED.match(line)
        if match and match.group(1) in buildkit:
            buildkit[match.group(1)][1] = True
    return tuple(LogStep(text, cached) for text, cached in steps)


def dependency_cache(dockerfile: str, log: str) -> tuple[int, int]:
    """(cached, found): of the dependency steps that appear in the log, how many were cached."""
    wanted = set(dependency_steps(dockerfile))
    seen = [step for step in build_steps(log) if step.text in wanted]
    return sum(1 for step in seen if step.cached), len(seen)

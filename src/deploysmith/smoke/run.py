"""The smoke flow: discover the engine, load the kit, copy the repository to a workspace,
then for each image build → inspect → run → probe → rebuild after a source-only change;
then --kube-play and --compose; then clean up and report.

The repository is never written to: builds run from the workspace copy, where the kit
files the repository lacks are written and the source change for the rebuild is made.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from deploysmith import output
from deploysmith.errors import EXIT_FINDINGS, EXIT_OK
from deploysmith.smoke import engine as commands
from deploysmith.smoke import hostconfig, kube
from deploysmith.smoke.cleanup import Janitor, sigterm_as_interrupt
from deploysmith.smoke.engine import Engine, discover, find_compose
from deploysmith.smoke.kit import (
    Kit,
    Target,
    dependency_cache,
    dependency_steps,
    load_kit,
    pick_source_file,
    prepare_workspace,
    targets,
    touch_source,
)
from deploysmith.smoke.probe import ProbeResult, http_once, tcp_once, wait_until
from deploysmith.smoke.process import Runner, SubprocessRunner
from deploysmith.smoke.progress import Progress
from deploysmith.smoke.report import (
    Health,
    ImageReport,
    Rebuild,
    SmokeReport,
    StepReport,
    format_json,
    format_text,
    user_id,
)

WORKER_SETTLE_SECONDS = 3.0  # a worker has no probe: it must still be running after this


def smoke_command(args: argparse.Namespace) -> int:
    return run_smoke(args, SubprocessRunner())


def run_smoke(
    args: argparse.Namespace,
    runner: Runner,
    search_path: str | None = None,
    tty: bool | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    engine, passed_over = discover(runner, args.engine, search_path)
    kit = load_kit(args.path)
    # The overlay whose settings the containers get: the one asked for, else the plan's first
    # (dev unless deploysmith.yaml says otherwise).
    environment = args.environment or kit.plan.environments[0].name
    chosen = targets(kit, environment, args.image or ())
    progress = Progress(sys.stderr.isatty() if tty is None else tty)
    janitor = Janitor(engine, runner, keep_images=args.keep_images)
    scratch = Path(tempfile.mkdtemp(prefix="deploysmith-smoke-"))
    janitor.directory(scratch)
    notes = [f"{note} (engine passed over)" for note in passed_over]
    session = _Session(args, runner, engine, kit, progress, janitor, scratch, clock, notes, environment)
    progress.phase(f"{args.path}: {len(chosen)} image(s) with {engine.label}; workspace {scratch}")
    with sigterm_as_interrupt():
        try:
            report = session.run(chosen)
        finally:
            progress.phase("cleaning up what this run created")
            janitor.clean()
    extra = [f"cleanup: {failure}" for failure in janitor.failures]
    if janitor.kept:
        extra.append("--keep-images: kept " + " ".join(image[:12] for image in janitor.kept))
    if extra:
        report = replace(report, notes=report.notes + tuple(extra))
    output.out(format_json(report) if args.format == "json" else format_text(report))
    return EXIT_OK if report.ok else EXIT_FINDINGS


@dataclass
class _Built:
    image_id: str
    tag: str
    log: str
    seconds: float


class _Session:
    def __init__(
        self, args: argparse.Namespace, runner: Runner, engine: Engine, kit: Kit, progress: Progress,
        janitor: Janitor, scratch: Path, clock: Callable[[], float], notes: list[str], environment: str,
    ) -> None:
        self.environment = environment
        self.args = args
        self.runner = runner
        self.engine = engine
        self.kit = kit
        self.progress = progress
        self.janitor = janitor
        self.scratch = scratch
        self.clock = clock
        self.notes = notes
        self.token = secrets.token_hex(4)
        self.prefix = f"deploysmith-smoke-{self.token}"
        self.volumes: tuple[tuple[str, str], ...] = ()
        self.workspace = scratch / "workspace"

    def run(self, chosen: tuple[Target, ...]) -> SmokeReport:
        extra = [f for f in (self.kit.file("compose.yaml"),) if f is not None and self.args.compose]
        prepare_workspace(self.kit, chosen, self.workspace, extra)
        if self.args.host_config:
            if self.engine.name == "docker":
                self.notes.append("--host-config is ignored with docker: `docker build` takes no mounts")
            else:
                config = hostconfig.prepare(self.scratch / "host-config")
                self.volumes = config.mounts
                self.notes.extend(config.notes)
        images: list[ImageReport] = []
        built: dict[str, _Built] = {}
        for target in chosen:
            report, first = self._image(target)
            images.append(report)
            if first is not None:
                built[target.image.name] = first
        kube_play = self._kube_play(chosen, built) if self.args.kube_play else None
        compose = self._compose(chosen) if self.args.compose else None
        return SmokeReport(
            str(self.args.path), self.engine.label, self.environment, tuple(images), compose, kube_play,
            tuple(self.notes),
        )

    # -- one image ---------------------------------------------------------------------------

    def _image(self, target: Target) -> tuple[ImageReport, _Built | None]:
        name = target.image.name
        source = "rendered in memory" if target.dockerfile.source == "rendered" else "the repository's"
        self.progress.phase(f"{name}: building {target.dockerfile.path} ({source})")
        first = self._build(target, "build")
        env_names = tuple(key for key, _ in target.run.env)
        if isinstance(first, str):
            return ImageReport(
                name, target.dockerfile.path, target.dockerfile.source, False, None, None, None, None, None,
                target.workload.uid, Health("skipped", "the build failed"),
                Rebuild("skipped", "the build failed"), env_names, target.fake_env, (first,),
            ), None
        self.progress.phase(f"{name}: built in {first.seconds:.1f} s")
        facts = self._inspect(first.image_id)
        health = self._run_and_probe(target, first)
        rebuild = self._rebuild(target, first, facts) if not self.args.no_rebuild else Rebuild(
            "skipped", "--no-rebuild"
        )
        problems = _problems(target, facts.get("user"), health, rebuild)
        return ImageReport(
            name, target.dockerfile.path, target.dockerfile.source, True, first.seconds, first.image_id,
            facts.get("size"), len(facts["layers"]) if "layers" in facts else None, facts.get("user"),
            target.workload.uid, health, rebuild, env_names, target.fake_env, problems,
        ), first

    def _build(self, target: Target, label: str) -> _Built | str:
        """The image, or why the build failed (its whole log is printed)."""
        name = target.image.name
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name.lower())
        tag = f"localhost/deploysmith-smoke/{safe}:{self.token}-{label}"
        iidfile = self.scratch / f"{safe}-{label}.iid"
        context = self.workspace / target.image.context
        argv = commands.build_command(
            self.engine, context=str(context), dockerfile=str(self.workspace / target.dockerfile.path),
            tag=tag, iidfile=str(iidfile), pull=self.args.pull, volumes=self.volumes,
        )
        start = self.clock()
        printed: set[str] = set()

        def on_line(line: str) -> None:
            printed.update(printed_ids(line))
            self.progress.build_line(name, line)

        with self.janitor.new_images(lambda image: any(image.startswith(short) for short in printed)):
            result = self.runner.stream(argv, on_line)
        seconds = self.clock() - start
        image_id = iidfile.read_text().strip() if iidfile.is_file() else ""
        if image_id:
            self.janitor.image(image_id)
        if not result.ok or not image_id:
            title = f"{name} {label} log ({self.engine.name}, exit {result.returncode})"
            self.progress.log(title, result.stdout)
            last = result.tail(1) or "no output"
            return f"{label} failed after {seconds:.1f} s (exit {result.returncode}): {last}"
        return _Built(commands.normalize_id(image_id), tag, result.stdout, seconds)

    def _inspect(self, image_id: str) -> dict[str, Any]:
        result = self.runner.run(commands.inspect_image_command(self.engine, image_id), timeout=60)
        if not result.ok:
            return {}
        return parse_inspect(result.stdout)

    def _run_and_probe(self, target: Target, built: _Built) -> Health:
        if not self.engine.runs_containers:
            return Health("skipped", f"{self.engine.name} builds images but does not run containers; "
                                     "install podman or docker to probe")
        name = target.image.name
        probe = target.probe
        container_name = f"{self.prefix}-{name}"
        cidfile = self.scratch / f"{name}.cid"
        self.janitor.container_file(cidfile)
        self.progress.phase(f"{name}: running as uid {target.workload.uid}"
                            + (", read-only root" if target.run.read_only else ""))
        start = self.clock()
        argv = commands.run_command(self.engine, target.run, built.image_id, container_name, str(cidfile))
        result = self.runner.run(argv, timeout=120)
        if not result.ok:
            return Health("unhealthy", f"the container did not start: {result.tail(2)}")
        container = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else container_name
        self.janitor.container(container)

        def stopped() -> str | None:
            state = self.runner.run(commands.state_command(self.engine, container), timeout=30)
            words = state.stdout.split()
            if state.ok and words and words[0] != "running":
                return f"the container stopped ({words[0]}, exit code {words[1] if len(words) > 1 else '?'})"
            return None

        if probe.kind == "none" or target.run.port is None:
            time.sleep(WORKER_SETTLE_SECONDS)
            why = stopped()
            if why:
                self._show_logs(name, container)
                return Health("unhealthy", why)
            settled = f"still running after {WORKER_SETTLE_SECONDS:.0f} s (no port: nothing to probe)"
            return Health("healthy", settled)
        host_port = self._host_port(container, target.run.port)
        if host_port is None:
            return Health("unhealthy", f"port {target.run.port} was not published")
        attempt = _attempt(probe.kind, probe.path or "/", host_port)
        waiting = _probe_words(probe.kind, probe.path)
        self.progress.phase(f"{name}: waiting for {waiting} (up to {self.args.timeout} s)")
        answer: ProbeResult = wait_until(attempt, stopped, float(self.args.timeout), clock=self.clock)
        startup = self.clock() - start
        if not answer.ok:
            self._show_logs(name, container)
            return Health("unhealthy", answer.detail)
        healthcheck = self._healthcheck(container)
        return Health("healthy", answer.detail, startup, healthcheck)

    def _host_port(self, container: str, port: int) -> int | None:
        result = self.runner.run(commands.port_command(self.engine, container, port), timeout=30)
        for line in result.stdout.splitlines():
            head, _, tail = line.strip().rpartition(":")
            if head and tail.isdigit():
                return int(tail)
        return None

    def _healthcheck(self, container: str) -> str | None:
        argv = commands.healthcheck_command(self.engine, container)
        if argv is None:
            return None
        result = self.runner.run(argv, timeout=60)
        text = (result.stdout + result.stderr).lower()
        if "no healthcheck" in text or "has no defined healthcheck" in text:
            return None
        return "passed" if result.ok else f"failed ({result.tail(1) or 'unhealthy'})"

    def _show_logs(self, name: str, container: str) -> None:
        logs = self.runner.run(commands.logs_command(self.engine, container), timeout=30)
        self.progress.log(f"{name} container log (last 40 lines)", logs.stdout + logs.stderr)

    # -- rebuild after a source-only change -----------------------------------------------------

    def _rebuild(self, target: Target, first: _Built, facts: dict[str, Any]) -> Rebuild:
        name = target.image.name
        steps = dependency_steps(target.dockerfile.content)
        if not steps:
            return Rebuild("unknown", "the Dockerfile has no step before it copies the whole context "
                                      "(`COPY . .`), so there is no dependency layer to reuse")
        changed = pick_source_file(self.workspace, target)
        if changed is None:
            return Rebuild("unknown", "no source file found to change")
        touch_source(self.workspace, changed)
        self.progress.phase(f"{name}: rebuilding after a change to {changed}")
        second = self._build(target, "rebuild")
        if isinstance(second, str):
            return Rebuild("failed", second, changed_file=changed)
        cached, found = dependency_cache(target.dockerfile.content, second.log)
        layers_before = facts.get("layers", [])
        layers_after = self._inspect(second.image_id).get("layers", [])
        shared = len(set(layers_after) & set(layers_before))
        measured = Rebuild(
            "unknown", "", second.seconds, changed, cached, found, shared, len(layers_after)
        )
        layers = f"{shared}/{len(layers_after)} layers shared"
        if second.image_id == first.image_id:
            why = f"the image did not change after editing {changed} (is it excluded by .dockerignore?)"
            return replace(measured, detail=why)
        if found == 0:
            missing = f"no dependency step found in the {self.engine.name} log; {layers}"
            return replace(measured, detail=missing)
        words = f"{cached}/{found} dependency steps cached, {layers} after a change to {changed}"
        return replace(measured, status="reused" if cached == found else "rebuilt", detail=words)

    # -- kube play ----------------------------------------------------------------------------

    def _kube_play(self, chosen: tuple[Target, ...], built: dict[str, _Built]) -> StepReport:
        if self.engine.name != "podman":
            return StepReport("skipped", f"--kube-play needs podman (the engine is {self.engine.name})")
        results: list[str] = []
        healthy = True
        start = self.clock()
        for target in chosen:
            first = built.get(target.image.name)
            deployment = kube.deployment_for(self.kit, target)
            if first is None or deployment is None:
                continue
            name = target.workload.component.name
            host_port = kube.free_port() if target.run.port is not None else None
            text, volumes = kube.play_manifest(deployment, target, first.tag, self.prefix, host_port)
            path = self.scratch / f"kube-{name}.yaml"
            path.write_text(text, encoding="utf-8")
            self.janitor.command("kube down", [self.engine.path, "kube", "down", str(path)])
            for volume in volumes:
                self.janitor.volume(volume)
            self.progress.phase(f"{name}: podman kube play (the rendered Deployment)")
            # podman builds its pause image on first use: removed again if this run made it
            with self.janitor.new_images(lambda image: image in self._pause_images()):
                played = self.runner.run([self.engine.path, "kube", "play", str(path)], timeout=180)
            if not played.ok:
                healthy = False
                results.append(f"{name}: kube play failed: {played.tail(2)}")
                continue
            if host_port is None or target.probe.kind == "none":
                results.append(f"{name}: pod started (no port to probe)")
                continue
            attempt = _attempt(target.probe.kind, target.probe.path or "/", host_port)
            answer = wait_until(attempt, lambda: None, float(self.args.timeout), clock=self.clock)
            healthy = healthy and answer.ok
            results.append(f"{name}: {answer.detail}")
        if not results:
            return StepReport("skipped", "no built image has a rendered Deployment")
        adapted = "; ".join(kube.CHANGES)
        self.notes.append(f"kube play ran the rendered Deployment, adapted for one host: {adapted}")
        return StepReport("healthy" if healthy else "unhealthy", "; ".join(results), self.clock() - start)

    def _pause_images(self) -> set[str]:
        pause = "reference=localhost/podman-pause"
        argv = [self.engine.path, "images", "--quiet", "--no-trunc", "--filter", pause]
        result = self.runner.run(argv, timeout=60)
        return {commands.normalize_id(line) for line in result.stdout.split()}

    # -- compose ------------------------------------------------------------------------------

    def _compose(self, chosen: tuple[Target, ...]) -> StepReport:
        front = find_compose(self.runner, self.engine)
        if front is None:
            candidates = commands.compose_candidates(self.engine)
            looked = ", ".join(" ".join((c[0].rsplit("/", 1)[-1], *c[1:])) for c in candidates)
            hint = "; podman-compose from PyPI drives any podman" if self.engine.name == "podman" else ""
            return StepReport("skipped", f"no compose-capable engine (looked for {looked or 'none'}){hint}")
        file = self.workspace / "compose.yaml"
        if not file.is_file():
            return StepReport("skipped", "no compose.yaml in the kit")
        target = next((t for t in chosen if t.run.port is not None and t.probe.kind != "none"), None)
        host_port = _compose_port(file, target) if target else None
        base = [*front, "--project-name", self.prefix, "--file", str(file)]
        down = [*base, "down", "--volumes", "--rmi", "local", "--remove-orphans"]
        self.janitor.command("compose down", down)
        self.progress.phase("compose: up --build (the app with its backing services)")
        start = self.clock()
        printed: set[str] = set()

        def on_line(line: str) -> None:
            printed.update(printed_ids(line))
            self.progress.build_line("compose", line)

        # The build's intermediate images are this run's too: `down --rmi local` removes only
        # the images compose named.
        with self.janitor.new_images(lambda image: any(image.startswith(short) for short in printed)):
            up = self.runner.stream(
                commands.compose_up_command(self.engine, base, pull=self.args.pull, volumes=self.volumes),
                on_line,
            )
        if not up.ok:
            self.progress.log("compose up log", up.stdout)
            return StepReport("failed", f"compose up failed: {up.tail(1)}", self.clock() - start)
        if target is None or host_port is None:
            started = "services started (no published port to probe)"
            return StepReport("healthy", started, self.clock() - start)
        attempt = _attempt(target.probe.kind, target.probe.path or "/", host_port)
        answer = wait_until(attempt, lambda: None, float(self.args.timeout), clock=self.clock)
        if not answer.ok:
            logs = self.runner.run([*base, "logs", "--tail", "40"], timeout=60)
            self.progress.log("compose logs", logs.stdout + logs.stderr)
        detail = f"{target.workload.component.name}: {answer.detail}"
        return StepReport("healthy" if answer.ok else "unhealthy", detail, self.clock() - start)


_PRINTED_ID = re.compile(r"^(?:-->|--->| ---> )\s*(?:Using cache\s+)?([0-9a-f]{10,64})\s*$")


def printed_ids(line: str) -> set[str]:
    """Image ids a build log line names: podman/buildah "--> 16ebdd3f989" and "--> Using
    cache <id>", the classic docker builder's " ---> 1a2b3c4d5e6f"."""
    match = _PRINTED_ID.match(line)
    return {match.group(1)} if match else set()


def _attempt(kind: str, path: str, port: int) -> Callable[[], tuple[bool, str]]:
    if kind == "http":
        return lambda: http_once("127.0.0.1", port, path)
    return lambda: tcp_once("127.0.0.1", port)


def _probe_words(kind: str, path: str | None) -> str:
    return f"GET {path or '/'}" if kind == "http" else "a TCP connection"


def _compose_port(file: Path, target: Target) -> int | None:
    """The host port compose.yaml publishes for the target's service ("127.0.0.1:8000:8000")."""
    import yaml

    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    service = (data.get("services") or {}).get(target.workload.component.name) or {}
    for entry in service.get("ports") or ():
        parts = str(entry).split(":")
        if len(parts) >= 2 and parts[-2].isdigit():
            return int(parts[-2])
    return None


def parse_inspect(text: str) -> dict[str, Any]:
    """size (bytes), layers (diff ids) and user from `image inspect` (docker, podman) or
    `buildah inspect --type image`."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        return {}
    if isinstance(data, list):
        data = data[0] if data else {}
    if not isinstance(data, dict):
        return {}
    facts: dict[str, Any] = {}
    if "RootFS" in data or "Config" in data:  # docker / podman
        facts["layers"] = list((data.get("RootFS") or {}).get("Layers") or [])
        facts["user"] = (data.get("Config") or {}).get("User") or ""
        if isinstance(data.get("Size"), int):
            facts["size"] = data["Size"]
        return facts
    image = data.get("Docker") or data.get("OCIv1") or {}  # buildah
    facts["layers"] = list((image.get("rootfs") or {}).get("diff_ids") or [])
    facts["user"] = (image.get("config") or {}).get("User") or ""
    return facts


def _problems(target: Target, user: str | None, health: Health, rebuild: Rebuild) -> tuple[str, ...]:
    problems = []
    uid = user_id(user)
    if not user:
        problems.append("the image sets no USER: it runs as root unless the platform overrides it")
    elif uid is None:
        problems.append(f"USER {user} is a name: Kubernetes runAsNonRoot can only verify a numeric uid")
    elif uid == 0:
        problems.append("the image runs as root (uid 0)")
    elif uid != target.workload.uid:
        problems.append(f"the image's uid {uid} differs from the manifests' runAsUser {target.workload.uid}")
    if health.status == "unhealthy":
        problems.append(f"unhealthy: {health.detail}")
    if health.healthcheck and health.healthcheck != "passed":
        problems.append(f"the image's HEALTHCHECK {health.healthcheck} while the probe from the host passed")
    if rebuild.status == "rebuilt":
        problems.append(f"a source-only change rebuilt the dependency layer ({rebuild.detail})")
    if rebuild.status == "failed":
        problems.append(f"the rebuild failed: {rebuild.detail}")
    return tuple(problems)

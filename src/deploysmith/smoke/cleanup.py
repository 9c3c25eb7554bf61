"""Everything smoke creates is recorded here, by id, as soon as it exists, and removed at
the end, on failure and on ^C or SIGTERM alike.

Containers are known by the --cidfile their `run` writes (read at cleanup, so a container
whose `run` was interrupted is still found); images by the --iidfile of their build, plus
the intermediate images podman and buildah keep for each step: those that are new since
the build started and whose id the build's own log printed; kube play pods by the file
that created them, and its volumes by the names smoke gave them; compose projects by
their run-unique name. Nothing that existed before smoke started is removed.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from deploysmith.smoke.engine import (
    Engine,
    list_images_command,
    normalize_id,
    remove_containers_command,
    remove_images_command,
)
from deploysmith.smoke.process import Runner

CLEANUP_TIMEOUT = 120.0


class Janitor:
    def __init__(self, engine: Engine, runner: Runner, keep_images: bool = False) -> None:
        self.engine = engine
        self.runner = runner
        self.keep_images = keep_images
        self.cidfiles: list[Path] = []
        self.containers: list[str] = []
        self.images: list[str] = []  # final images first, then intermediates, in order found
        self.undo: list[tuple[str, list[str]]] = []  # (what, argv): kube down, compose down, …
        self.volumes: list[str] = []
        self.directories: list[Path] = []
        self.kept: list[str] = []
        self.failures: list[str] = []

    # -- recording ----------------------------------------------------------------------------

    def container_file(self, path: Path) -> None:
        self.cidfiles.append(path)

    def container(self, container_id: str) -> None:
        if container_id and container_id not in self.containers:
            self.containers.append(container_id)

    def image(self, image_id: str) -> None:
        image_id = normalize_id(image_id)
        if image_id and image_id not in self.images:
            self.images.append(image_id)

    def directory(self, path: Path) -> None:
        self.directories.append(path)

    def command(self, what: str, argv: list[str]) -> None:
        self.undo.append((what, argv))

    def volume(self, name: str) -> None:
        self.volumes.append(name)

    def image_ids(self) -> set[str]:
        """Every image id the engine has now (intermediates included)."""
        result = self.runner.run(list_images_command(self.engine), timeout=CLEANUP_TIMEOUT)
        return {normalize_id(line) for line in result.stdout.split()} if result.ok else set()

    @contextlib.contextmanager
    def new_images(self, owned: Callable[[str], bool]) -> Iterator[None]:
        """Record the images that appear while the block runs and that `owned` says are
        this run's: a build's intermediates are the ids its own log printed, so an image
        another process builds meanwhile is never taken for ours."""
        before = self.image_ids()
        try:
            yield
        finally:
            for image_id in sorted(self.image_ids() - before):
                if owned(image_id):
                    self.image(image_id)

    # -- removing -----------------------------------------------------------------------------

    def clean(self) -> None:
        """Remove everything recorded. Never raises; what could not be removed is listed in
        self.failures for the report."""
        with _sigint_deferred():
            for what, argv in reversed(self.undo):
                self._do(what, argv)
            for path in self.cidfiles:
                with contextlib.suppress(OSError):
                    self.container(path.read_text().strip())
            if self.containers:
                self._do("remove containers", remove_containers_command(self.engine, self.containers))
            if self.volumes:
                self._do("remove volumes", [self.engine.path, "volume", "rm", "--force", *self.volumes])
            if self.images and self.keep_images:
                self.kept = list(self.images)
            elif self.images:
                present = self.image_ids()
                remaining = [image for image in self.images if image in present] if present else self.images
                if remaining and not self.runner.run(
                    remove_images_command(self.engine, remaining), timeout=CLEANUP_TIMEOUT
                ).ok:
                    # One at a time, so one image in use does not keep the others.
                    for image in remaining:
                        self.runner.run(remove_images_command(self.engine, [image]), timeout=CLEANUP_TIMEOUT)
                    still = self.image_ids()
                    left = [image for image in remaining if image in still]
                    if left:
                        self.failures.append(f"images not removed: {' '.join(image[:12] for image in left)}")
            for directory in self.directories:
                shutil.rmtree(directory, ignore_errors=True)

    def _do(self, what: str, argv: list[str]) -> None:
        result = self.runner.run(argv, timeout=CLEANUP_TIMEOUT)
        if not result.ok:
            self.failures.append(f"{what}: {result.tail(1)}")


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """A second ^C during cleanup is remembered and re-raised after it, not mid-way."""
    pending: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    try:
        previous = signal.signal(signal.SIGINT, remember)
    except ValueError:  # not the main thread: nothing to defer
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI runner cancelling the job) unwinds like ^C, so the finally blocks
    that clean up run."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous: Callable[[int, FrameType | None], object] | int | None
    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

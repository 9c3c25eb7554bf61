"""What smoke measured, as records, and their text and JSON forms."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

HealthStatus = Literal["healthy", "unhealthy", "skipped"]
RebuildStatus = Literal["reused", "rebuilt", "unknown", "skipped", "failed"]
StepStatus = Literal["healthy", "unhealthy", "skipped", "failed"]


@dataclass(frozen=True)
class Health:
    status: HealthStatus
    detail: str
    startup_seconds: float | None = None  # from `run` to the first healthy answer
    healthcheck: str | None = None  # the image's own HEALTHCHECK: "passed", "failed: …"; None: not run

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "detail": self.detail,
            "startup_seconds": _round(self.startup_seconds),
            "healthcheck": self.healthcheck,
        }


@dataclass(frozen=True)
class Rebuild:
    status: RebuildStatus
    detail: str
    seconds: float | None = None
    changed_file: str | None = None
    cached_steps: int = 0  # dependency steps served from the cache
    dependency_steps: int = 0  # dependency steps found in the rebuild's log
    shared_layers: int = 0  # layers of the rebuilt image identical to the first build's
    layers: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "detail": self.detail,
            "seconds": _round(self.seconds),
            "changed_file": self.changed_file,
            "cached_steps": self.cached_steps,
            "dependency_steps": self.dependency_steps,
            "shared_layers": self.shared_layers,
            "layers": self.layers,
        }


@dataclass(frozen=True)
class ImageReport:
    name: str
    dockerfile: str  # path in the repository
    dockerfile_source: str  # "repository" | "rendered"
    built: bool
    build_seconds: float | None
    image_id: str | None
    size_bytes: int | None
    layers: int | None
    user: str | None  # the image's USER, from inspect
    expected_uid: int  # the plan's uid (the manifests' runAsUser)
    health: Health
    rebuild: Rebuild
    env: tuple[str, ...]  # names of the variables set at run time
    fake_env: tuple[str, ...]  # of which these carry fake Secret values
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dockerfile": self.dockerfile,
            "dockerfile_source": self.dockerfile_source,
            "ok": self.ok,
            "built": self.built,
            "build_seconds": _round(self.build_seconds),
            "image_id": self.image_id,
            "size_bytes": self.size_bytes,
            "layers": self.layers,
            "user": self.user,
            "uid": user_id(self.user),
            "expected_uid": self.expected_uid,
            "health": self.health.to_json(),
            "rebuild": self.rebuild.to_json(),
            "env": list(self.env),
            "fake_env": list(self.fake_env),
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class StepReport:
    """--compose or --kube-play."""

    status: StepStatus
    detail: str
    seconds: float | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("healthy", "skipped")

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "ok": self.ok, "detail": self.detail, "seconds": _round(self.seconds)}


@dataclass(frozen=True)
class SmokeReport:
    path: str
    engine: str  # "podman 4.3.1"
    environment: str  # the overlay whose APP_ENV is used
    images: tuple[ImageReport, ...]
    compose: StepReport | None = None
    kube_play: StepReport | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        steps = [step for step in (self.compose, self.kube_play) if step is not None]
        return all(image.ok for image in self.images) and all(step.ok for step in steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "engine": self.engine,
            "environment": self.environment,
            "ok": self.ok,
            "images": [image.to_json() for image in self.images],
            "compose": self.compose.to_json() if self.compose else None,
            "kube_play": self.kube_play.to_json() if self.kube_play else None,
            "notes": list(self.notes),
        }


def user_id(user: str | None) -> int | None:
    """The numeric uid of a USER value ("10001:10001" → 10001); None for a name or nothing."""
    if not user:
        return None
    head = user.split(":", 1)[0]
    return int(head) if head.isdigit() else None


def format_json(report: SmokeReport) -> str:
    return json.dumps(report.to_json(), indent=2) + "\n"


def format_text(report: SmokeReport) -> str:
    lines = [f"deploysmith smoke: {report.path} ({report.engine}, APP_ENV={report.environment})"]
    for image in report.images:
        lines.append("")
        source = "rendered in memory" if image.dockerfile_source == "rendered" else "from the repository"
        lines.append(f"{image.name}  {image.dockerfile} ({source})")
        lines.extend(f"  {label:<9}{value}" for label, value in _image_rows(image))
    steps = [("compose", report.compose), ("kube play", report.kube_play)]
    shown = [(label, step) for label, step in steps if step is not None]
    if shown:
        lines.append("")
        for label, step in shown:
            assert step is not None
            timing = f" ({step.seconds:.1f} s)" if step.seconds is not None else ""
            lines.append(f"{label:<11}{step.status}: {step.detail}{timing}")
    for note in report.notes:
        lines.append(f"note: {note}")
    lines.append("")
    lines.append(_verdict(report))
    return "\n".join(lines) + "\n"


def _image_rows(image: ImageReport) -> list[tuple[str, str]]:
    if not image.built:
        return [("build", "FAILED (the full build log is on stderr)")] + [
            ("problem", problem) for problem in image.problems
        ]
    rows = [
        ("build", _seconds(image.build_seconds)),
        ("size", _size(image.size_bytes)),
        ("layers", "unknown" if image.layers is None else str(image.layers)),
        ("user", _user(image)),
        ("health", _health(image.health)),
        ("startup", _seconds(image.health.startup_seconds)),
        ("rebuild", _rebuild(image.rebuild)),
    ]
    if image.env:
        names = (f"{key} (fake)" if key in image.fake_env else key for key in image.env)
        rows.append(("env", ", ".join(names)))
    rows.extend(("problem", problem) for problem in image.problems)
    return rows


def _user(image: ImageReport) -> str:
    if not image.user:
        return "none set (runs as root)"
    uid = user_id(image.user)
    if uid is None:
        return f"{image.user} (a name: runAsNonRoot needs a numeric USER)"
    if uid == 0:
        return f"{image.user} (root)"
    if uid != image.expected_uid:
        return f"{image.user} (non-root, but the manifests run uid {image.expected_uid})"
    return f"{image.user} (non-root, the manifests' uid)"


def _health(health: Health) -> str:
    text = f"{health.status}: {health.detail}"
    if health.healthcheck is not None:
        text += f"; image HEALTHCHECK {health.healthcheck}"
    return text


def _rebuild(rebuild: Rebuild) -> str:
    text = f"{_REBUILD_WORDS[rebuild.status]}: {rebuild.detail}"
    if rebuild.seconds is not None:
        text += f" ({_seconds(rebuild.seconds)})"
    return text


_REBUILD_WORDS = {
    "reused": "dependency layer reused",
    "rebuilt": "dependency layer REBUILT",
    "unknown": "cache use unknown",
    "skipped": "skipped",
    "failed": "rebuild FAILED",
}


def _verdict(report: SmokeReport) -> str:
    count = len(report.images)
    noun = "image" if count == 1 else "images"
    if report.ok:
        return f"ok: {count} {noun} built, run and checked"
    failed = [image.name for image in report.images if not image.ok]
    failed += [label for label, step in (("compose", report.compose), ("kube play", report.kube_play))
               if step is not None and not step.ok]
    return f"FAILED: {', '.join(failed)}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _size(value: int | None) -> str:
    return "unknown" if value is None else f"{value / 1_000_000:.1f} MB"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)

"""The smoke report, exactly, in text and JSON."""

from __future__ import annotations

import json

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

HEALTHY = ImageReport(
    name="fastapi-postgres",
    dockerfile="Dockerfile",
    dockerfile_source="rendered",
    built=True,
    build_seconds=44.84,
    image_id="33665a29d4cc",
    size_bytes=632_612_345,
    layers=4,
    user="10001:10001",
    expected_uid=10001,
    health=Health("healthy", "GET /health -> 200", 1.26, "passed"),
    rebuild=Rebuild(
        "reused", "2/2 dependency steps cached, 3/4 layers shared after a change to app/main.py",
        4.58, "app/main.py", 2, 2, 3, 4,
    ),
    env=("PORT", "APP_ENV", "DATABASE_URL"),
    fake_env=("DATABASE_URL",),
    problems=(),
)

FAILED_BUILD = ImageReport(
    name="api", dockerfile="backend/Dockerfile", dockerfile_source="repository", built=False,
    build_seconds=None, image_id=None, size_bytes=None, layers=None, user=None, expected_uid=65532,
    health=Health("skipped", "the build failed"), rebuild=Rebuild("skipped", "the build failed"),
    env=(), fake_env=(), problems=("build failed after 3.2 s (exit 1): go: go.mod requires go >= 1.27",),
)


def test_a_healthy_image_in_text() -> None:
    report = SmokeReport(
        "examples/fastapi-postgres", "podman 4.3.1", "dev", (HEALTHY,),
        compose=StepReport("skipped", "no compose-capable engine (looked for podman-compose)"),
        kube_play=StepReport("healthy", "fastapi-postgres: GET /health -> 200", 4.81),
        notes=("docker: not on PATH (engine passed over)",),
    )

    assert format_text(report) == """\
deploysmith smoke: examples/fastapi-postgres (podman 4.3.1, APP_ENV=dev)

fastapi-postgres  Dockerfile (rendered in memory)
  build    44.8 s
  size     632.6 MB
  layers   4
  user     10001:10001 (non-root, the manifests' uid)
  health   healthy: GET /health -> 200; image HEALTHCHECK passed
  startup  1.3 s
  rebuild  dependency layer reused: 2/2 dependency steps cached, 3/4 layers shared after a change to app/main.py (4.6 s)
  env      PORT, APP_ENV, DATABASE_URL (fake)

compose    skipped: no compose-capable engine (looked for podman-compose)
kube play  healthy: fastapi-postgres: GET /health -> 200 (4.8 s)
note: docker: not on PATH (engine passed over)

ok: 1 image built, run and checked
"""  # noqa: E501
    assert report.ok


def test_failures_in_text() -> None:
    unhealthy = ImageReport(
        **{
            **HEALTHY.__dict__, "name": "web", "user": "0",
            "health": Health("unhealthy", "the container stopped (exited, exit code 1) (last probe: "
                             "GET /health: connection refused)"),
            "rebuild": Rebuild(
                "rebuilt", "0/2 dependency steps cached, 1/4 layers shared after a change to x.py", 9.0
            ),
            "problems": ("the image runs as root (uid 0)", "unhealthy: the container stopped"),
        },
    )
    report = SmokeReport("repo", "docker 27.1.1", "prod", (FAILED_BUILD, unhealthy))

    assert format_text(report) == """\
deploysmith smoke: repo (docker 27.1.1, APP_ENV=prod)

api  backend/Dockerfile (from the repository)
  build    FAILED (the full build log is on stderr)
  problem  build failed after 3.2 s (exit 1): go: go.mod requires go >= 1.27

web  Dockerfile (rendered in memory)
  build    44.8 s
  size     632.6 MB
  layers   4
  user     0 (root)
  health   unhealthy: the container stopped (exited, exit code 1) (last probe: GET /health: connection refused)
  startup  -
  rebuild  dependency layer REBUILT: 0/2 dependency steps cached, 1/4 layers shared after a change to x.py (9.0 s)
  env      PORT, APP_ENV, DATABASE_URL (fake)
  problem  the image runs as root (uid 0)
  problem  unhealthy: the container stopped

FAILED: api, web
"""  # noqa: E501
    assert not report.ok


def test_a_failed_kube_play_fails_the_run() -> None:
    report = SmokeReport("r", "podman 5.0.0", "dev", (HEALTHY,), kube_play=StepReport("unhealthy", "x"))

    assert format_text(report).endswith("\nkube play  unhealthy: x\n\nFAILED: kube play\n")


def test_json_form() -> None:
    report = SmokeReport("r", "podman 4.3.1", "dev", (HEALTHY,), None, StepReport("healthy", "ok", 4.814))

    data = json.loads(format_json(report))

    assert data == {
        "path": "r",
        "engine": "podman 4.3.1",
        "environment": "dev",
        "ok": True,
        "images": [{
            "name": "fastapi-postgres",
            "dockerfile": "Dockerfile",
            "dockerfile_source": "rendered",
            "ok": True,
            "built": True,
            "build_seconds": 44.84,
            "image_id": "33665a29d4cc",
            "size_bytes": 632612345,
            "layers": 4,
            "user": "10001:10001",
            "uid": 10001,
            "expected_uid": 10001,
            "health": {"status": "healthy", "detail": "GET /health -> 200", "startup_seconds": 1.26,
                       "healthcheck": "passed"},
            "rebuild": {
                "status": "reused",
                "detail": "2/2 dependency steps cached, 3/4 layers shared after a change to app/main.py",
                "seconds": 4.58, "changed_file": "app/main.py", "cached_steps": 2, "dependency_steps": 2,
                "shared_layers": 3, "layers": 4,
            },
            "env": ["PORT", "APP_ENV", "DATABASE_URL"],
            "fake_env": ["DATABASE_URL"],
            "problems": [],
        }],
        "compose": None,
        "kube_play": {"status": "healthy", "ok": True, "detail": "ok", "seconds": 4.81},
        "notes": [],
    }


def test_user_id() -> None:
    users = ("10001:10001", "1000", "node", "", None, "0:0")
    assert [user_id(user) for user in users] == [10001, 1000, None, None, None, 0]

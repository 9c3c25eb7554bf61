"""The execution tier: the examples' kits built, run and probed with podman (issue 8).

Each test runs `deploysmith smoke` on an example as a user would, with the flags CI needs
here (--pull never: the bases are local stand-ins; --host-config: the build's pip and npm
go through this machine's TLS-intercepting proxy), and checks what the report says: the
image runs as the kit's numeric non-root uid, answers its probe with the manifests'
settings and fake secrets (no database: the probes hit /health and /healthz/, which need
none), and a source-only change rebuilds without touching the dependency layer. The
FastAPI run also plays the rendered Deployment with `podman kube play`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deploysmith.smoke.process import SubprocessRunner
from deploysmith.smoke.run import run_smoke
from tests.smoke import standins as st
from tests.smoke.args import make_args
from tests.smoke.conftest import EXAMPLES

pytestmark = pytest.mark.containers

CASES = {
    # example: (image name, uid of the plan, kube play)
    "fastapi-postgres": ("fastapi-postgres", 10001, True),
    "django-celery": ("django-celery", 10001, False),
    "express": ("express", 1000, False),
    "go-api": ("api", 65532, False),
}


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers() -> dict[str, list[str]]:
    found = {}
    for what, argv in (("containers", ["ps", "--all", "--quiet"]), ("pods", ["pod", "ps", "--quiet"]),
                       ("volumes", ["volume", "ls", "--quiet"])):
        result = subprocess.run(["podman", *argv], capture_output=True, text=True, check=True)
        found[what] = result.stdout.split()
    return found


def image_ids() -> set[str]:
    result = subprocess.run(["podman", "images", "--all", "--quiet", "--no-trunc"], capture_output=True,
                            text=True, check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize("example", sorted(CASES))
def test_example_kit_builds_runs_and_reuses_its_dependency_layer(
    example: str, standins: st.Standins, capsys: pytest.CaptureFixture[str]
) -> None:
    if example == "express" and not standins.has_npm:
        pytest.skip("no npm on this machine to fetch npm's tarball for the node stand-in")
    if example == "go-api" and not standins.go_ok():
        pytest.skip(f"the stand-ins are Debian {standins.suite}, whose Go is older than go-api's go.mod")
    name, uid, kube_play = CASES[example]
    path = EXAMPLES / example
    before = snapshot(path)
    images_before = image_ids()
    args = make_args(path=str(path), engine="podman", format="json", pull="never", host_config=True,
                     kube_play=kube_play, timeout=120)

    status = run_smoke(args, SubprocessRunner(), tty=False)

    captured = capsys.readouterr()
    report: dict[str, Any] = json.loads(captured.out)
    assert status == 0, captured.err + "\n" + json.dumps(report, indent=2)
    [image] = [item for item in report["images"] if item["name"] == name]
    assert image["ok"], image["problems"]
    assert image["built"] and image["dockerfile_source"] == "rendered"
    assert image["uid"] == uid == image["expected_uid"]
    assert image["user"] == f"{uid}:{uid}"
    assert image["layers"] >= 2 and image["size_bytes"] > 0
    assert image["health"]["status"] == "healthy", image["health"]
    assert image["health"]["startup_seconds"] is not None
    rebuild = image["rebuild"]
    assert rebuild["status"] == "reused", rebuild
    assert rebuild["dependency_steps"] >= 1 and rebuild["cached_steps"] == rebuild["dependency_steps"]
    if kube_play:
        assert report["kube_play"]["status"] == "healthy", report["kube_play"]
    # The user's repository is never written to, and nothing smoke created is left behind.
    assert snapshot(path) == before
    assert leftovers() == {"containers": [], "pods": [], "volumes": []}
    assert image_ids() == images_before


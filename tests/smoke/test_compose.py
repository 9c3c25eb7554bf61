"""`deploysmith smoke --compose` for real (issue 8), in the containers tier.

The example is express: its compose.yaml has no backing service (the tier cannot pull
postgres or redis), so `compose up` builds the app's dev stage on the node stand-in and
smoke probes it through the port compose publishes. podman 4.3 has no `podman compose`;
the PyPI package podman-compose drives it (installed with the test extra).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from deploysmith.smoke.engine import Engine, compose_up_command
from deploysmith.smoke.process import SubprocessRunner
from deploysmith.smoke.run import run_smoke
from tests.smoke import standins as st
from tests.smoke.args import make_args
from tests.smoke.conftest import EXAMPLES
from tests.smoke.test_containers import image_ids, leftovers, snapshot

PODMAN = Engine("podman", "/usr/bin/podman", "4.3.1")
DOCKER = Engine("docker", "/usr/bin/docker", "27.1.1")
BASE = ["--project-name", "deploysmith-smoke-0a1b2c3d", "--file", "/w/compose.yaml"]
CA = ("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt")


def test_podman_compose_builds_as_smoke_builds() -> None:
    argv = compose_up_command(PODMAN, ["/usr/local/bin/podman-compose", *BASE], pull="never", volumes=[CA])
    assert argv == [
        "/usr/local/bin/podman-compose", *BASE,
        "--podman-build-args",
        "--format docker --pull=never --volume "
        "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro",
        "up", "--detach", "--build", "--pull=never",
    ]


def test_compose_plugins_get_the_pull_policy_only() -> None:
    assert compose_up_command(DOCKER, ["/usr/bin/docker", "compose", *BASE], volumes=[CA]) == [
        "/usr/bin/docker", "compose", *BASE, "up", "--detach", "--build",
    ]
    assert compose_up_command(PODMAN, ["/usr/bin/podman", "compose", *BASE], pull="missing")[-1] == "--pull=missing"


@pytest.mark.containers
def test_compose_brings_the_app_up_and_probes_it(standins: st.Standins, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("podman-compose") is None:
        pytest.skip("podman-compose is not installed (pip install podman-compose)")
    if not standins.has_npm:
        pytest.skip("no npm on this machine to fetch npm's tarball for the node stand-in")
    path = EXAMPLES / "express"
    before = snapshot(path)
    images_before = image_ids()
    args = make_args(path=str(path), engine="podman", format="json", pull="never", host_config=True,
                     compose=True, no_rebuild=True, timeout=120)

    status = run_smoke(args, SubprocessRunner(), tty=False)

    captured = capsys.readouterr()
    report: dict[str, Any] = json.loads(captured.out)
    assert status == 0, captured.err + "\n" + json.dumps(report, indent=2)
    compose = report["compose"]
    assert compose["status"] == "healthy", compose
    assert compose["detail"].startswith("express: "), compose
    assert snapshot(path) == before
    assert leftovers() == {"containers": [], "pods": [], "volumes": []}
    assert image_ids() == images_before
    networks = subprocess.run(["podman", "network", "ls", "--format", "{{.Name}}"], capture_output=True,
                              text=True, check=True)
    assert not [n for n in networks.stdout.split() if n.startswith("deploysmith-smoke-")]

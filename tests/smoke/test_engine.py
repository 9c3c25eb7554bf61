"""Engine discovery on fake PATHs, and every command line smoke runs, exactly."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from deploysmith.errors import DeploysmithError, run_guarded
from deploysmith.smoke.engine import (
    Engine,
    RunSpec,
    build_command,
    discover,
    find_compose,
    healthcheck_command,
    inspect_image_command,
    remove_containers_command,
    remove_images_command,
    run_command,
)
from deploysmith.smoke.process import SubprocessRunner
from deploysmith.smoke.run import run_smoke
from tests.smoke.args import make_args

PODMAN = Engine("podman", "/usr/bin/podman", "4.3.1")
DOCKER = Engine("docker", "/usr/bin/docker", "27.1.1")
BUILDAH = Engine("buildah", "/usr/bin/buildah", "1.28.2")


def fake_tool(directory: Path, name: str, script: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


DOCKER_NO_DAEMON = 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2; exit 1'
DOCKER_WITH_DAEMON = 'if [ "$1" = version ]; then echo 27.1.1; fi'
PODMAN_OK = 'echo "podman version 4.3.1"'
BUILDAH_OK = 'echo "buildah version 1.28.2 (image-spec 1.1.0-rc2, runtime-spec 1.0.2-dev)"'


def test_docker_with_a_daemon_comes_first(tmp_path: Path) -> None:
    docker = fake_tool(tmp_path, "docker", DOCKER_WITH_DAEMON)
    fake_tool(tmp_path, "podman", PODMAN_OK)

    engine, notes = discover(SubprocessRunner(), None, str(tmp_path))

    assert engine == Engine("docker", str(docker), "27.1.1")
    assert notes == ()


def test_a_docker_client_without_daemon_is_passed_over_for_podman(tmp_path: Path) -> None:
    docker = fake_tool(tmp_path, "docker", DOCKER_NO_DAEMON)
    podman = fake_tool(tmp_path, "podman", PODMAN_OK)

    engine, notes = discover(SubprocessRunner(), None, str(tmp_path))

    assert engine == Engine("podman", str(podman), "4.3.1")
    assert notes == (
        f"docker: {docker} found, but no Docker daemon answers "
        "(Cannot connect to the Docker daemon at unix:///var/run/docker.sock.)",
    )


def test_buildah_alone_builds_but_does_not_run(tmp_path: Path) -> None:
    fake_tool(tmp_path, "buildah", BUILDAH_OK)

    engine, notes = discover(SubprocessRunner(), None, str(tmp_path))

    assert (engine.name, engine.version, engine.runs_containers) == ("buildah", "1.28.2", False)
    assert notes == ("docker: not on PATH", "podman: not on PATH")


def test_no_engine_is_one_line_naming_what_was_looked_for(tmp_path: Path) -> None:
    fake_tool(tmp_path, "docker", DOCKER_NO_DAEMON)

    with pytest.raises(DeploysmithError) as raised:
        discover(SubprocessRunner(), None, str(tmp_path))

    assert str(raised.value) == (
        f"no usable container engine (docker: {tmp_path}/docker found, but no Docker daemon answers "
        "(Cannot connect to the Docker daemon at unix:///var/run/docker.sock.); podman: not on PATH; "
        "buildah: not on PATH): install Docker or Podman (buildah alone builds but cannot run), "
        "or pass --engine"
    )


def test_the_engine_asked_for_is_the_only_one_tried(tmp_path: Path) -> None:
    fake_tool(tmp_path, "docker", DOCKER_WITH_DAEMON)

    with pytest.raises(DeploysmithError) as raised:
        discover(SubprocessRunner(), "podman", str(tmp_path))

    assert str(raised.value) == "--engine podman: not on PATH"


def test_smoke_without_an_engine_exits_2_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    args = make_args(path=str(tmp_path))

    status = run_guarded(lambda: run_smoke(args, SubprocessRunner(), search_path=str(empty)))

    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert captured.err == (
        "deploysmith: error: no usable container engine (docker: not on PATH; podman: not on PATH; "
        "buildah: not on PATH): install Docker or Podman (buildah alone builds but cannot run), "
        "or pass --engine\n"
    )


def test_compose_front_ends_are_probed_in_order(tmp_path: Path) -> None:
    fake_tool(tmp_path, "podman-compose", 'echo "podman-compose version 1.0.6"')
    no_compose = 'echo "Error: unknown command compose" >&2; exit 125'
    podman = Engine("podman", str(fake_tool(tmp_path, "podman", no_compose)), "4.3.1")

    assert find_compose(SubprocessRunner(), podman, str(tmp_path)) == (str(tmp_path / "podman-compose"),)
    assert find_compose(SubprocessRunner(), BUILDAH, str(tmp_path)) is None
    os.remove(tmp_path / "podman-compose")
    assert find_compose(SubprocessRunner(), podman, str(tmp_path)) is None


# -- command lines -----------------------------------------------------------------------------

SPEC = RunSpec(
    user="10001:10001", read_only=True, tmpfs=("/tmp",),
    env=(("PORT", "8000"), ("APP_ENV", "dev"), ("DATABASE_URL", "postgresql://x")), port=8000,
)


def test_podman_build_command() -> None:
    argv = build_command(
        PODMAN, context="/w/ctx", dockerfile="/w/ctx/Dockerfile",
        tag="localhost/deploysmith-smoke/api:ab-build", iidfile="/w/api.iid", pull="never",
        volumes=(("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca.crt"),),
    )
    assert argv == [
        "/usr/bin/podman", "build", "--format", "docker", "--pull=never",
        "--volume", "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca.crt:ro",
        "--file", "/w/ctx/Dockerfile", "--tag", "localhost/deploysmith-smoke/api:ab-build",
        "--iidfile", "/w/api.iid", "/w/ctx",
    ]


def test_docker_build_command_takes_no_mounts_and_a_boolean_pull() -> None:
    argv = build_command(
        DOCKER, context="ctx", dockerfile="ctx/Dockerfile", tag="t", iidfile="i", pull="never",
        volumes=(("/a", "/b"),),
    )
    assert argv == [
        "/usr/bin/docker", "build", "--progress=plain", "--pull=false",
        "--file", "ctx/Dockerfile", "--tag", "t", "--iidfile", "i", "ctx",
    ]


def test_buildah_build_command_keeps_layers() -> None:
    argv = build_command(BUILDAH, context="ctx", dockerfile="ctx/Dockerfile", tag="t", iidfile="i")
    assert argv == [
        "/usr/bin/buildah", "build", "--format", "docker", "--layers",
        "--file", "ctx/Dockerfile", "--tag", "t", "--iidfile", "i", "ctx",
    ]


def test_podman_run_command_is_the_manifests_pod() -> None:
    argv = run_command(PODMAN, SPEC, "abc123", "deploysmith-smoke-1-api", "/w/api.cid")
    assert argv == [
        "/usr/bin/podman", "run", "--detach", "--name", "deploysmith-smoke-1-api", "--cidfile", "/w/api.cid",
        "--user", "10001:10001", "--cap-drop=ALL", "--security-opt=no-new-privileges",
        "--read-only", "--read-only-tmpfs=false",
        "--tmpfs", "/tmp:rw,nosuid,nodev,mode=1777,size=256m",
        "--env", "PORT=8000", "--env", "APP_ENV=dev", "--env", "DATABASE_URL=postgresql://x",
        "--publish", "127.0.0.1::8000",
        "abc123",
    ]


def test_docker_run_command_with_a_writable_root_and_no_port() -> None:
    spec = RunSpec(user="33:33", read_only=False, tmpfs=(), env=(), port=None, command=("php", "worker.php"))
    argv = run_command(DOCKER, spec, "abc", "n", "c")
    assert argv == [
        "/usr/bin/docker", "run", "--detach", "--name", "n", "--cidfile", "c",
        "--user", "33:33", "--cap-drop=ALL", "--security-opt=no-new-privileges", "abc", "php", "worker.php",
    ]


def test_inspect_remove_and_healthcheck_commands() -> None:
    assert inspect_image_command(PODMAN, "abc") == ["/usr/bin/podman", "image", "inspect", "abc"]
    assert inspect_image_command(BUILDAH, "abc") == ["/usr/bin/buildah", "inspect", "--type", "image", "abc"]
    assert remove_containers_command(PODMAN, ["c1", "c2"]) == [
        "/usr/bin/podman", "rm", "--force", "--time", "0", "c1", "c2"]
    assert remove_containers_command(DOCKER, ["c1"]) == ["/usr/bin/docker", "rm", "--force", "c1"]
    assert remove_images_command(PODMAN, ["i1", "i2"]) == ["/usr/bin/podman", "rmi", "i1", "i2"]
    assert healthcheck_command(PODMAN, "c1") == ["/usr/bin/podman", "healthcheck", "run", "c1"]
    assert healthcheck_command(DOCKER, "c1") is None

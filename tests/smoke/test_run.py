"""The smoke flow with a fake engine: the exact commands, the probe against a real local
HTTP server, and cleanup by id after success, failure and ^C."""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from deploysmith.errors import run_guarded
from deploysmith.smoke.process import Result
from deploysmith.smoke.run import run_smoke
from tests.smoke.args import make_args

ROOT = Path(__file__).resolve().parents[2]
FASTAPI = ROOT / "examples" / "fastapi-postgres"
PODMAN = "/fake/bin/podman"
IMG = {1: "f1f1f1f1f1f1f1f1", 2: "f2f2f2f2f2f2f2f2"}  # final images (the --iidfile)
MID = {1: "a1a1a1a1a1a1a1a1", 2: "a2a2a2a2a2a2a2a2"}  # intermediates, printed in the build log

FIRST_LOG = """[1/3] STEP 1/5: FROM python:3.12-slim-trixie AS deps
[1/3] STEP 4/5: COPY requirements.txt requirements-dev.txt ./
[1/3] STEP 5/5: RUN --mount=type=cache,target=/root/.cache/pip     python -m venv /opt/venv     && pip install -r requirements.txt
Successfully installed fastapi
--> a1a1a1a1a1a
[2/3] STEP 2/2: COPY . .
--> f1f1f1f1f1f
"""  # noqa: E501
REBUILD_LOG = """[1/3] STEP 4/5: COPY requirements.txt requirements-dev.txt ./
--> Using cache b06c5b579151
[1/3] STEP 5/5: RUN --mount=type=cache,target=/root/.cache/pip     python -m venv /opt/venv     && pip install -r requirements.txt
--> Using cache e8ea41b48bd7
[2/3] STEP 2/2: COPY . .
--> a2a2a2a2a2a
--> f2f2f2f2f2f
"""  # noqa: E501


class FakePodman:
    """Answers podman's commands from a little state; records every argv."""

    def __init__(self, health_port: int, fail_build: bool = False,
                 interrupt_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.images = {"base0", "e8ea41b48bd7000"}  # the second: a cached step of an earlier build
        self.health_port = health_port
        self.fail_build = fail_build
        self.interrupt_on = interrupt_on
        self.builds = 0

    def run(self, argv: Sequence[str], *, timeout: float | None = None, env: Mapping[str, str] | None = None,
            cwd: str | None = None) -> Result:
        argv = list(argv)
        self.calls.append(argv)
        verb = argv[1:3]
        if self.interrupt_on and self.interrupt_on in argv:
            raise KeyboardInterrupt
        if argv[1:] == ["--version"]:
            return Result(0, "podman version 4.3.1\n", "")
        if verb == ["images", "--all"]:
            return Result(0, "".join(f"{i}\n" for i in sorted(self.images)), "")
        if verb == ["image", "inspect"]:
            layers = ["l1", "l2", "l3", "l4"] if argv[3] == IMG[1] else ["l1", "l2", "l3", "l5"]
            return Result(0, json.dumps([{"Size": 632612345, "RootFS": {"Layers": layers},
                                          "Config": {"User": "10001:10001"}}]), "")
        if argv[1] == "run":
            Path(argv[argv.index("--cidfile") + 1]).write_text("cid1")
            return Result(0, "cid1\n", "")
        if argv[1] == "port":
            return Result(0, f"127.0.0.1:{self.health_port}\n", "")
        if argv[1:3] == ["container", "inspect"]:
            return Result(0, "running 0\n", "")
        if argv[1:3] == ["healthcheck", "run"]:
            return Result(0, "", "")
        if argv[1] == "rmi":
            self.images -= set(argv[2:])
            return Result(0, "", "")
        return Result(0, "", "")

    def stream(self, argv: Sequence[str], on_line: Callable[[str], None], *,
               env: Mapping[str, str] | None = None, cwd: str | None = None) -> Result:
        argv = list(argv)
        self.calls.append(argv)
        self.builds += 1
        # the build's own intermediate (and image), and one another process builds meanwhile
        self.images |= {MID[self.builds], f"0ther{self.builds}"}
        if self.fail_build:
            log = "STEP 1/5: FROM python\n--> a1a1a1a1a1a\nSTEP 2/5: RUN pip install\nERROR: pip failed\n"
            for line in log.splitlines():
                on_line(line)
            return Result(1, log, "")
        self.images.add(IMG[self.builds])
        Path(argv[argv.index("--iidfile") + 1]).write_text(f"sha256:{IMG[self.builds]}")
        log = FIRST_LOG if self.builds == 1 else REBUILD_LOG
        for line in log.splitlines():
            on_line(line)
        return Result(0, log, "")


@pytest.fixture
def health_server() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
def fake_path(tmp_path: Path) -> str:
    """A PATH holding an executable named podman (discovery needs one on PATH)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    tool = directory / "podman"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    return str(directory)


def strip(argv: list[str], fake_path: str) -> list[str]:
    """Commands with the temporary paths made stable, for exact comparison."""
    return [re.sub(r"^/\S*?/deploysmith-smoke-[a-z0-9_]{8}", "SCRATCH", arg.replace(fake_path + "/", ""))
            for arg in argv]


def test_the_whole_flow_runs_these_commands_and_removes_what_it_made(
    health_server: int, fake_path: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("secrets.token_hex", lambda n: "t0k3n")
    fake = FakePodman(health_server)
    args = make_args(path=str(FASTAPI), engine="podman", pull="never", format="json")

    status = run_smoke(args, fake, search_path=fake_path, tty=False)

    report = json.loads(capsys.readouterr().out)
    assert status == 0, report
    [image] = report["images"]
    assert (image["user"], image["size_bytes"], image["layers"]) == ("10001:10001", 632612345, 4)
    assert image["health"]["status"] == "healthy" and image["health"]["detail"] == "GET /health -> 200"
    assert image["health"]["healthcheck"] == "passed"
    assert image["rebuild"]["status"] == "reused"
    assert (image["rebuild"]["cached_steps"], image["rebuild"]["dependency_steps"]) == (2, 2)
    assert (image["rebuild"]["shared_layers"], image["rebuild"]["changed_file"]) == (3, "app/main.py")
    calls = [strip(argv, fake_path) for argv in fake.calls]
    tag = "localhost/deploysmith-smoke/fastapi-postgres:t0k3n"
    assert calls == [
        ["podman", "--version"],
        ["podman", "images", "--all", "--quiet", "--no-trunc"],
        ["podman", "build", "--format", "docker", "--pull=never", "--file", "SCRATCH/workspace/Dockerfile",
         "--tag", f"{tag}-build", "--iidfile", "SCRATCH/fastapi-postgres-build.iid", "SCRATCH/workspace"],
        ["podman", "images", "--all", "--quiet", "--no-trunc"],
        ["podman", "image", "inspect", IMG[1]],
        ["podman", "run", "--detach", "--name", "deploysmith-smoke-t0k3n-fastapi-postgres",
         "--cidfile", "SCRATCH/fastapi-postgres.cid", "--user", "10001:10001", "--cap-drop=ALL",
         "--security-opt=no-new-privileges", "--read-only", "--read-only-tmpfs=false",
         "--tmpfs", "/tmp:rw,nosuid,nodev,mode=1777,size=256m", "--env", "PORT=8000", "--env", "APP_ENV=dev",
         "--env", "DATABASE_URL=postgresql://smoke-fake:not-a-real-password@fake-postgres.invalid:5432/smoke-fake",
         "--publish", "127.0.0.1::8000", IMG[1]],
        ["podman", "port", "cid1", "8000/tcp"],
        ["podman", "healthcheck", "run", "cid1"],
        ["podman", "images", "--all", "--quiet", "--no-trunc"],
        ["podman", "build", "--format", "docker", "--pull=never", "--file", "SCRATCH/workspace/Dockerfile",
         "--tag", f"{tag}-rebuild", "--iidfile", "SCRATCH/fastapi-postgres-rebuild.iid", "SCRATCH/workspace"],
        ["podman", "images", "--all", "--quiet", "--no-trunc"],
        ["podman", "image", "inspect", IMG[2]],
        # cleanup: the container by id, then exactly the images the two builds created
        ["podman", "rm", "--force", "--time", "0", "cid1"],
        ["podman", "images", "--all", "--quiet", "--no-trunc"],
        ["podman", "rmi", MID[1], IMG[1], MID[2], IMG[2]],
    ]
    assert fake.images == {"base0", "e8ea41b48bd7000", "0ther1", "0ther2"}


def test_a_failed_build_prints_its_log_and_still_cleans_up(
    health_server: int, fake_path: str, capsys: pytest.CaptureFixture[str],
) -> None:
    fake = FakePodman(health_server, fail_build=True)
    args = make_args(path=str(FASTAPI), engine="podman")

    status = run_smoke(args, fake, search_path=fake_path, tty=False)

    captured = capsys.readouterr()
    assert status == 1
    assert "----- fastapi-postgres build log (podman, exit 1) -----\n" in captured.err
    assert "\nERROR: pip failed\n" in captured.err
    assert "  build    FAILED (the full build log is on stderr)\n" in captured.out
    assert "  problem  build failed after " in captured.out
    assert fake.calls[-1][1:] == ["rmi", MID[1]]  # the step the failed build had committed
    assert fake.images == {"base0", "e8ea41b48bd7000", "0ther1"}
    assert not any(argv[1] == "run" for argv in fake.calls)


def test_interrupt_cleans_up_then_exits_130(
    health_server: int, fake_path: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    fake = FakePodman(health_server, interrupt_on="port")  # ^C while waiting for the probe
    args = make_args(path=str(FASTAPI), engine="podman")

    status = run_guarded(lambda: run_smoke(args, fake, search_path=fake_path, tty=False))

    captured = capsys.readouterr()
    assert status == 130
    assert captured.err.endswith("smoke: cleaning up what this run created\ndeploysmith: interrupted\n")
    removals = [argv[1:] for argv in fake.calls if argv[1] in ("rm", "rmi")]
    assert removals == [["rm", "--force", "--time", "0", "cid1"], ["rmi", MID[1], IMG[1]]]
    assert fake.images == {"base0", "e8ea41b48bd7000", "0ther1"}
    assert not list(tmp_path.glob("deploysmith-smoke-*"))  # the workspace is gone too


def test_on_a_terminal_each_build_step_is_shown(
    health_server: int, fake_path: str, capsys: pytest.CaptureFixture[str],
) -> None:
    fake = FakePodman(health_server)
    args = make_args(path=str(FASTAPI), engine="podman", no_rebuild=True)

    run_smoke(args, fake, search_path=fake_path, tty=True)

    err = capsys.readouterr().err
    assert "  fastapi-postgres | [1/3] STEP 4/5: COPY requirements.txt requirements-dev.txt ./\n" in err
    assert "Successfully installed" not in err  # steps only, not the tools' own output


def test_off_a_terminal_only_phases_are_shown(
    health_server: int, fake_path: str, capsys: pytest.CaptureFixture[str],
) -> None:
    fake = FakePodman(health_server)
    args = make_args(path=str(FASTAPI), engine="podman", no_rebuild=True)

    run_smoke(args, fake, search_path=fake_path, tty=False)

    lines = capsys.readouterr().err.splitlines()
    assert all(line.startswith("smoke: ") for line in lines), lines
    subjects = [line.split(": ", 2)[1] for line in lines[1:]]
    assert subjects == ["fastapi-postgres"] * 4 + ["cleaning up what this run created"]


def test_kube_play_is_skipped_with_a_message_without_podman(
    health_server: int, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    directory = tmp_path / "bin"
    directory.mkdir()
    docker = directory / "docker"
    docker.write_text("#!/bin/sh\nexit 0\n")
    docker.chmod(0o755)

    class FakeDocker(FakePodman):
        def run(self, argv: Sequence[str], **kwargs: object) -> Result:
            if list(argv)[1:] == ["version", "--format", "{{.Server.Version}}"]:
                self.calls.append(list(argv))
                return Result(0, "27.1.1\n", "")
            if list(argv)[1:] == ["compose", "version"] or list(argv)[-1] == "version":
                self.calls.append(list(argv))
                return Result(1, "", "docker: 'compose' is not a docker command.")
            return super().run(argv)

    fake = FakeDocker(health_server)
    args = make_args(path=str(FASTAPI), kube_play=True, compose=True, no_rebuild=True)

    status = run_smoke(args, fake, search_path=str(directory), tty=False)

    out = capsys.readouterr().out
    assert status == 0, out
    assert "\ncompose    skipped: no compose-capable engine (looked for docker compose, docker-compose)\n" \
        in out
    assert "\nkube play  skipped: --kube-play needs podman (the engine is docker)\n" in out

"""--host-config files, the kube play manifest, probes, and the CLI wiring."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest
import yaml

from deploysmith.smoke import hostconfig, kube
from deploysmith.smoke.kit import load_kit, targets
from deploysmith.smoke.probe import tcp_once, wait_until
from tests.smoke.args import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def test_host_config_passes_http_indexes_and_the_ca_bundle(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config/pip").mkdir(parents=True)
    (home / ".config/pip/pip.conf").write_text(
        "[global]\nfind-links = /opt/wheels\nextra-index-url = file:///opt/pypi/simple https://mirror.example/simple\n"
    )
    (home / ".npmrc").write_text("registry=https://npm.example/\ncafile=/x\n")
    bundle = tmp_path / "ca.crt"
    bundle.write_text("cert")
    environ = {"SSL_CERT_FILE": str(bundle), "PIP_DEFAULT_TIMEOUT": "180", "PIP_INDEX_URL": "https://pypi.example/simple"}

    config = hostconfig.prepare(tmp_path / "out", environ, home)

    assert config.mounts == (
        (str(bundle), "/etc/ssl/certs/ca-certificates.crt"),
        (str(tmp_path / "out/pip.conf"), "/etc/pip.conf"),
        (str(tmp_path / "out/uv.toml"), "/etc/uv/uv.toml"),
        (str(tmp_path / "out/npmrc"), "/root/.npmrc"),
    )
    assert (tmp_path / "out/pip.conf").read_text() == (
        "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\nindex-url = https://pypi.example/simple\n"
        "extra-index-url = https://mirror.example/simple\ntimeout = 180\n"
    )
    assert (tmp_path / "out/uv.toml").read_text() == 'native-tls = true\nindex-url = "https://pypi.example/simple"\n'
    assert (tmp_path / "out/npmrc").read_text() == (
        "cafile=/etc/ssl/certs/ca-certificates.crt\nregistry=https://npm.example/\n"
    )
    assert config.notes == (
        "--host-config: left out of the build's pip configuration (not reachable from inside a build): "
        "file:///opt/pypi/simple",
    )


def test_the_kube_play_manifest_keeps_the_security_context() -> None:
    kit = load_kit(str(EXAMPLES / "fastapi-postgres"))
    [target] = targets(kit, "dev")
    deployment = kube.deployment_for(kit, target)
    assert deployment is not None

    text, volumes = kube.play_manifest(deployment, target, "localhost/x:1", "deploysmith-smoke-abc", 18081)

    config, played = yaml.safe_load_all(text)
    assert config == {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deploysmith-smoke-abc-config"},
        "data": {"PORT": "8000", "APP_ENV": "dev"},
    }
    assert volumes == ("deploysmith-smoke-abc-tmp",)
    assert played["metadata"] == {"name": "deploysmith-smoke-abc-fastapi-postgres"}
    assert played["spec"]["replicas"] == 1
    pod = played["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001 and pod["securityContext"]["runAsNonRoot"] is True
    assert pod["volumes"] == [{"name": "deploysmith-smoke-abc-tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    [container] = pod["containers"]
    assert container["image"] == "localhost/x:1"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP",
                                   "hostPort": 18081, "hostIP": "127.0.0.1"}]
    assert container["env"] == [{"name": "DATABASE_URL", "value":
                                 "postgresql://smoke-fake:not-a-real-password@fake-postgres.invalid:5432/smoke-fake"}]
    assert container["volumeMounts"] == [{"name": "deploysmith-smoke-abc-tmp", "mountPath": "/tmp"}]
    assert not {"startupProbe", "readinessProbe", "livenessProbe", "lifecycle"} & set(container)


def test_a_probe_gives_up_when_the_container_stops() -> None:
    ticks = iter(range(100))
    result = wait_until(
        lambda: (False, "GET /health: connection refused"),
        lambda: "the container stopped (exited, exit code 1)",
        timeout=60, clock=lambda: float(next(ticks)), sleep=lambda _: None,
    )
    assert not result.ok
    assert result.detail == (
        "the container stopped (exited, exit code 1) (last probe: GET /health: connection refused)"
    )


def test_a_probe_times_out_with_the_last_answer() -> None:
    ticks = iter(range(100))
    result = wait_until(lambda: (False, "GET / -> 503"), lambda: None, timeout=5,
                        clock=lambda: float(next(ticks)), sleep=lambda _: None)
    assert (result.ok, result.detail) == (False, "no healthy answer within 5 s (last: GET / -> 503)")


def test_tcp_probe_against_a_listening_socket() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert tcp_once("127.0.0.1", port) == (True, f"TCP {port} accepted")
    assert tcp_once("127.0.0.1", port) == (False, f"TCP {port}: connection refused")


def test_the_cli_parses_smoke_as_the_tests_assume() -> None:
    from deploysmith import cli

    parser = cli.build_parser()
    try:
        parsed = parser.parse_args(["smoke"])
    except Exception:  # noqa: BLE001 - cli.py does not have the smoke command yet
        pytest.skip("cli.py has no `smoke` command yet")
    assert isinstance(parsed, argparse.Namespace)
    assert vars(parsed) == DEFAULTS

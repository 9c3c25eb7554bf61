"""Fixtures of the containers tier: a podman of the session's own, and the stand-in bases.

The podman configuration is written to a temporary directory and selected with
CONTAINERS_CONF and CONTAINERS_STORAGE_CONF, so nothing of the machine's own podman is used
or changed. What it sets, and why (each measured on the CI machines):
- runtime runc: crun fails on this kernel's hybrid cgroup layout;
- cgroup_manager cgroupfs: there is no systemd to ask;
- events_logger file: no journald either;
- default_ulimits at or below the current limits (nproc also at most kernel.pid_max):
  raising a limit needs CAP_SYS_RESOURCE, which the sandbox does not grant, and podman's own
  defaults are above what the sandbox allows;
- overlay storage under the temporary directory, removed at the end of the session;
- a default network of its own (see network_json): builds and containers of two sessions on
  one machine (two developers' test runs) must not share a bridge.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import resource
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.smoke import standins as st

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
INSTALL_HINT = "scripts/install_container_tools.sh installs podman, buildah, runc, catatonit, mmdebstrap"
NPROC_CEILING_FILE = Path("/proc/sys/kernel/pid_max")


@dataclass
class PodmanEnv:
    root: Path
    conf: Path
    storage: Path


def _limit(kind: int, ceiling: int | None = None) -> int:
    soft, _hard = resource.getrlimit(kind)
    value = 1_048_576 if soft == resource.RLIM_INFINITY else soft
    return min(value, ceiling) if ceiling else value


def containers_conf(root: Path, network: str) -> str:
    try:
        pid_max = int(NPROC_CEILING_FILE.read_text().strip())
    except (OSError, ValueError):
        pid_max = None
    nofile = _limit(resource.RLIMIT_NOFILE)
    nproc = _limit(resource.RLIMIT_NPROC, pid_max)
    return (
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        'log_driver = "k8s-file"\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f'events_logfile_path = "{root}/events.log"\n'
        f'tmp_dir = "{root}/tmp"\n'
        "[network]\n"
        f'network_config_dir = "{root}/networks"\n'
        f'default_network = "{network}"\n'
    )


def network_json(name: str) -> str:
    """The session's default network, as netavark reads it from network_config_dir: a
    bridge of its own (podman 4.3's `network create` cannot name the interface, and every
    network it makes would share `podman0` with any other podman on the machine, whose
    teardown then breaks this session's NAT and DNS) on a random /24, without aardvark DNS."""
    third, fourth = random.randint(100, 250), random.randint(0, 255)
    return json.dumps({
        "name": name,
        "id": secrets.token_hex(32),
        "driver": "bridge",
        "network_interface": f"dstier{secrets.token_hex(3)}",
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        "subnets": [{"subnet": f"10.{third}.{fourth}.0/24", "gateway": f"10.{third}.{fourth}.1"}],
        "ipv6_enabled": False,
        "internal": False,
        "dns_enabled": False,
        "ipam_options": {"driver": "host-local"},
    }, indent=2)


def storage_conf(root: Path) -> str:
    return f'[storage]\ndriver = "overlay"\nrunroot = "{root}/run"\ngraphroot = "{root}/storage"\n'


@pytest.fixture(scope="session")
def podman_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanEnv]:
    missing = [tool for tool in ("podman", "mmdebstrap") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"containers tier: {' and '.join(missing)} not installed ({INSTALL_HINT})")
    if os.geteuid() != 0:
        pytest.skip("containers tier: needs root (mmdebstrap's root mode; podman with runc and cgroupfs)")
    root = tmp_path_factory.mktemp("podman")
    env = PodmanEnv(root, root / "containers.conf", root / "storage.conf")
    network = "deploysmith-tier"
    env.conf.write_text(containers_conf(root, network), encoding="utf-8")
    env.storage.write_text(storage_conf(root), encoding="utf-8")
    (root / "networks").mkdir()
    (root / "networks" / f"{network}.json").write_text(network_json(network), encoding="utf-8")
    saved = {key: os.environ.get(key) for key in ("CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "TMPDIR")}
    os.environ["CONTAINERS_CONF"] = str(env.conf)
    os.environ["CONTAINERS_STORAGE_CONF"] = str(env.storage)
    # buildah keeps RUN --mount=type=cache directories under $TMPDIR (else /var/tmp): one
    # session's, so every run starts as cold as a new CI machine and leaves nothing behind.
    (root / "buildtmp").mkdir()
    os.environ["TMPDIR"] = str(root / "buildtmp")
    try:
        info = subprocess.run(["podman", "info"], capture_output=True, text=True, timeout=120, check=False)
        if info.returncode != 0:
            pytest.fail(f"podman is installed but `podman info` fails here: {info.stderr[-500:]}")
        yield env
    finally:
        for argv in (["rm", "--all", "--force", "--time", "0"], ["pod", "rm", "--all", "--force"],
                     ["rmi", "--all", "--force"], ["volume", "prune", "--force"]):
            subprocess.run(["podman", *argv], capture_output=True, timeout=300, check=False)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(root, ignore_errors=True)


def example_bases() -> set[str]:
    """Every base image the examples' rendered Dockerfiles name (what the stand-ins replace)."""
    from deploysmith.smoke.kit import load_kit

    bases: set[str] = set()
    for name in ("fastapi-postgres", "django-celery", "express", "go-api"):
        for image in load_kit(str(EXAMPLES / name)).plan.images:
            bases.update(base for base in (image.build_base, image.runtime_base) if base)
    return bases


@pytest.fixture(scope="session")
def standins(podman_env: PodmanEnv, tmp_path_factory: pytest.TempPathFactory) -> st.Standins:
    work = tmp_path_factory.mktemp("standins")
    mirror = st.apt_mirror()
    if not any(st.suite_reachable(mirror, suite) for suite in (st.PREFERRED_SUITE, st.FALLBACK_SUITE)):
        pytest.skip(f"containers tier: the Debian mirror {mirror} is not reachable; no stand-in can be made")
    suite, note = st.choose_suite(mirror)
    cache = st.cache_dir()
    rootfs = (cache or work) / f"standin-{suite}-npm{st.NPM_VERSION}.tar"
    seconds = 0.0
    npm = None
    if not rootfs.is_file():
        rootfs.parent.mkdir(parents=True, exist_ok=True)
        npm = st.fetch_npm(work)
        partial = rootfs.with_name(rootfs.name + ".partial")
        seconds = st.build_rootfs(partial, mirror, suite, npm, work / "mmdebstrap.log")
        partial.rename(rootfs)
        has_npm = npm is not None
    else:
        has_npm = _has_npm(rootfs)
    distroless = work / "distroless.tar"
    st.distroless_tar(distroless)
    made = st.Standins(suite, note, mirror, seconds, has_npm)
    st.install(made, rootfs, distroless, example_bases())
    return made


def _has_npm(rootfs: Path) -> bool:
    result = subprocess.run(["tar", "-tf", str(rootfs), "./usr/bin/npm"], capture_output=True, check=False)
    return result.returncode == 0

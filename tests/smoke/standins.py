"""Stand-in base images for the containers tier: a test device, never part of a kit.

These machines reach no container registry, so the bases the generated Dockerfiles name
(python:3.12-slim-trixie, node:22-trixie-slim, golang:1.27-trixie,
gcr.io/distroless/static-debian13:nonroot) cannot be pulled. The tier makes local images
under those exact names instead, and builds the Dockerfiles unchanged with --pull=never:

- one Debian rootfs made by mmdebstrap from the apt mirror this machine is configured with,
  from the Debian suite the tags name (trixie) when the mirror serves it, else bookworm
  (`suite_note` says which). It carries python3 with venv (and `python`), passwd (groupadd,
  useradd, as in the slim images), ca-certificates, nodejs and golang-go from Debian, and npm
  (NPM_VERSION) unpacked from the npm registry's tarball, because Debian's npm package
  pulls in some 400 packages. The versions are Debian's, not the tags' (python 3.13 for
  3.12, node 20 for 22, go 1.24 for 1.27): the tier tests the kit's mechanics (users,
  layers, probes, cache), not the language versions;
- python:* and node:* are that rootfs; golang:* is it plus GOPATH=/go as in the official
  image; distroless static is a hand-made tar with /etc/passwd (nonroot 65532), /etc/group
  and /tmp, which is all a static binary needs.

One rootfs serves every image (one mmdebstrap run costs less than three); it is built once
per test session, or taken from DEPLOYSMITH_STANDIN_CACHE (a directory) when set.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("python3-venv", "python-is-python3", "passwd", "ca-certificates", "nodejs", "golang-go")
NPM_VERSION = "10.9.9"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PREFERRED_SUITE = "trixie"  # the Debian release of the generated Dockerfiles' base tags
FALLBACK_SUITE = "bookworm"
STANDIN_REPO = "localhost/deploysmith-standin"
GO_ENV = ("GOPATH=/go", "PATH=/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")


@dataclass
class Standins:
    suite: str
    suite_note: str
    mirror: str
    rootfs_seconds: float
    has_npm: bool
    made: dict[str, str] = field(default_factory=dict)  # base name → how it was made

    def go_ok(self) -> bool:
        return self.suite != FALLBACK_SUITE  # bookworm's Go 1.19 is older than the examples' go.mod


def apt_mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian archive URI apt is configured with (deb822 .sources or sources.list)."""
    candidates: list[str] = []
    files = sorted((sources / "sources.list.d").glob("*.sources")) + [sources / "sources.list"]
    files += sorted((sources / "sources.list.d").glob("*.list"))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        candidates += re.findall(r"^URIs:\s*(\S+)", text, flags=re.MULTILINE)
        candidates += re.findall(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, flags=re.MULTILINE)
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian"):
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def suite_reachable(mirror: str, suite: str, timeout: float = 15.0) -> bool:
    try:
        with urllib.request.urlopen(f"{mirror}/dists/{suite}/InRelease", timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def choose_suite(mirror: str) -> tuple[str, str]:
    if suite_reachable(mirror, PREFERRED_SUITE):
        return PREFERRED_SUITE, f"Debian {PREFERRED_SUITE} from {mirror} (the suite the base tags name)"
    return FALLBACK_SUITE, (
        f"Debian {FALLBACK_SUITE} from {mirror}: {PREFERRED_SUITE} is not served there, so the "
        "stand-ins are one release older than the tags say"
    )


def fetch_npm(directory: Path) -> Path | None:
    """npm's own tarball from the npm registry (`npm pack`), or None without npm."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    result = subprocess.run(
        [npm, "pack", f"npm@{NPM_VERSION}", "--pack-destination", str(directory), "--silent"],
        capture_output=True, text=True, timeout=180, check=False,
    )
    tarball = directory / f"npm-{NPM_VERSION}.tgz"
    return tarball if result.returncode == 0 and tarball.is_file() else None


def build_rootfs(destination: Path, mirror: str, suite: str, npm_tarball: Path | None, log: Path) -> float:
    """mmdebstrap the rootfs tar; returns the seconds it took. Raises on failure."""
    hooks = []
    if npm_tarball is not None:
        hooks.append(
            '--customize-hook=mkdir -p "$1/usr/lib/node_modules/npm"'
            f' && tar -xzf {npm_tarball} -C "$1/usr/lib/node_modules/npm" --strip-components=1'
            ' && ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/bin/npm"'
            ' && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/bin/npx"'
        )
    argv = [
        "mmdebstrap", "--variant=essential", "--format=tar", "--include=" + ",".join(PACKAGES),
        "--dpkgopt=force-unsafe-io", '--aptopt=Acquire::Languages "none"', *hooks,
        suite, str(destination), mirror,
    ]
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as handle:
        result = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, timeout=900, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"mmdebstrap failed (exit {result.returncode}); see {log}")
    return time.monotonic() - start


def distroless_tar(destination: Path) -> None:
    """A stand-in for distroless static: the users and a /tmp, nothing else."""
    entries: list[tuple[str, int, str | None]] = [
        ("etc", 0o755, None), ("tmp", 0o1777, None), ("home", 0o755, None), ("home/nonroot", 0o700, None),
        ("etc/passwd", 0o644, "root:x:0:0:root:/root:/sbin/nologin\n"
                              "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
                              "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"),
        ("etc/group", 0o644, "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"),
    ]
    with tarfile.open(destination, "w") as archive:
        for name, mode, content in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            info.mtime = 0
            if content is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                data = content.encode()
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))


def qualified(name: str) -> str:
    """The name podman stores a FROM reference under: docker.io/library/ for short names."""
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        return name
    return f"docker.io/{name}" if "/" in name else f"docker.io/library/{name}"


def podman(*argv: str, stdin: str | None = None, timeout: float = 600) -> str:
    result = subprocess.run(
        ["podman", *argv], input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(argv)} failed: {result.stderr.strip()[-500:]}")
    return result.stdout


def install(standins: Standins, rootfs: Path, distroless: Path, bases: set[str]) -> None:
    """Import the stand-ins under the names in `bases` (those the examples' Dockerfiles use)."""
    debian = f"{STANDIN_REPO}/debian:{standins.suite}"
    podman("import", "--quiet", "--change", "ENV LANG=C.UTF-8", str(rootfs), debian, timeout=600)
    for base in sorted(bases):
        name = qualified(base)
        family = base.split(":", 1)[0].rsplit("/", 1)[-1]
        if family in ("python", "node"):
            podman("tag", debian, name)
            standins.made[base] = f"Debian {standins.suite} rootfs"
        elif family == "golang":
            env = " ".join(GO_ENV)
            empty = rootfs.parent / "empty-context"
            empty.mkdir(exist_ok=True)
            podman("build", "--pull=never", "--format", "docker", "--tag", name, "--file", "-",
                   str(empty), stdin=f"FROM {debian}\nENV {env}\n")
            standins.made[base] = f"Debian {standins.suite} rootfs + GOPATH=/go"
        elif base.startswith("gcr.io/distroless/static"):
            podman("import", "--quiet", "--change", "USER 65532:65532", str(distroless), name)
            standins.made[base] = "hand-made tar (passwd, group, /tmp)"


def cache_dir() -> Path | None:
    value = os.environ.get("DEPLOYSMITH_STANDIN_CACHE")
    return Path(value) if value else None

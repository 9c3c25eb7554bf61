"""--host-config: the host's trust and package-index settings, mounted into build steps.

On networks that intercept TLS (a corporate proxy, a CI sandbox) a build's pip, uv or npm
fails its certificate check, and a private index configured on the host is unknown inside
the build. With --host-config, podman and buildah mount read-only into every RUN step:
the host's CA bundle over the image's, a pip.conf (/etc/pip.conf), a uv.toml
(/etc/uv/uv.toml) and an .npmrc (/root/.npmrc) that point at that bundle and carry the
host's index URLs. Only http(s) URLs are passed: a file:// index or a local find-links
directory does not exist inside the build. Nothing is added to an image layer.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CA_CANDIDATES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, BSD
)
IMAGE_CA = "/etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True)
class HostConfig:
    mounts: tuple[tuple[str, str], ...]  # (host path, path in the build step)
    notes: tuple[str, ...]


def host_ca_bundle(environ: Mapping[str, str]) -> str | None:
    for candidate in (environ.get("SSL_CERT_FILE"), *CA_CANDIDATES):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def pip_settings(environ: Mapping[str, str], home: Path) -> dict[str, str]:
    """index-url, extra-index-url, trusted-host and timeout from the host's pip
    configuration files, then PIP_* variables (which win, as in pip)."""
    settings: dict[str, str] = {}
    files = [Path("/etc/xdg/pip/pip.conf"), Path("/etc/pip.conf"), home / ".pip/pip.conf",
             home / ".config/pip/pip.conf"]
    if environ.get("PIP_CONFIG_FILE"):
        files.append(Path(environ["PIP_CONFIG_FILE"]))
    for path in files:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError):
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                for key in ("index-url", "extra-index-url", "trusted-host", "timeout"):
                    if parser.has_option(section, key):
                        settings[key] = parser.get(section, key)
    for key, variable in (("index-url", "PIP_INDEX_URL"), ("extra-index-url", "PIP_EXTRA_INDEX_URL"),
                          ("trusted-host", "PIP_TRUSTED_HOST"), ("timeout", "PIP_DEFAULT_TIMEOUT")):
        if environ.get(variable):
            settings[key] = environ[variable]
    return settings


def _http_only(value: str) -> tuple[list[str], list[str]]:
    kept: list[str] = []
    dropped: list[str] = []
    for url in value.split():
        (kept if url.startswith(("http://", "https://")) else dropped).append(url)
    return kept, dropped


def pip_conf(settings: Mapping[str, str]) -> tuple[str, list[str]]:
    lines = ["[global]", f"cert = {IMAGE_CA}"]
    dropped: list[str] = []
    for key in ("index-url", "extra-index-url"):
        if key in settings:
            kept, gone = _http_only(settings[key])
            dropped += gone
            if kept:
                lines.append(f"{key} = {' '.join(kept)}")
    for key in ("trusted-host", "timeout"):
        if key in settings:
            lines.append(f"{key} = {settings[key]}")
    return "\n".join(lines) + "\n", dropped


def npm_registry(environ: Mapping[str, str], home: Path) -> str | None:
    if environ.get("NPM_CONFIG_REGISTRY"):
        return environ["NPM_CONFIG_REGISTRY"]
    registry = None
    for path in (Path("/etc/npmrc"), Path("/usr/local/etc/npmrc"), home / ".npmrc"):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == "registry":
                registry = value.strip()
    return registry


def prepare(
    directory: Path, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> HostConfig:
    """Write the configuration files into `directory` and return the mounts."""
    env = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    notes: list[str] = []
    mounts: list[tuple[str, str]] = []
    bundle = host_ca_bundle(env)
    if bundle:
        mounts.append((bundle, IMAGE_CA))
    else:
        notes.append("--host-config: no CA bundle found on the host; builds use the images' own")
    settings = pip_settings(env, home)
    text, dropped = pip_conf(settings)
    if dropped:
        notes.append("--host-config: left out of the build's pip configuration (not reachable from inside "
                     "a build): " + " ".join(dropped))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pip.conf").write_text(text, encoding="utf-8")
    mounts.append((str(directory / "pip.conf"), "/etc/pip.conf"))
    uv_lines = ["native-tls = true"]
    index = [url for url in _http_only(settings.get("index-url", ""))[0]]
    if index:
        uv_lines.append(f'index-url = "{index[0]}"')
    (directory / "uv.toml").write_text("\n".join(uv_lines) + "\n", encoding="utf-8")
    mounts.append((str(directory / "uv.toml"), "/etc/uv/uv.toml"))
    npmrc = [f"cafile={IMAGE_CA}"]
    registry = npm_registry(env, home)
    if registry and registry.startswith(("http://", "https://")):
        npmrc.append(f"registry={registry}")
    (directory / "npmrc").write_text("\n".join(npmrc) + "\n", encoding="utf-8")
    mounts.append((str(directory / "npmrc"), "/root/.npmrc"))
    return HostConfig(tuple(mounts), tuple(notes))

#!/usr/bin/env bash
# The containers tier's tools, from Debian (issue 8): podman and buildah (with runc, which
# this kernel's hybrid cgroups need, and catatonit as the pods' init), and mmdebstrap for
# the stand-in base images. Idempotent; exits non-zero when they cannot be installed, and
# the tier then skips with a message.
set -euo pipefail

packages=(podman buildah runc catatonit mmdebstrap)
missing=()
for tool in podman buildah runc catatonit mmdebstrap; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/libexec/podman/$tool" ] || missing+=("$tool")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "container tools: already installed ($(podman --version), $(mmdebstrap --version))"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "container tools: not root and no passwordless sudo; cannot install ${packages[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "container tools: no apt-get on this machine; install ${packages[*]} another way" >&2
  exit 1
fi

start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
echo "container tools: installed ${packages[*]} in $(( $(date +%s) - start )) s ($(podman --version))"

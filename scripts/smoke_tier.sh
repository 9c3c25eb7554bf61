#!/usr/bin/env bash
# The containers tier on its own (issue 8): the examples' kits built with podman from
# stand-in base images, run, probed, rebuilt, and one Deployment played with
# `podman kube play`. Prints the tier's wall time at the end.
#
# Usage: bash scripts/smoke_tier.sh [--install] [pytest options]
#   --install   install the tools first (scripts/install_container_tools.sh; not timed)
# DEPLOYSMITH_STANDIN_CACHE=DIR keeps the stand-in rootfs between runs (unset: built afresh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--install" ]; then
  shift
  bash scripts/install_container_tools.sh
fi

start=$(date +%s)
set +e
python -m pytest tests/smoke -m containers -p no:cacheprovider -rs "$@"
status=$?
set -e
elapsed=$(( $(date +%s) - start ))
printf 'containers tier: %dm%02ds wall time (exit %d)\n' $(( elapsed / 60 )) $(( elapsed % 60 )) "$status"
exit "$status"

"""smoke: prove the kit runs. Build each image with the engine the user has, run it as the
manifests would, wait for its probe, and report what was measured (issue 8).

  engine.py      discovery (docker, podman, buildah) and every command line, as pure functions
  kit.py         the kit (repository files first, else rendered in memory), run settings,
                 the workspace copy, Dockerfile steps and build-log cache hits
  probe.py       HTTP/TCP probes with the kubelet's success rules
  cleanup.py     everything created, by id, removed at the end, on ^C and SIGTERM too
  kube.py        --kube-play: the rendered Deployment for `podman kube play`
  hostconfig.py  --host-config: the host's CA bundle and package indexes inside build steps
  progress.py    progress lines on stderr (through deploysmith.output)
  report.py      the records and their text / JSON forms
  run.py         the flow
"""

from __future__ import annotations

from deploysmith.smoke.run import smoke_command

__all__ = ["smoke_command"]

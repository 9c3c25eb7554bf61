"""--kube-play: the rendered Deployment, run by `podman kube play`, probed from the host.

The Deployment is the kit's own (base manifest), with the changes a single podman host
needs, each one listed in the report:
- the image is the one smoke just built; one replica;
- names are prefixed with the run's id, so nothing of the user's is replaced or removed
  (the pod, and the emptyDir volumes podman creates as named volumes);
- the ConfigMap the kustomization would generate is included, with the overlay's APP_ENV;
- Secret keys get the same fake values as `smoke` uses (a literal `value` in place of
  `secretKeyRef`: podman's Secret support differs between versions);
- the container port gets a hostPort on 127.0.0.1, so the probe can reach it;
- probes and lifecycle hooks are dropped (podman would run httpGet probes with curl inside
  the image, which slim images lack; smoke probes from the host instead);
- the service account and topology spread constraints are dropped (no API server, one node).
securityContext (runAsUser, readOnlyRootFilesystem, dropped capabilities) is kept as is.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

from deploysmith.render.common import BASE_DIR
from deploysmith.smoke.kit import Kit, Target

CHANGES = (
    "image → the image just built",
    "replicas → 1",
    "names prefixed with the smoke run id",
    "ConfigMap generated inline (base + overlay literals)",
    "Secret keys → fake literal values",
    "hostPort on 127.0.0.1 added",
    "probes and lifecycle hooks dropped (probed from the host)",
    "service account and spread constraints dropped (no API server, one node)",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def deployment_for(kit: Kit, target: Target) -> Mapping[str, Any] | None:
    import yaml

    file = kit.file(f"{BASE_DIR}/{target.workload.component.name}/deployment.yaml")
    if file is None:
        return None
    data = yaml.safe_load(file.content)
    return data if isinstance(data, dict) and data.get("kind") == "Deployment" else None


def play_manifest(
    deployment: Mapping[str, Any], target: Target, image: str, prefix: str, host_port: int | None
) -> tuple[str, tuple[str, ...]]:
    """The YAML for `podman kube play` and the names of the volumes it will create."""
    import copy

    import yaml

    data: dict[str, Any] = copy.deepcopy(dict(deployment))
    name = f"{prefix}-{data['metadata']['name']}"
    data["metadata"] = {"name": name}
    spec = data["spec"]
    spec["replicas"] = 1
    pod = spec["template"]["spec"]
    for key in ("topologySpreadConstraints", "serviceAccountName", "automountServiceAccountToken"):
        pod.pop(key, None)
    env = dict(target.run.env)
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{prefix}-config"},
        "data": {key: value for key, value in env.items() if key not in target.fake_env},
    }
    volume_names: dict[str, str] = {}
    for volume in pod.get("volumes") or ():
        volume_names[volume["name"]] = f"{prefix}-{volume['name']}"
        volume["name"] = volume_names[volume["name"]]
    for container in pod["containers"]:
        container["image"] = image
        for key in ("startupProbe", "readinessProbe", "livenessProbe", "lifecycle"):
            container.pop(key, None)
        container["envFrom"] = [{"configMapRef": {"name": config["metadata"]["name"]}}]
        container["env"] = [{"name": key, "value": env[key]} for key in target.fake_env]
        if not container["env"]:
            container.pop("env")
        for mount in container.get("volumeMounts") or ():
            mount["name"] = volume_names.get(mount["name"], mount["name"])
        for port in container.get("ports") or ():
            if host_port is not None and port.get("containerPort") == target.run.port:
                port["hostPort"] = host_port
                port["hostIP"] = "127.0.0.1"
    text = yaml.safe_dump_all([config, data], sort_keys=False)
    return text, tuple(volume_names.values())

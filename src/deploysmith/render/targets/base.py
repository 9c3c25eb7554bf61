"""What the target modules share: names, image placeholders, the commands record, and the
JSON/TOML writers (data in, text out, parsed back before it is returned)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile, Workload
from deploysmith.render.common import header
from deploysmith.render.yamlout import dump

DEPLOY_DIR = "deploy"
HEALTH_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class TargetCommands:
    """Shell lines for one environment: deploy (including migrations), check that the new
    release serves, and roll back to the previous one. Image references are shell
    expressions (`"${IMAGE_API}"`), set by CI to the digests the Package stage pushed."""

    deploy: tuple[str, ...]
    verify: tuple[str, ...]
    rollback: tuple[str, ...]


def image_var(image: str) -> str:
    return "IMAGE_" + re.sub(r"[^A-Za-z0-9]+", "_", image).upper().strip("_")


def placeholder(image: str) -> str:
    """What a rendered file holds where the image digest goes; CI substitutes it."""
    return "${" + image_var(image) + "}"


def substitute_lines(source: str, target: str, variables: tuple[str, ...]) -> list[str]:
    """Copy `source` to `target` with each `${VAR}` placeholder replaced by the variable's value.
    The values are digests from the Package stage (`repository@sha256:…`) and names derived
    from them: no `|`, `&` or `\\`."""
    expressions = " ".join(f'-e "s|[$]{{{name}}}|${{{name}}}|g"' for name in variables)
    return [f"sed {expressions} {shlex.quote(source)} > {shlex.quote(target)}"]


def used_images(plan: Plan) -> tuple[str, ...]:
    return tuple(dict.fromkeys(w.image for w in plan.workloads))


def image_vars(plan: Plan) -> tuple[str, ...]:
    return tuple(image_var(image) for image in used_images(plan))


def service_name(plan: Plan, workload: Workload, env: EnvironmentPlan) -> str:
    """`<app>[-<component>]-<env>`: lowercase, digits and hyphens, at most 49 characters
    (Cloud Run's limit, the tightest of the targets)."""
    parts = [plan.app_name]
    if workload.component.name != plan.app_name:
        parts.append(workload.component.name)
    parts.append(env.name)
    name = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return name[:49].rstrip("-")


def app_name(plan: Plan, env: EnvironmentPlan) -> str:
    """One app per environment on the PaaS targets: `<app>` in prod, `<app>-<env>` elsewhere."""
    return plan.app_name if env.name == "prod" else f"{plan.app_name}-{env.name}"


def web(plan: Plan) -> tuple[Workload, ...]:
    return tuple(w for w in plan.workloads if w.component.kind in ("web", "static"))


def workers(plan: Plan) -> tuple[Workload, ...]:
    return tuple(w for w in plan.workloads if w.component.kind not in ("web", "static"))


def health_path(workload: Workload) -> str | None:
    return workload.probe.path if workload.probe.kind == "http" else None


def start_args(workload: Workload) -> list[str] | None:
    """The start command as an argument list (exec form), None when the image's CMD applies."""
    command = workload.component.start_command
    return shlex.split(command) if command else None


def cpu_millis(value: str) -> int:
    return int(value[:-1]) if value.endswith("m") else int(float(value) * 1000)


def memory_mib(value: str) -> int:
    if value.endswith("Gi"):
        return int(float(value[:-2]) * 1024)
    if value.endswith("Mi"):
        return int(value[:-2])
    raise ValueError(f"memory {value!r}")


def secret_keys(plan: Plan) -> tuple[str, ...]:
    return tuple(sorted({key for w in plan.workloads for key in w.secret_env}))


def yaml_file(path: str, data: Any, what: str) -> RenderedFile:
    return RenderedFile(path, dump(data, header(what)))


def json_file(path: str, data: Any) -> RenderedFile:
    """JSON has no comments: the reasons live in DEPLOYMENT.md."""
    text = json.dumps(data, indent=2) + "\n"
    if json.loads(text) != data:
        raise AssertionError(f"{path}: rendered JSON does not read back as its data")
    return RenderedFile(path, text)


def toml_file(path: str, data: Mapping[str, Any], what: str) -> RenderedFile:
    """TOML from data with tomli_w, parsed back with tomllib before it is returned."""
    import tomllib

    import tomli_w

    body = tomli_w.dumps(dict(data))
    if tomllib.loads(body) != data:
        raise AssertionError(f"{path}: rendered TOML does not read back as its data")
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header(what).split("\n"))
    return RenderedFile(path, comment + "\n" + body)


def quote(value: str) -> str:
    return shlex.quote(value)


def health_command(workload: Workload) -> list[str] | None:
    """An in-container health check with what the runtime image already has (no curl in slim
    or distroless images); None when it has nothing to run one with (distroless, chiseled):
    the load balancer's health check on the same path then decides."""
    path = health_path(workload)
    port = workload.container_port
    if path is None or port is None:
        return None
    url = f"http://127.0.0.1:{port}{path}"
    language = workload.component.language
    if workload.component.kind == "static":
        return ["CMD", "wget", "--quiet", "--spider", url]
    if language == "python":
        return ["CMD", "python", "-c", f"import urllib.request; urllib.request.urlopen({url!r}, timeout=4)"]
    if language in ("javascript", "typescript"):
        return [
            "CMD", "node", "-e",
            f"fetch({url!r}).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))",
        ]
    if language in ("ruby",):
        return ["CMD", "ruby", "-rnet/http", "-e", f"exit Net::HTTP.get_response(URI({url!r})).is_a?(Net::HTTPSuccess)"]
    return None

"""Azure Container Apps: per environment and component,
`deploy/container-apps/<env>/<component>.yaml`, the app's YAML for
`az containerapp update --yaml` (AKS stays on the Kubernetes target).

Web components run in multiple-revision mode: each release is a revision named
`<app>--<12 hex of the digest>`; the previous revision keeps its traffic until the new one
passes its startup, readiness and liveness probes, then traffic weights move (10% first
for a canary) and rollback gives the previous revision 100% again. Workers have no
ingress and run one revision at a time. Secrets are Key Vault references resolved by the
app's managed identity.
"""

from __future__ import annotations

import math
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile, Workload
from deploysmith.plan.targets import target_strategy
from deploysmith.render.targets.base import (
    DEPLOY_DIR,
    TargetCommands,
    cpu_millis,
    health_path,
    image_var,
    image_vars,
    memory_mib,
    placeholder,
    service_name,
    start_args,
    substitute_lines,
    yaml_file,
)
from deploysmith.render.yamlout import comment

FOLDER = f"{DEPLOY_DIR}/container-apps"
GROUP = '--resource-group "${AZURE_RESOURCE_GROUP}"'
CANARY_WEIGHT = 10
CANARY_BAKE_SECONDS = 300


def path(env: EnvironmentPlan, workload: Workload) -> str:
    return f"{FOLDER}/{env.name}/{workload.component.name}.yaml"


def serving(workload: Workload) -> bool:
    return workload.component.kind in ("web", "static") and workload.container_port is not None


def size(env: EnvironmentPlan) -> tuple[float, str]:
    """A valid consumption-plan pair: CPU in 0.25 steps with twice as many GiB of memory."""
    quarters = max(math.ceil(cpu_millis(env.cpu_limit) / 250), math.ceil(memory_mib(env.memory_limit) / 512), 1)
    quarters = min(quarters, 16)
    return quarters / 4, f"{quarters / 2}Gi"


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    return tuple(
        yaml_file(path(env, w), app(plan, env, w), f"the Azure Container App of {w.component.name} in {env.name} "
                  "(az containerapp update --yaml, see docs/deploy/RUNBOOK.md)")
        for env in plan.environments
        for w in plan.workloads
    )


def secret_name(key: str) -> str:
    return key.lower().replace("_", "-")


def app(plan: Plan, env: EnvironmentPlan, workload: Workload) -> dict[str, Any]:
    name = service_name(plan, workload, env)
    cpu, memory = size(env)
    container: dict[str, Any] = {
        "name": workload.component.name,
        "image": placeholder(workload.image),
        "env": [{"name": "APP_ENV", "value": env.name}]
        + [{"name": key, "secretRef": secret_name(key)} for key in sorted(workload.secret_env)],
        "resources": {"cpu": cpu, "memory": memory},
    }
    if workload.component.kind not in ("web", "static") and start_args(workload):
        container["command"] = start_args(workload)
    port = workload.container_port
    probe_path = health_path(workload)
    if port:
        action: dict[str, Any] = {"httpGet": {"path": probe_path, "port": port}} if probe_path else {
            "tcpSocket": {"port": port}
        }
        container["probes"] = [
            {"type": "Startup", **action, "periodSeconds": 2, "failureThreshold": 30, "timeoutSeconds": 2},
            {"type": "Readiness", **action, "periodSeconds": 5, "failureThreshold": 3, "timeoutSeconds": 3},
            {"type": "Liveness", **action, "periodSeconds": 15, "failureThreshold": 3, "timeoutSeconds": 3},
        ]
    if workload.read_only_root and workload.writable_paths:
        container["volumeMounts"] = [
            {"volumeName": _volume(p), "mountPath": p} for p in workload.writable_paths
        ]
    template: dict[str, Any] = {
        "revisionSuffix": "${REVISION}",
        "containers": [container],
        "scale": {"minReplicas": env.min_replicas if serving(workload) else 1, "maxReplicas": env.max_replicas},
    }
    if "volumeMounts" in container:
        template["volumes"] = [{"name": _volume(p), "storageType": "EmptyDir"} for p in workload.writable_paths]
    configuration: dict[str, Any] = {
        "activeRevisionsMode": "Multiple" if serving(workload) else "Single",
        "secrets": comment(
            [
                {
                    "name": secret_name(key),
                    "keyVaultUrl": f"https://{plan.app_name[:15]}-{env.name}-kv.vault.azure.net/secrets/"
                    f"{secret_name(key)}",
                    "identity": "system",
                }
                for key in sorted(workload.secret_env)
            ],
            "Key Vault references: the app's system-assigned identity needs the Key Vault Secrets User role.",
        ),
    }
    if not workload.secret_env:
        del configuration["secrets"]
    if serving(workload):
        configuration["ingress"] = {
            "external": True,
            "targetPort": port,
            "transport": "auto",
            "allowInsecure": False,
            "traffic": comment(
                [
                    {"revisionName": "${PREVIOUS_REVISION}", "weight": 100},
                    {"revisionName": f"{name}--${{REVISION}}", "weight": 0, "label": "candidate"},
                ],
                "The new revision starts with no traffic; the deploy checks it, then moves the weights.",
            ),
        }
    return {
        "name": name,
        "type": "Microsoft.App/containerApps",
        "identity": {"type": "SystemAssigned"},
        "tags": {"app": plan.app_name, "environment": env.name},
        "properties": {"configuration": configuration, "template": template},
    }


def _volume(path: str) -> str:
    return "scratch" + path.replace("/", "-")


def commands(plan: Plan, env: EnvironmentPlan) -> TargetCommands:
    strategy = target_strategy(plan.requirements, plan.strategy.choice)
    first = image_var(plan.workloads[0].image)
    deploy = [f'REVISION="$(printf \'%s\' "${{{first}##*sha256:}}" | cut -c1-12)"']
    verify: list[str] = []
    rollback: list[str] = []
    for workload in plan.workloads:
        name = service_name(plan, workload, env)
        rendered = f"/tmp/{name}.yaml"
        new = f"{name}--${{REVISION}}"
        deploy += [
            f"# {workload.component.name}: {name}",
            f"PREVIOUS_REVISION=\"$(az containerapp show --name {name} {GROUP} \\",
            "  --query properties.latestReadyRevisionName --output tsv 2>/dev/null || true)\"",
            f'PREVIOUS_REVISION="${{PREVIOUS_REVISION:-{new}}}"  # first deploy: none before',
            *substitute_lines(path(env, workload), rendered, (*image_vars(plan), "REVISION", "PREVIOUS_REVISION")),
            f"az containerapp update --name {name} {GROUP} --yaml {rendered} --output none",
        ]
        if serving(workload):
            deploy += [
                f"az containerapp revision show --name {name} {GROUP} --revision \"{new}\" \\",
                "  --query properties.healthState --output tsv",
            ]
            if strategy == "canary":
                deploy += [
                    f"az containerapp ingress traffic set --name {name} {GROUP} \\",
                    f'  --revision-weight "${{PREVIOUS_REVISION}}={100 - CANARY_WEIGHT}" "{new}={CANARY_WEIGHT}" '
                    "--output none",
                    f"sleep {CANARY_BAKE_SECONDS}  # watch the revision's requests in Azure Monitor meanwhile",
                ]
            deploy += [
                f"az containerapp ingress traffic set --name {name} {GROUP} \\",
                f'  --revision-weight "{new}=100" --output none',
            ]
            rollback += [
                f"previous=\"$(az containerapp revision list --name {name} {GROUP} \\",
                "  --query 'sort_by([], &properties.createdTime)[-2].name' --output tsv)\"",
                f'az containerapp ingress traffic set --name {name} {GROUP} --revision-weight "${{previous}}=100" '
                "--output none",
            ]
        else:
            rollback += [
                f"previous=\"$(az containerapp revision list --name {name} {GROUP} --all \\",
                "  --query 'sort_by([], &properties.createdTime)[-2].name' --output tsv)\"",
                f'az containerapp revision activate --name {name} {GROUP} --revision "${{previous}}"',
            ]
        verify += [
            f"state=\"$(az containerapp show --name {name} {GROUP} --query properties.runningStatus --output tsv)\"",
            f'[[ "${{state}}" == "Running" ]] || {{ echo "{name}: ${{state}}" >&2; exit 1; }}',
        ]
    return TargetCommands(tuple(deploy), tuple(verify), tuple(rollback))


def logs(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """The last lines of each app's console log."""
    return tuple(
        f"az containerapp logs show --name {service_name(plan, w, env)} {GROUP} --tail 100" for w in plan.workloads
    )

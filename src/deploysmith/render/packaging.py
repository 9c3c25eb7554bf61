"""How the Kubernetes manifests are packaged (`--packaging`), seen from those who deploy them.

The CI renderers and the runbook ask this module, not a packaging module, for the deploy
commands of an environment, so one `DeployCommands` shape serves Kustomize, Helm and plain
manifests alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from deploysmith.model import EnvironmentPlan, Plan
from deploysmith.render import helm, kustomize, plain
from deploysmith.render.common import BASE_DIR, overlay_dir
from deploysmith.render.kustomize import DeployCommands

DeployFunction = Callable[[Plan, str, "Mapping[str, str] | None"], DeployCommands]

DEPLOY_COMMANDS: dict[str, DeployFunction] = {
    "kustomize": kustomize.deploy_commands,
    "helm": helm.deploy_commands,
    "plain": plain.deploy_commands,
}


def deploy_commands(plan: Plan, env_name: str, image_refs: Mapping[str, str] | None = None) -> DeployCommands:
    """The exact commands to deploy `env_name` with the plan's packaging."""
    return DEPLOY_COMMANDS[plan.requirements.packaging](plan, env_name, image_refs)


# What each packaging calls the place an environment's replicas, resources and hosts live.
SETTINGS_NOUNS = {"kustomize": "overlay", "helm": "values file", "plain": "manifests"}


def settings_noun(plan: Plan) -> str:
    return SETTINGS_NOUNS[plan.requirements.packaging]


def settings_path(plan: Plan, env_name: str) -> str:
    """The folder or file holding `env_name`'s replicas, resources and hosts."""
    packaging = plan.requirements.packaging
    if packaging == "helm":
        return helm.values_file(env_name)
    if packaging == "plain":
        return plain.env_dir(env_name)
    return overlay_dir(env_name)


def max_replicas_field(plan: Plan, env_name: str, workload_name: str) -> str:
    """Where to raise a workload's autoscaling ceiling in `env_name`, exactly."""
    packaging = plan.requirements.packaging
    if packaging == "helm":
        return f"workloads.{workload_name}.autoscaling.maxReplicas in {helm.values_file(env_name)}"
    if packaging == "plain":
        return f"maxReplicas in {plain.app_dir(env_name)}/{workload_name}-hpa.yaml"
    return f"maxReplicas in {overlay_dir(env_name)}/{workload_name}.yaml"


def pinned_file(plan: Plan, env_name: str) -> str:
    """The file whose history holds `env_name`'s deploys when CI commits digests (GitOps)."""
    if plan.requirements.packaging == "helm":
        return helm.values_file(env_name)
    return f"{overlay_dir(env_name)}/kustomization.yaml"


def apply_step_name(plan: Plan, env_name: str) -> str:
    return {
        "helm": f"Upgrade the {env_name} release",
        "plain": f"Apply the {env_name} manifests",
    }.get(plan.requirements.packaging, f"Apply the {env_name} overlay")


def history_commands(plan: Plan, env: EnvironmentPlan) -> tuple[str, ...]:
    """What the runbook shows before a rollback: the revisions a rollback can return to."""
    if plan.requirements.packaging == "helm":
        return helm.history_commands(plan, env)
    return tuple(
        f"kubectl -n {env.namespace} rollout history deployment/{workload.component.name}"
        for workload in plan.workloads
    )


def kit_files(plan: Plan) -> list[tuple[str, str]]:
    """DEPLOYMENT.md's "What is in the kit" rows for the Kubernetes manifests."""
    if plan.requirements.packaging == "helm":
        return [
            (f"{helm.CHART_DIR}/", "Helm chart: Deployment, Service, HPA, PDB, NetworkPolicy, Ingress, the "
                                   "migration hook; values.schema.json"),
            (f"{helm.CHART_DIR}/values-<env>.yaml", "per-environment replicas, resources, hosts"),
            (f"{helm.NAMESPACES_DIR}/<env>.yaml", "each environment's namespace, applied once"),
        ]
    if plan.requirements.packaging == "plain":
        return [(f"{plain.MANIFESTS_DIR}/<env>/", "every object per environment, for `kubectl apply -f`")]
    return [
        (f"{BASE_DIR}/", "Kubernetes base: Deployment, Service, HPA, PDB, NetworkPolicy, Ingress"),
        ("deploy/overlays/<env>/", "per-environment replicas, resources, hosts"),
    ]

"""How the Kubernetes manifests are packaged (`--packaging`), seen from those who deploy them.

The CI renderers and the runbook ask this module, not a packaging module, for the deploy
commands of an environment, so one `DeployCommands` shape serves Kustomize, Helm and plain
manifests alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from deploysmith.model import EnvironmentPlan, Plan
from deploysmith.render import helm, kustomize, plain
from deploysmith.render.common import BASE_DIR
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

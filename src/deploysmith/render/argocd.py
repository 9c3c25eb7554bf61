"""Argo CD: an AppProject and one Application per environment, under deploy/gitops/.

Rendered only when `plan.requirements.gitops` is True (the kustomize renderer includes
these files). Each Application points at this repository's overlay for its environment.
A cluster admin applies them once: `kubectl apply -k deploy/gitops`.

- dev/staging (auto_deploy): automated sync with prune and self-heal;
- prod (behind the approval gate): manual sync — someone presses Sync after approving;
- failed syncs retry with exponential backoff;
- `/spec/replicas` of HPA-owned Deployments is ignored, so Argo CD neither reports the
  autoscaler's count as drift nor resets it on sync (RespectIgnoreDifferences);
- the migration Job is a Sync hook in wave -1 (see render.kubernetes.migration_job), after
  the Namespace, its ServiceAccount and ConfigMap and the Secret's source (wave -2);
- with Argo Rollouts, the fields the rollouts controller owns (Service selectors, traffic
  weights) are ignored by their field manager, and `/spec/replicas` of an HPA-owned Rollout.

One Application per environment rather than an ApplicationSet over the overlays: the
environments differ in sync policy (prod syncs by hand), which an ApplicationSet expresses
only through templatePatch; three short files say plainly what each environment does, and
a reviewer sees a change to prod's policy as a change to prod's file.
"""

from __future__ import annotations

from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.plan.strategy import PROGRESSIVE
from deploysmith.render import gitops, secrets
from deploysmith.render import kubernetes as k8s
from deploysmith.render.common import GITOPS_DIR, header, overlay_dir
from deploysmith.render.yamlout import comment, dump

ARGOCD_NAMESPACE = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"
PLACEHOLDER_HOST = gitops.PLACEHOLDER_HOST
CHART_DIR = "deploy/chart"  # where render.helm writes the chart
ROLLOUTS_MANAGER = "rollouts-controller"  # the field manager of the Argo Rollouts controller

# What the overlays contain; the project allows nothing else (least privilege).
NAMESPACED_KINDS: tuple[tuple[str, str], ...] = (
    ("", "ConfigMap"),
    ("", "Service"),
    ("", "ServiceAccount"),
    ("apps", "Deployment"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("batch", "Job"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("policy", "PodDisruptionBudget"),
)


# Kinds the monitoring folder (deploy/monitoring/<env>) holds, for an Application that syncs it.
MONITORING_KINDS: tuple[tuple[str, str], ...] = (
    ("monitoring.coreos.com", "PrometheusRule"),
    ("monitoring.coreos.com", "Probe"),
    ("monitoring.coreos.com", "ServiceMonitor"),
)
ROLLOUT_KINDS: tuple[tuple[str, str], ...] = (
    ("argoproj.io", "AnalysisTemplate"),
    ("argoproj.io", "Rollout"),
)
FLAGGER_KINDS: tuple[tuple[str, str], ...] = (("flagger.app", "Canary"), ("flagger.app", "MetricTemplate"))
ROUTER_KINDS: dict[str, tuple[tuple[str, str], ...]] = {
    "istio": (("networking.istio.io", "DestinationRule"), ("networking.istio.io", "VirtualService")),
    "gateway-api": (("gateway.networking.k8s.io", "HTTPRoute"),),
    "nginx": (),
}
SECRET_KINDS: dict[str, tuple[tuple[str, str], ...]] = {
    "external-secrets": (("external-secrets.io", "ExternalSecret"), ("external-secrets.io", "SecretStore")),
    "sealed-secrets": (("bitnami.com", "SealedSecret"),),
}


def repo_url(plan: Plan) -> str | None:
    """`https://<host>/<path>.git` from the detected remote, or None when it is unknown."""
    return gitops.repo_url(plan)


def namespaced_kinds(plan: Plan) -> list[tuple[str, str]]:
    """Every kind this plan's overlays (and monitoring folders) can contain, nothing more."""
    kinds = [*NAMESPACED_KINDS, *MONITORING_KINDS]
    requirements = plan.requirements
    if gitops.rollout_kind(plan)[1] == "Rollout":
        kinds += ROLLOUT_KINDS
    elif plan.strategy.choice in PROGRESSIVE:
        kinds += FLAGGER_KINDS
    if plan.strategy.choice in PROGRESSIVE:
        kinds += ROUTER_KINDS.get(requirements.traffic_router, ())
    if secrets.managed(plan):
        kinds += SECRET_KINDS.get(secrets.mode(plan), ())
    return sorted(set(kinds))


def application_name(plan: Plan, env: EnvironmentPlan) -> str:
    return f"{plan.app_name}-{env.name}"


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    if gitops.tool(plan) != "argocd":
        return ()
    secrets.check(plan)
    source = gitops.source_url(plan)
    files = [
        RenderedFile(
            f"{GITOPS_DIR}/appproject.yaml",
            dump(_project(plan, source), header(f"Argo CD project of {plan.app_name}")),
        )
    ]
    for env in plan.environments:
        files.append(
            RenderedFile(
                f"{GITOPS_DIR}/{env.name}.yaml",
                dump(
                    _application(plan, env, source),
                    header(f"Argo CD Application of {plan.app_name} {env.name}"),
                ),
            )
        )
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["appproject.yaml", *(f"{env.name}.yaml" for env in plan.environments)],
    }
    files.append(
        RenderedFile(
            f"{GITOPS_DIR}/kustomization.yaml",
            dump(
                kustomization,
                header(f"Argo CD resources of {plan.app_name}")
                + "\n\nApply once, as a cluster admin: kubectl apply -k "
                + GITOPS_DIR,
            ),
        )
    )
    return tuple(files)


def _labels(plan: Plan) -> dict[str, str]:
    return {k8s.PART_OF: plan.app_name, k8s.MANAGED_BY: "deploysmith"}


def _project(plan: Plan, source: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": plan.app_name, "namespace": ARGOCD_NAMESPACE, "labels": _labels(plan)},
        "spec": {
            "description": f"{plan.app_name}: one Application per environment, from this repository only",
            "sourceRepos": [source],
            "destinations": comment(
                [{"server": IN_CLUSTER, "namespace": env.namespace} for env in plan.environments],
                "The cluster Argo CD runs in; list another cluster's API server URL to deploy there.",
            ),
            "clusterResourceWhitelist": comment(
                [{"group": "", "kind": "Namespace"}],
                "The environments' Namespaces (Pod Security labels); no other cluster-scoped kind.",
            ),
            "namespaceResourceWhitelist": comment(
                [{"group": group, "kind": kind} for group, kind in namespaced_kinds(plan)],
                "Exactly the kinds the app's manifests and deploy/monitoring contain; add a kind here\n"
                "when you add one there.",
            ),
            "orphanedResources": comment(
                {"warn": True}, "Warn about objects in these namespaces that no Application manages."
            ),
        },
    }


def _application(plan: Plan, env: EnvironmentPlan, source: Any) -> dict[str, Any]:
    sync_policy: dict[str, Any] = {}
    if env.auto_deploy:
        sync_policy["automated"] = comment(
            {"prune": True, "selfHeal": True},
            f"{env.name} deploys on every commit: objects removed from git are deleted, and manual\n"
            "changes in the cluster are reverted.",
        )
    sync_policy["syncOptions"] = comment(
        ["PruneLast=true", "RespectIgnoreDifferences=true"],
        "Prune old objects (e.g. the previous hashed ConfigMap) only after the new pods are healthy.",
    )
    sync_policy["retry"] = comment(
        {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
        "Retry a failed sync 5 times: 10 s, 20 s, 40 s, … up to 5 minutes apart.",
    )
    spec: dict[str, Any] = {
        "project": plan.app_name,
        "source": _source(plan, env, source),
        "destination": {"server": IN_CLUSTER, "namespace": env.namespace},
    }
    if not env.auto_deploy:
        spec["syncPolicy"] = comment(
            sync_policy,
            f"No `automated`: {env.name} syncs only when someone presses Sync (or runs\n"
            f"`argocd app sync {application_name(plan, env)}`) after the approval gate.",
        )
    else:
        spec["syncPolicy"] = sync_policy
    ignored = ignore_differences(plan)
    if ignored:
        spec["ignoreDifferences"] = comment(
            ignored,
            "The HorizontalPodAutoscaler owns these replica counts"
            + (
                "; the Argo Rollouts controller owns the\n"
                "Service selectors and traffic weights it sets during a release."
                if gitops.rollout_kind(plan)[1] == "Rollout"
                else "."
            ),
        )
    spec["revisionHistoryLimit"] = 10
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": comment(
            {"name": application_name(plan, env), "namespace": ARGOCD_NAMESPACE, "labels": _labels(plan)},
            "No resources-finalizer: deleting the Application leaves the workload running.",
        ),
        "spec": spec,
    }


def _source(plan: Plan, env: EnvironmentPlan, source: Any) -> dict[str, Any]:
    revision = comment("HEAD", "The default branch: CI commits pinned digests to it.")
    if plan.requirements.packaging == "helm":
        # The chart of render.helm, with this environment's values file on top of the defaults.
        return {
            "repoURL": source,
            "targetRevision": revision,
            "path": CHART_DIR,
            "helm": {"releaseName": plan.app_name, "valueFiles": ["values.yaml", f"values-{env.name}.yaml"]},
        }
    return {"repoURL": source, "targetRevision": revision, "path": overlay_dir(env.name)}


def ignore_differences(plan: Plan) -> list[dict[str, Any]]:
    """Fields another controller owns, which Argo CD must neither report as drift nor reset."""
    ignored: list[dict[str, Any]] = []
    for workload in plan.workloads:
        if not k8s.autoscaled(workload):
            continue
        api, kind = gitops.workload_kind(plan, workload)
        group = api.rpartition("/")[0]
        ignored.append(
            {"group": group, "kind": kind, "name": k8s.name(workload), "jsonPointers": ["/spec/replicas"]}
        )
    if gitops.rollout_kind(plan)[1] == "Rollout":
        router = ROUTER_KINDS.get(plan.requirements.traffic_router, ())
        routed = [("", "Service"), ("networking.k8s.io", "Ingress"), *router]
        ignored += [
            {"group": group, "kind": kind, "managedFieldsManagers": [ROLLOUTS_MANAGER]} for group, kind in routed
        ]
    return ignored


# -- runbook ----------------------------------------------------------------------------------


def runbook_section(plan: Plan) -> str:
    prod = plan.environment("prod") or plan.environments[-1]
    app = application_name(plan, prod)
    lines = ["## Argo CD\n"]
    lines.append("```sh")
    for env in plan.environments:
        how = "auto-sync" if env.auto_deploy else "manual sync"
        lines.append(f"argocd app get {application_name(plan, env)}   # {env.name}: {how}; sync and health status")
    lines.append(f"argocd app diff {app}   # what a sync would change")
    lines.append(f"argocd app sync {app}   # apply {prod.name} as committed (after the approval)")
    lines.append(f"argocd app wait {app} --sync --health --timeout 900")
    lines.append("```\n")
    auto = [env for env in plan.environments if env.auto_deploy]
    lines.append(
        "Roll back through Git: revert the digest commit and let Argo CD apply it (press Sync for "
        f"{', '.join(env.name for env in plan.environments if not env.auto_deploy) or 'manual environments'}):\n"
    )
    lines.append("```sh")
    lines.append("git fetch origin main && git checkout main && git pull --ff-only")
    from deploysmith.render import packaging  # it imports this module's importers

    lines.append(f"git log --oneline -- {packaging.pinned_file(plan, prod.name)}   # find the deploy commit")
    lines.append("git revert --no-edit <deploy commit>")
    lines.append("git push origin main")
    lines.append(f"argocd app sync {app}")
    lines.append("```\n")
    lines.append(
        "`argocd app rollback` re-applies an earlier synced revision without touching Git. It refuses "
        "while auto-sync is on (self-heal would undo it at once), so switch auto-sync off first — "
        "auto-sync environments only; " + prod.name + " syncs by hand already — and make the same `git revert` "
        "before switching it back on, or the next sync re-applies the bad version:\n"
    )
    lines.append("```sh")
    target = auto[0] if auto else prod
    name = application_name(plan, target)
    if target.auto_deploy:
        lines.append(f"argocd app set {name} --sync-policy none   # auto-sync off")
    lines.append(f"argocd app history {name}   # pick the ID of the last good deploy")
    lines.append(f"argocd app rollback {name} <history ID>")
    lines.append("# … git revert the digest commit and push, as above, then:")
    if target.auto_deploy:
        lines.append(f"argocd app set {name} --sync-policy automated --auto-prune --self-heal")
    lines.append("```\n")
    return "\n".join(lines) + "\n"

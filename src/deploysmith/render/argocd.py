"""Argo CD: an AppProject and one Application per environment, under deploy/gitops/.

Rendered only when `plan.requirements.gitops` is True (the kustomize renderer includes
these files). Each Application points at this repository's overlay for its environment.
A cluster admin applies them once: `kubectl apply -k deploy/gitops`.

- dev/staging (auto_deploy): automated sync with prune and self-heal;
- prod (behind the approval gate): manual sync — someone presses Sync after approving;
- failed syncs retry with exponential backoff;
- `/spec/replicas` of HPA-owned Deployments is ignored, so Argo CD neither reports the
  autoscaler's count as drift nor resets it on sync (RespectIgnoreDifferences);
- the migration Job is a Sync hook in wave -1 (see render.kubernetes.migration_job).
"""

from __future__ import annotations

import re
from typing import Any

from deploysmith.model import EnvironmentPlan, Plan, RenderedFile
from deploysmith.render import kubernetes as k8s
from deploysmith.render.common import GITOPS_DIR, header, overlay_dir
from deploysmith.render.yamlout import comment, dump

ARGOCD_NAMESPACE = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"
PLACEHOLDER_HOST = "git.example.invalid"

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


def repo_url(plan: Plan) -> str | None:
    """`https://<host>/<path>.git` from the detected remote, or None when it is unknown."""
    remote = plan.stack.git_remote
    if not remote:
        return None
    remote = remote.strip()
    remote = re.sub(r"^[a-z+]+://", "", remote)  # https://, ssh://
    remote = re.sub(r"^[^@/]+@", "", remote)  # git@
    remote = re.sub(r"^([^/:]+):(?!\d)", r"\1/", remote)  # scp-like host:path
    remote = remote.rstrip("/")
    if remote.endswith(".git"):
        remote = remote[: -len(".git")]
    if "/" not in remote:
        return None
    return f"https://{remote}.git"


def application_name(plan: Plan, env: EnvironmentPlan) -> str:
    return f"{plan.app_name}-{env.name}"


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    if not plan.requirements.gitops:
        return ()
    url = repo_url(plan)
    source: Any = url
    if url is None:
        source = comment(
            f"https://{PLACEHOLDER_HOST}/REPLACE-ME/{plan.app_name}.git",
            "PLACEHOLDER: the repository's remote is unknown. Replace it with this repository's\n"
            "https URL before applying.",
        )
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
                "Each overlay manages its Namespace (Pod Security labels); no other cluster-scoped kind.",
            ),
            "namespaceResourceWhitelist": comment(
                [{"group": group, "kind": kind} for group, kind in NAMESPACED_KINDS],
                "Exactly the kinds the overlays contain; add a kind here when you add one there.",
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
        "source": {
            "repoURL": source,
            "targetRevision": comment("HEAD", "The default branch: CI commits pinned digests to it."),
            "path": overlay_dir(env.name),
        },
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
    autoscaled = [k8s.name(w) for w in plan.workloads if k8s.autoscaled(w)]
    if autoscaled:
        spec["ignoreDifferences"] = comment(
            [
                {"group": "apps", "kind": "Deployment", "name": name, "jsonPointers": ["/spec/replicas"]}
                for name in autoscaled
            ],
            "The HorizontalPodAutoscaler owns these replica counts.",
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

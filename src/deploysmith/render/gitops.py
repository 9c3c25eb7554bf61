"""What Argo CD and Flux share: where the controller reads from, which kind runs each
workload, and the RUNBOOK text for the chosen controller.

`gitops_repo same`: the controller reads this repository's `deploy/`. `separate`: CI
commits the digests to an environment repository (GITOPS_REPO) that holds the same
`deploy/` tree; the kit still renders it here, to be copied there once.
"""

from __future__ import annotations

import re
from typing import Any

from deploysmith.model import Plan, RenderedFile, Workload
from deploysmith.plan.strategy import PROGRESSIVE
from deploysmith.render import kubernetes as k8s
from deploysmith.render.yamlout import comment

PLACEHOLDER_HOST = "git.example.invalid"
BRANCH = "main"


def tool(plan: Plan) -> str | None:
    """"argocd", "flux", or None without GitOps."""
    requirements = plan.requirements
    return requirements.gitops_tool if requirements.gitops else None


def separate(plan: Plan) -> bool:
    return plan.requirements.gitops and plan.requirements.gitops_repo == "separate"


def controller(plan: Plan) -> str:
    return "Flux" if tool(plan) == "flux" else "Argo CD"


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


def source_url(plan: Plan) -> Any:
    """The repository the controller reads `deploy/` from, with a placeholder comment when the
    kit cannot know it."""
    if separate(plan):
        return comment(
            f"https://{PLACEHOLDER_HOST}/REPLACE-ME/{plan.app_name}-environments.git",
            "PLACEHOLDER: the environment repository (the GITOPS_REPO variable of CI). Copy this\n"
            "repository's deploy/ folder into it once; CI commits the digests there.",
        )
    url = repo_url(plan)
    if url is not None:
        return url
    return comment(
        f"https://{PLACEHOLDER_HOST}/REPLACE-ME/{plan.app_name}.git",
        "PLACEHOLDER: the repository's remote is unknown. Replace it with this repository's\n"
        "https URL before applying.",
    )


def rollout_kind(plan: Plan) -> tuple[str, str]:
    """(apiVersion, kind) of the object that runs each serving workload: a Rollout when Argo
    Rollouts delivers a progressive strategy, else the Deployment."""
    requirements = plan.requirements
    if plan.strategy.choice in PROGRESSIVE and requirements.progressive_delivery == "argo-rollouts":
        return ("argoproj.io/v1alpha1", "Rollout")
    return ("apps/v1", "Deployment")


def workload_kind(plan: Plan, workload: Workload) -> tuple[str, str]:
    """Workers keep a Deployment: progressive delivery needs traffic to shift."""
    return rollout_kind(plan) if k8s.serves_http(workload) else ("apps/v1", "Deployment")


def runbook_section(plan: Plan) -> str:
    """The RUNBOOK.md section for the GitOps controller: sync, pause, roll back, and the Git
    revert that must follow so Git stays the truth."""
    from deploysmith.render import argocd, flux  # the controllers import this module

    if tool(plan) is None:
        return ""
    text = flux.runbook_section(plan) if tool(plan) == "flux" else argocd.runbook_section(plan)
    if separate(plan):
        text += (
            "\nThe environment repository (CI's `GITOPS_REPO`) holds `deploy/`: every `git revert` above "
            "runs in a clone of it, not in this repository. Seed it once by copying this repository's "
            "`deploy/` folder and pushing it to its `main` branch.\n"
        )
    return text


def render(plan: Plan) -> tuple[RenderedFile, ...]:
    """The GitOps controller's objects and the secrets folders, for packagings other than
    Kustomize (render.kustomize includes them itself): the Helm renderer, or a `gitops` target,
    calls this."""
    from deploysmith.render import argocd, flux, secrets

    return (*secrets.render(plan), *argocd.render(plan), *flux.render(plan))

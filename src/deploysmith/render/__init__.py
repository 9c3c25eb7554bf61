"""render: Plan → [RenderedFile]. Pure: never reads the repository.

Each target is a module with `render(plan: Plan) -> tuple[RenderedFile, ...]`, listed in
RENDERERS. Which targets a plan gets is decided by `targets_for`, from the requirements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType

from deploysmith.model import Plan, RenderedFile
from deploysmith.render import (
    admission,
    azure_pipelines,
    backups,
    circleci,
    compliance_docs,
    compose,
    dockerfile,
    docs,
    github_actions,
    gitlab_ci,
    gitops,
    helm,
    iac,
    jenkins,
    kustomize,
    monitoring,
    plain,
    security_kit,
    targets,
)

RENDERERS: dict[str, ModuleType] = {
    "dockerfile": dockerfile,
    "compose": compose,
    "github_actions": github_actions,
    "gitlab_ci": gitlab_ci,
    "azure_pipelines": azure_pipelines,
    "jenkins": jenkins,
    "circleci": circleci,
    "kustomize": kustomize,
    "helm": helm,
    "plain": plain,
    "gitops": gitops,
    "monitoring": monitoring,
    "docs": docs,
    "admission": admission,
    "compliance": compliance_docs,
    "targets": targets,
    "security": security_kit,
    "iac": iac,
    "backups": backups,
}

CI_RENDERERS = {
    "github": "github_actions",
    "gitlab": "gitlab_ci",
    "azure": "azure_pipelines",
    "jenkins": "jenkins",
    "circleci": "circleci",
}
PACKAGING_RENDERERS = {"kustomize": "kustomize", "helm": "helm", "plain": "plain"}
# Targets with a second pass over the first pass's files: (plan, files) -> more files.
SECOND_PASS: dict[str, Callable[[Plan, Sequence[RenderedFile]], tuple[RenderedFile, ...]]] = {
    "compliance": compliance_docs.render_after,
}


def targets_for(plan: Plan) -> tuple[str, ...]:
    requirements = plan.requirements
    kubernetes = requirements.target == "kubernetes"
    return (
        "dockerfile",
        "compose",
        CI_RENDERERS[requirements.ci],
        # Other targets get their own files instead of manifests, cluster monitoring and policies.
        *((PACKAGING_RENDERERS[requirements.packaging],) if kubernetes else ("targets",)),
        # Kustomize renders the controller's objects and secrets folders beside its overlays.
        *(("gitops",) if kubernetes and requirements.packaging == "helm" else ()),
        *(("monitoring",) if kubernetes else ()),
        "docs",
        "security",  # scanner configuration, self-test fixture, update bot, side pipelines
        *(("admission",) if kubernetes and admission.applies(plan) else ()),
        *(("compliance",) if requirements.compliance != "none" else ()),
        *(("iac",) if requirements.iac != "none" else ()),
        *(("backups",) if backups.wanted(plan) else ()),
    )


def render_kit(plan: Plan) -> tuple[RenderedFile, ...]:
    files: dict[str, RenderedFile] = {}
    for target in targets_for(plan):
        for rendered in RENDERERS[target].render(plan):
            if rendered.path in files:
                raise AssertionError(f"two renderers produced {rendered.path}")
            files[rendered.path] = rendered
    # Second pass: renderers that cite the rest of the kit (COMPLIANCE.md names file:line).
    first = tuple(files[path] for path in sorted(files))
    for target in targets_for(plan):
        after = SECOND_PASS.get(target)
        for rendered in after(plan, first) if after else ():
            if rendered.path in files:
                raise AssertionError(f"two renderers produced {rendered.path}")
            files[rendered.path] = rendered
    return tuple(files[path] for path in sorted(files))
